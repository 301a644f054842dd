"""Pieces every ingestion service shares: locking an account for writing and instrument specs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AccountRiskState, Instrument, TradingAccount
from dashboard.domain.instruments import InstrumentSpec
from dashboard.services.errors import InvalidInput


async def lock_account(session: AsyncSession, account_id: int) -> tuple[TradingAccount, AccountRiskState]:
    """The account and its risk-state row, locked for this transaction.

    Locking the one risk-state row serialises concurrent writers of the same account on PostgreSQL
    (SQLite serialises writers anyway), so counters and the HWM never lose an update. The account
    is read after the lock is granted: a limit change (which holds the same lock) that committed
    while this writer waited is then what the snapshot is judged by, not the limits of before.
    """
    state = (
        await session.execute(
            select(AccountRiskState).where(AccountRiskState.account_id == account_id).with_for_update()
        )
    ).scalar_one_or_none()
    account = await session.get(TradingAccount, account_id)
    if account is None:
        raise InvalidInput(f"account_id: unknown account {account_id}", field="account_id")
    if state is None:
        state = AccountRiskState(account_id=account.id, user_id=account.user_id)
        session.add(state)
        await session.flush()
    return account, state


def spec_of(row: Instrument) -> InstrumentSpec:
    return InstrumentSpec(
        symbol=row.symbol,
        asset_class=row.asset_class,
        contract_size=row.contract_size,
        digits=row.digits,
        volume_step=row.volume_step,
        quote_ccy=row.quote_ccy,
        typical_spread=row.typical_spread,
        annual_vol=row.annual_vol,
        trading_days=row.trading_days,
    )


async def instrument_specs(session: AsyncSession) -> dict[str, InstrumentSpec]:
    rows = (await session.execute(select(Instrument))).scalars().all()
    return {row.symbol: spec_of(row) for row in rows}
