"""The demo seed on both backends: the fleet's shape, true counters, determinism and reset rules."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.auth.passwords import verify_password
from dashboard.db.models import (
    AccountRiskState,
    Base,
    DivergenceIncident,
    EquitySnapshot,
    GuardEvent,
    Instrument,
    MarketState,
    Position,
    ReconciliationLog,
    TradingAccount,
    User,
)
from dashboard.db.session import Database
from dashboard.demo.fleet import load_fleet
from dashboard.demo.seed import DEMO_PASSWORD, demo_logins, is_seeded, seed_demo
from dashboard.domain.enums import (
    GuardType,
    Level,
    PositionStatus,
    Resolution,
    Role,
    Severity,
    Side,
    SyncEventType,
    SyncStatus,
)
from dashboard.domain.pnl import close_price, conversion_rate, position_profit
from dashboard.services.errors import ServiceError
from dashboard.services.ingestion.common import instrument_specs

NOW = datetime(2026, 11, 20, 10, 2, 17, tzinfo=UTC)
ANCHOR = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # NOW floored to 5 minutes
SMALL = {"hours_of_syncs": 1, "equity_days": 1}  # keeps the per-test seed well under a second


# --------------------------------------------------------------------------------------------
# Helpers shared with test_simulator.py
# --------------------------------------------------------------------------------------------


async def counter_mismatches(db: Database) -> list[str]:
    """Every `account_risk_state` counter compared with the count query it stands for."""
    problems = []
    async with db.read_session() as s:

        async def count(model: Any, *where: Any) -> int:
            return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()

        states = (await s.execute(select(AccountRiskState).order_by(AccountRiskState.account_id))).scalars()
        for st in states:
            a = st.account_id
            log, inc = ReconciliationLog, DivergenceIncident
            newest = (
                await s.execute(
                    select(log.created_at, log.status)
                    .where(log.account_id == a)
                    .order_by(log.created_at.desc(), log.id.desc())
                    .limit(1)
                )
            ).first()
            truth = {
                "total_syncs": await count(log, log.account_id == a),
                "failed_syncs": await count(log, log.account_id == a, log.status == SyncStatus.FAILED),
                "incidents_total": await count(inc, inc.account_id == a),
                "open_incidents": await count(inc, inc.account_id == a, inc.resolution == Resolution.OPEN),
                "open_critical_incidents": await count(
                    inc,
                    inc.account_id == a,
                    inc.resolution == Resolution.OPEN,
                    inc.severity == Severity.CRITICAL,
                ),
                "open_positions": await count(
                    Position, Position.account_id == a, Position.status == PositionStatus.OPEN
                ),
                "last_sync_at": newest[0] if newest else None,
                "last_sync_status": newest[1] if newest else None,
            }
            for name, expected in truth.items():
                if getattr(st, name) != expected:
                    problems.append(f"account {a}: {name} = {getattr(st, name)!r}, truth {expected!r}")
    return problems


async def table_counts(db: Database) -> dict[str, int]:
    async with db.read_session() as s:
        return {
            t.name: (await s.execute(select(func.count()).select_from(t))).scalar_one()
            for t in Base.metadata.sorted_tables
        }


async def last_events(db: Database, account_id: int, n: int = 5) -> list[ReconciliationLog]:
    async with db.read_session() as s:
        log = ReconciliationLog
        stmt = (
            select(log)
            .where(log.account_id == account_id)
            .order_by(log.created_at.desc(), log.id.desc())
            .limit(n)
        )
        return list((await s.execute(stmt)).scalars())


async def _sample(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Sorted tuples of a sample of tables, for determinism checks across databases."""
    async with db.read_session() as s:
        equity = (
            await s.execute(
                select(
                    EquitySnapshot.account_id,
                    EquitySnapshot.ts,
                    EquitySnapshot.equity,
                    EquitySnapshot.hwm,
                    EquitySnapshot.drawdown_pct,
                )
            )
        ).all()
        d = DivergenceIncident
        incidents = (
            await s.execute(
                select(
                    d.account_id,
                    d.broker_position_id,
                    d.kind,
                    d.severity,
                    d.resolution,
                    d.first_seen_at,
                    d.last_seen_at,
                    d.occurrences,
                    d.local_value,
                    d.broker_value,
                )
            )
        ).all()
        p = Position
        positions = (
            await s.execute(
                select(
                    p.account_id,
                    p.broker_position_id,
                    p.symbol,
                    p.side,
                    p.volume,
                    p.price_open,
                    p.profit,
                    p.status,
                )
            )
        ).all()
        guards = (
            await s.execute(
                select(GuardEvent.guard_type, GuardEvent.symbol, GuardEvent.level, GuardEvent.created_at)
            )
        ).all()
    return {
        name: sorted(tuple(r) for r in rows)
        for name, rows in {
            "equity": equity,
            "incidents": incidents,
            "positions": positions,
            "guards": guards,
        }.items()
    }


