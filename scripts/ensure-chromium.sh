#!/usr/bin/env bash
# Install Debian's chromium where it is missing, for the report's headless-browser test.
# Idempotent: does nothing when /usr/bin/chromium exists. Needs root (or sudo) to install.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "ensure-chromium: /usr/bin/chromium is missing and this is not root; install it with: apt-get install chromium" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
