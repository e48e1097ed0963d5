"""Population Based Bandits: PBT whose replacements take the hyperparameters a Gaussian process expects to train best.

PBT explores at random: a replacement takes its donor's hyperparameters moved by a factor (x0.8 or x1.2) or drawn
again from the prior. With a population of four to eight members, such steps rarely keep up with an optimum that
moves as training goes on (the learning rate that trains best early is rarely the one that trains best late), and a
step the wrong way costs an interval of a member's training. PB2 (Parker-Holder, Nguyen and Roberts, NeurIPS 2020)
chooses instead: every interval any member trained is a data point, how much its loss changed over the interval
(the mean of its reports in the interval less the mean of its reports in the one before) at the step the interval
ended and under the hyperparameters it trained with, and a Gaussian process over (step, hyperparameters) models it.
The replacement takes the hyperparameters whose upper confidence bound on the improvement over its first interval
is highest (GP-UCB, Srinivas et al. 2010, narrow: `exploration`), with the members training now conditioned on at the
model's prediction (kriging believer), so that the replacements of one round spread out rather than all land where
one member already trains.

Unlike the paper, which maximises the bound over the whole space, the bound is maximised over steps from the donor's
hyperparameters (a trust region: `STEP`, a tenth of each range in its encoding; `_near`). The replacement goes on
from the donor's weights, and the model knows the improvement of hyperparameters far from any member's only at other
members' states; chosen over the whole space, replacements jumped to the far ends of the ranges, and on the
benchmark's two-parameter toy and its MLP PB2 did no better than PBT seed by seed (11 and 7 seeds of 20 better, 9
and 10 worse), where the trust region does better on 16 and 11 (4 and 7 worse); see `benchmarks.pbt`.

Exploitation (which member is stopped, against the noise, and which donates its checkpoint) is PBT's, unchanged
(`PBT`). The model is this project's own: a Matérn-5/2 kernel with one lengthscale per input, the step included (so
how fast the optimum moves is learnt, as PB2's time-varying kernel does), a Hamming kernel on choices, and the
changes through the samplers' output transform, so that a member that diverged does not flatten the model; steps
the space forbids are passed over. Before `MIN_INTERVALS` intervals were trained in all, while the changes do not
vary, or when the space forbids every step, a replacement is explored as PBT explores; every replacement's
``explorer`` attribute (`tunesmith.schedulers.pbt.EXPLORER`) says which way its parameters were chosen.

An interval counts once the member reached its last step and reported in the interval before it; a continuation's
first interval is measured against its donor's last one (the training it continued). Intervals of invalidated
trials, and values that are not finite, are left out; only the `_MAX_INTERVALS` latest intervals (by step) are
modelled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from tunesmith._text import counted
from tunesmith.context import SearchContext
from tunesmith.samplers._gp_model import GPModel, fit_hyper, transform_outputs
from tunesmith.samplers._history import categorical_dims
from tunesmith.samplers.gp import GP, _Acquisition
from tunesmith.schedulers.pbt import PBT
from tunesmith.space import Space
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["MIN_INTERVALS", "PB2", "Intervals", "exploration", "intervals"]

# Intervals trained in all before the model chooses: fewer cannot fit a lengthscale per input.
MIN_INTERVALS = 8
_MAX_INTERVALS = 256  # the marginal likelihood costs O(n^3): the latest intervals are the ones that matter
# The replacement's configuration is chosen among steps from its donor's: normal steps of this share of each range
# in its encoding (a log range's in its logarithm), a choice drawn again with probability `_REDRAW`.
STEP = 0.1
_REDRAW = 0.2
_CANDIDATES = 512


@dataclass(frozen=True)
class Intervals:
    """Every interval the members trained: the step it ended at, the hyperparameters (encoded, inactive ones at 0.5)
    and how much the loss (``sign * value``) changed over it (negative: it fell)."""

    steps: np.ndarray
    x: np.ndarray
    change: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)


def intervals(space: Space, history: Sequence[TrialRecord], context: SearchContext, interval: int) -> Intervals:
    """The intervals of ``interval`` steps the trials of ``history`` trained (see the module's docstring): interval
    ``k`` holds steps ``(k - 1) * interval + 1`` to ``k * interval``, and counts once a trial reported its last step
    or a later one."""
    sign, name = context.metric.sign(), context.metric.name
    by_number = {r.number: r for r in history}
    steps: list[float] = []
    rows: list[np.ndarray] = []
    changes: list[float] = []
    for record in history:
        if record.invalidated is not None or not record.params or not record.intermediate:
            continue
        own = _losses(record, name, sign)
        if not own:
            continue
        curve = own
        parent = by_number.get(record.attrs.get("parent", -1))
        start = record.attrs.get("start_step")
        if parent is not None and isinstance(start, int | float):
            curve = {**{s: v for s, v in _losses(parent, name, sign).items() if s <= start}, **own}
        means = _window_means(curve, interval)
        last = max(own)
        encoded = np.nan_to_num(space.encode(record.params), nan=0.5)
        for k in sorted({math.ceil(s / interval) for s in own}):
            if k * interval <= last and k - 1 in means:
                steps.append(float(k * interval))
                rows.append(encoded)
                changes.append(means[k] - means[k - 1])
    if not steps:
        return Intervals(np.empty(0), np.empty((0, len(space.dimensions))), np.empty(0))
    order = np.argsort(-np.asarray(steps), kind="stable")[:_MAX_INTERVALS]
    return Intervals(np.asarray(steps)[order], np.vstack(rows)[order], np.asarray(changes)[order])


def _losses(record: TrialRecord, metric: str, sign: float) -> dict[int, float]:
    return {s: sign * v for s, v in record.curve(metric) if math.isfinite(v)}


def _window_means(curve: dict[int, float], interval: int) -> dict[int, float]:
    """The mean of ``curve``'s values in each interval (by its index ``k``, see `intervals`)."""
    windows: dict[int, list[float]] = {}
    for step, value in curve.items():
        windows.setdefault(math.ceil(step / interval), []).append(value)
    return {k: float(np.mean(values)) for k, values in windows.items()}


def exploration(intervals: int) -> float:
    """The squared width of the upper confidence bound, in the model's standard deviations, after ``intervals``
    intervals: ``0.2 log(0.4 n)``, growing with the data as GP-UCB's does but far narrower (half a standard deviation
    at 8 intervals, 0.9 at 200, where Srinivas et al.'s bound scaled down by five is about two). Each choice costs a
    member an interval of training: maximised over the whole space (before the trust region), that wider bound sent
    most replacements of `benchmarks.pbt`'s two-parameter toy to the corners of the space, and did no better than
    PBT's random steps."""
    return 0.2 * math.log(max(1.0, 0.4 * intervals)) + 1e-3


class PB2(PBT):
    """Population Based Bandits: `PBT` whose replacements take the hyperparameters a Gaussian process over (step,
    hyperparameters) expects to improve the loss most over their first interval (see the module's docstring).

    Takes `PBT`'s arguments; ``resample_probability`` and ``perturb_factors`` apply while the model has too few
    intervals (fewer than `MIN_INTERVALS`) and PBT's random exploration stands in. Budget it as PBT, by resource or
    wall time; with a population of four to eight members (``min_population`` and the workers), where PBT's random
    steps find least.
    """

    name = "pb2"

    def _explore_for(
        self, space: Space, donor: TrialRecord, history: Sequence[TrialRecord], rng: np.random.Generator,
        context: SearchContext,
    ) -> tuple[dict[str, Any], dict, str | None]:  # fmt: skip
        """The parameters of the best upper confidence bound at the replacement's first interval, each change
        labelled ``"<before> -> <after>"``; PBT's exploration while the model has too little to go on, or when the
        space forbids every step weighed. The third item says which (the `EXPLORER` attribute)."""
        seen = intervals(space, history, context, self.perturbation_interval)
        upcoming = float((int(donor.resource) // self.perturbation_interval + 1) * self.perturbation_interval)
        training = [r for r in history if r.state is TrialState.RUNNING]
        if len(seen) < MIN_INTERVALS or float(np.ptp(seen.change)) <= 0.0 or not space.dimensions:
            why = (f"PBT's perturbation: the model had {counted(len(seen), 'interval')} with varying changes of the "
                   f"loss, {MIN_INTERVALS} needed")  # fmt: skip
            return (*self._explore(space, donor.params, rng), why)
        chosen = _choose(space, seen, upcoming, training, donor, rng)
        if chosen is None:
            why = "PBT's perturbation: the space forbids every step the model weighed"
            return (*self._explore(space, donor.params, rng), why)
        changes = {name: f"{_shown(donor.params.get(name))} -> {_shown(value)}" for name, value in chosen.items()
                   if donor.params.get(name) != value}  # fmt: skip
        return space.validate(chosen), changes, f"PB2: upper confidence bound over {counted(len(seen), 'interval')}"


def _choose(
    space: Space,
    seen: Intervals,
    upcoming: float,
    training: Sequence[TrialRecord],
    donor: TrialRecord,
    rng: np.random.Generator,
) -> dict[str, Any] | None:
    """The configuration of the highest upper confidence bound on the loss's fall over the interval ending at step
    ``upcoming``, the ``training`` members conditioned on there at the model's prediction."""
    scale = max(upcoming, float(np.max(seen.steps)))
    cat, sizes = categorical_dims(space)
    cont = np.concatenate([[True], ~cat])
    inputs = np.hstack([seen.steps[:, None] / scale, seen.x])
    codes = GP._codes(seen.x, cat, sizes)
    y = transform_outputs(seen.change)
    with threadpool_limits(1, user_api="blas"):
        hyper = fit_hyper(inputs[:, cont], codes, y)
        model = GPModel(inputs[:, cont], codes, y, hyper)
        if training:
            pending = np.vstack([np.nan_to_num(space.encode(r.params), nan=0.5) for r in training])
            at = np.hstack([np.full((len(pending), 1), upcoming / scale), pending])
            model, _ = model.believe(y, at[:, cont], GP._codes(pending, cat, sizes))
        bound = _Acquisition(model, 0.0, "ucb", exploration(len(seen)), None, cont,
                             np.concatenate([[math.inf], sizes]))  # fmt: skip
        configs = _near(space, np.nan_to_num(space.encode(donor.params), nan=0.5), cat, rng)
        if not configs:
            return None
        steps = np.vstack([np.nan_to_num(space.encode(c), nan=0.5) for c in configs])
        values, _ = bound(np.hstack([np.full((len(steps), 1), upcoming / scale), steps]))  # the step comes first
    return configs[int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))]


def _near(space: Space, donor: np.ndarray, cat: np.ndarray, rng: np.random.Generator) -> list[dict[str, Any]]:
    """The donor's configuration (encoded: ``donor``) and `_CANDIDATES` steps from it (`STEP` of each range in its
    encoding, a choice drawn again with probability `_REDRAW`), those the space forbids left out."""
    steps = np.clip(donor + rng.normal(0.0, STEP, (_CANDIDATES, len(donor))), 0.0, 1.0)
    redrawn = rng.random(steps.shape) < _REDRAW
    steps[:, cat] = np.where(redrawn[:, cat], rng.random(steps.shape)[:, cat], donor[cat])
    configs = (space.decode(point) for point in np.vstack([donor, steps]))
    return [config for config in configs if space.forbids(config) is None]


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
