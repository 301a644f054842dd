"""`/health` (which part is down), `/health/live` and `/health/ready` (for proxies and
orchestrators), and the bare `/api/v1/ping`. None needs a token, except the cache detail."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dashboard.api.deps import BearerHeader, credentials
from dashboard.api.schemas import ErrorOut
from dashboard.domain.enums import Role
from dashboard.health import HealthReport, ReadyReport, check_health, check_ready
from dashboard.runtime import NotReady, current_runtime
from dashboard.services.errors import Forbidden, Unauthenticated

router = APIRouter(tags=["health"])
#: Matched before everything else: the bare endpoint the load benchmark compares against.
ping_router = APIRouter(tags=["health"])


@ping_router.get("/api/v1/ping", response_model=dict[str, bool])
async def ping() -> dict[str, bool]:
    """Bare liveness: no auth, no database, no cache (the baseline of the load benchmark)."""
    return {"pong": True}


@router.get("/health/live", response_model=dict[str, str])
async def live() -> dict[str, str]:
    """The process answers. Nothing else is checked: restart the process only when this fails."""
    return {"status": "live"}


@router.get(
    "/health/ready",
    response_model=ReadyReport,
    responses={503: {"model": ReadyReport, "description": "not ready; `reasons` says why"}},
)
async def ready(request: Request) -> JSONResponse:
    """200 when this process should get traffic: migrations applied, the demo seed finished, the
    database reachable and not shutting down; else 503 with the reasons."""
    try:
        report = await check_ready(current_runtime(request.app))
    except NotReady:
        report = ReadyReport(ready=False, reasons=["starting"])
    return JSONResponse(report.model_dump(), status_code=200 if report.ready else 503)


@router.get(
    "/health",
    response_model=HealthReport,
    response_model_exclude_none=True,
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        503: {"model": HealthReport, "description": "the database is unreachable"},
    },
)
async def health(request: Request, header: BearerHeader, detail: bool = False) -> JSONResponse:
    """Status of the process and of each part: database, Redis, migrations, demo seed.
    `detail=true` (admins) adds the cache metrics per key family."""
    runtime = current_runtime(request.app)
    token = credentials(request, header)
    if detail:
        if token is None:
            raise Unauthenticated("detail needs an admin bearer token")
        principal = await runtime.auth.principal(token)
        if principal.role is not Role.ADMIN:
            raise Forbidden("detail is for admins")
    report = await check_health(runtime, detail=detail)
    return JSONResponse(
        report.model_dump(mode="json", exclude_none=True), status_code=503 if report.status == "down" else 200
    )
