"""Read models of "the dashboard as it was" (`services.queries.as_of`) that the live ones cannot carry.

Everything else an as-of read returns is the live read's own type. Positions are the exception:
their floating P&L, swap and current price at a past moment were never stored (only today's value
and, once closed, the exit deal's), and showing today's figure under a past date would be a lie.
So these fields are optional here and None whenever the value at `at` is not known, instead of
reusing `PositionView`, whose P&L is mandatory.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from dashboard.domain.enums import PositionSource, PositionStatus, Side
from dashboard.schemas.common import ReadModel


class PositionAsOf(ReadModel):
    """A position as it stood at a past moment: open then, so `status` is always `open` and there
    are no close fields. Field names match `PositionView` so a table can draw either.

    `profit`, `swap` and `price_current` are None: their values at that moment are not stored.
    `commission` is the stored one while the position is still open, None once an exit deal
    replaced it. `volume`, `sl`, `tp` and `broker_ticket` are the latest stored values (the
    broker-wins corrections of reconciliation overwrite them without keeping the old ones).
    `updated_at` (last local activity) is None when that activity came after the moment.
    """

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
    swap: Decimal | None
    commission: Decimal | None
    profit: Decimal | None
    status: PositionStatus
    opened_at: datetime
    source: PositionSource
    currency: str
    updated_at: datetime | None


class PositionListAsOf(ReadModel):
    """The positions open at `at`. `as_of` is `at` (the moment shown), as in every as-of read."""

    positions: list[PositionAsOf]
    as_of: datetime
