"""Typed loader for `data/demo_fleet.toml`, the single source of the demo's parameters.

The demo must be tunable without code changes, yet a typo in the TOML must fail loudly at load time
rather than produce a subtly wrong fleet (e.g. 5 warning gauges instead of 2). So the file is
validated into frozen pydantic models that forbid unknown keys, accept numbers as numbers only
(no strings, no booleans) and check every range and cross-field rule; the first problem becomes one
`ValueError` naming the offending place, e.g. `demo fleet: accounts[3].persona: unknown persona`.
"""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Generic, Literal, NamedTuple, Self, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dashboard.domain.enums import DailyLossBasis, DivergenceKind, MarginMode, MaxLossMode, Role

DEFAULT_FLEET_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_fleet.toml"

AssetClass = Literal["fx", "metal", "index", "crypto"]
DistanceUnit = Literal["pip", "price", "pct"]

K = TypeVar("K")
T = TypeVar("T")
N = TypeVar("N", int, float, Decimal)


def derive_rng(seed: int, *parts: object) -> random.Random:
    """One independent RNG per (seed, purpose, symbol/account).

    A string seed is hashed with SHA-512 by `random.Random`, so the stream is stable across runs and
    independent of PYTHONHASHSEED; separate streams mean adding an account never shifts the others.
    """
    return random.Random(":".join(str(p) for p in (seed, *parts)))


