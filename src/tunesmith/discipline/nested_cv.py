"""Nested cross-validation for scikit-learn estimators: an unbiased estimate of a tuned model's score.

An outer K-fold loop holds out each fold in turn; a full tuning run (`TunesmithSearchCV`, with
its own inner cross-validation) sees only the outer training folds, and its refitted winner
is scored once on the held-out fold. The mean of the outer scores estimates how the whole
procedure -- tuning included -- generalises; the inner best scores show how optimistic the
tuning's own estimate is.
"""

from __future__ import annotations

import math
import numbers
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith.attributes import NestedFoldAttr, read_attr
from tunesmith.errors import ConfigError
from tunesmith.space import Param, Space
from tunesmith.storage import Storage, open_storage
from tunesmith.storage.base import name_forms

__all__ = ["NestedCVResult", "nested_cv"]

_DEFAULT_TRIALS = 20  # configurations per tuning run when neither n_trials nor n_iter is given


@dataclass(frozen=True)
class NestedCVResult:
    """What `nested_cv` found.

    Attributes:
        outer_scores: the tuned model's score on each outer test fold (the unbiased estimate).
        inner_best_scores: each tuning run's best cross-validated score (optimistic by selection).
        best_params: each outer fold's chosen configuration.
        study_names: the name of each outer fold's study in the storage (``"<study_name>-outer<k>"``).
        maximize: whether higher scores are better (scikit-learn's scores are; a loss tuned by
            `nested_cv_objective` is not).
        metric: the metric's name, where one was given (`nested_cv_objective`).
    """

    outer_scores: tuple[float, ...]
    inner_best_scores: tuple[float, ...]
    best_params: tuple[dict[str, Any], ...]
    study_names: tuple[str, ...] = ()
    maximize: bool = True
    metric: str | None = None

    @property
    def mean(self) -> float:
        return float(np.mean(self.outer_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.outer_scores, ddof=1)) if len(self.outer_scores) > 1 else 0.0

    @property
    def stderr(self) -> float | None:
        """The standard error of `mean` over the outer folds (``None`` with one fold). The folds' models share
        training rows, so their scores are not independent and this understates the noise somewhat (no unbiased
        estimate exists: Bengio and Grandvalet, 2004)."""
        return self.std / math.sqrt(len(self.outer_scores)) if len(self.outer_scores) > 1 else None

    @property
    def optimism(self) -> float:
        """How much the mean inner best score flatters the mean outer score: inner less outer when higher is
        better (as scikit-learn's scores), outer less inner for a loss; positive is optimistic."""
        flattery = float(np.mean(self.inner_best_scores)) - self.mean
        return flattery if self.maximize else -flattery

    def _flattery(self) -> np.ndarray:
        """Each fold's inner best less its outer score, signed so that positive flatters."""
        differences = np.subtract(self.inner_best_scores, self.outer_scores)
        return differences if self.maximize else -differences

    @property
    def optimism_stderr(self) -> float | None:
        """The standard error of `optimism`, from the folds' paired differences (inner best less outer score);
        ``None`` with one fold."""
        if len(self.outer_scores) < 2:
            return None
        differences = self._flattery()
        return float(np.std(differences, ddof=1) / np.sqrt(len(differences)))

    @property
    def optimistic(self) -> bool | None:
        """Whether the inner scores flatter beyond the folds' noise: a one-sided t-test of the folds' paired
        differences at 5% (k - 1 degrees of freedom for k folds); ``None`` with one fold or no spread."""
        error = self.optimism_stderr
        if error is None or error == 0.0:
            return None if error is None or self.optimism <= 0.0 else True
        from scipy.stats import t

        return bool(self.optimism > float(t.ppf(0.95, len(self.outer_scores) - 1)) * error)

    def summary(self) -> str:
        error = self.optimism_stderr
        if error is None:
            sure = "one fold: its noise is unknown"
        elif self.optimistic:
            sure = f"+- {error:.4f}, a standard error over the folds; beyond their noise (one-sided t-test, 5%)"
        else:
            sure = (f"+- {error:.4f}, a standard error over the folds: within the noise (one-sided t-test, 5%), "
                    "so the folds cannot tell whether the inner scores flatter; more outer folds would")  # fmt: skip
        of = "" if self.metric is None else f" of {self.metric}"
        spread = ("" if self.stderr is None else
                  f" +- {self.stderr:.4f} (a standard error over the folds, a little small since their models share "
                  f"training rows; the fold scores' sd is {self.std:.4f})")  # fmt: skip
        flatters = "flatters it by" if self.optimism >= 0 else "falls short of it by"
        return (
            f"nested CV{of} over {len(self.outer_scores)} outer folds: {self.mean:.4f}{spread}; the inner tuning "
            f"reported {np.mean(self.inner_best_scores):.4f}: it {flatters} {abs(self.optimism):.4f} {sure}"
        )


