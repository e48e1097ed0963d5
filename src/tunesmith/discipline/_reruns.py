"""Re-running one configuration with one fresh seed: what seed stability and the baseline share.

A re-run honours the per-run limits a search trial does (`RunLimits`: ``trial_timeout``, ``memory_limit``): with
either set it runs through the processes executor, as `Study.optimize` runs a trial under them (`run_bounded`), and
a re-run past its timeout is killed and recorded FAILED of kind TIMEOUT; with neither, in this process, unbounded.
"""

from __future__ import annotations

import base64
import binascii
import math
import shutil
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tunesmith import _trial_warnings as trial_warnings
from tunesmith._caller import outside_stacklevel
from tunesmith._text import excerpt
from tunesmith._validate import duration, integer, memory_size
from tunesmith.decision import Decision
from tunesmith.discipline.gap import Noise, noise_of
from tunesmith.errors import ConfigError, Infeasible, TunesmithError
from tunesmith.executors import Executor, TrialJob, TrialOutcome, make_executor
from tunesmith.executors._gpus import gpu_pool, gpu_share
from tunesmith.executors.inline import noting_interrupts
from tunesmith.objective import (
    Guardrail,
    Metric,
    example_numbers,
    is_per_example,
    keys_of,
    non_finite_examples,
    normalise_result,
)
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState

__all__ = [
    "BASELINE_NUMBER",
    "ExampleValues",
    "LIMIT_KINDS",
    "Objective",
    "RunFailed",
    "RunJob",
    "RunLimits",
    "SeedRun",
    "UNBOUNDED",
    "check_keep_checkpoints",
    "run_bounded",
    "run_many",
    "run_once",
    "seed_list",
    "typical_duration",
]

Objective = Callable[[Trial], Any]
BASELINE_NUMBER = -1
# The kinds of failure the per-run limits make: a run cut off at ``trial_timeout``, or out of memory (under
# ``memory_limit``, whose cap makes an allocation fail).
LIMIT_KINDS = frozenset({TrialKind.TIMEOUT, TrialKind.OUT_OF_MEMORY})


