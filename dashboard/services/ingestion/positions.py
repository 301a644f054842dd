"""Record a position the platform opened (the local side reconciliation compares with the broker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from dashboard.db.models import Position
from dashboard.db.session import Database
from dashboard.domain.enums import PositionSource, PositionStatus
from dashboard.domain.instruments import normalise_symbol
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.common import instrument_specs, lock_account
from dashboard.services.ingestion.inputs import PositionOpenedIn, parse
from dashboard.services.touched import Family, Touched

FAMILIES = (Family.POSITIONS, Family.RECONCILIATION, Family.GUARDS, Family.RISK_WALL)


@dataclass
class PositionOpenedResult:
    position_id: int
    created: bool
    touched: Touched = field(default_factory=Touched)


async def record_position_opened(
    db: Database, fill: PositionOpenedIn | dict[str, Any]
) -> PositionOpenedResult:
    """Insert the open position; the same (account, identifier) twice is stored once."""
    data = parse(PositionOpenedIn, fill)
    async with db.session() as session:
        account, state = await lock_account(session, data.account_id)
        touched = Touched().account(account.user_id, *FAMILIES)
        existing = (
            await session.execute(
                select(Position.id).where(
                    Position.account_id == account.id, Position.broker_position_id == data.identifier
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            return PositionOpenedResult(existing, False, touched)
        symbol = normalise_symbol(data.symbol)
        if symbol not in await instrument_specs(session):
            raise InvalidInput(f"symbol: unknown symbol {data.symbol!r}", field="symbol")
        row = Position(
            account_id=account.id,
            user_id=account.user_id,
            broker_ticket=data.ticket,
            broker_position_id=data.identifier,
            symbol=symbol,
            side=data.side,
            volume=data.volume,
            price_open=data.price_open,
            requested_price=data.requested_price,
            price_current=data.price_open,
            sl=data.sl,
            tp=data.tp,
            status=PositionStatus.OPEN,
            opened_at=data.opened_at,
            source=PositionSource.PLATFORM,
            magic=data.magic,
            signal_ref=data.signal_ref,
            updated_at=data.opened_at,
        )
        session.add(row)
        state.open_positions = (state.open_positions or 0) + 1
        await session.flush()
        return PositionOpenedResult(row.id, True, touched)
