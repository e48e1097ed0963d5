"""The fits behind `TunesmithSearchCV`: subsampled training folds, a configuration's score with the errors of its
fits, and recording the trials of a batch an error cut short."""

from __future__ import annotations

import contextlib
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from tunesmith.study import Study
from tunesmith.trial import Trial, TrialKind, TrialState

__all__ = ["Score", "SubsampledSplits", "failure_reason", "fit_errors", "record_unfinished"]


class SubsampledSplits:
    """A CV splitter that keeps the outer splits but trains on ``n_samples`` of each training fold."""

    def __init__(self, base: Any, n_samples: int, seed: int) -> None:
        self.base = base
        self.n_samples = n_samples
        self.seed = seed

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        return int(self.base.get_n_splits(X, y, groups))

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng(self.seed)
        for train, test in self.base.split(X, y, groups):
            keep = min(len(train), self.n_samples)
            yield np.sort(rng.choice(train, size=keep, replace=False)), test


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
