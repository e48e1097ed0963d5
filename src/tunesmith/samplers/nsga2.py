"""NSGA-II: an evolutionary search for the Pareto front, for studies with several objectives and large budgets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.context import SearchContext
from tunesmith.objective import Guardrail
from tunesmith.pareto import crowding_distance, nondominated_ranks
from tunesmith.samplers._history import EncodingCache, categorical_dims, observe, snap
from tunesmith.samplers._objectives import observe_objectives
from tunesmith.samplers._tried import Tried, untried
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.qmc import untried_sobol_point
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

__all__ = ["NSGA2"]

_MAX_REBREEDS = 16


def _survival_keys(losses: np.ndarray, feasible: np.ndarray, violation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, a rank and the crowding distance within its front; lower rank, then larger crowding, is better.

    Deb's constrained domination: feasible rows come first, by non-dominated rank; infeasible ones
    follow, the smaller total ``violation`` first, whatever their objectives (ranked by their
    objectives, a population with no feasible row drifts further beyond the bounds); rows with equal
    violation are ranked among themselves by their objectives.
    """
    n = len(losses)
    rank = np.zeros(n, dtype=int)
    crowding = np.zeros(n)
    infeasible = np.flatnonzero(~feasible)
    groups = [np.flatnonzero(feasible)]
    groups += [infeasible[violation[infeasible] == level] for level in np.unique(violation[infeasible])]
    offset = 0
    for group in groups:
        if len(group) == 0:
            continue
        ranks = nondominated_ranks(losses[group])
        rank[group] = ranks + offset
        for r in np.unique(ranks):
            members = group[ranks == r]
            crowding[members] = crowding_distance(losses[members])
        offset += int(ranks.max()) + 1
    return rank, crowding


def _violations(rows: Sequence[TrialRecord], guardrails: Sequence[Guardrail]) -> np.ndarray:
    """Each row's total guardrail violation: how far each guardrail's value lies beyond its bound, summed.

    Each guardrail's excess is divided by the spread of its values among ``rows``, so a guardrail
    measured in large units (bytes against seconds) does not outweigh the others; a bound of zero
    needs no special case. A missing or non-finite value is infinitely far beyond.
    """
    total = np.zeros(len(rows))
    for guardrail in guardrails:
        values = [r.value(guardrail.metric) for r in rows]
        finite = [v for v in values if v is not None]
        spread = max(finite) - min(finite) if finite else 0.0
        # All values equal: every row breaches by the same amount or none does, so any scale keeps the order.
        scale = spread if spread > 0 else 1.0
        total += [_excess(guardrail, v) / scale for v in values]
    return total


def _excess(guardrail: Guardrail, value: float | None) -> float:
    """How far ``value`` lies beyond ``guardrail``'s bound (0 when it holds; ``inf`` when there is no value)."""
    if value is None:
        return math.inf
    return 0.0 if guardrail.holds(value) else abs(value - guardrail.bound)


