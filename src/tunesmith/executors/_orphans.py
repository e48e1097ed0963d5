"""What a trial process that died (``os._exit``, a segfault, the OOM killer) left running, found and killed.

A trial process is a child subreaper, so that what its objective starts stays below it while it lives; when it dies,
what was below it is re-parented. To the driver, not to init, once the driver is a child subreaper too
(`become_subreaper`, while the process executor runs). The driver then tells a trial's orphans from its own children
by a mark: each trial process puts a token of its own in its environment (`MARK`), which every process it starts
inherits, and `end_orphans` kills only the driver's children that carry that trial's token, with everything below
them. A process the driver's own code started never carries a trial's token, so it is never killed; a process of the
trial started with an environment of its own (``env={...}``) carries none either, and is left running.

Linux only (``/proc``, ``PR_SET_CHILD_SUBREAPER``); elsewhere nothing is found.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

from tunesmith.executors._process_tree import _live_parents, live_descendants

__all__ = ["MARK", "become_subreaper", "end_orphans", "new_token", "restore_subreaper"]

MARK = "TUNESMITH_TRIAL_TOKEN"  # the environment variable a trial process sets to its token
_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h> (Linux 3.4)
_PR_GET_CHILD_SUBREAPER = 37
_END_TIMEOUT = 5.0  # seconds to wait for SIGKILLed processes to die (one stuck in the kernel may never)
_END_POLL = 0.01


def new_token() -> str:
    """A token for one trial, unique in this driver's life."""
    return secrets.token_hex(8)


def become_subreaper(prctl: Any) -> bool | None:
    """Make this process adopt its orphaned descendants; returns whether it did before (to give back to
    `restore_subreaper`), ``None`` where that is unavailable (``prctl`` is ``None``, or the kernel refuses)."""
    if prctl is None:
        return None
    import ctypes

    was = ctypes.c_int(0)
    if prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(was), 0, 0, 0) != 0:
        return None
    if prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        return None
    return bool(was.value)


def restore_subreaper(prctl: Any, was: bool | None) -> None:
    """Undo `become_subreaper`, whose answer was ``was``."""
    if prctl is not None and was is False:
        prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def _carries(pid: int, token: str) -> bool:
    try:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes()
    except OSError:
        return False  # ended, or another user's
    return f"{MARK}={token}".encode() in environ.split(b"\0")


def end_orphans(token: str, spared: set[int]) -> int:
    """SIGKILL the driver's children that carry ``token`` (the orphans of the trial process that had it) and every
    process below them, and reap those that are the driver's children; returns how many were killed.

    ``spared`` are the pids of live trial processes, never touched. The processes found are stopped (SIGSTOP) until
    no new one appears, so that none starts another behind the kills, then killed. Gives up after `_END_TIMEOUT`
    seconds on processes that do not die.
    """
    me = os.getpid()
    found: set[int] = set()
    while True:  # stop them all first, so that the tree cannot grow while it is killed
        roots = [pid for pid, parent in _live_parents().items() if parent == me and pid not in spared]
        tree = {pid for pid in roots if _carries(pid, token)}
        tree.update(child for pid in list(tree) for child in live_descendants(pid))
        new = tree - found
        if not new:
            break
        for pid in new:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        found |= new
    killed = 0
    for pid in found:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    deadline = time.monotonic() + _END_TIMEOUT
    waiting = set(found)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)  # only these pids: never another child's status
            except ChildProcessError:
                # Not (or no longer) the driver's child: its own parent reaps it, or it is re-parented here once
                # that parent is gone; it is done once no live process has that pid.
                if pid not in _live_parents():
                    waiting.discard(pid)
                continue
            if done:
                waiting.discard(pid)
        time.sleep(_END_POLL)
    return killed
