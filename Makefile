# The two commands a new user needs: `make run` (demo app) and `make test` (whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test test-fast env lint bench-queries bench-cache bench-api bench-sessions bench-db-tx bench-abuse bench-redis-recovery bench-cluster bench-alerts

run: env
	$(PY) -m dashboard run --demo

test: lint
	bash scripts/test.sh

# The tests that need no PostgreSQL, Redis or browser, for the edit loop (about 3 minutes here).
test-fast: env
	$(PY) -m pytest -q -m "not postgres and not redis and not browser"

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml package-lock.json
	bash scripts/ensure_env.sh
	touch $@

lint: env
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

bench-queries: env
	$(PY) bench/queries.py

bench-cache: env
	$(PY) bench/cache.py

bench-api: env
	$(PY) bench/api_load.py

bench-sessions: env
	$(PY) bench/sessions.py

bench-cluster: env
	$(PY) bench/cluster.py

bench-db-tx: env
	$(PY) bench/db_tx.py

bench-abuse: env
	$(PY) bench/abuse.py

bench-redis-recovery: env
	$(PY) bench/redis_recovery.py

bench-alerts: env
	$(PY) bench/alerts.py
