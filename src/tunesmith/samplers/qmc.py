"""Quasi-random search: a scrambled Sobol sequence over the encoded space."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._validate import integer
from tunesmith.context import SearchContext
from tunesmith.samplers._tried import Tried, holds_continuous, next_number, own_trials, untried
from tunesmith.samplers.base import Sampler
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

__all__ = ["Sobol", "sobol_point", "untried_sobol_point"]

_BITS = 30
_SCALE = float(1 << _BITS)
# The scrambling matrices are fixed per dimension count; the study's randomness enters through a
# digital shift (an XOR of the binary digits), which keeps the sequence's net structure intact.
_SCRAMBLE_SEED = 0x5EED
# Points looked at past the next one when it was tried, before an untried configuration is drawn at random.
_SKIPS = 64


def _sobol_block(d: int, count: int, seed: int) -> np.ndarray:
    """The first ``count`` points (rounded up to a power of two) of a scrambled Sobol sequence."""
    from scipy.stats import qmc  # imported on first use: scipy.stats costs ~0.5 s at start-up

    n = 1 << max(0, math.ceil(math.log2(max(count, 1))))
    return np.asarray(qmc.Sobol(d, scramble=True, seed=seed).random(n))


def _to_bits(u: np.ndarray) -> np.ndarray:
    return np.minimum(np.floor(np.clip(u, 0.0, 1.0) * _SCALE), _SCALE - 1).astype(np.int64)


def sobol_point(space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, seed: int | None) -> np.ndarray:
    """The next point of the study's Sobol sequence in the encoded cube.

    The index is the number the next trial takes (`next_number`: one past the highest number of the study's own
    trials in ``history``), RUNNING ones included, so parallel workers, who see each other's running trials, take
    distinct points; not the length of ``history``, which leaves invalidated trials out and would step back onto
    the last trial's point. Without a fixed ``seed`` the digital shift is drawn from ``rng`` for the study's first
    trial and read back afterwards from its earliest trial in ``history``, whose point it was, so one study follows
    one randomised sequence. A warm start's points take no index and fix no shift: they are an earlier study's
    results, not points of this sequence, so a warm-started study's quasi-random trials are those it would run
    without them.
    """
    d = len(space.dimensions)
    if seed is None and not own_trials(history):
        return np.asarray(rng.random(d))
    return _sobol_points(space, history, seed, 1)[0]


def _sobol_points(space: Space, history: Sequence[TrialRecord], seed: int | None, count: int) -> np.ndarray:
    """Points ``next_number(history)`` to that plus ``count - 1`` of the sequence (without a seed, after the study's
    first trial)."""
    d = len(space.dimensions)
    index = next_number(history)
    block = _sobol_block(d, index + count, _SCRAMBLE_SEED + d if seed is None else seed)
    if seed is not None:
        return np.asarray(block[index : index + count])
    # The shift that put the earliest trial held on its own index: trial 0's unless it was invalidated.
    anchor = min(own_trials(history), key=lambda record: record.number)
    held = space.encode(anchor.params, recorded=True)
    held = np.where(np.isnan(held), 0.5, held)
    shift = _to_bits(held) ^ _to_bits(block[anchor.number])
    return np.asarray(((_to_bits(block[index : index + count]) ^ shift) + 0.5) / _SCALE)


def untried_sobol_point(
    space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, seed: int | None, tried: Tried
) -> dict[str, Any]:
    """The configuration of the next Sobol point, moving on along the sequence past configurations in ``tried``.

    After `_SKIPS` tried points, an untried configuration at random (`tunesmith.samplers._tried.untried`). A point
    the space forbids (`Space.forbids`) is replaced by an allowed configuration at random at once: the later points
    are later trials' own, and a continuous configuration is never `Tried`, so taking one would run it twice. So
    is a later point that gives a continuous float a value (`holds_continuous`): a define-by-run branch tried
    already (``{"opt": "adam"}``, which asks for no ``momentum``) took the next trial's point, and that trial ran
    it again (3 of 12 Sobol trials repeated one exactly).

    Raises:
        SearchSpaceExhausted: every configuration of a finite space has been tried.
    """
    config = space.decode(sobol_point(space, history, rng, seed))
    if config not in tried:
        return config
    if space.forbids(config) is None:
        for u in _sobol_points(space, history, seed, _SKIPS + 1)[1:]:
            later = space.decode(u)
            if later not in tried and not holds_continuous(space, later):
                return later
    other = untried(space, tried, rng)
    return config if other is None else other


class Sobol(Sampler):
    """Scrambled Sobol points: evenly spread over every low-dimensional projection of the space.

    Integers, powers of two and choices take equal-width bins of the unit cube and inactive
    conditional parameters are dropped when a point is decoded, so every point is a valid
    configuration. A point whose configuration was already tried (discrete spaces) is skipped for
    the next unused one; once a finite space is used up, `SearchSpaceExhausted` ends the search.

    Args:
        seed: fix the scrambling; by default it comes from the study's seed.
    """

    name = "sobol"

    def __init__(self, seed: int | None = None) -> None:
        self.seed = integer("seed", seed, minimum=0, allow_none=True)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed}

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        return untried_sobol_point(space, history, rng, self.seed, Tried(space, history))
