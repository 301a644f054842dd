"""`python -m dashboard`: run the app, migrate the database, seed and simulate demo data.

Every expected failure ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from pydantic import ValidationError

from dashboard.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard",
        description="TeleBot live risk and reconciliation dashboard.",
        epilog="Configuration comes from DASHBOARD_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="serve the dashboard and the API")
    run.add_argument(
        "--demo", action="store_true", help="seed demo data on first start and keep it moving (demo env only)"
    )
    run.set_defaults(handler=_run)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the latest schema").set_defaults(
        handler=_db_upgrade
    )

    demo = commands.add_parser("demo", help="demo data")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    seed = demo_commands.add_parser("seed", help="build the demo fleet (deterministic for a seed)")
    seed.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    seed.add_argument("--reset", action="store_true", help="delete existing demo data first")
    seed.set_defaults(handler=_demo_seed)
    simulate = demo_commands.add_parser("simulate", help="keep producing quotes, equity and syncs")
    simulate.add_argument("--interval", type=float, default=None, help="seconds between ticks")
    simulate.add_argument("--ticks", type=int, default=None, help="stop after N ticks (default: forever)")
    simulate.set_defaults(handler=_demo_simulate)
    return parser


def _run(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.app import serve

    serve(settings, demo=args.demo)


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    async def go() -> None:
        from dashboard.db.migrate import current_revision, upgrade
        from dashboard.db.session import Database

        db = Database(settings.database_url)
        try:
            await upgrade(db)
            print(f"database at revision {await current_revision(db)}")
        finally:
            await db.dispose()

    _run_async(go)


def _demo_seed(args: argparse.Namespace, settings: Settings) -> None:
    async def go() -> None:
        from dashboard.db.migrate import upgrade
        from dashboard.db.session import Database
        from dashboard.demo.seed import DEMO_PASSWORD, seed_demo

        db = Database(settings.database_url)
        try:
            await upgrade(db)
            report = await seed_demo(db, seed=args.seed, reset=args.reset, progress=True)
            print(report.summary())
            print(f"demo logins (password '{DEMO_PASSWORD}'): {', '.join(report.logins)}")
        finally:
            await db.dispose()

    _run_async(go)


def _demo_simulate(args: argparse.Namespace, settings: Settings) -> None:
    async def go() -> None:
        from dashboard.db.migrate import upgrade
        from dashboard.db.session import Database
        from dashboard.demo.simulator import Simulator

        db = Database(settings.database_url)
        try:
            await upgrade(db)
            interval = args.interval if args.interval is not None else settings.simulate_interval_s
            simulator = Simulator(db, interval_s=interval)
            await simulator.run_forever(max_ticks=args.ticks, verbose=True)
        finally:
            await db.dispose()

    _run_async(go)


def _run_async(factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(factory())
    except KeyboardInterrupt:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from dashboard.services.errors import ServiceError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        field = "DASHBOARD_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        print(f"error: {field}: {first['msg']}", file=sys.stderr)
        return 2
    try:
        args.handler(args, settings)
    except (ServiceError, ValueError, OSError, SQLAlchemyError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    return 0


def _one_line(error: BaseException) -> str:
    """The first line of an error's message (SQLAlchemy appends SQL and links on later lines)."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