@pytest.fixture
async def other_sqlite(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A second, independent database (determinism is checked across two databases)."""
    path = tmp_path / "other.sqlite3"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        yield db
    finally:
        await db.dispose()


# --------------------------------------------------------------------------------------------
# The full default fleet
# --------------------------------------------------------------------------------------------


async def test_full_fleet_seed(database: Database) -> None:
    report = await seed_demo(database, now=NOW)

    assert (report.users, report.accounts, report.equity_snapshots, report.syncs) == (10, 10, 20160, 7200)
    assert report.incidents > 0 and report.guard_events > 0 and "10 accounts" in report.summary()
    assert report.logins[0] == "admin@demo.local" and DEMO_PASSWORD == "demo"
    assert await counter_mismatches(database) == []

    async with database.read_session() as s:
        users = list((await s.execute(select(User))).scalars())
        states = list((await s.execute(select(AccountRiskState))).scalars())
        accounts = {a.id: a for a in (await s.execute(select(TradingAccount))).scalars()}
        per_account = dict(
            (
                await s.execute(
                    select(EquitySnapshot.account_id, func.count()).group_by(EquitySnapshot.account_id)
                )
            ).all()
        )
        last_ts = (await s.execute(select(func.max(EquitySnapshot.ts)))).scalar_one()
        market = list((await s.execute(select(MarketState))).scalars())
        n_instruments = (await s.execute(select(func.count()).select_from(Instrument))).scalar_one()

    assert Counter(u.role for u in users) == {Role.ADMIN: 1, Role.RISK: 2, Role.TRADER: 7}
    assert all(u.is_demo and u.password_hash and u.password_hash.startswith("$argon2id$") for u in users)
    assert await verify_password(DEMO_PASSWORD, users[0].password_hash)
    assert Counter(st.dd_level for st in states) == {Level.NORMAL: 6, Level.WARNING: 2, Level.CRITICAL: 2}
    assert set(per_account.values()) == {2016} and len(per_account) == 10
    assert last_ts == ANCHOR
    assert n_instruments == 8 and len(market) == 8 and {m.quoted_at for m in market} == {ANCHOR}
    assert all(a.platform_magic == 20240601 for a in accounts.values())

    forced = next(a.id for a in accounts.values() if a.broker_login == 51000101)
    for account_id in accounts:
        events = await last_events(database, account_id)
        assert any(e.status is SyncStatus.DIVERGENT for e in events), account_id
        if account_id == forced:
            assert any(e.event_type is SyncEventType.SYNC_FAILED for e in events)
    prop = next(a.id for a in accounts.values() if a.daily_loss_limit_pct is not None)
    async with database.read_session() as s:
        daily = (
            await s.execute(
                select(func.count())
                .select_from(GuardEvent)
                .where(
                    GuardEvent.account_id == prop,
                    GuardEvent.guard_type == GuardType.DAILY_LOSS,
                    GuardEvent.level == Level.WARNING,
                )
            )
        ).scalar_one()
    assert daily >= 1


async def test_seeded_rows_are_consistent(database: Database) -> None:
    """Stored gauges, positions and logs agree with the domain formulas and with each other."""
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    async with database.read_session() as s:
        specs = await instrument_specs(s)
        quotes = {m.symbol: m for m in (await s.execute(select(MarketState))).scalars()}
        mids = {sym: (q.bid + q.ask) / 2 for sym, q in quotes.items()}
        positions = list((await s.execute(select(Position))).scalars())
        states = {st.account_id: st for st in (await s.execute(select(AccountRiskState))).scalars()}
        last = {
            e.account_id: e
            for e in (await s.execute(select(EquitySnapshot).where(EquitySnapshot.ts == ANCHOR))).scalars()
        }
        incidents = list((await s.execute(select(DivergenceIncident))).scalars())
        log_accounts = dict(
            (await s.execute(select(ReconciliationLog.id, ReconciliationLog.account_id))).all()
        )
        logs = list((await s.execute(select(ReconciliationLog))).scalars())

    open_by_account = Counter(p.account_id for p in positions if p.status is PositionStatus.OPEN)
    closed_by_account = Counter(p.account_id for p in positions if p.status is PositionStatus.CLOSED)
    assert all(n <= 6 for n in open_by_account.values())
    assert all(20 <= closed_by_account[a] for a in states)
    for p in positions:
        spec = specs[p.symbol]
        if p.status is PositionStatus.OPEN:
            q = quotes[p.symbol]
            assert p.price_current == close_price(p.side, q.bid, q.ask)
            rate = conversion_rate(spec.quote_ccy, "USD", mids)
            expected = position_profit(
                p.side, p.volume, p.price_open, p.price_current, spec.contract_size, rate
            )
            assert p.profit == expected
            if p.sl is not None:  # stops already crossed would be closed by the first simulator tick
                assert (p.price_current - p.sl) * (1 if p.side is Side.BUY else -1) > 0
        else:
            assert p.closed_at is not None and p.close_price is not None and p.realized_pnl is not None
            assert p.realized_pnl == p.profit + p.swap  # held overnight: the swap is part of the result
            assert p.opened_at < p.closed_at <= ANCHOR and p.close_reason is not None
        assert p.magic == 20240601 and p.broker_ticket > 0
    for account_id, st in states.items():
        snap = last[account_id]
        assert (st.equity, st.hwm, st.drawdown_pct, st.updated_at) == (
            snap.equity,
            snap.hwm,
            snap.drawdown_pct,
            ANCHOR,
        )
        floating = sum(
            (
                p.profit + p.swap
                for p in positions
                if p.account_id == account_id and p.status is PositionStatus.OPEN
            ),
            Decimal(0),
        )
        assert st.equity - st.balance == floating  # the simulator continues the curve without a jump
    for inc in incidents:
        assert log_accounts[inc.first_log_id] == inc.account_id == log_accounts[inc.last_log_id]
        assert inc.first_seen_at <= inc.last_seen_at and inc.occurrences >= 1
        assert (inc.resolution is Resolution.OPEN) == (inc.resolved_at is None)
    for log in logs:
        assert log.matched_positions <= min(log.local_positions, log.broker_positions)
        assert (log.error is not None) == (log.status is SyncStatus.FAILED)
    first = min(logs, key=lambda g: (g.created_at, g.id))
    assert first.event_type is SyncEventType.STARTUP_SYNC or first.status is SyncStatus.FAILED


# --------------------------------------------------------------------------------------------
# Determinism, reset and refusal
# --------------------------------------------------------------------------------------------


async def test_same_seed_and_now_give_identical_rows(database: Database, other_sqlite: Database) -> None:
    """Two databases (this backend and a separate SQLite file), same seed and now: same rows."""
    await seed_demo(database, seed=5, now=NOW, **SMALL)
    await seed_demo(other_sqlite, seed=5, now=NOW + timedelta(seconds=40), **SMALL)  # same 5-min floor
    first, second = await _sample(database), await _sample(other_sqlite)
    assert first == second
    assert len(first["equity"]) == 10 * 288 and first["incidents"]

    # A reset reseed into the same database gives the same rows (and, on PostgreSQL, the same ids).
    await seed_demo(database, seed=5, now=NOW, reset=True, **SMALL)
    assert await _sample(database) == first
    other = await seed_demo(other_sqlite, seed=6, now=NOW, reset=True, **SMALL)
    assert other.accounts == 10 and await _sample(other_sqlite) != first


async def _every_row(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every table in primary-key order, but the (salted) password hashes."""
    async with db.read_session() as s:
        return {
            table.name: [
                tuple(row)
                for row in await s.execute(
                    select(*(c for c in table.columns if c.name != "password_hash")).order_by(
                        *table.primary_key.columns
                    )
                )
            ]
            for table in Base.metadata.sorted_tables
        }


async def test_same_inputs_give_the_same_database(database: Database, other_sqlite: Database) -> None:
    """Not a sample: every row and column (ids included) is a function of the seed, `now` and the fleet."""
    await seed_demo(database, seed=7, now=NOW, **SMALL)
    await seed_demo(other_sqlite, seed=7, now=NOW, **SMALL)
    first, second = await _every_row(database), await _every_row(other_sqlite)
    assert first == second
    assert all(first[t] for t in ("users", "positions", "reconciliation_logs", "guard_events", "app_meta"))


async def test_second_seed_without_reset_raises_and_changes_nothing(database: Database) -> None:
    assert not await is_seeded(database)
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    assert await is_seeded(database)
    before = await table_counts(database)
    with pytest.raises(ServiceError, match="already holds data; use --reset"):
        await seed_demo(database, seed=3, now=NOW, **SMALL)
    assert await table_counts(database) == before


async def test_two_processes_seeding_at_once_seed_once_and_the_second_is_told_why(
    pg_database: Database,
) -> None:
    """Two app processes started together on an empty database (docker compose up) both seed: one
    does, the other waits for it and finds the data, instead of failing on a duplicate key."""
    other = Database(pg_database.url)
    try:
        results = await asyncio.gather(
            seed_demo(pg_database, seed=3, now=NOW, **SMALL),
            seed_demo(other, seed=3, now=NOW, **SMALL),
            return_exceptions=True,
        )
    finally:
        await other.dispose()
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], ServiceError), results
    assert "already holds data" in str(refused[0])
    assert await is_seeded(pg_database)
    assert (await table_counts(pg_database))["users"] == len(load_fleet().users)


