"""Typed loader for `data/demo_fleet.toml`, the single source of the demo's parameters.

The demo must be tunable without code changes, yet a typo in the TOML must fail loudly at load time
rather than produce a subtly wrong fleet (e.g. 5 warning gauges instead of 2). So every table is
read with strict helpers (missing or unknown keys, wrong types and out-of-range values raise
`ValueError` naming the offending place) into frozen dataclasses.
"""

from __future__ import annotations

import itertools
import math
import random
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dashboard.domain.enums import (
    DailyLossBasis,
    DivergenceKind,
    MarginMode,
    MaxLossMode,
    Role,
)

DEFAULT_FLEET_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_fleet.toml"

AssetClass = Literal["fx", "metal", "index", "crypto"]
ASSET_CLASSES: tuple[AssetClass, ...] = ("fx", "metal", "index", "crypto")
DistanceUnit = Literal["pip", "price", "pct"]
DISTANCE_UNITS: tuple[DistanceUnit, ...] = ("pip", "price", "pct")
PCT_QUANTUM = Decimal("0.0001")

T = TypeVar("T")
Table = Mapping[str, Any]


def derive_rng(seed: int, *parts: object) -> random.Random:
    """One independent RNG per (seed, purpose, symbol/account).

    A string seed is hashed with SHA-512 by `random.Random`, so the stream is stable across runs and
    independent of PYTHONHASHSEED; separate streams mean adding an account never shifts the others.
    """
    return random.Random(":".join(str(p) for p in (seed, *parts)))


# --------------------------------------------------------------------------------------------
# Dataclasses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentSpec:
    """Symbol specification plus the §4.2 calibration used to walk its price."""

    symbol: str
    asset_class: AssetClass
    quote_ccy: str
    start: Decimal
    annual_vol: float
    digits: int
    contract_size: Decimal
    typical_spread: Decimal
    weekend_gap_sigma: float
    trading_days: int
    volume_step: Decimal

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


@dataclass(frozen=True)
class Persona:
    """Equity-curve recipe of §4.3: anchors, default pinned drawdown and step volatility."""

    name: str
    anchors: tuple[tuple[float, float], ...]
    target_dd_pct: Decimal
    sigma_step: float


@dataclass(frozen=True)
class AccountDef:
    """One demo MT5 account; `target_dd_pct` is already resolved (override or persona default)."""

    key: str
    label: str
    owner: str
    persona: str
    target_dd_pct: Decimal
    initial_balance: Decimal
    currency: str
    broker_login: int
    broker_server: str
    leverage: int
    margin_mode: MarginMode
    is_demo: bool
    dd_warning_pct: Decimal
    dd_critical_pct: Decimal
    daily_loss_limit_pct: Decimal | None
    max_loss_limit_pct: Decimal | None
    daily_loss_basis: DailyLossBasis | None
    max_loss_mode: MaxLossMode | None
    day_reset_tz: str
    day_reset_hour: int
    force_sync_failed: bool

    @property
    def is_prop(self) -> bool:
        return self.daily_loss_limit_pct is not None or self.max_loss_limit_pct is not None


@dataclass(frozen=True)
class UserDef:
    email: str
    role: Role
    display_name: str
    telegram_user_id: int | None


@dataclass(frozen=True)
class SyncParams:
    """§4.5 reconciliation simulation parameters."""

    cadence_seconds: int
    window_hours: int
    p_fail: float
    p_open: float
    p_resolve: float
    missing_persist_syncs: int
    duration_median_ms: float
    duration_sigma: float
    tail_syncs: int
    kind_weights: Mapping[DivergenceKind, float]

    @property
    def n_syncs(self) -> int:
        """Syncs per account in the demo window (720 for 6 h at 30 s)."""
        return self.window_hours * 3600 // self.cadence_seconds


@dataclass(frozen=True)
class DecimalRange:
    lo: Decimal
    hi: Decimal


@dataclass(frozen=True)
class Distance:
    """A price distance range in a unit that depends on the asset class (pip / price / pct)."""

    lo: Decimal
    hi: Decimal
    unit: DistanceUnit


@dataclass(frozen=True)
class PositionParams:
    """§4.4 parameters for seeded open and closed positions."""

    open_per_account: tuple[int, int]
    closed_per_account: tuple[int, int]
    side_buy_prob: float
    no_sl_prob: float
    tp_r: tuple[float, float]
    platform_magic: int
    external_magic: int
    symbol_weights: Mapping[str, float]
    lots: Mapping[AssetClass, DecimalRange]
    sl_distance: Mapping[AssetClass, Distance]
    slippage: Mapping[AssetClass, Distance]


