"""Browser session endpoints: the login form posts here; the answer sets the HttpOnly cookie.

Plain form posts and redirects (no JavaScript needed), so the token never passes through a URL,
the page's scripts or localStorage. They belong to the pages (served behind the page guards), not
to the API. Every failure comes back to the login form with a message, never as an error page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from dashboard.auth.web import (
    clear_session_cookie,
    client_addr,
    safe_next,
    session_token,
    set_session_cookie,
)
from dashboard.db.outage import DatabaseUnavailable
from dashboard.runtime import NotReady, serving_runtime
from dashboard.services.errors import TooManyAttempts, Unauthenticated

router = APIRouter(prefix="/auth/session", tags=["browser session"], include_in_schema=False)


def _back_to_login(error: str, target: str, extra: str = "") -> RedirectResponse:
    return RedirectResponse(f"/login?error={error}{extra}&next={quote(target, safe='')}", status_code=303)


@router.post("")
async def create_session(
    request: Request,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> RedirectResponse:
    target = safe_next(next)
    try:
        runtime = serving_runtime()
    except NotReady:
        return _back_to_login("starting", target)
    ttl = runtime.settings.web_session_ttl_s
    try:
        token = await runtime.auth.web_login(email, password, client_addr(request), timedelta(seconds=ttl))
    except TooManyAttempts as error:
        return _back_to_login("throttled", target, f"&retry={error.retry_after_s}")
    except Unauthenticated:
        return _back_to_login("invalid", target)
    except DatabaseUnavailable:
        return _back_to_login("unavailable", target)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, token.token, ttl)
    return response


@router.post("/logout")
async def end_session(request: Request) -> RedirectResponse:
    """End every session of the user (all tabs, devices and API tokens) and clear the cookie."""
    token = session_token(request)
    if token:
        try:
            runtime = serving_runtime()
            principal = await runtime.auth.principal(token)
            await runtime.auth.logout(principal, client_addr(request))
        except (Unauthenticated, NotReady, DatabaseUnavailable):
            pass  # the cookie is cleared below; a session that could not be revoked ends with it
    response = RedirectResponse("/login?error=logged_out", status_code=303)
    clear_session_cookie(response)
    return response
