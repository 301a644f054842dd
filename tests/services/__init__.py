"""Query-service tests, plus the small data builders they share.

The builders insert ORM rows directly (what ingestion would have written), including the
`account_risk_state` counters, so the reads are tested in isolation from the writers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import (
    AccountRiskState,
    DivergenceIncident,
    GuardEvent,
    ReconciliationLog,
    TradingAccount,
)
from dashboard.db.session import Database
from dashboard.domain.enums import (
    DivergenceKind,
    GuardState,
    GuardType,
    Level,
    Resolution,
    Role,
    Severity,
    SyncEventType,
    SyncStatus,
)
from dashboard.services.viewer import Viewer
from tests.factories import T0, make_account, make_user

_broker_ids = itertools.count(900_000)


@dataclass(frozen=True)
class World:
    """Two traders (Alice with two accounts, Bob with one), a risk user and an admin."""

    alice: Viewer
    bob: Viewer
    risk: Viewer
    admin: Viewer
    a1: int  # Alice, USD
    a2: int  # Alice, EUR
    b1: int  # Bob, USD


async def build_world(db: Database) -> World:
    async with db.session() as s:
        alice = await make_user(s, "alice@x", Role.TRADER)
        bob = await make_user(s, "bob@x", Role.TRADER)
        risk = await make_user(s, "rita@x", Role.RISK)
        admin = await make_user(s, "adam@x", Role.ADMIN)
        a1 = await make_account(s, alice, name="Alice USD")
        a2 = await make_account(s, alice, name="Alice EUR", currency="EUR")
        b1 = await make_account(s, bob, name="Bob USD")
        return World(
            alice=Viewer(alice.id, Role.TRADER),
            bob=Viewer(bob.id, Role.TRADER),
            risk=Viewer(risk.id, Role.RISK),
            admin=Viewer(admin.id, Role.ADMIN),
            a1=a1.id,
            a2=a2.id,
            b1=b1.id,
        )


async def set_state(s: AsyncSession, account_id: int, **values: Any) -> None:
    """Set `account_risk_state` columns, as ingestion would maintain them."""
    state = await s.get(AccountRiskState, account_id)
    assert state is not None
    for key, value in values.items():
        setattr(state, key, value)
    await s.flush()


async def add_log(
    s: AsyncSession,
    account_id: int,
    created_at: datetime,
    status: SyncStatus = SyncStatus.OK,
    **overrides: Any,
) -> ReconciliationLog:
    account = await s.get(TradingAccount, account_id)
    assert account is not None
    values: dict[str, Any] = {
        "user_id": account.user_id,
        "account_id": account_id,
        "created_at": created_at,
        "event_type": SyncEventType.SCHEDULED_SYNC,
        "status": status,
    }
    values.update(overrides)
    log = ReconciliationLog(**values)
    s.add(log)
    await s.flush()
    return log


async def add_incident(
    s: AsyncSession,
    account_id: int,
    first_seen_at: datetime,
    *,
    resolution: Resolution = Resolution.OPEN,
    severity: Severity = Severity.WARNING,
    position_id: int | None = None,
    log: ReconciliationLog | None = None,
    **overrides: Any,
) -> DivergenceIncident:
    if log is None:
        log = await add_log(s, account_id, first_seen_at, SyncStatus.DIVERGENT)
    values: dict[str, Any] = {
        "user_id": log.user_id,
        "account_id": account_id,
        "position_id": position_id,
        "broker_position_id": next(_broker_ids),
        "symbol": "EURUSD",
        "kind": DivergenceKind.VOLUME_MISMATCH,
        "severity": severity,
        "local_value": "1.00",
        "broker_value": "0.50",
        "action": Resolution.BROKER_WINS,
        "resolution": resolution,
        "first_log_id": log.id,
        "last_log_id": log.id,
        "first_seen_at": first_seen_at,
        "last_seen_at": first_seen_at,
        "occurrences": 1,
        "resolved_at": None if resolution == Resolution.OPEN else first_seen_at + timedelta(minutes=1),
    }
    values.update(overrides)
    incident = DivergenceIncident(**values)
    s.add(incident)
    await s.flush()
    return incident


async def add_guard_event(
    s: AsyncSession,
    account_id: int | None,
    created_at: datetime,
    guard_type: GuardType = GuardType.DRAWDOWN,
    **overrides: Any,
) -> GuardEvent:
    user_id = None
    if account_id is not None:
        account = await s.get(TradingAccount, account_id)
        assert account is not None
        user_id = account.user_id
    values: dict[str, Any] = {
        "account_id": account_id,
        "user_id": user_id,
        "guard_type": guard_type,
        "symbol": None if account_id is not None else "EURUSD",
        "level": Level.WARNING,
        "state": GuardState.TRIGGERED,
        "metric_value": Decimal("10.5"),
        "threshold_value": Decimal("10"),
        "message": f"{guard_type.value} event",
        "created_at": created_at,
    }
    values.update(overrides)
    event = GuardEvent(**values)
    s.add(event)
    await s.flush()
    return event


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


__all__ = [
    "T0",
    "World",
    "add_guard_event",
    "add_incident",
    "add_log",
    "assert_utc",
    "build_world",
    "set_state",
]
