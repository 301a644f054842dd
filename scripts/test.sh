#!/usr/bin/env bash
# The whole test suite against the real services (what `make test` and CI run).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
bash scripts/ensure_services.sh
exec "$VENV/bin/python" -m pytest "$@"
