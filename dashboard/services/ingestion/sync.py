"""Record one reconciliation sync from a broker snapshot (docs/domain.md §3.2).

One transaction: run the diff, apply broker facts to the local book (the broker wins for
execution facts), write the log row, upsert incidents and keep the account's counters. The same
`sync_id` twice is stored once; a failed broker query writes one `sync_failed` row and nothing else.

A divergence that a person had resolved by hand (`services.incident_work.resolve_incident`) and
that this sync sees again reopens that incident (audited, with no actor) rather than opening a new
one: the person's resolution was contradicted. One extra query, only when the sync has new
divergences. One the sync had resolved itself comes back as a new incident, as always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import (
    AccountRiskState,
    DivergenceIncident,
    Position,
    ReconciliationLog,
    TradingAccount,
)
from dashboard.db.session import Database
from dashboard.domain.enums import (
    DivergenceKind,
    MarginMode,
    PositionSource,
    PositionStatus,
    Resolution,
    Severity,
    SyncEventType,
    SyncStatus,
)
from dashboard.domain.instruments import InstrumentSpec, normalise_symbol
from dashboard.domain.numbers import DomainError, money
from dashboard.domain.reconciliation import (
    BrokerPosition,
    Divergence,
    ExitDeal,
    IncidentPlan,
    LocalPosition,
    OpenIncident,
    PersonResolved,
    ReconciliationResult,
    plan_incidents,
    plan_reopens,
    reconcile,
    stop_or_none,
)
from dashboard.services.alerts.outbox import add_incident_alerts, heard_from
from dashboard.services.audit import AuditAction, audit
from dashboard.services.errors import InvalidInput
from dashboard.services.ingestion.common import instrument_specs, lock_account
from dashboard.services.ingestion.inputs import SyncSnapshotIn, parse
from dashboard.services.ingestion.rollups import roll_up_sync
from dashboard.services.touched import Family, Touched

FAMILIES = (
    Family.RECONCILIATION,
    Family.TIMELINE,
    Family.INCIDENTS,
    Family.POSITIONS,
    Family.GUARDS,
    Family.RISK_WALL,
    Family.ALERTS,
)

# Which local column a broker-wins divergence overwrites, and from which broker field.
_BROKER_FACT: dict[DivergenceKind, tuple[str, str]] = {
    DivergenceKind.VOLUME_MISMATCH: ("volume", "volume"),
    DivergenceKind.SIDE_MISMATCH: ("side", "side"),
    DivergenceKind.PRICE_OPEN_MISMATCH: ("price_open", "price_open"),
    DivergenceKind.SL_MISMATCH: ("sl", "sl"),
    DivergenceKind.TP_MISMATCH: ("tp", "tp"),
    DivergenceKind.TICKET_CHANGED: ("broker_ticket", "ticket"),
}


@dataclass
class SyncResult:
    log_id: int
    status: SyncStatus
    divergences: int
    matched_positions: int
    new_incidents: int
    resolved_incidents: int
    created: bool
    touched: Touched = field(default_factory=Touched)
    #: Incidents a person had resolved that this sync saw again (reopened, not new).
    reopened_incidents: int = 0


async def record_sync(db: Database, snapshot: SyncSnapshotIn | dict[str, Any]) -> SyncResult:
    """Store one sync. Idempotent on (account_id, sync_id): a repeat returns the stored result."""
    snap = parse(SyncSnapshotIn, snapshot)
    try:
        async with db.session() as session:
            return await _record(session, snap)
    except IntegrityError:
        # A concurrent request stored the same sync id first: answer with what it stored.
        async with db.read_session() as session:
            existing = await _existing(session, snap)
        if existing is None:
            raise
        return existing


async def _existing(session: AsyncSession, snap: SyncSnapshotIn) -> SyncResult | None:
    log = (
        await session.execute(
            select(ReconciliationLog).where(
                ReconciliationLog.account_id == snap.account_id, ReconciliationLog.sync_id == snap.sync_id
            )
        )
    ).scalar_one_or_none()
    if log is None:
        return None
    return SyncResult(
        log_id=log.id,
        status=log.status,
        divergences=log.divergences,
        matched_positions=log.matched_positions,
        new_incidents=0,
        resolved_incidents=0,
        created=False,
    )


async def _record(session: AsyncSession, snap: SyncSnapshotIn) -> SyncResult:
    account, state = await lock_account(session, snap.account_id)
    existing = await _existing(session, snap)
    if existing is not None:
        return existing
    if state.last_sync_at is not None and snap.taken_at < state.last_sync_at:
        raise InvalidInput("taken_at: older than the latest recorded sync of this account", field="taken_at")
    touched = Touched().account(account.user_id, *FAMILIES)
    heard_from(session, account, state)  # a failed sync too: the bridge is alive

    if snap.error is not None:
        log = _log(account, snap, SyncEventType.SYNC_FAILED, SyncStatus.FAILED, error=snap.error)
        session.add(log)
        await session.flush()
        await _count_sync(session, state, log)
        return SyncResult(log.id, log.status, 0, 0, 0, 0, True, touched)
    if account.margin_mode is MarginMode.NETTING:
        # Hedging rules must not be applied to a netting account silently (docs/domain.md §7.6).
        log = _log(
            account,
            snap,
            snap.event_type,
            SyncStatus.SKIPPED,
            error="netting reconciliation is not supported yet: sync skipped",
        )
        session.add(log)
        await session.flush()
        await _count_sync(session, state, log)
        return SyncResult(log.id, log.status, 0, 0, 0, 0, True, touched)

    specs = await instrument_specs(session)
    broker = _broker_positions(snap, specs)
    deals = _exit_deals(snap)
    local_rows = list(
        (
            await session.execute(
                select(Position).where(
                    Position.account_id == account.id, Position.status == PositionStatus.OPEN
                )
            )
        ).scalars()
    )
    open_rows = list(
        (
            await session.execute(
                select(DivergenceIncident).where(
                    DivergenceIncident.account_id == account.id,
                    DivergenceIncident.resolution == Resolution.OPEN,
                )
            )
        ).scalars()
    )
    try:
        result = reconcile(
            [_local(p) for p in local_rows],
            broker,
            deals,
            specs,
            now=snap.taken_at,
            stops_policy=account.stops_policy,
            platform_magic=account.platform_magic,
        )
        plan = plan_incidents(
            [OpenIncident(i.id, i.kind, i.broker_position_id, i.occurrences, i.action) for i in open_rows],
            result.divergences,
            result.skipped,
        )
    except DomainError as error:
        raise InvalidInput(str(error)) from None
    reopen_rows: dict[int, DivergenceIncident] = {}
    if plan.new:
        reopen_rows = await _person_resolved(session, account.id, plan.new)
        plan = plan_reopens(
            plan, [PersonResolved(r.id, r.kind, r.broker_position_id) for r in reopen_rows.values()]
        )

    log = _log(
        account,
        snap,
        snap.event_type,
        result.status,
        broker_positions=result.broker_positions,
        local_positions=result.local_positions,
        matched_positions=result.matched_positions,
        divergences=len(result.divergences),
        auto_resolved=len(plan.resolved),
    )
    session.add(log)
    await session.flush()

    by_identifier = {p.broker_position_id: p for p in local_rows}
    # A broker position we hold locally as closed (closed by an earlier sync or by hand) is
    # reopened rather than inserted again: the identifier is unique per account.
    unexpected = [d.identifier for d in result.divergences if d.kind is DivergenceKind.UNEXPECTED_AT_BROKER]
    closed = {}
    if unexpected:
        closed = {
            p.broker_position_id: p
            for p in (
                await session.execute(
                    select(Position).where(
                        Position.account_id == account.id,
                        Position.broker_position_id.in_(unexpected),
                        Position.status != PositionStatus.OPEN,
                    )
                )
            ).scalars()
        }
    adopted = _apply_broker_facts(session, account, snap, result, by_identifier, broker, deals, closed)
    await session.flush()
    raised, resolved = _apply_incidents(
        session, account, state, log, plan, open_rows, by_identifier, reopen_rows
    )
    await add_incident_alerts(session, account, raised, resolved, log.created_at)
    await _count_sync(session, state, log)
    closed_now = sum(d.kind is DivergenceKind.CLOSED_AT_BROKER for d in result.divergences)
    state.open_positions = len(local_rows) - closed_now + adopted
    return SyncResult(
        log.id,
        log.status,
        len(result.divergences),
        result.matched_positions,
        len(plan.new),
        len(plan.resolved),
        True,
        touched,
        len(plan.reopened),
    )


async def _person_resolved(
    session: AsyncSession, account_id: int, new: list[Divergence]
) -> dict[int, DivergenceIncident]:
    """The account's incidents a person resolved on the positions of this sync's new divergences
    (the kind is matched by `plan_reopens`), by id."""
    identifiers = sorted({d.identifier for d in new})
    rows = (
        await session.execute(
            select(DivergenceIncident).where(
                DivergenceIncident.account_id == account_id,
                DivergenceIncident.broker_position_id.in_(identifiers),
                DivergenceIncident.resolution == Resolution.MANUAL,
                DivergenceIncident.resolved_by.is_not(None),
            )
        )
    ).scalars()
    return {row.id: row for row in rows}


def _log(
    account: TradingAccount,
    snap: SyncSnapshotIn,
    event_type: SyncEventType,
    status: SyncStatus,
    **counts: Any,
) -> ReconciliationLog:
    return ReconciliationLog(
        sync_id=snap.sync_id,
        user_id=account.user_id,
        account_id=account.id,
        created_at=snap.taken_at,
        event_type=event_type,
        status=status,
        duration_ms=snap.duration_ms,
        **counts,
    )


async def _count_sync(session: AsyncSession, state: AccountRiskState, log: ReconciliationLog) -> None:
    """The counters that keep "total syncs" O(accounts) however long the log grows, and the
    hour's counts that outlive the raw log (retention)."""
    await roll_up_sync(session, log)
    state.total_syncs = (state.total_syncs or 0) + 1
    if log.status is SyncStatus.FAILED:
        state.failed_syncs = (state.failed_syncs or 0) + 1
    state.last_sync_at = log.created_at
    state.last_sync_status = log.status


