"""Ranks read the way a sequential search allows: each trial's rank among itself and the trials created after it,
which is uniform under chance whatever the sampler chose (`later_ranks`), and Holm's step-down adjustment of a family
of p-values, with how many deals a permutation test corrected by it draws (`deals_for`). The main effects' tests
(`importance`) deal such ranks for their null distribution; the range ends' (`_edges`) deal the trials' own ranks."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DEAL_BATCH", "deals_for", "holm", "later_ranks", "scaled_later_rank"]

# A permutation test over a family, corrected by Holm, draws enough deals for Holm's strictest threshold (the level
# over the number tested) to span this many steps of p (`deals_for`) ...
_HOLM_STEPS = 10
# ... this many at a time: a member stops counting them once it cannot be found whatever the rest give (its p-value
# over all of them would exceed the level, Holm's largest threshold).
DEAL_BATCH = 128


def deals_for(tested: int, level: float, least: int) -> int:
    """How many deals a family of ``tested`` members, held to ``level`` by Holm's correction, draws: at least
    ``least``, and enough for Holm's strictest threshold to span `_HOLM_STEPS` steps of p."""
    return max(least, math.ceil(_HOLM_STEPS * tested / level) - 1)


def later_ranks(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's rank among itself and the values after it (ties counted half), centred and scaled by how many
    those are (`scaled_later_rank`), and the variance such a rank has under chance: a value followed by ``m - 1``
    others takes each rank from 1 to ``m`` alike, whatever came before it, so its scaled rank has mean 0 and
    variance ``(m² - 1) / (12 m²)``."""
    n = len(y)
    position = np.searchsorted(np.unique(y), y)  # each value's place among the distinct values
    below = np.zeros(len(np.unique(y)) + 1, dtype=int)  # a Fenwick tree of the later values seen, by place
    rank = np.empty(n)
    for t in range(n - 1, -1, -1):
        smaller = _fenwick_count(below, position[t])  # later values strictly below, and itself excluded
        same = _fenwick_count(below, position[t] + 1) - smaller
        rank[t] = 1.0 + smaller + 0.5 * same
        _fenwick_add(below, position[t] + 1)
    later = np.arange(n, 0, -1).astype(float)
    return scaled_later_rank(rank, later), (later**2 - 1.0) / (12.0 * later**2)


def scaled_later_rank(rank: np.ndarray, later: np.ndarray) -> np.ndarray:
    """A rank from 1 to ``later`` centred on 0 and divided by ``later``."""
    return (rank - (later + 1.0) / 2.0) / later


def _fenwick_count(tree: np.ndarray, places: int) -> int:
    """How many values the Fenwick ``tree`` holds at the first ``places`` places."""
    total = 0
    while places > 0:
        total += int(tree[places])
        places -= places & -places
    return total


def _fenwick_add(tree: np.ndarray, place: int) -> None:
    """Add one value to the Fenwick ``tree`` at ``place`` (from 1)."""
    while place < len(tree):
        tree[place] += 1
        place += place & -place


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of ``p_values``: the smallest is multiplied by their number, the next by one
    less, each at least the one before it and at most 1."""
    order = np.argsort(p_values, kind="stable")
    scaled = p_values[order] * (len(p_values) - np.arange(len(p_values)))
    adjusted = np.empty(len(p_values))
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return adjusted
