"""The parts of `CMAES` that read a history: the encoding's layout, the replay state, ranking, seeds.

Internal to `tunesmith.samplers.cmaes`; nothing here draws randomness except from the seeds it derives.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.samplers._tried import Tried
from tunesmith.space import Choice, Float, Int, Param, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = [
    "SIGMA0",
    "Layout",
    "Member",
    "Replay",
    "clone",
    "extends",
    "lost",
    "noise_seed",
    "ranked_values",
    "study_key",
    "tier",
    "warm_start",
]

# The initial step size in the unit cube: a third of the cube lies within one sigma either side.
SIGMA0 = 1.0 / 6.0
_NOISE_TAG = 0xC3A
# The most values a dimension searched with margin may have: a finer lattice in the unit cube is near float64's
# resolution there (2**-53), and CMA-ES with margin overflowed on it (an `Int` of 2**56 values); such a dimension is
# searched as a continuous one, rounded when decoded.
_MARGIN_COUNT = 2**40


@dataclass(frozen=True)
class Layout:
    """The numeric (CMA-ES) and categorical (TPE) columns of a space's encoding."""

    numeric: np.ndarray
    categorical: np.ndarray
    names: tuple[str, ...]  # of the numeric columns
    params: tuple[Param, ...]
    bounds: np.ndarray
    steps: np.ndarray  # > 0: the spacing of a discrete dimension's values (CMA-ES with margin)

    @staticmethod
    def of(space: Space, discrete: bool) -> Layout:
        params = [space[n] for n in space.dimensions]
        numeric = [i for i, p in enumerate(params) if not isinstance(p, Choice)]
        bounds = np.tile([0.0, 1.0], (len(numeric), 1))
        steps = np.zeros(len(numeric))
        for k, i in enumerate(numeric):
            param = params[i]
            count = param.cardinality()
            if not discrete or not math.isfinite(count) or not 2 <= count <= _MARGIN_COUNT:
                continue
            if isinstance(param, Int) and (param.base is not None or not param.log):
                steps[k] = 1.0 / count  # equal bins: values sit at the bin centres
                bounds[k] = [0.5 / count, 1.0 - 0.5 / count]
            elif isinstance(param, Float) and param.step is not None:
                steps[k] = param.step / (param.high - param.low)
                bounds[k] = [0.0, (count - 1) * steps[k]]
        return Layout(
            numeric=np.array(numeric, dtype=int),
            categorical=np.array([i for i, p in enumerate(params) if isinstance(p, Choice)], dtype=int),
            names=tuple(space.dimensions[i] for i in numeric),
            params=tuple(params[i] for i in numeric),
            bounds=bounds,
            steps=steps,
        )

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        """The numeric parameters' values at a numeric point (integers rounded, bounds applied)."""
        return {n: p.decode(float(v)) for n, p, v in zip(self.names, self.params, x, strict=True)}

    def encode(self, values: dict[str, Any]) -> np.ndarray:
        """The numeric point of `decode`'s values."""
        return np.array([p.encode(values[n]) for n, p in zip(self.names, self.params, strict=True)])


@dataclass(frozen=True)
class Member:
    """A draw of the current generation: the trial whose result answers it, the raw sample, its lattice point."""

    record: TrialRecord
    x_tell: np.ndarray
    snapped: np.ndarray


@dataclass
class Replay:
    """The search after the first ``position`` trials of a history.

    ``seen``: the numeric values of those trials (`Tried` on the numeric parameters), ``None`` before the first.
    """

    position: int = 0
    attempted: bool = False
    optimizer: Any = None  # cmaes.CMA | cmaes.CMAwM | cmaes.SepCMA
    restarts: int = 0
    generations: int = 0
    members: list[Member] = field(default_factory=list)
    seen: Tried | None = None

    def copy(self) -> Replay:
        return Replay(
            self.position,
            self.attempted,
            clone(self.optimizer),
            self.restarts,
            self.generations,
            list(self.members),
            None if self.seen is None else self.seen.copy(),
        )

    def restore(self, saved: Replay) -> None:
        """Go back to ``saved`` (a `copy` taken earlier), which is not used afterwards."""
        vars(self).update(vars(saved))


