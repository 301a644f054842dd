"""`/alerts` and `/alerts/ack` with NiceGUI's simulated user: who sees which alerts, acknowledging
from the table and through a message's signed link (login in between, expired, forged, someone
else's), the URL filters, and the channels & rules panel (errors shown, nothing stored on a
refusal, a channel's URL never on the page)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.fernet import Fernet
from nicegui import ui
from sqlalchemy import select, update

from components.alerts import AlertFilters
from dashboard.db.models import Alert, AlertChannel, AlertRule, AuditLog, TradingAccount
from dashboard.domain.enums import AlertState
from dashboard.runtime import current_runtime
from dashboard.services.alerts.channels import add_channel
from dashboard.services.alerts.rules import list_rules
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.viewer import Viewer
from tests.alerts.receiver import Receiver
from tests.api.conftest import PASSWORD
from tests.pages.conftest import Web
from tests.process import free_port

Rows = list[dict[str, Any]]
SECRET_URL = "json://hooks.example.com/s3cr3t-path?token=hunter2-do-not-show"


async def breach(web: Web) -> dict[str, int]:
    """Alerts inside the page's 7-day window (the shared world's are from its fixed, older T0):
    trader A's account goes critical; trader B's recovers, then warns again. Returns each trader's
    newest raised alert."""
    runtime = current_runtime()
    now = datetime.now(UTC).replace(microsecond=0)
    a, b = web.world.account["a"], web.world.account["b"]
    for account_id, ago, equity in ((a, 3, "8000.00"), (b, 3, "10000.00"), (b, 2, "8900.00")):
        snapshot = {"account_id": account_id, "ts": now - timedelta(minutes=ago)}
        await runtime.write(record_equity, {**snapshot, "balance": "10000.00", "equity": equity})
    async with runtime.database.read_session() as s:
        raised = {
            name: (
                await s.execute(
                    select(Alert.id)
                    .where(Alert.account_id == web.world.account[name], Alert.state == AlertState.RAISED)
                    .order_by(Alert.id.desc())
                )
            )
            .scalars()
            .first()
            for name in ("a", "b")
        }
    return {name: alert_id for name, alert_id in raised.items() if alert_id is not None}


async def rows_of(web: Web, marker: str, until: Callable[[Rows], bool] = bool, tries: int = 80) -> Rows:
    """A table's rows once they satisfy `until` (the first tick comes a moment after the page)."""
    (table,) = web.user.find(marker=marker).elements
    assert isinstance(table, ui.table)
    for _ in range(tries):
        if until(table.rows):
            return table.rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{marker}: {table.rows}")


def page_text(web: Web) -> str:
    """Everything the page's elements would send to the browser."""
    assert web.user.client is not None
    return json.dumps([e._to_dict() for e in web.user.client.elements.values()], default=str)


def use_channel_key() -> ChannelSecrets:
    runtime = current_runtime()
    runtime.alert_secrets = ChannelSecrets(Fernet.generate_key().decode())
    return runtime.alert_secrets


async def test_risk_sees_every_accounts_alerts_and_a_trader_only_own(web: Web) -> None:
    await breach(web)
    await web.login("risk")
    await web.user.open("/alerts")
    rows = await rows_of(web, "alerts", lambda r: {"a main", "b main"} <= {row["account"] for row in r})
    assert {row["level"] for row in rows} >= {"critical", "warning"}
    await web.login("a")
    await web.user.open("/alerts")
    rows = await rows_of(web, "alerts")
    assert {row["account"] for row in rows} == {"a main"}, rows
    critical = next(row for row in rows if row["level"] == "critical")
    assert critical["ackable"] and critical["status"] in ("pending", "unrouted"), critical


