"""Expected failures become JSON `{"detail": ..., "field": ...}`; nothing user-caused is a 500.

- 4xx: the request is wrong (validation names the field) or not allowed.
- 503 with `Retry-After`: the database is unreachable, or the process is starting; the client
  retries (an ingest sender does, and nothing was half-written: each write is one transaction).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from dashboard.db.outage import DatabaseUnavailable, is_outage
from dashboard.runtime import NotReady
from dashboard.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotConfigured,
    NotFound,
    ServiceError,
    TooManyAttempts,
    Unauthenticated,
)

DATABASE_RETRY_AFTER_S = 5
STARTING_RETRY_AFTER_S = 2


def error_body(detail: str, field: str | None = None) -> dict[str, str | None]:
    return {"detail": detail, "field": field}


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
    field = _location(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid"))
    return JSONResponse(status_code=422, content=error_body(f"{field}: {message}", field))


async def _service(request: Request, error: Exception) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(error, Unauthenticated):
        status, headers = 401, {"WWW-Authenticate": "Bearer"}
    elif isinstance(error, TooManyAttempts):
        status, headers = 429, {"Retry-After": str(error.retry_after_s)}
    elif isinstance(error, Forbidden):
        status = 403
    elif isinstance(error, NotFound):
        status = 404
    elif isinstance(error, Conflict):
        status = 409
    elif isinstance(error, NotConfigured):
        status = 503
    elif isinstance(error, InvalidInput):
        return JSONResponse(status_code=422, content=error_body(str(error), error.field))
    else:
        status = 400
    return JSONResponse(status_code=status, content=error_body(str(error)), headers=headers)


def database_unavailable() -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content=error_body("database unavailable"),
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


async def _database(request: Request, error: Exception) -> JSONResponse:
    return database_unavailable()


async def _not_ready(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        status_code=503, content=error_body(str(error)), headers={"Retry-After": str(STARTING_RETRY_AFTER_S)}
    )


async def _http(request: Request, error: Exception) -> JSONResponse:
    """Starlette's own errors (404, 405, a body that is not JSON...) in the API's error shape."""
    assert isinstance(error, StarletteHTTPException)
    return JSONResponse(
        status_code=error.status_code,
        content=error_body(str(error.detail)),
        headers=dict(error.headers or {}),
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    """A driver error that escaped the session wrappers is still a 503 when it is an outage;
    anything else is a bug and is re-raised (a 500 with a traceback in the log)."""
    if is_outage(error):
        return database_unavailable()
    raise error


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ServiceError, _service)
    app.add_exception_handler(DatabaseUnavailable, _database)
    app.add_exception_handler(NotReady, _not_ready)
    app.add_exception_handler(StarletteHTTPException, _http)
    for driver_error in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, TimeoutError):
        app.add_exception_handler(driver_error, _unexpected)
