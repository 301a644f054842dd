"""`/admin` with NiceGUI's simulated user: an admin creates a trader who can then log in, disables
a user, changes a role, ends someone's sessions and issues a service token that is shown once and
then revoked (and refused by the API); every change is audited with the admin and their address.
Risk and traders get the refusal and no panel, and calling the administration directly as a
non-admin changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from nicegui import ui
from sqlalchemy import func, select

from dashboard.auth.admin import UserAdmin
from dashboard.db.models import AuditLog, ServiceToken, User
from dashboard.runtime import current_runtime
from dashboard.services.errors import Forbidden, Unauthenticated
from dashboard.services.viewer import Viewer
from tests.api.conftest import PASSWORD
from tests.pages.conftest import Web, served_client

Rows = list[dict[str, Any]]


async def rows_of(web: Web, marker: str, until: Callable[[Rows], bool] = bool, tries: int = 80) -> Rows:
    """A table's rows once they satisfy `until` (the first tick comes a moment after the page)."""
    (table,) = web.user.find(marker=marker).elements
    assert isinstance(table, ui.table)
    for _ in range(tries):
        if until(table.rows):
            return table.rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{marker}: {table.rows}")


def row(rows: Rows, **match: Any) -> dict[str, Any]:
    return next(r for r in rows if all(r[k] == v for k, v in match.items()))


def has(**match: Any) -> Callable[[Rows], bool]:
    """Until a row matches every field."""
    return lambda rows: any(all(r.get(k) == v for k, v in match.items()) for r in rows)


def page_text(web: Web) -> str:
    assert web.user.client is not None
    return json.dumps([e._to_dict() for e in web.user.client.elements.values()], default=str)


async def audited(action: str) -> list[tuple[int | None, str | None, str | None]]:
    async with current_runtime().database.read_session() as s:
        rows = (
            await s.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        ).scalars()
        return [(r.actor_user_id, r.target, r.client_addr) for r in rows]


async def user(email: str) -> User:
    async with current_runtime().database.read_session() as s:
        found = (await s.execute(select(User).where(User.email == email))).scalar_one()
    return found


async def browser_login(web: Web, email: str, password: str) -> str:
    """Post the login form; where it sends the browser (the page, or back to the login)."""
    response = await web.user.http_client.post(
        "/auth/session", data={"email": email, "password": password, "next": "/positions"}
    )
    assert response.status_code == 303
    return response.headers["location"]


async def open_admin(web: Web) -> Rows:
    assert await web.login("admin", next="/admin") == 303
    await web.user.open("/admin")
    return await rows_of(web, "users", lambda rows: len(rows) >= 5)


async def test_an_admin_creates_a_trader_who_can_then_log_in(web: Web) -> None:
    await open_admin(web)
    web.user.find(marker="new-user").click()
    await web.see("new-user-form")
    web.user.find(marker="new-user-email").type("Carol@Desk.Example")
    web.user.find(marker="new-user-name").type("Carol")
    web.user.find(marker="new-user-role").elements.pop().value = "trader"
    web.user.find(marker="new-user-password").type("short")
    web.user.find(marker="new-user-create").click()
    await web.see("new-user-error", "Invalid: Password:")  # the policy, under the form
    assert (await audited("user_created")) == []
    web.user.find(marker="new-user-password").type("a long passphrase")
    web.user.find(marker="new-user-create").click()
    await web.user.should_see("User carol@desk.example created", retries=40)
    rows = await rows_of(web, "users", lambda rows: any(r["email"] == "carol@desk.example" for r in rows))
    carol = row(rows, email="carol@desk.example")
    assert (carol["role"], carol["state"], carol["sessions"], carol["last_login"]) == (
        "trader",
        "active",
        0,
        "–",
    )
    assert await audited("user_created") == [(web.world.users["admin"], "carol@desk.example", "127.0.0.1")]
    assert "a long passphrase" not in page_text(web)

    assert await browser_login(web, "carol@desk.example", "a long passphrase") == "/positions"
    await web.login("admin", next="/admin")
    await web.user.open("/admin")
    rows = await rows_of(web, "users", has(email="carol@desk.example", sessions=1))
    assert row(rows, email="carol@desk.example")["last_login"].endswith("from 127.0.0.1")


