"""How long a new trial needs to train to the end, and whether the wall time or compute left gives it that: the rule
by which a time budget starts no trial it would cut (`tunesmith.study._limits.spent_beyond_trials` applies it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from tunesmith._progress import format_seconds
from tunesmith.budget import compute_time, devices_held, seconds_of
from tunesmith.errors import BudgetLimit
from tunesmith.schedulers import PBT, Scheduler
from tunesmith.trial import TrialRecord, TrialState

__all__ = [
    "FINISH_CHANCE",
    "MIN_TIMED",
    "Running",
    "Training",
    "finish_chance",
    "full_trainings",
    "running_need",
    "seconds_text",
    "too_late_to_finish",
]

# A wall-time or compute budget starts no new trial that would train to the end in what is left less often than this,
# judged from how long the trials that did took (`too_late_to_finish`).
FINISH_CHANCE = 0.05
# ... and judges from this many trials trained to the end on: fewer may all be the slow ones (`too_late_to_finish`).
MIN_TIMED = 7


def too_late_to_finish(
    name: BudgetLimit, limit: float, elapsed: float, took: Sequence[float], running: Running | None = None
) -> str | None:
    """Why a wall-time budget starts no new trial, in words, or ``None``: the time left would train one to the end
    less often than `FINISH_CHANCE`, judged from how long the trials that trained to the end ``took``
    (`full_trainings`), by the predictive t distribution of one more such time on the log scale (their spread
    counted, and how few they are).
    A compute budget (``name``: "compute") likewise, on the device-seconds each spent, out of what is left once the
    trials still ``running`` have spent what they are expected to (`running_need`): unlike wall time, which trials
    running side by side share, every device-second one of them spends is gone for the new one. Without that, 8
    workers with 4.5 trainings' worth left started 8, and the budget cut every one of them halfway.

    Only a trial trained to the end can be the best; one started in the last minutes was cut by the budget at its
    next report (its work lost) or, reporting nothing, ran past the budget to its end. A new trial faster than every
    one so far may still fit, so nothing is refused while the time left is above the fastest, nor on fewer than
    `MIN_TIMED` full trainings. Times that fall in two groups (a model ten times faster for a share ``p`` of the
    configurations) break the log-normal model: when all ``n`` trainings seen came from the slow group and the new
    one is fast, a refusal is wrong, ``(1 - p)**n * p`` of the time, at most about ``1 / (e * (n + 1))``, under 5%
    from 7 on. ``python -m benchmarks.wall_time_rule`` measures it (docs/benchmarks.md): from 7 trainings on, at most
    4.7% of runs refused a trial that would have finished (1.5% on log-normal and log-uniform times); with the gate
    left out, 11.7% on 2 trainings with 1 configuration in 5 ten times faster."""
    kept = 0.0 if running is None else running.seconds
    left = limit - elapsed - kept
    if len(took) < MIN_TIMED or left >= min(took):
        return None
    chance = finish_chance(took, left) if left > 0.0 else 0.0
    if chance >= FINISH_CHANCE:
        return None
    fastest, slowest = seconds_text(min(took)), seconds_text(max(took))
    span = fastest if fastest == slowest else f"{fastest} to {slowest}"
    odds = f"{chance:.1%}" if chance >= 0.001 else "under 0.1%"
    compute = name == "compute"
    spent = seconds_of(elapsed, limit) + (" of trial time x devices" if compute else "")
    which = "compute" if compute else "wall-time"
    beside = ""
    if running is not None and running.numbers:
        spent += f"; {running.text()}"
        beside = " beside them"
    return (
        f"{which} budget spent for new trials ({spent}): the {seconds_text(max(left, 0.0))} left{beside} would not "
        "train one to the end: "
        f"the {len(took)} trials that did {'spent' if compute else 'took'} {span} each, and one more like them "
        f"finishes in {seconds_text(max(left, 0.0))} {odds} of the time (under {FINISH_CHANCE:.0%}); raise the "
        f"{which} budget to go on (tunesmith extend --{which})"
    )


def seconds_text(seconds: float) -> str:
    """A duration as `format_seconds` gives it, with tenths under 10 seconds ("0.4s", not "0s")."""
    return f"{seconds:.1f}s" if seconds < 10 else format_seconds(seconds)


class Training(NamedTuple):
    """A trial that trained to the end (`full_trainings`): its number, the seconds it took from its start and the
    devices it held (`devices_held`: the compute it spent is their product, as `compute_time` counts it)."""

    number: int
    seconds: float
    devices: float


def full_trainings(history: Sequence[TrialRecord], scheduler: Scheduler) -> list[Training]:
    """The trials of ``history`` that trained to the end from their start (a trial that waited paused is left out):
    under a scheduler with a `FinishLine`, those COMPLETE at their line's end; under FIFO and median stopping, every
    COMPLETE trial started from scratch (one stopped early cannot be the best, so a new trial needs its whole
    training). None where trials pause for a promotion or continue others (PBT): what a new trial needs is not one
    whole training there."""
    chosen = getattr(scheduler, "chosen", scheduler)  # what `AutoScheduler` delegates to
    if scheduler.pauses or isinstance(chosen, PBT):
        return []
    line = scheduler.finish_line(1 + max((r.number for r in history), default=-1))
    trained = []
    for record in history:
        if record.state is not TrialState.COMPLETE or record.attrs.get("start_step", 0) or record.paused:
            continue
        if line is not None:
            mark = scheduler.finish_line(record.number)
            if mark is None or record.resource < mark.end - 1e-9:
                continue
        if record.started_at is None or record.finished_at is None or record.finished_at <= record.started_at:
            continue
        trained.append(Training(record.number, record.finished_at - record.started_at, devices_held(record)))
    return trained


def finish_chance(took: Sequence[float], left: float) -> float:
    """The chance that one more trial, timed as ``took`` were (log-normal, its mean and spread unknown), takes at
    most ``left`` seconds: the predictive t distribution with ``len(took) - 1`` degrees of freedom."""
    from scipy import stats

    n = len(took)
    mean, spread = _log_fit(took)
    if spread == 0.0:
        return 1.0 if left >= took[0] else 0.0
    return float(stats.t.cdf((math.log(left) - mean) / (spread * math.sqrt(1.0 + 1.0 / n)), df=n - 1))


def _log_fit(times: Sequence[float]) -> tuple[float, float]:
    """The mean and the sample standard deviation of the logs of ``times`` (at least two): the log-normal the rule
    reads training times with."""
    logs = [math.log(t) for t in times]
    mean = sum(logs) / len(logs)
    return mean, math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))


@dataclass(frozen=True)
class Running:
    """What the trials still running are expected to spend of a compute budget before they end (`running_need`):
    ``seconds`` device-seconds in all, by trials ``numbers``."""

    seconds: float
    numbers: tuple[int, ...]

    def text(self) -> str:
        """The reservation in words, for the refusal's sentence."""
        count = len(self.numbers)
        which = f"trial {self.numbers[0]}" if count == 1 else f"the {count} trials"
        return f"about {seconds_text(self.seconds)} more expected of {which} still running"


