"""Runs each trial as a Ray task with its own resource request, on one machine or a cluster.

The study stays on the driver: every ``trial.report`` inside a task goes to a small report hub
(an actor pinned to the driver's node), the driver's `RayExecutor.wait` hands it to the study
and sends the study's decision back, so schedulers decide on the driver exactly as with local
processes. Failures are recorded as the processes executor records them: a trial whose own
process dies under it (``os._exit``, a segfault: ``WorkerCrashedError``) is a CRASH, and an error
deserialising or running the task (an objective whose module the workers cannot import:
``RaySystemError``) an EXCEPTION with Ray's text; both spend the trial budget and count towards
``fail_fast``. Only the machinery under a trial dying (its node or raylet, the object or actor it
needs: ``NodeDiedError``, ``OwnerDiedError``, ...) makes a failed outcome with reason ``"lost
worker"``, which does not spend the trial budget and is re-queued when the study allows
``retries``. Ray's own task retries are off, so a trial is never run twice behind the study's back. The report hub
dying (its worker process killed) is such machinery: the trials in flight are lost, and a new hub takes the reports
of the trials that follow; a hub that cannot start at all stops the run with one message. ``trial_timeout`` runs
from when the trial's task starts running, never while it waits in Ray's queue.

Without an address (nor ``RAY_ADDRESS``, nor a connection) the executor starts a private cluster on 127.0.0.1 and
shuts it down with itself. Its processes share the driver's fate even after a SIGKILL (Ray ties them to it), except
the raylet's two agents (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``): they see the raylet die at once but then
spend up to 60 s (a timeout inside Ray) trying to report its death to the GCS, which died too, before they exit.
``pkill -KILL -P 1 -f '^ray::(DashboardAgent|RuntimeEnvAgent)'`` ends at once the agents left so (parent: init),
and no agent of a running cluster.

Requires the ``ray`` extra: ``pip install 'tunesmith[ray]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from tunesmith._text import counted, excerpt
from tunesmith._validate import duration, integer, real
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError, TunesmithError, require
from tunesmith.executors.base import (
    Executor,
    Objective,
    ReportHandler,
    TrialJob,
    TrialOutcome,
    decide_report,
    gpus_held,
)
from tunesmith.executors.inline import run_job
from tunesmith.executors.processes import _plain
from tunesmith.trial import TrialKind

__all__ = ["RayExecutor"]

_log = logging.getLogger("tunesmith")

# Exceptions that mean the machinery under a trial failed, not the objective: the trial is lost, owed a rerun.
# (Ray raises NodeDiedError, not WorkerCrashedError, when it cannot reach the raylet of the task's node.) A
# cancellation is lost too: our own, for trial_timeout, is recorded in `_expire` before Ray reports it.
_LOST = (
    "NodeDiedError",
    "LocalRayletDiedError",
    "OwnerDiedError",
    "ObjectLostError",
    "ActorDiedError",
    "TaskCancelledError",
)
# The trial's own process died while running it, its raylet alive: what the objective did (os._exit, a
# segfault, the kernel's OOM killer), as a dead child is for the processes executor.
_CRASHED = ("WorkerCrashedError",)
# Ray's memory monitor killed the trial's process: the node ran short of memory.
_OUT_OF_MEMORY = ("OutOfMemoryError",)
# ray.init options that size a cluster it starts; joining a running cluster, Ray refuses each with a bare ValueError.
_SIZING = ("num_cpus", "num_gpus", "resources", "labels", "object_store_memory", "_system_config")
# After this long without a first answer from a new report hub, say what it waits for (it keeps waiting: building a
# runtime_env with pip packages for its worker takes minutes).
_HUB_START_S = 60.0
# Ray's count of GCS connection attempts when joining; each lasts about 40 s against an address nobody answers at
# (5 s to connect, 30 s for the cluster id: RAY_gcs_rpc_server_connect_timeout_s and RAY_py_gcs_connect_timeout_s,
# read when Ray is imported). Ray's default of 20 attempts sat silent for some 14 minutes.
_CONNECT_ATTEMPTS_VARIABLE = "RAY_gcs_server_port_wait_time_s"
_CONNECT_ATTEMPTS = 1
# Before that attempt, a plain TCP connect to a host:port address: a name that does not resolve, or a connection
# refused (or without a route) at every address the name has, fails at once instead of in Ray's 40 s. Seconds: a
# handshake over a slow link takes well under this; a connect that times out decides nothing and goes on to Ray.
_PROBE_TIMEOUT_S = 3.0
# Errors that say nothing can answer at a socket address, whatever Ray does next; any other (a timeout, a local
# refusal to open sockets) leaves the address to Ray.
_NOBODY_THERE = (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)


class _ReportHub:
    """Async actor between trial tasks and the driver: a task's report waits here for its decision, and a task says
    here when it starts running (the driver times ``trial_timeout`` from then)."""

    def __init__(self) -> None:
        self._started: list[int] = []
        self._pending: list[tuple[str, int, int, dict[str, float]]] = []
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._arrived = asyncio.Event()

    async def report(self, key: str, number: int, step: int, metrics: dict[str, float]) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        self._pending.append((key, number, step, metrics))
        self._arrived.set()
        return await future

    async def trial_started(self, number: int) -> None:
        self._started.append(number)
        self._arrived.set()

    async def take(self, timeout: float) -> tuple[list[int], list[tuple[str, int, int, dict[str, float]]]]:
        """The trials started and the reports arrived since the last call, waiting up to ``timeout`` for one."""
        if not self._pending and not self._started:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        self._arrived.clear()
        started, self._started = self._started, []
        taken, self._pending = self._pending, []
        return started, taken

    async def decide(self, decisions: list[tuple[str, str]]) -> None:
        for key, decision in decisions:
            future = self._waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(decision)


def _run_trial(objective: Objective, job: TrialJob, hub: Any) -> TrialOutcome:
    """Body of a trial's Ray task: say it started, run the objective, send reports through the hub.

    A hub that died under the trial makes it lost: its report answers STOP, so the objective ends without an
    exception passing through its code, and whatever it returns or raises after is not its outcome.
    """
    import ray

    try:
        ray.get(hub.trial_started.remote(job.number))
    except ray.exceptions.RayActorError as exc:
        return _hub_lost(job.number, exc, Decision.CONTINUE)
    hub_died: list[BaseException] = []

    def on_report(number: int, step: int, metrics: dict[str, float]) -> Decision:
        key = uuid.uuid4().hex
        try:
            return Decision(ray.get(hub.report.remote(key, number, step, _plain(dict(metrics)))))
        except ray.exceptions.RayActorError as exc:
            hub_died.append(exc)
            return Decision.STOP

    outcome = run_job(objective, job, on_report)
    outcome = replace(outcome, extra={**outcome.extra, **_ray_gpus()})
    if hub_died:
        return _hub_lost(job.number, hub_died[0], outcome.decision, outcome.extra)
    if outcome.failed:
        return outcome
    return TrialOutcome(
        job.number,
        result=_plain(outcome.result),
        decision=outcome.decision,
        ran_all_steps=outcome.ran_all_steps,
        extra=outcome.extra,  # what a define-by-run objective asked for by name, and the GPUs it held
    )


def _ray_gpus() -> dict[str, Any]:
    """The GPUs Ray gave this task (``TrialOutcome.extra``'s `GPUS`), and the share of each where a fractional
    ``num_gpus`` shares one among trials (`GPU_SHARE`), for the study to record: a compute budget counts a trial's
    time times them (`budget.devices_held`), and without them counted every Ray trial as one device, two GPUs or
    half of one."""
    import ray

    gpus = [str(gpu) for gpu in ray.get_gpu_ids()]
    return gpus_held(gpus, ray.get_runtime_context().get_assigned_resources().get("GPU") if gpus else None)


def _hub_lost(number: int, exc: BaseException, decision: Decision, extra: dict[str, Any] | None = None) -> TrialOutcome:
    """The outcome of a trial whose report hub died under it: lost with the machinery, as with a dead node."""
    return TrialOutcome(
        number,
        reason="lost worker",
        kind=TrialKind.LOST_WORKER,
        error=f"the report hub died under the trial: {type(exc).__name__}: {exc}",
        decision=decision,
        extra=dict(extra or {}),
    )


def _first_line(exc: BaseException) -> str:
    """An exception's type and first line, quoted inside a message (Ray's run to dozens of lines)."""
    lines = str(exc).strip().splitlines()
    return excerpt(f"{type(exc).__name__}: {lines[0].rstrip('.')}" if lines else type(exc).__name__)


def _host_and_port(address: str) -> tuple[str, int] | None:
    """The host and port an address names the way Ray reads it: ``host:port`` or ``[IPv6]:port`` for a cluster's
    GCS, either after ``ray://`` for Ray Client. None for what is not that (``auto``, another scheme, no port, an
    IPv6 address without brackets), which Ray accepts or refuses itself."""
    inner = address.removeprefix("ray://")
    if inner.startswith("["):
        host, bracket, port = inner[1:].partition("]:")
        if not bracket or "]" in host:
            return None
    else:
        host, _, port = inner.rpartition(":")
        if ":" in host or "/" in inner:  # IPv6 without brackets; "://" of another scheme
            return None
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 2**16:
        return None
    return host, int(port)


def _nobody_at(host: str, port: int) -> str | None:
    """Why nothing can answer at ``host:port`` (the name does not resolve, or each of its addresses refused a TCP
    connection or has no route to it), or None when something may: a connection accepted, or a connect that did
    not finish within `_PROBE_TIMEOUT_S`."""
    try:
        with socket.create_connection((host, port), timeout=_PROBE_TIMEOUT_S, all_errors=True):
            return None
    except socket.gaierror as exc:
        return f"the host name {host!r} cannot be resolved ({_first_line(exc)})"
    except ExceptionGroup as group:  # one error for each address the name resolved to
        errors = group.exceptions
        if not all(isinstance(exc, OSError) and exc.errno in _NOBODY_THERE for exc in errors):
            return None
        reasons = "; ".join(dict.fromkeys(_first_line(exc) for exc in errors))
        return f"nothing accepts a TCP connection at {host} port {port} ({reasons})"
    except OSError:  # a socket this process may not open: Ray may fare differently, so let it try
        return None


@contextlib.contextmanager
def _bounded_connect() -> Iterator[None]:
    """Within the block, ``ray.init`` tries to reach a cluster `_CONNECT_ATTEMPTS` times, unless the user set
    Ray's variable for it. Ray reads the variable at each call, so it goes back to unset afterwards."""
    if _CONNECT_ATTEMPTS_VARIABLE in os.environ:
        yield
        return
    os.environ[_CONNECT_ATTEMPTS_VARIABLE] = str(_CONNECT_ATTEMPTS)
    try:
        yield
    finally:
        os.environ.pop(_CONNECT_ATTEMPTS_VARIABLE, None)


