"""Recording a platform fill: stored once, counted once, then matched by reconciliation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.db.models import AccountRiskState, Position
from dashboard.db.session import Database
from dashboard.domain.enums import PositionSource, Role, SyncStatus
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.positions import record_position_opened
from dashboard.services.ingestion.sync import record_sync
from tests.factories import T0, make_account, make_instruments, make_user


async def account(db: Database) -> int:
    async with db.session() as s:
        await make_instruments(s)
        user = await make_user(s, "fill@x", Role.TRADER)
        return (await make_account(s, user)).id


def fill(account_id: int, **overrides: Any) -> dict[str, Any]:
    data = {
        "account_id": account_id,
        "identifier": 9001,
        "ticket": 9001,
        "symbol": "XAUUSD",
        "side": "buy",
        "volume": "0.20",
        "price_open": "2350.10",
        "requested_price": "2350.00",
        "sl": "2340.00",
        "opened_at": T0.isoformat(),
    }
    data.update(overrides)
    return data


async def test_fill_is_stored_once_and_then_matches_the_broker(database: Database) -> None:
    account_id = await account(database)
    first = await record_position_opened(database, fill(account_id))
    again = await record_position_opened(database, fill(account_id))
    assert first.created and not again.created and again.position_id == first.position_id
    sync = await record_sync(
        database,
        {
            "account_id": account_id,
            "sync_id": "after-fill",
            "taken_at": (T0 + timedelta(seconds=30)).isoformat(),
            "positions": [
                {
                    "identifier": 9001,
                    "ticket": 9001,
                    "symbol": "XAUUSD",
                    "side": "buy",
                    "volume": "0.20",
                    "price_open": "2350.10",
                    "price_current": "2351.00",
                    "sl": "2340.00",
                    "profit": "18.00",
                    "opened_at": T0.isoformat(),
                }
            ],
        },
    )
    assert (sync.status, sync.matched_positions, sync.divergences) == (SyncStatus.OK, 1, 0)
    async with database.read_session() as s:
        position = (await s.execute(select(Position))).scalar_one()
        state = await s.get(AccountRiskState, account_id)
    assert position.source is PositionSource.PLATFORM and str(position.profit) == "18.00"
    assert state is not None and state.open_positions == 1


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"account_id": 77777}, "account_id"),
        ({"symbol": "NOPE"}, "symbol"),
        ({"volume": "-1"}, "volume"),
        ({"side": "long"}, "side"),
        ({"opened_at": "2026-11-02T12:00:00"}, "opened_at"),
    ],
)
async def test_bad_fill_is_refused(database: Database, bad: dict[str, Any], field: str) -> None:
    account_id = await account(database)
    with pytest.raises(InvalidInput) as caught:
        await record_position_opened(database, {**fill(account_id), **bad})
    assert caught.value.field == field
    async with database.read_session() as s:
        assert (await s.execute(select(func.count()).select_from(Position))).scalar_one() == 0