async def test_an_admin_disables_a_user_and_changes_a_role(web: Web) -> None:
    await open_admin(web)
    b, a = web.world.users["b"], web.world.users["a"]
    web.user.find(marker="users").trigger("toggle", {"id": b})
    await web.see("confirm")
    await web.user.should_see("Disable b@test.local?", retries=40)
    web.user.find(marker="confirm-ok").click()
    await web.user.should_see("b@test.local disabled", retries=40)
    await rows_of(web, "users", has(id=b, state="disabled"))
    assert not (await user("b@test.local")).is_active
    assert (await browser_login(web, "b@test.local", PASSWORD)).startswith("/login?error=invalid")

    await web.login("admin", next="/admin")
    await web.user.open("/admin")
    await rows_of(web, "users")
    web.user.find(marker="users").trigger("role", {"id": a})
    await web.see("role-form")
    web.user.find(marker="role-select").elements.pop().value = "risk"
    web.user.find(marker="role-save").click()
    await web.user.should_see("a@test.local is now risk", retries=40)
    await rows_of(web, "users", has(id=a, role="risk"))
    assert (await user("a@test.local")).role.value == "risk"
    admin = web.world.users["admin"]
    assert await audited("user_disabled") == [(admin, "b@test.local", "127.0.0.1")]
    assert await audited("role_changed") == [(admin, "a@test.local", "127.0.0.1")]


async def test_an_admin_cannot_disable_or_demote_themselves_even_by_a_crafted_event(web: Web) -> None:
    rows = await open_admin(web)
    admin = web.world.users["admin"]
    assert row(rows, id=admin)["self"] is True  # no Disable or Role button on one's own row
    web.user.find(marker="users").trigger("toggle", {"id": admin})
    web.user.find(marker="confirm-ok").click()
    await web.user.should_see("Invalid: Active: you cannot disable yourself", retries=40)
    web.user.find(marker="users").trigger("role", {"id": admin})
    web.user.find(marker="role-select").elements.pop().value = "trader"
    web.user.find(marker="role-save").click()
    await web.see("role-error", "you cannot take away your own admin role")
    me = await user("admin@test.local")
    assert me.is_active and me.role.value == "admin" and me.session_version == 0


async def test_an_admin_ends_every_session_of_a_user(web: Web) -> None:
    runtime = current_runtime()
    pair = await runtime.auth.login("a@test.local", PASSWORD, "10.7.7.7")
    await open_admin(web)
    a = web.world.users["a"]
    await rows_of(web, "users", has(id=a, sessions=1))
    web.user.find(marker="users").trigger("sessions", {"id": a})
    await web.see("sessions-dialog")
    await web.user.should_see("Active sessions of a@test.local", retries=40)
    sessions = await rows_of(web, "sessions")
    assert [(s["via"], s["client"]) for s in sessions] == [("api", "10.7.7.7")]
    await web.see("sessions-dialog")
    await web.user.should_see("one session cannot be ended alone", retries=40)
    web.user.find(marker="sessions-end").click()
    await web.see("confirm")
    await web.user.should_see("End every session of a@test.local?", retries=40)
    web.user.find(marker="confirm-ok").click()
    await web.user.should_see("Every session of a@test.local ended", retries=40)
    await rows_of(web, "users", has(id=a, sessions=0))
    with pytest.raises(Unauthenticated):
        await runtime.auth.principal(pair.access.token)
    assert await audited("sessions_ended") == [(web.world.users["admin"], "a@test.local", "127.0.0.1")]


