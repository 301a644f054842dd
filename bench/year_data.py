"""The "year" data set of `bench/queries.py`: a year of one-minute equity per account, loaded with
COPY, with the hourly rollups ingestion would have kept, a year of incidents and hourly sync
counts, and raw 30-s sync logs for the last 30 days only (what retention keeps).

Benchmark fixture data, not application behaviour: the rows are made here, in bulk, the way the
ingestion services would have left them (hwm and drawdown per snapshot, the hour's open, high,
low, close and worst moment per rollup), but without going through them, which at 52.6 M rows
would take days. Equity is a random walk in whole cents, fixed per account by its id, so two runs
build the same data.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from dashboard.db.partitions import ensure_partitions, is_partitioned
from dashboard.db.session import Database
from dashboard.domain.rollups import EPOCH, HOUR_S

MINUTES_PER_HOUR = 60
BALANCE = 1_000_000  # cents: 10,000.00
#: Rows per COPY chunk: large enough that the per-chunk cost vanishes, small enough to stream.
CHUNK_ROWS = 50_000

SNAPSHOT_COLUMNS = ["account_id", "ts", "balance", "equity", "margin", "free_margin", "hwm", "drawdown_pct"]
HOURLY_COLUMNS = [
    "account_id",
    "hour",
    "open_equity",
    "high_equity",
    "low_equity",
    "close_ts",
    "close_balance",
    "close_equity",
    "close_hwm",
    "close_drawdown_pct",
    "worst_ts",
    "worst_balance",
    "worst_equity",
    "worst_hwm",
    "worst_drawdown_pct",
    "samples",
]


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def pct(units: int) -> str:
    """A percentage held in ten-thousandths (the Pct column's scale)."""
    return f"{units // 10_000}.{units % 10_000:04d}"


@dataclass
class YearBuild:
    snapshots: int = 0
    rollups: int = 0
    seconds: float = 0.0


class _Walk:
    """One account's year of minutes: equity, running HWM and drawdown, all in integers."""

    def __init__(self, account_id: int, minutes: int) -> None:
        rng = random.Random(account_id)
        steps = rng.choices(range(-900, 901), k=minutes)
        # A slow drift back towards the balance keeps the walk in a realistic band.
        equity: list[int] = []
        value = BALANCE
        for step in steps:
            value += step + (BALANCE - value) // 2000
            equity.append(value)
        self.equity = equity
        self.hwm = list(itertools.accumulate(equity, max, initial=BALANCE))[1:]
        self.dd = [(h - e) * 1_000_000 // h for e, h in zip(equity, self.hwm, strict=True)]


def _stamps(start: datetime, minutes: int) -> list[str]:
    return [(start + timedelta(minutes=m)).isoformat() for m in range(minutes)]


def _rows(account_ids: list[int], start: datetime, minutes: int) -> Iterator[tuple[str, str]]:
    """(snapshot CSV chunk, rollup CSV chunk) pairs, one account after the other."""
    stamps = _stamps(start, minutes)
    first_hour = int((start - EPOCH).total_seconds() // HOUR_S)
    balance = money(BALANCE)
    for account_id in account_ids:
        walk = _Walk(account_id, minutes)
        equity_text = [money(e) for e in walk.equity]
        hwm_text = [money(h) for h in walk.hwm]
        dd_text = [pct(d) for d in walk.dd]
        prefix = f"{account_id},"
        lines = []
        for m in range(minutes):
            lines.append(
                f"{prefix}{stamps[m]},{balance},{equity_text[m]},0,{equity_text[m]},{hwm_text[m]},{dd_text[m]}\n"
            )
            if len(lines) >= CHUNK_ROWS:
                yield "".join(lines), ""
                lines = []
        hours = []
        for h in range(0, minutes, MINUTES_PER_HOUR):
            span = range(h, min(h + MINUTES_PER_HOUR, minutes))
            eq = walk.equity[span.start : span.stop]
            last = span.stop - 1
            # The earliest of equal drawdowns is the worst moment (as `domain.rollups.fold`).
            worst = max(span, key=lambda i: (walk.dd[i], -i))
            hours.append(
                f"{account_id},{first_hour + h // MINUTES_PER_HOUR},{equity_text[h]},{money(max(eq))},"
                f"{money(min(eq))},{stamps[last]},{balance},{equity_text[last]},{hwm_text[last]},"
                f"{dd_text[last]},{stamps[worst]},{balance},{equity_text[worst]},{hwm_text[worst]},"
                f"{dd_text[worst]},{len(span)}\n"
            )
        yield "".join(lines), "".join(hours)


async def _chunks(texts: list[str]) -> AsyncIterator[bytes]:
    for text in texts:
        yield text.encode()


async def load_year_of_equity(
    db: Database, dsn: dict[str, object], account_ids: list[int], days: int, now: datetime
) -> YearBuild:
    """`days` of one-minute equity up to `now` for each account, and its hourly rollups (replacing
    any the seed made for those accounts). Partitions for every day are made first, so the rows
    land in day partitions as they would have, not in the DEFAULT."""
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    minutes = int((now.replace(second=0, microsecond=0) - start).total_seconds() // 60)
    if await is_partitioned(db, "equity_snapshots"):
        first_day: date = start.date()
        await ensure_partitions(db, "equity_snapshots", first_day, days_ahead=days + 8)
    build = YearBuild()
    t0 = time.perf_counter()
    conn = await asyncpg.connect(**dsn)  # type: ignore[arg-type]
    try:
        await conn.execute("DELETE FROM equity_snapshots WHERE account_id = ANY($1::bigint[])", account_ids)
        await conn.execute("DELETE FROM equity_hourly WHERE account_id = ANY($1::bigint[])", account_ids)
        pending: list[str] = []
        for snapshots, rollups in _rows(account_ids, start, minutes):
            if snapshots:
                await conn.copy_to_table(
                    "equity_snapshots", source=_chunks([snapshots]), columns=SNAPSHOT_COLUMNS, format="csv"
                )
                build.snapshots += snapshots.count("\n")
            if rollups:
                pending.append(rollups)
                build.rollups += rollups.count("\n")
        await conn.copy_to_table(
            "equity_hourly", source=_chunks(pending), columns=HOURLY_COLUMNS, format="csv"
        )
    finally:
        await conn.close()
    build.seconds = time.perf_counter() - t0
    return build


YEAR_HISTORY_SQL = """
-- Incidents are kept for ever: a year of them at the rate of the raw month (2 % of syncs),
-- before the month the raw logs cover; their logs are gone (retention), the incident stays.
INSERT INTO reconciliation_divergences (user_id, account_id, broker_position_id, symbol, kind, severity,
    local_value, broker_value, action, resolution, first_log_id, last_log_id, first_seen_at, last_seen_at,
    occurrences, resolved_at)
SELECT a.user_id, a.id, 9000000 + g, 'EURUSD', 'volume_mismatch',
    CASE WHEN g % 10 = 0 THEN 'critical' ELSE 'warning' END, '1.00', '0.50', 'broker_wins', 'broker_wins',
    0, 0, now() - interval '{days} days' - g * interval '25 minutes',
    now() - interval '{days} days' - g * interval '25 minutes', 1,
    now() - interval '{days} days' - g * interval '25 minutes' + interval '30 seconds'
FROM trading_accounts a CROSS JOIN generate_series(1, {older_incidents}) g
WHERE a.broker_server = 'Bench-Server';
-- Hourly sync counts: from the raw month, and before it what the rollups keep of a 30-s cadence.
INSERT INTO reconciliation_hourly (account_id, hour, event_type, status, syncs, divergences, duration_ms)
SELECT account_id, floor(extract(epoch FROM created_at) / 3600)::bigint, event_type, status, count(*),
    sum(divergences), sum(duration_ms)
FROM reconciliation_logs GROUP BY 1, 2, 3, 4
ON CONFLICT DO NOTHING;
INSERT INTO reconciliation_hourly (account_id, hour, event_type, status, syncs, divergences, duration_ms)
SELECT a.id, h, 'scheduled_sync', 'ok', 115, 0, 115 * 125
FROM trading_accounts a CROSS JOIN generate_series(
    floor(extract(epoch FROM now()) / 3600)::bigint - {rollup_days} * 24,
    floor(extract(epoch FROM now()) / 3600)::bigint - {days} * 24 - 7) h
ON CONFLICT DO NOTHING
"""


def year_history_sql(days: int, rollup_days: int) -> str:
    older_incidents = (rollup_days - days) * 24 * 60 // 25
    return YEAR_HISTORY_SQL.format(days=days, rollup_days=rollup_days, older_incidents=older_incidents)
