"""What a write touched: the (family, scope) pairs of cached reads it may have changed.

Every write service returns one; the runtime's one write path (`dashboard.cache.writer.Writer`)
hands it to the cache, which invalidates exactly these pairs in every process. The family is a
typed enum shared by the cached reads and the writes, so a write cannot name a family no read has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: The scope of everybody who sees every account (risk and admin).
ALL_SCOPE = "all"


def user_scope(user_id: int) -> str:
    """The scope of one trader's reads (their own accounts only)."""
    return f"u{user_id}"


class Family(StrEnum):
    """A group of cached reads that the same writes change."""

    RECONCILIATION = "reconciliation"
    TIMELINE = "timeline"
    INCIDENTS = "incidents"
    POSITIONS = "positions"
    GUARDS = "guards"
    RISK_WALL = "risk_wall"
    GUARD_EVENTS = "guard_events"
    EQUITY = "equity"
    MARKET = "market"
    ACCOUNTS = "accounts"
    #: Alerts and their deliveries. The leader's delivery updates deliveries outside the write
    #: path (one transaction per send, nobody waiting on it): the family's short TTL bounds how
    #: late the alerts page shows a send; new alerts and acknowledgements invalidate it at once.
    ALERTS = "alerts"
    #: A user's session state (role, session version, active).
    AUTH = "auth"
    #: The audit trail. Audit rows are written beside many writes (logins among them) that name no
    #: family of their own, so this family lives by a short TTL rather than by invalidation.
    AUDIT = "audit"
    #: Users, service tokens and sessions as the admin page lists them.
    PEOPLE = "people"


#: (family, scope); scope None means every scope of the family (data that belongs to nobody).
Item = tuple[Family, str | None]


@dataclass
class Touched:
    items: set[Item] = field(default_factory=set)

    def account(self, owner_id: int, *families: Family) -> Touched:
        """A write to one account: its owner's reads and the all-seeing ones."""
        for family in families:
            self.items.add((family, ALL_SCOPE))
            self.items.add((family, user_scope(owner_id)))
        return self

    def user(self, user_id: int, *families: Family) -> Touched:
        """A write about one user (their session state)."""
        self.items.update((family, user_scope(user_id)) for family in families)
        return self

    def everyone(self, *families: Family) -> Touched:
        """A write to data that belongs to nobody (market quotes): every scope."""
        self.items.update((family, None) for family in families)
        return self

    def merge(self, other: Touched) -> Touched:
        self.items |= other.items
        return self

    def __bool__(self) -> bool:
        return bool(self.items)
