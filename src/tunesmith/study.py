"""The study: the only place that coordinates space, sampler, scheduler, budget, storage and executor."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.budget import INTERRUPTION_REASONS, Budget, BudgetUsage
from tunesmith.decision import Decision
from tunesmith.environment import environment
from tunesmith.errors import BudgetExhausted, ConfigError, SearchSpaceExhausted
from tunesmith.executors import Executor, TrialJob, TrialOutcome, make_executor
from tunesmith.objective import Guardrail, Metric, normalise_result
from tunesmith.samplers import Auto, Sampler, SearchContext, make_sampler
from tunesmith.schedulers import Scheduler, make_scheduler
from tunesmith.space import Space
from tunesmith.storage import Proposal, Storage, StudyInfo, open_storage
from tunesmith.storage.base import count_budgeted
from tunesmith.trial import Trial, TrialRecord, TrialState, best_record

if TYPE_CHECKING:
    from tunesmith.discipline.seeds import Baseline, SeedReport
    from tunesmith.discipline.verdict import Verdict

__all__ = ["Study", "StudyResult", "trial_seed"]

Objective = Callable[[Trial], Any]
Callback = Callable[["Study", TrialRecord], None]

SPEC_VERSION = 1


def trial_seed(study_seed: int, number: int) -> int:
    """The seed of trial ``number``: a deterministic 32-bit function of the study seed and number."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0])


def _worker_id() -> str:
    """``host:pid`` of this process; ``TUNESMITH_WORKER_HOST`` names the host where hostnames are not
    unique (containers sharing one), since a local-pid liveness check is only sound on one's own host."""
    return f"{os.environ.get('TUNESMITH_WORKER_HOST') or socket.gethostname()}:{os.getpid()}"


def _beat_while_alive(study_ref: weakref.ReferenceType[Study], interval: float) -> None:
    """Body of a study's heartbeat thread: beat its running trials until the study is gone."""
    while True:
        time.sleep(interval)
        study = study_ref()
        if study is None:
            return
        with contextlib.suppress(Exception):  # a storage hiccup must not end the beating
            study.heartbeat()
        del study


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent has not collected it yet
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class StudyResult:
    """What `Study.optimize` returns: the best trial and how the run went."""

    best: TrialRecord | None
    trials_run: int
    states: dict[str, int]
    stop_reason: str
    elapsed: float
    usage: BudgetUsage | None = None
    failures: list[TrialRecord] = field(default_factory=list)


