"""Reads of incidents as work items: one incident with its comments, the age and time-to-resolve
stats, and the people an incident can be assigned to.

Same rules as every read (`dashboard.services.queries`): ownership is in the SQL, so a trader asking
for someone else's incident gets `NotFound` exactly as for one that does not exist; a fixed number
of statements whatever the number of rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from dashboard.db.models import DivergenceIncident, IncidentComment, User
from dashboard.db.session import Database
from dashboard.domain.enums import Resolution
from dashboard.domain.incident_stats import GroupStats, IncidentTiming, Spread
from dashboard.domain.incident_stats import incident_stats as compute_stats
from dashboard.schemas.incident_work import (
    MAX_STATS_DAYS,
    AccountStats,
    AssignableUser,
    AssignableUsers,
    DurationStats,
    GroupStatsView,
    IncidentCommentView,
    IncidentDetail,
    IncidentStats,
    KindStats,
)
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.queries import model_columns, resolve_now, scoped
from dashboard.services.viewer import SEES_ALL_ROLES, Viewer

_ASSIGNEE = aliased(User, name="assignee_user")
_ACKNOWLEDGER = aliased(User, name="acknowledger_user")
_RESOLVER = aliased(User, name="resolver_user")
_DETAIL_COLUMNS = model_columns(
    IncidentDetail,
    [DivergenceIncident],
    overrides={
        "assignee": _ASSIGNEE.email,
        "acknowledger": _ACKNOWLEDGER.email,
        "resolver": _RESOLVER.email,
    },
    skip=("comments", "as_of"),
)
_COMMENT_COLUMNS = model_columns(IncidentCommentView, [IncidentComment], overrides={"author": User.email})


async def incident_detail(
    db: Database, viewer: Viewer, incident_id: int, now: datetime | None = None
) -> IncidentDetail:
    """The incident (with the e-mails of its assignee, acknowledger and resolver) and its comments,
    oldest first. Two statements: the incident joined to the three people, then its comments joined
    to their authors (on the `(incident_id, created_at)` index). Someone else's incident is
    `NotFound` for a trader."""
    as_of = resolve_now(now)
    stmt = scoped(
        select(*_DETAIL_COLUMNS)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == DivergenceIncident.assignee_user_id)
        .outerjoin(_ACKNOWLEDGER, _ACKNOWLEDGER.id == DivergenceIncident.acknowledged_by)
        .outerjoin(_RESOLVER, _RESOLVER.id == DivergenceIncident.resolved_by)
        .where(DivergenceIncident.id == incident_id),
        DivergenceIncident.user_id,
        viewer,
    )
    comments = (
        select(*_COMMENT_COLUMNS)
        .join(User, User.id == IncidentComment.author_user_id)
        .where(IncidentComment.incident_id == incident_id)
        .order_by(IncidentComment.created_at.asc(), IncidentComment.id.asc())
    )
    async with db.read_session() as session:
        row = (await session.execute(stmt)).one_or_none()
        if row is None:
            raise NotFound(f"incident {incident_id} not found")
        comment_rows = (await session.execute(comments)).all()
    return IncidentDetail.model_validate(
        {
            **row._mapping,
            "comments": [IncidentCommentView.model_validate(c) for c in comment_rows],
            "as_of": as_of,
        }
    )


def _spread(spread: Spread) -> DurationStats:
    return DurationStats(count=spread.count, median_s=spread.median_s, p90_s=spread.p90_s)


def _group(stats: GroupStats) -> dict[str, DurationStats]:
    return {"open": _spread(stats.open), "resolved": _spread(stats.resolved)}


def _end_of_minute(moment: datetime) -> datetime:
    """Ages are measured at the end of the current minute: every age then moves at once, once a
    minute (shown in minutes, they would otherwise each turn over at their own second and the
    card would be redrawn on almost every tick), and nothing opened by now is left out."""
    start = moment.replace(second=0, microsecond=0)
    return start if start == moment else start + timedelta(minutes=1)


async def incident_stats(
    db: Database, viewer: Viewer, days: int = 7, now: datetime | None = None
) -> IncidentStats:
    """Ages of the visible open incidents and time to resolve of those resolved in the last `days`
    days (1..90), overall, per kind and per account, computed by `domain.incident_stats`.

    One statement over the open incidents and those resolved since the window's start (on the
    `(account_id, resolution)` and `(resolution, first_seen_at)` indexes: the open ones are few,
    and the resolved ones of a week are bounded by the week's incidents).
    """
    as_of = resolve_now(now)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_STATS_DAYS:
        raise InvalidInput(f"days must be an integer between 1 and {MAX_STATS_DAYS}", field="days")
    since = as_of - timedelta(days=days)
    opened_at = func.coalesce(DivergenceIncident.reopened_at, DivergenceIncident.first_seen_at)
    timed = cast(
        Select[Any],
        select(
            DivergenceIncident.kind,
            DivergenceIncident.account_id,
            DivergenceIncident.first_seen_at,
            DivergenceIncident.reopened_at,
            DivergenceIncident.resolution,
            DivergenceIncident.resolved_at,
        ).where(
            or_(
                DivergenceIncident.resolution == Resolution.OPEN,
                DivergenceIncident.resolved_at >= since,
            ),
            opened_at <= as_of,
        ),
    )
    stmt = scoped(timed, DivergenceIncident.user_id, viewer)
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    timings = [
        IncidentTiming(
            kind=row.kind,
            account_id=row.account_id,
            opened_at=row.reopened_at or row.first_seen_at,
            resolved_at=None if row.resolution == Resolution.OPEN else row.resolved_at,
        )
        for row in rows
    ]
    result = compute_stats(timings, _end_of_minute(as_of), since)
    return IncidentStats(
        days=days,
        since=since,
        overall=GroupStatsView(**_group(result.overall)),
        by_kind=[KindStats(kind=kind, **_group(stats)) for kind, stats in sorted(result.by_kind.items())],
        by_account=[
            AccountStats(account_id=account_id, **_group(stats))
            for account_id, stats in sorted(result.by_account.items())
        ],
        as_of=as_of,
    )


async def assignable_users(db: Database, viewer: Viewer, now: datetime | None = None) -> AssignableUsers:
    """Active risk and admin users, by e-mail: who an incident can be assigned to. For risk and
    admin only (`Forbidden` for a trader, who assigns nothing and has no business listing staff)."""
    as_of = resolve_now(now)
    if not viewer.sees_all:
        raise Forbidden("assigning incidents is for risk and admin users")
    stmt = (
        select(User.id.label("user_id"), User.email, User.display_name, User.role)
        .where(User.role.in_(sorted(SEES_ALL_ROLES)), User.is_active.is_(True))
        .order_by(User.email)
    )
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    return AssignableUsers(users=[AssignableUser.model_validate(row) for row in rows], as_of=as_of)
