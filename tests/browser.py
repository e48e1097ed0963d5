"""Headless Chromium for tests: Debian's package, offline, with a throwaway profile."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(
    *args: str, profile: Path, allow_loopback: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args``; every host name fails to resolve (so a page that fetched
    anything from the network would break), except 127.0.0.1 with ``allow_loopback``."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make unit does) to install it")
    rules = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if allow_loopback else "MAP * ~NOTFOUND"
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--host-resolver-rules={rules}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
