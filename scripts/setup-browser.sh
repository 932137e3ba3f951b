#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests, which drive it through playwright-core (never a browser
# download). Does nothing when /usr/bin/chromium is there. Needs root, or sudo without a password.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: no apt-get here; install Chromium so that /usr/bin/chromium exists" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "setup-browser: installing chromium needs root: run \"sudo apt-get update && sudo apt-get install -y chromium\"" >&2
  exit 1
fi
echo "setup-browser: installing Debian's chromium (apt-get)" >&2
"${as_root[@]}" apt-get update >&2
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y chromium >&2
/usr/bin/chromium --version >&2
