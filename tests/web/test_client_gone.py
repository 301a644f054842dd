"""A client that leaves before a `BaseHTTPMiddleware` stack answers is not logged as a server
error; the same error without a disconnect, and any other error, still propagate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from dashboard.web.client_gone import NO_RESPONSE, ClientGone


class PassThrough(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)


async def slow(request: Request) -> Response:
    await asyncio.sleep(1)
    return PlainTextResponse("late")


def app() -> Starlette:
    return Starlette(routes=[Route("/", slow)], middleware=[Middleware(PassThrough)])


async def call(asgi: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else await asyncio.sleep(3600)  # type: ignore[func-returns-value]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b"", "asgi": {}}
    await asyncio.wait_for(asgi(scope, receive, send), 5)
    return sent


async def left_early(scope: Any, receive: Any, send: Any) -> None:
    """What NiceGUI's `BaseHTTPMiddleware` stack does when the browser leaves before the page
    answers (seen in the browser tests' app logs): it sees the disconnect, then raises."""
    assert (await receive())["type"] == "http.disconnect"
    raise RuntimeError(NO_RESPONSE)


async def test_a_client_gone_mid_request_is_not_an_error() -> None:
    with pytest.raises(RuntimeError, match=NO_RESPONSE):  # what uvicorn would log without it
        await call(left_early, [{"type": "http.disconnect"}])
    assert await call(ClientGone(left_early), [{"type": "http.disconnect"}]) == []


async def test_an_answered_request_and_other_errors_pass_through() -> None:
    answered = await call(ClientGone(app()), [{"type": "http.request", "body": b"", "more_body": False}])
    assert answered[0]["status"] == 200

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError(NO_RESPONSE)  # no disconnect seen: a real fault

    with pytest.raises(RuntimeError):
        await call(ClientGone(broken), [])