@dataclass(frozen=True)
class RunLimits:
    """The per-run limits a re-run (or a holdout evaluation) honours as `Study.optimize` makes a search trial honour
    them: ``trial_timeout`` seconds, past which it is killed and recorded FAILED of kind TIMEOUT, and ``memory_limit``
    bytes it may map beyond what its process starts with (kind OUT_OF_MEMORY past them). ``None``: no limit. And how
    the re-runs share the machines as the search's trials did: ``workers`` of them at once, each holding
    ``gpus_per_trial`` GPUs while it runs (`ProcessExecutor`'s; ``None``: the runs' environment is left alone), or,
    with ``ray`` (the Ray executor's options: ``num_gpus``, ``address``...), as tasks of the search's Ray cluster.

    With a limit set, several workers or GPUs, the runs go through the processes executor (`run_bounded`,
    `run_many`): the one implementation of both limits, since a call in this process cannot be stopped from
    outside. With none of them a run is one call in this process, unbounded. A holdout evaluation runs one at a
    time, in this machine's processes, whatever ``workers`` and ``ray`` say.
    """

    trial_timeout: float | None = None
    memory_limit: int | None = None
    workers: int = 1
    gpus_per_trial: float | None = None
    ray: Mapping[str, Any] | None = None

    @classmethod
    def checked(
        cls, trial_timeout: object = None, memory_limit: object = None, workers: object = 1,
        gpus_per_trial: object = None, executor: object = None,
    ) -> RunLimits:  # fmt: skip
        """The limits given, checked as `ProcessExecutor` checks them (``memory_limit`` a size such as ``"4GB"``
        too), before anything runs. ``executor``: where several runs go, as `Study.optimize` names it: ``None``,
        ``"processes"`` (or a table of its name and ``gpus_per_trial``), ``"ray"`` or a table of ``"ray"`` and its
        options (``{"name": "ray", "num_gpus": 1}``).

        Raises:
            ConfigError: a timeout that is not a positive number of seconds, a size that is no memory size, a
                ``workers`` below 1, a ``gpus_per_trial`` that is not a whole number of GPUs or a fraction that
                divides one (whether the machine has the GPUs is checked when the runs start), or an executor other
                than those, or options the executor refuses (``memory_limit`` or ``gpus_per_trial`` with Ray).
        """
        fix = "pass the seconds one run may take, e.g. trial_timeout=600, or None for no limit"
        timeout = duration("trial_timeout", trial_timeout, allow_none=True, fix=fix)
        count = integer("workers", workers, minimum=1, fix="pass how many re-runs may run at once, e.g. workers=4")
        name, table = _executor_table(executor)
        if name == "processes" and table.get("gpus_per_trial") is not None:
            if gpus_per_trial is not None and gpus_per_trial != table["gpus_per_trial"]:
                raise ConfigError(
                    f"gpus_per_trial given twice, {gpus_per_trial!r} and {table['gpus_per_trial']!r} in the executor "
                    "table: give it once"
                )
            gpus_per_trial = table["gpus_per_trial"]
        share = None if gpus_per_trial is None else gpu_share(gpus_per_trial)
        limits = cls(timeout, memory_size("memory_limit", memory_limit, allow_none=True), count, share,
                     table if name == "ray" else None)  # fmt: skip
        if limits.ray is not None:  # what Ray refuses (memory_limit, gpus_per_trial), refused now, not after a run
            make_executor({"name": "ray", **limits.ray}, count, **limits.options())
        return limits

    @property
    def bounded(self) -> bool:
        """Whether a limit is set (``trial_timeout``, ``memory_limit``)."""
        return self.trial_timeout is not None or self.memory_limit is not None

    @property
    def in_processes(self) -> bool:
        """Whether the runs go through the processes executor: under a limit, several at once, or holding GPUs."""
        return self.bounded or self.workers > 1 or self.gpus_per_trial is not None

    def check_gpus(self) -> None:
        """Refuse GPUs asked for that this machine does not have, before any run starts (Ray's are the cluster's).

        Raises:
            ConfigError: no GPU found, or ``workers`` runs holding ``gpus_per_trial`` each would need more.
        """
        if self.ray is None:
            gpu_pool(self.gpus_per_trial, self.workers)

    def per_run(self, took: float | None) -> float | None:
        """The expected seconds per run when one run takes ``took`` and ``workers`` run at once (``None``: unknown),
        for the progress line's estimate of the time left."""
        return None if took is None else took / self.workers

    def executor(self, workers: int) -> Executor:
        """The executor ``workers`` runs go through at once: the processes executor, or the Ray executor."""
        if self.ray is not None:
            return make_executor({"name": "ray", **self.ray}, workers, **self.options())
        return make_executor("processes", workers, **self.options())

    def options(self) -> dict[str, Any]:
        """The executor options that set them (`make_executor`), those set only (not ``workers``: its argument)."""
        given = {"trial_timeout": self.trial_timeout, "memory_limit": self.memory_limit,
                 "gpus_per_trial": self.gpus_per_trial}  # fmt: skip
        return {name: value for name, value in given.items() if value is not None}

    def describe(self) -> str:
        """``trial_timeout=1s and memory_limit=64 MiB`` (``no limit`` when neither is set)."""
        said = [] if self.trial_timeout is None else [f"trial_timeout={self.trial_timeout:g}s"]
        said += [] if self.memory_limit is None else [f"memory_limit={self.memory_limit / 2**20:g} MiB"]
        return " and ".join(said) or "no limit"


UNBOUNDED = RunLimits()  # no limit: a run is one call in this process


def _continue(number: int, step: int, metrics: dict[str, float]) -> Decision:
    """The answer to a re-run's report: nothing judges a re-run's curve, so it runs on (as a `Trial` without a
    reporter does in this process)."""
    return Decision.CONTINUE


def run_bounded(objective: Objective, job: TrialJob, limits: RunLimits) -> TrialOutcome:
    """Run ``job`` under ``limits`` as `Study.optimize` runs a search trial under them: in a child process of the
    processes executor (`make_executor`), which kills it past ``trial_timeout`` (kind TIMEOUT) and caps its memory at
    ``memory_limit`` (kind OUT_OF_MEMORY); every failure of the objective comes back as the outcome's ``reason`` and
    ``kind``, never as an exception. An interrupt while it runs kills the child (and what it started) on its way out.
    """
    runner = make_executor("processes", 1, **limits.options())
    runner.start(objective, _continue)
    try:
        runner.submit(job)
        done: list[TrialOutcome] = []
        while not done:
            done = runner.wait(None)
    finally:
        runner.shutdown(kill=True)
    trial_warnings.mark_shown(trial_warnings.recorded(done[0].extra))  # the run's process showed them
    return done[0]


