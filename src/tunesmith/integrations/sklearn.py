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
distributions are read. ``forbidden`` lists combinations no fit may try (`tunesmith.Forbidden`:
``forbidden=[ts.Forbidden({"kernel": ["linear", "rbf"], "degree": ts.Above(1)})]``); a `Space` keeps its own.
It subclasses scikit-learn's ``BaseSearchCV`` and overrides only ``_run_search``, so ``cv_results_``,
``best_params_``, ``best_estimator_``, ``refit``, ``n_jobs`` and ``error_score`` behave as in ``RandomizedSearchCV``.

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

Each ``fit`` runs a new search, as scikit-learn's searches do (``cross_validate`` fits a clone on each outer
training fold): a ``study_name`` whose stored study already holds trials is refused unless ``resume=True``
continues it, on the data, splits and fit parameters it was scored on (another ``scoring``, other data, other splits
or another ``sample_weight`` are refused: the stored scores would be ranked beside this fit's as one ``score``). The
data are split once per fit, so every configuration and rung is scored on the same splits. The study keeps a
configuration's mean test score as ``score`` (the ``refit`` metric's, or the first metric's, for several) and its
score on each test fold as ``fold:<i>:score``, the key an objective reports folds under, so the discipline reads the
score's noise; only folds that test on rows of their own are kept (the first repeat of a repeated K-fold, none of
``ShuffleSplit``, see `_independent_folds`). The trial ``best_params_`` is (a ``refit`` callable's pick, which need
not be the study's best, the top mean score) is recorded as ``best_params_trial`` in the ``sklearn_scoring``
attribute, and ``tunesmith best`` and ``tunesmith status`` name it when it is not the best they show. A parameter
both tuned and the ``resource`` is refused, and so are ``HalvingRandomSearchCV``'s arguments (``factor``,
``min_resources``, ...), each with tunesmith's equivalent.

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

import math
import numbers
import pickle
import uuid
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV

from tunesmith import _trial_warnings as trial_warnings
from tunesmith._attribute_json import Fields, JsonObject
from tunesmith._caller import outside_stacklevel
from tunesmith._validate import integer
from tunesmith.attributes import read_attr, write_attr
from tunesmith.budget import Budget
from tunesmith.decision import Decision
from tunesmith.errors import BudgetExhausted, ConfigError, SearchConverged, SearchSpaceExhausted, StudyNotFound
from tunesmith.integrations._sklearn_fits import (
    Score,
    SubsampledSplits,
    check_some_worked,
    failure_reason,
    fit_errors,
    record_unfinished,
    resource_ladder,
)
from tunesmith.integrations._sklearn_space import BRANCH, Translation, read_distributions, record_translation
from tunesmith.objective import FOLD, Metric
from tunesmith.schedulers import FIFO, PBT, MedianStop, Scheduler, make_scheduler
from tunesmith.schedulers.successive_halving import rung_levels
from tunesmith.space import Forbidden, Space
from tunesmith.storage import Storage, open_storage
from tunesmith.study import Study
from tunesmith.study._optimize import record_warnings
from tunesmith.study._validation_set import record_validation_set
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState

__all__ = ["EarlyStoppingWarning", "TunesmithSearchCV"]


class EarlyStoppingWarning(UserWarning):
    """The search's early stopping does not work as set: it can stop no configuration (too few to compare), or
    it stopped every one before ``max_resource`` (so the best is a partial fit)."""


_DEFAULT_ITER = 10  # RandomizedSearchCV's n_iter, when neither n_iter nor n_trials is given
_RESOURCE_SCHEDULERS = {"asha", "hyperband", "successive_halving", "auto", "median"}
_MEDIAN_LADDER = 3  # median stopping has no rungs: configurations climb a ladder x3 (ASHA's eta) instead
_RUNG_SCHEDULERS = {"asha", "hyperband", "successive_halving", "auto"}  # take min_resource and max_resource
# HalvingRandomSearchCV's arguments, which TunesmithSearchCV does not take, with what does their work here
# ({value}: the value given).
_HALVING_ARGUMENTS = {
    "factor": "scheduler={{'name': 'asha', 'eta': {value!r}}} (eta is the factor: the top 1/eta go on at each rung)",
    "min_resources": "min_resource= (an int, with resource= and scheduler='asha'; it defaults to max_resource // 27)",
    "max_resources": "max_resource= (an int; for resource='n_samples' it defaults to the training fold size)",
    "n_candidates": "n_iter= (the number of configurations, each fitted first at min_resource)",
    "aggressive_elimination": (
        "no switch: ASHA stops configurations at every rung as they arrive; to stop more at each rung raise eta "
        "(scheduler={{'name': 'asha', 'eta': 4}}), for more rungs lower min_resource"
    ),
}