@dataclass(frozen=True)
class EquityParams:
    horizon_days: int
    step_minutes: int
    balance_close_every_hours: tuple[float, float]

    @property
    def n_points(self) -> int:
        """Number of equity snapshots over the horizon (2 016 for 7 days at 5 minutes)."""
        return self.horizon_days * 24 * 60 // self.step_minutes


@dataclass(frozen=True)
class FleetDefinition:
    instruments: Mapping[str, InstrumentSpec]
    personas: Mapping[str, Persona]
    accounts: tuple[AccountDef, ...]
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


# --------------------------------------------------------------------------------------------
# Strict readers: each raises ValueError("<where>: ...") so the message points at the TOML entry.
# --------------------------------------------------------------------------------------------


def _fail(where: str, msg: str) -> ValueError:
    return ValueError(f"demo fleet: {where}: {msg}")


def _check_keys(table: Table, required: set[str], optional: set[str], where: str) -> None:
    missing = required - table.keys()
    if missing:
        raise _fail(where, f"missing key(s) {sorted(missing)}")
    unknown = table.keys() - required - optional
    if unknown:
        raise _fail(where, f"unknown key(s) {sorted(unknown)}")


def _table(value: Any, where: str) -> Table:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a table, got {type(value).__name__}")
    return cast(Table, value)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected an array, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, f"expected a non-empty string, got {value!r}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {value!r}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"expected true/false, got {value!r}")
    return value