def running_need(history: Sequence[TrialRecord], trained: Sequence[Training], now: float) -> Running:
    """The device-seconds the RUNNING trials of ``history`` are expected to spend before they end, given the trials
    ``trained`` to the end (`full_trainings`, at least two): each, having spent ``e`` so far, trains to the end with
    the share of the finished trials that got as far as it has (by resource, started from scratch: under FIFO all
    of them, under ASHA about one in ``eta`` per rung to go, from the history, not the scheduler's design), and
    then spends ``E[C - e | C > e]`` more, ``C`` log-normal as the trained ones' device-seconds were (mean and spread
    of their logs). What a trial spends before a scheduler stops it is left out, and so is the spread of the sum:
    this is the expected reservation, not a bound."""
    from scipy.stats import norm  # imported on first use: keeps `import tunesmith` light

    mean, spread = _log_fit([each.seconds * each.devices for each in trained])
    full = {each.number for each in trained}
    ended = [r for r in history if r.state in (TrialState.COMPLETE, TrialState.STOPPED)
             and not r.attrs.get("start_step", 0) and not r.paused]  # fmt: skip
    total, numbers = 0.0, []
    for record in history:
        if record.state is not TrialState.RUNNING or record.started_at is None:
            continue
        spent = compute_time([record], now)
        if spent <= 0.0:
            rest = math.exp(mean + spread * spread / 2.0)
        elif spread == 0.0:
            rest = max(0.0, math.exp(mean) - spent)
        else:
            at = (math.log(spent) - mean) / spread
            # E[C | C > e] = exp(mean + spread^2 / 2) * P(Z > at - spread) / P(Z > at), in logs against underflow.
            above = mean + spread * spread / 2.0 + norm.logsf(at - spread) - norm.logsf(at)
            rest = max(0.0, math.exp(above) - spent)
        as_far = [r for r in ended if r.resource >= record.resource - 1e-9]
        share = 1.0 if not as_far else sum(1 for r in as_far if r.number in full) / len(as_far)
        if share * rest > 0.0:
            total += share * rest
            numbers.append(record.number)
    return Running(total, tuple(numbers))