@dataclass(frozen=True, kw_only=True)
class _ScoringAttr(JsonObject):
    """``sklearn_scoring``: what the study's scores were measured with and on, so that a resumed search never
    mixes in other scores, and which configuration the search handed back.

    Attributes:
        scoring: the ``scoring`` (and ``refit``, for several metrics) whose mean test score is the study's ``score``:
            a label for the scorer (``"'accuracy'"``, ``"mymodule.my_scorer"``, ``"make_scorer(f1_score)"``).
        rows: the shape and a hash of ``X``, ``y`` (and ``groups``) the scores were measured on (`_rows_print`);
            ``None`` in studies stored before it was recorded.
        splits: a hash of the cross-validation splits they were measured on (`_splits_print`); ``None`` likewise.
        fit_params: the parameters ``fit`` was given besides ``X``, ``y`` and ``groups`` (``sample_weight``, ...),
            each with its shape and a hash (`_fit_params_print`), which weigh the fits and the scores; ``None`` in
            studies stored before it was recorded, which resume unchecked on them.
        best_params_trial: the trial whose configuration the last fit's ``best_params_`` is (the one ``refit``
            chose: with a ``refit`` callable, not necessarily the study's best, which is the top mean score);
            ``None`` when the fit chose none (``refit=False`` with several metrics).
        estimator: the estimator's class and a hash of its settings that no search sets (`_estimator_print`);
            ``None`` in studies stored before it was recorded, which resume unchecked on it.
    """

    KEY: ClassVar[str] = "sklearn_scoring"
    scoring: str
    rows: str | None = None
    splits: str | None = None
    fit_params: str | None = None
    best_params_trial: int | None = None
    estimator: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> _ScoringAttr:
        r = Fields(value, where or cls.KEY)
        return cls(scoring=r.text("scoring", required=True), rows=r.text("rows"), splits=r.text("splits"),
                   fit_params=r.text("fit_params"), best_params_trial=r.integer("best_params_trial"),
                   estimator=r.text("estimator"), **r.rest())  # fmt: skip


class _Evaluated(NamedTuple):
    """A configuration's score at one level and its score on each test fold (``()`` when its fits failed)."""

    score: Score
    folds: tuple[float, ...]


def _scorer_label(scorer: Any) -> str:
    """A label that tells one scorer from another across fits: a name or a string as written, a function or class
    by its import path, a scorer object (``make_scorer``) by its ``repr`` unless that holds a memory address."""
    if scorer is None:
        return "None (the estimator's score method)"
    if isinstance(scorer, str):
        return repr(scorer)
    if isinstance(scorer, Mapping):
        return "{" + ", ".join(f"{name!r}: {_scorer_label(s)}" for name, s in scorer.items()) + "}"
    if isinstance(scorer, list | tuple | set | frozenset):
        names = sorted(scorer) if isinstance(scorer, set | frozenset) else list(scorer)
        return "[" + ", ".join(_scorer_label(s) for s in names) + "]"
    name, module = getattr(scorer, "__qualname__", None), getattr(scorer, "__module__", None)
    if isinstance(name, str) and isinstance(module, str):
        return f"{module}.{name}"
    text = repr(scorer)
    return type(scorer).__qualname__ if " at 0x" in text else text


def _refuse_halving(arguments: Mapping[str, Any]) -> None:
    """Refuse ``HalvingRandomSearchCV``'s arguments among ``arguments``, each with what does its work here."""
    halving = [name for name in arguments if name in _HALVING_ARGUMENTS]
    if halving:
        given = ", ".join(f"{name}={arguments[name]!r}" for name in halving)
        fixes = "; ".join(
            f"instead of {name}=, {_HALVING_ARGUMENTS[name].format(value=arguments[name])}" for name in halving
        )
        raise ConfigError(
            f"TunesmithSearchCV takes RandomizedSearchCV's arguments, not HalvingRandomSearchCV's, got {given}: "
            f"successive halving here is scheduler='asha' with resource= ('n_samples' or an estimator parameter); "
            f"{fixes}"
        )


class _RefusesHalvingArguments:
    """Refuses ``HalvingRandomSearchCV``'s arguments as the search is built, where Python would say only "unexpected
    keyword argument".

    In ``__new__`` of a base class, not in ``__init__``: ``__init__``'s signature must list only the search's
    parameters (scikit-learn reads them from it, and its conformance checks call ``__init__`` with a value for each
    name there and refuse one that raises), and ``inspect.signature`` of the search still reads ``__init__``'s.
    Other unknown arguments get Python's own TypeError from ``__init__``.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        _refuse_halving(kwargs)
        return super().__new__(cls)


def _split_scores(results: Mapping[str, Any], mean_key: str, count: int) -> list[tuple[float, ...]]:
    """The test score on each fold (``split<i>_test_<metric>`` beside ``mean_key``) of the last ``count`` rows."""
    suffix = mean_key.removeprefix("mean")
    columns: list[np.ndarray] = []
    while (key := f"split{len(columns)}{suffix}") in results:
        columns.append(np.asarray(results[key], dtype=float)[-count:])
    return [tuple(float(column[row]) for column in columns) for row in range(count)]


def _independent_folds(splits: Sequence[tuple[Any, Any]]) -> int:
    """How many of the first ``splits`` test on rows no other of them tests on: the folds whose scores are
    independent, which the study keeps as ``fold:<i>:score``.

    Every split of a K-fold, a group K-fold or a time-series split; the first repeat of a repeated K-fold, whose next
    repeat tests the same rows again; one split of ``ShuffleSplit``, whose test sets overlap. Scores on splits that
    share test rows are not independent: kept as folds, their spread over the square root of their count
    understated the noise of the mean score (a 5-fold split repeated 10 times: 0.006 used against 0.020 actual).
    """
    seen: set[int] = set()
    for count, (_, test) in enumerate(splits):
        test = np.asarray(test)
        rows = set((np.flatnonzero(test) if test.dtype == bool else test).tolist())
        if not seen.isdisjoint(rows):
            return count
        seen |= rows
    return len(splits)


def _digest(value: Any) -> str:
    from joblib import hash as joblib_hash  # type: ignore[import-untyped]

    return str(joblib_hash(value))[:12]


# scikit-learn's scorers whose values are shares in [0, 1] (each name, and those it starts: f1_macro, roc_auc_ovr).
_SHARE_SCORERS = ("accuracy", "balanced_accuracy", "top_k_accuracy", "average_precision", "roc_auc", "f1",
                  "precision", "recall", "jaccard")  # fmt: skip


def _scores_accuracy(estimator: Any) -> bool:
    """Whether ``estimator.score`` is scikit-learn's accuracy: a classifier's that does not override it (a
    pipeline's is its last step's)."""
    from sklearn.base import ClassifierMixin

    steps = getattr(estimator, "steps", None)
    last = steps[-1][1] if isinstance(steps, list) and steps else estimator
    return is_classifier(last) and getattr(type(last), "score", None) is ClassifierMixin.score


# Settings that change how an estimator runs, not what it scores: a resumed search may change them.
_RUN_SETTINGS = frozenset({"n_jobs", "verbose", "memory", "pre_dispatch", "copy_X", "warm_start"})


def _estimator_print(estimator: Any, searched: Collection[str]) -> str:
    """The estimator's class and a hash of its settings that no search sets (``searched``: the tuned parameters and
    the resource, with what lies under each in a pipeline): the scores of another estimator, or of the same one
    with another fixed setting (``n_estimators``), are other scores. Settings that only change how it runs
    (`_RUN_SETTINGS`) are left out, and an object's memory address in its text."""
    import re

    def fixed(name: str) -> bool:
        return not any(name == s or name.startswith(f"{s}__") for s in searched) and (
            name.rsplit("__", 1)[-1] not in _RUN_SETTINGS
        )

    def text(value: Any) -> str:
        if hasattr(value, "get_params") and not isinstance(value, type):
            return type(value).__qualname__  # its own settings are listed beside it (deep=True)
        return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))

    settings = sorted((name, text(v)) for name, v in estimator.get_params(deep=True).items() if fixed(name))
    kind = type(estimator)
    return f"{kind.__qualname__} #{_digest(f'{kind.__module__}.{kind.__qualname__} {settings}')}"


