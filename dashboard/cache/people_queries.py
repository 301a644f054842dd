"""Cached reads of the admin page: users, service tokens and sessions (a part of `CachedQueries`,
kept in its own module).

Admins only, and checked before the cache is asked: the key's scope is the one every viewer who
sees all accounts shares (risk too), so a check inside the loader alone would let a risk user read
what an admin's read had cached. `Family.PEOPLE` lives by a short TTL: logins (which the sessions
and last-login columns show) are written beside no invalidation of their own; the admin's own
changes invalidate it at once.
"""

from __future__ import annotations

from datetime import timedelta

from dashboard.cache.base_queries import Cached, QueriesBase
from dashboard.schemas.people import ServiceTokenList, UserList, UserSessions
from dashboard.services.queries import people
from dashboard.services.touched import Family
from dashboard.services.users import require_admin
from dashboard.services.viewer import Viewer


class PeopleQueries(QueriesBase):
    """Mixed into `dashboard.cache.queries.CachedQueries`."""

    async def users_overview(self, viewer: Viewer, *, browser_ttl: timedelta) -> Cached[UserList]:
        """`browser_ttl`: a browser session's lifetime (`web_session_ttl_s`), which sessions count."""
        require_admin(viewer)
        return await self._get(
            Family.PEOPLE,
            viewer,
            UserList,
            lambda: people.users_overview(self.db, viewer, browser_ttl),
            browser_ttl=browser_ttl,
        )

    async def service_token_list(self, viewer: Viewer) -> Cached[ServiceTokenList]:
        require_admin(viewer)
        return await self._get(
            Family.PEOPLE, viewer, ServiceTokenList, lambda: people.service_tokens(self.db, viewer)
        )

    async def user_sessions(
        self, viewer: Viewer, user_id: int, *, browser_ttl: timedelta
    ) -> Cached[UserSessions]:
        require_admin(viewer)
        return await self._get(
            Family.PEOPLE,
            viewer,
            UserSessions,
            lambda: people.user_sessions(self.db, viewer, user_id, browser_ttl),
            user_id=user_id,
            browser_ttl=browser_ttl,
        )
