from decimal import Decimal

import pytest

from dashboard.domain.account import equity, floating_pnl, free_margin, margin_level, margin_required
from dashboard.domain.instruments import DEMO_INSTRUMENTS
from dashboard.domain.numbers import DomainError

D = Decimal


def test_snapshot_5_6():
    # EURUSD BUY 1.00 (+250.00, swap -3.20) and XAUUSD SELL 0.50 (-320.00), balance 10 000, 1:100
    floating = floating_pnl([D("250.00"), D("-3.20"), D("-320.00")])
    eq = equity(D("10000.00"), floating)
    assert eq == D("9926.80")
    m_eur = margin_required(DEMO_INSTRUMENTS["EURUSD"], D("1.00"), D("1.08500"), 100, D("1.0850"))
    m_xau = margin_required(DEMO_INSTRUMENTS["XAUUSD"], D("0.50"), D("2356.40"), 100, D(1))
    assert m_eur == D("1085.00")
    assert m_xau == D("1178.20")
    total = m_eur + m_xau
    assert total == D("2263.20")
    assert free_margin(eq, total) == D("7663.60")
    assert margin_level(eq, total) == D("438.62")


def test_equity_includes_credit():
    assert equity(D(1000), D("-10.5"), credit=D(50)) == D("1039.50")


def test_margin_level_none_without_margin():
    assert margin_level(D(1000), D(0)) is None


def test_margin_level_rejects_negative_margin():
    with pytest.raises(DomainError):
        margin_level(D(1000), D(-1))


def test_forex_margin_ignores_price_but_cfd_uses_it():
    eur = DEMO_INSTRUMENTS["EURUSD"]
    assert margin_required(eur, D(1), D("1.0"), 100, D(1)) == margin_required(eur, D(1), D("2.0"), 100, D(1))
    us30 = DEMO_INSTRUMENTS["US30"]
    assert margin_required(us30, D(2), D(39000), 100, D(1)) == D("780.00")


@pytest.mark.parametrize(
    ("lots", "price", "leverage", "rate"),
    [(D(0), D(1), 100, D(1)), (D(1), D(0), 100, D(1)), (D(1), D(1), 0, D(1)), (D(1), D(1), 100, D(0))],
)
def test_margin_rejects_invalid(lots, price, leverage, rate):
    with pytest.raises(DomainError):
        margin_required(DEMO_INSTRUMENTS["XAUUSD"], lots, price, leverage, rate)
