"""How many configurations a rung scheduler trains to the full resource under a budget, by playing its deck.

A rung scheduler's share of configurations that go through every rung (``eta**-rungs``) holds once the rungs
are full. The first trials are the exception. Under ASHA's ``few_peers="best"`` the best of fewer than ``eta``
peers goes on, so the first trials train fully on the word of one or two peers (20 trials of ASHA over 27 steps
trained 2.3 to 3.7 on average in runs, where the share says 0.74). Under ``few_peers="vouched"`` (Hyperband's
brackets) such a trial goes on only when a lower rung vouches for it, so the first ones stop early and a few dozen
trials train far fewer than the share says (30 trials of Hyperband over 27 steps: 3 by the share, 0.7 in runs).
`simulate` plays the deck instead: trials one after another, dealt to brackets as the scheduler deals them, under
the scheduler's rules at each rung.

Its assumptions: configurations are drawn independently of each other, as random search draws them, and a trial's
standing at each rung is its quality plus noise of its own, so that two rungs rank trials with a correlation of
`RUNG_CORRELATION` (0.8): curves cross, and a first report made before much training ranks by chance. Measured
against the schedulers themselves on the simulated executor (random search, 20 to 40 seeds): ASHA over 27 steps
with 20 trials trained 2.3 where the first report was noise, 3.4 on crossing curves and 3.7 on curves that never
cross, against 2.8 modelled (3.8 with rungs that agree); Hyperband over 81 steps with 161 trials 3.0 and 3.7 on the
first and the last of those curves, against 3.1. A sampler that learns draws configurations that depend on the
earlier ones, which spreads the count wider: under the GP sampler, ASHA over 27 steps with 135 trials trained 13,
26, 6 and 74 (4-11 in 8 runs of 10 modelled), Hyperband over 81 steps with 288 trials 2 to 16, 5 or more in 7 runs
of 10 (5-10 in 8 runs of 10 modelled; under random search 3 to 12, 5 or more in 18 runs of 20). Parallel workers
change who is compared with whom.

Every budget is read from the same simulated runs (200, a fixed seed, each trial the same whatever the budget), so
the count a budget trains never falls as the budget grows, and `trials_for` and `resource_for` find the budget that
trains a number of configurations with the very runs `simulate` reads. A budget trains ``k`` when ``k`` or more
train fully in 9 runs of 10 (`SURE`): the average alone would promise 5 where half the runs train fewer. Past
`MAX_PLAYED` trials each further trial trains fully with the share's probability, independently (a binomial count
added to each run's).
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["SURE", "Deck", "DeckRun", "resource_for", "shown_short", "simulate", "trials_for"]

# Simulated runs of the deck (a fixed seed: the same deck and budget always give the same estimate).
REPLICATES = 200
# Trials played at most; past them each trial trains fully with the share's probability (`Deck.share`).
MAX_PLAYED = 400
# A budget trains k configurations fully when k or more train fully in this share of runs.
SURE = 0.9
# How alike two rungs rank the trials (the correlation of their standings): a trial's standing at a rung is its
# quality, weighted sqrt(RUNG_CORRELATION), plus noise of the rung's own.
RUNG_CORRELATION = 0.8
# Runs that must reach a count for a budget to train it (180 of 200; counted, so that no rounding moves it).
_RUNS_SURE = math.ceil(SURE * REPLICATES - 1e-9)


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

    def steady_cost(self) -> float:
        """The resource a trial spends on average once the rungs are full: ``eta**-k (1 - 1/eta)`` of them stop
        at rung ``k``, the share goes through every rung to ``max_resource``."""
        costs = []
        for b in self.order:
            levels = self.brackets[b]
            stopped = sum(self.eta**-k * (1.0 - 1.0 / self.eta) * level for k, level in enumerate(levels))
            costs.append(stopped + self.eta ** -len(levels) * self.max_resource)
        return sum(costs) / len(costs)


@dataclass(frozen=True)
class DeckRun:
    """What playing a deck under a budget gives, across the simulated runs.

    Attributes:
        trained: configurations trained to the full resource, on average over the runs.
        low: the count 9 runs in 10 reach or pass: a budget trains ``k`` (`SURE`) when ``low >= k``.
        high: the count 9 runs in 10 stay at or under (``low`` to ``high``: 8 runs in 10).
        none: the share of runs in which none is (the study then ends with no best).
    """

    trained: float
    low: int
    high: int
    none: float


# How far below `SURE` the runs' share must lie to show a budget short of it: the one-sided 95% point of that share's
# sampling noise over `REPLICATES` runs, were it `SURE` (0.035 for 200 runs).
_SHORT_BY = 1.6448536269514722 * math.sqrt(SURE * (1.0 - SURE) / REPLICATES)


def shown_short(deck: Deck, wanted: int, *, trials: int | None = None, resource: float | None = None,
                promoted: bool = False) -> bool:  # fmt: skip
    """Whether the simulated runs show that fewer than `SURE` of runs train ``wanted`` or more fully, beyond the noise
    of a share read from `REPLICATES` runs: a budget whose share lies within it of `SURE` is not shown short (the demo's
    60 trials read 0.880, 0.023 from 0.9 on a standard error of 0.021, and drew advice to run 61)."""
    counts = _Counts(_promoted(deck) if promoted else _played(deck), trials, resource)
    return counts.reaching(wanted) < SURE - _SHORT_BY


def simulate(deck: Deck, *, trials: int | None = None, resource: float | None = None,
             promoted: bool = False) -> DeckRun:  # fmt: skip
    """Play ``deck`` under a trial budget, a resource budget, or both (one trial at a time); ``promoted``: by
    promotion, as ASHA and Hyperband in promote mode play it (`_promoted`), instead of by stopping.

    Raises:
        ValueError: neither budget is given.
    """
    if trials is None and resource is None:
        raise ValueError("give a trial budget, a resource budget or both")
    if deck.group is not None:
        return _synchronous(deck, trials, resource)
    counts = _Counts(_promoted(deck) if promoted else _played(deck), trials, resource)
    return DeckRun(trained=counts.mean(), low=counts.low(), high=counts.high(), none=1.0 - counts.reaching(1))


def trials_for(deck: Deck, wanted: int, *, resource: float | None = None) -> int | None:
    """The smallest trial budget that trains ``wanted`` configurations fully in 9 runs of 10 (`SURE`), under
    ``resource`` too when given (``None``: that resource trains fewer whatever the trials)."""
    if deck.group is not None:
        if resource is not None and _synchronous(deck, None, resource).low < wanted:
            return None
        return int(_smallest(lambda n: _group_count(deck, int(n)) >= wanted, 0.0, whole=True))
    plays = _played(deck)
    if not _Counts(plays, None, resource).sure(wanted):
        return None
    within = _Counts(plays, MAX_PLAYED, resource).first_sure(wanted)
    if within is not None:
        return within
    return int(_smallest(lambda n: _Counts(plays, int(n), resource).sure(wanted), MAX_PLAYED, whole=True))


def resource_for(deck: Deck, wanted: int, *, trials: int | None = None, promoted: bool = False) -> float | None:
    """The smallest resource budget that trains ``wanted`` configurations fully in 9 runs of 10 (`SURE`), within
    ``trials`` too when given (``None``: those trials train fewer whatever the resource); rounded up (`_round_up`).
    ``promoted``: played by promotion (`_promoted`), which leaves out the promotions a spent trial budget makes of
    the trials still paused, so with ``trials`` it errs high."""
    if deck.group is not None:
        if trials is not None and _group_count(deck, trials) < wanted:
            return None
        kept, per_group = _group_sizes(deck)
        return _round_up(math.ceil(wanted / kept) * per_group)
    plays = _promoted(deck) if promoted else _played(deck)
    if not _Counts(plays, trials, None).sure(wanted):
        return None
    # None trains fully before the first full training's resource: the search starts short of it.
    start = deck.max_resource * (1.0 - 1e-9)
    return _round_up(_smallest(lambda r: _Counts(plays, trials, r).sure(wanted), start, whole=False))


def _smallest(sure: Callable[[float], bool], short: float, *, whole: bool) -> float:
    """The smallest budget past ``short`` (not ``sure``) that is ``sure``, ``sure`` being monotone: doubling,
    then halving the gap (to a whole trial, or to 0.1% of a resource)."""
    low, high = short, max(2.0 * short, 1.0)
    while not sure(high):
        low, high = high, 2.0 * high
    while high - low > (1.0 if whole else 1e-3 * high):
        middle = math.floor((low + high) / 2.0) if whole else (low + high) / 2.0
        low, high = (low, middle) if sure(middle) else (middle, high)
    return high


def _round_up(value: float) -> float:
    """``value`` rounded up to a whole unit, or below 100 to three significant digits (a budget advised is one a
    person types; never rounded down, which would advise a budget short of it)."""
    if value <= 0:
        return 0.0
    unit = 10.0 ** (math.floor(math.log10(value)) - 2)
    return float(math.ceil(value / unit) * unit) if unit < 1 else float(math.ceil(value))


@dataclass(frozen=True)
class _Plays:
    """The deck's first `MAX_PLAYED` trials in every simulated run, each run to its end (no budget).

    Attributes:
        full: whether trial ``j`` of run ``r`` trains fully (``REPLICATES x MAX_PLAYED``).
        before: the resource spent before trial ``j`` starts.
        spent: the resource all the played trials spend, per run.
    """

    full: np.ndarray
    before: np.ndarray
    spent: np.ndarray
    max_resource: float
    share: float
    steady_cost: float


@functools.lru_cache(maxsize=16)
def _played(deck: Deck) -> _Plays:
    """Play the deck's first `MAX_PLAYED` trials (cached: every budget reads the same runs)."""
    standing, dealt = _standings(deck)
    rungs = [_BracketRungs(len(levels), dealt.count(b)) for b, levels in enumerate(deck.brackets)]
    full = np.zeros((REPLICATES, MAX_PLAYED), dtype=bool)
    cost = np.zeros((REPLICATES, MAX_PLAYED))
    for j, bracket in enumerate(dealt):
        full[:, j], cost[:, j] = rungs[bracket].play(standing[:, :, j], deck.brackets[bracket], deck)
    cost[full] = deck.max_resource
    return _plays(deck, full, cost)


