"""The study's budget: trials, wall time, compute time and resource units; whichever is spent first ends it."""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tunesmith._validate import checked_arguments, integer, real
from tunesmith.errors import BudgetLimit, ConfigError
from tunesmith.trial import TrialRecord, TrialState

__all__ = [
    "RETRY_REQUESTED",
    "Budget",
    "BudgetUsage",
    "compute_time",
    "counts_toward_budget",
    "devices_held",
    "parse_duration",
    "running_clock",
    "running_spans",
    "running_time",
    "seconds_of",
    "spent_resource",
]

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: float | int | str | None, name: str = "wall_time") -> float | None:
    """Seconds from a number of seconds or a string such as ``"90s"``, ``"30m"``, ``"2h"``, ``"1h30m"`` (``name``: the
    setting it is, for the messages)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        raise ConfigError(
            f"{name} must be seconds or a duration such as '2h', got {name}={value!r}: pass e.g. 3600 or '1h'"
        )
    if isinstance(value, numbers.Real):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond the float range
            seconds = math.inf
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value.lower())
        joined = "".join(f"{n}{u}" for n, u in parts)
        if not parts or joined != re.sub(r"\s+", "", value.lower()):
            raise ConfigError(
                f"{name} must look like '90s', '30m', '2h' or '1h30m', got {name}={value!r}: "
                "write a number followed by s, m, h or d"
            )
        seconds = 0.0
        for number, unit in parts:
            if unit and unit not in _UNITS:
                raise ConfigError(
                    f"{name}'s units must be s, m, h or d, got {unit!r} in {name}={value!r}: use s, m, h or d"
                )
            seconds += float(number) * _UNITS.get(unit or "s", 1.0)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{name} must be a positive, finite duration, got {name}={value!r}: pass e.g. 3600 or '1h'")
    return seconds


def plain_number(value: float) -> str:
    """``7200`` for 7200.0, ``0.5`` for 0.5: a number as a person (or a command line) writes it."""
    number = float(value)
    return str(int(number)) if number.is_integer() and abs(number) < 1e16 else repr(number)


def seconds_of(spent: float, limit: float) -> str:
    """``12s/60s``: the seconds spent of a limit, the limit as given (a 5.5 s budget reads "5.5s", and the seconds
    spent of it a tenth of a second, not "6s/6s"; so does a time short of the limit that whole seconds would round up
    to it: "4.6s/5s", not "5s/5s")."""
    whole = float(limit).is_integer() and not limit - 0.5 <= spent < limit
    shown = f"{spent:.0f}" if whole else f"{spent:.1f}"
    return f"{shown}s/{plain_number(limit)}s"


# The attribute `Study.retry_failed` sets on a FAILED trial it re-queues: its retry spends the budget instead.
RETRY_REQUESTED = "retry_requested"


def counts_toward_budget(record: TrialRecord) -> bool:
    """Whether a trial spends the trial budget: every trial except those the study owes a rerun.

    A FAILED trial of kind `TrialKind.INTERRUPTED` or `TrialKind.LOST_WORKER` was never
    evaluated, so the study owes the user a replacement. A FAILED trial re-queued by
    `Study.retry_failed` (``attrs["retry_requested"]``) is replaced by its retry, which spends the
    budget in its place: from the moment it is queued, so that a spent study can still run it.
    """
    if record.state is not TrialState.FAILED:
        return True
    return not ((record.kind is not None and record.kind.is_interruption) or record.attrs.get(RETRY_REQUESTED))


def spent_resource(record: TrialRecord) -> float:
    """The resource units ``record`` spent: the furthest step it reported, less the step a PBT continuation
    started at (its parent's steps are the parent's); 0 for a trial that reported no step."""
    return max(0.0, record.resource - float(record.attrs.get("start_step", 0)))


def running_time(records: Iterable[TrialRecord], now: float, gone: Collection[int] = ()) -> float:
    """Seconds during which at least one of ``records`` was running (overlapping trials count once).

    A trial runs from ``started_at`` to ``finished_at``; a RUNNING one to ``now``, unless its number is in
    ``gone`` (its worker is known to be gone, not yet reaped: `Study.gone_trials`); a PAUSED one, one lost
    with its worker (recorded when found, maybe long after) and a gone one to its last heartbeat. The spans a
    trial waited paused at a rung before it was resumed (`TrialRecord.paused`) are not running time.
    """
    return sum(end - start for start, end in _merged(_running_spans(records, now, gone)))


def running_spans(record: TrialRecord, now: float, gone: Collection[int] = ()) -> list[tuple[float, float]]:
    """The (start, end) wall-clock spans during which ``record`` ran, as `running_time` reads them: a wait paused
    at a rung is cut out, and a trial lost with its worker ends at its last heartbeat."""
    return _running_spans([record], now, gone)


def _running_spans(records: Iterable[TrialRecord], now: float, gone: Collection[int] = ()) -> list[tuple[float, float]]:
    """Each trial's running spans (see `running_time`), not yet merged."""
    spans: list[tuple[float, float]] = []
    for record in records:
        start = record.started_at
        if start is None:
            continue
        lost = record.state is TrialState.FAILED and record.kind is not None and record.kind.is_interruption
        if record.state is TrialState.RUNNING and record.number in gone and record.heartbeat_at is not None:
            end = min(now, record.heartbeat_at)  # nothing runs it: its time stopped with its worker
        elif record.state is TrialState.RUNNING:
            end = now
        elif record.state is TrialState.PAUSED or (lost and record.heartbeat_at is not None):
            end = record.heartbeat_at if record.heartbeat_at is not None else start
        else:
            end = record.finished_at if record.finished_at is not None else start
        if lost and record.finished_at is not None:
            end = min(end, record.finished_at)
        spans += _without(start, max(start, end), record.paused)
    return spans