def _dec(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _fail(where, f"expected a number, got {value!r}")
    result = Decimal(value)
    if not result.is_finite():
        raise _fail(where, f"expected a finite number, got {value!r}")
    return result


def _float(value: Any, where: str) -> float:
    return float(_dec(value, where))


def _prob(value: Any, where: str) -> float:
    p = _float(value, where)
    if not 0.0 <= p <= 1.0:
        raise _fail(where, f"probability must be within [0, 1], got {p}")
    return p


def _positive(value: Any, where: str) -> Decimal:
    d = _dec(value, where)
    if d <= 0:
        raise _fail(where, f"must be > 0, got {d}")
    return d


def _pct(value: Any, where: str, *, low: Decimal = Decimal(0), high: Decimal = Decimal(100)) -> Decimal:
    """A percentage that must be representable at 4 dp, because gauges classify at 4 dp."""
    d = _dec(value, where)
    if not low < d < high:
        raise _fail(where, f"percentage must be within ({low}, {high}), got {d}")
    if d != d.quantize(PCT_QUANTUM):
        raise _fail(where, f"percentage must have at most 4 decimal places, got {d}")
    return d.quantize(PCT_QUANTUM)


def _pair(value: Any, where: str, conv: Callable[[Any, str], T]) -> tuple[T, T]:
    items = _list(value, where)
    if len(items) != 2:
        raise _fail(where, f"expected [min, max], got {value!r}")
    lo, hi = conv(items[0], f"{where}[0]"), conv(items[1], f"{where}[1]")
    if lo > hi:  # type: ignore[operator]
        raise _fail(where, f"min {lo} is greater than max {hi}")
    return lo, hi


def _enum(enum: Callable[[str], T], value: Any, where: str) -> T:
    try:
        return enum(_str(value, where))
    except ValueError as exc:
        raise _fail(where, f"invalid value {value!r}") from exc


def _unique(values: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise _fail(what, f"duplicate value {v!r}")
        seen.add(v)


# --------------------------------------------------------------------------------------------
# Section parsers
# --------------------------------------------------------------------------------------------

_INSTRUMENT_KEYS = {
    "symbol",
    "asset_class",
    "quote_ccy",
    "start",
    "annual_vol",
    "digits",
    "contract_size",
    "typical_spread",
    "weekend_gap_sigma",
    "trading_days",
    "volume_step",
}


def _instrument(raw: Any, where: str) -> InstrumentSpec:
    t = _table(raw, where)
    _check_keys(t, _INSTRUMENT_KEYS, set(), where)
    where = f"instruments[{t['symbol']!r}]"
    digits = _int(t["digits"], f"{where}.digits")
    if not 0 <= digits <= 8:
        raise _fail(f"{where}.digits", f"must be within 0..8, got {digits}")
    spec = InstrumentSpec(
        symbol=_str(t["symbol"], f"{where}.symbol"),
        asset_class=_enum(_asset_class, t["asset_class"], f"{where}.asset_class"),
        quote_ccy=_str(t["quote_ccy"], f"{where}.quote_ccy"),
        start=_positive(t["start"], f"{where}.start"),
        annual_vol=float(_positive(t["annual_vol"], f"{where}.annual_vol")),
        digits=digits,
        contract_size=_positive(t["contract_size"], f"{where}.contract_size"),
        typical_spread=_positive(t["typical_spread"], f"{where}.typical_spread"),
        weekend_gap_sigma=_float(t["weekend_gap_sigma"], f"{where}.weekend_gap_sigma"),
        trading_days=_int(t["trading_days"], f"{where}.trading_days"),
        volume_step=_positive(t["volume_step"], f"{where}.volume_step"),
    )
    _check_instrument(spec, where)
    return spec


def _asset_class(value: str) -> AssetClass:
    if value not in ASSET_CLASSES:
        raise ValueError(value)
    return cast(AssetClass, value)


def _check_instrument(spec: InstrumentSpec, where: str) -> None:
    if spec.start != spec.start.quantize(spec.point):
        raise _fail(f"{where}.start", f"has more than {spec.digits} digits")
    if spec.typical_spread < spec.point:
        raise _fail(f"{where}.typical_spread", "is smaller than one point")
    if spec.weekend_gap_sigma < 0:
        raise _fail(f"{where}.weekend_gap_sigma", "must be >= 0")
    if not 1 <= spec.trading_days <= 366:
        raise _fail(f"{where}.trading_days", f"must be within 1..366, got {spec.trading_days}")
    if len(spec.quote_ccy) != 3:
        raise _fail(f"{where}.quote_ccy", f"expected a 3-letter currency, got {spec.quote_ccy!r}")


def _persona(name: str, raw: Any) -> Persona:
    where = f"personas.{name}"
    t = _table(raw, where)
    _check_keys(t, {"anchors", "target_dd_pct", "sigma_step"}, set(), where)
    anchors = tuple(_anchor(a, f"{where}.anchors[{i}]") for i, a in enumerate(_list(t["anchors"], where)))
    _check_anchors(anchors, f"{where}.anchors")
    return Persona(
        name=name,
        anchors=anchors,
        target_dd_pct=_pct(t["target_dd_pct"], f"{where}.target_dd_pct"),
        sigma_step=float(_positive(t["sigma_step"], f"{where}.sigma_step")),
    )


def _anchor(raw: Any, where: str) -> tuple[float, float]:
    items = _list(raw, where)
    if len(items) != 2:
        raise _fail(where, f"expected [fraction, multiple], got {raw!r}")
    return _float(items[0], f"{where}[0]"), float(_positive(items[1], f"{where}[1]"))


def _check_anchors(anchors: tuple[tuple[float, float], ...], where: str) -> None:
    fractions = [f for f, _ in anchors]
    if len(anchors) < 2 or fractions[0] != 0.0 or fractions[-1] != 1.0:
        raise _fail(where, "need at least two anchors, the first at fraction 0 and the last at 1")
    if any(b <= a for a, b in itertools.pairwise(fractions)):
        raise _fail(where, f"fractions must be strictly increasing, got {fractions}")


def _user(raw: Any, where: str) -> UserDef:
    t = _table(raw, where)
    _check_keys(t, {"email", "role", "display_name"}, {"telegram_user_id"}, where)
    email = _str(t["email"], f"{where}.email")
    if "@" not in email:
        raise _fail(f"{where}.email", f"not an e-mail address: {email!r}")
    tg = t.get("telegram_user_id")
    role = _enum(Role, t["role"], f"{where}.role")
    if role is Role.SERVICE:
        raise _fail(f"{where}.role", "the demo fleet defines people, not service principals")
    return UserDef(
        email=email,
        role=role,
        display_name=_str(t["display_name"], f"{where}.display_name"),
        telegram_user_id=None if tg is None else _int(tg, f"{where}.telegram_user_id"),
    )


_ACCOUNT_REQUIRED = {
    "key",
    "label",
    "owner",
    "persona",
    "initial_balance",
    "broker_login",
    "broker_server",
    "leverage",
    "currency",
}
_ACCOUNT_OPTIONAL = {
    "target_dd_pct",
    "margin_mode",
    "is_demo",
    "dd_warning_pct",
    "dd_critical_pct",
    "daily_loss_limit_pct",
    "max_loss_limit_pct",
    "daily_loss_basis",
    "max_loss_mode",
    "day_reset_tz",
    "day_reset_hour",
    "force_sync_failed",
}


def _account(raw: Any, where: str, personas: Mapping[str, Persona]) -> AccountDef:
    t = _table(raw, where)
    _check_keys(t, _ACCOUNT_REQUIRED, _ACCOUNT_OPTIONAL, where)
    where = f"accounts[{t['key']!r}]"
    persona = _str(t["persona"], f"{where}.persona")
    if persona not in personas:
        raise _fail(f"{where}.persona", f"unknown persona {persona!r} (known: {sorted(personas)})")
    target = t.get("target_dd_pct")
    account = AccountDef(
        key=_str(t["key"], f"{where}.key"),
        label=_str(t["label"], f"{where}.label"),
        owner=_str(t["owner"], f"{where}.owner"),
        persona=persona,
        target_dd_pct=(
            personas[persona].target_dd_pct if target is None else _pct(target, f"{where}.target_dd_pct")
        ),
        initial_balance=_money(t["initial_balance"], f"{where}.initial_balance"),
        currency=_str(t["currency"], f"{where}.currency"),
        broker_login=_int(t["broker_login"], f"{where}.broker_login"),
        broker_server=_str(t["broker_server"], f"{where}.broker_server"),
        leverage=_int(t["leverage"], f"{where}.leverage"),
        margin_mode=_enum(MarginMode, t.get("margin_mode", "hedging"), f"{where}.margin_mode"),
        is_demo=_bool(t.get("is_demo", True), f"{where}.is_demo"),
        dd_warning_pct=_pct(t.get("dd_warning_pct", 10), f"{where}.dd_warning_pct"),
        dd_critical_pct=_pct(t.get("dd_critical_pct", 15), f"{where}.dd_critical_pct"),
        daily_loss_limit_pct=_opt_pct(t, "daily_loss_limit_pct", where),
        max_loss_limit_pct=_opt_pct(t, "max_loss_limit_pct", where),
        daily_loss_basis=_opt_enum(DailyLossBasis, t, "daily_loss_basis", where),
        max_loss_mode=_opt_enum(MaxLossMode, t, "max_loss_mode", where),
        day_reset_tz=_str(t.get("day_reset_tz", "UTC"), f"{where}.day_reset_tz"),
        day_reset_hour=_int(t.get("day_reset_hour", 0), f"{where}.day_reset_hour"),
        force_sync_failed=_bool(t.get("force_sync_failed", False), f"{where}.force_sync_failed"),
    )
    _check_account(account, where)
    return account


def _money(value: Any, where: str) -> Decimal:
    d = _positive(value, where)
    if d != d.quantize(Decimal("0.01")):
        raise _fail(where, f"money must have at most 2 decimal places, got {d}")
    return d.quantize(Decimal("0.01"))


def _opt_pct(t: Table, key: str, where: str) -> Decimal | None:
    return None if key not in t else _pct(t[key], f"{where}.{key}")


def _opt_enum(enum: Callable[[str], T], t: Table, key: str, where: str) -> T | None:
    return None if key not in t else _enum(enum, t[key], f"{where}.{key}")


def _check_account(a: AccountDef, where: str) -> None:
    if a.dd_warning_pct >= a.dd_critical_pct:
        raise _fail(where, "dd_warning_pct must be below dd_critical_pct")
    if len(a.currency) != 3:
        raise _fail(f"{where}.currency", f"expected a 3-letter currency, got {a.currency!r}")
    if not 1 <= a.leverage <= 3000:
        raise _fail(f"{where}.leverage", f"must be within 1..3000, got {a.leverage}")
    if not 0 <= a.day_reset_hour <= 23:
        raise _fail(f"{where}.day_reset_hour", f"must be within 0..23, got {a.day_reset_hour}")
    try:
        ZoneInfo(a.day_reset_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _fail(f"{where}.day_reset_tz", f"unknown time zone {a.day_reset_tz!r}") from exc
    if a.daily_loss_limit_pct is not None and a.daily_loss_basis is None:
        raise _fail(where, "daily_loss_limit_pct needs a daily_loss_basis")
    if a.max_loss_limit_pct is not None and a.max_loss_mode is None:
        raise _fail(where, "max_loss_limit_pct needs a max_loss_mode")


_SYNC_KEYS = {
    "cadence_seconds",
    "window_hours",
    "p_fail",
    "p_open",
    "p_resolve",
    "missing_persist_syncs",
    "duration_median_ms",
    "duration_sigma",
    "tail_syncs",
    "kind_weights",
}


def _syncs(raw: Any) -> SyncParams:
    where = "syncs"
    t = _table(raw, where)
    _check_keys(t, _SYNC_KEYS, set(), where)
    params = SyncParams(
        cadence_seconds=_int(t["cadence_seconds"], f"{where}.cadence_seconds"),
        window_hours=_int(t["window_hours"], f"{where}.window_hours"),
        p_fail=_prob(t["p_fail"], f"{where}.p_fail"),
        p_open=_prob(t["p_open"], f"{where}.p_open"),
        p_resolve=_prob(t["p_resolve"], f"{where}.p_resolve"),
        missing_persist_syncs=_int(t["missing_persist_syncs"], f"{where}.missing_persist_syncs"),
        duration_median_ms=float(_positive(t["duration_median_ms"], f"{where}.duration_median_ms")),
        duration_sigma=_float(t["duration_sigma"], f"{where}.duration_sigma"),
        tail_syncs=_int(t["tail_syncs"], f"{where}.tail_syncs"),
        kind_weights=_weights(t["kind_weights"], f"{where}.kind_weights", DivergenceKind),
    )
    if params.cadence_seconds <= 0 or params.window_hours <= 0:
        raise _fail(where, "cadence_seconds and window_hours must be > 0")
    if params.missing_persist_syncs < 1:
        raise _fail(f"{where}.missing_persist_syncs", "must be >= 1")
    if params.tail_syncs < 3:
        raise _fail(f"{where}.tail_syncs", "must be >= 3 (room for a forced failure and a divergence)")
    if params.duration_sigma < 0:
        raise _fail(f"{where}.duration_sigma", "must be >= 0")
    return params


def _weights(raw: Any, where: str, key_type: Callable[[str], T]) -> Mapping[T, float]:
    t = _table(raw, where)
    weights = {_enum(key_type, k, f"{where} key"): _float(v, f"{where}.{k}") for k, v in t.items()}
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise _fail(where, "weights must be non-negative with a positive sum")
    if not math.isclose(sum(weights.values()), 1.0, abs_tol=1e-9):
        raise _fail(where, f"weights must sum to 1, got {sum(weights.values())}")
    return MappingProxyType(weights)


_POSITION_KEYS = {
    "open_per_account",
    "closed_per_account",
    "side_buy_prob",
    "no_sl_prob",
    "tp_r",
    "platform_magic",
    "external_magic",
    "symbol_weights",
    "lots",
    "sl_distance",
    "slippage",
}


def _positions(raw: Any, instruments: Mapping[str, InstrumentSpec]) -> PositionParams:
    where = "positions"
    t = _table(raw, where)
    _check_keys(t, _POSITION_KEYS, set(), where)
    params = PositionParams(
        open_per_account=_pair(t["open_per_account"], f"{where}.open_per_account", _int),
        closed_per_account=_pair(t["closed_per_account"], f"{where}.closed_per_account", _int),
        side_buy_prob=_prob(t["side_buy_prob"], f"{where}.side_buy_prob"),
        no_sl_prob=_prob(t["no_sl_prob"], f"{where}.no_sl_prob"),
        tp_r=_pair(t["tp_r"], f"{where}.tp_r", _float),
        platform_magic=_int(t["platform_magic"], f"{where}.platform_magic"),
        external_magic=_int(t["external_magic"], f"{where}.external_magic"),
        symbol_weights=_weights(t["symbol_weights"], f"{where}.symbol_weights", _known(instruments)),
        lots=_per_class(t["lots"], f"{where}.lots", _lots),
        sl_distance=_per_class(t["sl_distance"], f"{where}.sl_distance", _distance),
        slippage=_per_class(t["slippage"], f"{where}.slippage", _distance),
    )
    if params.open_per_account[0] < 0 or params.closed_per_account[0] < 0:
        raise _fail(where, "position counts must be >= 0")
    if params.platform_magic == params.external_magic:
        raise _fail(where, "platform_magic must differ from external_magic")
    return params


def _known(instruments: Mapping[str, InstrumentSpec]) -> Callable[[str], str]:
    def check(symbol: str) -> str:
        if symbol not in instruments:
            raise ValueError(symbol)
        return symbol

    return check


def _per_class(raw: Any, where: str, conv: Callable[[Any, str], T]) -> Mapping[AssetClass, T]:
    t = _table(raw, where)
    _check_keys(t, set(ASSET_CLASSES), set(), where)
    return MappingProxyType({c: conv(t[c], f"{where}.{c}") for c in ASSET_CLASSES})


def _lots(raw: Any, where: str) -> DecimalRange:
    lo, hi = _pair(raw, where, _positive)
    return DecimalRange(lo, hi)


def _distance(raw: Any, where: str) -> Distance:
    t = _table(raw, where)
    _check_keys(t, {"range", "unit"}, set(), where)
    lo, hi = _pair(t["range"], f"{where}.range", _dec)
    unit = _str(t["unit"], f"{where}.unit")
    if unit not in DISTANCE_UNITS or lo < 0:
        raise _fail(where, f"unit must be one of {DISTANCE_UNITS} and the range >= 0")
    return Distance(lo, hi, cast(DistanceUnit, unit))


def _equity(raw: Any) -> EquityParams:
    where = "equity"
    t = _table(raw, where)
    _check_keys(t, {"horizon_days", "step_minutes", "balance_close_every_hours"}, set(), where)
    params = EquityParams(
        horizon_days=_int(t["horizon_days"], f"{where}.horizon_days"),
        step_minutes=_int(t["step_minutes"], f"{where}.step_minutes"),
        balance_close_every_hours=_pair(
            t["balance_close_every_hours"], f"{where}.balance_close_every_hours", _float
        ),
    )
    if params.horizon_days <= 0 or params.step_minutes <= 0 or params.n_points < 2:
        raise _fail(where, "horizon_days and step_minutes must give at least 2 points")
    if params.balance_close_every_hours[0] <= 0:
        raise _fail(f"{where}.balance_close_every_hours", "must be > 0")
    return params


# --------------------------------------------------------------------------------------------
# Whole-fleet assembly and cross-checks
# --------------------------------------------------------------------------------------------

_TOP_KEYS = {"schema_version", "equity", "instruments", "personas", "users", "accounts", "syncs", "positions"}


def parse_fleet(data: Table) -> FleetDefinition:
    """Build a validated `FleetDefinition` from an already parsed TOML document."""
    _check_keys(data, _TOP_KEYS, set(), "top level")
    if data["schema_version"] != 1:
        raise _fail("schema_version", f"unsupported version {data['schema_version']!r}")
    instruments = [
        _instrument(r, f"instruments[{i}]") for i, r in enumerate(_list(data["instruments"], "instruments"))
    ]
    _unique([s.symbol for s in instruments], "instruments.symbol")
    personas = {n: _persona(n, r) for n, r in _table(data["personas"], "personas").items()}
    users = [_user(r, f"users[{i}]") for i, r in enumerate(_list(data["users"], "users"))]
    accounts = [
        _account(r, f"accounts[{i}]", personas) for i, r in enumerate(_list(data["accounts"], "accounts"))
    ]
    by_symbol = {s.symbol: s for s in instruments}
    fleet = FleetDefinition(
        instruments=MappingProxyType(by_symbol),
        personas=MappingProxyType(personas),
        accounts=tuple(accounts),
        users=tuple(users),
        syncs=_syncs(data["syncs"]),
        positions=_positions(data["positions"], by_symbol),
        equity=_equity(data["equity"]),
    )
    _cross_check(fleet)
    return fleet


def _cross_check(fleet: FleetDefinition) -> None:
    if not fleet.instruments or not fleet.personas or not fleet.accounts:
        raise _fail("top level", "instruments, personas and accounts must not be empty")
    _unique([u.email for u in fleet.users], "users.email")
    _unique([u.telegram_user_id for u in fleet.users if u.telegram_user_id is not None], "users.telegram")
    _unique([a.key for a in fleet.accounts], "accounts.key")
    _unique([(a.broker_server, a.broker_login) for a in fleet.accounts], "accounts.(server, login)")
    roles = {u.email: u.role for u in fleet.users}
    for a in fleet.accounts:
        if roles.get(a.owner) is not Role.TRADER:
            raise _fail(f"accounts[{a.key!r}].owner", f"{a.owner!r} is not a trader defined in [[users]]")
    if not any(u.role is Role.ADMIN for u in fleet.users):
        raise _fail("users", "the demo needs at least one admin")
    if sum(a.force_sync_failed for a in fleet.accounts) > 1:
        raise _fail("accounts", "force_sync_failed is meant for a single account")


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
