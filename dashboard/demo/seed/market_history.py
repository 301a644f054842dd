"""Market history: one price walker per symbol over the horizon, market guards over the last 24 h.

The quotes are minute steps of the same `PriceWalker` the simulator continues, and the guard events
come from feeding them through `market_guards.apply_quote`, exactly as live quote ingestion does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dashboard.demo.fleet import FleetDefinition, FleetInstrument
from dashboard.demo.prices import PriceWalker, Quote
from dashboard.domain.instruments import InstrumentSpec
from dashboard.domain.market_guards import SymbolGuardState, apply_quote

__all__ = ["GUARD_HISTORY", "PRICE_STEP_S", "MarketHistory", "build_market", "domain_spec"]

PRICE_STEP_S = 60
GUARD_HISTORY = timedelta(hours=24)


def domain_spec(spec: FleetInstrument) -> InstrumentSpec:
    """The domain's instrument spec (what P&L and guards use) for a fleet instrument."""
    return InstrumentSpec(
        symbol=spec.symbol,
        asset_class=spec.asset_class,
        contract_size=spec.contract_size,
        digits=spec.digits,
        volume_step=spec.volume_step,
        quote_ccy=spec.quote_ccy,
        typical_spread=spec.typical_spread,
        annual_vol=Decimal(str(spec.annual_vol)),
        trading_days=spec.trading_days,
    )


@dataclass
class MarketHistory:
    """Minute quotes for the whole horizon; the last one of each symbol is "the current price"."""

    start: datetime
    quotes: dict[str, list[Quote]]
    guard_states: dict[str, SymbolGuardState]
    guard_rows: list[dict[str, Any]]

    def quote_at(self, symbol: str, ts: datetime) -> Quote:
        """The latest minute quote at or before `ts` (clamped to the horizon)."""
        series = self.quotes[symbol]
        index = int((ts - self.start).total_seconds()) // PRICE_STEP_S
        return series[min(max(index, 0), len(series) - 1)]

    def mids_at(self, ts: datetime) -> dict[str, Decimal]:
        return {symbol: self.quote_at(symbol, ts).mid for symbol in self.quotes}

    def final(self, symbol: str) -> Quote:
        return self.quotes[symbol][-1]


def build_market(
    fleet: FleetDefinition, specs: dict[str, InstrumentSpec], seed: int, start: datetime, anchor: datetime
) -> MarketHistory:
    """Walk every symbol from `start` to `anchor` and feed the last 24 h through the market guards.

    Weekend gaps are off: the demo must move whatever day it is shown on.
    """
    n = int((anchor - start).total_seconds()) // PRICE_STEP_S + 1
    guard_from = anchor - GUARD_HISTORY
    quotes: dict[str, list[Quote]] = {}
    states: dict[str, SymbolGuardState] = {}
    rows: list[dict[str, Any]] = []
    for symbol in sorted(fleet.instruments):
        walker = PriceWalker.from_seed(fleet.instruments[symbol], seed)
        step = timedelta(seconds=PRICE_STEP_S)
        series = [walker.step(start + k * step, PRICE_STEP_S) for k in range(n)]
        state = SymbolGuardState(symbol)
        for quote in series:
            if quote.ts < guard_from:
                continue
            state, transitions = apply_quote(state, quote.bid, quote.ask, quote.ts, specs[symbol])
            rows.extend(
                {
                    "account_id": None,
                    "user_id": None,
                    "guard_type": t.guard_type,
                    "symbol": t.symbol,
                    "level": t.new,
                    "state": t.state,
                    "metric_value": t.metric,
                    "threshold_value": t.threshold,
                    "message": t.message[:255],
                    "created_at": quote.ts,
                }
                for t in transitions
            )
        quotes[symbol], states[symbol] = series, state
    return MarketHistory(start, quotes, states, rows)
