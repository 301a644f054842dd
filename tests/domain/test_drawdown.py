from decimal import Decimal

import pytest

from dashboard.domain.drawdown import (
    drawdown_pct,
    drawdown_series,
    max_drawdown,
    max_drawdown_abs,
    mt5_absolute_drawdown,
    next_hwm,
)
from dashboard.domain.enums import HwmMode, Level
from dashboard.domain.levels import classify_drawdown
from dashboard.domain.numbers import DomainError

D = Decimal
SERIES = [D(x) for x in (10000, 10500, 10200, 11000, 9900, 9350, 10100, 11500, 10350, 9700)]

# docs/domain.md §6.1: (i, equity, hwm, dd_abs, dd_pct, level)
TABLE_5_1 = [
    (0, 10000, 10000, 0, "0.0000", Level.NORMAL),
    (1, 10500, 10500, 0, "0.0000", Level.NORMAL),
    (2, 10200, 10500, 300, "2.8571", Level.NORMAL),
    (3, 11000, 11000, 0, "0.0000", Level.NORMAL),
    (4, 9900, 11000, 1100, "10.0000", Level.WARNING),
    (5, 9350, 11000, 1650, "15.0000", Level.WARNING),
    (6, 10100, 11000, 900, "8.1818", Level.NORMAL),
    (7, 11500, 11500, 0, "0.0000", Level.NORMAL),
    (8, 10350, 11500, 1150, "10.0000", Level.WARNING),
    (9, 9700, 11500, 1800, "15.6522", Level.CRITICAL),
]


@pytest.mark.parametrize(("i", "equity", "hwm", "dd_abs", "dd_pct", "level"), TABLE_5_1)
def test_series_row(i, equity, hwm, dd_abs, dd_pct, level):
    point = drawdown_series(SERIES)[i]
    assert point.equity == D(equity)
    assert point.hwm == D(hwm)
    assert point.dd_abs == D(dd_abs)
    assert str(point.dd_pct) == dd_pct
    assert classify_drawdown(point.dd_pct) is level


def test_max_drawdown_5_1():
    mdd = max_drawdown(SERIES)
    assert mdd.pct == D("15.6522")
    assert (mdd.peak_index, mdd.trough_index) == (7, 9)
    assert (mdd.peak_value, mdd.trough_value) == (D(11500), D(9700))
    assert mdd.abs == D(1800)


def test_mt5_absolute_drawdown_5_1():
    assert mt5_absolute_drawdown(D(10000), SERIES) == D(650)


def test_mt5_absolute_drawdown_zero_when_never_below_initial():
    assert mt5_absolute_drawdown(D(100), [D(100), D(150), D(120)]) == D(0)


# docs/domain.md §6.2: (start, stop, in-window %, carried %)
TABLE_5_2 = [(4, 7, "5.5556", "15.0000"), (0, 4, "2.8571", "2.8571"), (5, 10, "15.6522", "15.6522")]


@pytest.mark.parametrize(("start", "stop", "in_window", "carried"), TABLE_5_2)
def test_window_hwm_seeding(start, stop, in_window, carried):
    window = SERIES[start:stop]
    carried_hwm = max(SERIES[: start + 1])  # HWM as carried into the window's first point
    assert str(max_drawdown(window, HwmMode.IN_WINDOW).pct) == in_window
    assert str(max_drawdown(window, HwmMode.CARRIED, carried_hwm=carried_hwm).pct) == carried


def test_window_4_6_peaks():
    window = SERIES[4:7]
    in_window = max_drawdown(window)
    assert in_window.peak_value == D(9900)
    assert (in_window.peak_index, in_window.trough_index) == (0, 1)
    carried = max_drawdown(window, HwmMode.CARRIED, carried_hwm=D(11000))
    assert carried.peak_index is None  # the peak lies before the window
    assert carried.peak_value == D(11000)
    assert carried.trough_value == D(9350)


def test_carried_mode_requires_hwm_and_in_window_refuses_it():
    with pytest.raises(DomainError):
        max_drawdown(SERIES, HwmMode.CARRIED)
    with pytest.raises(DomainError):
        max_drawdown(SERIES, HwmMode.IN_WINDOW, carried_hwm=D(1))


def test_relative_and_absolute_can_be_different_episodes():
    # Episode A: 100 -> 50 (50 %, 50 abs). Episode B: 1000 -> 800 (20 %, 200 abs).
    equities = [D(100), D(50), D(1000), D(800)]
    rel = max_drawdown(equities)
    assert rel.pct == D("50.0000")
    assert (rel.peak_index, rel.trough_index) == (0, 1)
    assert rel.abs == D(200)
    absolute = max_drawdown_abs(equities)
    assert absolute.abs == D(200)
    assert absolute.pct == D("20.0000")
    assert (absolute.peak_index, absolute.trough_index) == (2, 3)


def test_no_drawdown_is_zero():
    mdd = max_drawdown([D(1), D(2), D(3)])
    assert mdd.pct == 0
    assert mdd.abs == 0


def test_empty_series_rejected():
    with pytest.raises(DomainError):
        max_drawdown([])


def test_drawdown_series_with_initial_hwm():
    points = drawdown_series([D(9000)], initial_hwm=D(10000))
    assert points[0].hwm == D(10000)
    assert points[0].dd_pct == D("10.0000")


@pytest.mark.parametrize("hwm", [D(0), D(-1)])
def test_drawdown_pct_rejects_non_positive_hwm(hwm):
    with pytest.raises(DomainError):
        drawdown_pct(hwm, D(1))


def test_drawdown_pct_zero_above_hwm():
    assert drawdown_pct(D(100), D(120)) == 0


def test_next_hwm():
    assert next_hwm(None, D(5)) == D(5)
    assert next_hwm(D(10), D(5)) == D(10)
    assert next_hwm(D(10), D(11)) == D(11)


# docs/domain.md §6.4 float pitfall
def test_float_pitfall_one_minus_ratio():
    float_value = (1 - 9000.0 / 10000.0) * 100
    assert float_value == 9.999999999999998
    assert float_value < 10  # a float classifier would say "normal"
    dd = drawdown_pct(D("10000.00"), D("9000.00"))
    assert str(dd) == "10.0000"
    assert classify_drawdown(dd) is Level.WARNING


def test_float_pitfall_difference_form():
    h, e = 10000.30, 9000.27
    assert (h - e) / h * 100 == 9.99999999999999
    dd = drawdown_pct(D("10000.30"), D("9000.27"))
    assert str(dd) == "10.0000"
    assert classify_drawdown(dd) is Level.WARNING


def test_drawdown_rejects_float():
    with pytest.raises(TypeError):
        drawdown_pct(10000.0, D(9000))
