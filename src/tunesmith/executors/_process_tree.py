"""The processes a trial started, found wherever they went and ended, so that none outlives its trial.

A process group is not enough: a launcher or a data server that starts its own session (``setsid``,
``start_new_session=True``) leaves the trial's group, and `os.killpg` no longer reaches it. What a process
cannot leave is the tree of parents, as long as no process of it dies: `end_descendants` walks that tree
from ``/proc``. A trial process is made a child subreaper (see `processes`), so that what outlives its own
parent inside the trial is re-parented to the trial process, not to init, and stays in the tree.

Linux only (it reads ``/proc``); elsewhere nothing is found and the trial's process group is all that is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

__all__ = ["end_descendants", "live_descendants", "start_time"]

_PROC = Path("/proc")
_GONE_STATES = ("Z", "X")  # a zombie (dead, waiting for its parent to read its status) or a dead process
_END_TIMEOUT = 5.0  # seconds to wait for SIGKILLed processes to die (one stuck in the kernel may never)
_END_POLL = 0.01  # seconds between looks at what is left


def _live_parents() -> dict[int, int]:
    """The parent pid of every live process (zombies left out); empty without ``/proc``."""
    parents: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in _PROC.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # it ended while we looked
            # The command name, in parentheses, may hold spaces and parentheses itself: the fields follow the last ")".
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) >= 2 and fields[0] not in _GONE_STATES:
                parents[int(entry.name)] = int(fields[1])
    return parents


def live_descendants(root: int) -> list[int]:
    """Every live process below ``root`` (children, their children...), parents before their children."""
    children: dict[int, list[int]] = {}
    for pid, parent in _live_parents().items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    frontier = children.get(root, [])
    while frontier:
        found.extend(frontier)
        frontier = [child for pid in frontier for child in children.get(pid, [])]
    return found


def start_time(pid: int) -> int | None:
    """When the live process ``pid`` started (clock ticks after boot), which tells it from a later process given the
    same pid; ``None`` once it is gone (a zombie too) or is another user's. Without ``/proc``, 0 for any live process
    of this user: pids are then told apart by no more than being alive."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        if _PROC.is_dir():
            return None
        try:
            os.kill(pid, 0)
        except OSError:
            return None
        return 0
    fields = stat.rsplit(")", 1)[-1].split()  # as in `_live_parents`: fields[0] is field 3 of proc(5), the state
    if len(fields) < 20 or fields[0] in _GONE_STATES:
        return None
    return int(fields[19])  # field 22, starttime


def _reap_children() -> None:
    """Read the exit status of this process's children that ended, so that none is left a zombie."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_descendants(root: int) -> int:
    """SIGKILL every live process below ``root`` until none is left; returns how many were killed.

    ``root`` must start no more processes while this runs: it is the caller (whose objective has returned) or a
    process the caller stopped (SIGSTOP). It should be a child subreaper, so that the children of a process killed
    here are re-parented to it and found on the next look rather than lost to init. The caller's own children are
    reaped. Gives up after `_END_TIMEOUT` seconds on processes that do not die (stuck in the kernel), and leaves
    alone those it may not signal (another user's).
    """
    mine = root == os.getpid()
    killed: set[int] = set()
    refused: set[int] = set()
    deadline = time.monotonic() + _END_TIMEOUT
    while True:
        if mine:
            _reap_children()
        left = [pid for pid in live_descendants(root) if pid not in refused]
        if not left or time.monotonic() > deadline:
            return len(killed)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            except PermissionError:
                refused.add(pid)
                continue
            killed.add(pid)
        time.sleep(_END_POLL)  # for the kernel to end them and re-parent their children
