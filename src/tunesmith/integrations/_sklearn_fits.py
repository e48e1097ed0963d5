"""The fits behind `TunesmithSearchCV`: the resource levels, subsampled training folds, a configuration's score with
the errors of its fits, recording the trials of a batch an error cut short, and refusing a search none of whose
configurations worked."""

from __future__ import annotations

import contextlib
import math
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from sklearn.utils.multiclass import type_of_target

from tunesmith._text import bounded_error
from tunesmith.errors import ConfigError
from tunesmith.study import ObjectiveError, Study
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState

__all__ = [
    "Score", "SubsampledSplits", "check_some_worked", "failure_reason", "fit_errors", "record_unfinished",
    "resource_ladder",
]  # fmt: skip


def resource_ladder(rungs: Iterable[float], max_resource: int, eta: float) -> list[int]:
    """The resource levels a configuration is fitted at: the scheduler's rungs below ``max_resource`` that are worth
    a fit of their own, then ``max_resource``.

    Each level is a fresh fit (a scikit-learn fit cannot resume), so a rung ``r`` below the full resource pays only
    when fitting every configuration that reaches it at ``r`` and the ``1/eta`` that go on at ``max_resource``
    costs less than fitting them all at ``max_resource``: ``r + max_resource / eta < max_resource``. A rung at or
    past ``max_resource * (1 - 1/eta)`` is left out, so its survivors are fitted once, at the full resource: ASHA's
    rungs from ``max_resource // 27`` (1188 of 1198 rows) fitted every survivor at 99% and then 100% of the data.

    A fractional rung (Hyperband's ``1198 / 27 = 44.37``) is fitted at the integer above it: a fit at 44 reported
    at step 44 crossed no rung, so Hyperband judged its first rung only after every configuration's fit at 133.

    Args:
        rungs: the scheduler's rungs (any order; ``max_resource`` and levels above it are ignored).
        max_resource: the full resource, always the last level.
        eta: the scheduler's halving rate: the top ``1/eta`` of a rung go on.

    Returns:
        The levels, increasing, as integers; ``[max_resource]`` when no rung pays.
    """
    worth = max_resource * (1 - 1 / eta)
    return sorted({*(math.ceil(r - 1e-9) for r in rungs if r < worth), int(max_resource)})


