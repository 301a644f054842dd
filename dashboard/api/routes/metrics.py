"""`GET /metrics`: this process's figures in Prometheus's text format (`dashboard.metrics`).

Not public: the route and account figures tell an outsider how the desk works. With
`DASHBOARD_METRICS_TOKEN` set, the scraper sends it as a Bearer token; without one, only a client
on this machine may read it (behind a proxy, the client as the trusted proxy reports it).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from dashboard.api.schemas import ErrorOut
from dashboard.auth.web import client_addr
from dashboard.metrics import CONTENT_TYPE
from dashboard.runtime import current_runtime
from dashboard.services.errors import Forbidden, Unauthenticated

router = APIRouter(tags=["health"])
LOOPBACK = ("127.0.0.1", "::1")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {"model": ErrorOut, "description": "a metrics token is set and was not sent"},
        403: {"model": ErrorOut, "description": "no token is set and the client is not this machine"},
    },
)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of this process (request latency, live tabs, ticks, cache, pool)."""
    runtime = current_runtime()
    token = runtime.settings.metrics_token
    if token is not None:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            sent.encode(), token.get_secret_value().encode()
        ):
            raise Unauthenticated("metrics need the metrics token")
    elif client_addr(request) not in LOOPBACK:
        raise Forbidden("metrics are served to this machine only (or set DASHBOARD_METRICS_TOKEN)")
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)
