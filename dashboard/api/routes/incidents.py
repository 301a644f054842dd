"""`/reconciliation/incidents/...`: incidents as work items. One incident with its comments,
acknowledging, assigning, commenting, resolving with a note, the bulk acknowledge/assign of a
selection, and the age and time-to-resolve stats.

Registered before the read routes (`dashboard.api.router`). The id is matched as digits only
(`{incident_id:int}`), so `/reconciliation/incidents/as-of` still reaches its read.

The rules are the services' (`dashboard.services.incident_work`): risk and admin act on every
incident; a trader reads their own and may comment on them, and is refused (403) acknowledging,
assigning and resolving; someone else's incident is a 404. Every change is audited with the
caller's address.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from dashboard.api.deps import ClientAddr, Reader
from dashboard.api.routes.reads import AUTH_ERRORS, NOT_FOUND
from dashboard.api.schemas import ErrorOut
from dashboard.schemas.incident_work import (
    MAX_STATS_DAYS,
    AssignIn,
    BulkIn,
    BulkOut,
    CommentIn,
    CommentOut,
    IncidentChangeOut,
    IncidentDetail,
    IncidentStats,
    ResolveIn,
)
from dashboard.services.incident_work import (
    IncidentChanged,
    acknowledge_incident,
    assign_incident,
    bulk_incidents,
    comment_incident,
    resolve_incident,
)

router = APIRouter(prefix="/reconciliation/incidents", tags=["reconciliation"])

IncidentIdPath = Annotated[int, Path(gt=0, lt=2**63, description="the incident's id")]
RISK_ACTION: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    403: {"model": ErrorOut, "description": "a trader: only risk and admin users may do this"},
    422: {
        "model": ErrorOut,
        "description": "invalid body (`field` names it), or the incident is resolved already",
    },
}


def _json(payload: bytes) -> Response:
    return Response(content=payload, media_type="application/json")


def _out(done: IncidentChanged) -> IncidentChangeOut:
    return IncidentChangeOut(
        incident_id=done.incident_id, state=done.state, assignee=done.assignee, changed=done.changed
    )


@router.get(
    "/stats",
    response_model=IncidentStats,
    responses=AUTH_ERRORS,
    summary="Ages and time to resolve of incidents",
)
async def stats(
    caller: Reader,
    days: Annotated[int, Query(ge=1, le=MAX_STATS_DAYS, description="the window, in days")] = 7,
) -> Response:
    """Ages of the open incidents now and time to resolve of those resolved in the last `days`
    days, each as count, median and p90 in seconds (nearest rank), overall, per kind and per
    account. A trader's own accounts; risk and admin every account."""
    cached = await caller.runtime.queries.incident_stats(caller.viewer, days=days)
    return _json(cached.payload)


@router.post(
    "/bulk",
    response_model=BulkOut,
    responses=RISK_ACTION,
    summary="Acknowledge or assign many incidents",
)
async def bulk(caller: Reader, body: BulkIn, addr: ClientAddr) -> BulkOut:
    """Acknowledge, or assign to one person (`assignee_email`, null to unassign), up to 200
    incidents in one transaction; each change is audited. Resolved incidents and those already so
    are left alone (`changed` counts the others). One id that is not yours, or does not exist, is a
    404 for the whole request and nothing changes."""
    done = await caller.runtime.write(
        bulk_incidents, caller.viewer, body.ids, body.action, body.assignee_email, client_addr=addr
    )
    return BulkOut(requested=done.requested, changed=done.changed)


@router.get(
    "/{incident_id:int}",
    response_model=IncidentDetail,
    responses=NOT_FOUND,
    summary="One incident with its comments",
)
async def detail(caller: Reader, incident_id: IncidentIdPath) -> Response:
    """The incident with its work state, assignee, who acknowledged and resolved it, the
    resolution note, and its comments oldest first."""
    cached = await caller.runtime.queries.incident_detail(caller.viewer, incident_id)
    return _json(cached.payload)


@router.post(
    "/{incident_id:int}/acknowledge",
    response_model=IncidentChangeOut,
    responses=RISK_ACTION,
    summary="Acknowledge an incident",
)
async def acknowledge(caller: Reader, incident_id: IncidentIdPath, addr: ClientAddr) -> IncidentChangeOut:
    """Say the risk desk is on it (audited). Idempotent: a second acknowledgement keeps the first
    (`changed` false). A resolved incident is a 422."""
    return _out(
        await caller.runtime.write(acknowledge_incident, caller.viewer, incident_id, client_addr=addr)
    )


@router.post(
    "/{incident_id:int}/assign",
    response_model=IncidentChangeOut,
    responses=RISK_ACTION,
    summary="Assign an incident (or unassign it)",
)
async def assign(
    caller: Reader, incident_id: IncidentIdPath, body: AssignIn, addr: ClientAddr
) -> IncidentChangeOut:
    """Give the incident to an active risk or admin user by e-mail, or to nobody (null); audited
    with the assignee before and after. Someone who is not an active risk or admin user is a 422
    naming `assignee_email`."""
    done = await caller.runtime.write(
        assign_incident, caller.viewer, incident_id, body.assignee_email, client_addr=addr
    )
    return _out(done)


@router.post(
    "/{incident_id:int}/comments",
    status_code=201,
    response_model=CommentOut,
    responses={**NOT_FOUND, 422: {"model": ErrorOut, "description": "an empty or too long comment"}},
    summary="Comment on an incident",
)
async def comment(
    caller: Reader, incident_id: IncidentIdPath, body: CommentIn, addr: ClientAddr
) -> CommentOut:
    """Add a comment (at most 2000 characters; audited). Risk and admin on any incident; a trader on
    their own (the one change a trader may make to an incident)."""
    done = await caller.runtime.write(
        comment_incident, caller.viewer, incident_id, body.body, client_addr=addr
    )
    return CommentOut(incident_id=done.incident_id, comment_id=done.comment_id, created_at=done.created_at)


@router.post(
    "/{incident_id:int}/resolve",
    response_model=IncidentChangeOut,
    responses=RISK_ACTION,
    summary="Resolve an incident by hand, with a note",
)
async def resolve(
    caller: Reader, incident_id: IncidentIdPath, body: ResolveIn, addr: ClientAddr
) -> IncidentChangeOut:
    """Resolve with a required note (resolution `manual`; audited; the note is also kept as a
    comment). The account's open-incident counters follow, and a critical incident's alert is
    cleared. If a later sync sees the same divergence again, the incident is reopened."""
    return _out(
        await caller.runtime.write(resolve_incident, caller.viewer, incident_id, body.note, client_addr=addr)
    )
