from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from dashboard.domain.numbers import (
    DomainError,
    display_pct,
    money,
    pct,
    require_utc,
    round_price,
    to_decimal,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.5"), Decimal("1.5")),
        (3, Decimal(3)),
        (" 2.25 ", Decimal("2.25")),
        ("-0.1", Decimal("-0.1")),
    ],
)
def test_to_decimal_accepts_exact_inputs(value, expected):
    assert to_decimal(value) == expected
    assert isinstance(to_decimal(value), Decimal)


@pytest.mark.parametrize("value", [0.1, 1.0, True, None, [1]])
def test_to_decimal_rejects_float_bool_and_others(value):
    with pytest.raises(TypeError):
        to_decimal(value)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf", Decimal("NaN"), "abc", ""])
def test_to_decimal_rejects_non_finite_and_garbage(value):
    with pytest.raises(DomainError):
        to_decimal(value)


def test_domain_error_is_value_error():
    assert issubclass(DomainError, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.005", "1.01"), ("1.004", "1.00"), ("-1.005", "-1.01"), ("2.5", "2.50"), (7, "7.00")],
)
def test_money_is_half_up_2dp(value, expected):
    assert str(money(value)) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.857142857", "2.8571"), ("15.65217391", "15.6522"), ("0.00005", "0.0001"), ("10", "10.0000")],
)
def test_pct_is_half_up_4dp(value, expected):
    assert str(pct(value)) == expected


def test_display_pct_is_2dp():
    assert str(display_pct("3.36538")) == "3.37"


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        ("1.085004", 5, "1.08500"),
        ("1.085005", 5, "1.08501"),
        ("155.0005", 3, "155.001"),
        ("39000.04", 1, "39000.0"),
    ],
)
def test_round_price(value, digits, expected):
    assert str(round_price(value, digits)) == expected


def test_round_price_rejects_negative_digits():
    with pytest.raises(DomainError):
        round_price("1.1", -1)


def test_require_utc_converts_aware_and_rejects_naive():
    cet = timezone(timedelta(hours=1))
    converted = require_utc(datetime(2024, 1, 1, 1, 0, tzinfo=cet))
    assert converted == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert converted.utcoffset() == timedelta(0)
    with pytest.raises(DomainError, match="naive"):
        require_utc(datetime(2024, 1, 1))
    with pytest.raises(TypeError):
        require_utc("2024-01-01T00:00:00Z")
