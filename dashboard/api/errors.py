"""Expected failures become 4xx JSON `{"detail": ..., "field": ...}`; nothing user-caused is a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dashboard.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    TooManyAttempts,
    Unauthenticated,
)


def _body(detail: str, field: str | None = None) -> dict[str, str | None]:
    return {"detail": detail, "field": field}


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
    field = _location(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid"))
    return JSONResponse(status_code=422, content=_body(f"{field}: {message}", field))


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
    elif isinstance(error, InvalidInput):
        return JSONResponse(status_code=422, content=_body(str(error), error.field))
    else:
        status = 400
    return JSONResponse(status_code=status, content=_body(str(error)), headers=headers)


def register_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ServiceError, _service)
