"""What the live-tracking observers (MLflow, TensorBoard, Weights & Biases) share: logged values, the verdict, the best
trial (one objective only), and what a study's run says of the run's outcome (`result_text`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.attributes import VerdictAttr, read_attr
from tunesmith.errors import ConfigError
from tunesmith.objective import without_digests
from tunesmith.study._verdict_state import standing
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study, StudyResult

__all__ = [
    "BestText",
    "checked_best_text",
    "front_text",
    "is_better",
    "last_step",
    "logged_values",
    "report_file",
    "result_text",
    "verdict_json",
]

BestText = Callable[["Study"], str]
"""What a tracker's callback takes as ``best_text``: the study's best as every view says it, read when ``optimize``
ends; `tunesmith.report.export.best_text` is the one the exports write. This layer cannot judge it itself (the seed
re-runs' pick, the trials the best cannot be told from, a scheduler's few trained fully: the report layer's)."""



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


def checked_best_text(best_text: Any, call: str) -> BestText | None:
    """``best_text`` when it is ``None`` or callable, else a `ConfigError` whose fix is ``call`` (the callback's own
    call, with ``best_text=`` in it)."""
    if best_text is not None and not callable(best_text):
        raise ConfigError(
            f"best_text must be a function of the study that returns text, got {type(best_text).__name__} "
            f"{best_text!r:.60}: pass {call}, or leave it out"
        )
    return best_text


def front_text(front: Sequence[TrialRecord], chosen: int | None, why: str | None = None) -> str:
    """What a study run says of a Pareto front (several objectives), live and exported alike: ``Pareto front: #0, #3
    (several objectives have no single best)``, then the trial `Study.choose` recorded, when one stands, and ``why``
    it was chosen, when known."""
    named = ", ".join(f"#{r.number}" for r in front) or "none yet"
    said = f"Pareto front: {named} (several objectives have no single best)"
    if chosen is None:
        return said
    return f"{said}\n\nchosen trial: #{chosen}" + ("" if why is None else f" ({why})")


def result_text(result: StudyResult, best: str | None, call: str) -> str:
    """Why the run stopped and how many trials it ran, then ``best``, the callback's ``best_text`` of the study; without
    it, the front and the chosen trial (several objectives), or the search's best with what it leaves unjudged and the
    callback's ``call`` that would say it."""
    lines = [f"stopped: {result.stop_reason}", f"trials run: {result.trials_run}"]
    if best is not None:
        lines.append(best)
    elif result.front is not None:  # several objectives: the front, never a best
        lines.append(front_text(result.front, None if result.chosen is None else result.chosen.number))
    elif result.best is not None:
        lines.append(
            f"best trial: #{result.best.number}, the search's best on its own seed; what `tunesmith best` says of it "
            "(the seed re-runs' pick, the trials it cannot be told from within noise, a scheduler's few trained "
            f"fully) is not judged here: pass {call} to write it"
        )
    return "\n\n".join(lines)
