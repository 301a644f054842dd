"""Accounts the viewer may see: a trader their own, risk and admin every account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from dashboard.db.models import TradingAccount
from dashboard.db.session import Database
from dashboard.schemas.accounts import AccountList, AccountView
from dashboard.services.errors import NotFound
from dashboard.services.queries import model_columns, resolve_now, scoped
from dashboard.services.viewer import Viewer

_ACCOUNT_COLUMNS = model_columns(AccountView, [TradingAccount])


async def list_accounts(db: Database, viewer: Viewer, now: datetime | None = None) -> AccountList:
    """Visible accounts ordered by id: one query on the `(user_id)` index (or a scan for risk/admin,
    the table is small: one row per MT5 login)."""
    as_of = resolve_now(now)
    stmt = scoped(select(*_ACCOUNT_COLUMNS), TradingAccount.user_id, viewer).order_by(TradingAccount.id)
    async with db.read_session() as session:
        rows = (await session.execute(stmt)).all()
    return AccountList(accounts=[AccountView.model_validate(row) for row in rows], as_of=as_of)


async def account_by_id(
    db: Database, viewer: Viewer, account_id: int, now: datetime | None = None
) -> AccountView:
    """One account by primary key; ownership is in the WHERE clause, so another trader's account
    raises `NotFound` exactly like an id that does not exist."""
    resolve_now(now)
    stmt = scoped(
        select(*_ACCOUNT_COLUMNS).where(TradingAccount.id == account_id), TradingAccount.user_id, viewer
    )
    async with db.read_session() as session:
        row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound(f"account {account_id} not found")
    return AccountView.model_validate(row)
