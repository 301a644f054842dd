"""Put alerts in the outbox, in the caller's transaction.

Called by the ingestion services right after they add the guard events and incidents that raise
or resolve alerts (and by the silence watcher): the alert rows commit or roll back with them, so a
delivery worker never announces a write that did not happen and never misses one that did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dashboard.db.models import AccountRiskState, Alert, DivergenceIncident, GuardEvent, TradingAccount
from dashboard.domain.alerts import AlertFacts, guard_alert, incident_alert, silence_alert


async def add_guard_alerts(session: AsyncSession, events: Sequence[GuardEvent]) -> list[Alert]:
    if not events:
        return []
    await session.flush()  # the events' ids, which the alerts point at
    alerts = []
    for event in events:
        facts = guard_alert(
            event.guard_type, event.state, event.level, account_id=event.account_id, symbol=event.symbol
        )
        alerts.append(
            Alert(
                key=facts.key,
                kind=facts.kind,
                state=facts.state,
                level=facts.level,
                account_id=event.account_id,
                user_id=event.user_id,
                guard_event_id=event.id,
                title=event.message,
                created_at=event.created_at,
            )
        )
    session.add_all(alerts)
    return alerts


def _alert(facts: AlertFacts, account: TradingAccount | None, title: str, at: datetime, **refs: int) -> Alert:
    return Alert(
        key=facts.key,
        kind=facts.kind,
        state=facts.state,
        level=facts.level,
        account_id=account.id if account else None,
        user_id=account.user_id if account else None,
        title=title[:255],
        created_at=at,
        **refs,
    )


async def add_incident_alerts(
    session: AsyncSession,
    account: TradingAccount,
    raised: Sequence[DivergenceIncident],
    resolved: Sequence[DivergenceIncident],
    at: datetime,
) -> None:
    """Incidents that became critical, and critical ones that were resolved (or are no longer
    critical)."""
    if not raised and not resolved:
        return
    await session.flush()  # the new incidents' ids
    for row in raised:
        title = f"Critical reconciliation incident: {row.kind.value} on {row.symbol} ({account.name})"
        session.add(_alert(incident_alert(row.id, resolved=False), account, title, at, incident_id=row.id))
    for row in resolved:
        title = f"Reconciliation incident resolved: {row.kind.value} on {row.symbol} ({account.name})"
        session.add(_alert(incident_alert(row.id, resolved=True), account, title, at, incident_id=row.id))


def mark_silent(
    session: AsyncSession, account: TradingAccount, state: AccountRiskState, since: datetime
) -> None:
    """The leader found the account silent: remember since when and raise its alert."""
    state.silent_since = since
    title = f"Account {account.name} is silent: no sync or equity since {since:%Y-%m-%d %H:%M} UTC"
    session.add(_alert(silence_alert(account.id, resolved=False), account, title, datetime.now(UTC)))


def heard_from(session: AsyncSession, account: TradingAccount, state: AccountRiskState) -> None:
    """A sync or an equity snapshot arrived: a silent account is back, and its alert resolved."""
    if state.silent_since is None:
        return
    state.silent_since = None
    title = f"Account {account.name} is syncing again"
    session.add(_alert(silence_alert(account.id, resolved=True), account, title, datetime.now(UTC)))
