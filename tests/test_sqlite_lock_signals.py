"""Waiting for a SQLite lock another process holds: signals are acted on, the busy timeout still bounds the wait.

SQLite waits for its lock in C, where Python runs no signal handler; the storage waits in short slices and tries
again until the busy timeout has passed (`tunesmith.storage._engine.Connections.run`).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tunesmith.errors import StorageUnavailable
from tunesmith.storage import SQLStorage

# Opens the storage, says so, then on "go" writes one attribute; SIGTERM ends it with 143, as `tunesmith run` does.
WRITER = textwrap.dedent(
    """
    import signal, sys
    from tunesmith.storage import SQLStorage

    def terminated(signum, frame):
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, terminated)
    storage = SQLStorage(sys.argv[1], busy_timeout=60)
    print("ready", flush=True)
    sys.stdin.readline()
    storage.set_study_attr(int(sys.argv[2]), "k", 1)
    print("written", flush=True)
    """
)

# Takes the write lock, says so, holds it for argv[2] seconds, then lets it go.
HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time

    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
    """
)


def _new_study(path: Path) -> int:
    storage = SQLStorage(f"sqlite:///{path}")
    try:
        info, _ = storage.get_or_create_study("s", {}, now=0.0)
        return info.id
    finally:
        storage.close()


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the database's write lock for ``seconds``, once it has taken it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_sigterm_is_acted_on_within_a_second_while_a_write_waits_for_the_sqlite_lock(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    study_id = _new_study(path)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, f"sqlite:///{path}", str(study_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    hold = sqlite3.connect(path, isolation_level=None)
    try:
        hold.execute("BEGIN EXCLUSIVE")
        writer.stdin.write("go\n")
        writer.stdin.flush()
        time.sleep(2.0)  # well into the 60-s wait for the lock
        assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
        writer.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = writer.communicate(timeout=90)
        took = time.monotonic() - sent
    finally:
        hold.close()
    assert writer.returncode == 143, err
    assert "written" not in out
    # A try waits at most half a second; the rest is the interpreter ending, slower on a loaded machine.
    assert took < 3.0, f"exit came {took:.1f} s after SIGTERM"


def test_a_write_waits_out_a_lock_held_longer_than_one_slice_and_is_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    study_id = _new_study(path)
    storage = SQLStorage(f"sqlite:///{path}", busy_timeout=30)
    holder = _hold_lock(path, 3.0)
    try:
        began = time.monotonic()
        storage.update_study_attr(study_id, "count", lambda count: (count or 0) + 1)
        waited = time.monotonic() - began
        assert waited > 2.0, "the write ran while the other process held the lock"
        assert storage.load_study("s").attrs["count"] == 1
    finally:
        storage.close()
        holder.communicate(timeout=30)


def test_a_lock_held_past_the_busy_timeout_fails_after_the_whole_timeout_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    study_id = _new_study(path)
    storage = SQLStorage(f"sqlite:///{path}", busy_timeout=1.8)
    holder = _hold_lock(path, 6.0)
    try:
        began = time.monotonic()
        with pytest.raises(StorageUnavailable, match=r"stayed locked longer than the busy timeout \(1\.8 s\)"):
            storage.set_study_attr(study_id, "k", 1)
        assert time.monotonic() - began >= 1.8
    finally:
        storage.close()
        holder.kill()
        holder.communicate()