def _failure(number: int, exc: BaseException, decision: Decision) -> TrialOutcome:
    """The outcome of a trial whose task failed in Ray, not in the objective (`run_job` catches the objective's
    own exceptions): lost with the machinery under it, crashed with its process, or an error in the task."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    error = f"{type(exc).__name__}: {exc}"  # Ray's text holds the task's traceback; the driver's says nothing
    if names & set(_LOST):
        return TrialOutcome(number, reason="lost worker", kind=TrialKind.LOST_WORKER, error=error, decision=decision)
    if names & set(_CRASHED):
        return TrialOutcome(number, reason="trial process died", kind=TrialKind.CRASH, error=error, decision=decision)
    if names & set(_OUT_OF_MEMORY):
        return TrialOutcome(
            number, reason="out of memory", kind=TrialKind.OUT_OF_MEMORY, error=error, decision=decision
        )
    # RaySystemError (an argument the worker cannot deserialise: the objective's module missing there),
    # RuntimeEnvSetupError, TaskUnschedulableError...: the same for every configuration, so fail_fast sees it.
    return TrialOutcome(
        number, reason="exception in trial task", kind=TrialKind.EXCEPTION, error=error, decision=decision
    )


class RayExecutor(Executor):
    """Up to ``workers`` trials at once, each a Ray task holding ``num_cpus``/``num_gpus``/``resources``.

    Args:
        workers: trials in flight at once (more than the cluster can place simply queue in Ray).
        num_cpus: CPUs each trial reserves (fractions allowed, e.g. ``0.5``).
        num_gpus: GPUs each trial reserves; ``0.25`` puts four trials on one GPU (Ray sets
            ``CUDA_VISIBLE_DEVICES`` for the task).
        resources: custom resources each trial reserves, e.g. ``{"accelerator_type:A100": 0.1}``.
        address: a running cluster to join (``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``);
            ``None`` joins the cluster this process is already connected to, else the one the
            ``RAY_ADDRESS`` environment variable names, else starts a private local one bound to
            127.0.0.1 that is shut down with the executor (never a ``ray start`` cluster found on the
            machine, which ``ray.init()`` alone would join). A ``host:port`` address where nothing accepts a
            TCP connection, or whose host name does not resolve, is a `ConfigError` naming the address at once;
            one that accepts a connection but does not answer as a Ray cluster is one after about 40 s.
        trial_timeout: seconds a trial may run, counted from when its task starts running (not while it
            waits in Ray's queue); then its task is cancelled and the trial recorded FAILED, kind TIMEOUT.
        init_options: extra keyword arguments for ``ray.init`` (``runtime_env``, ``namespace``...); those
            that size a cluster (``num_cpus``, ``num_gpus``, ``resources``...) apply to the private one only.

    Example:
        >>> study.optimize(objective, executor=RayExecutor(workers=8, num_gpus=0.5))  # doctest: +SKIP
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        resources: dict[str, float] | None = None,
        address: str | None = None,
        trial_timeout: float | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        integer("workers", workers, minimum=1)
        for name, amount in (("num_cpus", num_cpus), ("num_gpus", num_gpus), *(resources or {}).items()):
            real(name, amount, minimum=0, fix="pass 0 or more (fractions such as 0.5 are allowed)")
        # A bool is not seconds (True would be 1 s), nor is a string ("5s" is for config files, which convert it).
        trial_timeout = duration(
            "trial_timeout", trial_timeout, allow_none=True, fix="pass seconds, e.g. trial_timeout=600"
        )
        self.capacity = workers
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.resources = dict(resources or {})
        self.address = address
        self.trial_timeout = trial_timeout
        self.init_options = dict(init_options or {})
        self._ray: Any = None
        self._owns_ray = False
        self._hub: Any = None
        self._task: Any = None
        self._objective_ref: Any = None
        self._on_report: ReportHandler | None = None
        self._hub_actor: Any = None
        self._running: dict[Any, TrialJob] = {}
        self._started: dict[int, float] = {}  # trial number -> monotonic time its task said it started running
        self._decisions: dict[int, Decision] = {}
        self._poll: Any = None
        self._done: list[TrialOutcome] = []
        self._sigterm: Any = None  # the SIGTERM handler this executor wrapped (`_wrap_sigterm`)
        self._on_sigterm: Any = None
        self._raised: BaseException | None = None  # what that handler raised last

    # Lifecycle ---------------------------------------------------------------------------------
    def start(self, objective: Objective, on_report: ReportHandler) -> None:
        ray: Any = require("ray", "ray")
        self._ray = ray
        if not ray.is_initialized():
            self._connect()
        self._wrap_sigterm()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        self._hub_actor = ray.remote(num_cpus=0, max_concurrency=10_000)(_ReportHub).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)
        )
        self._hub = self._new_hub()
        self._task = ray.remote(max_retries=0)(_run_trial)
        self._objective_ref = ray.put(objective)
        self._on_report = on_report

    def submit(self, job: TrialJob) -> None:
        assert self._task is not None, "start() first"
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "name": f"trial-{job.number}"}
        if self.resources:
            options["resources"] = self.resources
        ref = self._task.options(**options).remote(self._objective_ref, job, self._hub)
        self._running[ref] = job
        self._decisions[job.number] = Decision.CONTINUE

    def busy(self) -> int:
        return len(self._running) + len(self._done)

    def wait(self, timeout: float | None) -> list[TrialOutcome]:
        with self._signal_errors():
            self._wait(timeout)
        done, self._done = self._done, []
        return done

    def _wait(self, timeout: float | None) -> None:
        ray = self._ray
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done and self._running:
            if self._poll is None:
                self._poll = self._hub.take.remote(0.5)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if self.trial_timeout is not None and self._started:
                expiry = min(self._started.values()) + self.trial_timeout - time.monotonic()
                remaining = max(0.0, expiry) if remaining is None else min(remaining, max(0.0, expiry))
            ready, _ = ray.wait([self._poll, *self._running], num_returns=1, timeout=remaining)
            for ref in ready:
                if ref is self._poll:
                    self._poll = None
                    try:
                        started, reports = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # its worker process killed, its node gone
                        self._replace_hub(exc)
                        continue
                    self._note_started(started)
                    self._answer(reports)
                else:
                    self._collect(ref)
            self._expire()
            if deadline is not None and time.monotonic() >= deadline:
                break

    def shutdown(self, kill: bool = False) -> list[int]:
        left = [job.number for job in self._running.values()]
        ray = self._ray
        if ray is None:
            return left
        for ref in list(self._running):
            with contextlib.suppress(Exception):  # the task may be gone already
                ray.cancel(ref, force=kill)
        self._running.clear()
        self._started.clear()
        if self._hub is not None:
            with contextlib.suppress(Exception):  # the actor may be gone already
                ray.kill(self._hub)
            self._hub = None
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
        self._unwrap_sigterm()
        return left

    # Internals ---------------------------------------------------------------------------------
    def _connect(self) -> None:
        """``ray.init``: a private local cluster when no address is named anywhere, else the named one, joined
        within a deadline; `_owns_ray` only once a cluster was started here."""
        options: dict[str, Any] = {"log_to_driver": True, **self.init_options}
        if self.address is not None:
            options["address"] = self.address
        address, named_by = options.get("address"), "address"
        if address is None and os.environ.get("RAY_ADDRESS"):  # ray.init reads it itself
            address, named_by = os.environ["RAY_ADDRESS"], "the RAY_ADDRESS environment variable"
        if address in (None, "local"):
            # "local": ray.init() alone would join a `ray start` cluster on this machine. Loopback only, no dashboard.
            options["address"] = "local"
            options.setdefault("include_dashboard", False)
            options.setdefault("_node_ip_address", "127.0.0.1")
            self._init(options)
            self._owns_ray = True
            return
        sizing = [name for name in _SIZING if name in options]
        if sizing:
            raise ConfigError(
                f"init_options {', '.join(sizing)} size a cluster this executor starts, but it joins the running "
                f"cluster at {address!r} ({named_by}), whose size is set where it was started: drop "
                f"{', '.join(sizing)} from init_options, or leave address unset (and RAY_ADDRESS empty) for a "
                "private local cluster of that size"
            )
        # Ray dials a loopback host at this machine's routed address; probing the loopback still tells, since a GCS
        # listens on every interface, or on the loopback alone when its node's address is 127.0.0.1.
        target = _host_and_port(address) if isinstance(address, str) else None
        nobody = _nobody_at(*target) if target is not None else None
        if nobody is not None:
            raise ConfigError(
                f"cannot connect to the Ray cluster at {address!r} ({named_by}): {nobody}; check the address (a "
                "cluster's is `host:port`, its head's port 6379 unless `ray start --port` chose another; Ray Client's "
                "`ray://host:10001`) and that a cluster runs there (`ray status --address ADDRESS`; `ray start --head` "
                "starts one), or leave address unset (and RAY_ADDRESS empty) for a private local cluster"
            )
        try:
            with _bounded_connect():
                self._init(options)
        except ConnectionError as exc:
            raise ConfigError(
                f"cannot connect to the Ray cluster at {address!r} ({named_by}): Ray gave up after one attempt "
                f"({_first_line(exc)}); check that a cluster runs there (`ray status --address ADDRESS`; `ray start "
                "--head` starts one) and that this driver has its Ray version and authentication mode "
                "(RAY_AUTH_MODE), or leave address unset (and RAY_ADDRESS empty) for a private local cluster"
            ) from None

    def _init(self, options: dict[str, Any]) -> None:
        # ray.init installs its own SIGTERM handler (a bare sys.exit(15)) over the one this process had: the
        # CLI's, which records the cut-short trials and says how to carry on, exiting 143. Keep the one before.
        main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if main else None
        try:
            self._ray.init(**options)
        finally:
            if sigterm is not None:  # None: a handler not installed from Python, which cannot be put back
                signal.signal(signal.SIGTERM, sigterm)

    def _new_hub(self) -> Any:
        """A report hub on this node that has answered once; one that cannot start stops the run (`TunesmithError`)."""
        ray = self._ray
        hub = self._hub_actor.remote()
        answer = hub.take.remote(0.0)
        try:
            try:
                ray.get(answer, timeout=_HUB_START_S)
            except ray.exceptions.GetTimeoutError:
                _log.warning(
                    "tunesmith: Ray's report hub, which every trial reports through, has not started within %.0f s; "
                    "still waiting (Ray may be building the runtime_env for its worker process)",
                    _HUB_START_S,
                )
                ray.get(answer)
        except ray.exceptions.RayError as exc:  # its creation failed: a runtime_env, the node, the driver's rights
            with contextlib.suppress(Exception):
                ray.kill(hub)
            raise TunesmithError(
                "Ray cannot start tunesmith's report hub, an actor (num_cpus=0) on this driver's node through which "
                f"every trial reports ({_first_line(exc)}): run the driver on a node of the cluster that may start "
                "actors, with the cluster's Ray version and authentication mode (RAY_AUTH_MODE) and a runtime_env its "
                "nodes can build (the node's logs, /tmp/ray/session_latest/logs, say which failed), or leave address "
                "unset for a private local cluster"
            ) from None
        return hub

    def _replace_hub(self, exc: BaseException) -> None:
        """The report hub died: the trials in flight are lost (their results, if any arrived, stand) and a new hub
        takes the reports of the trials submitted from now on."""
        ray = self._ray
        if self._running:
            finished, _ = ray.wait(list(self._running), num_returns=len(self._running), timeout=0)
            for ref in finished:
                self._collect(ref)
        _log.warning(
            "tunesmith: Ray's report hub died (%s); %s in flight recorded as lost worker (run again when "
            "the study has retries); a new hub takes the reports",
            _first_line(exc),
            counted(len(self._running), "trial"),
        )
        for ref, job in list(self._running.items()):
            with contextlib.suppress(Exception):  # the task may be gone already
                ray.cancel(ref, force=True)
            del self._running[ref]
            self._started.pop(job.number, None)
            self._done.append(_hub_lost(job.number, exc, self._decisions.pop(job.number, Decision.CONTINUE)))
        with contextlib.suppress(Exception):
            ray.kill(self._hub)
        self._hub = self._new_hub()

    def _note_started(self, numbers: list[int]) -> None:
        """Time ``trial_timeout`` from when each trial's task started running (the driver's clock, on arrival)."""
        running = {job.number for job in self._running.values()}
        now = time.monotonic()
        for number in numbers:
            if number in running:
                self._started.setdefault(number, now)

    def _wrap_sigterm(self) -> None:
        """Remember what the SIGTERM handler raises while this executor runs (main thread, a Python handler only).

        A handler runs inside Ray's blocking calls (``ray.wait``, ``ray.get``), and Ray turns whatever it raises
        there into a bare `KeyboardInterrupt`: the CLI's ``Terminated`` would read as Ctrl-C (exit 130, "interrupted"
        instead of 143, "terminated (SIGTERM)"). `_signal_errors` raises the handler's own exception instead.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        handler = signal.getsignal(signal.SIGTERM)
        if not callable(handler) or handler is self._on_sigterm:
            return

        def on_sigterm(signum: int, frame: Any) -> Any:
            try:
                return handler(signum, frame)
            except BaseException as exc:
                self._raised = exc
                raise

        self._sigterm, self._on_sigterm = handler, on_sigterm
        signal.signal(signal.SIGTERM, on_sigterm)

    def _unwrap_sigterm(self) -> None:
        if self._sigterm is None or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is self._on_sigterm:  # not replaced since by someone else
            signal.signal(signal.SIGTERM, self._sigterm)
        self._sigterm = self._on_sigterm = None

    @contextlib.contextmanager
    def _signal_errors(self) -> Iterator[None]:
        """Within the block, a `KeyboardInterrupt` from Ray that stands for what the SIGTERM handler raised is
        that exception again."""
        self._raised = None
        try:
            yield
        except KeyboardInterrupt as exc:
            raised, self._raised = self._raised, None
            if raised is None or raised is exc:
                raise
            raise raised from None

    def _answer(self, reports: list[tuple[str, int, int, dict[str, float]]]) -> None:
        """Hand each report to the study and send its decision back to the waiting task."""
        assert self._on_report is not None
        decisions: list[tuple[str, str]] = []
        for key, number, step, metrics in reports:
            decision = decide_report(self._on_report, number, step, metrics)
            self._decisions[number] = decision
            decisions.append((key, decision.value))
        if decisions:
            self._hub.decide.remote(decisions)

    def _collect(self, ref: Any) -> None:
        job = self._running.pop(ref)
        self._started.pop(job.number, None)
        decision = self._decisions.pop(job.number, Decision.CONTINUE)
        try:
            outcome = self._ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome
            outcome = _failure(job.number, exc, decision)
        self._done.append(outcome)

    def _expire(self) -> None:
        if self.trial_timeout is None:
            return
        now = time.monotonic()
        for ref, job in list(self._running.items()):
            started = self._started.get(job.number)
            if started is not None and now - started >= self.trial_timeout:
                self._ray.cancel(ref, force=True)
                self._running.pop(ref)
                self._started.pop(job.number)
                self._done.append(
                    TrialOutcome(
                        job.number,
                        reason="timed out",
                        kind=TrialKind.TIMEOUT,
                        error=f"cancelled after trial_timeout={self.trial_timeout}s",
                        decision=self._decisions.pop(job.number, Decision.CONTINUE),
                    )
                )
