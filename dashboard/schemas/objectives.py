"""Read model: an account's prop-challenge objectives (`dashboard.domain.prop_challenge`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from dashboard.domain.enums import DailyLossBasis, MaxLossMode
from dashboard.domain.prop_challenge import ChallengeState, FailReason
from dashboard.schemas.common import ReadModel


class Objectives(ReadModel):
    """Where one account's challenge stands. Money in the account's currency at 2 dp, percentages
    at 4 dp; a room is `equity − floor` (0 when below) and its % is of the loss allowance."""

    account_id: int
    currency: str
    state: ChallengeState
    #: Why it failed (a floor breached now or recorded since the start, or time out); None otherwise.
    fail_reason: FailReason | None
    #: The earliest breach recorded since the start (a guard event), which keeps it failed.
    breached_at: datetime | None
    started_at: datetime
    #: The reset that begins the first day after the challenge; None without a time limit.
    ends_at: datetime | None
    initial_balance: Decimal
    balance: Decimal
    equity: Decimal
    #: The equity snapshot the money figures come from (None before the first one).
    equity_at: datetime | None
    # profit target (closed P&L: the balance)
    profit_target_pct: Decimal
    target_amount: Decimal
    target_balance: Decimal
    profit: Decimal
    progress_pct: Decimal
    target_reached: bool
    # daily loss
    daily_loss_limit_pct: Decimal
    daily_loss_basis: DailyLossBasis
    daily_reference: Decimal
    daily_floor: Decimal
    daily_allowance: Decimal
    daily_room: Decimal
    daily_room_pct: Decimal
    daily_breached: bool
    # max loss
    max_loss_limit_pct: Decimal
    max_loss_mode: MaxLossMode
    max_floor: Decimal
    max_allowance: Decimal
    max_room: Decimal
    max_room_pct: Decimal
    max_breached: bool
    # days (broker days in the reset zone)
    day_reset_tz: str
    day_reset_hour: int
    first_day: date
    day_number: int
    trading_days: int
    min_trading_days: int
    max_days: int | None
    days_left: int | None


class AccountObjectives(ReadModel):
    """One visible account's objectives; `objectives` is None when it runs no challenge (its loss
    rule, profit target or start is not set)."""

    account_id: int
    objectives: Objectives | None
    as_of: datetime


class ObjectiveAccounts(ReadModel):
    """The visible accounts that run a challenge (ids, ascending): where a page puts panels."""

    account_ids: list[int]
    as_of: datetime
