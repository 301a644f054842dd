"""One account's risk projection, advanced one equity snapshot at a time (pure).

Both the equity ingestion service and the demo seed walk snapshots through `advance`, so the
stored gauges, the `account_risk_state` row and the guard events come from one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from dashboard.domain.daily_loss import (
    CRITICAL_FRACTION,
    WARNING_FRACTION,
    daily_loss,
    day_reference,
    day_start,
    max_loss_floor,
    next_highest_eod,
)
from dashboard.domain.drawdown import drawdown_pct, next_hwm
from dashboard.domain.enums import DailyLossBasis, GuardState, GuardType, Level, MaxLossMode
from dashboard.domain.levels import Thresholds, alert_level, classify_drawdown, level_change
from dashboard.domain.numbers import DomainError, money, pct, require_utc

# Daily-loss alerts: warning once 60 % of the allowed loss is used, critical at 80 % (docs/domain.md §2.8).
DAILY_WARNING_USED_PCT = WARNING_FRACTION * 100
DAILY_CRITICAL_USED_PCT = CRITICAL_FRACTION * 100


@dataclass(frozen=True)
class AccountRules:
    """The per-account configuration the gauges are measured against."""

    initial_balance: Decimal
    thresholds: Thresholds = field(default_factory=Thresholds)
    daily_loss_limit_pct: Decimal | None = None
    max_loss_limit_pct: Decimal | None = None
    daily_loss_basis: DailyLossBasis = DailyLossBasis.MAX_SOD_BALANCE_EQUITY
    max_loss_mode: MaxLossMode = MaxLossMode.STATIC
    day_reset_tz: str = "UTC"
    day_reset_hour: int = 0


@dataclass(frozen=True)
class RiskState:
    """Mirror of the `account_risk_state` gauge columns; the empty state is the account's birth."""

    updated_at: datetime | None = None
    balance: Decimal | None = None
    equity: Decimal | None = None
    hwm: Decimal | None = None
    hwm_at: datetime | None = None
    drawdown_pct: Decimal = Decimal("0.0000")
    max_drawdown_pct: Decimal = Decimal("0.0000")
    dd_level: Level = Level.NORMAL
    dd_alert_level: Level = Level.NORMAL
    day_start_at: datetime | None = None
    day_start_balance: Decimal | None = None
    day_start_equity: Decimal | None = None
    daily_loss_pct: Decimal = Decimal("0.0000")
    daily_loss_level: Level = Level.NORMAL
    max_loss_level: Level = Level.NORMAL
    highest_eod_balance: Decimal | None = None


@dataclass(frozen=True)
class RiskAlert:
    """A level crossing worth a guard event (edge-triggered, after hysteresis)."""

    guard_type: GuardType
    level: Level
    state: GuardState
    metric: Decimal
    threshold: Decimal
    message: str


def advance(
    rules: AccountRules, state: RiskState, ts: datetime, balance: Decimal, equity: Decimal
) -> tuple[RiskState, list[RiskAlert]]:
    """The state after observing (ts, balance, equity), and the alerts that observation raises.

    Snapshots must arrive in time order: the day reset and the alert hysteresis depend on it.
    """
    ts = require_utc(ts)
    if state.updated_at is not None and ts < state.updated_at:
        raise DomainError(f"snapshot at {ts.isoformat()} is older than the latest one")
    balance, equity = money(balance), money(equity)
    alerts: list[RiskAlert] = []

    # Drawdown from the lifetime high-water mark, seeded with the initial balance (HWM_0 = E_0).
    hwm = next_hwm(state.hwm if state.hwm is not None else rules.initial_balance, equity)
    hwm_at = ts if state.hwm is None or hwm > state.hwm else state.hwm_at
    dd = drawdown_pct(hwm, equity)
    warning, critical = rules.thresholds.warning, rules.thresholds.critical
    dd_alert = alert_level(state.dd_alert_level, dd, warning, critical)
    alerts += _crossing(GuardType.DRAWDOWN, state.dd_alert_level, dd_alert, dd, warning, critical, "drawdown")

    # New trading day: the last balance/equity before the reset become the day's references.
    today = day_start(ts, rules.day_reset_tz, rules.day_reset_hour)
    if state.day_start_at != today:
        highest_eod = (
            next_highest_eod(state.highest_eod_balance, state.balance)
            if state.balance is not None
            else state.highest_eod_balance
        )
        sod_balance = state.balance if state.balance is not None else balance
        sod_equity = state.equity if state.equity is not None else equity
    else:
        highest_eod = state.highest_eod_balance
        sod_balance = state.day_start_balance if state.day_start_balance is not None else balance
        sod_equity = state.day_start_equity if state.day_start_equity is not None else equity

    reference = day_reference(rules.daily_loss_basis, rules.initial_balance, sod_balance, sod_equity)
    daily_level = state.daily_loss_level
    if rules.daily_loss_limit_pct is not None:
        daily = daily_loss(equity, reference, rules.daily_loss_limit_pct)
        daily_loss_now = daily.loss_pct
        daily_level = alert_level(
            state.daily_loss_level,
            daily.used_pct_of_limit,
            DAILY_WARNING_USED_PCT,
            DAILY_CRITICAL_USED_PCT,
            inclusive_critical=True,
        )
        if daily.breached:
            daily_level = Level.CRITICAL
        alerts += _crossing(
            GuardType.DAILY_LOSS,
            state.daily_loss_level,
            daily_level,
            daily.used_pct_of_limit,
            DAILY_WARNING_USED_PCT,
            DAILY_CRITICAL_USED_PCT,
            f"daily loss {daily.loss_pct}% of {daily.reference} (floor {daily.floor})",
        )
    else:
        daily_loss_now = pct(max(Decimal(0), reference - equity) / reference * 100)

    max_level = state.max_loss_level
    if rules.max_loss_limit_pct is not None:
        floor = max_loss_floor(
            rules.max_loss_mode, rules.initial_balance, rules.max_loss_limit_pct, highest_eod
        )
        max_level = Level.CRITICAL if equity < floor else Level.NORMAL
        change = level_change(state.max_loss_level, max_level)
        if change is not None:
            alerts.append(
                RiskAlert(
                    GuardType.MAX_LOSS,
                    max_level,
                    change,
                    equity,
                    floor,
                    f"equity {equity} {'below' if change is GuardState.TRIGGERED else 'back above'}"
                    f" the max-loss floor {floor}",
                )
            )

    new_state = replace(
        state,
        updated_at=ts,
        balance=balance,
        equity=equity,
        hwm=hwm,
        hwm_at=hwm_at,
        drawdown_pct=dd,
        max_drawdown_pct=max(state.max_drawdown_pct, dd),
        dd_level=classify_drawdown(dd, rules.thresholds),
        dd_alert_level=dd_alert,
        day_start_at=today,
        day_start_balance=sod_balance,
        day_start_equity=sod_equity,
        daily_loss_pct=daily_loss_now,
        daily_loss_level=daily_level,
        max_loss_level=max_level,
        highest_eod_balance=highest_eod,
    )
    return new_state, alerts


def _crossing(
    guard_type: GuardType,
    old: Level,
    new: Level,
    metric: Decimal,
    warning: Decimal,
    critical: Decimal,
    what: str,
) -> list[RiskAlert]:
    change = level_change(old, new)
    if change is None:
        return []
    threshold = critical if new is Level.CRITICAL or old is Level.CRITICAL else warning
    verb = "reached" if change is GuardState.TRIGGERED else "back to"
    return [RiskAlert(guard_type, new, change, metric, threshold, f"{what}: {verb} {new.value} ({metric})")]
