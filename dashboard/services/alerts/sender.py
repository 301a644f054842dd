"""Send one message through one Apprise URL (no hand-written Telegram, Slack or SMTP clients).

The idempotency key goes in every message's text, and for the webhook schemes (json, form, xml)
also in an `X-Idempotency-Key` header, so a receiver can drop a repeat: delivery is at least once
(a worker killed between sending and recording sends again).
Failures come back as a short text without the URL: Apprise's own log lines name the host only,
and its debug lines (with payloads) are kept out of the service's log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import apprise
from apprise.decorators import notify

from dashboard.domain.enums import AlertState, Level

# Apprise's debug lines hold payloads, and urllib3's (under Apprise's requests) the request path,
# which for a webhook is the secret: neither reaches the service's log, whatever its level.
for _noisy in ("apprise", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

#: Demo mode's channel: `demolog:///absolute/path/to/file.log`, a local file anyone can read.
DEMO_SCHEME = "demolog"
PLAIN_TEXT_SCHEMES = frozenset({"tgram"})
WEBHOOK_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
NOTIFY_TYPES = {
    Level.CRITICAL: apprise.NotifyType.FAILURE,
    Level.WARNING: apprise.NotifyType.WARNING,
    Level.NORMAL: apprise.NotifyType.INFO,
}


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    key: str
    level: Level
    state: AlertState


#: How messages leave: `apprise_send` in the app; tests may pass their own.
Send = Callable[[str, Message], Awaitable[str | None]]


def demo_log_path(url: str) -> Path:
    return Path("/" + url.split("://", 1)[1].lstrip("/"))


@notify(on=DEMO_SCHEME, name="TeleBot demo channel (a local log file)")  # type: ignore[untyped-decorator,no-untyped-call]
def _demo_log(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    """The demo's channel, as an Apprise plugin: a message appended to a file, so a new user sees
    alerts arrive without any account anywhere (and the same delivery path as the real ones)."""
    path = demo_log_path(str(meta["url"]))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log_file:
            log_file.write(f"--- {datetime.now(UTC).isoformat(timespec='seconds')} {title}\n{body}\n")
    except OSError:
        return False
    return True


def target(url: str, key: str) -> str:
    """The channel URL, with the idempotency header for the webhook schemes."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in WEBHOOK_SCHEMES:
        return url
    return f"{url}{'&' if '?' in url else '?'}+X-Idempotency-Key={quote(key)}"


async def apprise_send(url: str, message: Message) -> str | None:
    """None when the channel accepted the message, else why not (never the URL)."""
    notifier = apprise.Apprise()
    if not notifier.add(target(url, message.key)):
        return "the channel URL is not one Apprise understands"
    kind = apprise.NotifyType.SUCCESS if message.state is AlertState.RESOLVED else NOTIFY_TYPES[message.level]
    # Telegram reads HTML: our plain text ("spread < 2.4: warning -> normal") must be escaped for
    # it, which Apprise does when told the text is plain. Elsewhere "plain" would make Apprise
    # escape markdown (backslashes shown in Teams), so only Telegram is told.
    text_format = apprise.NotifyFormat.TEXT if url.split("://", 1)[0].lower() in PLAIN_TEXT_SCHEMES else None
    try:
        result = await notifier.async_notify(
            title=message.title, body=message.body, notify_type=kind, body_format=text_format
        )
    except Exception as error:  # a plugin's own failure: a failed attempt like any other
        return f"sending failed: {type(error).__name__}"
    return None if result else "the channel did not accept the message"
