"""Whether the metric improves towards an end of a numeric parameter's range: a sign that better configurations
may lie beyond it, so that the range, not the search, limits the result.

A range set too narrow is a common way for a search to go wrong quietly: the best trials crowd against a bound and
the study reports the bound as the answer. The best trial lying near a bound is no evidence of it on its own: with
five parameters, the best of 40 random trials lies in the outer tenth of some parameter's range in two studies of
three by chance. So each end of each numeric parameter is tested (`range_end_tests`), one-sided: how far the trials'
ranks by the metric improve the nearer that end they lie (the sum of the products of rank and position, both
centred: Spearman's correlation, on the parameter's encoding, its log for a log range), against the trials' ranks
dealt to their configurations at random, with Holm's correction over every end tested. A trial where the parameter
is inactive is left out of its test.

Dealing the ranks assumes the configurations do not depend on the results, which a model-based sampler breaks: it
crowds trials where early ones did well, by luck too. The exact alternative, each trial's rank among the trials
created after it dealt at random (`importance._main_effect_tests`), compares a trial with the later ones only, and a
search that has closed in on an end compares its crowded trials with each other: on an XGBoost study of 42 trials
whose loss fell with the learning rate over its whole range (Spearman -0.92, 36 trials in the top tenth of a log
range) it found the high end at p = 0.9 (on the line over the range) or 0.26 (each trial's position centred on the
trials created up to it), where dealing the ranks finds it at p = 0.005 after Holm over six ends.
Dealing the ranks is exact under random sampling: on pure noise it found some end in 4.4% of 2,000 studies of 40
uniform trials of four parameters (eight ends). Under a model-based sampler it runs a little over its level: 5.8% of
400 studies of 40 trials of five parameters, four of them numeric, under the default sampler (95% interval 3.7-8.5%),
5.0% of 400 under TPE.

A trend is not yet an optimum at the end: a bowl whose bottom lies at 0.7 of the range improves towards the high end
too. So the advice (`_advice.range_end_advice`) also asks that the best trial lie at that end: its value at the bound,
or in the tenth of the range nearest it (`AT_THE_END`).
On the same pure noise the advice was given in 3.5% of the default sampler's studies, 2.8% of TPE's and 1.1% of
the random ones. Where the metric falls linearly towards the high end of one of four parameters (by 1 over the range,
against noise of 0.3; 40 trials), it is given in 48 of 60 studies under the default sampler and 250 of 500 random
ones (the end is found in 58 and 498: the best random trial lies elsewhere half the time). For a bowl whose bottom
lies at 0.7 of the range it is given in 2 of 60 and 38 of 500; at 0.85, in 16 of 60 and 144 of 500, where a wider
range costs a few trials and finds the bottom inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.analysis._ranks import DEAL_BATCH, deals_for, holm

__all__ = ["AT_THE_END", "END_DEALS", "RangeEndTest", "range_end_tests"]

# The advice on a range end asks that the best trial lie this near it: within this share of the range (in the
# parameter's encoding), or at the bound itself.
AT_THE_END = 0.1

# Each end is tested by at least this many deals of the trials' ranks, and by enough for Holm's strictest threshold
# to span ten steps of p (`_ranks.deals_for`), `_ranks.DEAL_BATCH` at a time.
END_DEALS = 999
# A deal's statistic within this share of the trials' own counts as reaching it (the same sum in another order).
_ROUNDING = 1e-12
# Seeds the deals together with `importance`'s seed, as a stream apart from its other tests'.
_END_STREAM = 0x656467


@dataclass(frozen=True)
class RangeEndTest:
    """The test of one end of a numeric parameter's range: whether the trials rank better the nearer that end they
    lie, beyond chance (see the module's docstring)."""

    name: str
    # "low" or "high".
    end: str
    # How far the trials' ranks improve towards the end: the sum over the trials of how near the end each lies (from
    # -1 at the other end to 1 at this one, less the trials' mean) times how far its rank beats the middle one.
    statistic: float
    # The share of deals (the trials' own counted) whose statistic is at least the trials' own.
    p_value: float
    # Holm's adjustment over every end tested.
    adjusted: float
    deals: int
    # How many ends were tested together.
    family: int
    level: float

    @property
    def found(self) -> bool:
        """Whether the trend towards this end is beyond chance at the level, counting every end tested."""
        return self.adjusted <= self.level

    def describe(self, metric: str) -> str:
        """The evidence, in a clause: the p-value, how it was drawn and what it was tested at."""
        holm_ = f", Holm over {self.family} range ends from p = {self.p_value:.2g}" if self.family > 1 else ""
        return (
            f"p = {self.adjusted:.2g} that chance alone ranks the trials by {metric} as much in order of nearness to "
            f"that end, by {self.deals} random deals of their ranks to their configurations{holm_}; tested at "
            f"{self.level:.0%}"
        )


def range_end_tests(
    x: np.ndarray, y: np.ndarray, names: Sequence[str], tested: Sequence[bool], seed: int, level: float
) -> tuple[RangeEndTest, ...]:
    """Both ends of each parameter marked in ``tested`` tested at ``level`` with Holm's correction over them all
    (`RangeEndTest`), smallest adjusted p-value first.

    Args:
        x: the trials' encoded configurations, ``NaN`` where a parameter is inactive, one column per name.
        y: their metric's values or ranks in the same order, best lowest.
        names: the parameters.
        tested: which parameters' ranges have ends to test (numeric ones with enough values).
        seed: seeds the deals.
        level: the chance of naming some end without a trend that Holm's correction allows.

    A parameter's ends are tested only where the trials take at least two of its values."""
    from scipy.stats import rankdata  # imported on first use: the commands that read a study back load no scipy

    drawn = deals_for(2 * sum(tested), level, END_DEALS)
    ends: list[tuple[str, str, float, int, int]] = []  # name, end, statistic, deals reaching it, deals drawn
    for k, name in enumerate(names):
        u = x[:, k]
        active = np.isfinite(u)
        if not tested[k] or len(np.unique(u[active])) < 2 or len(np.unique(y[active])) < 2:
            continue
        line = 2.0 * u[active] - 1.0  # -1 at the low end, 1 at the high end
        line -= line.mean()
        ranks = rankdata(y[active])
        ranks -= ranks.mean()
        own = -float(ranks @ line)  # towards the high end; a better trial has a lower rank
        rng = np.random.default_rng([seed, _END_STREAM, k])
        for end, sign in (("low", -1.0), ("high", 1.0)):
            reached, counted = _deal(ranks, sign * line, sign * own, drawn, level, rng)
            ends.append((name, end, sign * own, reached, counted))
    if not ends:
        return ()
    p_values = np.array([(1 + reached) / (counted + 1) for *_, reached, counted in ends])
    adjusted = holm(p_values)
    found = [
        RangeEndTest(name, end, own, float(p_values[i]), float(adjusted[i]), counted, len(ends), level)
        for i, (name, end, own, _, counted) in enumerate(ends)
    ]
    return tuple(sorted(found, key=lambda test: (test.adjusted, test.p_value, -test.statistic)))


def _deal(
    ranks: np.ndarray, nearness: np.ndarray, own: float, drawn: int, level: float, rng: np.random.Generator
) -> tuple[int, int]:
    """How many of ``drawn`` deals of the trials' ``ranks`` to their configurations line up with ``nearness`` at
    least as well as the trials' own (``own``), and how many were dealt: the deals stop once the p-value over all of
    them would exceed ``level`` whatever the rest give (Holm's largest threshold), which leaves the decision the full
    test's."""
    reached = counted = 0
    while counted < drawn and (1 + reached) / (drawn + 1) <= level:
        batch = min(DEAL_BATCH, drawn - counted)
        dealt = rng.permuted(np.broadcast_to(ranks, (batch, len(ranks))), axis=1)
        reached += int((-(dealt @ nearness) >= own - _ROUNDING * max(1.0, abs(own))).sum())
        counted += batch
    return reached, counted
