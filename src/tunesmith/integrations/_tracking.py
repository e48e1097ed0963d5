"""What the live-tracking observers (MLflow, Weights & Biases) share: logged values, the verdict, the best trial
(one objective only)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.attributes import VerdictAttr, read_attr
from tunesmith.errors import ConfigError
from tunesmith.objective import without_digests
from tunesmith.study._verdict_state import standing
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["is_better", "last_step", "logged_values", "report_file", "verdict_json"]


def logged_values(values: Mapping[str, Any]) -> dict[str, float]:
    """The numeric values of ``values`` as a tracker logs them: a non-finite one (a diverged loss) as NaN.

    Never left out: a diverged trial then kept its last finite value as its latest, and sorting the runs by the
    metric put it first. NaN rather than the infinity reported: MLflow stores an infinity as the largest float of
    its sign, which sorts first in one of the two directions (a loss gone to -inf, an accuracy to +inf), while it
    sorts NaN after every number in both; W&B's summary holds it as no value. A per-example metric's fingerprint
    (``digest:<m>``) is bookkeeping for the holdout check, not a metric: left out.
    """
    return {
        str(k): float(v) if math.isfinite(v) else math.nan
        for k, v in without_digests(values).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def last_step(record: TrialRecord) -> int:
    """The step a trial's final metrics are logged at: its last report, 0 without reports."""
    return max(record.intermediate, default=0)


def is_better(study: Study, record: TrialRecord, best: TrialRecord | None) -> bool:
    """Whether ``record`` is the study's new best among ``record`` and the best so far; never with several
    objectives, which have no single best (`Study.best` is refused; a tracker logs the Pareto front instead)."""
    if len(study.objectives) > 1:
        return False
    return study.best_of([r for r in (best, record) if r is not None]) is record


def verdict_json(study: Study) -> dict[str, Any]:
    """The study's ``verdict`` attribute as JSON, or a `ConfigError` that says how to get one."""
    verdict = read_attr(study.attrs, VerdictAttr)
    if verdict is None:
        raise ConfigError(
            f"study {study.name!r} has no verdict yet, got attributes {sorted(study.attrs)}: run "
            "ts.validate_top(study, objective) and ts.finalize(study, evaluate) first"
        )
    data: dict[str, Any] = json.loads(json.dumps(verdict.to_json()))
    data.update(standing(study.attrs, study.trials) or {})  # a stale verdict is logged as one, never as ready
    return data


def report_file(path: str | Path) -> Path:
    """An existing report file, or a `ConfigError` that says how to write one."""
    target = Path(path)
    if not target.is_file():
        raise ConfigError(
            f"the report must be an existing file, got path={str(path)!r}: write it first with "
            "tunesmith.report.write_report(study, path)"
        )
    return target
