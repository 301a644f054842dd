"""Column types that behave the same on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, Numeric, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# SQLite only autoincrements INTEGER PRIMARY KEY; BIGSERIAL on PostgreSQL.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends.

    SQLite drops the zone and hands back naive values; a naive value written by mistake would be
    silently read as UTC. So naive input is refused and UTC is re-attached on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} refused: store aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Num(TypeDecorator[Decimal]):
    """NUMERIC that always returns a Decimal quantised to its scale.

    On SQLite NUMERIC is stored as REAL; SQLAlchemy's Numeric already converts back to Decimal, but
    we also refuse floats on the way in so no float enters the money maths by accident.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.scale = scale

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("float refused for a NUMERIC column: use Decimal")
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        return dec.quantize(Decimal(1).scaleb(-self.scale))


def Money() -> Num:
    return Num(18, 2)


def Price() -> Num:
    return Num(20, 8)


def Pct() -> Num:
    return Num(9, 4)


def Volume() -> Num:
    return Num(12, 2)


def as_driver_returns(dialect: str) -> Callable[[Any], Any]:
    """For hot reads of many values: a column as the driver returns it, skipping the per-value
    conversion of `Num` and `UTCDateTime` where the driver already gets it right. asyncpg returns
    NUMERIC(p, s) as Decimals of the column's scale and timestamptz as aware UTC datetimes, so on
    PostgreSQL the quantize and astimezone per value (a third of a long read's time) are skipped;
    SQLite needs them (it hands back floats and naive datetimes)."""

    def plain(column: Any) -> Any:
        if dialect != "postgresql":
            return column
        if isinstance(column.type, Num):
            return type_coerce(column, Numeric(asdecimal=True)).label(column.key)
        if isinstance(column.type, UTCDateTime):
            return type_coerce(column, DateTime(timezone=True)).label(column.key)
        return column

    return plain
