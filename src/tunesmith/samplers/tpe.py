"""Tree-structured Parzen estimator: sample where good trials are dense and bad ones are sparse."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.context import SearchContext
from tunesmith.samplers._history import EncodingCache, Observations, categorical_dims, observe
from tunesmith.samplers._objectives import ObjectiveObservations, is_multiobjective, observe_objectives, rank_best_first
from tunesmith.samplers._tried import Tried, untried
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.qmc import untried_sobol_point
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

# scipy.special is imported inside the functions that use it: at the top it would add about a quarter of a
# second to `import tunesmith` and to every CLI command.

__all__ = ["TPE"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
# When every candidate drawn from l(x) was tried, this many more rounds of candidates are drawn before
# the untried configurations are ranked by l(x) / g(x) directly (`tunesmith.samplers._tried.untried`).
_EXTRA_ROUNDS = 3


class _Parzen:
    """A product-kernel mixture over the encoded cube: one component per point plus a flat prior.

    Numerical dimensions use Gaussians truncated to ``[0, 1]``; categorical dimensions keep the
    point's category with high probability. A ``NaN`` coordinate (inactive parameter) makes that
    dimension's factor the flat density, so conditional parameters are marginalised.

    A kernel's width in a numerical dimension is, with ``gaps`` (the good group's density, l(x)), the wider gap from
    its point to the neighbouring values of the group in that dimension (`_gap_widths`), so kernels narrow where good
    trials crowd and stay wide at an isolated one; without (the rest, g(x)), one Scott-like width for every kernel.
    Both are floored (see ``__init__``).
    """

    SCALE = 0.2

    def __init__(
        self, points: np.ndarray, cat: np.ndarray, sizes: np.ndarray, prior_weight: float, *, gaps: bool = False
    ) -> None:
        from scipy.special import ndtr

        m, d = points.shape
        self.points = points
        self.cat = cat
        self.sizes = np.where(cat, sizes, 1.0)
        weights = np.ones(m + 1)
        weights[m] = prior_weight
        self.log_weights = np.log(weights / weights.sum())
        # Bandwidths: a Scott-like rule that shrinks with the group size, floored at 1 / (m + 2) so a
        # small group keeps exploring (Optuna's "magic clip"), and at half an integer's bin width.
        floor = np.where(np.isfinite(sizes), 0.5 / np.maximum(sizes, 1.0), 0.0)
        floor = np.maximum(floor, 1.0 / min(100, m + 2))
        bandwidth = np.maximum(self.SCALE * max(m, 1) ** (-1.0 / (d + 4)), floor)
        widths = np.broadcast_to(bandwidth, (m, d))
        if gaps and m:
            widths = np.minimum(np.maximum(_gap_widths(points), floor), 1.0)
        self.mu = np.vstack([points, np.full((1, d), 0.5)])
        self.sigma = np.vstack([widths, np.ones((1, d))])
        # Categorical kernels: keep the category with probability ``keep``, else uniform.
        self.keep = 1.0 / (1.0 + math.sqrt(max(m, 1)) ** -1.0 * 2.0)
        low = (0.0 - self.mu) / self.sigma
        high = (1.0 - self.mu) / self.sigma
        self.cdf_low = ndtr(low)
        self.log_mass = np.log(np.maximum(ndtr(high) - self.cdf_low, 1e-300))
        self.mass = np.exp(self.log_mass)
        self.inv_var = 1.0 / self.sigma**2
        self.mu_sq = np.sum(self.mu * self.mu * self.inv_var, axis=1)[None, :]

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        from scipy.special import ndtri

        m1, d = self.mu.shape
        comp = rng.choice(m1, size=count, p=np.exp(self.log_weights))
        mu = self.mu[comp]
        sigma = self.sigma[comp]
        u = rng.random((count, d))
        q = self.cdf_low[comp] + u * self.mass[comp]
        x = np.clip(mu + sigma * ndtri(np.clip(q, 1e-12, 1 - 1e-12)), 0.0, 1.0)
        x = np.where(np.isnan(mu), rng.random((count, d)), x)
        if self.cat.any():
            k = self.sizes[self.cat]
            centres = mu[:, self.cat]
            stay = (rng.random((count, len(k))) < self.keep) & ~np.isnan(centres)
            other = (np.floor(rng.random((count, len(k))) * k) + 0.5) / k
            x[:, self.cat] = np.where(stay, centres, other)
        return x

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x`` (candidates), shape ``(c,)``."""
        if not self.cat.any() and not np.isnan(x).any() and not np.isnan(self.mu).any():
            # Fast path (no categories, nothing inactive): the squared distances expanded into three
            # matrix products, sum_d (x - mu)^2 / sigma^2 = x^2 @ w - 2 x @ (mu w) + mu^2 @ w with
            # w = 1 / sigma^2, instead of a (candidates, components, dims) array.
            const = -np.sum(np.log(self.sigma) + self.log_mass, axis=1) - x.shape[1] * _LOG_SQRT_2PI
            w = self.inv_var
            sq = (x * x) @ w.T - 2.0 * x @ (self.mu * w).T + self.mu_sq
            terms = -0.5 * np.maximum(sq, 0.0) + (const + self.log_weights)[None, :]
            top = terms.max(axis=1)
            return np.asarray(top + np.log(np.exp(terms - top[:, None]).sum(axis=1)))
        diff = (x[:, None, :] - self.mu[None, :, :]) / self.sigma[None, :, :]
        log_k = -0.5 * diff**2 - _LOG_SQRT_2PI - np.log(self.sigma)[None] - self.log_mass[None]
        if self.cat.any():
            k = self.sizes[self.cat]
            same = np.isclose(x[:, None, self.cat], self.mu[None, :, self.cat], atol=1e-9)
            keep = np.log(self.keep + (1.0 - self.keep) / k)
            move = np.log((1.0 - self.keep) / k)
            log_cat = np.where(same, keep, move)
            log_cat[:, -1, :] = -np.log(k)  # the prior component
            log_k[:, :, self.cat] = log_cat
        log_k = np.where(np.isnan(log_k), 0.0, log_k)  # inactive: the flat density
        if self.cat.any():
            flat = np.where(self.cat, -np.log(self.sizes), 0.0)
            nan_cells = np.isnan(x[:, None, :]) | np.isnan(self.mu[None, :, :])
            log_k = np.where(nan_cells, flat[None, None, :], log_k)
        from scipy.special import logsumexp

        return np.asarray(logsumexp(log_k.sum(axis=2) + self.log_weights[None, :], axis=1))