def clone(optimizer: Any) -> Any:
    """A copy of a ``cmaes`` optimizer, attribute by attribute.

    Not ``copy.deepcopy``: it goes through the library's pickling, which re-symmetrises the
    covariance, so a search resumed from a cached copy would drift in the last bits from one
    rebuilt from the history.
    """
    if optimizer is None:
        return None
    import cmaes  # imported on first use: keeps `import tunesmith` light

    twin = object.__new__(type(optimizer))
    for name, value in vars(optimizer).items():
        inner = isinstance(value, cmaes.CMA | cmaes.SepCMA | cmaes.CMAwM)
        vars(twin)[name] = clone(value) if inner else copy.deepcopy(value)
    return twin


def lost(record: TrialRecord) -> bool:
    """Whether the trial was never evaluated (its worker was lost or interrupted)."""
    return record.state is TrialState.FAILED and record.kind is not None and record.kind.is_interruption


def tier(record: TrialRecord, context: SearchContext) -> tuple[int, float]:
    """(0, loss) for a feasible result, (1, loss) for an infeasible one, (2, 0) for a failure."""
    value = record.value(context.metric.name)
    diverged = record.state is TrialState.STOPPED and record.kind is TrialKind.DIVERGED
    if record.state is TrialState.FAILED or diverged or value is None:
        return 2, 0.0
    loss = context.metric.sign() * value
    return (1 if record.state is TrialState.INFEASIBLE else 0), loss


def ranked_values(records: Sequence[TrialRecord], context: SearchContext) -> list[float]:
    """Values that order feasible results by loss, then infeasible ones, then failures."""
    tiers = [tier(r, context) for r in records]
    values = [loss for _, loss in tiers]
    top = max((loss for t, loss in tiers if t == 0), default=None)
    infeasible = [loss for t, loss in tiers if t == 1]
    if top is not None and infeasible:
        shift = top - min(infeasible) + 1.0
        values = [v + shift if t == 1 else v for v, (t, _) in zip(values, tiers, strict=True)]
    finite = [v for v, (t, _) in zip(values, tiers, strict=True) if t < 2]
    worst = max(finite, default=0.0) + 1.0
    return [worst if t == 2 else v for v, (t, _) in zip(values, tiers, strict=True)]


def study_key(history: Sequence[TrialRecord]) -> int:
    """The first trial's seed (it derives from the study seed): the root of every draw's noise."""
    return history[0].seed & 0xFFFF_FFFF_FFFF_FFFF


def noise_seed(base: int, number: int, attempt: int = 0) -> int:
    """The seed of trial ``number``'s draw (its ``attempt``-th: earlier ones drew configurations already tried)."""
    entropy = [base, _NOISE_TAG, number] if attempt == 0 else [base, _NOISE_TAG, number, attempt]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def warm_start(top: np.ndarray) -> tuple[np.ndarray, float, np.ndarray | None]:
    """A Gaussian around the best trials (after Nomura et al. 2021): mean, step size, covariance.

    With at least two points per dimension the covariance is the top trials' spread plus an
    isotropic prior whose scale shrinks as more trials inform it (log-determinants keep it finite
    in many dimensions); with fewer, a spread that noisy would mislead, so the distribution is round.
    """
    m, d = top.shape
    mean = top.mean(axis=0)
    if m < 2 * d:
        return mean, SIGMA0, None
    centred = top - mean
    sigma_matrix = (SIGMA0**2 / m) * np.eye(d) + centred.T @ centred / m
    _, log_det = np.linalg.slogdet(sigma_matrix)
    return mean, float(math.exp(log_det / (2 * d))), sigma_matrix / math.exp(log_det / d)


def extends(history: Sequence[TrialRecord], prefix: list[TrialRecord]) -> bool:
    """Whether ``history`` starts with the finished trials of ``prefix`` (the same study's trials)."""
    if len(history) < len(prefix):
        return False
    for new, old in zip(history, prefix, strict=False):
        if new is not old and (
            new.number != old.number
            or new.seed != old.seed
            or new.state is not old.state
            or new.params != old.params
            or new.metrics != old.metrics
        ):
            return False
    return True
