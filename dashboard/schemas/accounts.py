"""Trading accounts as the viewer may see them (settings and limits, no live gauges)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dashboard.domain.enums import AccountStatus, MarginMode
from dashboard.schemas.common import ReadModel


class AccountView(ReadModel):
    id: int
    user_id: int
    name: str
    broker_login: int
    broker_server: str
    currency: str
    leverage: int
    margin_mode: MarginMode
    initial_balance: Decimal
    is_demo: bool
    status: AccountStatus
    dd_warning_pct: Decimal
    dd_critical_pct: Decimal
    daily_loss_limit_pct: Decimal | None
    max_loss_limit_pct: Decimal | None


class AccountList(ReadModel):
    accounts: list[AccountView]
    as_of: datetime
