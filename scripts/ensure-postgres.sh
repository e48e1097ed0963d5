#!/usr/bin/env bash
# Install Debian's PostgreSQL server binaries where they are missing, for the tests that start a
# throwaway server (tests/pg.py runs initdb and pg_ctl into a temporary directory; no service is used).
# Idempotent: does nothing when initdb and pg_ctl are on PATH or in /usr/lib/postgresql/*/bin.
# Needs root (or sudo) to install.
set -euo pipefail

if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    exit 0
fi
for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then
        exit 0
    fi
done

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "ensure-postgres: initdb/pg_ctl are missing and this is not root; install them with: apt-get install postgresql" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends postgresql
