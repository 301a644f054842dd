"""An account's limits: the change a risk officer makes (validated here, for the API and the page
alike) and what everybody who may see the account reads (the limits and the room left under them).

Every refusal names its field and says what would be accepted, so the API's 422 (`field`,
`detail`) and the page's message under the field are the same words. Rules that involve several
fields are reported on the field to change:

- the drawdown warning must be below the critical threshold (the database's CHECK too);
- a prop rule is complete: any of its objectives (profit target, minimum trading days, maximum
  days) needs a profit target, a daily loss limit and a max loss limit, and at most as many
  minimum trading days as days allowed; a start date only with a profit target.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ModelWrapValidatorHandler, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from dashboard.domain.enums import DailyLossBasis, Level, MaxLossMode
from dashboard.schemas.common import ReadModel, StrictInput, UtcTimestamp

#: The reason a person gives for a change (kept in the audit trail and on the HWM-reset marker).
MAX_REASON = 500
#: An account is silent after this long without a sync or an equity snapshot: 30 s to 7 days.
MIN_SILENCE_S = 30
MAX_SILENCE_S = 7 * 86_400
#: Prop challenges count days; ten years is beyond any of them.
MAX_DAYS = 3650
#: Percentages are stored with 4 decimal places (NUMERIC(9,4)).
_PCT_STEP = Decimal("0.0001")
#: A start a little ahead of this server's clock is a clock difference, not the future.
_CLOCK_SKEW = timedelta(minutes=5)

#: The limits, in the order the form shows them (the input's fields less the reason).
LIMIT_FIELDS = (
    "dd_warning_pct",
    "dd_critical_pct",
    "daily_loss_limit_pct",
    "daily_loss_basis",
    "max_loss_limit_pct",
    "max_loss_mode",
    "day_reset_tz",
    "day_reset_hour",
    "silence_timeout_s",
    "prop_profit_target_pct",
    "prop_min_trading_days",
    "prop_max_days",
    "prop_started_at",
)
#: The limits given in %.
PERCENTAGES = (
    "dd_warning_pct",
    "dd_critical_pct",
    "daily_loss_limit_pct",
    "max_loss_limit_pct",
    "prop_profit_target_pct",
)
#: The objectives that make an account a prop challenge.
PROP_OBJECTIVES = ("prop_profit_target_pct", "prop_min_trading_days", "prop_max_days")


def refuse(model: str, errors: list[tuple[str, str, Any]]) -> ValidationError:
    """One validation error naming each (field, message, input), as pydantic reports its own."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(type=PydanticCustomError("limits", message), loc=(field,), input=value)
            for field, message, value in errors
        ],
    )


def field_errors(error: ValidationError) -> dict[str, str]:
    """Field -> its first message: what the page shows under each field."""
    found: dict[str, str] = {}
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "limits"
        found.setdefault(field, str(item["msg"]))
    return found


def clean_reason(value: str) -> str:
    """A reason without surrounding blanks; required, at most `MAX_REASON` characters."""
    text = value.strip()
    if not text:
        raise PydanticCustomError("reason", "a reason is required")
    if len(text) > MAX_REASON:
        raise PydanticCustomError("reason", f"must be at most {MAX_REASON} characters")
    return text


