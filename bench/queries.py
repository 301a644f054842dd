"""Latency of every read model on PostgreSQL: the demo fleet, then 100 accounts x 30 days.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/queries.py [--iterations 200] [--accounts 100] [--days 30] [--skip-large]
        [--year | --only-year]

`--year` adds the year set (`bench/year_data.py`): a year of one-minute equity per account (about
52.6 M rows at 100 accounts) loaded with COPY, then the size per account-year and the retention
job's run time.

The large data set (~8.6 M reconciliation logs at 30-s cadence) is generated with set-based SQL in
this script only: it is benchmark fixture data, not application behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import PG, drop_pg, recreate_pg
from bench.year_data import load_year_of_equity, year_history_sql
from dashboard.db.migrate import upgrade
from dashboard.db.session import Database
from dashboard.demo.seed import seed_demo
from dashboard.domain.enums import Role
from dashboard.services.queries import accounts, guards, positions, reconciliation
from dashboard.services.retention import run_retention
from dashboard.services.viewer import Viewer

Read = Callable[[], Awaitable[Any]]


async def recreate(name: str) -> Database:
    db = Database(await recreate_pg(name))
    await upgrade(db)
    return db


async def viewers(db: Database) -> tuple[Viewer, Viewer, int, int]:
    """trader1 (owns accounts), a risk user, one of trader1's accounts and one of its positions."""
    async with db.read_session() as session:
        from sqlalchemy import select

        from dashboard.db.models import Position, TradingAccount, User

        trader = (await session.execute(select(User).where(User.email == "trader1@demo.local"))).scalar_one()
        risk = (await session.execute(select(User).where(User.role == Role.RISK))).scalars().first()
        # A bench account when there is one (the 30-day and year sets give them the history), else
        # the trader's first demo account.
        account_id = (
            (
                await session.execute(
                    select(TradingAccount.id)
                    .where(TradingAccount.user_id == trader.id)
                    .order_by((TradingAccount.broker_server == "Bench-Server").desc(), TradingAccount.id)
                )
            )
            .scalars()
            .first()
        )
        position_id = (
            (await session.execute(select(Position.id).where(Position.user_id == trader.id)))
            .scalars()
            .first()
        )
    assert risk is not None and account_id is not None and position_id is not None
    return Viewer(trader.id, Role.TRADER), Viewer(risk.id, Role.RISK), account_id, position_id


