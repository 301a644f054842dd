"""Position reconciliation, local book vs MT5 broker (docs/domain.md §3, §6.9). Hedging only.

Principles: key on the MT5 `identifier` (tickets can change); the broker is the source of truth for
execution facts; never auto-close on absence alone (an exit deal must prove it); skip positions
with very recent local activity (race with in-flight fills).

A *failed* broker query is not an input here: the caller logs `sync_failed`, emits no divergences,
changes no positions and does not call `reconcile` (nor `plan_incidents`), so open incidents stay
untouched. Treating "query failed" as "broker has nothing" would close every position.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from dashboard.domain.enums import (
    CloseReason,
    DealReason,
    DivergenceKind,
    IncidentState,
    MarginMode,
    PositionSource,
    Resolution,
    Severity,
    Side,
    StopsPolicy,
    SyncStatus,
)
from dashboard.domain.instruments import InstrumentSpec, normalise_symbol
from dashboard.domain.numbers import DomainError, quantum, require_utc, round_price, to_decimal

__all__ = [
    "BrokerPosition",
    "Divergence",
    "ExitDeal",
    "IncidentPlan",
    "LocalPosition",
    "OpenIncident",
    "PersonResolved",
    "ReconciliationResult",
    "incident_state",
    "plan_incidents",
    "plan_reopens",
    "reconcile",
    "stop_or_none",
]


def stop_or_none(value: Decimal | int | str | None) -> Decimal | None:
    """MT5 reports an unset SL/TP as 0.0; the domain (and the DB) use None for "not set"."""
    if value is None:
        return None
    d = to_decimal(value)
    if d < 0:
        raise DomainError(f"stop level must be >= 0, got {d}")
    return None if d == 0 else d


def _positive(name: str, value: Decimal | int | str) -> Decimal:
    d = to_decimal(value)
    if d <= 0:
        raise DomainError(f"{name} must be > 0, got {d}")
    return d


@dataclass(frozen=True)
class LocalPosition:
    """An open position in the platform's book. `updated_at` = last LOCAL activity (race guard)."""

    position_id: int
    identifier: int
    ticket: int
    symbol: str
    side: Side
    volume: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    updated_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "volume", _positive("volume", self.volume))
        object.__setattr__(self, "price_open", _positive("price_open", self.price_open))
        object.__setattr__(self, "sl", stop_or_none(self.sl))
        object.__setattr__(self, "tp", stop_or_none(self.tp))
        object.__setattr__(self, "updated_at", require_utc(self.updated_at))


@dataclass(frozen=True)
class BrokerPosition:
    """One `positions_get()` row, already converted to UTC by the bridge."""

    identifier: int
    ticket: int
    symbol: str
    side: Side
    volume: Decimal
    price_open: Decimal
    price_current: Decimal
    sl: Decimal | None
    tp: Decimal | None
    swap: Decimal
    profit: Decimal
    magic: int
    opened_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "volume", _positive("volume", self.volume))
        object.__setattr__(self, "price_open", _positive("price_open", self.price_open))
        object.__setattr__(self, "price_current", _positive("price_current", self.price_current))
        object.__setattr__(self, "sl", stop_or_none(self.sl))
        object.__setattr__(self, "tp", stop_or_none(self.tp))
        object.__setattr__(self, "swap", to_decimal(self.swap))
        object.__setattr__(self, "profit", to_decimal(self.profit))
        object.__setattr__(self, "opened_at", require_utc(self.opened_at))

    stop_or_none = staticmethod(stop_or_none)