class RunFailed(TunesmithError, RuntimeError):
    """A call run under `RunLimits` in a child process (`run_bounded`) failed there: past its timeout, out of memory,
    crashed or raised. ``kind`` says which (`TrialKind`), ``outcome`` holds the executor's reason and traceback."""

    def __init__(self, outcome: TrialOutcome, limits: RunLimits) -> None:
        self.outcome = outcome
        self.kind = outcome.kind or TrialKind.EXCEPTION
        super().__init__(_failure_said(outcome, limits))


def _failure_said(outcome: TrialOutcome, limits: RunLimits) -> str:
    """What a call that failed in its child process did, in words, with the fix for a limit's failure."""
    if outcome.kind is TrialKind.TIMEOUT:
        return (f"ran past trial_timeout={limits.trial_timeout:g}s in its child process and was killed: raise "
                "trial_timeout if it needs longer, else find what makes it hang")  # fmt: skip
    last = _last_line(outcome.error)
    if outcome.kind is TrialKind.OUT_OF_MEMORY:
        return (f"ran out of memory in its child process under memory_limit={limits.memory_limit}"
                f"{f' ({last})' if last else ''}: raise memory_limit if it needs more")  # fmt: skip
    return f"failed in its child process ({outcome.reason}{f': {last}' if last else ''})"


def _last_line(text: str | None) -> str:
    """The last line of a traceback that is not blank: the exception's type and message."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def seed_list(study_seed: int, count: int) -> list[int]:
    """``count`` fresh 32-bit seeds derived from the study seed, distinct from every trial's seed stream."""
    integer("seeds", count, minimum=2, fix="use 5 (a spread needs two seeds at least)")
    return [int(np.random.SeedSequence([study_seed, 0x5EED, i]).generate_state(1)[0]) for i in range(count)]


def check_keep_checkpoints(keep: object) -> None:
    """Refuse a ``keep_checkpoints`` that is not a bool: a count (the study's ``keep_checkpoints`` is one) read
    as true would keep every re-run's folder."""
    if not isinstance(keep, bool):
        raise ConfigError(
            f"keep_checkpoints must be True or False (keep each re-run's checkpoint folder or not), got {keep!r}: "
            "pass keep_checkpoints=True to keep them, or leave it out to delete each once its re-run ends"
        )


def typical_duration(records: Sequence[TrialRecord]) -> float | None:
    """The median seconds a COMPLETE trial among ``records`` took: what a re-run is expected to take
    before one has finished (``None`` without any)."""
    durations = [r.duration for r in records if r.state is TrialState.COMPLETE and r.duration is not None]
    return float(np.median(durations)) if durations else None


# The most bytes one run's per-example values may take before base64 (64 KiB: 16,384 values as float32, 524,288
# right-or-wrong ones as bits), so that a study's re-runs stay a few megabytes in its attributes; a run with more
# keeps none, and the baseline margin reads the winner's own standard error as before.
_MOST_EXAMPLE_BYTES = 1 << 16


