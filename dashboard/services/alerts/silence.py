"""Silent accounts: an active account with no sync and no equity snapshot for longer than its
own timeout (default 5 min) raises one alert; its next sync or snapshot resolves it (ingestion,
`outbox.heard_from`). A dead bridge is the most dangerous failure: every gauge freezes on its
last value and nothing else would say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from dashboard.db.models import AccountRiskState, TradingAccount
from dashboard.db.session import Database
from dashboard.domain.alerts import silent_since
from dashboard.domain.enums import AccountStatus
from dashboard.services.alerts.outbox import mark_silent
from dashboard.services.ingestion.common import lock_account
from dashboard.services.touched import Family, Touched

FAMILIES = (Family.GUARDS, Family.RISK_WALL, Family.ALERTS)


@dataclass
class SilenceFound:
    account_ids: list[int]
    touched: Touched = field(default_factory=Touched)


def _last_heard(state: AccountRiskState) -> datetime | None:
    heard = [t for t in (state.last_sync_at, state.updated_at) if t is not None]
    return max(heard) if heard else None


async def mark_silent_accounts(
    db: Database, watched_since: datetime, now: datetime | None = None
) -> SilenceFound:
    """Find the accounts that went silent and raise their alerts (each in its own transaction,
    re-checked under the account's lock, so a sync arriving meanwhile wins)."""
    moment = now or datetime.now(UTC)
    async with db.read_session() as session:
        rows = await session.execute(
            select(TradingAccount.id, TradingAccount.silence_timeout_s, AccountRiskState)
            .join(AccountRiskState, AccountRiskState.account_id == TradingAccount.id)
            .where(TradingAccount.status == AccountStatus.ACTIVE, AccountRiskState.silent_since.is_(None))
        )
        candidates = [
            account_id
            for account_id, timeout_s, state in rows
            if silent_since(_last_heard(state), watched_since, timeout_s, moment) is not None
        ]
    found = SilenceFound([])
    for account_id in candidates:
        async with db.session() as session:
            account, state = await lock_account(session, account_id)
            since = silent_since(_last_heard(state), watched_since, account.silence_timeout_s, moment)
            if state.silent_since is not None or since is None:
                continue
            mark_silent(session, account, state, _last_heard(state) or since)
            found.account_ids.append(account_id)
            found.touched.account(account.user_id, *FAMILIES)
    return found
