"""Small builders for test data. They write through the ORM models, never through raw SQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AccountRiskState, Instrument, Position, TradingAccount, User
from dashboard.domain.enums import MarginMode, PositionStatus, Role, Side

_logins = itertools.count(1000)
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


async def make_user(session: AsyncSession, email: str, role: Role = Role.TRADER) -> User:
    user = User(email=email, display_name=email.split("@")[0], role=role, created_at=T0)
    session.add(user)
    await session.flush()
    return user


async def make_instruments(session: AsyncSession) -> None:
    from dashboard.domain.instruments import DEMO_INSTRUMENTS

    for spec in DEMO_INSTRUMENTS.values():
        session.add(
            Instrument(
                symbol=spec.symbol,
                asset_class=spec.asset_class,
                contract_size=spec.contract_size,
                digits=spec.digits,
                volume_step=spec.volume_step,
                quote_ccy=spec.quote_ccy,
                typical_spread=spec.typical_spread,
                annual_vol=spec.annual_vol,
                trading_days=spec.trading_days,
            )
        )
    await session.flush()


async def make_account(session: AsyncSession, user: User, **overrides: Any) -> TradingAccount:
    values: dict[str, Any] = {
        "user_id": user.id,
        "name": f"{user.display_name} main",
        "broker_login": next(_logins),
        "broker_server": "Demo-Server",
        "margin_mode": MarginMode.HEDGING,
        "currency": "USD",
        "leverage": 100,
        "initial_balance": Decimal("10000.00"),
        "created_at": T0,
    }
    values.update(overrides)
    account = TradingAccount(**values)
    session.add(account)
    await session.flush()
    session.add(AccountRiskState(account_id=account.id, user_id=user.id))
    await session.flush()
    return account


async def make_position(
    session: AsyncSession, account: TradingAccount, identifier: int, symbol: str = "EURUSD", **overrides: Any
) -> Position:
    values: dict[str, Any] = {
        "account_id": account.id,
        "user_id": account.user_id,
        "broker_ticket": identifier,
        "broker_position_id": identifier,
        "symbol": symbol,
        "side": Side.BUY,
        "volume": Decimal("1.00"),
        "price_open": Decimal("1.08500"),
        "status": PositionStatus.OPEN,
        "opened_at": T0,
        "updated_at": T0,
    }
    values.update(overrides)
    position = Position(**values)
    session.add(position)
    await session.flush()
    return position
