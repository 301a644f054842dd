"""Every dependency of the routes, in one place: the runtime, the caller, role checks.

Flat on purpose: an authenticated route has exactly one dependency (`Caller`: the runtime and who
is asking, role already checked) on top of the bearer scheme. Each level of FastAPI dependency
resolution costs measurable time on the hottest path, the cached reads; and every dependency is
`async def`, because FastAPI runs a plain `def` one in a worker thread (a thread hop per request
that cost the cached reads more than the rest of their work together).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dashboard.auth.sessions import Principal
from dashboard.auth.web import SAFE_METHODS, client_addr, same_origin, session_token
from dashboard.domain.enums import Role
from dashboard.runtime import Runtime, serving_runtime
from dashboard.services.errors import Forbidden, Unauthenticated
from dashboard.services.viewer import READ_ROLES, SEES_ALL_ROLES, Viewer

bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/login")
BearerHeader = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The runtime serving the request and the authenticated person or bot behind it."""

    runtime: Runtime
    principal: Principal

    @property
    def viewer(self) -> Viewer:
        return self.principal.viewer


async def get_runtime(request: Request) -> Runtime:
    """The process's runtime; `NotReady` (503) while it is starting."""
    return serving_runtime(request.app)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def _client_addr(request: Request) -> str | None:
    return client_addr(request)


ClientAddr = Annotated[str | None, Depends(_client_addr)]


def credentials(request: Request, header: HTTPAuthorizationCredentials | None) -> str | None:
    """The bearer token, or else the browser's session cookie. The cookie counts for a
    state-changing request only from our own origin (SameSite already keeps it off cross-site
    requests; this also refuses a same-site but foreign origin)."""
    if header is not None:
        return header.credentials if header.scheme.lower() == "bearer" else None
    token = session_token(request)
    if token and request.method not in SAFE_METHODS and not same_origin(request):
        raise Forbidden("cross-origin request refused")
    return token


CallerDependency = Callable[[Request, HTTPAuthorizationCredentials | None], Awaitable["Caller"]]


def caller_with(roles: frozenset[Role] | None) -> CallerDependency:
    """A dependency: the authenticated caller, refused (403) unless their role is in `roles`."""
    names = ", ".join(sorted(r.value for r in roles)) if roles is not None else ""

    async def caller(request: Request, header: BearerHeader) -> Caller:
        runtime = serving_runtime(request.app)
        token = credentials(request, header)
        if not token:
            raise Unauthenticated("authentication required")
        principal = await runtime.auth.principal(token)
        if roles is not None and principal.role not in roles:
            raise Forbidden(f"this endpoint is for {names} users")
        return Caller(runtime, principal)

    return caller


#: Anyone authenticated (e.g. "who am I", logout).
AnyCaller = Annotated[Caller, Depends(caller_with(None))]
#: People reading data: traders (their own accounts), risk and admin (every account).
Reader = Annotated[Caller, Depends(caller_with(READ_ROLES))]
#: Risk and admin only.
RiskReader = Annotated[Caller, Depends(caller_with(SEES_ALL_ROLES))]
#: The bridge: service accounts ingest, they do not read.
Service = Annotated[Caller, Depends(caller_with(frozenset({Role.SERVICE})))]
