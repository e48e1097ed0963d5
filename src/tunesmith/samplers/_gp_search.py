"""The GP's acquisition search on a mixed space: L-BFGS-B on continuous axes, sweeps on discrete ones.

Choices and small integers are searched value by value (`DiscreteAxes.grids`). Wide integers are
moved by L-BFGS-B on their encoded axis, then rounded to the integer lattice and swept over their
nearest lattice neighbours, so the acquisition is always compared at values a configuration can take
(an acquisition maximised between two integers and rounded afterwards lands on whichever neighbour
is nearer, not on the better one).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tunesmith.space import Choice, Int, Space

__all__ = ["DiscreteAxes", "local_search"]

# Integers with at most this many values are searched value by value, like choices.
_MAX_DISCRETE_VALUES = 16
_LOCAL_SEARCH_ROUNDS = 4
# Lattice steps either side of a wide integer's value that a sweep compares.
_NEIGHBOUR_STEPS = np.array([-3, -2, -1, 1, 2, 3])

AcquisitionFn = Callable[..., tuple[np.ndarray, np.ndarray | None]]


def _round_int(column: np.ndarray, param: Int) -> np.ndarray:
    """Encoded values moved to the encoding of the integer they decode to (vectorised `decode` then `encode`)."""
    u = np.clip(column, 0.0, 1.0)
    if param.base is not None:
        return np.array([param.encode(param.decode(float(v))) for v in u])
    if param.log:
        log_lo, log_hi = math.log(param.low - 0.5), math.log(param.high + 0.5)
        values = np.clip(np.round(np.exp(log_lo + u * (log_hi - log_lo))), param.low, param.high)
        return np.clip((np.log(values) - log_lo) / (log_hi - log_lo), 0.0, 1.0)
    n = (param.high - param.low) // param.step + 1
    index = np.clip(np.floor(u * n), 0, n - 1)
    return (index + 0.5) / n


def _int_neighbours(column: np.ndarray, param: Int) -> np.ndarray:
    """Per row, the encodings of the integers a few lattice steps away (shape ``(len(column), steps)``)."""
    u = np.clip(column, 0.0, 1.0)
    if param.log or param.base is not None:
        values = np.array([param.decode(float(v)) for v in u])
        if param.base is not None:
            exponents = np.round(np.log(values) / math.log(param.base))[:, None] + _NEIGHBOUR_STEPS[None, :]
            lo, hi = param._exponents()
            near = param.base ** np.clip(exponents, lo, hi)
        else:
            near = np.clip(values[:, None] + _NEIGHBOUR_STEPS[None, :], param.low, param.high)
        return np.vectorize(lambda v: param.encode(int(v)), otypes=[float])(near)
    n = (param.high - param.low) // param.step + 1
    index = np.clip(np.floor(u * n), 0, n - 1)
    return (np.clip(index[:, None] + _NEIGHBOUR_STEPS[None, :], 0, n - 1) + 0.5) / n


@dataclass(frozen=True)
class DiscreteAxes:
    """The discrete structure of a space as the acquisition search sees it.

    Attributes:
        grids: per dimension, the encoded values a sweep steps through (choices and small integers), else ``None``.
        wide: per dimension, the `Int` searched on its continuous axis and rounded to its lattice, else ``None``.
    """

    grids: list[np.ndarray | None]
    wide: list[Int | None]

    @classmethod
    def of(cls, space: Space) -> DiscreteAxes:
        grids: list[np.ndarray | None] = []
        wide: list[Int | None] = []
        for name in space.dimensions:
            param = space[name]
            size = param.cardinality()
            grid, lattice = None, None
            if isinstance(param, Choice):
                grid = (np.arange(int(size)) + 0.5) / size
            elif isinstance(param, Int) and size <= _MAX_DISCRETE_VALUES:
                values = param.values() or list(range(param.low, param.high + 1))
                grid = np.unique([param.encode(v) for v in values])
            elif isinstance(param, Int):
                lattice = param
            grids.append(grid)
            wide.append(lattice)
        return cls(grids, wide)

    @property
    def swept(self) -> np.ndarray:
        """A mask of the dimensions searched value by value (L-BFGS-B never moves them)."""
        return np.array([g is not None for g in self.grids], dtype=bool)

    def snap(self, points: np.ndarray) -> np.ndarray:
        """Move each discrete coordinate (and each wide integer) to the nearest value it can take."""
        out = points.copy()
        for j, grid in enumerate(self.grids):
            if grid is not None:
                out[:, j] = grid[np.argmin(np.abs(points[:, j][:, None] - grid[None, :]), axis=1)]
        for j, param in enumerate(self.wide):
            if param is not None:
                out[:, j] = _round_int(points[:, j], param)
        return out


def _sweep(acq: AcquisitionFn, points: np.ndarray, j: int, options: np.ndarray) -> bool:
    """Set coordinate ``j`` of each point to its best value among ``options`` (rows: points); True if any moved."""
    width = options.shape[1]
    trial = np.repeat(points, width, axis=0)
    trial[:, j] = options.ravel()
    values, _ = acq(trial)
    values = np.where(np.isfinite(values), values, -np.inf).reshape(len(points), width)
    best = options[np.arange(len(points)), np.argmax(values, axis=1)]
    changed = bool(np.any(best != points[:, j]))
    points[:, j] = best
    return changed


def local_search(acq: AcquisitionFn, starts: np.ndarray, axes: DiscreteAxes) -> np.ndarray:
    """Alternate L-BFGS-B on the continuous axes with a sweep of each discrete axis, until no value changes."""
    points = axes.snap(starts)
    swept = axes.swept
    for _ in range(_LOCAL_SEARCH_ROUNDS):
        if (~swept).any():
            points = axes.snap(lbfgs(acq, points, ~swept))
        changed = False
        for j, grid in enumerate(axes.grids):
            if grid is not None and len(grid) >= 2:
                changed = _sweep(acq, points, j, np.tile(grid, (len(points), 1))) or changed
        for j, param in enumerate(axes.wide):
            if param is not None:
                options = np.hstack([points[:, j : j + 1], _int_neighbours(points[:, j], param)])
                changed = _sweep(acq, points, j, options) or changed
        if not changed:
            break
    return points


def lbfgs(acq: AcquisitionFn, starts: np.ndarray, cont: np.ndarray) -> np.ndarray:
    """Maximise the acquisition from every start at once (the sum is separable in the starts)."""
    fixed = starts.copy()
    dc = int(cont.sum())

    def negative(flat: np.ndarray) -> tuple[float, np.ndarray]:
        pts = fixed.copy()
        pts[:, cont] = flat.reshape(len(starts), dc)
        value, gradient = acq(pts, grad=True)
        assert gradient is not None
        bad = ~np.isfinite(value)
        value = np.where(bad, -1e6, value)
        gradient = np.where(np.isfinite(gradient), gradient, 0.0)
        return -float(np.sum(value)), -gradient.ravel()

    from scipy.optimize import minimize  # imported on first use: keeps `import tunesmith` light

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = minimize(
            negative,
            starts[:, cont].ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * (len(starts) * dc),
            options={"maxiter": 40},
        )
    out = fixed.copy()
    out[:, cont] = np.clip(result.x, 0.0, 1.0).reshape(len(starts), dc)
    return out
