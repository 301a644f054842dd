"""The cached query services: what the REST API and the pages call instead of the database.

Each method names its key family (`Family`), builds its key from the viewer's scope and its
parameters, and loads through the matching query service on a miss. The write services name the
same `Family` members in what they return (`Touched`), which is how a write knows what to
invalidate.

Relative windows (`window=timedelta(hours=24)`) are part of the key and resolved against the
current time when loaded, so pollers asking for "the last 24 h" share one key; explicit
`since`/`until` bounds are keyed as given.

The `*_at` reads are "the dashboard as it was" (`services.queries.as_of`): keyed by the viewer's
scope, the moment `at` in UTC truncated to the second (the URL's precision; the read is given the
same truncated moment, so a key never answers for a different one) and the other parameters.
They share the families of their live twins, so every write that could change the live view
(including a late or corrected row about the past) drops them too, and they live as long as the
family's TTL: the retention horizon they depend on moves with the clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from dashboard.cache.base_queries import Cached
from dashboard.cache.cache import QueryCache
from dashboard.cache.incident_queries import IncidentWorkQueries
from dashboard.cache.limit_queries import LimitQueries
from dashboard.cache.objective_queries import ObjectiveQueries
from dashboard.cache.people_queries import PeopleQueries
from dashboard.db.session import Database
from dashboard.domain.enums import (
    AlertKind,
    DivergenceKind,
    GuardType,
    Level,
    Resolution,
    Severity,
    Side,
    SyncEventType,
    SyncStatus,
)
from dashboard.schemas.accounts import AccountList, AccountView
from dashboard.schemas.alerts import AlertList
from dashboard.schemas.as_of import PositionListAsOf
from dashboard.schemas.audit import AuditPage
from dashboard.schemas.common import EARLIEST
from dashboard.schemas.guards import AccountGuardList, EquityCurve, GuardEventList, MarketGuardList
from dashboard.schemas.positions import ClosedPositionPage, PositionList, PositionView
from dashboard.schemas.reconciliation import (
    DivergenceCounts,
    DivergenceTimeline,
    IncidentPage,
    OpenIncidents,
    ReconciliationStatus,
    SyncEventPage,
)
from dashboard.services.queries import accounts, alerts, as_of, audit, guards, positions, reconciliation
from dashboard.services.queries.as_of import DEFAULT_LOGS_KEPT
from dashboard.services.queries.guards import DEFAULT_RAW_KEPT
from dashboard.services.touched import Family
from dashboard.services.viewer import Viewer

#: Market data is the same for every viewer: one key for everybody.
GLOBAL_SCOPE = "global"


def _window(
    window: timedelta | None, since: datetime | None, until: datetime | None, default: timedelta
) -> tuple[dict[str, object], Callable[[], tuple[datetime, datetime]]]:
    """Key parameters and a bounds resolver. Missing bounds are resolved at load time (an open
    `until` means "now"), so the key holds only what the caller gave and repeated polls share it."""
    span = window or default
    params: dict[str, object] = {"since": since, "until": until}
    if since is None:
        params["window"] = span

    def resolve() -> tuple[datetime, datetime]:
        end = until or datetime.now(UTC)
        return (since or end - span), end

    return params, resolve


def past_moment(at: datetime) -> datetime:
    """`at` as the as-of reads key and load it: aware, in UTC, truncated to the second, and not
    in the future (`InvalidInput` naming `at` otherwise, before any key is built or load made)."""
    moment, _ = as_of.resolve_at(at)
    return moment.replace(microsecond=0)


class CachedQueries(IncidentWorkQueries, LimitQueries, ObjectiveQueries, PeopleQueries):
    def __init__(
        self,
        db: Database,
        cache: QueryCache,
        *,
        raw_equity_kept: timedelta = DEFAULT_RAW_KEPT,
        sync_logs_kept: timedelta = DEFAULT_LOGS_KEPT,
    ) -> None:
        self.db = db
        self.cache = cache
        # Minute snapshots older than this are gone (retention): curves reaching back read rollups.
        self.raw_equity_kept = raw_equity_kept
        # Raw sync logs older than this are gone: the as-of reads count them from hourly rollups.
        self.sync_logs_kept = sync_logs_kept

    # audit

    async def audit_trail(
        self,
        viewer: Viewer,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        account_id: int | None = None,
        window: timedelta | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Cached[AuditPage]:
        """`window`: the last N (resolved when loaded, so polls of "the last 24 h" share a key)."""

        def load() -> Awaitable[AuditPage]:
            since = datetime.now(UTC) - window if window is not None else None
            return audit.audit_trail(
                self.db,
                viewer,
                actor=actor,
                action=action,
                target=target,
                account_id=account_id,
                since=since,
                limit=limit,
                cursor=cursor,
            )

        return await self._get(
            Family.AUDIT,
            viewer,
            AuditPage,
            load,
            actor=actor,
            action=action,
            target=target,
            account_id=account_id,
            window=window,
            limit=limit,
            cursor=cursor,
        )

    # alerts

    async def alerts(
        self,
        viewer: Viewer,
        *,
        open_only: bool = False,
        kind: AlertKind | str | None = None,
        level: Level | str | None = None,
        account_id: int | None = None,
        limit: int = 200,
    ) -> Cached[AlertList]:
        return await self._get(
            Family.ALERTS,
            viewer,
            AlertList,
            lambda: alerts.recent_alerts(
                self.db,
                viewer,
                open_only=open_only,
                kind=kind,
                level=level,
                account_id=account_id,
                limit=limit,
            ),
            open_only=open_only,
            kind=kind,
            level=level,
            account_id=account_id,
            limit=limit,
        )

    # reconciliation

    async def reconciliation_status(self, viewer: Viewer) -> Cached[ReconciliationStatus]:
        return await self._get(
            Family.RECONCILIATION,
            viewer,
            ReconciliationStatus,
            lambda: reconciliation.reconciliation_status(self.db, viewer),
        )

    async def divergence_timeline(
        self,
        viewer: Viewer,
        *,
        window: timedelta | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        account_id: int | None = None,
        limit: int = 5000,
    ) -> Cached[DivergenceTimeline]:
        params, bounds = _window(window, since, until, timedelta(hours=24))

        async def load() -> DivergenceTimeline:
            start, end = bounds()
            return await reconciliation.divergence_timeline(
                self.db, viewer, start, end, account_id=account_id, limit=limit
            )

        return await self._get(
            Family.TIMELINE, viewer, DivergenceTimeline, load, account_id=account_id, limit=limit, **params
        )

    async def divergence_counts(
        self,
        viewer: Viewer,
        *,
        window: timedelta | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        account_id: int | None = None,
    ) -> Cached[DivergenceCounts]:
        params, bounds = _window(window, since, until, timedelta(hours=24))

        async def load() -> DivergenceCounts:
            start, end = bounds()
            return await reconciliation.divergence_counts(self.db, viewer, start, end, account_id=account_id)

        return await self._get(
            Family.TIMELINE, viewer, DivergenceCounts, load, account_id=account_id, q="counts", **params
        )

    async def open_incidents(self, viewer: Viewer, account_id: int | None = None) -> Cached[OpenIncidents]:
        return await self._get(
            Family.INCIDENTS,
            viewer,
            OpenIncidents,
            lambda: reconciliation.open_incidents(self.db, viewer, account_id=account_id),
            account_id=account_id,
        )

    async def incident_history(
        self,
        viewer: Viewer,
        *,
        account_id: int | None = None,
        resolution: Resolution | str | None = None,
        kind: DivergenceKind | str | None = None,
        severity: Severity | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Cached[IncidentPage]:
        return await self._get(
            Family.INCIDENTS,
            viewer,
            IncidentPage,
            lambda: reconciliation.incident_history(
                self.db,
                viewer,
                account_id=account_id,
                resolution=resolution,
                kind=kind,
                severity=severity,
                limit=limit,
                cursor=cursor,
            ),
            q="history",
            account_id=account_id,
            resolution=resolution,
            kind=kind,
            severity=severity,
            limit=limit,
            cursor=cursor,
        )

    async def sync_events(
        self,
        viewer: Viewer,
        *,
        account_id: int | None = None,
        status: SyncStatus | str | None = None,
        event_type: SyncEventType | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Cached[SyncEventPage]:
        return await self._get(
            Family.RECONCILIATION,
            viewer,
            SyncEventPage,
            lambda: reconciliation.sync_events(
                self.db,
                viewer,
                account_id=account_id,
                status=status,
                event_type=event_type,
                limit=limit,
                cursor=cursor,
            ),
            q="events",
            account_id=account_id,
            status=status,
            event_type=event_type,
            limit=limit,
            cursor=cursor,
        )

    async def position_incidents(self, viewer: Viewer, position_id: int) -> Cached[OpenIncidents]:
        return await self._get(
            Family.INCIDENTS,
            viewer,
            OpenIncidents,
            lambda: reconciliation.position_incidents(self.db, viewer, position_id),
            position_id=position_id,
        )

    # positions

    async def open_positions(
        self,
        viewer: Viewer,
        *,
        symbol: str | None = None,
        account_id: int | None = None,
        side: Side | str | None = None,
        sort: str = "opened_at",
        descending: bool = True,
    ) -> Cached[PositionList]:
        return await self._get(
            Family.POSITIONS,
            viewer,
            PositionList,
            lambda: positions.open_positions(
                self.db,
                viewer,
                symbol=symbol,
                account_id=account_id,
                side=side,
                sort=sort,
                descending=descending,
            ),
            q="open",
            symbol=symbol,
            account_id=account_id,
            side=side,
            sort=sort,
            descending=descending,
        )

    async def position_by_id(self, viewer: Viewer, position_id: int) -> Cached[PositionView]:
        return await self._get(
            Family.POSITIONS,
            viewer,
            PositionView,
            lambda: positions.position_by_id(self.db, viewer, position_id),
            q="one",
            id=position_id,
        )

    async def closed_positions(
        self, viewer: Viewer, *, account_id: int | None = None, limit: int = 50, cursor: str | None = None
    ) -> Cached[ClosedPositionPage]:
        return await self._get(
            Family.POSITIONS,
            viewer,
            ClosedPositionPage,
            lambda: positions.closed_positions(
                self.db, viewer, account_id=account_id, limit=limit, cursor=cursor
            ),
            q="closed",
            account_id=account_id,
            limit=limit,
            cursor=cursor,
        )

    # guards

    async def account_guards(self, viewer: Viewer, account_id: int | None = None) -> Cached[AccountGuardList]:
        return await self._get(
            Family.GUARDS,
            viewer,
            AccountGuardList,
            lambda: guards.account_guards(self.db, viewer, account_id=account_id),
            account_id=account_id,
        )

    async def risk_wall(self, viewer: Viewer, level: Level | str | None = None) -> Cached[AccountGuardList]:
        return await self._get(
            Family.RISK_WALL,
            viewer,
            AccountGuardList,
            lambda: guards.risk_wall(self.db, viewer, level=level),
            level=level,
        )

    async def guard_events(
        self,
        viewer: Viewer,
        *,
        account_id: int | None = None,
        guard_type: GuardType | str | None = None,
        limit: int = 50,
        since: datetime | None = None,
        cursor: str | None = None,
    ) -> Cached[GuardEventList]:
        return await self._get(
            Family.GUARD_EVENTS,
            viewer,
            GuardEventList,
            lambda: guards.guard_events(
                self.db,
                viewer,
                account_id=account_id,
                guard_type=guard_type,
                limit=limit,
                since=since,
                cursor=cursor,
            ),
            account_id=account_id,
            guard_type=guard_type,
            limit=limit,
            since=since,
            cursor=cursor,
        )

    async def equity_curve(
        self,
        viewer: Viewer,
        account_id: int,
        *,
        window: timedelta | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        max_points: int = 2000,
    ) -> Cached[EquityCurve]:
        params, bounds = _window(window, since, until, timedelta(hours=24))

        async def load() -> EquityCurve:
            start, end = bounds()
            return await guards.equity_curve(
                self.db, viewer, account_id, start, end, max_points=max_points, raw_kept=self.raw_equity_kept
            )

        return await self._get(
            Family.EQUITY, viewer, EquityCurve, load, account_id=account_id, max_points=max_points, **params
        )

    async def market_guards(self, viewer: Viewer) -> Cached[MarketGuardList]:
        return await self._get(
            Family.MARKET, GLOBAL_SCOPE, MarketGuardList, lambda: guards.market_guards(self.db, viewer)
        )

    # accounts

    async def list_accounts(self, viewer: Viewer) -> Cached[AccountList]:
        return await self._get(
            Family.ACCOUNTS, viewer, AccountList, lambda: accounts.list_accounts(self.db, viewer)
        )

    async def account_by_id(self, viewer: Viewer, account_id: int) -> Cached[AccountView]:
        return await self._get(
            Family.ACCOUNTS,
            viewer,
            AccountView,
            lambda: accounts.account_by_id(self.db, viewer, account_id),
            id=account_id,
        )

    # the dashboard as it was (`services.queries.as_of`)

    async def account_guards_at(
        self, viewer: Viewer, at: datetime, account_id: int | None = None
    ) -> Cached[AccountGuardList]:
        moment = past_moment(at)
        return await self._get(
            Family.GUARDS,
            viewer,
            AccountGuardList,
            lambda: as_of.account_guards_at(
                self.db,
                viewer,
                moment,
                account_id=account_id,
                raw_kept=self.raw_equity_kept,
                logs_kept=self.sync_logs_kept,
            ),
            q="at",
            at=moment,
            account_id=account_id,
        )

    async def risk_wall_at(
        self, viewer: Viewer, at: datetime, level: Level | str | None = None
    ) -> Cached[AccountGuardList]:
        moment = past_moment(at)
        return await self._get(
            Family.RISK_WALL,
            viewer,
            AccountGuardList,
            lambda: as_of.risk_wall_at(
                self.db,
                viewer,
                moment,
                level=level,
                raw_kept=self.raw_equity_kept,
                logs_kept=self.sync_logs_kept,
            ),
            q="at",
            at=moment,
            level=level,
        )

    async def reconciliation_status_at(self, viewer: Viewer, at: datetime) -> Cached[ReconciliationStatus]:
        moment = past_moment(at)
        return await self._get(
            Family.RECONCILIATION,
            viewer,
            ReconciliationStatus,
            lambda: as_of.reconciliation_status_at(self.db, viewer, moment, logs_kept=self.sync_logs_kept),
            q="at",
            at=moment,
        )

    async def open_incidents_at(
        self, viewer: Viewer, at: datetime, account_id: int | None = None
    ) -> Cached[OpenIncidents]:
        moment = past_moment(at)
        return await self._get(
            Family.INCIDENTS,
            viewer,
            OpenIncidents,
            lambda: as_of.open_incidents_at(self.db, viewer, moment, account_id=account_id),
            q="at",
            at=moment,
            account_id=account_id,
        )

    async def open_positions_at(
        self, viewer: Viewer, at: datetime, *, account_id: int | None = None, symbol: str | None = None
    ) -> Cached[PositionListAsOf]:
        moment = past_moment(at)
        return await self._get(
            Family.POSITIONS,
            viewer,
            PositionListAsOf,
            lambda: as_of.open_positions_at(self.db, viewer, moment, account_id=account_id, symbol=symbol),
            q="at",
            at=moment,
            account_id=account_id,
            symbol=symbol,
        )

    async def guard_events_at(
        self,
        viewer: Viewer,
        at: datetime,
        *,
        account_id: int | None = None,
        guard_type: GuardType | str | None = None,
        limit: int = 50,
    ) -> Cached[GuardEventList]:
        moment = past_moment(at)
        return await self._get(
            Family.GUARD_EVENTS,
            viewer,
            GuardEventList,
            lambda: as_of.guard_events_at(
                self.db, viewer, moment, account_id=account_id, guard_type=guard_type, limit=limit
            ),
            q="at",
            at=moment,
            account_id=account_id,
            guard_type=guard_type,
            limit=limit,
        )

    async def equity_curve_at(
        self,
        viewer: Viewer,
        account_id: int,
        at: datetime,
        *,
        window: timedelta = timedelta(hours=24),
        max_points: int = 2000,
    ) -> Cached[EquityCurve]:
        """The curve over `window` ending at `at` (never starting before 1970: the read refuses
        timestamps outside the calendar it accepts)."""
        moment = past_moment(at)
        since = max(moment - window, EARLIEST)
        return await self._get(
            Family.EQUITY,
            viewer,
            EquityCurve,
            lambda: as_of.equity_curve_at(
                self.db,
                viewer,
                account_id,
                since,
                moment,
                max_points=max_points,
                raw_kept=self.raw_equity_kept,
            ),
            q="at",
            at=moment,
            account_id=account_id,
            window=window,
            max_points=max_points,
        )