def reads(db: Database, trader: Viewer, risk: Viewer, account_id: int, position_id: int) -> dict[str, Read]:
    now = datetime.now(UTC)
    day = now - timedelta(hours=24)
    out: dict[str, Read] = {}
    for label, v in (("trader", trader), ("risk", risk)):
        out[f"reconciliation_status [{label}]"] = lambda v=v: reconciliation.reconciliation_status(db, v)
        out[f"divergence_timeline 24h [{label}]"] = lambda v=v: reconciliation.divergence_timeline(
            db, v, day, now
        )
        for span_label, span in (("24h", timedelta(hours=24)), ("7d", timedelta(days=7))):
            out[f"divergence_counts {span_label} [{label}]"] = lambda v=v, span=span: (
                reconciliation.divergence_counts(db, v, now - span, now)
            )
        out[f"open_incidents [{label}]"] = lambda v=v: reconciliation.open_incidents(db, v)
        out[f"open_positions [{label}]"] = lambda v=v: positions.open_positions(db, v)
        out[f"closed_positions [{label}]"] = lambda v=v: positions.closed_positions(db, v)
        out[f"account_guards [{label}]"] = lambda v=v: guards.account_guards(db, v)
        out[f"guard_events [{label}]"] = lambda v=v: guards.guard_events(db, v)
        out[f"list_accounts [{label}]"] = lambda v=v: accounts.list_accounts(db, v)
    out["position_by_id [trader]"] = lambda: positions.position_by_id(db, trader, position_id)
    for label, span in (
        ("6h", timedelta(hours=6)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("30d", timedelta(days=30)),
        ("90d", timedelta(days=90)),
        ("1y", timedelta(days=365)),
    ):
        out[f"equity_curve {label} [trader]"] = lambda span=span: guards.equity_curve(
            db, trader, account_id, now - span, now
        )
    out["risk_wall [risk]"] = lambda: guards.risk_wall(db, risk)
    out["market_guards [trader]"] = lambda: guards.market_guards(db, trader)
    return out


async def measure(read: Read, iterations: int) -> tuple[float, float]:
    for _ in range(max(5, iterations // 10)):
        await read()
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        await read()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


async def measure_all(db: Database, iterations: int) -> dict[str, tuple[float, float]]:
    trader, risk, account_id, position_id = await viewers(db)
    return {
        name: await measure(read, iterations)
        for name, read in reads(db, trader, risk, account_id, position_id).items()
    }


LARGE_SQL = """
-- {extra} extra accounts spread over the demo traders, each with a risk-state row.
INSERT INTO trading_accounts (user_id, name, broker_login, broker_server, margin_mode, currency, leverage,
    initial_balance, is_demo, dd_warning_pct, dd_critical_pct, daily_loss_basis, max_loss_mode,
    day_reset_tz, day_reset_hour, stops_policy, status, created_at)
SELECT t.id, 'bench ' || g, 900000 + g, 'Bench-Server', 'hedging', 'USD', 100, 10000, true, 10, 15,
    'max_sod_balance_equity', 'static', 'UTC', 0, 'broker_wins', 'active', now()
FROM generate_series(1, {extra}) g
JOIN LATERAL (SELECT id FROM users WHERE role = 'trader' ORDER BY id OFFSET (g % 7) LIMIT 1) t ON true;
INSERT INTO account_risk_state (account_id, user_id, drawdown_pct, max_drawdown_pct, dd_level, dd_alert_level,
    daily_loss_pct, daily_loss_level, max_loss_level, open_positions, total_syncs, failed_syncs,
    incidents_total, open_incidents, open_critical_incidents, balance, equity, hwm, updated_at)
SELECT a.id, a.user_id, (a.id % 200) / 10.0, (a.id % 250) / 10.0,
    CASE WHEN a.id % 200 > 150 THEN 'critical' WHEN a.id % 200 >= 100 THEN 'warning' ELSE 'normal' END,
    'normal', 0, 'normal', 'normal', 0, 0, 0, 0, 0, 0, 10000, 10000 - a.id % 2000, 10000, now()
FROM trading_accounts a WHERE a.broker_server = 'Bench-Server';
-- 30 days of 30-s syncs for every account, older than the seeded 6-hour window.
INSERT INTO reconciliation_logs (user_id, account_id, created_at, event_type, status, duration_ms,
    broker_positions, local_positions, matched_positions, divergences, auto_resolved)
SELECT a.user_id, a.id, date_trunc('minute', now()) - interval '6 hours' - g * interval '30 seconds',
    CASE WHEN g % 200 = 7 THEN 'sync_failed' ELSE 'scheduled_sync' END,
    CASE WHEN g % 200 = 7 THEN 'failed' WHEN g % 50 = 3 THEN 'divergent' ELSE 'ok' END,
    80 + (g % 90), 4, 4, CASE WHEN g % 50 = 3 THEN 3 ELSE 4 END, CASE WHEN g % 50 = 3 THEN 1 ELSE 0 END, 0
FROM trading_accounts a CROSS JOIN generate_series(1, {syncs}) g;
-- One resolved incident per divergent sync (2 %).
INSERT INTO reconciliation_divergences (user_id, account_id, broker_position_id, symbol, kind, severity,
    local_value, broker_value, action, resolution, first_log_id, last_log_id, first_seen_at, last_seen_at,
    occurrences, resolved_at)
SELECT l.user_id, l.account_id, 500000 + l.id, 'EURUSD', 'volume_mismatch', 'warning', '1.00', '0.50',
    'broker_wins', 'broker_wins', l.id, l.id, l.created_at, l.created_at, 1,
    l.created_at + interval '30 seconds'
FROM reconciliation_logs l WHERE l.status = 'divergent' AND l.sync_id IS NULL;
{equity}
"""

EQUITY_SQL = """
-- 30 days of 5-minute equity for the extra accounts.
INSERT INTO equity_snapshots (account_id, ts, balance, equity, margin, free_margin, hwm, drawdown_pct)
SELECT a.id, date_trunc('hour', now()) - g * interval '5 minutes', 10000, 10000 - (g % 300), 0,
    10000 - (g % 300), 10000, (g % 300) / 100.0
FROM trading_accounts a CROSS JOIN generate_series(0, {snapshots} - 1) g
WHERE a.broker_server = 'Bench-Server';
-- Their hourly rollups, as ingestion keeps them: from the snapshots for the last {days} days...
INSERT INTO equity_hourly (account_id, hour, open_equity, high_equity, low_equity, close_ts,
    close_balance, close_equity, close_hwm, close_drawdown_pct, worst_ts, worst_balance, worst_equity,
    worst_hwm, worst_drawdown_pct, samples)
SELECT account_id, hour, (array_agg(equity ORDER BY ts))[1], max(equity), min(equity), max(ts),
    (array_agg(balance ORDER BY ts DESC))[1], (array_agg(equity ORDER BY ts DESC))[1],
    (array_agg(hwm ORDER BY ts DESC))[1], (array_agg(drawdown_pct ORDER BY ts DESC))[1],
    (array_agg(ts ORDER BY drawdown_pct DESC, ts))[1], (array_agg(balance ORDER BY drawdown_pct DESC, ts))[1],
    (array_agg(equity ORDER BY drawdown_pct DESC, ts))[1], (array_agg(hwm ORDER BY drawdown_pct DESC, ts))[1],
    max(drawdown_pct), count(*)
FROM (SELECT s.*, floor(extract(epoch FROM s.ts) / 3600)::bigint AS hour
      FROM equity_snapshots s JOIN trading_accounts a ON a.id = s.account_id
      WHERE a.broker_server = 'Bench-Server') x
GROUP BY account_id, hour;
-- ...and before that, back to {rollup_days} days, for every account (the demo's too, before their
-- seeded history), only rollups: what retention leaves of a year.
INSERT INTO equity_hourly (account_id, hour, open_equity, high_equity, low_equity, close_ts,
    close_balance, close_equity, close_hwm, close_drawdown_pct, worst_ts, worst_balance, worst_equity,
    worst_hwm, worst_drawdown_pct, samples)
SELECT a.id, h, 10000, 10000, 10000 - (h % 300), to_timestamp(h * 3600 + 3540), 10000, 10000 - (h % 97),
    10000, (h % 97) / 100.0, to_timestamp(h * 3600 + 1800), 10000, 10000 - (h % 300), 10000,
    (h % 300) / 100.0, 60
FROM trading_accounts a CROSS JOIN generate_series(
    floor(extract(epoch FROM now()) / 3600)::bigint - {rollup_days} * 24,
    floor(extract(epoch FROM now()) / 3600)::bigint - {days} * 24 - 2) h
ON CONFLICT DO NOTHING;
"""

TAIL_SQL = """
-- 5 open and 50 closed positions per extra account.
INSERT INTO positions (account_id, user_id, broker_ticket, broker_position_id, symbol, side, volume,
    price_open, price_current, swap, commission, profit, status, opened_at, closed_at, close_price,
    realized_pnl, close_reason, source, magic, updated_at)
SELECT a.id, a.user_id, 700000 + g, 700000 + g,
    (ARRAY['EURUSD','GBPUSD','USDJPY','XAUUSD','US30','NAS100','GER40','BTCUSD'])[1 + g % 8],
    CASE WHEN g % 2 = 0 THEN 'buy' ELSE 'sell' END, 0.5, 1.1, 1.1, 0, 0, 10,
    CASE WHEN g <= 5 THEN 'open' ELSE 'closed' END, now() - g * interval '1 hour',
    CASE WHEN g <= 5 THEN NULL ELSE now() - g * interval '1 hour' + interval '30 minutes' END,
    CASE WHEN g <= 5 THEN NULL ELSE 1.1 END, CASE WHEN g <= 5 THEN NULL ELSE 10 END,
    CASE WHEN g <= 5 THEN NULL ELSE 'tp' END, 'platform', 42, now() - g * interval '1 hour'
FROM trading_accounts a CROSS JOIN generate_series(1, 55) g WHERE a.broker_server = 'Bench-Server';
-- Counters as the ingestion services keep them.
UPDATE account_risk_state s SET total_syncs = c.n, failed_syncs = c.failed
FROM (SELECT account_id, count(*) n, count(*) FILTER (WHERE status = 'failed') failed
      FROM reconciliation_logs GROUP BY account_id) c WHERE c.account_id = s.account_id;
UPDATE account_risk_state s SET incidents_total = c.n
FROM (SELECT account_id, count(*) n FROM reconciliation_divergences GROUP BY account_id) c
WHERE c.account_id = s.account_id;
UPDATE account_risk_state s SET open_positions = c.n
FROM (SELECT account_id, count(*) n FROM positions WHERE status = 'open' GROUP BY account_id) c
WHERE c.account_id = s.account_id;
"""


HISTORY_TABLES = (
    "trading_accounts",
    "reconciliation_logs",
    "reconciliation_divergences",
    "reconciliation_hourly",
    "equity_snapshots",
    "equity_hourly",
    "positions",
)


def dsn(db: Database) -> dict[str, object]:
    return {"database": db.engine.url.database, **PG}


async def run_sql(db: Database, sql: str) -> None:
    conn = await asyncpg.connect(**dsn(db))  # type: ignore[arg-type]
    try:
        for statement in sql.split(";\n"):
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--")).strip()
            if body:
                await conn.execute(body)
    finally:
        await conn.close()


async def counts_of(db: Database) -> dict[str, int]:
    conn = await asyncpg.connect(**dsn(db))  # type: ignore[arg-type]
    try:
        await conn.execute("VACUUM ANALYZE")
        return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in HISTORY_TABLES}
    finally:
        await conn.close()


async def grow(
    db: Database, accounts_total: int, days: int, rollup_days: int, *, equity: bool = True
) -> dict[str, int]:
    """The 30-day data set: `accounts_total` accounts with `days` of 30-s syncs; with `equity`,
    5-minute equity for those days and hourly rollups back to `rollup_days`."""
    parts = dict(extra=accounts_total - 10, syncs=days * 2880, snapshots=days * 288, days=days)
    equity_sql = EQUITY_SQL.format(**parts, rollup_days=rollup_days) if equity else ""
    await run_sql(db, LARGE_SQL.format(**parts, equity=equity_sql) + TAIL_SQL)
    return await counts_of(db)


async def history_size(db: Database) -> int:
    """Bytes of the history tables with their indexes (partitions included)."""
    conn = await asyncpg.connect(**dsn(db))  # type: ignore[arg-type]
    try:
        total = 0
        for table in HISTORY_TABLES[1:6]:
            total += await conn.fetchval(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " WHERE c.oid = $1::regclass OR c.oid IN"
                " (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass)",
                table,
            )
        return int(total)
    finally:
        await conn.close()


async def build_year(
    db: Database, accounts_total: int, days: int, year_days: int
) -> tuple[dict[str, int], str]:
    """The year data set: the 30-day one without its 5-minute equity, a year of one-minute equity
    per account by COPY (`bench/year_data.py`), and a year of incidents and hourly counts."""
    t0 = time.perf_counter()
    await grow(db, accounts_total, days, year_days, equity=False)
    grown = time.perf_counter() - t0
    async with db.read_session() as session:
        from sqlalchemy import select

        from dashboard.db.models import TradingAccount

        # Every account, the demo's ten too (their seeded minutes are replaced by the year).
        account_ids = list((await session.execute(select(TradingAccount.id))).scalars())
    build = await load_year_of_equity(db, dsn(db), account_ids, year_days, datetime.now(UTC))
    t1 = time.perf_counter()
    await run_sql(db, year_history_sql(days, year_days))
    history = time.perf_counter() - t1
    counts = await counts_of(db)
    note = (
        f"syncs and accounts {grown:.0f} s; {build.snapshots:,} snapshots and {build.rollups:,} rollups by"
        f" COPY {build.seconds:.0f} s; incidents and hourly counts {history:.0f} s;"
        f" all {time.perf_counter() - t0:.0f} s"
    )
    return counts, note


def table(sizes: dict[str, dict[str, tuple[float, float]]]) -> str:
    """One row per read: p50/p95 at each size, and the growth of p50 from the first size."""
    names = list(sizes)
    head = "| read |" + "".join(f" {n} p50 ms | {n} p95 ms |" for n in names)
    rule = "|---|" + "---:|---:|" * len(names)
    if len(names) > 1:
        head += "".join(f" growth {n} |" for n in names[1:])
        rule += "---:|" * (len(names) - 1)
    lines = [head, rule]
    first = sizes[names[0]]
    for read, (p50, _) in first.items():
        row = f"| {read} |" + "".join(f" {sizes[n][read][0]:.2f} | {sizes[n][read][1]:.2f} |" for n in names)
        row += "".join(f" {sizes[n][read][0] / p50:.2f}x |" for n in names[1:])
        lines.append(row)
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument(
        "--rollup-days", type=int, default=365, help="hourly equity rollups reach back this far (a year)"
    )
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument(
        "--year",
        action="store_true",
        help="also the year set: a year of 1-min equity per account by COPY, rollups, raw syncs for --days",
    )
    parser.add_argument("--only-year", action="store_true", help="the year set alone")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    args = parser.parse_args()

    results: dict[str, dict[str, tuple[float, float]]] = {}
    made: list[str] = []
    if not args.only_year:
        db = await recreate("tb_bench_small")
        made.append("tb_bench_small")
        t0 = time.perf_counter()
        report = await seed_demo(db, seed=7)
        seed_s = time.perf_counter() - t0
        print(f"seed (demo fleet) on PostgreSQL: {seed_s:.1f} s  [{report.summary()}]", flush=True)
        results["demo"] = await measure_all(db, args.iterations)
        await db.dispose()

    if not args.skip_large and not args.only_year:
        db = await recreate("tb_bench_large")
        made.append("tb_bench_large")
        await seed_demo(db, seed=7)
        t0 = time.perf_counter()
        counts = await grow(db, args.accounts, args.days, args.rollup_days)
        print(f"large data set generated in {time.perf_counter() - t0:.0f} s: {counts}", flush=True)
        results[f"{args.days}d"] = await measure_all(db, args.iterations)
        await db.dispose()

    if args.year or args.only_year:
        db = await recreate("tb_bench_year")
        made.append("tb_bench_year")
        await seed_demo(db, seed=7)
        counts, note = await build_year(db, args.accounts, args.days, args.rollup_days)
        print(f"year data set: {note}: {counts}", flush=True)
        results["year"] = await measure_all(db, args.iterations)
        await report_retention(db, args.accounts, args.days)
        await db.dispose()

    print()
    print(table(results))
    if not args.keep:
        for name in made:
            await drop_pg(name)


async def report_retention(db: Database, accounts_total: int, days: int) -> None:
    """Size per account-year with every minute kept, the retention job's run, and the size after."""
    before = await history_size(db)
    run = await run_retention(
        db,
        raw_equity_kept=timedelta(days=days),
        alerts_kept=timedelta(days=180),
        sync_logs_kept=timedelta(days=days),
    )
    after = await history_size(db)
    dropped = {table: len(names) for table, names in run.dropped.items()}
    print(
        f"history per account-year: {before / accounts_total / 2**20:.0f} MB with every minute kept,"
        f" {after / accounts_total / 2**20:.0f} MB after retention ({days} days raw, rollups for ever);"
        f" retention run {run.seconds:.1f} s: partitions dropped {dropped},"
        f" rows in dropped partitions {run.dropped_rows}, rows deleted {run.deleted}",
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
