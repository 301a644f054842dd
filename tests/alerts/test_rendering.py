"""How alerts look on Telegram, Slack, Microsoft Teams and Discord, checked on Apprise's payload.

Telegram is the platform's own medium and the others are the usual chat channels, but none of them
can be reached from a test: the HTTP call of each Apprise plugin is replaced by a fake that records
what would have been posted (URL, JSON payload, headers) and answers like the service does. So we
check the rendering (the `[CRITICAL]`/`[RESOLVED]` head, the account and idempotency-key lines, no
token in the text) and what `apprise_send` makes of an accepted or refused post; nothing is sent.
The transport under `requests` is guarded too: a post that got past the fake fails the test.

Teams: this Apprise (2.x) has no `msteams://` plugin any more (Microsoft retired the Office 365
connectors); Teams channels are Power Automate workflows, `workflows://host/workflow/signature`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import apprise.plugins.discord
import apprise.plugins.slack
import apprise.plugins.telegram
import apprise.plugins.workflows
import pytest
import requests.adapters

from dashboard.db.models import Alert
from dashboard.domain.enums import AlertKind, AlertState, Level
from dashboard.services.alerts.delivery import message_of
from dashboard.services.alerts.sender import Message, apprise_send

TELEGRAM_TOKEN = "123456789:AAFakeTokenFakeTokenFakeToken12345"
SLACK_TOKENS = ("T0FAKEAAA", "B0FAKEBBB", "FakeSlackTokenCCCCCCCCCCC")
DISCORD_TOKEN = "FakeDiscordWebhookTokenFakeDiscordWebhookToken"
TEAMS_SIGNATURE = "FakeWorkflowSignatureFakeWorkflowSig"

ACCOUNT_ID = 12
ALERT_ID = 41
CHANNEL_ID = 3
KEY = f"guard:max_loss:account:{ACCOUNT_ID}"
IDEMPOTENCY_KEY = f"alert-{ALERT_ID}-channel-{CHANNEL_ID}"


def _telegram_text(payload: dict[str, Any]) -> str:
    return str(payload["text"])


def _slack_text(payload: dict[str, Any]) -> str:
    (attachment,) = payload["attachments"]
    return f"{attachment['title']}\n{attachment['text']}"


def _discord_text(payload: dict[str, Any]) -> str:
    return str(payload["content"])


def _teams_text(payload: dict[str, Any]) -> str:
    (card,) = payload["attachments"]
    return "\n".join(block["text"] for block in card["content"]["body"] if block["type"] == "TextBlock")


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    url: str
    secrets: tuple[str, ...]  # what must never show in the text or in an error
    endpoint: str  # where the plugin posts
    plugin: ModuleType
    call: str  # the `requests` function the plugin uses
    accepted: bytes  # the body of the service's "accepted" answer
    text: Callable[[dict[str, Any]], str]  # the rendered text, out of the JSON payload

    def __str__(self) -> str:
        return self.name


TELEGRAM = Platform(
    "telegram",
    f"tgram://{TELEGRAM_TOKEN}/987654321",
    (TELEGRAM_TOKEN,),
    f"https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage",
    apprise.plugins.telegram,
    "post",
    b'{"ok": true, "result": {"message_id": 7, "chat": {"id": 987654321}}}',
    _telegram_text,
)
SLACK = Platform(
    "slack",
    "slack://{}/{}/{}/#desk".format(*SLACK_TOKENS),
    SLACK_TOKENS,
    "https://hooks.slack.com/services/{}/{}/{}".format(*SLACK_TOKENS),
    apprise.plugins.slack,
    "request",  # Slack goes through requests.request(method, url, ...)
    b"ok",
    _slack_text,
)
TEAMS = Platform(
    "teams",
    f"workflows://prod-01.westus.logic.azure.com:443/abcdef0123456789abcdef0123456789/{TEAMS_SIGNATURE}",
    (TEAMS_SIGNATURE,),
    "https://prod-01.westus.logic.azure.com:443/workflows/abcdef0123456789abcdef0123456789/",
    apprise.plugins.workflows,
    "post",
    b"",
    _teams_text,
)
DISCORD = Platform(
    "discord",
    f"discord://123456789012345678/{DISCORD_TOKEN}",
    (DISCORD_TOKEN,),
    f"https://discord.com/api/webhooks/123456789012345678/{DISCORD_TOKEN}",
    apprise.plugins.discord,
    "post",
    b'{"id": "1"}',
    _discord_text,
)
PLATFORMS = [TELEGRAM, SLACK, TEAMS, DISCORD]
by_platform = pytest.mark.parametrize("platform", PLATFORMS, ids=str)


class FakeResponse:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content
        self.text = content.decode()
        self.headers: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Post:
    url: str
    data: str
    payload: dict[str, Any]
    headers: dict[str, str]
    params: dict[str, str] | None


class FakeService:
    """Stands in for `requests.post` / `requests.request`: records the post, answers `status`."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.response = FakeResponse(status_code, content)
        self.posts: list[Post] = []

    def post(self, url: str, **kwargs: Any) -> FakeResponse:
        data = kwargs.get("data")
        assert isinstance(data, str), "the plugins post their JSON as a string"
        self.posts.append(Post(url, data, json.loads(data), kwargs["headers"], kwargs.get("params")))
        return self.response

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        assert method.upper() == "POST"
        return self.post(url, **kwargs)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Anything that gets past the fake to requests' transport is recorded and fails the test."""
    escaped: list[str] = []

    def refuse(adapter: requests.adapters.HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> None:
        escaped.append(str(request.url))
        raise requests.ConnectionError("no network in these tests")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    yield
    assert escaped == []


async def send(
    monkeypatch: pytest.MonkeyPatch, platform: Platform, message: Message, status: int = 200
) -> tuple[str | None, Post]:
    """`apprise_send` with the plugin's HTTP call faked; the one post it made."""
    service = FakeService(status, platform.accepted if status == 200 else b'{"ok": false}')
    # The plugin module's `requests` is the requests package: patched for the test's duration.
    monkeypatch.setattr(platform.plugin.requests, platform.call, getattr(service, platform.call))
    error = await apprise_send(platform.url, message)
    (post,) = service.posts  # exactly one post per send, and it went to the fake
    return error, post


def alert(state: AlertState, level: Level = Level.CRITICAL, title: str | None = None) -> Message:
    default = (
        "equity 9400.00 below the max-loss floor 9500.00"
        if state is AlertState.RAISED
        else "equity 9600.00 back above the max-loss floor 9500.00"
    )
    row = Alert(
        id=ALERT_ID,
        key=KEY,
        kind=AlertKind.GUARD,
        state=state,
        level=level,
        account_id=ACCOUNT_ID,
        title=title or default,
        created_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    )
    return message_of(row, CHANNEL_ID)


@by_platform
@pytest.mark.parametrize(
    ("state", "head", "other_head"),
    [(AlertState.RAISED, "[CRITICAL]", "[RESOLVED]"), (AlertState.RESOLVED, "[RESOLVED]", "[CRITICAL]")],
    ids=["raised", "resolved"],
)
async def test_an_alert_renders_with_its_head_account_and_key(
    monkeypatch: pytest.MonkeyPatch, platform: Platform, state: AlertState, head: str, other_head: str
) -> None:
    message = alert(state)
    error, post = await send(monkeypatch, platform, message)
    assert error is None
    assert post.url.startswith(platform.endpoint)
    text = platform.text(post.payload)
    assert message.title.startswith(head) and message.title in text
    assert other_head not in text
    assert f"Account: {ACCOUNT_ID}" in text
    assert f"Alert: {KEY} ({state.value})" in text
    assert f"Idempotency-Key: {IDEMPOTENCY_KEY}" in text
    for secret in platform.secrets:
        assert secret not in post.data  # in the URL (or Teams' query) only, never in the payload


@pytest.mark.parametrize("platform", [SLACK, TEAMS, DISCORD], ids=str)
@pytest.mark.parametrize(
    ("state", "level", "kind"),
    [
        (AlertState.RAISED, Level.CRITICAL, "failure"),
        (AlertState.RAISED, Level.WARNING, "warning"),
        (AlertState.RESOLVED, Level.CRITICAL, "success"),
    ],
    ids=["critical", "warning", "resolved"],
)
async def test_the_icon_follows_the_level_and_a_recovery_is_a_success(
    monkeypatch: pytest.MonkeyPatch, platform: Platform, state: AlertState, level: Level, kind: str
) -> None:
    """Slack, Teams and Discord show Apprise's notify-type icon (Telegram shows none)."""
    error, post = await send(monkeypatch, platform, alert(state, level))
    assert error is None
    icons = {k for k in ("failure", "warning", "success", "info") if f"apprise-{k}-" in post.data}
    assert icons == {kind}


async def test_telegram_sends_the_title_bold_in_html_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    message = alert(AlertState.RAISED)
    error, post = await send(monkeypatch, TELEGRAM, message)
    assert error is None
    assert post.payload["parse_mode"] == "HTML"
    assert post.payload["chat_id"] == 987654321
    # The title in bold, then the body (plain text, escaped for HTML, lines ending \r\n), whose
    # first line repeats the title.
    body = html.escape(message.body, quote=False).replace("\n", "\r\n")
    assert post.payload["text"] == f"<b>{html.escape(message.title, quote=False)}</b>\r\n{body}"


async def test_telegram_escapes_html_in_the_title(monkeypatch: pytest.MonkeyPatch) -> None:
    title = "EURUSD spread 1.1 pips < 2.4: warning -> normal"
    error, post = await send(monkeypatch, TELEGRAM, alert(AlertState.RESOLVED, title=title))
    assert error is None
    assert "pips &lt; 2.4: warning -&gt; normal" in post.payload["text"]


@by_platform
async def test_a_refused_post_is_an_error_without_the_token(
    monkeypatch: pytest.MonkeyPatch, platform: Platform
) -> None:
    error, _ = await send(monkeypatch, platform, alert(AlertState.RAISED), status=500)
    assert error == "the channel did not accept the message"
    for secret in platform.secrets:
        assert secret not in error


async def test_msteams_urls_are_not_understood_by_this_apprise(monkeypatch: pytest.MonkeyPatch) -> None:
    """The old Office 365 connector scheme: refused before any post (Teams is `workflows://`)."""
    service = FakeService(200, b"1")
    monkeypatch.setattr(requests, "post", service.post)
    error = await apprise_send("msteams://TokenA/TokenB/TokenC/", alert(AlertState.RAISED))
    assert error == "the channel URL is not one Apprise understands"
    assert service.posts == []
