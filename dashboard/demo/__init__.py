"""The demo: a fleet that keeps moving, for anyone trying the dashboard (docs/domain.md §5).

- `fleet.py` loads and validates `data/demo_fleet.toml`, the single source of the demo's parameters.
- `prices.py`, `equity_curves.py`, `sync_outcomes.py`, `trading.py`: pure, reproducible generators;
  every one takes a seed (or a `random.Random` derived from one), so the seed, the live simulator and
  the tests see the same numbers. Floats live only inside the random-walk maths; money, prices,
  volumes and percentages handed out are quantised `Decimal`s.
- `seed/` writes seven days of history in one transaction (a bulk loader).
- `simulator.py` keeps it moving through the ingestion services, as a bridge would.
"""