class _Misplaced(ValueError):
    """A rule checked on a whole model but broken by one of its parts: `loc` names the part."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


# --------------------------------------------------------------------------------------------
# Value types. TOML floats are parsed as `Decimal` (exact digits), so a number is an int or a Decimal.
# --------------------------------------------------------------------------------------------


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"expected a number, got {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


def _ratio(value: Any) -> float:
    return float(_number(value))


def _places(places: int, what: str) -> AfterValidator:
    """At most `places` decimals, stored at exactly that many (gauges classify at 4 dp, money has cents)."""
    quantum = Decimal(1).scaleb(-places)

    def check(value: Decimal) -> Decimal:
        if value != value.quantize(quantum):
            raise ValueError(f"{what} must have at most {places} decimal places, got {value}")
        return value.quantize(quantum)

    return AfterValidator(check)


def _ordered(pair: tuple[N, N]) -> tuple[N, N]:
    if pair[0] > pair[1]:
        raise ValueError(f"min {pair[0]} is greater than max {pair[1]}")
    return pair


def _weights(weights: Mapping[K, float]) -> Mapping[K, float]:
    if not math.isclose(sum(weights.values()), 1.0, abs_tol=1e-9):
        raise ValueError(f"weights must sum to 1, got {sum(weights.values())}")
    return MappingProxyType(dict(weights))


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def _email(value: str) -> str:
    if "@" not in value:
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _person(role: Role) -> Role:
    if role is Role.SERVICE:
        raise ValueError("the demo fleet defines people, not service principals")
    return role


Text = Annotated[str, Field(strict=True, min_length=1)]
Currency = Annotated[str, Field(strict=True, min_length=3, max_length=3)]
Int = Annotated[int, Field(strict=True)]
Bool = Annotated[bool, Field(strict=True)]
Number = Annotated[Decimal, BeforeValidator(_number)]
Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
Ratio = Annotated[float, BeforeValidator(_ratio)]
PositiveRatio = Annotated[float, BeforeValidator(_ratio), Field(gt=0)]
NonNegativeRatio = Annotated[float, BeforeValidator(_ratio), Field(ge=0)]
Probability = Annotated[float, BeforeValidator(_ratio), Field(ge=0, le=1)]
Pct = Annotated[Number, Field(gt=0, lt=100), _places(4, "percentage")]
Money = Annotated[Number, Field(gt=0), _places(2, "money")]
Range = Annotated[tuple[N, N], AfterValidator(_ordered)]  # TOML `[min, max]`
Weights = Annotated[Mapping[K, NonNegativeRatio], AfterValidator(_weights)]
ReadOnly = AfterValidator(MappingProxyType)


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class FleetInstrument(Frozen):
    """Symbol specification plus the docs/domain.md §5.2 calibration used to walk its price."""

    symbol: Text
    asset_class: AssetClass
    quote_ccy: Currency
    start: Positive
    annual_vol: PositiveRatio
    digits: Annotated[Int, Field(ge=0, le=8)]
    contract_size: Positive
    typical_spread: Positive
    weekend_gap_sigma: NonNegativeRatio
    trading_days: Annotated[Int, Field(ge=1, le=366)]
    volume_step: Positive
    # Overnight swap per lot and night in the account currency (USD), long and short side.
    swap_long: Annotated[Number, _places(2, "money")]
    swap_short: Annotated[Number, _places(2, "money")]

    @property
    def point(self) -> Decimal:
        """Smallest price increment, e.g. 0.00001 for a 5-digit FX pair."""
        return Decimal(1).scaleb(-self.digits)

    @property
    def pip(self) -> Decimal:
        """FX pip (10 points); for metals, indices and crypto the word is ambiguous, so a point."""
        return self.point * 10 if self.asset_class == "fx" else self.point

    @property
    def trades_weekends(self) -> bool:
        """24/7 instruments (crypto) have no weekend close and hence no reopen gap."""
        return self.weekend_gap_sigma == 0.0

    @model_validator(mode="after")
    def _fits_digits(self) -> Self:
        if self.start != self.start.quantize(self.point):
            raise _Misplaced(("start",), f"has more than {self.digits} digits")
        if self.typical_spread < self.point:
            raise _Misplaced(("typical_spread",), "is smaller than one point")
        return self


def _anchors(anchors: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    fractions = [f for f, _ in anchors]
    if len(anchors) < 2 or fractions[0] != 0.0 or fractions[-1] != 1.0:
        raise ValueError("need at least two anchors, the first at fraction 0 and the last at 1")
    if any(b <= a for a, b in itertools.pairwise(fractions)):
        raise ValueError(f"fractions must be strictly increasing, got {fractions}")
    return anchors


class Persona(Frozen):
    """Equity-curve recipe of docs/domain.md §5.3: anchors, default pinned drawdown and step volatility."""

    name: Text  # the TOML table's name, filled in by `FleetDefinition`
    anchors: Annotated[tuple[tuple[Ratio, PositiveRatio], ...], AfterValidator(_anchors)]
    target_dd_pct: Pct
    sigma_step: PositiveRatio


class AccountDef(Frozen):
    """One demo MT5 account; `target_dd_pct` is already resolved (override or persona default)."""

    key: Text
    label: Text
    owner: Text
    persona: Text
    target_dd_pct: Pct  # the persona's when the TOML gives none (filled in by `FleetDefinition`)
    initial_balance: Money
    currency: Currency
    broker_login: Int
    broker_server: Text
    leverage: Annotated[Int, Field(ge=1, le=3000)]
    margin_mode: MarginMode = MarginMode.HEDGING
    is_demo: Bool = True
    dd_warning_pct: Pct = Decimal("10.0000")
    dd_critical_pct: Pct = Decimal("15.0000")
    daily_loss_limit_pct: Pct | None = None
    max_loss_limit_pct: Pct | None = None
    daily_loss_basis: DailyLossBasis | None = None
    max_loss_mode: MaxLossMode | None = None
    day_reset_tz: Annotated[Text, AfterValidator(_time_zone)] = "UTC"
    day_reset_hour: Annotated[Int, Field(ge=0, le=23)] = 0
    force_sync_failed: Bool = False
    # A prop challenge on the loss rule above (`dashboard.domain.prop_challenge`): its profit target,
    # its minimum trading days and time limit, and its start, in days before the seed's "now".
    prop_profit_target_pct: Pct | None = None
    prop_min_trading_days: Annotated[Int, Field(ge=0)] | None = None
    prop_max_days: Annotated[Int, Field(ge=1)] | None = None
    prop_started_days_ago: Annotated[Int, Field(ge=0)] | None = None

    @property
    def runs_challenge(self) -> bool:
        return self.prop_profit_target_pct is not None

    @property
    def is_prop(self) -> bool:
        return self.daily_loss_limit_pct is not None or self.max_loss_limit_pct is not None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.dd_warning_pct >= self.dd_critical_pct:
            raise ValueError("dd_warning_pct must be below dd_critical_pct")
        if self.daily_loss_limit_pct is not None and self.daily_loss_basis is None:
            raise ValueError("daily_loss_limit_pct needs a daily_loss_basis")
        if self.max_loss_limit_pct is not None and self.max_loss_mode is None:
            raise ValueError("max_loss_limit_pct needs a max_loss_mode")
        challenge = (self.prop_min_trading_days, self.prop_max_days, self.prop_started_days_ago)
        if self.runs_challenge or any(value is not None for value in challenge):
            if self.prop_profit_target_pct is None or self.prop_started_days_ago is None:
                raise ValueError("a prop challenge needs prop_profit_target_pct and prop_started_days_ago")
            if self.daily_loss_limit_pct is None or self.max_loss_limit_pct is None:
                raise ValueError("a prop challenge needs daily_loss_limit_pct and max_loss_limit_pct")
        return self


class UserDef(Frozen):
    email: Annotated[Text, AfterValidator(_email)]
    role: Annotated[Role, AfterValidator(_person)]
    display_name: Text
    telegram_user_id: Int | None = None


class SyncParams(Frozen):
    """Reconciliation simulation parameters (docs/domain.md §5.5)."""

    cadence_seconds: Annotated[Int, Field(gt=0)]
    window_hours: Annotated[Int, Field(gt=0)]
    p_fail: Probability
    p_open: Probability
    p_resolve: Probability
    missing_persist_syncs: Annotated[Int, Field(ge=1)]
    duration_median_ms: PositiveRatio
    duration_sigma: NonNegativeRatio
    tail_syncs: Annotated[Int, Field(ge=3)]  # room for a forced failure and a divergence
    kind_weights: Weights[DivergenceKind]

    @property
    def n_syncs(self) -> int:
        """Syncs per account in the demo window (720 for 6 h at 30 s)."""
        return self.window_hours * 3600 // self.cadence_seconds


class DecimalRange(NamedTuple):
    """A `[min, max]` of positive amounts (lots)."""

    lo: Positive
    hi: Positive


class Distance(Frozen):
    """A price distance range in a unit that depends on the asset class (pip / price / pct)."""

    range: Range[NonNegative]
    unit: DistanceUnit

    @property
    def lo(self) -> Decimal:
        return self.range[0]

    @property
    def hi(self) -> Decimal:
        return self.range[1]


class ByAssetClass(Frozen, Generic[T]):
    """One value per asset class, every class required; `table[asset_class]` reads it."""

    fx: T
    metal: T
    index: T
    crypto: T

    def __getitem__(self, asset_class: AssetClass) -> T:
        return cast(T, getattr(self, asset_class))


class PositionParams(Frozen):
    """Parameters for seeded open and closed positions (docs/domain.md §5.4)."""

    open_per_account: Range[Annotated[Int, Field(ge=0)]]
    closed_per_account: Range[Annotated[Int, Field(ge=0)]]
    side_buy_prob: Probability
    no_sl_prob: Probability
    tp_r: Range[Ratio]
    platform_magic: Int
    external_magic: Int
    # The daily rollover at which overnight swap is charged (brokers: 17:00 New York).
    rollover_hour_utc: Annotated[Int, Field(ge=0, le=23)]
    symbol_weights: Weights[str]  # every symbol must be an instrument (checked by `FleetDefinition`)
    lots: ByAssetClass[Annotated[DecimalRange, AfterValidator(_ordered)]]
    sl_distance: ByAssetClass[Distance]
    slippage: ByAssetClass[Distance]

    @model_validator(mode="after")
    def _distinct_magics(self) -> Self:
        if self.platform_magic == self.external_magic:
            raise ValueError("platform_magic must differ from external_magic")
        return self


class EquityParams(Frozen):
    horizon_days: Annotated[Int, Field(gt=0)]
    step_minutes: Annotated[Int, Field(gt=0)]
    balance_close_every_hours: Range[PositiveRatio]

    @property
    def n_points(self) -> int:
        """Number of equity snapshots over the horizon (2 016 for 7 days at 5 minutes)."""
        return self.horizon_days * 24 * 60 // self.step_minutes

    @model_validator(mode="after")
    def _two_points(self) -> Self:
        if self.n_points < 2:
            raise ValueError("horizon_days and step_minutes must give at least 2 points")
        return self


class FleetDefinition(Frozen):
    """The whole fleet. Validation order is field order: `accounts` can rely on validated `personas`."""

    schema_version: Literal[1]
    instruments: Annotated[Mapping[str, FleetInstrument], Field(min_length=1), ReadOnly]
    personas: Annotated[Mapping[str, Persona], Field(min_length=1), ReadOnly]
    accounts: Annotated[tuple[AccountDef, ...], Field(min_length=1)]
    users: tuple[UserDef, ...]
    syncs: SyncParams
    positions: PositionParams
    equity: EquityParams

    def accounts_of(self, email: str) -> tuple[AccountDef, ...]:
        return tuple(a for a in self.accounts if a.owner == email)

    def user(self, email: str) -> UserDef:
        for u in self.users:
            if u.email == email:
                return u
        raise KeyError(email)

    @field_validator("instruments", mode="before")
    @classmethod
    def _by_symbol(cls, raw: Any) -> Any:
        """The TOML's array of instruments, keyed by symbol (which must be unique)."""
        if not isinstance(raw, list):
            raise ValueError(f"expected an array of tables, got {type(raw).__name__}")
        keyed: dict[str, Any] = {}
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise _Misplaced((i,), f"expected a table, got {type(item).__name__}")
            symbol = item.get("symbol")
            if not isinstance(symbol, str) or not symbol:
                raise _Misplaced((i, "symbol"), f"expected a non-empty string, got {symbol!r}")
            if symbol in keyed:
                raise _Misplaced((i, "symbol"), f"duplicate value {symbol!r}")
            keyed[symbol] = item
        return keyed

    @field_validator("personas", mode="before")
    @classmethod
    def _named(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        for name, table in raw.items():
            if isinstance(table, dict) and "name" in table:
                raise _Misplaced((name, "name"), "unknown key (a persona's name is its table's)")
        return {name: {**t, "name": name} if isinstance(t, dict) else t for name, t in raw.items()}

    @field_validator("accounts", mode="before")
    @classmethod
    def _persona_defaults(cls, raw: Any, info: ValidationInfo) -> Any:
        """Each account's persona must exist; without `target_dd_pct` the account takes the persona's."""
        personas: Mapping[str, Persona] | None = info.data.get("personas")
        if not isinstance(raw, list) or personas is None:
            return raw  # not an array (reported by pydantic), or the personas themselves are broken
        resolved = []
        for i, table in enumerate(raw):
            if isinstance(table, dict) and isinstance(table.get("persona"), str):
                persona = table["persona"]
                if persona not in personas:
                    known = sorted(personas)
                    raise _Misplaced((i, "persona"), f"unknown persona {persona!r} (known: {known})")
                table = {"target_dd_pct": personas[persona].target_dd_pct, **table}
            resolved.append(table)
        return resolved

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        _unique("users", "email", [u.email for u in self.users])
        _unique("users", "telegram_user_id", [u.telegram_user_id for u in self.users])
        _unique("accounts", "key", [a.key for a in self.accounts])
        _unique("accounts", "broker_login", [(a.broker_server, a.broker_login) for a in self.accounts])
        traders = {u.email for u in self.users if u.role is Role.TRADER}
        for i, a in enumerate(self.accounts):
            if a.owner not in traders:
                raise _Misplaced(
                    ("accounts", i, "owner"), f"{a.owner!r} is not a trader defined in [[users]]"
                )
        if not any(u.role is Role.ADMIN for u in self.users):
            raise _Misplaced(("users",), "the demo needs at least one admin")
        if sum(a.force_sync_failed for a in self.accounts) > 1:
            raise _Misplaced(("accounts",), "force_sync_failed is meant for a single account")
        for symbol in self.positions.symbol_weights:
            if symbol not in self.instruments:
                raise _Misplaced(("positions", "symbol_weights", symbol), "not one of the instruments")
        return self


def _unique(table: str, key: str, values: list[Any]) -> None:
    """No two entries of `table` share `key` (None does not count: an optional key left out)."""
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value is not None and value in seen:
            raise _Misplaced((table, i, key), f"duplicate value {value!r}")
        seen.add(value)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _where(loc: tuple[int | str, ...]) -> str:
    """`('accounts', 3, 'persona')` -> `accounts[3].persona`."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _problem(exc: ValidationError) -> ValueError:
    """The first validation error as one message naming the TOML entry."""
    error = exc.errors(include_url=False)[0]
    loc, message = tuple(error["loc"]), error["msg"]
    if loc[-1:] == ("[key]",):
        loc, message = loc[:-1], f"invalid key: {message}"
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        message = str(cause)
    if isinstance(cause, _Misplaced):
        loc = (*loc, *cause.loc)
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "missing key"
    elif cause is None:
        message = f"{message}, got {error['input']!r}"
    return ValueError(f"demo fleet: {_where(loc) or 'top level'}: {message}")


def parse_fleet(data: Mapping[str, Any]) -> FleetDefinition:
    """Build a validated `FleetDefinition` from an already parsed TOML document."""
    try:
        return FleetDefinition.model_validate(data)
    except ValidationError as exc:
        raise _problem(exc) from exc


def load_fleet(path: Path | None = None) -> FleetDefinition:
    """Read and validate the fleet TOML (default: `<repo>/data/demo_fleet.toml`).

    Floats are parsed as `Decimal` so prices such as 1.08500 keep their exact digits.
    """
    path = DEFAULT_FLEET_PATH if path is None else path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"demo fleet: {path}: invalid TOML: {exc}") from exc
    return parse_fleet(data)
