"""Changing limits and resetting an HWM through the write services, on SQLite and PostgreSQL: risk
and admin only, audited with the reason and the values before and after, the gauges judged again
at once (with ingestion's guard events and alerts), refusals leaving nothing changed, and the
limits and HWM-reset reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.db.models import AccountRiskState, Alert, AuditLog, GuardEvent, HwmReset, TradingAccount
from dashboard.db.session import Database
from dashboard.domain.enums import GuardState, GuardType, Level
from dashboard.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.queries.limits import account_limits, hwm_resets
from dashboard.services.risk_limits import change_limits, reset_hwm
from dashboard.services.touched import Family
from tests.factories import DEFAULT_LIMITS
from tests.services import T0, World, build_world

D = Decimal


def limits(reason: str = "risk review", **changes: Any) -> dict[str, Any]:
    return {**DEFAULT_LIMITS, **changes, "reason": reason}


async def equity(db: Database, account_id: int, minute: int, value: str, balance: str = "10000") -> None:
    await record_equity(
        db,
        {"account_id": account_id, "ts": T0 + timedelta(minutes=minute), "balance": balance, "equity": value},
    )


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def state(db: Database, account_id: int) -> AccountRiskState:
    async with db.read_session() as s:
        row = await s.get(AccountRiskState, account_id)
    assert row is not None
    return row


async def in_warning(db: Database) -> World:
    """Alice's USD account at 11 % drawdown (warning under 10 / 15)."""
    w = await build_world(db)
    await equity(db, w.a1, 1, "10000")
    await equity(db, w.a1, 2, "8900")
    return w


async def test_lowering_critical_below_the_drawdown_makes_the_gauge_critical_with_its_event(
    database: Database,
) -> None:
    w = await in_warning(database)
    events_before = await count(database, GuardEvent, GuardEvent.account_id == w.a1)
    done = await change_limits(
        database, w.risk, w.a1, limits(dd_warning_pct="5", dd_critical_pct="10.5"), client_addr="10.1.2.3"
    )
    row = await state(database, w.a1)
    assert (row.dd_level, row.dd_alert_level, row.drawdown_pct) == (Level.CRITICAL, Level.CRITICAL, D("11"))
    assert [(a.guard_type, a.level, a.state) for a in done.alerts] == [
        (GuardType.DRAWDOWN, Level.CRITICAL, GuardState.TRIGGERED)
    ]
    async with database.read_session() as s:
        events = (
            (await s.execute(select(GuardEvent).where(GuardEvent.account_id == w.a1).order_by(GuardEvent.id)))
            .scalars()
            .all()
        )
        alert = (await s.execute(select(Alert).where(Alert.guard_event_id == events[-1].id))).scalar_one()
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "limits_changed"))).scalar_one()
        account = await s.get(TradingAccount, w.a1)
    assert len(events) == events_before + 1
    assert (events[-1].level, events[-1].state, events[-1].threshold_value) == (
        Level.CRITICAL,
        GuardState.TRIGGERED,
        D("10.5"),
    )
    assert alert.level is Level.CRITICAL and alert.user_id == w.alice.user_id
    assert account is not None and (account.dd_warning_pct, account.dd_critical_pct) == (D(5), D("10.5"))
    assert (audit.actor_user_id, audit.target, audit.client_addr) == (
        w.risk.user_id,
        f"account:{w.a1}",
        "10.1.2.3",
    )
    assert audit.detail == {
        "account_id": w.a1,
        "reason": "risk review",
        "before": {"dd_warning_pct": "10", "dd_critical_pct": "15"},
        "after": {"dd_warning_pct": "5", "dd_critical_pct": "10.5"},
    }
    # Every family that shows limits or levels, for the owner and for everybody who sees all.
    for family in (Family.ACCOUNTS, Family.GUARDS, Family.RISK_WALL, Family.GUARD_EVENTS, Family.ALERTS):
        assert {(family, "all"), (family, f"u{w.alice.user_id}")} <= done.touched.items


