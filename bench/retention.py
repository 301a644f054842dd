"""The retention job against a live ingest: how long it takes, and what it does to ingest latency.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/retention.py [--accounts 100] [--days 40] [--keep-days 30] [--seconds 20]

On PostgreSQL: `--accounts` accounts with `--days` of 1-minute equity snapshots (and their hourly
rollups) and 30-s sync logs for the same span, built with set-based SQL (benchmark fixture data).
Then, in the same process as the app's write path would be:
1. baseline: `--seconds` of equity ingestion (`record_equity`, one snapshot per account in turn,
   as fast as it goes) with nothing else running; latency p50/p95/p99/max;
2. the same ingestion while `run_retention` removes everything older than `--keep-days` (minute
   equity and sync logs: whole day partitions dropped, the rest in batches of 1,000 rows, one
   short transaction each): the job's run time, what it removed, and the ingest latency meanwhile.
Database size (equity_snapshots + equity_hourly + reconciliation_logs, with indexes) before and
after, per account-year.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import PG, drop_pg, recreate_pg
from dashboard.db.migrate import upgrade
from dashboard.db.partitions import PARTITION_KEYS, ensure_partitions
from dashboard.db.session import Database
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.retention import RetentionRun, run_retention

NAME = "tb_bench_retention"

BUILD_SQL = """
INSERT INTO users (email, display_name, role, session_version, is_active, is_demo, created_at)
VALUES ('owner@bench.local', 'owner', 'trader', 0, true, false, now());
INSERT INTO trading_accounts (user_id, name, broker_login, broker_server, margin_mode, currency, leverage,
    initial_balance, is_demo, dd_warning_pct, dd_critical_pct, daily_loss_basis, max_loss_mode,
    day_reset_tz, day_reset_hour, stops_policy, status, silence_timeout_s, created_at)
SELECT u.id, 'bench ' || g, 900000 + g, 'Bench-Server', 'hedging', 'USD', 100, 10000, false, 10, 15,
    'max_sod_balance_equity', 'static', 'UTC', 0, 'broker_wins', 'active', 300, now()
FROM users u CROSS JOIN generate_series(1, {accounts}) g;
INSERT INTO account_risk_state (account_id, user_id, drawdown_pct, max_drawdown_pct, dd_level, dd_alert_level,
    daily_loss_pct, daily_loss_level, max_loss_level, open_positions, total_syncs, failed_syncs,
    incidents_total, open_incidents, open_critical_incidents, balance, equity, hwm, updated_at)
SELECT id, user_id, 0, 0, 'normal', 'normal', 0, 'normal', 'normal', 0, 0, 0, 0, 0, 0, 10000, 10000, 10000,
    date_trunc('minute', now()) - interval '1 minute'
FROM trading_accounts;
INSERT INTO equity_snapshots (account_id, ts, balance, equity, margin, free_margin, hwm, drawdown_pct)
SELECT a.id, date_trunc('minute', now()) - interval '1 minute' - g * interval '1 minute', 10000,
    10000 - (g % 300), 0, 10000 - (g % 300), 10000, (g % 300) / 100.0
FROM trading_accounts a CROSS JOIN generate_series(0, {minutes} - 1) g;
INSERT INTO equity_hourly (account_id, hour, open_equity, high_equity, low_equity, close_ts, close_balance,
    close_equity, close_hwm, close_drawdown_pct, worst_ts, worst_balance, worst_equity, worst_hwm,
    worst_drawdown_pct, samples)
SELECT account_id, hour, (array_agg(equity ORDER BY ts))[1], max(equity), min(equity), max(ts),
    (array_agg(balance ORDER BY ts DESC))[1], (array_agg(equity ORDER BY ts DESC))[1],
    (array_agg(hwm ORDER BY ts DESC))[1], (array_agg(drawdown_pct ORDER BY ts DESC))[1],
    (array_agg(ts ORDER BY drawdown_pct DESC, ts))[1], (array_agg(balance ORDER BY drawdown_pct DESC, ts))[1],
    (array_agg(equity ORDER BY drawdown_pct DESC, ts))[1], (array_agg(hwm ORDER BY drawdown_pct DESC, ts))[1],
    max(drawdown_pct), count(*)
FROM (SELECT *, floor(extract(epoch FROM ts) / 3600)::bigint AS hour FROM equity_snapshots) x
GROUP BY account_id, hour;
INSERT INTO reconciliation_logs (sync_id, user_id, account_id, created_at, event_type, status, duration_ms,
    broker_positions, local_positions, matched_positions, divergences, auto_resolved)
