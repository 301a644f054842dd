"""`/api/v1/alerts` as clients use it: the alert list (a trader's own, risk's all), acknowledging,
and channels and routing rules with their ownership; a channel's URL (its credentials) never in a
response, the audit log or the log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from dashboard.db.models import Alert, AlertChannel, AlertRule, AuditLog
from dashboard.db.session import Database
from tests.alerts.receiver import Receiver
from tests.api.conftest import Api, build_world, make_app, make_runtime
from tests.process import free_port

ALERTS_KEY = Fernet.generate_key().decode()
PASSWORD_PART, TOKEN_PART = "Sup3rSecretPw", "tok_8f7d6e5c4b3a"


@pytest.fixture
async def api(database: Database) -> AsyncIterator[Api]:
    """The API harness of `tests.api.conftest`, with a DASHBOARD_ALERTS_KEY (channels need one)."""
    world = await build_world(database)
    runtime = make_runtime(database, alerts_key=ALERTS_KEY)
    try:
        transport = httpx.ASGITransport(app=make_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Api(client, runtime, world)
    finally:
        await runtime.cache.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(free_port())
    started.start()
    yield started
    started.stop()


def secret_url(port: int) -> str:
    """A webhook URL whose user info and path are credentials (as a real channel's are)."""
    return f"json://bridge:{PASSWORD_PART}@127.0.0.1:{port}/hook/{TOKEN_PART}"


async def call(api: Api, method: str, path: str, as_: str, body: Any = None) -> httpx.Response:
    return await api.client.request(method, path, headers=api.auth(as_), json=body)


async def raise_drawdowns(api: Api) -> None:
    """Through the ingest endpoint, recent enough for the alert list's 7 days: both traders'
    drawdowns recover (a resolved alert each) and breach again (a raised warning each)."""
    now = datetime.now(UTC).replace(microsecond=0)
    for name in ("a", "b"):
        for minutes_ago, equity in ((10, "10000.00"), (5, "8800.00")):
            snapshot = {
                "account_id": api.world.account[name],
                "ts": (now - timedelta(minutes=minutes_ago)).isoformat(),
                "balance": "10000.00",
                "equity": equity,
            }
            response = await call(api, "POST", "/api/v1/ingest/equity", "bot", snapshot)
            assert response.status_code == 200, response.text


async def alert_of(api: Api, name: str, state: str) -> dict[str, Any]:
    body = (await api.get("/api/v1/alerts", "risk")).json()
    (found,) = [
        a for a in body["alerts"] if a["account_id"] == api.world.account[name] and a["state"] == state
    ]
    return found


async def rows(db: Database, model: Any) -> list[Any]:
    async with db.read_session() as s:
        return list((await s.execute(select(model).order_by(model.id))).scalars())


async def count(db: Database, model: Any) -> int:
    async with db.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


# ---- the alert list


async def test_risk_lists_every_alert_and_a_trader_only_own(api: Api) -> None:
    assert (await api.get("/api/v1/alerts", "risk")).json()["alerts"] == []  # T0's are older than 7 days
    await raise_drawdowns(api)
    accounts = api.world.account
    everything = (await api.get("/api/v1/alerts", "risk")).json()["alerts"]
    assert sorted((a["account_id"], a["state"]) for a in everything) == sorted(
        (accounts[n], s) for n in ("a", "b") for s in ("raised", "resolved")
    )
    assert [a["id"] for a in everything] == sorted((a["id"] for a in everything), reverse=True)
    assert all(a["deliveries"] == [] and a["key"].startswith("guard:drawdown:") for a in everything)
    own = (await api.get("/api/v1/alerts", "a")).json()["alerts"]
    assert {a["account_id"] for a in own} == {accounts["a"]} and len(own) == 2
    assert {a["user_id"] for a in own} == {api.world.users["a"]}
    # A's filter on B's account finds nothing of B's.
    assert (await api.get("/api/v1/alerts", "a", params={"account_id": accounts["b"]})).status_code == 404


async def test_alert_filters(api: Api) -> None:
    await raise_drawdowns(api)

    async def listed(**params: Any) -> list[tuple[int, str]]:
        response = await api.get("/api/v1/alerts", "risk", params=params)
        assert response.status_code == 200, response.text
        return sorted((a["account_id"], a["state"]) for a in response.json()["alerts"])

    a, b = api.world.account["a"], api.world.account["b"]
    assert await listed(open="true") == [(a, "raised"), (b, "raised")]
    assert await listed(level="normal") == [(a, "resolved"), (b, "resolved")]
    assert await listed(account_id=b) == [(b, "raised"), (b, "resolved")]
    assert await listed(kind="guard", open="true", account_id=a) == [(a, "raised")]
    assert await listed(kind="incident") == []
    assert len(await listed(limit=1)) == 1
    theirs = await api.get("/api/v1/alerts", "a", params={"account_id": b})
    assert theirs.status_code == 404  # someone else's account, as on every read


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"kind": "moon"}, "kind"),
        ({"level": "extreme"}, "level"),
        ({"account_id": "-1"}, "account_id"),
        ({"open": "maybe"}, "open"),
    ],
)
async def test_bad_alert_list_parameters_name_the_field(api: Api, params: dict[str, str], field: str) -> None:
    response = await api.get("/api/v1/alerts", "risk", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


# ---- acknowledging


async def test_acknowledging_an_alert(api: Api) -> None:
    await raise_drawdowns(api)
    raised, resolved = await alert_of(api, "a", "raised"), await alert_of(api, "a", "resolved")
    b_raised = await alert_of(api, "b", "raised")
    a_id = api.world.users["a"]

    first = await call(api, "POST", f"/api/v1/alerts/{raised['id']}/ack", "a")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["alert_id"] == raised["id"] and body["changed"] is True and body["acknowledged_by"] == a_id
    assert body["acknowledged_at"]
    (entry,) = [r for r in await rows(api.runtime.database, AuditLog) if r.action == "alert_acknowledged"]
    assert (entry.actor_user_id, entry.target) == (a_id, f"alert:{raised['id']}")
    assert entry.detail["via"] == "api"
    # The cached list shows it at once (the write invalidated it).
    assert (await alert_of(api, "a", "raised"))["status"] == "acknowledged"

    again = await call(api, "POST", f"/api/v1/alerts/{raised['id']}/ack", "risk")
    assert again.status_code == 200
    assert again.json() == {**body, "changed": False}  # the first acknowledgement stays

    theirs = await call(api, "POST", f"/api/v1/alerts/{b_raised['id']}/ack", "a")
    missing = await call(api, "POST", "/api/v1/alerts/9999999/ack", "a")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"].replace(str(b_raised["id"]), "ID") == missing.json()["detail"].replace(
        "9999999", "ID"
    )
    recovery = await call(api, "POST", f"/api/v1/alerts/{resolved['id']}/ack", "a")
    assert recovery.status_code == 422 and recovery.json()["field"] == "alert_id"
    assert (await call(api, "POST", "/api/v1/alerts/0/ack", "a")).status_code == 422

    alerts = {alert.id: alert for alert in await rows(api.runtime.database, Alert)}
    assert alerts[b_raised["id"]].acknowledged_at is None and alerts[resolved["id"]].acknowledged_at is None
    actions = [r.action for r in await rows(api.runtime.database, AuditLog)]
    assert actions.count("alert_acknowledged") == 1


