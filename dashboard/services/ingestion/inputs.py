"""Validated inputs of the ingestion services; the REST API uses the same models as bodies.

Bounds are explicit (sizes, positive volumes, aware timestamps) so a bad payload is refused with a
message naming the field, before anything is written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from dashboard.domain.enums import DealReason, Side, SyncEventType
from dashboard.schemas.common import StrictInput, in_range_utc
from dashboard.services.errors import InvalidInput

# A bridge clock may run a little ahead; a timestamp further in the future is a bug or an attack,
# and accepting it would make every later, correct quote look "older than the last one".
MAX_CLOCK_SKEW = timedelta(minutes=5)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset (ISO 8601 with Z or +hh:mm)")
    value = in_range_utc(value)
    if value > datetime.now(UTC) + MAX_CLOCK_SKEW:
        raise ValueError("timestamp is more than 5 minutes in the future")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware_utc)]
PositiveDecimal = Annotated[Decimal, Field(gt=0, max_digits=20, decimal_places=8, allow_inf_nan=False)]
Price = Annotated[Decimal, Field(ge=0, max_digits=20, decimal_places=8, allow_inf_nan=False)]
Money = Annotated[Decimal, Field(max_digits=18, decimal_places=2, allow_inf_nan=False)]
Volume = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._#\-]+$")]
Identifier = Annotated[int, Field(gt=0, lt=2**63)]

MAX_POSITIONS_PER_SNAPSHOT = 1000
MAX_QUOTES_PER_BATCH = 1000


class IngestModel(StrictInput):
    """Ingest bodies: unknown fields and control characters refused (see `StrictInput`);
    surrounding spaces of the bridge's strings are dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class BrokerPositionIn(IngestModel):
    """One row of MT5 `positions_get()`; sl/tp 0 mean "not set", as in MT5."""

    identifier: Identifier
    ticket: Identifier
    symbol: Symbol
    side: Side
    volume: Volume
    price_open: PositiveDecimal
    price_current: PositiveDecimal
    sl: Price | None = None
    tp: Price | None = None
    swap: Money = Decimal(0)
    profit: Money = Decimal(0)
    magic: Annotated[int, Field(ge=0, lt=2**63)] = 0
    opened_at: AwareDatetime


class ExitDealIn(IngestModel):
    """The exit deal `history_deals_get(position=identifier)` found for a vanished position."""

    identifier: Identifier
    reason: DealReason
    price: PositiveDecimal
    profit: Money
    swap: Money = Decimal(0)
    commission: Money = Decimal(0)
    magic: Annotated[int, Field(ge=0, lt=2**63)] | None = None
    time: AwareDatetime


class SyncSnapshotIn(IngestModel):
    """A broker snapshot of one account. `error` set means the broker query failed."""

    account_id: Identifier
    sync_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
    event_type: SyncEventType = SyncEventType.SCHEDULED_SYNC
    taken_at: AwareDatetime
    duration_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 0
    error: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    positions: Annotated[list[BrokerPositionIn], Field(max_length=MAX_POSITIONS_PER_SNAPSHOT)] = Field(
        default_factory=list
    )
    exit_deals: Annotated[list[ExitDealIn], Field(max_length=MAX_POSITIONS_PER_SNAPSHOT)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _consistent(self) -> SyncSnapshotIn:
        if self.event_type is SyncEventType.SYNC_FAILED and self.error is None:
            raise ValueError("a sync_failed snapshot needs an error")
        if self.error is not None and (self.positions or self.exit_deals):
            raise ValueError("a failed sync carries no positions or deals")
        ids = [p.identifier for p in self.positions]
        if len(ids) != len(set(ids)):
            raise ValueError("positions: duplicate identifier in one snapshot")
        return self


class EquitySnapshotIn(IngestModel):
    account_id: Identifier
    ts: AwareDatetime
    balance: Money
    equity: Money
    margin: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)] = Decimal(0)


class QuoteIn(IngestModel):
    symbol: Symbol
    bid: PositiveDecimal
    ask: PositiveDecimal
    ts: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> QuoteIn:
        if self.ask < self.bid:
            raise ValueError("ask must not be below bid")
        return self


class QuoteBatchIn(IngestModel):
    quotes: Annotated[list[QuoteIn], Field(min_length=1, max_length=MAX_QUOTES_PER_BATCH)]


class PositionOpenedIn(IngestModel):
    """A fill the platform made: the local side of a position that the broker will also report."""

    account_id: Identifier
    identifier: Identifier
    ticket: Identifier
    symbol: Symbol
    side: Side
    volume: Volume
    price_open: PositiveDecimal
    requested_price: PositiveDecimal | None = None
    sl: PositiveDecimal | None = None
    tp: PositiveDecimal | None = None
    magic: Annotated[int, Field(ge=0, lt=2**63)] = 0
    signal_ref: Annotated[str, Field(max_length=64)] | None = None
    opened_at: AwareDatetime


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """Validate `data` into `model`, turning pydantic's error into one `InvalidInput` naming the field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidInput(f"{field or 'input'}: {first['msg']}", field=field) from None
