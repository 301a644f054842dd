"""`/api/v1`: all routers of version 1 under one prefix, plus `/health` and the error handlers.

`mount_api` is the one way the API is attached: to NiceGUI's app in production, to a bare
FastAPI app in tests (same routes, same handlers, same dependencies).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from dashboard.api.errors import register_error_handlers
from dashboard.api.routes import auth, health, ingest, reads, session

API_PREFIX = "/api/v1"


def build_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    router.include_router(auth.router)
    router.include_router(reads.router)
    router.include_router(ingest.router)
    return router


def mount_api(app: FastAPI) -> None:
    app.include_router(health.router)
    app.include_router(session.router)
    app.include_router(build_router())
    register_error_handlers(app)