@dataclass(frozen=True)
class ExitDeal:
    """The DEAL_ENTRY_OUT deal that proves a position closed. `magic` tells our EA from others."""

    identifier: int
    reason: DealReason
    price: Decimal
    profit: Decimal
    swap: Decimal
    commission: Decimal
    time: datetime
    magic: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", DealReason(self.reason))
        object.__setattr__(self, "price", _positive("price", self.price))
        for name in ("profit", "swap", "commission"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        object.__setattr__(self, "time", require_utc(self.time))


@dataclass(frozen=True)
class Divergence:
    """One observed difference. `action` is the resolution recorded when the incident resolves.

    `source` is only set for `unexpected_at_broker` (external vs a platform trade whose open event
    was missed, by magic number).
    """

    kind: DivergenceKind
    severity: Severity
    identifier: int
    position_id: int | None
    symbol: str
    local_value: str | None
    broker_value: str | None
    action: Resolution
    close_reason: CloseReason | None = None
    source: PositionSource | None = None


@dataclass
class ReconciliationResult:
    """One sync's outcome; maps onto a `reconciliation_logs` row plus observed divergences."""

    broker_positions: int
    local_positions: int
    matched_positions: int
    divergences: list[Divergence]
    skipped: list[int]
    status: SyncStatus


# --- formatting -----------------------------------------------------------------------------------


def _fmt_price(value: Decimal | None, digits: int) -> str | None:
    return None if value is None else str(round_price(value, digits))


def _volume_places(spec: InstrumentSpec) -> int:
    exponent = spec.volume_step.normalize().as_tuple().exponent
    return max(2, -exponent if isinstance(exponent, int) else 2)


def _fmt_volume(value: Decimal, spec: InstrumentSpec) -> str:
    return str(value.quantize(quantum(_volume_places(spec)), rounding=ROUND_HALF_UP))


def _describe(side: Side, volume: Decimal, price: Decimal, spec: InstrumentSpec) -> str:
    return f"{side} {_fmt_volume(volume, spec)} @ {_fmt_price(price, spec.digits)}"


def _fallback_spec(symbol: str, *prices: Decimal | None) -> InstrumentSpec:
    """Spec for a symbol missing from the instruments table, so one unknown symbol (an external
    trade on an exotic) does not abort the whole sync: digits inferred from the prices seen, volume
    step 0.01, and exact price comparison (point = smallest digit seen)."""
    digits = 0
    for p in prices:
        if p is not None:
            exp = p.normalize().as_tuple().exponent
            if isinstance(exp, int):
                digits = max(digits, -exp)
    return InstrumentSpec(
        symbol, "unknown", Decimal(1), min(digits, 10), Decimal("0.01"), "XXX", Decimal(0), Decimal(0)
    )


# --- reconcile ------------------------------------------------------------------------------------

_CLOSE = {
    DealReason.SL: (CloseReason.SL, Severity.INFO),
    DealReason.TP: (CloseReason.TP, Severity.INFO),
    DealReason.SO: (CloseReason.STOP_OUT, Severity.CRITICAL),
    DealReason.CLIENT: (CloseReason.MANUAL, Severity.WARNING),
    DealReason.EXPERT: (CloseReason.MANUAL, Severity.WARNING),
}


_P = TypeVar("_P", LocalPosition, BrokerPosition)


def _index(items: Sequence[_P], side: str) -> dict[int, _P]:
    """Index by identifier; a duplicate means the input is corrupt, not a divergence."""
    out: dict[int, _P] = {}
    for item in items:
        if item.identifier in out:
            raise DomainError(f"duplicate {side} identifier {item.identifier}")
        out[item.identifier] = item
    return out


def _compare(
    loc: LocalPosition,
    brk: BrokerPosition,
    spec: InstrumentSpec,
    symbol: str,
    local_symbol: str,
    stops_policy: StopsPolicy,
) -> list[Divergence]:
    found: list[Divergence] = []

    def add(kind: DivergenceKind, sev: Severity, lv: str | None, bv: str | None, act: Resolution) -> None:
        found.append(Divergence(kind, sev, loc.identifier, loc.position_id, symbol, lv, bv, act))

    if loc.ticket != brk.ticket:
        add(
            DivergenceKind.TICKET_CHANGED,
            Severity.INFO,
            str(loc.ticket),
            str(brk.ticket),
            Resolution.BROKER_WINS,
        )
    if local_symbol != symbol:
        add(DivergenceKind.SYMBOL_MISMATCH, Severity.INFO, loc.symbol, brk.symbol, Resolution.IGNORED)
    if loc.side is not brk.side:
        add(
            DivergenceKind.SIDE_MISMATCH,
            Severity.CRITICAL,
            str(loc.side),
            str(brk.side),
            Resolution.BROKER_WINS,
        )
    if abs(loc.volume - brk.volume) >= spec.volume_step / 2:
        add(
            DivergenceKind.VOLUME_MISMATCH,
            Severity.WARNING,
            _fmt_volume(loc.volume, spec),
            _fmt_volume(brk.volume, spec),
            Resolution.BROKER_WINS,
        )
    tolerance = max(spec.point / 2, brk.price_open * Decimal("0.0001"))
    if abs(loc.price_open - brk.price_open) > tolerance:
        add(
            DivergenceKind.PRICE_OPEN_MISMATCH,
            Severity.INFO,
            _fmt_price(loc.price_open, spec.digits),
            _fmt_price(brk.price_open, spec.digits),
            Resolution.BROKER_WINS,
        )
    stop_action = (
        Resolution.BROKER_WINS if stops_policy is StopsPolicy.BROKER_WINS else Resolution.RESENT_TO_BROKER
    )
    for kind, lv, bv in (
        (DivergenceKind.SL_MISMATCH, loc.sl, brk.sl),
        (DivergenceKind.TP_MISMATCH, loc.tp, brk.tp),
    ):
        lr, br = _fmt_price(lv, spec.digits), _fmt_price(bv, spec.digits)
        if lr != br:
            unprotected = kind is DivergenceKind.SL_MISMATCH and bv is None and lv is not None
            add(kind, Severity.CRITICAL if unprotected else Severity.WARNING, lr, br, stop_action)
    return found


def reconcile(
    local: Sequence[LocalPosition],
    broker: Sequence[BrokerPosition],
    exit_deals: Mapping[int, ExitDeal],
    instruments: Mapping[str, InstrumentSpec],
    now: datetime,
    stops_policy: StopsPolicy = StopsPolicy.BROKER_WINS,
    race_window: timedelta = timedelta(seconds=5),
    platform_magic: int | None = None,
    aliases: Mapping[str, str] | None = None,
    margin_mode: MarginMode = MarginMode.HEDGING,
) -> ReconciliationResult:
    """Compare the local open book with the broker's open positions (hedging accounts).

    - local only + exit deal -> closed_at_broker (closed_locally; severity by deal reason);
    - local only, no deal -> missing_at_broker (critical; manual, never auto-closed);
    - broker only -> unexpected_at_broker (adopted_external; source by magic);
    - both -> field comparison (ticket, symbol, side, volume, price_open, sl, tp), per §3.4 and §3.5.
    Local positions whose `updated_at` is within `race_window` of `now` are skipped entirely.
    `matched_positions` counts pairs with no field divergence. Output is ordered by identifier.
    """
    if MarginMode(margin_mode) is MarginMode.NETTING:
        raise DomainError("netting reconciliation not supported yet")
    at = require_utc(now)
    policy = StopsPolicy(stops_policy)
    local_by_id: dict[int, LocalPosition] = _index(local, "local")
    broker_by_id: dict[int, BrokerPosition] = _index(broker, "broker")
    for key, given in exit_deals.items():
        if given.identifier != key:
            raise DomainError(f"exit deal keyed {key} belongs to identifier {given.identifier}")

    def spec_for(symbol: str, *prices: Decimal | None) -> InstrumentSpec:
        return instruments.get(symbol) or _fallback_spec(symbol, *prices)

    skipped = sorted(i for i, p in local_by_id.items() if at - p.updated_at < race_window)
    skip = set(skipped)
    divergences: list[Divergence] = []
    matched = 0
    for ident in sorted(local_by_id.keys() | broker_by_id.keys()):
        if ident in skip:
            continue
        loc, brk = local_by_id.get(ident), broker_by_id.get(ident)
        if loc is not None and brk is None:
            symbol = normalise_symbol(loc.symbol, aliases)
            spec = spec_for(symbol, loc.price_open, loc.sl, loc.tp)
            held = _describe(loc.side, loc.volume, loc.price_open, spec)
            deal = exit_deals.get(ident)
            if deal is None:
                divergences.append(
                    Divergence(
                        DivergenceKind.MISSING_AT_BROKER,
                        Severity.CRITICAL,
                        ident,
                        loc.position_id,
                        symbol,
                        held,
                        None,
                        Resolution.MANUAL,
                    )
                )
            else:
                reason, severity = _CLOSE[deal.reason]
                if (
                    deal.reason is DealReason.EXPERT
                    and platform_magic is not None
                    and deal.magic == platform_magic
                ):
                    reason = CloseReason.SIGNAL
                closed = f"closed {reason} @ {_fmt_price(deal.price, spec.digits)}"
                divergences.append(
                    Divergence(
                        DivergenceKind.CLOSED_AT_BROKER,
                        severity,
                        ident,
                        loc.position_id,
                        symbol,
                        held,
                        closed,
                        Resolution.CLOSED_LOCALLY,
                        close_reason=reason,
                    )
                )
        elif brk is not None and loc is None:
            symbol = normalise_symbol(brk.symbol, aliases)
            spec = spec_for(symbol, brk.price_open, brk.sl, brk.tp)
            source = (
                PositionSource.PLATFORM
                if platform_magic is not None and brk.magic == platform_magic
                else PositionSource.EXTERNAL
            )
            divergences.append(
                Divergence(
                    DivergenceKind.UNEXPECTED_AT_BROKER,
                    Severity.WARNING,
                    ident,
                    None,
                    symbol,
                    None,
                    _describe(brk.side, brk.volume, brk.price_open, spec),
                    Resolution.ADOPTED_EXTERNAL,
                    source=source,
                )
            )
        elif loc is not None and brk is not None:
            symbol = normalise_symbol(brk.symbol, aliases)
            local_symbol = normalise_symbol(loc.symbol, aliases)
            spec = spec_for(symbol, brk.price_open, loc.price_open, brk.sl, brk.tp, loc.sl, loc.tp)
            found = _compare(loc, brk, spec, symbol, local_symbol, policy)
            divergences.extend(found)
            matched += not found
    return ReconciliationResult(
        broker_positions=len(broker_by_id),
        local_positions=len(local_by_id),
        matched_positions=matched,
        divergences=divergences,
        skipped=skipped,
        status=SyncStatus.DIVERGENT if divergences else SyncStatus.OK,
    )


# --- incident lifecycle ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenIncident:
    """A stored `reconciliation_divergences` row with resolution='open'."""

    incident_id: int
    kind: DivergenceKind
    identifier: int
    occurrences: int
    action: Resolution

    def __post_init__(self) -> None:
        # DB rows may hand back plain strings; coerce so identity checks on enums hold.
        object.__setattr__(self, "kind", DivergenceKind(self.kind))
        object.__setattr__(self, "action", Resolution(self.action))
        if self.occurrences < 1:
            raise DomainError(f"incident {self.incident_id}: occurrences must be >= 1")


@dataclass
class IncidentPlan:
    """What the caller must write for this sync.

    new: insert (occurrences=1). seen_again: occurrences = incident.occurrences + 1 (the incident is
    given as stored, before the increment). resolved: set resolution = incident.action and
    resolved_at. escalated: missing_at_broker incidents that reached the threshold in THIS sync
    (also present in seen_again; they stay open for manual action). reopened: incidents a person
    had resolved that this sync sees again (`plan_reopens`), with what it saw; they are no longer
    in `new`.
    """

    new: list[Divergence] = field(default_factory=list)
    seen_again: list[tuple[OpenIncident, Divergence]] = field(default_factory=list)
    resolved: list[OpenIncident] = field(default_factory=list)
    escalated: list[OpenIncident] = field(default_factory=list)
    reopened: list[tuple[PersonResolved, Divergence]] = field(default_factory=list)


def plan_incidents(
    open_incidents: Sequence[OpenIncident],
    observed: Sequence[Divergence],
    skipped_identifiers: Collection[int] = (),
    escalate_after: int = 3,
) -> IncidentPlan:
    """Deduplicate observations into incidents keyed by (identifier, kind).

    Repeated observations bump `occurrences` instead of creating rows, which is what keeps
    "divergences detected" from being inflated. An open incident not observed this sync has
    cleared and is resolved with its own action; one whose identifier was skipped by the race guard
    was not looked at, so it stays open untouched. A missing_at_broker incident is escalated exactly
    once, in the sync where its occurrences reach `escalate_after`; it is never auto-resolved while
    still observed (only when the condition itself disappears).
    """
    if escalate_after < 2:
        raise DomainError("escalate_after must be >= 2 (the first sighting creates the incident)")
    by_key: dict[tuple[int, DivergenceKind], Divergence] = {}
    for d in observed:
        key = (d.identifier, DivergenceKind(d.kind))
        if key in by_key:
            raise DomainError(f"duplicate observation for identifier {d.identifier} kind {d.kind}")
        by_key[key] = d
    open_keys: set[tuple[int, DivergenceKind]] = set()
    skipped = set(skipped_identifiers)
    plan = IncidentPlan()
    for inc in open_incidents:
        key = (inc.identifier, DivergenceKind(inc.kind))
        if key in open_keys:
            raise DomainError(f"two open incidents for identifier {inc.identifier} kind {inc.kind}")
        open_keys.add(key)
        seen = by_key.get(key)
        if seen is not None:
            plan.seen_again.append((inc, seen))
            if inc.kind is DivergenceKind.MISSING_AT_BROKER and inc.occurrences + 1 == escalate_after:
                plan.escalated.append(inc)
        elif inc.identifier not in skipped:
            plan.resolved.append(inc)
    plan.new = [d for key, d in by_key.items() if key not in open_keys]
    return plan


# --- incidents as work items ----------------------------------------------------------------------


def incident_state(resolution: Resolution, acknowledged_at: datetime | None) -> IncidentState:
    """An incident's work state, derived (never stored twice): resolved once its resolution is no
    longer `open` (the sync saw it go, or a person resolved it), acknowledged once someone said they
    are on it, open otherwise."""
    if Resolution(resolution) is not Resolution.OPEN:
        return IncidentState.RESOLVED
    return IncidentState.ACKNOWLEDGED if acknowledged_at is not None else IncidentState.OPEN


@dataclass(frozen=True)
class PersonResolved:
    """A stored incident a person resolved (resolution `manual` with `resolved_by` set).

    Not every `manual` resolution is a person's: a missing_at_broker incident's own action is
    `manual`, and the sync records it when the position comes back; `resolved_by` tells them apart.
    """

    incident_id: int
    kind: DivergenceKind
    identifier: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DivergenceKind(self.kind))


def plan_reopens(plan: IncidentPlan, person_resolved: Sequence[PersonResolved]) -> IncidentPlan:
    """Reopen instead of opening anew: a new divergence with the (identifier, kind) of an incident a
    person resolved contradicts that resolution, so the plan reopens that incident (moved from
    `new` to `reopened`). If several match (never in practice), the newest incident (highest id) is
    reopened. Incidents the sync resolved itself are not given here: a divergence that comes back
    after the sync saw it go is a new incident, as before."""
    if not plan.new or not person_resolved:
        return plan
    by_key: dict[tuple[int, DivergenceKind], PersonResolved] = {}
    for incident in sorted(person_resolved, key=lambda i: i.incident_id):
        by_key[(incident.identifier, incident.kind)] = incident
    still_new: list[Divergence] = []
    reopened = list(plan.reopened)
    for d in plan.new:
        match = by_key.pop((d.identifier, DivergenceKind(d.kind)), None)
        if match is None:
            still_new.append(d)
        else:
            reopened.append((match, d))
    return IncidentPlan(
        new=still_new,
        seen_again=plan.seen_again,
        resolved=plan.resolved,
        escalated=plan.escalated,
        reopened=reopened,
    )
