"""One account's history, pure: its positions, its simulated syncs and who each incident concerns.

No database and no clock: everything comes from `(seed, account)` RNG streams and the anchor, so it
runs in a worker thread and the same inputs always give the same history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dashboard.demo.fleet import AccountDef, FleetDefinition, derive_rng
from dashboard.demo.seed.market_history import MarketHistory
from dashboard.demo.seed.positions import PositionFactory, SeedPosition
from dashboard.demo.sync_outcomes import SimIncident, SyncSimulation, simulate_syncs
from dashboard.domain.enums import CloseReason, DivergenceKind, PositionSource, Severity, Side
from dashboard.domain.instruments import InstrumentSpec
from dashboard.domain.numbers import round_price

__all__ = ["LOCAL_ONLY", "AccountHistory", "IncidentTarget", "account_history"]

CLOSE_REASON_WEIGHTS: dict[CloseReason, float] = {
    CloseReason.TP: 0.30,
    CloseReason.SL: 0.35,
    CloseReason.MANUAL: 0.15,
    CloseReason.SIGNAL: 0.20,
}
BROKER_ALIASES = {"XAUUSD": "GOLD", "NAS100": "USTEC", "US30": "WS30", "GER40": "DE40", "BTCUSD": "XBTUSD"}
ONE_MINUTE = timedelta(minutes=1)


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
        if pos.sl is None:  # local has a stop, the broker none: unprotected (docs/domain.md §3.4: critical)
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


def _uniform_dt(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A whole-second instant in [lo, hi]: second precision keeps both backends byte-identical."""
    span = max(0, int((hi - lo).total_seconds()))
    return lo + timedelta(seconds=rng.randint(0, span))


def _fmt_volume(volume: Decimal) -> str:
    return str(volume.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _describe(side: Side, volume: Decimal, price: Decimal, digits: int) -> str:
    """Same shape as the reconciler's own value strings: "buy 0.50 @ 1.08512"."""
    return f"{side.value} {_fmt_volume(volume)} @ {round_price(price, digits)}"