@dataclass(frozen=True)
class ExampleValues:
    """One run's per-example values of the study metric, kept compactly: one bit per example when they take two
    values at most (right or wrong: ``levels``, the lower first), else a little-endian float32 each (``levels``
    ``None``), base64-encoded in ``data``. Two models' runs on one seed and one validation set then pair example by
    example (the baseline margin), which their means and standard errors cannot."""

    count: int
    levels: tuple[float, ...] | None
    data: str

    @classmethod
    def of(cls, values: Any) -> ExampleValues | None:
        """``values`` (a sequence of numbers, as an objective returns them) kept compactly; ``None`` when they are
        fewer than two, not all finite as float32, or would take more than `_MOST_EXAMPLE_BYTES`."""
        if len(values) > 8 * _MOST_EXAMPLE_BYTES:  # more than a bit each would hold: not read at all
            return None
        numbers = np.array(example_numbers("", values), dtype=np.float64)  # a column of shape (n, 1) too
        if numbers.size < 2 or not np.all(np.isfinite(numbers)):
            return None
        levels = np.unique(numbers)
        if levels.size <= 2:
            packed = np.packbits(numbers == levels[-1]).tobytes() if levels.size == 2 else b""
            if len(packed) > _MOST_EXAMPLE_BYTES:
                return None
            return cls(int(numbers.size), tuple(float(v) for v in levels), base64.b64encode(packed).decode("ascii"))
        single = numbers.astype("<f4")
        if single.nbytes > _MOST_EXAMPLE_BYTES or not np.all(np.isfinite(single)):
            return None
        return cls(int(numbers.size), None, base64.b64encode(single.tobytes()).decode("ascii"))

    def values(self) -> np.ndarray:
        """The per-example values, one float each (float32-rounded unless they take two values at most)."""
        raw = base64.b64decode(self.data)
        if self.levels is None:
            return np.frombuffer(raw, dtype="<f4").astype(np.float64)
        if len(self.levels) == 1:
            return np.full(self.count, self.levels[0])
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=self.count).astype(bool)
        return np.where(bits, self.levels[1], self.levels[0])

    def to_json(self) -> dict[str, Any]:
        if self.levels is None:
            return {"count": self.count, "float32": self.data}
        return {"count": self.count, "levels": list(self.levels), "bits": self.data}

    @classmethod
    def from_json(cls, data: Any) -> ExampleValues | None:
        """The values `to_json` wrote; ``None`` for anything else (the margin then reads the winner's own standard
        error, as for a run without them): a stored run is never refused for them."""
        if not isinstance(data, Mapping):
            return None
        count, levels = data.get("count"), data.get("levels")
        text = data.get("float32") if levels is None else data.get("bits")
        if not isinstance(count, int) or isinstance(count, bool) or count < 2 or not isinstance(text, str):
            return None
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return None
        if levels is None:
            return cls(count, None, text) if len(raw) == 4 * count else None
        if (not isinstance(levels, list) or not 1 <= len(levels) <= 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in levels)):  # fmt: skip
            return None
        if len(raw) != (0 if len(levels) == 1 else (count + 7) // 8):
            return None
        return cls(count, tuple(float(v) for v in levels), text)


@dataclass(frozen=True)
class SeedRun:
    """One re-run of a configuration with one seed.

    Attributes:
        candidate: the trial number whose configuration ran (-1 for the baseline).
        seed: the seed.
        state: ``"complete"``, ``"infeasible"`` (a guardrail breached, or the objective raised `Infeasible`) or
            ``"failed"``.
        metrics: everything the objective returned (slice metrics included); none when it raised.
        reason: why it did not complete, with the error text for a failure.
        examples: the study metric's per-example values when the objective returned them (`ExampleValues`), else
            ``None`` (and for runs recorded before they were kept).
        kind: why a run that did not complete did not, for code, as a trial's (`TrialKind`: TIMEOUT for one killed
            at ``trial_timeout``, EXCEPTION, GUARDRAIL...); ``None`` for a complete run, and for runs recorded before
            kinds were kept.
    """

    candidate: int
    seed: int
    state: str
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    examples: ExampleValues | None = None
    kind: TrialKind | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"candidate": self.candidate, "seed": self.seed, "state": self.state, "metrics": self.metrics,
                "reason": self.reason}  # fmt: skip
        if self.examples is not None:  # a run without them is stored as before
            data["examples"] = self.examples.to_json()
        if self.kind is not None:
            data["kind"] = self.kind.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SeedRun:
        return cls(int(data["candidate"]), int(data["seed"]), str(data["state"]),
                   {k: float(v) for k, v in data.get("metrics", {}).items()}, data.get("reason"),
                   ExampleValues.from_json(data.get("examples")), _kind(data.get("kind")))  # fmt: skip


def _kind(value: Any) -> TrialKind | None:
    """A stored run's kind; ``None`` for none, or one this version does not know (a stored run is never refused)."""
    try:
        return None if value is None else TrialKind(value)
    except ValueError:
        return None


