"""Assemble the NiceGUI/FastAPI app: lifecycle, routes and pages.

`configure()` only registers things; `serve()` runs uvicorn through `ui.run`. Nothing happens at
import time, so tests and the CLI can import this module freely.
"""

from __future__ import annotations

import logging

from nicegui import app, background_tasks, ui

from dashboard.api.router import mount_api
from dashboard.auth.secret import resolve_jwt_secret
from dashboard.auth.web import OriginGuard, SessionGuard
from dashboard.db.migrate import upgrade
from dashboard.gc_tuning import tune_gc
from dashboard.runtime import Runtime
from dashboard.settings import Environment, Settings

log = logging.getLogger(__name__)


def get_runtime() -> Runtime:
    """The runtime of this process; set by the start-up hook."""
    runtime: Runtime | None = getattr(app.state, "runtime", None)
    if runtime is None:
        raise RuntimeError("the app has not started yet")
    return runtime


def configure(settings: Settings, *, demo: bool) -> None:
    """Register lifecycle hooks, routes and pages on NiceGUI's app.

    The JWT secret is checked here, before anything starts: production refuses a missing, default
    or short secret (`SecretPolicyError`, a one-line CLI error).
    """
    from pages import guards, home, login, positions, reconciliation, risk

    secret = resolve_jwt_secret(settings)
    if secret.generated:
        log.warning("DASHBOARD_JWT_SECRET is not set: generated a random secret for this start (demo only)")
        print(
            "No DASHBOARD_JWT_SECRET set: using a random secret generated for this start "
            "(sessions end when the app restarts).",
            flush=True,
        )

    async def startup() -> None:
        runtime = Runtime.from_settings(settings, secret.value)
        app.state.runtime = runtime
        await upgrade(runtime.database)
        await runtime.start()
        if demo:
            await _start_demo(runtime)
        tune_gc()

    async def shutdown() -> None:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime is not None:
            await runtime.close()

    app.on_startup(startup)
    app.on_shutdown(shutdown)
    mount_api(app)
    # Added first = inner: the origin check runs before the session check.
    app.add_middleware(SessionGuard)
    app.add_middleware(OriginGuard)
    demo_mode = settings.env is Environment.DEMO
    home.register()
    login.register(demo_mode)
    reconciliation.register(demo_mode)
    positions.register(demo_mode)
    guards.register(demo_mode)
    risk.register(demo_mode)


async def _start_demo(runtime: Runtime) -> None:
    """Seed on first start, then keep the data moving with the in-process simulator."""
    from dashboard.demo.seed import DEMO_PASSWORD, demo_logins, ensure_demo_passwords, is_seeded, seed_demo
    from dashboard.demo.simulator import Simulator

    if not await is_seeded(runtime.database):
        log.warning("seeding demo data (first start)...")
        await seed_demo(runtime.database)
    await ensure_demo_passwords(runtime.database)
    simulator = Simulator(
        runtime.database, interval_s=runtime.settings.simulate_interval_s, on_write=runtime.cache.invalidate
    )
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
        # Kept per tab so a reconnect can replay what it missed; a reconnect comes within
        # seconds, so 20 messages (10-40 s at 2-5 s ticks) suffice and keep tabs small.
        message_history_length=20,
    )


__all__ = ["configure", "get_runtime", "serve"]
