"""Assemble the NiceGUI/FastAPI app: lifecycle, routes and pages.

`configure()` only registers things; `serve()` runs uvicorn through `ui.run`. Nothing happens at
import time, so tests and the CLI can import this module freely.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from nicegui import app, background_tasks, ui

from dashboard.db.migrate import upgrade
from dashboard.health import HealthReport, check_health
from dashboard.runtime import Runtime
from dashboard.settings import Environment, Settings

log = logging.getLogger(__name__)

health_router = APIRouter()


def get_runtime() -> Runtime:
    """The runtime of this process; set by the start-up hook."""
    runtime: Runtime | None = getattr(app.state, "runtime", None)
    if runtime is None:
        raise RuntimeError("the app has not started yet")
    return runtime


@health_router.get("/health", response_model=HealthReport, tags=["health"])
async def health(request: Request) -> HealthReport:
    return await check_health(get_runtime())


def configure(settings: Settings, *, demo: bool) -> None:
    """Register lifecycle hooks, routes and pages on NiceGUI's app."""
    from pages import home

    async def startup() -> None:
        runtime = Runtime.from_settings(settings)
        app.state.runtime = runtime
        await upgrade(runtime.database)
        if demo:
            await _start_demo(runtime)

    async def shutdown() -> None:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime is not None:
            await runtime.close()

    app.on_startup(startup)
    app.on_shutdown(shutdown)
    app.include_router(health_router)
    home.register(settings)


async def _start_demo(runtime: Runtime) -> None:
    """Seed on first start, then keep the data moving with the in-process simulator."""
    from dashboard.demo.seed import DEMO_PASSWORD, demo_logins, is_seeded, seed_demo
    from dashboard.demo.simulator import Simulator

    if not await is_seeded(runtime.database):
        log.warning("seeding demo data (first start)...")
        await seed_demo(runtime.database)
    simulator = Simulator(runtime.database, interval_s=runtime.settings.simulate_interval_s)
    background_tasks.create(simulator.run_forever(), name="demo-simulator")
    logins = ", ".join(await demo_logins(runtime.database))
    url = f"http://{runtime.settings.host}:{runtime.settings.port}/"
    print(f"Demo dashboard at {url}\nDemo logins (password '{DEMO_PASSWORD}'): {logins}", flush=True)


def serve(settings: Settings, *, demo: bool) -> None:
    """Run the server in this process (one process: NiceGUI refuses several workers)."""
    if settings.env is Environment.PRODUCTION and demo:
        raise ValueError("--demo is refused with DASHBOARD_ENV=production")
    configure(settings, demo=demo)
    ui.run(
        host=settings.host,
        port=settings.port,
        title="TeleBot Live Dashboard",
        reload=False,
        show=False,
        fastapi_docs=True,
        show_welcome_message=True,
        uvicorn_logging_level="warning",
    )


__all__ = ["configure", "get_runtime", "serve"]
