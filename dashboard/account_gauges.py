"""Per-account risk gauges for Prometheus, exported once per cluster: by the leader.

Every process could read the risk wall, but then each account would be a series per process and
every alert rule would have to pick one. The leader refreshes a snapshot of the wall (one cached
read, whatever the number of scrapes) and its `/metrics` shows it; the other processes show none.
The sync age is computed when Prometheus scrapes, so a bridge that stopped syncing is seen growing
even between refreshes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard.cache.queries import CachedQueries
from dashboard.db.outage import DatabaseUnavailable
from dashboard.domain.enums import LEVEL_RANK, Role
from dashboard.schemas.guards import AccountGuardState
from dashboard.services.viewer import Viewer

log = logging.getLogger(__name__)

REFRESH_S = 5.0
#: The leader reads the wall as a risk user would (every account), not as a person.
EXPORTER = Viewer(user_id=0, role=Role.RISK)
LABELS = ["account", "name"]


class AccountGauges(Collector):
    def __init__(self) -> None:
        self.accounts: Sequence[AccountGuardState] = ()

    def show(self, accounts: Sequence[AccountGuardState]) -> None:
        self.accounts = tuple(accounts)

    def collect(self) -> Iterator[Metric]:
        drawdown = GaugeMetricFamily(
            "dashboard_account_drawdown_percent", "Drawdown from the high-water mark, %.", labels=LABELS
        )
        daily = GaugeMetricFamily(
            "dashboard_account_daily_loss_percent",
            "Loss since the start of the trading day, %.",
            labels=LABELS,
        )
        level = GaugeMetricFamily(
            "dashboard_account_level",
            "Worst gauge level of the account: 0 normal, 1 warning, 2 critical.",
            labels=LABELS,
        )
        age = GaugeMetricFamily(
            "dashboard_account_sync_age_seconds",
            "Seconds since the broker bridge's last sync (absent before the first one).",
            labels=LABELS,
        )
        now = datetime.now(UTC)
        for account in self.accounts:
            labels = [str(account.account_id), account.name]
            drawdown.add_metric(labels, float(account.drawdown_pct))
            daily.add_metric(labels, float(account.daily_loss_pct))
            worst = max(LEVEL_RANK[account.dd_level], LEVEL_RANK[account.daily_loss_level])
            level.add_metric(labels, float(worst))
            if account.last_sync_at is not None:
                age.add_metric(labels, max(0.0, (now - account.last_sync_at).total_seconds()))
        yield from (drawdown, daily, level, age)


async def export_account_gauges(
    queries: CachedQueries, gauges: AccountGauges, every_s: float = REFRESH_S
) -> None:
    """The leader's job: keep the snapshot fresh; leave it empty when leadership ends."""
    try:
        while True:
            try:
                gauges.show((await queries.risk_wall(EXPORTER)).model.accounts)
            except DatabaseUnavailable:
                pass  # keep the last values: their sync age keeps growing, which is the truth
            await asyncio.sleep(every_s)
    finally:
        gauges.show(())