def _broker_positions(snap: SyncSnapshotIn, specs: dict[str, InstrumentSpec]) -> list[BrokerPosition]:
    out = []
    for index, p in enumerate(snap.positions):
        if normalise_symbol(p.symbol) not in specs:
            raise InvalidInput(
                f"positions.{index}.symbol: unknown symbol {p.symbol!r}", field=f"positions.{index}.symbol"
            )
        try:
            out.append(
                BrokerPosition(
                    identifier=p.identifier,
                    ticket=p.ticket,
                    symbol=p.symbol,
                    side=p.side,
                    volume=p.volume,
                    price_open=p.price_open,
                    price_current=p.price_current,
                    sl=stop_or_none(p.sl),
                    tp=stop_or_none(p.tp),
                    swap=p.swap,
                    profit=p.profit,
                    magic=p.magic,
                    opened_at=p.opened_at,
                )
            )
        except DomainError as error:
            raise InvalidInput(f"positions.{index}: {error}", field=f"positions.{index}") from None
    return out


def _exit_deals(snap: SyncSnapshotIn) -> dict[int, ExitDeal]:
    deals: dict[int, ExitDeal] = {}
    for index, d in enumerate(snap.exit_deals):
        if d.identifier in deals:
            raise InvalidInput(
                f"exit_deals.{index}.identifier: duplicate deal for {d.identifier}",
                field=f"exit_deals.{index}.identifier",
            )
        deals[d.identifier] = ExitDeal(
            identifier=d.identifier,
            reason=d.reason,
            price=d.price,
            profit=d.profit,
            swap=d.swap,
            commission=d.commission,
            time=d.time,
            magic=d.magic,
        )
    return deals