async def test_acknowledging_in_the_table_writes_it_once_and_audits_it(web: Web) -> None:
    alert_id = (await breach(web))["a"]
    await web.login("a")
    await web.user.open("/alerts")
    await rows_of(web, "alerts", lambda r: any(row["id"] == alert_id and row["ackable"] for row in r))
    # The row's "Acknowledge" button (a table slot) emits "ack" with its row.
    web.user.find(marker="alerts").trigger("ack", {"id": alert_id})
    await web.user.should_see("Acknowledged", retries=40)
    rows = await rows_of(web, "alerts", lambda r: any(row["id"] == alert_id and row["acked"] for row in r))
    row = next(row for row in rows if row["id"] == alert_id)
    assert row["status"] == "acknowledged" and row["acked"].endswith("by you") and not row["ackable"]
    runtime = current_runtime()
    async with runtime.database.read_session() as s:
        alert = await s.get(Alert, alert_id)
        audit = list(
            (await s.execute(select(AuditLog).where(AuditLog.action == "alert_acknowledged"))).scalars()
        )
    assert alert is not None and alert.acknowledged_by == web.world.users["a"]
    assert [(a.target, (a.detail or {}).get("via")) for a in audit] == [(f"alert:{alert_id}", "dashboard")]


async def test_filters_come_from_the_url_and_narrow_the_table(web: Web) -> None:
    await breach(web)
    await web.login("risk")
    await web.user.open("/alerts?level=warning&kind=guard&open=1")
    assert web.user.find(marker="filter-level").elements.pop().value == "warning"
    assert web.user.find(marker="filter-open").elements.pop().value is True
    rows = await rows_of(web, "alerts")
    assert {row["level"] for row in rows} == {"warning"} and {row["account"] for row in rows} == {"b main"}
    web.user.find(marker="filter-level").elements.pop().value = "critical"
    rows = await rows_of(web, "alerts", lambda r: bool(r) and r[0]["level"] == "critical")
    assert {row["account"] for row in rows} == {"a main"}


def test_filters_round_trip_through_the_query_and_ignore_junk() -> None:
    filters = AlertFilters.of({"open": "1", "kind": "guard", "level": "critical"})
    assert filters == AlertFilters(True, "guard", "critical")
    assert AlertFilters.of(parse_qs_flat(urlsplit(filters.url()).query)) == filters
    assert AlertFilters.of({"kind": "<script>", "level": "loud", "open": "yes"}) == AlertFilters()
    assert AlertFilters().url() == "/alerts"


def parse_qs_flat(query: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(query).items()}


async def test_a_message_link_survives_the_login_and_acknowledges_after_confirming(web: Web) -> None:
    alert_id = (await breach(web))["a"]
    link = f"/alerts/ack?{urlencode({'token': current_runtime().ack_links.token(alert_id)})}"
    redirect = await web.user.http_client.get(link)
    assert redirect.status_code == 303
    target = parse_qs(urlsplit(redirect.headers["location"]).query)["next"][0]
    assert target == link  # the token is kept through the login
    login = await web.user.http_client.post(
        "/auth/session", data={"email": web.world.email("a"), "password": PASSWORD, "next": target}
    )
    assert login.status_code == 303 and login.headers["location"] == link
    await web.user.open(link)
    await web.user.should_see(marker="ack-level", content="critical")
    await web.user.should_see(marker="ack-account", content="a main")
    async with current_runtime().database.read_session() as s:
        alert = await s.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_at is None  # opening the link changes nothing
    web.user.find(marker="ack-confirm").click()
    await web.user.should_see(marker="ack-outcome", content="Acknowledged by you", retries=40)
    async with current_runtime().database.read_session() as s:
        alert = await s.get(Alert, alert_id)
        audit = list(
            (await s.execute(select(AuditLog).where(AuditLog.action == "alert_acknowledged"))).scalars()
        )
    assert alert is not None and alert.acknowledged_by == web.world.users["a"]
    assert [(a.detail or {}).get("via") for a in audit] == ["link"]
    # Single use: the link now says who acknowledged and offers nothing more.
    await web.user.open(link)
    await web.user.should_see(marker="ack-outcome", content="does nothing more")
    await web.user.should_not_see(marker="ack-confirm")


async def test_a_link_acknowledged_by_someone_else_says_by_whom(web: Web) -> None:
    alert_id = (await breach(web))["a"]
    await web.login("risk")
    link = f"/alerts/ack?{urlencode({'token': current_runtime().ack_links.token(alert_id)})}"
    await web.user.open(link)
    web.user.find(marker="ack-confirm").click()
    await web.user.should_see(marker="ack-outcome", content="Acknowledged by you", retries=40)
    await web.login("a")
    await web.user.open(link)
    await web.user.should_see(marker="ack-outcome", content="Acknowledged by risk")
    await web.user.should_not_see(marker="ack-confirm")


