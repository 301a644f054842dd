"""How the demo trades: one fill's recipe, shared by the seed and the live simulator (docs/domain.md §5.4).

The seeded week and the simulator's live fills draw symbols, lots, slippage and stops with the very
same functions and fleet parameters, so a position opened while the demo runs looks like one from
the seeded history, and used margin is computed one way for both.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from dashboard.demo.fleet import FleetDefinition
from dashboard.demo.prices import Quote
from dashboard.domain.enums import Side
from dashboard.domain.instruments import InstrumentSpec
from dashboard.domain.numbers import money, round_price
from dashboard.domain.pnl import conversion_rate

__all__ = ["Fill", "draw_distance", "draw_fill", "draw_symbol", "lot_scale", "margin_of"]

# Lots in the fleet are per §5.4 for a 100k account; smaller accounts trade proportionally smaller,
# otherwise a 10k "calm" account holding 2 lots of XAUUSD would swing 10 % an hour in the simulator.
LOT_SCALE_BALANCE = Decimal(100_000)
MIN_LOT_SCALE = Decimal("0.1")


@dataclass(frozen=True)
class Fill:
    volume: Decimal
    requested_price: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None


def lot_scale(balance: Decimal) -> Decimal:
    return min(Decimal(1), max(MIN_LOT_SCALE, balance / LOT_SCALE_BALANCE))


def draw_symbol(fleet: FleetDefinition, rng: random.Random) -> str:
    weights = fleet.positions.symbol_weights
    symbols = sorted(weights)
    return rng.choices(symbols, weights=[weights[s] for s in symbols])[0]


def draw_distance(
    fleet: FleetDefinition, symbol: str, which: str, price: Decimal, rng: random.Random
) -> Decimal:
    """An SL ("sl") or slippage ("slippage") distance in price units, from the §5.4 ranges."""
    spec = fleet.instruments[symbol]
    table = fleet.positions.sl_distance if which == "sl" else fleet.positions.slippage
    dist = table[spec.asset_class]
    amount = Decimal(str(rng.uniform(float(dist.lo), float(dist.hi))))
    if dist.unit == "pip":
        value = amount * spec.pip
    elif dist.unit == "pct":
        value = price * amount / 100
    else:
        value = amount
    return round_price(value, spec.digits)


def draw_fill(
    fleet: FleetDefinition, symbol: str, side: Side, quote: Quote, scale: Decimal, rng: random.Random
) -> Fill:
    """Lots, slippage and stops of one fill (§5.4); about `no_sl_prob` of fills carry no SL."""
    p, spec = fleet.positions, fleet.instruments[symbol]
    lots = p.lots[spec.asset_class]
    raw = Decimal(str(rng.uniform(float(lots.lo), float(lots.hi)))) * scale
    volume = max(spec.volume_step, (raw / spec.volume_step).to_integral_value() * spec.volume_step)
    sign = 1 if side is Side.BUY else -1
    requested = quote.ask if side is Side.BUY else quote.bid
    slip = draw_distance(fleet, symbol, "slippage", requested, rng)
    price_open = round_price(requested + sign * slip, spec.digits)
    distance = max(draw_distance(fleet, symbol, "sl", price_open, rng), spec.point * 10)
    r_multiple = Decimal(str(round(rng.uniform(*p.tp_r), 2)))
    sl = None if rng.random() < p.no_sl_prob else round_price(price_open - sign * distance, spec.digits)
    tp = round_price(price_open + sign * distance * r_multiple, spec.digits)
    return Fill(volume.quantize(Decimal("0.01")), requested, price_open, sl, tp)


def margin_of(
    positions: Iterable[tuple[str, Decimal]],
    specs: dict[str, InstrumentSpec],
    mids: dict[str, Decimal],
    currency: str,
    leverage: int,
) -> Decimal:
    """Used margin: Σ lots × contract × mid × (quote→account rate) / leverage (CFD/forex formula)."""
    total = Decimal(0)
    for symbol, volume in positions:
        spec = specs[symbol]
        rate = conversion_rate(spec.quote_ccy, currency, mids)
        total += volume * spec.contract_size * mids[symbol] * rate
    return money(total / leverage)