def devices_held(record: TrialRecord) -> float:
    """The devices ``record`` held, as a compute budget counts them: the GPUs of its ``attrs["gpus"]``
    (`ProcessExecutor(gpus_per_trial=...)`, a Ray task's), each for the share of it the trial held where trials
    shared one (``attrs["gpu_share"]``: Ray's ``num_gpus=0.5`` puts two trials on a GPU, each half of it), else one
    (a trial without GPUs spends its own time)."""
    gpus = record.attrs.get("gpus") or ()
    if not gpus:
        return 1.0
    share = record.attrs.get("gpu_share")
    if isinstance(share, float) and 0.0 < share < 1.0:
        return len(gpus) * share
    return float(len(gpus))


def compute_time(records: Iterable[TrialRecord], now: float, gone: Collection[int] = ()) -> float:
    """Device-seconds ``records`` ran by ``now``: each trial's own running time (as `running_time` reads a trial's
    spans, but every trial counted on its own: two trials at once spend twice) times the devices it held
    (`devices_held`)."""
    total = 0.0
    for record in records:
        devices = devices_held(record)
        total += devices * sum(end - start for start, end in _running_spans([record], now, gone))  # disjoint
    return total


def running_clock(records: Iterable[TrialRecord], now: float, gone: Collection[int] = ()) -> Callable[[float], float]:
    """A function from a wall-clock time to the study's running time by then (see `running_time`, which it gives at
    ``now``): what a wall-time budget had spent at that moment, for figures drawn against it."""
    merged = _merged(_running_spans(records, now, gone))
    starts = [start for start, _ in merged]
    before = list(itertools.accumulate((end - start for start, end in merged), initial=0.0))

    def at(moment: float) -> float:
        i = bisect.bisect_right(starts, moment)
        if i == 0:
            return 0.0
        start, end = merged[i - 1]
        return before[i - 1] + min(moment, end) - start

    return at


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``spans`` as disjoint, sorted spans (overlaps counted once)."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _without(start: float, end: float, gaps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``[start, end]`` with the ``gaps`` (a trial's waits paused at a rung) cut out."""
    pieces, at = [], start
    for gap_start, gap_end in sorted(gaps):
        if gap_end <= at or gap_start >= end:
            continue
        if gap_start > at:
            pieces.append((at, gap_start))
        at = max(at, gap_end)
    if at < end:
        pieces.append((at, end))
    return pieces or [(start, start)]


@dataclass(frozen=True)
class BudgetUsage:
    """What a study has spent, read from storage; ``elapsed`` is its running time (see `running_time`), ``compute``
    its trials' device-seconds (see `compute_time`)."""

    trials: int
    resource: float
    elapsed: float
    compute: float = 0.0


