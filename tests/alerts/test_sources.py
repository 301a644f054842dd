"""What raises alerts besides guard events: critical reconciliation incidents, silent accounts and
the dashboard's own trouble (the cache's breaker; the database, on a throwaway PostgreSQL that the
test stops and starts)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from dashboard.db.migrate import upgrade
from dashboard.db.models import AccountRiskState, Alert
from dashboard.db.session import Database
from dashboard.domain.enums import AccountStatus, AlertKind, AlertState, Level, Role
from dashboard.services.alerts.channels import add_channel
from dashboard.services.alerts.rules import RuleSpec, add_rule
from dashboard.services.alerts.secrets import ChannelSecrets
from dashboard.services.alerts.sender import Message
from dashboard.services.alerts.silence import mark_silent_accounts
from dashboard.services.alerts.trouble import TroubleWatch
from dashboard.services.ingestion import sync as sync_module
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.sync import record_sync
from tests.conftest import service_missing
from tests.factories import T0, make_account, make_user
from tests.ingestion.test_equity import new_account, snap
from tests.ingestion.test_sync import SYNC_AT, broker_snapshot, seed_fixture
from tests.throwaway import ThrowawayPostgres, ThrowawayUnavailable

SECRETS = ChannelSecrets(Fernet.generate_key().decode())


async def alerts_of(db: Database, kind: AlertKind) -> list[Alert]:
    async with db.read_session() as s:
        return list((await s.execute(select(Alert).where(Alert.kind == kind).order_by(Alert.id))).scalars())


# reconciliation incidents


async def test_a_critical_incident_raises_an_alert_and_its_resolution_resolves_it(database: Database) -> None:
    account_id = await seed_fixture(database)
    await record_sync(database, broker_snapshot(account_id, "s1"))  # 105 missing at the broker: critical
    raised = await alerts_of(database, AlertKind.INCIDENT)
    assert len(raised) == 1 and raised[0].state is AlertState.RAISED and raised[0].level is Level.CRITICAL
    assert raised[0].account_id == account_id and "missing_at_broker" in raised[0].title
    await record_sync(database, broker_snapshot(account_id, "s2", at=SYNC_AT + timedelta(seconds=30)))
    assert len(await alerts_of(database, AlertKind.INCIDENT)) == 1  # seen again: no new alert
    back = broker_snapshot(account_id, "s3", at=SYNC_AT + timedelta(seconds=60))
    back["positions"].append(
        {
            "identifier": 105,
            "ticket": 105,
            "symbol": "USDJPY",
            "side": "sell",
            "volume": "1.00",
            "price_open": "155.000",
            "price_current": "154.900",
            "opened_at": T0.isoformat(),
        }
    )
    await record_sync(database, back)
    both = await alerts_of(database, AlertKind.INCIDENT)
    assert [(a.state, a.key) for a in both] == [
        (AlertState.RAISED, raised[0].key),
        (AlertState.RESOLVED, raised[0].key),
    ]
    assert both[0].incident_id == both[1].incident_id is not None


async def test_a_sync_whose_write_fails_leaves_no_incident_alert(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox row is in the sync's transaction: a write that fails after the alert was added
    (here: the last step, the account's counters) rolls it back with everything else."""
    account_id = await seed_fixture(database)

    def fail(*args: object) -> None:
        raise RuntimeError("the write failed")

    monkeypatch.setattr(sync_module, "_count_sync", fail)
    with pytest.raises(RuntimeError, match="the write failed"):
        await record_sync(database, broker_snapshot(account_id, "s1"))
    assert await alerts_of(database, AlertKind.INCIDENT) == []
    monkeypatch.undo()
    await record_sync(database, broker_snapshot(account_id, "s1"))
    assert len(await alerts_of(database, AlertKind.INCIDENT)) == 1


# silent accounts


async def heard(db: Database, account_id: int, at: datetime) -> None:
    async with db.session() as s:
        await s.execute(
            update(AccountRiskState).where(AccountRiskState.account_id == account_id).values(last_sync_at=at)
        )


async def test_a_silent_account_raises_exactly_one_alert_and_its_return_resolves_it(
    database: Database,
) -> None:
    account_id = await new_account(database)
    await record_equity(database, snap(account_id, 0, 10000))  # heard at T0 (equity)
    watching = T0
    assert (await mark_silent_accounts(database, watching, T0 + timedelta(minutes=4))).account_ids == []
    found = await mark_silent_accounts(database, watching, T0 + timedelta(minutes=6))
    assert found.account_ids == [account_id] and found.touched
    again = await mark_silent_accounts(database, watching, T0 + timedelta(minutes=20))
    assert again.account_ids == []
    silent = await alerts_of(database, AlertKind.SILENCE)
    assert [(a.state, a.level, a.key) for a in silent] == [
        (AlertState.RAISED, Level.CRITICAL, f"silence:account:{account_id}")
    ]
    async with database.read_session() as s:
        state = await s.get(AccountRiskState, account_id)
        assert state is not None and state.silent_since == T0
    await record_equity(database, snap(account_id, 5, 10000))  # the bridge is back
    states = [a.state for a in await alerts_of(database, AlertKind.SILENCE)]
    assert states == [AlertState.RAISED, AlertState.RESOLVED]
    async with database.read_session() as s:
        state = await s.get(AccountRiskState, account_id)
        assert state is not None and state.silent_since is None


