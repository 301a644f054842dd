"""Every dependency of the routes, in one place: the runtime, the caller, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dashboard.auth.sessions import Principal
from dashboard.auth.web import session_token
from dashboard.domain.enums import Role
from dashboard.runtime import Runtime
from dashboard.services.errors import Forbidden, Unauthenticated
from dashboard.services.viewer import Viewer

bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/login")

READ_ROLES = (Role.TRADER, Role.RISK, Role.ADMIN)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise RuntimeError("the app has not started yet")
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_addr(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _credentials(
    request: Request, header: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str | None:
    """The bearer token, or else the browser's session cookie (our own origin only, so another
    site cannot make a logged-in browser call the API: `OriginGuard` refuses cross-origin writes,
    and SameSite keeps the cookie off cross-site requests)."""
    if header is not None:
        return header.credentials if header.scheme.lower() == "bearer" else None
    return session_token(request)


Credentials = Annotated[str | None, Depends(_credentials)]


async def _principal(runtime: Runtime, token: str | None) -> Principal:
    if not token:
        raise Unauthenticated("missing bearer token")
    return await runtime.auth.principal(token)


async def current_principal(runtime: RuntimeDep, credentials: Credentials) -> Principal:
    return await _principal(runtime, credentials)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _check_role(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    if principal.role not in roles:
        raise Forbidden(f"this endpoint is for {', '.join(r.value for r in roles)} users")
    return principal


def require_roles(*roles: Role) -> Callable[[Runtime, str | None], Awaitable[Principal]]:
    # Flat on purpose (one dependency, not a chain): each level of FastAPI dependency resolution
    # costs measurable time on the hottest path, the cached reads.
    async def check(runtime: RuntimeDep, credentials: Credentials) -> Principal:
        return _check_role(await _principal(runtime, credentials), roles)

    return check


async def reader(runtime: RuntimeDep, credentials: Credentials) -> Viewer:
    """The visibility scope of a person reading data (service accounts write, they do not read)."""
    return _check_role(await _principal(runtime, credentials), READ_ROLES).viewer


ViewerDep = Annotated[Viewer, Depends(reader)]
ServiceDep = Annotated[Principal, Depends(require_roles(Role.SERVICE))]
RiskDep = Annotated[Principal, Depends(require_roles(Role.RISK, Role.ADMIN))]
