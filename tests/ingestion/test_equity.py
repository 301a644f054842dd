"""Recording equity snapshots: HWM, drawdown, levels, guard events, idempotency, bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.db.models import AccountRiskState, EquitySnapshot, GuardEvent
from dashboard.db.session import Database
from dashboard.domain.enums import GuardState, GuardType, Level, Role
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.equity import record_equity
from tests.factories import T0, make_account, make_user

SERIES = [10000, 10500, 10200, 11000, 9900, 9350, 10100, 11500, 10350, 9700]
# docs/domain.md §6.1: dd % and level per snapshot.
EXPECTED = [
    ("0.0000", Level.NORMAL),
    ("0.0000", Level.NORMAL),
    ("2.8571", Level.NORMAL),
    ("0.0000", Level.NORMAL),
    ("10.0000", Level.WARNING),
    ("15.0000", Level.WARNING),
    ("8.1818", Level.NORMAL),
    ("0.0000", Level.NORMAL),
    ("10.0000", Level.WARNING),
    ("15.6522", Level.CRITICAL),
]


async def new_account(db: Database, **overrides: Any) -> int:
    async with db.session() as s:
        user = await make_user(s, "eq@x", Role.TRADER)
        account = await make_account(s, user, **overrides)
        return account.id


def snap(account_id: int, i: int, equity: Any, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "ts": (T0 + timedelta(minutes=5 * i)).isoformat(),
        "balance": "10000.00",
        "equity": str(equity),
        **extra,
    }


async def test_reference_series_gives_the_reference_drawdowns_and_events(database: Database) -> None:
    account_id = await new_account(database)
    for i, equity in enumerate(SERIES):
        result = await record_equity(database, snap(account_id, i, equity))
        assert (str(result.drawdown_pct), result.dd_level) == EXPECTED[i]
    async with database.read_session() as s:
        rows = list((await s.execute(select(EquitySnapshot).order_by(EquitySnapshot.ts))).scalars())
        state = await s.get(AccountRiskState, account_id)
        events = list((await s.execute(select(GuardEvent).order_by(GuardEvent.id))).scalars())
    assert [str(r.drawdown_pct) for r in rows] == [e[0] for e in EXPECTED]
    assert [r.hwm for r in rows][-1] == Decimal("11500.00")
    assert state is not None
    assert (state.hwm, state.drawdown_pct, state.dd_level) == (
        Decimal("11500.00"),
        Decimal("15.6522"),
        Level.CRITICAL,
    )
    assert state.max_drawdown_pct == Decimal("15.6522")
    assert state.equity == Decimal("9700.00")
    drawdown = [(e.state, e.level) for e in events if e.guard_type is GuardType.DRAWDOWN]
    # warning at 10.0000 (i=4), held through 8.18 (hysteresis: clears below 8), cleared at the new
    # peak, warning again at i=8, critical at i=9.
    assert drawdown == [
        (GuardState.TRIGGERED, Level.WARNING),
        (GuardState.CLEARED, Level.NORMAL),
        (GuardState.TRIGGERED, Level.WARNING),
        (GuardState.TRIGGERED, Level.CRITICAL),
    ]
    assert all(e.account_id == account_id and e.user_id is not None for e in events)


async def test_per_account_thresholds_override_the_defaults(database: Database) -> None:
    account_id = await new_account(database, dd_warning_pct=Decimal(6), dd_critical_pct=Decimal(8))
    await record_equity(database, snap(account_id, 0, 10000))
    result = await record_equity(database, snap(account_id, 1, 9300))
    assert (result.drawdown_pct, result.dd_level) == (Decimal("7.0000"), Level.WARNING)
    result = await record_equity(database, snap(account_id, 2, 9150))
    assert result.dd_level is Level.CRITICAL


async def test_daily_loss_breach_raises_a_critical_event(database: Database) -> None:
    account_id = await new_account(
        database,
        initial_balance=Decimal("100000.00"),
        daily_loss_limit_pct=Decimal(5),
        day_reset_tz="Europe/Prague",
    )
    base = {"balance": "100000.00"}
    await record_equity(database, snap(account_id, 0, "100000.00", **base))
    await record_equity(database, snap(account_id, 1, "96900.00", **base))  # 62 % of the limit used
    await record_equity(database, snap(account_id, 2, "94900.00", **base))  # below the 95 000 floor
    async with database.read_session() as s:
        events = [
            (e.level, e.state)
            for e in (await s.execute(select(GuardEvent).order_by(GuardEvent.id))).scalars()
            if e.guard_type is GuardType.DAILY_LOSS
        ]
        state = await s.get(AccountRiskState, account_id)
    assert events == [(Level.WARNING, GuardState.TRIGGERED), (Level.CRITICAL, GuardState.TRIGGERED)]
    assert state is not None and state.daily_loss_pct == Decimal("5.1000")


async def test_same_timestamp_twice_is_stored_once(database: Database) -> None:
    account_id = await new_account(database)
    first = await record_equity(database, snap(account_id, 0, 9000))
    again = await record_equity(database, snap(account_id, 0, 9000))
    assert first.created and not again.created and again.snapshot_id == first.snapshot_id
    async with database.read_session() as s:
        n = (await s.execute(select(func.count()).select_from(EquitySnapshot))).scalar_one()
        events = (await s.execute(select(func.count()).select_from(GuardEvent))).scalar_one()
    assert n == 1 and events == 1  # 10 % drawdown from the 10 000 initial balance: one warning


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"account_id": 424242}, "account_id"),
        ({"ts": "2026-11-02T12:00:00"}, "ts"),
        ({"equity": "abc"}, "equity"),
        ({"equity": "1.005"}, "equity"),
        ({"margin": "-1"}, "margin"),
        ({"equity": "NaN"}, "equity"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_bad_snapshot_is_refused_and_nothing_changes(
    database: Database, data: dict[str, Any], field: str
) -> None:
    account_id = await new_account(database)
    await record_equity(database, snap(account_id, 0, 10000))
    bad = snap(account_id, 1, 9000)
    bad.update(data)
    with pytest.raises(InvalidInput) as caught:
        await record_equity(database, bad)
    assert caught.value.field == field
    async with database.read_session() as s:
        n = (await s.execute(select(func.count()).select_from(EquitySnapshot))).scalar_one()
        state = await s.get(AccountRiskState, account_id)
    assert n == 1 and state is not None and state.equity == Decimal("10000.00")


async def test_snapshot_older_than_the_latest_is_refused(database: Database) -> None:
    account_id = await new_account(database)
    await record_equity(database, snap(account_id, 5, 10000))
    with pytest.raises(InvalidInput, match="older") as caught:
        await record_equity(database, snap(account_id, 1, 9000))
    assert caught.value.field == "ts"
