"""The API as its own FastAPI app: `/api/v1`, `/health*` and the OpenAPI docs.

`build_api()` is the one way the API is assembled: served in front of the NiceGUI pages in
production (`dashboard.app`), driven directly over ASGI in the API tests. Requests to the API never
pass through the pages' middleware stack (NiceGUI's, the session and origin guards): measured, that
stack cost the API half of its throughput.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from dashboard.api.body_limits import BodyLimit
from dashboard.api.errors import register_error_handlers
from dashboard.api.routes import (
    admin,
    alerts,
    auth,
    health,
    incidents,
    ingest,
    limits,
    metrics,
    objectives,
    reads,
)
from dashboard.services.errors import NotFound

API_PREFIX = "/api/v1"
#: Paths the API app answers; everything else goes to the pages.
API_PATHS = ("/api/", "/health", "/metrics", "/docs", "/redoc", "/openapi.json")

DESCRIPTION = """Read models of the TeleBot live dashboard (reconciliation, positions, risk guards)
and ingestion for the MetaTrader bridge. Authenticate with `POST /api/v1/auth/login` and send the
access token as `Authorization: Bearer ...`. Errors are `{"detail": ..., "field": ...}`; a database
outage is `503` with `Retry-After`; bodies above the route's limit are `413`."""


def build_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    # Incident work items first: `/reconciliation/incidents/{id}` must not be taken by a read.
    router.include_router(incidents.router)
    router.include_router(reads.router)  # the hottest routes are matched first
    router.include_router(auth.router)
    router.include_router(ingest.router)
    router.include_router(alerts.router)
    router.include_router(limits.router)
    router.include_router(objectives.router)
    router.include_router(admin.router)
    return router


def build_api() -> FastAPI:
    from dashboard import __version__

    app = FastAPI(
        title="TeleBot Live Dashboard API",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    # Routes are matched in order: the bare ping first (the benchmark's baseline), the API, health.
    app.include_router(health.ping_router)
    app.include_router(build_router())
    app.include_router(health.router)
    app.include_router(metrics.router)

    @app.api_route(
        "/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    async def unknown(request: Request, rest: str) -> None:
        """An unknown API path is the API's JSON 404, never a page."""
        raise NotFound(f"no such endpoint: {request.url.path}")

    register_error_handlers(app)
    # Outermost: the pages mounted behind this app (their login form) are limited too.
    app.add_middleware(BodyLimit)
    return app
