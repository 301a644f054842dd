"""Changing an account's limits and resetting its high-water mark: risk and admin only, with a
reason, audited with the values before and after, and effective at once.

Both write under the account's lock (`lock_account`, as ingestion does), so a snapshot arriving at
the same moment is judged either wholly before or wholly after the change. The stored gauges are
judged again in the same transaction (`dashboard.domain.limit_change`): a level the change crosses
becomes a guard event and an alert exactly as if a snapshot had crossed it. What they return
names every cached family that shows limits or levels, so every page and every process follows
(`runtime.write` invalidates them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import EquitySnapshot, HwmReset, TradingAccount
from dashboard.db.session import Database
from dashboard.domain import limit_change
from dashboard.domain.numbers import DomainError
from dashboard.domain.risk_state import RiskAlert
from dashboard.schemas.limits import LIMIT_FIELDS, AccountLimitsIn, HwmResetIn
from dashboard.services.alerts.outbox import add_guard_alerts
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import Conflict, Forbidden, InvalidInput, NotFound
from dashboard.services.ingestion.common import lock_account
from dashboard.services.ingestion.equity import guard_event, rules_of, state_of, store_state
from dashboard.services.touched import Family, Touched
from dashboard.services.viewer import Viewer

#: What shows an account's limits or levels: its settings (accounts), gauges and the limits read
#: (guards), the wall, guard events, the equity chart and its HWM-reset markers, the alerts a
#: crossing raises, and the audit trail.
FAMILIES = (
    Family.ACCOUNTS,
    Family.GUARDS,
    Family.RISK_WALL,
    Family.GUARD_EVENTS,
    Family.EQUITY,
    Family.ALERTS,
    Family.AUDIT,
)


@dataclass
class LimitsChanged:
    account_id: int
    #: The changed fields only, as stored in the audit row (JSON values).
    before: dict[str, Any]
    after: dict[str, Any]
    #: The level crossings the change caused (each also a guard event).
    alerts: list[RiskAlert]
    touched: Touched = field(default_factory=Touched)


@dataclass
class HwmResetDone:
    account_id: int
    reset_id: int
    created_at: datetime
    previous_hwm: Decimal | None
    new_hwm: Decimal
    reason: str
    actor_user_id: int
    alerts: list[RiskAlert]
    touched: Touched = field(default_factory=Touched)


def _require_risk(viewer: Viewer, what: str) -> None:
    if not viewer.sees_all:
        raise Forbidden(f"{what} is for risk and admin users")


def _invalid(error: ValidationError) -> InvalidInput:
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or None
    return InvalidInput(f"{name or 'limits'}: {first['msg']}", field=name)


def _json(value: Any) -> Any:
    """A limit's value as the audit row keeps it: numbers without storage zeros, times in UTC."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