# ---- channels


async def test_a_trader_s_channel_is_theirs_and_its_url_is_never_shown(
    api: Api, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    url = secret_url(receiver.port)
    responses: list[httpx.Response] = []

    async def send(method: str, path: str, as_: str, body: Any = None) -> httpx.Response:
        response = await call(api, method, path, as_, body)
        responses.append(response)
        return response

    with caplog.at_level(logging.INFO):
        added = await send("POST", "/api/v1/alerts/channels", "a", {"name": "my-phone", "url": url})
        assert added.status_code == 201, added.text
        shown = added.json()
        assert shown["url"] == "json://127.0.0.1/…" and shown["scheme"] == "json"
        assert (shown["owner_user_id"], shown["enabled"], shown["min_level"]) == (
            api.world.users["a"],
            True,
            "warning",
        )

        def names(response: httpx.Response) -> list[str]:
            return [c["name"] for c in response.json()["channels"]]

        assert names(await send("GET", "/api/v1/alerts/channels", "a")) == ["my-phone"]
        assert names(await send("GET", "/api/v1/alerts/channels", "b")) == []
        assert names(await send("GET", "/api/v1/alerts/channels", "risk")) == ["my-phone"]
        # Its catch-all rule came with it, A's too.
        rules = (await send("GET", "/api/v1/alerts/rules", "a")).json()["rules"]
        assert [(r["name"], r["channel"], r["kinds"], r["account_ids"]) for r in rules] == [
            ("my-phone", "my-phone", [], [])
        ]

        tested = await send("POST", "/api/v1/alerts/channels/my-phone/test", "a")
        assert tested.status_code == 200 and tested.json() == {"ok": True}
        assert [r.body["title"] for r in receiver.received] == ["[TEST] TeleBot dashboard alert channel"]
        assert (await send("POST", "/api/v1/alerts/channels/my-phone/test", "b")).status_code == 404
        receiver.stop()  # the receiver goes away: the test fails, and says why
        failed = await send("POST", "/api/v1/alerts/channels/my-phone/test", "a")
        assert failed.status_code == 502 and failed.json()["detail"]

        assert (await send("DELETE", "/api/v1/alerts/channels/my-phone", "b")).status_code == 404
        removed = await send("DELETE", "/api/v1/alerts/channels/my-phone", "a")
        assert removed.status_code == 204 and removed.content == b""
        listed = (await send("GET", "/api/v1/alerts/channels", "a")).json()["channels"]
        assert [c["enabled"] for c in listed] == [False]
        assert (await send("GET", "/api/v1/alerts/rules", "a")).json()["rules"] == []
        assert (await send("POST", "/api/v1/alerts/channels/my-phone/test", "a")).status_code == 404
        assert (await send("DELETE", "/api/v1/alerts/channels/my-phone", "a")).status_code == 404

    async with api.runtime.database.read_session() as s:
        audit_rows = [dict(row._mapping) for row in (await s.execute(select(AuditLog.__table__))).all()]
        stored = (await s.execute(select(AlertChannel.url_encrypted))).scalar_one()
    assert {r["action"] for r in audit_rows} >= {"alert_channel_added", "alert_channel_removed"}
    assert api.runtime.alert_secrets.decrypt(stored) == url  # stored, encrypted
    everything = "\n".join(r.text for r in responses) + repr(audit_rows) + caplog.text + stored
    assert len(responses) == 14 and "my-phone" in everything
    for part in (PASSWORD_PART, TOKEN_PART):
        assert part not in everything


async def test_a_test_message_leaves_no_secret_in_a_debug_log(
    api: Api, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        body = {"name": "my-phone", "url": secret_url(receiver.port)}
        assert (await call(api, "POST", "/api/v1/alerts/channels", "a", body)).status_code == 201
        tested = await call(api, "POST", "/api/v1/alerts/channels/my-phone/test", "a")
    assert tested.status_code == 200 and len(receiver.received) == 1
    for part in (PASSWORD_PART, TOKEN_PART):
        assert part not in caplog.text


async def test_risk_s_channels_are_the_team_s_and_names_are_unique(api: Api) -> None:
    body = {"name": "desk", "url": "json://127.0.0.1/hook", "min_level": "critical", "with_rule": False}
    added = await call(api, "POST", "/api/v1/alerts/channels", "risk", body)
    assert added.status_code == 201, added.text
    assert (added.json()["owner_user_id"], added.json()["min_level"]) == (None, "critical")
    assert (await call(api, "GET", "/api/v1/alerts/rules", "risk")).json()["rules"] == []  # no rule
    again = await call(api, "POST", "/api/v1/alerts/channels", "a", {**body, "url": "json://h/other"})
    assert again.status_code == 409
    assert [
        c["name"] for c in (await call(api, "GET", "/api/v1/alerts/channels", "a")).json()["channels"]
    ] == []
    # A trader can neither use nor remove the team's channel.
    assert (await call(api, "DELETE", "/api/v1/alerts/channels/desk", "a")).status_code == 404
    assert (await call(api, "DELETE", "/api/v1/alerts/channels/desk", "admin")).status_code == 204


async def test_without_an_alerts_key_channels_cannot_be_added(database: Database) -> None:
    world = await build_world(database)
    runtime = make_runtime(database)  # no DASHBOARD_ALERTS_KEY
    try:
        transport = httpx.ASGITransport(app=make_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            api = Api(client, runtime, world)
            response = await call(
                api, "POST", "/api/v1/alerts/channels", "risk", {"name": "x", "url": secret_url(1)}
            )
    finally:
        await runtime.cache.close()
    assert response.status_code == 503 and "DASHBOARD_ALERTS_KEY" in response.json()["detail"]
    assert PASSWORD_PART not in response.text and await count(database, AlertChannel) == 0


CHANNEL_BODIES: list[tuple[Any, str]] = [
    ({"url": "json://h/x"}, "name"),
    ({"name": "x"}, "url"),
    ({"name": "x", "url": "json://h/x", "owner_user_id": 2}, "owner_user_id"),
    ({"name": "a/b", "url": "json://h/x"}, "name"),
    ({"name": "x" * 65, "url": "json://h/x"}, "name"),
    ({"name": "x", "url": "json://h/" + "x" * 2048}, "url"),
    ({"name": "x", "url": f"no scheme {PASSWORD_PART}"}, "url"),
    ({"name": "x", "url": f"json://[{PASSWORD_PART}/x"}, "url"),  # urlsplit refuses it
    ({"name": "x", "url": "json://h/x", "min_level": "extreme"}, "min_level"),
    ({"name": "x", "url": "json://h/x", "renotify_s": 86_401}, "renotify_s"),
    ({"name": "x", "url": "json://h/x", "renotify_s": -1}, "renotify_s"),
    ({"name": "x\x0b", "url": "json://h/x"}, "name"),
]


@pytest.mark.parametrize(("body", "field"), CHANNEL_BODIES)
async def test_bad_channel_bodies_name_the_field_and_store_nothing(api: Api, body: Any, field: str) -> None:
    response = await call(api, "POST", "/api/v1/alerts/channels", "risk", body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and PASSWORD_PART not in response.text
    assert await count(api.runtime.database, AlertChannel) == 0


# ---- rules


async def add_channel(api: Api, as_: str, name: str) -> None:
    body = {"name": name, "url": "json://127.0.0.1/hook", "with_rule": False}
    response = await call(api, "POST", "/api/v1/alerts/channels", as_, body)
    assert response.status_code == 201, response.text


async def test_a_trader_s_rules_name_only_own_accounts_and_channels(api: Api) -> None:
    await add_channel(api, "a", "a-phone")
    await add_channel(api, "b", "b-phone")
    a_account, b_account = api.world.account["a"], api.world.account["b"]
    rule = {"name": "mine", "channel": "a-phone", "kinds": ["guard"], "min_level": "critical"}

    foreign = await call(api, "POST", "/api/v1/alerts/rules", "a", {**rule, "account_ids": [b_account]})
    assert foreign.status_code == 422
    assert foreign.json() == {"detail": f"account_ids: no account {b_account}", "field": "account_ids"}
    system = await call(api, "POST", "/api/v1/alerts/rules", "a", {**rule, "kinds": ["guard", "system"]})
    assert system.status_code == 422 and system.json()["field"] == "kinds"
    other_channel = await call(api, "POST", "/api/v1/alerts/rules", "a", {**rule, "channel": "b-phone"})
    assert other_channel.status_code == 422 and other_channel.json()["field"] == "channel"
    assert await count(api.runtime.database, AlertRule) == 0

    added = await call(api, "POST", "/api/v1/alerts/rules", "a", {**rule, "account_ids": [a_account]})
    assert added.status_code == 201, added.text
    assert {k: added.json()[k] for k in ("name", "owner_user_id", "channel", "kinds", "account_ids")} == {
        "name": "mine",
        "owner_user_id": api.world.users["a"],
        "channel": "a-phone",
        "kinds": ["guard"],
        "account_ids": [a_account],
    }
    assert (await call(api, "POST", "/api/v1/alerts/rules", "a", rule)).status_code == 409

    def names(response: httpx.Response) -> list[str]:
        return [r["name"] for r in response.json()["rules"]]

    assert names(await call(api, "GET", "/api/v1/alerts/rules", "a")) == ["mine"]
    assert names(await call(api, "GET", "/api/v1/alerts/rules", "b")) == []
    assert names(await call(api, "GET", "/api/v1/alerts/rules", "risk")) == ["mine"]
    assert (await call(api, "DELETE", "/api/v1/alerts/rules/mine", "b")).status_code == 404
    assert (await call(api, "DELETE", "/api/v1/alerts/rules/mine", "a")).status_code == 204
    assert (await call(api, "DELETE", "/api/v1/alerts/rules/mine", "a")).status_code == 404
    assert await count(api.runtime.database, AlertRule) == 0
    audit_actions = [r.action for r in await rows(api.runtime.database, AuditLog)]
    assert audit_actions.count("alert_rule_added") == audit_actions.count("alert_rule_removed") == 1


async def test_risk_s_rules_name_any_account_and_any_kind_and_escalate(api: Api) -> None:
    await add_channel(api, "risk", "desk")
    await add_channel(api, "risk", "pager")
    accounts = sorted(api.world.account.values())
    rule = {
        "name": "everyone-critical",
        "channel": "desk",
        "kinds": ["system", "guard"],
        "account_ids": accounts,
        "min_level": "critical",
        "renotify_s": 60,
        "escalate_after_s": 600,
        "escalation_channel": "pager",
    }
    added = await call(api, "POST", "/api/v1/alerts/rules", "risk", rule)
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["owner_user_id"], body["kinds"], body["account_ids"]) == (
        None,
        ["guard", "system"],
        accounts,
    )
    assert (body["escalate_after_s"], body["escalation_channel"], body["enabled"]) == (600, "pager", True)
    half = await call(
        api, "POST", "/api/v1/alerts/rules", "risk", {**rule, "name": "x", "escalate_after_s": None}
    )
    assert half.status_code == 422 and half.json()["field"] == "escalation_channel"
    assert (await call(api, "GET", "/api/v1/alerts/rules", "a")).json()["rules"] == []
    assert await count(api.runtime.database, AlertRule) == 1


RULE_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"kinds": ["moon"]}, "kinds.0"),
    ({"account_ids": [0]}, "account_ids.0"),
    ({"account_ids": [1] * 1001}, "account_ids"),  # one real account, named too often
    ({"renotify_s": 86_401}, "renotify_s"),
    ({"escalate_after_s": 59, "escalation_channel": "desk"}, "escalate_after_s"),
    ({"channel": ""}, "channel"),
    ({"name": "a/b"}, "name"),
    ({"priority": 1}, "priority"),
]


