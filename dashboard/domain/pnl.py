"""Unrealised P&L with contract size and quote->account conversion (docs/domain.md §2.3).

MT5 uses one profit formula for Forex, CFD, CFD-index and CFD-leverage symbols; exchange futures
(tick_value / tick_size) are out of scope because no demo or target broker symbol uses them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from dashboard.domain.enums import Side
from dashboard.domain.numbers import DomainError, money, to_decimal

__all__ = ["close_price", "conversion_rate", "convert", "position_profit"]


def close_price(side: Side, bid: Decimal | int | str, ask: Decimal | int | str) -> Decimal:
    """The price a position would close at: a BUY sells at the bid, a SELL buys back at the ask."""
    b, a = to_decimal(bid), to_decimal(ask)
    if b <= 0 or a < b:
        raise DomainError(f"invalid quote bid={b} ask={a}")
    return b if Side(side) is Side.BUY else a


def _rate_lookup(quote_ccy: str, account_ccy: str, mids: Mapping[str, Decimal]) -> tuple[Decimal, bool]:
    """(mid, invert) for the pair that links the two currencies, or DomainError."""
    q, acct = quote_ccy.upper(), account_ccy.upper()
    direct = mids.get(q + acct)
    if direct is not None:
        mid, invert = to_decimal(direct), False
    else:
        indirect = mids.get(acct + q)
        if indirect is None:
            raise DomainError(f"no conversion from {q} to {acct}: need a {q}{acct} or {acct}{q} mid")
        mid, invert = to_decimal(indirect), True
    if mid <= 0:
        raise DomainError(f"non-positive conversion mid for {q}/{acct}: {mid}")
    return mid, invert


def conversion_rate(quote_ccy: str, account_ccy: str, mids: Mapping[str, Decimal]) -> Decimal:
    """Multiplier from the quote currency to the account currency.

    Uses the QUOTEACCT mid directly (EUR->USD: × EURUSD) or the inverse of ACCTQUOTE
    (JPY->USD: ÷ USDJPY). Cross rates through a third currency are deliberately not guessed.
    Prefer `convert` for amounts: it divides directly instead of multiplying by a rounded inverse.
    """
    if quote_ccy.upper() == account_ccy.upper():
        return Decimal(1)
    mid, invert = _rate_lookup(quote_ccy, account_ccy, mids)
    return Decimal(1) / mid if invert else mid


def convert(
    amount: Decimal | int | str, quote_ccy: str, account_ccy: str, mids: Mapping[str, Decimal]
) -> Decimal:
    """Convert an amount to the account currency (unrounded), dividing for inverse pairs."""
    value = to_decimal(amount)
    if quote_ccy.upper() == account_ccy.upper():
        return value
    mid, invert = _rate_lookup(quote_ccy, account_ccy, mids)
    return value / mid if invert else value * mid


def position_profit(
    side: Side,
    volume: Decimal | int | str,
    price_open: Decimal | int | str,
    price_close: Decimal | int | str,
    contract_size: Decimal | int | str,
    rate: Decimal | int | str,
) -> Decimal:
    """Profit in account currency, rounded to cents only at the end.

    profit = ±(close − open) × contract_size × lots × rate; rounding once, after conversion, is what
    reproduces §6.5 (USDJPY +641.03): rounding the JPY amount first would drift on other prices.
    """
    lots, p_open, p_close = to_decimal(volume), to_decimal(price_open), to_decimal(price_close)
    contract, fx = to_decimal(contract_size), to_decimal(rate)
    if lots <= 0:
        raise DomainError(f"volume must be > 0, got {lots}")
    if p_open <= 0 or p_close <= 0:
        raise DomainError(f"prices must be > 0 (open={p_open}, close={p_close})")
    if contract <= 0:
        raise DomainError(f"contract_size must be > 0, got {contract}")
    if fx <= 0:
        raise DomainError(f"conversion rate must be > 0, got {fx}")
    move = p_close - p_open if Side(side) is Side.BUY else p_open - p_close
    return money(move * contract * lots * fx)