def _percentage(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not 0 < value <= 100:
        raise PydanticCustomError("percentage", "must be above 0 and at most 100 (%)")
    if value != value.quantize(_PCT_STEP):
        raise PydanticCustomError("percentage", "must have at most 4 decimal places")
    return value


#: A value given but not understood (its own field reports it): set, of unknown size.
_GIVEN = object()


def _lenient(data: Any) -> dict[str, Any]:
    """The fields the cross checks read, from raw input: a number where one can be read, `_GIVEN`
    for anything else that is there, None for nothing."""
    raw = data if isinstance(data, dict) else {}
    values: dict[str, Any] = {}
    for name in (*PERCENTAGES, "prop_min_trading_days", "prop_max_days", "prop_started_at"):
        value = raw.get(name)
        if value is None or value == "":
            values[name] = None
            continue
        try:
            values[name] = Decimal(str(value)) if name != "prop_started_at" else value
        except ArithmeticError:
            values[name] = _GIVEN
    return values


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return None
    return Decimal(value)


def cross_checks(values: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(field, message, input) for every rule between fields that `values` break."""
    errors: list[tuple[str, str, Any]] = []
    warning, critical = _number(values.get("dd_warning_pct")), _number(values.get("dd_critical_pct"))
    if warning is not None and critical is not None and critical <= warning:
        errors.append(
            ("dd_critical_pct", f"must be above the drawdown warning ({warning.normalize():f} %)", critical)
        )
    if any(values.get(name) is not None for name in PROP_OBJECTIVES):
        needed = {
            "prop_profit_target_pct": "a prop rule needs a profit target",
            "daily_loss_limit_pct": "a prop rule needs a daily loss limit",
            "max_loss_limit_pct": "a prop rule needs a max loss limit",
        }
        errors += [(name, text, None) for name, text in needed.items() if values.get(name) is None]
        low, high = _number(values.get("prop_min_trading_days")), _number(values.get("prop_max_days"))
        if low is not None and high is not None and low > high:
            errors.append(
                ("prop_min_trading_days", f"must not exceed the maximum days ({high.normalize():f})", low)
            )
    elif values.get("prop_started_at") is not None:
        errors.append(
            ("prop_started_at", "only with a prop rule (set a profit target)", values["prop_started_at"])
        )
    return errors


def _as_details(error: ValidationError) -> list[tuple[str, str, Any]]:
    return [
        (".".join(str(part) for part in item["loc"]), str(item["msg"]), item.get("input"))
        for item in error.errors()
    ]


class AccountLimitsIn(StrictInput):
    """Every limit of an account (a PUT replaces them all: each field must be given, `null` turns
    an optional rule off) and the reason for the change."""

    dd_warning_pct: Decimal
    dd_critical_pct: Decimal
    daily_loss_limit_pct: Decimal | None
    daily_loss_basis: DailyLossBasis
    max_loss_limit_pct: Decimal | None
    max_loss_mode: MaxLossMode
    day_reset_tz: str
    day_reset_hour: int
    silence_timeout_s: int
    prop_profit_target_pct: Decimal | None
    prop_min_trading_days: int | None
    prop_max_days: int | None
    #: When the challenge started; null with a prop rule: the moment of this change.
    prop_started_at: UtcTimestamp | None
    reason: str

    @field_validator(
        "day_reset_hour", "silence_timeout_s", "prop_min_trading_days", "prop_max_days", mode="before"
    )
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("integer", "must be a whole number")
        return value

    @field_validator(*PERCENTAGES)
    @classmethod
    def _percentages(cls, value: Decimal | None) -> Decimal | None:
        return _percentage(value)

    @field_validator("day_reset_tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            if len(value) > 64:
                raise ValueError(value)
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "time_zone", "must be an IANA time zone such as Europe/Prague, America/New_York or UTC"
            ) from None
        return value

    @field_validator("day_reset_hour")
    @classmethod
    def _hour(cls, value: int) -> int:
        if not 0 <= value <= 23:
            raise PydanticCustomError("hour", "must be a whole hour from 0 to 23")
        return value

    @field_validator("silence_timeout_s")
    @classmethod
    def _silence(cls, value: int) -> int:
        if not MIN_SILENCE_S <= value <= MAX_SILENCE_S:
            raise PydanticCustomError(
                "silence", f"must be between {MIN_SILENCE_S} s and 7 days ({MAX_SILENCE_S} s)"
            )
        return value

    @field_validator("prop_min_trading_days", "prop_max_days")
    @classmethod
    def _days(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_DAYS:
            raise PydanticCustomError("days", f"must be between 1 and {MAX_DAYS} days")
        return value

    @field_validator("prop_started_at")
    @classmethod
    def _started(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + _CLOCK_SKEW:
            raise PydanticCustomError("started", "must not be in the future")
        return value

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return clean_reason(value)

    @model_validator(mode="wrap")
    @classmethod
    def _consistent(cls, data: Any, handler: ModelWrapValidatorHandler[AccountLimitsIn]) -> AccountLimitsIn:
        """The rules between fields, reported with the fields' own refusals: a form shows every
        problem at once, not the next one after each fix."""
        try:
            model = handler(data)
        except ValidationError as error:
            refused = {str(item["loc"][0]) for item in error.errors() if item["loc"]}
            # A refused field counts as given, of unknown size: no rule compares with it.
            lenient = {name: (_GIVEN if name in refused and value is not None else value)
                       for name, value in _lenient(data).items()}  # fmt: skip
            extra = [e for e in cross_checks(lenient) if e[0] not in refused]
            if not extra or not isinstance(data, dict):
                raise
            raise refuse(cls.__name__, [*_as_details(error), *extra]) from None
        errors = cross_checks({name: getattr(model, name) for name in LIMIT_FIELDS})
        if errors:
            raise refuse(cls.__name__, errors)
        return model

    @property
    def is_prop(self) -> bool:
        """Any prop objective set: the account is a prop challenge."""
        return any(getattr(self, name) is not None for name in PROP_OBJECTIVES)

    def limits(self) -> dict[str, Any]:
        """The limits without the reason, by field name."""
        return {name: getattr(self, name) for name in LIMIT_FIELDS}


class HwmResetIn(StrictInput):
    """Why the high-water mark is set back to the current equity (required)."""

    reason: str

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return clean_reason(value)


# ---- read models


class AccountLimits(ReadModel):
    """The limits as stored (the fields of `AccountLimitsIn`, less the reason)."""

    dd_warning_pct: Decimal
    dd_critical_pct: Decimal
    daily_loss_limit_pct: Decimal | None
    daily_loss_basis: DailyLossBasis
    max_loss_limit_pct: Decimal | None
    max_loss_mode: MaxLossMode
    day_reset_tz: str
    day_reset_hour: int
    silence_timeout_s: int
    prop_profit_target_pct: Decimal | None
    prop_min_trading_days: int | None
    prop_max_days: int | None
    prop_started_at: datetime | None


class RoomView(ReadModel):
    """How far equity may still fall before one level (`dashboard.domain.limit_room.Room`)."""

    level: Level
    limit_pct: Decimal
    #: What the % are of: the HWM (drawdown), the day's reference (daily loss), the initial balance.
    base: Decimal
    #: The equity at the level's boundary.
    boundary: Decimal
    room: Decimal
    room_pct: Decimal
    reached: bool


class LimitsView(ReadModel):
    """An account's limits and the room left under each, at its latest equity snapshot."""

    account_id: int
    user_id: int
    name: str
    broker_login: int
    currency: str
    initial_balance: Decimal
    limits: AccountLimits
    #: The latest snapshot the rooms are measured at (None before the first one).
    updated_at: datetime | None
    equity: Decimal | None
    hwm: Decimal | None
    drawdown_pct: Decimal
    dd_level: Level
    daily_loss_pct: Decimal
    daily_loss_level: Level
    max_loss_level: Level
    #: None where the limit is off or nothing was measured yet.
    drawdown_warning: RoomView | None
    drawdown_critical: RoomView | None
    daily_loss: RoomView | None
    max_loss: RoomView | None
    as_of: datetime


class HwmResetView(ReadModel):
    id: int
    account_id: int
    created_at: datetime
    previous_hwm: Decimal | None
    new_hwm: Decimal
    reason: str
    actor_user_id: int
    #: Who reset it, by display name.
    actor_name: str | None


class HwmResetList(ReadModel):
    """An account's HWM resets in a window, oldest first (markers on the equity chart)."""

    READ_MOMENTS: ClassVar[frozenset[str]] = frozenset({"as_of"})
    account_id: int
    resets: list[HwmResetView]
    as_of: datetime
