"""No N+1: every read issues the same, small number of SQL statements for 1 and for 20 accounts.

A `before_cursor_execute` listener on the engine counts the statements each read sends. The data
grows from 1 to 20 accounts (each with open and closed positions, sync logs, incidents, guard
events, equity snapshots and a quoted symbol) and the counts must not move.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, select

from dashboard.db.models import EquitySnapshot, Instrument, MarketState, Position, TradingAccount, User
from dashboard.db.session import Database
from dashboard.domain.enums import PositionStatus, Role
from dashboard.services.queries import accounts, guards, positions, reconciliation
from dashboard.services.queries.cursor import Cursor
from dashboard.services.viewer import Viewer
from tests.factories import T0, make_account, make_position, make_user
from tests.services import add_guard_event, add_incident, add_log, set_state

NOW = T0 + timedelta(days=1)
WINDOW = (T0 - timedelta(days=1), T0 + timedelta(days=1))


@contextmanager
def count_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", listener)


async def _grow(db: Database, owner_id: int, start: int, stop: int) -> None:
    """Accounts start..stop-1 for the owner, each with the rows every read touches."""
    async with db.session() as s:
        owner = await s.get(User, owner_id)
        assert owner is not None
        for n in range(start, stop):
            account = await make_account(s, owner, name=f"acc {n}")
            open_position = await make_position(s, account, 10 * n + 1, opened_at=T0 + timedelta(minutes=n))
            await make_position(
                s, account, 10 * n + 2, status=PositionStatus.CLOSED, closed_at=T0 + timedelta(minutes=n)
            )
            log = await add_log(s, account.id, T0 + timedelta(minutes=n))
            await add_incident(
                s, account.id, T0 + timedelta(minutes=n), position_id=open_position.id, log=log
            )
            await add_guard_event(s, account.id, T0 + timedelta(minutes=n))
            await add_guard_event(s, None, T0 + timedelta(minutes=n, seconds=1))
            await set_state(
                s, account.id, total_syncs=1, open_incidents=1, last_sync_at=T0, drawdown_pct=Decimal(n)
            )
            for minute in range(3):
                s.add(
                    EquitySnapshot(
                        account_id=account.id,
                        ts=T0 + timedelta(minutes=minute),
                        balance=Decimal(1),
                        equity=Decimal(1),
                        hwm=Decimal(1),
                        drawdown_pct=Decimal(0),
                    )
                )
            symbol = f"SYM{n}"
            s.add(
                Instrument(
                    symbol=symbol,
                    asset_class="fx",
                    contract_size=Decimal(1),
                    digits=5,
                    volume_step=Decimal("0.01"),
                    quote_ccy="USD",
                    typical_spread=Decimal(0),
                    annual_vol=Decimal("0.1"),
                )
            )
            await s.flush()
            s.add(MarketState(symbol=symbol, bid=Decimal(1), ask=Decimal(1), quoted_at=T0, guard_state={}))


Read = Callable[[], Awaitable[Any]]


def _reads(
    db: Database, trader: Viewer, risk: Viewer, first_account: int, first_position: int
) -> dict[str, Read]:
    """Each read under test with the number of statements it may send (<= 2, 1 where possible)."""
    return {
        "list_accounts": lambda: accounts.list_accounts(db, trader),
        "account_by_id": lambda: accounts.account_by_id(db, trader, first_account),
        "open_positions": lambda: positions.open_positions(db, trader),
        "open_positions_all": lambda: positions.open_positions(db, risk, sort="profit"),
        "open_positions_account": lambda: positions.open_positions(db, trader, account_id=first_account),
        "position_by_id": lambda: positions.position_by_id(db, trader, first_position),
        "closed_positions": lambda: positions.closed_positions(db, trader, limit=5),
        "closed_positions_cursor": lambda: positions.closed_positions(
            db, trader, cursor=Cursor(NOW, first_position + 1).encode()
        ),
        "reconciliation_status": lambda: reconciliation.reconciliation_status(db, trader, now=NOW),
        "reconciliation_status_all": lambda: reconciliation.reconciliation_status(db, risk, now=NOW),
        "divergence_timeline": lambda: reconciliation.divergence_timeline(db, trader, *WINDOW),
        "divergence_timeline_account": lambda: reconciliation.divergence_timeline(
            db, trader, *WINDOW, account_id=first_account
        ),
        "open_incidents": lambda: reconciliation.open_incidents(db, trader),
        "incident_history": lambda: reconciliation.incident_history(db, trader, limit=500),
        "incident_history_account": lambda: reconciliation.incident_history(
            db, trader, account_id=first_account
        ),
        "sync_events": lambda: reconciliation.sync_events(db, trader, limit=500),
        "sync_events_cursor": lambda: reconciliation.sync_events(
            db, risk, cursor=Cursor(NOW, 10**9).encode()
        ),
        "position_incidents": lambda: reconciliation.position_incidents(db, trader, first_position),
        "account_guards": lambda: guards.account_guards(db, trader),
        "risk_wall": lambda: guards.risk_wall(db, risk),
        "guard_events": lambda: guards.guard_events(db, trader),
        "guard_events_account": lambda: guards.guard_events(db, trader, account_id=first_account),
        "equity_curve": lambda: guards.equity_curve(db, trader, first_account, *WINDOW),
        "market_guards": lambda: guards.market_guards(db, trader, now=NOW),
    }


#: Reads that need a second statement: the account/visibility probe, or the last-5-events query.
TWO_STATEMENTS = {
    "open_positions_account",
    "reconciliation_status",
    "reconciliation_status_all",
    "divergence_timeline_account",
    "guard_events_account",
    "equity_curve",
    "incident_history_account",
}


async def _measure(db: Database, reads: dict[str, Read]) -> dict[str, tuple[int, int]]:
    """Statements sent and rows returned (to prove the data really grew) per read."""
    measured: dict[str, tuple[int, int]] = {}
    for name, read in reads.items():
        with count_statements(db) as statements:
            result = await read()
        sizes = [len(v) for k, v in result if isinstance(v, list) and k != "recent_events"]
        measured[name] = (len(statements), sum(sizes))
    return measured


async def test_statement_count_does_not_grow_with_rows(database: Database) -> None:
    async with database.session() as s:
        trader = await make_user(s, "t@x", Role.TRADER)
        risk = await make_user(s, "r@x", Role.RISK)
        trader_id, risk_id = trader.id, risk.id
    await _grow(database, trader_id, 0, 1)
    async with database.read_session() as s:
        first_account = (await s.execute(select(func.min(TradingAccount.id)))).scalar_one()
        first_position = (await s.execute(select(func.min(Position.id)))).scalar_one()
    reads = _reads(
        database, Viewer(trader_id, Role.TRADER), Viewer(risk_id, Role.RISK), first_account, first_position
    )

    small = await _measure(database, reads)
    await _grow(database, trader_id, 1, 20)
    large = await _measure(database, reads)

    for name in reads:
        expected = 2 if name in TWO_STATEMENTS else 1
        assert small[name][0] == expected, (name, small[name])
        assert large[name][0] == small[name][0], (name, small[name], large[name])
    # The lists really grew, so the constant counts mean something.
    for name in (
        "list_accounts",
        "open_positions",
        "open_positions_all",
        "divergence_timeline",
        "account_guards",
        "risk_wall",
        "guard_events",
        "market_guards",
        "open_incidents",
        "closed_positions",
        "incident_history",
        "sync_events",
    ):
        assert large[name][1] > small[name][1] > 0, (name, small[name], large[name])