async def test_an_expired_or_forged_link_says_so(web: Web) -> None:
    alert_id = (await breach(web))["a"]
    links = current_runtime().ack_links
    await web.login("a")
    old = links.token(alert_id, now=datetime.now(UTC) - links.ttl - timedelta(minutes=1))
    await web.user.open(f"/alerts/ack?{urlencode({'token': old})}")
    await web.user.should_see(marker="ack-invalid", content="This acknowledgement link has expired.")
    await web.user.should_not_see(marker="ack-confirm")
    await web.user.open(f"/alerts/ack?{urlencode({'token': links.token(alert_id) + 'x'})}")
    await web.user.should_see(marker="ack-invalid", content="not valid")
    await web.user.open("/alerts/ack")
    await web.user.should_see(marker="ack-invalid", content="not valid")


async def test_another_traders_alert_is_not_found_through_its_link(web: Web) -> None:
    alert_id = (await breach(web))["b"]
    await web.login("a")
    await web.user.open(f"/alerts/ack?{urlencode({'token': current_runtime().ack_links.token(alert_id)})}")
    await web.user.should_see(marker="ack-not-found", content="Alert not found")
    await web.user.should_not_see(marker="ack-confirm")
    await web.user.should_not_see(marker="ack-title")


async def test_a_rule_on_someone_elses_account_is_refused_and_nothing_is_stored(web: Web) -> None:
    secrets = use_channel_key()
    runtime = current_runtime()
    a = Viewer(web.world.users["a"], web.world.roles["a"])
    await add_channel(runtime.database, secrets, "mine", "json://127.0.0.1:9/hook", actor=a)
    await web.login("a")
    await web.user.open("/alerts")
    await rows_of(web, "channels")
    # The account moves to trader B after A's page listed it: the choice is now someone else's.
    async with runtime.database.session() as s:
        await s.execute(
            update(TradingAccount)
            .where(TradingAccount.id == web.world.account["a"])
            .values(user_id=web.world.users["b"])
        )
    web.user.find(marker="rule-name").type("only-mine")
    web.user.find(marker="rule-channel").elements.pop().value = "mine"
    web.user.find(marker="rule-accounts").elements.pop().value = [web.world.account["a"]]
    web.user.find(marker="add-rule").click()
    await web.user.should_see(f"Invalid: Accounts: no account {web.world.account['a']}", retries=40)
    assert [r.name for r in await list_rules(runtime.database, a)] == ["mine"]  # the channel's own only
    async with runtime.database.read_session() as s:
        assert (await s.execute(select(AlertRule).where(AlertRule.name == "only-mine"))).first() is None
        added = (await s.execute(select(AuditLog).where(AuditLog.action == "alert_rule_added"))).first()
    assert added is None
    assert all(row["name"] != "only-mine" for row in await rows_of(web, "rules"))


async def test_a_trader_adds_a_rule_on_own_account_and_removes_it(web: Web) -> None:
    secrets = use_channel_key()
    runtime = current_runtime()
    a = Viewer(web.world.users["a"], web.world.roles["a"])
    await add_channel(runtime.database, secrets, "mine", "json://127.0.0.1:9/hook", actor=a)
    await web.login("a")
    await web.user.open("/alerts")
    await rows_of(web, "channels")
    web.user.find(marker="rule-name").type("criticals")
    web.user.find(marker="rule-channel").elements.pop().value = "mine"
    web.user.find(marker="rule-accounts").elements.pop().value = [web.world.account["a"]]
    web.user.find(marker="rule-level").elements.pop().value = "critical"
    web.user.find(marker="add-rule").click()
    await web.user.should_see("Rule 'criticals' added", retries=40)
    rows = await rows_of(web, "rules", lambda r: any(row["name"] == "criticals" for row in r))
    row = next(row for row in rows if row["name"] == "criticals")
    assert row["accounts"] == "a main" and row["level"] == "critical" and row["owner"] == "you"
    web.user.find(marker="rules").trigger("remove", {"name": "criticals"})
    web.user.find(marker="confirm-remove").click()
    await web.user.should_see("Rule 'criticals' removed", retries=40)
    assert [r.name for r in await list_rules(runtime.database, a)] == ["mine"]