def run_once(
    objective: Objective,
    params: Mapping[str, Any],
    seed: int,
    *,
    candidate: int,
    metric: Metric,
    guardrails: Sequence[Guardrail] = (),
    checkpoint_dir: Path | None = None,
    keep_checkpoint: bool = False,
    limits: RunLimits = UNBOUNDED,
) -> SeedRun:
    """Run ``objective`` on one configuration and seed; a user's error becomes a failed run, never an exception.
    Per-example values of ``metric`` in the result are kept with the run (`ExampleValues`).

    Under ``limits`` (`RunLimits.bounded`) it runs in a child process of the processes executor, as a search trial
    under ``trial_timeout`` or ``memory_limit`` does (`run_bounded`): one past its timeout is killed and recorded
    FAILED of kind TIMEOUT, one out of memory FAILED of kind OUT_OF_MEMORY, a crash FAILED of kind CRASH. Without
    limits it runs in this process, unbounded.

    An interrupt (Ctrl-C; SIGTERM or SIGHUP under `tunesmith run`) delivered while the objective ran is raised here
    even when the objective caught it and returned or failed (`noting_interrupts`): a cut-short run is no result.
    An objective that raises `Infeasible` makes an INFEASIBLE run, without metrics, its reason the exception's.

    A re-run is fresh (``trial.resumed`` is false), so ``checkpoint_dir`` is emptied before it starts: an objective
    that loads whatever checkpoint it finds loaded the state an earlier re-run on the same seed left there. It is
    deleted once the run ends (nothing reads a re-run's files afterwards) unless ``keep_checkpoint``.
    """
    if checkpoint_dir is not None:
        _clear(checkpoint_dir)
    try:
        if limits.in_processes:
            folder = None if checkpoint_dir is None else str(checkpoint_dir)
            outcome = run_bounded(objective, TrialJob(candidate, dict(params), seed, checkpoint_dir=folder), limits)
        else:
            outcome = _run_here(objective, params, seed, candidate, checkpoint_dir)
    finally:
        if checkpoint_dir is not None and not keep_checkpoint:
            _clear(checkpoint_dir)
    return _run_of(outcome, candidate, seed, metric, guardrails)


def _run_of(outcome: TrialOutcome, candidate: int, seed: int, metric: Metric,
            guardrails: Sequence[Guardrail]) -> SeedRun:  # fmt: skip
    """The recorded run of ``candidate`` on ``seed`` that ended with ``outcome``."""
    if outcome.kind is TrialKind.DECLARED:  # its reason is "infeasible: <what the objective said>"
        return SeedRun(candidate, seed, TrialState.INFEASIBLE.value, {}, outcome.reason, kind=TrialKind.DECLARED)
    if outcome.failed:
        return SeedRun(candidate, seed, TrialState.FAILED.value, {}, _failed_reason(outcome),
                       kind=outcome.kind or TrialKind.EXCEPTION)  # fmt: skip
    return _judged(outcome.result, candidate, seed, metric, guardrails)


def _executor_table(executor: object) -> tuple[str, dict[str, Any]]:
    """``executor`` (`RunLimits.checked`'s) as its name and its options; ``None`` is the processes executor.

    Raises:
        ConfigError: neither the processes executor nor Ray, nor a table naming one of them.
    """
    if executor is None or executor in ("processes", "inline"):
        return "processes", {}
    if executor == "ray":
        return "ray", {}
    if isinstance(executor, Mapping) and executor.get("name") in ("processes", "ray"):
        return str(executor["name"]), {key: value for key, value in executor.items() if key != "name"}
    raise ConfigError(
        f"re-runs go to the processes executor or to Ray, got executor={excerpt(repr(executor))}: pass "
        'executor="processes", "ray" or a table such as {"name": "ray", "num_gpus": 1}'
    )


@dataclass(frozen=True)
class RunJob:
    """One re-run for `run_many`: ``candidate``'s configuration (its trial number, or `BASELINE_NUMBER`) on ``seed``,
    in ``checkpoint_dir`` (emptied before it starts and, unless kept, after it ends)."""

    candidate: int
    params: Mapping[str, Any]
    seed: int
    checkpoint_dir: Path | None = None


