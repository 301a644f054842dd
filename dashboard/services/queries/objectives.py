"""Read: an account's prop-challenge objectives, computed by `dashboard.domain.prop_challenge`
from what is stored (the account's rule and objectives, its `account_risk_state` row, the days a
position was opened and the breaches recorded as guard events).

Two statements whatever the account's history: the account joined to its risk state, then one
row holding, per broker day of the challenge, whether a position was opened in it (an `EXISTS`
probe on the `(user_id, opened_at)` index, which stops at the first match) and the earliest
recorded breach of each floor. The day boundaries (reset zone and hour, DST) are computed in
Python by the domain and sent as bounds, so the SQL is the same on SQLite and PostgreSQL. A
challenge longer than `DAYS_PER_STATEMENT` days takes one more statement per such block.

Recorded breaches: a `max_loss` guard event `triggered` since the start is exactly "equity fell
below the max-loss floor". A daily-loss breach leaves an event of its own only when it is the
edge that raised the level (its metric, the share of the allowance used, is then above 100 %);
one reached after the level was already critical at 80 % is seen only while it lasts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AccountRiskState, GuardEvent, Position, TradingAccount
from dashboard.db.session import Database
from dashboard.domain.enums import GuardState, GuardType
from dashboard.domain.numbers import DomainError
from dashboard.domain.prop_challenge import (
    Breach,
    ChallengeDay,
    FailReason,
    PropChallenge,
    challenge_days,
    evaluate,
)
from dashboard.schemas.objectives import AccountObjectives, ObjectiveAccounts, Objectives
from dashboard.services.errors import Conflict, NotFound
from dashboard.services.queries import resolve_now, scoped
from dashboard.services.viewer import Viewer

#: Broker days probed per statement (one column each; both databases allow well over this).
DAYS_PER_STATEMENT = 400
#: A daily-loss event whose metric (share of the allowance used, %) is above this was a breach.
_ALLOWANCE_USED_AT_BREACH = Decimal(100)

_ACCOUNT_COLUMNS = (
    TradingAccount.id,
    TradingAccount.user_id,
    TradingAccount.currency,
    TradingAccount.initial_balance,
    TradingAccount.daily_loss_limit_pct,
    TradingAccount.max_loss_limit_pct,
    TradingAccount.daily_loss_basis,
    TradingAccount.max_loss_mode,
    TradingAccount.day_reset_tz,
    TradingAccount.day_reset_hour,
    TradingAccount.prop_profit_target_pct,
    TradingAccount.prop_min_trading_days,
    TradingAccount.prop_max_days,
    TradingAccount.prop_started_at,
    AccountRiskState.updated_at,
    AccountRiskState.balance,
    AccountRiskState.equity,
    AccountRiskState.day_start_balance,
    AccountRiskState.day_start_equity,
    AccountRiskState.highest_eod_balance,
)


def runs_challenge() -> Any:
    """SQL: the account has a prop rule (both loss limits) and objectives (target and start)."""
    return and_(
        TradingAccount.daily_loss_limit_pct.is_not(None),
        TradingAccount.max_loss_limit_pct.is_not(None),
        TradingAccount.prop_profit_target_pct.is_not(None),
        TradingAccount.prop_started_at.is_not(None),
    )


def challenge_of(row: Any) -> PropChallenge | None:
    """The account's challenge, or None when its rule or objectives are incomplete."""
    needed = (
        row.daily_loss_limit_pct,
        row.max_loss_limit_pct,
        row.prop_profit_target_pct,
        row.prop_started_at,
    )
    if any(value is None for value in needed):
        return None
    try:
        return PropChallenge(
            initial_balance=row.initial_balance,
            daily_loss_limit_pct=row.daily_loss_limit_pct,
            max_loss_limit_pct=row.max_loss_limit_pct,
            profit_target_pct=row.prop_profit_target_pct,
            started_at=row.prop_started_at,
            daily_loss_basis=row.daily_loss_basis,
            max_loss_mode=row.max_loss_mode,
            day_reset_tz=row.day_reset_tz,
            day_reset_hour=row.day_reset_hour,
            min_trading_days=row.prop_min_trading_days,
            max_days=row.prop_max_days,
        )
    except DomainError as error:
        raise Conflict(f"account {row.id}: its prop challenge is not valid ({error})") from None


async def objective_accounts(db: Database, viewer: Viewer, now: datetime | None = None) -> ObjectiveAccounts:
    """The visible accounts running a challenge, by id."""
    as_of = resolve_now(now)
    stmt = scoped(select(TradingAccount.id).where(runs_challenge()), TradingAccount.user_id, viewer)
    async with db.read_session() as session:
        ids = list((await session.execute(stmt.order_by(TradingAccount.id))).scalars())
    return ObjectiveAccounts(account_ids=ids, as_of=as_of)


async def account_objectives(
    db: Database, viewer: Viewer, account_id: int, now: datetime | None = None
) -> AccountObjectives:
    """One visible account's objectives at `now` (`NotFound` for another trader's account or an
    unknown id; `objectives` None for an account without a challenge; `Conflict` when the stored
    challenge cannot be evaluated, e.g. a profit target of 0)."""
    as_of = resolve_now(now)
    stmt: Any = (
        select(*_ACCOUNT_COLUMNS)
        .select_from(TradingAccount)
        .outerjoin(AccountRiskState, AccountRiskState.account_id == TradingAccount.id)
        .where(TradingAccount.id == account_id)
    )
    async with db.read_session() as session:
        row = (await session.execute(scoped(stmt, TradingAccount.user_id, viewer))).one_or_none()
        if row is None:
            raise NotFound(f"account {account_id} not found")
        challenge = challenge_of(row)
        if challenge is None:
            return AccountObjectives(account_id=account_id, objectives=None, as_of=as_of)
        days = challenge_days(challenge, as_of)
        traded, breach = await _history(session, row, challenge, days)
    return AccountObjectives(
        account_id=account_id, objectives=_objectives(row, challenge, as_of, traded, breach), as_of=as_of
    )