def _gap_widths(points: np.ndarray) -> np.ndarray:
    """Each point's kernel width in each dimension (Bergstra et al.'s rule, as Optuna's univariate TPE has it): the
    wider of the gaps to the neighbouring distinct values among the points and the prior's centre 0.5, or at the
    ends of that row of values, the gap to the one neighbour (to the bounds when the centre is the only value); 1 where
    the point is inactive (``NaN``).

    Only the good group's kernels take it. Each of one Scott-like width, ``0.2 m^(-1/(d+4))`` of the range, narrows
    too slowly to refine a good region: over 20 seeds of 100 trials the sampler ended behind Optuna's TPE on four of
    five synthetic problems (ackley5 9.54 against 6.73). The bad group keeps the single width: narrow kernels there
    too made l(x)/g(x) so peaked near a good trial that a candidate with another option or integer never won, and
    the search settled on one (`mixed`, 0.136 against 0.084). Good group alone, paired seed by seed: better on
    branin, hartmann6, ackley5 and rosenbrock4 (16, 18, 20 and 14 seeds of 20), level on `mixed` (10 against 9);
    docs/benchmarks.md has the table. Not under a rung scheduler (`TPE.propose`'s ``gaps``).
    """
    m, d = points.shape
    out = np.ones((m, d))
    for j in range(d):
        column = points[:, j]
        active = ~np.isnan(column)
        values = np.unique(np.append(column[active], 0.5))
        if len(values) < 2:  # every active point at the centre: the gaps to the bounds
            out[active, j] = 0.5
            continue
        at = np.searchsorted(values, column[active])
        below = np.where(at > 0, values[at] - values[np.maximum(at - 1, 0)], 0.0)
        above = np.where(at < len(values) - 1, values[np.minimum(at + 1, len(values) - 1)] - values[at], 0.0)
        out[active, j] = np.maximum(below, above)
    return out


