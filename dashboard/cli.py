"""`python -m dashboard`: run the app, migrate the database, seed and simulate demo data.

Every expected failure ends as one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from pydantic import ValidationError

from dashboard.settings import Environment, Settings


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
    users = commands.add_parser(
        "users", help="user administration (passwords are read from a prompt or stdin)"
    )
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    create = user_commands.add_parser(
        "create", help="create a user; the password comes from a prompt or stdin"
    )
    create.add_argument("email")
    create.add_argument("--role", required=True, help="trader, risk, admin or service")
    create.add_argument("--name", default=None, help="display name (default: the part before @)")
    create.set_defaults(handler=_users_create)
    user_commands.add_parser("list", help="list users").set_defaults(handler=_users_list)
    set_role = user_commands.add_parser("set-role", help="change a user's role (ends their sessions)")
    set_role.add_argument("email")
    set_role.add_argument("role")
    set_role.set_defaults(handler=_users_set_role)
    for name, active in (("disable", False), ("enable", True)):
        command = user_commands.add_parser(name, help=f"{name} a user (ends their sessions)")
        command.add_argument("email")
        command.set_defaults(handler=_users_set_active, active=active)
    password = user_commands.add_parser("set-password", help="set a new password (prompt or stdin)")
    password.add_argument("email")
    password.set_defaults(handler=_users_set_password)
    token = user_commands.add_parser(
        "token", help="issue a long-lived access token for a service user (printed once, never stored)"
    )
    token.add_argument("email")
    token.add_argument("--name", default="cli", help="what the token is for (default: cli)")
    token.add_argument("--days", type=int, default=90, help="lifetime in days (1-365, default 90)")
    token.set_defaults(handler=_users_token)
    tokens = user_commands.add_parser("tokens", help="list stored service tokens (never the tokens)")
    tokens.add_argument("email", nargs="?", default=None, help="only this service user's")
    tokens.set_defaults(handler=_users_tokens)
    revoke = user_commands.add_parser("revoke-token", help="revoke one service token (its other tokens stay)")
    revoke.add_argument("jti", help="the token's id, or a unique prefix of at least 8 characters")
    revoke.set_defaults(handler=_users_revoke_token)
    alerts = commands.add_parser("alerts", help="alert channels (URLs are read from a prompt or stdin)")
    alert_commands = alerts.add_subparsers(dest="alerts_command", required=True, metavar="WHAT")
    channels = alert_commands.add_parser("channels", help="where alerts are sent (Apprise URLs)")
    channel_commands = channels.add_subparsers(dest="channels_command", required=True, metavar="ACTION")
    add = channel_commands.add_parser(
        "add", help="add a channel; its Apprise URL (it holds secrets) comes from a prompt or stdin"
    )
    add.add_argument("name")
    add.add_argument("--min-level", default="warning", help="normal, warning (default) or critical")
    add.add_argument("--renotify-s", type=int, default=300, help="flap control of its catch-all rule")
    add.add_argument(
        "--no-rule", action="store_true", help="no catch-all rule: add rules with `alerts rules`"
    )
    add.set_defaults(handler=_channels_add)
    channel_commands.add_parser("list", help="list channels (URLs masked)").set_defaults(
        handler=_channels_list
    )
    for name, handler, text in (
        ("test", "_channels_test", "send a test message through a channel now"),
        ("remove", "_channels_remove", "stop sending to a channel (its history stays)"),
    ):
        command = channel_commands.add_parser(name, help=text)
        command.add_argument("name")
        command.set_defaults(handler=globals()[handler])
    rules = alert_commands.add_parser("rules", help="which alerts go to which channel (team rules)")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rule = rule_commands.add_parser("add", help="route alerts to a channel")
    rule.add_argument("name")
    rule.add_argument("--channel", required=True)
    rule.add_argument("--kinds", default="", help="comma-separated: guard, incident, silence, system (all)")
    rule.add_argument("--accounts", default="", help="comma-separated account ids (all)")
    rule.add_argument("--min-level", default="warning", help="normal, warning (default) or critical")
    rule.add_argument("--renotify-s", type=int, default=300, help="flap control: min seconds between raises")
    rule.add_argument("--escalate-after-s", type=int, help="unacknowledged critical: escalate after")
    rule.add_argument("--escalation-channel", help="where an escalation goes")
    rule.set_defaults(handler=_rules_add)
    rule_commands.add_parser("list", help="list rules").set_defaults(handler=_rules_list)
    drop = rule_commands.add_parser("remove", help="remove a rule")
    drop.add_argument("name")
    drop.set_defaults(handler=_rules_remove)
    return parser


def _read_password(prompt: bool = True) -> str:
    """From a prompt (typed twice) on a terminal, else the first line of stdin; never from argv."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if prompt and getpass.getpass("Repeat: ") != first:
            raise ValueError("passwords do not match")
        return first
    line = sys.stdin.readline()
    if not line:
        raise ValueError("no password on stdin")
    return line.rstrip("\r\n")