async def test_reset_replaces_everything(database: Database, capsys: pytest.CaptureFixture[str]) -> None:
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    report = await seed_demo(
        database, seed=4, now=NOW + timedelta(hours=2), reset=True, progress=True, **SMALL
    )
    err = capsys.readouterr().err
    assert "\r" in err and "seeding demo data" in err and err.endswith("\n")
    counts = await table_counts(database)
    assert counts["users"] == 10 and counts["trading_accounts"] == 10
    assert counts["equity_snapshots"] == report.equity_snapshots == 10 * 288
    assert counts["reconciliation_logs"] == report.syncs == 10 * 120
    assert counts["positions"] == report.positions_open + report.positions_closed
    assert await counter_mismatches(database) == []
    async with database.read_session() as s:
        assert (await s.execute(select(func.max(EquitySnapshot.ts)))).scalar_one() == ANCHOR + timedelta(
            hours=2
        )


async def test_reset_refused_with_a_real_user(database: Database) -> None:
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    async with database.session() as s:
        s.add(
            User(
                email="real@broker.example",
                display_name="Real",
                role=Role.RISK,
                is_demo=False,
                created_at=NOW,
            )
        )
    before = await table_counts(database)
    with pytest.raises(ServiceError, match="refusing to reset: non-demo users present"):
        await seed_demo(database, seed=3, now=NOW, reset=True, **SMALL)
    assert await table_counts(database) == before


async def test_demo_logins_order_admin_risk_traders(database: Database) -> None:
    assert await demo_logins(database) == []
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    logins = await demo_logins(database)
    assert logins[:3] == ["admin@demo.local", "risk@demo.local", "risk2@demo.local"]
    assert logins[3:] == [f"trader{i}@demo.local" for i in range(1, 8)]


async def test_sync_window_must_fit_the_equity_horizon(database: Database) -> None:
    with pytest.raises(ValueError, match="hours_of_syncs"):
        await seed_demo(database, now=NOW, hours_of_syncs=24, equity_days=1)
    assert not await is_seeded(database)
