"""Cached reads of an account's limits, the room under them and its HWM resets (a part of
`CachedQueries`, kept in its own module).

The limits read shows the gauges' projection (the room is measured at the latest snapshot), so it
lives in the `guards` family: every equity snapshot and every limit change invalidate it. The HWM
resets are markers on the equity chart and live in its family, `equity`, which a reset touches.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

from dashboard.cache.base_queries import Cached, QueriesBase
from dashboard.schemas.limits import HwmResetList, LimitsView
from dashboard.services.queries import limits
from dashboard.services.touched import Family
from dashboard.services.viewer import Viewer


class LimitQueries(QueriesBase):
    """Mixed into `dashboard.cache.queries.CachedQueries`."""

    async def account_limits(self, viewer: Viewer, account_id: int) -> Cached[LimitsView]:
        return await self._get(
            Family.GUARDS,
            viewer,
            LimitsView,
            lambda: limits.account_limits(self.db, viewer, account_id),
            account_id=account_id,
        )

    async def hwm_resets(
        self,
        viewer: Viewer,
        account_id: int,
        *,
        window: timedelta | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> Cached[HwmResetList]:
        """`window`: the last N, resolved when loaded (polls of "the last 24 h" share a key);
        otherwise `since`/`until` as given (either open)."""

        def load() -> Awaitable[HwmResetList]:
            start = datetime.now(UTC) - window if window is not None and since is None else since
            return limits.hwm_resets(self.db, viewer, account_id, since=start, until=until, limit=limit)

        return await self._get(
            Family.EQUITY,
            viewer,
            HwmResetList,
            load,
            account_id=account_id,
            window=window if since is None else None,
            since=since,
            until=until,
            limit=limit,
        )