def _rows_print(X: Any, y: Any, groups: Any) -> str:
    """The shape and a hash of each of ``X``, ``y`` and ``groups`` given: what a study's scores were measured on."""
    given = (("X", X), ("y", y), ("groups", groups))
    return ", ".join(f"{name} of shape {_shape(v)} #{_digest(v)}" for name, v in given if v is not None)


def _fit_params_print(params: Mapping[str, Any]) -> str:
    """Each parameter of ``fit`` besides ``X``, ``y`` and ``groups`` (which `_rows_print` covers), by name, with its
    shape and a hash: scikit-learn hands them to every fit (``sample_weight`` to the scorer too), so other values
    are other scores. A value that cannot be hashed (a closure as a callback) is told by its label instead."""
    given = [name for name in sorted(params) if name != "groups" and params[name] is not None]
    if not given:
        return "no fit parameters"
    return ", ".join(f"{name}{_described(params[name])}" for name in given)


def _described(value: Any) -> str:
    """`` of shape (150,) #<hash>`` for an array or a list, `` #<hash>`` for another value, `` <label>`` for one that
    cannot be pickled (`_scorer_label`)."""
    try:
        digest = f"#{_digest(value)}"
    except (pickle.PicklingError, TypeError, AttributeError):
        return f" {_scorer_label(value)}"
    sized = hasattr(value, "shape") or isinstance(value, list | tuple)
    return f" of shape {_shape(value)} {digest}" if sized else f" {digest}"


