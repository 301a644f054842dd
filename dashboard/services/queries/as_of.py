"""The dashboard as it was: the reads behind /guards, /risk and /reconciliation, answered as of a
past moment `at` from stored history.

Why a module of its own: the live reads serve one-row-per-account projections
(`account_risk_state`) that ingestion overwrites with every write, so they only know "now". A past
moment has to be rebuilt from what is kept over time, and each figure has its own source and its
own precision; this module says which, per function. Every result has the live read's type (or,
for positions, a type that says what is unknown: `schemas.as_of`), with `as_of = at`: the moment
shown, which the page labels.

What is kept, and so what the answers rest on:

- minute equity snapshots, each with its HWM and drawdown, for `raw_kept` (the retention job's
  `equity_raw_retention_days`, 30); hourly rollups (`equity_hourly`: open/high/low, the close and
  the hour's worst moment, each a real snapshot with its HWM and drawdown) for ever;
- sync logs for `logs_kept` (`sync_log_retention_days`, 30), their hourly counts
  (`reconciliation_hourly`) for ever; a log older than that may or may not still be there, so
  nothing here counts on one;
- incidents (first_seen_at, resolved_at, escalated_at), positions (opened_at, closed_at) and guard
  events (created_at, level, state, metric) for ever.

The limits (drawdown thresholds, loss limits and their rules, day reset, silence timeout) are the
ones in force at `at`: each `limits_changed` audit row holds the fields it changed as they were
before, and the audit trail is kept for ever (`_limits_at`).

What has no history, so the current value is used and named as such where it is shown: account
names; an incident's severity and
values (each sighting overwrites them); a position's volume, SL, TP and ticket (broker-wins
corrections overwrite them). A position's floating P&L, swap and current price at `at` were never
stored, and are returned as None rather than today's values.

Rules shared with the live reads: the same visibility (`scoped`, `ensure_account_visible`: a trader
never sees another trader's accounts, and an invisible account is `NotFound`, like a missing one);
`at` must be timezone-aware and not later than now (`resolve_at`). Every read here is a handful of
index-served statements (more than the live reads' one or two: the projections they read are
exactly what has to be rebuilt); each docstring names its indexes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from dashboard.db.models import (
    AccountRiskState,
    AuditLog,
    DivergenceIncident,
    EquityHourly,
    EquitySnapshot,
    GuardEvent,
    Position,
    ReconciliationHourly,
    ReconciliationLog,
    TradingAccount,
)
from dashboard.db.session import Database
from dashboard.domain.alerts import silent_since
from dashboard.domain.daily_loss import daily_loss, day_reference, day_start
from dashboard.domain.enums import (
    AccountStatus,
    GuardType,
    Level,
    PositionStatus,
    Resolution,
    Severity,
    SyncStatus,
)
from dashboard.domain.levels import Thresholds, classify_drawdown
from dashboard.domain.numbers import pct
from dashboard.domain.rollups import hour_of, hour_start
from dashboard.schemas.as_of import PositionAsOf, PositionListAsOf
from dashboard.schemas.common import in_range_utc
from dashboard.schemas.guards import (
    AccountGuardList,
    AccountGuardState,
    EquityCurve,
    EquityPoint,
    GuardEventList,
    GuardEventView,
)
from dashboard.schemas.limits import LIMIT_FIELDS, AccountLimits
from dashboard.schemas.reconciliation import (
    DivergenceIncidentView,
    OpenIncidents,
    ReconciliationStatus,
    SyncEvent,
)
from dashboard.services.audit import AuditAction
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
from dashboard.services.queries.guards import (
    DEFAULT_RAW_KEPT,
    MAX_EQUITY_POINTS,
    MAX_GUARD_EVENTS,
    RAW_WINDOW,
    equity_curve,
)
from dashboard.services.queries.reconciliation import DEFAULT_STALE_AFTER, RECENT_EVENTS, health_of
from dashboard.services.viewer import Viewer

#: How long raw sync logs are kept (the retention job's `sync_log_retention_days` default).
DEFAULT_LOGS_KEPT = timedelta(days=30)

_ZERO_PCT = Decimal("0.0000")
_SYNC_EVENT_COLUMNS = model_columns(SyncEvent, [ReconciliationLog])
_INCIDENT_COLUMNS = model_columns(DivergenceIncidentView, [DivergenceIncident])
_GUARD_EVENT_COLUMNS = model_columns(GuardEventView, [GuardEvent])


def resolve_at(at: datetime, now: datetime | None = None) -> tuple[datetime, datetime]:
    """`(at, now)`, both aware UTC.

    A naive `at` is refused (SQLite would read it as UTC, off by the local offset), and so is one
    later than `now`: the future has no history, and quietly answering "now" for it would show a
    moment that has not happened as if it had.
    """
    moment = resolve_now(now)
    at = require_aware(at, "at")
    try:
        in_range_utc(at)
    except ValueError as error:
        raise InvalidInput(f"at: {error}", field="at") from None
    if at > moment:
        raise InvalidInput(
            f"at must not be in the future (it is {at.isoformat()}, now is {moment.isoformat()})", field="at"
        )
    return at, moment


# ---- Equity points: the newest stored snapshot at a moment


@dataclass(frozen=True, slots=True)
class _Point:
    """One stored equity snapshot: a minute row, or an hourly rollup's close or worst moment (each
    a real snapshot with the HWM and drawdown ingestion stored for it)."""

    ts: datetime
    balance: Decimal
    equity: Decimal
    hwm: Decimal
    drawdown_pct: Decimal


def _later(a: _Point | None, b: _Point | None) -> _Point | None:
    if a is None:
        return b
    if b is None or b.ts <= a.ts:
        return a
    return b


async def _newest_points(
    session: AsyncSession, account_ids: list[int], bound: datetime, *, strict: bool, use_raw: bool
) -> dict[int, _Point]:
    """Per account, the newest stored snapshot at or before `bound` (strictly before if `strict`).

    The later of: the newest minute snapshot (skipped when `use_raw` is False, i.e. `bound` is past
    the minute snapshots' retention: none are left there), the close of the newest hourly rollup
    whose close is not after `bound`, and the worst moment of `bound`'s own hour if that is not
    after it. Without the minute rows this is at most an hour older than `bound`, and always a real
    snapshot, never an interpolation. Indexes: `uq(account_id, ts)` walked backwards from `bound`
    once per account (a correlated `max(ts)`), then the PK of `equity_hourly` (account_id, hour)
    the same way (at most two rollups read: the close of `bound`'s hour may lie after it).
    """
    if not account_ids:
        return {}
    found: dict[int, _Point] = {}

    def before(column: Any) -> Any:
        return column < bound if strict else column <= bound

    if use_raw:
        inner = aliased(EquitySnapshot)
        newest_ts = (
            select(func.max(inner.ts))
            .where(inner.account_id == TradingAccount.id, before(inner.ts))
            .scalar_subquery()
        )
        keys = (
            select(TradingAccount.id.label("account_id"), newest_ts.label("ts"))
            .where(TradingAccount.id.in_(account_ids))
            .subquery()
        )
        snap = EquitySnapshot
        # `before(snap.ts)` is implied by the join; stated, it lets PostgreSQL prune the later
        # daily partitions when it plans the statement.
        raw_stmt = (
            select(snap.account_id, snap.ts, snap.balance, snap.equity, snap.hwm, snap.drawdown_pct)
            .join(keys, and_(snap.account_id == keys.c.account_id, snap.ts == keys.c.ts))
            .where(before(snap.ts))
        )
        for row in (await session.execute(raw_stmt)).all():
            found[row.account_id] = _Point(row.ts, row.balance, row.equity, row.hwm, row.drawdown_pct)

    hour = hour_of(bound)
    inner_h = aliased(EquityHourly)
    newest_hour = (
        select(func.max(inner_h.hour))
        .where(inner_h.account_id == TradingAccount.id, inner_h.hour <= hour, before(inner_h.close_ts))
        .scalar_subquery()
    )
    hour_keys = (
        select(TradingAccount.id.label("account_id"), newest_hour.label("hour"))
        .where(TradingAccount.id.in_(account_ids))
        .subquery()
    )
    rollup = EquityHourly
    closes = select(
        rollup.account_id,
        rollup.close_ts,
        rollup.close_balance,
        rollup.close_equity,
        rollup.close_hwm,
        rollup.close_drawdown_pct,
    ).join(hour_keys, and_(rollup.account_id == hour_keys.c.account_id, rollup.hour == hour_keys.c.hour))
    worsts = select(
        rollup.account_id,
        rollup.worst_ts,
        rollup.worst_balance,
        rollup.worst_equity,
        rollup.worst_hwm,
        rollup.worst_drawdown_pct,
    ).where(rollup.account_id.in_(account_ids), rollup.hour == hour, before(rollup.worst_ts))
    for row in (await session.execute(closes)).all():
        point = _Point(row[1], row[2], row[3], row[4], row[5])
        found[row.account_id] = _later(found.get(row.account_id), point) or point
    for row in (await session.execute(worsts)).all():
        point = _Point(row[1], row[2], row[3], row[4], row[5])
        found[row.account_id] = _later(found.get(row.account_id), point) or point
    return found


async def _first_points(session: AsyncSession, account_ids: list[int], use_raw: bool) -> dict[int, _Point]:
    """Each account's first snapshot: its day reference on its first day (as `risk_state.advance`
    takes it). The minute row if kept; otherwise the first hourly rollup, whose open equity is
    exact but whose balance is the hour's close (an approximation: the open's balance is not
    stored; balance moves only when deals close). PK / `uq(account_id, ts)` probes."""
    if not account_ids:
        return {}
    found: dict[int, _Point] = {}
    if use_raw:
        inner = aliased(EquitySnapshot)
        first_ts = select(func.min(inner.ts)).where(inner.account_id == TradingAccount.id).scalar_subquery()
        keys = (
            select(TradingAccount.id.label("account_id"), first_ts.label("ts"))
            .where(TradingAccount.id.in_(account_ids))
            .subquery()
        )
        snap = EquitySnapshot
        stmt = select(snap.account_id, snap.ts, snap.balance, snap.equity, snap.hwm, snap.drawdown_pct).join(
            keys, and_(snap.account_id == keys.c.account_id, snap.ts == keys.c.ts)
        )
        for first in (await session.execute(stmt)).all():
            found[first.account_id] = _Point(
                first.ts, first.balance, first.equity, first.hwm, first.drawdown_pct
            )
    missing = [a for a in account_ids if a not in found]
    if missing:
        inner_h = aliased(EquityHourly)
        first_hour = (
            select(func.min(inner_h.hour)).where(inner_h.account_id == TradingAccount.id).scalar_subquery()
        )
        keys_h = (
            select(TradingAccount.id.label("account_id"), first_hour.label("hour"))
            .where(TradingAccount.id.in_(missing))
            .subquery()
        )
        rollup = EquityHourly
        stmt_h = select(
            rollup.account_id,
            rollup.hour,
            rollup.close_balance,
            rollup.open_equity,
            rollup.close_hwm,
            rollup.close_drawdown_pct,
        ).join(keys_h, and_(rollup.account_id == keys_h.c.account_id, rollup.hour == keys_h.c.hour))
        for row in (await session.execute(stmt_h)).all():
            found[row.account_id] = _Point(hour_start(row.hour), row[2], row[3], row[4], row[5])
    return found


async def _max_drawdowns(
    session: AsyncSession, account_ids: list[int], at: datetime, use_raw: bool
) -> dict[int, Decimal]:
    """Lifetime maximum drawdown up to `at`, per account: the largest hourly worst moment of the
    hours before `at`'s hour (and of that hour if its worst moment is not after `at`), and the
    minute snapshots of `at`'s hour up to `at` while they are kept. Exact within retention; beyond
    it, snapshots of `at`'s hour before `at` that were not their hour's worst are not seen (so the
    figure can only be lower than the truth by what that part-hour held).

    Cost: a PK range scan of `equity_hourly` per account over its whole history before `at`
    (8,760 rows per account-year); a running-maximum column on `equity_hourly` would make it one
    row (proposed, not added). Plus a `uq(account_id, ts)` range of at most an hour.
    """
    if not account_ids:
        return {}
    hour = hour_of(at)
    rollup = EquityHourly
    stmt = (
        select(rollup.account_id, func.max(rollup.worst_drawdown_pct).label("dd"))
        .where(
            rollup.account_id.in_(account_ids),
            rollup.hour <= hour,
            or_(rollup.hour < hour, rollup.worst_ts <= at),
        )
        .group_by(rollup.account_id)
    )
    found = {row.account_id: row.dd for row in (await session.execute(stmt)).all() if row.dd is not None}
    if use_raw:
        snap = EquitySnapshot
        raw_stmt = (
            select(snap.account_id, func.max(snap.drawdown_pct).label("dd"))
            .where(snap.account_id.in_(account_ids), snap.ts >= hour_start(hour), snap.ts <= at)
            .group_by(snap.account_id)
        )
        for row in (await session.execute(raw_stmt)).all():
            if row.dd is not None:
                found[row.account_id] = max(found.get(row.account_id, row.dd), row.dd)
    return found


# ---- Gauges (/guards, /risk)


def _open_position_at(at: datetime) -> ColumnElement[bool]:
    """Open at `at`: opened by then and not closed by then. Two arms (still open; closed after
    `at`) rather than `closed_at IS NULL OR closed_at > at`, so that each arm is a range of the
    `(user_id, status, closed_at)` / `(status, closed_at)` indexes (PostgreSQL ORs their bitmaps)
    and the read grows with what closed since `at`, not with every position ever opened."""
    return and_(
        Position.opened_at <= at,
        or_(
            Position.status == PositionStatus.OPEN,
            and_(Position.status == PositionStatus.CLOSED, Position.closed_at > at),
        ),
    )


def _newest_event_level(guard_type: GuardType, at: datetime) -> Any:
    """The level of the account's newest `guard_type` event at or before `at` (correlated with
    `trading_accounts`): `(account_id, created_at)` walked backwards, reading only that account's
    events (a few per level change)."""
    event = aliased(GuardEvent)
    return (
        select(event.level)
        .where(event.account_id == TradingAccount.id, event.guard_type == guard_type, event.created_at <= at)
        .order_by(event.created_at.desc(), event.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _accounts_stmt(viewer: Viewer, at: datetime, horizon: datetime, account_id: int | None) -> Any:
    """The visible accounts with their settings and, per account, the last sync at or before `at`
    (raw, within the logs' retention), the newest sync hour before `at`'s hour, the daily-loss
    level of the newest daily-loss guard event at or before `at`, and the live HWM (for `hwm_at`).
    One statement; each correlated value is one index probe per account: `(account_id,
    created_at)` of the logs, the PK of `reconciliation_hourly`, `(account_id, created_at)` of the
    guard events."""
    log = aliased(ReconciliationLog)
    last_sync = (
        select(func.max(log.created_at))
        .where(log.account_id == TradingAccount.id, log.created_at <= at, log.created_at >= horizon)
        .scalar_subquery()
    )
    hourly = aliased(ReconciliationHourly)
    sync_hour = (
        select(func.max(hourly.hour))
        .where(hourly.account_id == TradingAccount.id, hourly.hour < hour_of(at))
        .scalar_subquery()
    )
    account = TradingAccount
    stmt: Any = (
        select(
            account.id,
            account.user_id,
            account.name,
            account.broker_login,
            account.broker_server,
            account.currency,
            account.initial_balance,
            account.dd_warning_pct,
            account.dd_critical_pct,
            account.daily_loss_limit_pct,
            account.max_loss_limit_pct,
            account.daily_loss_basis,
            account.max_loss_mode,
            account.day_reset_tz,
            account.day_reset_hour,
            account.status,
            account.silence_timeout_s,
            account.created_at,
            AccountRiskState.hwm.label("live_hwm"),
            AccountRiskState.hwm_at.label("live_hwm_at"),
            last_sync.label("raw_sync_at"),
            sync_hour.label("sync_hour"),
            _newest_event_level(GuardType.DAILY_LOSS, at).label("daily_event_level"),
        )
        .select_from(account)
        .outerjoin(AccountRiskState, AccountRiskState.account_id == account.id)
    )
    stmt = scoped(stmt, account.user_id, viewer)
    if account_id is not None:
        stmt = stmt.where(account.id == account_id)
    return stmt.order_by(account.id)


async def _gauges_at(
    db: Database,
    viewer: Viewer,
    at: datetime,
    moment: datetime,
    *,
    account_id: int | None,
    raw_kept: timedelta,
    logs_kept: timedelta,
) -> list[AccountGuardState]:
    use_raw = at >= moment - raw_kept
    horizon = moment - logs_kept
    async with db.read_session() as session:
        rows = (await session.execute(_accounts_stmt(viewer, at, horizon, account_id))).all()
        if account_id is not None and not rows:
            raise NotFound(f"account {account_id} not found")
        rows = [row for row in rows if row.created_at <= at]
        ids = [row.id for row in rows]
        if not ids:
            return []
        rows = await _limits_at(session, rows, at)
        points = await _newest_points(session, ids, at, strict=False, use_raw=use_raw)
        max_dd = await _max_drawdowns(session, ids, at, use_raw)
        counted: Any = (
            select(Position.account_id, func.count().label("n"))
            .where(Position.account_id.in_(ids), _open_position_at(at))
            .group_by(Position.account_id)
        )
        open_counts = {
            r.account_id: int(r.n)
            for r in (await session.execute(scoped(counted, Position.user_id, viewer))).all()
        }
        day_starts = {
            row.id: day_start(points[row.id].ts, row.day_reset_tz, row.day_reset_hour)
            for row in rows
            if row.id in points
        }
        by_start: dict[datetime, list[int]] = defaultdict(list)
        for key, start in day_starts.items():
            by_start[start].append(key)
        references: dict[int, _Point] = {}
        for start, group in by_start.items():
            sod_raw = start >= moment - raw_kept
            references.update(await _newest_points(session, group, start, strict=True, use_raw=sod_raw))
        first_day = [key for key in day_starts if key not in references]
        references.update(await _first_points(session, first_day, use_raw))

    judge_silence = use_raw and at >= horizon
    return [
        _gauge(
            row,
            points.get(row.id),
            references.get(row.id),
            day_starts.get(row.id),
            max_dd.get(row.id),
            open_counts.get(row.id, 0),
            at,
            judge_silence,
        )
        for row in rows
    ]


#: A limit's audit form (`risk_limits._json`: numbers as text, enums as values, times in ISO) read
#: back into its stored type, by the read model's own field types.
_LIMIT_TYPES: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(field.annotation)
    for name, field in AccountLimits.model_fields.items()
    if name in LIMIT_FIELDS and field.annotation is not None
}


async def _limits_at(session: AsyncSession, rows: list[Any], at: datetime) -> list[Any]:
    """The accounts' rows with the limits in force at `at`. Every `limits_changed` audit row after
    `at` holds the fields it changed as they were before it: read newest first, the oldest change
    after `at` has the last word, which is the value that held at `at`. One statement on the audit
    trail's `(account_id, created_at)` index; limit changes are rare, so usually nothing comes back
    and the rows are returned as they are."""
    stmt = (
        select(AuditLog.account_id, AuditLog.detail)
        .where(
            AuditLog.account_id.in_([row.id for row in rows]),
            AuditLog.created_at > at,
            AuditLog.action == AuditAction.LIMITS_CHANGED.value,
        )
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    )
    before: dict[int, dict[str, Any]] = defaultdict(dict)
    for account_id, detail in (await session.execute(stmt)).all():
        before[account_id].update((detail or {}).get("before") or {})
    if not before:
        return rows
    then: list[Any] = []
    for row in rows:
        values = dict(row._mapping)
        for name, value in before.get(row.id, {}).items():
            if name in values and name in _LIMIT_TYPES:
                values[name] = _LIMIT_TYPES[name].validate_python(value)
        then.append(SimpleNamespace(**values))
    return then


def _gauge(
    row: Any,
    point: _Point | None,
    reference_point: _Point | None,
    day_start_at: datetime | None,
    max_dd: Decimal | None,
    open_positions: int,
    at: datetime,
    judge_silence: bool,
) -> AccountGuardState:
    """One account's gauges at `at` from its stored points (see `account_guards_at`)."""
    if row.raw_sync_at is not None:
        last_sync_at = row.raw_sync_at
    elif row.sync_hour is not None:
        last_sync_at = hour_start(row.sync_hour + 1)  # hour resolution: the end of that hour
    else:
        last_sync_at = None
    silent: datetime | None = None
    if judge_silence and row.status is AccountStatus.ACTIVE:
        heard = [t for t in (row.raw_sync_at, point.ts if point else None) if t is not None]
        last_heard = max(heard) if heard else None
        if silent_since(last_heard, last_heard or at, row.silence_timeout_s, at) is not None:
            silent = last_heard
    common: dict[str, Any] = {
        "account_id": row.id,
        "user_id": row.user_id,
        "name": row.name,
        "broker_login": row.broker_login,
        "broker_server": row.broker_server,
        "currency": row.currency,
        "dd_warning_pct": row.dd_warning_pct,
        "dd_critical_pct": row.dd_critical_pct,
        "daily_loss_limit_pct": row.daily_loss_limit_pct,
        "max_loss_limit_pct": row.max_loss_limit_pct,
        "max_loss_mode": row.max_loss_mode,
        "open_positions": open_positions,
        "last_sync_at": last_sync_at,
        "silent_since": silent,
        "daily_loss_level": row.daily_event_level or Level.NORMAL,
    }
    if point is None:  # nothing stored by then: the state of an account that never reported
        return AccountGuardState(
            **common,
            balance=None,
            equity=None,
            hwm=None,
            hwm_at=None,
            drawdown_pct=_ZERO_PCT,
            max_drawdown_pct=_ZERO_PCT,
            dd_level=Level.NORMAL,
            day_start_at=None,
            daily_loss_pct=_ZERO_PCT,
            updated_at=None,
        )
    thresholds = Thresholds(row.dd_warning_pct, row.dd_critical_pct)
    reference_point = reference_point or point
    reference = day_reference(
        row.daily_loss_basis, row.initial_balance, reference_point.balance, reference_point.equity
    )
    if row.daily_loss_limit_pct is not None:
        loss_pct = daily_loss(point.equity, reference, row.daily_loss_limit_pct).loss_pct
    else:
        loss_pct = pct(max(Decimal(0), reference - point.equity) / reference * 100)
    # The HWM never falls, so if it has not risen since, the live projection's hwm_at is exact.
    same_mark = row.live_hwm == point.hwm and row.live_hwm_at is not None and row.live_hwm_at <= at
    return AccountGuardState(
        **common,
        balance=point.balance,
        equity=point.equity,
        hwm=point.hwm,
        hwm_at=row.live_hwm_at if same_mark else None,
        drawdown_pct=point.drawdown_pct,
        max_drawdown_pct=max(max_dd if max_dd is not None else point.drawdown_pct, point.drawdown_pct),
        dd_level=classify_drawdown(point.drawdown_pct, thresholds),
        day_start_at=day_start_at,
        daily_loss_pct=loss_pct,
        updated_at=point.ts,
    )


async def account_guards_at(
    db: Database,
    viewer: Viewer,
    at: datetime,
    account_id: int | None = None,
    now: datetime | None = None,
    *,
    raw_kept: timedelta = DEFAULT_RAW_KEPT,
    logs_kept: timedelta = DEFAULT_LOGS_KEPT,
) -> AccountGuardList:
    """`guards.account_guards` as of `at`: the visible accounts' gauges as they stood then,
    ordered by account id, `as_of = at`. Accounts created after `at` are left out (an `account_id`
    the viewer can see but that did not exist yet gives an empty list; one it cannot see,
    `NotFound`).

    Per account, and where each figure comes from:

    - `balance`, `equity`, `hwm`, `drawdown_pct`, `updated_at`: the newest stored snapshot at or
      before `at` (`_newest_points`): the minute snapshot while kept (`raw_kept`), exact; beyond
      that the newest hourly close (or the hour's worst moment) not after `at`, up to an hour
      older than `at`. HWM and drawdown are those ingestion stored with that snapshot.
    - `dd_level`: `classify_drawdown` of that drawdown against the thresholds in force at `at`
      (`_limits_at`), which are also the ones returned.
    - `max_drawdown_pct`: the lifetime maximum up to `at` (`_max_drawdowns`).
    - `hwm_at`: the live projection's when the HWM has not risen since `at` (exact); otherwise
      None (finding when an older mark was first reached would scan the history since).
    - `day_start_at`, `daily_loss_pct`: recomputed by the domain exactly as
      `risk_state.advance` did for that snapshot: the day starts at `day_start(snapshot ts)`
      (the account's reset zone and hour), the day's reference is the newest stored snapshot
      strictly before that reset (the account's first snapshot on its first day), through the
      account's basis, limit and reset in force at `at`. Exact while the snapshot before the
      reset is stored (an hourly close is that snapshot when the reset falls on a whole UTC hour;
      in a half-hour zone beyond retention it is the close of the hour before).
    - `daily_loss_level`: the level of the newest daily-loss guard event at or before `at`
      (NORMAL if none). Not recomputed: the live level carries the alert hysteresis (it steps
      down only below 80 % of a band's entry), which a memoryless recomputation would contradict;
      ingestion writes an event at every change of it, and guard events are kept for ever, so
      this is exact.
    - `open_positions`: positions with `opened_at <= at` and not closed by `at` (exact).
    - `last_sync_at`: the newest sync log at or before `at` while the logs are kept (exact);
      beyond that the end of the newest hour before `at`'s hour that had syncs (hour resolution).
    - `silent_since`: judged as the leader does (`domain.alerts.silent_since`, the account's
      timeout, active accounts only) from the last sync and snapshot before `at`, and only while
      both are known to the minute; beyond retention it is None (not judged).
    - the max-loss rule has no figure in this schema (only its settings, those in force at `at`);
      the names are the current ones.

    An account with nothing stored before `at` has the state of an account that never reported
    (no equity, zero gauges, normal levels). Statements: the accounts with four correlated
    per-account probes (see `_accounts_stmt`), the points, the maximum drawdowns, the open
    positions `(account_id, status)`, the limit changes since `at` (`_limits_at`), and the day
    references (one pair per distinct reset instant).
    """
    at, moment = resolve_at(at, now)
    accounts = await _gauges_at(
        db, viewer, at, moment, account_id=account_id, raw_kept=raw_kept, logs_kept=logs_kept
    )
    return AccountGuardList(accounts=accounts, as_of=at)


async def risk_wall_at(
    db: Database,
    viewer: Viewer,
    at: datetime,
    level: Level | str | None = None,
    now: datetime | None = None,
    *,
    raw_kept: timedelta = DEFAULT_RAW_KEPT,
    logs_kept: timedelta = DEFAULT_LOGS_KEPT,
) -> AccountGuardList:
    """`guards.risk_wall` as of `at`: every account that existed then, worst first
    (`drawdown_pct DESC`, then id), optionally only those whose gauge level `dd_level` was `level`.
    `Forbidden` for traders, as live. Each figure's source is that of `account_guards_at`; the
    level filter and the order are applied after the figures are rebuilt (they are not stored)."""
    at, moment = resolve_at(at, now)
    if not viewer.sees_all:
        raise Forbidden("the risk wall is for risk and admin users")
    level_value = parse_enum(Level, level, "level")
    accounts = await _gauges_at(
        db, viewer, at, moment, account_id=None, raw_kept=raw_kept, logs_kept=logs_kept
    )
    if level_value is not None:
        accounts = [a for a in accounts if a.dd_level is level_value]
    accounts.sort(key=lambda a: (-a.drawdown_pct, a.account_id))
    return AccountGuardList(accounts=accounts, as_of=at)


async def guard_events_at(
    db: Database,
    viewer: Viewer,
    at: datetime,
    account_id: int | None = None,
    guard_type: GuardType | str | None = None,
    limit: int = 50,
    since: datetime | None = None,
    now: datetime | None = None,
) -> GuardEventList:
    """`guards.guard_events` as of `at`: the events created at or before `at`, newest first,
    at most `limit`, with the same visibility (a trader: own accounts plus the market guards).

    A function of its own rather than an `until` on the live read (whose page cursor and
    signature other work is changing): the only difference is `created_at <= at`, which keeps
    each index the live read uses, walked backwards from `at` instead of from its end:
    `(account_id, created_at)`, `(user_id, created_at)` (plus `(account_id, created_at)` for the
    market events' NULL account), `(guard_type, created_at)` or `(created_at)`. An acknowledgement
    made after `at` had not happened then: `acknowledged_by`/`acknowledged_at` are None for it.
    """
    at, _ = resolve_at(at, now)
    check_limit(limit, "limit", MAX_GUARD_EVENTS)
    type_value = parse_enum(GuardType, guard_type, "guard_type")
    stmt = select(*_GUARD_EVENT_COLUMNS).where(GuardEvent.created_at <= at)
    if not viewer.sees_all:
        stmt = stmt.where(or_(GuardEvent.user_id == viewer.user_id, GuardEvent.account_id.is_(None)))
    if account_id is not None:
        stmt = stmt.where(GuardEvent.account_id == account_id)
    if type_value is not None:
        stmt = stmt.where(GuardEvent.guard_type == type_value)
    if since is not None:
        stmt = stmt.where(GuardEvent.created_at >= require_aware(since, "since"))
    stmt = stmt.order_by(GuardEvent.created_at.desc(), GuardEvent.id.desc()).limit(limit)
    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    events = []
    for row in rows:
        values = dict(row._mapping)
        if values["acknowledged_at"] is not None and values["acknowledged_at"] > at:
            values["acknowledged_at"] = values["acknowledged_by"] = None
        events.append(GuardEventView.model_validate(values))
    return GuardEventList(events=events, as_of=at)


async def equity_curve_at(
    db: Database,
    viewer: Viewer,
    account_id: int,
    since: datetime,
    at: datetime,
    max_points: int = 2000,
    now: datetime | None = None,
    *,
    raw_kept: timedelta = DEFAULT_RAW_KEPT,
) -> EquityCurve:
    """The equity curve of one account over `[since, at]`, ending at the moment shown, with
    `until = at` and `as_of = at`; at most `max_points` points (at least 4).

    Up to 24 h within the minute snapshots' retention this is `guards.equity_curve(since,
    until=at)` unchanged: exact. Longer windows are not left to it: it merges the hourly rollups
    into groups of whole hours and draws each group as its worst moment and its close, and for
    the group holding `at` both may lie after `at` and be dropped, so the curve would stop up to a
    group (9 h on a year) before `at`. (The live read never meets this: nothing lies after now.)
    So the whole hours before `at`'s hour come from it (`max_points - 2`), and `at`'s own part
    hour is appended as its worst moment and its last snapshot up to `at`: from the minute rows
    `uq(account_id, ts)` while kept, else from that hour's rollup if its worst moment or close
    is not after `at` (beyond retention the part hour may then be empty).
    """
    at, moment = resolve_at(at, now)
    since = require_aware(since, "since")
    if since > at:
        raise InvalidInput("since must not be later than at", field="since")
    check_limit(max_points, "max_points", MAX_EQUITY_POINTS, minimum=4)
    if at - since <= RAW_WINDOW and since >= moment - raw_kept:
        curve = await equity_curve(
            db, viewer, account_id, since, at, max_points, now=moment, raw_kept=raw_kept
        )
        return curve.model_copy(update={"as_of": at})

    hour = hour_of(at)
    part_start = max(since, hour_start(hour))
    head_until = hour_start(hour) - timedelta(microseconds=1)
    points: list[EquityPoint] = []
    downsampled = True
    if since <= head_until:
        head = await equity_curve(
            db, viewer, account_id, since, head_until, max_points - 2, now=moment, raw_kept=raw_kept
        )
        points.extend(head.points)
    async with db.read_session() as session:
        await ensure_account_visible(session, viewer, account_id)
        tail: list[EquityPoint] = []
        if at >= moment - raw_kept:
            snap = EquitySnapshot
            rows = (
                await session.execute(
                    select(snap.ts, snap.balance, snap.equity, snap.hwm, snap.drawdown_pct)
                    .where(snap.account_id == account_id, snap.ts >= part_start, snap.ts <= at)
                    .order_by(snap.ts.asc())
                )
            ).all()
            tail = [EquityPoint.model_construct(**row._mapping) for row in rows]
        if not tail:
            rollup = (
                await session.execute(
                    select(EquityHourly).where(
                        EquityHourly.account_id == account_id, EquityHourly.hour == hour
                    )
                )
            ).scalar_one_or_none()
            if rollup is not None:
                moments = [
                    EquityPoint.model_construct(
                        ts=rollup.worst_ts,
                        balance=rollup.worst_balance,
                        equity=rollup.worst_equity,
                        hwm=rollup.worst_hwm,
                        drawdown_pct=rollup.worst_drawdown_pct,
                    ),
                    EquityPoint.model_construct(
                        ts=rollup.close_ts,
                        balance=rollup.close_balance,
                        equity=rollup.close_equity,
                        hwm=rollup.close_hwm,
                        drawdown_pct=rollup.close_drawdown_pct,
                    ),
                ]
                tail = [p for p in moments if part_start <= p.ts <= at]
    if len(tail) > 2:  # the part hour as the rollups draw an hour: its worst moment and its last point
        worst = max(range(len(tail)), key=lambda i: (tail[i].drawdown_pct, -i))
        tail = [tail[i] for i in sorted({worst, len(tail) - 1})]
    by_ts = {p.ts: p for p in points}
    by_ts.update({p.ts: p for p in tail})
    return EquityCurve.model_construct(
        account_id=account_id,
        since=since,
        until=at,
        points=[by_ts[ts] for ts in sorted(by_ts)],
        downsampled=downsampled,
        as_of=at,
    )


# ---- Positions and incidents


async def open_positions_at(
    db: Database,
    viewer: Viewer,
    at: datetime,
    account_id: int | None = None,
    symbol: str | None = None,
    now: datetime | None = None,
) -> PositionListAsOf:
    """The positions open at `at` (`opened_at <= at` and not closed by `at`), newest opened first
    (`opened_at DESC, id DESC`), with the live read's visibility.

    Their P&L, swap and current price at `at` were never stored: they are None (never today's
    value under a past date; see `schemas.as_of.PositionAsOf` for the other fields). The close
    time is the broker's exit deal's, which the dashboard learns at the next sync: for a moment
    between the two, this says closed where the live page still said open. Index: the
    two arms of `_open_position_at` on `(user_id, status, closed_at)` (`(status, closed_at)` and
    `(status, symbol)` for risk/admin); `(account_id, status)` when narrowed to one account.
    """
    at, _ = resolve_at(at, now)
    columns: Any = select(
        Position.id,
        Position.account_id,
        Position.user_id,
        Position.broker_ticket,
        Position.broker_position_id,
        Position.symbol,
        Position.side,
        Position.volume,
        Position.price_open,
        Position.requested_price,
        Position.sl,
        Position.tp,
        Position.commission,
        Position.opened_at,
        Position.closed_at,
        Position.source,
        Position.updated_at,
        TradingAccount.currency,
    )
    stmt = scoped(
        columns.join(TradingAccount, TradingAccount.id == Position.account_id).where(_open_position_at(at)),
        Position.user_id,
        viewer,
    )
    if account_id is not None:
        stmt = stmt.where(Position.account_id == account_id)
    if symbol is not None:
        stmt = stmt.where(Position.symbol == symbol)
    stmt = stmt.order_by(Position.opened_at.desc(), Position.id.desc())
    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    positions = [
        PositionAsOf(
            id=row.id,
            account_id=row.account_id,
            user_id=row.user_id,
            broker_ticket=row.broker_ticket,
            broker_position_id=row.broker_position_id,
            symbol=row.symbol,
            side=row.side,
            volume=row.volume,
            price_open=row.price_open,
            requested_price=row.requested_price,
            price_current=None,
            sl=row.sl,
            tp=row.tp,
            swap=None,
            # An exit deal replaces the commission; while still open it is the opening one.
            commission=row.commission if row.closed_at is None else None,
            profit=None,
            status=PositionStatus.OPEN,
            opened_at=row.opened_at,
            source=row.source,
            currency=row.currency,
            updated_at=row.updated_at if row.updated_at <= at else None,
        )
        for row in rows
    ]
    return PositionListAsOf(positions=positions, as_of=at)


def _incident_open_at(at: datetime) -> ColumnElement[bool]:
    """Seen by `at` and not resolved by `at`."""
    return and_(
        DivergenceIncident.first_seen_at <= at,
        or_(DivergenceIncident.resolved_at.is_(None), DivergenceIncident.resolved_at > at),
    )


async def open_incidents_at(
    db: Database,
    viewer: Viewer,
    at: datetime,
    account_id: int | None = None,
    now: datetime | None = None,
) -> OpenIncidents:
    """`reconciliation.open_incidents` as of `at`: the incidents first seen by `at` and not
    resolved by then, newest first (`first_seen_at DESC, id DESC`), each as it was then: resolution
    `open`, no `resolved_at`, `escalated_at` only if escalated by `at`.

    `occurrences` and `last_seen_at` are exact when the incident was last seen by `at` (nothing
    changed them since). Otherwise they are rebuilt from the account's sync logs: an open incident
    is observed by every sync that does not fail or skip its position, and a sync that observes a
    divergence is `divergent`; so the divergent syncs in `[first_seen_at, at]` count its
    sightings (exact unless the race guard skipped it while another divergence was open) and the
    newest is its last sighting. Beyond the logs' retention few or none of those logs remain, so
    this is a lower bound (at least one sighting, at `first_seen_at`). Severity and values are the
    latest stored (each sighting overwrites them; no history).

    Index: `(user_id, first_seen_at)` (`(first_seen_at)` for risk/admin) over the incidents seen
    by `at`: it grows with the history. The `(resolved_at)` index (0010) could make it "currently
    open plus resolved since `at`"; this read does not use it yet. Sightings: `(account_id,
    created_at)` of the logs, one range per incident concerned.
    """
    at, _ = resolve_at(at, now)
    stmt = scoped(select(*_INCIDENT_COLUMNS).where(_incident_open_at(at)), DivergenceIncident.user_id, viewer)
    if account_id is not None:
        stmt = stmt.where(DivergenceIncident.account_id == account_id)
    stmt = stmt.order_by(DivergenceIncident.first_seen_at.desc(), DivergenceIncident.id.desc())
    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = [dict(row._mapping) for row in (await session.execute(stmt)).all()]
        later = [row["id"] for row in rows if row["last_seen_at"] > at]
        sightings: dict[int, tuple[int, datetime | None]] = {}
        if later:
            log = ReconciliationLog
            seen = (
                select(
                    DivergenceIncident.id,
                    func.count(log.id).label("n"),
                    func.max(log.created_at).label("last"),
                )
                .join(
                    log,
                    and_(
                        log.account_id == DivergenceIncident.account_id,
                        log.created_at >= DivergenceIncident.first_seen_at,
                        log.created_at <= at,
                        log.status == SyncStatus.DIVERGENT,
                    ),
                )
                .where(DivergenceIncident.id.in_(later))
                .group_by(DivergenceIncident.id)
            )
            sightings = {r.id: (int(r.n), r.last) for r in (await session.execute(seen)).all()}
    incidents = []
    for row in rows:
        row["resolution"], row["resolved_at"] = Resolution.OPEN, None
        if row["escalated_at"] is not None and row["escalated_at"] > at:
            row["escalated_at"] = None
        if row.get("acknowledged_at") is not None and row["acknowledged_at"] > at:
            row["acknowledged_at"] = None  # acknowledged later: at the moment it was still open
        if row["last_seen_at"] > at:
            count, last = sightings.get(row["id"], (0, None))
            row["occurrences"] = max(1, min(count, row["occurrences"]))
            row["last_seen_at"] = (
                max(last, row["first_seen_at"]) if last is not None else row["first_seen_at"]
            )
        incidents.append(DivergenceIncidentView.model_validate(row))
    return OpenIncidents(incidents=incidents, as_of=at)


# ---- Reconciliation status


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


async def reconciliation_status_at(
    db: Database,
    viewer: Viewer,
    at: datetime,
    now: datetime | None = None,
    *,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    logs_kept: timedelta = DEFAULT_LOGS_KEPT,
) -> ReconciliationStatus:
    """`reconciliation.reconciliation_status` as of `at`, for the visible accounts.

    - `total_syncs`, `failed_syncs`: the hourly counts (`reconciliation_hourly`) of the hours
      wholly before `at`'s hour, plus the raw logs of `at`'s hour up to `at`. Exact while that
      hour's logs are kept; beyond `logs_kept` the part hour is left out, so the totals are those
      at the start of `at`'s hour (a raw log still there past the horizon is not a full record).
    - `divergences_detected`: incidents first seen by `at`; `open_incidents`,
      `open_critical_incidents`: those not resolved by `at` (severity as last stored). Exact.
    - `open_positions_count`: positions open at `at` (exact).
    - `recent_events`, `last_sync_status`: the newest five logs at or before `at` within the logs'
      retention (empty, and the status None, beyond it); `last_sync_at`: the newest of them, else
      the end of the newest hour before `at`'s hour that had syncs (hour resolution).
    - `health`: `reconciliation.health_of` with `now = at`: how the page judged it at that moment.

    Indexes: `reconciliation_hourly` PK per visible account (a trader; risk/admin read every
    row before `at`'s hour: the table has no `(hour)` index, and ~17,500 rows per account-year);
    `(user_id, created_at)` / `(created_at)` of the logs, walked backwards from `at`;
    `(user_id, first_seen_at)` / `(first_seen_at)` of the incidents; the open-positions arms of
    `_open_position_at`. An alternative for the totals whose cost grows with the time since `at`
    rather than before it: the live counters minus the hours after `at` (not used: it relies on
    the counters and the rollups never having drifted apart).
    """
    at, moment = resolve_at(at, now)
    hour = hour_of(at)
    horizon = moment - logs_kept
    part_raw = hour_start(hour) >= horizon
    log, hourly, incident = ReconciliationLog, ReconciliationHourly, DivergenceIncident

    hourly_stmt: Any = select(
        _total(hourly.syncs).label("syncs"),
        _total(case((hourly.status == SyncStatus.FAILED, hourly.syncs), else_=0)).label("failed"),
    ).where(hourly.hour < hour)
    if not viewer.sees_all:
        hourly_stmt = hourly_stmt.join(TradingAccount, TradingAccount.id == hourly.account_id).where(
            TradingAccount.user_id == viewer.user_id
        )
    part_stmt = scoped(
        select(
            func.count().label("syncs"),
            _total(case((log.status == SyncStatus.FAILED, 1), else_=0)).label("failed"),
        ).where(log.created_at >= hour_start(hour), log.created_at <= at),
        log.user_id,
        viewer,
    )
    events_stmt = scoped(
        select(*_SYNC_EVENT_COLUMNS)
        .where(log.created_at <= at, log.created_at >= horizon)
        .order_by(log.created_at.desc(), log.id.desc())
        .limit(RECENT_EVENTS),
        log.user_id,
        viewer,
    )
    open_now = _incident_open_at(at)
    incidents_stmt = scoped(
        select(
            func.count().label("total"),
            _total(case((open_now, 1), else_=0)).label("open"),
            _total(case((and_(open_now, incident.severity == Severity.CRITICAL), 1), else_=0)).label(
                "critical"
            ),
        ).where(incident.first_seen_at <= at),
        incident.user_id,
        viewer,
    )
    positions_stmt = scoped(
        select(func.count()).select_from(Position).where(_open_position_at(at)), Position.user_id, viewer
    )
    async with db.read_session() as session:
        totals = (await session.execute(hourly_stmt)).one()
        part = (await session.execute(part_stmt)).one() if part_raw else None
        event_rows = (await session.execute(events_stmt)).all()
        incidents = (await session.execute(incidents_stmt)).one()
        open_positions = int((await session.execute(positions_stmt)).scalar_one())
        last_hour = None
        if not event_rows:
            newest = aliased(ReconciliationHourly)
            per_account = scoped(
                select(
                    select(func.max(newest.hour))
                    .where(newest.account_id == TradingAccount.id, newest.hour < hour)
                    .scalar_subquery()
                ).select_from(TradingAccount),
                TradingAccount.user_id,
                viewer,
            )
            hours = [h for h in (await session.execute(per_account)).scalars() if h is not None]
            last_hour = max(hours) if hours else None

    events = [SyncEvent.model_validate(row) for row in event_rows]
    # PostgreSQL's sum(integer) is a bigint or NUMERIC: normalise every counter to int.
    total_syncs = int(totals.syncs) + (int(part.syncs) if part is not None else 0)
    failed_syncs = int(totals.failed) + (int(part.failed) if part is not None else 0)
    if events:
        last_sync_at: datetime | None = events[0].created_at
    else:
        last_sync_at = hour_start(last_hour + 1) if last_hour is not None else None
    latest_status = events[0].status if events else None
    open_incidents, open_critical = int(incidents.open), int(incidents.critical)
    health = health_of(
        has_synced=total_syncs > 0 or bool(events),
        last_sync_at=last_sync_at,
        latest_status=latest_status,
        open_incidents=open_incidents,
        open_critical_incidents=open_critical,
        now=at,
        stale_after=stale_after,
    )
    return ReconciliationStatus(
        user_id=viewer.owner_filter,
        total_syncs=total_syncs,
        failed_syncs=failed_syncs,
        open_positions_count=open_positions,
        divergences_detected=int(incidents.total),
        open_incidents=open_incidents,
        open_critical_incidents=open_critical,
        last_sync_at=last_sync_at,
        last_sync_status=latest_status,
        health=health,
        recent_events=events,
        as_of=at,
    )
