"""`/login`: a plain HTML form that posts to `/auth/session`, which sets the HttpOnly cookie.

A native form (not a websocket event) because only an HTTP response can set the cookie, and the
password then never passes through the page's socket or scripts.
"""

from __future__ import annotations

import html

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from components.frame import PRODUCT
from dashboard.auth.web import safe_next, session_token
from dashboard.db.outage import DatabaseUnavailable
from dashboard.runtime import NotReady, current_runtime
from dashboard.services.errors import Unauthenticated

MESSAGES = {
    "invalid": "Invalid email or password.",
    "throttled": "Too many failed attempts. Try again in a few minutes.",
    "expired": "Your session ended. Please log in again.",
    "logged_out": "You are logged out.",
    "unavailable": "The service is temporarily unavailable. Please try again in a minute.",
    "starting": "The service is starting. Please try again in a few seconds.",
}


def register(demo: bool) -> None:
    @ui.page("/login")
    async def login(request: Request, next: str = "", error: str = "") -> RedirectResponse | None:
        target = safe_next(next)
        token = session_token(request)
        if token:
            try:
                await current_runtime().auth.principal(token)
                return RedirectResponse(target, status_code=303)
            except (Unauthenticated, NotReady, DatabaseUnavailable):
                pass  # show the form
        ui.page_title(f"Log in · {PRODUCT}")
        message = MESSAGES.get(error, "")
        error_html = (
            f'<p role="alert" class="text-red-700" data-testid="login-error">{html.escape(message)}</p>'
            if message
            else ""
        )
        hint = (
            "<p class='text-xs opacity-70 mt-3'>Demo: <code>trader1@demo.local</code>, "
            "<code>risk@demo.local</code> or <code>admin@demo.local</code>, password <code>demo</code>.</p>"
            if demo
            else ""
        )
        ui.html(
            f"""
            <form method="post" action="/auth/session" class="flex flex-col gap-3 w-80 max-w-full">
              <h1 class="text-2xl font-bold">{PRODUCT}</h1>
              {error_html}
              <label class="flex flex-col text-sm">Email
                <input name="email" type="email" autocomplete="username" required
                       class="border rounded px-2 py-1 text-base text-black" data-testid="email"></label>
              <label class="flex flex-col text-sm">Password
                <input name="password" type="password" autocomplete="current-password" required
                       class="border rounded px-2 py-1 text-base text-black" data-testid="password"></label>
              <input type="hidden" name="next" value="{html.escape(target, quote=True)}">
              <button type="submit" class="bg-slate-900 text-white rounded px-3 py-2"
                      data-testid="submit">Log in</button>
              {hint}
            </form>
            """,
            sanitize=False,
        ).classes("mx-auto mt-24 p-4").mark("login-form")
        return None
