"""The incident stats card of `/reconciliation`: how old the open incidents are and how long the
resolved ones took over the last 7 days, median and p90 (nearest rank, see
`dashboard.domain.incident_stats`), per kind and per account."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nicegui import ui

from components.accounts import label_of, labels_of
from components.cards import MUTED, PHONE_GRID, heading, set_rows
from components.live import LivePage, LivePanel
from dashboard.cache.base_queries import Cached
from dashboard.schemas.accounts import AccountList
from dashboard.schemas.incident_work import GroupStatsView, IncidentStats

DAYS = 7
# Below 600 px each row is a card (nobody scrolls sideways on a phone).
STATS_CARD = """
<div class="q-pa-xs col-12">
  <q-card flat bordered data-testid="incident-stats-card">
    <q-card-section class="q-py-sm">
      <div class="text-subtitle2">{{ props.row.name }}</div>
      <div class="text-caption">
        {{ props.row.open }} open · age median {{ props.row.age_median }} · p90 {{ props.row.age_p90 }}
      </div>
      <div class="text-caption">
        {{ props.row.resolved }} resolved · to resolve median {{ props.row.ttr_median }} ·
        p90 {{ props.row.ttr_p90 }}
      </div>
    </q-card-section>
  </q-card>
</div>
"""


def _columns(first: str) -> list[dict[str, Any]]:
    return [
        {"name": "name", "label": first, "field": "name", "align": "left"},
        {"name": "open", "label": "Open", "field": "open"},
        {"name": "age_median", "label": "Age median", "field": "age_median"},
        {"name": "age_p90", "label": "Age p90", "field": "age_p90"},
        {"name": "resolved", "label": f"Resolved ({DAYS} d)", "field": "resolved"},
        {"name": "ttr_median", "label": "To resolve, median", "field": "ttr_median"},
        {"name": "ttr_p90", "label": "To resolve, p90", "field": "ttr_p90"},
    ]


def duration(seconds: Decimal | None) -> str:
    """`42 s`, `7 min`, `2 h 5 min`, `3 d 4 h`; `–` when there is nothing to measure."""
    if seconds is None:
        return "–"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86_400:
        return f"{whole // 3600} h {whole % 3600 // 60} min"
    return f"{whole // 86_400} d {whole % 86_400 // 3600} h"


def row(key: object, name: str, stats: GroupStatsView) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "open": stats.open.count,
        "age_median": duration(stats.open.median_s),
        "age_p90": duration(stats.open.p90_s),
        "resolved": stats.resolved.count,
        "ttr_median": duration(stats.resolved.median_s),
        "ttr_p90": duration(stats.resolved.p90_s),
    }


@dataclass(frozen=True)
class StatsView:
    stats: Cached[IncidentStats]
    accounts: Cached[AccountList]


class IncidentStatsPanel(LivePanel[StatsView]):
    name = "incident-stats"

    def __init__(self, live: LivePage) -> None:
        super().__init__(live)
        with ui.card().classes("w-full max-sm:px-2"):
            heading(f"Incident ages and time to resolve ({DAYS} days)")
            ui.label(
                "Ages of the incidents open now; time to resolve of those resolved in the last "
                f"{DAYS} days (from first seen, or from the reopen). Median and p90 by nearest rank."
            ).classes(f"text-xs {MUTED}")
            with ui.row().classes("w-full gap-3 flex-wrap"):
                self.by_kind = self._table("Kind", "incident-stats-kind")
                self.by_account = self._table("Account", "incident-stats-account")
            live.add(self)

    @staticmethod
    def _table(first: str, marker: str) -> ui.table:
        table = ui.table(columns=_columns(first), rows=[], row_key="key").classes("grow min-w-80")
        table.props(f"dense flat hide-pagination wrap-cells {PHONE_GRID}").mark(marker)
        table.add_slot("item", STATS_CARD)
        table.pagination = {"rowsPerPage": 0}
        return table

    async def fetch(self) -> StatsView:
        queries, viewer = self.live.runtime.queries, self.live.principal.viewer
        return StatsView(await queries.incident_stats(viewer, days=DAYS), await queries.list_accounts(viewer))

    def show(self, data: StatsView) -> None:
        stats = data.stats.model
        labels = labels_of(data.accounts.model)
        kinds = [row("all", "All kinds", stats.overall)]
        kinds += [row(k.kind.value, k.kind.value.replace("_", " "), k) for k in stats.by_kind]
        accounts = [row("all", "All accounts", stats.overall)]
        accounts += [row(a.account_id, label_of(labels, a.account_id).name, a) for a in stats.by_account]
        set_rows(self.by_kind, kinds)
        set_rows(self.by_account, accounts)
