"""Position reads: scoping, filters, the sort whitelist, keyset pagination, IDOR and types."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from dashboard.db.models import TradingAccount
from dashboard.db.session import Database
from dashboard.domain.enums import CloseReason, PositionStatus, Side
from dashboard.schemas.positions import PositionView
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.queries.cursor import Cursor, decode_cursor
from dashboard.services.queries.positions import (
    SORT_COLUMNS,
    closed_positions,
    open_positions,
    position_by_id,
)
from tests.factories import make_position
from tests.services import T0, World, assert_utc, build_world


async def _positions(db: Database) -> tuple[World, dict[str, int]]:
    """Alice: 3 open (a1 EURUSD buy, a1 XAUUSD sell, a2 EURUSD buy) + 1 closed; Bob: 1 open."""
    w = await build_world(db)
    async with db.session() as s:
        a1, a2, b1 = [await s.get(TradingAccount, i) for i in (w.a1, w.a2, w.b1)]
        ids = {
            "a1_eur": (
                await make_position(
                    s, a1, 1, "EURUSD", volume=Decimal("0.50"), profit=Decimal("12.50"), opened_at=T0
                )
            ).id,
            "a1_xau": (
                await make_position(
                    s,
                    a1,
                    2,
                    "XAUUSD",
                    side=Side.SELL,
                    volume=Decimal("2.00"),
                    price_open=Decimal("2350.12"),
                    profit=Decimal("-40.00"),
                    opened_at=T0 + timedelta(minutes=5),
                )
            ).id,
            "a2_eur": (
                await make_position(
                    s,
                    a2,
                    3,
                    "EURUSD",
                    volume=Decimal("1.00"),
                    profit=Decimal("3.10"),
                    opened_at=T0 + timedelta(minutes=1),
                )
            ).id,
            "a1_closed": (
                await make_position(
                    s,
                    a1,
                    4,
                    "GBPUSD",
                    status=PositionStatus.CLOSED,
                    closed_at=T0 + timedelta(hours=1),
                    close_reason=CloseReason.TP,
                    realized_pnl=Decimal("7.00"),
                )
            ).id,
            "b1_eur": (await make_position(s, b1, 5, "EURUSD", opened_at=T0 + timedelta(minutes=2))).id,
        }
    return w, ids


async def test_open_positions_are_scoped_per_viewer(database: Database) -> None:
    w, ids = await _positions(database)
    alice = await open_positions(database, w.alice)
    assert {p.id for p in alice.positions} == {ids["a1_eur"], ids["a1_xau"], ids["a2_eur"]}
    bob = await open_positions(database, w.bob)
    assert [p.id for p in bob.positions] == [ids["b1_eur"]]
    for viewer in (w.risk, w.admin):
        everyone = await open_positions(database, viewer)
        assert {p.id for p in everyone.positions} == {
            ids["a1_eur"],
            ids["a1_xau"],
            ids["a2_eur"],
            ids["b1_eur"],
        }
    assert all(p.status is PositionStatus.OPEN for p in alice.positions)


async def test_currency_comes_from_the_account(database: Database) -> None:
    w, ids = await _positions(database)
    by_id = {p.id: p for p in (await open_positions(database, w.alice)).positions}
    assert by_id[ids["a2_eur"]].currency == "EUR"
    assert by_id[ids["a1_eur"]].currency == "USD"


async def test_filters_symbol_account_side(database: Database) -> None:
    w, ids = await _positions(database)
    eur = await open_positions(database, w.alice, symbol="EURUSD")
    assert {p.id for p in eur.positions} == {ids["a1_eur"], ids["a2_eur"]}
    a1 = await open_positions(database, w.alice, account_id=w.a1)
    assert {p.id for p in a1.positions} == {ids["a1_eur"], ids["a1_xau"]}
    sells = await open_positions(database, w.alice, side=Side.SELL)
    assert [p.id for p in sells.positions] == [ids["a1_xau"]]
    buys = await open_positions(database, w.alice, side="buy", account_id=w.a1)
    assert [p.id for p in buys.positions] == [ids["a1_eur"]]
    assert (await open_positions(database, w.alice, symbol="BTCUSD")).positions == []
    everyone_eur = await open_positions(database, w.risk, symbol="EURUSD")
    assert {p.id for p in everyone_eur.positions} == {ids["a1_eur"], ids["a2_eur"], ids["b1_eur"]}


async def test_invalid_side_is_invalid_input(database: Database) -> None:
    w, _ = await _positions(database)
    with pytest.raises(InvalidInput) as error:
        await open_positions(database, w.alice, side="long")
    assert error.value.field == "side"


async def test_account_filter_on_someone_elses_account_is_not_found(database: Database) -> None:
    w, _ = await _positions(database)
    with pytest.raises(NotFound):
        await open_positions(database, w.alice, account_id=w.b1)
    with pytest.raises(NotFound):
        await open_positions(database, w.alice, account_id=999_999)
    assert len((await open_positions(database, w.risk, account_id=w.b1)).positions) == 1


@pytest.mark.parametrize(
    ("sort", "descending", "expected"),
    [
        ("opened_at", True, ["a1_xau", "a2_eur", "a1_eur"]),
        ("opened_at", False, ["a1_eur", "a2_eur", "a1_xau"]),
        ("volume", True, ["a1_xau", "a2_eur", "a1_eur"]),
        ("profit", False, ["a1_xau", "a2_eur", "a1_eur"]),
        ("symbol", False, ["a1_eur", "a2_eur", "a1_xau"]),  # tie on EURUSD broken by id asc
        ("symbol", True, ["a1_xau", "a2_eur", "a1_eur"]),  # tie broken by id desc
        ("side", True, ["a1_xau", "a2_eur", "a1_eur"]),
        ("account_id", False, ["a1_eur", "a1_xau", "a2_eur"]),
    ],
)
async def test_sort_keys(database: Database, sort: str, descending: bool, expected: list[str]) -> None:
    w, ids = await _positions(database)
    result = await open_positions(database, w.alice, sort=sort, descending=descending)
    assert [p.id for p in result.positions] == [ids[k] for k in expected]


async def test_sort_whitelist(database: Database) -> None:
    w, _ = await _positions(database)
    assert set(SORT_COLUMNS) == {"opened_at", "symbol", "volume", "profit", "account_id", "side"}
    for bad in ("user_id", "id; DROP TABLE positions", "price_open"):
        with pytest.raises(InvalidInput) as error:
            await open_positions(database, w.alice, sort=bad)
        assert error.value.field == "sort"
        assert "sort" in str(error.value)


async def test_position_by_id_idor_is_not_found(database: Database) -> None:
    w, ids = await _positions(database)
    with pytest.raises(NotFound) as invisible:
        await position_by_id(database, w.alice, ids["b1_eur"])
    with pytest.raises(NotFound) as missing:
        await position_by_id(database, w.alice, 999_999)
    assert type(invisible.value) is type(missing.value)
    assert str(invisible.value) == f"position {ids['b1_eur']} not found"
    assert (await position_by_id(database, w.bob, ids["b1_eur"])).id == ids["b1_eur"]
    assert (await position_by_id(database, w.risk, ids["b1_eur"])).user_id == w.bob.user_id
    closed = await position_by_id(database, w.alice, ids["a1_closed"])
    assert closed.status is PositionStatus.CLOSED
    assert closed.close_reason is CloseReason.TP


async def test_decimals_and_datetimes(database: Database) -> None:
    w, ids = await _positions(database)
    p = await position_by_id(database, w.alice, ids["a1_xau"])
    assert isinstance(p.volume, Decimal) and p.volume == Decimal("2.00")
    assert p.volume.as_tuple().exponent == -2
    assert p.price_open == Decimal("2350.12") and p.price_open.as_tuple().exponent == -8
    assert p.profit == Decimal("-40.00") and p.profit.as_tuple().exponent == -2
    assert p.swap.as_tuple().exponent == -2
    assert p.side is Side.SELL
    assert p.opened_at == T0 + timedelta(minutes=5)
    assert_utc(p.opened_at)
    assert_utc(p.updated_at)


async def test_closed_positions_keyset_pagination(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        a1 = await s.get(TradingAccount, w.a1)
        b1 = await s.get(TradingAccount, w.b1)
        # closed_at offsets in minutes; two pairs tie on closed_at so the id breaks the tie.
        offsets = [5, 1, 3, 3, 7, 1, 9]
        for n, minutes in enumerate(offsets):
            await make_position(
                s, a1, 100 + n, status=PositionStatus.CLOSED, closed_at=T0 + timedelta(minutes=minutes)
            )
        await make_position(s, a1, 200)  # open: never listed
        await make_position(s, b1, 300, status=PositionStatus.CLOSED, closed_at=T0 + timedelta(minutes=4))

    full = await closed_positions(database, w.alice, limit=50)
    assert full.next_cursor is None
    expected = sorted(full.positions, key=lambda p: (p.closed_at, p.id), reverse=True)
    assert [p.id for p in full.positions] == [p.id for p in expected]
    assert len(full.positions) == 7

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = await closed_positions(database, w.alice, limit=3, cursor=cursor)
        pages += 1
        seen.extend(p.id for p in page.positions)
        if page.next_cursor is None:
            break
        last = page.positions[-1]
        assert decode_cursor(page.next_cursor) == Cursor(last.closed_at, last.id)
        cursor = page.next_cursor
    assert pages == 3
    assert seen == [p.id for p in full.positions]

    everyone = await closed_positions(database, w.risk)
    assert len(everyone.positions) == 8
    # A page that begins after a newly closed position is the same page: rows closing while the
    # user pages do not shift it.
    second = await closed_positions(database, w.alice, limit=3, cursor=full_cursor(full.positions[2]))
    async with database.session() as s:
        await make_position(s, a1, 400, status=PositionStatus.CLOSED, closed_at=T0 + timedelta(minutes=30))
    again = await closed_positions(database, w.alice, limit=3, cursor=full_cursor(full.positions[2]))
    assert [p.id for p in again.positions] == [p.id for p in second.positions]
    # A made-up cursor is refused, naming the parameter.
    with pytest.raises(InvalidInput) as refused:
        await closed_positions(database, w.alice, cursor="not-a-cursor")
    assert refused.value.field == "cursor"


def full_cursor(position: PositionView) -> str:
    assert position.closed_at is not None
    return Cursor(position.closed_at, position.id).encode()


async def test_closed_positions_filters_and_limits(database: Database) -> None:
    w, ids = await _positions(database)
    assert [p.id for p in (await closed_positions(database, w.alice, account_id=w.a1)).positions] == [
        ids["a1_closed"]
    ]
    assert (await closed_positions(database, w.alice, account_id=w.a2)).positions == []
    assert (await closed_positions(database, w.bob)).positions == []
    with pytest.raises(NotFound):
        await closed_positions(database, w.bob, account_id=w.a1)
    for bad in (0, -1, 501):
        with pytest.raises(InvalidInput):
            await closed_positions(database, w.alice, limit=bad)
