"""Demo generators: reproducible, on target, and calibrated as docs/domain.md §5 and §6.11 say."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard.demo.equity_curves import (
    account_curves,
    balance_steps,
    equity_curve,
    pinned_equity,
)
from dashboard.demo.fleet import DEFAULT_FLEET_PATH, FleetDefinition, derive_rng, load_fleet
from dashboard.demo.prices import PriceWalker, price_path, sigma_step
from dashboard.demo.sync_outcomes import SEVERITY_BY_KIND, simulate_syncs
from dashboard.domain.enums import (
    DivergenceKind,
    Resolution,
    Role,
    Severity,
    SyncStatus,
)

START = datetime(2024, 6, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def fleet() -> FleetDefinition:
    return load_fleet()


def _dd(hwm: Decimal, equity: Decimal) -> Decimal:
    return ((hwm - equity) / hwm * 100).quantize(Decimal("0.0001"))


def _level(dd: Decimal) -> str:
    return "normal" if dd < 10 else ("warning" if dd <= 15 else "critical")


# ---------------------------------------------------------------- fleet


def test_fleet_counts(fleet: FleetDefinition) -> None:
    roles = Counter(u.role for u in fleet.users)
    assert roles == {Role.ADMIN: 1, Role.RISK: 2, Role.TRADER: 7}
    assert len(fleet.accounts) == 10
    per_owner = Counter(a.owner for a in fleet.accounts)
    assert sorted(per_owner.values()) == [1, 1, 1, 1, 2, 2, 2]
    assert {u.email for u in fleet.users if u.role is Role.TRADER} == set(per_owner)
    assert len(fleet.instruments) == 8 and fleet.instruments["XAUUSD"].contract_size == 100
    assert sum(a.is_prop for a in fleet.accounts) == 1
    assert sum(a.force_sync_failed for a in fleet.accounts) == 1
    assert fleet.syncs.n_syncs == 720 and fleet.equity.n_points == 2016


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'persona = "calm"\ninitial_balance = 10000.00',
            'persona = "nope"\ninitial_balance = 10000.00',
            "persona",
        ),
        ('symbol = "EURUSD"', 'symbol = "GBPUSD"', "duplicate"),
        ("p_open = 0.02", "p_open = 1.5", "p_open"),
        ("target_dd_pct = 11.0", "target_dd_pct = 11.00001", "target_dd_pct"),
        ("trading_days = 365", "trading_days = 365\ncolour = 1", "unknown key"),
        ("schema_version = 1", "schema_version = [", "invalid TOML"),
    ],
)
def test_loader_rejects_broken_definitions(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = DEFAULT_FLEET_PATH.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "fleet.toml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_fleet(broken)


# ---------------------------------------------------------------- equity curves


@pytest.mark.parametrize("seed", range(5))
def test_fleet_pins_targets_and_levels(fleet: FleetDefinition, seed: int) -> None:
    levels: Counter[str] = Counter()
    for account in fleet.accounts:
        curve = account_curves(fleet, account, seed).equity
        hwm = max(curve)
        assert len(curve) == 2016 and curve[0] == account.initial_balance
        assert all(e == e.quantize(Decimal("0.01")) for e in curve)
        assert _dd(hwm, curve[-1]) == account.target_dd_pct
        levels[_level(_dd(hwm, curve[-1]))] += 1
    assert sorted(a.target_dd_pct for a in fleet.accounts) == [
        Decimal(x) for x in ("2", "2", "2", "4", "5", "5", "11", "14", "16.5", "22")
    ]
    assert levels == {"normal": 6, "warning": 2, "critical": 2}


def test_equity_curve_is_deterministic(fleet: FleetDefinition) -> None:
    account = fleet.accounts[0]
    assert account_curves(fleet, account, 3) == account_curves(fleet, account, 3)
    assert account_curves(fleet, account, 3).equity != account_curves(fleet, account, 4).equity


@pytest.mark.parametrize("seed", range(20))
def test_pinning_when_the_series_ends_on_its_peak(seed: int) -> None:
    """A steep final anchor makes the raw last point the max; the pinned tail still stays below."""
    anchors = [(0.0, 1.0), (0.98, 1.02), (1.0, 1.30)]
    curve = equity_curve(anchors, 300, Decimal("10000"), Decimal("7.5"), 0.002, random.Random(seed))
    hwm = max(curve)
    assert _dd(hwm, curve[-1]) == Decimal("7.5000")
    assert curve.index(hwm) < len(curve) - 1


@pytest.mark.parametrize(
    ("hwm", "target"), [("10000.00", "10"), ("10000.01", "15.0001"), ("99999.99", "0.0001")]
)
def test_pinned_equity_is_exact(hwm: str, target: str) -> None:
    assert _dd(Decimal(hwm), pinned_equity(Decimal(hwm), Decimal(target))) == Decimal(target)


def test_pinned_equity_refuses_an_unreachable_target() -> None:
    """On HWM 123.45 one cent is 0.0081%, so 15.0001% has no 2 dp equity: say so, don't round."""
    with pytest.raises(ValueError, match="cannot pin"):
        pinned_equity(Decimal("123.45"), Decimal("15.0001"))


def test_balance_is_a_step_function_of_equity(fleet: FleetDefinition) -> None:
    curves = account_curves(fleet, fleet.accounts[4], 0)
    changes = [i for i in range(1, 2016) if curves.balance[i] != curves.balance[i - 1]]
    assert 7 * 24 / 8 <= len(changes) <= 7 * 24 / 2 + 1
    assert all(curves.balance[i] == curves.equity[i] for i in changes)
    assert balance_steps([], random.Random(0)) == []


