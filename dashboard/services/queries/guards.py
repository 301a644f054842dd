"""Read model (c): drawdown and loss gauges, the risk wall, guard events, the equity curve and the
market guards.

Gauges are read from the `account_risk_state` projection (one row per account, updated by
ingestion with every snapshot), never recomputed from snapshots at read time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, or_, select

from dashboard.db.models import (
    AccountRiskState,
    EquityHourly,
    EquitySnapshot,
    GuardEvent,
    MarketState,
    TradingAccount,
)
from dashboard.db.session import Database
from dashboard.db.types import as_driver_returns
from dashboard.domain.enums import GuardType, Level
from dashboard.domain.rollups import hour_of
from dashboard.schemas.common import trusted
from dashboard.schemas.guards import (
    AccountGuardList,
    AccountGuardState,
    EquityCurve,
    EquityPoint,
    GuardEventList,
    GuardEventView,
    MarketGuardList,
    MarketGuardView,
)
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.queries import (
    check_limit,
    ensure_account_visible,
    model_columns,
    parse_enum,
    require_aware,
    resolve_now,
    scoped,
)
from dashboard.services.queries.cursor import decode_cursor, next_cursor, older_than
from dashboard.services.viewer import Viewer

MAX_GUARD_EVENTS = 1000
MAX_EQUITY_POINTS = 100_000

_GUARD_COLUMNS = model_columns(
    AccountGuardState,
    [AccountRiskState, TradingAccount],
    overrides={"account_id": TradingAccount.id, "user_id": TradingAccount.user_id},
)
_EVENT_COLUMNS = model_columns(GuardEventView, [GuardEvent])
#: The snapshot columns of an equity point, in `EquityPoint`'s field order.
_POINT_FIELDS = tuple(EquityPoint.model_fields)
_SNAPSHOT_POINT_COLUMNS = tuple(getattr(EquitySnapshot, name) for name in _POINT_FIELDS)
_TENTH = Decimal("0.1")


def _gauges() -> Any:
    """Risk state joined to its account (names, thresholds, limits): one row per account."""
    return (
        select(*_GUARD_COLUMNS)
        .select_from(AccountRiskState)
        .join(TradingAccount, TradingAccount.id == AccountRiskState.account_id)
    )


async def account_guards(
    db: Database, viewer: Viewer, account_id: int | None = None, now: datetime | None = None
) -> AccountGuardList:
    """Gauges of the visible accounts (or of one), ordered by account id, in one query.

    The account itself is the row, so an `account_id` the viewer cannot see simply yields no row and
    raises `NotFound` without a separate probe.
    """
    as_of = resolve_now(now)
    stmt = scoped(_gauges(), TradingAccount.user_id, viewer)
    if account_id is not None:
        stmt = stmt.where(TradingAccount.id == account_id)
    stmt = stmt.order_by(TradingAccount.id)
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    if account_id is not None and not rows:
        raise NotFound(f"account {account_id} not found")
    return AccountGuardList(accounts=[AccountGuardState.model_validate(row) for row in rows], as_of=as_of)


async def risk_wall(
    db: Database, viewer: Viewer, level: Level | str | None = None, now: datetime | None = None
) -> AccountGuardList:
    """Every account, worst first (`drawdown_pct DESC`, then id), for the risk desk.

    `Forbidden` for traders: the wall is a role-level feature, not a per-row visibility question
    (a trader's own gauges are `account_guards`). Optional filter on the gauge level `dd_level`.
    """
    as_of = resolve_now(now)
    if not viewer.sees_all:
        raise Forbidden("the risk wall is for risk and admin users")
    level_value = parse_enum(Level, level, "level")
    stmt = _gauges()
    if level_value is not None:
        stmt = stmt.where(AccountRiskState.dd_level == level_value)
    stmt = stmt.order_by(AccountRiskState.drawdown_pct.desc(), TradingAccount.id.asc())
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    return AccountGuardList(accounts=[AccountGuardState.model_validate(row) for row in rows], as_of=as_of)


async def guard_events(
    db: Database,
    viewer: Viewer,
    account_id: int | None = None,
    guard_type: GuardType | str | None = None,
    limit: int = 50,
    since: datetime | None = None,
    cursor: str | None = None,
    now: datetime | None = None,
) -> GuardEventList:
    """Guard events newest first (`created_at DESC, id DESC`), at most `limit`, continued after
    `cursor` (a previous page's `next_cursor`; keyset, see `queries.cursor`).

    A trader sees the events of their own accounts plus the market-guard events (`account_id`
    NULL): a stale quote or a price gap on a symbol concerns everybody trading it. Risk and admin
    see everything. `since` (inclusive) bounds the window; `account_id` narrows to one visible
    account (`NotFound` otherwise), which excludes the market events.
    """
    as_of = resolve_now(now)
    check_limit(limit, "limit", MAX_GUARD_EVENTS)
    type_value = parse_enum(GuardType, guard_type, "guard_type")
    after = decode_cursor(cursor)
    stmt = select(*_EVENT_COLUMNS)
    if not viewer.sees_all:
        stmt = stmt.where(or_(GuardEvent.user_id == viewer.user_id, GuardEvent.account_id.is_(None)))
    if account_id is not None:
        stmt = stmt.where(GuardEvent.account_id == account_id)
    if type_value is not None:
        stmt = stmt.where(GuardEvent.guard_type == type_value)
    if since is not None:
        stmt = stmt.where(GuardEvent.created_at >= require_aware(since, "since"))
    if after is not None:
        stmt = stmt.where(older_than(GuardEvent.created_at, GuardEvent.id, after))
    stmt = stmt.order_by(GuardEvent.created_at.desc(), GuardEvent.id.desc()).limit(limit + 1)

    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    return GuardEventList(
        events=[GuardEventView.model_validate(row) for row in rows[:limit]],
        next_cursor=next_cursor(rows, limit, "created_at"),
        as_of=as_of,
    )


def downsample_indices(drawdowns: list[Decimal], max_points: int) -> list[int]:
    """Indices of an even subsample of at most `max_points`, always keeping the last point (the
    current value) and the point of maximum drawdown (the worst moment, which an even stride would
    otherwise skip). Even indices start at 0, so the first point is kept too."""
    n = len(drawdowns)
    if n <= max_points:
        return list(range(n))
    worst = max(range(n), key=lambda i: (drawdowns[i], -i))  # earliest of equal maxima
    keep = {n - 1, worst}
    budget = max_points - len(keep)
    keep.update(i * n // budget for i in range(budget))
    return sorted(keep)


_ROLLUP_POINT_COLUMNS = (
    EquityHourly.close_ts,
    EquityHourly.close_balance,
    EquityHourly.close_equity,
    EquityHourly.close_hwm,
    EquityHourly.close_drawdown_pct,
    EquityHourly.worst_ts,
    EquityHourly.worst_balance,
    EquityHourly.worst_equity,
    EquityHourly.worst_hwm,
    EquityHourly.worst_drawdown_pct,
)

#: Windows up to this long are drawn from the minute snapshots; longer ones from hourly rollups.
RAW_WINDOW = timedelta(hours=24)
#: How long minute snapshots are kept (the retention job's horizon; see Settings).
DEFAULT_RAW_KEPT = timedelta(days=30)


async def equity_curve(
    db: Database,
    viewer: Viewer,
    account_id: int,
    since: datetime,
    until: datetime,
    max_points: int = 2000,
    now: datetime | None = None,
    raw_kept: timedelta = DEFAULT_RAW_KEPT,
) -> EquityCurve:
    """The equity curve of one account over the closed window `[since, until]`, ascending, with
    `hwm` and `drawdown_pct` as stored by ingestion (not recomputed, so the curve matches the
    gauges), never more than `max_points` points (`downsampled` is then True).

    Up to 24 h (and within the minute snapshots' retention): the snapshots, evenly thinned in
    Python if there are too many, keeping the last point and the maximum-drawdown point. Longer:
    the hourly rollups, merged in the database into groups of whole hours, each drawn as its worst
    moment and its close, so a drawdown spike is never averaged away and the HWM is exact at every
    point.
    """
    as_of = resolve_now(now)
    since = require_aware(since, "since")
    until = require_aware(until, "until")
    if since > until:
        raise InvalidInput("since must not be later than until", field="since")
    check_limit(max_points, "max_points", MAX_EQUITY_POINTS, minimum=2)
    if until - since <= RAW_WINDOW and since >= as_of - raw_kept:
        points, downsampled = await _raw_points(db, viewer, account_id, since, until, max_points)
    else:
        points, downsampled = await _rollup_points(db, viewer, account_id, since, until, max_points)
    return EquityCurve.model_construct(
        account_id=account_id,
        since=since,
        until=until,
        points=points,
        downsampled=downsampled,
        as_of=as_of,
    )


async def _raw_points(
    db: Database, viewer: Viewer, account_id: int, since: datetime, until: datetime, max_points: int
) -> tuple[list[EquityPoint], bool]:
    async with db.read_session() as session:
        await ensure_account_visible(session, viewer, account_id)
        plain = as_driver_returns(session.get_bind().dialect.name)
        stmt = (
            select(*(plain(c) for c in _SNAPSHOT_POINT_COLUMNS))
            .where(
                EquitySnapshot.account_id == account_id,
                EquitySnapshot.ts >= since,
                EquitySnapshot.ts <= until,
            )
            .order_by(EquitySnapshot.ts.asc())
        )
        # Core rows on the session's connection, values as the driver returns them (see
        # `as_driver_returns`): a day of minutes is 1,440 rows, read on every chart refresh.
        rows = (await (await session.connection()).execute(stmt)).all()
    kept = downsample_indices([row.drawdown_pct for row in rows], max_points)
    # Trusted rows of the right types: built without validating each value again.
    points = [trusted(EquityPoint, dict(zip(_POINT_FIELDS, rows[i], strict=True))) for i in kept]
    return points, len(kept) < len(rows)


async def _rollup_points(
    db: Database, viewer: Viewer, account_id: int, since: datetime, until: datetime, max_points: int
) -> tuple[list[EquityPoint], bool]:
    first, last = hour_of(since), hour_of(until)
    hours = last - first + 1
    per_group = -(-hours // max(1, max_points // 2))  # ceil: whole hours per group
    table = EquityHourly
    group = (table.hour - table.hour % per_group).label("grp")
    async with db.read_session() as session:
        await ensure_account_visible(session, viewer, account_id)
        plain = as_driver_returns(session.get_bind().dialect.name)
        if per_group == 1:
            # Up to max_points / 2 hours (41 days at 2,000 points): every hour is its own group,
            # its worst moment and close are both drawn, and no window function is needed.
            stmt = (
                select(*(plain(c) for c in _ROLLUP_POINT_COLUMNS))
                .where(table.account_id == account_id, table.hour >= first, table.hour <= last)
                .order_by(table.hour)
            )
            rows = (await (await session.connection()).execute(stmt)).all()
            return _hour_points(rows, since, until, ranked=False), True
        ranked = (
            select(
                table.hour,
                *(plain(c) for c in _ROLLUP_POINT_COLUMNS),
                func.row_number()
                .over(partition_by=group, order_by=(table.worst_drawdown_pct.desc(), table.hour.asc()))
                .label("worst_rank"),
                func.row_number().over(partition_by=group, order_by=table.hour.desc()).label("close_rank"),
            )
            .where(table.account_id == account_id, table.hour >= first, table.hour <= last)
            .subquery()
        )
        columns = ranked.c
        stmt = (
            select(*(columns[c.key] for c in _ROLLUP_POINT_COLUMNS), columns.worst_rank, columns.close_rank)
            .where((columns.worst_rank == 1) | (columns.close_rank == 1))
            .order_by(columns.hour)
        )
        # Core rows on the session's connection: no ORM row processing for ~2,000 plain tuples.
        rows = (await (await session.connection()).execute(stmt)).all()
    return _hour_points(rows, since, until, ranked=True), True


def _hour_points(rows: Sequence[Any], since: datetime, until: datetime, *, ranked: bool) -> list[EquityPoint]:
    """The worst moments and closes inside the window, by time (an hour whose worst moment is its
    close gives one point). `ranked` rows are a group's candidates: only its first-ranked worst
    and close are drawn; otherwise every row is its own group."""
    by_ts: dict[datetime, EquityPoint] = {}
    for row in rows:
        if (not ranked or row.worst_rank == 1) and since <= row.worst_ts <= until:
            by_ts[row.worst_ts] = trusted(
                EquityPoint,
                {
                    "ts": row.worst_ts,
                    "balance": row.worst_balance,
                    "equity": row.worst_equity,
                    "hwm": row.worst_hwm,
                    "drawdown_pct": row.worst_drawdown_pct,
                },
            )
        if (not ranked or row.close_rank == 1) and since <= row.close_ts <= until:
            by_ts[row.close_ts] = trusted(
                EquityPoint,
                {
                    "ts": row.close_ts,
                    "balance": row.close_balance,
                    "equity": row.close_equity,
                    "hwm": row.close_hwm,
                    "drawdown_pct": row.close_drawdown_pct,
                },
            )
    return [by_ts[ts] for ts in sorted(by_ts)]


def _age_seconds(now: datetime, quoted_at: datetime) -> Decimal:
    """Exact quote age in seconds, rounded half-up to 0.1 s (no float on the way)."""
    age = now - quoted_at
    micros = (age.days * 86_400 + age.seconds) * 1_000_000 + age.microseconds
    return (Decimal(micros) / Decimal(1_000_000)).quantize(_TENTH, rounding=ROUND_HALF_UP)


def _levels(guard_state: Any) -> dict[GuardType, Level]:
    """`guard_state["levels"]` as enums. Missing or malformed -> {}; unknown guard types or levels
    (written by a newer ingestion) are skipped rather than failing the whole page."""
    raw = guard_state.get("levels") if isinstance(guard_state, dict) else None
    if not isinstance(raw, dict):
        return {}
    levels: dict[GuardType, Level] = {}
    for key, value in raw.items():
        try:
            levels[GuardType(key)] = Level(value)
        except ValueError:
            continue
    return levels


async def market_guards(db: Database, viewer: Viewer, now: datetime | None = None) -> MarketGuardList:
    """Last quote and market-guard levels per symbol, ordered by symbol.

    Market data concerns everybody, so there is no ownership filter (any authenticated viewer may
    read it). `age_seconds` is measured against `now`; it may be negative if the feed's clock is
    ahead, which is shown rather than hidden.
    """
    as_of = resolve_now(now)
    stmt = select(
        MarketState.symbol, MarketState.bid, MarketState.ask, MarketState.quoted_at, MarketState.guard_state
    ).order_by(MarketState.symbol)
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    symbols = [
        MarketGuardView(
            symbol=row.symbol,
            bid=row.bid,
            ask=row.ask,
            quoted_at=row.quoted_at,
            age_seconds=_age_seconds(as_of, row.quoted_at),
            levels=_levels(row.guard_state),
        )
        for row in rows
    ]
    return MarketGuardList(symbols=symbols, as_of=as_of)
