"""What `Trial.report` accepts: a step and values it can record, in an order that never rewrites what was judged.

A report records a step of the learning curve the scheduler and the budget read, and is answered with a
decision. Steps only go forward: an earlier step (or the same one again) would rewrite a value a rung or a
median already judged, and a resumed trial that counts from 1 again would be paused at the same rung for ever.
A trial told to stop or pause reports nothing more: its record ends where the study stopped it, so its resource,
the budget and its reason agree. A refused report raises `ReportRefused` in the objective; the study records the
trial FAILED (kind EXCEPTION) with the traceback and stops the run, since the objective would break the rule
again in every trial.
"""

from __future__ import annotations

import math
import numbers

from tunesmith._numbers import detached
from tunesmith._text import excerpt
from tunesmith.decision import Decision
from tunesmith.errors import TunesmithError

__all__ = [
    "MAX_STEP",
    "ReportRefused",
    "StopFlag",
    "after_stop",
    "out_of_order",
    "report_step",
    "report_value",
    "twice_in_a_step",
]

MAX_STEP = 2**53  # the largest step a float, and every storage backend, holds exactly


class ReportRefused(TunesmithError, RuntimeError):
    """A report broke the report rules: a step at or below the trial's last one (or the step it resumed from),
    or a report after the study told the trial to stop or pause. Nothing was recorded."""


class StopFlag:
    """`Trial.should_stop`: true when the study told the trial to stop or pause, whether called or read."""

    __slots__ = ("_stop",)

    def __init__(self, stop: bool) -> None:
        self._stop = stop

    def __call__(self) -> bool:
        return self._stop

    def __bool__(self) -> bool:
        return self._stop

    def __repr__(self) -> str:
        return f"StopFlag({self._stop})"


def report_step(step: object) -> int:
    """``step`` as a whole number of resource units >= 1: an integer, or a number with nothing after the point.

    A fractional step would be cut to an integer and its report would overwrite the one before (two reports at
    1.0 and 1.5 land on step 1), so it is refused, as are bools and strings.
    """
    whole: int | None = None
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        whole = int(step)
    elif not isinstance(step, bool | str | bytes):
        try:
            number = float(step)  # type: ignore[arg-type]  # a NumPy or torch scalar as well
        except (TypeError, ValueError):
            number = math.nan
        whole = int(number) if math.isfinite(number) and number.is_integer() else None
    if whole is None or not 1 <= whole <= MAX_STEP:
        raise TunesmithError(
            f"report step must be a whole number of resource units done (epochs, batches) from 1 to 2**53, got "
            f"step={step!r}: count in the finest unit you report at (evaluated every half epoch: step=2 * epoch), "
            "or leave step out to count reports"
        )
    return whole


def report_value(name: str, value: object) -> float:
    """A reported metric as a float: a number (NaN and infinities included: they signal divergence), a NumPy or
    torch scalar among them, never a bool or a string."""
    if not isinstance(value, bool | str | bytes):
        try:
            return float(detached(value))
        except (TypeError, ValueError):
            pass
    raise TunesmithError(
        f"report() takes numbers, got {name}={excerpt(repr(value))} ({type(value).__name__}): pass the metric's value "
        f"as a number, e.g. trial.report({name}=float(...))"
    )


def out_of_order(number: int, step: int, last: int, start_step: int, again: set[str] | None = None) -> str | None:
    """Why trial ``number`` may not report ``step`` after reporting up to ``last`` (``start_step`` when it has
    reported nothing since it resumed): steps must increase. ``None`` when ``step`` comes after ``last``, or is
    ``last`` again with none of the metrics reported there (``again``: those it repeats), which join them."""
    if step > last or (step == last and last > start_step and not again):
        return None
    if last == start_step > 0:
        return (
            f"trial {number} resumed from step {start_step} and reported step {step}: report steps must come after "
            f"the step a trial resumes from, or they rewrite the curve the scheduler judged (and a trial paused at "
            f"a rung would be paused there again for ever). A resumed trial continues from trial.step: report steps "
            f"after it (for epoch in trial.steps(n), or range(trial.step, n)), and restore its state with "
            "trial.load_checkpoint() when trial.resumed"
        )
    repeated = f"the same step again with {sorted(again)}" if step == last and again else "an earlier step"
    return (
        f"trial {number} reported step {step} after step {last}: report steps must increase (each is the resource "
        f"units done so far), and {repeated} would rewrite a value the scheduler already judged. Report each step "
        f"once, with all its metrics in one call (trial.report(step, loss=..., accuracy=...)), counting on from "
        f"trial.step (now {last}), or leave step out to count reports"
    )


def twice_in_a_step(number: int, step: int, again: set[str]) -> str:
    """Why trial ``number`` may not report ``again`` (metrics it reported at ``step`` already) a second time in one
    iteration of its `Trial.steps` loop, with no step given: there a report's step is the steps done."""
    return (
        f"trial {number} reported {sorted(again)} twice at step {step}: inside for epoch in trial.steps(n), "
        "trial.report() without a step reports at the steps done (epoch + 1), so a second report of a metric in "
        "one epoch would rewrite a value the scheduler already judged. Report once per epoch, or pass the step "
        "your resource counts in (trial.report(step=batches_done, loss=...), with steps(n) counted in those units "
        "too)"
    )


def after_stop(number: int, decision: Decision, at: int, step: int) -> str:
    """Why trial ``number``, told ``decision`` (STOP or PAUSE) at step ``at``, may not report ``step``."""
    told = "stop" if decision is Decision.STOP else "pause"
    return (
        f"trial {number} was told to {told} at step {at} and reported step {step}: a trial reports nothing after "
        f"the study stopped or paused it (its record ends at step {at}, which the budget and the scheduler "
        "counted). Check trial.should_stop() after each report and end the training (return, or break), or let "
        "for epoch in trial.steps(n) or an integration callback do it"
    )
