"""Seed the demo fleet: 7 days of history for 10 accounts, in one transaction (domain.md §4).

Why it looks the way it does:

* Deterministic. Every random choice comes from `derive_rng(seed, purpose, key)`, and the only
  wall-clock input is the anchor ("now" floored to 5 minutes), so the same `seed` and `now` give
  the same rows, and screenshots/tests do not change colour between runs.
* One implementation of the gauges. Every equity point is walked through `risk_state.advance`
  and every historical quote through `market_guards.apply_quote`, exactly as live ingestion does,
  so the stored HWM/drawdown, the `account_risk_state` row and the guard events can never disagree
  with what the live services would have computed.
* Fast. History is written with bulk `insert(Model)` executemany in chunks, never row-by-row ORM
  adds; the full fleet seeds in a few seconds on SQLite and PostgreSQL.
* Counters are the truth. `account_risk_state` counters are computed from the very rows inserted.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.auth.passwords import hash_password_async
from dashboard.db.models import (
    AccountRiskState,
    AppMeta,
    Base,
    DivergenceIncident,
    EquitySnapshot,
    GuardEvent,
    Instrument,
    MarketState,
    Position,
    ReconciliationLog,
    TradingAccount,
    User,
)
from dashboard.db.session import Database
from dashboard.demo.equity_curves import account_curves
from dashboard.demo.fleet import AccountDef, FleetDefinition, derive_rng, load_fleet
from dashboard.demo.fleet import InstrumentSpec as FleetSpec
from dashboard.demo.prices import PriceWalker, Quote
from dashboard.demo.sync_outcomes import RESOLUTION_BY_KIND, SimIncident, SyncSimulation, simulate_syncs
from dashboard.domain.enums import (
    AccountStatus,
    CloseReason,
    DailyLossBasis,
    DivergenceKind,
    GuardState,
    GuardType,
    Level,
    MaxLossMode,
    PositionSource,
    PositionStatus,
    Resolution,
    Role,
    Severity,
    Side,
    StopsPolicy,
    SyncEventType,
)
from dashboard.domain.instruments import InstrumentSpec
from dashboard.domain.market_guards import SymbolGuardState, apply_quote
from dashboard.domain.numbers import money, round_price
from dashboard.domain.pnl import close_price, conversion_rate, position_profit
from dashboard.domain.risk_state import DAILY_WARNING_USED_PCT, RiskAlert, RiskState, advance
from dashboard.services.errors import ServiceError
from dashboard.services.ingestion.equity import guard_event, rules_of, store_state

__all__ = [
    "DEMO_PASSWORD",
    "SeedReport",
    "demo_logins",
    "domain_spec",
    "ensure_demo_passwords",
    "floor_to_step",
    "is_seeded",
    "margin_of",
    "seed_demo",
]

DEMO_PASSWORD = "demo"
DEFAULT_SEED = 7
ANCHOR_STEP = timedelta(minutes=5)
PRICE_STEP_S = 60
GUARD_HISTORY = timedelta(hours=24)
CHUNK_ROWS = 1000
# Lots in the fleet are per §4.4 for a 100k account; smaller accounts trade proportionally smaller,
# otherwise a 10k "calm" account holding 2 lots of XAUUSD would swing 10 % an hour in the simulator.
LOT_SCALE_BALANCE = Decimal(100_000)
MIN_LOT_SCALE = Decimal("0.1")
CLOSE_REASON_WEIGHTS: dict[CloseReason, float] = {
    CloseReason.TP: 0.30,
    CloseReason.SL: 0.35,
    CloseReason.MANUAL: 0.15,
    CloseReason.SIGNAL: 0.20,
}
FAILED_SYNC_ERRORS = (
    "terminal not connected: (-10004, 'No IPC connection')",
    "positions_get() timed out after 5000 ms",
    "(-10005, 'IPC timeout')",
    "broker server unreachable: no answer within 10 s",
)
BROKER_ALIASES = {"XAUUSD": "GOLD", "NAS100": "USTEC", "US30": "WS30", "GER40": "DE40", "BTCUSD": "XBTUSD"}
ROLE_ORDER = {Role.ADMIN: 0, Role.RISK: 1, Role.TRADER: 2, Role.SERVICE: 3}
ONE_MINUTE = timedelta(minutes=1)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedReport:
    """What one seed wrote; `summary()` is the line the CLI prints."""

    users: int
    accounts: int
    equity_snapshots: int
    syncs: int
    incidents: int
    positions_open: int
    positions_closed: int
    guard_events: int
    seconds: float
    logins: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"seeded {self.users} users, {self.accounts} accounts, "
            f"{self.equity_snapshots} equity snapshots, {self.syncs} syncs, {self.incidents} incidents, "
            f"{self.positions_open} open / {self.positions_closed} closed positions, "
            f"{self.guard_events} guard events in {self.seconds:.1f} s"
        )


# --------------------------------------------------------------------------------------------
# Small shared helpers (the simulator uses them too)
# --------------------------------------------------------------------------------------------


def floor_to_step(ts: datetime, step: timedelta = ANCHOR_STEP) -> datetime:
    """`ts` in UTC floored to a multiple of `step` since the epoch (the seed's anchor)."""
    ts = ts.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((ts - epoch) // step) * step


def domain_spec(spec: FleetSpec) -> InstrumentSpec:
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


def margin_of(
    positions: Iterable[tuple[str, Decimal]],
    specs: dict[str, InstrumentSpec],
    mids: dict[str, Decimal],
    currency: str,
    leverage: int,
) -> Decimal:
    """Used margin: Σ lots × contract × mid × (quote→account rate) / leverage (CFD/forex formula)."""
    total = Decimal(0)
    for symbol, volume in positions:
        spec = specs[symbol]
        rate = conversion_rate(spec.quote_ccy, currency, mids)
        total += volume * spec.contract_size * mids[symbol] * rate
    return money(total / leverage)


def _uniform_dt(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A whole-second instant in [lo, hi]: second precision keeps both backends byte-identical."""
    span = max(0, int((hi - lo).total_seconds()))
    return lo + timedelta(seconds=rng.randint(0, span))


def _fmt_volume(volume: Decimal) -> str:
    return str(volume.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _describe(side: Side, volume: Decimal, price: Decimal, digits: int) -> str:
    """Same shape as the reconciler's own value strings: "buy 0.50 @ 1.08512"."""
    return f"{side.value} {_fmt_volume(volume)} @ {round_price(price, digits)}"


def _chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK_ROWS) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --------------------------------------------------------------------------------------------
# Market history: one walker per symbol, guards over the last 24 h
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Positions
# --------------------------------------------------------------------------------------------


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
            "swap": Decimal("0.00"),
            "commission": Decimal("0.00"),
            "profit": self.profit,
            "status": PositionStatus.OPEN if is_open else PositionStatus.CLOSED,
            "opened_at": self.opened_at,
            "closed_at": self.closed_at,
            "close_price": self.close_price,
            "realized_pnl": None if is_open else self.profit,
            "close_reason": self.close_reason,
            "source": self.source,
            "signal_ref": self.signal_ref,
            "magic": self.magic,
            "updated_at": self.updated_at or self.closed_at or self.opened_at,
            "synced_at": self.synced_at,
        }


class PositionFactory:
    """Draws §4.4 trades for one account, priced off the market history."""

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
        pos.updated_at = pos.synced_at = closed_at
        return pos

    def profit(self, pos: SeedPosition, price: Decimal, at: datetime) -> Decimal:
        spec = self.specs[pos.symbol]
        rate = conversion_rate(spec.quote_ccy, self.account.currency, self.market.mids_at(at))
        return position_profit(pos.side, pos.volume, pos.price_open, price, spec.contract_size, rate)

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
        pos.updated_at = pos.opened_at
        return pos


@dataclass(frozen=True)
class Fill:
    volume: Decimal
    requested_price: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None


def lot_scale(balance: Decimal) -> Decimal:
    return min(Decimal(1), max(MIN_LOT_SCALE, balance / LOT_SCALE_BALANCE))


def draw_symbol(fleet: FleetDefinition, rng: random.Random) -> str:
    weights = fleet.positions.symbol_weights
    symbols = sorted(weights)
    return rng.choices(symbols, weights=[weights[s] for s in symbols])[0]


def draw_distance(
    fleet: FleetDefinition, symbol: str, which: str, price: Decimal, rng: random.Random
) -> Decimal:
    """An SL ("sl") or slippage ("slippage") distance in price units, from the §4.4 ranges."""
    spec = fleet.instruments[symbol]
    table = fleet.positions.sl_distance if which == "sl" else fleet.positions.slippage
    dist = table[spec.asset_class]
    amount = Decimal(str(rng.uniform(float(dist.lo), float(dist.hi))))
    if dist.unit == "pip":
        value = amount * spec.pip
    elif dist.unit == "pct":
        value = price * amount / 100
    else:
        value = amount
    return round_price(value, spec.digits)


def draw_fill(
    fleet: FleetDefinition, symbol: str, side: Side, quote: Quote, scale: Decimal, rng: random.Random
) -> Fill:
    """Lots, slippage and stops of one fill (§4.4); about `no_sl_prob` of fills carry no SL."""
    p, spec = fleet.positions, fleet.instruments[symbol]
    lots = p.lots[spec.asset_class]
    raw = Decimal(str(rng.uniform(float(lots.lo), float(lots.hi)))) * scale
    volume = max(spec.volume_step, (raw / spec.volume_step).to_integral_value() * spec.volume_step)
    sign = 1 if side is Side.BUY else -1
    requested = quote.ask if side is Side.BUY else quote.bid
    slip = draw_distance(fleet, symbol, "slippage", requested, rng)
    price_open = round_price(requested + sign * slip, spec.digits)
    distance = max(draw_distance(fleet, symbol, "sl", price_open, rng), spec.point * 10)
    r_multiple = Decimal(str(round(rng.uniform(*p.tp_r), 2)))
    sl = None if rng.random() < p.no_sl_prob else round_price(price_open - sign * distance, spec.digits)
    tp = round_price(price_open + sign * distance * r_multiple, spec.digits)
    return Fill(volume.quantize(Decimal("0.01")), requested, price_open, sl, tp)


# --------------------------------------------------------------------------------------------
# One account's history (pure)
# --------------------------------------------------------------------------------------------


@dataclass
class IncidentTarget:
    """The position an incident concerns, plus its value strings."""

    incident: SimIncident
    position: SeedPosition
    severity: Severity
    local_value: str | None = None
    broker_value: str | None = None


@dataclass
class AccountHistory:
    positions: list[SeedPosition]
    sync_times: list[datetime]
    simulation: SyncSimulation
    targets: list[IncidentTarget]
    error_rng: random.Random


NEEDS_LOCAL = {
    DivergenceKind.SL_MISMATCH,
    DivergenceKind.TP_MISMATCH,
    DivergenceKind.VOLUME_MISMATCH,
    DivergenceKind.PRICE_OPEN_MISMATCH,
    DivergenceKind.TICKET_CHANGED,
    DivergenceKind.SYMBOL_MISMATCH,
    DivergenceKind.SIDE_MISMATCH,
    DivergenceKind.MISSING_AT_BROKER,
}
LOCAL_ONLY = {DivergenceKind.CLOSED_AT_BROKER, DivergenceKind.MISSING_AT_BROKER}


def account_history(
    fleet: FleetDefinition,
    specs: dict[str, InstrumentSpec],
    market: MarketHistory,
    account: AccountDef,
    index: int,
    seed: int,
    anchor: datetime,
    n_syncs: int,
) -> AccountHistory:
    """Open and closed positions, the sync simulation and who each incident concerns."""
    rng = derive_rng(seed, "positions", account.key)
    factory = PositionFactory(fleet, specs, market, account, rng)
    cadence = timedelta(seconds=fleet.syncs.cadence_seconds)
    offset = timedelta(seconds=(index * fleet.syncs.cadence_seconds) // max(1, len(fleet.accounts)))
    sync_times = [anchor - offset - (n_syncs - 1 - i) * cadence for i in range(n_syncs)]
    window_start = sync_times[0] if sync_times else anchor
    simulation = simulate_syncs(
        n_syncs,
        derive_rng(seed, "syncs", account.key),
        fleet.syncs,
        force_failed_in_tail=account.force_sync_failed,
    )
    needs_local = any(inc.kind in NEEDS_LOCAL for inc in simulation.incidents)
    opened = _open_positions(factory, rng, market.start, anchor, window_start, needs_local)
    targets = _incident_targets(factory, rng, simulation, sync_times, opened, market.start, cadence)
    pinned = [t.position for t in targets if t.position.closed_at is not None and t.position.persisted]
    n_closed = rng.randint(*fleet.positions.closed_per_account)
    closed = [
        _random_closed(factory, rng, market.start, anchor) for _ in range(max(0, n_closed - len(pinned)))
    ]
    positions = [*opened, *closed, *pinned, *(t.position for t in targets if not t.position.persisted)]
    _assign_identifiers(positions, derive_rng(seed, "identifiers", account.key), index)
    for pos in opened:
        factory.mark_open(pos, anchor)
    last_ok = max(
        (t for s, t in zip(simulation.syncs, sync_times, strict=True) if not s.failed), default=None
    )
    for pos in opened:
        pos.synced_at = last_ok
    for target in targets:
        _describe_target(target, specs, rng)
    unique = list({id(p): p for p in positions}.values())
    return AccountHistory(unique, sync_times, simulation, targets, derive_rng(seed, "errors", account.key))


def _open_positions(
    factory: PositionFactory,
    rng: random.Random,
    start: datetime,
    anchor: datetime,
    window_start: datetime,
    needs_local: bool,
) -> list[SeedPosition]:
    """0–6 open trades, from the last 3 days; when an incident needs a local position, at least one
    exists and is older than the sync window so every mismatch has a plausible subject."""
    lo, hi = factory.params.open_per_account
    count = rng.randint(lo, hi)
    if needs_local:
        count = max(count, 1)
    earliest = max(start + timedelta(hours=1), anchor - timedelta(days=3))
    times = sorted(_uniform_dt(rng, earliest, anchor - timedelta(minutes=5)) for _ in range(count))
    if needs_local and times[0] >= window_start - ONE_MINUTE:
        times[0] = _uniform_dt(
            rng, max(start + ONE_MINUTE, window_start - timedelta(hours=3)), window_start - ONE_MINUTE
        )
    return [factory.trade(ts) for ts in times]


def _random_closed(
    factory: PositionFactory, rng: random.Random, start: datetime, anchor: datetime
) -> SeedPosition:
    closed_at = _uniform_dt(rng, start + timedelta(hours=1), anchor - ONE_MINUTE)
    duration = timedelta(seconds=rng.randint(10 * 60, 12 * 3600))
    opened_at = max(start + ONE_MINUTE, closed_at - duration)
    reasons = list(CLOSE_REASON_WEIGHTS)
    reason = rng.choices(reasons, weights=[CLOSE_REASON_WEIGHTS[r] for r in reasons])[0]
    return factory.close(factory.trade(opened_at), closed_at, reason)


def _incident_targets(
    factory: PositionFactory,
    rng: random.Random,
    simulation: SyncSimulation,
    times: list[datetime],
    opened: list[SeedPosition],
    start: datetime,
    cadence: timedelta,
) -> list[IncidentTarget]:
    """Real positions for every incident: a trade closed just before the sync for closed_at_broker,
    a broker-only external trade for unexpected_at_broker, an older open trade otherwise."""
    targets = []
    for inc in simulation.incidents:
        first = times[inc.first_sync_index]
        if inc.kind is DivergenceKind.CLOSED_AT_BROKER:
            closed_at = first - timedelta(seconds=rng.randint(1, int(cadence.total_seconds()) - 1))
            opened_at = max(start + ONE_MINUTE, closed_at - timedelta(seconds=rng.randint(600, 8 * 3600)))
            pos = factory.close(
                factory.trade(opened_at), closed_at, rng.choice([CloseReason.SL, CloseReason.TP])
            )
            pos.updated_at = pos.synced_at = first  # closed locally by that sync
        elif inc.kind is DivergenceKind.UNEXPECTED_AT_BROKER:
            pos = factory.trade(first - timedelta(seconds=rng.randint(2, int(cadence.total_seconds()))))
            pos.magic, pos.source, pos.signal_ref, pos.persisted = 0, PositionSource.EXTERNAL, None, False
        else:
            candidates = [p for p in opened if p.opened_at < first - ONE_MINUTE]
            pos = rng.choice(candidates)
        targets.append(IncidentTarget(inc, pos, inc.severity))
    return targets


def _assign_identifiers(positions: list[SeedPosition], rng: random.Random, index: int) -> None:
    """MT5 identifiers grow with time, so they are handed out in opening order per account."""
    next_id = 70_000_000 + index * 1_000_000 + rng.randint(0, 9_999) * 10
    seen: set[int] = set()
    for pos in sorted(positions, key=lambda p: (p.opened_at, p.symbol, p.side.value, p.volume)):
        if id(pos) in seen:
            continue
        seen.add(id(pos))
        next_id += rng.randint(1, 50)
        pos.identifier = next_id


def _describe_target(target: IncidentTarget, specs: dict[str, InstrumentSpec], rng: random.Random) -> None:
    """Plausible local/broker value strings; the local row already holds the broker's fact (the
    broker wins), so `broker_value` is the row's value and `local_value` the superseded one."""
    pos, kind = target.position, target.incident.kind
    digits, point = specs[pos.symbol].digits, specs[pos.symbol].point
    nudge = point * rng.randint(5, 50)

    def price(value: Decimal | None) -> str | None:
        return None if value is None else str(round_price(value, digits))

    held = _describe(pos.side, pos.volume, pos.price_open, digits)
    if kind is DivergenceKind.CLOSED_AT_BROKER:
        target.local_value = held
        target.broker_value = f"closed {pos.close_reason} @ {price(pos.close_price)}"
    elif kind is DivergenceKind.MISSING_AT_BROKER:
        target.local_value = held
    elif kind is DivergenceKind.UNEXPECTED_AT_BROKER:
        target.broker_value = held
    elif kind is DivergenceKind.VOLUME_MISMATCH:
        target.local_value, target.broker_value = _fmt_volume(pos.volume * 2), _fmt_volume(pos.volume)
    elif kind is DivergenceKind.SIDE_MISMATCH:
        other = Side.SELL if pos.side is Side.BUY else Side.BUY
        target.local_value, target.broker_value = other.value, pos.side.value
    elif kind is DivergenceKind.PRICE_OPEN_MISMATCH:
        local = pos.requested_price if pos.requested_price != pos.price_open else pos.price_open - nudge
        target.local_value, target.broker_value = price(local), price(pos.price_open)
    elif kind is DivergenceKind.SL_MISMATCH:
        sign = 1 if pos.side is Side.BUY else -1
        if pos.sl is None:  # local has a stop, the broker none: unprotected (§2.3: critical)
            target.local_value = price(pos.price_open - sign * nudge * 10)
            target.severity = Severity.CRITICAL
        else:
            target.local_value, target.broker_value = price(pos.sl - sign * nudge), price(pos.sl)
    elif kind is DivergenceKind.TP_MISMATCH:
        sign = 1 if pos.side is Side.BUY else -1
        target.local_value, target.broker_value = (
            price((pos.tp or pos.price_open) + sign * nudge),
            price(pos.tp),
        )
    elif kind is DivergenceKind.TICKET_CHANGED:
        new_ticket = pos.identifier + rng.randint(1_000, 900_000)
        target.local_value = str(pos.ticket if pos.ticket is not None else pos.identifier)
        target.broker_value, pos.ticket = str(new_ticket), new_ticket
    elif kind is DivergenceKind.SYMBOL_MISMATCH:
        target.local_value, target.broker_value = (
            pos.symbol,
            BROKER_ALIASES.get(pos.symbol, f"{pos.symbol}.r"),
        )


# --------------------------------------------------------------------------------------------
# Logs, incidents and equity rows
# --------------------------------------------------------------------------------------------


def log_rows(history: AccountHistory, account_id: int, user_id: int, seed: int) -> list[dict[str, Any]]:
    """One row per simulated sync, with counts consistent with the positions held at that time."""
    by_incident = {t.incident.id: t for t in history.targets}
    persisted = [p for p in history.positions if p.persisted]
    rows = []
    for sync, at in zip(history.simulation.syncs, history.sync_times, strict=True):
        row: dict[str, Any] = {
            "sync_id": f"seed-{seed}-{sync.index}",
            "user_id": user_id,
            "account_id": account_id,
            "created_at": at,
            "event_type": sync.event_type,
            "status": sync.status,
            "duration_ms": sync.duration_ms,
            "broker_positions": 0,
            "local_positions": 0,
            "matched_positions": 0,
            "divergences": sync.divergences,
            "auto_resolved": sync.auto_resolved,
            "error": None,
        }
        if sync.failed:
            row["error"] = history.error_rng.choice(FAILED_SYNC_ERRORS)
        else:
            row.update(_counts(persisted, [by_incident[i] for i in sync.observed_incident_ids], at))
        rows.append(row)
    return rows


def _counts(positions: list[SeedPosition], observed: list[IncidentTarget], at: datetime) -> dict[str, int]:
    local = {p.identifier for p in positions if p.open_at(at)}
    local_only = {t.position.identifier for t in observed if t.incident.kind in LOCAL_ONLY}
    local |= local_only
    unexpected = {
        t.position.identifier for t in observed if t.incident.kind is DivergenceKind.UNEXPECTED_AT_BROKER
    }
    mismatched = {
        t.position.identifier
        for t in observed
        if t.incident.kind not in LOCAL_ONLY and t.incident.kind is not DivergenceKind.UNEXPECTED_AT_BROKER
    }
    both = local - local_only
    return {
        "local_positions": len(local),
        "broker_positions": len(both) + len(unexpected),
        "matched_positions": len(both - mismatched),
    }


def incident_rows(
    history: AccountHistory, account_id: int, user_id: int, log_ids: list[int]
) -> list[dict[str, Any]]:
    times = history.sync_times
    observations: dict[int, list[int]] = {}
    for sync in history.simulation.syncs:
        for incident_id in sync.observed_incident_ids:
            observations.setdefault(incident_id, []).append(sync.index)
    rows = []
    for target in history.targets:
        inc, pos = target.incident, target.position
        seen = observations.get(inc.id, [])
        escalated = (
            times[seen[2]] if inc.kind is DivergenceKind.MISSING_AT_BROKER and len(seen) >= 3 else None
        )
        resolved = inc.resolved_sync_index
        rows.append(
            {
                "user_id": user_id,
                "account_id": account_id,
                "position_id": pos.db_id,
                "broker_position_id": pos.identifier,
                "symbol": pos.symbol,
                "kind": inc.kind,
                "severity": target.severity,
                "local_value": target.local_value,
                "broker_value": target.broker_value,
                "action": RESOLUTION_BY_KIND[inc.kind],
                "resolution": inc.resolution,
                "first_log_id": log_ids[inc.first_sync_index],
                "last_log_id": log_ids[inc.last_sync_index],
                "first_seen_at": times[inc.first_sync_index],
                "last_seen_at": times[inc.last_sync_index],
                "occurrences": inc.occurrences,
                "escalated_at": escalated,
                "resolved_at": None if resolved is None else times[resolved],
            }
        )
    return rows


@dataclass
class EquityWalk:
    rows: list[dict[str, Any]]
    state: RiskState
    alerts: list[tuple[RiskAlert, datetime]]
    peak_daily_used: tuple[Decimal, datetime, Decimal] | None  # (used % of limit, at, loss %)


def equity_walk(
    fleet: FleetDefinition,
    account: AccountDef,
    row: TradingAccount,
    seed: int,
    anchor: datetime,
    n_points: int,
    floating: Decimal,
    margin: Decimal,
) -> EquityWalk:
    """Walk the §4.3 curve through `risk_state.advance`; every row gets the stored hwm/drawdown.

    The balance's last step is set to `equity − floating P&L of the open positions`, so the live
    simulator (which computes equity = balance + floating) continues the curve without a jump.
    """
    curves = account_curves(fleet, account, seed, n_points)
    equity, balance = curves.equity, list(curves.balance)
    last_step = max((i for i in range(1, n_points) if balance[i] != balance[i - 1]), default=0)
    adjusted = money(equity[-1] - floating)
    balance[last_step:] = [adjusted] * (n_points - last_step)
    rules = rules_of(row)
    step = timedelta(minutes=fleet.equity.step_minutes)
    state, alerts, rows = RiskState(), [], []
    peak: tuple[Decimal, datetime, Decimal] | None = None
    for i, (eq, bal) in enumerate(zip(equity, balance, strict=True)):
        ts = anchor - (n_points - 1 - i) * step
        state, found = advance(rules, state, ts, bal, eq)
        alerts.extend((a, ts) for a in found)
        if rules.daily_loss_limit_pct:
            used = state.daily_loss_pct / rules.daily_loss_limit_pct * 100
            if peak is None or used > peak[0]:
                peak = (used, ts, state.daily_loss_pct)
        is_last = i == n_points - 1
        rows.append(
            {
                "account_id": row.id,
                "ts": ts,
                "balance": bal,
                "equity": eq,
                "margin": margin if is_last else Decimal("0.00"),
                "free_margin": eq - (margin if is_last else Decimal(0)),
                "hwm": state.hwm,
                "drawdown_pct": state.drawdown_pct,
            }
        )
    return EquityWalk(rows, state, alerts, peak)


def scripted_daily_loss(walk: EquityWalk, account: AccountDef) -> list[tuple[RiskAlert, datetime]]:
    """§4.6 wants a daily-loss warning on the prop account; script one (and its clear) if the walk
    did not produce one, at the walk's worst daily-loss moment."""
    if account.daily_loss_limit_pct is None or walk.peak_daily_used is None:
        return []
    if any(a.guard_type is GuardType.DAILY_LOSS and a.level is Level.WARNING for a, _ in walk.alerts):
        return []
    _, at, loss = walk.peak_daily_used
    metric = DAILY_WARNING_USED_PCT + Decimal("1.5000")
    return [
        (
            RiskAlert(
                GuardType.DAILY_LOSS,
                Level.WARNING,
                GuardState.TRIGGERED,
                metric,
                DAILY_WARNING_USED_PCT,
                f"daily loss: reached warning ({metric}) - demo scripted, day loss {loss}%",
            ),
            at,
        ),
        (
            RiskAlert(
                GuardType.DAILY_LOSS,
                Level.NORMAL,
                GuardState.CLEARED,
                DAILY_WARNING_USED_PCT - 20,
                DAILY_WARNING_USED_PCT,
                "daily loss: back to normal - demo scripted",
            ),
            at + timedelta(minutes=40),
        ),
    ]


# --------------------------------------------------------------------------------------------
# Database side
# --------------------------------------------------------------------------------------------


SEED_MARKER = "demo_seed"


async def is_seeded(db: Database) -> bool:
    """The seed finished here: an explicit marker, written in the seed's own transaction.

    Not "any user exists": a user created (say with the CLI) before the first seed finished made
    the demo look seeded forever while it held no data.
    """
    async with db.read_session() as session:
        return await session.get(AppMeta, SEED_MARKER) is not None


async def demo_logins(db: Database) -> list[str]:
    """E-mails of the demo users, admin first, then risk, then traders."""
    async with db.read_session() as session:
        rows = (await session.execute(select(User.email, User.role, User.id).where(User.is_demo))).all()
    return [email for email, _, _ in sorted(rows, key=lambda r: (ROLE_ORDER[Role(r[1])], r[2]))]


async def _holds_data(session: AsyncSession) -> bool:
    """Accounts, instruments or demo users exist (users of the operator's own do not count)."""
    for query in (
        select(func.count()).select_from(TradingAccount),
        select(func.count()).select_from(Instrument),
        select(func.count()).select_from(User).where(User.is_demo),
    ):
        if (await session.execute(query)).scalar_one():
            return True
    return False


async def ensure_demo_passwords(db: Database) -> int:
    """Give demo users seeded before logins existed the demo password; returns how many."""
    async with db.session() as session:
        missing = (
            (await session.execute(select(User).where(User.is_demo, User.password_hash.is_(None))))
            .scalars()
            .all()
        )
        if missing:
            demo_hash = await hash_password_async(DEMO_PASSWORD)
            for user in missing:
                user.password_hash = demo_hash
        return len(missing)


async def _reset(session: AsyncSession) -> None:
    """Delete every row, children first; refuses when a real (non-demo) user exists.

    On PostgreSQL a single TRUNCATE ... RESTART IDENTITY also restarts the id sequences, so a
    reseed produces the very same ids (and rows) as a seed into a fresh database.
    """
    real = (await session.execute(select(func.count()).select_from(User).where(~User.is_demo))).scalar_one()
    if real:
        raise ServiceError("refusing to reset: non-demo users present")
    tables = list(reversed(Base.metadata.sorted_tables))
    if session.bind.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        await session.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY"))
        return
    for table in tables:
        await session.execute(delete(table))


class Progress:
    """A single `\\r`-rewritten line on stderr; silent unless enabled."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total, self.done = enabled, max(1, total), 0

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = round(30 * self.done / self.total)
        bar = "#" * filled + "-" * (30 - filled)
        sys.stderr.write(f"\rseeding demo data [{bar}] {self.done}/{self.total} {label:<24}")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


async def _bulk(session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        await session.execute(insert(model), list(chunk))


async def _bulk_ids(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert and return the new ids in input order (RETURNING with parameter-order sorting)."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
        ids.extend((await session.execute(stmt, list(chunk))).scalars().all())
    return ids


async def seed_demo(
    db: Database,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    progress: bool = False,
    *,
    now: datetime | None = None,
    hours_of_syncs: int | None = None,
    equity_days: int | None = None,
    fleet: FleetDefinition | None = None,
) -> SeedReport:
    """Build the whole demo in one transaction; raises `ServiceError` if data is already there.

    `now` (default: wall clock) is floored to 5 minutes: the history ends exactly there. The
    `hours_of_syncs` / `equity_days` overrides shrink the horizon (tests use them to stay fast).
    """
    started = time.perf_counter()
    fleet = fleet or load_fleet()
    anchor = floor_to_step(now or datetime.now(UTC))
    days = equity_days or fleet.equity.horizon_days
    n_points = days * 24 * 60 // fleet.equity.step_minutes
    sync_hours = hours_of_syncs or fleet.syncs.window_hours
    if sync_hours >= days * 24:
        raise ValueError("hours_of_syncs must be shorter than the equity horizon")
    n_syncs = sync_hours * 3600 // fleet.syncs.cadence_seconds
    specs = {s: domain_spec(spec) for s, spec in fleet.instruments.items()}
    bar = Progress(progress, total=len(fleet.accounts) + 3)
    totals = Counter[str]()

    async with db.session() as session:
        if await _holds_data(session):
            if not reset:
                raise ServiceError("database already holds data; use --reset")
            await _reset(session)
        history_start = anchor - timedelta(days=days)
        # The pure generators run in a worker thread: seconds of CPU on the event loop would stall
        # every request meanwhile (a readiness probe timed out connecting and logged an "outage").
        market = await asyncio.to_thread(build_market, fleet, specs, seed, history_start, anchor)
        bar.step("prices")
        users, accounts = await _insert_people(session, fleet, specs, anchor, history_start)
        totals["users"], totals["accounts"] = len(users), len(accounts)
        bar.step("users & accounts")
        for index, account in enumerate(fleet.accounts):
            row = accounts[account.key]
            history = await asyncio.to_thread(
                account_history, fleet, specs, market, account, index, seed, anchor, n_syncs
            )
            await _insert_account(
                session, fleet, specs, market, account, row, history, seed, anchor, n_points, totals
            )
            bar.step(account.key)
        await _insert_market(session, market)
        totals["guard_events"] += len(market.guard_rows)
        await session.merge(
            AppMeta(key=SEED_MARKER, value=f"seed {seed} at {anchor.isoformat()}", updated_at=anchor)
        )
        bar.step("market state")
    bar.finish()
    return SeedReport(
        users=totals["users"],
        accounts=totals["accounts"],
        equity_snapshots=totals["equity"],
        syncs=totals["syncs"],
        incidents=totals["incidents"],
        positions_open=totals["open"],
        positions_closed=totals["closed"],
        guard_events=totals["guard_events"],
        seconds=time.perf_counter() - started,
        logins=await demo_logins(db),
    )


async def _insert_people(
    session: AsyncSession,
    fleet: FleetDefinition,
    specs: dict[str, InstrumentSpec],
    anchor: datetime,
    history_start: datetime,
) -> tuple[dict[str, User], dict[str, TradingAccount]]:
    """Instruments, users and accounts through the ORM (a few dozen rows; their ids are needed)."""
    session.add_all(
        Instrument(
            symbol=s.symbol,
            asset_class=s.asset_class,
            contract_size=s.contract_size,
            digits=s.digits,
            volume_step=s.volume_step,
            quote_ccy=s.quote_ccy,
            typical_spread=s.typical_spread,
            annual_vol=s.annual_vol,
            trading_days=s.trading_days,
        )
        for s in (specs[k] for k in sorted(specs))
    )
    demo_hash = await hash_password_async(DEMO_PASSWORD)  # one argon2 hash (~0.1 s) shared by the demo logins
    users = {
        u.email: User(
            email=u.email,
            display_name=u.display_name,
            role=u.role,
            telegram_user_id=u.telegram_user_id,
            password_hash=demo_hash,
            session_version=0,
            is_active=True,
            is_demo=True,
            created_at=anchor - timedelta(days=30),
        )
        for u in fleet.users
    }
    session.add_all(users.values())
    await session.flush()
    accounts = {a.key: _account_row(a, users[a.owner].id, fleet, history_start) for a in fleet.accounts}
    session.add_all(accounts.values())
    await session.flush()
    return users, accounts


def _account_row(
    a: AccountDef, user_id: int, fleet: FleetDefinition, history_start: datetime
) -> TradingAccount:
    return TradingAccount(
        user_id=user_id,
        name=a.label,
        broker_login=a.broker_login,
        broker_server=a.broker_server,
        margin_mode=a.margin_mode,
        currency=a.currency,
        leverage=a.leverage,
        initial_balance=a.initial_balance,
        is_demo=a.is_demo,
        dd_warning_pct=a.dd_warning_pct,
        dd_critical_pct=a.dd_critical_pct,
        daily_loss_limit_pct=a.daily_loss_limit_pct,
        max_loss_limit_pct=a.max_loss_limit_pct,
        daily_loss_basis=a.daily_loss_basis or DailyLossBasis.MAX_SOD_BALANCE_EQUITY,
        max_loss_mode=a.max_loss_mode or MaxLossMode.STATIC,
        day_reset_tz=a.day_reset_tz,
        day_reset_hour=a.day_reset_hour,
        stops_policy=StopsPolicy.BROKER_WINS,
        platform_magic=fleet.positions.platform_magic,
        status=AccountStatus.ACTIVE,
        created_at=history_start - timedelta(days=1),
    )


async def _insert_account(
    session: AsyncSession,
    fleet: FleetDefinition,
    specs: dict[str, InstrumentSpec],
    market: MarketHistory,
    account: AccountDef,
    row: TradingAccount,
    history: AccountHistory,
    seed: int,
    anchor: datetime,
    n_points: int,
    totals: Counter[str],
) -> None:
    persisted = [p for p in history.positions if p.persisted]
    open_now = [p for p in persisted if p.closed_at is None]
    mids = {s: market.final(s).mid for s in market.quotes}
    floating = sum((p.profit for p in open_now), Decimal(0))
    margin = margin_of(((p.symbol, p.volume) for p in open_now), specs, mids, row.currency, row.leverage)
    walk = await asyncio.to_thread(equity_walk, fleet, account, row, seed, anchor, n_points, floating, margin)
    await _bulk(session, EquitySnapshot, walk.rows)

    ordered = sorted(persisted, key=lambda p: p.identifier)
    ids = await _bulk_ids(session, Position, [p.row(row.id, row.user_id) for p in ordered])
    for pos, db_id in zip(ordered, ids, strict=True):
        pos.db_id = db_id
    logs = log_rows(history, row.id, row.user_id, seed)
    log_ids = await _bulk_ids(session, ReconciliationLog, logs)
    incidents = incident_rows(history, row.id, row.user_id, log_ids)
    await _bulk(session, DivergenceIncident, incidents)

    alerts = walk.alerts + scripted_daily_loss(walk, account)
    session.add_all(guard_event(row, alert, at) for alert, at in sorted(alerts, key=lambda x: x[1]))
    state = AccountRiskState(account_id=row.id, user_id=row.user_id, margin=margin)
    store_state(state, walk.state)
    _store_counters(state, logs, incidents, len(open_now))
    session.add(state)
    await session.flush()

    totals["equity"] += len(walk.rows)
    totals["syncs"] += len(logs)
    totals["incidents"] += len(incidents)
    totals["open"] += len(open_now)
    totals["closed"] += len(persisted) - len(open_now)
    totals["guard_events"] += len(alerts)


def _store_counters(
    state: AccountRiskState, logs: list[dict[str, Any]], incidents: list[dict[str, Any]], open_positions: int
) -> None:
    """The counters that keep status reads O(accounts); computed from the rows just inserted."""
    state.open_positions = open_positions
    state.total_syncs = len(logs)
    state.failed_syncs = sum(log["event_type"] is SyncEventType.SYNC_FAILED for log in logs)
    state.incidents_total = len(incidents)
    still_open = [i for i in incidents if i["resolution"] is Resolution.OPEN]
    state.open_incidents = len(still_open)
    state.open_critical_incidents = sum(i["severity"] is Severity.CRITICAL for i in still_open)
    if logs:
        newest = max(logs, key=lambda log: log["created_at"])
        state.last_sync_at, state.last_sync_status = newest["created_at"], newest["status"]


async def _insert_market(session: AsyncSession, market: MarketHistory) -> None:
    """The current quote and guard memory per symbol, and the market guard events of the last 24 h."""
    await _bulk(
        session,
        MarketState,
        [
            {
                "symbol": symbol,
                "bid": market.final(symbol).bid,
                "ask": market.final(symbol).ask,
                "quoted_at": market.final(symbol).ts,
                "guard_state": market.guard_states[symbol].to_json(),
            }
            for symbol in sorted(market.quotes)
        ],
    )
    await _bulk(session, GuardEvent, market.guard_rows)