async def another_account(db: Database, email: str, **overrides: Any) -> int:
    async with db.session() as s:
        user = await make_user(s, email, Role.TRADER)
        return (await make_account(s, user, **overrides)).id


async def test_silence_is_judged_per_account_and_only_for_what_the_leader_watched(
    database: Database,
) -> None:
    quick = await another_account(database, "quick@x", silence_timeout_s=60)
    usual = await another_account(database, "usual@x")  # 5 min
    never_heard = await another_account(database, "never@x")
    disabled = await another_account(database, "off@x", status=AccountStatus.DISABLED)
    for account_id in (quick, usual, disabled):
        await heard(database, account_id, T0)
    # A leader that started watching at T0+10 min gives every account its whole timeout from then:
    # it cannot know what happened while nobody watched (the dashboard itself may have been down).
    watching = T0 + timedelta(minutes=10)
    assert (
        await mark_silent_accounts(database, watching, watching + timedelta(seconds=59))
    ).account_ids == []
    found = await mark_silent_accounts(database, watching, watching + timedelta(seconds=61))
    assert found.account_ids == [quick]
    found = await mark_silent_accounts(database, watching, watching + timedelta(minutes=6))
    assert found.account_ids == [usual]  # never heard: nothing to miss; disabled: not trading
    assert never_heard not in found.account_ids and disabled not in found.account_ids


# the dashboard's own trouble


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def __call__(self, url: str, message: Message) -> str | None:
        self.sent.append(message)
        return None


async def test_a_cache_breaker_open_for_five_minutes_raises_one_alert_and_closing_resolves_it(
    database: Database,
) -> None:
    open_for = [0.0]
    watch = TroubleWatch(database, lambda: open_for[0], lambda: True, SECRETS, Recorder())
    assert (await watch.check()) is not None
    open_for[0] = 299.0
    await watch.check()
    assert await alerts_of(database, AlertKind.SYSTEM) == []
    open_for[0] = 301.0
    await watch.check()
    await watch.check()
    open_for[0] = 0.0
    await watch.check()
    got = [(a.state, a.key) for a in await alerts_of(database, AlertKind.SYSTEM)]
    assert got == [(AlertState.RAISED, "system:cache"), (AlertState.RESOLVED, "system:cache")]


async def test_only_the_leader_reports_the_cache(database: Database) -> None:
    watch = TroubleWatch(database, lambda: 400.0, lambda: False, SECRETS, Recorder())
    assert await watch.check() is None
    assert await alerts_of(database, AlertKind.SYSTEM) == []


@pytest.fixture
def outage_postgres(tmp_path: Path) -> Iterator[ThrowawayPostgres]:
    try:
        pg = ThrowawayPostgres(tmp_path / "pg")
    except ThrowawayUnavailable as error:
        service_missing("A throwaway PostgreSQL", error)
        raise
    with pg:
        yield pg


@pytest.mark.postgres
def test_the_last_leader_reports_a_database_down_for_a_minute_straight_to_the_channels(
    outage_postgres: ThrowawayPostgres,
) -> None:
    """The outbox is in the database, so the leader that last saw it sends directly to the system
    alerts' channels, then sends the recovery and writes both down when the database is back."""
    url = outage_postgres.create_database("trouble")
    recorder = Recorder()
    clock = [datetime(2026, 11, 30, 12, 0, tzinfo=UTC)]

    async def scenario(phase: str) -> list[Alert]:
        db = Database(url)
        try:
            if phase == "setup":
                await upgrade(db)
                await add_channel(db, SECRETS, "ops", "json://ops.example/", with_rule=False)
                await add_rule(db, RuleSpec("ops", "ops", kinds=["system"], min_level="critical"))
            return await alerts_of(db, AlertKind.SYSTEM)
        finally:
            await db.dispose()

    asyncio.run(scenario("setup"))
    db = Database(url)
    watch = TroubleWatch(db, lambda: 0.0, lambda: True, SECRETS, recorder, clock=lambda: clock[0])

    async def check() -> None:
        await watch.check()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(check())  # leading, database up: channels read
        outage_postgres.stop()
        loop.run_until_complete(check())  # down: counting
        clock[0] += timedelta(seconds=59)
        loop.run_until_complete(check())
        assert recorder.sent == []
        clock[0] += timedelta(seconds=2)
        loop.run_until_complete(check())
        loop.run_until_complete(check())
        assert [m.title.split("]")[0] for m in recorder.sent] == ["[CRITICAL"]
        outage_postgres.start()
        clock[0] += timedelta(seconds=30)
        loop.run_until_complete(check())
        loop.run_until_complete(db.dispose())
    finally:
        loop.close()
    assert [m.title.split("]")[0] for m in recorder.sent] == ["[CRITICAL", "[RESOLVED"]
    assert "database" in recorder.sent[0].title.lower()
    recorded = asyncio.run(scenario("read"))
    assert [(a.state, a.key) for a in recorded] == [
        (AlertState.RAISED, "system:database"),
        (AlertState.RESOLVED, "system:database"),
    ]


async def test_a_process_that_was_not_leading_says_nothing_when_the_database_goes(
    database: Database, tmp_path: Path
) -> None:
    recorder = Recorder()
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    clock = [T0]
    watch = TroubleWatch(unreachable, lambda: 0.0, lambda: False, SECRETS, recorder, clock=lambda: clock[0])
    for _ in range(3):
        await watch.check()
        clock[0] += timedelta(minutes=2)
    await unreachable.dispose()
    assert recorder.sent == []
