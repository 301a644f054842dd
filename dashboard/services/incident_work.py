"""Reconciliation incidents as work items: acknowledge, assign, comment, resolve with a note, and
the bulk acknowledge/assign of a selection. Each is one transaction with its audit rows
(`incident:{id}`, the account in the detail), run through the one write path (`runtime.write`).

Who may do what (the services decide; the pages and the API only hide or map):

- risk and admin: everything, on every incident;
- a trader: sees their own incidents (state, assignee, comments) and may **comment** on them, so
  the desk hears their side (what they did in the terminal, why a position is gone); acknowledging,
  assigning and resolving are the risk desk's (`Forbidden`, a 403);
- anybody's incident a trader cannot see is `NotFound` (a 404), checked before the role, exactly as
  for an incident that does not exist.

Resolving by hand records `resolution = manual` with who, when and the required note (also kept as
a comment, so the note stays on the record if the sync reopens the incident); the account's open
counters and a critical incident's alert follow exactly as when the sync resolves one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import DivergenceIncident, IncidentComment, User
from dashboard.db.session import Database
from dashboard.domain.enums import IncidentState, Resolution, Severity
from dashboard.domain.reconciliation import incident_state
from dashboard.schemas.common import printable
from dashboard.schemas.incident_work import MAX_BULK, MAX_TEXT
from dashboard.services.alerts.outbox import add_incident_alerts
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.ingestion.common import lock_account
from dashboard.services.touched import Family, Touched
from dashboard.services.viewer import SEES_ALL_ROLES, Viewer

#: What a change to an incident's work state shows in: the incident lists and detail, and the
#: timeline (its incidents carry their state).
WORK_FAMILIES = (Family.INCIDENTS, Family.TIMELINE)
#: A resolution also changes the status counters (open incidents, health) and may clear an alert.
RESOLVE_FAMILIES = (*WORK_FAMILIES, Family.RECONCILIATION, Family.ALERTS)

BulkAction = Literal["acknowledge", "assign"]


@dataclass(frozen=True)
class IncidentChanged:
    incident_id: int
    state: IncidentState
    #: The assignee's e-mail after the change.
    assignee: str | None
    #: False when it was so already: nothing was written, nothing audited.
    changed: bool
    touched: Touched


@dataclass(frozen=True)
class Commented:
    incident_id: int
    comment_id: int
    created_at: datetime
    touched: Touched


@dataclass(frozen=True)
class BulkChanged:
    requested: int
    changed: int
    touched: Touched


def target(incident_id: int) -> str:
    return f"incident:{incident_id}"


def _text(value: str | None, field: str, what: str) -> str:
    """A comment or a note: trimmed, not blank, at most `MAX_TEXT` characters, printable."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{what} is required", field=field)
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{what} must be at most {MAX_TEXT} characters", field=field)
    if not printable(text):
        raise InvalidInput(f"{what} must not contain control characters", field=field)
    return text


async def _visible(session: AsyncSession, viewer: Viewer, incident_id: int) -> DivergenceIncident:
    """The incident, if the viewer may see it (`NotFound` otherwise, whatever the reason)."""
    incident = await session.get(DivergenceIncident, incident_id)
    if incident is None or (not viewer.sees_all and incident.user_id != viewer.user_id):
        raise NotFound(f"incident {incident_id} not found")
    return incident


def _risk_only(viewer: Viewer, what: str) -> None:
    if not viewer.sees_all:
        raise Forbidden(f"{what} incidents is for risk and admin users")


async def _assignee(session: AsyncSession, email: str | None) -> User | None:
    """The user an incident is assigned to: an active risk or admin user, or None to unassign."""
    if email is None or not email.strip():
        return None
    user = (
        await session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
    ).scalar_one_or_none()
    if user is None or not user.is_active or user.role not in SEES_ALL_ROLES:
        raise InvalidInput("assignee_email: not an active risk or admin user", field="assignee_email")
    return user


