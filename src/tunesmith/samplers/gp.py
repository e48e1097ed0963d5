"""Gaussian-process Bayesian optimisation: the most sample-efficient choice for expensive, low-dimensional searches."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr
from threadpoolctl import threadpool_limits

from tunesmith._validate import integer, real
from tunesmith.context import SearchContext
from tunesmith.errors import ConfigError
from tunesmith.samplers._gp_model import GPModel, Hyper, fit_hyper, transform_outputs
from tunesmith.samplers._history import EncodingCache, Observations, categorical_dims, observe, snap
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.qmc import sobol_point
from tunesmith.space import Choice, Int, Space
from tunesmith.trial import TrialRecord

__all__ = ["GP"]

_ACQUISITIONS = ("logei", "ucb")
_LOG_INV_SQRT_2PI = -0.5 * math.log(2.0 * math.pi)
# The feasibility model regresses +1/-1 labels; P(feasible) = Phi(mean / sqrt(slack + variance)).
# A small slack makes a region surrounded by failures nearly forbidden, while unexplored regions
# (mean 0) keep probability one half.
_FEASIBILITY_SLACK = 0.01
# Integers with at most this many values are searched value by value, like choices.
_MAX_DISCRETE_VALUES = 16
_LOCAL_SEARCH_ROUNDS = 4
# The GP's prior mean on the standardised losses: far from every trial the model expects a loss two
# standard deviations worse than the average, not the average. With a zero mean, the large prior
# variance away from the data made expected improvement chase the cube's corners in 5-6 dimensions
# (32 seeds, budget 25: hartmann6 score 74 -> 84, ackley5 40 -> 69, rosenbrock4 776 -> 314).
_PRIOR_MEAN = 2.0
# Candidates rounded and compared again before one is proposed.
_PICK_FINALISTS = 8


def _log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(z * Phi(z) + phi(z))`` and its derivative ``Phi(z) / h(z)``, stable for very negative z."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    ratio = np.empty_like(z)
    big = z > -1.0
    zb = z[big]
    hb = zb * ndtr(zb) + np.exp(-0.5 * zb * zb + _LOG_INV_SQRT_2PI)
    out[big] = np.log(hb)
    ratio[big] = ndtr(zb) / hb
    zs = np.maximum(z[~big], -1e6)
    # h(z) = exp(-z^2/2) * (1/sqrt(2pi) + z/2 * erfcx(-z/sqrt 2)) for z < 0.
    ex = erfcx(-zs / math.sqrt(2.0))
    bracket = math.exp(_LOG_INV_SQRT_2PI) + 0.5 * zs * ex
    asym = math.exp(_LOG_INV_SQRT_2PI) / (zs * zs)  # leading term of the bracket as z -> -inf
    bracket = np.where(zs < -1e3, asym, np.maximum(bracket, asym * 0.5))
    out[~big] = -0.5 * zs * zs + np.log(bracket)
    ratio[~big] = 0.5 * ex / bracket
    return out, ratio


def _snap_discrete(points: np.ndarray, choices: list[np.ndarray | None]) -> np.ndarray:
    """Move each discrete coordinate to the nearest value it can take."""
    out = points.copy()
    for j, grid in enumerate(choices):
        if grid is not None:
            out[:, j] = grid[np.argmin(np.abs(points[:, j][:, None] - grid[None, :]), axis=1)]
    return out


class _Acquisition:
    """An acquisition (log-EI or UCB) times the probability of feasibility, with gradients."""

    def __init__(
        self,
        model: GPModel,
        best: float,
        kind: str,
        beta: float,
        feasibility: GPModel | None,
        cont: np.ndarray,
        sizes: np.ndarray | None = None,
    ) -> None:
        self.model = model
        self.best = best
        self.kind = kind
        self.beta = beta
        self.feasibility = feasibility
        self.cont = cont
        # The models compare choices by their option index, so points are turned into indices here.
        self.option_counts = None if sizes is None else sizes[~cont]

    def __call__(self, x: np.ndarray, grad: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        xc = x[:, self.cont]
        xk = x[:, ~self.cont]
        if self.option_counts is not None:
            xk = np.floor(np.clip(xk, 0.0, 1.0 - 1e-12) * self.option_counts)
        mu, var, dmu, dvar = self.model.predict(xc, xk, grad)
        sd = np.sqrt(var)
        if self.kind == "ucb":
            value = -mu + math.sqrt(self.beta) * sd
            gradient = None if dmu is None or dvar is None else -dmu + math.sqrt(self.beta) * dvar / (2 * sd[:, None])
        else:
            z = (self.best - mu) / sd
            log_h, ratio = _log_h(z)
            value = np.log(sd) + log_h
            gradient = None
            if dmu is not None and dvar is not None:
                dsd = dvar / (2 * sd[:, None])
                dz = (-dmu - z[:, None] * dsd) / sd[:, None]
                gradient = dsd / sd[:, None] + ratio[:, None] * dz
        if self.feasibility is not None:
            fmu, fvar, fdmu, fdvar = self.feasibility.predict(xc, xk, grad)
            scale = np.sqrt(_FEASIBILITY_SLACK + fvar)
            t = fmu / scale
            log_p = log_ndtr(t)
            value = value + log_p
            if gradient is not None and fdmu is not None and fdvar is not None:
                dt = fdmu / scale[:, None] - (fmu / (2 * scale**3))[:, None] * fdvar
                mills = np.exp(-0.5 * t * t + _LOG_INV_SQRT_2PI - log_p)
                gradient = gradient + mills[:, None] * dt
        return value, gradient


class GP(Sampler):
    """Bayesian optimisation with a Gaussian process (Matérn-5/2, one lengthscale per dimension).

    Each suggestion fits the kernel's lengthscales, signal and noise by maximising the marginal
    likelihood with priors (from three starting points); losses go through a Yeo-Johnson power
    transform first, so heavy tails do not flatten the model, and the prior mean is pessimistic
    (two standard deviations worse than the average), so unexplored corners do not look promising
    merely for being uncertain. The acquisition (log expected improvement by default, or an
    upper confidence bound) is maximised by a local search from the incumbent and the best points
    of a random and a local candidate pool: L-BFGS-B on the continuous axes alternates with a sweep
    of every value of each choice and small integer, until nothing changes. Choices use a Hamming
    kernel; wide integer ranges are searched on their continuous axis and rounded.
    RUNNING trials are conditioned on at the model's prediction (kriging believer), so parallel
    workers spread out; FAILED and INFEASIBLE trials train a feasibility model whose probability
    multiplies the acquisition. The first ``n_startup`` trials follow a Sobol sequence.

    Args:
        n_startup: quasi-random trials before the model is used (default ``max(5, d + 1)``, at most 10).
        acquisition: ``"logei"`` (default) or ``"ucb"``.
        beta: UCB's exploration weight.
        n_restarts: L-BFGS-B starts on the acquisition.
        n_candidates: size of the candidate pool that picks the starts.
        max_points: the model conditions on at most this many trials (the best half and an even spread of the rest).
    """

    name = "gp"

    def __init__(
        self,
        n_startup: int | None = None,
        acquisition: str = "logei",
        beta: float = 4.0,
        n_restarts: int = 5,
        n_candidates: int = 1024,
        max_points: int = 400,
    ) -> None:
        self.n_startup = integer("n_startup", n_startup, minimum=1, allow_none=True)
        if acquisition not in _ACQUISITIONS:
            raise ConfigError(
                f"acquisition must be one of {list(_ACQUISITIONS)}, got acquisition={acquisition!r}: "
                "use 'logei' (the default)"
            )
        self.acquisition = acquisition
        self.beta = real("beta", beta, exclusive_minimum=0, finite=False)
        self.n_restarts = integer("n_restarts", n_restarts, minimum=1)
        self.n_candidates = integer("n_candidates", n_candidates, minimum=16)
        self.max_points = integer("max_points", max_points, minimum=10)
        self._cache = EncodingCache()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_startup": self.n_startup,
            "acquisition": self.acquisition,
            "beta": self.beta,
            "n_restarts": self.n_restarts,
            "n_candidates": self.n_candidates,
            "max_points": self.max_points,
        }

    def startup_trials(self, space: Space) -> int:
        """How many quasi-random trials come before the model."""
        if self.n_startup is not None:
            return self.n_startup
        return min(10, max(5, len(space.dimensions) + 1))

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        if not space.dimensions:
            return space.decode(np.empty(0))
        obs = observe(space, history, context, self._cache)
        if obs.n_finished < self.startup_trials(space) or len(obs.x) < 2:
            return space.decode(sobol_point(space, history, rng, None))
        # The matrices are small (at most max_points rows): a multi-threaded BLAS only adds
        # synchronisation, which costs ten times the work itself on a busy machine.
        with threadpool_limits(1, user_api="blas"):
            u = self.propose(space, obs, rng)
        return space.decode(u)

    # The model -----------------------------------------------------------------------------------
    def _subset(self, obs: Observations) -> np.ndarray:
        n = len(obs.x)
        if n <= self.max_points:
            return np.arange(n)
        order = np.argsort(obs.loss, kind="stable")
        half = self.max_points // 2
        rest = order[half:]
        spread = rest[np.linspace(0, len(rest) - 1, self.max_points - half).astype(int)]
        return np.sort(np.concatenate([order[:half], spread]))

    @staticmethod
    def _fit_subset(y: np.ndarray, size: int = 128) -> np.ndarray:
        """Rows to fit hyperparameters on: all of a small history, else the best half and a spread of the rest.

        The marginal likelihood costs O(n^3) per evaluation; lengthscales estimated from 128
        points are as good for the acquisition and keep a suggestion well under a second.
        """
        if len(y) <= size:
            return np.arange(len(y))
        order = np.argsort(y, kind="stable")
        rest = order[size // 2 :]
        spread = rest[np.linspace(0, len(rest) - 1, size - size // 2).astype(int)]
        return np.sort(np.concatenate([order[: size // 2], spread]))

    def propose(self, space: Space, obs: Observations, rng: np.random.Generator) -> np.ndarray:
        """The encoded point that maximises the acquisition."""
        cat, sizes = categorical_dims(space)
        cont = ~cat
        keep = self._subset(obs)
        x = np.where(np.isnan(obs.x[keep]), 0.5, obs.x[keep])
        y = transform_outputs(obs.loss[keep])
        feasible = obs.feasible[keep]
        codes = self._codes(x, cat, sizes)
        fit = self._fit_subset(y)
        hyper = fit_hyper(x[fit][:, cont], codes[fit], y[fit])
        model = GPModel(x[:, cont], codes, y, hyper, mean=_PRIOR_MEAN)
        best = float(np.min(y[feasible])) if feasible.any() else float(np.min(y))
        pending = np.where(np.isnan(obs.pending_x), 0.5, obs.pending_x)
        if len(pending):
            # Kriging believer: pretend the running trials return the model's prediction.
            pc = self._codes(pending, cat, sizes)
            believed, _, _, _ = model.predict(pending[:, cont], pc)
            model = GPModel(
                np.vstack([x[:, cont], pending[:, cont]]), np.vstack([codes, pc]), np.concatenate([y, believed]), hyper
            )
        feasibility = self._feasibility(obs, hyper, cat, sizes) if obs.has_infeasible else None
        acq = _Acquisition(model, best, self.acquisition, self.beta, feasibility, cont, sizes)
        return self._maximise(space, acq, x, y, obs, cat, sizes, rng)

    @staticmethod
    def _codes(x: np.ndarray, cat: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        k = sizes[cat]
        return np.floor(np.clip(x[:, cat], 0.0, 1.0 - 1e-12) * k).astype(float)

    def _feasibility(self, obs: Observations, hyper: Hyper, cat: np.ndarray, sizes: np.ndarray) -> GPModel:
        """A least-squares classifier on +1 (feasible) / -1 (failed or infeasible), sharing the lengthscales."""
        x = np.vstack([obs.x, obs.failed_x])
        labels = np.concatenate([np.where(obs.feasible, 1.0, -1.0), -np.ones(len(obs.failed_x))])
        if len(x) > self.max_points:
            idx = np.linspace(0, len(x) - 1, self.max_points).astype(int)
            x, labels = x[idx], labels[idx]
        x = np.where(np.isnan(x), 0.5, x)
        return GPModel(x[:, ~cat], self._codes(x, cat, sizes), labels, Hyper(hyper.lengthscale, 1.0, 0.01))

    # Acquisition optimisation ------------------------------------------------------------------
    @staticmethod
    def _discrete_choices(space: Space) -> list[np.ndarray | None]:
        """Per dimension, the encoded values a local search steps through (``None``: a continuous axis).

        Choices and integers with at most `_MAX_DISCRETE_VALUES` values are searched value by value,
        as the acquisition is only meaningful at the values a configuration can take; wider integer
        ranges are searched on their continuous axis and rounded at the end.
        """
        out: list[np.ndarray | None] = []
        for name in space.dimensions:
            param = space[name]
            size = param.cardinality()
            if isinstance(param, Choice):
                out.append((np.arange(int(size)) + 0.5) / size)
            elif isinstance(param, Int) and size <= _MAX_DISCRETE_VALUES:
                values = param.values() or list(range(param.low, param.high + 1))
                out.append(np.unique([param.encode(v) for v in values]))
            else:
                out.append(None)
        return out

    def _maximise(
        self,
        space: Space,
        acq: _Acquisition,
        x: np.ndarray,
        y: np.ndarray,
        obs: Observations,
        cat: np.ndarray,
        sizes: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        d = x.shape[1]
        choices = self._discrete_choices(space)
        discrete = np.array([c is not None for c in choices], dtype=bool)
        n_local = self.n_candidates // 2
        top = x[np.argsort(y, kind="stable")[: min(5, len(y))]]
        parents = top[rng.integers(len(top), size=n_local)]
        local = parents + rng.normal(0.0, 0.05, (n_local, d))
        # A local candidate keeps each discrete value of its parent with probability 0.8.
        moved = rng.random((n_local, d)) < 0.2
        local = np.where(discrete & ~moved, parents, np.where(discrete & moved, rng.random((n_local, d)), local))
        pool = np.clip(np.vstack([rng.random((self.n_candidates - n_local, d)), local]), 0.0, 1.0)
        pool = _snap_discrete(pool, choices)
        values, _ = acq(pool)
        values = np.where(np.isfinite(values), values, -np.inf)
        ranked = np.argsort(-values, kind="stable")
        # Local searches start from the incumbent and the best candidates of the pool.
        incumbent = x[int(np.argmin(y))][None, :]
        starts = np.vstack([_snap_discrete(incumbent, choices), pool[ranked[: self.n_restarts]]])
        finals = self._local_search(acq, starts, choices, discrete)
        searched, _ = acq(np.vstack([finals, starts]))
        candidates = np.vstack([finals, starts, pool])
        # The pool's values are known already: at 300 trials re-evaluating it costs a fifth of a suggestion.
        return self._pick(space, acq, candidates, obs, np.concatenate([searched, values]))

    def _local_search(
        self, acq: _Acquisition, starts: np.ndarray, choices: list[np.ndarray | None], discrete: np.ndarray
    ) -> np.ndarray:
        """Alternate L-BFGS-B on the continuous axes with a sweep of each discrete axis, until no value changes."""
        points = starts.copy()
        for _ in range(_LOCAL_SEARCH_ROUNDS):
            if (~discrete).any():
                points = self._lbfgs(acq, points, ~discrete)
            changed = False
            for j, grid in enumerate(choices):
                if grid is None or len(grid) < 2:
                    continue
                trial = np.repeat(points, len(grid), axis=0)
                trial[:, j] = np.tile(grid, len(points))
                values, _ = acq(trial)
                values = np.where(np.isfinite(values), values, -np.inf).reshape(len(points), len(grid))
                best = grid[np.argmax(values, axis=1)]
                changed = changed or bool(np.any(best != points[:, j]))
                points[:, j] = best
            if not changed:
                break
        return points

    @staticmethod
    def _lbfgs(acq: _Acquisition, starts: np.ndarray, cont: np.ndarray) -> np.ndarray:
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

    @staticmethod
    def _pick(
        space: Space, acq: _Acquisition, candidates: np.ndarray, obs: Observations, values: np.ndarray | None = None
    ) -> np.ndarray:
        """Round the best candidates to what they decode to and take the best one not already tried.

        Candidates are visited in order of their acquisition; the first few distinct untried ones
        are rounded and compared again, since rounding an integer moves the value.
        """
        if values is None:
            values, _ = acq(candidates)
        values = np.where(np.isfinite(values), values, -np.inf)
        tried: set[str] = set()
        if math.isfinite(space.cardinality()):  # only a discrete space can propose a configuration twice
            tried = {json.dumps(space.decode(np.where(np.isnan(u), 0.5, u)), sort_keys=True) for u in obs.used_x}
        used = np.where(np.isnan(obs.used_x), 0.5, obs.used_x)
        chosen: list[np.ndarray] = []
        for i in np.argsort(-values, kind="stable"):
            config = space.decode(candidates[i])
            if tried and json.dumps(config, sort_keys=True) in tried:
                continue
            snapped = space.encode(config)
            filled = np.where(np.isnan(snapped), 0.5, snapped)
            # Re-evaluating a tried point teaches nothing (a noiseless model may still ask for it).
            seen = np.vstack([used, *chosen]) if chosen else used
            if len(seen) and float(np.min(np.max(np.abs(seen - filled), axis=1))) < 1e-6:
                continue
            chosen.append(filled[None, :])
            if len(chosen) == _PICK_FINALISTS:
                break
        if not chosen:
            return snap(space, candidates[int(np.argmax(values))])
        finalists = np.vstack(chosen)
        scores, _ = acq(finalists)
        best = finalists[int(np.argmax(np.where(np.isfinite(scores), scores, -np.inf)))]
        return space.encode(space.decode(best))
