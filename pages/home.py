"""`/`: send each user to where they start: risk and admin to the risk wall, traders to
reconciliation."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui


def register() -> None:
    @ui.page("/")
    async def home(request: Request) -> RedirectResponse:
        principal = request.state.principal
        target = "/risk" if principal.role.sees_all else "/reconciliation"
        return RedirectResponse(target, status_code=303)