def _local(p: Position) -> LocalPosition:
    return LocalPosition(
        position_id=p.id,
        identifier=p.broker_position_id,
        ticket=p.broker_ticket,
        symbol=p.symbol,
        side=p.side,
        volume=p.volume,
        price_open=p.price_open,
        sl=p.sl,
        tp=p.tp,
        updated_at=p.updated_at,
    )


def _apply_broker_facts(
    session: AsyncSession,
    account: TradingAccount,
    snap: SyncSnapshotIn,
    result: ReconciliationResult,
    local: dict[int, Position],
    broker: list[BrokerPosition],
    deals: dict[int, ExitDeal],
    closed: dict[int, Position],
) -> int:
    """Bring the local book to the broker's facts; returns how many positions were adopted
    (new rows for positions we never had, or closed rows the broker still holds open)."""
    broker_by_id = {b.identifier: b for b in broker}
    skipped = set(result.skipped)
    adopted = 0
    for d in result.divergences:
        row = local.get(d.identifier)
        if d.kind is DivergenceKind.CLOSED_AT_BROKER and row is not None:
            deal = deals[d.identifier]
            row.status = PositionStatus.CLOSED
            row.closed_at = deal.time
            row.close_price = deal.price
            row.close_reason = d.close_reason
            row.profit, row.swap, row.commission = deal.profit, deal.swap, deal.commission
            row.realized_pnl = money(deal.profit + deal.swap + deal.commission)
            row.price_current = deal.price
            row.synced_at = snap.taken_at
        elif d.kind is DivergenceKind.UNEXPECTED_AT_BROKER and d.identifier in closed:
            b = broker_by_id[d.identifier]
            row = closed[d.identifier]
            row.status = PositionStatus.OPEN
            row.closed_at = row.close_price = row.close_reason = row.realized_pnl = None
            row.broker_ticket, row.side, row.volume = b.ticket, b.side, b.volume
            row.price_open, row.price_current, row.sl, row.tp = b.price_open, b.price_current, b.sl, b.tp
            row.swap, row.profit, row.magic = b.swap, b.profit, b.magic
            row.updated_at = row.synced_at = snap.taken_at
            local[d.identifier] = row
            adopted += 1
        elif d.kind is DivergenceKind.UNEXPECTED_AT_BROKER:
            b = broker_by_id[d.identifier]
            row = Position(
                account_id=account.id,
                user_id=account.user_id,
                broker_ticket=b.ticket,
                broker_position_id=b.identifier,
                symbol=d.symbol,
                side=b.side,
                volume=b.volume,
                price_open=b.price_open,
                price_current=b.price_current,
                sl=b.sl,
                tp=b.tp,
                swap=b.swap,
                profit=b.profit,
                status=PositionStatus.OPEN,
                opened_at=b.opened_at,
                source=d.source or PositionSource.EXTERNAL,
                magic=b.magic,
                updated_at=b.opened_at,
                synced_at=snap.taken_at,
            )
            session.add(row)
            local[d.identifier] = row
            adopted += 1
        elif d.action is Resolution.BROKER_WINS and row is not None and d.kind in _BROKER_FACT:
            column, broker_field = _BROKER_FACT[d.kind]
            setattr(row, column, getattr(broker_by_id[d.identifier], broker_field))
    # Prices and floating P&L move every tick: data, not divergences.
    for identifier, b in broker_by_id.items():
        row = local.get(identifier)
        if row is not None and identifier not in skipped and row.status is PositionStatus.OPEN:
            row.price_current, row.profit, row.swap = b.price_current, b.profit, b.swap
            row.synced_at = snap.taken_at
    return adopted


