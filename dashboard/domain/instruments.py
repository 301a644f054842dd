"""Instrument specifications, broker-symbol normalisation and GBM volatility scaling.

Broker symbols carry suffixes and aliases (`EURUSD.r`, `XAUUSDm`, `GOLD`); everything downstream
(P&L, reconciliation, guards) keys on one canonical name, so normalisation lives here, once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Context, Decimal

from dashboard.domain.numbers import DomainError, quantum, to_decimal

__all__ = [
    "DEFAULT_ALIASES",
    "DEMO_INSTRUMENTS",
    "DEMO_START_PRICES",
    "FX",
    "InstrumentSpec",
    "daily_sigma",
    "normalise_symbol",
    "sigma_step",
]

FX = "fx"
METAL = "metal"
INDEX = "index"
CRYPTO = "crypto"

_SQRT_CONTEXT = Context(prec=34)
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class InstrumentSpec:
    """What the domain needs to know about a symbol (mirrors the `instruments` table).

    Numeric fields are coerced through `to_decimal` so a spec built from DB rows or strings is
    exact, and a float in a spec fails loudly at construction instead of inside a P&L sum.
    """

    symbol: str
    asset_class: str
    contract_size: Decimal
    digits: int
    volume_step: Decimal
    quote_ccy: str
    typical_spread: Decimal
    annual_vol: Decimal
    trading_days: int = 252

    def __post_init__(self) -> None:
        for name in ("contract_size", "volume_step", "typical_spread", "annual_vol"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        if not self.symbol:
            raise DomainError("instrument symbol must not be empty")
        if not self.asset_class:
            raise DomainError(f"{self.symbol}: asset_class must not be empty")
        object.__setattr__(self, "asset_class", self.asset_class.lower())
        object.__setattr__(self, "quote_ccy", self.quote_ccy.upper())
        if self.contract_size <= 0:
            raise DomainError(f"{self.symbol}: contract_size must be > 0")
        if not 0 <= self.digits <= 10:
            raise DomainError(f"{self.symbol}: digits must be within 0..10")
        if self.volume_step <= 0:
            raise DomainError(f"{self.symbol}: volume_step must be > 0")
        if self.typical_spread < 0 or self.annual_vol < 0:
            raise DomainError(f"{self.symbol}: typical_spread and annual_vol must be >= 0")
        if not 1 <= self.trading_days <= 366:
            raise DomainError(f"{self.symbol}: trading_days must be within 1..366")
        if len(self.quote_ccy) != 3:
            raise DomainError(f"{self.symbol}: quote_ccy must be a 3-letter code")

    @property
    def point(self) -> Decimal:
        """Smallest price increment, 10**-digits (0.00001 for 5-digit FX)."""
        return quantum(self.digits)

    @property
    def base_ccy(self) -> str | None:
        """Base currency for FX pairs (needed for forex margin); None for CFDs."""
        return self.symbol[:3] if self.asset_class == FX else None

    def sigma_step(self, step_seconds: Decimal | int | str) -> Decimal:
        """This instrument's per-step GBM sigma (see `sigma_step`)."""
        return sigma_step(self.annual_vol, step_seconds, self.trading_days)


def _spec(
    symbol: str,
    asset_class: str,
    contract: str,
    digits: int,
    quote: str,
    spread: str,
    vol: str,
    days: int = 252,
) -> InstrumentSpec:
    return InstrumentSpec(
        symbol=symbol,
        asset_class=asset_class,
        contract_size=Decimal(contract),
        digits=digits,
        volume_step=Decimal("0.01"),
        quote_ccy=quote,
        typical_spread=Decimal(spread),
        annual_vol=Decimal(vol),
        trading_days=days,
    )


#: docs/domain.md §5.2 calm-regime calibration. Contract sizes are broker-specific; live mode should load
#: the broker's own values into the `instruments` table.
DEMO_INSTRUMENTS: dict[str, InstrumentSpec] = {
    s.symbol: s
    for s in (
        _spec("EURUSD", FX, "100000", 5, "USD", "0.00008", "0.07"),
        _spec("GBPUSD", FX, "100000", 5, "USD", "0.00012", "0.08"),
        _spec("USDJPY", FX, "100000", 3, "JPY", "0.012", "0.09"),
        _spec("XAUUSD", METAL, "100", 2, "USD", "0.25", "0.15"),
        _spec("US30", INDEX, "1", 1, "USD", "2.0", "0.15"),
        _spec("NAS100", INDEX, "1", 1, "USD", "1.5", "0.22"),
        _spec("GER40", INDEX, "1", 1, "EUR", "1.5", "0.16"),
        _spec("BTCUSD", CRYPTO, "1", 2, "USD", "30.0", "0.60", 365),
    )
}