def run_many(
    objective: Objective,
    jobs: Sequence[RunJob],
    *,
    metric: Metric,
    guardrails: Sequence[Guardrail] = (),
    keep_checkpoint: bool = False,
    limits: RunLimits = UNBOUNDED,
    ended: Callable[[Sequence[SeedRun | None]], None] | None = None,
) -> list[SeedRun]:
    """Every one of ``jobs`` run as `run_once` runs one, its runs in the order of ``jobs``; ``limits.workers`` at
    once, each in its own process of one processes executor (holding ``limits.gpus_per_trial`` GPUs while it runs)
    or as a task of the Ray executor (``limits.ray``, even one at a time), else one after another as `run_once` runs
    them when ``workers`` is 1.

    ``ended`` is called each time a run ends with the runs so far, in the order of ``jobs`` (``None`` for those not
    ended yet); what it raises stops the lot: the runs still going are killed, their checkpoint folders emptied
    (unless kept), and the exception goes on up. So does an interrupt. Each run's objective sees the trial number of
    its candidate, as in `run_once`; the executor tells the runs apart by their place in ``jobs``.
    """
    runs: list[SeedRun | None] = [None] * len(jobs)
    trial_warnings.forget_shown()  # the objective's warnings: each kind shown once in these runs, as in a search's
    if limits.ray is None and (limits.workers == 1 or len(jobs) <= 1):
        for place, job in enumerate(jobs):
            runs[place] = run_once(objective, job.params, job.seed, candidate=job.candidate, metric=metric,
                                   guardrails=guardrails, checkpoint_dir=job.checkpoint_dir,
                                   keep_checkpoint=keep_checkpoint, limits=limits)  # fmt: skip
            if ended is not None:
                ended(runs)
        return [run for run in runs if run is not None]
    runner = limits.executor(min(limits.workers, len(jobs)))
    runner.start(objective, _continue)
    waiting = list(enumerate(jobs))[::-1]  # popped from the end: the first job first
    started: set[int] = set()
    try:
        while waiting or runner.busy():
            while waiting and runner.busy() < min(limits.workers, len(jobs)):
                place, job = waiting.pop()
                if job.checkpoint_dir is not None:
                    _clear(job.checkpoint_dir)
                folder = None if job.checkpoint_dir is None else str(job.checkpoint_dir)
                runner.submit(TrialJob(place, dict(job.params), job.seed, checkpoint_dir=folder,
                                       shown_number=job.candidate))  # fmt: skip
                started.add(place)
            for outcome in runner.wait(None):
                trial_warnings.mark_shown(trial_warnings.recorded(outcome.extra))
                job = jobs[outcome.number]
                started.discard(outcome.number)
                if job.checkpoint_dir is not None and not keep_checkpoint:
                    _clear(job.checkpoint_dir)
                runs[outcome.number] = _run_of(outcome, job.candidate, job.seed, metric, guardrails)
                if ended is not None:
                    ended(runs)
    finally:
        runner.shutdown(kill=True)
        if not keep_checkpoint:
            for place in started:  # killed before they ended
                if (left := jobs[place].checkpoint_dir) is not None:
                    _clear(left)
    return [run for run in runs if run is not None]


def _run_here(
    objective: Objective, params: Mapping[str, Any], seed: int, candidate: int, checkpoint_dir: Path | None
) -> TrialOutcome:
    """``objective`` run in this process: its exception a failed outcome (kind EXCEPTION, the traceback as its
    error), its `Infeasible` one of kind DECLARED. An interrupt delivered while it ran is raised here even when the
    objective caught it (`noting_interrupts`)."""
    trial = Trial(candidate, params, seed, checkpoint_dir=checkpoint_dir)
    failure: Exception | None = None
    with noting_interrupts() as noted, trial_warnings.caught():  # each kind of warning shown once (`run_many`)
        try:
            result = objective(trial)
        except Exception as exc:  # noqa: BLE001 - a user's error is recorded, the validation goes on
            result, failure = None, exc
    if noted:
        raise noted[0]
    if isinstance(failure, Infeasible):
        said = " ".join(str(failure).split()) or type(failure).__name__
        return TrialOutcome(candidate, reason=f"infeasible: {excerpt(said)}", kind=TrialKind.DECLARED)
    if failure is not None:
        text = "".join(traceback.format_exception(failure))
        return TrialOutcome(candidate, reason=f"{type(failure).__name__}: {failure}", kind=TrialKind.EXCEPTION,
                            error=text)  # fmt: skip
    return TrialOutcome(candidate, result=result)


def _failed_reason(outcome: TrialOutcome) -> str:
    """A failed run's ``reason``: its first line says what happened (an exception's type and message, "timed out:
    killed after trial_timeout=1.0s"), the traceback follows when there is one."""
    head = outcome.reason or "failed"
    if outcome.kind is TrialKind.EXCEPTION and outcome.reason is not None and outcome.reason.startswith("exception: "):
        head = _last_line(outcome.error) or head  # from a child process: "ValueError: boom", as in this process
    if outcome.kind is TrialKind.TIMEOUT or outcome.kind is TrialKind.CRASH:
        return f"{head}: {outcome.error}" if outcome.error else head  # "killed after trial_timeout=1.0s"
    return f"{head}\n{outcome.error}" if outcome.error else head