async def test_a_new_daily_limit_and_a_prop_rule(database: Database) -> None:
    w = await in_warning(database)
    before = datetime.now(UTC)
    await change_limits(
        database,
        w.admin,
        w.a1,
        limits(
            daily_loss_limit_pct="12", max_loss_limit_pct="10", prop_profit_target_pct="8", prop_max_days=30
        ),
    )
    row = await state(database, w.a1)
    # Today's loss 1 100 of a 1 200 allowance (12 % of 10 000): 91.7 % used → critical; the
    # max-loss floor 9 000 is above 8 900 → breached.
    assert (row.daily_loss_level, row.max_loss_level) == (Level.CRITICAL, Level.CRITICAL)
    async with database.read_session() as s:
        account = await s.get(TradingAccount, w.a1)
    assert account is not None and account.prop_started_at is not None
    assert before <= account.prop_started_at <= datetime.now(UTC)  # the challenge starts now
    view = await account_limits(database, w.alice, w.a1)
    # Critical (80 % used) yet not breached: 100 left above the day's floor 8 800.
    assert view.daily_loss is not None and not view.daily_loss.reached
    assert (view.daily_loss.boundary, view.daily_loss.room) == (D("8800.00"), D("100.00"))
    assert view.max_loss is not None and view.max_loss.boundary == D("9000.00") and view.max_loss.reached
    assert view.limits.prop_max_days == 30 and view.limits.prop_started_at == account.prop_started_at


async def test_a_moved_day_reset_takes_the_last_balance_before_it(database: Database) -> None:
    w = await build_world(database)
    # UTC days (T0 is 12:00): 11:00 balance 10 000, 11:30 balance 10 400, 12:05 equity 10 100.
    for minute, balance, value in ((-60, "10000", "10000"), (-30, "10400", "10400"), (5, "10400", "10100")):
        await equity(database, w.a1, minute, value, balance)
    await change_limits(
        database, w.risk, w.a1, limits(daily_loss_limit_pct="5", daily_loss_basis="sod_balance")
    )
    assert (await state(database, w.a1)).day_start_balance == D("10000.00")  # the first snapshot's own
    # A reset at 12:00 UTC: today began at 12:00, after the 11:30 snapshot (balance 10 400).
    await change_limits(
        database,
        w.risk,
        w.a1,
        limits(daily_loss_limit_pct="5", daily_loss_basis="sod_balance", day_reset_hour=12),
    )
    row = await state(database, w.a1)
    assert (row.day_start_at, row.day_start_balance) == (T0, D("10400.00"))
    assert row.daily_loss_pct == D("2.8846")  # 300 / 10 400


async def test_refusals_leave_nothing_changed(database: Database) -> None:
    w = await in_warning(database)
    snapshot = (await state(database, w.a1)).dd_level

    async def nothing_changed() -> None:
        async with database.read_session() as s:
            account = await s.get(TradingAccount, w.a1)
        assert account is not None and account.dd_critical_pct == D(15)
        assert (await state(database, w.a1)).dd_level == snapshot
        assert await count(database, AuditLog, AuditLog.action.in_(("limits_changed", "hwm_reset"))) == 0
        assert await count(database, HwmReset) == 0

    for trader in (w.alice, w.bob):
        with pytest.raises(Forbidden):
            await change_limits(database, trader, w.a1, limits(dd_critical_pct="10.5"))
        with pytest.raises(Forbidden):
            await reset_hwm(database, trader, w.a1, "new phase")
    with pytest.raises(NotFound):
        await change_limits(database, w.risk, 9_999_999, limits())
    with pytest.raises(NotFound):
        await reset_hwm(database, w.risk, 9_999_999, "new phase")
    with pytest.raises(InvalidInput) as invalid:
        await change_limits(database, w.risk, w.a1, limits(dd_warning_pct="15"))
    assert invalid.value.field == "dd_critical_pct"
    with pytest.raises(InvalidInput) as no_reason:
        await change_limits(database, w.risk, w.a1, limits(reason="", dd_critical_pct="10.5"))
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidInput) as blank:
        await reset_hwm(database, w.risk, w.a1, "  ")
    assert blank.value.field == "reason"
    await nothing_changed()
    with pytest.raises(Conflict):  # Bob's account has no equity yet
        await reset_hwm(database, w.risk, w.b1, "new phase")


