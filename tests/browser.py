"""Headless Chromium for tests: Debian's package, offline, with a throwaway profile."""

from __future__ import annotations

import contextlib
import os
import signal
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
ATTEMPTS = 2


def chromium(
    *args: str, profile: Path, allow_loopback: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args``; every host name fails to resolve (so a page that fetched
    anything from the network would break), except 127.0.0.1 with ``allow_loopback``.

    Each call gets a profile of its own under ``profile`` (two runs sharing one can wait on each other's
    lock). Headless Chromium with a virtual-time budget now and then never exits on a loaded machine (CI
    saw a screenshot hang 90 s after the same page's DOM dump took seconds): such a run is killed with
    every process it started and tried once more; a second hang fails the test."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make unit does) to install it")
    rules = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if allow_loopback else "MAP * ~NOTFOUND"
    for attempt in range(1, ATTEMPTS + 1):
        own = _fresh(profile)
        command = [CHROMIUM, *FLAGS, f"--user-data-dir={own}", f"--host-resolver-rules={rules}", *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            if attempt == ATTEMPTS:
                raise
            continue
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    raise AssertionError("unreachable")


def _fresh(profile: Path) -> Path:
    profile.mkdir(parents=True, exist_ok=True)
    number = sum(1 for _ in profile.iterdir())
    own = profile / f"run-{number}"
    own.mkdir()
    return own


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
