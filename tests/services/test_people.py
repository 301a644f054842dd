"""People and access below the page and the API: stored service tokens (issued, listed, revoked
alone and refused at the very next check), active sessions derived from logins, refresh-token
families and session-ending events, ending a user's sessions as an admin, and every refusal
(a non-admin acting, an admin disabling or demoting themselves) leaving nothing changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.auth.sessions import AuthService
from dashboard.auth.tokens import TokenService
from dashboard.cache.cache import CacheConfig, QueryCache
from dashboard.cache.queries import CachedQueries
from dashboard.cache.writer import Writer
from dashboard.db.models import AuditLog, RefreshToken, ServiceToken, User
from dashboard.db.session import Database
from dashboard.domain.enums import Role
from dashboard.schemas.people import SessionVia, TokenState
from dashboard.services import service_tokens, users
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from dashboard.services.login_throttle import LoginPolicy
from dashboard.services.queries.people import service_tokens as token_list
from dashboard.services.queries.people import user_sessions, users_overview
from dashboard.services.viewer import Viewer
from tests.factories import make_user
from tests.services import World, build_world

SECRET = "people-test-secret-" + "Hq7Vx2Kp9Lm4Nr8Ts3Wz"
BROWSER_TTL = timedelta(hours=12)


@dataclass
class Desk:
    db: Database
    w: World
    bot: Viewer
    write: Writer
    auth: AuthService
    queries: CachedQueries


@pytest.fixture
async def desk(database: Database) -> Desk:
    w = await build_world(database)
    async with database.session() as s:
        bot = await make_user(s, "bot@x", Role.SERVICE)
    cache = QueryCache(CacheConfig())
    write = Writer(database, cache)
    tokens = TokenService(SECRET, access_ttl=timedelta(minutes=15), refresh_ttl=timedelta(days=7))
    return Desk(
        database,
        w,
        Viewer(bot.id, Role.SERVICE),
        write,
        AuthService(cache, write, tokens, LoginPolicy()),
        CachedQueries(database, cache),
    )


async def audit_rows(db: Database, action: AuditAction) -> list[AuditLog]:
    async with db.read_session() as s:
        query = select(AuditLog).where(AuditLog.action == action.value).order_by(AuditLog.id)
        return list((await s.execute(query)).scalars())


async def version_of(db: Database, user_id: int) -> int:
    async with db.read_session() as s:
        user = await s.get(User, user_id)
    assert user is not None
    return user.session_version


# ---- service tokens ----------------------------------------------------------------------------


async def test_a_stored_token_is_listed_and_revoked_alone(desk: Desk) -> None:
    db, admin = desk.db, desk.w.admin
    first = await desk.auth.service_token("bot@x", "bridge-1", 30, admin, "10.1.1.1")
    second = await desk.auth.service_token("BOT@x ", "bridge-2", 7, admin)
    for issued in (first, second):
        assert (await desk.auth.principal(issued.signed.token.token)).user_id == desk.bot.user_id
    listed = (await token_list(db, admin)).tokens
    assert [(t.name, t.state, t.user_email, t.created_by_email) for t in listed] == [
        ("bridge-2", TokenState.ACTIVE, "bot@x", "adam@x"),
        ("bridge-1", TokenState.ACTIVE, "bot@x", "adam@x"),
    ]
    assert listed[1].expires_at - listed[1].created_at == pytest.approx(
        timedelta(days=30), abs=timedelta(seconds=1)
    )

    jti = first.signed.jti
    revoked = await desk.write(service_tokens.revoke, admin, jti[:8], "10.2.2.2")
    assert revoked.view.jti == jti and revoked.view.state is TokenState.REVOKED
    with pytest.raises(Unauthenticated):
        await desk.auth.principal(first.signed.token.token)
    assert (await desk.auth.principal(second.signed.token.token)).user_id == desk.bot.user_id
    states = {
        t.name: (t.state, t.revoked_by_email) for t in (await token_list(db, admin, email="bot@x")).tokens
    }
    assert states == {"bridge-1": (TokenState.REVOKED, "adam@x"), "bridge-2": (TokenState.ACTIVE, None)}

    issued_rows = await audit_rows(db, AuditAction.SERVICE_TOKEN_ISSUED)
    revoked_rows = await audit_rows(db, AuditAction.SERVICE_TOKEN_REVOKED)
    assert [(r.actor_user_id, r.target, r.client_addr) for r in issued_rows] == [
        (admin.user_id, f"service_token:{jti}", "10.1.1.1"),
        (admin.user_id, f"service_token:{second.signed.jti}", None),
    ]
    assert [(r.actor_user_id, r.target, r.client_addr) for r in revoked_rows] == [
        (admin.user_id, f"service_token:{jti}", "10.2.2.2")
    ]
    everything = json.dumps([(r.target, r.detail) for r in issued_rows + revoked_rows])
    for issued in (first, second):
        assert issued.signed.token.token not in everything
        assert issued.signed.token.token.split(".")[2] not in everything  # not even the signature


async def test_only_a_revoked_unexpired_token_of_a_service_user_is_in_its_session_state(desk: Desk) -> None:
    now = datetime.now(UTC)
    async with desk.db.session() as s:
        for jti, expires, revoked in (
            ("gone-but-valid-0001", now + timedelta(days=1), now),
            ("gone-and-expired-01", now - timedelta(seconds=1), now - timedelta(days=2)),
            ("still-active-00001", now + timedelta(days=1), None),
        ):
            s.add(
                ServiceToken(
                    jti=jti,
                    user_id=desk.bot.user_id,
                    name=jti,
                    created_at=now - timedelta(days=3),
                    expires_at=expires,
                    revoked_at=revoked,
                )
            )
    assert (await users.session_state(desk.db, desk.bot.user_id)).revoked_tokens == ("gone-but-valid-0001",)
    assert (await users.session_state(desk.db, desk.w.alice.user_id)).revoked_tokens == ()


async def test_token_rules_and_refusals_change_nothing(desk: Desk) -> None:
    db, admin, w = desk.db, desk.w.admin, desk.w
    for actor in (w.risk, w.alice, desk.bot):
        with pytest.raises(Forbidden):
            await desk.auth.service_token("bot@x", "sneaky", 30, actor)
    for email, name, days, field in (
        ("alice@x", "x", 30, "email"),  # a trader
        ("bot@x", "  ", 30, "name"),
        ("bot@x", "n" * 81, 30, "name"),
        ("bot@x", "ok", 0, "days"),
        ("bot@x", "ok", 366, "days"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await desk.auth.service_token(email, name, days, admin)
        assert refused.value.field == field
    with pytest.raises(NotFound):
        await desk.auth.service_token("nobody@x", "ok", 30, admin)
    await desk.write(users.set_active, "bot@x", False, actor=admin)
    with pytest.raises(InvalidInput, match="active users with role 'service'"):
        await desk.auth.service_token("bot@x", "ok", 30, admin)
    await desk.write(users.set_active, "bot@x", True, actor=admin)
    async with db.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(ServiceToken))).scalar_one() == 0

    issued = await desk.auth.service_token("bot@x", "cli", 1, None)  # the operator at the shell
    assert issued.view.created_by_email is None
    for actor in (w.risk, w.alice):
        with pytest.raises(Forbidden):
            await desk.write(service_tokens.revoke, actor, issued.signed.jti)
    with pytest.raises(InvalidInput, match="8 characters"):
        await desk.write(service_tokens.revoke, admin, issued.signed.jti[:7])
    with pytest.raises(NotFound):
        await desk.write(service_tokens.revoke, admin, "zzzzzzzzzzzz")
    assert (await desk.auth.principal(issued.signed.token.token)).user_id == desk.bot.user_id
    await desk.write(service_tokens.revoke, None, issued.signed.jti)
    with pytest.raises(Conflict):
        await desk.write(service_tokens.revoke, admin, issued.signed.jti)
    assert [r.actor_user_id for r in await audit_rows(db, AuditAction.SERVICE_TOKEN_REVOKED)] == [None]


async def test_a_prefix_naming_two_tokens_is_refused(desk: Desk) -> None:
    now = datetime.now(UTC)
    async with desk.db.session() as s:
        for jti in ("Same_Prefix_aaaa", "Same_Prefix_bbbb", "same_prefix_cccc"):
            s.add(
                ServiceToken(
                    jti=jti,
                    user_id=desk.bot.user_id,
                    name=jti,
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                )
            )
    with pytest.raises(InvalidInput, match="more than one"):
        await desk.write(service_tokens.revoke, desk.w.admin, "Same_Prefix")
    # Case matters (ids are case-sensitive), and `_` is no wildcard.
    done = await desk.write(service_tokens.revoke, desk.w.admin, "same_prefix")
    assert done.view.jti == "same_prefix_cccc"
    with pytest.raises(NotFound):
        await desk.write(service_tokens.revoke, desk.w.admin, "Same-Prefix")
    with pytest.raises(InvalidInput):  # not an id's character: never reaches the database
        await desk.write(service_tokens.revoke, desk.w.admin, "Same%Prefix")


async def test_ending_a_service_users_sessions_ends_its_tokens_and_lists_them_as_ended(desk: Desk) -> None:
    issued = await desk.auth.service_token("bot@x", "bridge", 30, desk.w.admin)
    await desk.write(users.end_sessions, desk.bot.user_id, AuditAction.SESSIONS_ENDED, actor=desk.w.admin)
    with pytest.raises(Unauthenticated):
        await desk.auth.principal(issued.signed.token.token)
    assert [t.state for t in (await token_list(desk.db, desk.w.admin)).tokens] == [TokenState.ENDED]
    later = await desk.auth.service_token("bot@x", "bridge-2", 30, desk.w.admin)
    states = {t.name: t.state for t in (await token_list(desk.db, desk.w.admin)).tokens}
    assert states == {"bridge": TokenState.ENDED, "bridge-2": TokenState.ACTIVE}
    assert (await desk.auth.principal(later.signed.token.token)).user_id == desk.bot.user_id


# ---- sessions ----------------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, 0, 500_000, tzinfo=UTC)


async def _logins(desk: Desk) -> None:
    """Alice: a browser login an hour ago (active) and one 13 h ago (past its 12 h). Bob: an API
    login two hours ago whose refresh family was rotated and lives on; one three hours ago whose
    family has expired. Rita (risk): a login, a logout, then a login again. Adam: never."""
    w = desk.w
    async with desk.db.session() as s:

        def login(user: Viewer, at: datetime, addr: str, via: str | None) -> None:
            detail = {"via": via} if via else None
            audit(
                s,
                AuditAction.LOGIN,
                actor_user_id=user.user_id,
                target="",
                client_addr=addr,
                detail=detail,
                now=at,
            )

        def refresh(user: Viewer, family: str, issued: datetime, expires: datetime, used: bool) -> None:
            s.add(
                RefreshToken(
                    jti=f"{family}-{issued.timestamp()}",
                    user_id=user.user_id,
                    family=family,
                    issued_at=issued.replace(microsecond=0),
                    expires_at=expires,
                    used_at=issued + timedelta(minutes=15) if used else None,
                )
            )

        login(w.alice, NOW - timedelta(hours=1), "10.0.0.1", "browser")
        login(w.alice, NOW - timedelta(hours=13), "10.0.0.2", "browser")
        api_login = NOW - timedelta(hours=2)
        login(w.bob, api_login, "10.0.0.3", None)
        refresh(w.bob, "fam-live", api_login, api_login + timedelta(days=7), used=True)
        refresh(w.bob, "fam-live", api_login + timedelta(minutes=15), NOW + timedelta(days=7), used=False)
        old_login = NOW - timedelta(hours=3)
        login(w.bob, old_login, "10.0.0.4", None)
        refresh(w.bob, "fam-dead", old_login, NOW - timedelta(minutes=1), used=False)
        login(w.risk, NOW - timedelta(minutes=30), "10.0.0.5", "browser")
        audit(
            s,
            AuditAction.LOGOUT,
            actor_user_id=w.risk.user_id,
            target="rita@x",
            now=NOW - timedelta(minutes=20),
        )
        login(w.risk, NOW - timedelta(minutes=10), "10.0.0.6", "browser")


async def test_active_sessions_are_logins_within_their_lifetime_after_the_last_ending(desk: Desk) -> None:
    await _logins(desk)
    w = desk.w
    overview = await users_overview(desk.db, w.admin, BROWSER_TTL, now=NOW)
    rows = {u.email: u for u in overview.users}
    assert {e: (r.active_sessions, r.last_login_addr) for e, r in rows.items()} == {
        "alice@x": (1, "10.0.0.1"),
        "bob@x": (1, "10.0.0.3"),
        "rita@x": (1, "10.0.0.6"),
        "adam@x": (0, None),
        "bot@x": (0, None),
    }
    assert rows["alice@x"].last_login_at == NOW - timedelta(hours=1) and rows["adam@x"].last_login_at is None

    bob = await user_sessions(desk.db, w.admin, w.bob.user_id, BROWSER_TTL, now=NOW)
    assert [(v.via, v.started_at, v.expires_at, v.client_addr) for v in bob.sessions] == [
        (SessionVia.API, NOW - timedelta(hours=2), NOW + timedelta(days=7), "10.0.0.3")
    ]
    alice = await user_sessions(desk.db, w.admin, w.alice.user_id, BROWSER_TTL, now=NOW)
    assert [(v.via, v.expires_at) for v in alice.sessions] == [
        (SessionVia.BROWSER, NOW + timedelta(hours=11))
    ]
    rita = await user_sessions(desk.db, w.admin, w.risk.user_id, BROWSER_TTL, now=NOW)
    assert [v.client_addr for v in rita.sessions] == ["10.0.0.6"]
    assert rita.last_ended_at == NOW - timedelta(minutes=20)
    # Later, Alice's browser session has run its 12 hours.
    later = await users_overview(desk.db, w.admin, BROWSER_TTL, now=NOW + timedelta(hours=11, seconds=1))
    assert {u.email: u.active_sessions for u in later.users}["alice@x"] == 0
    with pytest.raises(NotFound):
        await user_sessions(desk.db, w.admin, 987_654, BROWSER_TTL, now=NOW)
    for reader in (w.risk, w.alice):
        with pytest.raises(Forbidden):
            await users_overview(desk.db, reader, BROWSER_TTL, now=NOW)
        with pytest.raises(Forbidden):
            await user_sessions(desk.db, reader, w.bob.user_id, BROWSER_TTL, now=NOW)
        with pytest.raises(Forbidden):
            await token_list(desk.db, reader)


async def test_an_admin_ends_all_sessions_of_a_user_and_a_new_login_counts_again(desk: Desk) -> None:
    w, db = desk.w, desk.db
    async with db.session() as s:
        audit(s, AuditAction.LOGIN, actor_user_id=w.alice.user_id, detail={"via": "browser"})
        audit(s, AuditAction.LOGIN, actor_user_id=w.alice.user_id, detail={"via": "browser"})

    async def count() -> int:
        return len((await user_sessions(db, w.admin, w.alice.user_id, BROWSER_TTL)).sessions)

    assert await count() == 2
    before = await version_of(db, w.alice.user_id)
    for intruder in (w.risk, w.bob):
        with pytest.raises(Forbidden):
            await desk.write(users.end_sessions, w.alice.user_id, AuditAction.SESSIONS_ENDED, actor=intruder)
    assert await version_of(db, w.alice.user_id) == before and await count() == 2

    ended = await desk.write(
        users.end_sessions, w.alice.user_id, AuditAction.SESSIONS_ENDED, "10.9.9.9", actor=w.admin
    )
    assert ended.user is not None and ended.user.email == "alice@x"
    assert await version_of(db, w.alice.user_id) == before + 1 and await count() == 0
    [row] = await audit_rows(db, AuditAction.SESSIONS_ENDED)
    assert (row.actor_user_id, row.target, row.client_addr) == (w.admin.user_id, "alice@x", "10.9.9.9")
    async with db.session() as s:
        audit(s, AuditAction.LOGIN, actor_user_id=w.alice.user_id, detail={"via": "browser"})
    assert await count() == 1
    # A logout is the user's own (no actor given): still ends everything, audited as theirs.
    await desk.write(users.end_sessions, w.alice.user_id, AuditAction.LOGOUT, "10.0.0.1")
    assert await count() == 0
    [logout] = await audit_rows(db, AuditAction.LOGOUT)
    assert logout.actor_user_id == w.alice.user_id
    with pytest.raises(NotFound):
        await desk.write(users.end_sessions, 987_654, AuditAction.SESSIONS_ENDED, actor=w.admin)


# ---- administration rules ----------------------------------------------------------------------


async def test_an_admin_cannot_disable_or_demote_themselves_but_the_shell_can(desk: Desk) -> None:
    w, db = desk.w, desk.db
    with pytest.raises(InvalidInput, match="cannot disable yourself"):
        await desk.write(users.set_active, w.admin.user_id, False, actor=w.admin)
    with pytest.raises(InvalidInput, match="own admin role"):
        await desk.write(users.set_role, w.admin.user_id, Role.RISK, actor=w.admin)
    assert await version_of(db, w.admin.user_id) == 0
    assert await audit_rows(db, AuditAction.USER_DISABLED) == []
    changed = await desk.write(users.set_role, "adam@x", "risk")  # the operator at the shell
    assert changed.user.role is Role.RISK


async def test_a_non_admin_changes_nothing(desk: Desk) -> None:
    w, db = desk.w, desk.db
    for actor in (w.risk, w.alice):
        with pytest.raises(Forbidden):
            await desk.write(users.create_user, "eve@x", "admin", "hash", actor=actor)
        with pytest.raises(Forbidden):
            await desk.write(users.set_role, w.alice.user_id, "admin", actor=actor)
        with pytest.raises(Forbidden):
            await desk.write(users.set_active, w.bob.user_id, False, actor=actor)
        with pytest.raises(Forbidden):
            await desk.write(users.set_password_hash, w.bob.user_id, "hash", actor=actor)
        with pytest.raises(Forbidden):
            await users.list_users(db, actor)
    async with db.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one() == 0
        assert (await s.execute(select(User.email).where(User.email == "eve@x"))).first() is None
        assert {u.session_version for u in (await s.execute(select(User))).scalars()} == {0}


async def test_admin_changes_are_audited_with_the_actor_and_address(desk: Desk) -> None:
    w, db = desk.w, desk.db
    created = await desk.write(
        users.create_user, "Eve@X", "trader", "hash", " Eve ", actor=w.admin, client_addr="10.3.3.3"
    )
    assert (created.user.email, created.user.display_name) == ("eve@x", "Eve")
    await desk.write(users.set_role, created.user.id, "risk", actor=w.admin, client_addr="10.3.3.3")
    await desk.write(users.set_active, created.user.id, False, actor=w.admin, client_addr="10.3.3.3")
    await desk.write(users.set_password_hash, created.user.id, "hash2", actor=w.admin, client_addr="10.3.3.3")
    async with db.read_session() as s:
        rows = list((await s.execute(select(AuditLog).order_by(AuditLog.id))).scalars())
    assert [(r.action, r.actor_user_id, r.target, r.client_addr) for r in rows] == [
        (a, w.admin.user_id, "eve@x", "10.3.3.3")
        for a in ("user_created", "role_changed", "user_disabled", "password_set")
    ]


async def test_the_cached_lists_are_for_admins_only_and_follow_admin_changes(desk: Desk) -> None:
    w, queries = desk.w, desk.queries
    first = await queries.users_overview(w.admin, browser_ttl=BROWSER_TTL)
    assert "eve@x" not in {u.email for u in first.model.users}
    # Risk shares the all-seeing cache scope: the admin's cached copy must not answer for them.
    for reader in (w.risk, w.alice):
        with pytest.raises(Forbidden):
            await queries.users_overview(reader, browser_ttl=BROWSER_TTL)
        with pytest.raises(Forbidden):
            await queries.service_token_list(reader)
        with pytest.raises(Forbidden):
            await queries.user_sessions(reader, w.bob.user_id, browser_ttl=BROWSER_TTL)
    await desk.write(users.create_user, "eve@x", "trader", "hash", actor=w.admin)
    after = await queries.users_overview(w.admin, browser_ttl=BROWSER_TTL)
    assert "eve@x" in {u.email for u in after.model.users}  # invalidated, not waiting for the TTL
    assert (await queries.service_token_list(w.admin)).model.tokens == []
    await desk.auth.service_token("bot@x", "bridge", 30, w.admin)
    assert [t.name for t in (await queries.service_token_list(w.admin)).model.tokens] == ["bridge"]
