"""Record quotes: per-symbol market guards (price gap, spread, stale quote) with hysteresis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import GuardEvent, MarketState
from dashboard.db.session import Database
from dashboard.domain.instruments import normalise_symbol
from dashboard.domain.market_guards import GuardTransition, SymbolGuardState, apply_quote, check_stale
from dashboard.domain.numbers import DomainError
from dashboard.services.alerts.outbox import add_guard_alerts
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.common import instrument_specs
from dashboard.services.ingestion.inputs import QuoteBatchIn, parse
from dashboard.services.touched import Family, Touched

FAMILIES = (Family.MARKET, Family.GUARD_EVENTS, Family.ALERTS)


@dataclass
class QuotesResult:
    accepted: int
    transitions: list[GuardTransition]
    touched: Touched = field(default_factory=Touched)


async def record_quotes(
    db: Database, batch: QuoteBatchIn | dict[str, Any], now: datetime | None = None
) -> QuotesResult:
    """Apply a batch of quotes in time order; symbols without a quote in it are checked for staleness."""
    quotes = parse(QuoteBatchIn, batch)
    now = now or datetime.now(UTC)
    async with db.session() as session:
        return await _record(session, quotes, now)


async def _record(session: AsyncSession, batch: QuoteBatchIn, now: datetime) -> QuotesResult:
    specs = await instrument_specs(session)
    normalised = []
    for index, given in enumerate(batch.quotes):
        symbol = normalise_symbol(given.symbol)
        if symbol not in specs:
            raise InvalidInput(
                f"quotes.{index}.symbol: unknown symbol {given.symbol!r}", field=f"quotes.{index}.symbol"
            )
        normalised.append((index, symbol, given))
    rows = {row.symbol: row for row in (await session.execute(select(MarketState))).scalars()}
    states = {
        symbol: SymbolGuardState.from_json(row.guard_state) if row.guard_state else SymbolGuardState(symbol)
        for symbol, row in rows.items()
    }
    transitions: list[GuardTransition] = []
    last_quote: dict[str, Any] = {}
    for index, symbol, quote in sorted(normalised, key=lambda item: item[2].ts):
        state = states.get(symbol) or SymbolGuardState(symbol)
        try:
            states[symbol], found = apply_quote(state, quote.bid, quote.ask, quote.ts, specs[symbol])
        except DomainError as error:
            raise InvalidInput(f"quotes.{index}: {error}", field=f"quotes.{index}") from None
        transitions.extend(found)
        last_quote[symbol] = quote
    for symbol, state in list(states.items()):
        if symbol not in last_quote:
            states[symbol], found = check_stale(state, now)
            transitions.extend(found)
    for symbol, state in states.items():
        row = rows.get(symbol)
        latest = last_quote.get(symbol)
        if row is None:
            if latest is None:
                continue
            row = MarketState(
                symbol=symbol, bid=latest.bid, ask=latest.ask, quoted_at=latest.ts, guard_state={}
            )
            session.add(row)
        elif latest is not None:
            row.bid, row.ask, row.quoted_at = latest.bid, latest.ask, latest.ts
        row.guard_state = state.to_json()
    events = [
        GuardEvent(
            account_id=None,
            user_id=None,
            guard_type=t.guard_type,
            symbol=t.symbol,
            level=t.new,
            state=t.state,
            metric_value=t.metric,
            threshold_value=t.threshold,
            message=t.message[:255],
            created_at=last_quote[t.symbol].ts if t.symbol in last_quote else now,
        )
        for t in transitions
    ]
    session.add_all(events)
    await add_guard_alerts(session, events)
    touched = Touched().everyone(*FAMILIES)
    return QuotesResult(len(batch.quotes), transitions, touched)