def nested_cv(
    estimator: Any,
    space: Space | Mapping[str, Param],
    X: Any,
    y: Any = None,
    *,
    outer: Any = 5,
    inner: Any = 3,
    n_trials: int | None = None,
    scoring: Any = None,
    random_state: int | None = 0,
    n_jobs: int | None = None,
    groups: Any = None,
    **search_options: Any,
) -> NestedCVResult:
    """Estimate a tuned estimator's score with nested cross-validation.

    Args:
        estimator: the scikit-learn estimator to tune.
        space: its search space.
        X, y: the data.
        outer: outer folds (an int or a scikit-learn splitter; stratified for classifiers).
        inner: inner folds for each tuning run (as ``cv`` of `TunesmithSearchCV`).
        n_trials: configurations each tuning run evaluates (default 20; ``n_iter=``, scikit-learn's name, is
            accepted instead).
        scoring: one scikit-learn scorer (default: the estimator's ``score``); several metrics (a dict or a list)
            are refused, since each fold's winner is scored on one.
        random_state: seeds every tuning run (each outer fold gets its own derived seed).
        n_jobs: parallel fits inside each tuning run.
        groups: the group of each row (a patient, a subject) when rows of one group are related. Given, it
            reaches the outer splitter's ``split`` and, sliced to each outer training part, the inner search's
            ``fit``; a fold count (``outer`` or ``inner`` as an int) then makes group folds
            (``StratifiedGroupKFold`` for classifiers, ``GroupKFold`` otherwise), so no group is on both sides
            of a split. A splitter object must split by groups (``GroupKFold``, ``LeaveOneGroupOut``, ...):
            one that splits rows (``KFold``) is refused beside ``groups``, and a group splitter needs it.
        **search_options: passed to `TunesmithSearchCV` (``sampler``, ``scheduler``, ``resource``, ``storage``,
            ...). Each outer fold tunes in a study of its own, ``"<study_name>-outer<k>"`` for fold k (from 1), or
            ``"nested-cv-<8 random hex digits>-outer<k>"`` without ``study_name``: one study shared by the folds
            would let a later fold resume an earlier one, whose configurations were chosen on rows that include
            the later fold's test rows. ``refit`` is refused: each search refits its winner, which the outer
            fold scores.

    Raises:
        ConfigError: ``refit`` among ``search_options``, a multi-metric ``scoring``, a group splitter without
            ``groups``, a splitter of rows beside ``groups``, ``groups``
            without one label per row of ``X``, a ``study_name`` that is not a non-empty string, or a fold's
            study name that ``storage`` already holds (a fold is never resumed); raised before any fit.
    """
    from sklearn.base import is_classifier
    from sklearn.metrics import check_scoring
    from sklearn.model_selection import check_cv

    from tunesmith.integrations.sklearn import TunesmithSearchCV

    _refuse_own_settings(scoring, search_options)
    if n_trials is None and "n_iter" not in search_options:
        n_trials = _DEFAULT_TRIALS
    classifier = is_classifier(estimator)
    splitter = check_cv(_group_folds(outer, y, classifier, groups), y, classifier=classifier)
    inner = _group_folds(inner, y, classifier, groups)
    _check_groups(X, groups, outer=splitter, inner=inner)
    study_names = _fold_study_names(
        search_options.pop("study_name", None),
        search_options.get("storage", "memory"),  # TunesmithSearchCV's default
        splitter.get_n_splits(X, y, groups),
    )
    outer_scores, inner_scores, chosen = [], [], []
    for fold, (train, test) in enumerate(splitter.split(X, y, groups)):
        seed = None if random_state is None else int(np.random.SeedSequence([random_state, fold]).generate_state(1)[0])
        search = TunesmithSearchCV(
            estimator,
            space,
            n_trials=n_trials,
            scoring=scoring,
            cv=inner,
            random_state=seed,
            n_jobs=n_jobs,
            refit=True,
            study_name=study_names[fold],
            **search_options,
        )
        fit_params = {} if groups is None else {"groups": _rows(groups, train)}
        search.fit(_rows(X, train), None if y is None else _rows(y, train), **fit_params)
        scorer = check_scoring(search.best_estimator_, scoring)
        outer_scores.append(
            float(scorer(search.best_estimator_, _rows(X, test), None if y is None else _rows(y, test)))
        )
        inner_scores.append(float(search.best_score_))
        chosen.append(dict(search.best_params_))
        fold_attr = NestedFoldAttr(fold=fold + 1, folds=len(study_names), outer_score=outer_scores[-1],
                                   inner_best=inner_scores[-1], train_rows=len(train), test_rows=len(test),
                                   at=time.time())  # fmt: skip
        record_fold(search_options.get("storage", "memory"), study_names[fold], fold_attr)
    return NestedCVResult(tuple(outer_scores), tuple(inner_scores), tuple(chosen), tuple(study_names))


