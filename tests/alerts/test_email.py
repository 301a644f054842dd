"""E-mail channels: a real SMTP server (aiosmtpd, started here) receives the alert mail."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dashboard.db.session import Database
from dashboard.domain.enums import Level
from dashboard.services.alerts.channels import add_channel
from dashboard.services.alerts.delivery import DeliveryConfig, deliver_due, dispatch
from dashboard.services.alerts.sender import apprise_send
from tests.alerts.test_delivery import SECRETS, breach
from tests.process import free_port


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), mail))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


async def test_a_critical_alert_arrives_as_an_e_mail(database: Database, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=alerts@desk.local&to=risk@desk.local&mode=insecure"
    await add_channel(database, SECRETS, "risk-mail", url, min_level=Level.CRITICAL)
    account_id = await breach(database)
    await dispatch(database)
    assert await deliver_due(database, DeliveryConfig(SECRETS, apprise_send, 3)) == 1
    ((sender, recipients, mail),) = inbox.mails
    assert (sender, recipients) == ("alerts@desk.local", ["risk@desk.local"])
    assert str(mail["Subject"]).startswith("[CRITICAL]")
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert f"Account: {account_id}" in content and "Idempotency-Key: alert-" in content
