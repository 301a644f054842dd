"""One way to declare a live page: its path once, the shared frame, the role check and the loop.

    @live_page("/risk", "Risk wall", wide_only=True, as_of=True)
    async def risk(live: LivePage, params: Mapping[str, str]) -> None:
        RiskWallPanel(live)

A page module then holds only its panels; `dashboard.app` registers every page with
`page.register(demo)`. An `as_of` page has the time control on top (`components.time_control`):
`live.at` is then the past moment from `?at=` (None when live), set before `build` runs, so its
panels choose the live or the as-of reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from fastapi import Request
from nicegui import ui

from components.frame import frame
from components.live import LivePage
from components.time_control import TimeControl
from dashboard.domain.enums import Role

Build = Callable[[LivePage, Mapping[str, str]], Awaitable[None]]


@dataclass(frozen=True)
class LivePageSpec:
    path: str
    title: str
    build: Build
    wide_only: bool = False
    as_of: bool = False
    admin_only: bool = False

    def register(self, demo: bool) -> None:
        spec = self

        @ui.page(spec.path)
        async def page(request: Request) -> None:
            live = LivePage.for_request(request, spec.path)
            with frame(spec.title, live, demo=demo):
                role = live.principal.role
                if (spec.wide_only and not role.sees_all) or (spec.admin_only and role is not Role.ADMIN):
                    who = "admin users" if spec.admin_only else "risk and admin users"
                    ui.label(f"The {spec.title.lower()} is for {who}.").classes("text-lg").mark("forbidden")
                    return
                if spec.as_of:
                    TimeControl(live, request.query_params)
                # A path's own parameters (`/accounts/{account_id}`) with the query's.
                await spec.build(live, {**request.query_params, **request.path_params})
            live.start()


def live_page(
    path: str, title: str, *, wide_only: bool = False, as_of: bool = False, admin_only: bool = False
) -> Callable[[Build], LivePageSpec]:
    """Declare a live page; `wide_only` pages are for the roles that see every account,
    `admin_only` ones for admins; `as_of` pages can also show a past moment (the time control)."""

    def declare(build: Build) -> LivePageSpec:
        return LivePageSpec(path, title, build, wide_only, as_of, admin_only)

    return declare
