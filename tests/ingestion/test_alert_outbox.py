"""The alert outbox: every guard event's alert is written in the event's own transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from dashboard.db.models import Alert, GuardEvent
from dashboard.db.session import Database
from dashboard.domain.alerts import guard_alert
from dashboard.domain.enums import AlertKind, AlertState, GuardState, GuardType, Level
from dashboard.services.alerts import outbox
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.quotes import record_quotes
from tests.factories import T0
from tests.ingestion.test_equity import SERIES, new_account, snap
from tests.ingestion.test_quotes import calm_then, with_instruments


async def alerts_and_events(db: Database) -> tuple[list[Alert], list[GuardEvent]]:
    async with db.read_session() as s:
        alerts = list((await s.execute(select(Alert).order_by(Alert.id))).scalars())
        events = list((await s.execute(select(GuardEvent).order_by(GuardEvent.id))).scalars())
    return alerts, events


def test_a_raise_and_its_recovery_share_a_key() -> None:
    raised = guard_alert(GuardType.DRAWDOWN, GuardState.TRIGGERED, Level.WARNING, account_id=7, symbol=None)
    worse = guard_alert(GuardType.DRAWDOWN, GuardState.TRIGGERED, Level.CRITICAL, account_id=7, symbol=None)
    back = guard_alert(GuardType.DRAWDOWN, GuardState.CLEARED, Level.NORMAL, account_id=7, symbol=None)
    market = guard_alert(
        GuardType.STALE_QUOTE, GuardState.TRIGGERED, Level.CRITICAL, account_id=None, symbol="EURUSD"
    )
    assert raised.key == worse.key == back.key == "guard:drawdown:account:7"
    assert (raised.state, worse.state, back.state) == (
        AlertState.RAISED,
        AlertState.RAISED,
        AlertState.RESOLVED,
    )
    assert market.key == "guard:stale_quote:symbol:EURUSD" and market.kind is AlertKind.GUARD


async def test_every_guard_event_of_an_equity_series_has_its_alert(database: Database) -> None:
    account_id = await new_account(database)
    for i, equity in enumerate(SERIES):
        await record_equity(database, snap(account_id, i, equity))
    alerts, events = await alerts_and_events(database)
    assert len(events) >= 4 and len(alerts) == len(events)
    for alert, event in zip(alerts, events, strict=True):
        assert alert.guard_event_id == event.id and alert.account_id == account_id
        assert (alert.level, alert.title, alert.created_at) == (event.level, event.message, event.created_at)
        assert alert.dispatched_at is None  # waiting for delivery
    drawdown = [(a.state, a.level) for a in alerts if a.key == f"guard:drawdown:account:{account_id}"]
    assert drawdown == [
        (AlertState.RAISED, Level.WARNING),
        (AlertState.RESOLVED, Level.NORMAL),
        (AlertState.RAISED, Level.WARNING),
        (AlertState.RAISED, Level.CRITICAL),
    ]


async def test_market_guard_events_have_their_alerts(database: Database) -> None:
    await with_instruments(database)
    await record_quotes(database, {"quotes": calm_then(Decimal("0.00060"))}, now=T0 + timedelta(seconds=31))
    alerts, events = await alerts_and_events(database)
    assert events and len(alerts) == len(events)
    assert ("guard:price_gap:symbol:EURUSD", AlertState.RAISED, Level.CRITICAL) in {
        (a.key, a.state, a.level) for a in alerts
    }
    assert all(a.account_id is None for a in alerts)


async def test_a_write_that_fails_after_its_alerts_were_added_leaves_neither_event_nor_alert(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = await new_account(database)
    await record_equity(database, snap(account_id, 0, 10000))
    add = outbox.add_guard_alerts

    async def add_then_fail(*args: Any) -> list[Alert]:
        added = await add(*args)
        assert added  # this write does raise an alert...
        raise RuntimeError("the transaction fails after the outbox row was added")

    monkeypatch.setattr("dashboard.services.ingestion.equity.add_guard_alerts", add_then_fail)
    with pytest.raises(RuntimeError):
        await record_equity(database, snap(account_id, 1, 8500))  # 15 %: critical
    alerts, events = await alerts_and_events(database)
    assert alerts == [] and events == []  # ...and nothing of it was stored
