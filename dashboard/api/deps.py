"""Every dependency of the routes, in one place: the runtime, the caller, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


def get_runtime(request: Request) -> Runtime:
    """The process's runtime; `NotReady` (503) while it is starting."""
    return serving_runtime(request.app)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


ClientAddr = Annotated[str | None, Depends(client_addr)]


async def _credentials(
    request: Request, header: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str | None:
    """The bearer token, or else the browser's session cookie. The cookie counts for a
    state-changing request only from our own origin (SameSite already keeps it off cross-site
    requests; this also refuses a same-site but foreign origin)."""
    if header is not None:
        return header.credentials if header.scheme.lower() == "bearer" else None
    token = session_token(request)
    if token and request.method not in SAFE_METHODS and not same_origin(request):
        raise Forbidden("cross-origin request refused")
    return token


Credentials = Annotated[str | None, Depends(_credentials)]


async def _principal(runtime: Runtime, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated("authentication required")
    return await runtime.auth.principal(token)


async def current_principal(runtime: RuntimeDep, credentials: Credentials) -> Principal:
    return await _principal(runtime, credentials)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _check_role(principal: Principal, roles: frozenset[Role]) -> Principal:
    if principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise Forbidden(f"this endpoint is for {names} users")
    return principal


def require_roles(*roles: Role) -> Callable[[Runtime, str | None], Awaitable[Principal]]:
    allowed = frozenset(roles)

    # Flat on purpose (one dependency, not a chain): each level of FastAPI dependency resolution
    # costs measurable time on the hottest path, the cached reads.
    async def check(runtime: RuntimeDep, credentials: Credentials) -> Principal:
        return _check_role(await _principal(runtime, credentials), allowed)

    return check


async def reader(runtime: RuntimeDep, credentials: Credentials) -> Viewer:
    """The visibility scope of a person reading data (service accounts write, they do not read)."""
    return _check_role(await _principal(runtime, credentials), READ_ROLES).viewer


ViewerDep = Annotated[Viewer, Depends(reader)]
ServiceDep = Annotated[Principal, Depends(require_roles(Role.SERVICE))]
RiskDep = Annotated[Principal, Depends(require_roles(*SEES_ALL_ROLES))]