@checked_arguments()
@dataclass(frozen=True)
class Budget:
    """Limits on the whole study, counted over all workers.

    Args:
        trials: the number of trials (interrupted ones, and failed ones re-queued, excepted).
        wall_time: seconds, or a string such as ``"2h"``, of the study's running time: the time during
            which at least one of its trials ran (`running_time`). Time while no trial runs (between two
            runs of a study, before a resumed one starts again) is not spent, so a study stopped after
            29 s and resumed the next day has the rest of its wall time left; the moments between one
            trial and the next on a worker (the sampler's turn) are not counted either. A running trial is
            stopped at its next report once it is spent; a new trial does not start when the time left would
            train it to the end less than 5% of the time, judged from the trials that did (from 7 of them on:
            `tunesmith.study._limits.spent_beyond_trials`).
        resource: the sum of resource units over all trials, each trial's the furthest step it reported (a
            report every 5 epochs spends 5 units); kept exact where the report interval allows. A finite
            number: a trial that reports no step spends none, and when trials keep ending so with nothing else
            to end the run, `Study.optimize` stops it (`tunesmith.study._limits.UnspentResource`).
        compute: seconds, or a duration such as ``"200h"``, of trial time times the devices each trial held
            (`compute_time`): GPU-hours when trials hold GPUs, trial-hours otherwise. Unlike ``wall_time``, trials
            running at once each spend it, so it bounds what the search costs however many workers run it. As with
            wall time, a running trial is stopped at its next report once it is spent, and a new one does not start
            when what is left would train it to the end less than 5% of the time.
        until_converged: also end the search once what is left to find is below the metric's noise: a Gaussian
            process's bound on the improvement still possible, at 90%, below the median standard error of the
            best trials (`tunesmith.study._convergence`). It needs one of the limits above beside it, since a
            search whose metric carries no standard error never converges.
    """

    trials: int | None = None
    wall_time: float | str | None = None
    resource: float | None = None
    compute: float | str | None = None
    until_converged: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.until_converged, bool):
            raise ConfigError(
                f"until_converged must be True or False, got until_converged={self.until_converged!r}: pass "
                "until_converged=True to end the search once it converges"
            )
        object.__setattr__(self, "trials", integer("trials", self.trials, minimum=1, allow_none=True))
        object.__setattr__(
            self, "resource", real("resource", self.resource, exclusive_minimum=0, allow_none=True)
        )  # finite, as trials and wall_time are: an infinite limit is none, and nothing would end the run
        object.__setattr__(self, "wall_time", parse_duration(self.wall_time))
        object.__setattr__(self, "compute", parse_duration(self.compute, "compute"))
        if self.until_converged and self.is_unbounded():
            raise ConfigError(
                "until_converged needs a limit beside it, got until_converged=True alone: a search converges only "
                "when its metric carries a standard error, and may take long to; pass trials=, wall_time=, "
                "resource= or compute= too"
            )

    @property
    def wall_seconds(self) -> float | None:
        return None if self.wall_time is None else float(self.wall_time)

    @property
    def compute_seconds(self) -> float | None:
        return None if self.compute is None else float(self.compute)

    def is_unbounded(self) -> bool:
        return self.trials is None and self.wall_time is None and self.resource is None and self.compute is None

    def trial_words(self) -> str:
        """The budget as a sampler's choice reads it, by its trial count: ``"a budget of 40 trials"``, ``"an
        unbounded budget"``, or ``"a budget with no trial count (resource=2000)"`` when other limits bound it."""
        if self.trials is not None:
            return f"a budget of {self.trials} trials"
        if self.is_unbounded():
            return "an unbounded budget"
        return f"a budget with no trial count ({self.describe()})"

    def describe(self) -> str:
        """The limits as arguments, ``"trials=20, wall_time=7200s"`` (``"unbounded"`` when there is none)."""
        parts = [] if self.trials is None else [f"trials={self.trials}"]
        if self.wall_seconds is not None:
            parts.append(f"wall_time={plain_number(self.wall_seconds)}s")
        if self.resource is not None:
            parts.append(f"resource={plain_number(self.resource)}")
        if self.compute_seconds is not None:
            parts.append(f"compute={plain_number(self.compute_seconds)}s")
        if self.until_converged:
            parts.append("until_converged=True")
        return ", ".join(parts) or "unbounded"

    @staticmethod
    def usage(records: Iterable[TrialRecord], now: float, gone: Collection[int] = ()) -> BudgetUsage:
        """What ``records`` spent by ``now``: trials (`counts_toward_budget`), resource units and the
        running time (`running_time`: time while trials ran, not time since the first one started). A RUNNING
        trial numbered in ``gone``, whose worker is gone, is counted as storage will count it once a worker
        reaps it: no trial spent (it becomes FAILED, interrupted or lost worker), running time up to its last
        heartbeat; so `tunesmith status`, the dashboard, the report and `Study.usage` agree."""
        records = list(records)
        trials = 0
        resource = 0.0
        for record in records:
            if counts_toward_budget(record) and record.number not in gone:
                trials += 1
            resource += spent_resource(record)
        return BudgetUsage(trials=trials, resource=resource, elapsed=running_time(records, now, gone),
                           compute=compute_time(records, now, gone))  # fmt: skip

    def exhausted_limit(self, usage: BudgetUsage) -> BudgetLimit | None:
        """The first limit that ``usage`` reaches (trials, then wall time, compute, resource), or ``None``."""
        if self.trials is not None and usage.trials >= self.trials:
            return "trials"
        if self.wall_seconds is not None and usage.elapsed >= self.wall_seconds:
            return "wall_time"
        if self.compute_seconds is not None and usage.compute >= self.compute_seconds:
            return "compute"
        if self.resource is not None and usage.resource >= self.resource:
            return "resource"
        return None

    def exhausted_by(self, usage: BudgetUsage) -> str | None:
        """A sentence naming the limit `exhausted_limit` returns, or ``None`` while budget remains."""
        limit = self.exhausted_limit(usage)
        return None if limit is None else self.spent_sentence(limit, usage)

    def spent_sentence(self, limit: BudgetLimit, usage: BudgetUsage) -> str:
        """``wall-time budget spent (14s/5.5s)``: what ``usage`` spent of the ``limit`` it names (which may be spent
        past it: a run ends when its running trials end)."""
        if limit == "trials":
            return f"trial budget spent ({usage.trials}/{self.trials})"
        if limit == "wall_time" and self.wall_seconds is not None:
            return f"wall-time budget spent ({seconds_of(usage.elapsed, self.wall_seconds)})"
        if limit == "compute" and self.compute_seconds is not None:
            return f"compute budget spent ({seconds_of(usage.compute, self.compute_seconds)} of trial time x devices)"
        of = "" if self.resource is None else f"/{self.resource:g}"
        return f"resource budget spent ({usage.resource:g}{of})"

    def fraction_spent(self, usage: BudgetUsage) -> float:
        """The largest fraction spent over the limits (0 for an unbounded budget)."""
        fractions = [0.0]
        if self.trials is not None:
            fractions.append(usage.trials / self.trials)
        if self.wall_seconds is not None:
            fractions.append(usage.elapsed / self.wall_seconds)
        if self.resource is not None:
            fractions.append(usage.resource / self.resource)
        if self.compute_seconds is not None:
            fractions.append(usage.compute / self.compute_seconds)
        return min(1.0, max(fractions))

    def to_json(self) -> dict[str, Any]:
        """The stored form; ``compute`` and ``until_converged`` only when set, so that a budget without them is
        stored as before."""
        stored: dict[str, Any] = {"trials": self.trials, "wall_time": self.wall_time, "resource": self.resource}
        if self.compute is not None:
            stored["compute"] = self.compute
        if self.until_converged:
            stored["until_converged"] = True
        return stored

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, *, stored: bool = False) -> Budget:
        """The budget ``data`` describes; ``stored``: read from a study in storage rather than given now.

        Older versions accepted ``resource=inf`` and stored it (as JSON's ``Infinity``); it meant no resource
        limit, so a stored study reads it as ``None`` and keeps loading. Given now (a config file, a new
        ``Budget``), inf is refused with the rule and the fix, as `__post_init__` refuses it.
        """
        if not data:
            return cls()
        unknown = set(data) - {"trials", "wall_time", "resource", "compute", "until_converged"}
        if unknown:
            raise ConfigError(
                f"unknown budget keys {sorted(unknown)}: use trials, wall_time, compute, resource and until_converged"
            )
        resource = data.get("resource")
        if stored and isinstance(resource, float) and resource == math.inf:
            resource = None
        return cls(trials=data.get("trials"), wall_time=data.get("wall_time"), resource=resource,
                   compute=data.get("compute"), until_converged=data.get("until_converged", False))  # fmt: skip
