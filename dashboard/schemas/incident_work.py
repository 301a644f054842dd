"""Reconciliation incidents as work items: the detail with its comments, the time-to-resolve stats,
the people an incident can be assigned to (read models), and the API's request and response bodies
for acknowledging, assigning, commenting, resolving and the bulk actions.

The bodies live here rather than in `dashboard.api.schemas` so that the area keeps its models in one
module; the pages call the services with the same values.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field

from dashboard.domain.enums import DivergenceKind, IncidentState, Role
from dashboard.schemas.common import ReadModel, StrictInput
from dashboard.schemas.reconciliation import IncidentListItem

#: Longest comment and resolution note (characters); the API's 16 KiB body limit holds them.
MAX_TEXT = 2000
#: Most incidents one bulk request may change.
MAX_BULK = 200
#: Longest window of the stats (days).
MAX_STATS_DAYS = 90

IncidentId = Annotated[int, Field(gt=0, lt=2**63)]


class IncidentCommentView(ReadModel):
    id: int
    incident_id: int
    author_user_id: int
    #: The author's e-mail.
    author: str
    created_at: datetime
    body: str


class IncidentDetail(IncidentListItem):
    """One incident with who acknowledged and resolved it, the note, and every comment (oldest
    first). A resolution note is also one of the comments (written with the resolution), so it
    stays on the record when the sync reopens the incident."""

    acknowledged_by: int | None
    #: E-mail of who acknowledged it.
    acknowledger: str | None
    resolved_by: int | None
    #: E-mail of who resolved it by hand (None when the sync resolved it, or it is open).
    resolver: str | None
    resolution_note: str | None
    reopened_at: datetime | None
    comments: list[IncidentCommentView] = Field(default_factory=list)
    as_of: datetime


class DurationStats(ReadModel):
    """How many durations, and their nearest-rank median and p90 in seconds (null when none)."""

    count: int
    median_s: Decimal | None
    p90_s: Decimal | None


class GroupStatsView(ReadModel):
    #: Ages of the incidents open now.
    open: DurationStats
    #: Time to resolve of the incidents resolved in the window.
    resolved: DurationStats


class KindStats(GroupStatsView):
    kind: DivergenceKind


class AccountStats(GroupStatsView):
    account_id: int


class IncidentStats(ReadModel):
    """Ages of the open incidents and time to resolve of those resolved in the last `days` days,
    overall, per kind and per account (`dashboard.domain.incident_stats` defines each number)."""

    READ_MOMENTS: ClassVar[frozenset[str]] = frozenset({"as_of", "since"})
    days: int
    since: datetime
    overall: GroupStatsView
    by_kind: list[KindStats]
    by_account: list[AccountStats]
    as_of: datetime


class AssignableUser(ReadModel):
    user_id: int
    email: str
    display_name: str
    role: Role


class AssignableUsers(ReadModel):
    """Active risk and admin users: who an incident can be assigned to."""

    users: list[AssignableUser]
    as_of: datetime


# ---- API bodies

Email = Annotated[str, Field(min_length=3, max_length=254)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class AssignIn(StrictInput):
    assignee_email: Email | None = Field(description="a risk or admin user's e-mail; null to unassign")


class CommentIn(StrictInput):
    body: Text


class ResolveIn(StrictInput):
    note: Text = Field(description="why it is resolved (required; blank is refused)")


class BulkIn(StrictInput):
    ids: list[IncidentId] = Field(min_length=1, max_length=MAX_BULK, description="incident ids (at most 200)")
    action: Literal["acknowledge", "assign"]
    assignee_email: Email | None = Field(
        default=None, description="for `assign`: a risk or admin user's e-mail; null or absent to unassign"
    )


class IncidentChangeOut(BaseModel):
    incident_id: int
    state: IncidentState
    assignee: str | None = Field(description="the assignee's e-mail after the change")
    changed: bool = Field(description="false when it was so already (nothing written)")


class CommentOut(BaseModel):
    incident_id: int
    comment_id: int
    created_at: datetime


class BulkOut(BaseModel):
    requested: int = Field(description="distinct incidents named")
    changed: int = Field(description="how many changed (the others were so already, or resolved)")
