"""Who is asking: the visibility scope every query applies.

A trader sees own accounts only; risk and admin see all. Service accounts write and do not read
people's data. Ownership is a filter in the query, so someone else's row is simply "not found".
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain.enums import Role
from dashboard.services.touched import ALL_SCOPE, user_scope

#: Roles that read people's data (every role but `service`).
READ_ROLES = frozenset(role for role in Role if role.reads)
#: Roles that see every account (risk and admin).
SEES_ALL_ROLES = frozenset(role for role in Role if role.sees_all)


@dataclass(frozen=True, slots=True)
class Viewer:
    user_id: int
    role: Role

    @property
    def sees_all(self) -> bool:
        return self.role.sees_all

    @property
    def scope(self) -> str:
        """Cache-key scope: one per trader, one shared by everybody who sees all."""
        return ALL_SCOPE if self.sees_all else user_scope(self.user_id)

    @property
    def owner_filter(self) -> int | None:
        """The user id to filter on, or None when the viewer sees every account."""
        return None if self.sees_all else self.user_id
