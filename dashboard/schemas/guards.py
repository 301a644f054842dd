"""Read model (c): risk guards, drawdown gauges and the equity curve."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from dashboard.domain.enums import GuardState, GuardType, Level, MaxLossMode
from dashboard.schemas.common import ReadModel


class AccountGuardState(ReadModel):
    account_id: int
    user_id: int
    name: str
    broker_login: int
    broker_server: str
    currency: str
    balance: Decimal | None
    equity: Decimal | None
    hwm: Decimal | None
    hwm_at: datetime | None
    drawdown_pct: Decimal
    max_drawdown_pct: Decimal
    dd_level: Level
    dd_warning_pct: Decimal
    dd_critical_pct: Decimal
    day_start_at: datetime | None
    daily_loss_pct: Decimal
    daily_loss_level: Level
    daily_loss_limit_pct: Decimal | None
    max_loss_limit_pct: Decimal | None
    max_loss_mode: MaxLossMode
    open_positions: int
    updated_at: datetime | None
    # The broker bridge's last sync: a bridge that stopped leaves every gauge frozen on its last value.
    last_sync_at: datetime | None
    # Set while the account is silent (no sync and no equity past its timeout): its gauges are frozen.
    silent_since: datetime | None


class AccountGuardList(ReadModel):
    accounts: list[AccountGuardState]
    as_of: datetime


class GuardEventView(ReadModel):
    id: int
    account_id: int | None
    guard_type: GuardType
    symbol: str | None
    level: Level
    state: GuardState
    metric_value: Decimal | None
    threshold_value: Decimal | None
    message: str
    created_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None


class GuardEventList(ReadModel):
    events: list[GuardEventView]
    #: Continues the list after this page (`cursor=`); None on the last page.
    next_cursor: str | None = None
    as_of: datetime


class MarketGuardView(ReadModel):
    symbol: str
    bid: Decimal
    ask: Decimal
    quoted_at: datetime
    age_seconds: Decimal
    levels: dict[GuardType, Level]


class MarketGuardList(ReadModel):
    symbols: list[MarketGuardView]
    as_of: datetime


class EquityPoint(ReadModel):
    ts: datetime
    balance: Decimal
    equity: Decimal
    hwm: Decimal
    drawdown_pct: Decimal


class EquityCurve(ReadModel):
    account_id: int
    READ_MOMENTS: ClassVar[frozenset[str]] = frozenset({"as_of", "since", "until"})
    since: datetime
    until: datetime
    points: list[EquityPoint]
    downsampled: bool
    as_of: datetime
