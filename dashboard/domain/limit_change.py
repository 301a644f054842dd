"""A person changes an account's rules or resets its high-water mark: the stored gauges are judged
again at once, with the account's latest snapshot (pure; docs/domain.md §2.11, §7.2).

Both go through `advance`, the one transition of the projection, with the latest snapshot observed
again under the new rules (or from the new HWM). Observing the same snapshot twice under the same
rules changes nothing (`alert_level` is idempotent), so what moves is exactly what the change
moved, with the same hysteresis and the same guard events as ingestion: lowering the critical
threshold below the current drawdown makes the gauge critical and raises a `triggered` edge;
raising it clears the alert only once the drawdown is below the clearing ratio of the new level.

Two things `advance` alone would get wrong here, handled before and after it:

- A new reset zone or hour can put the latest snapshot in another trading day than the stored
  one. `advance` would take the latest values as the new day's start; the day's references are
  instead the last values seen before the new reset (the caller looks them up: `sod`). The
  running highest end-of-day balance is kept as stored (re-deriving it would need every past
  day's balance under the new boundary).
- A limit switched off: `advance` leaves a rule without limit at its last level, which is right
  for an account that never had one (always normal) but would leave a switched-off rule's alert
  raised forever. Its level returns to normal with a `cleared` edge.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from dashboard.domain.daily_loss import day_start, max_loss_floor
from dashboard.domain.enums import GuardState, GuardType, Level
from dashboard.domain.numbers import DomainError, require_utc
from dashboard.domain.risk_state import (
    DAILY_CRITICAL_USED_PCT,
    DAILY_WARNING_USED_PCT,
    AccountRules,
    RiskAlert,
    RiskState,
    advance,
)

__all__ = ["apply_rules", "moved_day_start", "reset_hwm"]

_ZERO_PCT = Decimal("0.0000")


def moved_day_start(rules: AccountRules, state: RiskState) -> datetime | None:
    """The start of the latest snapshot's trading day under `rules`, when it is not the stored one
    (the reset zone or hour changed); None otherwise or before any snapshot."""
    if state.updated_at is None:
        return None
    start = day_start(state.updated_at, rules.day_reset_tz, rules.day_reset_hour)
    return start if start != state.day_start_at else None


def apply_rules(
    old: AccountRules,
    new: AccountRules,
    state: RiskState,
    sod: tuple[Decimal, Decimal] | None = None,
) -> tuple[RiskState, list[RiskAlert]]:
    """The state judged under `new` rules, and the edges the change caused.

    `sod`: (balance, equity) that start the trading day `moved_day_start(new, state)` names, when
    it names one (the last snapshot before that reset, or the day's first snapshot's own values,
    as `advance` does for an account's first snapshot); without it the latest snapshot's values
    are used. An account with no snapshot yet has nothing to judge.
    """
    if state.updated_at is None or state.balance is None or state.equity is None:
        return state, []
    prepared = state
    moved = moved_day_start(new, state)
    if moved is not None:
        balance, equity = sod if sod is not None else (state.balance, state.equity)
        prepared = replace(state, day_start_at=moved, day_start_balance=balance, day_start_equity=equity)
    judged, alerts = advance(new, prepared, state.updated_at, state.balance, state.equity)
    if new.daily_loss_limit_pct is None and judged.daily_loss_level is not Level.NORMAL:
        threshold = (
            DAILY_CRITICAL_USED_PCT if judged.daily_loss_level is Level.CRITICAL else DAILY_WARNING_USED_PCT
        )
        alerts.append(
            RiskAlert(
                GuardType.DAILY_LOSS,
                Level.NORMAL,
                GuardState.CLEARED,
                _ZERO_PCT,
                threshold,
                "daily loss: limit removed, back to normal",
            )
        )
        judged = replace(judged, daily_loss_level=Level.NORMAL)
    if new.max_loss_limit_pct is None and judged.max_loss_level is not Level.NORMAL:
        floor = (
            max_loss_floor(
                old.max_loss_mode, old.initial_balance, old.max_loss_limit_pct, judged.highest_eod_balance
            )
            if old.max_loss_limit_pct is not None
            else state.equity
        )
        alerts.append(
            RiskAlert(
                GuardType.MAX_LOSS,
                Level.NORMAL,
                GuardState.CLEARED,
                state.equity,
                floor,
                f"max-loss limit removed: equity {state.equity} back to normal",
            )
        )
        judged = replace(judged, max_loss_level=Level.NORMAL)
    return judged, alerts


def reset_hwm(rules: AccountRules, state: RiskState, at: datetime) -> tuple[RiskState, list[RiskAlert]]:
    """The HWM set to the latest equity at `at` (a prop challenge's next phase): drawdown and the
    lifetime max drawdown start again from 0, and a raised drawdown alert clears. The next
    snapshots continue from the new mark (`advance` only ever raises it)."""
    if state.updated_at is None or state.balance is None or state.equity is None:
        raise DomainError("the account has no equity yet: there is no value to reset the HWM to")
    prepared = replace(
        state,
        hwm=state.equity,
        hwm_at=require_utc(at),
        drawdown_pct=_ZERO_PCT,
        max_drawdown_pct=_ZERO_PCT,
    )
    return advance(rules, prepared, state.updated_at, state.balance, state.equity)