async def _email(session: AsyncSession, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = await session.get(User, user_id)
    return user.email if user is not None else None


def _changed(incident: DivergenceIncident, assignee: str | None, changed: bool) -> IncidentChanged:
    touched = Touched().account(incident.user_id, *WORK_FAMILIES) if changed else Touched()
    return IncidentChanged(
        incident.id, incident_state(incident.resolution, incident.acknowledged_at), assignee, changed, touched
    )


# ---- acknowledge


def _acknowledge(
    session: AsyncSession,
    viewer: Viewer,
    incident: DivergenceIncident,
    now: datetime,
    client_addr: str | None,
) -> bool:
    """Acknowledge one open incident; False when already acknowledged or resolved."""
    if incident.resolution is not Resolution.OPEN or incident.acknowledged_at is not None:
        return False
    incident.acknowledged_at, incident.acknowledged_by = now, viewer.user_id
    audit(
        session,
        AuditAction.INCIDENT_ACKNOWLEDGED,
        actor_user_id=viewer.user_id,
        target=target(incident.id),
        detail={
            "account_id": incident.account_id,
            "kind": incident.kind.value,
            "from": "open",
            "to": "acknowledged",
        },
        client_addr=client_addr,
        now=now,
    )
    return True


async def acknowledge_incident(
    db: Database, viewer: Viewer, incident_id: int, *, client_addr: str | None = None
) -> IncidentChanged:
    """Someone of the risk desk is on it. A resolved incident cannot be acknowledged (422); a
    second acknowledgement keeps the first (`changed` false)."""
    now = datetime.now(UTC)
    async with db.session() as session:
        incident = await _visible(session, viewer, incident_id)
        _risk_only(viewer, "acknowledging")
        if incident.resolution is not Resolution.OPEN:
            raise InvalidInput(
                "this incident is resolved: there is nothing to acknowledge", field="incident_id"
            )
        changed = _acknowledge(session, viewer, incident, now, client_addr)
        return _changed(incident, await _email(session, incident.assignee_user_id), changed)


# ---- assign


async def _assign(
    session: AsyncSession,
    viewer: Viewer,
    incident: DivergenceIncident,
    assignee: User | None,
    now: datetime,
    client_addr: str | None,
) -> bool:
    """Assign one open incident (None: unassign); False when it is so already or resolved."""
    new_id = assignee.id if assignee is not None else None
    if incident.resolution is not Resolution.OPEN or incident.assignee_user_id == new_id:
        return False
    before = await _email(session, incident.assignee_user_id)
    incident.assignee_user_id = new_id
    audit(
        session,
        AuditAction.INCIDENT_ASSIGNED,
        actor_user_id=viewer.user_id,
        target=target(incident.id),
        detail={
            "account_id": incident.account_id,
            "from": before,
            "to": assignee.email if assignee is not None else None,
        },
        client_addr=client_addr,
        now=now,
    )
    return True


async def assign_incident(
    db: Database,
    viewer: Viewer,
    incident_id: int,
    assignee_email: str | None,
    *,
    client_addr: str | None = None,
) -> IncidentChanged:
    """Give the incident to a risk or admin user (`assignee_email` None: nobody). The assignee must
    be an active risk or admin user (422 naming `assignee_email`); a resolved incident is not
    reassigned (422)."""
    now = datetime.now(UTC)
    async with db.session() as session:
        incident = await _visible(session, viewer, incident_id)
        _risk_only(viewer, "assigning")
        if incident.resolution is not Resolution.OPEN:
            raise InvalidInput("this incident is resolved: it cannot be assigned", field="incident_id")
        assignee = await _assignee(session, assignee_email)
        changed = await _assign(session, viewer, incident, assignee, now, client_addr)
        return _changed(incident, assignee.email if assignee is not None else None, changed)


# ---- comment


async def comment_incident(
    db: Database, viewer: Viewer, incident_id: int, body: str, *, client_addr: str | None = None
) -> Commented:
    """Add a comment (trimmed, 1..2000 characters). Risk and admin on any incident, a trader on
    their own (the one thing a trader may change: see the module's rule), open or resolved."""
    now = datetime.now(UTC)
    text = _text(body, "body", "a comment")
    async with db.session() as session:
        incident = await _visible(session, viewer, incident_id)
        comment = IncidentComment(
            incident_id=incident.id, author_user_id=viewer.user_id, created_at=now, body=text
        )
        session.add(comment)
        await session.flush()
        audit(
            session,
            AuditAction.INCIDENT_COMMENTED,
            actor_user_id=viewer.user_id,
            target=target(incident.id),
            detail={"account_id": incident.account_id, "comment_id": comment.id, "length": len(text)},
            client_addr=client_addr,
            now=now,
        )
        return Commented(incident.id, comment.id, now, Touched().account(incident.user_id, Family.INCIDENTS))


# ---- resolve


async def resolve_incident(
    db: Database, viewer: Viewer, incident_id: int, note: str, *, client_addr: str | None = None
) -> IncidentChanged:
    """Resolve by hand with a required note: `resolution = manual`, who and when, the note (also
    written as a comment); the account's open counters go down and a critical incident's alert is
    cleared, as when the sync resolves one. The account is locked first (as ingestion does), so a
    sync running at the same moment cannot resolve it twice or lose a counter. If the sync sees
    the same divergence again, it reopens the incident (`services.ingestion.sync`)."""
    now = datetime.now(UTC)
    async with db.session() as session:
        incident = await _visible(session, viewer, incident_id)
        _risk_only(viewer, "resolving")
        text = _text(note, "note", "a resolution note")
        account, state = await lock_account(session, incident.account_id)
        await session.refresh(incident)  # as it is now that the account is ours
        if incident.resolution is not Resolution.OPEN:
            raise InvalidInput("this incident is resolved already", field="incident_id")
        before = incident_state(incident.resolution, incident.acknowledged_at)
        incident.resolution, incident.resolved_at, incident.resolved_by = (
            Resolution.MANUAL,
            now,
            viewer.user_id,
        )
        incident.resolution_note = text
        critical = incident.severity is Severity.CRITICAL
        state.open_incidents = max((state.open_incidents or 0) - 1, 0)
        if critical:
            state.open_critical_incidents = max((state.open_critical_incidents or 0) - 1, 0)
        session.add(
            IncidentComment(
                incident_id=incident.id,
                author_user_id=viewer.user_id,
                created_at=now,
                body=f"Resolved: {text}",
            )
        )
        audit(
            session,
            AuditAction.INCIDENT_RESOLVED,
            actor_user_id=viewer.user_id,
            target=target(incident.id),
            detail={
                "account_id": incident.account_id,
                "kind": incident.kind.value,
                "severity": incident.severity.value,
                "from": before.value,
                "to": IncidentState.RESOLVED.value,
                "note": text,
            },
            client_addr=client_addr,
            now=now,
        )
        await add_incident_alerts(session, account, [], [incident] if critical else [], now)
        assignee = await _email(session, incident.assignee_user_id)
        touched = Touched().account(incident.user_id, *RESOLVE_FAMILIES)
        return IncidentChanged(incident.id, IncidentState.RESOLVED, assignee, True, touched)


# ---- bulk


def _distinct(ids: Iterable[int]) -> list[int]:
    seen: dict[int, None] = {}
    for incident_id in ids:
        if isinstance(incident_id, bool) or not isinstance(incident_id, int) or incident_id <= 0:
            raise InvalidInput("ids: every id must be a positive integer", field="ids")
        seen.setdefault(incident_id, None)
    return list(seen)


async def bulk_incidents(
    db: Database,
    viewer: Viewer,
    ids: Sequence[int],
    action: BulkAction,
    assignee_email: str | None = None,
    *,
    client_addr: str | None = None,
) -> BulkChanged:
    """Acknowledge or assign up to 200 incidents in one transaction (each change audited on its
    own); resolved ones and those already so are left alone and not counted. If any id is not
    visible to the viewer the whole request is `NotFound` and nothing changes."""
    now = datetime.now(UTC)
    wanted = _distinct(ids)
    if not 1 <= len(wanted) <= MAX_BULK:
        raise InvalidInput(f"ids: between 1 and {MAX_BULK} incidents", field="ids")
    if action not in ("acknowledge", "assign"):
        raise InvalidInput("action must be acknowledge or assign", field="action")
    async with db.session() as session:
        stmt = select(DivergenceIncident).where(DivergenceIncident.id.in_(wanted))
        if not viewer.sees_all:
            stmt = stmt.where(DivergenceIncident.user_id == viewer.user_id)
        incidents = {i.id: i for i in (await session.execute(stmt.order_by(DivergenceIncident.id))).scalars()}
        missing = [i for i in wanted if i not in incidents]
        if missing:
            raise NotFound(f"incident {missing[0]} not found")
        _risk_only(viewer, "acknowledging" if action == "acknowledge" else "assigning")
        touched = Touched()
        changed = 0
        assignee = await _assignee(session, assignee_email) if action == "assign" else None
        for incident in incidents.values():
            if action == "acknowledge":
                done = _acknowledge(session, viewer, incident, now, client_addr)
            else:
                done = await _assign(session, viewer, incident, assignee, now, client_addr)
            if done:
                changed += 1
                touched.account(incident.user_id, *WORK_FAMILIES)
        return BulkChanged(len(wanted), changed, touched)
