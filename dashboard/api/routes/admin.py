"""`/admin` (admins only, 403 for every other role): users, their sessions, and service tokens.

The same calls as the admin page and the `users` CLI (`dashboard.auth.admin.UserAdmin`), with the
same rules: the password policy, normalised e-mail addresses, service tokens only for active
service users and for 1-365 days, no admin disabling or demoting themselves. Every change is
audited with the admin and their address. A service token is in the answer that issues it, once:
it is not stored, and no listing or audit entry ever holds it.

Sessions are derived from logins (see `dashboard.services.queries.people`); ending them ends all of
the user's sessions at once, since tokens are revoked by the user's session version.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from dashboard.api.deps import Caller, ClientAddr, caller_with
from dashboard.api.routes.reads import AUTH_ERRORS, NOT_FOUND, Id
from dashboard.api.schemas import ErrorOut
from dashboard.auth.admin import UserAdmin
from dashboard.domain.enums import Role
from dashboard.runtime import Runtime
from dashboard.schemas.people import (
    ServiceTokenIn,
    ServiceTokenIssuedOut,
    ServiceTokenList,
    UserIn,
    UserList,
    UserPatch,
    UserSessions,
    UserSummary,
)

router = APIRouter(prefix="/admin", tags=["admin"])

#: Admins only: every other role is a 403, no token a 401.
Admin = Annotated[Caller, Depends(caller_with(frozenset({Role.ADMIN})))]
Jti = Annotated[
    str,
    Path(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_\-]+$",
        description="the token's id (`jti`), or a unique prefix of at least 8 characters",
    ),
]
CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorOut, "description": "collides with what is stored (e.g. the user exists)"}
}


def _admin(runtime: Runtime) -> UserAdmin:
    return runtime.users


def _browser_ttl(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.web_session_ttl_s)


def _json(payload: bytes) -> Response:
    return Response(content=payload, media_type="application/json")


@router.get("/users", response_model=UserList, responses=AUTH_ERRORS)
async def users(caller: Admin) -> Response:
    """Every user with their role, state, number of active sessions and last login (time and
    address). A session is active while its login's lifetime runs and nothing ended it since."""
    runtime = caller.runtime
    return _json(
        (await runtime.queries.users_overview(caller.viewer, browser_ttl=_browser_ttl(runtime))).payload
    )


@router.post("/users", status_code=201, response_model=UserSummary, responses={**AUTH_ERRORS, **CONFLICT})
async def create_user(caller: Admin, body: UserIn, addr: ClientAddr) -> UserSummary:
    """Create a user with an initial password (the password policy applies: a 422 on `password`
    says what it wants). The address is normalised (trimmed, lower case)."""
    return await _admin(caller.runtime).create(
        body.email,
        body.role,
        body.password.get_secret_value(),
        body.display_name,
        actor=caller.viewer,
        client_addr=addr,
    )


@router.patch(
    "/users/{user_id}",
    response_model=UserSummary,
    responses={**NOT_FOUND, 422: {"model": ErrorOut, "description": "e.g. an admin disabling themselves"}},
)
async def change_user(caller: Admin, user_id: Id, body: UserPatch, addr: ClientAddr) -> UserSummary:
    """Change the role, enable or disable, or both (each ends the user's sessions and is audited
    on its own). An admin cannot disable or demote themselves."""
    admin = _admin(caller.runtime)
    changed: UserSummary | None = None
    if body.role is not None:
        changed = await admin.set_role(user_id, body.role, actor=caller.viewer, client_addr=addr)
    if body.active is not None:
        changed = await admin.set_active(user_id, body.active, actor=caller.viewer, client_addr=addr)
    assert changed is not None  # the body has one or both (validated)
    return changed


@router.post("/users/{user_id}/end-sessions", response_model=UserSummary, responses=NOT_FOUND)
async def end_sessions(caller: Admin, user_id: Id, addr: ClientAddr) -> UserSummary:
    """End every session of the user at once: browser sessions, API logins with their refresh
    tokens, and service tokens. There is no ending one session alone: tokens are revoked by the
    user's session version, which all of them carry."""
    return await _admin(caller.runtime).end_sessions(user_id, actor=caller.viewer, client_addr=addr)


@router.get("/users/{user_id}/sessions", response_model=UserSessions, responses=NOT_FOUND)
async def sessions(caller: Admin, user_id: Id) -> Response:
    """The user's active sessions, newest first: how (browser or API), since when, until when at
    the latest, and from which address."""
    runtime = caller.runtime
    cached = await runtime.queries.user_sessions(caller.viewer, user_id, browser_ttl=_browser_ttl(runtime))
    return _json(cached.payload)


@router.get("/service-tokens", response_model=ServiceTokenList, responses=AUTH_ERRORS)
async def service_tokens(caller: Admin) -> Response:
    """Stored service tokens, newest first, with their state (active, expired, revoked, or ended
    by their user's sessions being ended). Never the tokens themselves. Tokens issued before
    tokens were stored are not listed; they work until they expire or their user's sessions end."""
    return _json((await caller.runtime.queries.service_token_list(caller.viewer)).payload)


@router.post("/service-tokens", status_code=201, response_model=ServiceTokenIssuedOut, responses=NOT_FOUND)
async def issue_service_token(caller: Admin, body: ServiceTokenIn, addr: ClientAddr) -> ServiceTokenIssuedOut:
    """Issue a long-lived access token for an active service user (a bridge), named for what it
    is for and valid `days`. The token is in this answer only: it is not stored and cannot be shown
    again."""
    new = await _admin(caller.runtime).issue_token(
        body.email, body.name, body.days, actor=caller.viewer, client_addr=addr
    )
    return ServiceTokenIssuedOut(token=new.token, service_token=new.view)


@router.delete(
    "/service-tokens/{jti}",
    status_code=204,
    responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "revoked already"}},
)
async def revoke_service_token(caller: Admin, jti: Jti, addr: ClientAddr) -> Response:
    """Revoke one token: refused from the next request on, in every process. The user's other
    tokens keep working. A prefix naming more than one token is a 422."""
    await _admin(caller.runtime).revoke_token(jti, actor=caller.viewer, client_addr=addr)
    return Response(status_code=204)
