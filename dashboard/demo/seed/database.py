"""The database side: one transaction that writes the whole demo, and what the app asks about it.

Bulk history goes in with `insert(Model)` executemany in chunks, never row-by-row ORM adds, and the
pure generators run in worker threads (`asyncio.to_thread`): seconds of CPU on the event loop would
stall every request of an app seeding on its first start.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.auth.passwords import hash_password_async
from dashboard.db.models import (
    AccountRiskState,
    AppMeta,
    Base,
    DivergenceIncident,
    EquityHourly,
    EquitySnapshot,
    GuardEvent,
    Instrument,
    MarketState,
    Position,
    ReconciliationHourly,
    ReconciliationLog,
    TradingAccount,
    User,
)
from dashboard.db.serialize import SEED_LOCK_KEY, one_at_a_time
from dashboard.db.session import Database
from dashboard.demo.fleet import AccountDef, FleetDefinition, load_fleet
from dashboard.demo.seed.account_history import AccountHistory, account_history
from dashboard.demo.seed.equity_walk import equity_walk, scripted_daily_loss
from dashboard.demo.seed.market_history import MarketHistory, build_market, domain_spec
from dashboard.demo.seed.reconciliation_rows import incident_rows, log_rows
from dashboard.demo.seed.report import Progress, SeedReport
from dashboard.demo.trading import margin_of
from dashboard.domain.enums import (
    AccountStatus,
    DailyLossBasis,
    MaxLossMode,
    Resolution,
    Role,
    Severity,
    StopsPolicy,
    SyncEventType,
)
from dashboard.domain.instruments import InstrumentSpec
from dashboard.domain.rollups import Sample, buckets_of
from dashboard.services.errors import ServiceError
from dashboard.services.ingestion.equity import guard_event, store_state
from dashboard.services.ingestion.rollups import bucket_values, hourly_counts

__all__ = [
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "SEED_MARKER",
    "demo_logins",
    "ensure_demo_passwords",
    "floor_to_step",
    "is_seeded",
    "seed_demo",
]

DEMO_PASSWORD = "demo"
DEFAULT_SEED = 7
ANCHOR_STEP = timedelta(minutes=5)
CHUNK_ROWS = 1000
ROLE_ORDER = {Role.ADMIN: 0, Role.RISK: 1, Role.TRADER: 2, Role.SERVICE: 3}
SEED_MARKER = "demo_seed"


def floor_to_step(ts: datetime, step: timedelta = ANCHOR_STEP) -> datetime:
    """`ts` in UTC floored to a multiple of `step` since the epoch (the seed's anchor)."""
    ts = ts.astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((ts - epoch) // step) * step


async def is_seeded(db: Database) -> bool:
    """The seed finished here: an explicit marker, written in the seed's own transaction.

    Not "any user exists": a user created (say with the CLI) before the first seed finished made
    the demo look seeded forever while it held no data.
    """
    async with db.read_session() as session:
        return await session.get(AppMeta, SEED_MARKER) is not None


async def demo_logins(db: Database) -> list[str]:
    """E-mails of the demo users, admin first, then risk, then traders."""
    async with db.read_session() as session:
        rows = (await session.execute(select(User.email, User.role, User.id).where(User.is_demo))).all()
    return [email for email, _, _ in sorted(rows, key=lambda r: (ROLE_ORDER[Role(r[1])], r[2]))]


async def _holds_data(session: AsyncSession) -> bool:
    """Accounts, instruments or demo users exist (users of the operator's own do not count)."""
    for query in (
        select(func.count()).select_from(TradingAccount),
        select(func.count()).select_from(Instrument),
        select(func.count()).select_from(User).where(User.is_demo),
    ):
        if (await session.execute(query)).scalar_one():
            return True
    return False


async def ensure_demo_passwords(db: Database) -> int:
    """Give demo users seeded before logins existed the demo password; returns how many."""
    async with db.session() as session:
        missing = (
            (await session.execute(select(User).where(User.is_demo, User.password_hash.is_(None))))
            .scalars()
            .all()
        )
        if missing:
            demo_hash = await hash_password_async(DEMO_PASSWORD)
            for user in missing:
                user.password_hash = demo_hash
        return len(missing)


async def _reset(session: AsyncSession) -> None:
    """Delete every row, children first; refuses when a real (non-demo) user exists.

    On PostgreSQL a single TRUNCATE ... RESTART IDENTITY also restarts the id sequences, so a
    reseed produces the very same ids (and rows) as a seed into a fresh database.
    """
    real = (await session.execute(select(func.count()).select_from(User).where(~User.is_demo))).scalar_one()
    if real:
        raise ServiceError("refusing to reset: non-demo users present")
    tables = list(reversed(Base.metadata.sorted_tables))
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        await session.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY"))
        return
    for table in tables:
        await session.execute(delete(table))


def _chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK_ROWS) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def _bulk(session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(rows):
        await session.execute(insert(model), list(chunk))


async def _bulk_ids(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert and return the new ids in input order (RETURNING with parameter-order sorting)."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
        ids.extend((await session.execute(stmt, list(chunk))).scalars().all())
    return ids


async def seed_demo(
    db: Database,
    seed: int = DEFAULT_SEED,
    reset: bool = False,
    progress: bool = False,
    *,
    now: datetime | None = None,
    hours_of_syncs: int | None = None,
    equity_days: int | None = None,
    fleet: FleetDefinition | None = None,
) -> SeedReport:
    """Build the whole demo in one transaction; raises `ServiceError` if data is already there.

    `now` (default: wall clock) is floored to 5 minutes: the history ends exactly there. The
    `hours_of_syncs` / `equity_days` overrides shrink the horizon (tests use them to stay fast).
    """
    started = time.perf_counter()
    fleet = fleet or load_fleet()
    anchor = floor_to_step(now or datetime.now(UTC))
    days = equity_days or fleet.equity.horizon_days
    n_points = days * 24 * 60 // fleet.equity.step_minutes
    sync_hours = hours_of_syncs or fleet.syncs.window_hours
    if sync_hours >= days * 24:
        raise ValueError("hours_of_syncs must be shorter than the equity horizon")
    n_syncs = sync_hours * 3600 // fleet.syncs.cadence_seconds
    specs = {s: domain_spec(spec) for s, spec in fleet.instruments.items()}
    bar = Progress(progress, total=len(fleet.accounts) + 3)
    totals = Counter[str]()

    async with db.session() as session:
        # Two processes starting on an empty database: the second waits, then finds the data.
        await one_at_a_time(session, SEED_LOCK_KEY)
        if await _holds_data(session):
            if not reset:
                raise ServiceError("database already holds data; use --reset")
            await _reset(session)
        history_start = anchor - timedelta(days=days)
        # The pure generators run in a worker thread: seconds of CPU on the event loop would stall
        # every request meanwhile (a readiness probe timed out connecting and logged an "outage").
        market = await asyncio.to_thread(build_market, fleet, specs, seed, history_start, anchor)
        bar.step("prices")
        users, accounts = await _insert_people(session, fleet, specs, anchor, history_start)
        totals["users"], totals["accounts"] = len(users), len(accounts)
        bar.step("users & accounts")
        for index, account in enumerate(fleet.accounts):
            row = accounts[account.key]
            history = await asyncio.to_thread(
                account_history, fleet, specs, market, account, index, seed, anchor, n_syncs
            )
            await _insert_account(
                session, fleet, specs, market, account, row, history, seed, anchor, n_points, totals
            )
            bar.step(account.key)
        await _insert_market(session, market)
        totals["guard_events"] += len(market.guard_rows)
        await session.merge(
            AppMeta(key=SEED_MARKER, value=f"seed {seed} at {anchor.isoformat()}", updated_at=anchor)
        )
        bar.step("market state")
    bar.finish()
    return SeedReport(
        users=totals["users"],
        accounts=totals["accounts"],
        equity_snapshots=totals["equity"],
        syncs=totals["syncs"],
        incidents=totals["incidents"],
        positions_open=totals["open"],
        positions_closed=totals["closed"],
        guard_events=totals["guard_events"],
        seconds=time.perf_counter() - started,
        logins=await demo_logins(db),
    )


async def _insert_people(
    session: AsyncSession,
    fleet: FleetDefinition,
    specs: dict[str, InstrumentSpec],
    anchor: datetime,
    history_start: datetime,
) -> tuple[dict[str, User], dict[str, TradingAccount]]:
    """Instruments, users and accounts through the ORM (a few dozen rows; their ids are needed)."""
    session.add_all(
        Instrument(
            symbol=s.symbol,
            asset_class=s.asset_class,
            contract_size=s.contract_size,
            digits=s.digits,
            volume_step=s.volume_step,
            quote_ccy=s.quote_ccy,
            typical_spread=s.typical_spread,
            annual_vol=s.annual_vol,
            trading_days=s.trading_days,
        )
        for s in (specs[k] for k in sorted(specs))
    )
    demo_hash = await hash_password_async(DEMO_PASSWORD)  # one argon2 hash (~0.1 s) shared by the demo logins
    users = {
        u.email: User(
            email=u.email,
            display_name=u.display_name,
            role=u.role,
            telegram_user_id=u.telegram_user_id,
            password_hash=demo_hash,
            session_version=0,
            is_active=True,
            is_demo=True,
            created_at=anchor - timedelta(days=30),
        )
        for u in fleet.users
    }
    session.add_all(users.values())
    await session.flush()
    accounts = {
        a.key: _account_row(a, users[a.owner].id, fleet, history_start, anchor) for a in fleet.accounts
    }
    session.add_all(accounts.values())
    await session.flush()
    return users, accounts


def _account_row(
    a: AccountDef, user_id: int, fleet: FleetDefinition, history_start: datetime, anchor: datetime
) -> TradingAccount:
    return TradingAccount(
        user_id=user_id,
        name=a.label,
        broker_login=a.broker_login,
        broker_server=a.broker_server,
        margin_mode=a.margin_mode,
        currency=a.currency,
        leverage=a.leverage,
        initial_balance=a.initial_balance,
        is_demo=a.is_demo,
        dd_warning_pct=a.dd_warning_pct,
        dd_critical_pct=a.dd_critical_pct,
        daily_loss_limit_pct=a.daily_loss_limit_pct,
        max_loss_limit_pct=a.max_loss_limit_pct,
        daily_loss_basis=a.daily_loss_basis or DailyLossBasis.MAX_SOD_BALANCE_EQUITY,
        max_loss_mode=a.max_loss_mode or MaxLossMode.STATIC,
        day_reset_tz=a.day_reset_tz,
        day_reset_hour=a.day_reset_hour,
        stops_policy=StopsPolicy.BROKER_WINS,
        platform_magic=fleet.positions.platform_magic,
        status=AccountStatus.ACTIVE,
        created_at=history_start - timedelta(days=1),
        prop_profit_target_pct=a.prop_profit_target_pct,
        prop_min_trading_days=a.prop_min_trading_days,
        prop_max_days=a.prop_max_days,
        prop_started_at=(
            anchor - timedelta(days=a.prop_started_days_ago) if a.prop_started_days_ago is not None else None
        ),
    )


async def _insert_account(
    session: AsyncSession,
    fleet: FleetDefinition,
    specs: dict[str, InstrumentSpec],
    market: MarketHistory,
    account: AccountDef,
    row: TradingAccount,
    history: AccountHistory,
    seed: int,
    anchor: datetime,
    n_points: int,
    totals: Counter[str],
) -> None:
    persisted = [p for p in history.positions if p.persisted]
    open_now = [p for p in persisted if p.closed_at is None]
    mids = {s: market.final(s).mid for s in market.quotes}
    floating = sum((p.profit + p.swap for p in open_now), Decimal(0))
    margin = margin_of(((p.symbol, p.volume) for p in open_now), specs, mids, row.currency, row.leverage)
    walk = await asyncio.to_thread(equity_walk, fleet, account, row, seed, anchor, n_points, floating, margin)
    await _bulk(session, EquitySnapshot, walk.rows)
    samples = [Sample(r["ts"], r["balance"], r["equity"], r["hwm"], r["drawdown_pct"]) for r in walk.rows]
    await _bulk(session, EquityHourly, [bucket_values(row.id, b) for b in buckets_of(samples)])

    ordered = sorted(persisted, key=lambda p: p.identifier)
    ids = await _bulk_ids(session, Position, [p.row(row.id, row.user_id) for p in ordered])
    for pos, db_id in zip(ordered, ids, strict=True):
        pos.db_id = db_id
    logs = log_rows(history, row.id, row.user_id, seed)
    log_ids = await _bulk_ids(session, ReconciliationLog, logs)
    await _bulk(session, ReconciliationHourly, hourly_counts(row.id, logs))
    incidents = incident_rows(history, row.id, row.user_id, log_ids)
    await _bulk(session, DivergenceIncident, incidents)

    alerts = walk.alerts + scripted_daily_loss(walk, account)
    session.add_all(guard_event(row, alert, at) for alert, at in sorted(alerts, key=lambda x: x[1]))
    state = AccountRiskState(account_id=row.id, user_id=row.user_id, margin=margin)
    store_state(state, walk.state)
    _store_counters(state, logs, incidents, len(open_now))
    session.add(state)
    await session.flush()

    totals["equity"] += len(walk.rows)
    totals["syncs"] += len(logs)
    totals["incidents"] += len(incidents)
    totals["open"] += len(open_now)
    totals["closed"] += len(persisted) - len(open_now)
    totals["guard_events"] += len(alerts)


def _store_counters(
    state: AccountRiskState, logs: list[dict[str, Any]], incidents: list[dict[str, Any]], open_positions: int
) -> None:
    """The counters that keep status reads O(accounts); computed from the rows just inserted."""
    state.open_positions = open_positions
    state.total_syncs = len(logs)
    state.failed_syncs = sum(log["event_type"] is SyncEventType.SYNC_FAILED for log in logs)
    state.incidents_total = len(incidents)
    still_open = [i for i in incidents if i["resolution"] is Resolution.OPEN]
    state.open_incidents = len(still_open)
    state.open_critical_incidents = sum(i["severity"] is Severity.CRITICAL for i in still_open)
    if logs:
        newest = max(logs, key=lambda log: log["created_at"])
        state.last_sync_at, state.last_sync_status = newest["created_at"], newest["status"]


async def _insert_market(session: AsyncSession, market: MarketHistory) -> None:
    """The current quote and guard memory per symbol, and the market guard events of the last 24 h."""
    await _bulk(
        session,
        MarketState,
        [
            {
                "symbol": symbol,
                "bid": market.final(symbol).bid,
                "ask": market.final(symbol).ask,
                "quoted_at": market.final(symbol).ts,
                "guard_state": market.guard_states[symbol].to_json(),
            }
            for symbol in sorted(market.quotes)
        ],
    )
    await _bulk(session, GuardEvent, market.guard_rows)