def _shape(value: Any) -> tuple[int, ...] | None:
    """``value.shape`` (an array, a DataFrame, a sparse matrix), else ``(len(value),)`` (a list); never converts
    ``value`` (scikit-learn's checks hand over containers that refuse conversion)."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return tuple(int(n) for n in shape)
    try:
        return (len(value),)
    except TypeError:
        return None


def _splits_print(splits: Sequence[tuple[Any, Any]]) -> str:
    """The number of ``splits`` and a hash of their training and test rows."""
    return f"{len(splits)} splits #{_digest([(np.asarray(train), np.asarray(test)) for train, test in splits])}"


def _fold_metrics(folds: Sequence[float]) -> dict[str, float]:
    """``{"fold:0:score": ..., ...}``, as an objective reports per-fold scores; none unless every fold scored."""
    if len(folds) < 2 or not all(np.isfinite(folds)):
        return {}
    return {f"{FOLD}{i}:score": float(v) for i, v in enumerate(folds)}


class TunesmithSearchCV(_RefusesHalvingArguments, BaseSearchCV):
    """Hyperparameter search with cross-validation, as a scikit-learn estimator (``RandomizedSearchCV``'s arguments).

    Args:
        estimator: the scikit-learn estimator (or pipeline) to tune.
        param_distributions: a dict whose names are the estimator's parameters (``"svc__C"`` in a
            pipeline) and whose values are scipy.stats distributions (``loguniform``, ``uniform``,
            ``randint``), lists of values or tunesmith parameters (``ts.Float(1e-3, 1e3, log=True)``);
            a list of such dicts (one is picked per configuration, as scikit-learn does); or a `Space`.
        n_iter: configurations to evaluate (the study's trial budget); 10, as in ``RandomizedSearchCV``, when
            neither it nor ``n_trials`` is given.
        scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score: as in
            ``RandomizedSearchCV``. ``n_jobs`` also sets how many configurations are evaluated at once.
        random_state: an int seeds the study (samplers and the ``n_samples`` subsampling).
        n_trials: tunesmith's name for ``n_iter`` (kept for existing code); give one of the two (both are refused
            unless they are equal or ``n_iter`` is at its default, 10).
        sampler: ``"auto"`` (default), a sampler name or a tunesmith `Sampler`.
        scheduler: ``None`` (every configuration at full resource), a name or a tunesmith `Scheduler`;
            a scheduler that pauses trials (promote mode) is refused: fits are not resumable.
        resource: ``"n_samples"`` or the name of an integer estimator parameter that sets the training
            length (``"max_iter"``, ``"n_estimators"``); needed by early-stopping schedulers.
        min_resource, max_resource: the resource range (``max_resource`` defaults to the training
            fold size for ``"n_samples"``).
        storage: where the study lives (``"memory"`` by default; a SQLite/PostgreSQL URL keeps it).
        study_name: the study's name (a fresh one per ``fit`` when omitted). Each ``fit`` runs a new search, as
            scikit-learn's searches do, so a stored study of that name that holds trials is refused unless
            ``resume`` is set.
        resume: continue a stored study of ``study_name`` (its configurations are scored again, then its budget's
            remaining trials run); refused when its ``scoring``, its data, its splits or the parameters given to
            ``fit`` (``sample_weight``) differ.
        forbidden: combinations of parameter values that no fit may try, a list of `tunesmith.Forbidden`; they go to
            the search's space beside a `Space`'s own clauses, are stored with the study, and name the space's
            parameters (the estimator's names; see `tunesmith.integrations._sklearn_space` for a list of dicts).
        until_converged: also end the search before ``n_iter`` once it converged: what is left to find is below the
            noise of a score, read from the folds' spread (``tunesmith.Budget``'s ``until_converged``).

    Raises:
        ConfigError: an argument of ``HalvingRandomSearchCV`` (``factor``, ``min_resources``, ``n_candidates``,
            ...), with tunesmith's equivalent; on ``fit``, ``n_iter`` and ``n_trials`` both given with different
            values.
        SpaceError: on ``fit``, ``forbidden`` not a list of `tunesmith.Forbidden`, or a clause naming a parameter
            the space lacks or a value it never takes.

    Attributes:
        space_: the `Space` that ``param_distributions`` was read into, with the ``forbidden`` clauses.
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
        n_iter: int = _DEFAULT_ITER,
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
        resume: bool = False,
        forbidden: Sequence[Forbidden] | None = (),
        until_converged: bool = False,
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
        self.resume = resume
        self.forbidden = forbidden
        self.until_converged = until_converged

    # Set-up -------------------------------------------------------------------------------------
    def _budget(self) -> int:
        """The trial budget: ``n_iter``, else ``n_trials`` (its other name), else ``RandomizedSearchCV``'s 10.

        ``n_iter`` keeps scikit-learn's default of 10 (its estimator checks refuse anything but a plain int), so an
        ``n_iter=10`` typed beside ``n_trials`` cannot be told from the default: ``n_trials`` is then the budget.

        Raises:
            ConfigError: ``n_iter`` or ``n_trials`` is not a positive integer, or both are given with different
                values.
        """
        n_iter = integer("n_iter", self.n_iter, minimum=1, numpy=True)
        n_trials = None if self.n_trials is None else integer("n_trials", self.n_trials, minimum=1, numpy=True)
        if n_trials is None:
            return n_iter
        if n_iter not in (_DEFAULT_ITER, n_trials):
            raise ConfigError(
                f"n_iter and n_trials both set the trial budget, so given together they must be equal, got "
                f"n_iter={self.n_iter!r} and n_trials={self.n_trials!r}: pass only n_iter (scikit-learn's name; "
                f"n_trials is tunesmith's older name for it), n_iter={n_iter} or n_iter={n_trials}"
            )
        return n_trials

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
        elif isinstance(spec, Mapping) and str(spec.get("name", "")).lower() in _RUNG_SCHEDULERS and resources:
            # a table such as {"name": "asha", "eta": 4} fits on the search's resource range unless it sets its own
            spec = {"min_resource": resources[0], "max_resource": resources[1], **spec}
        scheduler = make_scheduler(spec)
        if scheduler.pauses:
            raise ConfigError(
                f"scheduler {scheduler.name!r} pauses trials, but a scikit-learn fit cannot resume: use mode='stop'"
            )
        if isinstance(scheduler, PBT) or isinstance(getattr(scheduler, "chosen", None), PBT):  # PB2 is a PBT
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
            rungs, eta = rung_levels(max(low, scheduler.warmup_steps), high, _MEDIAN_LADDER), float(_MEDIAN_LADDER)
        else:
            rungs, eta = list(scheduler.rungs()), float(getattr(scheduler, "eta", _MEDIAN_LADDER))
        ladder: list[int | None] = [*resource_ladder(rungs, high, eta)]
        return ladder

    def _refuse_tuned_resource(self, space: Space, translation: Translation, resources: tuple[int, int]) -> None:
        """Refuse a resource parameter that ``param_distributions`` also tunes: each fit sets it to its level."""
        tuned = {translation.names.get(name, name) for name in space if name != BRANCH}
        if self.resource != "n_samples" and self.resource in tuned:
            raise ConfigError(
                f"a parameter is either tuned or the resource, but resource={self.resource!r} is also in "
                f"param_distributions: each fit sets {self.resource} to its level ({resources[0]} up to "
                f"max_resource={resources[1]}), so the sampled values would never be fitted, yet stored as the "
                f"trials' parameters. Drop {self.resource!r} from param_distributions (min_resource and "
                "max_resource set its range), or keep it tuned and use another resource (e.g. resource='n_samples')"
            )

    def _open_study(
        self, space: Space, scheduler: Scheduler, budget: int, *, rows: str, splits: str, fit_params: str,
        estimator: str,
    ) -> Study:  # fmt: skip
        """The study this fit tells its trials to: a new one, or with ``resume`` the stored ``study_name``.

        ``rows``, ``splits``, ``fit_params`` and ``estimator`` (`_rows_print`, `_splits_print`, `_fit_params_print`,
        `_estimator_print`) say what this fit scores on and with; they are recorded with the scoring.

        Raises:
            ConfigError: ``resume`` is not a bool; without ``resume``, ``study_name`` names a stored study that
                holds trials; a stored study whose scores are another ``scoring``'s, another estimator's (or the
                same one's with other fixed settings), or were measured on other data, other splits or with other
                fit parameters (``sample_weight``).
        """
        if not isinstance(self.resume, bool | np.bool_):
            raise ConfigError(f"resume must be True or False, got resume={self.resume!r}: pass resume=True or drop it")
        store = open_storage(self.storage)
        name = self.study_name or f"search-{uuid.uuid4().hex[:8]}"
        if isinstance(name, str) and not self.resume:  # another type: Study names the rule
            self._refuse_stored(store, name)
        study = Study(
            space,
            metric=self._metric(store, name),
            sampler=self.sampler,
            scheduler=scheduler,
            budget=Budget(trials=budget, until_converged=self.until_converged),
            storage=store,
            name=name,
            seed=self._seed(),
        )
        scoring = _scorer_label(self.scoring)
        if isinstance(self.refit, str) and self.scoring is not None and not isinstance(self.scoring, str):
            # several metrics: the refit metric's is stored
            scoring = f"{scoring} with refit={self.refit!r}"
        stored = read_attr(study.attrs, _ScoringAttr)
        if stored is not None and stored.scoring != scoring and study.trials:
            raise ConfigError(
                f"a study keeps the scores of one scoring, but study {study.name!r} holds the mean test scores of "
                f"scoring={stored.scoring} and this fit scores with scoring={scoring}: resumed, the two would be "
                "ranked as one 'score'. Pass the stored scoring to resume it, or a new study_name for this scoring"
            )
        if stored is not None and study.trials:
            self._refuse_other_estimator(study.name, stored, estimator)
            self._refuse_other_rows(study.name, stored, rows, splits, fit_params)
        given = (scoring, rows, splits, fit_params, estimator)
        if stored is None:
            write_attr(study, _ScoringAttr(scoring=scoring, rows=rows, splits=splits, fit_params=fit_params,
                                           estimator=estimator))  # fmt: skip
        elif (stored.scoring, stored.rows, stored.splits, stored.fit_params, stored.estimator) != given:
            write_attr(study, replace(stored, scoring=scoring, rows=rows, splits=splits, fit_params=fit_params,
                                      estimator=estimator))  # fmt: skip
        # What every fit scores on: another search on the same data, splits and scorer compared on the same set.
        record_validation_set(study, f"scikit-learn: {rows}; {splits}; {fit_params}", "data", scoring=scoring)
        record_translation(study, self.param_distributions)  # for the discipline: `estimator_params`
        return study

    def _metric(self, store: Storage, name: Any) -> Metric:
        """The study's metric, ``score``: with a scale of 1 when the scoring is a share in [0, 1] (accuracy, AUC,
        F1, precision, recall, average precision, Jaccard; a classifier's own ``score``, its accuracy), so the
        verdict reads its differences in points, as it reads a metric named so: a gap of 0.034 in accuracy read
        as +3.4% of the score, and a score near 0 asked for a scale no `TunesmithSearchCV` argument gives. A study
        stored before keeps the metric it was stored with (a resume with another would be refused)."""
        try:
            stored = store.load_study(name).spec.get("metric") if isinstance(name, str) else None
        except StudyNotFound:
            stored = None
        if isinstance(stored, Mapping):
            return Metric.from_json(stored)
        scoring = self.refit if isinstance(self.refit, str) and isinstance(self.scoring, list | tuple | dict) else (
            self.scoring)  # fmt: skip
        bounded = (_scores_accuracy(self.estimator) if scoring is None else
                   isinstance(scoring, str) and scoring.startswith(_SHARE_SCORERS))  # fmt: skip
        error = float(self.error_score) if isinstance(self.error_score, numbers.Real) else None  # "raise": no score
        within = error is None or math.isnan(error) or 0.0 <= error <= 1.0
        return Metric("score", "max", scale=1.0 if bounded and within else None)

    def _refuse_other_estimator(self, name: str, stored: _ScoringAttr, estimator: str) -> None:
        """Refuse to resume study ``name`` with another estimator, or the same with other fixed settings: its
        stored configurations keep the scores the other one earned, ranked beside this one's as one ``score``
        (a study tuned with LogisticRegression and resumed with SVC kept a LogisticRegression score as its best,
        which SVC did not reach on those parameters). A study stored before it was recorded cannot be checked."""
        if stored.estimator is None or stored.estimator == estimator:
            return
        before, now = stored.estimator.split(" #")[0], estimator.split(" #")[0]
        what = (f"another estimator's ({before}), and this fit's is {now}" if before != now else
                f"{before}'s with other settings than this fit's (a setting no search tunes: n_estimators, a "
                "pipeline's step, max_iter)")  # fmt: skip
        raise ConfigError(
            f"a resumed study keeps the scores of one estimator, but study {name!r} holds the scores of {what}: "
            "resumed, the stored configurations would keep the scores the other one earned beside this fit's, "
            "ranked as one 'score'. Resume it with the estimator it was scored with, or pass a new study_name; to "
            "compare estimators in one search, tune the step itself (param_distributions={'clf': [...]})"
        )

    def _refuse_other_rows(self, name: str, stored: _ScoringAttr, rows: str, splits: str, fit_params: str) -> None:
        """Refuse to resume study ``name`` when its scores were measured on other data, other splits or with other
        fit parameters (``sample_weight``) than this fit's: the stored configurations keep their old scores, so the
        study would rank old and new scores as one ``score`` (and its best would not be this fit's ``best_params_``,
        which scikit-learn picks from scores on this fit's data). A study stored before the data were recorded
        (``stored.rows is None``) cannot be checked, nor the fit parameters of one stored before they were
        (``stored.fit_params is None``)."""
        other_params = stored.fit_params is not None and stored.fit_params != fit_params
        if stored.rows is None or ((stored.rows, stored.splits) == (rows, splits) and not other_params):
            return
        if stored.rows != rows:
            what = f"measured on {stored.rows}, and this fit's data are {rows}"
            fix = (
                "Search this data in a new study: pass a new study_name (or drop study_name and resume); resume=True "
                "continues a study only on the data it was scored on"
            )
        elif stored.splits != splits:
            what = (
                f"measured on other cross-validation splits of the same rows ({stored.splits}) than this fit's "
                f"cv={self.cv!r} makes ({splits}); a cv that shuffles without a fixed random_state splits "
                "differently on each fit"
            )
            fix = "To resume it, give the cv the splits it had (a fixed random_state), or pass a new study_name"
        else:
            what = (
                f"fitted with {stored.fit_params}, and this fit passes {fit_params}: fit parameters reach every "
                "fit (sample_weight weighs the rows there, and in the scores of a scorer that takes it)"
            )
            fix = (
                "To resume it, pass fit the parameters it was scored with (the same sample_weight), or pass a new "
                "study_name"
            )
        raise ConfigError(
            f"a resumed study keeps the scores of one dataset, one set of splits and one set of fit parameters, but "
            f"study {name!r} holds scores "
            f"{what}: resumed, the stored configurations would keep their earlier scores beside this fit's, ranked as "
            f"one 'score' (and the study's best would not be best_params_). {fix}"
        )

    @staticmethod
    def _refuse_stored(store: Storage, name: str) -> None:
        """Refuse study ``name`` when ``store`` holds trials of it: a fit that resumed it would run no new search."""
        try:
            info = store.load_study(name)
        except StudyNotFound:
            return
        held = len(store.get_trials(info.id))
        if held:
            raise ConfigError(
                f"each fit runs a new search, as RandomizedSearchCV's does, but study {name!r} in "
                f"{store.url or type(store).__name__} already holds {held} trial{'s' if held != 1 else ''} of an "
                "earlier fit or run: resumed, configurations chosen on its rows (under cross_validate, rows that "
                "include this fit's test rows) would stand in for this fit's search. Give each fit a new study_name, "
                "or drop study_name (each fit stores a study of its own, named in study_name_) or storage (an "
                "in-memory study per fit); to continue the stored study on this fit's data, pass resume=True"
            )

    # The search ---------------------------------------------------------------------------------
    def _run_search(self, evaluate_candidates: Callable[..., dict[str, Any]]) -> None:
        budget = self._budget()
        space, translation = read_distributions(self.param_distributions, self.forbidden)
        if not space.dimensions and budget > 1:
            # One configuration (every parameter given one value): fitting it n_iter times would fit it again and
            # again, where RandomizedSearchCV fits it once; a search never fits one configuration twice.
            warnings.warn(
                f"The total space of parameters 1 is smaller than n_iter={budget}. Running 1 iterations: every "
                "parameter has one value, so there is one configuration to fit",
                UserWarning,
                stacklevel=outside_stacklevel(),
            )
            budget = 1
        from joblib import effective_n_jobs

        # Split once, as scikit-learn's searches do: every configuration and every rung is scored on the same
        # folds. evaluate_candidates splits its cv again on each call, so a cv that shuffles without a random_state
        # gave each batch other folds, and their stored fold:<i>:score were no longer the same folds.
        split_list = list(self._checked_cv_orig.split(*self._fit_data))
        splits = check_cv(split_list)
        independent = _independent_folds(split_list)
        resources = self._resource_range(lambda: min(len(train) for train, _ in split_list))
        if resources is not None:
            self._refuse_tuned_resource(space, translation, resources)
        self.max_resource_ = None if resources is None else resources[1]
        scheduler = self._make_scheduler(resources)
        if isinstance(scheduler, MedianStop) and budget <= scheduler.min_trials:
            warnings.warn(
                f"median stopping stops a configuration only against at least min_trials={scheduler.min_trials} "
                f"others at the same level, so with n_iter={budget} it can stop none and every configuration is "
                f"fitted at every level: give n_iter > {scheduler.min_trials}, a lower min_trials "
                "(scheduler={'name': 'median', 'min_trials': 2}), or scheduler='asha'",
                EarlyStoppingWarning,
                stacklevel=outside_stacklevel(),
            )
        levels = self._levels(scheduler, resources)
        stratify = self.resource == "n_samples" and is_classifier(self.estimator)
        if stratify and levels[0] is not None:  # before any trial: a first rung too small for every class
            SubsampledSplits(splits, levels[0], 0, stratify=True).check(*self._fit_data)
        searched = {translation.names.get(name, name) for name in space if name != BRANCH}
        searched |= {self.resource} if isinstance(self.resource, str) else set()
        study = self._open_study(
            space,
            scheduler,
            budget,
            rows=_rows_print(*self._fit_data),
            splits=_splits_print(split_list),
            fit_params=_fit_params_print(self._fit_params),
            estimator=_estimator_print(self.estimator, searched),
        )
        batch = max(1, int(effective_n_jobs(self.n_jobs)))
        trial_warnings.forget_shown()  # each kind of the fits' warnings is shown once in the search
        failures: list[str] = []
        evaluated = [0]

        def evaluate(trials: Sequence[Trial | TrialRecord], level: int | None) -> list[_Evaluated]:
            params = [translation.to_estimator(t.params) for t in trials]
            cv: Any = splits
            if level is not None and self.resource == "n_samples":
                cv = SubsampledSplits(splits, level, study.seed, stratify=stratify)
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
                warnings.warn(FitFailedWarning(str(exc)), stacklevel=outside_stacklevel())
                return [_Evaluated(Score(float("nan"), str(exc).strip(), every_fold=True), ())] * len(trials)
            evaluated[0] += 1
            count = len(trials)
            key = self._score_key(results)
            # only the folds that test on rows of their own are kept (see _independent_folds); the score is the
            # mean over every split, as in cv_results_
            scores = results[key][-count:]
            folds = [row[:independent] for row in _split_scores(results, key, count)]
            errors = self._fit_errors[-count:]
            return [_Evaluated(Score.of(float(v), e), f) for v, e, f in zip(scores, errors, folds, strict=True)]

        # A study resumed from storage (resume=True: an earlier fit, or `tunesmith extend`) holds configurations this
        # fit did not evaluate: scikit-learn picks best_params_ from cv_results_ alone, so they are scored again,
        # trained fully, and take their rows there (a study whose budget is spent still has them). _open_study
        # refused a study scored on other data or splits, so these scores are the stored ones again.
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
        check_some_worked(study.trials)
        self.space_ = space
        self.trials_: list[TrialRecord] = study.trials
        self.study_name_ = study.name
        # for fit, which records the trial best_params_ is; set only now: with n_jobs, scikit-learn pickles the
        # search into its workers, and a Study cannot be pickled
        self._study: Study | None = study

    @staticmethod
    def _run_batch(
        study: Study,
        trials: Sequence[Trial],
        levels: list[int | None],
        evaluate: Callable[[Sequence[Trial | TrialRecord], int | None], list[_Evaluated]],
    ) -> None:
        """Evaluate one batch of trials rung by rung, telling each its end (with its score on each test fold)."""
        alive = list(trials)
        last: dict[int, _Evaluated] = {}
        for level in levels:
            # The fits' warnings, each kind shown once in the search; kept on the trial when the batch is one trial
            # (n_jobs=1: scikit-learn fits in this thread), since a batch's cannot be told apart.
            with trial_warnings.caught() as caught:
                results = evaluate(alive, level)
            if caught and len(alive) == 1:
                record_warnings(study, alive[0].number, [w.to_json() for w in caught.warnings])
            still = []
            for trial, result in zip(alive, results, strict=True):
                score, error, every_fold = result.score
                last[trial.number] = result
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
            score = last[trial.number].score.score
            if levels[-1] is not None and np.isfinite(score):
                study.report(trial.number, levels[-1], {"score": score})  # trained fully: its resource
            # the folds as an objective reports them (fold:<i>:score), so the discipline reads the score's noise
            study.tell(trial, {"score": score, **_fold_metrics(last[trial.number].folds)})

    @staticmethod
    def _ask(study: Study, batch: int) -> list[Trial]:
        trials: list[Trial] = []
        for _ in range(batch):
            try:
                trials.append(study.ask())
            except (BudgetExhausted, SearchSpaceExhausted, SearchConverged):
                break
        return trials

    def _score_key(self, results: Mapping[str, Any]) -> str:
        """The ``cv_results_`` column of the mean test score told as ``score``: the refit metric's, else the one
        metric's, else (``refit=False``) the first metric's (for a scoring callable, the first key it returns)."""
        if isinstance(self.refit, str) and f"mean_test_{self.refit}" in results:
            return f"mean_test_{self.refit}"
        if "mean_test_score" in results:
            return "mean_test_score"
        if isinstance(self.scoring, Mapping | list | tuple | set):
            names = sorted(self.scoring) if isinstance(self.scoring, set) else list(self.scoring)
        else:
            names = [key.removeprefix("mean_test_") for key in results if key.startswith("mean_test_")]
        if not names:
            raise ConfigError(f"cannot read the score of scoring={self.scoring!r}: name the scorers")
        return f"mean_test_{names[0]}"

    def fit(self, X: Any, y: Any = None, **params: Any) -> TunesmithSearchCV:
        """Run the search on ``X, y`` (as ``RandomizedSearchCV.fit``)."""
        self._fit_data = (X, y, params.get("groups"))
        self._fit_params = params  # fingerprinted with the data: they weigh every fit (sample_weight)
        self._fit_errors: list[tuple[str, bool] | None] = []
        self._study = None
        try:
            super().fit(X, y, **params)
            self._record_best_params_trial()
        finally:
            del self._fit_data, self._fit_params, self._fit_errors, self._study
        return self

    def seed_objective(self, X: Any, y: Any = None, **params: Any) -> Callable[[Trial], dict[str, float]]:
        """An objective for the discipline's seed re-runs (`ts.validate_top`, `ts.evaluate_baseline`) of this
        search's study: it fits the estimator with the trial's parameters and every ``random_state`` (a pipeline's
        steps' too) set to the trial's seed, at the full resource, on this search's splits of ``X, y``, and returns
        its scorer's mean test score with each independent fold's (``fold:<i>:score``), as the search stored them.

        The search fits the estimator as given, its own ``random_state`` included, so its scores say nothing of
        the seed; a study made by a search needs an objective that reads the seed to be judged across seeds, and
        the search's scores are on its splits, so the re-runs must be too.

        Args:
            X, y: the data the search was fitted on.
            **params: what ``fit`` was given beside them (``groups``, ``sample_weight``).

        Raises:
            ConfigError: before ``fit``; with several scorers and no ``refit`` naming one; data, splits or fit
                parameters other than the search's (a ``cv`` that shuffles without a fixed ``random_state`` splits
                differently on each call), since re-runs scored on them would not compare with its scores.
        """
        from sklearn.base import clone
        from sklearn.model_selection import cross_validate

        if not hasattr(self, "study_name_"):
            raise ConfigError("seed_objective needs a fitted search: call fit(X, y) first")
        scorer = self.scorer_
        if isinstance(scorer, Mapping):
            if not isinstance(self.refit, str) or self.refit not in scorer:
                raise ConfigError(f"the search scored with several scorers ({', '.join(scorer)}) and refit names "
                                  "none of them: the study's score is one scorer's; refit with refit='<scorer>'")
            scorer = scorer[self.refit]
        groups = params.get("groups")
        splits = list(check_cv(self.cv, y, classifier=is_classifier(self.estimator)).split(X, y, groups))
        stored = read_attr(Study.load(self.study_name_, storage=self.storage).attrs, _ScoringAttr)
        given = (_rows_print(X, y, groups), _splits_print(splits), _fit_params_print(params))
        if stored is not None and stored.rows is not None and (
            (stored.rows, stored.splits) != given[:2] or stored.fit_params not in (None, given[2])
        ):
            raise ConfigError(
                f"the search scored study {self.study_name_!r} on {stored.rows}, {stored.splits} with "
                f"{stored.fit_params}, and seed_objective was given {given[0]}, {given[1]} with {given[2]}: re-runs "
                "on other data, splits or fit parameters would not compare with its scores. Pass the X, y and fit "
                "parameters the search was fitted with; a cv that shuffles needs a fixed random_state"
            )
        independent = _independent_folds(splits)
        fit_params = {name: value for name, value in params.items() if name != "groups"}
        full = {} if self.resource in (None, "n_samples") else {self.resource: self.max_resource_}

        def objective(trial: Trial) -> dict[str, float]:
            estimator = clone(self.estimator).set_params(**{**trial.params, **full})
            estimator.set_params(**{name: trial.seed for name in estimator.get_params()
                                    if name == "random_state" or name.endswith("__random_state")})  # fmt: skip
            scores = cross_validate(estimator, X, y, cv=splits, scoring=scorer, params=fit_params or None,
                                    error_score="raise")["test_score"]
            return {"score": float(np.mean(scores)), **_fold_metrics([float(v) for v in scores[:independent]])}

        return objective

    def _record_best_params_trial(self) -> None:
        """Record in the study which trial ``best_params_`` is (``best_params_trial`` of ``sklearn_scoring``).

        The study's best is its top mean score; ``best_params_`` is what ``refit`` chose, another trial when
        ``refit`` is a callable (scikit-learn's one-standard-error rule), so storage says which one the search
        handed back."""
        study = self._study
        if study is None:
            return
        chosen = None
        if self.refit or not self.multimetric_:  # scikit-learn sets best_index_ then
            chosen = int(self.cv_results_["trial"][self.best_index_])
        stored = read_attr(study.attrs, _ScoringAttr)
        if stored is not None and stored.best_params_trial != chosen:
            write_attr(study, replace(stored, best_params_trial=chosen))

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
        stopped every configuration before it, the best at the furthest resource fitted, with a warning. A ``refit``
        callable (scikit-learn's one-standard-error rule) chooses among those rows alone: it is handed
        ``cv_results_`` cut to them, ranked among themselves, and its index is mapped back (before, it read every
        row and could hand back a configuration cut short, as ``best_estimator_``)."""
        if "resource" not in results or self.max_resource_ is None:
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
                stacklevel=outside_stacklevel(),
            )
        rows = np.flatnonzero(resource == level)
        if callable(refit):
            chosen = refit(_rows_of(results, rows))
            if not isinstance(chosen, numbers.Integral):
                return chosen  # scikit-learn refuses it: "best_index_ returned is not an integer"
            if not 0 <= int(chosen) < len(rows):
                raise IndexError(
                    f"best_index_ index out of range: the refit callable was given the {len(rows)} rows of "
                    f"cv_results_ fitted at {self.resource}={level:g} (the ones that compete for best_params_) and "
                    f"returned {chosen}: return an index into the results it is given"
                )
            return int(rows[int(chosen)])
        ranks = np.asarray(results[f"rank_test_{refit_metric}"], dtype=float)
        return int(np.argmin(np.where(resource == level, ranks, np.inf)))


def _rows_of(results: Mapping[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """``results`` (``cv_results_``) cut to ``rows``, each ``rank_test_*`` ranked again among them as scikit-learn
    ranks (the best mean first, ties at the lowest rank, a NaN mean last)."""
    from scipy.stats import rankdata

    cut: dict[str, Any] = {}
    for key, value in results.items():
        cut[key] = value[rows] if isinstance(value, np.ndarray) else [value[int(i)] for i in rows]
    for key in results:
        if not key.startswith("rank_test_") or f"mean_test_{key[len('rank_test_') :]}" not in cut:
            continue
        means = np.asarray(cut[f"mean_test_{key[len('rank_test_') :]}"], dtype=float)
        if np.isnan(means).all():
            ranks = np.ones(len(means))
        else:
            ranks = rankdata(-np.nan_to_num(means, nan=np.nanmin(means) - 1), method="min")
        cut[key] = ranks.astype(np.int32)
    return cut