def record_fold(storage: str | Storage | None, name: str, fold: NestedFoldAttr) -> None:
    """Store ``fold`` (how the fold's winner scored on its test rows) with the fold's study ``name``, so that the
    storage, not only the returned result, holds the nested estimate; a study in a ``"memory"`` storage named by
    URL is gone with its search, and keeps nothing."""
    if storage == "memory":
        return
    from dataclasses import replace

    from tunesmith.integrations.sklearn import _ScoringAttr

    store = open_storage(storage)
    try:
        info = store.load_study(name)
        if fold.trial is None and (scoring := read_attr(info.attrs, _ScoringAttr)) is not None:
            fold = replace(fold, trial=scoring.best_params_trial)  # the trial best_params_ is
        store.set_study_attr(info.id, NestedFoldAttr.KEY, fold.to_json())
    finally:
        if store is not storage:
            store.close()


def _refuse_own_settings(scoring: Any, search_options: Mapping[str, Any]) -> None:
    """Refuse, before any fit, what nested_cv sets itself: ``refit`` (each search refits its winner for the outer
    fold to score) and the one metric that winner is chosen and scored on (a multi-metric ``scoring``)."""
    refit = search_options.get("refit")
    if isinstance(scoring, Mapping | list | tuple | set | frozenset):
        names = list(scoring) if isinstance(scoring, Mapping) else [str(s) for s in scoring]
        first = refit if isinstance(refit, str) and refit in names else (names[0] if names else "accuracy")
        single = scoring[first] if isinstance(scoring, Mapping) and first in scoring else first
        also = "" if "refit" not in search_options else " and drop refit (nested_cv refits each winner itself)"
        raise ConfigError(
            f"nested_cv chooses and scores each fold's winner on one metric, got a multi-metric scoring={scoring!r}: "
            f"pass a single scorer, e.g. scoring={single!r}{also}; run nested_cv once per metric to estimate several"
        )
    if "refit" in search_options:
        raise ConfigError(
            "nested_cv refits each outer fold's winner itself (refit=True), and that fold's test rows then score it, "
            f"got refit={refit!r}: drop refit (to choose the winner on another metric, pass it as scoring=)"
        )