class Study:
    """A named tuning experiment whose every trial lives in storage.

    Creating a study whose name already exists in the storage resumes it (the space and metric
    must match what was stored); `Study.load` resumes one from storage alone.

    Args:
        space: the search space.
        metric: the primary metric (a name means minimise).
        guardrails: constraints a winner must meet; a breach records the trial INFEASIBLE.
        sampler: ``"auto"`` (default), a name, or a `Sampler`.
        scheduler: ``None`` (FIFO), a name, or a `Scheduler`.
        budget: limits over all workers; ``None`` means unbounded (pass ``n_trials`` to `optimize`).
        storage: ``"sqlite:///tunesmith.db"`` (default), ``"memory"``, a URL, or a `Storage`.
        name: the study's name in storage (a fresh one is made when omitted).
        seed: the study seed; per-trial seeds and sampler randomness derive from it.
        heartbeat_interval: seconds between liveness marks of running trials. A background thread
            beats every trial this object started (through `optimize` or `ask`) until it is told;
            see `heartbeat` for work that runs elsewhere.
        grace: seconds without a heartbeat after which a RUNNING trial counts as lost: any worker
            then records it FAILED with reason ``"lost worker"`` (``"interrupted"`` when its
            process on this host is gone). Lost trials do not spend the trial budget.
        retries: how many times a lost trial is re-queued: the next `ask` by any worker runs its
            parameters (and seed) again as a new trial with ``attrs["retry_of"]`` (the lost
            trial's number) and ``attrs["retries"]``. Stored with the study; ``None`` keeps the
            stored value (0 for a new study).
        trial_cost: the expected seconds per trial, if known; ``sampler="auto"`` and the planner use it
            (a declared value, so that suggestions never depend on measured timings).
        baseline: the model's default configuration; evaluated across seeds when `optimize` first
            runs, and every verdict is stated relative to it (see `Study.baseline`).
    """

    def __init__(
        self,
        space: Space,
        *,
        metric: Metric | str = "value",
        guardrails: Sequence[Guardrail] = (),
        sampler: str | Mapping[str, Any] | Sampler | None = "auto",
        scheduler: str | Mapping[str, Any] | Scheduler | None = None,
        budget: Budget | None = None,
        storage: str | Storage | None = None,
        name: str | None = None,
        seed: int | None = None,
        heartbeat_interval: float = 10.0,
        grace: float = 300.0,
        retries: int | None = None,
        checkpoint_dir: str | Path | None = None,
        keep_checkpoints: int = 3,
        divergence_factor: float | None = 10.0,
        baseline: Mapping[str, Any] | None = None,
        trial_cost: float | None = None,
    ) -> None:
        if not isinstance(space, Space):
            raise ConfigError(f"space must be a tunesmith.Space, got {type(space).__name__}: wrap the dict in ts.Space")
        self.space = space
        self.metric = Metric(metric) if isinstance(metric, str) else metric
        if not isinstance(self.metric, Metric):
            raise ConfigError(f"metric must be a name or ts.Metric, got {metric!r}")
        self.guardrails = tuple(guardrails)
        for guardrail in self.guardrails:
            if not isinstance(guardrail, Guardrail):
                raise ConfigError(f"guardrails must be ts.Guardrail objects, got {guardrail!r}")
        self.sampler = make_sampler(sampler)
        self.scheduler = make_scheduler(scheduler)
        self.budget = budget or Budget()
        if not isinstance(self.budget, Budget):
            raise ConfigError(f"budget must be a ts.Budget, got {budget!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ConfigError(f"seed must be a non-negative integer or None, got seed={seed!r}")
        if divergence_factor is not None and not (divergence_factor > 1 and math.isfinite(divergence_factor)):
            raise ConfigError(
                f"divergence_factor must be > 1 or None, got {divergence_factor!r}: use 10 to stop a loss that "
                "grows tenfold over its first value, or None to disable"
            )
        for what, seconds in (("heartbeat_interval", heartbeat_interval), ("grace", grace)):
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds < math.inf:
                raise ConfigError(f"{what} must be a positive number of seconds, got {what}={seconds!r}")
        if grace <= heartbeat_interval:
            raise ConfigError(
                f"grace must exceed heartbeat_interval, got grace={grace!r} <= heartbeat_interval="
                f"{heartbeat_interval!r}: a live worker would be taken for lost; use grace of several intervals"
            )
        if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
            raise ConfigError(f"retries must be a non-negative integer or None, got retries={retries!r}")
        self.heartbeat_interval = heartbeat_interval
        self.grace = grace
        self.retries = retries or 0
        self._beater: threading.Thread | None = None
        self.divergence_factor = divergence_factor
        if trial_cost is not None and not (trial_cost > 0 and math.isfinite(trial_cost)):
            raise ConfigError(f"trial_cost must be a positive number of seconds or None, got trial_cost={trial_cost!r}")
        self.trial_cost = trial_cost
        self.keep_checkpoints = keep_checkpoints
        self._clock: Callable[[], float] = time.time
        self._storage = open_storage(storage)
        self.name = name or f"study-{uuid.uuid4().hex[:8]}"
        self.checkpoint_root = Path(checkpoint_dir) if checkpoint_dir is not None else Path("tunesmith-checkpoints") / (
            "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        )
        self._worker = _worker_id()
        self._decisions: dict[int, Decision] = {}
        self._stop_notes: dict[int, str] = {}
        self._running: set[int] = set()
        self._workers = 1
        self._next_reap = 0.0
        chosen_seed = seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        spec = self._spec(chosen_seed)
        self._info, created = self._storage.get_or_create_study(self.name, spec, self._clock())
        if not created:
            self._check_compatible(self._info.spec, seed)
            self._check_retries(self._info.spec, retries)
        self.seed = int(self._info.spec["seed"])
        self.retries = int(self._info.spec.get("retries", self.retries))
        if created:
            self._storage.set_study_attr(self._info.id, "environment", environment())
            self._record_sampler_choice()
        if baseline is not None:
            self.baseline(baseline)

    # Construction ------------------------------------------------------------------------------
    def _spec(self, seed: int) -> dict[str, Any]:
        return {
            "version": SPEC_VERSION,
            "space": self.space.to_json(),
            "metric": self.metric.to_json(),
            "guardrails": [g.to_json() for g in self.guardrails],
            "budget": self.budget.to_json(),
            "sampler": self.sampler.describe(),
            "scheduler": self.scheduler.describe(),
            "seed": seed,
            "retries": self.retries,
        }

    def _check_retries(self, stored: Mapping[str, Any], retries: int | None) -> None:
        if retries is not None and "retries" in stored and int(stored["retries"]) != retries:
            raise ConfigError(
                f"study {self.name!r} exists with retries={stored['retries']}, not retries={retries}: "
                "drop retries to resume (every worker must re-queue alike), or use a new name"
            )

    def _check_compatible(self, stored: Mapping[str, Any], seed: int | None) -> None:
        if Space.from_json(stored["space"]) != self.space:
            raise ConfigError(
                f"study {self.name!r} already exists in {self._storage.url} with a different space: "
                "use a new name, or ts.Study.load(name, storage) to resume it as stored"
            )
        if Metric.from_json(stored["metric"]) != self.metric:
            raise ConfigError(
                f"study {self.name!r} exists with metric {stored['metric']}, not {self.metric.to_json()}: "
                "use a new name for a different metric"
            )
        if seed is not None and int(stored["seed"]) != seed:
            raise ConfigError(
                f"study {self.name!r} exists with seed={stored['seed']}, not seed={seed}: "
                "drop the seed to resume, or use a new name"
            )

    @classmethod
    def load(cls, name: str, storage: str | Storage | None = None, **overrides: Any) -> Study:
        """Resume a study from storage alone: space, metric, sampler, scheduler, budget and seed as stored."""
        store = open_storage(storage)
        info = store.load_study(name)
        spec = info.spec
        kwargs: dict[str, Any] = {
            "space": Space.from_json(spec["space"]),
            "metric": Metric.from_json(spec["metric"]),
            "guardrails": [Guardrail.from_json(g) for g in spec.get("guardrails", [])],
            "sampler": spec.get("sampler"),
            "scheduler": spec.get("scheduler"),
            "budget": Budget.from_json(spec.get("budget")),
            "seed": int(spec["seed"]),
            "retries": int(spec.get("retries", 0)),
        }
        kwargs.update(overrides)
        return cls(storage=store, name=name, **kwargs)

    @staticmethod
    def names(storage: str | Storage | None = None) -> list[str]:
        """Names of every study in the storage."""
        return [info.name for info in open_storage(storage).list_studies()]

    def _record_sampler_choice(self) -> None:
        if isinstance(self.sampler, Auto):
            chosen, why = self.sampler.choose(self.space, self.context)
            self._storage.set_study_attr(self._info.id, "sampler_choice", {"sampler": chosen.describe(), "why": why})

    # Read access ---------------------------------------------------------------------------------
    @property
    def storage(self) -> Storage:
        return self._storage

    @property
    def info(self) -> StudyInfo:
        """The stored study (attributes re-read from storage)."""
        return self._storage.load_study(self.name)

    @property
    def context(self) -> SearchContext:
        """What samplers and schedulers may know besides the history."""
        return SearchContext(
            metric=self.metric,
            guardrails=self.guardrails,
            budget=self.budget,
            workers=self._workers,
            # The declared cost, never the measured one: suggestions must not depend on timing.
            trial_cost=self.trial_cost,
            rungs=self.scheduler.rungs(),
        )

    @staticmethod
    def measured_trial_cost(history: Sequence[TrialRecord]) -> float | None:
        """Mean seconds of the finished, full-length trials so far (``None`` before the first)."""
        durations = [r.duration for r in history if r.state is TrialState.COMPLETE and r.duration is not None]
        return sum(durations) / len(durations) if durations else None

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, in number order."""
        return self._storage.get_trials(self._info.id)

    @property
    def best(self) -> TrialRecord | None:
        """The best COMPLETE trial by the metric (INFEASIBLE, FAILED and STOPPED trials never qualify)."""
        return self.best_of(self.trials)

    def best_of(self, records: Sequence[TrialRecord]) -> TrialRecord | None:
        """The best of ``records`` by this study's metric (see `best`)."""
        return best_record(records, self.metric)

    @property
    def attrs(self) -> dict[str, Any]:
        """The study's stored JSON attributes (environment, sampler choice, holdout, ...)."""
        return self.info.attrs

    def set_attr(self, key: str, value: Any) -> None:
        """Store one JSON attribute with the study."""
        self._storage.set_study_attr(self._info.id, key, value)

    # The discipline (tunesmith.discipline) -----------------------------------------------------
    def baseline(self, params: Mapping[str, Any], seeds: int = 5, objective: Objective | None = None) -> None:
        """Declare the baseline configuration; it runs across ``seeds`` seeds before the search (or now,
        given ``objective``). See `tunesmith.discipline.seeds`."""
        from tunesmith.discipline.seeds import declare_baseline, evaluate_baseline

        declare_baseline(self, params, seeds)
        if objective is not None:
            evaluate_baseline(self, objective, params, seeds)

    def evaluate_baseline(
        self, objective: Objective, params: Mapping[str, Any] | None = None, seeds: int = 5
    ) -> Baseline:
        """Run the baseline across seeds now and record it (`tunesmith.discipline.evaluate_baseline`)."""
        from tunesmith.discipline.seeds import evaluate_baseline

        return evaluate_baseline(self, objective, params, seeds)

    def validate_top(self, objective: Objective, k: int = 3, seeds: int = 5, **options: Any) -> SeedReport:
        """Re-run the top ``k`` configurations across ``seeds`` seeds; pick the most stable
        (`tunesmith.discipline.validate_top`)."""
        from tunesmith.discipline.seeds import validate_top

        return validate_top(self, objective, k, seeds, **options)

    def finalize(self, evaluate: Callable[[dict[str, Any], int], Mapping[str, float]], **options: Any) -> Verdict:
        """Score the chosen configuration once on the locked holdout; return the verdict
        (`tunesmith.discipline.finalize`)."""
        from tunesmith.discipline.holdout import finalize

        return finalize(self, evaluate, **options)

    def usage(self) -> BudgetUsage:
        return Budget.usage(self.trials, self._clock())

    def trial_checkpoint_dir(self, number: int) -> Path:
        """Where trial ``number`` keeps its checkpoint files."""
        return self.checkpoint_root / f"trial-{number:06d}"

    # Ask / report / tell -------------------------------------------------------------------------
    def ask(self) -> Trial:
        """Start a new trial; raises `BudgetExhausted` when the budget is spent.

        The trial budget is checked in the same storage transaction that numbers the trial, so it
        is exact over any number of workers. A trial lost with its worker and due a retry is
        handed out again before the sampler is asked (see ``retries``). From the first `ask` on,
        a background thread beats this object's untold trials every ``heartbeat_interval``.
        """
        self._ensure_beater()
        history = self.trials
        if time.monotonic() >= self._next_reap:
            self._next_reap = time.monotonic() + min(self.heartbeat_interval, self.grace)
            if self.reap_lost_trials(history):
                history = self.trials
        exhausted = self._exhausted_without_trials(history)
        if exhausted:
            raise BudgetExhausted(exhausted, limit="wall_time or resource")
        if self.scheduler.pauses:
            resumed = self._resume_paused(history)
            if resumed is not None:
                return resumed
        record = self._storage.create_trial(
            self._info.id, self._propose, max_trials=self.budget.trials, worker=self._worker, now=self._clock()
        )
        if record is None:
            if self.scheduler.pauses:  # the trial budget just ran out: the final promotions are due
                resumed = self._resume_paused(self.trials)
                if resumed is not None:
                    return resumed
            raise BudgetExhausted(f"trial budget spent ({self.budget.trials}/{self.budget.trials})", limit="trials")
        parent = record.attrs.get("parent")
        if isinstance(parent, int):
            self._copy_checkpoint(parent, record.number)
        return self._handle(record)

    def _handle(self, record: TrialRecord) -> Trial:
        self._running.add(record.number)
        self._decisions[record.number] = Decision.CONTINUE
        start = int(record.attrs.get("start_step", 0)) if record.resource == 0 else int(record.resource)
        return Trial(
            record.number,
            record.params,
            record.seed,
            self._reporter(record.number),
            start_step=start,
            checkpoint_dir=self.trial_checkpoint_dir(record.number),
        )

    def _resume_paused(self, history: Sequence[TrialRecord]) -> Trial | None:
        """Run on a PAUSED trial the scheduler promotes; retire those it never will."""
        final = self.budget.trials is not None and count_budgeted(history) >= self.budget.trials
        promotion = self.scheduler.promote(history, self.context, final=final)
        for number in promotion.retire:
            record = next((r for r in history if r.number == number), None)
            if record is not None and record.state is TrialState.PAUSED:
                self._storage.finish_trial(
                    self._info.id, number, TrialState.STOPPED, metrics=record.metrics, reason=promotion.reason,
                    error=None, now=self._clock(),
                )  # fmt: skip
                self._remove_checkpoint(number)
        if promotion.resume is None:
            return None
        record = self._storage.resume_trial(
            self._info.id,
            lambda fresh: self.scheduler.promote(fresh, self.context, final=final).resume,
            worker=self._worker,
            now=self._clock(),
        )
        return None if record is None else self._handle(record)

    def _reporter(self, number: int) -> Callable[[int, dict[str, float]], Decision]:
        return lambda step, metrics: self.report(number, step, metrics)

    def _exhausted_without_trials(self, history: Sequence[TrialRecord], step_for: int | None = None) -> str | None:
        """Wall-time and resource limits (the trial limit is enforced by storage).

        The resource budget is kept exact: one more step (of trial ``step_for``, or of a new
        trial) is allowed only if it still fits after the step every other running trial may
        already be taking.
        """
        if self.budget.wall_time is None and self.budget.resource is None:
            return None  # nothing to add up: this is on every ask and report
        usage = Budget.usage(history, self._clock())
        no_trials = Budget(wall_time=self.budget.wall_time, resource=self.budget.resource)
        exhausted = no_trials.exhausted_by(usage)
        if exhausted or self.budget.resource is None:
            return exhausted
        in_flight = sum(1 for r in history if r.state is TrialState.RUNNING and r.number != step_for)
        if usage.resource + in_flight + 1 > self.budget.resource:
            return (
                f"resource budget spent ({usage.resource:g} used, {in_flight} steps in flight, "
                f"of {self.budget.resource:g})"
            )
        return None

    def _propose(self, number: int, history: Sequence[TrialRecord]) -> Proposal:
        retry = self._requeued(history)
        if retry is not None:
            return retry
        rng = np.random.default_rng([self.seed, number])
        seed = trial_seed(self.seed, number)
        context = self.context
        continuation = self.scheduler.propose(self.space, history, rng, context)
        if continuation is not None:
            attrs = {
                **continuation.attrs,
                "sampler": self.scheduler.name,
                "parent": continuation.parent,
                "start_step": continuation.start_step,
            }
            return Proposal(params=self.space.validate(continuation.params), seed=seed, attrs=attrs)
        params = self.sampler.suggest(self.space, history, rng, context)
        params = self.space.validate(params)
        return Proposal(params=params, seed=seed, attrs={"sampler": self.sampler.name})

    # Checkpoints ---------------------------------------------------------------------------------
    def _copy_checkpoint(self, source: int, target: int) -> None:
        """Give a continuation its parent's checkpoint files (PBT's exploit)."""
        origin = self.trial_checkpoint_dir(source)
        if origin.is_dir():
            shutil.copytree(origin, self.trial_checkpoint_dir(target), dirs_exist_ok=True)

    def _remove_checkpoint(self, number: int) -> None:
        shutil.rmtree(self.trial_checkpoint_dir(number), ignore_errors=True)

    def _prune_checkpoints(self, history: Sequence[TrialRecord]) -> None:
        """Delete checkpoints nobody can use: finished trials other than the best ``keep_checkpoints``."""
        if not self.checkpoint_root.is_dir():
            return
        ranked = sorted(
            (r for r in history if r.state is TrialState.COMPLETE and r.value(self.metric.name) is not None),
            key=lambda r: self.metric.sign() * (r.value(self.metric.name) or 0.0),
        )
        keep = {r.number for r in ranked[: self.keep_checkpoints]}
        for record in history:
            if record.state.is_finished and record.number not in keep:
                path = self.trial_checkpoint_dir(record.number)
                if path.exists():
                    shutil.rmtree(path, ignore_errors=True)

    def report(self, number: int, step: int, metrics: Mapping[str, float]) -> Decision:
        """Record intermediate ``metrics`` of trial ``number`` at ``step`` and return its decision."""
        values = {str(k): float(v) for k, v in metrics.items()}
        now = self._clock()
        self._storage.add_report(self._info.id, number, step, values, now)
        value = values.get(self.metric.name)
        if value is not None and not math.isfinite(value):
            return self._decide(number, Decision.STOP, f"diverged: {self.metric.name}={value} at step {step}")
        if self.scheduler.reads_history or self.budget.wall_time is not None or self.budget.resource is not None:
            history = self._storage.get_trials(self._info.id)
            record = next(r for r in history if r.number == number)
        else:  # nothing below looks past this trial: one read, not the whole study, at every step
            record = self._storage.get_trial(self._info.id, number)
            history = [record]
        divergence = self._divergence(record)
        if divergence:
            return self._decide(number, Decision.STOP, divergence)
        exhausted = self._exhausted_without_trials(history, step_for=number)
        if exhausted:
            return self._decide(number, Decision.STOP, exhausted)
        decision = self.scheduler.decide(record, history, self.context)
        if decision is not Decision.CONTINUE:
            return self._decide(number, decision, f"{decision.value} by {self.scheduler.name} at step {step}")
        return self._decide(number, decision, None)

    def _divergence(self, record: TrialRecord) -> str | None:
        """A loss (minimised metric) that grew past ``divergence_factor`` times its first value."""
        if self.divergence_factor is None or self.metric.direction != "min":
            return None
        curve = record.curve(self.metric.name)
        if len(curve) < 2:
            return None
        first_step, first = curve[0]
        step, last = curve[-1]
        if first > 0 and last > self.divergence_factor * first:
            return (
                f"diverged: {self.metric.name} grew from {first:g} (step {first_step}) to {last:g} (step {step}), "
                f"more than {self.divergence_factor:g}x"
            )
        return None

    def _decide(self, number: int, decision: Decision, note: str | None) -> Decision:
        if self._decisions.get(number, Decision.CONTINUE) is Decision.CONTINUE:
            self._decisions[number] = decision
            if note:
                self._stop_notes[number] = note
        return decision

    def tell(
        self,
        trial: Trial | int,
        result: Any = None,
        *,
        error: str | None = None,
        reason: str | None = None,
    ) -> TrialRecord:
        """Finish a trial with what its objective returned (or the error that ended it).

        A float is the metric; a dict holds the metric and any others. A NaN/inf metric or an
        error records FAILED; a guardrail breach INFEASIBLE; a trial the scheduler stopped
        STOPPED (with its last reported metrics when the objective returned nothing).
        """
        number = trial.number if isinstance(trial, Trial) else int(trial)
        decision = self._decisions.pop(number, Decision.CONTINUE)
        if isinstance(trial, Trial) and trial.decision is not Decision.CONTINUE:
            decision = trial.decision
        note = self._stop_notes.pop(number, None)
        record = self._storage.get_trial(self._info.id, number)
        state, metrics, why, text = self._judge(record, result, error, reason, decision, note)
        self._storage.finish_trial(
            self._info.id, number, state, metrics=metrics, reason=why, error=text, now=self._clock()
        )
        self._running.discard(number)
        if state.is_finished and self.checkpoint_root.is_dir():
            self._prune_checkpoints(self._storage.get_trials(self._info.id))
        return self._storage.get_trial(self._info.id, number)

    def _judge(
        self,
        record: TrialRecord,
        result: Any,
        error: str | None,
        reason: str | None,
        decision: Decision,
        note: str | None,
    ) -> tuple[TrialState, dict[str, float], str | None, str | None]:
        """The final state, metrics, reason and error text of a finished trial."""
        last_reported = record.intermediate[max(record.intermediate)] if record.intermediate else {}
        if error is not None or reason is not None:
            return TrialState.FAILED, dict(last_reported), reason or "error", error
        stopped = decision is not Decision.CONTINUE
        if result is None and stopped:
            metrics = dict(last_reported)
        else:
            try:
                metrics = normalise_result(result, self.metric)
            except ValueError as exc:
                return TrialState.FAILED, dict(last_reported), f"bad result: {exc}", None
        value = metrics.get(self.metric.name)
        if note and note.startswith("diverged"):
            return TrialState.STOPPED, metrics, "diverged", note
        if value is None or not math.isfinite(value):
            if stopped:
                return TrialState.STOPPED, metrics, note or "stopped", None
            return TrialState.FAILED, metrics, f"{self.metric.name} is {value}", None
        # A stopped or paused trial was judged on partial training: guardrails apply to finished results.
        if decision is Decision.PAUSE:
            return TrialState.PAUSED, metrics, note, None
        if decision is Decision.STOP:
            return TrialState.STOPPED, metrics, note or "stopped", None
        for guardrail in self.guardrails:
            observed = metrics.get(guardrail.metric)
            if observed is None:
                return (
                    TrialState.FAILED,
                    metrics,
                    f"guardrail metric {guardrail.metric!r} missing from the result",
                    None,
                )
            if not guardrail.holds(observed):
                return (
                    TrialState.INFEASIBLE,
                    metrics,
                    f"guardrail breached: {guardrail.describe()} (got {observed:g})",
                    None,
                )
        return TrialState.COMPLETE, metrics, None, None

    # Recovery ------------------------------------------------------------------------------------
    def reap_lost_trials(self, history: Sequence[TrialRecord] | None = None) -> list[int]:
        """Mark RUNNING trials whose worker is gone as FAILED; return their numbers.

        The reason is ``"interrupted"`` when the worker ran on this host and its process no longer
        exists, ``"lost worker"`` when it has not sent a heartbeat for ``grace`` seconds (from any
        host). Neither spends the trial budget; with ``retries`` the trial is re-queued.
        """
        host, _, own_pid = self._worker.rpartition(":")
        now = self._clock()
        lost: list[int] = []
        for record in self.trials if history is None else history:
            if record.state is not TrialState.RUNNING or record.number in self._running:
                continue
            worker_host, _, pid_text = (record.worker or "").rpartition(":")
            dead = worker_host == host and pid_text.isdigit() and pid_text != own_pid and not _pid_alive(int(pid_text))
            silent = record.heartbeat_at is not None and now - record.heartbeat_at > self.grace
            if dead or silent:
                why = "its process is gone" if dead else f"no heartbeat for {now - (record.heartbeat_at or now):.0f}s"
                if self._storage.finish_trial(
                    self._info.id,
                    record.number,
                    TrialState.FAILED,
                    metrics=record.metrics,
                    reason="interrupted" if dead else "lost worker",
                    error=f"worker {record.worker}: {why}",
                    now=now,
                ):
                    lost.append(record.number)
        return lost

    def _requeued(self, history: Sequence[TrialRecord]) -> Proposal | None:
        """The oldest lost trial still owed a retry, proposed again (same parameters and seed).

        Runs inside `Storage.create_trial`, under the study lock, so exactly one worker picks up
        each lost trial; the SQL storage also refuses a second ``retry_of`` the same trial.
        """
        if self.retries <= 0:
            return None
        retried = {r.attrs.get("retry_of") for r in history if "retry_of" in r.attrs}
        for record in history:
            if (
                record.state is TrialState.FAILED
                and record.reason in INTERRUPTION_REASONS
                and record.number not in retried
                and int(record.attrs.get("retries", 0)) < self.retries
            ):
                attrs = {**record.attrs, "retry_of": record.number, "retries": int(record.attrs.get("retries", 0)) + 1}
                return Proposal(params=dict(record.params), seed=record.seed, attrs=attrs)
        return None

    def heartbeat(self, *trials: Trial | int) -> None:
        """Mark trials as alive now: the given ones, or every trial this object started and has not told.

        `ask` and `optimize` keep a background thread calling this every ``heartbeat_interval``
        while the process lives, so an ask/tell loop needs nothing more. Call it yourself when a
        trial's work runs somewhere that thread cannot vouch for, e.g. a job on another machine
        that holds only the trial number::

            study = ts.Study.load("mlp", storage)
            study.heartbeat(17)          # every few seconds, well within ``grace``

        A trial not beaten for ``grace`` seconds is recorded FAILED ("lost worker") by the next
        worker that asks for a trial, and re-queued when the study allows ``retries``.
        """
        chosen = {t.number if isinstance(t, Trial) else int(t) for t in trials} if trials else set(self._running)
        numbers = sorted(chosen)
        if numbers:
            self._storage.heartbeat(self._info.id, numbers, self._clock())

    def _ensure_beater(self) -> None:
        """Start this object's heartbeat thread unless it runs (it holds the study weakly)."""
        if self._beater is None or not self._beater.is_alive():
            self._beater = threading.Thread(
                target=_beat_while_alive,
                args=(weakref.ref(self), self.heartbeat_interval),
                name=f"tunesmith-heartbeat-{self.name}",
                daemon=True,
            )
            self._beater.start()

    def settle(self, *, poll: float | None = None, timeout: float | None = None) -> list[int]:
        """Wait while other workers' trials are RUNNING, reaping lost ones; return the numbers reaped.

        A worker whose budget is spent calls this before it leaves, so that a trial lost near the
        end of the study is still recovered: when it returns reaped trials, the budget they freed
        (and their retries) is there to be run, e.g. by calling `optimize` again. It returns an
        empty list once no other trial is RUNNING (or after ``timeout`` seconds).
        """
        interval = poll if poll is not None else min(1.0, self.heartbeat_interval)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            history = self.trials
            if not any(r.state is TrialState.RUNNING and r.number not in self._running for r in history):
                return []
            reaped = self.reap_lost_trials(history)
            if reaped:
                return reaped
            if deadline is not None and time.monotonic() >= deadline:
                return []
            time.sleep(interval)

    # The loop ------------------------------------------------------------------------------------
    def optimize(
        self,
        objective: Objective,
        *,
        n_trials: int | None = None,
        workers: int = 1,
        executor: str | Executor = "inline",
        timeout: float | None = None,
        callbacks: Sequence[Callback] = (),
        memory_limit: int | None = None,
        trial_timeout: float | None = None,
    ) -> StudyResult:
        """Run trials until the budget (or ``n_trials`` for this call, or ``timeout``) is spent.

        Args:
            objective: ``objective(trial) -> float | dict``.
            n_trials: trials this call starts at most (the study budget still applies).
            workers: trials at once (``executor="processes"``).
            executor: ``"inline"``, ``"processes"`` or an `Executor`.
            timeout: seconds this call may run before it stops starting trials.
            callbacks: ``callback(study, record)`` after each finished trial.
            memory_limit, trial_timeout: per-trial limits for the process executor.
        """
        if n_trials is None and self.budget.is_unbounded() and timeout is None:
            raise ConfigError(
                "this study has no budget and no n_trials: pass budget=ts.Budget(trials=...) or n_trials=..."
            )
        if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1):
            raise ConfigError(f"n_trials must be a positive integer, got n_trials={n_trials!r}")
        from tunesmith.discipline.seeds import run_pending_baseline

        run_pending_baseline(self, objective)  # a declared baseline runs first, across seeds
        options: dict[str, Any] = {}
        if memory_limit is not None:
            options["memory_limit"] = memory_limit
        if trial_timeout is not None:
            options["trial_timeout"] = trial_timeout
        if executor == "inline" and workers > 1:
            executor = "processes"
        runner = make_executor(executor, workers, **options)
        self._workers = runner.capacity
        self._clock = getattr(runner, "clock", time.time)  # a simulated executor brings its own clock
        runner.start(objective, self.report)
        started_at = time.monotonic()
        started = 0
        stop_reason = ""
        self._ensure_beater()
        self.reap_lost_trials()
        finished: list[TrialRecord] = []
        try:
            while True:
                while not stop_reason and runner.busy() < runner.capacity:
                    if n_trials is not None and started >= n_trials:
                        stop_reason = f"n_trials={n_trials} started"
                        break
                    if timeout is not None and time.monotonic() - started_at >= timeout:
                        stop_reason = f"timeout of {timeout:g}s reached"
                        break
                    try:
                        trial = self.ask()
                    except BudgetExhausted as exc:
                        if exc.limit == "trials" and self.scheduler.pauses and runner.busy() > 0:
                            break  # no new trial, but a trial that pauses later may still be promoted
                        stop_reason = str(exc)
                        break
                    except SearchSpaceExhausted as exc:
                        stop_reason = str(exc)
                        break
                    started += 1
                    runner.submit(
                        TrialJob(
                            trial.number,
                            trial.params,
                            trial.seed,
                            start_step=trial.start_step,
                            checkpoint_dir=str(self.trial_checkpoint_dir(trial.number)),
                        )
                    )
                if runner.busy() == 0:
                    break
                for outcome in runner.wait(timeout=1.0):
                    record = self._finish(outcome)
                    finished.append(record)
                    for callback in callbacks:
                        callback(self, record)
        except BaseException:
            for number in runner.shutdown(kill=True):
                with contextlib.suppress(Exception):
                    self.tell(number, reason="interrupted", error="the study loop was interrupted")
            raise
        finally:
            runner.shutdown()
            self._clock = time.time
        records = self.trials
        states: dict[str, int] = {}
        for record in records:
            states[record.state.value] = states.get(record.state.value, 0) + 1
        return StudyResult(
            best=self.best_of(records),
            trials_run=len(finished),
            states=states,
            stop_reason=stop_reason or "done",
            elapsed=time.monotonic() - started_at,
            usage=Budget.usage(records, self._clock()),
            failures=[r for r in finished if r.state is TrialState.FAILED],
        )

    def _finish(self, outcome: TrialOutcome) -> TrialRecord:
        if outcome.decision is not Decision.CONTINUE and self._decisions.get(outcome.number) is Decision.CONTINUE:
            self._decisions[outcome.number] = outcome.decision
        if outcome.failed:
            return self.tell(outcome.number, reason=outcome.reason, error=outcome.error)
        return self.tell(outcome.number, outcome.result)

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, storage={self._storage.url!r})"
