from decimal import Decimal

import pytest

from dashboard.domain.enums import Side
from dashboard.domain.instruments import DEMO_INSTRUMENTS
from dashboard.domain.numbers import DomainError, money
from dashboard.domain.pnl import close_price, conversion_rate, convert, position_profit

D = Decimal
MIDS = {"EURUSD": D("1.0850"), "USDJPY": D("156.000")}

# docs/domain.md §6.5: (symbol, side, lots, open, close, expected USD)
PNL_TABLE = [
    ("EURUSD", Side.BUY, "1.00", "1.08500", "1.08750", "250.00"),
    ("EURUSD", Side.SELL, "1.00", "1.08500", "1.08750", "-250.00"),
    ("EURUSD", Side.BUY, "0.10", "1.08500", "1.08750", "25.00"),
    ("XAUUSD", Side.BUY, "1.00", "2350.00", "2365.50", "1550.00"),
    ("XAUUSD", Side.SELL, "1.00", "2350.00", "2338.20", "1180.00"),
    ("XAUUSD", Side.SELL, "0.50", "2350.00", "2356.40", "-320.00"),
    ("USDJPY", Side.BUY, "1.00", "155.000", "156.000", "641.03"),
    ("GER40", Side.BUY, "1", "18000", "18100", "108.50"),
    ("US30", Side.BUY, "1", "39000", "39100", "100.00"),
    ("BTCUSD", Side.BUY, "1", "60000", "58500", "-1500.00"),
]


@pytest.mark.parametrize(("symbol", "side", "lots", "p_open", "p_close", "expected"), PNL_TABLE)
def test_position_profit_reference_table(symbol, side, lots, p_open, p_close, expected):
    spec = DEMO_INSTRUMENTS[symbol]
    rate = conversion_rate(spec.quote_ccy, "USD", MIDS)
    profit = position_profit(side, D(lots), D(p_open), D(p_close), spec.contract_size, rate)
    assert profit == D(expected)
    assert str(profit) == str(D(expected))  # exactly 2 dp


def test_usdjpy_via_direct_division_matches():
    jpy = (D("156.000") - D("155.000")) * 100_000
    assert money(convert(jpy, "JPY", "USD", MIDS)) == D("641.03")


def test_conversion_rates():
    assert conversion_rate("USD", "USD", {}) == 1
    assert conversion_rate("EUR", "USD", MIDS) == D("1.0850")
    assert conversion_rate("JPY", "USD", MIDS) * D("156.000") == pytest.approx(D(1), abs=D("1e-25"))
    assert convert(D("100"), "EUR", "USD", MIDS) == D("108.5000")


def test_unknown_conversion_raises():
    with pytest.raises(DomainError, match="GBP"):
        conversion_rate("GBP", "USD", MIDS)


@pytest.mark.parametrize(("side", "expected"), [(Side.BUY, "1.08740"), (Side.SELL, "1.08750")])
def test_close_price_is_bid_for_buy_ask_for_sell(side, expected):
    assert close_price(side, D("1.08740"), D("1.08750")) == D(expected)


def test_close_price_rejects_crossed_quote():
    with pytest.raises(DomainError):
        close_price(Side.BUY, D("1.2"), D("1.1"))


@pytest.mark.parametrize("lots", [D(0), D("-0.1")])
def test_profit_rejects_non_positive_volume(lots):
    with pytest.raises(DomainError, match="volume"):
        position_profit(Side.BUY, lots, D(1), D(2), D(1), D(1))


def test_profit_rejects_float():
    with pytest.raises(TypeError):
        position_profit(Side.BUY, 1.0, D(1), D(2), D(1), D(1))
