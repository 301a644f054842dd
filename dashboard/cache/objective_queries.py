"""Cached reads of the prop-challenge objectives (a part of `CachedQueries`, kept in its own module).

An account's objectives are computed from its risk state, its positions, its guard events and its
rule: they live in `Family.GUARDS`, which every write of those invalidates (equity snapshots,
position fills, syncs, silence) and which a change of an account's limits or objectives must name
too, since the gauges of `/guards` read the same limits. The list of accounts running a challenge
depends on the accounts' settings only (`Family.ACCOUNTS`). Days left move with the clock: the
family's TTL bounds how late that shows.
"""

from __future__ import annotations

from dashboard.cache.base_queries import Cached, QueriesBase
from dashboard.schemas.objectives import AccountObjectives, ObjectiveAccounts
from dashboard.services.queries import objectives
from dashboard.services.touched import Family
from dashboard.services.viewer import Viewer


class ObjectiveQueries(QueriesBase):
    """Mixed into `dashboard.cache.queries.CachedQueries`."""

    async def account_objectives(self, viewer: Viewer, account_id: int) -> Cached[AccountObjectives]:
        """`NotFound` for an account the viewer cannot see; `objectives` None without a challenge."""
        return await self._get(
            Family.GUARDS,
            viewer,
            AccountObjectives,
            lambda: objectives.account_objectives(self.db, viewer, account_id),
            account_id=account_id,
        )

    async def objective_accounts(self, viewer: Viewer) -> Cached[ObjectiveAccounts]:
        return await self._get(
            Family.ACCOUNTS,
            viewer,
            ObjectiveAccounts,
            lambda: objectives.objective_accounts(self.db, viewer),
        )
