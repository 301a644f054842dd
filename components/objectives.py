"""The prop-challenge objectives of one account, as a live panel: a pass / fail / in-progress badge
(its words say it, the colour only repeats them), the profit target's progress, the room left to
the daily and the max loss floors in money and in % of their allowance, the trading days done of
the minimum and the days left.

Self-contained: `ObjectivesPanel(live, account_id)` builds its card where it is called and reads
its own data, so any page showing an account can add it in one line. An account without a
challenge shows one line saying so; in the past view (`live.at`) the panel says that objectives
are computed for now only (they depend on the clock: days left, time out)."""

from __future__ import annotations

from decimal import Decimal

from nicegui import ui

from components.cards import MUTED, heading, set_text
from components.live import LivePage, LivePanel
from dashboard.cache.base_queries import Cached
from dashboard.domain.numbers import display_pct
from dashboard.domain.prop_challenge import ChallengeState, FailReason
from dashboard.schemas.objectives import AccountObjectives, Objectives
from dashboard.services.errors import Conflict, NotFound

#: The badge per state: words first (not colour alone), dark text on a light tint (>= 7:1).
BADGES = {
    ChallengeState.IN_PROGRESS: ("In progress", "bg-blue-100 text-blue-900"),
    ChallengeState.PASSED: ("Passed", "bg-green-100 text-green-900"),
    ChallengeState.FAILED: ("Failed", "bg-red-100 text-red-900"),
}
BADGE_BASE = "px-2 py-0.5 rounded text-sm font-semibold"
REASONS = {
    FailReason.DAILY_LOSS: "daily loss limit breached",
    FailReason.MAX_LOSS: "max loss limit breached",
    FailReason.TIME: "time ran out before the objectives were met",
}
PAST_VIEW = "Objectives are computed for now only; open the live page to see them."
NO_CHALLENGE = "No prop challenge on this account."

Fetched = Cached[AccountObjectives] | str


def _money(value: Decimal, currency: str) -> str:
    return f"{value:,.2f} {currency}"


def _pct(value: Decimal) -> str:
    return f"{display_pct(value)} %"


def _fraction(value: Decimal) -> float:
    """A bar's fill in [0, 1] (drawing only; the label shows the exact number)."""
    return float(min(Decimal(1), max(Decimal(0), value / 100)))


def room_color(room_pct: Decimal) -> str:
    """Little room left is red, some amber, plenty green (the text says how much)."""
    if room_pct <= 20:
        return "negative"
    if room_pct <= 40:
        return "warning"
    return "positive"


def badge_text(o: Objectives) -> str:
    words, _ = BADGES[o.state]
    if o.state is ChallengeState.FAILED and o.fail_reason is not None:
        return f"{words}: {REASONS[o.fail_reason]}"
    return words


def target_text(o: Objectives) -> str:
    done = " (reached)" if o.target_reached else ""
    return (
        f"Profit target {_pct(o.profit_target_pct)}: {_money(o.profit, o.currency)} of "
        f"{_money(o.target_amount, o.currency)} closed ({_pct(o.progress_pct)}){done}"
    )


def daily_text(o: Objectives) -> str:
    return (
        f"Daily loss room: {_money(o.daily_room, o.currency)} ({_pct(o.daily_room_pct)} of the "
        f"{_money(o.daily_allowance, o.currency)} allowance) · floor {_money(o.daily_floor, o.currency)}"
    )


def max_text(o: Objectives) -> str:
    return (
        f"Max loss room: {_money(o.max_room, o.currency)} ({_pct(o.max_room_pct)} of the "
        f"{_money(o.max_allowance, o.currency)} allowance) · {o.max_loss_mode.value.replace('_', ' ')} "
        f"floor {_money(o.max_floor, o.currency)}"
    )


