"""Base models and shared field conventions: read models out, strict inputs in."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

# C0 control characters other than tab, newline and carriage return, and DEL. PostgreSQL refuses
# NUL in text outright; the others have no business in a name, a symbol or a message.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Timestamps the service accepts, in and out: far enough for any history and any "until", and
# far from the calendar's edges, where shifting to UTC or subtracting a window overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def printable(text: str) -> bool:
    """No control characters (tab, newline and carriage return allowed)."""
    return _CONTROL.search(text) is None


def in_range_utc(value: datetime) -> datetime:
    """`value` in UTC, or ValueError when it lies outside [1970, 2200) (edges with offsets overflow)."""
    try:
        converted = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range (1970-01-01 to 2200-01-01 UTC)") from None
    if not EARLIEST <= converted < LATEST:
        raise ValueError("timestamp is out of range (1970-01-01 to 2200-01-01 UTC)")
    return converted


#: An ISO 8601 timestamp with an offset, converted to UTC, within [1970, 2200).
UtcTimestamp = Annotated[AwareDatetime, AfterValidator(in_range_utc)]


class ReadModel(BaseModel):
    """Immutable result model. Decimals serialise as strings in JSON, so no float sneaks in."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    SCHEMA_VERSION: ClassVar[int] = 1
    #: Fields that say when the result was read (the read's moment, a window's bounds resolved
    #: from "now"), not what was found: two reads that found the same data differ only in them.
    READ_MOMENTS: ClassVar[frozenset[str]] = frozenset({"as_of"})


RM = TypeVar("RM", bound=ReadModel)
_new = object.__new__
_set = object.__setattr__


def trusted(cls: type[RM], values: dict[str, Any]) -> RM:
    """A read model from values the database already typed, one per field: what `model_construct`
    leaves behind, without its per-field loop (aliases, defaults), which at 2.4 µs a model was a
    fifth of a 1,440-point equity curve. Only for flat read models whose every field is given, with
    no extras, private attributes or post-init; `tests/schemas` holds it equal to `model_construct`.
    """
    model = _new(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


class StrictInput(BaseModel):
    """Base of every request body: unknown fields and control characters are refused.

    Unknown fields are refused by one check before validation: with `extra="forbid"` alone a body
    of 100,000 unknown keys made pydantic build 100,000 errors (about 1 s of CPU per request).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_fields_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = cls.model_fields.keys()
            for name in data:
                if name not in known:
                    detail = InitErrorDetails(type="extra_forbidden", loc=(str(name)[:64],), input=data[name])
                    raise ValidationError.from_exception_data(cls.__name__, [detail])
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        """Checked on the raw input: stripping (which some subclasses do) would hide a vertical
        tab or form feed at either end."""
        if isinstance(value, str) and not printable(value):
            raise ValueError("control characters are not allowed")
        return value