async def test_a_channels_url_never_reaches_the_page_or_the_log(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    use_channel_key()
    await web.login("a")
    await web.user.open("/alerts")
    url_field = web.user.find(marker="channel-url").elements.pop()
    assert url_field.props.get("type") == "password"
    web.user.find(marker="channel-name").type("desk")
    web.user.find(marker="channel-url").type(SECRET_URL)
    web.user.find(marker="add-channel").click()
    await web.user.should_see("Channel 'desk' added", retries=40)
    rows = await rows_of(web, "channels", lambda r: any(row["name"] == "desk" for row in r))
    assert next(row for row in rows if row["name"] == "desk")["url"] == "json://hooks.example.com/…"
    assert url_field.value == ""
    for shown in (page_text(web),):
        assert "s3cr3t" not in shown and "hunter2" not in shown
    await web.user.open("/alerts")  # and on the next visit
    await rows_of(web, "channels", lambda r: any(row["name"] == "desk" for row in r))
    assert "s3cr3t" not in page_text(web) and "hunter2" not in page_text(web)
    assert "s3cr3t" not in caplog.text and "hunter2" not in caplog.text
    async with current_runtime().database.read_session() as s:
        stored = (await s.execute(select(AlertChannel).where(AlertChannel.name == "desk"))).scalar_one()
        audit = [a.detail for a in (await s.execute(select(AuditLog))).scalars()]
    assert "s3cr3t" not in stored.url_encrypted and stored.owner_user_id == web.world.users["a"]
    assert "s3cr3t" not in json.dumps(audit)


async def test_a_refused_channel_is_a_message_and_its_url_is_gone(web: Web) -> None:
    use_channel_key()
    await web.login("a")
    await web.user.open("/alerts")
    web.user.find(marker="channel-name").type("desk")
    web.user.find(marker="channel-url").type("no scheme here hunter2")
    web.user.find(marker="add-channel").click()
    await web.user.should_see("Invalid: URL: an Apprise URL", retries=40)
    assert web.user.find(marker="channel-url").elements.pop().value == ""
    assert "hunter2" not in page_text(web)
    async with current_runtime().database.read_session() as s:
        assert (await s.execute(select(AlertChannel))).first() is None


async def test_the_alerts_page_is_in_the_menu_for_everybody(web: Web) -> None:
    await web.login("a")
    await web.user.open("/alerts")
    (menu,) = web.user.find(marker="nav-main").elements
    assert isinstance(menu, ui.html)
    assert '<a href="/alerts" class="' in menu.content and 'aria-current="page"' in menu.content
    await web.user.should_not_see("Demo channel")  # no demo channel outside demo mode


async def test_send_test_shows_what_the_channel_answered(web: Web) -> None:
    secrets = use_channel_key()
    runtime = current_runtime()
    a = Viewer(web.world.users["a"], web.world.roles["a"])
    receiver = Receiver(free_port())
    receiver.start()
    try:
        await add_channel(runtime.database, secrets, "up", receiver.url, actor=a)
        await add_channel(runtime.database, secrets, "down", f"json://127.0.0.1:{free_port()}/hook", actor=a)
        await web.login("a")
        await web.user.open("/alerts")
        await rows_of(web, "channels", lambda r: len(r) == 2)
        web.user.find(marker="channels").trigger("test", {"name": "up"})
        await web.user.should_see("Test message sent to 'up'", retries=80)
        web.user.find(marker="channels").trigger("test", {"name": "down"})
        await web.user.should_see("Test message to 'down' failed", retries=80)
        rows = await rows_of(web, "channels", lambda r: all(row["tested"] != "–" for row in r))
    finally:
        receiver.stop()
    tested = {row["name"]: row["tested"] for row in rows}
    assert tested["up"].startswith("accepted at") and tested["down"].startswith("failed at"), tested
    assert [r.body["title"] for r in receiver.received] == ["[TEST] TeleBot dashboard alert channel"]
    # Someone else's channel is "not found", like every read.
    b = Viewer(web.world.users["b"], web.world.roles["b"])
    await add_channel(runtime.database, secrets, "theirs", receiver.url, actor=b)
    web.user.find(marker="channels").trigger("test", {"name": "theirs"})
    await web.user.should_see("Not found: no channel named 'theirs'", retries=40)
