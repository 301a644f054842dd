from decimal import Decimal

import pytest

from dashboard.domain.instruments import (
    DEMO_INSTRUMENTS,
    InstrumentSpec,
    daily_sigma,
    normalise_symbol,
    sigma_step,
)
from dashboard.domain.numbers import DomainError, pct

# docs/domain.md §5.2
SPEC_TABLE = [
    ("EURUSD", "fx", "100000", 5, "USD", "0.00008", "0.07", 252),
    ("GBPUSD", "fx", "100000", 5, "USD", "0.00012", "0.08", 252),
    ("USDJPY", "fx", "100000", 3, "JPY", "0.012", "0.09", 252),
    ("XAUUSD", "metal", "100", 2, "USD", "0.25", "0.15", 252),
    ("US30", "index", "1", 1, "USD", "2.0", "0.15", 252),
    ("NAS100", "index", "1", 1, "USD", "1.5", "0.22", 252),
    ("GER40", "index", "1", 1, "EUR", "1.5", "0.16", 252),
    ("BTCUSD", "crypto", "1", 2, "USD", "30.0", "0.60", 365),
]


def test_demo_instruments_has_exactly_the_eight_symbols():
    assert set(DEMO_INSTRUMENTS) == {row[0] for row in SPEC_TABLE}


@pytest.mark.parametrize(
    ("symbol", "cls", "contract", "digits", "quote", "spread", "vol", "days"), SPEC_TABLE
)
def test_demo_instrument_matches_domain_table(symbol, cls, contract, digits, quote, spread, vol, days):
    spec = DEMO_INSTRUMENTS[symbol]
    assert spec.symbol == symbol
    assert spec.asset_class == cls
    assert spec.contract_size == Decimal(contract)
    assert spec.digits == digits
    assert spec.quote_ccy == quote
    assert spec.typical_spread == Decimal(spread)
    assert spec.annual_vol == Decimal(vol)
    assert spec.trading_days == days
    assert spec.volume_step == Decimal("0.01")


@pytest.mark.parametrize(
    ("symbol", "point"), [("EURUSD", "0.00001"), ("USDJPY", "0.001"), ("XAUUSD", "0.01"), ("US30", "0.1")]
)
def test_point(symbol, point):
    assert DEMO_INSTRUMENTS[symbol].point == Decimal(point)


def test_base_ccy_only_for_fx():
    assert DEMO_INSTRUMENTS["EURUSD"].base_ccy == "EUR"
    assert DEMO_INSTRUMENTS["XAUUSD"].base_ccy is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EURUSD", "EURUSD"),
        ("EURUSD.r", "EURUSD"),
        ("XAUUSDm", "XAUUSD"),
        ("EURUSD-ECN", "EURUSD"),
        ("eurusd", "EURUSD"),
        (" GBPUSD.pro ", "GBPUSD"),
        ("GOLD", "XAUUSD"),
        ("GOLD.r", "XAUUSD"),
        ("USTEC", "NAS100"),
        ("USTEC.cash", "NAS100"),
        ("US30.cash", "US30"),
        ("EURUSD#", "EURUSD"),
        ("NAS100", "NAS100"),
    ],
)
def test_normalise_symbol(raw, expected):
    assert normalise_symbol(raw) == expected


def test_normalise_symbol_custom_aliases_override_and_extend():
    aliases = {"XAUUSD.X": "XAUUSD", "DAX": "GER40", "gold": "XAUEUR"}
    assert normalise_symbol("DAX", aliases) == "GER40"
    assert normalise_symbol("xauusd.x", aliases) == "XAUUSD"
    assert normalise_symbol("GOLD", aliases) == "XAUEUR"


def test_normalise_symbol_rejects_empty():
    with pytest.raises(DomainError):
        normalise_symbol("  ")


def _spec(**overrides):
    fields = {
        "symbol": "X",
        "asset_class": "fx",
        "contract_size": Decimal(1),
        "digits": 2,
        "volume_step": Decimal("0.01"),
        "quote_ccy": "USD",
        "typical_spread": Decimal(0),
        "annual_vol": Decimal(0),
    }
    fields.update(overrides)
    return InstrumentSpec(**fields)


@pytest.mark.parametrize(
    "overrides",
    [{"contract_size": Decimal(0)}, {"volume_step": Decimal(-1)}, {"digits": -1}, {"quote_ccy": "US"}],
)
def test_invalid_spec_rejected(overrides):
    with pytest.raises(DomainError):
        _spec(**overrides)


def test_spec_rejects_float():
    with pytest.raises(TypeError):
        _spec(contract_size=1.0)


# docs/domain.md §6.8
def test_sigma_step_eurusd_60s():
    value = sigma_step(Decimal("0.07"), 60, 252)
    assert f"{value:.4e}" == "1.1620e-4"
    assert DEMO_INSTRUMENTS["EURUSD"].sigma_step(60) == value


def test_sigma_step_uses_the_21_772_800_second_year():
    expected = Decimal("0.07") * (Decimal(60) / Decimal(21_772_800)).sqrt()
    assert abs(sigma_step("0.07", 60) - expected) < Decimal("1e-25")


@pytest.mark.parametrize(("vol", "days", "expected_pct"), [("0.07", 252, "0.4410"), ("0.60", 365, "3.1405")])
def test_daily_sigma(vol, days, expected_pct):
    assert pct(daily_sigma(Decimal(vol), days) * 100) == Decimal(expected_pct)


def test_sigma_step_rejects_bad_input():
    with pytest.raises(DomainError):
        sigma_step("0.07", 0)
