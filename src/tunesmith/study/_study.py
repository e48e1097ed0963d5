"""`Study`: the public face of a tuning experiment (ask / report / tell, read access, the loop)."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.budget import Budget, BudgetUsage
from tunesmith.decision import Decision
from tunesmith.environment import environment
from tunesmith.errors import BudgetExhausted, ConfigError
from tunesmith.executors import Executor
from tunesmith.objective import Guardrail, Metric
from tunesmith.samplers import Auto, Sampler, SearchContext, make_sampler
from tunesmith.schedulers import Scheduler, make_scheduler
from tunesmith.space import Space
from tunesmith.storage import Storage, StudyInfo, open_storage
from tunesmith.study import _ask, _optimize, _recovery
from tunesmith.study._ask import trial_seed
from tunesmith.study._checkpoints import CheckpointStore, default_checkpoint_root
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.study._optimize import Callback, Objective, StudyResult
from tunesmith.study._outcome import divergence, judge
from tunesmith.study._recovery import start_heartbeat, worker_id
from tunesmith.study._spec import StudySpec
from tunesmith.trial import Trial, TrialRecord, TrialState, best_record

if TYPE_CHECKING:
    import threading

    from tunesmith.discipline.seeds import Baseline, SeedReport
    from tunesmith.discipline.verdict import Verdict

__all__ = ["Study", "trial_seed"]


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
        root = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_root(self.name)
        self._checkpoints = CheckpointStore(root, keep_checkpoints)
        self._worker = worker_id()
        self._decisions: dict[int, Decision] = {}
        self._stop_notes: dict[int, str] = {}
        self._running: set[int] = set()
        self._workers = 1
        self._next_reap = 0.0
        chosen_seed = seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        spec = StudySpec(
            space=self.space,
            metric=self.metric,
            seed=chosen_seed,
            guardrails=self.guardrails,
            budget=self.budget,
            sampler=self.sampler.describe(),
            scheduler=self.scheduler.describe(),
            retries=self.retries,
        )
        self._info, created = self._storage.get_or_create_study(self.name, spec.to_json(), self._clock())
        stored = StudySpec.from_json(self._info.spec)
        if not created:
            stored.check_reopened(
                self.name, self._storage.url, space=self.space, metric=self.metric, seed=seed, retries=retries
            )
        self.seed = stored.seed
        self.retries = stored.retries if stored.retries is not None else self.retries
        if created:
            self._storage.set_study_attr(self._info.id, "environment", environment())
            self._record_sampler_choice()
        if baseline is not None:
            self.baseline(baseline)

    @classmethod
    def load(cls, name: str, storage: str | Storage | None = None, **overrides: Any) -> Study:
        """Resume a study from storage alone: space, metric, sampler, scheduler, budget and seed as stored."""
        store = open_storage(storage)
        spec = StudySpec.from_json(store.load_study(name).spec)
        kwargs: dict[str, Any] = {
            "space": spec.space,
            "metric": spec.metric,
            "guardrails": list(spec.guardrails),
            "sampler": spec.sampler,
            "scheduler": spec.scheduler,
            "budget": spec.budget,
            "seed": spec.seed,
            "retries": spec.retries or 0,
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

    @property
    def checkpoint_root(self) -> Path:
        """The study's checkpoint folder (``tunesmith-checkpoints/<name>`` unless given)."""
        return self._checkpoints.root

    def trial_checkpoint_dir(self, number: int) -> Path:
        """Where trial ``number`` keeps its checkpoint files."""
        return self._checkpoints.trial_dir(number)

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
        exhausted = spent_beyond_trials(self.budget, history, self._clock())
        if exhausted:
            raise BudgetExhausted(exhausted, limit="wall_time or resource")
        if self.scheduler.pauses:
            resumed = _ask.resume_paused(self, history)
            if resumed is not None:
                return resumed
        record = self._storage.create_trial(
            self._info.id,
            lambda number, history: _ask.propose(self, number, history),
            max_trials=self.budget.trials,
            worker=self._worker,
            now=self._clock(),
        )
        if record is None:
            if self.scheduler.pauses:  # the trial budget just ran out: the final promotions are due
                resumed = _ask.resume_paused(self, self.trials)
                if resumed is not None:
                    return resumed
            raise BudgetExhausted(f"trial budget spent ({self.budget.trials}/{self.budget.trials})", limit="trials")
        parent = record.attrs.get("parent")
        if isinstance(parent, int):
            self._checkpoints.copy(parent, record.number)
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

    def _reporter(self, number: int) -> Callable[[int, dict[str, float]], Decision]:
        return lambda step, metrics: self.report(number, step, metrics)

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
        diverged = divergence(record, self.metric, self.divergence_factor)
        if diverged:
            return self._decide(number, Decision.STOP, diverged)
        exhausted = spent_beyond_trials(self.budget, history, now, step_for=number)
        if exhausted:
            return self._decide(number, Decision.STOP, exhausted)
        decision = self.scheduler.decide(record, history, self.context)
        if decision is not Decision.CONTINUE:
            return self._decide(number, decision, f"{decision.value} by {self.scheduler.name} at step {step}")
        return self._decide(number, decision, None)

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
        outcome = judge(
            record,
            result,
            metric=self.metric,
            guardrails=self.guardrails,
            decision=decision,
            note=note,
            error=error,
            reason=reason,
        )
        self._storage.finish_trial(
            self._info.id,
            number,
            outcome.state,
            metrics=outcome.metrics,
            reason=outcome.reason,
            error=outcome.error,
            now=self._clock(),
        )
        self._running.discard(number)
        if outcome.state.is_finished and self._checkpoints.root.is_dir():
            self._checkpoints.prune(self._storage.get_trials(self._info.id), self.metric)
        return self._storage.get_trial(self._info.id, number)

    # Recovery ------------------------------------------------------------------------------------
    def reap_lost_trials(self, history: Sequence[TrialRecord] | None = None) -> list[int]:
        """Mark RUNNING trials whose worker is gone as FAILED; return their numbers.

        The reason is ``"interrupted"`` when the worker ran on this host and its process no longer
        exists, ``"lost worker"`` when it has not sent a heartbeat for ``grace`` seconds (from any
        host). Neither spends the trial budget; with ``retries`` the trial is re-queued.
        """
        return _recovery.reap(self, self.trials if history is None else history)

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
            self._beater = start_heartbeat(self, self.heartbeat_interval)

    def settle(self, *, poll: float | None = None, timeout: float | None = None) -> list[int]:
        """Wait while other workers' trials are RUNNING, reaping lost ones; return the numbers reaped.

        A worker whose budget is spent calls this before it leaves, so that a trial lost near the
        end of the study is still recovered: when it returns reaped trials, the budget they freed
        (and their retries) is there to be run, e.g. by calling `optimize` again. It returns an
        empty list once no other trial is RUNNING (or after ``timeout`` seconds).
        """
        return _recovery.settle(self, poll=poll, timeout=timeout)

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
        return _optimize.optimize(
            self,
            objective,
            n_trials=n_trials,
            workers=workers,
            executor=executor,
            timeout=timeout,
            callbacks=callbacks,
            memory_limit=memory_limit,
            trial_timeout=trial_timeout,
        )

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, storage={self._storage.url!r})"
