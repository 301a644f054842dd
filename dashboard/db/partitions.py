"""Daily range partitions of the two append-only tables on PostgreSQL: `reconciliation_logs` by
`created_at` and `equity_snapshots` by `ts` (migration 0009 made them partitioned; SQLite keeps
plain tables and every function here does nothing there).

Why partitions: retention used to DELETE expired rows in batches, every row a dead tuple for
vacuum and an entry in every index; dropping a partition removes a whole day at once and leaves
nothing behind.

Why one partition per UTC day, `[00:00 UTC, next 00:00 UTC)`: the raw horizons are 30 days by
default (`equity_raw_retention_days`, `sync_log_retention_days`), so about 31 partitions hold
what is kept plus `DAYS_AHEAD` made in advance, ~40 per table: few enough that a query not pruned
to a few days still plans quickly, and fine enough that retention drops whole days and deletes row
by row at most the one day the horizon cuts through. Weekly partitions would leave up to a week of
expired rows to delete one by one; hourly ones would be ~750 partitions, and planning and locking
cost grows with their number. (A horizon of years would want coarser partitions.)

The DEFAULT partition takes what no day covers (a database whose leader has not run since its
days ran out, history written before its day had a partition, a clock far off): those rows are
stored and read like any other. `ensure_partitions` moves the rows of a day it creates out of the
DEFAULT, and retention deletes expired rows from it in batches, so it stays (nearly) empty. That
matters: attaching a partition scans the DEFAULT under an ACCESS EXCLUSIVE lock on it.

Locks, so that maintenance never stalls ingestion for long:
- a new partition is created standalone (`LIKE` the parent) and then ATTACHed, which takes only a
  SHARE UPDATE EXCLUSIVE lock on the parent (inserts and reads go on); `CREATE TABLE … PARTITION
  OF` would take ACCESS EXCLUSIVE on the parent. The DEFAULT partition is locked (ACCESS
  EXCLUSIVE) for the move and the attach, a few milliseconds when it is empty;
- dropping needs ACCESS EXCLUSIVE on the parent for the DETACH (one short transaction; the DROP
  follows in its own, see `drop_partitions_before`).
  `DETACH … CONCURRENTLY` would avoid that but PostgreSQL refuses it while a DEFAULT partition
  exists (and it cannot run inside a transaction block);
- every such transaction sets `lock_timeout` (`LOCK_TIMEOUT_MS`): a lock not granted by then is
  given up and tried again (a drop a few times, then at the next run), since a waiting ACCESS
  EXCLUSIVE request queues every insert behind it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dashboard.db.session import Database

log = logging.getLogger(__name__)

#: The partitioned tables and their partition keys (both `UTCDateTime`, i.e. timestamptz).
PARTITION_KEYS: Final[dict[str, str]] = {"reconciliation_logs": "created_at", "equity_snapshots": "ts"}
#: Days made in advance (beyond today): a week without a leader still writes into day partitions.
DAYS_AHEAD: Final = 7
#: Longest wait for a lock in a maintenance transaction (see the module docstring).
LOCK_TIMEOUT_MS: Final = 200
#: A drop that cannot get its lock is tried this many times in one run, `RETRY_PAUSE_S` apart.
DROP_ATTEMPTS: Final = 3
RETRY_PAUSE_S: Final = 0.5

# SQLSTATEs a maintenance step gives up on (logged, tried again at the next run) instead of ending
# the leader's turn: lock_not_available, duplicate_table (a stray table of that name),
# invalid_object_definition (overlaps a partition made by hand), check_violation (a DEFAULT row).
_GIVE_UP_STATES: Final = frozenset({"55P03", "42P07", "42P17", "23514"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_RANGE = re.compile(r"FROM \((.+?)\) TO \((.+?)\)")


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def partition_name(table: str, day: date) -> str:
    """`reconciliation_logs_p20261130`: sorts by day, and says which day at a glance."""
    return _checked(f"{table}_p{day:%Y%m%d}")


def default_partition_name(table: str) -> str:
    return _checked(f"{table}_default")


def _checked(name: str) -> str:
    """Identifiers are pasted into DDL (it takes no bind parameters): only ours, only plain ones."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def _literal(moment: datetime) -> str:
    """A timestamptz literal with its offset: the same instant whatever the session's TimeZone."""
    return f"'{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}+00'"


def _bounds(day: date) -> str:
    return f"FROM ({_literal(day_start(day))}) TO ({_literal(day_start(day + timedelta(days=1)))})"


def partition_of_sql(table: str, day: date) -> str:
    """DDL of one day's partition, for the migration (which holds the table's locks anyway); the
    running app attaches instead, see `ensure_partitions`."""
    return (
        f'CREATE TABLE IF NOT EXISTS "{partition_name(table, day)}" PARTITION OF "{_checked(table)}"'
        f" FOR VALUES {_bounds(day)}"
    )


def default_partition_sql(table: str) -> str:
    return (
        f'CREATE TABLE IF NOT EXISTS "{default_partition_name(table)}" PARTITION OF "{_checked(table)}"'
        " DEFAULT"
    )


