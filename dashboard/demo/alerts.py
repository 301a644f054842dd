"""Demo mode's alerting: a key for channel URLs when none is configured, and the built-in demo
channel (a local log file the alerts page shows), so a breach in the moving demo data flows all
the way to a channel on a machine that has no Telegram, mail or Slack.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dashboard.db.models import AlertChannel, AppMeta
from dashboard.db.session import Database
from dashboard.domain.enums import Level
from dashboard.services.alerts.channels import add_channel
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import DEMO_SCHEME
from dashboard.services.errors import Conflict

KEY_META = "demo_alerts_key"
TAIL_BYTES = 64 * 1024
DEMO_CHANNEL = "demo"


async def demo_alert_secrets(db: Database) -> ChannelSecrets:
    """The demo database's own channel key (demo data holds no secrets; production requires
    DASHBOARD_ALERTS_KEY and never reads this)."""
    async with db.read_session() as session:
        row = await session.get(AppMeta, KEY_META)
    if row is None:
        try:
            async with db.session() as session:
                key = Fernet.generate_key().decode()
                session.add(AppMeta(key=KEY_META, value=key, updated_at=datetime.now(UTC)))
        except IntegrityError:  # another process of the demo made it first
            pass
        async with db.read_session() as session:
            row = await session.get(AppMeta, KEY_META)
    assert row is not None
    return ChannelSecrets(row.value)


async def ensure_demo_channel(db: Database, secrets: ChannelSecrets, log_path: Path) -> None:
    """The demo channel and its catch-all rule (warning and up), once."""
    async with db.read_session() as session:
        found = await session.execute(select(AlertChannel.id).where(AlertChannel.name == DEMO_CHANNEL))
        if found.first() is not None:
            return
    try:
        await add_channel(
            db,
            secrets,
            DEMO_CHANNEL,
            f"{DEMO_SCHEME}://{log_path}",  # absolute (settings)
            min_level=Level.WARNING,
            renotify_s=60,
        )
    except (Conflict, IntegrityError):
        pass  # another process of the demo added it


def read_demo_log(path: Path, max_messages: int = 20) -> list[str]:
    """The newest messages the demo channel received, newest first (each as written: a header
    line, then the body). Blocking file I/O: call it in a thread."""
    try:
        with path.open("rb") as log_file:
            size = log_file.seek(0, 2)
            log_file.seek(max(0, size - TAIL_BYTES))  # the file only grows: read its end
            text = log_file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    messages = [m.strip() for m in text.split("\n--- ")]
    if size > TAIL_BYTES:
        messages = messages[1:]  # the first is cut
    messages = [m if m.startswith("--- ") else f"--- {m}" for m in messages if m]
    return list(reversed(messages[-max_messages:]))
