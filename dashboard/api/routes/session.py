"""Browser session endpoints: the login form posts here; the answer sets the HttpOnly cookie.

Plain form posts and redirects (no JavaScript needed), so the token never passes through a URL,
the page's scripts or localStorage.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from dashboard.api.deps import RuntimeDep, client_addr
from dashboard.auth.web import clear_session_cookie, safe_next, session_token, set_session_cookie
from dashboard.services.errors import TooManyAttempts, Unauthenticated

router = APIRouter(prefix="/auth/session", tags=["browser session"], include_in_schema=False)


@router.post("")
async def create_session(
    request: Request,
    runtime: RuntimeDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> RedirectResponse:
    target = safe_next(next)
    ttl = runtime.settings.web_session_ttl_s
    try:
        token = await runtime.auth.web_login(email, password, client_addr(request), timedelta(seconds=ttl))
    except TooManyAttempts as error:
        return RedirectResponse(
            f"/login?error=throttled&retry={error.retry_after_s}&next={quote(target, safe='')}",
            status_code=303,
        )
    except Unauthenticated:
        return RedirectResponse(f"/login?error=invalid&next={quote(target, safe='')}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, token.token, ttl)
    return response


@router.post("/logout")
async def end_session(request: Request, runtime: RuntimeDep) -> RedirectResponse:
    """End every session of the user (all tabs, devices and API tokens) and clear the cookie."""
    token = session_token(request)
    if token:
        try:
            principal = await runtime.auth.principal(token)
            await runtime.auth.logout(principal, client_addr(request))
        except Unauthenticated:
            pass
    response = RedirectResponse("/login?error=logged_out", status_code=303)
    clear_session_cookie(response)
    return response