def _fold_study_names(study_name: Any, storage: str | Storage | None, folds: int) -> list[str]:
    """A study name for each outer fold, none of which ``storage`` holds yet.

    A stored fold study is refused rather than resumed or replaced: it was tuned on the outer training rows of an
    earlier call, which may not be this call's (other data, other splits), and its spent budget would run no
    trial; a fresh study under another name would leave the given name pointing at the old results.

    Raises:
        ConfigError: ``study_name`` is not a non-empty string, or ``storage`` holds a fold's name.
    """
    if study_name is None:
        prefix = f"nested-cv-{uuid.uuid4().hex[:8]}"
    elif isinstance(study_name, str) and study_name.strip():
        prefix = study_name
    else:
        raise ConfigError(
            f"study_name must be a non-empty string, got {study_name!r}: pass e.g. study_name='svc-nested' (fold k "
            "tunes in the study 'svc-nested-outer<k>'), or drop it for generated names"
        )
    names = [f"{prefix}-outer{fold}" for fold in range(1, folds + 1)]
    store = open_storage(storage)
    try:
        stored = {info.name for info in store.list_studies()}
        where = store.url or type(store).__name__
    finally:
        if store is not storage:  # opened here; a Storage object given stays open for the searches
            store.close()
    taken = [name for name in names if any(form in stored for form in name_forms(name))]
    if taken:
        raise ConfigError(_taken_text(taken, names, where))
    return names


def _taken_text(taken: Sequence[str], names: Sequence[str], where: str) -> str:
    shown = ", ".join(repr(name) for name in taken)
    return (
        f"nested_cv tunes each outer fold in a new study, but {where} already holds {shown} (of the fold studies "
        f"{names[0]!r} to {names[-1]!r}): a stored fold was tuned on an earlier call's training rows, which nested_cv "
        "cannot tell are this call's, so it is neither resumed nor replaced; pass a new study_name or another "
        "storage, or drop study_name for generated names (ts.Study.load(name, storage=...) reads the stored ones)"
    )


def _group_folds(cv: Any, y: Any, classifier: bool, groups: Any) -> Any:
    """``cv`` unchanged, except that a fold count with ``groups`` given becomes group folds: scikit-learn reads
    an int as (Stratified)KFold, which ignores groups and would put rows of one group on both sides."""
    if groups is None or isinstance(cv, bool) or not isinstance(cv, numbers.Integral):
        return cv
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold
    from sklearn.utils.multiclass import type_of_target

    if classifier and y is not None and type_of_target(y) in ("binary", "multiclass"):
        return StratifiedGroupKFold(int(cv))
    return GroupKFold(int(cv))


def _splits_by_groups(cv: Any) -> bool:
    """Whether ``cv`` is a splitter whose ``split`` needs groups (scikit-learn's group splitters request them)."""
    if not hasattr(cv, "split"):
        return False
    from sklearn.utils.metadata_routing import get_routing_for_object

    return bool(get_routing_for_object(cv).consumes("split", ["groups"]))


def _check_groups(X: Any, groups: Any, *, outer: Any, inner: Any) -> None:
    """Refuse, before any fit, a group splitter without groups and groups without one label per row."""
    if groups is None:
        given = [f"{name}={cv!r}" for name, cv in (("outer", outer), ("inner", inner)) if _splits_by_groups(cv)]
        if given:
            raise ConfigError(
                f"a splitter that splits by groups needs groups, got {' and '.join(given)} with groups=None: "
                "pass groups= (the group of each row, e.g. the patient id)"
            )
        return
    # A splitter object that splits rows would put one group on both sides of a split however groups are given.
    ignoring = [f"{name}={cv!r}" for name, cv in (("outer", outer), ("inner", inner))
                if hasattr(cv, "split") and not _splits_by_groups(cv)]  # fmt: skip
    if ignoring:
        raise ConfigError(
            f"groups were given, but {' and '.join(ignoring)} splits rows, not groups, so rows of one group would "
            "sit on both sides of its splits: pass a group splitter (GroupKFold, StratifiedGroupKFold, "
            "LeaveOneGroupOut) or a fold count, which becomes group folds"
        )
    rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if len(groups) != rows:
        raise ConfigError(
            f"groups must hold one label per row of X, got {len(groups)} labels for {rows} rows: "
            "pass the group of each row of X, in the order of X"
        )


def _rows(data: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array, a DataFrame or a list."""
    if hasattr(data, "iloc"):
        return data.iloc[index]
    if hasattr(data, "shape"):
        return data[index]
    return [data[i] for i in index]
