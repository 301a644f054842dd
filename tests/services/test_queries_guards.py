"""Read model (c): gauges, the risk wall, guard events, the equity curve and the market guards."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from dashboard.db.models import EquitySnapshot, MarketState
from dashboard.db.session import Database
from dashboard.domain.enums import GuardType, Level, MaxLossMode
from dashboard.services.errors import Forbidden, InvalidInput, NotFound
from dashboard.services.queries.guards import (
    account_guards,
    downsample_indices,
    equity_curve,
    guard_events,
    market_guards,
    risk_wall,
)
from tests.factories import make_instruments
from tests.services import T0, World, add_guard_event, assert_utc, build_world, set_state

NOW = T0 + timedelta(hours=1)


async def _gauges(db: Database) -> World:
    w = await build_world(db)
    async with db.session() as s:
        await set_state(
            s,
            w.a1,
            equity=Decimal("9500"),
            hwm=Decimal("10000"),
            hwm_at=T0,
            drawdown_pct=Decimal("5"),
            max_drawdown_pct=Decimal("6.5"),
            updated_at=T0,
        )
        await set_state(s, w.a2, drawdown_pct=Decimal("16.25"), dd_level=Level.CRITICAL, open_positions=2)
        await set_state(s, w.b1, drawdown_pct=Decimal("12"), dd_level=Level.WARNING)
    return w


async def test_account_guards_scoped_and_ordered_by_id(database: Database) -> None:
    w = await _gauges(database)
    alice = await account_guards(database, w.alice, now=NOW)
    assert [g.account_id for g in alice.accounts] == [w.a1, w.a2]
    assert alice.as_of == NOW
    assert [g.account_id for g in (await account_guards(database, w.bob)).accounts] == [w.b1]
    assert [g.account_id for g in (await account_guards(database, w.risk)).accounts] == [w.a1, w.a2, w.b1]
    one = (await account_guards(database, w.alice, account_id=w.a1)).accounts
    assert len(one) == 1
    g = one[0]
    assert (g.name, g.currency, g.user_id) == ("Alice USD", "USD", w.alice.user_id)
    assert g.equity == Decimal("9500.00") and g.equity.as_tuple().exponent == -2
    assert g.drawdown_pct == Decimal("5") and g.drawdown_pct.as_tuple().exponent == -4
    assert g.max_drawdown_pct == Decimal("6.5000")
    assert g.dd_warning_pct == Decimal("10") and g.dd_critical_pct == Decimal("15")
    assert g.dd_level is Level.NORMAL and g.max_loss_mode is MaxLossMode.STATIC
    assert g.hwm_at == T0
    assert_utc(g.hwm_at)
    assert g.balance is None


async def test_account_guards_for_someone_elses_account_is_not_found(database: Database) -> None:
    w = await _gauges(database)
    with pytest.raises(NotFound) as invisible:
        await account_guards(database, w.alice, account_id=w.b1)
    with pytest.raises(NotFound) as missing:
        await account_guards(database, w.alice, account_id=999_999)
    assert str(invisible.value) == f"account {w.b1} not found"
    assert str(missing.value) == "account 999999 not found"


async def test_risk_wall_is_forbidden_for_traders(database: Database) -> None:
    w = await _gauges(database)
    with pytest.raises(Forbidden):
        await risk_wall(database, w.alice)
    with pytest.raises(Forbidden):
        await risk_wall(database, w.bob, level=Level.WARNING)


async def test_risk_wall_worst_first(database: Database) -> None:
    w = await _gauges(database)
    async with database.session() as s:
        # Same drawdown as b1: ties are broken by account id.
        await set_state(s, w.a1, drawdown_pct=Decimal("12"))
    for viewer in (w.risk, w.admin):
        wall = await risk_wall(database, viewer, now=NOW)
        assert [g.account_id for g in wall.accounts] == [w.a2, w.a1, w.b1]
        assert [g.drawdown_pct for g in wall.accounts] == [Decimal("16.25"), Decimal("12"), Decimal("12")]
    critical = await risk_wall(database, w.risk, level=Level.CRITICAL)
    assert [g.account_id for g in critical.accounts] == [w.a2]
    assert [g.account_id for g in (await risk_wall(database, w.risk, level="warning")).accounts] == [w.b1]
    with pytest.raises(InvalidInput) as error:
        await risk_wall(database, w.risk, level="purple")
    assert error.value.field == "level"


# ---------------------------------------------------------------- guard events


async def _events(db: Database) -> tuple[World, dict[str, int]]:
    w = await build_world(db)
    async with db.session() as s:
        ids = {
            "a1_dd": (await add_guard_event(s, w.a1, T0)).id,
            "market_gap": (await add_guard_event(s, None, T0 + timedelta(minutes=1), GuardType.PRICE_GAP)).id,
            "b1_dd": (await add_guard_event(s, w.b1, T0 + timedelta(minutes=2))).id,
            "a2_daily": (await add_guard_event(s, w.a2, T0 + timedelta(minutes=3), GuardType.DAILY_LOSS)).id,
            "market_stale": (
                await add_guard_event(s, None, T0 + timedelta(minutes=3), GuardType.STALE_QUOTE)
            ).id,
        }
    return w, ids


async def test_trader_sees_own_and_market_events_newest_first(database: Database) -> None:
    w, ids = await _events(database)
    alice = await guard_events(database, w.alice, now=NOW)
    # a2_daily and market_stale share created_at: the higher id comes first.
    assert [e.id for e in alice.events] == [
        ids[k] for k in ("market_stale", "a2_daily", "market_gap", "a1_dd")
    ]
    bob = await guard_events(database, w.bob)
    assert [e.id for e in bob.events] == [ids[k] for k in ("market_stale", "b1_dd", "market_gap")]
    for viewer in (w.risk, w.admin):
        everyone = await guard_events(database, viewer)
        assert len(everyone.events) == 5
    market = next(e for e in alice.events if e.id == ids["market_gap"])
    assert market.account_id is None and market.symbol == "EURUSD"
    assert market.metric_value == Decimal("10.5") and market.metric_value.as_tuple().exponent == -8
    assert_utc(market.created_at)


async def test_guard_event_filters(database: Database) -> None:
    w, ids = await _events(database)
    only_a1 = await guard_events(database, w.alice, account_id=w.a1)
    assert [e.id for e in only_a1.events] == [ids["a1_dd"]]  # market events are not per account
    gaps = await guard_events(database, w.alice, guard_type=GuardType.PRICE_GAP)
    assert [e.id for e in gaps.events] == [ids["market_gap"]]
    assert [e.id for e in (await guard_events(database, w.risk, guard_type="drawdown")).events] == [
        ids["b1_dd"],
        ids["a1_dd"],
    ]
    recent = await guard_events(database, w.alice, since=T0 + timedelta(minutes=1))
    assert ids["a1_dd"] not in [e.id for e in recent.events] and ids["market_gap"] in [
        e.id for e in recent.events
    ]
    assert len((await guard_events(database, w.risk, limit=2)).events) == 2
    with pytest.raises(NotFound):
        await guard_events(database, w.alice, account_id=w.b1)
    with pytest.raises(InvalidInput):
        await guard_events(database, w.alice, guard_type="volcano")
    with pytest.raises(InvalidInput):
        await guard_events(database, w.alice, since=datetime(2026, 1, 1))
    with pytest.raises(InvalidInput):
        await guard_events(database, w.alice, limit=0)


# ---------------------------------------------------------------- equity curve


async def _snapshots(db: Database, account_id: int, drawdowns: list[Decimal]) -> list[datetime]:
    stamps = [T0 + timedelta(minutes=i) for i in range(len(drawdowns))]
    async with db.session() as s:
        for ts, dd in zip(stamps, drawdowns, strict=True):
            hwm = Decimal("10000")
            equity = hwm * (1 - dd / 100)
            s.add(
                EquitySnapshot(
                    account_id=account_id, ts=ts, balance=hwm, equity=equity, hwm=hwm, drawdown_pct=dd
                )
            )
    return stamps


async def test_equity_curve_window_is_closed_and_ascending(database: Database) -> None:
    w = await build_world(database)
    stamps = await _snapshots(database, w.a1, [Decimal(i) for i in range(6)])
    await _snapshots(database, w.b1, [Decimal(1)])
    curve = await equity_curve(database, w.alice, w.a1, stamps[1], stamps[4], now=NOW)
    assert [p.ts for p in curve.points] == stamps[1:5]
    assert curve.downsampled is False
    assert (curve.account_id, curve.since, curve.until, curve.as_of) == (w.a1, stamps[1], stamps[4], NOW)
    point = curve.points[1]
    assert point.drawdown_pct == Decimal("2.0000") and point.drawdown_pct.as_tuple().exponent == -4
    assert point.equity == Decimal("9800.00") and point.hwm.as_tuple().exponent == -2
    assert_utc(point.ts)
    single = await equity_curve(database, w.alice, w.a1, stamps[2], stamps[2])
    assert [p.ts for p in single.points] == [stamps[2]]
    empty = await equity_curve(database, w.alice, w.a2, stamps[0], stamps[5])
    assert empty.points == [] and empty.downsampled is False


async def test_equity_curve_of_someone_else_is_not_found(database: Database) -> None:
    w = await build_world(database)
    stamps = await _snapshots(database, w.b1, [Decimal(1), Decimal(2)])
    with pytest.raises(NotFound) as invisible:
        await equity_curve(database, w.alice, w.b1, stamps[0], stamps[1])
    with pytest.raises(NotFound) as missing:
        await equity_curve(database, w.alice, 999_999, stamps[0], stamps[1])
    assert str(invisible.value) == f"account {w.b1} not found"
    assert str(missing.value) == "account 999999 not found"
    assert len((await equity_curve(database, w.risk, w.b1, stamps[0], stamps[1])).points) == 2


async def test_equity_curve_input_validation(database: Database) -> None:
    w = await build_world(database)
    with pytest.raises(InvalidInput):
        await equity_curve(database, w.alice, w.a1, datetime(2026, 1, 1), T0)
    with pytest.raises(InvalidInput):
        await equity_curve(database, w.alice, w.a1, T0, T0 - timedelta(seconds=1))
    with pytest.raises(InvalidInput):
        await equity_curve(database, w.alice, w.a1, T0, NOW, max_points=1)


async def test_equity_downsampling_keeps_last_and_worst_point(database: Database) -> None:
    w = await build_world(database)
    drawdowns = [Decimal(i % 7) for i in range(100)]
    drawdowns[37] = Decimal("42.5")  # the worst moment, off any even stride
    stamps = await _snapshots(database, w.a1, drawdowns)
    curve = await equity_curve(database, w.alice, w.a1, stamps[0], stamps[-1], max_points=10)
    assert curve.downsampled is True
    assert len(curve.points) <= 10
    ts = [p.ts for p in curve.points]
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    assert ts[-1] == stamps[-1]
    assert stamps[37] in ts
    assert max(p.drawdown_pct for p in curve.points) == Decimal("42.5")
    exact = await equity_curve(database, w.alice, w.a1, stamps[0], stamps[-1], max_points=100)
    assert exact.downsampled is False and len(exact.points) == 100


@pytest.mark.parametrize(
    ("n", "max_points", "worst"), [(100, 10, 37), (10, 2, 3), (10, 2, 9), (1000, 3, 0), (7, 6, 6)]
)
def test_downsample_indices_properties(n: int, max_points: int, worst: int) -> None:
    drawdowns = [Decimal(0)] * n
    drawdowns[worst] = Decimal(1)
    kept = downsample_indices(drawdowns, max_points)
    assert len(kept) <= max_points
    assert kept == sorted(set(kept))
    assert n - 1 in kept and worst in kept


# ---------------------------------------------------------------- market guards


async def test_market_guards(database: Database) -> None:
    w = await build_world(database)
    async with database.session() as s:
        await make_instruments(s)
        s.add_all(
            [
                MarketState(
                    symbol="XAUUSD",
                    bid=Decimal("2350.1"),
                    ask=Decimal("2350.35"),
                    quoted_at=NOW - timedelta(seconds=12, milliseconds=340),
                    guard_state={
                        "levels": {
                            "spread": "warning",
                            "stale_quote": "critical",
                            "volcano": "critical",
                            "price_gap": "purple",
                        }
                    },
                ),
                MarketState(
                    symbol="EURUSD",
                    bid=Decimal("1.08500"),
                    ask=Decimal("1.08508"),
                    quoted_at=NOW - timedelta(seconds=2, milliseconds=350),
                    guard_state={},
                ),
                MarketState(
                    symbol="GBPUSD",
                    bid=Decimal("1.27"),
                    ask=Decimal("1.2701"),
                    quoted_at=NOW,
                    guard_state={"levels": None},
                ),
            ]
        )
    for viewer in (w.alice, w.risk):
        result = await market_guards(database, viewer, now=NOW)
        assert [m.symbol for m in result.symbols] == ["EURUSD", "GBPUSD", "XAUUSD"]
    eur, gbp, xau = result.symbols
    assert eur.age_seconds == Decimal("2.4")  # 2.35 rounds half up
    assert xau.age_seconds == Decimal("12.3")
    assert gbp.age_seconds == Decimal("0.0")
    assert isinstance(xau.age_seconds, Decimal) and xau.age_seconds.as_tuple().exponent == -1
    assert xau.levels == {GuardType.SPREAD: Level.WARNING, GuardType.STALE_QUOTE: Level.CRITICAL}
    assert eur.levels == {} and gbp.levels == {}
    assert eur.bid == Decimal("1.08500") and eur.bid.as_tuple().exponent == -8
    assert_utc(xau.quoted_at)
    assert result.as_of == NOW


async def test_market_guards_empty(database: Database) -> None:
    w = await build_world(database)
    assert (await market_guards(database, w.bob, now=NOW)).symbols == []
