"""Runs each trial in its own child process, so no objective can take the study down with it.

An exception, a NaN, ``os._exit``, a segfault, a memory blow-up (with ``memory_limit``) or a
hang (with ``trial_timeout``) each becomes a failed `TrialOutcome` with its reason, and the
study goes on. Children talk to the parent over a pipe: ``("report", step, metrics)`` is
answered with the decision; ``("result", value, decision, ran_all_steps, extra)`` or ``("error", reason,
text, decision, kind, extra)`` ends the trial (``extra``: what the objective asked for by name, see
`TrialOutcome`), after ``("leftover", count)`` when the objective left processes running. Children never touch
the storage.

A trial's process dies with its driver (the process that runs the study), and takes the process
group it leads with it (what the objective started: a launcher, a data loader's workers): on Linux
the kernel sends it SIGHUP when the driver dies (``PR_SET_PDEATHSIG``), whose handler SIGKILLs the
group; elsewhere a watchdog thread notices within a second that it was re-parented. A child whose
pipe breaks kills its group at once, and its `Trial` refuses to write checkpoints once orphaned, so
a stale process never touches a trial that a later run has already recorded. The handler and the
watchdog are Python code, which waits for the trial's GIL: a trial inside one long C call that holds it
(a builtin, a C-extension loop) would run on until the call returns. So the driver also forks one small
watch process when the executor starts (`_watch_driver`), told of each trial process as it starts and
ends; when the driver dies, it gives the trials still running `_WATCH_GRACE` seconds to end themselves,
then SIGKILLs those left with everything they started. It needs nothing of a trial, and is killed and
reaped at ``shutdown``.

No process a trial started outlives the trial, not even one in a session of its own (``setsid``, a
daemon): on Linux the trial process is a child subreaper (``PR_SET_CHILD_SUBREAPER``), so what its
objective started stays below it, and every process still below it when the trial ends is killed
(`_process_tree.end_descendants`): by the trial process itself once the objective has returned (the
driver then logs a warning naming the trial and how many it killed), or by the driver, which stops the
trial process first (SIGSTOP), when the trial is cut off (timed out, or killed at shutdown).

With ``gpus_per_trial``, each trial process holds GPUs from the executor's pool (`_gpus.GpuPool`) while it runs:
its ``CUDA_VISIBLE_DEVICES`` names them, no two running trials share one beyond their fractions, and the driver
takes them back once the process is gone (done, failed, timed out, crashed), adding them to the outcome's
``extra[GPUS]`` for the study to record.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import functools
import gc
import logging
import multiprocessing as mp
import os
import select
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from typing import IO, Any, NoReturn

from tunesmith._validate import duration, integer, memory_size
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.executors._gpus import gpu_pool
from tunesmith.executors._orphans import MARK, become_subreaper, end_orphans, new_token, restore_subreaper
from tunesmith.executors._process_tree import end_descendants, start_time
from tunesmith.executors.base import (
    Executor,
    Objective,
    ReportHandler,
    StopStudy,
    TrialJob,
    TrialOutcome,
    decide_report,
    gpus_held,
)
from tunesmith.executors.inline import holding_interrupts, restore_held_handlers, run_job
from tunesmith.trial import TrialKind

__all__ = ["ProcessExecutor"]

_log = logging.getLogger("tunesmith")


def _plain(value: Any) -> Any:
    """Make a result safe to send: numpy scalars to floats, mappings to dicts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _address_space() -> int:
    """Bytes of address space this process maps now (0 where /proc is unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h> (Linux 3.4)
# The signal the kernel sends a trial process when its driver dies. Not SIGKILL, which would kill the trial process
# alone and leave what it started running, but a signal it can catch to kill its whole group. SIGHUP ("your
# controlling process went away") is one a training objective is unlikely to handle: SIGTERM and SIGUSR1 are taken
# by preemption handlers (Lightning's on SLURM, for one), SIGINT by KeyboardInterrupt. An objective that installs
# its own SIGHUP handler takes this over; the broken pipe still ends it at its next report, and the driver's watch
# process (`_watch_driver`) `_WATCH_GRACE` seconds after the driver died.
_DRIVER_DEATH_SIGNAL = signal.SIGHUP
_DRIVER_WATCH_INTERVAL = 1.0  # seconds between the fallback watchdog's looks at the parent pid
_ORPHANED_EXIT = 3  # the exit code of a trial process that found its driver gone (nobody reads it)
# Longer than the watchdog's interval, so that a trial whose GIL is free ends itself (`_orphaned`) before the watch
# process kills it; short enough that a trial stuck in a C call stops training soon after its driver is killed.
_WATCH_GRACE = 1.5
_WATCH_POLL = 0.05  # seconds between the watch process's looks at the trials it gives that grace
_WATCH_NAME = b"tunesmith-watch"  # the watch process's name in ps (``/proc/<pid>/comm``, 15 characters at most)
_PR_SET_NAME = 15  # from <linux/prctl.h>


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl``, or ``None`` off Linux (resolved in the parent, so a forked child inherits it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _parent_death_signal() -> bool:
    """Ask the kernel to send this process `_DRIVER_DEATH_SIGNAL` when its parent dies, handled by killing this
    process and its group (`_orphaned`); ``False`` where that is unavailable."""
    prctl = _prctl()
    if prctl is None:
        return False
    # The handler first: the signal may come the moment prctl returns.
    previous = signal.signal(_DRIVER_DEATH_SIGNAL, _on_driver_death)
    if prctl(_PR_SET_PDEATHSIG, _DRIVER_DEATH_SIGNAL, 0, 0, 0) == 0:
        return True
    signal.signal(_DRIVER_DEATH_SIGNAL, previous)
    return False


def _become_subreaper() -> bool:
    """Make this process the one that adopts its orphaned descendants (not init), so that a process the objective
    started that leaves the trial's session and loses its parent (a daemon) is still found and killed when the
    trial ends; ``False`` where that is unavailable (off Linux, before Linux 3.4)."""
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _on_driver_death(signum: int, frame: object) -> None:
    _orphaned()


def _orphaned() -> NoReturn:
    """Leave at once, running nothing, and SIGKILL what this trial process started and left running (its
    descendants, then the process group it leads): the driver is gone, so nothing this trial does can be recorded,
    and no driver is left to kill them. A process that leads no group (not set up as a trial) leaves alone."""
    if hasattr(os, "killpg") and os.getpgrp() == os.getpid():
        with contextlib.suppress(OSError):
            end_descendants(os.getpid())
        with contextlib.suppress(OSError):
            os.killpg(os.getpid(), signal.SIGKILL)  # this process too
    os._exit(_ORPHANED_EXIT)


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(_DRIVER_WATCH_INTERVAL)
        if os.getppid() != parent_pid:
            _orphaned()


def _die_with_parent(parent_pid: int) -> None:
    """Tie the life of this trial process and of its process group to its parent's: a driver killed with
    SIGKILL leaves no orphans.

    The parent-death signal only covers a parent that dies after it is set, so the parent pid is
    checked again afterwards. (Linux sends the signal when the parent *thread* that forked exits: the
    study's loop thread, which joins or kills every trial process before it returns.) The signal's
    handler runs when the main thread next runs Python code, so a watchdog thread also polls the
    parent pid every second: a trial inside a long C call that releases the GIL (a sleep, most of
    numpy's and torch's kernels) still dies within a second; where there is no such signal, the
    watchdog alone does it. Both wait for the GIL: a trial inside a C call that holds it is ended by the
    driver's watch process instead (`_watch_driver`), `_WATCH_GRACE` seconds after the driver died.
    """
    _parent_death_signal()
    if os.getppid() != parent_pid:
        _orphaned()
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="tunesmith-parent-watch", daemon=True).start()


def _end_tree(pid: int) -> None:
    """SIGKILL a trial process and every process below it: stopped first (SIGSTOP), so that it starts no more,
    then its descendants (those in a session of their own too), then its group, itself included."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGSTOP)
    end_descendants(pid)
    _kill_group(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)  # a trial process that leads no group


def _kill_group(pid: int | None) -> None:
    """SIGKILL the process group a trial process leads (its own and every process it started that stayed in
    it); nothing when the group is gone. The group's id cannot be given to another process while any
    member lives, so this never reaches beyond the trial."""
    if pid is None or not hasattr(os, "killpg"):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _cut_off(process: Any) -> None:
    """Kill a trial process that has not ended by itself (timed out, or the study is shutting down) and every
    process below it (`_end_tree`); joined. An interruption is held until then and replayed after (Ctrl-C's
    `KeyboardInterrupt` is raised once the process is gone): one landing between the SIGSTOP and the SIGKILL left the
    process stopped for ever, and the run waited on it as it exited."""
    with holding_interrupts(replay=True):
        _end_tree(process.pid)
        process.kill()
        process.join()


@dataclass
class _Watch:
    """The driver's side of its watch process (`_watch_driver`)."""

    pid: int
    line: Connection  # the write end of the pipe the watch process reads; its end of file says the driver is gone

    def tell(self, change: bytes, trial_pid: int) -> None:
        """Tell the watch process that a trial process started (``b"+"``) or ended (``b"-"``)."""
        try:
            # Shorter than PIPE_BUF: written whole or not at all, and never waited on (the pipe does not block).
            os.write(self.line.fileno(), b"%s%d\n" % (change, trial_pid))
        except OSError as exc:  # it was killed (a broken pipe), or is stopped and its pipe full
            _log.debug("tunesmith: the driver's watch process (pid %d) missed trial process %d: %s",
                       self.pid, trial_pid, exc)  # fmt: skip

    def stop(self) -> None:
        """Kill and reap the watch process: the driver lives, so it has nothing to do."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.line.close()


def _start_watch(start_method: str) -> _Watch | None:
    """Fork the driver's watch process (`_watch_driver`); ``None`` where there is no ``fork``, and off Linux unless
    trials are forked anyway (macOS's system libraries are not safe to use in a forked child; ``spawn`` avoids it)."""
    if not hasattr(os, "fork") or not (sys.platform.startswith("linux") or start_method == "fork"):
        return None
    reader, writer = os.pipe()
    driver = os.getpid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the watch process, which leaves only through os._exit
        try:
            _watch_driver(reader, driver)
        finally:
            os._exit(0)
    os.close(reader)
    os.set_blocking(writer, False)  # a stopped watch process must never hold the driver up
    return _Watch(pid, Connection(writer, readable=False))


def _watch_driver(lifeline: int, driver: int) -> None:
    """The watch process: read which trial processes run from ``lifeline`` until the driver is gone (its end of
    file, or this process re-parented), then end those trials (`_end_orphaned_trials`).

    A process of its own, single-threaded, so its GIL is always free; it reads a trial's start time when told of
    it, so that it never kills a process that was later given a dead trial's pid.
    """
    gc.disable()  # no finalizer of an object the driver owns may close a descriptor this process has reused
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # What stops the driver's whole process group (Ctrl-C, `timeout`, a hang-up) must leave this process to end
        # the trials, and never kill it before the driver has shut it down.
        signal.signal(signum, signal.SIG_IGN)
    lifeline = _keep_only(lifeline)
    prctl = _prctl()
    if prctl is not None:
        prctl(_PR_SET_NAME, ctypes.c_char_p(_WATCH_NAME), 0, 0, 0)
    trials: dict[int, int] = {}  # pid -> start time
    unread = b""
    while os.getppid() == driver:
        ready, _, _ = select.select([lifeline], [], [], _DRIVER_WATCH_INTERVAL)
        if not ready:
            continue
        data = os.read(lifeline, 4096)
        if not data:
            break
        *lines, unread = (unread + data).split(b"\n")
        for line in lines:
            pid = int(line[1:])
            if line.startswith(b"-"):
                trials.pop(pid, None)
            elif (started := start_time(pid)) is not None:
                trials[pid] = started
    # The pipe reaches its end of file as the dying driver closes its files, just before it re-parents this
    # process; a driver still this process's parent then closed the pipe itself, and lives: nothing to end.
    deadline = time.monotonic() + _DRIVER_WATCH_INTERVAL
    while os.getppid() == driver:
        if time.monotonic() > deadline:
            return
        time.sleep(_WATCH_POLL)
    _end_orphaned_trials(trials)


def _end_orphaned_trials(trials: dict[int, int]) -> None:
    """Give the trial processes of a driver that died (``pid -> start time``) `_WATCH_GRACE` seconds to end
    themselves, as their own handler does once it runs, then SIGKILL those left with everything they started."""
    deadline = time.monotonic() + _WATCH_GRACE
    while True:
        left = [pid for pid, started in trials.items() if start_time(pid) == started]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(_WATCH_POLL)
    for pid in left:
        _end_tree(pid)


def _keep_only(lifeline: int) -> int:
    """Close every descriptor the watch process inherited but ``lifeline`` (the driver's ends of the trials' pipes
    among them, whose end of file tells an orphaned trial its driver is gone), and point the standard streams at
    ``/dev/null`` (a reader of the driver's output waits for no watch process); returns ``lifeline``'s new number, 3:
    small enough for ``select``."""
    try:
        inherited = [int(name) for name in os.listdir("/proc/self/fd" if os.path.isdir("/proc/self") else "/dev/fd")]
    except OSError:
        inherited = list(range(3, 1024))
    for fd in inherited:
        if fd > 2 and fd != lifeline:
            with contextlib.suppress(OSError):
                os.close(fd)
    if lifeline != 3:  # before the standard streams are replaced: the pipe may be one of their numbers
        os.dup2(lifeline, 3)
        os.close(lifeline)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    return 3


def _end_leftovers(conn: Connection) -> None:
    """Kill what the objective, now returned, left running below this trial process, and tell the driver how many
    (``("leftover", count)``), which warns: a trial's end does not wait on a daemon it started."""
    count = end_descendants(os.getpid())
    if count:
        _send(conn, ("leftover", count))


def _send(conn: Connection, message: tuple[Any, ...]) -> None:
    """Send to the driver, or leave if it is gone (a broken pipe: nobody will record this trial)."""
    try:
        conn.send(message)
    except (EOFError, OSError):
        _orphaned()


def _child_main(
    objective: Objective,
    job: TrialJob,
    conn: Connection,
    memory_limit: int | None,
    threads: int | None,
    crash_log: IO[bytes] | None,
    parent_pid: int | None = None,
    inherited: tuple[Connection, ...] = (),
    token: str = "",
    environment: dict[str, str] | None = None,
) -> None:
    """Entry point of a trial's process. Always leaves through ``os._exit``: no inherited finalizer
    (a parent's database connection, say) ever runs in the child.

    ``parent_pid`` is the pid the child's parent had before the fork (``None``: read it now, for a
    forkserver's child); ``inherited`` are the driver's ends of this and earlier trials' pipes, which
    a forked child holds copies of: closed here, so that the driver's death breaks this trial's pipe. ``token``
    marks every process the objective starts (in their environment, `_orphans.MARK`), so that the driver finds what
    is left of this trial if this process dies first. ``environment`` is set before anything else runs (the GPUs the
    trial holds, ``CUDA_VISIBLE_DEVICES``).
    """
    try:
        restore_held_handlers()  # forked while the driver held interruptions: its own handlers, not the hold's
        os.environ[MARK] = token
        os.environ.update(environment or {})
        if parent_pid is None:
            parent_pid = os.getppid()
        if hasattr(os, "setpgid"):
            # A process group of its own: what the objective starts (a data loader's workers, a subprocess) joins
            # it, and a timeout, the trial's end or the driver's shutdown kills the group, leaving no orphans.
            os.setpgid(0, 0)
        _become_subreaper()
        _die_with_parent(parent_pid)
        for other in inherited:
            with contextlib.suppress(OSError):
                other.close()
        if crash_log is not None:
            # A segfault's Python stack goes to a file the parent reads, not to the user's terminal. A
            # handler the parent inherited (Ray enables one in its driver) is dropped first, or it wins.
            faulthandler.disable()
            faulthandler.enable(file=crash_log, all_threads=False)
        if memory_limit is not None:
            import resource

            limit = _address_space() + memory_limit
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if threads is not None:
            # Parallel trials each running a full BLAS thread pool would oversubscribe the cores.
            from threadpoolctl import threadpool_limits

            threadpool_limits(threads)

        def on_report(number: int, step: int, metrics: dict[str, float]) -> Decision:
            _send(conn, ("report", step, metrics))
            try:
                return Decision(conn.recv())
            except (EOFError, OSError):
                _orphaned()

        outcome = run_job(objective, job, on_report, parent_pid=parent_pid)
        _end_leftovers(conn)
        if outcome.failed:
            kind = outcome.kind or TrialKind.EXCEPTION
            _send(conn, ("error", outcome.reason, outcome.error, outcome.decision.value, kind.value, outcome.extra))
        else:
            try:
                conn.send(("result", _plain(outcome.result), outcome.decision.value, outcome.ran_all_steps,
                           outcome.extra))  # fmt: skip
            except (EOFError, OSError):
                _orphaned()
            except Exception as exc:  # noqa: BLE001 - an unpicklable result is the objective's fault
                _send(conn, ("error", "result not serialisable", f"{type(exc).__name__}: {exc}",
                             outcome.decision.value, TrialKind.BAD_RESULT.value, outcome.extra))  # fmt: skip
    except BaseException:  # noqa: BLE001 - report anything, including SystemExit, then leave
        with contextlib.suppress(Exception):
            conn.send(("error", "exception in trial process", traceback.format_exc(), Decision.CONTINUE.value,
                       TrialKind.EXCEPTION.value, {}))  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(Exception):
            end_descendants(os.getpid())  # a trial process that failed before its objective returned
        os._exit(0)


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "trial process vanished"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return "killed by SIGKILL (out of memory or killed)"
        return f"killed by {name}"
    return f"trial process exited with code {exitcode}"


@dataclass
class _Running:
    job: TrialJob
    process: Any
    conn: Connection
    started: float
    token: str  # in the environment of every process the trial starts (`_orphans.MARK`)
    crash_log: IO[bytes] | None = None
    gpus: tuple[str, ...] = ()  # taken from the executor's pool (`gpus_per_trial`); given back when it ends
    decision: Decision = Decision.CONTINUE

    def crash_text(self) -> str:
        """What the child's fault handler wrote (empty when it wrote nothing)."""
        if self.crash_log is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self.crash_log.seek(0)
            return self.crash_log.read().decode(errors="replace").strip()
        return ""


class ProcessExecutor(Executor):
    """Up to ``workers`` trials at once, each in a fresh child process.

    Args:
        workers: trials run at the same time.
        memory_limit: bytes (or a size such as ``"4GB"``, ``"2GiB"``; at least 1 MiB) a trial may map beyond what
            its process starts with (enforced with
            ``RLIMIT_AS``); a blow-up then fails that trial with "out of memory" instead of
            starving the machine.
        trial_timeout: seconds after which a trial is killed and recorded FAILED ("timed out").
        start_method: ``"fork"`` (default on Linux: fast, objectives may be closures) or
            ``"spawn"``/``"forkserver"`` (the objective must be importable).
        threads_per_trial: BLAS/OpenMP threads each trial may use (default: the cores shared
            evenly between the workers); ``None`` leaves the libraries' defaults.
        gpus_per_trial: GPUs each trial holds while it runs, named in its ``CUDA_VISIBLE_DEVICES``: a whole number,
            or a fraction that divides one GPU (``0.5`` puts two trials on each GPU), as Ray's ``num_gpus``. The
            GPUs are those the driver's ``CUDA_VISIBLE_DEVICES`` lists, else those ``nvidia-smi -L`` lists; no two
            running trials share one beyond their fractions, and the study records each trial's in
            ``attrs["gpus"]``. ``None`` (default) leaves the trials' environment alone: each sees every GPU.

    Raises:
        ConfigError: an argument out of its range; with ``gpus_per_trial``, no GPU found, or ``workers`` trials
            needing more GPUs than were found (the message says how many workers fit).

    Example:
        >>> study.optimize(objective, executor=ProcessExecutor(workers=4, gpus_per_trial=1))  # doctest: +SKIP
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        memory_limit: int | str | None = None,
        trial_timeout: float | None = None,
        start_method: str | None = None,
        threads_per_trial: int | str | None = "auto",
        gpus_per_trial: float | None = None,
    ) -> None:
        integer("workers", workers, minimum=1)
        # A bool is not seconds (True would be 1 s), nor is a string ("5s" is for config files, which convert it).
        trial_timeout = duration(
            "trial_timeout", trial_timeout, allow_none=True, fix="pass seconds, e.g. trial_timeout=600"
        )
        methods = mp.get_all_start_methods()
        method = start_method or ("fork" if "fork" in methods else "spawn")
        if method not in methods:
            raise ConfigError(f"start_method must be one of {methods}, got {method!r}")
        self.capacity = workers
        if threads_per_trial == "auto":
            threads_per_trial = max(1, (os.cpu_count() or 1) // workers)
        self.threads_per_trial = threads_per_trial if isinstance(threads_per_trial, int) else None
        self.memory_limit = memory_size("memory_limit", memory_limit, allow_none=True)
        self.trial_timeout = trial_timeout
        self._gpus = gpu_pool(gpus_per_trial, workers)
        self.gpus_per_trial = None if self._gpus is None else self._gpus.per_trial
        self._ctx = mp.get_context(method)
        _prctl()  # resolved once here, so a forked child does not load libc again before it is protected
        self._objective: Objective | None = None
        self._on_report: ReportHandler | None = None
        self._running: dict[int, _Running] = {}
        self._done: list[TrialOutcome] = []
        self._was_subreaper: bool | None = None
        self._watch: _Watch | None = None

    def start(self, objective: Objective, on_report: ReportHandler) -> None:
        self._objective = objective
        self._on_report = on_report
        # What a trial process that dies leaves running comes to the driver, not to init (`_end_orphans`).
        self._was_subreaper = become_subreaper(_prctl())
        if self._watch is None:
            self._watch = _start_watch(self._ctx.get_start_method())

    def submit(self, job: TrialJob) -> None:
        assert self._objective is not None, "start() first"
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        # Closed in _finish; a context manager cannot span the child's lifetime.
        forked = self._ctx.get_start_method() == "fork"
        crash_log = tempfile.TemporaryFile() if forked else None  # noqa: SIM115
        # A forkserver's child is the server's, which exits with the driver: that child reads its parent itself.
        parent_pid = None if self._ctx.get_start_method() == "forkserver" else os.getpid()
        # The watch process's pipe too: a trial holding it open would hide the driver's death from that process.
        watch = () if self._watch is None else (self._watch.line,)
        inherited = (parent_conn, *(run.conn for run in self._running.values()), *watch) if forked else ()
        token = new_token()
        limits = (self.memory_limit, self.threads_per_trial, crash_log)
        gpus = () if self._gpus is None else self._gpus.take()
        environment = None if self._gpus is None else self._gpus.environment(gpus)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=_child_main,
            args=(self._objective, job, child_conn, *limits, parent_pid, inherited, token, environment),
            name=f"tunesmith-trial-{job.number}",
            daemon=True,
        )
        # An interruption is held while the trial process forks, and raised once it is recorded as running, so that
        # shutdown kills it (`holding_interrupts`: one landing in the fork's hooks hung the run).
        with holding_interrupts(replay=True):
            try:
                process.start()
            except BaseException:
                self._give_back(gpus)
                raise
            child_conn.close()
            if self._watch is not None:
                self._watch.tell(b"+", process.pid)
            started = _Running(job, process, parent_conn, time.monotonic(), token, crash_log, gpus=gpus)
            self._running[job.number] = started

    def busy(self) -> int:
        return len(self._running) + len(self._done)

    def devices(self, number: int) -> dict[str, Any]:
        run = self._running.get(number)
        return {} if run is None else self._held(run.gpus)

    def _held(self, gpus: tuple[str, ...]) -> dict[str, Any]:
        """``gpus`` as a trial's outcome carries them, each held for ``gpus_per_trial`` where that is a fraction."""
        return {} if self._gpus is None else gpus_held(gpus, self._gpus.per_trial)

    def wait(self, timeout: float | None) -> list[TrialOutcome]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done and self._running:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self.trial_timeout is not None:
                next_expiry = min(r.started + self.trial_timeout for r in self._running.values()) - time.monotonic()
                remaining = max(0.0, next_expiry) if remaining is None else min(remaining, max(0.0, next_expiry))
            handles: list[Any] = []
            for run in self._running.values():
                handles.extend((run.conn, run.process.sentinel))
            for ready in wait_any(handles, remaining):
                self._service(ready)
            self._expire()
            if deadline is not None and time.monotonic() >= deadline:
                break
        done, self._done = self._done, []
        return done

    def _find(self, handle: Any) -> _Running | None:
        for run in self._running.values():
            if handle is run.conn or handle == run.process.sentinel:
                return run
        return None

    def _service(self, handle: Any) -> None:
        run = self._find(handle)
        if run is None:
            return
        if handle is run.conn:
            self._read_messages(run)
        elif not run.process.is_alive():
            self._read_messages(run)  # a result sent just before exiting is still in the pipe
            if run.job.number in self._running:
                run.process.join()
                self._finish(
                    run,
                    TrialOutcome(
                        run.job.number,
                        reason=_exit_reason(run.process.exitcode),
                        kind=TrialKind.CRASH,
                        error="\n".join(filter(None, [f"exit code {run.process.exitcode}", run.crash_text()])),
                        decision=run.decision,
                    ),
                )

    def _read_messages(self, run: _Running) -> None:
        try:
            while run.job.number in self._running and run.conn.poll():
                message = run.conn.recv()
                kind = message[0]
                if kind == "report":
                    _, step, metrics = message
                    assert self._on_report is not None
                    try:
                        run.decision = decide_report(self._on_report, run.job.number, step, metrics)
                    except OSError as exc:  # the driver's (an observer's ConnectionError), not the pipe's
                        raise StopStudy(exc) from exc
                    run.conn.send(run.decision.value)
                elif kind == "leftover":
                    _, count = message
                    _log.warning(
                        "tunesmith: trial %d ended with %d process%s it started still running; killed %s, since no "
                        "process outlives its trial: wait for or stop what the objective starts before it returns",
                        run.job.number, count, "" if count == 1 else "es", "it" if count == 1 else "them",
                    )  # fmt: skip
                elif kind == "result":
                    _, result, decision, ran_all, extra = message
                    outcome = TrialOutcome(
                        run.job.number, result=result, decision=Decision(decision), ran_all_steps=ran_all, extra=extra
                    )
                    self._finish(run, outcome)
                elif kind == "error":
                    _, reason, error, decision, failure, extra = message
                    outcome = TrialOutcome(
                        run.job.number, reason=reason, kind=TrialKind(failure), error=error,
                        decision=Decision(decision), extra=extra,
                    )  # fmt: skip
                    self._finish(run, outcome)
        except StopStudy as stop:
            error = stop.error
        except (EOFError, OSError):
            return  # the child is gone; its sentinel reports how
        else:
            return
        raise error  # outside the handler: its own traceback, not "during handling of StopStudy"

    def _finish(self, run: _Running, outcome: TrialOutcome) -> None:
        self._running.pop(run.job.number, None)
        run.process.join(timeout=5)
        if run.process.is_alive():
            _cut_off(run.process)
        _kill_group(run.process.pid)  # what is left of the group of a trial process that died (a crash)
        self._end_orphans(run)
        if self._watch is not None:
            self._watch.tell(b"-", run.process.pid)
        run.conn.close()
        if run.crash_log is not None:
            run.crash_log.close()
        self._give_back(run.gpus)  # its process and everything it started are gone: nothing holds them now
        outcome = replace(outcome, extra={**outcome.extra, **self._held(run.gpus)})
        self._done.append(outcome)

    def _give_back(self, gpus: tuple[str, ...]) -> None:
        if self._gpus is not None:
            self._gpus.give_back(gpus)

    def _expire(self) -> None:
        if self.trial_timeout is None:
            return
        now = time.monotonic()
        for run in list(self._running.values()):
            if now - run.started >= self.trial_timeout:
                _cut_off(run.process)
                self._finish(
                    run,
                    TrialOutcome(
                        run.job.number,
                        reason="timed out",
                        kind=TrialKind.TIMEOUT,
                        error=f"killed after trial_timeout={self.trial_timeout}s",
                        decision=run.decision,
                    ),
                )

    def shutdown(self, kill: bool = False) -> list[int]:
        left = list(self._running)
        for run in list(self._running.values()):
            if kill:
                _cut_off(run.process)
            run.process.join()  # left alone, a trial process ends what it started itself
            _kill_group(run.process.pid)
            self._end_orphans(run)
            run.conn.close()
            if run.crash_log is not None:
                run.crash_log.close()
            self._give_back(run.gpus)
        self._running.clear()
        if self._watch is not None:  # no trial process runs: nothing left to watch
            self._watch.stop()
            self._watch = None
        restore_subreaper(_prctl(), self._was_subreaper)
        self._was_subreaper = None
        return left

    def _end_orphans(self, run: _Running) -> None:
        """Kill what a trial process that died without ending it left running (those in a session of their own
        too), re-parented to the driver: a trial process that ended by itself (exit code 0) or was cut off left
        nothing."""
        if run.process.exitcode != 0 and self._was_subreaper is not None:
            with holding_interrupts(replay=True):  # they are stopped, then killed: never left stopped
                end_orphans(run.token, spared={other.process.pid for other in self._running.values()})
