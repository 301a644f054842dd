"""The cached query services on a real database and the real Redis.

1. Visibility: a trader's cached read never serves another trader or the risk desk's wider view.
2. Invalidation: after each kind of ingestion (fill, sync, equity, quotes), with the cache warm,
   every cached read of every viewer equals what the query service now returns from the database.
   This is what keeps each write's `Touched` honest: a family left out shows up as a stale read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from dashboard.cache.cache import QueryCache
from dashboard.cache.queries import CachedQueries
from dashboard.db.session import Database
from dashboard.domain.enums import Role, Side
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.positions import record_position_opened
from dashboard.services.ingestion.quotes import record_quotes
from dashboard.services.ingestion.sync import record_sync
from dashboard.services.queries import accounts, guards, limits, objectives, positions, reconciliation
from dashboard.services.risk_limits import change_limits, reset_hwm
from dashboard.services.viewer import Viewer
from tests.conftest import CacheFactory
from tests.factories import T0, make_account, make_instruments, make_position, make_user

SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=1)
VOLATILE = {"as_of", "age_seconds"}  # depend on the clock of the read, not on the data


def normal(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: normal(v) for k, v in data.items() if k not in VOLATILE}
    if isinstance(data, list):
        return [normal(v) for v in data]
    return data


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.viewers: dict[str, Viewer] = {}
        self.account: dict[str, int] = {}
        self.position: dict[str, int] = {}


async def build(db: Database) -> World:
    world = World(db)
    async with db.session() as s:
        await make_instruments(s)
        for name, role in (("a", Role.TRADER), ("b", Role.TRADER), ("risk", Role.RISK)):
            user = await make_user(s, f"{name}@x", role)
            world.viewers[name] = Viewer(user.id, role)
            if role is Role.TRADER:
                account = await make_account(s, user)
                world.account[name] = account.id
                world.position[name] = (await make_position(s, account, 100 + account.id)).id
    return world


Read = tuple[Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]


def reads(q: CachedQueries, world: World, viewer_name: str) -> dict[str, Read]:
    """name -> (cached read, the same read straight from the query service)."""
    db, viewer = world.db, world.viewers[viewer_name]
    own = world.account.get(viewer_name, world.account["a"])
    pos = world.position.get(viewer_name, world.position["a"])

    table: dict[str, Read] = {
        "status": (
            lambda: _m(q.reconciliation_status(viewer)),
            lambda: reconciliation.reconciliation_status(db, viewer),
        ),
        "timeline": (
            lambda: _m(q.divergence_timeline(viewer, since=SINCE, until=UNTIL)),
            lambda: reconciliation.divergence_timeline(db, viewer, SINCE, UNTIL),
        ),
        "incidents": (
            lambda: _m(q.open_incidents(viewer)),
            lambda: reconciliation.open_incidents(db, viewer),
        ),
        "position_incidents": (
            lambda: _m(q.position_incidents(viewer, pos)),
            lambda: reconciliation.position_incidents(db, viewer, pos),
        ),
        "open_positions": (
            lambda: _m(q.open_positions(viewer)),
            lambda: positions.open_positions(db, viewer),
        ),
        "position": (
            lambda: _m(q.position_by_id(viewer, pos)),
            lambda: positions.position_by_id(db, viewer, pos),
        ),
        "closed": (lambda: _m(q.closed_positions(viewer)), lambda: positions.closed_positions(db, viewer)),
        "guards": (lambda: _m(q.account_guards(viewer)), lambda: guards.account_guards(db, viewer)),
        "events": (lambda: _m(q.guard_events(viewer)), lambda: guards.guard_events(db, viewer)),
        "equity": (
            lambda: _m(q.equity_curve(viewer, own, since=SINCE, until=UNTIL)),
            lambda: guards.equity_curve(db, viewer, own, SINCE, UNTIL),
        ),
        "market": (lambda: _m(q.market_guards(viewer)), lambda: guards.market_guards(db, viewer)),
        "accounts": (lambda: _m(q.list_accounts(viewer)), lambda: accounts.list_accounts(db, viewer)),
        "limits": (lambda: _m(q.account_limits(viewer, own)), lambda: limits.account_limits(db, viewer, own)),
        "hwm_resets": (
            lambda: _m(q.hwm_resets(viewer, own, since=SINCE)),
            lambda: limits.hwm_resets(db, viewer, own, since=SINCE),
        ),
        "objectives": (
            lambda: _m(q.account_objectives(viewer, own)),
            lambda: objectives.account_objectives(db, viewer, own),
        ),
    }
    if viewer.sees_all:
        table["risk_wall"] = (lambda: _m(q.risk_wall(viewer)), lambda: guards.risk_wall(db, viewer))
    return table


async def _m(call: Awaitable[Any]) -> Any:
    return (await call).model


async def snapshot(q: CachedQueries, world: World) -> dict[tuple[str, str], tuple[Any, Any]]:
    """(viewer, read) -> (cached result, database result), both normalised."""
    out = {}
    for name in world.viewers:
        for read, (cached, direct) in reads(q, world, name).items():
            out[(name, read)] = (
                normal((await cached()).model_dump(mode="json")),
                normal((await direct()).model_dump(mode="json")),
            )
    return out


@pytest.fixture(params=["redis", "in-process"])
def cache(request: pytest.FixtureRequest, make_cache: CacheFactory) -> QueryCache:
    if request.param == "in-process":
        return make_cache(ttl_s=600)
    namespace = request.getfixturevalue("namespace")
    return make_cache(
        namespace=namespace, redis_url=request.getfixturevalue("redis_url"), ttl_s=600, local_ttl_s=600
    )


async def test_a_trader_is_never_served_another_scope(database: Database, cache: QueryCache) -> None:
    world = await build(database)
    q = CachedQueries(database, cache)
    a, b, risk = (world.viewers[n] for n in ("a", "b", "risk"))
    # Warm the wide view first: if keys ignored scope, the traders would now be served it.
    wide = (await q.open_positions(risk)).model
    assert {p.account_id for p in wide.positions} == {world.account["a"], world.account["b"]}
    mine = (await q.open_positions(a)).model
    theirs = (await q.open_positions(b)).model
    assert {p.account_id for p in mine.positions} == {world.account["a"]}
    assert {p.account_id for p in theirs.positions} == {world.account["b"]}
    assert {x.id for x in (await q.list_accounts(a)).model.accounts} == {world.account["a"]}
    assert {x.account_id for x in (await q.account_guards(b)).model.accounts} == {world.account["b"]}
    from dashboard.services.errors import Forbidden, NotFound

    with pytest.raises(NotFound):
        await q.position_by_id(a, world.position["b"])
    with pytest.raises(NotFound):  # still not found after B's own read of it was cached
        await q.position_by_id(b, world.position["b"])
        await q.position_by_id(a, world.position["b"])
    with pytest.raises(Forbidden):
        await q.risk_wall(a)


async def test_every_read_is_current_after_each_kind_of_write(database: Database, cache: QueryCache) -> None:
    world = await build(database)
    q = CachedQueries(database, cache)
    warm = await snapshot(q, world)
    assert all(c == d for c, d in warm.values())

    account_a = world.account["a"]
    writes: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        (
            "fill",
            lambda: record_position_opened(
                database,
                {
                    "account_id": account_a,
                    "identifier": 501,
                    "ticket": 501,
                    "symbol": "XAUUSD",
                    "side": Side.SELL,
                    "volume": "0.50",
                    "price_open": "2350.00",
                    "opened_at": T0,
                },
            ),
        ),
        (
            "sync",
            lambda: record_sync(
                database,
                {
                    "account_id": account_a,
                    "sync_id": "s-1",
                    "taken_at": T0 + timedelta(minutes=5),
                    "positions": [
                        {
                            "identifier": 100 + account_a,
                            "ticket": 100 + account_a,
                            "symbol": "EURUSD",
                            "side": "buy",
                            "volume": "1.00",
                            "price_open": "1.08500",
                            "price_current": "1.08700",
                            "sl": "1.08000",
                            "profit": "200.00",
                            "opened_at": T0,
                        },
                        {
                            "identifier": 777,
                            "ticket": 777,
                            "symbol": "GBPUSD",
                            "side": "buy",
                            "volume": "0.10",
                            "price_open": "1.27000",
                            "price_current": "1.27100",
                            "opened_at": T0,
                        },
                    ],
                    "exit_deals": [
                        {
                            "identifier": 501,
                            "reason": "sl",
                            "price": "2360.00",
                            "profit": "-500.00",
                            "time": T0 + timedelta(minutes=4),
                        },
                    ],
                },
            ),
        ),
        (
            "equity",
            lambda: record_equity(
                database,
                {
                    "account_id": account_a,
                    "ts": T0 + timedelta(minutes=6),
                    "balance": "10000.00",
                    "equity": "8800.00",
                },
            ),
        ),
        (
            "limits",
            lambda: change_limits(
                database,
                world.viewers["risk"],
                account_a,
                {
                    "dd_warning_pct": "5",
                    "dd_critical_pct": "8",
                    "daily_loss_limit_pct": "5",
                    "daily_loss_basis": "max_sod_balance_equity",
                    "max_loss_limit_pct": "10",
                    "max_loss_mode": "static",
                    "day_reset_tz": "UTC",
                    "day_reset_hour": 0,
                    "silence_timeout_s": 300,
                    "prop_profit_target_pct": "8",
                    "prop_min_trading_days": 4,
                    "prop_max_days": 30,
                    "prop_started_at": None,
                    "reason": "phase 2",
                },
            ),
        ),
        ("hwm reset", lambda: reset_hwm(database, world.viewers["risk"], account_a, "new phase")),
        (
            "quotes",
            lambda: record_quotes(
                database,
                {
                    "quotes": [
                        {
                            "symbol": "EURUSD",
                            "bid": "1.08600",
                            "ask": "1.08610",
                            "ts": T0 + timedelta(minutes=7),
                        }
                    ]
                },
                now=T0 + timedelta(minutes=7),
            ),
        ),
    ]
    previous = {k: d for k, (_, d) in warm.items()}
    for label, write in writes:
        result = await write()
        await cache.invalidate(result.touched)
        now = await snapshot(q, world)
        stale = sorted(k for k, (c, d) in now.items() if c != d)
        assert stale == [], f"after the {label} write these cached reads are stale: {stale}"
        changed = {k for k, (_, d) in now.items() if d != previous[k]}
        assert changed, f"the {label} write changed nothing: the check would be vacuous"
        # A write to trader A's account never changes what trader B sees (except market data).
        assert not {k for k in changed if k[0] == "b" and k[1] not in ("market", "events")}, changed
        previous = {k: d for k, (_, d) in now.items()}