async def _account(session: AsyncSession, account_id: int) -> TradingAccount:
    """The account, or `NotFound` (before the lock, which would call an unknown id bad input)."""
    account = await session.get(TradingAccount, account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account


async def _day_start_values(
    session: AsyncSession, account_id: int, start: datetime
) -> tuple[Decimal, Decimal] | None:
    """Balance and equity that start the trading day beginning at `start`: the last snapshot
    before it, else the day's first snapshot (an account's first day starts at its own values)."""
    before = (
        select(EquitySnapshot.balance, EquitySnapshot.equity)
        .where(EquitySnapshot.account_id == account_id, EquitySnapshot.ts < start)
        .order_by(EquitySnapshot.ts.desc())
        .limit(1)
    )
    row = (await session.execute(before)).first()
    if row is None:
        first = (
            select(EquitySnapshot.balance, EquitySnapshot.equity)
            .where(EquitySnapshot.account_id == account_id, EquitySnapshot.ts >= start)
            .order_by(EquitySnapshot.ts.asc())
            .limit(1)
        )
        row = (await session.execute(first)).first()
    return None if row is None else (row.balance, row.equity)


async def change_limits(
    db: Database,
    viewer: Viewer,
    account_id: int,
    limits_in: AccountLimitsIn | dict[str, Any],
    client_addr: str | None = None,
) -> LimitsChanged:
    """Replace an account's limits (risk and admin only; `Forbidden` for anyone else, `NotFound`
    for an unknown account, `InvalidInput` naming the field for a refused value).

    One `limits_changed` audit row holds the reason and the changed fields before and after; a
    change that changes nothing writes nothing. The gauges are judged again at once under the new
    rules, with their guard events and alerts. A prop rule without a start date starts now.
    """
    _require_risk(viewer, "changing limits")
    try:
        wanted = AccountLimitsIn.model_validate(limits_in)
    except ValidationError as error:
        raise _invalid(error) from None
    now = datetime.now(UTC)
    new_values = wanted.limits()
    async with db.session() as session:
        await _account(session, account_id)
        account, row = await lock_account(session, account_id)
        if wanted.is_prop and new_values["prop_started_at"] is None:
            new_values["prop_started_at"] = account.prop_started_at or now
        old_values = {name: getattr(account, name) for name in LIMIT_FIELDS}
        changed = [name for name in LIMIT_FIELDS if old_values[name] != new_values[name]]
        if not changed:
            return LimitsChanged(account_id, {}, {}, [])
        old_rules = rules_of(account)
        for name in changed:
            setattr(account, name, new_values[name])
        new_rules = rules_of(account)
        state = state_of(row)
        start = limit_change.moved_day_start(new_rules, state)
        sod = await _day_start_values(session, account_id, start) if start is not None else None
        judged, alerts = limit_change.apply_rules(old_rules, new_rules, state, sod)
        store_state(row, judged)
        events = [guard_event(account, alert, now) for alert in alerts]
        session.add_all(events)
        await add_guard_alerts(session, events)
        before = {name: _json(old_values[name]) for name in changed}
        after = {name: _json(new_values[name]) for name in changed}
        audit(
            session,
            AuditAction.LIMITS_CHANGED,
            actor_user_id=viewer.user_id,
            target=f"account:{account_id}",
            detail={"account_id": account_id, "reason": wanted.reason, "before": before, "after": after},
            client_addr=client_addr,
            now=now,
        )
        owner = account.user_id
    return LimitsChanged(account_id, before, after, alerts, Touched().account(owner, *FAMILIES))


def _gauges(row: Any) -> dict[str, Any]:
    return {
        "hwm": _json(row.hwm),
        "hwm_at": _json(row.hwm_at),
        "drawdown_pct": _json(row.drawdown_pct),
        "max_drawdown_pct": _json(row.max_drawdown_pct),
        "dd_level": _json(row.dd_level),
    }


async def reset_hwm(
    db: Database, viewer: Viewer, account_id: int, reason: str, client_addr: str | None = None
) -> HwmResetDone:
    """Set the account's HWM to its current equity (risk and admin only, with a reason): drawdown
    and max drawdown start again from 0, the drawdown level is judged again, and the next
    snapshots continue from the new mark. Stored as an `hwm_resets` row (the equity chart's
    marker) and an `hwm_reset` audit row with the gauges before and after. `Conflict` for an
    account that has no equity yet."""
    _require_risk(viewer, "resetting a high-water mark")
    try:
        why = HwmResetIn(reason=reason).reason
    except ValidationError as error:
        raise _invalid(error) from None
    now = datetime.now(UTC)
    async with db.session() as session:
        await _account(session, account_id)
        account, row = await lock_account(session, account_id)
        before = _gauges(row)
        previous = row.hwm
        try:
            judged, alerts = limit_change.reset_hwm(rules_of(account), state_of(row), now)
        except DomainError as error:
            raise Conflict(str(error)) from None
        store_state(row, judged)
        assert judged.hwm is not None
        reset = HwmReset(
            account_id=account_id,
            actor_user_id=viewer.user_id,
            created_at=now,
            previous_hwm=previous,
            new_hwm=judged.hwm,
            reason=why,
        )
        session.add(reset)
        events = [guard_event(account, alert, now) for alert in alerts]
        session.add_all(events)
        await add_guard_alerts(session, events)
        await session.flush()
        audit(
            session,
            AuditAction.HWM_RESET,
            actor_user_id=viewer.user_id,
            target=f"account:{account_id}",
            detail={"account_id": account_id, "reason": why, "before": before, "after": _gauges(row)},
            client_addr=client_addr,
            now=now,
        )
        owner, reset_id, new_hwm = account.user_id, reset.id, judged.hwm
    touched = Touched().account(owner, *FAMILIES)
    return HwmResetDone(account_id, reset_id, now, previous, new_hwm, why, viewer.user_id, alerts, touched)
