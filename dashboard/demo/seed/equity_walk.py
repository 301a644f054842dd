"""The equity history of one account, walked through the live risk projection.

Every point goes through `risk_state.advance`, as live equity ingestion does, so the stored HWM and
drawdown, the `account_risk_state` row and the guard events cannot disagree with the live services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dashboard.db.models import TradingAccount
from dashboard.demo.equity_curves import account_curves
from dashboard.demo.fleet import AccountDef, FleetDefinition
from dashboard.domain.enums import GuardState, GuardType, Level
from dashboard.domain.numbers import money
from dashboard.domain.risk_state import DAILY_WARNING_USED_PCT, RiskAlert, RiskState, advance
from dashboard.services.ingestion.equity import rules_of

__all__ = ["EquityWalk", "equity_walk", "scripted_daily_loss"]


@dataclass
class EquityWalk:
    rows: list[dict[str, Any]]
    state: RiskState
    alerts: list[tuple[RiskAlert, datetime]]
    peak_daily_used: tuple[Decimal, datetime, Decimal] | None  # (used % of limit, at, loss %)


def equity_walk(
    fleet: FleetDefinition,
    account: AccountDef,
    row: TradingAccount,
    seed: int,
    anchor: datetime,
    n_points: int,
    floating: Decimal,
    margin: Decimal,
) -> EquityWalk:
    """Walk the docs/domain.md §5.3 curve through `risk_state.advance`; each row gets the stored hwm/drawdown.

    The balance's last step is set to `equity − floating P&L of the open positions`, so the live
    simulator (which computes equity = balance + floating) continues the curve without a jump.
    """
    curves = account_curves(fleet, account, seed, n_points)
    equity, balance = curves.equity, list(curves.balance)
    last_step = max((i for i in range(1, n_points) if balance[i] != balance[i - 1]), default=0)
    adjusted = money(equity[-1] - floating)
    balance[last_step:] = [adjusted] * (n_points - last_step)
    rules = rules_of(row)
    step = timedelta(minutes=fleet.equity.step_minutes)
    state = RiskState()
    alerts: list[tuple[RiskAlert, datetime]] = []
    rows: list[dict[str, Any]] = []
    peak: tuple[Decimal, datetime, Decimal] | None = None
    for i, (eq, bal) in enumerate(zip(equity, balance, strict=True)):
        ts = anchor - (n_points - 1 - i) * step
        state, found = advance(rules, state, ts, bal, eq)
        alerts.extend((a, ts) for a in found)
        if rules.daily_loss_limit_pct:
            used = state.daily_loss_pct / rules.daily_loss_limit_pct * 100
            if peak is None or used > peak[0]:
                peak = (used, ts, state.daily_loss_pct)
        is_last = i == n_points - 1
        rows.append(
            {
                "account_id": row.id,
                "ts": ts,
                "balance": bal,
                "equity": eq,
                "margin": margin if is_last else Decimal("0.00"),
                "free_margin": eq - (margin if is_last else Decimal(0)),
                "hwm": state.hwm,
                "drawdown_pct": state.drawdown_pct,
            }
        )
    return EquityWalk(rows, state, alerts, peak)


def scripted_daily_loss(walk: EquityWalk, account: AccountDef) -> list[tuple[RiskAlert, datetime]]:
    """docs/domain.md §5.6 wants a daily-loss warning on the prop account; script one (and its clear) if the
    walk did not produce one, at the walk's worst daily-loss moment."""
    if account.daily_loss_limit_pct is None or walk.peak_daily_used is None:
        return []
    if any(a.guard_type is GuardType.DAILY_LOSS and a.level is Level.WARNING for a, _ in walk.alerts):
        return []
    _, at, loss = walk.peak_daily_used
    metric = DAILY_WARNING_USED_PCT + Decimal("1.5000")
    return [
        (
            RiskAlert(
                GuardType.DAILY_LOSS,
                Level.WARNING,
                GuardState.TRIGGERED,
                metric,
                DAILY_WARNING_USED_PCT,
                f"daily loss: reached warning ({metric}) - demo scripted, day loss {loss}%",
            ),
            at,
        ),
        (
            RiskAlert(
                GuardType.DAILY_LOSS,
                Level.NORMAL,
                GuardState.CLEARED,
                DAILY_WARNING_USED_PCT - 20,
                DAILY_WARNING_USED_PCT,
                "daily loss: back to normal - demo scripted",
            ),
            at + timedelta(minutes=40),
        ),
    ]
