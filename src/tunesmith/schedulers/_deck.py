"""How many configurations a rung scheduler trains to the full resource under a budget, by playing its deck.

A rung scheduler's share of configurations that go through every rung (``eta**-rungs``) holds once the rungs
are full. The first trials of each bracket are the exception: under ``few_peers="vouched"`` (Hyperband's
brackets) a trial at a rung that fewer than ``eta`` trials reached goes on only when a lower rung vouches for
it, so the first ones stop early, and a budget of a few dozen trials trains far fewer configurations fully
than the share says (30 trials of Hyperband over 27 steps: about 3 by the share, 0.7 in runs). `simulate`
plays the deck instead: trials one after another, dealt to brackets as the scheduler deals them, each with a
quality that ranks it the same at every rung, under the scheduler's rules at each rung. It is an estimate:
noisy curves and parallel workers change who is compared with whom.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Deck", "DeckRun", "simulate"]

# Simulated runs of the deck (a fixed seed: the same deck and budget always give the same estimate).
REPLICATES = 200
# Trials played at most; past them a trial budget adds the share that goes through every rung per trial.
MAX_PLAYED = 400


@dataclass(frozen=True)
class Deck:
    """What a rung scheduler does with the trials it is dealt.

    Attributes:
        brackets: each bracket's rung levels (below ``max_resource``; none: every trial trains fully).
        order: the bracket of trial ``n`` is ``order[n % len(order)]``.
        max_resource: the full resource.
        eta: the top ``1/eta`` of a rung go on.
        vouched: ``few_peers="vouched"``: at a rung fewer than ``eta`` trials reached, the best goes on only
            when a lower rung ranks it in its top ``eta**-(rungs climbed)``.
        group: synchronous successive halving's population (``None``: asynchronous, in stop mode).
    """

    brackets: tuple[tuple[float, ...], ...]
    order: tuple[int, ...]
    max_resource: float
    eta: float
    vouched: bool = False
    group: int | None = None

    def share(self) -> float:
        """The share of trials that goes through every rung once the rungs are full."""
        shares = [self.eta ** -len(self.brackets[b]) for b in self.order]
        return sum(shares) / len(shares)


@dataclass(frozen=True)
class DeckRun:
    """What playing a deck under a budget gives.

    Attributes:
        trained: configurations trained to the full resource, on average over the simulated runs.
        none: the share of runs in which none is (the study then ends with no best).
        first_resource: resource spent when the first configuration finishes, in 9 runs of 10 (``inf``: not
            within the trials played).
        first_trials: trials started by then, in 9 runs of 10.
    """

    trained: float
    none: float
    first_resource: float
    first_trials: float


def simulate(deck: Deck, *, trials: int | None = None, resource: float | None = None) -> DeckRun:
    """Play ``deck`` under a trial budget, a resource budget, or both (one trial at a time).

    Raises:
        ValueError: neither budget is given.
    """
    if trials is None and resource is None:
        raise ValueError("give a trial budget, a resource budget or both")
    if deck.group is not None:
        return _synchronous(deck, trials, resource)
    return _played(deck, trials, None if resource is None else float(resource))


@functools.lru_cache(maxsize=64)
def _played(deck: Deck, trials: int | None, resource: float | None) -> DeckRun:
    played = min(trials if trials is not None else MAX_PLAYED, MAX_PLAYED)
    rng = np.random.default_rng(0)
    quality = rng.random((REPLICATES, played))
    rungs = [_BracketRungs(len(levels), played) for levels in deck.brackets]
    spent = np.zeros(REPLICATES)
    trained = np.zeros(REPLICATES)
    first_resource = np.full(REPLICATES, math.inf)
    first_trials = np.full(REPLICATES, math.inf)
    budget = math.inf if resource is None else resource
    for j in range(played):
        bracket = deck.order[j % len(deck.order)]
        levels = deck.brackets[bracket]
        full, cost = rungs[bracket].play(quality[:, j], levels, deck)
        cost = np.where(full, deck.max_resource, cost)
        started = spent < budget
        full &= started & (spent + deck.max_resource <= budget)
        spent = spent + np.where(started, np.minimum(cost, budget - spent), 0.0)
        trained += full
        fresh = full & np.isinf(first_resource)
        first_resource[fresh] = spent[fresh]
        first_trials[fresh] = j + 1
        if resource is not None and trials is None and not started.any() and np.isfinite(first_resource).all():
            break
    if trials is not None and trials > played:  # past the early trials each adds the share that climbs every rung
        trained = trained + (trials - played) * deck.share()
    return DeckRun(
        trained=float(trained.mean()),
        none=float(np.mean(trained == 0)),
        first_resource=_nine_in_ten(first_resource),
        first_trials=_nine_in_ten(first_trials),
    )


def _nine_in_ten(values: np.ndarray) -> float:
    """The value 9 runs in 10 stay within (``inf`` when more than a tenth never got there)."""
    return float(np.sort(values)[math.ceil(0.9 * len(values)) - 1])


class _BracketRungs:
    """The qualities of the trials that reached each rung of one bracket, in every simulated run."""

    def __init__(self, rungs: int, capacity: int) -> None:
        self.reached = [np.full((REPLICATES, capacity), np.inf) for _ in range(rungs)]
        self.count = [np.zeros(REPLICATES, dtype=int) for _ in range(rungs)]
        self.members = 0

    def play(self, quality: np.ndarray, levels: tuple[float, ...], deck: Deck) -> tuple[np.ndarray, np.ndarray]:
        """Run one more trial of this bracket: whether it trains fully, and where it stopped if not."""
        alive = np.ones(REPLICATES, dtype=bool)
        cost = np.zeros(REPLICATES)
        ranks: list[np.ndarray] = []
        for k, level in enumerate(levels):
            self.reached[k][:, self.members] = np.where(alive, quality, np.inf)
            self.count[k] = self.count[k] + alive
            reached = self.count[k]
            rank = np.sum(self.reached[k][:, : self.members] < quality[:, None], axis=1) + 1
            ranks.append(rank)
            keep = np.maximum(1, reached // deck.eta)
            goes_on = rank <= keep
            if deck.vouched:
                goes_on = np.where(reached >= deck.eta, goes_on, (rank == 1) & self._vouched(ranks, k, deck.eta))
            cost = np.where(alive & ~goes_on, level, cost)
            alive &= goes_on
        self.members += 1
        return alive, cost

    def _vouched(self, ranks: list[np.ndarray], k: int, eta: float) -> np.ndarray:
        """Whether the highest lower rung with enough trials ranks the trial in its top ``eta**-(climbed)``."""
        vouched = np.zeros(REPLICATES, dtype=bool)
        decided = np.zeros(REPLICATES, dtype=bool)
        for below in range(k - 1, -1, -1):
            keep = self.count[below] // eta ** (k - below + 1)
            here = ~decided & (keep >= 1)
            vouched |= here & (ranks[below] <= keep)
            decided |= here
        return vouched


def _synchronous(deck: Deck, trials: int | None, resource: float | None) -> DeckRun:
    """Synchronous halving: each full group of ``group`` trials trains its top ``group * eta**-rungs`` fully."""
    assert deck.group is not None
    levels = deck.brackets[0]
    kept = [max(1, int(deck.group // deck.eta**k)) for k in range(len(levels) + 1)]
    steps = [*levels, deck.max_resource]
    per_group = sum(n * (steps[k] - (steps[k - 1] if k else 0.0)) for k, n in enumerate(kept))
    groups = math.inf if trials is None else trials / deck.group
    if resource is not None:
        groups = min(groups, resource / per_group)
    trained = math.floor(groups) * kept[-1]
    return DeckRun(
        trained=float(trained),
        none=1.0 if trained == 0 else 0.0,
        first_resource=per_group,
        first_trials=float(deck.group),
    )