def days_text(o: Objectives) -> str:
    if o.min_trading_days:
        missing = o.min_trading_days - o.trading_days
        more = f" ({missing} more needed)" if missing > 0 else " (done)"
        trading = f"Trading days: {o.trading_days} of {o.min_trading_days}{more}"
    else:
        trading = f"Trading days: {o.trading_days} (no minimum)"
    if o.days_left is None or o.max_days is None:
        return f"{trading} · day {o.day_number}, no time limit"
    left = "1 day left (the last)" if o.days_left == 1 else f"{o.days_left} days left"
    return f"{trading} · {left} · day {min(o.day_number, o.max_days)} of {o.max_days}"


class ObjectivesPanel(LivePanel[Fetched]):
    """One account's challenge: `ObjectivesPanel(live, account_id)` where it should appear."""

    def __init__(self, live: LivePage, account_id: int, title: str = "Prop challenge") -> None:
        super().__init__(live)
        self.account_id = account_id
        self.name = f"objectives-{account_id}"
        n = account_id
        card = ui.card().classes("w-full max-w-2xl gap-1").mark(f"objectives-{n}")
        with card.props(f'data-testid="objectives-{n}"'):
            with ui.row().classes("items-center gap-3 w-full"):
                heading(title)
                self.badge = ui.label("–").classes(BADGE_BASE).mark(f"objectives-state-{n}")
                self.badge.props(f'role="status" data-testid="objectives-state-{n}"')
            self.note = ui.label("").classes(f"text-sm {MUTED}").mark(f"objectives-note-{n}")
            with ui.column().classes("w-full gap-1") as self.body:
                self.target = ui.label("").classes("text-sm").mark(f"objectives-target-{n}")
                self.target_bar = self._bar("Profit target progress", f"objectives-target-bar-{n}")
                self.daily = ui.label("").classes("text-sm").mark(f"objectives-daily-{n}")
                self.daily_bar = self._bar("Daily loss room left", f"objectives-daily-bar-{n}")
                self.max = ui.label("").classes("text-sm").mark(f"objectives-max-{n}")
                self.max_bar = self._bar("Max loss room left", f"objectives-max-bar-{n}")
                self.days = ui.label("").classes("text-sm").mark(f"objectives-days-{n}")
            self.body.set_visibility(False)
            live.add(self)

    @staticmethod
    def _bar(name: str, marker: str) -> ui.linear_progress:
        bar = ui.linear_progress(value=0, show_value=False, size="10px").mark(marker)
        return bar.props(f'rounded aria-label="{name}" track-color="grey-4"')

    async def fetch(self) -> Fetched:
        if self.live.at is not None:
            return PAST_VIEW
        try:
            return await self.live.runtime.queries.account_objectives(
                self.live.principal.viewer, self.account_id
            )
        except NotFound:
            return "This account is not visible to you."
        except Conflict as error:
            return str(error)

    def show(self, data: Fetched) -> None:
        o = data.model.objectives if isinstance(data, Cached) else None
        if o is None:
            set_text(self.note, data if isinstance(data, str) else NO_CHALLENGE)
            self.note.set_visibility(True)
            self.body.set_visibility(False)
            self.badge.set_visibility(False)
            return
        self.note.set_visibility(False)
        self.body.set_visibility(True)
        self.badge.set_visibility(True)
        _, colours = BADGES[o.state]
        if set_text(self.badge, badge_text(o)):
            self.badge.classes(replace=f"{BADGE_BASE} {colours}")
        set_text(self.target, target_text(o))
        self._fill(self.target_bar, o.progress_pct, "positive" if o.target_reached else "primary")
        set_text(self.daily, daily_text(o))
        self._fill(self.daily_bar, o.daily_room_pct, room_color(o.daily_room_pct))
        set_text(self.max, max_text(o))
        self._fill(self.max_bar, o.max_room_pct, room_color(o.max_room_pct))
        set_text(self.days, days_text(o))

    @staticmethod
    def _fill(bar: ui.linear_progress, value_pct: Decimal, color: str) -> None:
        fraction = _fraction(value_pct)
        if bar.value != fraction:
            bar.set_value(fraction)
        if bar.props.get("color") != color:
            bar.props(f"color={color}")
