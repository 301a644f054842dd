"""Read model (b): open and closed positions.

Each position is returned with its account's currency (a join, not a second query), because
`profit`, `swap` and `commission` are in the account currency and are meaningless without it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from dashboard.db.models import Position, TradingAccount
from dashboard.db.session import Database
from dashboard.domain.enums import PositionStatus, Side
from dashboard.schemas.positions import ClosedPositionPage, PositionList, PositionView
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.queries import (
    check_limit,
    ensure_account_visible,
    model_columns,
    parse_enum,
    resolve_now,
    scoped,
)
from dashboard.services.queries.cursor import decode_cursor, next_cursor, older_than
from dashboard.services.viewer import Viewer

_POSITION_COLUMNS = model_columns(PositionView, [Position], overrides={"currency": TradingAccount.currency})

#: Sort keys the open-positions table may ask for. A whitelist: the sort key comes from a URL and
#: must never reach `ORDER BY` as text.
SORT_COLUMNS: dict[str, Any] = {
    "opened_at": Position.opened_at,
    "symbol": Position.symbol,
    "volume": Position.volume,
    "profit": Position.profit,
    "account_id": Position.account_id,
    "side": Position.side,
}

MAX_CLOSED_PAGE = 500


def _base() -> Any:
    """Positions joined to their account for the currency; the caller adds scope and filters."""
    return select(*_POSITION_COLUMNS).join(TradingAccount, TradingAccount.id == Position.account_id)


async def open_positions(
    db: Database,
    viewer: Viewer,
    symbol: str | None = None,
    account_id: int | None = None,
    side: Side | str | None = None,
    sort: str = "opened_at",
    descending: bool = True,
    now: datetime | None = None,
) -> PositionList:
    """Open positions of the visible accounts, optionally filtered by symbol, account and side.

    The WHERE clause is `user_id = :u AND status = 'open' [AND symbol = :s]`, the prefix of the
    `(user_id, status, symbol)` index. Ties on the sort key are broken by id in the same direction
    so the order is stable between refreshes. An `account_id` the viewer cannot see raises
    `NotFound` (one extra primary-key probe) instead of returning an ambiguous empty list.
    """
    as_of = resolve_now(now)
    sort_column = SORT_COLUMNS.get(sort)
    if sort_column is None:
        raise InvalidInput(f"sort must be one of: {', '.join(SORT_COLUMNS)}", field="sort")
    side_value = parse_enum(Side, side, "side")

    stmt = scoped(_base().where(Position.status == PositionStatus.OPEN), Position.user_id, viewer)
    if symbol is not None:
        stmt = stmt.where(Position.symbol == symbol)
    if account_id is not None:
        stmt = stmt.where(Position.account_id == account_id)
    if side_value is not None:
        stmt = stmt.where(Position.side == side_value)
    if descending:
        stmt = stmt.order_by(sort_column.desc(), Position.id.desc())
    else:
        stmt = stmt.order_by(sort_column.asc(), Position.id.asc())

    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    return PositionList(positions=[PositionView.model_validate(row) for row in rows], as_of=as_of)


async def position_by_id(
    db: Database, viewer: Viewer, position_id: int, now: datetime | None = None
) -> PositionView:
    """One position, open or closed. Ownership is in the WHERE clause: another trader's position
    raises `NotFound`, indistinguishable from a non-existent id."""
    resolve_now(now)
    stmt = scoped(_base().where(Position.id == position_id), Position.user_id, viewer)
    async with db.read_session() as session:
        row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound(f"position {position_id} not found")
    return PositionView.model_validate(row)


async def closed_positions(
    db: Database,
    viewer: Viewer,
    account_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
) -> ClosedPositionPage:
    """Closed positions, most recently closed first, keyset-paginated by `(closed_at DESC, id DESC)`
    on the `(user_id, status, closed_at)` index (`(status, closed_at)` for risk/admin).

    `cursor` is the previous page's `next_cursor` (see `queries.cursor`): rows closing while the
    user pages do not shift or repeat rows, and page 1,000 costs what page 1 does.
    """
    as_of = resolve_now(now)
    check_limit(limit, "limit", MAX_CLOSED_PAGE)
    after = decode_cursor(cursor)

    stmt = scoped(_base().where(Position.status == PositionStatus.CLOSED), Position.user_id, viewer)
    if account_id is not None:
        stmt = stmt.where(Position.account_id == account_id)
    if after is not None:
        stmt = stmt.where(older_than(Position.closed_at, Position.id, after))
    stmt = stmt.order_by(Position.closed_at.desc(), Position.id.desc()).limit(limit + 1)

    async with db.read_session() as session:
        if account_id is not None:
            await ensure_account_visible(session, viewer, account_id)
        rows = (await session.execute(stmt)).all()
    page = [PositionView.model_validate(row) for row in rows[:limit]]
    return ClosedPositionPage(positions=page, next_cursor=next_cursor(rows, limit, "closed_at"), as_of=as_of)
