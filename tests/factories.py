"""Small builders for test data. They write through the ORM models, never through raw SQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import column, insert, text
from sqlalchemy import table as sa_table
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AccountRiskState, Instrument, Position, TradingAccount, User
from dashboard.db.session import Database
from dashboard.domain.enums import (
    AccountStatus,
    DailyLossBasis,
    MarginMode,
    MaxLossMode,
    PositionStatus,
    Role,
    Side,
    StopsPolicy,
)

_logins = itertools.count(1000)
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

#: A `make_account` account's limits (the schema's defaults) as a limit change's body takes them.
DEFAULT_LIMITS: dict[str, Any] = {
    "dd_warning_pct": "10",
    "dd_critical_pct": "15",
    "daily_loss_limit_pct": None,
    "daily_loss_basis": "max_sod_balance_equity",
    "max_loss_limit_pct": None,
    "max_loss_mode": "static",
    "day_reset_tz": "UTC",
    "day_reset_hour": 0,
    "silence_timeout_s": 300,
    "prop_profit_target_pct": None,
    "prop_min_trading_days": None,
    "prop_max_days": None,
    "prop_started_at": None,
}


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


def legacy_table(model: Any, names: Any) -> Any:
    """`model`'s table reduced to `names` (typed as the model types them, without its defaults)."""
    table = model.__table__
    return sa_table(table.name, *(column(name, table.c[name].type) for name in names))


async def legacy_owner(db: Database, name: str) -> tuple[int, int]:
    """(account id, user id) of a trader and an account written as revisions 0006 to 0009 know them
    (today's models hold columns later migrations added, which the ORM would name), with Core
    statements naming only the columns that existed then. For the tests of a migration's backfill."""
    users = legacy_table(
        User, ("email", "display_name", "role", "session_version", "is_active", "is_demo", "created_at")
    )
    n = next(_logins)
    async with db.session() as s:
        user_id = (
            await s.execute(
                insert(users).returning(text("id")),
                [{"email": f"{name}@x", "display_name": name, "role": Role.TRADER, "session_version": 0,
                  "is_active": True, "is_demo": False, "created_at": T0}],
            )
        ).scalar_one()  # fmt: skip
        values = {
            "user_id": user_id, "name": f"{name} main", "broker_login": n, "broker_server": "Demo-Server",
            "margin_mode": MarginMode.HEDGING, "currency": "USD", "leverage": 100,
            "initial_balance": Decimal("10000.00"),
            "is_demo": False, "dd_warning_pct": Decimal(10), "dd_critical_pct": Decimal(15),
            "daily_loss_basis": DailyLossBasis.MAX_SOD_BALANCE_EQUITY, "max_loss_mode": MaxLossMode.STATIC,
            "day_reset_tz": "UTC", "day_reset_hour": 0, "stops_policy": StopsPolicy.BROKER_WINS,
            "status": AccountStatus.ACTIVE, "silence_timeout_s": 300,
            "created_at": T0,
        }  # fmt: skip
        accounts = legacy_table(TradingAccount, values)
        account_id = (await s.execute(insert(accounts).returning(text("id")), [values])).scalar_one()
    return account_id, user_id
