from decimal import Decimal

import pytest

from dashboard.domain.enums import GuardState, Level
from dashboard.domain.levels import LevelChange, Thresholds, alert_level, classify_drawdown, level_change
from dashboard.domain.numbers import DomainError

D = Decimal

# docs/domain.md §6.3
TABLE_5_3 = [
    ("0", Level.NORMAL),
    ("9.9999", Level.NORMAL),
    ("10.0000", Level.WARNING),
    ("12.5", Level.WARNING),
    ("15.0000", Level.WARNING),
    ("15.0001", Level.CRITICAL),
    ("22", Level.CRITICAL),
]


@pytest.mark.parametrize(("dd", "level"), TABLE_5_3)
def test_classify_reference_table(dd, level):
    assert classify_drawdown(D(dd)) is level


@pytest.mark.parametrize(
    ("dd", "level"),
    [
        ("9.99995", Level.WARNING),
        ("9.99994", Level.NORMAL),
        ("15.00004", Level.WARNING),
        ("15.00005", Level.CRITICAL),
    ],
)
def test_classify_quantises_to_4dp_first(dd, level):
    assert classify_drawdown(D(dd)) is level


def test_custom_thresholds():
    prop = Thresholds(warning=D(6), critical=D(8))
    assert classify_drawdown(D(6), prop) is Level.WARNING
    assert classify_drawdown(D("8.0001"), prop) is Level.CRITICAL


@pytest.mark.parametrize(("w", "c"), [(D(15), D(10)), (D(10), D(10)), (D(0), D(5)), (D(-1), D(5))])
def test_invalid_thresholds(w, c):
    with pytest.raises(DomainError):
        Thresholds(w, c)


def _run(values, warning="10", critical="15", **kw):
    level, out = Level.NORMAL, []
    for v in values:
        level = alert_level(level, D(v), D(warning), D(critical), **kw)
        out.append(level)
    return out


def test_hysteresis_does_not_flap_around_warning():
    # oscillating around 10: one escalation, no clear until below 8
    levels = _run(["9.9", "10", "9.5", "10.2", "8.5", "8.0", "7.99", "9.9", "10"])
    assert levels == [
        Level.NORMAL,
        Level.WARNING,
        Level.WARNING,
        Level.WARNING,
        Level.WARNING,
        Level.WARNING,  # 8.0 is not below 0.8 × 10
        Level.NORMAL,
        Level.NORMAL,
        Level.WARNING,
    ]


def test_escalation_is_immediate_and_deescalation_steps_by_level():
    levels = _run(["16", "13", "12", "11.99", "7.9"])
    # critical clears below 12 (0.8 × 15) to warning; warning clears below 8
    assert levels == [Level.CRITICAL, Level.CRITICAL, Level.CRITICAL, Level.WARNING, Level.NORMAL]


def test_critical_jumps_straight_to_normal_when_far_below():
    assert alert_level(Level.CRITICAL, D(1), D(10), D(15)) is Level.NORMAL


def test_critical_is_exclusive_by_default_inclusive_on_request():
    assert alert_level(Level.NORMAL, D(15), D(10), D(15)) is Level.WARNING
    assert alert_level(Level.NORMAL, D(15), D(10), D(15), inclusive_critical=True) is Level.CRITICAL


def test_edges_emitted_by_level_change_count():
    levels = _run(["9", "10.1", "9.9", "10.1", "9.9", "7", "10.1"])
    edges = [level_change(a, b) for a, b in zip([Level.NORMAL, *levels], levels, strict=False)]
    assert edges.count(GuardState.TRIGGERED) == 2
    assert edges.count(GuardState.CLEARED) == 1


@pytest.mark.parametrize("ratio", [D(0), D("1.1")])
def test_alert_level_rejects_bad_clear_ratio(ratio):
    with pytest.raises(DomainError):
        alert_level(Level.NORMAL, D(1), D(10), D(15), clear_ratio=ratio)


@pytest.mark.parametrize(
    ("old", "new", "state"),
    [
        (Level.NORMAL, Level.WARNING, GuardState.TRIGGERED),
        (Level.WARNING, Level.CRITICAL, GuardState.TRIGGERED),
        (Level.CRITICAL, Level.WARNING, GuardState.CLEARED),
        (Level.WARNING, Level.NORMAL, GuardState.CLEARED),
        (Level.WARNING, Level.WARNING, None),
    ],
)
def test_level_change(old, new, state):
    assert level_change(old, new) is state
    assert LevelChange(old, new).state is state