class SubsampledSplits:
    """A CV splitter that keeps the outer splits but trains on ``n_samples`` of each training fold.

    With ``stratify`` (a classifier's search) and a binary or multiclass ``y`` (the targets scikit-learn's
    ``check_cv`` stratifies folds for), the subsample holds one row of each class of the fold and shares the rest out
    as the fold does: a random subsample of a few dozen rows can miss a class, and a probability scorer
    (``neg_log_loss``) then scores every configuration NaN. A fold with more classes than ``n_samples`` is refused
    (`check`): no subsample of it holds every class.
    """

    def __init__(self, base: Any, n_samples: int, seed: int, *, stratify: bool = False) -> None:
        self.base = base
        self.n_samples = n_samples
        self.seed = seed
        self.stratify = stratify

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return int(self.base.get_n_splits(X, y, groups))

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        by_class = self._by_class(y)
        for fold, (train, test) in enumerate(self.base.split(X, y, groups)):
            keep = min(len(train), self.n_samples)
            if not by_class or keep == len(train):
                yield np.sort(rng.choice(train, size=keep, replace=False)), test
                continue
            inverse, counts = self._classes(y, train, fold)
            quota = _class_quota(counts, keep)
            picked = [rng.choice(train[inverse == c], size=q, replace=False) for c, q in enumerate(quota)]
            yield np.sort(np.concatenate(picked)), test

    def check(self, X: Any, y: Any = None, groups: Any = None) -> None:
        """Refuse, before any fit, a stratified subsample too small to hold every class of each training fold.

        Raises:
            ConfigError: a training fold has more classes than ``n_samples``.
        """
        if not self._by_class(y):
            return
        for fold, (train, _) in enumerate(self.base.split(X, y, groups)):
            if self.n_samples < len(train):
                self._classes(y, train, fold)

    def _by_class(self, y: Any) -> bool:
        return self.stratify and y is not None and type_of_target(y) in ("binary", "multiclass")

    def _classes(self, y: Any, train: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """Each training row's class (an index) and the rows of each class, refused when ``n_samples`` rows cannot
        hold one of each."""
        _, inverse, counts = np.unique(np.asarray(y)[train], return_inverse=True, return_counts=True)
        if self.n_samples < len(counts):
            raise ConfigError(
                "resource='n_samples' fits a classifier on a stratified subsample of each training fold, which must "
                "hold at least one row of each class (a class left out makes a probability scorer such as "
                f"neg_log_loss score NaN in every configuration), but the rung at n_samples={self.n_samples} gets "
                f"{self.n_samples} of the {len(train)} rows of training fold {fold}, which hold {len(counts)} "
                f"classes: give min_resource >= {len(counts)} (a few rows of each class, min_resource="
                f"{3 * len(counts)}, give the first rung's scores less noise)"
            )
        return inverse.reshape(-1), counts


def _class_quota(counts: np.ndarray, keep: int) -> np.ndarray:
    """How many rows of each class a stratified subsample of ``keep`` rows takes (``len(counts) <= keep <=
    counts.sum()``): one of each, the rest in proportion to the rows each class has left, by largest remainder."""
    spare = counts - 1
    share = spare * (keep - len(counts)) / max(int(spare.sum()), 1)
    quota = np.floor(share).astype(int)
    short = keep - len(counts) - int(quota.sum())
    quota[np.argsort(quota - share, kind="stable")[:short]] += 1
    return quota + 1


class Score(NamedTuple):
    """A configuration's score at one level, with the error of its fits that raised (``None``: none did)."""

    score: float
    error: str | None
    every_fold: bool = False

    @classmethod
    def of(cls, score: float, errors: tuple[str, bool] | None) -> Score:
        return cls(score, None) if errors is None else cls(score, *errors)


def fit_errors(errors: Sequence[str | None]) -> tuple[str, bool] | None:
    """The text of a candidate's failed fits (as scikit-learn's `FitFailedWarning` words it), and whether
    every fold failed; ``None`` when every fit succeeded."""
    failed = [e for e in errors if e is not None]
    if not failed:
        return None
    delimiter = "-" * 80 + "\n"
    details = "\n".join(
        f"{delimiter}{n} fits failed with the following error:\n{e}" for e, n in Counter(failed).items()
    )
    return f"{len(failed)} of the {len(errors)} fits failed.\n{details}".strip(), len(failed) == len(errors)


def failure_reason(error: str) -> str:
    """``"exception: ValueError"`` from a traceback's last line (scikit-learn keeps fit errors as text)."""
    name = error.strip().splitlines()[-1].split(":", 1)[0].strip() if error.strip() else ""
    return f"exception: {name.rsplit('.', 1)[-1]}" if name.replace(".", "").isidentifier() else "exception"


def record_unfinished(study: Study, trials: Sequence[Trial], exc: BaseException) -> None:
    """Tell the trials of a batch that ``exc`` cut short FAILED, with its traceback (interrupted on Ctrl-C),
    so that none stays RUNNING in storage as if a worker still ran it."""
    interrupted = isinstance(exc, KeyboardInterrupt)
    error = "".join(traceback.format_exception(exc))
    for trial in trials:
        with contextlib.suppress(Exception):
            if study.storage.get_trial(study.info.id, trial.number).state is TrialState.RUNNING:
                study.tell(
                    trial,
                    error=error,
                    reason="interrupted" if interrupted else f"exception: {type(exc).__name__}",
                    kind=TrialKind.INTERRUPTED if interrupted else TrialKind.EXCEPTION,
                )


def check_some_worked(records: Sequence[TrialRecord]) -> None:
    """Refuse a search none of whose configurations has a score: scikit-learn would pick ``best_params_`` among NaN
    rows, an arbitrary failure, and report ``best_score_`` NaN without a word.

    A configuration stopped early worked (it had a score at a rung). Only a search whose every configuration scored
    NaN with no fit raising is refused: a scorer that failed, as ``neg_log_loss`` does on a fold whose training rows
    miss a class; fits that raised go as scikit-learn's own searches treat them (a warning, unless every fit raised).

    Raises:
        ObjectiveError: every trial in ``records`` failed; ``error`` holds the last one's error (``None`` for a
            NaN score).
    """
    if not records or any(r.state is not TrialState.FAILED or r.error is not None for r in records):
        return  # fits that raised are scikit-learn's to warn of (it raises only when every fit raised)
    reasons = Counter(r.reason or (r.kind.value if r.kind is not None else "failed") for r in records)
    tally = ", ".join(f"{n} {reason!r}" for reason, n in reasons.most_common())
    last = max(records, key=lambda r: r.number)
    cause = (
        "A NaN score from fits that raised nothing is a scorer that failed (scikit-learn's 'Scoring failed' warning "
        "says why: a probability scorer such as neg_log_loss on a fold whose training rows miss a class, say). "
        if all(r.error is None for r in records)
        else ""
    )
    raise ObjectiveError(
        f"every configuration of the search failed: none of its {len(records)} trials has a score ({tally}), so "
        f"best_params_ would be an arbitrary failure and best_score_ NaN. {cause}Pass error_score='raise' to raise "
        "the first failure with its traceback, fix its cause and fit again."
        + (f"\nThe last error:\n{bounded_error(last.error)}" if last.error else ""),
        last.error,
    )