async def test_a_service_token_is_shown_once_then_revoked_and_refused_by_the_api(web: Web) -> None:
    await open_admin(web)
    web.user.find(marker="new-token").click()
    await web.see("new-token-form")
    assert web.user.find(marker="new-token-user").elements.pop().options == {
        "bot@test.local": "bot@test.local"
    }
    web.user.find(marker="new-token-name").type("mt5 bridge")
    web.user.find(marker="new-token-days").elements.pop().value = 30
    web.user.find(marker="new-token-create").click()
    await web.see("token-once")
    await web.user.should_see("will not be shown again", retries=40)
    (field,) = web.user.find(marker="token-value").elements
    token = str(field.value)
    assert token.count(".") == 2
    async with served_client() as api:
        me = await api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == "bot@test.local"
        web.user.find(marker="token-copy").click()
        await web.user.should_see("Token copied", retries=40)
        web.user.find(marker="token-done").click()
        await web.user.should_not_see(marker="token-once")
        rows = await rows_of(web, "tokens", lambda rows: len(rows) == 1)
        assert (rows[0]["name"], rows[0]["user"], rows[0]["state"]) == (
            "mt5 bridge",
            "bot@test.local",
            "active",
        )
        assert token not in page_text(web)  # gone from the page with its dialog

        web.user.find(marker="tokens").trigger("revoke", {"jti": rows[0]["jti"]})
        await web.see("confirm")
        await web.user.should_see("Revoke token 'mt5 bridge' of bot@test.local?", retries=40)
        web.user.find(marker="confirm-ok").click()
        await web.user.should_see("Token 'mt5 bridge' revoked", retries=40)
        await rows_of(web, "tokens", lambda rows: bool(rows) and rows[0]["state"].startswith("revoked"))
        refused = await api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
    admin = web.world.users["admin"]
    target = f"service_token:{rows[0]['jti']}"
    assert await audited("service_token_issued") == [(admin, target, "127.0.0.1")]
    assert await audited("service_token_revoked") == [(admin, target, "127.0.0.1")]
    async with current_runtime().database.read_session() as s:
        details = json.dumps([r.detail for r in (await s.execute(select(AuditLog))).scalars()])
    assert token not in details


async def test_a_token_for_no_service_user_is_refused_under_the_form(web: Web) -> None:
    await open_admin(web)
    web.user.find(marker="new-token").click()
    await web.see("new-token-form")
    web.user.find(marker="new-token-name").type("x")
    web.user.find(marker="new-token-days").elements.pop().value = 400
    web.user.find(marker="new-token-create").click()
    await web.see("new-token-error", "Invalid: Days: must be between 1 and 365")
    async with current_runtime().database.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(ServiceToken))).scalar_one() == 0


@pytest.mark.parametrize("who", ["risk", "a"])
async def test_risk_and_traders_are_refused_the_page_and_its_actions(web: Web, who: str) -> None:
    await web.login(who, next="/admin")
    await web.user.open("/admin")
    await web.see("forbidden", "The administration is for admin users.")
    for marker in ("admin-users", "admin-tokens", "new-user", "new-token", "users", "tokens"):
        await web.user.should_not_see(marker=marker)
    await web.user.open("/positions")
    await web.user.should_not_see("Admin")


async def test_a_non_admin_calling_the_administration_directly_changes_nothing(web: Web) -> None:
    runtime = current_runtime()
    admin = UserAdmin(runtime.write, runtime.auth)
    for who in ("risk", "a"):
        actor = Viewer(web.world.users[who], web.world.roles[who])
        with pytest.raises(Forbidden):
            await admin.create("eve@test.local", "admin", "a long passphrase", actor=actor)
        with pytest.raises(Forbidden):
            await admin.set_role(web.world.users[who], "admin", actor=actor)
        with pytest.raises(Forbidden):
            await admin.set_active(web.world.users["b"], False, actor=actor)
        with pytest.raises(Forbidden):
            await admin.set_password(web.world.users["b"], "a long passphrase", actor=actor)
        with pytest.raises(Forbidden):
            await admin.end_sessions(web.world.users["b"], actor=actor)
        with pytest.raises(Forbidden):
            await admin.issue_token("bot@test.local", "x", 30, actor=actor)
        with pytest.raises(Forbidden):
            await admin.revoke_token("abcdefghij", actor=actor)
        with pytest.raises(Forbidden):
            await runtime.queries.users_overview(actor, browser_ttl=timedelta(hours=1))
    async with runtime.database.read_session() as s:
        users = list((await s.execute(select(User))).scalars())
        assert (await s.execute(select(func.count()).select_from(AuditLog))).scalar_one() == 0
    assert {u.email for u in users} == {web.world.email(n) for n in ("a", "b", "risk", "admin", "bot")}
    assert all(u.is_active and u.session_version == 0 for u in users)
    assert {u.email: u.role.value for u in users}[web.world.email("risk")] == "risk"


async def test_the_app_takes_a_pages_events_only_from_its_own_sockets(web: Web) -> None:
    """The production configuration replaces NiceGUI's socket `event` handler with the one that
    checks the sending socket belongs to the page (`dashboard.web.socket_events`)."""
    from nicegui import core

    from dashboard.web import socket_events

    await web.login("admin")
    await web.user.open("/admin")
    assert core.sio.handlers["/"]["event"] is socket_events.on_event
