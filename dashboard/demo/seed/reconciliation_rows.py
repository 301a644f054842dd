"""The rows an account's simulated syncs become: one reconciliation log per sync, one incident each.

Counts in each log agree with the positions held at that sync, and incidents point at the logs that
first and last saw them, so the reconciliation panels read as if a real bridge had been syncing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.demo.seed.account_history import LOCAL_ONLY, AccountHistory, IncidentTarget
from dashboard.demo.seed.positions import SeedPosition
from dashboard.demo.sync_outcomes import FAILED_SYNC_ERRORS, RESOLUTION_BY_KIND
from dashboard.domain.enums import DivergenceKind

__all__ = ["incident_rows", "log_rows"]


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
