"""The live simulator on both backends: every panel moves, counters stay true, the loop survives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.cache.cache import QueryCache
from dashboard.cache.writer import Writer
from dashboard.db.models import AccountRiskState, EquitySnapshot, MarketState, Position, ReconciliationLog
from dashboard.db.session import Database
from dashboard.demo import simulator as simulator_module
from dashboard.demo.seed import seed_demo
from dashboard.demo.simulator import Simulator
from dashboard.services.errors import ServiceError
from dashboard.services.touched import Family, Touched
from tests.demo.test_seed import ANCHOR, NOW, SMALL, counter_mismatches

TICK = timedelta(seconds=3)
# Equity on every tick (these tests are about what each tick moves); the real rate is tested apart.
EVERY_TICK = timedelta(0)


def ticking_clock(start: datetime) -> Iterator[datetime]:
    t = start
    while True:
        t += TICK
        yield t


def writer(database: Database) -> Writer:
    """The write path the app gives the simulator (an in-process cache is enough here)."""
    return Writer(database, QueryCache())


async def _state(db: Database) -> dict[str, Any]:
    async with db.read_session() as s:
        return {
            "quoted_at": set((await s.execute(select(MarketState.quoted_at))).scalars()),
            "snapshots": dict(
                (
                    await s.execute(
                        select(EquitySnapshot.account_id, func.count()).group_by(EquitySnapshot.account_id)
                    )
                ).all()
            ),
            "equity": dict(
                (await s.execute(select(AccountRiskState.account_id, AccountRiskState.equity))).all()
            ),
            "logs": (await s.execute(select(func.count()).select_from(ReconciliationLog))).scalar_one(),
        }


async def test_twelve_ticks_move_every_panel(database: Database) -> None:
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    before = await _state(database)
    written: list[Touched] = []
    calls: list[int] = []

    class CountingCache(QueryCache):
        async def invalidate(self, *touched: Touched) -> None:
            calls.append(len(touched))
            written.extend(touched)

    sim = Simulator(Writer(database, CountingCache()), interval_s=0, seed=11, equity_every=EVERY_TICK)

    reports = [await sim.tick(ANCHOR + k * TICK) for k in range(1, 13)]

    after = await _state(database)
    assert after["quoted_at"] == {ANCHOR + 12 * TICK} != before["quoted_at"]
    assert all(after["snapshots"][a] == before["snapshots"][a] + 12 for a in before["snapshots"])
    assert any(after["equity"][a] != before["equity"][a] for a in before["equity"])
    assert after["logs"] > before["logs"]
    assert sum(r.syncs for r in reports) == after["logs"] - before["logs"] >= 10  # staggered, all synced
    assert max(r.syncs for r in reports) < 10  # ...but not all in the same tick
    assert all(r.quotes == 8 and r.equity_snapshots == 10 for r in reports)
    assert "quotes=8" in reports[0].line()
    assert await counter_mismatches(database) == []
    # Every write told the cache what it touched (quotes without owner, per-account equity and
    # syncs), once per tick: one invalidation for all of a tick's writes.
    assert len(calls) == 12
    families = [{family for family, _ in t.items} for t in written]
    market = [t for t in written if any(family is Family.MARKET for family, _ in t.items)]
    assert len(market) == 12 and all(scope is None for t in market for _, scope in t.items)
    assert sum(Family.EQUITY in f for f in families) == 12 * 10  # every snapshot of every account
    assert sum(Family.TIMELINE in f for f in families) == sum(r.syncs for r in reports)


async def test_equity_is_written_once_a_minute_and_at_every_fill(database: Database) -> None:
    """A bridge reports equity about once a minute (and when a fill changes the book), not on
    every 3-s tick: ~1,440 rows per account a day instead of ~29,000."""
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    quiet = Simulator(writer(database), seed=5, p_open=0, p_close=0, p_divergence=0, p_failure=0)
    reports = [await quiet.tick(ANCHOR + k * TICK) for k in range(1, 61)]  # three minutes of ticks
    written = [r.equity_snapshots for r in reports]
    assert sum(written) == 10 * 3  # each account once a minute
    assert all(n in (0, 10) for n in written)  # the whole fleet in the tick a minute passed
    busy = Simulator(writer(database), seed=2, p_open=0.5, p_close=0.3)
    later = ANCHOR + 61 * TICK
    busy_reports = [await busy.tick(later + k * TICK) for k in range(1, 6)]  # 15 s: no minute passed
    fills = sum(r.positions_opened + r.positions_closed for r in busy_reports)
    assert fills > 0 and 0 < sum(r.equity_snapshots for r in busy_reports) <= fills


async def test_busy_simulation_keeps_counters_true(database: Database) -> None:
    """Force every event type (opens, closes, injected divergences, failed syncs) and re-check."""
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    sim = Simulator(
        writer(database),
        seed=2,
        p_open=0.3,
        p_close=0.2,
        p_divergence=0.6,
        p_failure=0.1,
        equity_every=EVERY_TICK,
    )
    reports = [await sim.tick(ANCHOR + k * TICK) for k in range(1, 41)]
    assert sum(r.positions_opened for r in reports) > 0
    assert sum(r.positions_closed for r in reports) > 0
    assert sum(r.divergences_injected for r in reports) > 0
    assert sum(r.failed_syncs for r in reports) > 0
    assert await counter_mismatches(database) == []


async def test_time_never_goes_backwards(database: Database) -> None:
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    sim = Simulator(writer(database), seed=1, equity_every=EVERY_TICK)
    first = await sim.tick(ANCHOR - timedelta(hours=1))  # a clock behind the seeded data
    second = await sim.tick(ANCHOR - timedelta(hours=1))
    assert ANCHOR < first.at < second.at
    assert first.equity_snapshots == second.equity_snapshots == 10


async def test_run_forever_survives_a_failing_tick(
    database: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    real = simulator_module.record_sync
    calls = {"n": 0}

    async def flaky(db: Database, snapshot: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("broker bridge exploded")
        return await real(db, snapshot)

    monkeypatch.setattr(simulator_module, "record_sync", flaky)
    clock = ticking_clock(ANCHOR + timedelta(minutes=1))  # every account is due on the first tick
    sim = Simulator(
        writer(database), interval_s=0, seed=4, clock=lambda: next(clock), equity_every=EVERY_TICK
    )
    before = await _state(database)

    with caplog.at_level(logging.ERROR, logger=simulator_module.__name__):
        await sim.run_forever(max_ticks=3)

    failures = [r for r in caplog.records if "broker bridge exploded" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    after = await _state(database)
    assert after["logs"] > before["logs"]  # later ticks synced again
    assert all(after["snapshots"][a] >= before["snapshots"][a] + 2 for a in before["snapshots"])
    assert await counter_mismatches(database) == []


async def test_repeated_errors_are_logged_once(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    sim = Simulator(writer(database), interval_s=0, seed=1)  # empty database: nothing to simulate
    with pytest.raises(ServiceError, match="demo seed"):
        await sim.tick()
    with caplog.at_level(logging.ERROR, logger=simulator_module.__name__):
        await sim.run_forever(max_ticks=4)
    assert len([r for r in caplog.records if "no demo data" in r.getMessage()]) == 1


async def test_run_forever_stops_cleanly_on_cancellation(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    clock = ticking_clock(ANCHOR)
    sim = Simulator(writer(database), interval_s=0.05, seed=4, clock=lambda: next(clock))
    with caplog.at_level(logging.ERROR, logger=simulator_module.__name__):
        task = asyncio.create_task(sim.run_forever(verbose=True))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.cancelled()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await counter_mismatches(database) == []


async def test_positions_held_over_the_rollover_pay_swap(database: Database) -> None:
    """Demo swaps are not always 0.00: a rollover inside a tick books swap on every open position,
    the next sync carries it to the stored positions, and equity includes it."""
    await seed_demo(database, seed=3, now=NOW, **SMALL)
    async with database.read_session() as s:
        before = dict(
            (await s.execute(select(Position.id, Position.swap).where(Position.closed_at.is_(None)))).all()
        )
    sim = Simulator(writer(database), seed=5, p_open=0, p_close=0, p_divergence=0, p_failure=0)
    rollover = ANCHOR.replace(hour=21, minute=0, second=0)
    if rollover <= ANCHOR:
        rollover += timedelta(days=1)
    for k in range(0, 15):  # across the rollover, long enough for every account's sync
        await sim.tick(rollover - timedelta(seconds=9) + k * TICK)
    async with database.read_session() as s:
        after = dict(
            (await s.execute(select(Position.id, Position.swap).where(Position.closed_at.is_(None)))).all()
        )
    changed = [pid for pid in before if after.get(pid) != before[pid]]
    assert before and len(changed) == len(before), "every position held over the rollover paid swap"
    assert await counter_mismatches(database) == []
