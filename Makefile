# The two commands a new user needs: `make run` (demo app) and `make test` (whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test env lint bench-queries bench-cache bench-api bench-sessions bench-db-tx bench-abuse bench-redis-recovery

run: env
	$(PY) -m dashboard run --demo

test: env
	bash scripts/test.sh

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	bash scripts/ensure_env.sh
	touch $@

lint: env
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench-queries: env
	$(PY) bench/queries.py

bench-cache: env
	$(PY) bench/cache.py

bench-api: env
	$(PY) bench/api_load.py

bench-sessions: env
	$(PY) bench/sessions.py

bench-db-tx: env
	$(PY) bench/db_tx.py

bench-abuse: env
	$(PY) bench/abuse.py

bench-redis-recovery: env
	$(PY) bench/redis_recovery.py
