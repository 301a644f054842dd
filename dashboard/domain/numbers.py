"""Decimal plumbing shared by every domain module.

Money, prices, volumes and percentages are `Decimal` end to end: a float anywhere turns an exact 10 %
drawdown into 9.999999999999998 % and misclassifies it (docs/domain.md §2.1). The converters here are the
single gate where outside values enter, so they refuse floats instead of guessing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = [
    "MONEY_QUANTUM",
    "PCT_QUANTUM",
    "DomainError",
    "display_pct",
    "money",
    "pct",
    "quantum",
    "require_utc",
    "round_price",
    "to_decimal",
]

MONEY_QUANTUM = Decimal("0.01")
PCT_QUANTUM = Decimal("0.0001")
_DISPLAY_PCT_QUANTUM = Decimal("0.01")


class DomainError(ValueError):
    """An input that violates a domain invariant (negative volume, HWM <= 0, naive time...).

    It subclasses ValueError so API layers that already map ValueError to 4xx keep working.
    """


def to_decimal(value: Decimal | int | str) -> Decimal:
    """Convert an exact input to Decimal.

    Floats are refused (TypeError) because their binary error is exactly what this module exists to
    keep out; callers holding a float must decide explicitly, e.g. `to_decimal(str(x))`. Booleans are
    refused too: `True` silently becoming 1 lot is a bug, not a value.
    """
    if isinstance(value, bool):
        raise TypeError("bool is not a number here")
    if isinstance(value, float):
        raise TypeError(f"float {value!r} refused: pass a Decimal, int or str")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise DomainError(f"not a decimal number: {value!r}") from exc
    else:
        raise TypeError(f"cannot convert {type(value).__name__} to Decimal")
    if not result.is_finite():
        raise DomainError(f"non-finite number refused: {value!r}")
    return result


def quantum(digits: int) -> Decimal:
    """10**-digits as an exact Decimal (the quantum for `quantize`)."""
    if digits < 0:
        raise DomainError(f"digits must be >= 0, got {digits}")
    return Decimal(1).scaleb(-digits)


def money(x: Decimal | int | str) -> Decimal:
    """Account-currency amount, 2 dp ROUND_HALF_UP (what brokers and statements show)."""
    return to_decimal(x).quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)


def pct(x: Decimal | int | str) -> Decimal:
    """Percentage at 4 dp ROUND_HALF_UP: the precision at which levels are classified (§2.1)."""
    return to_decimal(x).quantize(PCT_QUANTUM, rounding=ROUND_HALF_UP)


def display_pct(x: Decimal | int | str) -> Decimal:
    """Percentage at 2 dp for display only; never classify on this."""
    return to_decimal(x).quantize(_DISPLAY_PCT_QUANTUM, rounding=ROUND_HALF_UP)


def round_price(x: Decimal | int | str, digits: int) -> Decimal:
    """Round a price to the symbol's `digits`, as the broker quotes it."""
    return to_decimal(x).quantize(quantum(digits), rounding=ROUND_HALF_UP)


def require_utc(dt: datetime) -> datetime:
    """Return `dt` in UTC; refuse naive datetimes.

    A naive timestamp is ambiguous (MT5 server time? local? UTC?), and guessing shifts day resets
    and race windows by hours, so the domain refuses it rather than assume.
    """
    if not isinstance(dt, datetime):
        raise TypeError(f"expected datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        raise DomainError(f"naive datetime refused (attach a time zone): {dt.isoformat()}")
    return dt.astimezone(UTC)