def _standings(deck: Deck) -> tuple[np.ndarray, list[int]]:
    """Each played trial's standing at each rung (rungs x runs x trials), the same whatever the budget (so no count
    falls as a budget grows), and the bracket each is dealt to."""
    rng = np.random.default_rng(0)
    depth = max((len(levels) for levels in deck.brackets), default=0)
    quality = rng.standard_normal((REPLICATES, MAX_PLAYED))
    own = rng.standard_normal((depth, REPLICATES, MAX_PLAYED))
    standing = math.sqrt(RUNG_CORRELATION) * quality + math.sqrt(1.0 - RUNG_CORRELATION) * own
    return standing, [deck.order[j % len(deck.order)] for j in range(MAX_PLAYED)]


def _plays(deck: Deck, full: np.ndarray, cost: np.ndarray) -> _Plays:
    """The plays of ``deck`` from whether each played trial trained fully and what it cost (runs x trials)."""
    spent = np.cumsum(cost, axis=1)
    before = spent - cost
    for array in (full, spent, before):
        array.flags.writeable = False
    return _Plays(full, before, spent[:, -1], deck.max_resource, deck.share(), deck.steady_cost())


@functools.lru_cache(maxsize=16)
def _promoted(deck: Deck) -> _Plays:
    """Play the first `MAX_PLAYED` trials of ``deck`` by promotion, one at a time, in every simulated run (cached:
    every budget reads the same runs, so the count never falls as the budget grows).

    In promote mode a trial pauses at each rung and is promoted once it ranks in the top ``n // eta`` of the ``n``
    trials that reached that rung. Trials run one at a time, so every rung is settled before the next trial
    arrives: all of its top ``n // eta`` were promoted. An arrival then makes at most one trial promotable: itself
    when it ranks in the top, else the trial at the top's last place when the top grew by one, if that one is
    still paused. The promoted trial arrives at the next rung, where the same holds; so each new trial sets off a
    chain that climbs one rung at a time, and a chain that ends at the full resource costs ``max_resource``
    exactly (its steps add up from 0 to it), as a trial trained fully in stop mode does. Column ``j`` of the plays
    is the chain the new trial ``j`` set off, which `_Counts` reads as it reads the stop mode's trials; past the
    played trials it counts each further trial fully trained with the share's probability at the steady cost,
    which promotion spends as stopping does (a trial left paused at rung ``k`` trained ``k``'s steps only).

    The trials' standings at each rung are the stop mode's (`_played`'s: the same seed, rungs
    that rank with correlation `RUNG_CORRELATION`). Measured against the schedulers in promote mode on the
    simulated executor (random search): ASHA(1, 27, 3) with a resource budget of 150 trained 2.0 (10 seeds),
    against 2.0 modelled (1-3 in 8 runs of 10); of 400, 6.5 on crossing curves and 7.0 on curves that never cross
    (20 seeds), against 6.1 (5-8); Hyperband(1, 27, 3) of 400, 7.4 and 7.5 against 7.2 (7-8); ASHA(1, 81, 3) of
    1000, 4.3 (12 seeds) against 4.4 (3-6). Two workers trained a little fewer: 1.6 of 150, 6.0 of 400.
    """
    standing, dealt = _standings(deck)
    full = np.zeros((REPLICATES, MAX_PLAYED), dtype=bool)
    cost = np.zeros((REPLICATES, MAX_PLAYED))
    for run in range(REPLICATES):
        at_rung = standing[:, run, :].tolist()
        # Per bracket and rung: (standing, trial) of the trials that reached it, best first, and those promoted.
        rungs: list[list[tuple[list[tuple[float, int]], set[int]]]] = [
            [([], set()) for _ in levels] for levels in deck.brackets
        ]
        for j, bracket in enumerate(dealt):
            levels = deck.brackets[bracket]
            trial, rung = j, 0
            while rung < len(levels):
                reached, promoted = rungs[bracket][rung]
                place = bisect.bisect(reached, (at_rung[rung][trial], trial))
                reached.insert(place, (at_rung[rung][trial], trial))
                top = int(len(reached) // deck.eta)
                if place >= top:
                    grew = top > int((len(reached) - 1) // deck.eta)
                    if not grew or reached[top - 1][1] in promoted:
                        break  # nothing to promote: the chain ends with this trial paused here
                    trial = reached[top - 1][1]
                promoted.add(trial)
                rung += 1
            full[run, j] = rung == len(levels)
            cost[run, j] = deck.max_resource if rung == len(levels) else levels[rung]
    return _plays(deck, full, cost)


class _Counts:
    """How many configurations each simulated run trains fully under a budget.

    Within the played trials, trial ``j`` counts when it trains fully and its full training fits in the resource
    left when it starts (the runs are the same for every budget, so a count never falls as a budget grows). Past
    them (``trials`` beyond `MAX_PLAYED`, or resource left after the played trials at their steady cost each),
    each further trial trains fully with the share's probability: a binomial count added to the run's.
    """

    def __init__(self, plays: _Plays, trials: int | None, resource: float | None) -> None:
        played = MAX_PLAYED if trials is None else min(trials, MAX_PLAYED)
        counted = plays.full[:, :played]
        if resource is not None:
            counted = counted & (plays.before[:, :played] + plays.max_resource <= resource)
        self.counted = counted
        self.base = counted.sum(axis=1)
        extra = np.full(REPLICATES, math.inf if trials is None else float(max(trials - MAX_PLAYED, 0)))
        if resource is not None:
            extra = np.minimum(extra, np.floor(np.maximum(resource - plays.spent, 0.0) / plays.steady_cost))
        self.extra = extra
        self.share = plays.share

    def mean(self) -> float:
        return float(np.mean(self.base + self.extra * self.share))

    def reaching(self, wanted: int) -> float:
        """The share of runs that train ``wanted`` or more fully."""
        from scipy.stats import binom  # imported on first use: keeps `import tunesmith` light

        finite = np.isfinite(self.extra)
        tail = binom.sf(wanted - 1 - self.base, np.where(finite, self.extra, 0.0), self.share)
        return float(np.mean(np.where(self.base >= wanted, 1.0, np.where(finite, tail, 1.0))))

    def sure(self, wanted: int) -> bool:
        """Whether 9 runs in 10 (`SURE`) train ``wanted`` or more fully."""
        return self.reaching(wanted) >= SURE - 1e-9

    def low(self) -> int:
        """The most that 9 runs in 10 train fully."""
        return _largest(self.sure, int(np.max(self.base + np.where(np.isfinite(self.extra), self.extra, 0.0))))

    def high(self) -> int:
        """The least that 9 runs in 10 do not pass."""
        top = int(np.max(self.base + np.where(np.isfinite(self.extra), self.extra, 0.0)))
        return _largest(lambda k: self.reaching(k) > 1.0 - SURE + 1e-9, top)

    def first_sure(self, wanted: int) -> int | None:
        """The fewest of the counted trials after which 9 runs in 10 have ``wanted`` (``None``: not within them)."""
        tally = np.cumsum(self.counted, axis=1)
        got = tally[:, -1] >= wanted
        after = np.where(got, np.argmax(tally >= wanted, axis=1) + 1, np.iinfo(np.int64).max)
        needed = int(np.sort(after)[_RUNS_SURE - 1])
        return None if needed == np.iinfo(np.int64).max else needed


def _largest(holds: Callable[[int], bool], top: int) -> int:
    """The largest ``k`` in ``0..top`` for which ``holds`` (true at 0, monotone), by halving."""
    low, high = 0, top
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if holds(middle) else (low, middle - 1)
    return low


class _BracketRungs:
    """The standings of the trials that reached each rung of one bracket, in every simulated run."""

    def __init__(self, rungs: int, capacity: int) -> None:
        self.reached = [np.full((REPLICATES, capacity), np.inf) for _ in range(rungs)]
        self.count = [np.zeros(REPLICATES, dtype=int) for _ in range(rungs)]
        self.members = 0

    def play(self, standing: np.ndarray, levels: tuple[float, ...], deck: Deck) -> tuple[np.ndarray, np.ndarray]:
        """Run one more trial of this bracket (``standing[k]``: its standing at rung ``k`` in every run, lower is
        better): whether it trains fully, and where it stopped if not."""
        alive = np.ones(REPLICATES, dtype=bool)
        cost = np.zeros(REPLICATES)
        ranks: list[np.ndarray] = []
        earlier = self.members
        for k, level in enumerate(levels):
            self.reached[k][:, earlier] = np.where(alive, standing[k], np.inf)
            self.count[k] = self.count[k] + alive
            rank = np.full(REPLICATES, earlier + 1)
            runs = np.flatnonzero(alive)  # only the runs in which the trial is still training are ranked
            rows = self.reached[k][:, :earlier] if len(runs) == REPLICATES else self.reached[k][runs, :earlier]
            rank[runs] = np.sum(rows < standing[k][runs, None], axis=1) + 1
            ranks.append(rank)
            reached = self.count[k]
            goes_on = rank <= np.maximum(1, reached // deck.eta)
            if deck.vouched:
                goes_on = np.where(reached >= deck.eta, goes_on, (rank == 1) & self._vouched(ranks, k, deck.eta))
            cost = np.where(alive & ~goes_on, level, cost)
            alive &= goes_on
            if not alive.any():
                break  # the higher rungs keep no place for it in any run
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


def _group_sizes(deck: Deck) -> tuple[int, float]:
    """Synchronous halving: how many of a full group train fully, and the resource a group spends."""
    assert deck.group is not None
    levels = deck.brackets[0]
    kept = [max(1, int(deck.group // deck.eta**k)) for k in range(len(levels) + 1)]
    steps = [*levels, deck.max_resource]
    per_group = sum(n * (steps[k] - (steps[k - 1] if k else 0.0)) for k, n in enumerate(kept))
    return kept[-1], per_group


def _group_count(deck: Deck, trials: int) -> int:
    """Synchronous halving under ``trials``: each full group trains its top ``group * eta**-rungs`` fully, and the
    last group, part full, is halved when the trial budget ends (its best trains fully)."""
    assert deck.group is not None
    kept, _ = _group_sizes(deck)
    groups, rest = divmod(trials, deck.group)
    for _ in deck.brackets[0]:
        rest = max(1, int(rest // deck.eta)) if rest else 0
    return groups * kept + rest


def _synchronous(deck: Deck, trials: int | None, resource: float | None) -> DeckRun:
    """Synchronous halving: each group of ``group`` trials trains its top ``group * eta**-rungs`` fully; a resource
    budget ends a group it cannot finish (its paused trials are stopped), a trial budget halves the last one."""
    assert deck.group is not None
    kept, per_group = _group_sizes(deck)
    counts = [] if trials is None else [_group_count(deck, trials)]
    if resource is not None:
        counts.append(math.floor(resource / per_group) * kept)
    trained = min(counts)
    return DeckRun(trained=float(trained), low=trained, high=trained, none=1.0 if trained == 0 else 0.0)
