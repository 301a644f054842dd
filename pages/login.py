"""`/login`: a plain HTML form that posts to `/auth/session`, which sets the HttpOnly cookie.

A native form (not a websocket event) because only an HTTP response can set the cookie, and the
password then never passes through the page's socket or scripts.
"""

from __future__ import annotations

import html

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from components.cards import MUTED, Heading
from components.frame import PRIMARY, PRODUCT, theme
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
# Messages that report a state rather than a failure (shown calmer, as a status, not an alert).
NOTICES = {"expired", "logged_out", "starting"}
ALERT = "border-red-300 bg-red-50 text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-100"
NOTICE = (
    "border-slate-300 bg-slate-50 text-slate-800 dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100"
)
# The frame's look in plain HTML: fields with a 3:1 outline in both modes, the primary button.
FIELD = (
    "rounded border border-slate-500 bg-[#fff] px-3 py-2 text-base font-normal text-slate-900 "
    "focus:outline-2 focus:outline-offset-1 focus:outline-blue-700 "
    "dark:bg-slate-900 dark:text-slate-100 dark:focus:outline-blue-400"
)
BUTTON = (
    f"rounded bg-[{PRIMARY}] px-4 py-2 text-sm font-medium uppercase tracking-wide text-white shadow "
    "cursor-pointer hover:brightness-110 focus-visible:outline-2 focus-visible:outline-offset-2 "
    "focus-visible:outline-blue-700 dark:focus-visible:outline-blue-400"
)


def register(demo: bool) -> None:
    @ui.page("/login", dark=None)  # follows the system's light or dark preference
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
        theme()
        with ui.header().classes("items-center bg-slate-900 text-white px-3 py-2 gap-2 min-h-14"):
            Heading(PRODUCT, 1).classes("text-lg font-bold m-0 tracking-normal leading-normal")
            if demo:
                ui.badge("DEMO", color="orange").props("outline")
        with ui.card().classes("w-96 max-w-full mx-auto mt-8 sm:mt-16 p-6 gap-0"):
            ui.html(_form(target, error, demo), sanitize=False).classes("w-full").mark("login-form")
        return None


def _form(target: str, error: str, demo: bool) -> str:
    """The native form: it posts email, password and `next` to `/auth/session` (no script)."""
    message = MESSAGES.get(error, "")
    notice = ""
    if message:
        role, tone = ("status", NOTICE) if error in NOTICES else ("alert", ALERT)
        notice = (
            f'<p role="{role}" class="m-0 rounded border px-3 py-2 text-sm {tone}" '
            f'data-testid="login-error">{html.escape(message)}</p>'
        )
    hint = (
        f'<p class="m-0 border-t border-slate-200 dark:border-slate-700 pt-4 text-xs {MUTED}">'
        "Demo: <code>trader1@demo.local</code>, <code>risk@demo.local</code> or "
        "<code>admin@demo.local</code>, password <code>demo</code>.</p>"
        if demo
        else ""
    )
    return f"""
        <form method="post" action="/auth/session" class="flex flex-col gap-4">
          <div>
            <h2 class="m-0 text-xl font-semibold tracking-normal leading-normal">Log in</h2>
            <p class="m-0 text-sm {MUTED}">Live risk and reconciliation of your trading accounts.</p>
          </div>
          {notice}
          <label class="flex flex-col gap-1 text-sm font-medium">Email
            <input name="email" type="email" autocomplete="username" required
                   class="{FIELD}" data-testid="email"></label>
          <label class="flex flex-col gap-1 text-sm font-medium">Password
            <input name="password" type="password" autocomplete="current-password" required
                   class="{FIELD}" data-testid="password"></label>
          <input type="hidden" name="next" value="{html.escape(target, quote=True)}">
          <button type="submit" class="{BUTTON}" data-testid="submit">Log in</button>
          {hint}
        </form>
        """
