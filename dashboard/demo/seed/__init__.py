"""Seed the demo fleet: 7 days of history for 10 accounts, in one transaction (docs/domain.md §5).

Why it looks the way it does:

* Deterministic. Every random choice comes from `derive_rng(seed, purpose, key)`, and the only
  wall-clock input is the anchor ("now" floored to 5 minutes), so the same `seed` and `now` give
  the same rows, and screenshots/tests do not change colour between runs.
* One implementation of the gauges. Every equity point is walked through `risk_state.advance`
  and every historical quote through `market_guards.apply_quote`, exactly as live ingestion does,
  so the stored HWM/drawdown, the `account_risk_state` row and the guard events can never disagree
  with what the live services would have computed.
* Fast. History is written with bulk `insert(Model)` executemany in chunks, never row-by-row ORM
  adds; the full fleet seeds in a few seconds on SQLite and PostgreSQL.
* Counters are the truth. `account_risk_state` counters are computed from the very rows inserted.

The modules, in the order a seed uses them: `market_history` (quotes and market guards),
`positions` and `account_history` (one account's trades, syncs and incidents, pure),
`reconciliation_rows` and `equity_walk` (the rows they become), `database` (`seed_demo` and the
one transaction), `report` (what the caller is told). How a fill is drawn is shared with the live
simulator and lives outside the package, in `dashboard.demo.trading`.
"""

from dashboard.demo.seed.database import (
    DEFAULT_SEED,
    DEMO_PASSWORD,
    SEED_MARKER,
    demo_logins,
    ensure_demo_passwords,
    floor_to_step,
    is_seeded,
    seed_demo,
)
from dashboard.demo.seed.market_history import domain_spec
from dashboard.demo.seed.report import SeedReport
from dashboard.demo.trading import margin_of

__all__ = [
    "DEFAULT_SEED",
    "DEMO_PASSWORD",
    "SEED_MARKER",
    "SeedReport",
    "demo_logins",
    "domain_spec",
    "ensure_demo_passwords",
    "floor_to_step",
    "is_seeded",
    "margin_of",
    "seed_demo",
]
