"""`TunesmithSearchCV`: a scikit-learn search estimator with tunesmith's samplers, schedulers and storage behind it.

A drop-in for ``RandomizedSearchCV``: it takes the same arguments (``param_distributions`` with
scipy.stats distributions and lists, ``n_iter``, ``scoring``, ``refit``, ``cv``, ``n_jobs``,
``random_state``, ...), so an existing call works with only the class name changed::

    search = TunesmithSearchCV(
        SVC(), {"C": loguniform(1e-3, 1e3), "kernel": ["rbf", "linear"]}, n_iter=20, cv=3, random_state=0,
    ).fit(X, y)
    search.best_params_, search.cv_results_["mean_test_score"]

``param_distributions`` may also be a `Space` or a dict of tunesmith parameters
(``{"C": ts.Float(1e-3, 1e3, log=True)}``); see `tunesmith.integrations._sklearn_space` for how
distributions are read. It subclasses scikit-learn's ``BaseSearchCV`` and overrides only
``_run_search``, so ``cv_results_``, ``best_params_``, ``best_estimator_``, ``refit``, ``n_jobs``
and ``error_score`` behave as in ``RandomizedSearchCV``.

With ``resource`` (``"n_samples"`` or an estimator parameter such as ``"max_iter"``) and a
scheduler (``"asha"``, ``"hyperband"``, ``"median"``, ``"auto"``), each configuration is fitted at
increasing resource and the scheduler stops the poor ones early; only fits at ``max_resource``
compete for ``best_params_``. When the scheduler stopped every configuration before ``max_resource``
(Hyperband with too few configurations for a bracket to promote one that far), the best fit at the
furthest resource reached is chosen, a partial fit, with an ``EarlyStoppingWarning`` saying so and what
to change (a larger ``n_iter``, or ``scheduler="asha"``, which trains its first configuration fully).
The resource levels are the scheduler's rungs; median stopping has none, so its levels are
``min_resource * 3**k`` below ``max_resource``, then ``max_resource`` (from ``warmup_steps`` on for a
`MedianStop` with a later warm-up; ``"median"`` compares from ``min_resource``). ``cv_results_`` then has
a ``resource`` column, and a ``trial`` column (the trial number in the study) in every case.

``error_score`` works as in ``RandomizedSearchCV`` (a failed fit scores ``error_score``, with a
``FitFailedWarning``; ``"raise"`` raises). In the study, a configuration whose fits raised is
recorded FAILED with kind ``exception`` and scikit-learn's error (its traceback) as the trial's
error when every fold failed, or when its score is NaN (``error_score=nan``, the default); one
that failed on some folds only and still scores a number (a numeric ``error_score``) completes with
that score, as its row in ``cv_results_`` says. One difference that sequential evaluation brings:
scikit-learn refuses an evaluation round in which *every* fit failed, so a configuration whose
every fold fails has no row in ``cv_results_`` (it has one, scored ``error_score``, when ``n_jobs``
evaluates it beside others). As in scikit-learn, the search raises when no fit succeeded at all.
"""

from __future__ import annotations

import numbers
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._search import BaseSearchCV

from tunesmith._validate import integer
from tunesmith.budget import Budget
from tunesmith.decision import Decision
from tunesmith.errors import BudgetExhausted, ConfigError, SearchSpaceExhausted
from tunesmith.integrations._sklearn_fits import (
    Score,
    SubsampledSplits,
    failure_reason,
    fit_errors,
    record_unfinished,
)
from tunesmith.integrations._sklearn_space import read_distributions
from tunesmith.objective import Metric
from tunesmith.schedulers import FIFO, MedianStop, Scheduler, make_scheduler
from tunesmith.schedulers.successive_halving import rung_levels
from tunesmith.space import Space
from tunesmith.study import Study
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState

__all__ = ["EarlyStoppingWarning", "TunesmithSearchCV"]


class EarlyStoppingWarning(UserWarning):
    """The search's early stopping does not work as set: it can stop no configuration (too few to compare), or
    it stopped every one before ``max_resource`` (so the best is a partial fit)."""


