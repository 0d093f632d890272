#!/usr/bin/env bash
# Makes sure Debian's Chromium and ChromeDriver are present. Nothing downloads a browser at run time:
# they come from the distribution's packages, installed here when missing and we are root.
set -euo pipefail
chrome="${CHROME_BINARY:-$(command -v chromium || true)}"
driver="${CHROMEDRIVER_PATH:-$(command -v chromedriver || true)}"
if [ -n "$chrome" ] && [ -x "$chrome" ] && [ -n "$driver" ] && [ -x "$driver" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "Chromium/ChromeDriver missing: run 'sudo apt-get install chromium chromium-driver'" >&2
  exit 1
fi
echo "Installing chromium and chromium-driver from Debian packages..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null
echo "Chromium: $(chromium --version 2>/dev/null)"