#: docs/domain.md §5.2 starting mids for the demo price paths.
DEMO_START_PRICES: dict[str, Decimal] = {
    "EURUSD": Decimal("1.08500"),
    "GBPUSD": Decimal("1.27000"),
    "USDJPY": Decimal("155.000"),
    "XAUUSD": Decimal("2350.00"),
    "US30": Decimal("39000.0"),
    "NAS100": Decimal("18000.0"),
    "GER40": Decimal("18000.0"),
    "BTCUSD": Decimal("60000.00"),
}

#: Common broker aliases -> canonical symbol. Callers may extend/override per broker.
DEFAULT_ALIASES: dict[str, str] = {
    "GOLD": "XAUUSD",
    "SILVER": "XAGUSD",
    "USTEC": "NAS100",
    "US100": "NAS100",
    "NAS": "NAS100",
    "NDX100": "NAS100",
    "DJ30": "US30",
    "WS30": "US30",
    "DOW": "US30",
    "DE40": "GER40",
    "DAX40": "GER40",
    "GER30": "GER40",
    "DE30": "GER40",
    "BITCOIN": "BTCUSD",
    "XBTUSD": "BTCUSD",
}

_SEPARATORS = re.compile(r"[.\-_#+!@ ]")
_LOWER_SUFFIX = re.compile(r"^(?P<base>[A-Z0-9]{3,})[a-z]+$")


def normalise_symbol(raw: str, aliases: Mapping[str, str] | None = None) -> str:
    """Canonical symbol for a broker symbol.

    Rules: trim; cut at the first separator (`EURUSD.r`, `EURUSD-ECN`, `US30.cash`); drop a trailing
    run of lowercase letters after an uppercase root (`XAUUSDm`, `EURUSDpro`); uppercase; then map
    aliases. `aliases` is merged over `DEFAULT_ALIASES` (caller wins), and is looked up both for the
    full upper-cased symbol and for the stripped root, so a broker-specific full name can be mapped.
    """
    if not isinstance(raw, str):
        raise TypeError(f"symbol must be str, got {type(raw).__name__}")
    text = raw.strip()
    if not text:
        raise DomainError("empty symbol")
    table = {k.upper(): v.upper() for k, v in DEFAULT_ALIASES.items()}
    if aliases:
        table.update({k.strip().upper(): v.strip().upper() for k, v in aliases.items()})
    if text.upper() in table:
        return table[text.upper()]
    root = _SEPARATORS.split(text, maxsplit=1)[0]
    match = _LOWER_SUFFIX.match(root)
    if match:
        root = match.group("base")
    root = root.upper()
    if not root:
        raise DomainError(f"cannot normalise symbol {raw!r}")
    return table.get(root, root)


def sigma_step(
    annual_vol: Decimal | int | str, step_seconds: Decimal | int | str, trading_days: int = 252
) -> Decimal:
    """GBM sigma for one step: sigma_annual * sqrt(step / (trading_days * 86 400)) (docs/domain.md §5.2).

    Computed with Decimal.sqrt at 34 digits so the docs/domain.md §6.8 reference (1.1620e-4) is reproducible
    bit for bit instead of depending on float libm.
    """
    vol = to_decimal(annual_vol)
    step = to_decimal(step_seconds)
    if vol < 0 or step <= 0 or trading_days <= 0:
        raise DomainError("annual_vol must be >= 0, step_seconds and trading_days > 0")
    year_seconds = Decimal(trading_days) * SECONDS_PER_DAY
    return vol * (step / year_seconds).sqrt(_SQRT_CONTEXT)


def daily_sigma(annual_vol: Decimal | int | str, trading_days: int = 252) -> Decimal:
    """Daily sigma as a fraction: sigma_annual / sqrt(trading_days) (×100 for %)."""
    vol = to_decimal(annual_vol)
    if vol < 0 or trading_days <= 0:
        raise DomainError("annual_vol must be >= 0 and trading_days > 0")
    return vol / Decimal(trading_days).sqrt(_SQRT_CONTEXT)