class TPE(Sampler):
    """Tree-structured Parzen estimator (Bergstra et al. 2011), multivariate by default.

    The finished trials are split into a good group (the best ``gamma`` fraction, at most
    ``max_good`` trials) and the rest; candidates are drawn from the good group's density
    ``l(x)`` and the one maximising ``l(x) / g(x)`` is proposed. INFEASIBLE trials rank after
    every feasible one and FAILED trials last, so both teach the sampler where not to go;
    RUNNING trials join the bad group (a constant liar), so parallel workers spread out.
    The first ``n_startup`` trials follow a Sobol sequence.

    A configuration already tried or running is never proposed again while an untried one exists: the
    best untried candidate is taken (`tunesmith.samplers._tried`), and a finite space that is used up
    raises `SearchSpaceExhausted`, which ends the search as a grid's end does.

    With several objectives (MOTPE, Ozaki et al. 2020) the good group is the first non-dominated
    fronts, the last one that does not fit cut by greedy hypervolume subset selection, so the good
    group both advances and spreads the front; it holds ``gamma`` of the finished trials (no cap).

    Args:
        n_startup: quasi-random trials before the model is used (default ``max(10, 2 * d)``, at most 20).
        n_candidates: candidates drawn from ``l(x)`` per suggestion.
        gamma: fraction of the finished trials in the good group.
        max_good: cap on the size of the good group.
        prior_weight: weight of the flat prior component in each density.
        multivariate: model the joint density (True) or each parameter on its own.
        gap_widths: the good group's kernels as wide as the gaps between its values (True, `_gap_widths`) or all of
            one width (False); default ``None``: the gaps, except under a rung scheduler (see `propose`).
    """

    name = "tpe"

    def __init__(
        self,
        n_startup: int | None = None,
        n_candidates: int = 24,
        gamma: float = 0.1,
        max_good: int = 25,
        prior_weight: float = 1.0,
        multivariate: bool = True,
        gap_widths: bool | None = None,
    ) -> None:
        self.n_startup = integer("n_startup", n_startup, minimum=1, allow_none=True)
        self.n_candidates = integer("n_candidates", n_candidates, minimum=1)
        self.gamma = real("gamma", gamma, exclusive_minimum=0, exclusive_maximum=1, fix="the default is 0.1")
        self.max_good = integer("max_good", max_good, minimum=1)
        self.prior_weight = real("prior_weight", prior_weight, exclusive_minimum=0, finite=False)
        self.multivariate = bool(multivariate)
        self.gap_widths = None if gap_widths is None else bool(gap_widths)
        self._cache = EncodingCache()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_startup": self.n_startup,
            "n_candidates": self.n_candidates,
            "gamma": self.gamma,
            "max_good": self.max_good,
            "prior_weight": self.prior_weight,
            "multivariate": self.multivariate,
            # only when set: a study stored before the option existed describes its sampler as it did
            **({} if self.gap_widths is None else {"gap_widths": self.gap_widths}),
        }

    def startup_trials(self, space: Space) -> int:
        """How many quasi-random trials come before the model."""
        if self.n_startup is not None:
            return self.n_startup
        return min(20, max(10, 2 * len(space.dimensions)))

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        if not space.dimensions:
            return space.decode(np.empty(0))
        tried = Tried(space, history, self._cache)
        if is_multiobjective(context):
            many = observe_objectives(space, history, context, self._cache)
            if many.n_finished < self.startup_trials(space) or len(many.x) == 0:
                return untried_sobol_point(space, history, rng, None, tried)
            good, bad = self.split_fronts(many)
            return space.decode(self._propose_groups(space, good, bad, rng, tried, gaps=self._gaps(context)))
        obs = observe(space, history, context, self._cache)
        if obs.n_finished < self.startup_trials(space) or len(obs.x) == 0:
            return untried_sobol_point(space, history, rng, None, tried)
        return space.decode(self.propose(space, obs, rng, tried, gaps=self._gaps(context)))

    def _gaps(self, context: SearchContext) -> bool:
        """Whether the good group's kernels take the gaps between its values (``gap_widths``, else: not under a rung
        scheduler)."""
        return (not context.rungs) if self.gap_widths is None else self.gap_widths

    def split(self, obs: Observations) -> tuple[np.ndarray, np.ndarray]:
        """The good and bad groups, as encoded points."""
        # Rank: feasible by loss, then infeasible by loss, then failures; pending are lies in the bad group.
        order = np.lexsort((obs.loss, ~obs.feasible))
        n_total = obs.n_finished
        n_feasible = int(obs.feasible.sum())
        n_good = min(self.max_good, max(1, math.ceil(self.gamma * n_total)))
        n_good = max(1, min(n_good, n_feasible)) if n_feasible else 1
        good = obs.x[order[:n_good]]
        bad = np.vstack([obs.x[order[n_good:]], obs.failed_x, obs.pending_x])
        return good, bad

    def split_fronts(self, obs: ObjectiveObservations) -> tuple[np.ndarray, np.ndarray]:
        """The good and bad groups with several objectives: by non-dominated rank and hypervolume contribution.

        Feasible trials come first (infeasible ones join the good group only when no trial is
        feasible); failed and pending trials are always in the bad group.
        """
        n_good = max(1, math.ceil(self.gamma * obs.n_finished))
        pool = np.flatnonzero(obs.feasible) if obs.feasible.any() else np.arange(len(obs.x))
        chosen = pool[rank_best_first(obs.losses[pool], n_good)]
        rest = np.setdiff1d(np.arange(len(obs.x)), chosen)
        return obs.x[chosen], np.vstack([obs.x[rest], obs.failed_x, obs.pending_x])

    def propose(
        self, space: Space, obs: Observations, rng: np.random.Generator, tried: Tried | None = None, *,
        gaps: bool = True,
    ) -> np.ndarray:
        """The encoded point maximising ``l(x) / g(x)`` among candidates drawn from ``l``, untried ones first.

        ``gaps``: the good group's kernels as wide as the gaps between its values (`_gap_widths`); off, one width
        for every kernel, as the rest's. `suggest` turns it off under a rung scheduler (``context.rungs``): there
        the values read are a rung's or a prediction for hundreds of configurations, and narrow kernels on them cost
        the multi-fidelity default its reach (four workers, divergence: random search's best reached on 5 seeds of
        10 against 8; with a perfect early signal, a median 0.205 of random search's resource against 0.173).

        Raises:
            SearchSpaceExhausted: every configuration of a finite space is in ``tried``.
        """
        return self._propose_groups(space, *self.split(obs), rng, tried, gaps=gaps)

    def _propose_groups(
        self, space: Space, good: np.ndarray, bad: np.ndarray, rng: np.random.Generator, tried: Tried | None = None,
        *, gaps: bool = True,
    ) -> np.ndarray:
        cat, sizes = categorical_dims(space)
        lower = _Parzen(good, cat, sizes, self.prior_weight, gaps=gaps)
        upper = _Parzen(bad, cat, sizes, self.prior_weight)
        candidates = self._candidates(space, lower, rng)
        if self.multivariate:
            score = lower.log_pdf(candidates) - upper.log_pdf(candidates)
            best = np.asarray(candidates[int(np.argmax(score))])
        else:
            per_dim = self._per_dimension(candidates, lower, upper)
            best = candidates[np.argmax(per_dim, axis=0), np.arange(candidates.shape[1])]
            score = per_dim.sum(axis=1)
        if tried is None or not tried.active or space.decode(best) not in tried:
            return best
        # Re-running a configuration teaches the model nothing: the best untried candidate, from more rounds if needed.
        for _ in range(_EXTRA_ROUNDS):
            for i in np.argsort(-np.where(np.isnan(score), -np.inf, score), kind="stable"):
                if space.decode(candidates[i]) not in tried:
                    return np.asarray(candidates[i])
            candidates = self._candidates(space, lower, rng)
            score = self._score(candidates, lower, upper)
        config = untried(space, tried, rng, lambda x: self._score(x, lower, upper))
        return best if config is None else space.encode(config)

    def _score(self, candidates: np.ndarray, lower: _Parzen, upper: _Parzen) -> np.ndarray:
        """``log l(x) - log g(x)`` of each candidate; for the univariate model, summed over its dimensions."""
        if self.multivariate:
            return np.asarray(lower.log_pdf(candidates) - upper.log_pdf(candidates))
        return np.asarray(self._per_dimension(candidates, lower, upper).sum(axis=1))

    def _candidates(self, space: Space, lower: _Parzen, rng: np.random.Generator) -> np.ndarray:
        candidates = lower.sample(rng, self.n_candidates)
        if space.is_conditional:
            candidates = np.vstack([space.encode(space.decode(c)) for c in candidates])
        return candidates

    @staticmethod
    def _per_dimension(candidates: np.ndarray, lower: _Parzen, upper: _Parzen) -> np.ndarray:
        """Each candidate's ``log l(x_j) - log g(x_j)`` in each dimension ``j`` on its own."""
        scores = np.empty(candidates.shape)
        for j in range(candidates.shape[1]):
            one = np.full_like(candidates, np.nan)
            one[:, j] = candidates[:, j]
            scores[:, j] = lower.log_pdf(one) - upper.log_pdf(one)
        return scores
