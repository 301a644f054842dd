"""Read model (a): reconciliation status, the divergence timeline and open incidents.

The headline numbers come from counters in `account_risk_state`, which ingestion maintains with
every sync, so the status read costs O(accounts) however many millions of sync logs exist; only the
last five events are read from `reconciliation_logs` (docs/domain.md §3.9 and §4.2).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from dashboard.db.functions import epoch_bucket
from dashboard.db.models import AccountRiskState, DivergenceIncident, Position, ReconciliationLog, User
from dashboard.db.session import Database
from dashboard.domain.enums import DivergenceKind, Health, Resolution, Severity, SyncEventType, SyncStatus
from dashboard.domain.rollups import EPOCH
from dashboard.schemas.reconciliation import (
    DivergenceCount,
    DivergenceCounts,
    DivergenceIncidentView,
    DivergenceTimeline,
    IncidentListItem,
    IncidentPage,
    OpenIncidents,
    ReconciliationStatus,
    SyncEvent,
    SyncEventPage,
)
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.queries import (
    check_limit,
    ensure_account_visible,
    model_columns,
    parse_enum,
    require_aware,
    resolve_now,
    scoped,
)
from dashboard.services.queries.cursor import decode_cursor, next_cursor, older_than
from dashboard.services.viewer import Viewer

RECENT_EVENTS = 5
DEFAULT_STALE_AFTER = timedelta(seconds=120)
MAX_TIMELINE_LIMIT = 50_000
#: Largest page of a detail list (incident history, sync events).
MAX_PAGE = 500

_EVENT_COLUMNS = model_columns(SyncEvent, [ReconciliationLog])
_INCIDENT_COLUMNS = model_columns(DivergenceIncidentView, [DivergenceIncident])
#: The lists people work from name the assignee: one outer join, never a query per row.
_ASSIGNEE = aliased(User, name="assignee_user")
_LISTED_COLUMNS = model_columns(
    IncidentListItem, [DivergenceIncident], overrides={"assignee": _ASSIGNEE.email}
)


def _listed(stmt: Select[Any]) -> Select[Any]:
    """`stmt` (selecting `_LISTED_COLUMNS`) joined to the assignee."""
    return stmt.outerjoin(_ASSIGNEE, _ASSIGNEE.id == DivergenceIncident.assignee_user_id)


def _total(column: Any) -> Any:
    """`coalesce(sum(column), 0)`: an empty scope sums to NULL in SQL, the dashboard wants 0."""
    return func.coalesce(func.sum(column), 0)


def health_of(
    *,
    has_synced: bool,
    last_sync_at: datetime | None,
    latest_status: SyncStatus | None,
    open_incidents: int,
    open_critical_incidents: int,
    now: datetime,
    stale_after: timedelta,
) -> Health:
    """The health rule, first match wins (see `reconciliation_status`)."""
    if not has_synced or last_sync_at is None:
        return Health.UNKNOWN
    if now - last_sync_at > stale_after:
        return Health.STALE
    if open_critical_incidents > 0:
        return Health.CRITICAL
    if open_incidents > 0 or latest_status == SyncStatus.FAILED:
        return Health.DEGRADED
    return Health.HEALTHY


async def reconciliation_status(
    db: Database,
    viewer: Viewer,
    now: datetime | None = None,
    *,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> ReconciliationStatus:
    """Sync counters, open incidents and the last five sync events of the visible accounts.

    Two queries: (1) sum/max over `account_risk_state` (one row per account, counters kept by
    ingestion), (2) the last five `reconciliation_logs` by `(created_at DESC, id DESC)` on the
    `(user_id, created_at)` index, or `(created_at)` for risk/admin. "Divergences detected" is the
    number of incidents (`incidents_total`), never the per-sync sum, which counts a divergence once
    per sync it persists (docs/domain.md §3.9). `user_id` is None for the all-accounts view.

    `last_sync_status` is the status of the newest event (query 2), exact even when several
    accounts sync at once; `last_sync_at` is the newer of the counters' max and that event.

    Health, first match wins:
      UNKNOWN   no sync at all (no counter, no event);
      STALE     the newest sync is older than `stale_after` (default 120 s): the numbers below
                cannot be trusted, so staleness outranks everything else;
      CRITICAL  at least one open critical incident;
      DEGRADED  open incidents, or the latest sync failed;
      HEALTHY   otherwise.
    """
    as_of = resolve_now(now)
    totals_stmt = scoped(
        select(
            _total(AccountRiskState.total_syncs).label("total_syncs"),
            _total(AccountRiskState.failed_syncs).label("failed_syncs"),
            _total(AccountRiskState.incidents_total).label("incidents_total"),
            _total(AccountRiskState.open_incidents).label("open_incidents"),
            _total(AccountRiskState.open_critical_incidents).label("open_critical_incidents"),
            _total(AccountRiskState.open_positions).label("open_positions"),
            func.max(AccountRiskState.last_sync_at).label("last_sync_at"),
        ),
        AccountRiskState.user_id,
        viewer,
    )
    events_stmt = scoped(
        select(*_EVENT_COLUMNS)
        .order_by(ReconciliationLog.created_at.desc(), ReconciliationLog.id.desc())
        .limit(RECENT_EVENTS),
        ReconciliationLog.user_id,
        viewer,
    )
    async with db.read_session() as session:
        totals = (await session.execute(totals_stmt)).one()
        event_rows = (await session.execute(events_stmt)).all()

    events = [SyncEvent.model_validate(row) for row in event_rows]
    # PostgreSQL's sum(bigint) is NUMERIC (a Decimal): normalise every counter to int.
    total_syncs = int(totals.total_syncs)
    open_incidents = int(totals.open_incidents)
    open_critical = int(totals.open_critical_incidents)
    candidates = [t for t in (totals.last_sync_at, events[0].created_at if events else None) if t]
    last_sync_at = max(candidates) if candidates else None
    latest_status = events[0].status if events else None
    health = health_of(
        has_synced=total_syncs > 0 or bool(events),
        last_sync_at=last_sync_at,
        latest_status=latest_status,
        open_incidents=open_incidents,
        open_critical_incidents=open_critical,
        now=as_of,
        stale_after=stale_after,
    )
    return ReconciliationStatus(
        user_id=viewer.owner_filter,
        total_syncs=total_syncs,
        failed_syncs=int(totals.failed_syncs),
        open_positions_count=int(totals.open_positions),
        divergences_detected=int(totals.incidents_total),
        open_incidents=open_incidents,
        open_critical_incidents=open_critical,
        last_sync_at=last_sync_at,
        last_sync_status=latest_status,
        health=health,
        recent_events=events,
        as_of=as_of,
    )


async def divergence_timeline(
    db: Database,
    viewer: Viewer,
    since: datetime,
    until: datetime,
    account_id: int | None = None,
    limit: int = 5000,
    now: datetime | None = None,
) -> DivergenceTimeline:
    """Incidents first seen in the half-open window `[since, until)`, oldest first.

    Half-open so that consecutive windows never count an incident twice. At most `limit` rows;
    one extra row is fetched to set `truncated` without a count query. Uses the
    `(user_id, first_seen_at)` index (or `(first_seen_at)` for risk/admin). An `account_id` the
    viewer cannot see raises `NotFound` (one extra primary-key probe).
    """
    as_of = resolve_now(now)
    since = require_aware(since, "since")
    until = require_aware(until, "until")
    if since >= until:
        raise InvalidInput("since must be earlier than until", field="since")
    check_limit(limit, "limit", MAX_TIMELINE_LIMIT)

    stmt = scoped(
        select(*_INCIDENT_COLUMNS).where(
            DivergenceIncident.first_seen_at >= since, DivergenceIncident.first_seen_at < until
        ),
        DivergenceIncident.user_id,
        viewer,
    )
    if account_id is not None:
        stmt = stmt.where(DivergenceIncident.account_id == account_id)
    stmt = stmt.order_by(DivergenceIncident.first_seen_at.asc(), DivergenceIncident.id.asc()).limit(limit + 1)

    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    return DivergenceTimeline(
        since=since,
        until=until,
        account_id=account_id,
        incidents=[DivergenceIncidentView.model_validate(row) for row in rows[:limit]],
        truncated=len(rows) > limit,
        as_of=as_of,
    )


#: Bucket sizes a count timeline picks from: the smallest that gives at most MAX_BUCKETS.
BUCKET_SIZES_S = (60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_BUCKETS = 120


def bucket_size_s(since: datetime, until: datetime) -> int:
    span = (until - since).total_seconds()
    return next((size for size in BUCKET_SIZES_S if span / size <= MAX_BUCKETS), BUCKET_SIZES_S[-1])


async def divergence_counts(
    db: Database,
    viewer: Viewer,
    since: datetime,
    until: datetime,
    account_id: int | None = None,
    now: datetime | None = None,
) -> DivergenceCounts:
    """Incidents first seen in `[since, until)`, counted in the database by time bucket (at most
    120, aligned to the epoch), kind and severity. The same visibility and window as
    `divergence_timeline`, whose incidents are behind each count."""
    as_of = resolve_now(now)
    since = require_aware(since, "since")
    until = require_aware(until, "until")
    if since >= until:
        raise InvalidInput("since must be earlier than until", field="since")
    size = bucket_size_s(since, until)
    bucket = epoch_bucket(DivergenceIncident.first_seen_at, size).label("bucket")
    counted = cast(
        Select[Any],
        select(bucket, DivergenceIncident.kind, DivergenceIncident.severity, func.count().label("n")).where(
            DivergenceIncident.first_seen_at >= since, DivergenceIncident.first_seen_at < until
        ),
    )
    stmt = scoped(counted, DivergenceIncident.user_id, viewer)
    if account_id is not None:
        stmt = stmt.where(DivergenceIncident.account_id == account_id)
    stmt = stmt.group_by(bucket, DivergenceIncident.kind, DivergenceIncident.severity).order_by(bucket)
    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    counts = [
        DivergenceCount.model_construct(
            at=EPOCH + timedelta(seconds=row.bucket * size), kind=row.kind, severity=row.severity, count=row.n
        )
        for row in rows
    ]
    return DivergenceCounts.model_construct(
        since=since,
        until=until,
        account_id=account_id,
        bucket_s=size,
        counts=counts,
        total=sum(c.count for c in counts),
        as_of=as_of,
    )


async def open_incidents(
    db: Database, viewer: Viewer, account_id: int | None = None, now: datetime | None = None
) -> OpenIncidents:
    """Unresolved incidents (`resolution = 'open'`), newest first (`first_seen_at DESC, id DESC`).

    Not paginated: open incidents are bounded by the open positions and are auto-resolved by the
    next syncs. An `account_id` the viewer cannot see raises `NotFound`.
    """
    as_of = resolve_now(now)
    stmt = scoped(
        _listed(select(*_LISTED_COLUMNS)).where(DivergenceIncident.resolution == Resolution.OPEN),
        DivergenceIncident.user_id,
        viewer,
    )
    if account_id is not None:
        stmt = stmt.where(DivergenceIncident.account_id == account_id)
    stmt = stmt.order_by(DivergenceIncident.first_seen_at.desc(), DivergenceIncident.id.desc())

    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    return OpenIncidents(incidents=[IncidentListItem.model_validate(row) for row in rows], as_of=as_of)


async def position_incidents(
    db: Database, viewer: Viewer, position_id: int, now: datetime | None = None
) -> OpenIncidents:
    """Every incident (any resolution) of one position, newest first: its reconciliation history.

    One query: the visible position is the anchor and its incidents are LEFT OUTER JOINed, so "no
    row" means the position is missing or not visible (`NotFound`) while one row with NULL incident
    columns means a visible position with a clean history.
    """
    as_of = resolve_now(now)
    stmt = scoped(
        select(Position.id.label("anchor_id"), *_LISTED_COLUMNS)
        .select_from(Position)
        .outerjoin(DivergenceIncident, DivergenceIncident.position_id == Position.id)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == DivergenceIncident.assignee_user_id)
        .where(Position.id == position_id),
        Position.user_id,
        viewer,
    ).order_by(DivergenceIncident.first_seen_at.desc(), DivergenceIncident.id.desc())

    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    if not rows:
        raise NotFound(f"position {position_id} not found")
    incidents = [IncidentListItem.model_validate(row) for row in rows if row.id is not None]
    return OpenIncidents(incidents=incidents, as_of=as_of)


async def incident_history(
    db: Database,
    viewer: Viewer,
    account_id: int | None = None,
    resolution: Resolution | str | None = None,
    kind: DivergenceKind | str | None = None,
    severity: Severity | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> IncidentPage:
    """Every incident, whatever its resolution, newest first (`first_seen_at DESC, id DESC`),
    keyset-paginated (see `queries.cursor`): incidents are kept for the life of the account, so
    this is the one list of them that must never be read whole. Uses `(user_id, first_seen_at)`,
    or `(first_seen_at)` / `(resolution, first_seen_at)` for risk/admin. An `account_id` the
    viewer cannot see raises `NotFound`.
    """
    as_of = resolve_now(now)
    check_limit(limit, "limit", MAX_PAGE)
    filters = {
        DivergenceIncident.resolution: parse_enum(Resolution, resolution, "resolution"),
        DivergenceIncident.kind: parse_enum(DivergenceKind, kind, "kind"),
        DivergenceIncident.severity: parse_enum(Severity, severity, "severity"),
        DivergenceIncident.account_id: account_id,
    }
    after = decode_cursor(cursor)
    stmt = scoped(_listed(select(*_LISTED_COLUMNS)), DivergenceIncident.user_id, viewer)
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if after is not None:
        stmt = stmt.where(older_than(DivergenceIncident.first_seen_at, DivergenceIncident.id, after))
    newest_first = (DivergenceIncident.first_seen_at.desc(), DivergenceIncident.id.desc())
    stmt = stmt.order_by(*newest_first).limit(limit + 1)

    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    return IncidentPage(
        incidents=[IncidentListItem.model_validate(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, "first_seen_at"),
        as_of=as_of,
    )


async def sync_events(
    db: Database,
    viewer: Viewer,
    account_id: int | None = None,
    status: SyncStatus | str | None = None,
    event_type: SyncEventType | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> SyncEventPage:
    """Sync events newest first (`created_at DESC, id DESC`), keyset-paginated (see
    `queries.cursor`), on `(user_id, created_at)`, `(account_id, created_at)` or `(created_at)`.
    Raw events are kept `sync_log_retention_days`; older hours survive only as the hourly counts.
    An `account_id` the viewer cannot see raises `NotFound`.
    """
    as_of = resolve_now(now)
    check_limit(limit, "limit", MAX_PAGE)
    filters = {
        ReconciliationLog.status: parse_enum(SyncStatus, status, "status"),
        ReconciliationLog.event_type: parse_enum(SyncEventType, event_type, "event_type"),
        ReconciliationLog.account_id: account_id,
    }
    after = decode_cursor(cursor)
    stmt = scoped(select(*_EVENT_COLUMNS), ReconciliationLog.user_id, viewer)
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if after is not None:
        stmt = stmt.where(older_than(ReconciliationLog.created_at, ReconciliationLog.id, after))
    stmt = stmt.order_by(ReconciliationLog.created_at.desc(), ReconciliationLog.id.desc()).limit(limit + 1)

    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    return SyncEventPage(
        events=[SyncEvent.model_validate(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, "created_at"),
        as_of=as_of,
    )
