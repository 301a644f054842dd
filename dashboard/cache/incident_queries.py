"""Cached reads of reconciliation incidents as work items (a part of `CachedQueries`, kept in its
own module): one incident with its comments, the age and time-to-resolve stats, and who an incident
can be assigned to.

The detail and the stats are in the `incidents` family, like the incident lists: every sync that
opens, sees again, reopens or resolves an incident invalidates it, and so does every work-item
write (`services.incident_work`). The assignable people are in the `people` family (users are
created, disabled and change roles through the people writes).
"""

from __future__ import annotations

from dashboard.cache.base_queries import Cached, QueriesBase
from dashboard.schemas.incident_work import AssignableUsers, IncidentDetail, IncidentStats
from dashboard.services.queries import incident_work
from dashboard.services.touched import Family
from dashboard.services.viewer import Viewer


class IncidentWorkQueries(QueriesBase):
    """Mixed into `dashboard.cache.queries.CachedQueries`."""

    async def incident_detail(self, viewer: Viewer, incident_id: int) -> Cached[IncidentDetail]:
        return await self._get(
            Family.INCIDENTS,
            viewer,
            IncidentDetail,
            lambda: incident_work.incident_detail(self.db, viewer, incident_id),
            q="detail",
            incident_id=incident_id,
        )

    async def incident_stats(self, viewer: Viewer, days: int = 7) -> Cached[IncidentStats]:
        return await self._get(
            Family.INCIDENTS,
            viewer,
            IncidentStats,
            lambda: incident_work.incident_stats(self.db, viewer, days=days),
            q="stats",
            days=days,
        )

    async def assignable_users(self, viewer: Viewer) -> Cached[AssignableUsers]:
        return await self._get(
            Family.PEOPLE,
            viewer,
            AssignableUsers,
            lambda: incident_work.assignable_users(self.db, viewer),
            q="assignable",
        )
