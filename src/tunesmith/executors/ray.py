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
``retries``. Ray's own task retries are off, so a trial is never run twice behind the study's back.

Requires the ``ray`` extra: ``pip install 'tunesmith[ray]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from tunesmith._validate import duration, integer, real
from tunesmith.decision import Decision
from tunesmith.errors import require
from tunesmith.executors.base import Executor, Objective, ReportHandler, TrialJob, TrialOutcome, decide_report
from tunesmith.executors.inline import run_job
from tunesmith.executors.processes import _plain
from tunesmith.trial import TrialKind

__all__ = ["RayExecutor"]

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


class _ReportHub:
    """Async actor between trial tasks and the driver: a task's report waits here for its decision."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, int, int, dict[str, float]]] = []
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._arrived = asyncio.Event()

    async def report(self, key: str, number: int, step: int, metrics: dict[str, float]) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        self._pending.append((key, number, step, metrics))
        self._arrived.set()
        return await future

    async def take(self, timeout: float) -> list[tuple[str, int, int, dict[str, float]]]:
        if not self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        self._arrived.clear()
        taken, self._pending = self._pending, []
        return taken

    async def decide(self, decisions: list[tuple[str, str]]) -> None:
        for key, decision in decisions:
            future = self._waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(decision)


def _run_trial(objective: Objective, job: TrialJob, hub: Any) -> TrialOutcome:
    """Body of a trial's Ray task: run the objective, send reports through the hub."""
    import ray

    def on_report(number: int, step: int, metrics: dict[str, float]) -> Decision:
        key = uuid.uuid4().hex
        return Decision(ray.get(hub.report.remote(key, number, step, _plain(dict(metrics)))))

    outcome = run_job(objective, job, on_report)
    if outcome.failed:
        return outcome
    return TrialOutcome(
        job.number,
        result=_plain(outcome.result),
        decision=outcome.decision,
        ran_all_steps=outcome.ran_all_steps,
        extra=outcome.extra,  # what a define-by-run objective asked for by name
    )


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
            ``RAY_ADDRESS`` environment variable names (as ``ray.init()`` does), else starts a local
            one bound to 127.0.0.1 that is shut down with the executor.
        trial_timeout: seconds after which a trial's task is cancelled and recorded FAILED.
        init_options: extra keyword arguments for ``ray.init`` (``runtime_env``, ``namespace``...).

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
        self._running: dict[Any, tuple[TrialJob, float]] = {}
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
            options: dict[str, Any] = {"log_to_driver": True, **self.init_options}
            if self.address is None:
                # A private local cluster: loopback only, no dashboard.
                options.setdefault("include_dashboard", False)
                options.setdefault("_node_ip_address", "127.0.0.1")
                self._owns_ray = True
            else:
                options["address"] = self.address
            # ray.init installs its own SIGTERM handler (a bare sys.exit(15)) over the one this process had: the
            # CLI's, which records the cut-short trials and says how to carry on, exiting 143. Keep the one before.
            main = threading.current_thread() is threading.main_thread()
            sigterm = signal.getsignal(signal.SIGTERM) if main else None
            try:
                ray.init(**options)
            finally:
                if sigterm is not None:  # None: a handler not installed from Python, which cannot be put back
                    signal.signal(signal.SIGTERM, sigterm)
        self._wrap_sigterm()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        hub_actor = ray.remote(num_cpus=0, max_concurrency=10_000)(_ReportHub)
        self._hub = hub_actor.options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
        self._task = ray.remote(max_retries=0)(_run_trial)
        self._objective_ref = ray.put(objective)
        self._on_report = on_report

    def submit(self, job: TrialJob) -> None:
        assert self._task is not None, "start() first"
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "name": f"trial-{job.number}"}
        if self.resources:
            options["resources"] = self.resources
        ref = self._task.options(**options).remote(self._objective_ref, job, self._hub)
        self._running[ref] = (job, time.monotonic())
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
            if self.trial_timeout is not None:
                expiry = min(started for _, started in self._running.values()) + self.trial_timeout - time.monotonic()
                remaining = max(0.0, expiry) if remaining is None else min(remaining, max(0.0, expiry))
            ready, _ = ray.wait([self._poll, *self._running], num_returns=1, timeout=remaining)
            for ref in ready:
                if ref is self._poll:
                    self._poll = None
                    self._answer(ray.get(ref))
                else:
                    self._collect(ref)
            self._expire()
            if deadline is not None and time.monotonic() >= deadline:
                break

    def shutdown(self, kill: bool = False) -> list[int]:
        left = [job.number for job, _ in self._running.values()]
        ray = self._ray
        if ray is None:
            return left
        for ref in list(self._running):
            with contextlib.suppress(Exception):  # the task may be gone already
                ray.cancel(ref, force=kill)
        self._running.clear()
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
        job, _ = self._running.pop(ref)
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
        for ref, (job, started) in list(self._running.items()):
            if now - started >= self.trial_timeout:
                self._ray.cancel(ref, force=True)
                self._running.pop(ref)
                self._done.append(
                    TrialOutcome(
                        job.number,
                        reason="timed out",
                        kind=TrialKind.TIMEOUT,
                        error=f"cancelled after trial_timeout={self.trial_timeout}s",
                        decision=self._decisions.pop(job.number, Decision.CONTINUE),
                    )
                )