def _apply_incidents(
    session: AsyncSession,
    account: TradingAccount,
    state: AccountRiskState,
    log: ReconciliationLog,
    plan: IncidentPlan,
    open_rows: list[DivergenceIncident],
    local: dict[int, Position],
    reopen_rows: dict[int, DivergenceIncident],
) -> tuple[list[DivergenceIncident], list[DivergenceIncident]]:
    """Apply the incident plan; returns the incidents that became critical (a reopened critical
    one among them) and the critical ones that were resolved or are no longer critical (their
    alerts)."""
    state_delta_open = 0
    state_delta_critical = 0
    raised: list[DivergenceIncident] = []
    cleared: list[DivergenceIncident] = []
    rows = {row.id: row for row in open_rows}
    at = log.created_at
    for d in plan.new:
        position = local.get(d.identifier)
        new_row = DivergenceIncident(
            user_id=account.user_id,
            account_id=account.id,
            position_id=position.id if position is not None else None,
            broker_position_id=d.identifier,
            symbol=d.symbol,
            kind=d.kind,
            severity=d.severity,
            local_value=d.local_value,
            broker_value=d.broker_value,
            action=d.action,
            resolution=Resolution.OPEN,
            first_log_id=log.id,
            last_log_id=log.id,
            first_seen_at=at,
            last_seen_at=at,
            occurrences=1,
        )
        session.add(new_row)
        if d.severity is Severity.CRITICAL:
            raised.append(new_row)
        state_delta_open += 1
        state_delta_critical += d.severity is Severity.CRITICAL
    for incident, seen in plan.seen_again:
        row = rows[incident.incident_id]
        was, now = row.severity is Severity.CRITICAL, seen.severity is Severity.CRITICAL
        state_delta_critical += now - was
        if now and not was:
            raised.append(row)
        elif was and not now:
            cleared.append(row)
        row.occurrences += 1
        row.last_log_id, row.last_seen_at = log.id, at
        row.severity, row.local_value, row.broker_value = seen.severity, seen.local_value, seen.broker_value
    for reopened, seen in plan.reopened:
        row = reopen_rows[reopened.incident_id]
        _reopen(session, row, seen, log)
        state_delta_open += 1
        if seen.severity is Severity.CRITICAL:
            state_delta_critical += 1
            raised.append(row)
    for incident in plan.escalated:
        rows[incident.incident_id].escalated_at = at
    for incident in plan.resolved:
        row = rows[incident.incident_id]
        row.resolution, row.resolved_at = row.action, at
        state_delta_open -= 1
        state_delta_critical -= row.severity is Severity.CRITICAL
        if row.severity is Severity.CRITICAL:
            cleared.append(row)
    state.incidents_total = (state.incidents_total or 0) + len(plan.new)
    state.open_incidents = (state.open_incidents or 0) + state_delta_open
    state.open_critical_incidents = (state.open_critical_incidents or 0) + state_delta_critical
    return raised, cleared


