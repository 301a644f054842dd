"""Recording syncs end to end on both backends: the docs/domain.md §6.9 fixture and its variants."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.db.models import AccountRiskState, DivergenceIncident, Position, ReconciliationLog
from dashboard.db.session import Database
from dashboard.domain.enums import (
    CloseReason,
    DivergenceKind,
    MarginMode,
    PositionSource,
    PositionStatus,
    Resolution,
    Role,
    Severity,
    Side,
    SyncStatus,
)
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.sync import record_sync
from tests.factories import T0, make_account, make_instruments, make_position, make_user

SYNC_AT = T0 + timedelta(hours=1)


async def seed_fixture(db: Database, *, touch_104_at: Any = None, **account: Any) -> int:
    """Local book of §6.9: 101 EURUSD buy 1.00, 102 XAUUSD sell 0.50, 103 US30 buy 2.00,
    104 GBPUSD buy 0.30 SL 1.26000, 105 USDJPY sell 1.00."""
    async with db.session() as s:
        await make_instruments(s)
        user = await make_user(s, "trader@x", Role.TRADER)
        acc = await make_account(s, user, **account)
        await make_position(
            s, acc, 101, "EURUSD", sl=Decimal("1.08000"), tp=Decimal("1.09500"), price_open=Decimal("1.08500")
        )
        await make_position(
            s, acc, 102, "XAUUSD", side=Side.SELL, volume=Decimal("0.50"), price_open=Decimal("2350.00")
        )
        await make_position(s, acc, 103, "US30", volume=Decimal("2.00"), price_open=Decimal("39000.0"))
        await make_position(
            s,
            acc,
            104,
            "GBPUSD",
            volume=Decimal("0.30"),
            price_open=Decimal("1.27000"),
            sl=Decimal("1.26000"),
            updated_at=touch_104_at or T0,
        )
        await make_position(s, acc, 105, "USDJPY", side=Side.SELL, price_open=Decimal("155.000"))
        state = await s.get(AccountRiskState, acc.id)
        assert state is not None
        state.open_positions = 5
        return acc.id


def broker_snapshot(account_id: int, sync_id: str, at: Any = SYNC_AT, **overrides: Any) -> dict[str, Any]:
    opened = T0.isoformat()
    positions = [
        {
            "identifier": 101,
            "ticket": 101,
            "symbol": "EURUSD",
            "side": "buy",
            "volume": "1.00",
            "price_open": "1.08500",
            "price_current": "1.08750",
            "sl": "1.08000",
            "tp": "1.09500",
            "profit": "250.00",
            "swap": "-3.20",
            "opened_at": opened,
        },
        {
            "identifier": 102,
            "ticket": 102,
            "symbol": "XAUUSD",
            "side": "sell",
            "volume": "0.30",
            "price_open": "2350.00",
            "price_current": "2356.40",
            "opened_at": opened,
        },
        {
            "identifier": 104,
            "ticket": 104,
            "symbol": "GBPUSD",
            "side": "buy",
            "volume": "0.30",
            "price_open": "1.27000",
            "price_current": "1.27100",
            "sl": "1.26500",
            "tp": "0",
            "opened_at": opened,
        },
        {
            "identifier": 201,
            "ticket": 201,
            "symbol": "BTCUSD",
            "side": "buy",
            "volume": "0.10",
            "price_open": "60000.00",
            "price_current": "60100.00",
            "magic": 0,
            "opened_at": opened,
        },
    ]
    deals = [
        {
            "identifier": 103,
            "reason": "sl",
            "price": "38900.0",
            "profit": "-200.00",
            "time": (T0 + timedelta(minutes=30)).isoformat(),
        }
    ]
    data: dict[str, Any] = {
        "account_id": account_id,
        "sync_id": sync_id,
        "taken_at": at.isoformat(),
        "duration_ms": 120,
        "positions": positions,
        "exit_deals": deals,
    }
    data.update(overrides)
    return data


async def counts(db: Database) -> tuple[int, int, int]:
    async with db.read_session() as s:
        logs = (await s.execute(select(func.count()).select_from(ReconciliationLog))).scalar_one()
        incidents = (await s.execute(select(func.count()).select_from(DivergenceIncident))).scalar_one()
        positions = (await s.execute(select(func.count()).select_from(Position))).scalar_one()
    return logs, incidents, positions


async def test_reference_fixture_counts_divergences_and_applies_broker_facts(database: Database) -> None:
    account_id = await seed_fixture(database)
    result = await record_sync(database, broker_snapshot(account_id, "s1"))
    assert (result.status, result.divergences, result.matched_positions, result.new_incidents) == (
        SyncStatus.DIVERGENT,
        5,
        1,
        5,
    )
    async with database.read_session() as s:
        log = (await s.execute(select(ReconciliationLog))).scalar_one()
        assert (log.broker_positions, log.local_positions, log.matched_positions, log.divergences) == (
            4,
            5,
            1,
            5,
        )
        incidents = {i.broker_position_id: i for i in (await s.execute(select(DivergenceIncident))).scalars()}
        positions = {p.broker_position_id: p for p in (await s.execute(select(Position))).scalars()}
        state = await s.get(AccountRiskState, account_id)
    expected = {
        102: (DivergenceKind.VOLUME_MISMATCH, Severity.WARNING, "0.50", "0.30", Resolution.BROKER_WINS),
        103: (DivergenceKind.CLOSED_AT_BROKER, Severity.INFO, None, None, Resolution.CLOSED_LOCALLY),
        104: (DivergenceKind.SL_MISMATCH, Severity.WARNING, "1.26000", "1.26500", Resolution.BROKER_WINS),
        105: (DivergenceKind.MISSING_AT_BROKER, Severity.CRITICAL, None, None, Resolution.MANUAL),
        201: (DivergenceKind.UNEXPECTED_AT_BROKER, Severity.WARNING, None, None, Resolution.ADOPTED_EXTERNAL),
    }
    assert set(incidents) == set(expected)
    for identifier, (kind, severity, local_value, broker_value, action) in expected.items():
        incident = incidents[identifier]
        assert (incident.kind, incident.severity, incident.action) == (kind, severity, action)
        assert incident.resolution is Resolution.OPEN and incident.occurrences == 1
        if local_value is not None:
            assert incident.local_value is not None and local_value in incident.local_value
            assert incident.broker_value is not None and broker_value in incident.broker_value
    # Broker facts applied: the broker wins volume and SL, the SL-closed position is closed locally,
    # the external trade is adopted, the position without an exit deal stays open.
    assert positions[102].volume == Decimal("0.30")
    assert positions[104].sl == Decimal("1.26500")
    assert positions[103].status is PositionStatus.CLOSED
    assert positions[103].close_reason is CloseReason.SL
    assert positions[103].realized_pnl == Decimal("-200.00")
    assert positions[201].source is PositionSource.EXTERNAL and positions[201].status is PositionStatus.OPEN
    assert positions[105].status is PositionStatus.OPEN
    assert positions[101].price_current == Decimal("1.08750") and positions[101].profit == Decimal("250.00")
    assert state is not None
    assert (
        state.total_syncs,
        state.incidents_total,
        state.open_incidents,
        state.open_critical_incidents,
    ) == (
        1,
        5,
        5,
        1,
    )
    assert state.open_positions == 5  # 5 local - 1 closed + 1 adopted
    assert state.last_sync_status is SyncStatus.DIVERGENT


async def test_incidents_are_not_recounted_resolve_when_gone_and_missing_escalates(
    database: Database,
) -> None:
    account_id = await seed_fixture(database)
    await record_sync(database, broker_snapshot(account_id, "s1"))
    second = await record_sync(
        database, broker_snapshot(account_id, "s2", at=SYNC_AT + timedelta(seconds=30))
    )
    # Everything but 105 was fixed locally by the first sync; 105 is still missing.
    assert (second.divergences, second.new_incidents, second.resolved_incidents) == (1, 0, 4)
    third = await record_sync(database, broker_snapshot(account_id, "s3", at=SYNC_AT + timedelta(seconds=60)))
    assert third.new_incidents == 0
    async with database.read_session() as s:
        incidents = {i.broker_position_id: i for i in (await s.execute(select(DivergenceIncident))).scalars()}
        state = await s.get(AccountRiskState, account_id)
        log_sum = (await s.execute(select(func.sum(ReconciliationLog.divergences)))).scalar_one()
    assert len(incidents) == 5
    assert incidents[102].resolution is Resolution.BROKER_WINS and incidents[102].resolved_at is not None
    assert incidents[103].resolution is Resolution.CLOSED_LOCALLY
    assert incidents[201].resolution is Resolution.ADOPTED_EXTERNAL
    missing = incidents[105]
    assert (missing.resolution, missing.occurrences) == (Resolution.OPEN, 3)
    assert missing.escalated_at == SYNC_AT + timedelta(seconds=60)
    assert state is not None
    assert (
        state.total_syncs,
        state.incidents_total,
        state.open_incidents,
        state.open_critical_incidents,
    ) == (
        3,
        5,
        1,
        1,
    )
    assert log_sum == 7  # the per-sync sum over-counts; incidents do not


async def test_same_sync_id_twice_is_stored_once(database: Database) -> None:
    account_id = await seed_fixture(database)
    first = await record_sync(database, broker_snapshot(account_id, "dup-1"))
    before = await counts(database)
    again = await record_sync(database, broker_snapshot(account_id, "dup-1"))
    assert first.created and not again.created
    assert again.log_id == first.log_id and again.divergences == 5
    assert await counts(database) == before
    async with database.read_session() as s:
        state = await s.get(AccountRiskState, account_id)
    assert state is not None and state.total_syncs == 1 and state.incidents_total == 5


async def test_failed_broker_query_logs_once_and_changes_nothing(database: Database) -> None:
    account_id = await seed_fixture(database)
    async with database.read_session() as s:
        before = [(p.id, p.volume, p.status, p.sl) for p in (await s.execute(select(Position))).scalars()]
    result = await record_sync(
        database,
        {
            "account_id": account_id,
            "sync_id": "f1",
            "event_type": "sync_failed",
            "taken_at": SYNC_AT.isoformat(),
            "error": "terminal disconnected",
        },
    )
    assert result.status is SyncStatus.FAILED and result.divergences == 0
    async with database.read_session() as s:
        logs = list((await s.execute(select(ReconciliationLog))).scalars())
        after = [(p.id, p.volume, p.status, p.sl) for p in (await s.execute(select(Position))).scalars()]
        incidents = (await s.execute(select(func.count()).select_from(DivergenceIncident))).scalar_one()
        state = await s.get(AccountRiskState, account_id)
    assert [(log.event_type.value, log.status.value, log.error) for log in logs] == [
        ("sync_failed", "failed", "terminal disconnected")
    ]
    assert incidents == 0 and after == before
    assert state is not None and (state.total_syncs, state.failed_syncs) == (1, 1)


async def test_recent_local_activity_is_skipped_by_the_race_guard(database: Database) -> None:
    account_id = await seed_fixture(database, touch_104_at=SYNC_AT - timedelta(seconds=2))
    result = await record_sync(database, broker_snapshot(account_id, "r1"))
    assert result.divergences == 4
    async with database.read_session() as s:
        kinds = {i.kind for i in (await s.execute(select(DivergenceIncident))).scalars()}
        p104 = (await s.execute(select(Position).where(Position.broker_position_id == 104))).scalar_one()
    assert DivergenceKind.SL_MISMATCH not in kinds
    assert p104.sl == Decimal("1.26000")  # not touched while skipped


async def test_netting_account_is_skipped_not_reconciled_with_hedging_rules(database: Database) -> None:
    account_id = await seed_fixture(database, margin_mode=MarginMode.NETTING)
    result = await record_sync(database, broker_snapshot(account_id, "n1"))
    assert result.status is SyncStatus.SKIPPED
    logs, incidents, _ = await counts(database)
    assert (logs, incidents) == (1, 0)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(account_id=999_999), "account_id"),
        (lambda d: d["positions"][0].update(symbol="DOGEUSD"), "positions.0.symbol"),
        (lambda d: d["positions"][1].update(volume="-0.30"), "positions.1.volume"),
        (lambda d: d["positions"][1].update(volume="0"), "positions.1.volume"),
        (lambda d: d.update(taken_at="2026-11-02T13:00:00"), "taken_at"),
        (lambda d: d["positions"][2].update(opened_at="2026-11-02T13:00:00"), "positions.2.opened_at"),
        (lambda d: d["positions"].append(dict(d["positions"][0])), None),
        (lambda d: d.update(sync_id=""), "sync_id"),
        (lambda d: d.update(unexpected="x"), "unexpected"),
        (lambda d: d["exit_deals"][0].update(reason="magic"), "exit_deals.0.reason"),
        (lambda d: d.update(error="boom"), None),
    ],
)
async def test_bad_snapshot_is_refused_and_nothing_is_stored(
    database: Database, mutate: Any, field: str | None
) -> None:
    account_id = await seed_fixture(database)
    await record_sync(database, broker_snapshot(account_id, "ok-1"))
    before = await counts(database)
    bad = broker_snapshot(account_id, "bad-1", at=SYNC_AT + timedelta(seconds=30))
    mutate(bad)
    with pytest.raises(InvalidInput) as caught:
        await record_sync(database, bad)
    assert caught.value.field == field
    assert str(caught.value)
    assert await counts(database) == before


async def test_snapshot_older_than_the_latest_sync_is_refused(database: Database) -> None:
    account_id = await seed_fixture(database)
    await record_sync(database, broker_snapshot(account_id, "late-1"))
    with pytest.raises(InvalidInput, match="older"):
        await record_sync(database, broker_snapshot(account_id, "late-0", at=SYNC_AT - timedelta(seconds=30)))


async def test_a_closed_position_the_broker_still_holds_is_reopened_not_duplicated(
    database: Database,
) -> None:
    """Closed locally (an exit deal in one sync), then reported open by the broker again: the row
    is reopened with the broker's facts; no unique violation, no second row, counters true."""
    async with database.session() as s:
        await make_instruments(s)
        user = await make_user(s, "reopen@x", Role.TRADER)
        acc = await make_account(s, user)
        await make_position(s, acc, 301, "EURUSD")
        state = await s.get(AccountRiskState, acc.id)
        assert state is not None
        state.open_positions = 1
        account_id = acc.id
    later = SYNC_AT + timedelta(minutes=10)
    await record_sync(
        database,
        {
            "account_id": account_id, "sync_id": "close", "taken_at": SYNC_AT,
            "exit_deals": [{"identifier": 301, "reason": "sl", "price": "1.08000", "profit": "-50.00",
                            "time": SYNC_AT - timedelta(seconds=30)}],
        },
    )  # fmt: skip
    result = await record_sync(
        database,
        {
            "account_id": account_id, "sync_id": "back", "taken_at": later,
            "positions": [{"identifier": 301, "ticket": 302, "symbol": "EURUSD", "side": "buy",
                           "volume": "0.50", "price_open": "1.08500", "price_current": "1.08600",
                           "opened_at": T0}],
        },
    )  # fmt: skip
    assert result.created
    async with database.read_session() as s:
        rows = (await s.execute(select(Position).where(Position.account_id == account_id))).scalars().all()
        state = await s.get(AccountRiskState, account_id)
    assert len(rows) == 1
    (row,) = rows
    assert (row.status, row.broker_ticket, row.volume, row.closed_at) == (
        PositionStatus.OPEN, 302, Decimal("0.50"), None,
    )  # fmt: skip
    assert state is not None and state.open_positions == 1
