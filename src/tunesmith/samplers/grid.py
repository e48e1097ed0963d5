"""Grid search: every combination of each parameter's grid values, in a reproducible order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._validate import integer
from tunesmith.context import SearchContext
from tunesmith.errors import SearchSpaceExhausted, SpaceError
from tunesmith.samplers._tried import first_asked, is_interruption, own_trials
from tunesmith.samplers.base import Sampler
from tunesmith.space import Space
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["Grid", "SparseGridWarning"]


class SparseGridWarning(UserWarning):
    """A grid chosen for a study whose trial budget visits only a small part of it."""


class Grid(Sampler):
    """Visits each grid point once among the study's own trials, whether or not a warm start ran it; a trial never
    evaluated (interrupted, or lost with its worker: `tunesmith.samplers._tried.is_interruption`) is no visit.

    Choices get every option. Integers and stepped floats get every value when they have at most
    ``4 * points`` of them, else ``points`` evenly spaced ones, as continuous floats do (so ``Int(0, 199)``
    gets 5 by default: pass ``points=200`` for all of them). A trial budget that visits under half of a grid that
    coarsens some parameter so draws a `SparseGridWarning` when the study starts (`coverage_note`).

    Args:
        points: values per continuous float (on its log scale when ``log=True``), and per integer or stepped
            float with more than ``4 * points`` values.
        shuffle: visit points in the study's own random order rather than lexicographically, so a budget
            smaller than the grid still covers every dimension (the first point is drawn from the study's
            seed, the order follows from it: every worker and a resumed study agree on it). ``None`` (the
            default): shuffled when the study's budget may end before the grid does (a trial budget smaller than
            the grid, a wall-time or a resource budget), else lexicographic. In lexicographic order the first
            parameter moves last: 20 trials of a 5x5x5 grid all had the first parameter's lowest value.
        max_size: refuse grids larger than this (the guide: grids explode combinatorially).
    """

    name = "grid"

    def __init__(self, points: int = 5, shuffle: bool | None = None, max_size: int = 100_000) -> None:
        self.points = integer("points", points, minimum=2, error=SpaceError)
        self.shuffle = shuffle
        self.max_size = max_size
        # The last space's grid and each configuration's JSON text: listing it (forbidden clauses tested on every
        # combination) on every ask took 0.23 s a suggestion on a 5,488-point grid. A memo of a pure function of
        # the space, so the suggestions stay a pure function of the history.
        self._listed: tuple[str, list[dict[str, Any]], list[str]] | None = None

    def _grid(self, space: Space) -> tuple[list[dict[str, Any]], list[str]]:
        """``space``'s grid and each point's JSON text (sorted keys), refused beyond ``max_size`` points."""
        key = json.dumps(space.to_json(), sort_keys=True)
        if self._listed is not None and self._listed[0] == key:
            return self._listed[1], self._listed[2]
        size = space.grid_size(self.points)
        if size > self.max_size:
            raise SpaceError(
                f"the grid has {size} points, more than max_size={self.max_size}: "
                "use Random() or TPE(), or fewer points per float"
            )
        grid = space.grid(self.points)
        texts = [json.dumps(config, sort_keys=True) for config in grid]
        self._listed = (key, grid, texts)
        return grid, texts

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "points": self.points, "shuffle": self.shuffle}

    def coverage_note(self, space: Space, trials: int | None) -> str | None:
        """What a trial budget of ``trials`` leaves of the grid when it visits under half of it and the grid coarsens
        some parameter (a float, an integer of more than ``4 * points`` values) to ``points`` values; ``None``
        otherwise, with no trial budget, or for a space learned as the trials run. Visited in a random order, such a
        grid is a random search confined to those values, where random or Sobol points would spread over every value
        (the guide keeps grids to tiny spaces, up to 3 parameters of up to 5 values). A grid of every value of
        discrete parameters, shuffled, is a random search without repeats: nothing to say."""
        if trials is None or not space.dimensions:
            return None
        coarse = [n for n in space.dimensions if len(space[n].grid_values(self.points)) < space[n].cardinality()]
        size = space.grid_size(self.points)
        if not coarse or 2 * trials >= size:
            return None
        named = ", ".join(coarse[:5]) + (f" and {len(coarse) - 5} more" if len(coarse) > 5 else "")
        return (
            f"sampler='grid' has {size:,} points and the trial budget visits {trials} of them ({trials / size:.1%}), "
            f"in a random order: a random search confined to the grid's {self.points} values of {named}; "
            "sampler='sobol' or 'random' spreads the same trials over every value, and 'auto' picks for the budget "
            "(grids suit tiny spaces, up to 3 parameters of up to 5 values each)"
        )

    def _shuffles(self, size: int, context: SearchContext) -> bool:
        """Whether the grid is visited in the study's random order: as given, else whether the budget may end
        before the grid's ``size`` points are visited."""
        if self.shuffle is not None:
            return self.shuffle
        budget = context.budget
        return (
            (budget.trials is not None and budget.trials < size)
            or budget.wall_time is not None
            or budget.compute is not None
            or (budget.resource is not None)
        )

    @staticmethod
    def _shuffled(texts: list[str], history: Sequence[TrialRecord], rng: np.random.Generator) -> np.ndarray:
        """The order of the grid's points (given by their JSON ``texts``) in the study's own random order.

        The order must not depend on the per-trial rng, or workers would disagree on it. The first trial
        takes a point drawn from its rng (the study's seed); every later suggestion reads that point back from
        the history and orders the rest by a permutation seeded with it, so studies with other seeds visit
        other points first, and one study keeps one order across workers and restarts.
        """
        first: int | None = int(rng.integers(len(texts)))
        if history:
            opening = json.dumps(min(history, key=lambda r: r.number).params, sort_keys=True)
            first = texts.index(opening) if opening in texts else None
        order = np.random.default_rng([len(texts)] if first is None else [len(texts), first]).permutation(len(texts))
        if first is not None:
            order = np.concatenate([[first], order[order != first]])
        return order

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        grid, texts = self._grid(space)
        # A warm start's points inform models; a grid has none, and an earlier study's result is no visit of this
        # grid: its points are neither seen nor where the shuffled order starts.
        history = own_trials(history)
        order = self._shuffled(texts, history, rng) if self._shuffles(len(grid), context) else range(len(grid))
        evaluated = [r for r in history if not is_interruption(r)]  # the others are owed a rerun
        seen = {json.dumps(r.params, sort_keys=True) for r in evaluated}
        # A trial that never asked for a parameter (define-by-run: a branch it did not take) ran every value
        # of it: a grid point that agrees with it on the parameters it has was tried (a failed trial may
        # have stopped before it asked for the rest, so it stands only for itself).
        # A trial that asked for no dimension at all (only constants, ``suggest_int('k', 1, 1)``) took no branch on a
        # value: it stands only for itself.
        # A trial older than a parameter's first definition ran an objective that may not have asked for it: it
        # covers none of its values. Each partial configuration keeps its newest trial's number for that test.
        newest: dict[str, int] = {}
        partial: set[frozenset[str]] = set()
        for r in evaluated:
            if r.state is not TrialState.FAILED and any(n in r.params for n in space.dimensions):
                text = json.dumps(r.params, sort_keys=True)
                newest[text] = max(newest.get(text, r.number), r.number)
                partial.add(frozenset(r.params))
        partial -= {frozenset(space)}
        first = first_asked(history)
        covering: set[str] = set()  # the configurations the trials ran that cover the grid
        for i in order:
            config, text = grid[i], texts[i]
            if text in seen:
                covering.add(text)
                continue
            cover = self._cover(config, partial, newest, first)
            if cover is None:
                return dict(config)  # the memo's own stays as listed
            covering.add(cover)
        if len(covering) == len(grid):
            raise SearchSpaceExhausted(f"all {len(grid)} grid points have been evaluated")
        raise SearchSpaceExhausted(
            f"all {len(covering)} configurations the objective reaches have been evaluated: a trial that never asked "
            f"for a parameter stands for every value of it, so the {len(grid)} grid points count some of them more "
            "than once"
        )

    @staticmethod
    def _cover(
        config: dict[str, Any], partial: set[frozenset[str]], newest: dict[str, int], first: dict[str, int]
    ) -> str | None:
        """A partial configuration (of trials that lack a parameter ``config`` has) that ran ``config``, if any: it
        agrees with ``config`` on what it has, and each parameter it lacks was defined before its newest trial ran
        (one that no trial holds counts as defined from the start: else a branch that never stores it would be
        proposed for ever)."""
        for keys in partial:
            if keys <= config.keys():
                sub = json.dumps({k: config[k] for k in keys}, sort_keys=True)
                number = newest.get(sub)
                if number is not None and all(first.get(n, -1) < number for n in config.keys() - keys):
                    return sub
        return None