@dataclass(frozen=True)
class Partition:
    """One partition and its range; `lower`/`upper` None: unbounded (MINVALUE, MAXVALUE, DEFAULT)."""

    name: str
    lower: datetime | None
    upper: datetime | None
    is_default: bool = False

    def overlaps(self, lower: datetime, upper: datetime) -> bool:
        if self.is_default:
            return False
        return (self.lower is None or self.lower < upper) and (self.upper is None or lower < self.upper)


@dataclass
class Maintenance:
    """What one maintenance call did, for the retention job's metrics and log line."""

    created: list[str] = field(default_factory=list)
    moved_rows: int = 0
    dropped: list[str] = field(default_factory=list)
    dropped_rows: int = 0
    #: Partitions left for the next run (a lock not granted in time, or a name already taken).
    skipped: list[str] = field(default_factory=list)


def _bound(value: str) -> datetime | None:
    if value in ("MINVALUE", "MAXVALUE"):
        return None
    return datetime.fromisoformat(value.strip("'")).astimezone(UTC)


def _parse(name: str, bound: str) -> Partition:
    if bound == "DEFAULT":
        return Partition(name, None, None, is_default=True)
    found = _RANGE.search(bound)
    if found is None:
        raise ValueError(f"partition {name}: not a range partition ({bound})")
    return Partition(name, _bound(found.group(1)), _bound(found.group(2)))


async def is_partitioned(db: Database, table: str) -> bool:
    if db.dialect != "postgresql":
        return False
    async with db.read_session() as s:
        found = await s.execute(
            text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:table)"),
            {"table": _checked(table)},
        )
        return found.first() is not None


async def list_partitions(db: Database, table: str) -> list[Partition]:
    """The table's partitions by range, the DEFAULT last; empty when it is not partitioned (SQLite,
    or a PostgreSQL database made without the migrations)."""
    if db.dialect != "postgresql":
        return []
    async with db.session() as s:
        # Bounds are printed in the session's TimeZone and DateStyle: make them parseable.
        await s.execute(text("SET LOCAL TimeZone = 'UTC'"))
        await s.execute(text("SET LOCAL DateStyle = 'ISO'"))
        rows = (
            await s.execute(
                text(
                    "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                    " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:table)"
                ),
                {"table": _checked(table)},
            )
        ).all()
    found = [_parse(name, bound) for name, bound in rows]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        found, key=lambda p: (p.is_default, p.lower or datetime.min.replace(tzinfo=UTC), p.upper or far)
    )


def _sqlstate(error: BaseException) -> str | None:
    pending: list[BaseException | None] = [error]
    while pending:
        item = pending.pop()
        if item is None:
            continue
        state = getattr(item, "sqlstate", None)
        if isinstance(state, str):
            return state
        pending.extend([getattr(item, "orig", None), item.__cause__])
    return None


def _given_up(error: DBAPIError) -> bool:
    return _sqlstate(error) in _GIVE_UP_STATES


async def _columns(db: Database, table: str) -> list[str]:
    async with db.read_session() as s:
        names = await s.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:table)"
                " AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            ),
            {"table": table},
        )
        return [_checked(name) for name in names.scalars()]


async def _default_days(db: Database, table: str, key: str, since: datetime, until: datetime) -> list[date]:
    """Days in [since, until) for which the DEFAULT partition holds rows (normally none)."""
    async with db.read_session() as s:
        days = await s.execute(
            text(
                f"SELECT DISTINCT date_trunc('day', \"{key}\", 'UTC')"
                f' FROM "{default_partition_name(table)}" WHERE "{key}" >= :since AND "{key}" < :until'
            ),
            {"since": since, "until": until},
        )
        return sorted(utc_day(moment) for moment in days.scalars())


