"""Delivery of the alert outbox to channels, against a real local webhook receiver (Apprise's
`json://` channel): fan-out by level, the idempotency key, retries after the receiver comes back,
the dead state, and channel secrets kept out of every listing and log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from dashboard.db.models import Alert, AlertAttempt, AlertChannel, AlertDelivery, AuditLog
from dashboard.db.session import Database
from dashboard.domain.enums import AlertState, DeliveryStatus, Level
from dashboard.services.alerts.channels import add_channel, list_channels, remove_channel
from dashboard.services.alerts.delivery import DeliveryConfig, deliver_due, dispatch
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import apprise_send
from dashboard.services.errors import Conflict, InvalidInput, ServiceError
from dashboard.services.ingestion.equity import record_equity
from tests.alerts.receiver import Receiver
from tests.ingestion.test_equity import SERIES, new_account, snap
from tests.process import free_port

SECRETS = ChannelSecrets(Fernet.generate_key().decode())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(free_port())
    started.start()
    yield started
    started.stop()


async def deliveries(db: Database) -> list[AlertDelivery]:
    async with db.read_session() as s:
        return list((await s.execute(select(AlertDelivery).order_by(AlertDelivery.id))).scalars())


async def breach(db: Database) -> int:
    """The reference equity series: warning, recovery, warning, critical on one account."""
    account_id = await new_account(db)
    for i, equity in enumerate(SERIES):
        await record_equity(db, snap(account_id, i, equity))
    return account_id


async def test_alerts_reach_the_channels_that_take_their_level_once_each(
    database: Database, receiver: Receiver
) -> None:
    await add_channel(database, SECRETS, "desk", receiver.url, min_level=Level.WARNING)
    critical_only = Receiver(free_port())
    critical_only.start()
    try:
        await add_channel(database, SECRETS, "pager", critical_only.url, min_level=Level.CRITICAL)
        await breach(database)
        assert await dispatch(database) == 4
        assert await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 3)) == 5
        assert await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 3)) == 0  # never twice
    finally:
        critical_only.stop()
    titles = [r.body["title"] for r in receiver.received]
    assert [t.split("]")[0] + "]" for t in titles] == ["[WARNING]", "[RESOLVED]", "[WARNING]", "[CRITICAL]"]
    assert [r.body["title"].split("]")[0] for r in critical_only.received] == ["[CRITICAL"]
    keys = receiver.keys()
    assert len(set(keys)) == 4 and all(k.startswith("alert-") for k in keys)
    assert all(
        f"Idempotency-Key: {k}" in r.body["message"] for k, r in zip(keys, receiver.received, strict=True)
    )
    rows = await deliveries(database)
    assert {d.status for d in rows} == {DeliveryStatus.SENT} and all(d.attempts == 1 for d in rows)


async def test_a_receiver_that_is_down_gets_the_alert_when_it_is_back(database: Database) -> None:
    down = Receiver(free_port())  # not started: connections are refused
    await add_channel(database, SECRETS, "desk", down.url)
    await breach(database)
    await dispatch(database)
    start = datetime.now(UTC)
    assert await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 5), now=lambda: start) == 4
    rows = await deliveries(database)
    assert all(d.status is DeliveryStatus.PENDING and d.attempts == 1 for d in rows)
    assert all(d.next_attempt_at > start for d in rows)  # backed off
    assert await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 5), now=lambda: start) == 0
    down.start()
    try:
        later = start + timedelta(minutes=1)
        assert await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 5), now=lambda: later) == 4
    finally:
        down.stop()
    assert len(down.received) == 4
    rows = await deliveries(database)
    assert all(d.status is DeliveryStatus.SENT and d.attempts == 2 for d in rows)
    async with database.read_session() as s:
        attempts = list((await s.execute(select(AlertAttempt))).scalars())
    assert sorted(a.ok for a in attempts) == [False] * 4 + [True] * 4


async def test_after_the_last_attempt_a_delivery_is_dead(database: Database) -> None:
    gone = Receiver(free_port())
    await add_channel(database, SECRETS, "desk", gone.url, min_level=Level.CRITICAL)
    await breach(database)
    await dispatch(database)
    moment = datetime.now(UTC)
    for step in range(3):
        at = moment + timedelta(hours=step)
        await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 2), now=lambda at=at: at)
    (row,) = await deliveries(database)
    assert row.status is DeliveryStatus.DEAD and row.attempts == 2 and row.last_error


async def test_channel_secrets_are_encrypted_listed_masked_and_never_logged(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    secret_url = f"json://bridge:Sup3rSecretPw@127.0.0.1:{free_port()}/hook/tok_8f7d6e5c4b3a"
    with caplog.at_level(logging.DEBUG):
        shown = await add_channel(database, SECRETS, "ops", secret_url)
        await breach(database)
        await dispatch(database)
        await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 3))  # refused: logs a failure
    assert shown.url == "json://127.0.0.1/…"
    assert [c.url for c in await list_channels(database)] == ["json://127.0.0.1/…"]
    async with database.read_session() as s:
        stored = (await s.execute(select(AlertChannel))).scalar_one()
        audit = list((await s.execute(select(AuditLog))).scalars())
        errors = [d.last_error for d in (await s.execute(select(AlertDelivery))).scalars()]
    assert "Sup3rSecretPw" not in stored.url_encrypted and SECRETS.decrypt(stored.url_encrypted) == secret_url
    everything = caplog.text + repr([a.detail for a in audit]) + repr(errors)
    for part in ("Sup3rSecretPw", "tok_8f7d6e5c4b3a"):
        assert part not in everything


async def test_channels_are_named_once_need_a_key_and_a_url_apprise_can_read(database: Database) -> None:
    await add_channel(database, SECRETS, "desk", "json://127.0.0.1/hook")
    with pytest.raises(Conflict):
        await add_channel(database, SECRETS, "desk", "json://127.0.0.1/other")
    with pytest.raises(InvalidInput, match="url"):
        await add_channel(database, SECRETS, "other", "not a url")
    with pytest.raises(ServiceError, match="DASHBOARD_ALERTS_KEY"):
        await add_channel(database, ChannelSecrets(None), "keyless", "json://127.0.0.1/hook")
    removed = await remove_channel(database, "desk")
    assert not removed.enabled
    await add_channel(database, SECRETS, "desk", "json://127.0.0.1/new")  # the name is free again


async def test_a_recovery_goes_where_its_raise_went(database: Database, receiver: Receiver) -> None:
    await add_channel(database, SECRETS, "desk", receiver.url, min_level=Level.WARNING)
    await breach(database)
    await dispatch(database)
    async with database.read_session() as s:
        resolved = (await s.execute(select(Alert).where(Alert.state == AlertState.RESOLVED))).scalar_one()
    assert resolved.level is Level.NORMAL  # below the channel's level, yet delivered:
    await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 3))
    assert any(r.body["title"].startswith("[RESOLVED]") for r in receiver.received)
