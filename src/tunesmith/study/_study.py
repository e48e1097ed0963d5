"""`Study`: the public face of a tuning experiment (ask / report / tell, read access, the loop)."""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith import _report_rules as rules
from tunesmith._caller import outside_stacklevel
from tunesmith._text import controls_in, terminal_safe
from tunesmith._validate import checked_arguments, checked_call
from tunesmith.attributes import CheckpointRootAttr, ChoiceAttr, read_attr, write_attr
from tunesmith.budget import Budget, BudgetUsage
from tunesmith.decision import Decision
from tunesmith.environment import record_environment
from tunesmith.errors import (
    BudgetExhausted,
    ConfigError,
    SearchConverged,
    StorageUnavailable,
    StudyNotFound,
    TrialNotRunning,
)
from tunesmith.executors import Executor
from tunesmith.objective import Guardrail, Metric, warn_if_minimised_score
from tunesmith.samplers import Sampler, SearchContext, make_sampler
from tunesmith.schedulers import Scheduler, make_scheduler
from tunesmith.space import Space
from tunesmith.storage import Storage, StudyInfo, open_storage
from tunesmith.storage.base import name_forms
from tunesmith.study import _ask, _define_by_run, _known, _multi, _optimize, _recovery, _retry, _spec, _warm_start
from tunesmith.study._ask import trial_seed
from tunesmith.study._checkpoints import (
    CHECKPOINTED,
    CheckpointMissing,
    CheckpointStore,
    default_checkpoint_root,
    own_checkpoint_root,
    stored_checkpoint_root,
)
from tunesmith.study._convergence import ConvergenceWatch, stopped_text
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.study._optimize import Callback, Objective, StudyResult
from tunesmith.study._outcome import (
    StopNote,
    decide_at_report,
    judge,
    never_compared,
    ran_all_steps,
    trained_fully_when_spent,
    trained_to_the_end,
)
from tunesmith.study._pickling import StorageHandle
from tunesmith.study._recovery import start_heartbeat, worker_id
from tunesmith.study._retry import CODE_FAILURES
from tunesmith.study._search_progress import command_arguments
from tunesmith.study._settings import Settings, check_grace, check_search_objectives
from tunesmith.study._spec import StudySpec
from tunesmith.study._validation_set import GIVEN, checked_name, record_validation_set
from tunesmith.trial import StudyRef, Trial, TrialKind, TrialRecord, TrialState, best_record

__all__ = ["Study", "trial_seed"]


def _study_name(name: Any) -> str:
    """A given study name in the form storage keeps (NFC: `name_forms`), refused when it is not a string, has
    spaces at its ends ("quad " and "quad" would be two studies that every listing prints alike)."""
    if not isinstance(name, str):
        raise ConfigError(f"name must be a string, got {type(name).__name__} {name!r}: pass e.g. name='resnet-lr'")
    if name != name.strip():
        raise ConfigError(
            f"study name {name!r} has white space at its ends, which no listing shows: pass name={name.strip()!r}"
        )
    return name_forms(name)[0]


def refuse_control_characters(storage: str | Storage | None, name: str) -> None:
    """Refuse to create a study whose name holds a control character (ESC, NUL, a bidi override): every listing shows
    it escaped, and the shown form names no study, so no command line could name it again. One stored so by an older
    version opens as before. ``storage`` given as a URL is opened without creating anything, so that a refused name
    leaves no new database file behind."""
    controls = controls_in(name)
    if not controls:
        return
    try:
        open_storage(storage, create=False).load_study(name)
    except (StudyNotFound, StorageUnavailable):
        raise ConfigError(
            f"study name '{terminal_safe(name, markup=False)}' holds control characters ({', '.join(controls)}), which "
            "every listing shows escaped and no command line can pass back: pass a name without them, e.g. "
            f"name={''.join(c for c in name if not controls_in(c))!r}"
        ) from None


# What to write for the arguments other tuners' studies take (Optuna's create_study, Ray Tune's TuneConfig): the closest
# name said "n_trials: did you mean 'trial_cost'?", seconds a trial takes.
_OTHER_TUNERS = {
    "n_trials": "budget=ts.Budget(trials=N) (or study.optimize(objective, n_trials=N) for one call)",
    "num_samples": "budget=ts.Budget(trials=N)",
    "direction": "metric=ts.Metric(name, 'max') (a bare metric name is minimised)",
    "mode": "metric=ts.Metric(name, 'max') (a bare metric name is minimised)",
    "directions": "metrics=[ts.Metric(name, 'max'), ts.Metric(other, 'min')]",
    "objectives": "metrics=[ts.Metric(name, 'max'), ts.Metric(other, 'min')]",
    "study_name": "name=",
    "pruner": "scheduler= (ts.ASHA(...), ts.MedianStop(), or {'name': 'auto', 'max_resource': N})",
    "search_alg": "sampler= ('auto', 'tpe', 'gp', ... or a ts sampler)",
    "search_space": "space=",
    "param_space": "space=",
    "load_if_exists": "nothing: creating a study whose name the storage holds resumes it (ts.Study.load(name, "
                      "storage=...) opens one from storage alone)",
}  # fmt: skip
# ... and their optimize's.
_OTHER_OPTIMIZE = {
    "n_jobs": "workers=N (trials then run in child processes, executor='processes')",
    "catch": "nothing: a trial that raises is recorded FAILED with its traceback and the run goes on, unless the "
             "first trials all fail the same way (fail_fast=None runs on even then)",
    "show_progress_bar": "progress=True",
}  # fmt: skip


