"""`GET /health`: liveness without auth; the cache metrics (`detail=true`) for admins only."""

from __future__ import annotations

from fastapi import APIRouter

from dashboard.api.deps import Credentials, RuntimeDep
from dashboard.api.schemas import ErrorOut
from dashboard.domain.enums import Role
from dashboard.health import HealthReport, check_health
from dashboard.services.errors import Forbidden, Unauthenticated

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthReport,
    response_model_exclude_none=True,
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
)
async def health(
    runtime: RuntimeDep,
    token: Credentials,
    detail: bool = False,
) -> HealthReport:
    """Status of the process, its database and cache. `detail=true` (admins) adds the cache
    metrics per key family: hits, misses, database loads, stale serves, errors."""
    if detail:
        if token is None:
            raise Unauthenticated("detail needs an admin bearer token")
        principal = await runtime.auth.principal(token)
        if principal.role is not Role.ADMIN:
            raise Forbidden("detail is for admins")
    return await check_health(runtime, detail=detail)


@router.get("/api/v1/ping", response_model=dict[str, bool])
async def ping() -> dict[str, bool]:
    """Bare liveness: no auth, no database, no cache (the baseline of the load benchmark)."""
    return {"pong": True}