async def _history(
    session: AsyncSession, row: Row[Any], challenge: PropChallenge, days: Sequence[ChallengeDay]
) -> tuple[set[date], Breach | None]:
    """The challenge's days with a position opened, and its earliest recorded breach."""
    since = challenge.started_at

    def earliest(*kind: Any) -> Any:
        return (
            select(func.min(GuardEvent.created_at))
            .where(GuardEvent.account_id == row.id, GuardEvent.created_at >= since, *kind)
            .scalar_subquery()
        )

    max_loss = earliest(GuardEvent.guard_type == GuardType.MAX_LOSS, GuardEvent.state == GuardState.TRIGGERED)
    daily = earliest(
        GuardEvent.guard_type == GuardType.DAILY_LOSS, GuardEvent.metric_value > _ALLOWANCE_USED_AT_BREACH
    )
    # The first statement probes the first block of days and finds the breaches; longer
    # challenges take one more per further block.
    head = days[:DAYS_PER_STATEMENT]
    blocks = [
        days[i : i + DAYS_PER_STATEMENT] for i in range(DAYS_PER_STATEMENT, len(days), DAYS_PER_STATEMENT)
    ]
    first = (
        await session.execute(select(*_probes(row, head), max_loss.label("max_at"), daily.label("daily_at")))
    ).one()
    traded = {day.day for day, hit in zip(head, first[: len(head)], strict=True) if hit}
    for block in blocks:
        hits = (await session.execute(select(*_probes(row, block)))).one()
        traded.update(day.day for day, hit in zip(block, hits, strict=True) if hit)
    recorded = [
        Breach(reason, at)
        for reason, at in ((FailReason.MAX_LOSS, first.max_at), (FailReason.DAILY_LOSS, first.daily_at))
        if at is not None
    ]
    return traded, min(recorded, key=lambda b: b.at, default=None)


def _probes(row: Row[Any], days: Sequence[ChallengeDay]) -> list[Any]:
    """Per day: was a position of the account opened within it (`EXISTS`, one column each)."""
    return [
        exists()
        .where(
            Position.user_id == row.user_id,
            Position.opened_at >= day.start,
            Position.opened_at < day.end,
            Position.account_id == row.id,
        )
        .label(f"d{i}")
        for i, day in enumerate(days)
    ]


def _objectives(
    row: Row[Any], challenge: PropChallenge, now: datetime, traded: set[date], breach: Breach | None
) -> Objectives:
    """Before the first snapshot the account stands at its initial balance."""
    initial = challenge.initial_balance
    balance = row.balance if row.balance is not None else initial
    equity = row.equity if row.equity is not None else initial
    sod_balance = row.day_start_balance if row.day_start_balance is not None else balance
    sod_equity = row.day_start_equity if row.day_start_equity is not None else equity
    try:
        p = evaluate(
            challenge,
            now,
            balance=balance,
            equity=equity,
            sod_balance=sod_balance,
            sod_equity=sod_equity,
            highest_eod_balance=row.highest_eod_balance,
            traded_days=traded,
            recorded_breach=breach,
        )
    except DomainError as error:  # e.g. a start-of-day balance of 0: no loss can be measured from it
        raise Conflict(f"account {row.id}: its objectives cannot be computed ({error})") from None
    return Objectives(
        account_id=row.id,
        currency=row.currency,
        state=p.state,
        fail_reason=p.fail_reason,
        breached_at=breach.at if breach is not None else None,
        started_at=challenge.started_at,
        ends_at=p.ends_at,
        initial_balance=initial,
        balance=balance,
        equity=equity,
        equity_at=row.updated_at,
        profit_target_pct=challenge.profit_target_pct,
        target_amount=p.target_amount,
        target_balance=p.target_balance,
        profit=p.profit,
        progress_pct=p.progress_pct,
        target_reached=p.target_reached,
        daily_loss_limit_pct=challenge.daily_loss_limit_pct,
        daily_loss_basis=challenge.daily_loss_basis,
        daily_reference=p.daily_reference,
        daily_floor=p.daily_floor,
        daily_allowance=p.daily_allowance,
        daily_room=p.daily_room,
        daily_room_pct=p.daily_room_pct,
        daily_breached=p.daily_breached,
        max_loss_limit_pct=challenge.max_loss_limit_pct,
        max_loss_mode=challenge.max_loss_mode,
        max_floor=p.max_floor,
        max_allowance=p.max_allowance,
        max_room=p.max_room,
        max_room_pct=p.max_room_pct,
        max_breached=p.max_breached,
        day_reset_tz=challenge.day_reset_tz,
        day_reset_hour=challenge.day_reset_hour,
        first_day=p.first_day,
        day_number=p.day_number,
        trading_days=p.trading_days_done,
        min_trading_days=p.min_trading_days,
        max_days=challenge.max_days,
        days_left=p.days_left,
    )
