"""Live demo simulator: keeps every panel moving by playing a fake MT5 bridge.

Why through the ingestion services only: the simulator is the end-to-end exercise of the writing
side. Quotes, equity, fills and broker snapshots go in exactly as a real bridge would send them
(`record_quotes`, `record_equity`, `record_position_opened`, `record_sync`), so the market guards,
the risk projection, reconciliation and every counter are maintained by production code, and a
demo that looks right is evidence that the services are right. The module only *reads* the
database directly, once, to initialise its in-memory world.

The world is a fake broker: one `PriceWalker` per symbol (continuing from the stored quotes) and a
"broker book" per account (initialised from the local open positions). The broker closes positions
on SL/TP, the platform occasionally opens one, and syncs report what the broker holds, with the
occasional injected divergence or failed query, so the reconciliation panel has something to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import func, select

from dashboard.cache.writer import Writer
from dashboard.db.models import (
    AccountRiskState,
    DivergenceIncident,
    MarketState,
    Position,
    TradingAccount,
    User,
)
from dashboard.db.outage import DatabaseUnavailable
from dashboard.demo.fleet import FleetDefinition, derive_rng, load_fleet
from dashboard.demo.prices import PriceWalker, Quote
from dashboard.demo.sync_outcomes import FAILED_SYNC_ERRORS
from dashboard.demo.trading import draw_distance, draw_fill, draw_symbol, lot_scale, margin_of
from dashboard.domain.enums import AccountStatus, DealReason, MarginMode, PositionStatus, Side, SyncEventType
from dashboard.domain.instruments import InstrumentSpec
from dashboard.domain.numbers import money, round_price
from dashboard.domain.pnl import close_price, conversion_rate, position_profit
from dashboard.domain.swaps import swap_for
from dashboard.services.errors import ServiceError
from dashboard.services.ingestion.common import instrument_specs
from dashboard.services.ingestion.equity import record_equity
from dashboard.services.ingestion.positions import record_position_opened
from dashboard.services.ingestion.quotes import record_quotes
from dashboard.services.ingestion.sync import record_sync

__all__ = ["Simulator", "TickReport"]

log = logging.getLogger(__name__)

MAX_STEP_S = 300.0  # a restart hours later moves prices one 5-minute step, not one 5-hour jump
MIN_STEP = timedelta(milliseconds=1)
DEAL_MEMORY = timedelta(minutes=10)  # exit deals are re-reported until the local book caught up
# How long a stopping simulator lets the tick in progress finish.
STOP_GRACE_S = 5.0
EQUITY_EVERY = timedelta(minutes=1)
MAX_OPEN_PER_ACCOUNT = 6  # the seed's range is 0–6 open per account (docs/domain.md §5.4)
DURATION_MEDIAN_MS = 120.0


@dataclass
class BookPosition:
    """One position as the (fake) broker holds it."""

    identifier: int
    ticket: int
    symbol: str
    side: Side
    volume: Decimal
    price_open: Decimal
    sl: Decimal | None
    tp: Decimal | None
    magic: int
    opened_at: datetime
    swap: Decimal = Decimal("0.00")


@dataclass
class AccountBook:
    """The broker's side of one account, plus the simulator's bookkeeping for it."""

    account_id: int
    currency: str
    leverage: int
    platform_magic: int
    balance: Decimal
    phase_s: float
    next_identifier: int
    lot_scale: Decimal
    last_sync_at: datetime | None
    hedging: bool
    positions: dict[int, BookPosition] = field(default_factory=dict)
    deals: list[dict[str, Any]] = field(default_factory=list)
    synced_once: bool = False
    # The last equity snapshot written (a bridge reports once a minute, and at every fill).
    last_equity_at: datetime | None = None

    def new_identifier(self, rng: random.Random) -> int:
        self.next_identifier += rng.randint(1, 20)
        return self.next_identifier


@dataclass
class World:
    """Everything the simulator keeps in memory between ticks."""

    walkers: dict[str, PriceWalker]
    specs: dict[str, InstrumentSpec]
    books: list[AccountBook]
    last_now: datetime
    quotes: dict[str, Quote] = field(default_factory=dict)

    def mids(self) -> dict[str, Decimal]:
        return {symbol: quote.mid for symbol, quote in self.quotes.items()}


@dataclass(frozen=True)
class TickReport:
    """What one tick wrote."""

    at: datetime
    quotes: int
    equity_snapshots: int
    syncs: int
    positions_opened: int
    guard_events: int
    seconds: float
    positions_closed: int = 0
    divergences_injected: int = 0
    failed_syncs: int = 0

    def line(self) -> str:
        return (
            f"{self.at:%H:%M:%S} quotes={self.quotes} equity={self.equity_snapshots} syncs={self.syncs}"
            f" (failed {self.failed_syncs}, injected {self.divergences_injected})"
            f" opened={self.positions_opened} closed={self.positions_closed}"
            f" guard_events={self.guard_events} {self.seconds * 1000:.0f} ms"
        )


@dataclass
class _Tally:
    equity: int = 0
    syncs: int = 0
    opened: int = 0
    closed: int = 0
    guard_events: int = 0
    injected: int = 0
    failed: int = 0


class Simulator:
    """Plays the bridge for every demo account. `tick()` once, or `run_forever()` in a task.

    `seed` makes a run reproducible (tests); `clock` replaces the wall clock for `run_forever`.
    """

    def __init__(
        self,
        write: Writer,
        interval_s: float = 3.0,
        seed: int | None = None,
        *,
        fleet: FleetDefinition | None = None,
        clock: Callable[[], datetime] | None = None,
        p_open: float = 0.02,
        p_close: float = 0.01,
        p_divergence: float = 0.02,
        p_failure: float = 0.005,
        equity_every: timedelta = EQUITY_EVERY,
    ) -> None:
        # Every write goes through the app's one write path, batched per tick: one invalidation
        # for the tick's writes (each account's write touches the all-seeing scope, so a dozen
        # separate invalidations reloaded the risk users' views a dozen times a tick).
        self.write = write
        self._batch = write
        self.db = write.db
        self.interval_s = interval_s
        self.fleet = fleet or load_fleet()
        self._seed = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self.rng = derive_rng(self._seed, "simulator")
        self._clock = clock or (lambda: datetime.now(UTC))
        self.p_open, self.p_close = p_open, p_close
        self.p_divergence, self.p_failure = p_divergence, p_failure
        self.cadence = timedelta(seconds=self.fleet.syncs.cadence_seconds)
        self.equity_every = equity_every
        self._world: World | None = None

    # ---------------------------------------------------------------- loop

    async def run_forever(self, max_ticks: int | None = None, verbose: bool = False) -> None:
        """Tick every `interval_s` until cancelled (or `max_ticks`).

        A failing tick is logged (once per distinct message, so a DB outage does not flood the log)
        and the world is rebuilt from the database on the next tick; the loop itself never dies.
        """
        seen: set[str] = set()
        ticks = 0
        try:
            while max_ticks is None or ticks < max_ticks:
                started = time.perf_counter()
                try:
                    report = await self._whole_tick()
                except asyncio.CancelledError:
                    raise
                except DatabaseUnavailable:
                    self._world = None  # the outage is logged once by the database's monitor
                except Exception as error:
                    self._world = None
                    message = f"{type(error).__name__}: {error}"
                    if message not in seen:
                        seen.add(message)
                        log.exception("demo simulator tick failed (continuing): %s", message)
                    else:
                        log.debug("demo simulator tick failed again: %s", message)
                else:
                    if verbose:
                        print(report.line(), flush=True)
                ticks += 1
                if max_ticks is not None and ticks >= max_ticks:
                    break
                await asyncio.sleep(max(0.0, self.interval_s - (time.perf_counter() - started)))
        except asyncio.CancelledError:
            log.info("demo simulator stopped after %d ticks", ticks)
            raise

    async def _whole_tick(self) -> TickReport:
        """A tick that a cancellation (the app stopping, leadership lost) lets finish: stopping in
        the middle of a write would leave its transaction to be torn down under the connection."""
        running = asyncio.ensure_future(self.tick())
        try:
            return await asyncio.shield(running)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(running, STOP_GRACE_S)
            raise

    async def tick(self, now: datetime | None = None) -> TickReport:
        """One step of the fake market, broker and bridge at `now` (default: the clock).

        Order: quotes; then per account the broker's exits and the platform's fills, then equity
        (so the snapshot values the book as it stands at `now`); then the accounts due a sync.
        `now` is pushed past anything already stored, so simulated time never goes backwards.
        """
        started = time.perf_counter()
        if self._world is None:
            self._world = await self._load()
        world = self._world
        now = max((now or self._clock()).astimezone(UTC), world.last_now + MIN_STEP)
        step_s = min(MAX_STEP_S, max(0.001, (now - world.last_now).total_seconds()))
        previous, world.last_now = world.last_now, now
        tally = _Tally()
        async with self.write.batch() as self._batch:
            quotes = await self._quotes(world, now, step_s, tally)
            for book in world.books:
                self._book_swaps(book, previous, now)
                closed = self._broker_exits(world, book, now)
                opened = await self._maybe_open(world, book, now)
                tally.closed, tally.opened = tally.closed + closed, tally.opened + opened
                if closed or opened or self._equity_due(book, now):
                    await self._equity(world, book, now, tally)
            for book in world.books:
                if self._due(book, now):
                    await self._sync(world, book, now, tally)
        return TickReport(
            at=now,
            quotes=quotes,
            equity_snapshots=tally.equity,
            syncs=tally.syncs,
            positions_opened=tally.opened,
            guard_events=tally.guard_events,
            seconds=time.perf_counter() - started,
            positions_closed=tally.closed,
            divergences_injected=tally.injected,
            failed_syncs=tally.failed,
        )

    # ---------------------------------------------------------------- initialisation

    async def _load(self) -> World:
        """Read the demo's current state: quotes, demo accounts, their open positions."""
        async with self.db.read_session() as session:
            demo_users = (
                await session.execute(select(func.count()).select_from(User).where(User.is_demo))
            ).scalar_one()
            if not demo_users:
                raise ServiceError("no demo data to simulate: run `python -m dashboard demo seed` first")
            specs = await instrument_specs(session)
            market = {m.symbol: m for m in (await session.execute(select(MarketState))).scalars()}
            rows = (
                await session.execute(
                    select(TradingAccount, AccountRiskState)
                    .join(User, User.id == TradingAccount.user_id)
                    .join(AccountRiskState, AccountRiskState.account_id == TradingAccount.id, isouter=True)
                    .where(User.is_demo, TradingAccount.status == AccountStatus.ACTIVE)
                    .order_by(TradingAccount.id)
                )
            ).all()
            positions = (
                (await session.execute(select(Position).where(Position.status == PositionStatus.OPEN)))
                .scalars()
                .all()
            )
            max_ids = await self._max_identifiers(session)
        walkers = self._walkers(specs, market)
        latest = [m.quoted_at for m in market.values()]
        books = []
        for index, (account, state) in enumerate(rows):
            book = self._book(account, state, index, len(rows), max_ids.get(account.id, 0))
            for p in positions:
                if p.account_id == account.id:
                    book.positions[p.broker_position_id] = _from_row(p)
            books.append(book)
            updated = state.updated_at if state is not None else None
            latest += [t for t in (updated, book.last_sync_at) if t is not None]
        floor = max(latest, default=datetime(1970, 1, 1, tzinfo=UTC))
        world = World(walkers, specs, books, floor)
        world.quotes = {
            s: Quote(s, floor, m.bid, m.ask) for s, m in market.items() if s in walkers and m.bid < m.ask
        }
        return world

    @staticmethod
    async def _max_identifiers(session: Any) -> dict[int, int]:
        """Highest identifier per account, positions and incidents alike, so new ones never clash."""
        out: dict[int, int] = {}
        for model in (Position, DivergenceIncident):
            stmt = select(model.account_id, func.max(model.broker_position_id)).group_by(model.account_id)
            for account_id, highest in (await session.execute(stmt)).all():
                out[account_id] = max(out.get(account_id, 0), int(highest or 0))
        return out

    def _walkers(
        self, specs: dict[str, InstrumentSpec], market: dict[str, MarketState]
    ) -> dict[str, PriceWalker]:
        """Continue each symbol from its stored mid (or the fleet start price)."""
        walkers = {}
        for symbol in sorted(specs):
            spec = self.fleet.instruments.get(symbol)
            if spec is None:
                continue
            row = market.get(symbol)
            mid = float((row.bid + row.ask) / 2) if row is not None else None
            walkers[symbol] = PriceWalker(spec, derive_rng(self._seed, "live", symbol), mid=mid)
        return walkers

    def _book(
        self, account: TradingAccount, state: AccountRiskState | None, index: int, n: int, max_id: int
    ) -> AccountBook:
        cadence = self.cadence.total_seconds()
        offset = (index * int(cadence)) // max(1, n)
        balance = (
            state.balance if state is not None and state.balance is not None else account.initial_balance
        )
        return AccountBook(
            account_id=account.id,
            currency=account.currency,
            leverage=account.leverage,
            platform_magic=account.platform_magic or self.fleet.positions.platform_magic,
            balance=balance,
            phase_s=(-offset) % cadence,
            next_identifier=max_id or 80_000_000 + account.id * 1_000_000,
            lot_scale=lot_scale(account.initial_balance),
            last_sync_at=state.last_sync_at if state is not None else None,
            hedging=account.margin_mode is MarginMode.HEDGING,
            last_equity_at=state.updated_at if state is not None else None,
        )

    # ---------------------------------------------------------------- quotes

    async def _quotes(self, world: World, now: datetime, step_s: float, tally: _Tally) -> int:
        if not world.walkers:
            return 0
        world.quotes = {s: w.step(now, step_s) for s, w in world.walkers.items()}
        batch = [{"symbol": q.symbol, "bid": q.bid, "ask": q.ask, "ts": now} for q in world.quotes.values()]
        result = await self._batch(record_quotes, {"quotes": batch}, now=now)
        tally.guard_events += len(result.transitions)
        return result.accepted

    # ---------------------------------------------------------------- broker

    def _profit(
        self, world: World, book: AccountBook, p: BookPosition, volume: Decimal | None = None
    ) -> Decimal:
        quote, spec = world.quotes[p.symbol], world.specs[p.symbol]
        rate = conversion_rate(spec.quote_ccy, book.currency, world.mids())
        price = close_price(p.side, quote.bid, quote.ask)
        return position_profit(p.side, volume or p.volume, p.price_open, price, spec.contract_size, rate)

    def _close(
        self, world: World, book: AccountBook, p: BookPosition, reason: DealReason, now: datetime
    ) -> None:
        """The broker closes `p`: remove it, book the P&L, keep the exit deal for the next syncs."""
        quote = world.quotes[p.symbol]
        profit = self._profit(world, book, p)
        book.positions.pop(p.identifier, None)
        book.balance = money(book.balance + profit + p.swap)
        book.deals.append(
            {
                "identifier": p.identifier,
                "reason": reason,
                "price": close_price(p.side, quote.bid, quote.ask),
                "profit": profit,
                "swap": p.swap,
                "commission": Decimal("0.00"),
                "magic": book.platform_magic if reason is DealReason.EXPERT else 0,
                "time": now,
            }
        )

    def _broker_exits(self, world: World, book: AccountBook, now: datetime) -> int:
        """SL/TP hits against bid/ask, plus an occasional manual or signal close."""
        closed = 0
        for p in sorted(book.positions.values(), key=lambda x: x.identifier):
            if p.symbol not in world.quotes:
                continue
            reason = _stop_hit(p, world.quotes[p.symbol])
            if reason is not None:
                self._close(world, book, p, reason, now)
                closed += 1
        candidates = [p for p in book.positions.values() if p.symbol in world.quotes]
        if candidates and self.rng.random() < self.p_close:
            victim = self.rng.choice(sorted(candidates, key=lambda x: x.identifier))
            self._close(world, book, victim, self.rng.choice([DealReason.CLIENT, DealReason.EXPERT]), now)
            closed += 1
        return closed

    async def _maybe_open(self, world: World, book: AccountBook, now: datetime) -> int:
        """The platform fills a signal: record the local side, and the broker holds the same id."""
        if len(book.positions) >= MAX_OPEN_PER_ACCOUNT or self.rng.random() >= self.p_open:
            return 0
        symbol = draw_symbol(self.fleet, self.rng)
        if symbol not in world.quotes:
            return 0
        side = Side.BUY if self.rng.random() < self.fleet.positions.side_buy_prob else Side.SELL
        fill = draw_fill(self.fleet, symbol, side, world.quotes[symbol], book.lot_scale, self.rng)
        identifier = book.new_identifier(self.rng)
        opened_at = now - timedelta(milliseconds=self.rng.randint(500, 4000))
        await self._batch(
            record_position_opened,
            {
                "account_id": book.account_id,
                "identifier": identifier,
                "ticket": identifier,
                "symbol": symbol,
                "side": side,
                "volume": fill.volume,
                "price_open": fill.price_open,
                "requested_price": fill.requested_price,
                "sl": fill.sl,
                "tp": fill.tp,
                "magic": book.platform_magic,
                "signal_ref": f"tg-{self.rng.randint(100_000, 999_999)}",
                "opened_at": opened_at,
            },
        )
        book.positions[identifier] = BookPosition(
            identifier, identifier, symbol, side, fill.volume, fill.price_open, fill.sl, fill.tp,
            book.platform_magic, opened_at,
        )  # fmt: skip
        return 1

    def _book_swaps(self, book: AccountBook, previous: datetime, now: datetime) -> None:
        """The broker books overnight swap on every position held over a rollover in (previous,
        now]; it shows in the next sync's positions and in equity (docs/domain.md §2.12)."""
        for p in book.positions.values():
            spec = self.fleet.instruments.get(p.symbol)
            if spec is None:
                continue
            charged = swap_for(
                p.side,
                p.volume,
                spec.swap_long,
                spec.swap_short,
                max(previous, p.opened_at),
                now,
                hour_utc=self.fleet.positions.rollover_hour_utc,
                trades_weekends=spec.trades_weekends,
            )
            p.swap = money(p.swap + charged)

    # ---------------------------------------------------------------- equity

    def _equity_due(self, book: AccountBook, now: datetime) -> bool:
        """`equity_every` (a minute) since the last snapshot: the realistic rate, ~1,440 rows per
        account a day, not one per tick."""
        return book.last_equity_at is None or now - book.last_equity_at >= self.equity_every

    async def _equity(self, world: World, book: AccountBook, now: datetime, tally: _Tally) -> None:
        """Equity = balance + floating P&L of the broker book at the new prices."""
        held = [p for p in book.positions.values() if p.symbol in world.quotes]
        floating = sum((self._profit(world, book, p) + p.swap for p in held), Decimal(0))
        mids = world.mids()
        margin = margin_of(
            ((p.symbol, p.volume) for p in held), world.specs, mids, book.currency, book.leverage
        )
        result = await self._batch(
            record_equity,
            {
                "account_id": book.account_id,
                "ts": now,
                "balance": money(book.balance),
                "equity": money(book.balance + floating),
                "margin": margin,
            },
        )
        tally.equity += result.created
        book.last_equity_at = now
        tally.guard_events += len(result.alerts)

    # ---------------------------------------------------------------- syncs

    def _due(self, book: AccountBook, now: datetime) -> bool:
        """Each account syncs once per cadence slot; slots are staggered by account so that with a
        3 s tick about one account syncs per tick instead of all ten at once."""
        if book.last_sync_at is None:
            return True
        cadence = self.cadence.total_seconds()

        def slot(t: datetime) -> int:
            return math.floor((t.timestamp() - book.phase_s) / cadence)

        return slot(now) > slot(book.last_sync_at)

    async def _sync(self, world: World, book: AccountBook, now: datetime, tally: _Tally) -> None:
        event = SyncEventType.SCHEDULED_SYNC if book.synced_once else SyncEventType.STARTUP_SYNC
        snapshot: dict[str, Any] = {
            "account_id": book.account_id,
            "sync_id": f"sim-{book.account_id}-{int(now.timestamp() * 1000)}",
            "taken_at": now,
            "duration_ms": max(1, round(self.rng.lognormvariate(math.log(DURATION_MEDIAN_MS), 0.5))),
        }
        if self.rng.random() < self.p_failure:
            snapshot.update(event_type=SyncEventType.SYNC_FAILED, error=self.rng.choice(FAILED_SYNC_ERRORS))
            tally.failed += 1
        else:
            if book.hedging and self.rng.random() < self.p_divergence:
                tally.injected += self._inject(world, book, now)
            book.deals = [d for d in book.deals if now - d["time"] <= DEAL_MEMORY]
            snapshot.update(
                event_type=event,
                positions=[
                    self._broker_row(world, book, p)
                    for p in book.positions.values()
                    if p.symbol in world.quotes
                ],
                exit_deals=list({d["identifier"]: d for d in book.deals}.values()),
            )
        await self._batch(record_sync, snapshot)
        book.last_sync_at, book.synced_once = now, True
        tally.syncs += 1

    def _broker_row(self, world: World, book: AccountBook, p: BookPosition) -> dict[str, Any]:
        quote = world.quotes[p.symbol]
        return {
            "identifier": p.identifier,
            "ticket": p.ticket,
            "symbol": p.symbol,
            "side": p.side,
            "volume": p.volume,
            "price_open": p.price_open,
            "price_current": close_price(p.side, quote.bid, quote.ask),
            "sl": p.sl,
            "tp": p.tp,
            "swap": p.swap,
            "profit": self._profit(world, book, p),
            "magic": p.magic,
            "opened_at": p.opened_at,
        }

    def _inject(self, world: World, book: AccountBook, now: datetime) -> int:
        """Change the broker book behind the platform's back (docs/domain.md §5.8), so the sync diverges:
        a partial close, an SL moved in the terminal, a manual trade (magic 0) or a ticket change."""
        held = sorted(
            (p for p in book.positions.values() if p.symbol in world.quotes), key=lambda x: x.identifier
        )
        choices: list[Callable[[], bool]] = [lambda: self._external(world, book, now)]
        if held:
            target = self.rng.choice(held)
            choices += [
                lambda: self._partial_close(world, book, target),
                lambda: self._move_sl(world, target),
                lambda: self._new_ticket(book, target),
            ]
        return int(self.rng.choice(choices)())

    def _partial_close(self, world: World, book: AccountBook, p: BookPosition) -> bool:
        step = world.specs[p.symbol].volume_step
        if p.volume < 2 * step:
            return False
        remaining = ((p.volume / 2) / step).to_integral_value(rounding=ROUND_DOWN) * step
        book.balance = money(book.balance + self._profit(world, book, p, p.volume - remaining))
        p.volume = remaining
        return True

    def _move_sl(self, world: World, p: BookPosition) -> bool:
        spec, quote = world.specs[p.symbol], world.quotes[p.symbol]
        current = close_price(p.side, quote.bid, quote.ask)
        sign = 1 if p.side is Side.BUY else -1
        if p.sl is None:
            distance = draw_distance(self.fleet, p.symbol, "sl", current, self.rng)
            p.sl = round_price(current - sign * max(distance, spec.point * 10), spec.digits)
        else:  # trailed a quarter of the way towards the price, as a trader tightening it would
            moved = round_price(p.sl + (current - p.sl) / 4, spec.digits)
            if moved == p.sl or sign * (current - moved) <= 0:
                return False
            p.sl = moved
        return True

    def _new_ticket(self, book: AccountBook, p: BookPosition) -> bool:
        p.ticket = book.new_identifier(self.rng)
        return True

    def _external(self, world: World, book: AccountBook, now: datetime) -> bool:
        symbol = draw_symbol(self.fleet, self.rng)
        if symbol not in world.quotes:
            return False
        side = Side.BUY if self.rng.random() < 0.5 else Side.SELL
        fill = draw_fill(self.fleet, symbol, side, world.quotes[symbol], book.lot_scale, self.rng)
        identifier = book.new_identifier(self.rng)
        book.positions[identifier] = BookPosition(
            identifier, identifier, symbol, side, fill.volume, fill.price_open, fill.sl, fill.tp,
            self.fleet.positions.external_magic, now - timedelta(seconds=self.rng.randint(5, 25)),
        )  # fmt: skip
        return True


def _from_row(p: Position) -> BookPosition:
    return BookPosition(
        identifier=p.broker_position_id,
        ticket=p.broker_ticket,
        symbol=p.symbol,
        side=Side(p.side),
        volume=p.volume,
        price_open=p.price_open,
        sl=p.sl,
        tp=p.tp,
        magic=p.magic,
        opened_at=p.opened_at,
        swap=p.swap,
    )


def _stop_hit(p: BookPosition, quote: Quote) -> DealReason | None:
    """A BUY is stopped/taken at the bid, a SELL at the ask (where it would close)."""
    price = close_price(p.side, quote.bid, quote.ask)
    sign = 1 if p.side is Side.BUY else -1
    if p.sl is not None and sign * (price - p.sl) <= 0:
        return DealReason.SL
    if p.tp is not None and sign * (p.tp - price) <= 0:
        return DealReason.TP
    return None
