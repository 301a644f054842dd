"""Assemble the service: the API in front, the NiceGUI pages behind it, and the lifecycle.

- `configure()` registers the pages, their guards and the start-up/shutdown hooks on NiceGUI's
  app; nothing happens at import time, so tests and the CLI can import this module freely.
- `serve()` puts the API app (`dashboard.api.router.build_api`) in front: `/api`, `/health*` and
  the docs are answered there, without passing through the pages' middleware; every other path
  goes on to NiceGUI (mounted behind it with `ui.run_with`), except the pages' socket, which goes
  straight to socket.io (`served`, `dashboard.web.socket_route`). Then it runs uvicorn.

Start-up runs in the background while the server already answers `/health/live`: build the
runtime, migrate (retrying while the database is unreachable), seed the demo on first start,
then mark the process ready and only then print its URL. Until then pages and the API answer 503
(`/health/ready` says why), so nobody can log in before the logins exist.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI
from nicegui import app, background_tasks, core, ui
from nicegui.nicegui import sio_app

from dashboard.api.router import build_api
from dashboard.auth.secret import JwtSecret, resolve_jwt_secret
from dashboard.background import leader_work, watch_trouble
from dashboard.db.migrate import upgrade
from dashboard.db.outage import DatabaseUnavailable
from dashboard.demo.alerts import demo_alert_secrets, ensure_demo_channel
from dashboard.demo.seed import DEMO_PASSWORD, demo_logins, ensure_demo_passwords, is_seeded, seed_demo
from dashboard.gc_tuning import COLLECT_EVERY_S, ClosedTabs, tune_gc
from dashboard.metrics import RequestMetrics
from dashboard.runtime import NotReady, Runtime, current_metrics, current_runtime, install_runtime
from dashboard.services.errors import ServiceError
from dashboard.settings import Environment, Settings
from dashboard.web import session, socket_events, socket_rooms
from dashboard.web.client_gone import ClientGone
from dashboard.web.graceful import GracefulServer
from dashboard.web.guards import ASGIApp, OriginGuard, SessionGuard
from dashboard.web.proxies import behind_proxies
from dashboard.web.socket_route import SocketRoute
from dashboard.web.websocket_protocol import WebSocketProtocol
from pages import (
    account,
    admin,
    alert_ack,
    alerts,
    audit,
    guards,
    home,
    login,
    positions,
    reconciliation,
    risk,
)

log = logging.getLogger(__name__)

TITLE = "TeleBot Live Dashboard"
MIGRATION_RETRY_S = 2.0
RECONNECT_TIMEOUT_S = 10.0
#: After the tabs were asked to move, uvicorn waits this long for open requests before closing.
GRACEFUL_SHUTDOWN_S = 2
#: What a draining process asks every open tab to run (nicegui.js evaluates it).
RELOAD = "window.location.reload()"


def configure(settings: Settings, *, demo: bool) -> JwtSecret:
    """Register lifecycle hooks, the browser-session routes, the guards and the pages.

    The JWT secret is checked here, before anything starts: production refuses a missing, default
    or short secret (`SecretPolicyError`, a one-line CLI error).
    """
    secret = resolve_jwt_secret(settings)
    if secret.generated:
        print(
            "No DASHBOARD_JWT_SECRET set: using a random secret generated for this start "
            "(sessions end when the app restarts).",
            flush=True,
        )

    async def startup() -> None:
        runtime = Runtime.from_settings(settings, secret.value)
        runtime.readiness.demo = demo
        install_runtime(runtime)
        await _bring_up(runtime, demo=demo)

    async def shutdown() -> None:
        try:
            runtime = current_runtime()
        except Exception:
            return
        install_runtime(None)
        await runtime.close()

    app.on_startup(startup)
    app.on_shutdown(shutdown)
    closed_tabs = ClosedTabs()
    app.on_delete(closed_tabs.deleted)
    app.timer(COLLECT_EVERY_S, closed_tabs.collect)
    # NiceGUI keeps each tab's (unused here) tab storage for 30 days by default.
    app.storage.max_tab_storage_age = 600
    app.include_router(session.router)
    socket_rooms.install(core.sio)
    socket_events.install(core.sio)  # a page's events only from that page's own sockets
    # Added first = inner: the origin check runs before the session check.
    app.add_middleware(SessionGuard)
    app.add_middleware(OriginGuard)
    demo_mode = settings.env is Environment.DEMO
    home.register()
    login.register(demo_mode)
    alert_ack.register(demo_mode)
    pages = (reconciliation, positions, guards, alerts, risk, audit, account, admin)
    for live in (module.page for module in pages):
        live.register(demo_mode)
    return secret


async def _bring_up(runtime: Runtime, *, demo: bool) -> None:
    """Migrate, seed (demo), start the cache, then report ready and print where to go."""
    while True:
        try:
            await upgrade(runtime.database)
            break
        except DatabaseUnavailable:
            await asyncio.sleep(MIGRATION_RETRY_S)  # logged once by the database's monitor
    runtime.readiness.migrated = True
    await runtime.start()
    if demo:
        await _prepare_demo(runtime)
    runtime.readiness.seeded = True
    tune_gc()
    url = f"http://{runtime.settings.host}:{runtime.settings.port}/"
    print(f"Dashboard ready at {url}", flush=True)
    if demo:
        logins = ", ".join(await demo_logins(runtime.database))
        print(f"Demo logins (password '{DEMO_PASSWORD}'): {logins}", flush=True)
    # Background work runs once per cluster: in whichever process holds the leader lock.
    background_tasks.create(runtime.leadership.run(leader_work(runtime, demo=demo)), name="leader")
    background_tasks.create(watch_trouble(runtime), name="trouble")


async def _prepare_demo(runtime: Runtime) -> None:
    """Seed on first start (until the seed's marker is there), give demo users the password, and
    set up the demo's alert channel."""
    if not await is_seeded(runtime.database):
        log.warning("seeding demo data (first start)...")
        try:
            await seed_demo(runtime.database)
        except ServiceError as error:  # another data set is there: leave it alone
            log.warning("not seeding the demo: %s", error)
    await ensure_demo_passwords(runtime.database)
    if runtime.settings.alerts_key is None:
        runtime.alert_secrets = await demo_alert_secrets(runtime.database)
    await ensure_demo_channel(runtime.database, runtime.alert_secrets, runtime.settings.demo_alert_log)


def serve(settings: Settings, *, demo: bool) -> None:
    """Run the server in this process (one process: NiceGUI refuses several workers)."""
    if settings.env is Environment.PRODUCTION and demo:
        raise ValueError("--demo is refused with DASHBOARD_ENV=production")
    configure(settings, demo=demo)
    api = build_api()
    ui.run_with(
        api,
        mount_path="/",
        title=TITLE,
        language="en-US",  # Quasar's texts and <html lang>, which screen readers need
        # Kept per tab so a reconnect can replay what it missed; a reconnect comes within
        # seconds, so 20 messages (10-40 s at 2-5 s ticks) suffice and keep tabs small.
        message_history_length=20,
        # A tab whose socket dropped keeps its page this long (NiceGUI's default is 3 s). When a
        # whole desk reconnects at once (a network blip, a proxy reload) one process works through
        # the handshakes in turn: measured at 1,000 tabs, 120 reconnects came after 3 s, and each
        # would have cost its browser a full page load on top of the queue.
        reconnect_timeout=RECONNECT_TIMEOUT_S,
        show_welcome_message=False,
    )
    config = uvicorn.Config(
        served(api, settings.trusted_proxy_list),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        ws=WebSocketProtocol,  # both measured: dashboard/web/websocket_protocol.py
        ws_per_message_deflate=False,
        proxy_headers=False,  # forwarded headers are read in the app, from trusted proxies only
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    GracefulServer(config, lambda: drain(settings.drain_s)).run()


async def drain(wait_s: float) -> None:
    """SIGTERM: stop taking new browsers, then move the open tabs to another process.

    Not ready first (the proxy's health check sees it and sends new browsers elsewhere); after
    `wait_s` every tab reloads its page, now answered by another process (which the proxy's cookie
    then pins it to), with its session cookie, so nobody logs in again. A plain reload rather than
    NiceGUI's `try_reconnect`, which fetches the page once before reloading it: every moved tab
    would cost the survivor two page builds (measured in bench/cluster.py). The leader gives its
    lock up at once.
    """
    try:
        runtime = current_runtime()
    except NotReady:
        return  # stopped while starting: nothing is served yet
    runtime.readiness.draining = True
    log.warning("SIGTERM: draining; open tabs are moved in %.1f s", wait_s)
    await runtime.leadership.resign()
    await asyncio.sleep(wait_s)
    await core.sio.emit("run_javascript", {"code": RELOAD})
    await asyncio.sleep(0.2)  # let the sockets carry the message before they close


def served(api: FastAPI, trusted_proxies: Sequence[str] = ()) -> ASGIApp:
    """What the server runs: the client as the trusted proxies report it, every request timed for
    `/metrics`, a client that left mid-request not logged as an error (`ClientGone`), then the
    pages' socket straight to socket.io and everything else to the API, with
    the pages mounted behind it."""
    return behind_proxies(
        RequestMetrics(ClientGone(SocketRoute(api, sio_app)), current_metrics), trusted_proxies
    )


__all__ = ["configure", "drain", "serve", "served"]