# ---------------------------------------------------------------- prices


def test_sigma_step_matches_reference() -> None:
    assert round(sigma_step(0.07, 60, 252), 8) == 0.00011620
    assert round(0.60 * math.sqrt(86_400 / (365 * 86_400)), 6) == round(sigma_step(0.60, 86_400, 365), 6)


def test_gbm_realised_sigma(fleet: FleetDefinition) -> None:
    spec = fleet.instruments["EURUSD"]
    quotes = price_path(spec, START, 60, 7200, seed=7)
    mids = [float(q.mid) for q in quotes]
    realised = statistics.pstdev(math.log(b / a) for a, b in itertools.pairwise(mids))
    model = sigma_step(spec.annual_vol, 60, spec.trading_days)
    assert abs(realised / model - 1) < 0.15


@pytest.mark.parametrize("symbol", ["EURUSD", "USDJPY", "XAUUSD", "US30", "BTCUSD"])
def test_quotes_are_quantised_with_bid_below_ask(fleet: FleetDefinition, symbol: str) -> None:
    spec = fleet.instruments[symbol]
    quotes = price_path(spec, START, 60, 2000, seed=1, stress=3.0, weekend_gaps=True)
    for q in quotes:
        assert q.bid < q.ask
        assert q.bid == q.bid.quantize(spec.point) and q.ask == q.ask.quantize(spec.point)
        assert q.ts.tzinfo is UTC
    assert max(q.spread for q in quotes) < 50 * spec.typical_spread


def test_price_path_is_deterministic_and_continues_live(fleet: FleetDefinition) -> None:
    spec = fleet.instruments["XAUUSD"]
    path = price_path(spec, START, 5, 100, seed=11)
    assert path == price_path(spec, START, 5, 100, seed=11)
    assert path != price_path(spec, START, 5, 100, seed=12)
    walker = PriceWalker.from_seed(spec, 11)
    replay = [walker.step(q.ts, 5) for q in path[:60]]
    assert replay == path[:60]


def test_weekend_gap_freezes_then_gaps(fleet: FleetDefinition) -> None:
    spec = fleet.instruments["EURUSD"]
    friday = datetime(2024, 6, 7, 20, 0, tzinfo=UTC)
    quotes = price_path(spec, friday, 3600, 60, seed=2, weekend_gaps=True)
    closed = quotes[1:49]  # Fri 21:00 .. Sun 20:00
    assert len({(q.bid, q.ask) for q in closed}) == 1


# ---------------------------------------------------------------- syncs


def test_sync_simulation_calibration(fleet: FleetDefinition) -> None:
    sims = [
        simulate_syncs(720, derive_rng(seed, "syncs", "t"), fleet.syncs, scripted_tail=False)
        for seed in range(200)
    ]
    assert abs(statistics.mean(len(s.incidents) for s in sims) - 14.6) <= 1.5
    assert abs(statistics.mean(s.failed_count for s in sims) - 3.6) <= 1.0


@pytest.mark.parametrize("seed", range(30))
def test_sync_lifecycle_rules(fleet: FleetDefinition, seed: int) -> None:
    sim = simulate_syncs(720, derive_rng(seed, "syncs", "t"), fleet.syncs, force_failed_in_tail=seed % 2 == 0)
    tail = sim.syncs[-5:]
    assert any(s.status is SyncStatus.DIVERGENT for s in tail)
    if seed % 2 == 0:
        assert any(s.status is SyncStatus.FAILED for s in tail)
    for s in sim.syncs:
        if s.failed:
            assert s.observed_incident_ids == s.resolved_incident_ids == ()
    observed = Counter(i for s in sim.syncs for i in s.observed_incident_ids)
    for inc in sim.incidents:
        assert inc.severity is SEVERITY_BY_KIND[inc.kind]
        assert observed[inc.id] == inc.occurrences
        assert sim.syncs[inc.first_sync_index].opened_incident_ids == (inc.id,)
        if inc.kind is DivergenceKind.MISSING_AT_BROKER and not inc.is_open:
            assert inc.resolution is Resolution.MANUAL and inc.occurrences == 3
        if inc.resolved_sync_index is not None:
            between = sim.syncs[inc.last_sync_index + 1 : inc.resolved_sync_index]
            assert all(s.failed for s in between)
            assert inc.id in sim.syncs[inc.resolved_sync_index].resolved_incident_ids
    assert sim.syncs[0].event_type.value in {"startup_sync", "sync_failed"}


def test_sync_simulation_is_deterministic(fleet: FleetDefinition) -> None:
    a = simulate_syncs(720, derive_rng(5, "syncs", "acc-01"), fleet.syncs)
    assert a == simulate_syncs(720, derive_rng(5, "syncs", "acc-01"), fleet.syncs)
    assert a != simulate_syncs(720, derive_rng(6, "syncs", "acc-01"), fleet.syncs)


def test_severity_table() -> None:
    assert SEVERITY_BY_KIND[DivergenceKind.MISSING_AT_BROKER] is Severity.CRITICAL
    assert SEVERITY_BY_KIND[DivergenceKind.SIDE_MISMATCH] is Severity.CRITICAL
    assert SEVERITY_BY_KIND[DivergenceKind.SL_MISMATCH] is Severity.WARNING
    assert set(SEVERITY_BY_KIND) == set(DivergenceKind)
