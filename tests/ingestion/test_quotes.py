"""Recording quotes: market guards per symbol, stale checks, atomic batches, bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.db.models import GuardEvent, MarketState
from dashboard.db.session import Database
from dashboard.domain.enums import GuardState, GuardType, Level
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.quotes import record_quotes
from tests.factories import T0, make_instruments


async def with_instruments(db: Database) -> None:
    async with db.session() as s:
        await make_instruments(s)


def quote(symbol: str, mid: Decimal, i: int, spread: Decimal = Decimal("0.00010")) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "bid": str(mid - spread / 2),
        "ask": str(mid + spread / 2),
        "ts": (T0 + timedelta(seconds=i)).isoformat(),
    }


def calm_then(spike_move: Decimal, n: int = 30) -> list[dict[str, Any]]:
    """EURUSD moving 1 pip per tick, then one move of `spike_move`."""
    mids = [Decimal("1.08500") + Decimal("0.00010") * (i % 2) for i in range(n)]
    mids.append(mids[-1] + spike_move)
    return [quote("EURUSD", m, i) for i, m in enumerate(mids)]


async def events(db: Database) -> list[tuple[GuardType, str | None, Level, GuardState]]:
    async with db.read_session() as s:
        rows = (await s.execute(select(GuardEvent).order_by(GuardEvent.id))).scalars()
        return [(e.guard_type, e.symbol, e.level, e.state) for e in rows]


async def test_price_gap_of_six_atr_is_a_critical_event(database: Database) -> None:
    await with_instruments(database)
    result = await record_quotes(
        database, {"quotes": calm_then(Decimal("0.00060"))}, now=T0 + timedelta(seconds=31)
    )
    assert result.accepted == 31
    assert (GuardType.PRICE_GAP, "EURUSD", Level.CRITICAL, GuardState.TRIGGERED) in await events(database)
    async with database.read_session() as s:
        state = (await s.execute(select(MarketState))).scalar_one()
    assert state.symbol == "EURUSD" and state.guard_state["levels"]["price_gap"] == "critical"
    assert state.quoted_at == T0 + timedelta(seconds=30)


async def test_calm_market_raises_nothing(database: Database) -> None:
    await with_instruments(database)
    await record_quotes(database, {"quotes": calm_then(Decimal("0.00010"))}, now=T0 + timedelta(seconds=31))
    assert await events(database) == []


async def test_spread_blowout_and_stale_quote_are_detected_across_batches(database: Database) -> None:
    await with_instruments(database)
    calm = [quote("EURUSD", Decimal("1.08500"), i) for i in range(25)]
    await record_quotes(database, {"quotes": calm}, now=T0 + timedelta(seconds=25))
    wide = quote("EURUSD", Decimal("1.08500"), 26, spread=Decimal("0.00050"))
    await record_quotes(database, {"quotes": [wide]}, now=T0 + timedelta(seconds=26))
    # Another symbol ticks 3 minutes later: EURUSD has been silent for > 120 s.
    later = quote("XAUUSD", Decimal("2350.00"), 200, spread=Decimal("0.25"))
    await record_quotes(database, {"quotes": [later]}, now=T0 + timedelta(seconds=200))
    found = await events(database)
    assert (GuardType.SPREAD, "EURUSD", Level.CRITICAL, GuardState.TRIGGERED) in found
    assert (GuardType.STALE_QUOTE, "EURUSD", Level.CRITICAL, GuardState.TRIGGERED) in found


async def test_broker_suffixes_are_normalised(database: Database) -> None:
    await with_instruments(database)
    await record_quotes(database, {"quotes": [quote("EURUSD.r", Decimal("1.085"), 0)]}, now=T0)
    async with database.read_session() as s:
        assert (await s.execute(select(MarketState.symbol))).scalar_one() == "EURUSD"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"symbol": "DOGEUSD"}, "quotes.1.symbol"),
        ({"bid": "1.1", "ask": "1.0"}, "quotes.1"),
        ({"bid": "0"}, "quotes.1.bid"),
        ({"ts": "2026-11-02T12:00:01"}, "quotes.1.ts"),
        ({"ts": "2026-11-02T11:00:00+00:00"}, "quotes.1"),
    ],
)
async def test_a_bad_quote_refuses_the_whole_batch(
    database: Database, bad: dict[str, Any], field: str
) -> None:
    await with_instruments(database)
    await record_quotes(database, {"quotes": [quote("EURUSD", Decimal("1.085"), 10)]}, now=T0)
    broken = quote("EURUSD", Decimal("1.086"), 12)
    broken.update(bad)
    batch = [quote("XAUUSD", Decimal("2350.00"), 11, Decimal("0.25")), broken]
    with pytest.raises(InvalidInput) as caught:
        await record_quotes(database, {"quotes": batch}, now=T0 + timedelta(seconds=12))
    assert caught.value.field == field
    async with database.read_session() as s:
        symbols = list((await s.execute(select(MarketState.symbol))).scalars())
        n_events = (await s.execute(select(func.count()).select_from(GuardEvent))).scalar_one()
    assert symbols == ["EURUSD"] and n_events == 0


async def test_empty_and_oversized_batches_are_refused(database: Database) -> None:
    with pytest.raises(InvalidInput, match="quotes"):
        await record_quotes(database, {"quotes": []})
    too_many = [quote("EURUSD", Decimal("1.085"), i) for i in range(1001)]
    with pytest.raises(InvalidInput, match="quotes"):
        await record_quotes(database, {"quotes": too_many})
