"""CMA-ES through the ``cmaes`` library: a search that keeps paying for large continuous budgets.

The optimizer's state is never stored: each suggestion replays the history. Candidate ``n`` is
drawn with noise seeded by the first trial's seed and ``n``, so a replay regenerates every
candidate exactly and can tell which trials belong to the current generation (a trial belongs
when regenerating it from the current distribution gives its configuration back). The raw,
unrounded sample that CMA-ES with margin needs is regenerated the same way. A trial whose first
draws had numeric values already tried drew again (seeded by ``n`` and the attempt); the replay
walks the same draws, each earlier one joining the generation with the result of the trial that
has its values, so it stays a function of the history.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith._validate import integer
from tunesmith.context import SearchContext
from tunesmith.samplers._cmaes_parts import (
    SIGMA0,
    Layout,
    Member,
    Replay,
    extends,
    lost,
    noise_seed,
    ranked_values,
    study_key,
    tier,
    warm_start,
)
from tunesmith.samplers._history import EncodingCache, observe
from tunesmith.samplers._tried import Tried, untried
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.qmc import untried_sobol_point
from tunesmith.samplers.tpe import TPE, _Parzen
from tunesmith.space import Choice, Space
from tunesmith.trial import TrialRecord

__all__ = ["CMAES", "CMAState", "SEPARABLE_MIN_DIMS"]

# Past this many numeric dimensions the full covariance (d^2 / 2 entries, learned at a rate of
# about mu_eff / d^2 per generation) needs more generations than a tuning budget gives; the
# separable variant learns its d variances about d times faster.
SEPARABLE_MIN_DIMS = 30
# A run whose samples spread less than this (in the unit cube) in every continuous dimension, and fall
# on one value in every discrete one, has converged: refining a hyperparameter further is below anything
# a training run can tell apart (the margin keeps the raw samples of a discrete dimension apart for ever).
RESTART_TOLERANCE = 1e-4
# Draws one trial may take: each of a configuration already tried joins the generation with that trial's
# result instead of running it again, and the next is drawn.
_MAX_DRAWS = 256
# A regenerated candidate matches a stored configuration within this distance in the unit cube.
_MATCH_TOLERANCE = 1e-9
_RESTART_TAG = 0x1909


@dataclass(frozen=True)
class CMAState:
    """Where the search stands after a history, for people and tests.

    Attributes:
        started: whether CMA-ES has begun (its quasi-random start is over and finished).
        restarts: IPOP restarts so far; each doubles the population.
        population: candidates per generation in the current run.
        generations: generations told, over all runs.
        members: trials drawn for the current generation (pending ones included).
        mean: the current distribution's mean over the numeric dimensions (unit cube).
    """

    started: bool
    restarts: int = 0
    population: int = 0
    generations: int = 0
    members: int = 0
    mean: tuple[float, ...] = ()


class CMAES(Sampler):
    """CMA-ES (Hansen's covariance matrix adaptation) over the numeric parameters, from ``cmaes``.

    After ``n_startup`` Sobol trials have finished, the search starts around the best tenth of them
    (with their spread as the covariance once they are many, as after an ``auto`` hand-over from the
    GP: the warm start of Nomura et al. 2021) and each generation of ``popsize`` candidates updates
    its mean, step size and covariance. Parameters are searched in the space's unit-cube encoding, so log
    scales are respected; integers, powers of two and stepped floats use CMA-ES with margin, which
    keeps a discrete value from freezing. Categorical parameters are sampled independently, each by
    a one-dimensional TPE; conditional parameters stay in the search and are dropped when inactive.
    When a run converges (its samples within `RESTART_TOLERANCE` on the continuous parameters and on one
    value of each discrete one), it restarts from a random point with twice the population (IPOP).

    A draw whose numeric values a trial already has (finished or running) is not run again: it joins the
    generation with that trial's result and the next one is drawn, so a run that has collapsed onto one
    lattice point restarts instead of proposing it again and again. A finite space that is used up raises
    `SearchSpaceExhausted` (`tunesmith.samplers._tried`).

    Parallel workers: pending trials count toward their generation, which is told once its first
    ``popsize`` trials (lost ones replaced by later draws) have finished. A worker that asks while
    the generation is full gets another draw of the same distribution, which stands in for a
    member whose worker is lost and else teaches nothing (as in Optuna): with ``w`` workers, up to
    ``w - 1`` draws per generation, so a ``popsize`` several times ``w`` wastes less. Failed trials
    rank last and infeasible ones after every feasible one; a trial a scheduler stopped counts with
    the last value it reported.

    State: nothing is stored; the optimizer is rebuilt from the history (see the module doc) and
    cached in the sampler for the longest finished prefix of the last history, so an ask replays
    only the trials that changed. A new study object on the same storage continues the same search.
    With fewer than two numeric parameters every suggestion comes from `TPE`.

    Args:
        n_startup: Sobol trials before CMA-ES (default ``max(10, 2 * d)``, at most 20, ``d`` the
            numeric parameters).
        popsize: candidates per generation (default ``4 + floor(3 ln d)``; doubled at each restart).
        separable: the diagonal-covariance variant (sep-CMA-ES); ``None`` uses it from
            `SEPARABLE_MIN_DIMS` numeric parameters on.
        with_margin: CMA-ES with margin for discrete numeric parameters (full covariance only);
            ``False`` rounds them instead.
        restarts: restart a converged run with a doubled population (IPOP).
    """

    name = "cmaes"

    def __init__(
        self,
        n_startup: int | None = None,
        popsize: int | None = None,
        separable: bool | None = None,
        with_margin: bool = True,
        restarts: bool = True,
    ) -> None:
        self.n_startup = integer("n_startup", n_startup, minimum=1, allow_none=True)
        self.popsize = integer("popsize", popsize, minimum=4, allow_none=True)
        self.separable = None if separable is None else bool(separable)
        self.with_margin = bool(with_margin)
        self.restarts = bool(restarts)
        self._cache = EncodingCache()
        self._tpe = TPE()
        self._snapshot: tuple[tuple[Any, ...], list[TrialRecord], Replay] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_startup": self.n_startup,
            "popsize": self.popsize,
            "separable": self.separable,
            "with_margin": self.with_margin,
            "restarts": self.restarts,
        }

    # Settings that depend on the space -------------------------------------------------------------
    @staticmethod
    def _numeric_dims(space: Space) -> int:
        return sum(not isinstance(space[n], Choice) for n in space.dimensions)

    def startup_trials(self, space: Space) -> int:
        """How many quasi-random trials come before CMA-ES."""
        if self.n_startup is not None:
            return self.n_startup
        return min(20, max(10, 2 * self._numeric_dims(space)))

    def is_separable(self, space: Space) -> bool:
        """Whether the search on ``space`` uses the diagonal covariance (sep-CMA-ES)."""
        return self.separable if self.separable is not None else self._numeric_dims(space) >= SEPARABLE_MIN_DIMS

    def population(self, space: Space, restarts: int = 0) -> int:
        """Candidates per generation after ``restarts`` IPOP restarts."""
        d = self._numeric_dims(space)
        return (self.popsize or 4 + math.floor(3 * math.log(max(d, 1)))) * 2**restarts

    def in_startup(self, space: Space, history: Sequence[TrialRecord]) -> bool:
        """Whether a suggestion after ``history`` still comes from the quasi-random start."""
        n = self.startup_trials(space)
        return len(history) < n or not all(r.state.is_finished for r in history[:n])

    # The protocol ------------------------------------------------------------------------------------
    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        if self._numeric_dims(space) < 2:
            return self._tpe.suggest(space, history, rng, context)
        layout = Layout.of(space, self._uses_margin(space))
        replay = self._replay(space, layout, history, context)
        tried = Tried(space, history, self._cache)
        if replay.optimizer is None:
            return untried_sobol_point(space, history, rng, None, tried)
        # The trial this draw is for: its number, which warm-start records (numbered below 0) do not take.
        number = 1 + max((r.number for r in history), default=-1)
        x_eval, _, _ = self._walk(replay, space, layout, history, max(number, 0), context)
        u = np.full(len(space.dimensions), np.nan)
        u[layout.numeric] = x_eval
        if len(layout.categorical):
            u[layout.categorical] = self._categories(space, layout, history, rng, context)
        config = space.decode(u)
        if config not in tried:
            return config
        # Every draw was tried (or a condition left out the numeric values that were not): the nearest untried.
        mean = replay.optimizer.mean
        other = untried(space, tried, rng, lambda x: -np.nansum((x[:, layout.numeric] - mean) ** 2, axis=1))
        return config if other is None else other

    def state(self, space: Space, history: Sequence[TrialRecord], context: SearchContext) -> CMAState:
        """The search after ``history`` (generations told, restarts, population, mean)."""
        if self._numeric_dims(space) < 2:
            return CMAState(started=False)
        replay = self._replay(space, Layout.of(space, self._uses_margin(space)), history, context)
        if replay.optimizer is None:
            return CMAState(started=False)
        return CMAState(
            started=True,
            restarts=replay.restarts,
            population=replay.optimizer.population_size,
            generations=replay.generations,
            members=len(replay.members),
            mean=tuple(float(v) for v in replay.optimizer.mean),
        )

    # The replay --------------------------------------------------------------------------------------
    def _uses_margin(self, space: Space) -> bool:
        return self.with_margin and not self.is_separable(space)

    def _replay(self, space: Space, layout: Layout, history: Sequence[TrialRecord], context: SearchContext) -> Replay:
        key = (space, context.metric.name, context.metric.sign())
        replay = Replay()
        if self._snapshot is not None and self._snapshot[0] == key and extends(history, self._snapshot[1]):
            replay = self._snapshot[2].copy()
        finished = replay.position
        while finished < len(history) and history[finished].state.is_finished:
            finished += 1
        if replay.seen is None:
            replay.seen = Tried(space, names=layout.names)
        n = self.startup_trials(space)
        for i in range(replay.position, len(history)):
            if i == n:
                self._start(replay, space, layout, history, context)
            if replay.optimizer is not None:
                self._observe(replay, space, layout, history, history[i], context)
            replay.seen.add(history[i])  # after: a trial's configuration is tried for the trials after it
            replay.position = i + 1
            if replay.position == finished:
                self._snapshot = (key, list(history[:finished]), replay.copy())
        if replay.position == n and not replay.attempted:
            self._start(replay, space, layout, history, context)
        return replay

    def _start(
        self, replay: Replay, space: Space, layout: Layout, history: Sequence[TrialRecord], context: SearchContext
    ) -> None:
        """The first distribution, fitted to the best of the quasi-random start once it has finished."""
        replay.attempted = True
        startup = history[: self.startup_trials(space)]
        if not all(r.state.is_finished for r in startup):
            return  # trials after the start were drawn by Sobol while it ran: CMA-ES never began here
        scored = [r for r in startup if tier(r, context)[0] < 2]
        mean, sigma, cov = np.full(len(layout.numeric), 0.5), SIGMA0, None
        if scored:
            points = np.vstack([self._cache.encode(space, r)[layout.numeric] for r in scored])
            points = np.where(np.isnan(points), 0.5, points)  # an inactive parameter: the middle
            order = np.argsort(ranked_values(scored, context), kind="stable")
            mean, sigma, cov = warm_start(points[order[: max(1, len(scored) // 10)]])
        mean = np.clip(mean, layout.bounds[:, 0], layout.bounds[:, 1])
        replay.optimizer = self._optimizer(space, layout, mean, sigma, cov, 0)

    def _optimizer(
        self,
        space: Space,
        layout: Layout,
        mean: np.ndarray,
        sigma: float,
        cov: np.ndarray | None,
        restarts: int,
    ) -> Any:
        import cmaes  # imported on first use: keeps `import tunesmith` light

        d = len(layout.numeric)
        common: dict[str, Any] = {
            "mean": mean,
            "sigma": sigma,
            "bounds": layout.bounds.copy(),
            "n_max_resampling": 10 * d,
            "seed": 0,  # unused: every draw reseeds (see _draw)
            "population_size": self.population(space, restarts),
        }
        if self.is_separable(space):
            return cmaes.SepCMA(**common)
        if self._uses_margin(space) and np.any(layout.steps > 0):
            return cmaes.CMAwM(steps=layout.steps, cov=cov, **common)
        return cmaes.CMA(cov=cov, **common)

    @staticmethod
    def _draw(optimizer: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidate drawn with ``seed``: the point to evaluate and the raw sample to tell."""
        optimizer.reseed_rng(seed)
        drawn = optimizer.ask()
        if isinstance(drawn, tuple):
            return np.asarray(drawn[0]), np.asarray(drawn[1])
        return np.asarray(drawn), np.asarray(drawn)

    def _observe(
        self,
        replay: Replay,
        space: Space,
        layout: Layout,
        history: Sequence[TrialRecord],
        record: TrialRecord,
        context: SearchContext,
    ) -> None:
        """Add ``record`` to the current generation if the current distribution drew it; tell when full."""
        if record.number < 0:
            return  # a warm start's earlier result: it informs the start, never a generation, and has no draw
        x = self._cache.encode(space, record)[layout.numeric]
        if np.isnan(x).all():
            return
        retry_of = record.attrs.get("retry_of")
        number = retry_of if isinstance(retry_of, int) and not isinstance(retry_of, bool) else record.number
        self._walk(replay, space, layout, history, number, context, target=record)

    def _walk(
        self,
        replay: Replay,
        space: Space,
        layout: Layout,
        history: Sequence[TrialRecord],
        number: int,
        context: SearchContext,
        target: TrialRecord | None = None,
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Trial ``number``'s draws from the current distribution, up to the one it runs.

        A draw whose numeric values an earlier trial has (``replay.seen``) is not run again: it joins the
        generation answered by that trial's result (which may complete the generation and tell it), and
        the next is drawn. So a run that has collapsed onto one lattice point fills its generations from
        the history until it restarts (`_join`), and a trial gets a new configuration.

        Args:
            target: replaying: the trial whose draw is looked for; it joins the generation when found.

        Returns:
            The draw the trial runs (``x_eval``, ``x_tell``) and whether it is what was looked for: new
            values when asking (else every draw was tried, and this is the last), ``target``'s when
            replaying (else ``target`` was not drawn here, and ``replay`` is left as it was).
        """
        key = study_key(history)
        want = None if target is None else self._cache.encode(space, target)[layout.numeric]
        base = len(replay.members)
        saved: Replay | None = None  # the replay before the walk's first tell, when replaying
        x_eval = x_tell = np.empty(0)
        for attempt in range(_MAX_DRAWS):
            x_eval, x_tell = self._draw(replay.optimizer, noise_seed(key, number, attempt))
            values = layout.decode(x_eval)
            snapped = layout.encode(values)
            if target is not None and want is not None:
                active = ~np.isnan(want)
                if np.max(np.abs(snapped[active] - want[active])) <= _MATCH_TOLERANCE:
                    self._join(replay, space, layout, history, Member(target, x_tell, snapped), context)
                    return x_eval, x_tell, True
            holder = None if replay.seen is None else replay.seen.holder(values)
            if holder is None:
                break  # new values: what an ask runs; when replaying, a draw that was not ``target``'s
            member = Member(holder, x_tell, snapped)
            if target is not None and saved is None and self._generation(replay, member) is not None:
                saved = replay.copy()
            self._join(replay, space, layout, history, member, context)
        else:
            return x_eval, x_tell, False
        if target is None:
            return x_eval, x_tell, True
        if saved is not None:
            replay.restore(saved)
        del replay.members[base:]
        return x_eval, x_tell, False

    def _join(
        self,
        replay: Replay,
        space: Space,
        layout: Layout,
        history: Sequence[TrialRecord],
        member: Member,
        context: SearchContext,
    ) -> None:
        """Add a draw to the current generation; tell it once its first ``popsize`` members have finished."""
        replay.members.append(member)
        told = self._generation(replay)
        if told is None:
            return
        values = ranked_values([m.record for m in told], context)
        replay.optimizer.tell([(m.x_tell, v) for m, v in zip(told, values, strict=True)])
        replay.generations += 1
        replay.members = []  # later draws of the old distribution no longer count
        if self.restarts and (replay.optimizer.should_stop() or self._converged(layout, told)):
            replay.restarts += 1
            start = np.random.default_rng([study_key(history), _RESTART_TAG, replay.restarts])
            mean = layout.bounds[:, 0] + start.random(len(layout.numeric)) * (layout.bounds[:, 1] - layout.bounds[:, 0])
            replay.optimizer = self._optimizer(space, layout, mean, SIGMA0, None, replay.restarts)

    @staticmethod
    def _generation(replay: Replay, joining: Member | None = None) -> list[Member] | None:
        """The members to tell (the first ``popsize`` not lost, all finished) once ``joining`` joins; else None."""
        size = replay.optimizer.population_size
        told: list[Member] = []
        for m in itertools.chain(replay.members, [] if joining is None else [joining]):
            if not lost(m.record):
                if not m.record.state.is_finished:
                    return None
                told.append(m)
                if len(told) == size:
                    return told
        return None

    @staticmethod
    def _converged(layout: Layout, told: Sequence[Member]) -> bool:
        """Whether a generation has converged: its raw samples within `RESTART_TOLERANCE` in every continuous
        dimension, and on one lattice point in every discrete one (where the margin keeps raw samples apart)."""
        discrete = layout.steps > 0
        raw = np.vstack([m.x_tell for m in told])[:, ~discrete]
        spread = float(np.max(np.std(raw, axis=0))) if raw.shape[1] else 0.0
        points = np.vstack([m.snapped for m in told])[:, discrete]
        return spread < RESTART_TOLERANCE and bool(np.all(points == points[0]))

    # Categorical parameters ----------------------------------------------------------------------------
    def _categories(
        self,
        space: Space,
        layout: Layout,
        history: Sequence[TrialRecord],
        rng: np.random.Generator,
        context: SearchContext,
    ) -> np.ndarray:
        """Each categorical coordinate from a one-dimensional TPE (uniform until a result exists)."""
        sizes = np.array([space[space.dimensions[i]].cardinality() for i in layout.categorical])
        obs = observe(space, history, context, self._cache)
        if len(obs.x) == 0:
            return np.asarray((np.floor(rng.random(len(sizes)) * sizes) + 0.5) / sizes)
        good, bad = self._tpe.split(obs)
        out = np.empty(len(sizes))
        one = np.array([True])
        for k, (column, size) in enumerate(zip(layout.categorical, sizes, strict=True)):
            count = np.array([size])
            lower = _Parzen(good[:, [column]], one, count, self._tpe.prior_weight)
            upper = _Parzen(bad[:, [column]], one, count, self._tpe.prior_weight)
            candidates = lower.sample(rng, self._tpe.n_candidates)
            score = lower.log_pdf(candidates) - upper.log_pdf(candidates)
            out[k] = candidates[int(np.argmax(score)), 0]
        return out
