"""Median stopping: stop a trial that is worse than the median of its peers at the same step by more than the
noise in the curves explains."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.schedulers._noise import MIN_REPORTS, ReportNoise, losses, one_sided, report_noise, study_noise
from tunesmith.schedulers.base import Scheduler
from tunesmith.trial import TrialRecord

__all__ = ["MedianStop"]

# The trial's latest reports its noise is measured on, at most: enough to bound how far it wanders, few enough that
# configurations whose curves bend differently still share a shape over them.
_SPAN = 8


def best_so_far(record: TrialRecord, metric: str, sign: float, step: int) -> float | None:
    """The best loss (``sign * value``) ``record`` reported up to ``step``."""
    values = losses(record, metric, sign, up_to=step)
    return min(values) if values else None


@dataclass(frozen=True)
class _Gap:
    """How far a trial's best so far trails the median of its peers' at one step, against the noise."""

    step: int
    mine: float
    median: float
    peers: int
    noise: ReportNoise  # a report's noise, and the bar noise alone reaches
    span: tuple[int, ...]  # the steps the noise is measured at; empty: the curves' second differences

    @property
    def behind(self) -> float:
        return self.mine - self.median

    @property
    def stderr(self) -> float:
        """Of ``mine - median``: the best so far varies by about a report's noise, the median of ``peers`` by
        ``sqrt(pi / 2 peers)`` of it."""
        return self.noise.stderr(self.peers)

    def beyond(self) -> bool:
        return self.behind > self.noise.bar * self.stderr


class MedianStop(Scheduler):
    """Stops a trial whose best value so far is worse than the median of the others' at the same step by more
    than the noise explains.

    A report's noise is measured on the trial's latest reports (8 at most) and those of its peers at the same
    steps (`tunesmith.schedulers._noise.report_noise`): each curve less the peers' shared shape and its own level
    (and its own linear trend, the smaller taken) is fitted as lag-1 correlated noise, and a report's standard
    deviation is read at the upper 95% bound of the correlation those reports leave. A loss often wanders from
    report to report rather than scattering independently (SGD's does), and a trial then sits above or below its
    peers for many steps by noise alone, which its step-to-step scatter does not show. A trial is stopped when its
    best so far trails the peers' median by more than the bar, in standard errors of that difference, that noise
    alone exceeds with chance ``level`` among identical trials: the best so far of a curve varies by about one
    report's noise, the median of ``n`` peers' by ``1.25 / sqrt(n)`` of it, and the bar pays for a noise read off
    a few reports. Where fewer than 2 peers reported the trial's last 3 steps too, how far the noise wanders cannot
    be measured: the step-to-step noise of the curves is read from second differences as independent, against the
    one-sided normal quantile at ``level``, and the reason says so. On noiseless curves any shortfall stops the
    trial.

    Before, the noise was the step-to-step noise from second differences alone. Share of decisions (a trial judged
    at a step) and of configurations in which a configuration identical to the others was stopped, and share of
    studies in which one 2 or 4 noise sd worse at every step was, before and after: 200 studies a cell, each 15
    configurations of 20 reports trained in turn (the worse one eleventh), a shared curve ``0.5 + 1/step`` plus
    noise of sd 0.05 with lag-1 correlation rho, the defaults, the scheduler called directly::

        lag-1 correlation of the noise      0               0.5             0.9
        identical, per decision           0.01% -> 0.04%  0.45% -> 0.07%  4.0% -> 0.5%
        identical, configurations stopped 0.15% -> 0.7%    7.0% -> 1.1%    47% -> 7%
        2 sd worse, stopped                 48% -> 85%      96% -> 50%      98% -> 62%
        4 sd worse, stopped                100% -> 100%    100% -> 94%     100% -> 98%

    Stops come in clusters, as a study's decisions share its peers: at 0.9, 0.4% to 0.8% of decisions in other
    runs of 100 studies. The worse configuration's share under correlated noise was as much noise as deficit
    before; at independent noise the curve's bend no longer reads as noise (second differences took it for some).
    Noise that wanders slower than a lag-1 correlation of 0.9, and a seed's offset that lasts the whole run, cannot
    be told from a worse configuration in one trial's reports and are taken for one: with an offset of one noise sd
    per seed (independent noise besides), 0.8% of decisions stop an identical configuration (0.4% before). Trials of
    one configuration under several seeds would measure it.

    Args:
        warmup_steps: never stop before this step (early curves are noisy).
        min_trials: peers that must have reached the step before a trial can be stopped.
        level: the chance, at one decision, of stopping a trial no worse than the median peer (one-sided;
            default 0.01). A trial is judged at every step after the warm-up, so a smaller level keeps
            configurations that only look worse for a few noisy reports.
    """

    name = "median"

    def __init__(self, warmup_steps: int = 5, min_trials: int = 5, level: float = 0.01) -> None:
        self.warmup_steps = integer("warmup_steps", warmup_steps, minimum=0)
        self.min_trials = integer("min_trials", min_trials, minimum=0)
        self.level = real("level", level, exclusive_minimum=0, exclusive_maximum=0.5, fix="pass e.g. level=0.01")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "warmup_steps": self.warmup_steps, "min_trials": self.min_trials,
                "level": self.level}  # fmt: skip

    def first_decision(self) -> tuple[float, str]:
        """``warmup_steps`` (step 1 without a warm-up): no trial is stopped before it."""
        return float(max(1, self.warmup_steps)), "warmup_steps"

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        gap = self._gap(trial, history, context)
        return Decision.STOP if gap is not None and gap.beyond() else Decision.CONTINUE

    def explain(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> str | None:
        gap = self._gap(trial, history, context)
        if gap is None:
            return None
        noise = gap.noise
        if not gap.span:
            source = (
                f"of their curves, read from second differences as independent: fewer than 2 peers reported the "
                f"trial's last {MIN_REPORTS} steps too, so how far it wanders cannot be measured"
            )
        else:
            trend = ", less each one's own trend," if noise.trend else ""
            source = f"of {noise.members} trials' {_steps(gap.span)} about their median{trend} "
            source += f"allowing a lag-1 correlation up to {noise.rho:.2f}"
        beyond = (
            f"{gap.behind / gap.stderr:.1f} standard errors ({gap.stderr:.3g}, from the step-to-step noise "
            f"{noise.sd:.3g} {source}) where noise alone reaches {noise.bar:.2f} (one-sided {self.level:g})"
            if gap.stderr > 0
            else "the curves show no step-to-step noise"
        )
        return (
            f"best {context.metric.name} so far trails the median of {gap.peers} peers at step {gap.step} by "
            f"{gap.behind:.3g}: {beyond}"
        )

    def _gap(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> _Gap | None:
        """The comparison at the trial's latest step, or ``None`` when it is not judged there."""
        if not trial.intermediate:
            return None
        step = max(trial.intermediate)
        if step < self.warmup_steps:
            return None
        sign, name = context.metric.sign(), context.metric.name
        mine = _reported(trial, name, sign, step)
        if not mine:
            return None
        peers = [
            curve
            for record in history
            if record.number != trial.number and record.resource >= step
            if (curve := _reported(record, name, sign, step))
        ]
        if len(peers) < max(1, self.min_trials):
            return None
        span, shared = _span(mine, peers)
        if span:
            curves = np.array([[curve[s] for s in span] for curve in [mine, *shared]])
            noise = report_noise(curves, self.level)
        else:
            independent = study_noise([list(curve.values()) for curve in [mine, *peers]])
            noise = ReportNoise(independent, one_sided(self.level), 0.0, 0, len(peers) + 1, False)
        median = float(np.median([min(curve.values()) for curve in peers]))
        return _Gap(step, min(mine.values()), median, len(peers), noise, span)


def _span(mine: dict[int, float], peers: list[dict[int, float]]) -> tuple[tuple[int, ...], list[dict[int, float]]]:
    """The steps a report's noise is measured at, the trial's latest (`_SPAN` at most, `MIN_REPORTS` at least) that
    2 peers or more reported too, the most of them, and those peers; ``((), [])`` when no `MIN_REPORTS` are so
    shared."""
    steps = sorted(mine)
    for reports in range(min(_SPAN, len(steps)), MIN_REPORTS - 1, -1):
        span = tuple(steps[-reports:])
        shared = [curve for curve in peers if all(s in curve for s in span)]
        if len(shared) >= 2:
            return span, shared
    return (), []


def _reported(record: TrialRecord, metric: str, sign: float, up_to: int) -> dict[int, float]:
    """The finite losses (``sign * value``) ``record`` reported at steps up to ``up_to``, by step."""
    values = {s: record.intermediate[s].get(metric) for s in sorted(record.intermediate) if s <= up_to}
    return {s: sign * v for s, v in values.items() if v is not None and math.isfinite(v)}


def _steps(steps: Sequence[int]) -> str:
    """``step 5`` or ``steps 1-5``: the steps the noise was measured at."""
    return f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}-{steps[-1]}"
