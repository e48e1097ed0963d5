"""Gaussian-process Bayesian optimisation: the most sample-efficient choice for expensive, low-dimensional searches."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from tunesmith._validate import integer, real
from tunesmith.context import SearchContext
from tunesmith.errors import ConfigError
from tunesmith.samplers._gp_model import (
    GPModel,
    Hyper,
    add_log_feasibility,
    classifier_lengthscales,
    fit_hyper,
    transform_outputs,
)
from tunesmith.samplers._gp_model import log_h as _log_h
from tunesmith.samplers._gp_multi import propose_multiobjective
from tunesmith.samplers._gp_search import DiscreteAxes, local_search
from tunesmith.samplers._history import EncodingCache, Observations, categorical_dims, observe, snap
from tunesmith.samplers._objectives import ObjectiveObservations, is_multiobjective, observe_objectives
from tunesmith.samplers._tried import Tried, untried
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.qmc import untried_sobol_point
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

__all__ = ["GP"]

_ACQUISITIONS = ("logei", "ucb")
# Up to this many observations the kernel hyperparameters are refitted at every suggestion; past it,
# at fixed history sizes (`refit_size`), so that a fit serves ~n/16 suggestions yet stays a function
# of the history alone. At 300 trials the fit was 60% of a suggestion's time.
_REFIT_EVERY_TRIAL = 32
_HYPER_CACHE_SIZE = 64
# The GP's prior mean on the standardised losses: far from every trial the model expects a loss two
# standard deviations worse than the average, not the average. With a zero mean, the large prior
# variance away from the data made expected improvement chase the cube's corners in 5-6 dimensions
# (32 seeds, budget 25: hartmann6 score 74 -> 84, ackley5 40 -> 69, rosenbrock4 776 -> 314).
_PRIOR_MEAN = 2.0
# Candidates rounded and compared again before one is proposed.
_PICK_FINALISTS = 8


def refit_size(n: int) -> int:
    """How many of the first observations the kernel hyperparameters are fitted on, with ``n`` observed.

    All of them up to `_REFIT_EVERY_TRIAL`; then ``n`` rounded down to a multiple of a power of
    two about ``n / 16`` (2 from 32 observations, 4 from 64, 16 from 256), so the fit lags the data
    by at most 6% and is refitted once every such step. Fixed sizes, not the sampler's own past,
    decide when: the same history gives the same hyperparameters in any process.
    """
    if n <= _REFIT_EVERY_TRIAL:
        return n
    step = 2 ** (int(math.log2(n)) - 4)
    return n - n % step


class Acquisition(Protocol):
    """What `GP.maximise` maximises: a value per row of ``x`` and, with ``grad``, its continuous gradient."""

    def __call__(self, x: np.ndarray, grad: bool = False) -> tuple[np.ndarray, np.ndarray | None]: ...


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
            value, gradient = add_log_feasibility(self.feasibility, xc, xk, value, gradient)
        return value, gradient


class GP(Sampler):
    """Bayesian optimisation with a Gaussian process (Matérn-5/2, one lengthscale per dimension).

    The kernel's lengthscales, signal and noise maximise the marginal likelihood with priors (from
    three starting points), refitted at every suggestion up to 32 observations and then at fixed
    history sizes about n/16 apart (`refit_size`; memoised, so a refit is paid once); losses go
    through a Yeo-Johnson power transform first, so heavy tails do not flatten the model, and the
    prior mean is pessimistic (two standard deviations worse than the average), so unexplored
    corners do not look promising merely for being uncertain. The acquisition (log expected
    improvement by default, or an upper confidence bound) is maximised by a local search from the
    incumbent and the best points of a random and a local candidate pool: L-BFGS-B on the
    continuous axes alternates with a sweep of every value of each choice and small integer, until
    nothing changes. Choices use a Hamming kernel; wide integer ranges are searched on their
    continuous axis, rounded to the lattice and swept over their neighbouring integers. RUNNING
    trials are conditioned on at the model's prediction (kriging believer, under the same
    pessimistic prior mean), which also counts towards the incumbent, so parallel workers spread
    out; FAILED and INFEASIBLE trials train a feasibility model (a classifier with lengthscales of
    its own) whose probability multiplies the acquisition. The first ``n_startup`` trials follow a
    Sobol sequence. A configuration already tried or running is never proposed again while an
    untried one exists, and a finite space that is used up raises `SearchSpaceExhausted`
    (`tunesmith.samplers._tried`).

    With several objectives (``len(context.objectives) > 1``) each objective gets its own GP and
    the acquisition is the log of the exact expected hypervolume improvement over the feasible
    front, in the models' transformed space (`tunesmith.samplers._gp_multi`); running trials join
    the front at their predicted values. Past three objectives each suggestion is a ParEGO step:
    log-EI on an augmented Chebyshev scalarisation with a random weight.

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
        # Fitted hyperparameters by a digest of the observations they were fitted on: a memo that
        # changes the cost of a suggestion, never its result.
        self._hypers: dict[bytes, Hyper] = {}

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
        many = is_multiobjective(context)
        obs = (
            observe_objectives(space, history, context, self._cache)
            if many
            else observe(space, history, context, self._cache)
        )
        tried = Tried(space, history, self._cache)
        if obs.n_finished < self.startup_trials(space) or len(obs.x) < 2:
            return untried_sobol_point(space, history, rng, None, tried)
        # The matrices are small (at most max_points rows): a multi-threaded BLAS only adds
        # synchronisation, which costs ten times the work itself on a busy machine.
        with threadpool_limits(1, user_api="blas"):
            if isinstance(obs, ObjectiveObservations):
                u = propose_multiobjective(self, space, obs, rng, context.reference, tried)
            else:
                u = self.propose(space, obs, rng, tried)
        return space.decode(u)

    # The model -----------------------------------------------------------------------------------
    def _subset(self, loss: np.ndarray) -> np.ndarray:
        n = len(loss)
        if n <= self.max_points:
            return np.arange(n)
        order = np.argsort(loss, kind="stable")
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

    def hyper(self, x: np.ndarray, loss: np.ndarray, cat: np.ndarray, sizes: np.ndarray) -> Hyper:
        """Kernel hyperparameters fitted on the first `refit_size` observations (memoised by their digest)."""
        m = refit_size(len(loss))
        x, loss = x[:m], loss[:m]
        key = hashlib.blake2b(
            np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(loss).tobytes() + cat.tobytes(), digest_size=16
        ).digest()
        hit = self._hypers.get(key)
        if hit is not None:
            return hit
        keep = self._subset(loss)
        xk = np.where(np.isnan(x[keep]), 0.5, x[keep])
        y = transform_outputs(loss[keep])
        fit = self._fit_subset(y)
        hyper = fit_hyper(xk[fit][:, ~cat], self._codes(xk, cat, sizes)[fit], y[fit])
        if len(self._hypers) >= _HYPER_CACHE_SIZE:
            self._hypers.clear()
        self._hypers[key] = hyper
        return hyper

    def propose(
        self, space: Space, obs: Observations, rng: np.random.Generator, tried: Tried | None = None
    ) -> np.ndarray:
        """The encoded point that maximises the acquisition among those not in ``tried``."""
        cat, sizes = categorical_dims(space)
        cont = ~cat
        keep = self._subset(obs.loss)
        x = np.where(np.isnan(obs.x[keep]), 0.5, obs.x[keep])
        y = transform_outputs(obs.loss[keep])
        feasible = obs.feasible[keep]
        codes = self._codes(x, cat, sizes)
        hyper = self.hyper(obs.x, obs.loss, cat, sizes)
        model = GPModel(x[:, cont], codes, y, hyper, mean=_PRIOR_MEAN)
        best = float(np.min(y[feasible])) if feasible.any() else float(np.min(y))
        pending = np.where(np.isnan(obs.pending_x), 0.5, obs.pending_x)
        if len(pending):
            # Kriging believer: pretend the running trials return the model's prediction, incumbent included,
            # so a believed value better than the best does not leave its own neighbourhood worth proposing again.
            model, believed = model.believe(y, pending[:, cont], self._codes(pending, cat, sizes))
            best = min(best, float(np.min(believed)))
        feasibility = self._feasibility(obs, hyper, cat, sizes) if obs.has_infeasible else None
        acq = _Acquisition(model, best, self.acquisition, self.beta, feasibility, cont, sizes)
        top = x[np.argsort(y, kind="stable")[: min(5, len(y))]]
        return self.maximise(space, acq, top, x[int(np.argmin(y))], obs.used_x, rng, tried)

    @staticmethod
    def _codes(x: np.ndarray, cat: np.ndarray, sizes: np.ndarray) -> np.ndarray:
        k = sizes[cat]
        return np.floor(np.clip(x[:, cat], 0.0, 1.0 - 1e-12) * k).astype(float)

    def _feasibility(
        self, obs: Observations | ObjectiveObservations, hyper: Hyper, cat: np.ndarray, sizes: np.ndarray
    ) -> GPModel:
        """A least-squares classifier on +1 (feasible) / -1 (failed or infeasible), with lengthscales of its own.

        The labels are regressed as exact (a constraint is deterministic: a configuration that failed
        fails again), and the lengthscales come from a probit classifier of the same labels
        (`feasibility_lengthscales`). They were the loss model's, which say how fast the loss changes,
        not how far a failure reaches (0.03-0.1 on a 1-d quadratic whose trials crowd the optimum): a
        short way from each infeasible trial P(feasible) was back near one half, and a failure at
        ``(x=1, y=0)`` said nothing about ``(x=1, y=1)`` when the constraint ignores ``y``.
        """
        x = np.vstack([obs.x, obs.failed_x])
        labels = np.concatenate([np.where(obs.feasible, 1.0, -1.0), -np.ones(len(obs.failed_x))])
        if len(x) > self.max_points:
            idx = np.linspace(0, len(x) - 1, self.max_points).astype(int)
            x, labels = x[idx], labels[idx]
        x = np.where(np.isnan(x), 0.5, x)
        lengthscale = self.feasibility_lengthscales(obs, hyper, cat, sizes)
        return GPModel(x[:, ~cat], self._codes(x, cat, sizes), labels, Hyper(lengthscale, 1.0, 0.01))

    def feasibility_lengthscales(
        self, obs: Observations | ObjectiveObservations, hyper: Hyper, cat: np.ndarray, sizes: np.ndarray
    ) -> np.ndarray:
        """The feasibility model's lengthscales (`classifier_lengthscales`), memoised by a digest of their labels.

        Fitted, as the loss model's are, on the first `refit_size` trials with a result and the first
        `refit_size` without, each in trial order, so the same history gives the same fit in any process.
        While the labels are all alike they say nothing about how far a failure reaches, and the loss
        model's lengthscales (``hyper``) stand in.
        """
        rows = refit_size(len(obs.x))
        x = np.vstack([obs.x[:rows], obs.failed_x[: refit_size(len(obs.failed_x))]])
        labels = np.concatenate([np.where(obs.feasible[:rows], 1.0, -1.0), -np.ones(len(x) - rows)])
        if len(np.unique(labels)) < 2:
            return hyper.lengthscale
        key = hashlib.blake2b(
            b"feasibility" + np.ascontiguousarray(x).tobytes() + labels.tobytes() + cat.tobytes(), digest_size=16
        ).digest()
        hit = self._hypers.get(key)
        if hit is not None:
            return hit.lengthscale
        # The loss model's cost bound: an even spread of 128 trials keeps both labels in proportion.
        if len(x) > 128:
            idx = np.linspace(0, len(x) - 1, 128).astype(int)
            x, labels = x[idx], labels[idx]
        x = np.where(np.isnan(x), 0.5, x)
        lengthscale = classifier_lengthscales(x[:, ~cat], self._codes(x, cat, sizes), labels)
        if len(self._hypers) >= _HYPER_CACHE_SIZE:
            self._hypers.clear()
        self._hypers[key] = Hyper(lengthscale, 1.0, 0.01)
        return lengthscale

    # Acquisition optimisation ------------------------------------------------------------------
    def maximise(
        self,
        space: Space,
        acq: Acquisition,
        top: np.ndarray,
        incumbent: np.ndarray,
        used_x: np.ndarray,
        rng: np.random.Generator,
        tried: Tried | None = None,
    ) -> np.ndarray:
        """The encoded point maximising ``acq``: a random pool plus perturbations of ``top``, then local searches.

        Args:
            top: encoded points (no ``NaN``) whose neighbourhoods are searched (the best trials).
            incumbent: the point a local search always starts from.
            used_x: every encoded point of the history, which is never proposed again.
            tried: the history's configurations, which are never proposed again either (`Tried`).

        Raises:
            SearchSpaceExhausted: every configuration of a finite space is in ``tried``.
        """
        d = top.shape[1]
        axes = DiscreteAxes.of(space)
        discrete = axes.swept
        n_local = self.n_candidates // 2
        parents = top[rng.integers(len(top), size=n_local)]
        local = parents + rng.normal(0.0, 0.05, (n_local, d))
        # A local candidate keeps each discrete value of its parent with probability 0.8.
        moved = rng.random((n_local, d)) < 0.2
        local = np.where(discrete & ~moved, parents, np.where(discrete & moved, rng.random((n_local, d)), local))
        pool = np.clip(np.vstack([rng.random((self.n_candidates - n_local, d)), local]), 0.0, 1.0)
        pool = axes.snap(pool)
        values, _ = acq(pool)
        values = np.where(np.isfinite(values), values, -np.inf)
        ranked = np.argsort(-values, kind="stable")
        # Local searches start from the incumbent and the best candidates of the pool.
        starts = np.vstack([axes.snap(incumbent[None, :]), pool[ranked[: self.n_restarts]]])
        finals = local_search(acq, starts, axes)
        searched, _ = acq(np.vstack([finals, starts]))
        candidates = np.vstack([finals, starts, pool])
        # The pool's values are known already: at 300 trials re-evaluating it costs a fifth of a suggestion.
        return self._pick(space, acq, candidates, used_x, np.concatenate([searched, values]), tried, rng)

    @staticmethod
    def _pick(
        space: Space,
        acq: Acquisition,
        candidates: np.ndarray,
        used_x: np.ndarray,
        values: np.ndarray | None = None,
        tried: Tried | None = None,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Round the best candidates to what they decode to and take the best one not already tried.

        Candidates are visited in order of their acquisition; the first few distinct untried ones
        are rounded and compared again, since rounding an integer moves the value. When every
        candidate was tried, the untried configuration with the best acquisition (`untried`).
        """
        if values is None:
            values, _ = acq(candidates)
        values = np.where(np.isfinite(values), values, -np.inf)
        # A parameter a trial lacks (inactive: another branch, or never asked for by a define-by-run objective)
        # says nothing about it: a candidate that agrees on every parameter the trial has is that trial again.
        used = used_x[~np.all(np.isnan(used_x), axis=1)] if len(used_x) else used_x
        chosen: list[np.ndarray] = []
        for i in np.argsort(-values, kind="stable"):
            config = space.decode(candidates[i])
            if tried is not None and config in tried:
                continue
            snapped = space.encode(config)
            filled = np.where(np.isnan(snapped), 0.5, snapped)
            # Re-evaluating a tried point teaches nothing (a noiseless model may still ask for it).
            seen = np.vstack([used, *chosen]) if chosen else used
            gaps = np.where(np.isnan(seen), 0.0, np.abs(seen - filled))
            if len(seen) and float(np.min(np.max(gaps, axis=1))) < 1e-6:
                continue
            chosen.append(filled[None, :])
            if len(chosen) == _PICK_FINALISTS:
                break
        if not chosen:
            other = None
            if tried is not None and rng is not None:
                other = untried(space, tried, rng, lambda x: acq(np.where(np.isnan(x), 0.5, x))[0])
            return snap(space, candidates[int(np.argmax(values))]) if other is None else space.encode(other)
        finalists = np.vstack(chosen)
        scores, _ = acq(finalists)
        best = finalists[int(np.argmax(np.where(np.isfinite(scores), scores, -np.inf)))]
        return space.encode(space.decode(best))
