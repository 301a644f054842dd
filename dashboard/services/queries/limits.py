"""An account's limits with the room left under each, and its high-water-mark resets.

Everybody who may see the account reads them (a trader their own accounts; someone else's is
`NotFound`, like an id that does not exist). The room is computed by the domain
(`dashboard.domain.limit_room`) from the stored projection at the latest snapshot, never from
history: one primary-key read of the account and its risk state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dashboard.db.models import AccountRiskState, HwmReset, TradingAccount, User
from dashboard.db.session import Database
from dashboard.domain.limit_room import Room, limit_room
from dashboard.domain.risk_state import RiskState
from dashboard.schemas.limits import (
    LIMIT_FIELDS,
    AccountLimits,
    HwmResetList,
    HwmResetView,
    LimitsView,
    RoomView,
)
from dashboard.services.errors import NotFound
from dashboard.services.ingestion.equity import rules_of, state_of
from dashboard.services.queries import check_limit, ensure_account_visible, require_aware, resolve_now
from dashboard.services.viewer import Viewer

MAX_RESETS = 1000


def _room(room: Room | None) -> RoomView | None:
    return None if room is None else RoomView.model_validate(room)


async def account_limits(
    db: Database, viewer: Viewer, account_id: int, now: datetime | None = None
) -> LimitsView:
    """The limits of one visible account and the room under each at its latest snapshot."""
    as_of = resolve_now(now)
    stmt = (
        select(TradingAccount, AccountRiskState)
        .outerjoin(AccountRiskState, AccountRiskState.account_id == TradingAccount.id)
        .where(TradingAccount.id == account_id)
    )
    if viewer.owner_filter is not None:
        stmt = stmt.where(TradingAccount.user_id == viewer.owner_filter)
    async with db.read_session() as session:
        found = (await session.execute(stmt)).one_or_none()
    if found is None:
        raise NotFound(f"account {account_id} not found")
    account, row = found  # loaded in full by the select: nothing is read lazily past here
    state = state_of(row) if row is not None else RiskState()
    room = limit_room(rules_of(account), state)
    return LimitsView(
        account_id=account.id,
        user_id=account.user_id,
        name=account.name,
        broker_login=account.broker_login,
        currency=account.currency,
        initial_balance=account.initial_balance,
        limits=AccountLimits.model_validate({name: getattr(account, name) for name in LIMIT_FIELDS}),
        updated_at=state.updated_at,
        equity=state.equity,
        hwm=state.hwm,
        drawdown_pct=state.drawdown_pct,
        dd_level=state.dd_level,
        daily_loss_pct=state.daily_loss_pct,
        daily_loss_level=state.daily_loss_level,
        max_loss_level=state.max_loss_level,
        drawdown_warning=_room(room.drawdown_warning),
        drawdown_critical=_room(room.drawdown_critical),
        daily_loss=_room(room.daily_loss),
        max_loss=_room(room.max_loss),
        as_of=as_of,
    )


async def hwm_resets(
    db: Database,
    viewer: Viewer,
    account_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> HwmResetList:
    """The account's HWM resets in `[since, until]` (either open), oldest first, at most `limit`
    (the newest ones when there are more), with who made each."""
    as_of = resolve_now(now)
    check_limit(limit, "limit", MAX_RESETS)
    stmt = (
        select(
            HwmReset.id,
            HwmReset.account_id,
            HwmReset.created_at,
            HwmReset.previous_hwm,
            HwmReset.new_hwm,
            HwmReset.reason,
            HwmReset.actor_user_id,
            User.display_name.label("actor_name"),
        )
        .outerjoin(User, User.id == HwmReset.actor_user_id)
        .where(HwmReset.account_id == account_id)
    )
    if since is not None:
        stmt = stmt.where(HwmReset.created_at >= require_aware(since, "since"))
    if until is not None:
        stmt = stmt.where(HwmReset.created_at <= require_aware(until, "until"))
    stmt = stmt.order_by(HwmReset.created_at.desc(), HwmReset.id.desc()).limit(limit)
    async with db.read_session() as session:
        await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    return HwmResetList(
        account_id=account_id,
        resets=[HwmResetView.model_validate(row) for row in reversed(rows)],
        as_of=as_of,
    )