SELECT NULL, a.user_id, a.id, now() - g * interval '30 seconds', 'scheduled_sync', 'ok', 100, 3, 3, 3, 0, 0
FROM trading_accounts a CROSS JOIN generate_series(1, {syncs}) g;
"""

TABLES = ("equity_snapshots", "equity_hourly", "reconciliation_logs")


async def sizes(conn: asyncpg.Connection) -> dict[str, int]:
    """Tables with their indexes, a partitioned table's partitions included (its own size is 0)."""
    query = (
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c WHERE c.oid = $1::regclass"
        " OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::regclass)"
    )
    return {t: int(await conn.fetchval(query, t)) for t in TABLES}


async def build(db_url: str, accounts: int, days: int) -> tuple[list[int], dict[str, int]]:
    db = Database(db_url)
    await upgrade(db)
    # Day partitions for the whole span first, as the leader would have made them day by day.
    first_day = (datetime.now(UTC) - timedelta(days=days + 1)).date()
    for table in PARTITION_KEYS:
        await ensure_partitions(db, table, first_day, days_ahead=days + 9)
    await db.dispose()
    conn = await asyncpg.connect(database=NAME, **PG)
    try:
        sql = BUILD_SQL.format(accounts=accounts, minutes=days * 1440, syncs=days * 2880)
        for statement in sql.split(";\n"):
            if statement.strip():
                await conn.execute(statement)
        await conn.execute("VACUUM ANALYZE")
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM trading_accounts ORDER BY id")]
        size = await sizes(conn)
    finally:
        await conn.close()
    return ids, size


async def ingest_for(db: Database, ids: list[int], seconds: float) -> list[float]:
    """Equity snapshots stamped now, each account in turn; latencies in ms."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        account_id = ids[n % len(ids)]
        ts = datetime.now(UTC)
        equity = Decimal(10000 - (n % 250))
        t0 = time.perf_counter()
        await record_equity(db, {"account_id": account_id, "ts": ts, "balance": "10000", "equity": equity})
        latencies.append((time.perf_counter() - t0) * 1000)
        n += 1
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1)))]

    return (
        f"{len(ordered)} snapshots, p50 {statistics.median(ordered):.1f} / p95 {at(0.95):.1f} / "
        f"p99 {at(0.99):.1f} / max {ordered[-1]:.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--keep-days", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    url = await recreate_pg(NAME)
    t0 = time.perf_counter()
    ids, size_before = await build(url, args.accounts, args.days)
    print(
        f"built {args.accounts} accounts x {args.days} days in {time.perf_counter() - t0:.0f} s", flush=True
    )
    db = Database(url)
    try:
        baseline = await ingest_for(db, ids, args.seconds)
        ingest = asyncio.create_task(ingest_for(db, ids, args.seconds))
        await asyncio.sleep(0.5)
        kept = timedelta(days=args.keep_days)
        run: RetentionRun = await run_retention(
            db, raw_equity_kept=kept, alerts_kept=timedelta(days=180), sync_logs_kept=kept
        )
        during = await ingest
        again = await run_retention(
            db, raw_equity_kept=kept, alerts_kept=timedelta(days=180), sync_logs_kept=kept
        )
    finally:
        await db.dispose()
    conn = await asyncpg.connect(database=NAME, **PG)
    try:
        await conn.execute("VACUUM FULL equity_snapshots")
        await conn.execute("VACUUM FULL reconciliation_logs")
        size_after = await sizes(conn)
    finally:
        await conn.close()
    await drop_pg(NAME)
    deleted = ", ".join(f"{count:,} {table}" for table, count in run.deleted.items() if count)
    mb = 1024 * 1024
    year = 365 / args.days
    # A year without retention: every table grows with time. With it: the raw tables hold their
    # last `keep_days` (their size after the run), the rollups grow with time.
    raw_year = sum(size_before.values()) * year / args.accounts
    kept_year = (
        size_after["equity_snapshots"]
        + size_after["reconciliation_logs"]
        + size_after["equity_hourly"] * year
    ) / args.accounts
    print()
    print("| figure | value |")
    print("|---|---:|")
    print(f"| ingest alone | {summary(baseline)} |")
    print(f"| ingest while retention runs | {summary(during)} |")
    dropped = ", ".join(f"{len(names)} of {table}" for table, names in run.dropped.items() if names)
    print(
        f"| retention run | {run.seconds:.1f} s: partitions dropped {dropped or 'none'};"
        f" {run.batches} batches: {deleted} |"
    )
    print(f"| retention again (nothing to do) | {again.seconds * 1000:.0f} ms |")
    print(
        f"| equity + rollups + sync logs per account-year (tables and indexes) | {raw_year / mb:.0f} MB "
        f"kept raw -> {kept_year / mb:.1f} MB with retention ({args.keep_days} days raw, rollups forever) |"
    )
    both = ", ".join(f"{t} {size_before[t] / mb:.0f} / {size_after[t] / mb:.0f}" for t in TABLES)
    print(f"| sizes before / after, MB | {both} |")


if __name__ == "__main__":
    asyncio.run(main())
