"""The fleet loader: exact values from the TOML, and every broken definition named by its place."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboard.demo.fleet import DEFAULT_FLEET_PATH, FleetDefinition, load_fleet
from dashboard.domain.enums import DailyLossBasis, DivergenceKind, MarginMode, MaxLossMode

TEXT = DEFAULT_FLEET_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def fleet() -> FleetDefinition:
    return load_fleet()


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in TEXT, old
    path = tmp_path / "fleet.toml"
    path.write_text(TEXT.replace(old, new, 1), encoding="utf-8")
    return path


def test_numbers_keep_their_exact_digits(fleet: FleetDefinition) -> None:
    eurusd = fleet.instruments["EURUSD"]
    assert str(eurusd.start) == "1.08500" and str(eurusd.typical_spread) == "0.00008"
    assert (eurusd.point, eurusd.pip) == (Decimal("0.00001"), Decimal("0.00010"))
    assert eurusd.contract_size == 100_000 and isinstance(eurusd.contract_size, Decimal)
    assert eurusd.annual_vol == 0.07 and not eurusd.trades_weekends
    assert fleet.instruments["BTCUSD"].trades_weekends
    assert fleet.instruments["XAUUSD"].pip == fleet.instruments["XAUUSD"].point == Decimal("0.01")
    assert str(fleet.positions.lots["fx"].lo) == "0.10" and fleet.positions.sl_distance["fx"].unit == "pip"
    assert fleet.personas["calm"].anchors == ((0.0, 1.0), (0.5, 1.04), (1.0, 1.06))


def test_account_defaults_and_persona_targets(fleet: FleetDefinition) -> None:
    calm, warning, prop = fleet.accounts[0], fleet.accounts[1], fleet.accounts[6]
    # Percentages are stored at 4 dp, money at 2 dp; an account without target takes its persona's.
    assert str(calm.target_dd_pct) == "2.0000" and calm.persona == "calm"
    assert str(warning.target_dd_pct) == "11.0000"
    assert str(calm.initial_balance) == "10000.00"
    assert (str(calm.dd_warning_pct), str(calm.dd_critical_pct)) == ("10.0000", "15.0000")
    assert (calm.margin_mode, calm.is_demo, calm.day_reset_tz, calm.day_reset_hour) == (
        MarginMode.HEDGING,
        True,
        "UTC",
        0,
    )
    assert calm.daily_loss_limit_pct is None and not calm.is_prop
    assert prop.is_prop and prop.daily_loss_basis is DailyLossBasis.MAX_SOD_BALANCE_EQUITY
    assert prop.max_loss_mode is MaxLossMode.STATIC and prop.day_reset_tz == "Europe/Prague"
    # The TOML's order: the sync simulation draws kinds in it, so it is part of what a seed gives.
    assert list(fleet.syncs.kind_weights)[:2] == [DivergenceKind.CLOSED_AT_BROKER, DivergenceKind.SL_MISMATCH]


def test_the_fleet_is_read_only(fleet: FleetDefinition) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        fleet.accounts[0].leverage = 500  # type: ignore[misc]
    with pytest.raises(TypeError):
        fleet.instruments["EURUSD"] = fleet.instruments["GBPUSD"]  # type: ignore[index]
    with pytest.raises(TypeError):
        fleet.syncs.kind_weights[DivergenceKind.SL_MISMATCH] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        # unknown and missing keys
        ("trading_days = 365", "trading_days = 365\ncolour = 1", "instruments.BTCUSD.colour", "unknown key"),
        ("schema_version = 1\n", "", "schema_version", "missing key"),
        ("crypto = [0.01, 0.50]\n", "", "positions.lots.crypto", "missing key"),
        # wrong types: numbers are numbers, integers integers, booleans booleans
        ("digits = 5", 'digits = "5"', "instruments.EURUSD.digits", "valid integer"),
        ("digits = 5", "digits = 5.0", "instruments.EURUSD.digits", "valid integer"),
        ("start = 1.08500", 'start = "1.08500"', "instruments.EURUSD.start", "expected a number"),
        ("p_fail = 0.005", "p_fail = true", "syncs.p_fail", "expected a number"),
        ("start = 1.08500", "start = nan", "instruments.EURUSD.start", "finite"),
        ("force_sync_failed = true", "force_sync_failed = 1", "accounts[0].force_sync_failed", "boolean"),
        ('role = "admin"', 'role = "boss"', "users[0].role", "'trader', 'risk', 'admin' or 'service'"),
        # out of range
        ("p_open = 0.02", "p_open = 1.5", "syncs.p_open", "less than or equal to 1"),
        ("leverage = 50", "leverage = 5000", "accounts[9].leverage", "less than or equal to 3000"),
        ("tail_syncs = 5", "tail_syncs = 2", "syncs.tail_syncs", "greater than or equal to 3"),
        ('quote_ccy = "USD"', 'quote_ccy = "USDX"', "instruments.EURUSD.quote_ccy", "at most 3"),
        ("target_dd_pct = 11.0", "target_dd_pct = 11.00001", "accounts[1].target_dd_pct", "4 decimal"),
        ("open_per_account = [0, 6]", "open_per_account = [7, 6]", "positions.open_per_account", "min 7"),
        ("fx = [0.10, 2.00]", "fx = [0.00, 2.00]", "positions.lots.fx[0]", "greater than 0"),
        ('unit = "pip" }', 'unit = "pips" }', "positions.sl_distance.fx.unit", "'pip', 'price' or 'pct'"),
        ("step_minutes = 5", "step_minutes = 100000", "equity", "at least 2 points"),
        # cross-field rules
        ('symbol = "EURUSD"', 'symbol = "GBPUSD"', "instruments[1].symbol", "duplicate value 'GBPUSD'"),
        ("start = 1.08500", "start = 1.085001", "instruments.EURUSD.start", "more than 5 digits"),
        (
            "typical_spread = 0.00008",
            "typical_spread = 0.000001",
            "instruments.EURUSD.typical_spread",
            "point",
        ),
        ("[0.5, 1.04], [1.0, 1.06]", "[0.5, 1.04], [0.9, 1.06]", "personas.calm.anchors", "last at 1"),
        ('persona = "calm"', 'persona = "nope"', "accounts[0].persona", "unknown persona 'nope'"),
        ('owner = "trader1@demo.local"', 'owner = "risk@demo.local"', "accounts[0].owner", "not a trader"),
        ('key = "acc-02"', 'key = "acc-01"', "accounts[1].key", "duplicate value 'acc-01'"),
        (
            'day_reset_tz = "Europe/Prague"',
            'day_reset_tz = "Europe/Prag"',
            "accounts[6].day_reset_tz",
            "time zone",
        ),
        ('max_loss_mode = "static"\n', "", "accounts[6]", "max_loss_limit_pct needs a max_loss_mode"),
        ("force_sync_failed = true", "dd_warning_pct = 15", "accounts[0]", "below dd_critical_pct"),
        ("closed_at_broker = 0.35", "closed_at_broker = 0.36", "syncs.kind_weights", "sum to 1, got 1.01"),
        ("closed_at_broker = 0.35", "closed_at_brokr = 0.35", "syncs.kind_weights.closed_at_brokr", "key"),
        ("XAUUSD = 0.30", "XAUUSDX = 0.30", "positions.symbol_weights.XAUUSDX", "not one of the instruments"),
        ("external_magic = 0", "external_magic = 20240601", "positions", "must differ"),
        ('role = "admin"', 'role = "risk"', "users", "at least one admin"),
        ('role = "admin"', 'role = "service"', "users[0].role", "not service principals"),
    ],
)
def test_a_broken_definition_names_its_place(
    tmp_path: Path, old: str, new: str, where: str, reason: str
) -> None:
    with pytest.raises(ValueError) as info:
        load_fleet(_broken(tmp_path, old, new))
    message = str(info.value)
    assert message.startswith(f"demo fleet: {where}: "), message
    assert reason in message, message
