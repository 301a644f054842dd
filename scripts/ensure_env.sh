#!/usr/bin/env bash
# Create the virtual environment and install the project with its dev extra, then the npm test tooling.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "error: Python >= 3.11 is needed ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 2
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' || true
"$VENV/bin/python" -c 'import dashboard, nicegui, sqlalchemy, asyncpg, redis, playwright' \
  || { echo "error: the environment in $VENV is incomplete" >&2; exit 2; }
# Browser-test tooling from npm (axe-core for tests/e2e/test_accessibility.py), pinned in package-lock.json.
command -v npm >/dev/null 2>&1 \
  || { echo "error: npm is missing (install Node.js 20+ with npm; it installs axe-core for the browser tests)" >&2; exit 2; }
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
[ -f node_modules/axe-core/axe.min.js ] \
  || { echo "error: npm did not install axe-core (node_modules/axe-core/axe.min.js is missing)" >&2; exit 2; }