def _reopen(session: AsyncSession, row: DivergenceIncident, seen: Divergence, log: ReconciliationLog) -> None:
    """A person's resolution contradicted by the broker: the incident is open again, nobody's
    acknowledgement stands, and the resolution it had (who, when, the note) goes to the audit trail
    (the note is also among the incident's comments, written when it was resolved)."""
    previous = {
        "account_id": row.account_id,
        "kind": row.kind.value,
        "broker_position_id": row.broker_position_id,
        "previous_resolved_by": row.resolved_by,
        "previous_resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "previous_note": row.resolution_note,
        "log_id": log.id,
    }
    at = log.created_at
    row.resolution = Resolution.OPEN
    row.resolved_at = row.resolved_by = row.resolution_note = None
    row.acknowledged_at = row.acknowledged_by = None
    row.reopened_at = at
    row.reopen_count = (row.reopen_count or 0) + 1
    row.occurrences += 1
    row.last_log_id, row.last_seen_at = log.id, at
    row.severity, row.local_value, row.broker_value = seen.severity, seen.local_value, seen.broker_value
    row.action = seen.action
    audit(
        session,
        AuditAction.INCIDENT_REOPENED,
        actor_user_id=None,
        target=f"incident:{row.id}",
        detail={**previous, "reopen_count": row.reopen_count, "severity": seen.severity.value},
    )