def _judged(result: Any, candidate: int, seed: int, metric: Metric, guardrails: Sequence[Guardrail]) -> SeedRun:
    """The run of an objective that returned ``result``: FAILED for a result that cannot be read or holds no finite
    metric, INFEASIBLE for a breached guardrail, else COMPLETE."""
    failed = TrialState.FAILED.value
    try:
        metrics = normalise_result(result, metric)
    except ValueError as exc:
        return SeedRun(candidate, seed, failed, {}, f"bad result: {exc}", kind=TrialKind.BAD_RESULT)
    value = metrics[metric.name]
    if not math.isfinite(value):
        where = non_finite_examples(result, metric.name)
        said = f"{metric.name} is {value}" + ("" if where is None else f": {where}")
        return SeedRun(candidate, seed, failed, metrics, said, kind=TrialKind.NON_FINITE)
    missing = [g.metric for g in guardrails if g.metric not in metrics]
    if missing:  # as in the search: a result without a guardrail's metric is the objective's failure, not a breach
        has = keys_of(metrics, missing[0])
        lacks = f"the guardrail {'metric' if len(missing) == 1 else 'metrics'} {missing} ({has})"
        return SeedRun(candidate, seed, failed, metrics,
                       f"bad result: it lacks {lacks}: return every guardrail's metric from the objective",
                       kind=TrialKind.MISSING_METRIC)  # fmt: skip
    broken = [g.metric for g in guardrails if not math.isfinite(metrics[g.metric])]
    if broken:  # a measurement that is no number is broken, not a breach (as in the search)
        return SeedRun(candidate, seed, failed, metrics,
                       f"guardrail metric {broken[0]} is {metrics[broken[0]]}: a measurement that is not a finite "
                       "number is the objective's failure, not a breach", kind=TrialKind.NON_FINITE)  # fmt: skip
    returned = result.get(metric.name) if isinstance(result, Mapping) else None
    examples = ExampleValues.of(returned) if is_per_example(returned) else None
    for guardrail in guardrails:
        observed = metrics[guardrail.metric]
        if not guardrail.holds(observed):
            return SeedRun(
                candidate,
                seed,
                TrialState.INFEASIBLE.value,
                metrics,
                f"guardrail breached: {guardrail.describe()} (got {guardrail.value_text(observed)})",
                examples,
                TrialKind.GUARDRAIL,
            )
    return SeedRun(candidate, seed, TrialState.COMPLETE.value, metrics, examples=examples)


def _clear(folder: Path) -> None:
    """Delete a re-run's checkpoint ``folder`` and its files. A link there is left alone (deleting through it
    could reach any folder) with a warning, since the re-run then starts from what it points at."""
    if folder.is_symlink():
        warnings.warn(
            f"not emptying the re-run checkpoint folder {folder}: it is a link (to {folder.resolve()}), so the re-run "
            "may load the state left there; remove the link, and tunesmith makes a folder of its own there",
            RuntimeWarning,
            stacklevel=outside_stacklevel(),
        )
        return
    shutil.rmtree(folder, ignore_errors=True)


def completed(runs: Iterable[Mapping[str, Any]] | None, candidate: int | None) -> list[SeedRun]:
    """The recorded runs (``seed_stability.runs``, ``baseline.runs``) of ``candidate`` that did not fail and gave
    a result (a run whose objective raised `Infeasible` gave none)."""
    if runs is None or candidate is None:
        return []
    found = (SeedRun.from_json(data) for data in runs)
    return [run for run in found if run.candidate == candidate and run.state != TrialState.FAILED.value and run.metrics]


# Why every run of a configuration gave the same result whatever its seed; the fix for the likelier cause.
SEED_BLIND_WHY = ("its training does not seem to depend on the seed, being deterministic, or run by an objective that "
                  "does not read trial.seed (random_state=trial.seed, torch.manual_seed(trial.seed))")


class SeedBlind(NamedTuple):
    """Every configuration re-run on two seeds or more gave one result (`seed_blind`): ``candidates`` counts them;
    ``examples`` is the words for per-example values that agreed too (``""``: the runs returned none)."""

    candidates: int
    examples: str


