"""The objectives read on SQLite and PostgreSQL: the stored rule, risk state, positions and guard
events go through the domain (the reference challenge of `tests/domain/test_prop_challenge.py`),
trading days are broker days of the reset zone, and another trader's account is not found."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from dashboard.db.models import Position, TradingAccount
from dashboard.db.session import Database
from dashboard.demo.seed.database import seed_demo
from dashboard.domain.enums import DailyLossBasis, GuardState, GuardType, Level, MaxLossMode, Role
from dashboard.domain.prop_challenge import ChallengeState, FailReason
from dashboard.services.errors import Conflict, NotFound
from dashboard.services.queries.objectives import account_objectives, objective_accounts
from dashboard.services.viewer import Viewer
from tests.factories import make_position
from tests.services import World, add_guard_event, build_world, set_state

D = Decimal
START = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # 09:30 Prague
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # day 5
OPENED = [
    datetime(2026, 3, 2, 8, 0, tzinfo=UTC),  # before the start
    datetime(2026, 3, 2, 8, 45, tzinfo=UTC),  # Mar 2
    datetime(2026, 3, 2, 22, 59, 59, tzinfo=UTC),  # 23:59:59 Prague: Mar 2
    datetime(2026, 3, 2, 23, 0, tzinfo=UTC),  # 00:00 Prague: Mar 3
    datetime(2026, 3, 5, 10, 0, tzinfo=UTC),  # Mar 5
]


async def _challenge(db: Database, **overrides: Any) -> World:
    """Alice's USD account runs the reference challenge, with the reference balances and the
    positions above; Bob's and Alice's EUR accounts run none."""
    w = await build_world(db)
    async with db.session() as s:
        account = await s.get(TradingAccount, w.a1)
        assert account is not None
        values: dict[str, Any] = {
            "initial_balance": D("100000.00"),
            "daily_loss_limit_pct": D(5),
            "max_loss_limit_pct": D(10),
            "daily_loss_basis": DailyLossBasis.MAX_SOD_BALANCE_EQUITY,
            "max_loss_mode": MaxLossMode.STATIC,
            "day_reset_tz": "Europe/Prague",
            "day_reset_hour": 0,
            "prop_profit_target_pct": D(10),
            "prop_min_trading_days": 4,
            "prop_max_days": 30,
            "prop_started_at": START,
        }
        values.update(overrides)
        for key, value in values.items():
            setattr(account, key, value)
        for n, opened in enumerate(OPENED):
            await make_position(s, account, 7000 + n, opened_at=opened, updated_at=opened)
        bob = await s.get(TradingAccount, w.b1)
        assert bob is not None
        await make_position(s, bob, 7100, opened_at=datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
        await set_state(
            s,
            w.a1,
            updated_at=NOW - timedelta(minutes=1),
            balance=D("104250.00"),
            equity=D("103900.00"),
            day_start_balance=D("104000.00"),
            day_start_equity=D("104400.00"),
            highest_eod_balance=D("104000.00"),
        )
    return w


async def test_the_reference_challenge_from_stored_data(database: Database) -> None:
    w = await _challenge(database)
    read = await account_objectives(database, w.alice, w.a1, now=NOW)
    o = read.objectives
    assert o is not None and read.account_id == w.a1 and read.as_of == NOW
    # target 10 000.00, closed profit 4 250.00 = 42.5 %
    assert (o.target_amount, o.profit, str(o.progress_pct)) == (D("10000.00"), D("4250.00"), "42.5000")
    # daily: reference max(104 000, 104 400); floor 99 180.00; room 4 720.00 = 90.4215 % of 5 220
    assert (o.daily_floor, o.daily_room, str(o.daily_room_pct)) == (D("99180.00"), D("4720.00"), "90.4215")
    # max: static floor 90 000.00; room 13 900.00
    assert (o.max_floor, o.max_room) == (D("90000.00"), D("13900.00"))
    # trading days in Prague: Mar 2, Mar 3 (the 23:00Z open), Mar 5 = 3 (UTC dates would give 2)
    assert (o.trading_days, o.min_trading_days, o.day_number, o.days_left) == (3, 4, 5, 26)
    assert o.ends_at == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    assert (o.state, o.fail_reason, o.breached_at) == (ChallengeState.IN_PROGRESS, None, None)
    assert (o.currency, o.equity_at, o.first_day) == ("USD", NOW - timedelta(minutes=1), date(2026, 3, 2))


async def test_the_reset_hour_moves_the_day_boundary(database: Database) -> None:
    # reset 01:00 Prague (00:00Z in March): the 23:00Z open (00:00 Prague) now belongs to Mar 2,
    # the 08:45Z and 22:59:59Z ones too: days {Mar 2, Mar 5} = 2
    w = await _challenge(database, day_reset_hour=1)
    o = (await account_objectives(database, w.alice, w.a1, now=NOW)).objectives
    assert o is not None and o.trading_days == 2


async def test_another_traders_account_is_not_found(database: Database) -> None:
    w = await _challenge(database)
    with pytest.raises(NotFound):
        await account_objectives(database, w.bob, w.a1, now=NOW)
    with pytest.raises(NotFound):
        await account_objectives(database, w.alice, 999_999, now=NOW)
    for viewer in (w.risk, w.admin):
        o = (await account_objectives(database, viewer, w.a1, now=NOW)).objectives
        assert o is not None and o.trading_days == 3


async def test_an_account_without_a_challenge_has_no_objectives(database: Database) -> None:
    w = await _challenge(database)
    read = await account_objectives(database, w.bob, w.b1, now=NOW)
    assert (read.account_id, read.objectives) == (w.b1, None)
    listed = await objective_accounts(database, w.alice, now=NOW)
    assert listed.account_ids == [w.a1]
    assert (await objective_accounts(database, w.bob, now=NOW)).account_ids == []
    assert (await objective_accounts(database, w.risk, now=NOW)).account_ids == [w.a1]


@pytest.mark.parametrize("missing", ["max_loss_limit_pct", "daily_loss_limit_pct", "prop_profit_target_pct"])
async def test_an_incomplete_rule_or_objectives_is_no_challenge(database: Database, missing: str) -> None:
    w = await _challenge(database, **{missing: None})
    assert (await account_objectives(database, w.alice, w.a1, now=NOW)).objectives is None
    assert (await objective_accounts(database, w.risk, now=NOW)).account_ids == []


async def test_recorded_breaches_keep_it_failed(database: Database) -> None:
    w = await _challenge(database)
    async with database.session() as s:
        # before the start (a previous phase) and a daily event at 85 % used: not breaches
        await add_guard_event(s, w.a1, START - timedelta(hours=1), GuardType.MAX_LOSS, level=Level.CRITICAL)
        await add_guard_event(
            s, w.a1, START + timedelta(hours=2), GuardType.DAILY_LOSS, metric_value=D("85.0")
        )
    o = (await account_objectives(database, w.alice, w.a1, now=NOW)).objectives
    assert o is not None and o.state is ChallengeState.IN_PROGRESS
    daily_at = START + timedelta(days=1)
    max_at = START + timedelta(days=2)
    async with database.session() as s:
        await add_guard_event(
            s, w.a1, max_at, GuardType.MAX_LOSS, level=Level.CRITICAL, state=GuardState.TRIGGERED
        )
        await add_guard_event(
            s, w.a1, daily_at, GuardType.DAILY_LOSS, level=Level.CRITICAL, metric_value=D("101.2")
        )
        # a max-loss "cleared" is the recovery, not a breach of its own
        await add_guard_event(
            s, w.a1, START + timedelta(hours=3), GuardType.MAX_LOSS, state=GuardState.CLEARED
        )
    o = (await account_objectives(database, w.alice, w.a1, now=NOW)).objectives
    assert o is not None
    assert (o.state, o.fail_reason, o.breached_at) == (ChallengeState.FAILED, FailReason.DAILY_LOSS, daily_at)
    assert o.daily_breached is False  # the equity is fine now; the record is what failed it


async def test_before_the_first_snapshot_the_account_stands_at_its_initial_balance(
    database: Database,
) -> None:
    w = await _challenge(database)
    empty = {
        "updated_at": None,
        "balance": None,
        "equity": None,
        "day_start_balance": None,
        "day_start_equity": None,
        "highest_eod_balance": None,
    }
    async with database.session() as s:
        await set_state(s, w.a1, **empty)
    o = (await account_objectives(database, w.alice, w.a1, now=NOW)).objectives
    assert o is not None
    assert (o.balance, o.profit, o.daily_floor, o.daily_room, o.max_room) == (
        D("100000.00"),
        D("0.00"),
        D("95000.00"),  # 100 000 − 5 %
        D("5000.00"),
        D("10000.00"),
    )
    assert o.equity_at is None


async def test_time_out_and_a_misconfigured_challenge(database: Database) -> None:
    w = await _challenge(database)
    after = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # 00:00 CEST on Apr 1
    o = (await account_objectives(database, w.alice, w.a1, now=after)).objectives
    assert o is not None and (o.days_left, o.state, o.fail_reason) == (
        0,
        ChallengeState.FAILED,
        FailReason.TIME,
    )
    async with database.session() as s:
        account = await s.get(TradingAccount, w.a1)
        assert account is not None
        account.prop_profit_target_pct = D(0)
    with pytest.raises(Conflict, match="not valid"):
        await account_objectives(database, w.alice, w.a1, now=NOW)


@contextmanager
def count_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", listener)


async def test_two_statements_whatever_the_history(database: Database) -> None:
    """The account, then one row of per-day probes and breaches; a year-long open challenge
    (no time limit) still takes two."""
    w = await _challenge(database, prop_max_days=None)
    with count_statements(database) as statements:
        o = (await account_objectives(database, w.alice, w.a1, now=NOW + timedelta(days=300))).objectives
    assert o is not None and o.trading_days == 3 and o.days_left is None
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


async def test_the_demo_prop_account_runs_a_challenge(sqlite_database: Database) -> None:
    """The demo seed gives its prop account a challenge started 6 days before "now"; its trading
    days are the Prague dates (reset 00:00) of the positions opened since, counted here apart."""
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    await seed_demo(sqlite_database, seed=3, now=now, hours_of_syncs=1)
    risk = Viewer(1, Role.RISK)
    ids = (await objective_accounts(sqlite_database, risk, now=now)).account_ids
    async with sqlite_database.read_session() as s:
        prop = (await s.execute(select(TradingAccount).where(TradingAccount.id.in_(ids)))).scalars().one()
        opened = (await s.execute(select(Position.opened_at).where(Position.account_id == prop.id))).scalars()
        prague = {t.astimezone(ZoneInfo("Europe/Prague")).date() for t in opened if t >= prop.prop_started_at}
    assert prop.day_reset_tz == "Europe/Prague" and prop.prop_started_at == now - timedelta(days=6)
    o = (await account_objectives(sqlite_database, risk, prop.id, now=now)).objectives
    assert o is not None and o.trading_days == len(prague) >= 4
    assert (o.day_number, o.days_left, o.min_trading_days, str(o.profit_target_pct)) == (7, 24, 4, "8.0000")
    assert o.state in (ChallengeState.IN_PROGRESS, ChallengeState.PASSED)
