"""Balance, equity and margin arithmetic (docs/domain.md §2.2).

In live mode MT5's own `equity`/`margin` are stored; these functions recompute them for demo mode
and as a consistency check, so they must agree with the broker's definitions to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from dashboard.domain.instruments import FX, InstrumentSpec
from dashboard.domain.numbers import DomainError, display_pct, money, to_decimal

__all__ = ["equity", "floating_pnl", "free_margin", "margin_level", "margin_required"]


def floating_pnl(amounts: Iterable[Decimal | int | str]) -> Decimal:
    """Sum of per-position profit and swap (and close-time commission, negative) in account ccy."""
    return money(sum((to_decimal(a) for a in amounts), Decimal(0)))


def equity(
    balance: Decimal | int | str, floating: Decimal | int | str, credit: Decimal | int | str = Decimal(0)
) -> Decimal:
    """Equity = balance + credit + floating P&L (MT5's "balance + profit + credit")."""
    return money(to_decimal(balance) + to_decimal(credit) + to_decimal(floating))


def margin_required(
    spec: InstrumentSpec,
    volume: Decimal | int | str,
    price: Decimal | int | str,
    leverage: int,
    base_to_account_rate: Decimal | int | str,
) -> Decimal:
    """Initial margin in account currency.

    Forex: lots × contract / leverage, which is in the BASE currency, so `base_to_account_rate`
    converts base -> account (EURUSD on a USD account: × EURUSD mid).
    CFD / metal / index / crypto: lots × contract × price / leverage, which is in the QUOTE (margin)
    currency, so for these the same argument is the quote -> account rate (1 for USD-quoted).
    `price` is ignored for forex but still validated, so callers cannot pass garbage unnoticed.
    """
    lots, px, rate = to_decimal(volume), to_decimal(price), to_decimal(base_to_account_rate)
    if lots <= 0:
        raise DomainError(f"volume must be > 0, got {lots}")
    if px <= 0:
        raise DomainError(f"price must be > 0, got {px}")
    if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage <= 0:
        raise DomainError(f"leverage must be a positive int, got {leverage!r}")
    if rate <= 0:
        raise DomainError(f"conversion rate must be > 0, got {rate}")
    notional = lots * spec.contract_size
    if spec.asset_class != FX:
        notional *= px
    return money(notional / leverage * rate)


def free_margin(equity_value: Decimal | int | str, margin: Decimal | int | str) -> Decimal:
    """Free margin = equity − margin (may be negative when margin exceeds equity)."""
    return money(to_decimal(equity_value) - to_decimal(margin))


def margin_level(equity_value: Decimal | int | str, margin: Decimal | int | str) -> Decimal | None:
    """Margin level % = equity / margin × 100 at 2 dp, or None with no margin used.

    None (not 0 and not infinity) because MT5 itself reports 0 for "undefined", which a guard would
    otherwise read as "below stop-out".
    """
    eq, mg = to_decimal(equity_value), to_decimal(margin)
    if mg < 0:
        raise DomainError(f"margin must be >= 0, got {mg}")
    if mg == 0:
        return None
    return display_pct(eq / mg * 100)
