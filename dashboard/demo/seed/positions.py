"""Seeded positions: the row-to-be of one trade, and the factory that fills, closes and marks them.

Fills follow the docs/domain.md §5.4 recipe shared with the simulator (`dashboard.demo.trading`), are priced
off the market history, and every P&L goes through `domain.pnl`, as live ingestion computes it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from dashboard.demo.fleet import AccountDef, FleetDefinition
from dashboard.demo.seed.market_history import MarketHistory
from dashboard.demo.trading import draw_distance, draw_fill, draw_symbol, lot_scale
from dashboard.domain.enums import CloseReason, PositionSource, PositionStatus, Side
from dashboard.domain.instruments import InstrumentSpec
from dashboard.domain.numbers import money, round_price
from dashboard.domain.pnl import close_price, conversion_rate, position_profit
from dashboard.domain.swaps import swap_for

__all__ = ["PositionFactory", "SeedPosition"]


@dataclass
class SeedPosition:
    """A position being generated; the identifier is assigned once all of an account's are known."""

    symbol: str
    side: Side
    volume: Decimal
    requested_price: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    opened_at: datetime
    magic: int
    source: PositionSource = PositionSource.PLATFORM
    signal_ref: str | None = None
    closed_at: datetime | None = None
    close_price: Decimal | None = None
    close_reason: CloseReason | None = None
    profit: Decimal = Decimal("0.00")
    swap: Decimal = Decimal("0.00")
    price_current: Decimal | None = None
    updated_at: datetime | None = None
    synced_at: datetime | None = None
    persisted: bool = True  # False: a broker-only (external) position seen by an incident
    identifier: int = 0
    ticket: int | None = None
    db_id: int | None = None

    def open_at(self, ts: datetime) -> bool:
        """Held in the local book at `ts` (opened, and not closed yet)."""
        return self.opened_at <= ts and (self.closed_at is None or self.closed_at > ts)

    def row(self, account_id: int, user_id: int) -> dict[str, Any]:
        is_open = self.closed_at is None
        return {
            "account_id": account_id,
            "user_id": user_id,
            "broker_ticket": self.ticket if self.ticket is not None else self.identifier,
            "broker_position_id": self.identifier,
            "symbol": self.symbol,
            "side": self.side,
            "volume": self.volume,
            "price_open": self.price_open,
            "requested_price": self.requested_price,
            "price_current": self.price_current,
            "sl": self.sl,
            "tp": self.tp,
            "swap": self.swap,
            "commission": Decimal("0.00"),
            "profit": self.profit,
            "status": PositionStatus.OPEN if is_open else PositionStatus.CLOSED,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "close_price": self.close_price,
            "realized_pnl": None if is_open else money(self.profit + self.swap),
            "close_reason": self.close_reason,
            "source": self.source,
            "signal_ref": self.signal_ref,
            "magic": self.magic,
            "updated_at": self.updated_at or self.closed_at or self.opened_at,
            "synced_at": self.synced_at,
        }


class PositionFactory:
    """Draws §5.4 trades for one account, priced off the market history."""

    def __init__(
        self,
        fleet: FleetDefinition,
        specs: dict[str, InstrumentSpec],
        market: MarketHistory,
        account: AccountDef,
        rng: random.Random,
    ) -> None:
        self.fleet, self.specs, self.market, self.account, self.rng = fleet, specs, market, account, rng
        self.params = fleet.positions
        self.lot_scale = lot_scale(account.initial_balance)

    def _distance(self, symbol: str, which: str, price: Decimal) -> Decimal:
        return draw_distance(self.fleet, symbol, which, price, self.rng)

    def trade(self, opened_at: datetime, symbol: str | None = None) -> SeedPosition:
        """A platform fill at `opened_at`: signal price = the entry side of the quote, plus slippage."""
        p, rng = self.params, self.rng
        symbol = symbol or draw_symbol(self.fleet, rng)
        side = Side.BUY if rng.random() < p.side_buy_prob else Side.SELL
        quote = self.market.quote_at(symbol, opened_at)
        fill = draw_fill(self.fleet, symbol, side, quote, self.lot_scale, rng)
        return SeedPosition(
            symbol=symbol,
            side=side,
            volume=fill.volume,
            requested_price=fill.requested_price,
            price_open=fill.price_open,
            sl=fill.sl,
            tp=fill.tp,
            opened_at=opened_at,
            magic=p.platform_magic,
            signal_ref=f"tg-{rng.randint(100_000, 999_999)}",
        )

    def close(self, pos: SeedPosition, closed_at: datetime, reason: CloseReason) -> SeedPosition:
        """Close at the stop for sl/tp, else at the close side of the quote; P&L via the domain."""
        quote = self.market.quote_at(pos.symbol, closed_at)
        if reason is CloseReason.SL and pos.sl is None:
            reason = CloseReason.MANUAL
        if reason is CloseReason.SL:
            price = pos.sl
        elif reason is CloseReason.TP:
            price = pos.tp
        else:
            price = close_price(pos.side, quote.bid, quote.ask)
        if price is None:  # every fill carries a TP, and an SL close without SL became manual
            raise ValueError(f"{pos.symbol}: no price to close at for {reason}")
        pos.closed_at, pos.close_price, pos.close_reason = closed_at, price, reason
        pos.price_current = price
        pos.profit = self.profit(pos, price, closed_at)
        pos.swap = self.swap(pos, closed_at)
        pos.updated_at = pos.synced_at = closed_at
        return pos

    def profit(self, pos: SeedPosition, price: Decimal, at: datetime) -> Decimal:
        spec = self.specs[pos.symbol]
        rate = conversion_rate(spec.quote_ccy, self.account.currency, self.market.mids_at(at))
        return position_profit(pos.side, pos.volume, pos.price_open, price, spec.contract_size, rate)

    def swap(self, pos: SeedPosition, until: datetime) -> Decimal:
        """Overnight swap accrued from the open until `until` (docs/domain.md §2.12)."""
        spec = self.fleet.instruments[pos.symbol]
        return swap_for(
            pos.side,
            pos.volume,
            spec.swap_long,
            spec.swap_short,
            pos.opened_at,
            until,
            hour_utc=self.params.rollover_hour_utc,
            trades_weekends=spec.trades_weekends,
        )

    def mark_open(self, pos: SeedPosition, now: datetime) -> SeedPosition:
        """Price an open position at the current quote; stops already crossed are moved past it
        (as if trailed), so the simulator does not close half the book on its first tick."""
        spec = self.specs[pos.symbol]
        quote = self.market.final(pos.symbol)
        current = close_price(pos.side, quote.bid, quote.ask)
        gap = max(self._distance(pos.symbol, "sl", current) / 2, spec.point * 10)
        sign = 1 if pos.side is Side.BUY else -1
        if pos.sl is not None and sign * (current - pos.sl) <= 0:
            pos.sl = round_price(current - sign * gap, spec.digits)
        if pos.tp is not None and sign * (pos.tp - current) <= 0:
            pos.tp = round_price(current + sign * gap, spec.digits)
        pos.price_current = current
        pos.profit = self.profit(pos, current, now)
        pos.swap = self.swap(pos, now)
        pos.updated_at = pos.opened_at
        return pos