def seed_blind(runs: Iterable[SeedRun], metric: str) -> SeedBlind | None:
    """Whether every configuration in ``runs`` that completed on two seeds or more gave the same ``metric`` on each,
    and the same per-example values where the runs returned them (``None``: some differ, or none ran twice). The
    seed then moved nothing: a deterministic training, or an objective that does not read ``trial.seed``, which a
    forgotten ``random_state=trial.seed`` turns into a configuration that reads perfectly stable."""
    kept: dict[int, list[SeedRun]] = {}
    for run in runs:
        if run.state != TrialState.FAILED.value and metric in run.metrics:
            kept.setdefault(run.candidate, []).append(run)
    repeated = [own for own in kept.values() if len({run.seed for run in own}) > 1]
    if not repeated or any(len({run.metrics[metric] for run in own}) > 1 or len({run.examples for run in own}) > 1
                           for own in repeated):  # fmt: skip
        return None
    examples = all(run.examples is not None for own in repeated for run in own)
    return SeedBlind(len(repeated), " and the same per-example values" if examples else "")


def across_runs(runs: Sequence[SeedRun], key: str, scale: float = 1.0) -> tuple[float, Noise | None, int] | None:
    """The mean of ``key`` over the runs that measured it, the mean's noise and how many runs measured it
    (``None``: none did). The noise is the runs' spread over the square root of their number with, when the runs
    carry per-example or per-fold noise, their typical standard error (every run scored the same validation
    examples: that part does not average out); unknown (``None``) for one run without such noise. Its degrees of
    freedom (`Noise.dof`) are those of that sum (`_degrees_of_freedom`): a spread read from n runs has n - 1, so
    a decision on two or three runs reads Student's t, not the normal. ``scale``: as `noise_of` reads it (a
    proportion's full range, 100 for a percentage)."""
    measured = [run for run in runs if key in run.metrics]
    if not measured:
        return None
    values = [float(run.metrics[key]) for run in measured]
    mean, sd = mean_and_sd(values)  # equal values' np.std may be 1e-15, which read as noise: "held at 1e12 s.e."
    spread = sd / math.sqrt(len(values))
    within = [n for run in measured if (n := noise_of(run.metrics, key, scale)) is not None]
    noise = None
    if len(values) > 1 or within:
        typical = float(np.mean([n.stderr for n in within])) if within else 0.0
        # Every run exact (a stderr of 0 it recorded) and all alike: the mean is exact too, not a spread unmeasured.
        exact = len(within) == len(measured) and all(n.stderr == 0 and n.dof == math.inf for n in within)
        dof = math.inf if exact and spread == 0 else _degrees_of_freedom(spread, len(values), typical, within)
        noise = Noise(math.hypot(spread, typical), f"{len(values)} seeds", dof=dof)
    return mean, noise, len(values)


def _agree(values: Sequence[float]) -> bool:
    """Whether ``values`` are equal up to the last few bits of a float (the same result, summed in another order)."""
    top = max(abs(v) for v in values)
    return max(values) - min(values) <= 8 * sys.float_info.epsilon * top


def mean_and_sd(values: Sequence[float]) -> tuple[float, float]:
    """The mean of ``values`` (at least one) and their standard deviation (``ddof=1``; 0 for one value), each exact
    where the values agree (`_agree`): six runs that all recorded 0.9875 averaged 0.9874999999999999 with a spread
    of 1.2e-16, which the report printed as "mean 0.987 +- 1.22e-16" beside a best of 0.988. The mean is summed
    exactly (`math.fsum`) when every value is finite."""
    if not all(math.isfinite(v) for v in values):
        return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    mean = math.fsum(values) / len(values)
    if len(values) < 2 or _agree(values):
        return (values[0] if _agree(values) else mean), 0.0
    return mean, float(np.std(values, ddof=1))


def _degrees_of_freedom(spread: float, runs: int, typical: float, within: Sequence[Noise]) -> float | None:
    """The degrees of freedom of ``hypot(spread, typical)`` (Welch-Satterthwaite): ``spread`` read from ``runs``
    runs has ``runs - 1``; ``typical`` the fewest any of ``within`` was estimated with (`Noise.dof`, else its
    examples less one; many when none says). ``None``: many, so that the normal reads it."""
    parts: list[tuple[float, float]] = [(spread**2, runs - 1.0)] if runs > 1 and spread > 0 else []
    estimated = [d for n in within if (d := n.dof if n.dof is not None or n.examples is None else n.examples - 1.0)
                 is not None]  # fmt: skip
    if typical > 0 and estimated:
        parts.append((typical**2, min(estimated)))
    denominator = sum(variance**2 / dof for variance, dof in parts if dof > 0)
    if denominator == 0.0:
        return None
    return float((spread**2 + typical**2) ** 2 / denominator)
