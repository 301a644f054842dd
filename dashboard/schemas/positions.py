"""Read model (b): positions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dashboard.domain.enums import CloseReason, PositionSource, PositionStatus, Side
from dashboard.schemas.common import ReadModel


class PositionView(ReadModel):
    id: int
    account_id: int
    user_id: int
    broker_ticket: int
    broker_position_id: int
    symbol: str
    side: Side
    volume: Decimal
    price_open: Decimal
    requested_price: Decimal | None
    price_current: Decimal | None
    sl: Decimal | None
    tp: Decimal | None
    swap: Decimal
    commission: Decimal
    profit: Decimal
    status: PositionStatus
    opened_at: datetime
    closed_at: datetime | None
    close_price: Decimal | None
    realized_pnl: Decimal | None
    close_reason: CloseReason | None
    source: PositionSource
    currency: str
    updated_at: datetime


class PositionList(ReadModel):
    positions: list[PositionView]
    as_of: datetime


class ClosedPositionPage(ReadModel):
    positions: list[PositionView]
    #: Continues the list after this page (`cursor=`); None on the last page.
    next_cursor: str | None
    as_of: datetime