async def _with_db(settings: Settings, work: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    from dashboard.db.migrate import upgrade
    from dashboard.db.session import Database

    db = Database(settings.database_url)
    try:
        await upgrade(db)
        return await work(db)
    finally:
        await db.dispose()


async def _with_writer(settings: Settings, work: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    """`work(writer)` on a migrated database with the app's one write path: changes reach running
    app processes through Redis (when configured), like any write of the app's own."""
    from dashboard.cache.cache import CacheConfig, QueryCache
    from dashboard.cache.writer import Writer
    from dashboard.db.pending_invalidations import DatabasePendingStore

    async def go(db: Any) -> Any:
        cache = QueryCache(CacheConfig.from_settings(settings), pending_store=DatabasePendingStore(db))
        try:
            return await work(Writer(db, cache))
        finally:
            await cache.close()

    return await _with_db(settings, go)


def _admin(settings: Settings, call: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    from dashboard.auth.admin import UserAdmin

    return asyncio.run(_with_writer(settings, lambda writer: call(UserAdmin(writer))))


def _print_user(user: Any) -> None:
    state = "active" if user.is_active else "disabled"
    print(f"{user.id}\t{user.email}\t{user.role.value}\t{state}{chr(9) + 'demo' if user.is_demo else ''}")


def _read_secret(what: str) -> str:
    """A secret from a prompt on a terminal, else the first line of stdin; never from argv."""
    import getpass

    if sys.stdin.isatty():
        return getpass.getpass(f"{what}: ")
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise ValueError(f"no {what} on stdin")
    return line


def _print_channel(channel: Any) -> None:
    state = "enabled" if channel.enabled else "removed"
    print(f"{channel.id}\t{channel.name}\t{channel.url}\t{channel.min_level.value}+\t{state}")


async def _alert_secrets(settings: Settings, db: Any) -> Any:
    """The settings' key; in demo mode without one, the demo database's own (as the app does)."""
    from dashboard.demo.alerts import demo_alert_secrets
    from dashboard.services.alerts.secrets import ChannelSecrets

    if settings.alerts_key is None and settings.env is Environment.DEMO:
        return await demo_alert_secrets(db)
    return ChannelSecrets.of(settings.alerts_key)


def _channels_add(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.services.alerts.channels import add_channel

    url = _read_secret("Apprise URL")

    async def add(db: Any) -> Any:
        secrets = await _alert_secrets(settings, db)
        return await add_channel(
            db,
            secrets,
            args.name,
            url,
            min_level=args.min_level,
            with_rule=not args.no_rule,
            renotify_s=args.renotify_s,
        )

    _print_channel(asyncio.run(_with_db(settings, add)))


def _channels_list(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.services.alerts.channels import list_channels

    for channel in asyncio.run(_with_db(settings, list_channels)):
        _print_channel(channel)


def _channels_remove(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.services.alerts.channels import remove_channel

    _print_channel(asyncio.run(_with_db(settings, lambda db: remove_channel(db, args.name))))


def _channels_test(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.services.alerts.channels import send_test_message
    from dashboard.services.alerts.sender import apprise_send

    async def test(db: Any) -> Any:
        return await send_test_message(db, await _alert_secrets(settings, db), args.name, apprise_send)

    error = asyncio.run(_with_db(settings, test))
    if error is not None:
        raise ValueError(f"channel {args.name!r}: {error}")
    print(f"test message accepted by channel {args.name!r}")


def _print_rule(rule: Any) -> None:
    kinds = ",".join(k.value for k in rule.kinds) or "all kinds"
    accounts = ",".join(str(a) for a in rule.account_ids) or "all accounts"
    escalation = (
        f"\tescalate after {rule.escalate_after_s}s to {rule.escalation_channel}"
        if rule.escalation_channel
        else ""
    )
    print(
        f"{rule.id}\t{rule.name}\t-> {rule.channel}\t{kinds}\t{accounts}\t{rule.min_level.value}+"
        f"\trenotify {rule.renotify_s}s{escalation}"
    )


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _rules_add(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.services.alerts.rules import RuleSpec, add_rule

    try:
        accounts = [int(a) for a in _csv(args.accounts)]
    except ValueError:
        raise ValueError("--accounts: comma-separated account ids") from None
    spec = RuleSpec(
        name=args.name,
        channel=args.channel,
        kinds=_csv(args.kinds),
        account_ids=accounts,
        min_level=args.min_level,
        renotify_s=args.renotify_s,
        escalate_after_s=args.escalate_after_s,
        escalation_channel=args.escalation_channel,
    )
    _print_rule(asyncio.run(_with_db(settings, lambda db: add_rule(db, spec))))


def _rules_list(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.services.alerts.rules import list_rules

    for rule in asyncio.run(_with_db(settings, list_rules)):
        _print_rule(rule)


def _rules_remove(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.services.alerts.rules import remove_rule

    _print_rule(asyncio.run(_with_db(settings, lambda db: remove_rule(db, args.name))))


def _users_create(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password()
    _print_user(_admin(settings, lambda admin: admin.create(args.email, args.role, password, args.name)))


def _users_list(args: argparse.Namespace, settings: Settings) -> None:
    for user in _admin(settings, lambda admin: admin.list()):
        _print_user(user)


def _users_set_role(args: argparse.Namespace, settings: Settings) -> None:
    _print_user(_admin(settings, lambda admin: admin.set_role(args.email, args.role)))


def _users_set_active(args: argparse.Namespace, settings: Settings) -> None:
    _print_user(_admin(settings, lambda admin: admin.set_active(args.email, args.active)))


def _users_set_password(args: argparse.Namespace, settings: Settings) -> None:
    password = _read_password()
    _print_user(_admin(settings, lambda admin: admin.set_password(args.email, password)))


def _users_token(args: argparse.Namespace, settings: Settings) -> None:
    from datetime import timedelta

    from dashboard.auth.admin import UserAdmin
    from dashboard.auth.secret import resolve_jwt_secret
    from dashboard.auth.sessions import AuthService
    from dashboard.auth.tokens import TokenService
    from dashboard.services.login_throttle import LoginPolicy

    if not 1 <= args.days <= 365:
        raise ValueError("--days must be between 1 and 365")
    secret = resolve_jwt_secret(settings)
    if secret.generated:
        raise ValueError(
            "users token needs DASHBOARD_JWT_SECRET: the token must be signed with the app's secret"
        )
    tokens = TokenService(secret.value, access_ttl=timedelta(days=args.days), refresh_ttl=timedelta(days=1))

    async def go(writer: Any) -> Any:
        admin = UserAdmin(writer, AuthService(writer.cache, writer, tokens, LoginPolicy()))
        return await admin.issue_token(args.email, args.name, args.days)

    print(asyncio.run(_with_writer(settings, go)).token)


def _print_token(token: Any) -> None:
    """One stored token: id, name, user, created, expires, state (never the token itself)."""
    when = "%Y-%m-%d %H:%M UTC"
    state = token.state.value
    if token.revoked_at is not None:
        state += f" {token.revoked_at.strftime(when)}" + (
            f" by {token.revoked_by_email}" if token.revoked_by_email else ""
        )
    print(
        f"{token.jti}\t{token.name}\t{token.user_email}\tcreated {token.created_at.strftime(when)}"
        f"\texpires {token.expires_at.strftime(when)}\t{state}"
    )


def _users_tokens(args: argparse.Namespace, settings: Settings) -> None:
    for token in _admin(settings, lambda admin: admin.tokens(args.email)):
        _print_token(token)


def _users_revoke_token(args: argparse.Namespace, settings: Settings) -> None:
    _print_token(_admin(settings, lambda admin: admin.revoke_token(args.jti)))


def _run(args: argparse.Namespace, settings: Settings) -> None:
    from dashboard.web.shared_storage import use_shared_storage

    use_shared_storage(settings)  # before NiceGUI is imported (by dashboard.app)
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
    """Writes through the app's write path: with Redis configured, running app processes see them."""

    async def go(writer: Any) -> None:
        from datetime import timedelta

        from dashboard.demo.simulator import Simulator

        interval = args.interval if args.interval is not None else settings.simulate_interval_s
        every = timedelta(seconds=settings.simulate_equity_every_s)
        await Simulator(writer, interval_s=interval, equity_every=every).run_forever(
            max_ticks=args.ticks, verbose=True
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_with_writer(settings, go))


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
