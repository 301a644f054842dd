#!/usr/bin/env bash
# The whole test suite against the real services (what `make test` and CI run).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash scripts/ensure_services.sh
# Two workers (TEST_WORKERS=0 runs in one process): the suite mostly waits on subprocesses,
# browsers and page ticks, so two workers on two cores halve the wall time. `loadscope` keeps each
# module on one worker, so a module's shared app, cluster or browser is started once; modules go out
# in collection order (`--no-loadscope-reorder`: xdist would otherwise send the modules with the
# most tests first, leaving the few slow single-test ones, apps and browsers, to one worker at the
# end); `tests/conftest.py` puts those slow modules first.
exec "$VENV/bin/python" -m pytest -n "${TEST_WORKERS:-2}" --dist loadscope --no-loadscope-reorder --durations=15 "$@"
