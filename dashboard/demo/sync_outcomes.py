"""Pure simulation of reconciliation sync outcomes (docs/domain.md §5.5).

The seeder needs believable `reconciliation_logs` and `reconciliation_divergences` rows without a
broker: this module decides, per sync, whether it failed, how long it took and which divergence
incidents it observed, opened or resolved. It follows the sync rules of §3.7 and §3.8: a failed sync observes
nothing and resolves nothing (an incident open across it simply continues), incidents are
deduplicated while open, and `missing_at_broker` is never auto-closed but escalates to `manual`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from dashboard.demo.fleet import SyncParams
from dashboard.domain.enums import (
    DivergenceKind,
    Resolution,
    Severity,
    SyncEventType,
    SyncStatus,
)

K = DivergenceKind

# §3.4 default severity per kind (the per-case refinements, e.g. stop-out, belong to the live path).
SEVERITY_BY_KIND: dict[DivergenceKind, Severity] = {
    K.CLOSED_AT_BROKER: Severity.INFO,
    K.MISSING_AT_BROKER: Severity.CRITICAL,
    K.UNEXPECTED_AT_BROKER: Severity.WARNING,
    K.VOLUME_MISMATCH: Severity.WARNING,
    K.SIDE_MISMATCH: Severity.CRITICAL,
    K.PRICE_OPEN_MISMATCH: Severity.INFO,
    K.SL_MISMATCH: Severity.WARNING,
    K.TP_MISMATCH: Severity.WARNING,
    K.SYMBOL_MISMATCH: Severity.INFO,
    K.TICKET_CHANGED: Severity.INFO,
}

# §3.4 resolution once the incident stops being observed; SL/TP follow the default broker_wins policy (§7.4).
RESOLUTION_BY_KIND: dict[DivergenceKind, Resolution] = {
    K.CLOSED_AT_BROKER: Resolution.CLOSED_LOCALLY,
    K.MISSING_AT_BROKER: Resolution.MANUAL,
    K.UNEXPECTED_AT_BROKER: Resolution.ADOPTED_EXTERNAL,
    K.VOLUME_MISMATCH: Resolution.BROKER_WINS,
    K.SIDE_MISMATCH: Resolution.BROKER_WINS,
    K.PRICE_OPEN_MISMATCH: Resolution.BROKER_WINS,
    K.SL_MISMATCH: Resolution.BROKER_WINS,
    K.TP_MISMATCH: Resolution.BROKER_WINS,
    K.SYMBOL_MISMATCH: Resolution.IGNORED,
    K.TICKET_CHANGED: Resolution.BROKER_WINS,
}

# What a failed sync logs as its error (MetaTrader 5 terminal and bridge failures).
FAILED_SYNC_ERRORS = (
    "terminal not connected: (-10004, 'No IPC connection')",
    "positions_get() timed out after 5000 ms",
    "(-10005, 'IPC timeout')",
    "broker server unreachable: no answer within 10 s",
)


@dataclass(frozen=True)
class SimIncident:
    """One divergence incident; sync indices are inclusive and refer to `SimSync.index`."""

    id: int
    kind: DivergenceKind
    severity: Severity
    first_sync_index: int
    last_sync_index: int
    occurrences: int
    resolved_sync_index: int | None  # None: still open at the end of the window
    resolution: Resolution

    @property
    def is_open(self) -> bool:
        return self.resolution is Resolution.OPEN


@dataclass(frozen=True)
class SimSync:
    """What one sync saw. `observed` includes incidents opened in this sync."""

    index: int
    failed: bool
    duration_ms: int
    observed_incident_ids: tuple[int, ...]
    opened_incident_ids: tuple[int, ...]
    resolved_incident_ids: tuple[int, ...]
    auto_resolved: int  # resolved without a human (everything except `manual`)

    @property
    def divergences(self) -> int:
        return len(self.observed_incident_ids)

    @property
    def status(self) -> SyncStatus:
        if self.failed:
            return SyncStatus.FAILED
        return SyncStatus.DIVERGENT if self.observed_incident_ids else SyncStatus.OK

    @property
    def event_type(self) -> SyncEventType:
        if self.failed:
            return SyncEventType.SYNC_FAILED
        return SyncEventType.STARTUP_SYNC if self.index == 0 else SyncEventType.SCHEDULED_SYNC


@dataclass(frozen=True)
class SyncSimulation:
    syncs: tuple[SimSync, ...]
    incidents: tuple[SimIncident, ...]

    @property
    def failed_count(self) -> int:
        return sum(s.failed for s in self.syncs)

    @property
    def divergent_count(self) -> int:
        return sum(s.status is SyncStatus.DIVERGENT for s in self.syncs)

    @property
    def observations(self) -> int:
        """Σ per-sync divergences; deliberately larger than len(incidents) (§3.9)."""
        return sum(s.divergences for s in self.syncs)


@dataclass
class _Open:
    id: int
    kind: DivergenceKind
    first: int
    last: int
    occurrences: int = 1


@dataclass
class _State:
    open: list[_Open] = field(default_factory=list)
    closed: list[SimIncident] = field(default_factory=list)
    next_id: int = 0
    tail_divergent: bool = False


def _close(inc: _Open, at: int, resolution: Resolution) -> SimIncident:
    return SimIncident(
        id=inc.id,
        kind=inc.kind,
        severity=SEVERITY_BY_KIND[inc.kind],
        first_sync_index=inc.first,
        last_sync_index=inc.last,
        occurrences=inc.occurrences,
        resolved_sync_index=at,
        resolution=resolution,
    )


def _resolves(inc: _Open, rng: random.Random, params: SyncParams) -> bool:
    """missing_at_broker escalates after N observations; the rest resolve with p_resolve."""
    if inc.kind is K.MISSING_AT_BROKER:
        return inc.occurrences >= params.missing_persist_syncs
    return rng.random() < params.p_resolve


def _draw_kind(rng: random.Random, params: SyncParams) -> DivergenceKind:
    kinds = list(params.kind_weights)
    return rng.choices(kinds, weights=[params.kind_weights[k] for k in kinds])[0]


def _duration_ms(rng: random.Random, params: SyncParams) -> int:
    return max(1, round(rng.lognormvariate(math.log(params.duration_median_ms), params.duration_sigma)))


def _successful_sync(
    i: int, rng: random.Random, params: SyncParams, state: _State, force_open: bool
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int]:
    """Advance open incidents and maybe open one; returns (observed, opened, resolved, auto)."""
    observed: list[int] = []
    resolved: list[SimIncident] = []
    still_open: list[_Open] = []
    for inc in state.open:
        if _resolves(inc, rng, params):
            resolved.append(_close(inc, i, RESOLUTION_BY_KIND[inc.kind]))
        else:
            inc.last, inc.occurrences = i, inc.occurrences + 1
            still_open.append(inc)
            observed.append(inc.id)
    opened: list[int] = []
    if rng.random() < params.p_open or force_open:
        new = _Open(state.next_id, _draw_kind(rng, params), i, i)
        state.next_id += 1
        still_open.append(new)
        observed.append(new.id)
        opened.append(new.id)
    state.open = still_open
    state.closed.extend(resolved)
    auto = sum(r.resolution is not Resolution.MANUAL for r in resolved)
    return tuple(observed), tuple(opened), tuple(r.id for r in resolved), auto


def simulate_syncs(
    n_syncs: int,
    rng: random.Random,
    params: SyncParams,
    *,
    force_failed_in_tail: bool = False,
    scripted_tail: bool = True,
) -> SyncSimulation:
    """Simulate `n_syncs` consecutive syncs of one account.

    With `scripted_tail`, the last `params.tail_syncs` syncs are guaranteed to contain a divergent
    sync (one is forced at index n−2 if none happened earlier in the tail), so every account's
    "last 5 events" panel shows something; `force_failed_in_tail` also makes sync n−tail+1 fail.
    """
    if n_syncs < 0:
        raise ValueError(f"n_syncs must be >= 0, got {n_syncs}")
    tail_start = n_syncs - params.tail_syncs
    forced_fail = tail_start + 1 if (scripted_tail and force_failed_in_tail) else -1
    forced_div = n_syncs - 2 if scripted_tail else -1
    state, syncs = _State(), []
    for i in range(n_syncs):
        failed = rng.random() < params.p_fail
        failed = (failed or i == forced_fail) and i != forced_div
        duration = _duration_ms(rng, params)
        if failed:
            syncs.append(SimSync(i, True, duration, (), (), (), 0))
            continue
        force_open = i == forced_div and not state.tail_divergent
        observed, opened, resolved, auto = _successful_sync(i, rng, params, state, force_open)
        if observed and i >= tail_start:
            state.tail_divergent = True
        syncs.append(SimSync(i, False, duration, observed, opened, resolved, auto))
    return SyncSimulation(tuple(syncs), _all_incidents(state))


def _all_incidents(state: _State) -> tuple[SimIncident, ...]:
    still_open = [
        SimIncident(
            o.id, o.kind, SEVERITY_BY_KIND[o.kind], o.first, o.last, o.occurrences, None, Resolution.OPEN
        )
        for o in state.open
    ]
    return tuple(sorted([*state.closed, *still_open], key=lambda inc: inc.id))