_RESOURCE_SCHEDULERS = {"asha", "hyperband", "successive_halving", "auto", "median"}
_MEDIAN_LADDER = 3  # median stopping has no rungs: configurations climb a ladder x3 (ASHA's eta) instead


class TunesmithSearchCV(BaseSearchCV):
    """Hyperparameter search with cross-validation, as a scikit-learn estimator (``RandomizedSearchCV``'s arguments).

    Args:
        estimator: the scikit-learn estimator (or pipeline) to tune.
        param_distributions: a dict whose names are the estimator's parameters (``"svc__C"`` in a
            pipeline) and whose values are scipy.stats distributions (``loguniform``, ``uniform``,
            ``randint``), lists of values or tunesmith parameters (``ts.Float(1e-3, 1e3, log=True)``);
            a list of such dicts (one is picked per configuration, as scikit-learn does); or a `Space`.
        n_iter: configurations to evaluate (the study's trial budget).
        scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score: as in
            ``RandomizedSearchCV``. ``n_jobs`` also sets how many configurations are evaluated at once.
        random_state: an int seeds the study (samplers and the ``n_samples`` subsampling).
        n_trials: tunesmith's name for ``n_iter`` (kept for existing code); give one of the two.
        sampler: ``"auto"`` (default), a sampler name or a tunesmith `Sampler`.
        scheduler: ``None`` (every configuration at full resource), a name or a tunesmith `Scheduler`;
            a scheduler that pauses trials (promote mode) is refused: fits are not resumable.
        resource: ``"n_samples"`` or the name of an integer estimator parameter that sets the training
            length (``"max_iter"``, ``"n_estimators"``); needed by early-stopping schedulers.
        min_resource, max_resource: the resource range (``max_resource`` defaults to the training
            fold size for ``"n_samples"``).
        storage: where the study lives (``"memory"`` by default; a SQLite/PostgreSQL URL keeps it).
        study_name: the study's name (a fresh one per ``fit`` when omitted).

    Attributes:
        space_: the `Space` that ``param_distributions`` was read into.
        trials_: the study's trial records after ``fit``.
        study_name_: the name of the study in ``storage``.
        max_resource_: the resource of a full fit (``max_resource``, or the training fold size for
            ``"n_samples"``); ``None`` without ``resource``.
    """

    def __init__(
        self,
        estimator: Any,
        param_distributions: Space | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        n_iter: int = 10,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: bool | str | Callable[..., Any] = True,
        cv: Any = None,
        verbose: int = 0,
        pre_dispatch: int | str = "2*n_jobs",
        random_state: int | np.random.RandomState | None = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        n_trials: int | None = None,
        sampler: Any = "auto",
        scheduler: Any = None,
        resource: str | None = None,
        min_resource: int | None = None,
        max_resource: int | None = None,
        storage: str | None = "memory",
        study_name: str | None = None,
    ) -> None:
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.n_trials = n_trials
        self.random_state = random_state
        self.sampler = sampler
        self.scheduler = scheduler
        self.resource = resource
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.storage = storage
        self.study_name = study_name

    # Set-up -------------------------------------------------------------------------------------
    def _budget(self) -> int:
        if self.n_trials is None:
            return integer("n_iter", self.n_iter, minimum=1, numpy=True)
        if self.n_iter not in (10, self.n_trials):  # 10: n_iter's default, i.e. not given
            raise ConfigError(
                f"n_iter and n_trials both set the trial budget, got n_iter={self.n_iter!r}, "
                f"n_trials={self.n_trials!r}: pass only n_iter"
            )
        return integer("n_trials", self.n_trials, minimum=1, numpy=True)

    def _seed(self) -> int | None:
        state = self.random_state
        if state is None:
            return None
        if isinstance(state, np.random.RandomState):
            return int(state.randint(0, 2**31 - 1))
        if isinstance(state, numbers.Integral) and not isinstance(state, bool) and int(state) >= 0:
            return int(state)
        raise ConfigError(f"random_state must be a non-negative int, a RandomState or None, got {state!r}")

    def _resource_range(self, n_train: Callable[[], int]) -> tuple[int, int] | None:
        if self.resource is None:
            return None
        if not isinstance(self.resource, str):
            raise ConfigError(f"resource must be 'n_samples' or a parameter name, got resource={self.resource!r}")
        if self.resource != "n_samples" and self.resource not in self.estimator.get_params():
            raise ConfigError(
                f"resource={self.resource!r} is not a parameter of {type(self.estimator).__name__}: "
                "use 'n_samples' or a parameter such as 'max_iter'"
            )
        high = self.max_resource
        if high is None and self.resource == "n_samples":
            high = n_train()
        if high is None:
            raise ConfigError(f"max_resource is needed for resource={self.resource!r}: e.g. max_resource=200")
        low = self.min_resource if self.min_resource is not None else max(1, high // 27)
        if not 0 < low < high:
            raise ConfigError(f"0 < min_resource < max_resource must hold, got {low} and {high}")
        return int(low), int(high)

    def _make_scheduler(self, resources: tuple[int, int] | None) -> Scheduler:
        spec = self.scheduler
        if isinstance(spec, str) and spec.lower() in _RESOURCE_SCHEDULERS:
            if resources is None:
                raise ConfigError(f"scheduler={spec!r} needs a resource: pass resource='n_samples' or 'max_iter'")
            if spec.lower() == "median":  # compared from the first fit on, as the rung schedulers do
                spec = {"name": "median", "warmup_steps": resources[0]}
            else:
                spec = {"name": spec, "min_resource": resources[0], "max_resource": resources[1]}
        scheduler = make_scheduler(spec)
        if scheduler.pauses:
            raise ConfigError(
                f"scheduler {scheduler.name!r} pauses trials, but a scikit-learn fit cannot resume: use mode='stop'"
            )
        if scheduler.name == "pbt" or getattr(getattr(scheduler, "chosen", None), "name", "") == "pbt":
            raise ConfigError(
                "PBT continues training from checkpoints, which scikit-learn fits cannot do, got scheduler="
                f"{scheduler.name!r}: use scheduler='asha' (or 'hyperband', 'median') to stop poor configurations "
                "early, each fit starting afresh"
            )
        if not isinstance(scheduler, FIFO) and resources is None:
            raise ConfigError(f"scheduler {scheduler.name!r} needs a resource: pass resource='n_samples' or 'max_iter'")
        if isinstance(scheduler, MedianStop) and resources is not None and scheduler.warmup_steps >= resources[1]:
            raise ConfigError(
                f"median stopping never stops a trial before warmup_steps, so warmup_steps="
                f"{scheduler.warmup_steps} must be below max_resource={resources[1]}: lower warmup_steps "
                f"(e.g. to min_resource={resources[0]}) or raise max_resource"
            )
        return scheduler

    @staticmethod
    def _levels(scheduler: Scheduler, resources: tuple[int, int] | None) -> list[int | None]:
        """The resource levels at which each configuration is fitted (``[None]``: once, as given).

        A rung scheduler's rungs; for median stopping, which compares trials at whatever step they
        report, a geometric ladder (x3) from the first step where it may stop one (``warmup_steps``, or
        ``min_resource`` when that is later); the full resource last in both cases.
        """
        if resources is None:
            return [None]
        low, high = resources
        if isinstance(scheduler, MedianStop):
            rungs = rung_levels(max(low, scheduler.warmup_steps), high, _MEDIAN_LADDER)
        else:
            rungs = list(scheduler.rungs())
        ladder: list[int | None] = [*sorted({*(int(r) for r in rungs if r < high), high})]
        return ladder

    # The search ---------------------------------------------------------------------------------
    def _run_search(self, evaluate_candidates: Callable[..., dict[str, Any]]) -> None:
        budget = self._budget()
        space, translation = read_distributions(self.param_distributions)
        from joblib import effective_n_jobs  # type: ignore[import-untyped]

        base_cv = self._checked_cv_orig
        resources = self._resource_range(lambda: min(len(tr) for tr, _ in base_cv.split(*self._fit_data)))
        self.max_resource_ = None if resources is None else resources[1]
        scheduler = self._make_scheduler(resources)
        if isinstance(scheduler, MedianStop) and budget <= scheduler.min_trials:
            warnings.warn(
                f"median stopping stops a configuration only against at least min_trials={scheduler.min_trials} "
                f"others at the same level, so with n_iter={budget} it can stop none and every configuration is "
                f"fitted at every level: give n_iter > {scheduler.min_trials}, a lower min_trials "
                "(scheduler={'name': 'median', 'min_trials': 2}), or scheduler='asha'",
                EarlyStoppingWarning,
                stacklevel=2,
            )
        study = Study(
            space,
            metric=Metric("score", "max"),
            sampler=self.sampler,
            scheduler=scheduler,
            budget=Budget(trials=budget),
            storage=self.storage,
            name=self.study_name or f"search-{uuid.uuid4().hex[:8]}",
            seed=self._seed(),
        )
        batch = max(1, int(effective_n_jobs(self.n_jobs)))
        failures: list[str] = []
        evaluated = [0]
        score_key = self._score_key()

        def evaluate(trials: Sequence[Trial | TrialRecord], level: int | None) -> list[Score]:
            params = [translation.to_estimator(t.params) for t in trials]
            cv = None
            if level is not None and self.resource == "n_samples":
                cv = SubsampledSplits(base_cv, level, study.seed)
            elif level is not None:
                params = [{**p, str(self.resource): level} for p in params]
            more: dict[str, list[Any]] = {"trial": [t.number for t in trials]}
            if level is not None:
                more["resource"] = [level] * len(trials)
            try:
                results = evaluate_candidates(params, cv=cv, more_results=more)
            except ValueError as exc:
                if "fits failed" not in str(exc):
                    raise
                # scikit-learn refuses a call whose every fit failed; in a sequential search that is one
                # configuration's failure, not the search's: record it and go on
                failures.append(str(exc))
                warnings.warn(FitFailedWarning(str(exc)), stacklevel=2)
                return [Score(float("nan"), str(exc).strip(), every_fold=True)] * len(trials)
            evaluated[0] += 1
            scores = results[score_key][-len(trials) :]
            errors = self._fit_errors[-len(trials) :]
            return [Score.of(float(v), e) for v, e in zip(scores, errors, strict=True)]

        levels = self._levels(scheduler, resources)
        # A study resumed from storage (an earlier fit, or `tunesmith extend`) holds configurations this fit did
        # not evaluate: scikit-learn picks best_params_ from cv_results_ alone, so they are scored again on this
        # fit's data, trained fully, and take their rows there (a study whose budget is spent still has them).
        earlier = [r for r in study.trials if r.state is TrialState.COMPLETE and r.invalidated is None]
        if earlier:
            evaluate(earlier, levels[-1])
        while True:
            trials = self._ask(study, batch)
            if not trials:
                break
            try:
                self._run_batch(study, trials, levels, evaluate)
            except BaseException as exc:  # error_score="raise", a bug, Ctrl-C: record the batch, then re-raise
                record_unfinished(study, trials, exc)
                raise
        if failures and not evaluated[0]:
            raise ValueError(failures[-1])
        self.space_ = space
        self.trials_: list[TrialRecord] = study.trials
        self.study_name_ = study.name

    @staticmethod
    def _run_batch(
        study: Study,
        trials: Sequence[Trial],
        levels: list[int | None],
        evaluate: Callable[[Sequence[Trial | TrialRecord], int | None], list[Score]],
    ) -> None:
        """Evaluate one batch of trials rung by rung, telling each its end."""
        alive = list(trials)
        last: dict[int, float] = {}
        for level in levels:
            scores = evaluate(alive, level)
            still = []
            for trial, (score, error, every_fold) in zip(alive, scores, strict=True):
                last[trial.number] = score
                if error is not None and (every_fold or not np.isfinite(score)):
                    # its fits raised: FAILED as an exception, with scikit-learn's error, not as a NaN score
                    study.tell(trial, error=error, reason=failure_reason(error), kind=TrialKind.EXCEPTION)
                    continue
                if level is None or level == levels[-1]:
                    still.append(trial)
                    continue
                if not np.isfinite(score):
                    study.tell(trial, {"score": score})  # recorded FAILED
                    continue
                decision = study.report(trial.number, level, {"score": score})
                if decision is Decision.CONTINUE:
                    still.append(trial)
                else:
                    study.tell(trial)
            alive = still
            if not alive:
                break
        for trial in alive:
            if levels[-1] is not None and np.isfinite(last[trial.number]):
                study.report(trial.number, levels[-1], {"score": last[trial.number]})  # trained fully: its resource
            study.tell(trial, {"score": last[trial.number]})

    @staticmethod
    def _ask(study: Study, batch: int) -> list[Trial]:
        trials: list[Trial] = []
        for _ in range(batch):
            try:
                trials.append(study.ask())
            except (BudgetExhausted, SearchSpaceExhausted):
                break
        return trials

    def _score_key(self) -> str:
        if callable(self.scoring) or self.scoring is None or isinstance(self.scoring, str):
            return "mean_test_score"
        if isinstance(self.refit, str):
            return f"mean_test_{self.refit}"
        names = list(self.scoring) if isinstance(self.scoring, Mapping | list | tuple | set) else []
        if not names:
            raise ConfigError(f"cannot read the score of scoring={self.scoring!r}: name the scorers")
        return f"mean_test_{sorted(names)[0] if isinstance(self.scoring, set) else names[0]}"

    def fit(self, X: Any, y: Any = None, **params: Any) -> TunesmithSearchCV:
        """Run the search on ``X, y`` (as ``RandomizedSearchCV.fit``)."""
        self._fit_data = (X, y, params.get("groups"))
        self._fit_errors: list[tuple[str, bool] | None] = []
        try:
            super().fit(X, y, **params)
        finally:
            del self._fit_data, self._fit_errors
        return self

    def _format_results(
        self, candidate_params: Sequence[Any], n_splits: int, out: Sequence[Mapping[str, Any]], more_results: Any = None
    ) -> dict[str, Any]:
        """``cv_results_`` as scikit-learn builds it; keeps each candidate's fit errors, which scikit-learn only
        warns about, so that a configuration whose fits raised is recorded with its error."""
        self._fit_errors = [
            fit_errors([o.get("fit_error") for o in out[i * n_splits : (i + 1) * n_splits]])
            for i in range(len(candidate_params))
        ]
        return dict(super()._format_results(candidate_params, n_splits, out, more_results))

    def _select_best_index(self, refit: Any, refit_metric: str, results: Mapping[str, Any]) -> int:
        """The best row among fits at ``max_resource`` (a partial fit never beats a full one); when the scheduler
        stopped every configuration before it, the best at the furthest resource fitted, with a warning."""
        if callable(refit) or "resource" not in results or self.max_resource_ is None:
            return int(BaseSearchCV._select_best_index(refit, refit_metric, results))
        resource = np.asarray(results["resource"], dtype=float)
        level = float(self.max_resource_)
        if not np.any(resource == level):
            level = float(resource.max())
            warnings.warn(
                f"only fits at max_resource={self.max_resource_} should compete for best_params_, but the scheduler "
                f"stopped every configuration before it: none was fitted further than {self.resource}={level:g}, so "
                f"best_params_ is the best fit at {self.resource}={level:g}, a partial fit. Give a larger n_iter, so "
                "that a configuration reaches max_resource (Hyperband needs enough configurations in a bracket to "
                "promote one that far), or scheduler='asha', which trains its first configuration fully",
                EarlyStoppingWarning,
                stacklevel=3,
            )
        ranks = np.asarray(results[f"rank_test_{refit_metric}"], dtype=float)
        return int(np.argmin(np.where(resource == level, ranks, np.inf)))