async def _attach_day(
    db: Database, table: str, key: str, day: date, columns: Sequence[str], default: bool
) -> int:
    """Create `day`'s partition standalone, move that day's rows out of the DEFAULT into it, and
    attach it, in one transaction (readers see the rows in one place or the other, never twice or
    missing). Returns the rows moved."""
    name = partition_name(table, day)
    lower, upper = day_start(day), day_start(day + timedelta(days=1))
    moved = 0
    async with db.session() as s:
        await s.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
        await s.execute(
            text(f'CREATE TABLE "{name}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        )
        if default:
            # Locked first so that no row for this day can reach the DEFAULT between the move and
            # the attach (which would then refuse: the DEFAULT may not hold the new day's rows).
            await s.execute(text(f'LOCK TABLE "{default_partition_name(table)}" IN ACCESS EXCLUSIVE MODE'))
            listed = ", ".join(f'"{column}"' for column in columns)
            result = await s.execute(
                text(
                    f'WITH moved AS (DELETE FROM "{default_partition_name(table)}"'
                    f' WHERE "{key}" >= :lower AND "{key}" < :upper RETURNING {listed})'
                    f' INSERT INTO "{name}" ({listed}) SELECT {listed} FROM moved'
                ),
                {"lower": lower, "upper": upper},
            )
            moved = int(getattr(result, "rowcount", 0) or 0)
        await s.execute(text(f'ALTER TABLE "{table}" ATTACH PARTITION "{name}" FOR VALUES {_bounds(day)}'))
    return moved


async def ensure_partitions(
    db: Database,
    table: str,
    today: date,
    *,
    days_ahead: int = DAYS_AHEAD,
    rescue_since: datetime | None = None,
) -> Maintenance:
    """Partitions for `today` and the `days_ahead` days after it, and for every earlier day since
    `rescue_since` whose rows sit in the DEFAULT partition (they are moved into it). Idempotent:
    days already covered are left alone. A day whose lock is not granted in time is skipped (and
    made at the next run); its rows meanwhile go to the DEFAULT, which still works."""
    done = Maintenance()
    partitions = await list_partitions(db, table)
    if not partitions:
        return done
    key = PARTITION_KEYS[table]
    has_default = any(p.is_default for p in partitions)
    days = [today + timedelta(days=n) for n in range(days_ahead + 1)]
    if rescue_since is not None and has_default and rescue_since < day_start(today):
        days = await _default_days(db, table, key, day_start(utc_day(rescue_since)), day_start(today)) + days
    missing = [
        day
        for day in days
        if not any(p.overlaps(day_start(day), day_start(day + timedelta(days=1))) for p in partitions)
    ]
    if not missing:
        return done
    columns = await _columns(db, table)
    for day in missing:
        try:
            done.moved_rows += await _attach_day(db, table, key, day, columns, has_default)
        except DBAPIError as error:
            if not _given_up(error):
                raise
            done.skipped.append(partition_name(table, day))
            log.warning(
                "partition %s not made now (%s): tried again at the next run",
                partition_name(table, day),
                _sqlstate(error),
            )
        else:
            done.created.append(partition_name(table, day))
    return done


async def _guarded(db: Database, statement: str, attempts: int) -> DBAPIError | None:
    """`statement` in its own transaction under `lock_timeout`, tried up to `attempts` times; the
    last error when its lock was never granted (anything else is raised)."""
    for attempt in range(1, attempts + 1):
        try:
            async with db.session() as s:
                await s.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
                await s.execute(text(statement))
        except DBAPIError as error:
            if not _given_up(error):
                raise
            if attempt == attempts:
                return error
            await asyncio.sleep(RETRY_PAUSE_S)
        else:
            return None
    return None


async def detached_leftovers(db: Database, table: str) -> list[str]:
    """Day tables of `table` that are no longer attached: detached by a run whose DROP did not get
    its lock. Their rows are already out of every read; the next run drops them."""
    if db.dialect != "postgresql":
        return []
    async with db.read_session() as s:
        rows = await s.execute(
            text(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND NOT relispartition"
                " AND relname ~ :pattern ORDER BY relname"
            ),
            {"pattern": f"^{_checked(table)}_p[0-9]{{8}}$"},
        )
        return [str(name) for name in rows.scalars()]


async def drop_partitions_before(
    db: Database, table: str, horizon: datetime, *, attempts: int = DROP_ATTEMPTS
) -> Maintenance:
    """Drop every partition whose whole range is older than `horizon`, oldest first: DETACH in one
    short transaction, then DROP in another, each under `lock_timeout`. The DEFAULT partition and
    the one the horizon cuts through stay: their expired rows are deleted in batches by the
    retention job, which also takes the rows of a partition that could not be detached in
    `attempts` tries.

    Why two transactions: dropping a table that has a foreign key also locks the referenced table
    (`trading_accounts`) in ACCESS EXCLUSIVE mode. Done in the DETACH's transaction it waited for
    that lock while holding the parent's, and an ingest holding `trading_accounts` (its account
    lock) then waited for the parent: a lock cycle that only `lock_timeout` broke, so under a
    steady ingest nearly every drop gave up (bench/retention.py: 5 of 6 days). Detached first, the
    table is no longer part of anything the ingest touches, so its DROP only waits for the short
    transactions that hold `trading_accounts`."""
    done = Maintenance()
    for name in await detached_leftovers(db, table):  # counted as dropped when they were detached
        await _guarded(db, f'DROP TABLE "{_checked(name)}"', attempts)
    for partition in await list_partitions(db, table):
        if partition.is_default or partition.upper is None or partition.upper > horizon:
            continue
        name = _checked(partition.name)
        async with db.read_session() as s:
            rows = int((await s.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar_one())
        error = await _guarded(db, f'ALTER TABLE "{table}" DETACH PARTITION "{name}"', attempts)
        if error is not None:
            done.skipped.append(name)
            log.warning(
                "partition %s not dropped now (%s): its rows are deleted in batches", name, _sqlstate(error)
            )
            continue
        done.dropped.append(name)
        done.dropped_rows += rows
        error = await _guarded(db, f'DROP TABLE "{name}"', attempts)
        if error is not None:
            log.warning(
                "partition %s detached but not dropped now (%s): dropped at the next run",
                name,
                _sqlstate(error),
            )
    return done
