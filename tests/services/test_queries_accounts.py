"""Account reads: visibility per role, NotFound for another trader's account, exact types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from dashboard.db.session import Database
from dashboard.domain.enums import AccountStatus, MarginMode
from dashboard.services.errors import InvalidInput, NotFound
from dashboard.services.queries.accounts import account_by_id, list_accounts
from tests.services import T0, assert_utc, build_world


async def test_list_accounts_is_scoped_per_viewer(database: Database) -> None:
    w = await build_world(database)
    assert [a.id for a in (await list_accounts(database, w.alice)).accounts] == [w.a1, w.a2]
    assert [a.id for a in (await list_accounts(database, w.bob)).accounts] == [w.b1]
    for viewer in (w.risk, w.admin):
        assert [a.id for a in (await list_accounts(database, viewer)).accounts] == [w.a1, w.a2, w.b1]


async def test_list_accounts_as_of_is_now(database: Database) -> None:
    w = await build_world(database)
    result = await list_accounts(database, w.alice, now=T0)
    assert result.as_of == T0
    assert_utc(result.as_of)


async def test_account_by_id_returns_typed_view(database: Database) -> None:
    w = await build_world(database)
    view = await account_by_id(database, w.alice, w.a2)
    assert view.name == "Alice EUR"
    assert view.currency == "EUR"
    assert view.user_id == w.alice.user_id
    assert view.margin_mode is MarginMode.HEDGING
    assert view.status is AccountStatus.ACTIVE
    assert view.initial_balance == Decimal("10000.00")
    assert view.initial_balance.as_tuple().exponent == -2
    assert isinstance(view.dd_warning_pct, Decimal)
    assert view.dd_warning_pct.as_tuple().exponent == -4
    assert view.dd_critical_pct == Decimal("15")
    assert view.daily_loss_limit_pct is None
    with pytest.raises(ValidationError):
        view.name = "changed"  # type: ignore[misc]


async def test_another_traders_account_is_not_found_like_a_missing_one(database: Database) -> None:
    w = await build_world(database)
    with pytest.raises(NotFound) as invisible:
        await account_by_id(database, w.alice, w.b1)
    with pytest.raises(NotFound) as missing:
        await account_by_id(database, w.alice, 999_999)
    assert str(invisible.value) == f"account {w.b1} not found"
    assert str(missing.value) == "account 999999 not found"
    assert (await account_by_id(database, w.risk, w.b1)).id == w.b1
    assert (await account_by_id(database, w.admin, w.a1)).id == w.a1


async def test_naive_now_is_refused(database: Database) -> None:
    w = await build_world(database)
    with pytest.raises(InvalidInput):
        await list_accounts(database, w.alice, now=datetime(2026, 1, 1))