async def test_an_hwm_reset_and_the_next_snapshots_continue_from_the_new_mark(database: Database) -> None:
    w = await build_world(database)
    await equity(database, w.a1, 1, "11500")
    await equity(database, w.a1, 2, "9700")  # 15.6522 %: critical
    assert (await state(database, w.a1)).dd_level is Level.CRITICAL
    done = await reset_hwm(database, w.risk, w.a1, "  challenge phase 2  ", client_addr="10.0.0.7")
    assert (done.previous_hwm, done.new_hwm, done.reason) == (
        D("11500.00"),
        D("9700.00"),
        "challenge phase 2",
    )
    row = await state(database, w.a1)
    assert (row.hwm, row.drawdown_pct, row.max_drawdown_pct, row.dd_level, row.dd_alert_level) == (
        D("9700.00"),
        D(0),
        D(0),
        Level.NORMAL,
        Level.NORMAL,
    )
    assert [(a.guard_type, a.state) for a in done.alerts] == [(GuardType.DRAWDOWN, GuardState.CLEARED)]
    await equity(database, w.a1, 3, "9500")  # 200 below the new mark: 2.0619 %
    row = await state(database, w.a1)
    assert (row.hwm, row.drawdown_pct, row.dd_level) == (D("9700.00"), D("2.0619"), Level.NORMAL)
    await equity(database, w.a1, 4, "9800")  # a new high above the reset mark
    assert (await state(database, w.a1)).hwm == D("9800.00")
    async with database.read_session() as s:
        reset = (await s.execute(select(HwmReset))).scalar_one()
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "hwm_reset"))).scalar_one()
    assert (reset.account_id, reset.actor_user_id, reset.previous_hwm, reset.new_hwm, reset.reason) == (
        w.a1,
        w.risk.user_id,
        D("11500.00"),
        D("9700.00"),
        "challenge phase 2",
    )
    assert (audit.target, audit.client_addr, audit.actor_user_id) == (
        f"account:{w.a1}",
        "10.0.0.7",
        w.risk.user_id,
    )
    assert audit.detail is not None and audit.detail["reason"] == "challenge phase 2"
    assert (audit.detail["before"]["hwm"], audit.detail["after"]["hwm"]) == ("11500", "9700")
    assert (audit.detail["before"]["dd_level"], audit.detail["after"]["dd_level"]) == ("critical", "normal")
    assert audit.detail["after"]["max_drawdown_pct"] == "0"
    assert Family.EQUITY in {family for family, _ in done.touched.items}


async def test_the_reads_answer_only_for_visible_accounts(database: Database) -> None:
    w = await in_warning(database)
    await reset_hwm(database, w.risk, w.a1, "first")
    await reset_hwm(database, w.admin, w.a1, "second")
    listed = await hwm_resets(database, w.alice, w.a1)
    assert [(r.reason, r.actor_name) for r in listed.resets] == [("first", "rita"), ("second", "adam")]
    assert listed.resets[0].created_at <= listed.resets[1].created_at
    assert (await hwm_resets(database, w.risk, w.a1, limit=1)).resets[0].reason == "second"
    assert (
        await hwm_resets(database, w.risk, w.a1, since=datetime.now(UTC) + timedelta(hours=1))
    ).resets == []
    with pytest.raises(NotFound):
        await hwm_resets(database, w.bob, w.a1)
    with pytest.raises(NotFound):
        await account_limits(database, w.bob, w.a1)
    with pytest.raises(NotFound):
        await account_limits(database, w.risk, 9_999_999)
    fresh = await account_limits(database, w.bob, w.b1)  # no snapshot yet: limits, no room
    assert fresh.equity is None and fresh.drawdown_warning is None and fresh.limits.dd_warning_pct == D(10)
