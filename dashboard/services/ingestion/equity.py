"""Record one equity snapshot: HWM, drawdown, daily loss, the risk-state row and guard events."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AccountRiskState, EquitySnapshot, GuardEvent, TradingAccount
from dashboard.db.session import Database
from dashboard.domain.enums import Level
from dashboard.domain.levels import Thresholds
from dashboard.domain.numbers import DomainError, money
from dashboard.domain.risk_state import AccountRules, RiskAlert, RiskState, advance
from dashboard.domain.rollups import Sample
from dashboard.services.alerts.outbox import add_guard_alerts, heard_from
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.common import lock_account
from dashboard.services.ingestion.inputs import EquitySnapshotIn, parse
from dashboard.services.ingestion.rollups import roll_up_equity
from dashboard.services.touched import Family, Touched

FAMILIES = (Family.GUARDS, Family.EQUITY, Family.GUARD_EVENTS, Family.RISK_WALL, Family.ALERTS)
_STATE_FIELDS = tuple(f.name for f in fields(RiskState))


@dataclass
class EquityResult:
    snapshot_id: int
    drawdown_pct: Decimal
    dd_level: Level
    alerts: list[RiskAlert]
    created: bool
    touched: Touched = field(default_factory=Touched)


def rules_of(account: TradingAccount) -> AccountRules:
    return AccountRules(
        initial_balance=account.initial_balance,
        thresholds=Thresholds(account.dd_warning_pct, account.dd_critical_pct),
        daily_loss_limit_pct=account.daily_loss_limit_pct,
        max_loss_limit_pct=account.max_loss_limit_pct,
        daily_loss_basis=account.daily_loss_basis,
        max_loss_mode=account.max_loss_mode,
        day_reset_tz=account.day_reset_tz,
        day_reset_hour=account.day_reset_hour,
    )


def state_of(row: AccountRiskState) -> RiskState:
    values = {name: getattr(row, name) for name in _STATE_FIELDS}
    defaults = RiskState()
    return RiskState(**{k: (v if v is not None else getattr(defaults, k)) for k, v in values.items()})


def store_state(row: AccountRiskState, state: RiskState) -> None:
    for name in _STATE_FIELDS:
        setattr(row, name, getattr(state, name))


def guard_event(account: TradingAccount, alert: RiskAlert, at: Any) -> GuardEvent:
    return GuardEvent(
        account_id=account.id,
        user_id=account.user_id,
        guard_type=alert.guard_type,
        level=alert.level,
        state=alert.state,
        metric_value=alert.metric,
        threshold_value=alert.threshold,
        message=alert.message[:255],
        created_at=at,
    )


async def record_equity(db: Database, snapshot: EquitySnapshotIn | dict[str, Any]) -> EquityResult:
    """Store one snapshot. The same (account, ts) twice is stored once; an older one is refused."""
    snap = parse(EquitySnapshotIn, snapshot)
    async with db.session() as session:
        return await _record(session, snap)


async def _record(session: AsyncSession, snap: EquitySnapshotIn) -> EquityResult:
    account, row = await lock_account(session, snap.account_id)
    touched = Touched().account(account.user_id, *FAMILIES)
    existing = (
        await session.execute(
            select(EquitySnapshot).where(
                EquitySnapshot.account_id == account.id, EquitySnapshot.ts == snap.ts
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return EquityResult(existing.id, existing.drawdown_pct, row.dd_level, [], False, touched)
    try:
        new_state, alerts = advance(rules_of(account), state_of(row), snap.ts, snap.balance, snap.equity)
    except DomainError as error:
        field_name = "ts" if "older" in str(error) else None
        raise InvalidInput(f"{field_name or 'snapshot'}: {error}", field=field_name) from None
    store_state(row, new_state)
    row.margin = snap.margin
    snapshot_row = EquitySnapshot(
        account_id=account.id,
        ts=snap.ts,
        balance=money(snap.balance),
        equity=money(snap.equity),
        margin=money(snap.margin),
        free_margin=money(snap.equity - snap.margin),
        hwm=new_state.hwm,
        drawdown_pct=new_state.drawdown_pct,
    )
    session.add(snapshot_row)
    sample = Sample(
        snap.ts, snapshot_row.balance, snapshot_row.equity, snapshot_row.hwm, snapshot_row.drawdown_pct
    )
    await roll_up_equity(session, account.id, sample)
    events = [guard_event(account, alert, snap.ts) for alert in alerts]
    session.add_all(events)
    await add_guard_alerts(session, events)
    heard_from(session, account, row)
    await session.flush()
    return EquityResult(snapshot_row.id, new_state.drawdown_pct, new_state.dd_level, alerts, True, touched)