@pytest.mark.parametrize(("overrides", "field"), RULE_BODIES)
async def test_bad_rule_bodies_name_the_field(api: Api, overrides: dict[str, Any], field: str) -> None:
    await add_channel(api, "risk", "desk")
    response = await call(
        api, "POST", "/api/v1/alerts/rules", "risk", {"name": "r", "channel": "desk", **overrides}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert await count(api.runtime.database, AlertRule) == 0


# ---- who may call, and the schema

ENDPOINTS = [
    ("GET", "/api/v1/alerts", None),
    ("POST", "/api/v1/alerts/1/ack", None),
    ("GET", "/api/v1/alerts/channels", None),
    ("POST", "/api/v1/alerts/channels", {"name": "x", "url": "json://h/x"}),
    ("DELETE", "/api/v1/alerts/channels/x", None),
    ("POST", "/api/v1/alerts/channels/x/test", None),
    ("GET", "/api/v1/alerts/rules", None),
    ("POST", "/api/v1/alerts/rules", {"name": "x", "channel": "x"}),
    ("DELETE", "/api/v1/alerts/rules/x", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_service_accounts_are_refused_and_strangers_unauthenticated(
    api: Api, method: str, path: str, body: Any
) -> None:
    bot = await call(api, method, path, "bot", body)
    assert bot.status_code == 403, bot.text
    anonymous = await api.client.request(method, path, json=body)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert await count(api.runtime.database, AlertChannel) == 0


async def test_openapi_documents_the_alert_endpoints(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    documented = {
        (method.upper(), path): operation
        for path, operations in schema["paths"].items()
        if path.startswith("/api/v1/alerts")
        for method, operation in operations.items()
    }
    assert set(documented) == {
        (method, path.replace("/1/", "/{alert_id}/").replace("/x", "/{name}"))
        for method, path, _ in ENDPOINTS
    }
    for (method, path), operation in documented.items():
        assert operation["tags"] == ["alerts"], path
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        success = {code for code in operation["responses"] if code.startswith("2")}
        assert len(success) == 1, (method, path)
    assert {"404", "422"} <= set(documented["POST", "/api/v1/alerts/{alert_id}/ack"]["responses"])
    assert "502" in documented["POST", "/api/v1/alerts/channels/{name}/test"]["responses"]
    channel_in = schema["components"]["schemas"]["ChannelIn"]
    assert channel_in["properties"]["url"]["writeOnly"] is True
    assert channel_in["additionalProperties"] is False
    listed = documented["GET", "/api/v1/alerts"]["responses"]["200"]["content"]["application/json"]
    assert listed["schema"]["$ref"].endswith("/AlertList")