class NSGA2(Sampler):
    """NSGA-II (Deb et al. 2002): non-dominated sorting, crowding distance, SBX and polynomial mutation.

    Stateless: the population is rebuilt from the history on every call. Trial ``n`` belongs to
    generation ``n // population_size``; the first generation is quasi-random (Sobol). A trial of
    generation ``g`` is bred from the parents of ``g``: the ``population_size`` best finished trials
    of the earlier generations, by Deb's constrained domination: feasible trials first, by non-dominated
    rank then crowding distance (the elitist selection of NSGA-II), then infeasible ones by their total
    guardrail violation (each guardrail's excess over its bound divided by the spread of its values),
    so a population with no feasible trial moves towards the bounds. Two parents are picked by binary
    tournaments on the same order; numeric parameters are crossed by simulated binary crossover (SBX)
    and mutated by polynomial mutation in the unit cube, choices by uniform crossover and a uniform
    resample.
    Each suggestion draws only from ``rng``, so the same history and rng give the same child; a child
    equal to a finished or running trial is bred again, so parallel workers never duplicate one (after
    16 tries, an untried configuration at random; a finite space that is used up raises
    `SearchSpaceExhausted`).
    With a single objective it ranks trials by their loss (a plain genetic algorithm).

    Args:
        population_size: trials per generation (and parents kept).
        crossover_prob: probability that a child is crossed rather than copied from one parent.
        crossover_eta: SBX's distribution index (larger: children closer to their parents).
        mutation_eta: polynomial mutation's distribution index.
        mutation_prob: probability that a parameter mutates (default ``1 / d``).
    """

    name = "nsga2"

    def __init__(
        self,
        population_size: int = 40,
        crossover_prob: float = 0.9,
        crossover_eta: float = 20.0,
        mutation_eta: float = 20.0,
        mutation_prob: float | None = None,
    ) -> None:
        self.population_size = integer("population_size", population_size, minimum=2)
        self.crossover_prob = real("crossover_prob", crossover_prob, minimum=0, maximum=1)
        self.crossover_eta = real("crossover_eta", crossover_eta, minimum=0)
        self.mutation_eta = real("mutation_eta", mutation_eta, minimum=0)
        self.mutation_prob = (
            None if mutation_prob is None else real("mutation_prob", mutation_prob, minimum=0, maximum=1)
        )
        self._cache = EncodingCache()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "population_size": self.population_size,
            "crossover_prob": self.crossover_prob,
            "crossover_eta": self.crossover_eta,
            "mutation_eta": self.mutation_eta,
            "mutation_prob": self.mutation_prob,
        }

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        if not space.dimensions:
            return space.decode(np.empty(0))
        generation = len(history) // self.population_size
        earlier = [r for r in history if r.number < generation * self.population_size]
        x, losses, feasible, violation = self._finished(space, earlier, context)
        tried = Tried(space, history, self._cache)
        if generation == 0 or len(x) < 2:
            return untried_sobol_point(space, history, rng, None, tried)
        rank, crowding = _survival_keys(losses, feasible, violation)
        # Elitist selection: the best population_size of every finished trial of earlier generations.
        order = np.lexsort((-crowding, rank))[: self.population_size]
        used = np.vstack([self._cache.encode(space, r) for r in history])
        used = np.where(np.isnan(used), 0.5, used)
        for _ in range(_MAX_REBREEDS):
            parents = [self._tournament(order, rank, crowding, rng) for _ in range(2)]
            child = snap(space, self._breed(space, x[parents[0]], x[parents[1]], rng))
            filled = np.where(np.isnan(child), 0.5, child)
            # A child equal to a finished or running trial teaches nothing: breed another.
            if float(np.min(np.max(np.abs(used - filled), axis=1))) > 1e-9 and space.decode(child) not in tried:
                break
        else:
            other = untried(space, tried, rng)
            return space.decode(child) if other is None else other
        return space.decode(child)

    def _finished(
        self, space: Space, history: Sequence[TrialRecord], context: SearchContext
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The finished trials' encoded points, losses, feasibility and total guardrail violation."""
        if context.rungs and len(context.objectives) <= 1:
            # Seen at a rung, rows no longer name their trials: the violation is unknown (ties), so
            # infeasible rows keep their order by loss.
            one = observe(space, history, context, self._cache)
            return one.x, one.loss[:, None], one.feasible, np.zeros(len(one.x))
        objectives = context if len(context.objectives) > 1 else replace(context, objectives=(context.metric,))
        many = observe_objectives(space, history, objectives, self._cache)
        by_number = {r.number: r for r in history}
        rows = [by_number[int(n)] for n in many.numbers]
        return many.x, many.losses, many.feasible, _violations(rows, context.guardrails)

    @staticmethod
    def _tournament(pool: np.ndarray, rank: np.ndarray, crowding: np.ndarray, rng: np.random.Generator) -> int:
        a, b = (int(i) for i in rng.choice(pool, size=2, replace=len(pool) < 2))
        if rank[a] != rank[b]:
            return a if rank[a] < rank[b] else b
        if crowding[a] != crowding[b]:
            return a if crowding[a] > crowding[b] else b
        return a

    def _breed(self, space: Space, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One child of two encoded parents (``NaN``: an inactive parameter, filled from the other or at random)."""
        d = len(first)
        cat, sizes = categorical_dims(space)
        fill = rng.random(d)
        a = np.where(np.isnan(first), np.where(np.isnan(second), fill, second), first)
        b = np.where(np.isnan(second), a, second)
        child = a.copy()
        if rng.random() < self.crossover_prob:
            child = np.where(cat, np.where(rng.random(d) < 0.5, a, b), self._sbx(a, b, rng))
        p_mutate = self.mutation_prob if self.mutation_prob is not None else 1.0 / d
        mutate = rng.random(d) < p_mutate
        mutated = self._polynomial(child, rng)
        resampled = (np.floor(rng.random(d) * np.where(cat, sizes, 1.0)) + 0.5) / np.where(cat, sizes, 1.0)
        child = np.where(mutate, np.where(cat, resampled, mutated), child)
        return np.clip(child, 0.0, 1.0)

    def _sbx(self, a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Simulated binary crossover in ``[0, 1]`` (Deb & Agrawal's bounded form), one child per call.

        Each coordinate is crossed with probability one half; the spread factor's distribution keeps
        children inside the bounds and near their parents as ``crossover_eta`` grows.
        """
        d = len(a)
        low, high = np.minimum(a, b), np.maximum(a, b)
        gap = np.maximum(high - low, 1e-12)
        u = rng.random(d)
        eta = self.crossover_eta
        children = []
        for distance in (low, 1.0 - high):  # towards the lower bound, then the upper one
            beta = 1.0 + 2.0 * distance / gap
            alpha = 2.0 - beta ** -(eta + 1.0)
            inner = u <= 1.0 / alpha
            betaq = np.where(
                inner,
                (u * alpha) ** (1.0 / (eta + 1.0)),
                (1.0 / np.maximum(2.0 - u * alpha, 1e-12)) ** (1.0 / (eta + 1.0)),
            )
            children.append(betaq)
        c_low = 0.5 * (low + high - children[0] * gap)
        c_high = 0.5 * (low + high + children[1] * gap)
        child = np.where(rng.random(d) < 0.5, c_low, c_high)
        crossed = (rng.random(d) < 0.5) & (high - low > 1e-12)
        return np.where(crossed, np.clip(child, 0.0, 1.0), np.where(rng.random(d) < 0.5, a, b))

    def _polynomial(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Polynomial mutation in ``[0, 1]`` (Deb's bounded form): small moves likely, the bounds respected."""
        u = rng.random(len(x))
        power = 1.0 / (self.mutation_eta + 1.0)
        below = u < 0.5
        delta_low = (2.0 * u + (1.0 - 2.0 * u) * (1.0 - x) ** (self.mutation_eta + 1.0)) ** power - 1.0
        delta_high = 1.0 - (2.0 * (1.0 - u) + 2.0 * (u - 0.5) * x ** (self.mutation_eta + 1.0)) ** power
        return np.clip(x + np.where(below, delta_low, delta_high), 0.0, 1.0)