@checked_arguments(instead=_OTHER_TUNERS)
class Study(_known.KnownConfigs, _multi.MultiObjective, StorageHandle):
    """A named tuning experiment whose every trial lives in storage.

    Creating a study whose name already exists in the storage resumes it (the space, metric,
    guardrails and budget must match what was stored); `Study.load` resumes one from storage alone.

    Args:
        space: the search space; ``None`` (or omitted): learned from what trials ask for by name
            (`Trial.suggest_float`, ...), and a space given up front grows the same way.
        metric: the metric to optimise (a name means minimise; default ``"value"``). A name that reads like a
            score (``"accuracy"``, ``"val_auc"``, ``"neg_log_loss"``) is refused: pass ``ts.Metric(name, "max")``.
        metrics: several objectives instead of ``metric`` (``[ts.Metric("val_loss"), ts.Metric("latency_ms")]``):
            `best` is then refused; see `pareto_front`, `hypervolume` and `choose`. Stored, as ``metric`` is.
        reference_point: the hypervolume's bound per objective (default: derived from the first 10 trials).
        guardrails: constraints a winner must meet; a breach records the trial INFEASIBLE. Stored with
            a new study; ``None`` keeps the stored ones, and reopening with others is refused.
        sampler: ``"auto"`` (default), a name, or a `Sampler`.
        scheduler: ``None`` (FIFO), a name, or a `Scheduler`.
        budget: limits over all workers; ``None`` means unbounded (pass ``n_trials`` to `optimize`) for a
            new study and the stored budget for an existing one. Reopening with another is refused:
            `extend_budget` raises it.
        storage: ``"sqlite:///tunesmith.db"`` (default), ``"memory"``, a URL, or a `Storage`.
        name: the study's name in storage (a fresh one is made when omitted).
        seed: the study seed; per-trial seeds and sampler randomness derive from it.
        heartbeat_interval: seconds between liveness marks of running trials (default 10; stored with
            a new study, and ``None`` uses the stored value). A background thread beats every trial this
            object started (through `optimize` or `ask`) until it is told; see `heartbeat` for work
            that runs elsewhere.
        grace: seconds without a heartbeat after which a RUNNING trial counts as lost (default 300;
            stored, and reopening with another value is refused): any worker then records it FAILED with reason
            ``"lost worker"`` (``"interrupted"`` when its process on this host is gone). Lost trials
            do not spend the trial budget.
        retries: how many times a lost trial is re-queued: the next `ask` by any worker runs its
            parameters (and seed) again as a new trial with ``attrs["retry_of"]`` (the lost
            trial's number) and ``attrs["retries"]``. Stored with the study; ``None`` keeps the
            stored value (0 for a new study).
        checkpoint_dir: where trials keep checkpoint files (default ``tunesmith-checkpoints/<name>``
            in the working directory of the study's first opener, stored as an absolute path, so a
            worker started elsewhere on the same machine or a shared filesystem finds the same files),
            one ``trial-NNNNNN`` folder per trial. A new study whose default folder already holds files (an
            earlier study of the same name, in another database or one deleted since) keeps its own,
            ``tunesmith-checkpoints/<name>-<8 hex digits>``, so neither resumes from nor prunes the other's.
        keep_checkpoints: how many of the best finished trials keep their checkpoints; the others'
            are deleted as trials finish. With several objectives every trial on the Pareto front keeps its own
            (more by rank up to this many), and the recorded choice (`choose`) keeps its own either way.
        divergence_factor: a minimised metric that grows past this many times its first reported
            value stops the trial as diverged; ``None`` disables the check.
        trial_cost: the expected seconds per trial, if known; ``sampler="auto"`` and the planner use it
            (a declared value, so that suggestions never depend on measured timings).
        baseline: the model's default configuration, recorded with the study; `tunesmith.validate_top`
            evaluates it across the same seeds before re-running the top candidates, and every
            verdict is stated relative to it (see `tunesmith.evaluate_baseline`).
        warm_start: earlier results the samplers learn from, never trials: a `Study`, a CSV path or records.
        validation_set: the name of the validation set the objective scores on (``"churn-2024-val"``), recorded with
            the study; without one, `optimize` records the objective's ``module:qualname``. `tunesmith.finalize`
            gives, beside this study's optimism, the optimism of the best of every configuration compared on that
            set (with the same metric) by it and the studies created before it on the same storage: a search designed
            after another's scores were seen may have been steered to where the set flatters. A study that recorded
            another given name refuses it.
    """

    def __init__(
        self,
        space: Space | None = None,
        *,
        metric: Metric | str | None = None,
        metrics: Sequence[Metric | str] | None = None,
        reference_point: Mapping[str, float] | None = None,
        guardrails: Sequence[Guardrail] | None = None,
        sampler: str | Mapping[str, Any] | Sampler | None = "auto",
        scheduler: str | Mapping[str, Any] | Scheduler | None = None,
        budget: Budget | None = None,
        storage: str | Storage | None = None,
        name: str | None = None,
        seed: int | None = None,
        heartbeat_interval: float | None = None,
        grace: float | None = None,
        retries: int | None = None,
        checkpoint_dir: str | Path | None = None,
        keep_checkpoints: int = 3,
        divergence_factor: float | None = 10.0,
        baseline: Mapping[str, Any] | None = None,
        trial_cost: float | None = None,
        warm_start: _warm_start.WarmStartSource | None = None,
        validation_set: str | None = None,
    ) -> None:
        validation_set = checked_name(validation_set)  # before anything is stored
        settings = Settings.check(
            space=space, metric=metric, guardrails=guardrails, budget=budget, seed=seed,
            heartbeat_interval=heartbeat_interval, grace=grace, retries=retries, keep_checkpoints=keep_checkpoints,
            divergence_factor=divergence_factor, trial_cost=trial_cost, metrics=metrics,
            reference_point=reference_point,
        )  # fmt: skip
        self.metric, self.guardrails, self.budget = settings.metric, settings.guardrails, settings.budget
        self.objectives, self.given_reference = settings.objectives, settings.given_reference
        self._reference_seen: tuple[float, ...] = ()  # see _multi.sampler_reference
        self.sampler = make_sampler(sampler)
        self.scheduler = make_scheduler(scheduler)
        check_search_objectives(self.sampler, self.scheduler, settings.objectives)  # before anything is stored
        self.divergence_factor = settings.divergence_factor
        self.trial_cost = settings.trial_cost
        self.keep_checkpoints = settings.keep_checkpoints
        self._beater: threading.Thread | None = None
        self._clock: Callable[[], float] = time.time
        self._simulated = False  # `optimize` on `SimulatedExecutor`: a paused trial resumes without a checkpoint
        self.name = _study_name(name) if name else f"study-{uuid.uuid4().hex[:8]}"
        refuse_control_characters(storage, self.name)  # before a new SQLite file is created
        self._storage = open_storage(storage)
        root = Path(checkpoint_dir) if checkpoint_dir is not None else default_checkpoint_root(self.name)
        self._checkpoints = CheckpointStore(root.absolute(), self.keep_checkpoints)
        self._worker = worker_id()
        self._decisions: dict[int, Decision] = {}
        self._told_at: dict[int, int] = {}  # the step at which a trial was told its STOP or PAUSE
        self._stop_notes: dict[int, StopNote] = {}
        self._running: set[int] = set()
        self._workers = 1
        self._next_reap = 0.0
        self._convergence = ConvergenceWatch()
        self._space_current = False  # checked before this object's first draw (`_spec.check_space_current`)
        seed = settings.given_seed
        spec = StudySpec(
            space=settings.space, metric=self.metric, guardrails=self.guardrails, budget=self.budget,
            seed=seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0]),
            sampler=self.sampler.describe(), scheduler=self.scheduler.describe(), retries=settings.given_retries or 0,
            heartbeat_interval=settings.heartbeat_interval, grace=settings.grace, objectives=settings.objectives,
            reference_point=settings.given_reference, trial_cost=settings.trial_cost,
        )  # fmt: skip
        self._info, created = self._storage.get_or_create_study(self.name, spec.to_json(), self._clock())
        self.name = self._info.name  # a study stored before names were normalised keeps its own form
        # A study without trials takes a changed space (a clause fixed): none was drawn from the stored one.
        replaced = not created and _spec.replace_space(self._storage, self._info, settings.space, self._storage.url)
        if replaced:
            self._info = self._storage.load_study(self.name)
        stored = StudySpec.from_json(self._info.spec)
        # A cost declared to a study stored without one is recorded, so that a worker that loads it
        # (`Study.load`) lets sampler="auto" choose as this process does.
        declares_cost = not created and stored.trial_cost is None and settings.trial_cost is not None
        if not created:
            stored.check_reopened(self.name, self._storage.url, settings, self._info.attrs, scheduler=scheduler)
            if declares_cost:
                self._storage.update_study_spec(self._info.id, {**self._info.spec, "trial_cost": settings.trial_cost})
                self._info = self._storage.load_study(self.name)
            # Not given (the defaults): the study goes on with the ones it was run with, as stored. Another
            # sampler is a switch (a search may begin at random and go on with a model): stored and logged.
            if (sampler is None or sampler == "auto") and stored.sampler is not None:
                self.sampler = make_sampler(stored.sampler)
            elif _spec.switch_sampler(self._storage, self._info, self.sampler, self._clock()):
                self._info = self._storage.load_study(self.name)
            if scheduler is None and stored.scheduler is not None:
                self.scheduler = make_scheduler(stored.scheduler)
            check_search_objectives(self.sampler, self.scheduler, settings.objectives)  # the stored ones too
        self.budget, self.guardrails = stored.budget, stored.guardrails
        self.trial_cost = settings.trial_cost if stored.trial_cost is None else stored.trial_cost
        self._defined = _define_by_run.DefinedSpace(stored.space, self._info.attrs)
        self.seed: int = stored.seed
        self.retries: int = stored.retries if stored.retries is not None else settings.given_retries or 0
        # The grace period is the study's (every worker judges lost trials alike); the beat is this
        # object's own, the stored one unless given.
        self.grace: float = stored.grace or settings.grace
        self.heartbeat_interval: float = (
            settings.given_interval or stored.heartbeat_interval or settings.heartbeat_interval
        )
        check_grace(self.heartbeat_interval, self.grace)
        if created:
            for objective in self.objectives or (self.metric,):
                warn_if_minimised_score(objective, self.objectives)
            record_environment(self._storage, self._info.id, {})  # merged: a worker's own, recorded meanwhile, stays
            if checkpoint_dir is None:  # a folder given is the caller's to share; the default is this study's own
                self._checkpoints = CheckpointStore(own_checkpoint_root(self._checkpoints.root), self.keep_checkpoints)
            write_attr(self, CheckpointRootAttr(path=str(self._checkpoints.root)))
        elif checkpoint_dir is None:
            self._checkpoints = CheckpointStore(stored_checkpoint_root(self._info.attrs, root), self.keep_checkpoints)
        if baseline is not None:
            self.declare_baseline(baseline)
        if validation_set is not None:
            record_validation_set(self, validation_set, GIVEN)
        if replaced:  # the points a stored warm start read on the old space, checked against the new one
            _warm_start.refit_to_space(self)
        _warm_start.record_warm_start(self, warm_start)
        if created or declares_cost or replaced:  # after the warm start: its points count among the quasi-random's
            _define_by_run.record_sampler_choice(self, self.space)

    @classmethod
    def load(cls, name: str, storage: str | Storage | None = None, **overrides: Any) -> Study:
        """Resume a study from storage alone: space, metric, sampler, scheduler, budget and seed as stored."""
        store = open_storage(storage, create=False)  # a mistyped path is an error, not a new empty database
        spec = StudySpec.from_json(store.load_study(name).spec)
        return cls(storage=store, name=name, **{**spec.arguments(), **overrides})

    def extend_budget(
        self,
        *,
        trials: int | None = None,
        wall_time: float | str | None = None,
        resource: float | None = None,
        compute: float | str | None = None,
        until_converged: bool | None = None,
    ) -> Budget:
        """Raise the stored budget (``study.extend_budget(trials=50)``; ``tunesmith extend`` in the CLI).

        Each limit given is the new total and must exceed the stored one; the others stay. The change
        is stored and appended to the attribute ``budget_log`` (`tunesmith.attributes.BudgetLogAttr`).
        A limit the study lacks is added only before its first trial. ``until_converged=False`` lets the
        search go on past convergence (``tunesmith extend --past-convergence``). Returns the new budget; raises
        `ConfigError` for no limit, a lower one, or a limit the study lacks once it has trials.
        """
        self.budget = _spec.extend_budget(
            self._storage, self.name, self._clock(), trials=trials, wall_time=wall_time, resource=resource,
            compute=compute, until_converged=until_converged,
        )  # fmt: skip
        _define_by_run.record_sampler_choice(self, self.space)  # "auto" chooses by the budget: say what it picks now
        return self.budget

    @staticmethod
    def names(storage: str | Storage | None = None) -> list[str]:
        """Names of every study in the storage (a missing SQLite file is an error, not created)."""
        return [info.name for info in open_storage(storage, create=False).list_studies()]

    @property
    def space(self) -> Space:
        """The given space extended by the parameters trials asked for by name, as of this object's last
        ask or tell (`Space.empty` before any); stored in the ``learned_space`` attribute."""
        return self._defined.current

    def declare_baseline(self, params: Mapping[str, Any], seeds: int = 5) -> None:
        """Record the baseline configuration for the discipline to evaluate across ``seeds`` seeds
        (`tunesmith.validate_top` runs a declared baseline first); one already evaluated is kept."""
        _spec.declare_baseline(self, params, seeds)

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
        # The declared trial cost, never the measured one: suggestions must not depend on timing.
        return SearchContext(
            metric=self.metric, guardrails=self.guardrails, budget=self.budget, workers=self._workers,
            trial_cost=self.trial_cost, rungs=self.scheduler.rungs(), objectives=self.objectives,
            reference=_multi.sampler_reference(self),
            predicted_finals=_sampler_reads_predictions(self.scheduler, self.objectives, self.divergence_factor),
        )  # fmt: skip

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, in number order."""
        return self._storage.get_trials(self._info.id)

    @property
    def best(self) -> TrialRecord | None:
        """The best COMPLETE trial by the metric (INFEASIBLE, FAILED and STOPPED trials never qualify);
        refused with several objectives (see `pareto_front`, `choose`)."""
        _multi.refuse_best(self)
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

    def usage(self) -> BudgetUsage:
        """What the study spent; a trial whose worker is gone (`gone_trials`) ran until its last heartbeat."""
        history = self.trials
        return Budget.usage(history, self._clock(), gone=self._gone(history))

    @property
    def checkpoint_root(self) -> Path:
        """The study's checkpoint folder (``tunesmith-checkpoints/<name>``, or ``<name>-<8 hex digits>`` when that
        held another study's files, unless given)."""
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
        spent = spent_beyond_trials(self.budget, history, self._clock(), scheduler=self.scheduler)
        if spent is not None and self._look_again():
            history = self.trials
            spent = spent_beyond_trials(self.budget, history, self._clock(), scheduler=self.scheduler)
        if spent is not None:
            if self.scheduler.pauses:  # nothing is left to resume them with: they end where they paused
                _ask.retire_paused(self, history, f"{spent.message} while it waited at its rung for a promotion")
            raise BudgetExhausted(spent.message, limit=spent.limit)
        if self.scheduler.pauses:
            resumed = _ask.resume_paused(self, history)
            if resumed is not None:
                return resumed
        if self.budget.until_converged and (reached := self._convergence.converged(self, history)) is not None:
            raise SearchConverged(stopped_text(reached, self.metric))
        record = self._create_trial()
        if record is None and self._look_again():
            record = self._create_trial()
        if record is None:
            if self.scheduler.pauses:  # the trial budget just ran out: the final promotions are due
                resumed = _ask.resume_paused(self, self.trials)
                if resumed is not None:
                    return resumed
            raise BudgetExhausted(f"trial budget spent ({self.budget.trials}/{self.budget.trials})"
                                  f"{self._others_running()}", limit="trials")  # fmt: skip
        parent = record.attrs.get("parent")
        if isinstance(parent, int):
            record = _ask.hand_over_checkpoint(self, record, parent)
        return self._handle(record)

    def _create_trial(self) -> TrialRecord | None:
        """A new trial from the sampler, numbered in storage under the trial budget (``None``: it is spent)."""
        return self._storage.create_trial(
            self._info.id, _ask.proposer(self),
            max_trials=self.budget.trials, worker=self._worker, now=self._clock(),
        )  # fmt: skip

    def _look_again(self) -> bool:
        """Before `ask` says the budget is spent, whether it may not be after all: another `Study` object raised
        the stored budget (`tunesmith extend` while this one runs), which this one adopts, or a worker that died
        since the last reap holds trials that spend nothing once reaped (its process gone from this host, or
        silent for ``grace``), reaped now whatever the reaping pace. A runner left alone with a killed runner's
        trials said "budget spent (6/6)" and ended with four trials evaluated."""
        stored = Budget.from_json(self._storage.load_study(self.name).spec.get("budget"), stored=True)
        grew = stored != self.budget  # a stored budget only ever grows (`extend_budget`)
        if grew:
            self.budget = stored
        return grew or bool(self.reap_lost_trials())

    def _others_running(self) -> str:
        """What `BudgetExhausted` adds while trials of other workers still run (empty when none do)."""
        others = [r.number for r in self.trials if r.state is TrialState.RUNNING and r.number not in self._running]
        if not others:
            return ""
        shown = ", ".join(f"#{n}" for n in others[:5]) + (", ..." if len(others) > 5 else "")
        return (f"; {len(others)} trial{'s' if len(others) != 1 else ''} of other workers still run ({shown}): they "
                f"end there, or if their worker is gone, a later run of the study reaps them once they are "
                f"{self.grace:g}s without a heartbeat and runs their share of the budget")  # fmt: skip

    def reattach(self, number: int) -> Trial:
        """A handle on trial ``number``, RUNNING in storage, that a process now gone was running: a driver restarted
        (Ray Tune's ``Tuner.restore`` resumes its trials, `tunesmith.integrations.ray_tune`). Reports, heartbeats
        and `tell` then go to it as to a trial this object asked for; it goes on from the last step it reported
        (``start_step``), and its checkpoint folder is left as it is. It becomes this process's trial and is beaten
        at once, so that no worker reaps it as lost for its gone process or its silence.

        Raises:
            TrialNotRunning: the trial is not RUNNING (told, or reaped as lost: its retry, if the study allows one,
                runs it again); nothing is changed.
        """
        self._running_record(number)
        self._storage.update_trial(self._info.id, number, worker=self._worker, heartbeat_at=self._clock())
        record = self._running_record(number)  # a worker may have reaped it before it was taken over
        self._ensure_beater()
        return self._handed_out(record, self._start_step(record))

    def _running_record(self, number: int) -> TrialRecord:
        """Trial ``number``'s record; `TrialNotRunning` when it is not RUNNING (`reattach`)."""
        record = self._storage.get_trial(self._info.id, number)
        if record.state is not TrialState.RUNNING:
            ended = f"{record.state.value}{f' ({record.reason})' if record.reason else ''}"
            raise TrialNotRunning(
                f"trial #{number} of study {self.name!r} is {ended}, not running: only a running trial can be "
                "re-attached, and its record stands; a trial reaped as lost is run again by the study's retries "
                "(ts.Study(..., retries=N))"
            )
        return record

    @staticmethod
    def _start_step(record: TrialRecord) -> int:
        """The step a handle on ``record`` goes on from: its last report, else a continuation's start step."""
        return int(record.attrs.get("start_step", 0)) if record.resource == 0 else int(record.resource)

    def _handed_out(self, record: TrialRecord, start: int) -> Trial:
        """A handle on ``record`` that reports to this object from ``start``, counted among its running trials."""
        self._running.add(record.number)
        self._decisions[record.number] = Decision.CONTINUE
        self._told_at.pop(record.number, None)
        return self._defined.hand_out(Trial(
            record.number, record.params, record.seed, lambda step, metrics: self.report(record.number, step, metrics),
            start_step=start, checkpoint_dir=self.trial_checkpoint_dir(record.number), space=self.space,
            study=StudyRef(self.name, self._info.id), learned=self._defined.learned,
        ))  # fmt: skip

    def _handle(self, record: TrialRecord) -> Trial:
        start = self._start_step(record)
        if start > 0:
            if self._checkpoints.holds_files(record.number):  # saved at the step it resumes at?
                why, lost = "checkpoint behind", self._checkpoints.behind(record, start, study=self.name)
            else:
                why, lost = "checkpoint missing", self._checkpoints.missing(
                    record, start, study=self.name, trial=lambda n: self._storage.get_trial(self._info.id, n),
                    history=lambda: self._storage.get_trials(self._info.id), simulated=self._simulated,
                )  # fmt: skip
            if lost is not None:
                self._storage.finish_trial(
                    self._info.id, record.number, TrialState.FAILED, metrics=record.metrics,
                    reason=why, error=lost, now=self._clock(), kind=TrialKind.EXCEPTION,
                )  # fmt: skip
                raise CheckpointMissing(lost)
        return self._handed_out(record, start)

    def report(self, number: int, step: int, metrics: Mapping[str, float]) -> Decision:
        """Record intermediate ``metrics`` of trial ``number`` at ``step`` and return its decision.

        The rules of `Trial.report` hold: steps increase (the same step again only with metrics not stored at
        it, which join them), checked on the stored curve, so from any `Study` object on the storage; and
        a trial this object told to stop or pause reports nothing more but metrics that join the step it was
        told at, which leave the decision as it was.

        Raises:
            ReportRefused: a step at or below the trial's last stored one, or a report after this object
                answered STOP or PAUSE; nothing is recorded.
            TrialNotRunning: the trial is not RUNNING (told, or paused); nothing is recorded.
        """
        step = rules.report_step(step)
        values = {str(k): rules.report_value(str(k), v) for k, v in metrics.items()}
        told = self._decisions.get(number, Decision.CONTINUE)
        now = self._clock()
        if told is not Decision.CONTINUE:
            at = self._told_at.get(number, step)
            if step != at:
                raise rules.ReportRefused(rules.after_stop(number, told, at, step))
            # Metrics that join the step it was told at (storage refuses one stored there already): recorded, and
            # the decision stands, since they train nothing more.
            self._storage.add_report(self._info.id, number, step, values, now)
            return told
        self._storage.add_report(self._info.id, number, step, values, now)
        timed = self.budget.wall_time is not None or self.budget.compute is not None
        if self.scheduler.reads_history or timed or self.budget.resource is not None:
            history = self._storage.get_trials(self._info.id)
            record = next(r for r in history if r.number == number)
        else:  # nothing below looks past this trial: one read, not the whole study, at every step
            record = self._storage.get_trial(self._info.id, number)
            history = [record]
        decision, note = decide_at_report(
            record, history, step, values, now=now, metric=self.metric, budget=self.budget,
            scheduler=self.scheduler, context=self.context, divergence_factor=self.divergence_factor,
        )  # fmt: skip
        return self._decide(number, step, decision, note)

    def _decide(self, number: int, step: int, decision: Decision, note: StopNote | None) -> Decision:
        if self._decisions.get(number, Decision.CONTINUE) is Decision.CONTINUE:
            self._decisions[number] = decision
            if decision is not Decision.CONTINUE:
                self._told_at[number] = step
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
        kind: TrialKind | None = None,
        stopped: str | None = None,
    ) -> TrialRecord:
        """Finish a trial with what its objective returned (or the error that ended it).

        A float is the metric; a dict holds the metric and any others. A NaN/inf metric or an
        error records FAILED; a guardrail breach INFEASIBLE; a trial the scheduler stopped
        STOPPED (with its last reported metrics when the objective returned nothing). A failure's
        ``kind`` says why for code (`TrialKind.EXCEPTION` when only ``error`` or ``reason`` is given).
        To give up a trial without a result, tell it ``reason="abandoned", kind=TrialKind.INTERRUPTED``: it is
        recorded FAILED and, as an interrupted trial, spends no trial budget (with ``retries``, it is run again).
        A trial a scheduler outside the study cut short (Ray Tune's, through `integrations.ray_tune`) is told with
        ``stopped`` saying so: it is recorded STOPPED, of kind `TrialKind.SCHEDULER`, with its last reported metrics
        (unless the study had stopped it itself, as diverged).

        Once told, the trial's handle (the `Trial` given, or the one `ask` handed out for the number) has ended:
        its reports and ``suggest_*`` calls raise `TrialNotRunning`.

        Raises:
            ConfigError: ``trial`` is a `Trial` another study handed out; nothing is recorded.
        """
        if isinstance(trial, Trial):
            self._refuse_foreign(trial)
        number = trial.number if isinstance(trial, Trial) else int(trial)
        handle = trial if isinstance(trial, Trial) else self._defined._handed.get(number)
        ended = self._clock()  # the trial ended when told: what follows is the study's time, not the objective's
        if conflict := _define_by_run.told(self, trial):  # stores the parameters it asked for by name
            result, error, reason, kind = None, conflict, _define_by_run.CONFLICT, TrialKind.EXCEPTION
        if isinstance(trial, Trial) and trial.ran_all_steps:
            ran_all_steps(self._decisions, self._stop_notes, number)
            trained_to_the_end(self, number, trial.trained_to)
        elif isinstance(trial, Trial) and trial.decision is not Decision.CONTINUE:
            self._decisions[number] = trial.decision
        decision = self._decisions.pop(number, Decision.CONTINUE)
        note = self._stop_notes.pop(number, None)
        if stopped is not None and decision is Decision.CONTINUE:
            decision, note = Decision.STOP, StopNote(TrialKind.SCHEDULER, stopped)
        self._told_at.pop(number, None)
        record = self._storage.get_trial(self._info.id, number)
        if decision is Decision.STOP and trained_fully_when_spent(record, self.scheduler, note):
            # Finished, not cut: an objective that returned nothing on the stop ends on its last report.
            decision, note = Decision.CONTINUE, None
            if result is None and record.intermediate:
                result = dict(record.intermediate[max(record.intermediate)])
        if decision is Decision.CONTINUE and note is None and error is None and reason is None and kind is None:
            blind = never_compared(record, self.scheduler, self.context)  # ran to its end, out of the scheduler's reach
            note = None if blind is None else StopNote(TrialKind.MISSING_METRIC, blind)
        outcome = judge(
            record, result, metric=self.metric, guardrails=self.guardrails, decision=decision, note=note,
            error=error, reason=reason, kind=kind, objectives=self.objectives,
        )  # fmt: skip
        recorded = self._storage.finish_trial(
            self._info.id, number, outcome.state, metrics=outcome.metrics, reason=outcome.reason,
            error=outcome.error, now=ended, kind=outcome.kind,
        )  # fmt: skip
        if not recorded:  # it had ended already: say what was thrown away, loudly, never overwrite it
            stored = self._storage.get_trial(self._info.id, number)
            warnings.warn(_recovery.discarded_note(stored, outcome.state, dict(outcome.metrics), self.grace),
                          _recovery.ResultDiscardedWarning, stacklevel=outside_stacklevel())  # fmt: skip
        if self._checkpoints.holds_files(number):  # a resumption that finds none has lost them
            self._storage.update_trial(self._info.id, number, attrs={CHECKPOINTED: True})
        self._running.discard(number)
        _multi.after_tell(self, outcome.state)  # several objectives: store the reference point once it is known
        if outcome.state.is_finished and self._checkpoints.root.is_dir():
            # Never pruned: the trial the discipline works on (a choice exists with several objectives only, so a
            # study of one reads no attributes here at every finished trial).
            choice = read_attr(self.attrs, ChoiceAttr) if self.objectives else None
            self._checkpoints.prune(self._storage.get_trials(self._info.id), self.objectives or (self.metric,),
                                    None if choice is None else choice.trial,
                                    resumes_lost=self.scheduler.resumes_lost)  # fmt: skip
        told = self._storage.get_trial(self._info.id, number)
        if handle is not None:
            handle.end(told.state)
        return told

    def _refuse_foreign(self, trial: Trial) -> None:
        """Refuse to tell ``trial`` when another study handed it out: its number names another trial here (another
        configuration), which would be recorded with its result while the trial itself stayed RUNNING."""
        if trial.study is None or trial.study == StudyRef(self.name, self._info.id):
            return
        number, asked = trial.number, trial.study.name
        raise ConfigError(
            f"trial #{number} of study {asked!r} was told to study {self.name!r}: a trial is told to the study that "
            f"asked for it, since #{number} here is another trial (another configuration), which would be recorded "
            f"with this result while #{number} of {asked!r} stayed RUNNING. Nothing was recorded: tell the study that "
            f"asked for it (the Study object named {asked!r}: study.tell(trial, ...)), or ask this study for a trial "
            "of its own (study.ask())"
        )

    # Recovery ------------------------------------------------------------------------------------
    def reap_lost_trials(self, history: Sequence[TrialRecord] | None = None) -> list[int]:
        """Mark RUNNING trials whose worker is gone as FAILED; return their numbers.

        The reason is ``"interrupted"`` when the worker ran on this host and its process no longer
        exists, ``"lost worker"`` when it has not sent a heartbeat for ``grace`` seconds (from any
        host). Neither spends the trial budget; with ``retries`` the trial is re-queued. A trial a pausing
        scheduler had promoted, interrupted with a checkpoint at its last report, is PAUSED at its rung again
        instead, to be promoted anew and go on from that checkpoint (`_recovery.waits_again`); its number is
        returned too.
        """
        return _recovery.reap(self, self.trials if history is None else history)

    def gone_trials(self) -> dict[int, str]:
        """The RUNNING trials whose worker is gone, by number, each with what the next worker will do
        with it: what `reap_lost_trials` would record now, read without writing (``tunesmith status``
        shows it, since storage keeps such a trial RUNNING until a worker of the study reaps it)."""
        return self._gone(self.trials)

    def _gone(self, history: Sequence[TrialRecord]) -> dict[int, str]:
        """`gone_trials` of ``history`` (read by the caller); this object's own running trials are never gone."""
        others = [r for r in history if r.number not in self._running]
        named = command_arguments(self.name, self._storage.url)
        return _recovery.gone_notes(others, study=named, grace=self.grace, retries=self.retries, now=self._clock(),
                                    trials=self.budget.trials,
                                    waiting=lambda lost: _recovery.waits_again(self, lost))  # fmt: skip

    def retry_failed(self, kinds: Iterable[TrialKind] = CODE_FAILURES) -> list[int]:
        """Re-queue, each once, the FAILED trials of ``kinds`` (default: the code's failures) after a fix; returns
        their numbers. The next `ask`s run them first as new trials (same parameters and seed, ``attrs["retry_of"]``);
        a re-queued trial stops spending the trial budget, as its retry spends it (CLI: ``tunesmith retry``)."""
        return _retry.retry_failed(self, kinds)

    def heartbeat(self, *trials: Trial | int) -> None:
        """Mark trials as alive now: the given ones, or every trial this object started and has not told.

        `ask` and `optimize` keep a background thread calling this every ``heartbeat_interval``
        while the process lives, so an ask/tell loop needs nothing more. Call it yourself when a
        trial's work runs somewhere that thread cannot vouch for, e.g. a job on another machine
        that holds only the trial number: ``ts.Study.load("mlp", storage).heartbeat(17)`` every few
        seconds, well within ``grace``. A trial not beaten for ``grace`` seconds is recorded FAILED
        ("lost worker") by the next worker that asks for a trial, and re-queued when the study allows
        ``retries``.
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

    def trials_dataframe(self) -> Any:
        """The trials as a pandas DataFrame, one row per trial in number order, with the columns `tunesmith export`
        writes (`tunesmith._trial_table`): ``number``, ``state``, ``kind``, ``reason``, ``seed``, ``value`` (the
        study's metric), ``resource``, ``started_at`` and ``finished_at`` (UTC datetimes here, UNIX seconds in the
        CSV), ``duration`` (seconds), ``invalidated``, ``retry_of``, ``counts_toward_budget``, then
        ``params.<name>`` (missing where a conditional parameter was inactive) and ``metrics.<name>`` for every
        objective and reported metric.

        Raises:
            MissingExtra: pandas is not installed (``pip install pandas``).
        """
        import importlib

        from tunesmith._trial_table import trial_table
        from tunesmith.errors import MissingExtra

        try:
            pd: Any = importlib.import_module("pandas")  # not a dependency: imported only here
        except ImportError as exc:
            raise MissingExtra(
                "study.trials_dataframe() needs pandas, which tunesmith does not install: pip install pandas (or "
                "read the same table without it: tunesmith export, or tunesmith.report.trial_rows(study))"
            ) from exc
        columns, rows, _ = trial_table(self.trials, list(self.space), self.metric.name, self.gone_trials())
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("started_at", "finished_at"):
            frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
        return frame

    def stop(self) -> None:
        """Ask the running `optimize` to start no new trial: the trials running finish and are recorded as usual,
        and `optimize` returns with ``stop_reason`` "stopped by study.stop()" (`tunesmith run` then exits 0).

        Call it from a callback, an observer hook, the objective when it runs in the driver's process (the inline
        executor) or another thread of that process, while `optimize` runs; a later `optimize` starts afresh.

        Raises:
            NotOptimizing: no `optimize` of this study runs in this process: outside one (as Optuna's does: a stop
                saved for a later call would end a run nobody asked to end), or in a trial's own process (workers
                > 1), which cannot reach the loop: stop from a callback there.
        """
        _optimize.request_stop(self)

    # The loop ------------------------------------------------------------------------------------
    @checked_call(_OTHER_OPTIMIZE)
    def optimize(
        self, objective: Objective, *, n_trials: int | None = None, workers: int | None = None,
        executor: str | Mapping[str, Any] | Executor = "inline", timeout: float | None = None,
        callbacks: Sequence[Callback] = (),
        memory_limit: int | str | None = None, trial_timeout: float | None = None, fail_fast: int | None = 3,
        progress: bool | None = None,
    ) -> StudyResult:  # fmt: skip
        """Run trials until the budget (or ``n_trials`` for this call, or ``timeout``) is spent.

        Args:
            objective: ``objective(trial) -> float | dict``.
            n_trials: trials this call starts at most (the study budget still applies).
            workers: trials at once (``executor="processes"``); not given, 1, or what an executor instance was built
                to run, which a ``workers`` given beside it must match (two different counts are refused).
            executor: ``"inline"``, ``"processes"``, a table of a name and its options
                (``{"name": "processes", "gpus_per_trial": 1}``) or an `Executor`.
            timeout: seconds this call may run before it stops starting trials.
            callbacks: ``callback(study, record)`` after each finished trial, or `Observer`s (live tracking).
            memory_limit, trial_timeout: per-trial limits for the process executor: bytes (or a size such as
                ``"4GB"``) a trial may map beyond what its process starts with, and seconds.
            fail_fast: stop with `ObjectiveError` (and its traceback) when this many trials in a row fail
                the same way before any trial worked: a bug in the objective; ``None`` never stops.
            progress: show trials done and the time left on stderr (``None``: when stderr is a terminal).
                On Ctrl-C the running trial is recorded interrupted and the exception's note says how to resume.
        """
        return _optimize.optimize(
            self, objective, n_trials=n_trials, workers=workers, executor=executor, timeout=timeout,
            callbacks=callbacks, memory_limit=memory_limit, trial_timeout=trial_timeout, fail_fast=fail_fast,
            progress=progress,
        )  # fmt: skip


def _sampler_reads_predictions(
    scheduler: Scheduler, objectives: Sequence[Metric], divergence_factor: float | None
) -> bool:
    """Whether samplers see stopped trials at their predicted final values (`SearchContext.predicted_finals`): the
    scheduler ranks by them, on one objective, and runs that blow up are caught (``divergence_factor``). Without the
    check a trial that exploded late enters the least-squares fit at its exploded final value and bends every
    prediction: on the benchmark's divergence curves the winner's final loss went from 0.114 to 6.3 when the
    sampler read them there."""
    return scheduler.predicts_final() and len(objectives) <= 1 and divergence_factor is not None
