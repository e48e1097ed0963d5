"""Functional-ANOVA importance of hyperparameters, read off a random forest.

The method is fANOVA (Hutter, Hoos and Leyton-Brown, 2014). A scikit-learn random forest is
fitted on the finished trials in the unit-cube encoding of the space. Each tree is a piecewise
constant function over axis-aligned boxes, so its variance over the search space (uniform in
the encoding, which is the samplers' prior) splits exactly into the variance of each
parameter's marginal (its *main effect*) and of each pair's marginal net of the two main
effects (their *interaction*). An importance is that variance as a fraction of the tree's
total. Every tree is fitted on its own bootstrap resample of the trials, so the spread of a
fraction across trees is its uncertainty across refits; the forest reports mean and standard
deviation. Beyond `MAX_TREE_TRIALS` trials a tree's resample draws that many of them, not all (see
there): the shares move by hundredths of a percentage point, and the forest costs 25-40% less.

The forest predicts each trial's rank among the trials by the metric (best first, ties sharing their mean rank),
not its value: a few blown-up but finite trials (losses of 2.5-30 against 0.3-2.5) held most of the values'
variance, so a forest that ordered every other trial well still predicted none of it out of bag, and studies whose
ranks followed one parameter (Spearman 0.98) withheld it (`_ranks`). So every variance below, the shares' and the
R²'s, is the variance of the ranks. A share of it is not the same share of the values': where b holds 5% of the
variance of 3a + 0.688b, it holds 4.6% of the variance of that metric's rank under the uniform measure, and 7.3% of
its rank among 80 trials that TPE crowded at low a (the ranks stretch where the trials crowd), with 10% more in an
a x b interaction the values lack.

The shares divide the part of the variation in the metric's ranks the parameters predict: the forest's out-of-bag
R² (each trial predicted by the trees that did not see it). On pure noise a forest of 10 trials still predicts
something out of bag in one study of nine, and its shares then rank noise; so the R² is tested against chance
(`ImportanceResult.chance`) and the shares are read only when chance is ruled out at `FOREST_ALPHA`, half of the
`ALPHA` it shares with the main effects' tests below (`ImportanceResult.shown`). The test is a permutation test: the
trials' ranks are dealt at random to the configurations `PERMUTATIONS` times, a smaller forest is fitted on each deal
and on the trials as they are, and chance is the share of deals (the trials' own counted) whose out-of-bag R² is at
least the trials' own. The deals stop early once one of them reaches the trials' own R² (and `_FEWEST_DEALS` were
fitted, for the deals' spread that `ImportanceResult.trials_to_show` reads): the p-value over all of them would then
exceed `FOREST_ALPHA` whatever the rest gave, so the decision is the one the full test makes, and a metric the
parameters do not predict costs half the deals. At 5% it held its level at any number of trials (300 pure-noise
studies each: 5.0% at 6 trials, 4.7% at 10), where
"R² above 0" alone passed 12% at 6 and 10. A one-sided bound from the trials' paired errors passed 7.7% at 6 trials,
and found an effect worth a quarter of the variance in 11% of studies of 40 trials, where this test finds it in 53%.
Those figures were measured on the values. Dealing ranks keeps the test exact (any deal of them is as likely under
chance), and on 600 pure-noise studies of 30-60 trials it showed importance in 3.0% (95% interval 1.8-4.7%), 2.0%
on the values; on 24 studies like the blown-up ones above it showed lr in all 24, 17 on the values.

Which parameters matter is decided per parameter, not read off the shares (`ImportanceResult.matters`): each
parameter's main effect is tested on its own (`MainEffectTest`, `_main_effect_tests`), by how far each trial's rank
among itself and the trials created after it lines up with a line and a parabola over the parameter's encoding (a
`Choice`: its options), against ranks dealt at random, with Holm's correction over the parameters tested. The forest's
test asks whether all the parameters together predict the ranks out of bag, and a parameter was named only when its
share led the next one over the trees: on 40 random trials of five parameters, one with a linear effect worth 20% of
the variance and four of noise, it showed importance with that parameter first in 9 studies of 40 and named it in 3
(30%: 18 and 7; a bowl-shaped effect worth 30%: 7 and 0). A forest on 40 trials fits noise in the four other
dimensions, and a lead over the trees carries the spread of their bootstraps. The main-effect test finds it in 20,
24 and 27 of the same studies. At 5%, on 24,000 pure-noise studies of 40 trials (a Float, a log Float, an Int, a
Choice, a conditional Float) it found some parameter in 5.2% (95% interval 4.9-5.5%: Holm's bound is 5%, as each
parameter's p-value read uniform over 20,000 studies); under TPE in 4.4% of 1,000, under the default sampler in 5.0%
of 400.

Either test releases a claim that something matters (`ImportanceResult.released`: the shares, a parameter found,
advice on where to spend the budget). Each at 5%, on pure noise they released one in 7.2% of 2,500 studies of 40
random trials of five parameters (95% interval 6.3-8.3%; the forest's alone in 2.7%, the main effects' in 5.3%) and
in 6.3% of 2,400 under the default sampler (5.4-7.3%). So they share `ALPHA` (Bonferroni): the forest's test is held
to `FOREST_ALPHA` (its R² must beat all 39 deals), the main effects' to `MAIN_EFFECT_ALPHA` with Holm's correction,
or to all of `ALPHA` in a study where the forest's test has shown importance, which passes its part on (a graphical
procedure: Bretz and others, 2009; on pure noise such a study has released a claim already). On the same studies a
claim is now released in 4.2% (3.4-5.0%) and 3.3% (2.7-4.1%). The price is power: on 200 studies of 40 random trials
with an effect of one parameter worth 20% or 30% of the variance, it is found in 68 and 120 (linear) and 58 and 119
(bowl-shaped), where at 5% each it was in 91, 134, 72 and 137; the forest shows importance in 36, 72, 27 and 37
(was 50, 85, 30 and 53); "tune a first" is said in 17, 41, 2 and 5 (was 18, 43, 2 and 5); a noise parameter is found
in 6, 7, 5 and 3 (was 10, 10, 12 and 9).

A small share is biased low, and its spread over trees does not show it: on 30 random trials, or on 80 that TPE
crowded near its optimum, an effect worth a tenth of the variance reads 1-5%. `ImportanceResult.planted_p` tests
whether a parameter's effect is below a given share by reading the share off data made like the trials but with an
effect of that size planted, which the same bias pulls down alike.

Conditional parameters: a trial in which a parameter is inactive has ``NaN`` in its
dimension. The dimension is extended below 0 by a segment whose share of the dimension equals
the share of trials in which the parameter is inactive, and inactive trials are placed in it.
The uniform measure over the extended dimension then weighs "inactive" as often as the
history shows it, and the tree can tell inactive from every active value.

Example:
    >>> result = importance(study.trials, study.space, study.metric)
    >>> result.ranking()[0]
    'lr'
"""

from __future__ import annotations

import copy
import itertools
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunesmith._attributes_judging import SeedStabilityAttr
from tunesmith._validate import integer
from tunesmith.analysis._common import FINAL_STATES, NotEnoughTrials, as_metric, finished_values
from tunesmith.analysis._edges import RangeEndTest, range_end_tests
from tunesmith.analysis._ranks import DEAL_BATCH, deals_for, holm, later_ranks, scaled_later_rank
from tunesmith.attributes import BaselineAttr, read_intact
from tunesmith.errors import ConfigError
from tunesmith.objective import STDERR, Metric
from tunesmith.space import Choice, Float, Int, Param, Space
from tunesmith.trial import TrialRecord, TrialState

# What `importance` advises when too few trials finished (`tunesmith.report` words it otherwise for a PBT population).
MORE_TRIALS = "run more trials first"

__all__ = [
    "ALPHA",
    "FOREST_ALPHA",
    "MAIN_EFFECT_ALPHA",
    "MAX_TREE_TRIALS",
    "MORE_TRIALS",
    "PERMUTATIONS",
    "ImportanceResult",
    "MainEffectTest",
    "ParamImportance",
    "SeedNoise",
    "SpreadBeyondNoise",
    "importance",
    "percent",
    "seed_noise_of",
]

# The stream (beside the importance seed) that draws the values inactive cells take (`_extend_inactive`).
_INACTIVE_STREAM = 0x1AC7

# Every claim importance makes that something matters is held to this level together (`ImportanceResult.released`):
# the forest's test and the main effects' tests may each release the advice, and each at 5% released a claim in
# 6.3-7.2% of pure-noise studies (see the module's docstring), so the two share it (Bonferroni) ...
ALPHA = 0.05
# ... the shares are read when chance gives an out-of-bag R² as high in at most this share of cases ...
FOREST_ALPHA = ALPHA / 2
# ... and the main effects are found at this level with Holm's correction, or at all of `ALPHA` once the forest's test
# has shown importance and passed its share on (a graphical procedure: Bretz and others, 2009).
MAIN_EFFECT_ALPHA = ALPHA - FOREST_ALPHA
# The forest's test is measured by this many deals of the trials' ranks to the configurations (p moves in steps of
# 1/40: at FOREST_ALPHA no deal may reach the trials' own R², which chance alone does in exactly 1 case of 40), each
# fitted by a forest of `_TEST_TREES` trees whose every tree sees at
# most `_TEST_SAMPLES` trials (the trials' own R² is measured by the same smaller forest, so the comparison is like
# for like), on at most `_TEST_TRIALS` of the trials drawn at random (an effect that 1,000 trials do not show is
# too small for the shares to rank): 39 deals cost about 0.7 s at 40 trials and 2 s from 1,000 on.
PERMUTATIONS = 39
_TEST_TREES = 16
_TEST_SAMPLES = 500
_TEST_TRIALS = 1000
# Roughly how far above the deals' mean, in their standard deviations, the trials' own R² must lie to beat all 39
# deals (the one-sided normal quantile of FOREST_ALPHA; the largest of 39 deals lies 2.1 above in half of cases):
# what `ImportanceResult.trials_to_show` aims at.
_SHOWN_SIGNAL = 1.96
# The fewest more trials `ImportanceResult.trials_to_show` asks for (fewer is no estimate).
_FEWEST_MORE = 5
# The permutation test stops early (a deal reaches the trials' own R²) only after this many deals: half of them,
# enough for the deals' spread that `ImportanceResult.trials_to_show` divides by.
_FEWEST_DEALS = 19

# Each tree's bootstrap draws at most this many trials (the default of `importance`'s ``max_tree_trials``). Measured
# against all the trials on the 10,000 of a study (lr 98.5%, dropout 1.3%): 4,000 moved each share by 0.013
# percentage points, under its spread over trees (0.023); 2,000 moved dropout by 0.066, three times its spread (a
# resample of fewer trials underrates a small effect). With noise in the metric (10,000 trials, five studies) 4,000
# moved the leading share (99.75%) by 0.036 points, four times its spread over trees (0.009; across studies 0.004):
# a bias, as a forest of fewer trials fits more of the noise, two hundredths of the 1-point resolution the shares
# are shown at. The forest costs 25-40% less at 10,000 trials, and so does each refit of `ImportanceResult.dropped`.
# Those figures were measured on the values; fitted on their ranks (`_ranks`), the first study reads lr 99.2% and
# dropout 0.46%, and 4,000 moves lr by 0.12 points (three times its spread over trees, 0.04) and dropout by 0.007:
# a tenth of the shown resolution.
MAX_TREE_TRIALS = 4000
# Up to this many trials `ImportanceResult.dropped` refits with all the forest's trees and compares with its
# out-of-bag prediction. Beyond it, a refit without the parameter has `_DROPPED_TREES` trees and is compared with
# the forest's first `_DROPPED_TREES` trees (the same bootstraps: same seed), like for like. Against 64 trees, on
# the two studies measured above (10,000 trials), on 2,000 trials of two objectives and on 6,000 trials with effects
# of 9.8%, 2.4% and none: the rise moved by at most 0.0034, under its standard error each time, and upwards where
# the parameter matters (fewer trees err more without it), so "little effect" is not said more often; a refit
# costs half.
_FULL_DROPPED_TRIALS = 1000
_DROPPED_TREES = 32
# `ImportanceResult.planted_p` reads a parameter's share against this many data sets planted with an effect of the
# share tested (one-sided p moves in steps of 1/20: the trials' own share must lie below every one to pass `ALPHA`),
# each fitted by the permutation test's smaller forest (`_TEST_TREES`, `_TEST_SAMPLES`, `_TEST_TRIALS`) ...
PLANTED = 19
# ... and this many points drawn uniformly over the space measure the variance of the other parameters' effects
# that the planted effect is a share of (its standard error: 4% of that variance, a fifth of a 5% share's width).
_UNIFORM_POINTS = 1024
# A planted data set's forest has this many trees, then this many, up to all `_TEST_TREES`: it stops growing once
# the trees it has settle whether its share reads above the trials' own (`_reads_above`) ...
_GROWTH = (1, 2, 4, 8, _TEST_TREES)
# ... with this much to spare, above the rounding of a mean of `_TEST_TREES` shares in [0, 1] (about 1e-15): the full
# forest's mean then reads above it too.
_ROUNDING = 1e-12
# Each parameter's main effect is tested on its own (`MainEffectTest`) by at least this many deals of the trials' ranks
# to the configurations (cheap: one product of matrices per deal, not a forest) ...
MAIN_EFFECT_DEALS = 999
# ... and by enough for Holm's strictest threshold to span ten steps of p (`_ranks.deals_for`), `_ranks.DEAL_BATCH` at a
# time.
# A basis column whose singular value is below this share of the largest adds nothing (a parameter with one value,
# options that never occur).
_BASIS_TOLERANCE = 1e-9
# An `Int` of fewer values has no range ends to test (`_has_ends`).
_FEWEST_VALUES = 4
# Seeds the main-effect tests' deals together with `importance`'s seed, as a stream apart from the forest test's.
_MAIN_EFFECT_STREAM = 0x6D61696E


@dataclass(frozen=True)
class ParamImportance:
    """The importance of one parameter (a main effect) or of a pair (their interaction).

    Attributes:
        params: one name, or two for a pair.
        mean: the mean over trees of the fraction of the variance of the metric's ranks explained.
        std: the standard deviation of that fraction over trees (fitted on bootstrap resamples).
        trees: the fraction in each tree, in tree order (the same order for every parameter, so two
            parameters compare tree by tree); not stored.
    """

    params: tuple[str, ...]
    mean: float
    std: float
    trees: tuple[float, ...] = field(default=(), compare=False, repr=False)

    @property
    def name(self) -> str:
        return " x ".join(self.params)

    def to_json(self) -> dict[str, Any]:
        return {"params": list(self.params), "mean": self.mean, "std": self.std}


@dataclass(frozen=True)
class SeedNoise:
    """How much training's seed moves a configuration's value on the same validation examples: the pooled variance of
    the runs of each configuration re-run across seeds (`seed_noise_of`), which per-example standard errors leave out.

    Attributes:
        variance: the pooled variance over seeds, one configuration's runs about their own mean.
        dof: its degrees of freedom (runs less configurations).
        configurations: how many configurations' runs it pools.
    """

    variance: float
    dof: int
    configurations: int

    def text(self) -> str:
        return (f"the seed's spread, sd {math.sqrt(self.variance):.3g} pooled over {self.configurations} "
                f"{'configuration' if self.configurations == 1 else 'configurations'} re-run across seeds")


def seed_noise_of(attrs: Mapping[str, Any], metric: str, *, primary: bool) -> SeedNoise | None:
    """The seed noise of ``metric`` that a study's re-runs measured (``None``: none measured it): each configuration
    `validate_top` re-ran (the baseline among them; the winner's confirmation runs with its own), else, for the
    study's ``primary`` metric, the baseline's runs (`evaluate_baseline`). Runs of one configuration share its
    parameters and the validation examples, so their spread is the seed's alone. A damaged attribute measures
    nothing here (the report notes its shape where it draws it)."""
    groups: list[Sequence[float]] = []
    stability = read_intact(attrs, SeedStabilityAttr)
    if stability is not None and stability.metric == metric:
        groups = [(*c.values, *(c.confirm_values or ())) for c in stability.candidates or ()]
    baseline = read_intact(attrs, BaselineAttr)
    if not groups and primary and baseline is not None and baseline.values:
        groups = [baseline.values]
    groups = [g for g in groups if len(g) >= 2 and all(math.isfinite(v) for v in g)]
    dof = sum(len(g) - 1 for g in groups)
    if not dof:
        return None
    squares = sum(float(np.sum((np.asarray(g, dtype=float) - np.mean(g)) ** 2)) for g in groups)
    return SeedNoise(squares / dof, dof, len(groups))


@dataclass(frozen=True)
class SpreadBeyondNoise:
    """Whether the trials' values spread more than the per-example noise stored with them allows (``stderr:<m>``):
    Cochran's heterogeneity test, the squared distances of the values from their precision-weighted mean in units
    of their own standard errors, against chi-square on ``trials - 1`` degrees of freedom.

    Configurations scored on the same validation examples share part of that noise, which moves them alike: their
    values then spread less than their standard errors say, so the test errs towards "within the noise", never the
    other way. But each trial trains with its own seed, and a per-example standard error leaves out how much the
    seed moves the value: on lr-digits (an MLP, 359 examples) the seed's spread was 3 times the per-example
    standard error, and 24 trials spread 6.5 times as much as those errors allowed (p = 1e-20), which the seed alone
    explained. So where re-runs measured the seed's noise (`seed_noise_of`), its variance is added to each trial's
    and the statistic is read against F on ``trials - 1`` and the seed variance's degrees of freedom (the variance is
    itself estimated); where none did, `text` says that the spread may be the seed's.

    Attributes:
        trials: the trials tested (those that store a standard error above 0).
        statistic: Cochran's Q.
        p_value: how often noise alone spreads the values as far (chi-square on ``trials - 1`` degrees of freedom,
            or F with the seed's noise).
        seed: the seed noise counted (``None``: none measured, so the per-example noise alone was).
    """

    trials: int
    statistic: float
    p_value: float
    seed: SeedNoise | None = None

    @property
    def exceeded(self) -> bool:
        """Whether the values differ beyond their stored noise at `ALPHA`."""
        return self.p_value <= ALPHA

    def text(self) -> str:
        ratio = self.statistic / (self.trials - 1)
        if self.seed is None:
            return (f"the values of {self.trials} trials vary {ratio:.1f} times as much as their per-example "
                    f"standard errors allow, p = {self.p_value:.2g} by a chi-square test of heterogeneity")  # fmt: skip
        return (f"the values of {self.trials} trials vary {ratio:.1f} times as much as their per-example standard "
                f"errors and {self.seed.text()} allow, p = {self.p_value:.2g} by an F test of "
                "heterogeneity")  # fmt: skip

    @classmethod
    def of(cls, records: Sequence[TrialRecord], values: np.ndarray, metric: str,
           seed: SeedNoise | None = None) -> SpreadBeyondNoise | None:  # fmt: skip
        """The test over the ``records`` (with their ``values`` of ``metric``) that store a standard error above 0,
        each trial's variance the square of its standard error plus ``seed``'s variance; ``None`` when fewer than 3
        store one. A standard error of 0 (every example scored alike) would weigh its trial without limit: such
        trials are left out, which can hide a difference but never invent one."""
        from scipy.stats import chi2, f

        errors = np.array([r.metrics.get(f"{STDERR}{metric}", math.nan) for r in records], dtype=float)
        usable = np.isfinite(errors) & (errors > 0.0)
        if usable.sum() < 3:
            return None
        weights = 1.0 / (errors[usable] ** 2 + (seed.variance if seed is not None else 0.0))
        kept = values[usable]
        centre = float(weights @ kept / weights.sum())
        statistic = float(weights @ (kept - centre) ** 2)
        trials = int(usable.sum())
        if seed is None or seed.variance == 0.0:  # none measured, or measured nil: the objective ignores the seed
            return cls(trials, statistic, float(chi2.sf(statistic, trials - 1)), seed)
        return cls(trials, statistic, float(f.sf(statistic / (trials - 1), trials - 1, seed.dof)), seed)


@dataclass(frozen=True)
class MainEffectTest:
    """Whether one parameter's main effect on the metric is beyond chance, read directly off the parameter, not off
    the forest (`_main_effect_tests`): how far each trial's rank among itself and the trials created after it lines
    up with a line and a parabola over the parameter's encoding (for a `Choice`, with its options), against ranks
    dealt at random, corrected by Holm's method for every parameter tested at ``level``, so that a study where no
    parameter matters finds one in at most ``level`` of cases whatever the sampler. The level is
    `MAIN_EFFECT_ALPHA`, or `ALPHA` where the forest's test showed importance (`ImportanceResult.shown`), so that
    the two tests together release a claim on pure noise in at most `ALPHA` of studies (`ImportanceResult.released`).

    Attributes:
        name: the parameter.
        statistic: the alignment, a sum of squares in units of its spread under chance (about the number of
            features, 2 for a numeric parameter, on average under chance).
        p_value: how often ranks dealt at random align as far: its p-value, for this parameter alone.
        adjusted: ``p_value`` adjusted by Holm's method for every parameter tested (at most 1).
        deals: the random deals it was read against (fewer than drawn once it could no longer be found).
        tested: how many parameters the correction counts.
        level: the level ``adjusted`` is held to.
    """

    name: str
    statistic: float
    p_value: float
    adjusted: float
    deals: int
    tested: int
    level: float = MAIN_EFFECT_ALPHA

    @property
    def found(self) -> bool:
        """Whether its main effect is beyond chance at ``level``, every parameter tested counted."""
        return self.adjusted <= self.level

    def text(self) -> str:
        """The evidence in words: ``p = 0.01 that chance alone makes lr's main effect as large, by 1999 random deals
        of each trial's rank among the trials after it, Holm over 5 parameters from p = 0.002; tested at 2.5%, ...``
        (`level_text`)."""
        over = "" if self.tested == 1 else f", Holm over {self.tested} parameters from p = {self.p_value:.2g}"
        return (f"p = {self.adjusted:.2g} that chance alone makes {self.name}'s main effect as large, by {self.deals} "
                f"random deals of each trial's rank among the trials after it{over}; {self.level_text()}")  # fmt: skip

    def level_text(self) -> str:
        """The level the test is held to, and why, in words."""
        if self.level >= ALPHA:
            return (f"tested at {self.level:.0%}: the forest's test showed importance and passed on its half of the "
                    f"{ALPHA:.0%} it shares with these")  # fmt: skip
        return f"tested at {self.level:.1%}, half of the {ALPHA:.0%} these share with the forest's test"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "statistic": self.statistic, "p_value": self.p_value, "adjusted": self.adjusted,
                "deals": self.deals, "tested": self.tested, "level": self.level, "found": self.found}  # fmt: skip


@dataclass(frozen=True)
class _TestFit:
    """The permutation test's smaller forest fitted on the trials as they are (all of them, or `_TEST_TRIALS` drawn
    at random: `_test_sample`): `_chance` sets its out-of-bag R² against the deals', and `ImportanceResult.planted_p`
    reads each parameter's share off it (``shares``, by column; ``None`` when every tree is constant) and draws its
    residuals from its out-of-bag errors. Fitted once for both: the planted test's forest on the same trials and
    bootstraps is the same forest."""

    x: np.ndarray
    y: np.ndarray
    forest: Any
    shares: tuple[float, ...] | None

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, lower: np.ndarray, seed: int, forest: Any = None) -> _TestFit:
        """The test's forest on ``x``, ``y``: ``forest`` when given (the same forest, fitted with another: see
        `_holds_test_forest`), else fitted here."""
        if forest is None:
            forest = _fit_forest(x, y, _TEST_TREES, seed, max_samples=_TEST_SAMPLES)
        trees = _partitions(forest.estimators_, lower)
        shares = tuple(_main_share(trees, column) for column in range(x.shape[1])) if trees else None
        return cls(x, y, forest, shares)


@dataclass(frozen=True)
class _Fit:
    """What `ImportanceResult.dropped` refits without one parameter: the forest's inputs, how each refit is made
    (``trees`` trees, ``seed``, bootstraps of at most ``max_samples`` trials) and the out-of-bag prediction of
    the forest made alike with every parameter, which each refit is compared with (``reference``); each
    dimension's lower end (below 0 where it holds inactive trials), which the uniform measure spans; and the
    permutation test's forest on the trials, which `ImportanceResult.planted_p` compares its planted data with.

    ``heads`` keeps, by parameter, the planted test's forest without it where a refit without it holds that forest
    as its first trees (`_holds_test_forest`): `ImportanceResult.dropped` fits it on its way, `planted_p` reads it
    rather than fitting it again (a memo of this fit's inputs: a result reads the same whichever runs first)."""

    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    reference: np.ndarray
    trees: int
    seed: int
    max_samples: int | None
    lower: np.ndarray
    test: _TestFit
    heads: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def percent(share: float) -> str:
    """A share of the variation in whole percent, or to a tenth where that rounds a positive share to "0%" (a forest
    whose R² of 0.004 read "predicts 0% of the variation" beside "an effect as large as this one")."""
    return f"{share:.1%}" if 0.0 < share < 0.005 else f"{share:.0%}"


def _at_least(more: int) -> str:
    """How `ImportanceResult.trials_to_show` is said: a floor, since the forest's reading of a small effect grows
    slower than the projection assumes (said as "about N more trials would show it", it came true 5-20% of the
    time)."""
    return f"at least {more} more trials, likely more, would be needed"


@dataclass(frozen=True)
class ImportanceResult:
    """Main effects (largest first), pair interactions (largest first) and how they were computed."""

    metric: str
    n_trials: int
    n_trees: int
    main: tuple[ParamImportance, ...]
    pairs: tuple[ParamImportance, ...]
    # The forest's out-of-bag R²: the share of the variation in the metric's ranks across trials that it predicts.
    explained: float | None = None
    # How often chance alone gives an out-of-bag R² as high: the permutation test's p-value (``None``: not measured).
    chance: float | None = None
    # The test forest's own R² above the deals' mean, in the deals' standard deviations (for `trials_to_show`).
    signal: float | None = None
    # The standard error of the out-of-bag R² over the trials (delta method).
    explained_error: float | None = None
    # How many deals of the trials' ranks the permutation test fitted (fewer than `PERMUTATIONS` when two
    # reached the trials' own R²: see the module's docstring).
    deals: int = PERMUTATIONS
    # Whether the values differ beyond the per-example noise stored with them (``None``: fewer than 3 store it).
    noise: SpreadBeyondNoise | None = None
    # Each parameter's main effect tested on its own against chance, Holm-corrected (`MainEffectTest`), smallest p
    # first; a parameter that never varied among the trials is not tested.
    effects: tuple[MainEffectTest, ...] = ()
    # Each end of each numeric parameter's range tested for a trend of the metric towards it (`_edges`), Holm-corrected
    # at `ALPHA` over the ends, smallest p first.
    ends: tuple[RangeEndTest, ...] = ()
    # What the forest was fitted on, for `dropped` (not stored, not compared).
    _fit: _Fit | None = field(default=None, compare=False, repr=False)

    def dropped(self, name: str) -> tuple[float, float] | None:
        """The share of the variance of the metric's ranks that the forest fails to predict out of bag once ``name``
        is left out of its inputs (the rise in out-of-bag squared error over the ranks' variance), and the standard
        error of that share from the trials' paired errors; ``None`` when it cannot be measured.

        A check of a small fANOVA share: a forest fitted on few trials gives a secondary effect too little of
        the variance (part of it shows up as spurious interactions), and the spread over trees misses that bias;
        a forest without the parameter that predicts as well shows it matters little. Beyond
        `_FULL_DROPPED_TRIALS` trials both forests have `_DROPPED_TREES` trees (see there). The rise is biased low
        too, on few trials and on trials crowded where the parameter barely varies; `planted_p` allows for that."""
        fit = self._fit
        if fit is None or name not in fit.names or len(fit.names) < 2:
            return None
        kept = [k for k, other in enumerate(fit.names) if other != name]
        if _holds_test_forest(len(fit.y), fit.trees, fit.max_samples):
            fit.heads[name], without = _fit_with_head(fit.x[:, kept], fit.y, fit.trees, fit.seed, fit.max_samples)
        else:
            without = _fit_forest(fit.x[:, kept], fit.y, fit.trees, fit.seed, max_samples=fit.max_samples)
        prediction = getattr(without, "oob_prediction_", None)
        if prediction is None:
            return None
        known = np.isfinite(prediction) & np.isfinite(fit.reference)
        variance = float(np.var(fit.y[known]))
        if known.sum() < 4 or variance == 0.0:
            return None
        rise = (fit.y[known] - prediction[known]) ** 2 - (fit.y[known] - fit.reference[known]) ** 2
        return float(rise.mean() / variance), float(rise.std(ddof=1) / np.sqrt(known.sum()) / variance)

    def planted_p(self, name: str, share: float) -> float | None:
        """How often data like the trials' but with an effect of ``name`` worth ``share`` of the variance read
        ``name``'s fANOVA share as no larger than the trials do: the one-sided p-value of "``name``'s effect is as
        large as ``share``" (``None`` when it cannot be measured).

        A forest's share of a secondary effect is biased low, the more so on few trials and on trials a model-based
        sampler crowded near its optimum (the uniform measure then weighs regions where the trees barely split on
        it): neither the spread over trees nor `dropped` sees that bias, and both read an effect of 10% as 1-5%.
        Here the bias is on both sides of the comparison. Each data set keeps the trials' configurations; its metric
        is what a forest without ``name`` predicts for each trial out of bag, plus an effect linear in ``name``'s
        encoding whose variance under the uniform measure is ``share`` of the whole, plus residuals drawn from the
        trials' own out-of-bag ones (scaled by `_noise_scale`; where that leaves them all 0, each data set is the
        noiseless one on its own bootstrap resample of the trials, so p is still a share of distinct reads). Its
        forest is fitted as the trials' own is: the
        permutation test's smaller forest, on the same trials and bootstraps, grown only until its first trees settle
        whether it reads the share above the trials' (`_reads_above`). `PLANTED` data sets at most: the test stops at
        the first whose share reads as small, past `ALPHA` whatever the rest give."""
        fit = self._fit
        if fit is None or name not in fit.names or len(fit.names) < 2 or not 0.0 < share < 1.0:
            return None
        # The stream that drew the test's trials, drawn on from there: each parameter's test draws alike.
        _, rng = _test_sample(len(fit.y), fit.seed)
        x, y = fit.test.x, fit.test.y
        column = fit.names.index(name)
        made = _planted_data(fit.test, column, fit.lower, share, fit.seed, rng, fit.heads.get(name))
        if made is None:
            return None
        signal, residual, seen = made
        # Where `_noise_scale` leaves no room for noise (a forest predicts the planted signal alone as badly as the
        # trials: usual on a metric without noise, frequent on few trials), the residuals are all 0 and noise would
        # make every data set the same one, p then 0 or 1 on one forest's read. What still varies without noise is
        # which configurations were tried: each data set is then the signal on its own bootstrap resample of the
        # trials. A forest seed drawn per data set varies the trees alone, and on 80 TPE trials with an effect of
        # exactly `share` left "little effect" said in 2 of 22 such studies (bootstraps: 0 of 22); bootstraps hold
        # fewer distinct trials, so the planted share reads lower and the test errs towards "not little".
        noiseless = not np.any(residual)
        reached = 0  # data sets whose share reads no larger than the trials' own, or cannot be read
        sets = 0
        # A data set drawn again is fitted by the same forest: it reads as it did.
        last: tuple[np.ndarray, bool] | None = None
        while sets < PLANTED:
            if noiseless:
                drawn = rng.integers(len(y), size=len(y))
                above = _reads_above(x[drawn], signal[drawn], fit.seed, fit.lower, column, seen)
            else:
                metric = signal + rng.choice(residual, len(y))
                if last is None or not np.array_equal(metric, last[0]):
                    last = metric, _reads_above(x, metric, fit.seed, fit.lower, column, seen)
                above = last[1]
            sets += 1
            if not above:
                reached += 1
            if (1 + reached) / (PLANTED + 1) > ALPHA:  # the full test's decision is settled
                break
        return (1 + reached) / (sets + 1)

    @property
    def explains_nothing(self) -> bool:
        """Whether the parameters predict none of the variation in the metric's ranks for a trial the forest did
        not see (out-of-bag R² at most 0): the shares then divide noise among the parameters."""
        return self.explained is not None and self.explained <= 0.0

    @property
    def shown(self) -> bool:
        """Whether the trials show that the parameters predict the metric beyond chance (out-of-bag R² above 0,
        and chance gives one as high in at most `FOREST_ALPHA` of cases): only then do the shares say which
        matter."""
        return _shown(self.explained, self.chance)

    @property
    def matters(self) -> tuple[str, ...]:
        """The parameters whose main effect on the metric's ranks is shown beyond chance (`MainEffectTest.found`),
        the most certain first: what the trials show to matter, each claim held to its test's level across the
        parameters (`MainEffectTest.level`)."""
        return tuple(test.name for test in self.effects if test.found)

    @property
    def released(self) -> bool:
        """Whether the trials show that something matters: the forest's test shows importance (`shown`) or some
        parameter's main effect is found (`matters`). Either releases a claim (the shares, a parameter found, advice
        on where to spend the budget), and on pure noise, whatever the sampler, the two together do so in at most
        `ALPHA` of studies: the forest's test is held to `FOREST_ALPHA` and the main effects' to the rest
        (`MAIN_EFFECT_ALPHA`), or to all of `ALPHA` in a study where the forest's test has shown importance (on pure
        noise such a study has released a claim already; where something matters, Holm at `ALPHA` holds the
        chance of finding a parameter without effect to `ALPHA`)."""
        return self.shown or bool(self.matters)

    def effect(self, name: str) -> MainEffectTest | None:
        """The test of ``name``'s main effect (``None``: not tested, as it never varied among the trials)."""
        return next((test for test in self.effects if test.name == name), None)

    def trials_to_show(self) -> int | None:
        """A floor on how many more trials would show an effect as large as the one seen: the trials' own R² lies
        `signal` standard deviations above the deals' mean, a distance that would grow as the square root of the
        trials were the forest's reading of the effect sure; ``None`` when it lies at or below that mean (no effect
        seen). It is not sure: continued by this many trials, studies of a real effect showed it 5-20% of the time
        (one to two parameters of four, 15 to 40 trials first), so it is said as a floor (`_at_least`)."""
        if self.signal is None or self.signal <= 0.0:
            return None
        needed = self.n_trials * (_SHOWN_SIGNAL / self.signal) ** 2
        return max(_FEWEST_MORE, math.ceil(needed - self.n_trials))

    def explained_note(self) -> str | None:
        """What the shares rest on, in words (``None`` when unknown)."""
        if self.explained is None:
            return None
        if self.shown:
            spread = "" if self.explained_error is None else f", standard error {self.explained_error:.0%}"
            return (
                f"the parameters predict {percent(self.explained)} of the variation in the ranks of {self.metric!r} "
                f"across trials (out-of-bag R²{spread}; {self._chance_text()}); the shares divide that part"
                f"{'; ' + self._found_text() if self.matters else ''}"
            )
        if self.matters:
            unshown = self._unshown_reason()
            return f"{self._found_text()}; the forest's shares are not yet shown beyond chance: {unshown}"
        return f"the trials do not yet show which parameters matter: {self._unshown_reason()}"

    def _found_text(self) -> str:
        """The main effects shown beyond chance (`matters`, at least one), in words."""
        found = [test for test in self.effects if test.found]
        names = " and ".join(test.name for test in found)
        said = "main effect of" if len(found) == 1 else "main effects of"
        verb = "is" if len(found) == 1 else "are"
        evidence = "; ".join(test.text() for test in found)
        return f"the {said} {names} on the ranks of {self.metric!r} {verb} beyond chance ({evidence})"

    def _chance_text(self) -> str:
        if self.chance is None:
            return "not tested against chance"
        return (f"p = {self.chance:.2g} that chance alone predicts as well, by forests fitted on {self.deals} "
                f"random deals of these ranks to the configurations, tested at {FOREST_ALPHA:.1%}, half of the "
                f"{ALPHA:.0%} it shares with the main effects' tests")  # fmt: skip

    def _unshown_reason(self) -> str:
        assert self.explained is not None
        differ = self.noise is not None and self.noise.exceeded
        if self.explains_nothing:
            seen = (
                f"the parameters predict none of the variation in the ranks of {self.metric!r} across these "
                f"{self.n_trials} trials (out-of-bag R² {self.explained:.2f})"
            )
            if self.matters:
                # A main effect found is an effect: the forest on these trials fits too much noise to predict it.
                return f"{seen}: the shares may rank noise, and more trials would let the forest predict the effect"
            if not differ:
                seen += ": the shares divide noise, not effects"
        else:
            seen = (
                f"the parameters predict {percent(self.explained)} of the variation in the ranks of "
                f"{self.metric!r} out of bag, but no more than chance would ({self._chance_text()}): the shares may "
                "rank noise"
            )
        more = None if self.explains_nothing else self.trials_to_show()
        if self.matters:
            if more is not None and more <= 10 * self.n_trials:
                return f"{seen}; {_at_least(more)} to show it"
            return seen
        if more is None and differ:
            # The stored noise shows real differences: the parameters (or their interplay) cause them, but a forest
            # on these trials cannot yet say which, so nothing here bounds the effects' size.
            assert self.noise is not None
            if self.noise.seed is None:
                # Per-example errors leave the seed out: the spread may be the seed's, which more trials never
                # attribute to parameters.
                return (f"{seen}; yet the values differ beyond their per-example noise ({self.noise.text()}), which "
                        "leaves out how much training's seed moves them: if the configurations differ, the "
                        f"{self.n_trials} trials cannot yet attribute the differences to parameters, and more "
                        f"trials would (try {self.n_trials} more: twice the trials); if the seed does, no number "
                        "of trials would: re-running a few configurations across seeds (ts.validate_top) tells "
                        "which")  # fmt: skip
            return (f"{seen}; yet the configurations do differ beyond their noise ({self.noise.text()}): the "
                    f"{self.n_trials} trials cannot yet attribute the differences to parameters, and more trials "
                    f"would (try {self.n_trials} more: twice the trials)")  # fmt: skip
        if more is None:
            return (f"{seen}; no effect shows at all yet: any effect the parameters have is too small for "
                    f"{self.n_trials} trials to show, and at least {self.n_trials} more (twice the trials) would be "
                    "needed")  # fmt: skip
        if more > 10 * self.n_trials:
            return f"{seen}; an effect as large as this one would need more than {10 * self.n_trials} more trials"
        return f"{seen}; {_at_least(more)} to show an effect as large as this one"

    def ranking(self) -> list[str]:
        """Parameter names, most important first."""
        return [p.params[0] for p in self.main]

    def of(self, name: str) -> ParamImportance:
        """The main effect of ``name``."""
        for item in self.main:
            if item.params == (name,):
                return item
        raise ConfigError(f"no importance for parameter {name!r}: the analysed parameters are {self.ranking()}")

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "n_trials": self.n_trials,
            "n_trees": self.n_trees,
            "main": [p.to_json() for p in self.main],
            "pairs": [p.to_json() for p in self.pairs],
            "explained": self.explained,
            "chance": self.chance,
            "shown": self.shown,
            "effects": [test.to_json() for test in self.effects],
            "matters": list(self.matters),
        }


def importance(
    records: Iterable[TrialRecord],
    space: Space,
    metric: Metric | str,
    *,
    n_trees: int = 64,
    pairs: bool = True,
    max_pair_params: int = 8,
    seed: int = 0,
    states: frozenset[TrialState] = FINAL_STATES,
    max_tree_trials: int | None = MAX_TREE_TRIALS,
    seed_noise: SeedNoise | None = None,
) -> ImportanceResult:
    """The fANOVA importance of each parameter and pair for ``metric`` over finished trials.

    Args:
        records: the study's trials; valid ones (not invalidated) in ``states`` with a finite metric are used.
        space: the study's space (its `Space.encode` gives the forest's inputs).
        metric: the metric to explain: the forest predicts each trial's rank by it, best first by its direction
            (which changes no share: variance is sign-free).
        n_trees: trees in the forest; more trees, tighter uncertainty.
        pairs: whether to compute pair interactions.
        max_pair_params: pairs are computed among this many most important parameters.
        seed: the forest's random state.
        states: which trial states count as finished evaluations.
        max_tree_trials: each tree's bootstrap draws at most this many trials (``None``: as many as there are);
            the default moves the shares by hundredths of a percentage point (see `MAX_TREE_TRIALS`).
        seed_noise: how much the seed moves the metric's values of these ``records`` (`seed_noise_of` reads it off
            a study's re-runs), counted when testing whether the values differ beyond their noise; ``None``: not
            measured, and the note says that the spread may be the seed's.

    Returns:
        The importances, largest first, as shares of the variance of the metric's ranks (`_ranks`).

    Raises:
        NotEnoughTrials: fewer than 4 usable trials, or a metric that never varies.
    """
    metric_ = as_metric(metric)
    integer("n_trees", n_trees, minimum=2, fix="use the default 64")
    integer("max_tree_trials", max_tree_trials, minimum=4, allow_none=True,
            fix=f"use the default {MAX_TREE_TRIALS}, or None for every trial")  # fmt: skip
    kept, y = finished_values(records, metric_, states)
    dims = space.dimensions
    if len(kept) < 4:
        raise NotEnoughTrials(
            f"importance needs at least 4 finished trials with a finite {metric_.name!r}, got {len(kept)}: "
            f"{MORE_TRIALS}"
        )
    if not dims:
        raise NotEnoughTrials("importance needs a space with at least one varying parameter, got only Fixed ones")
    if float(np.ptp(y)) == 0.0:
        raise NotEnoughTrials(
            f"{metric_.name!r} has the same value ({y[0]:g}) in all {len(kept)} trials: nothing to explain"
        )
    noise = SpreadBeyondNoise.of(kept, y, metric_.name, seed_noise)  # on the values as measured, before ranking
    y = _ranks(y, metric_)
    encoded = np.vstack([space.encode(r.params) for r in kept])
    x, lower, used = _extend_inactive(encoded, seed)
    drawn, rng = _test_sample(len(y), seed)
    head = None  # the permutation test's forest on the trials, where the forest holds it as its first trees
    if _holds_test_forest(len(y), n_trees, max_tree_trials):
        head, forest = _fit_with_head(x, y, n_trees, seed, max_tree_trials)
    else:
        forest = _fit_forest(x, y, n_trees, seed, max_samples=max_tree_trials)
    names = [dims[i] for i in used]
    trees = _partitions(forest.estimators_, lower)
    if not trees:
        raise NotEnoughTrials(f"no tree found any variation in {metric_.name!r}: run more (or more varied) trials")
    mains = np.vstack([tree.main_effects() / tree.total for tree in trees])
    main_items = [
        ParamImportance((name,), float(mains[:, k].mean()), float(mains[:, k].std()), tuple(mains[:, k].tolist()))
        for k, name in enumerate(names)
    ]
    pair_items: list[ParamImportance] = []
    if pairs and len(names) >= 2:
        top = sorted(np.argsort(-mains.mean(axis=0))[: max(2, max_pair_params)].tolist())
        pair_index = list(itertools.combinations(top, 2))
        fractions = np.vstack(
            [tree.interactions(pair_index, main) / tree.total for tree, main in zip(trees, mains, strict=True)]
        )
        pair_items = [
            ParamImportance((names[i], names[j]), float(fractions[:, k].mean()), float(fractions[:, k].std()))
            for k, (i, j) in enumerate(pair_index)
        ]
    main_items += [ParamImportance((name,), 0.0, 0.0) for i, name in enumerate(dims) if i not in used]
    oob = np.asarray(getattr(forest, "oob_prediction_", np.full(len(y), np.nan)))
    test = _TestFit.of(x, y, lower, seed, head) if drawn is None else _TestFit.of(x[drawn], y[drawn], lower, seed)
    chance, signal, deals = _chance(test, seed, rng)
    explained = _out_of_bag_r2(forest, y)
    options = [len(param.options) if isinstance(param := space[dims[i]], Choice) else None for i in used]
    created = np.argsort([record.number for record in kept], kind="stable")  # later ranks read the trials in order
    # The forest's test passes its part of ALPHA on to the main effects' once it has shown importance.
    level = ALPHA if _shown(explained, chance) else MAIN_EFFECT_ALPHA
    effects = _main_effect_tests(encoded[created][:, used], y[created], names, options, seed, level)
    with_ends = [_has_ends(space[name]) for name in names]
    ends = range_end_tests(encoded[created][:, used], y[created], names, with_ends, seed, ALPHA)
    # Refits without a parameter (`ImportanceResult.dropped`) are compared like for like with the forest's first
    # trees, as many as a refit has.
    refit_trees = n_trees if len(y) <= _FULL_DROPPED_TRIALS else min(n_trees, _DROPPED_TREES)
    reference = oob if refit_trees == n_trees else _first_trees_oob(forest, x, refit_trees)
    return ImportanceResult(
        metric=metric_.name,
        n_trials=len(kept),
        n_trees=len(trees),
        main=tuple(sorted(main_items, key=lambda p: -p.mean)),
        pairs=tuple(sorted(pair_items, key=lambda p: -p.mean)),
        explained=explained,
        chance=chance,
        signal=signal,
        explained_error=_r2_error(y, oob),
        deals=deals,
        noise=noise,
        effects=effects,
        ends=ends,
        _fit=_Fit(x, y, tuple(names), reference, refit_trees, seed, max_tree_trials, lower, test),
    )


def _has_ends(param: Param) -> bool:
    """Whether a parameter's range has ends worth widening: a `Float`, or an `Int` of at least `_FEWEST_VALUES`
    values (a flag of two or three values has no "beyond")."""
    return isinstance(param, Float) or (isinstance(param, Int) and param.cardinality() >= _FEWEST_VALUES)


def _ranks(values: np.ndarray, metric: Metric) -> np.ndarray:
    """Each value's rank among ``values``, best first by ``metric``'s direction (ties share their mean rank), scaled
    to [-1, 1]: what the forest and its test are fitted on.

    On the values themselves a few blown-up but finite trials (losses of 2.5-30 against 0.3-2.5 elsewhere) held
    most of the variance: a forest that ordered the rest well still predicted -5% of it out of bag, and 7 studies of
    24 withheld an effect whose ranks follow one parameter (Spearman 0.98; on ranks, none of the 24). A rank moves
    by at most one place per trial however far its value lies, and is bounded whatever the unit, so values near the
    float limit (1e300) no longer overflow the trees' variances into NaN shares either. Variance is sign-free, so
    the order only says which end is best."""
    from scipy.stats import rankdata

    ranks = rankdata(values if metric.direction == "min" else -values, method="average")
    middle = (len(values) + 1) / 2.0
    return (ranks - middle) / (middle - 1.0)


def _shown(explained: float | None, chance: float | None) -> bool:
    """Whether a forest's out-of-bag R² is above 0 and its permutation test's p-value at most `FOREST_ALPHA`."""
    return explained is not None and explained > 0.0 and chance is not None and chance <= FOREST_ALPHA


def _out_of_bag_r2(forest: Any, y: np.ndarray) -> float | None:
    """R² of each trial's prediction by the trees whose bootstrap left it out (``None`` when too few were)."""
    prediction = getattr(forest, "oob_prediction_", None)
    if prediction is None:
        return None
    known = np.isfinite(prediction)
    if known.sum() < 4:
        return None
    residual = float(np.sum((y[known] - prediction[known]) ** 2))
    total = float(np.sum((y[known] - y[known].mean()) ** 2))
    return None if total == 0.0 else 1.0 - residual / total


def _r2_error(y: np.ndarray, oob: np.ndarray) -> float | None:
    """The standard error of the out-of-bag R² over the trials: R² is one less the ratio of the mean out-of-bag
    squared error to the mean squared deviation, whose error follows by the delta method (``None`` when too few
    trials were predicted)."""
    known = np.isfinite(oob)
    if known.sum() < 4:
        return None
    deviation = (y[known] - y[known].mean()) ** 2
    error = (y[known] - oob[known]) ** 2
    scale = float(deviation.mean())
    if scale == 0.0:
        return None
    ratio = float(error.mean()) / scale
    return float(np.std(error - ratio * deviation, ddof=1) / np.sqrt(known.sum()) / scale)


def _test_sample(n: int, seed: int) -> tuple[np.ndarray | None, np.random.Generator]:
    """Which of ``n`` trials the permutation test's forests are fitted on (``None``: all of them; else
    `_TEST_TRIALS` drawn at random), and the generator that drew them, for the draws that follow."""
    rng = np.random.default_rng(seed)
    return (rng.choice(n, _TEST_TRIALS, replace=False) if n > _TEST_TRIALS else None), rng


def _chance(test: _TestFit, seed: int, rng: np.random.Generator) -> tuple[float | None, float | None, int]:
    """The permutation test of the out-of-bag R² (see the module's docstring) of ``test``'s forest, its deals drawn
    by ``rng``: its p-value, how far the trials' own R² lies above the deals' mean in their standard deviations
    (``None``s: not measured), and the deals fitted."""
    x, y = test.x, test.y
    own = _out_of_bag_r2(test.forest, y)
    if own is None:
        return None, None, 0
    known: list[float] = []
    reached = 0  # deals whose R² is at least the trials' own, or cannot be measured
    deals = 0
    while deals < PERMUTATIONS:
        # Every forest draws the same bootstraps (one seed): deals differ only in which value each trial holds.
        dealt = _test_r2(x, y[rng.permutation(len(y))], seed)
        deals += 1
        if dealt is None or dealt >= own:
            reached += 1
        if dealt is not None:
            known.append(dealt)
        # Past FOREST_ALPHA over all the deals whatever the rest give: the full test's decision is settled.
        if deals >= _FEWEST_DEALS and (1 + reached) / (PERMUTATIONS + 1) > FOREST_ALPHA:
            break
    p_value = (1 + reached) / (deals + 1)
    spread = float(np.std(known)) if len(known) > 1 else 0.0
    return p_value, None if spread == 0.0 else float((own - np.mean(known)) / spread), deals


def _main_effect_tests(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    options: Sequence[int | None],
    seed: int,
    level: float = MAIN_EFFECT_ALPHA,
) -> tuple[MainEffectTest, ...]:
    """Each parameter's main effect on ``y`` tested against chance at ``level`` (`MainEffectTest`), smallest p-value
    first.

    Args:
        x: the trials' encoded configurations in the order they were created (by number), ``NaN`` where a parameter
            is inactive, one column per name.
        y: their metric's ranks, in the same order.
        names: the parameters.
        options: each parameter's number of options for a `Choice`, ``None`` for a numeric one.
        seed: seeds the draws of the null distribution.
        level: the chance of finding some parameter without effect that Holm's correction allows.

    Each trial's metric is read by its rank among itself and the trials created after it (`later_ranks`), and a
    parameter's statistic is how far these ranks line up with its features (`_main_effect_features`), whitened by
    their variance under chance: a chi-square-like sum of squares with one term per feature. Under chance that rank
    is uniform and independent of the trial's configuration whatever the sampler, since the sampler chose the
    configuration before the trial and every later one ran; so the null distribution is drawn exactly by dealing
    each trial a rank uniformly at random, for every parameter at once. (Dealing the trials' own ranks to the
    configurations assumes that the configurations do not depend on the results, which TPE and the GP break: on
    pure noise that test found some parameter in 6.2% of 1,000 studies of 40 TPE trials and 8.5% of 400 under the
    default sampler; this one in 4.4% and 5.0%, both at 5%.) Holm's correction then holds the chance of finding any
    parameter without effect to ``level``. A parameter stops counting draws once its p-value over all of them would
    exceed ``level`` whatever the rest give (Holm's largest threshold): the decision is the full test's."""
    ranks, variance = later_ranks(y)
    whitened = [_whiten(_main_effect_features(x[:, k], options[k]), variance) for k in range(x.shape[1])]
    tested = [k for k, features in enumerate(whitened) if features.shape[1] > 0]
    if not tested:
        return ()
    stacked = np.hstack([whitened[k] for k in tested])
    starts = np.cumsum([0] + [whitened[k].shape[1] for k in tested[:-1]])
    own = np.add.reduceat((ranks @ stacked) ** 2, starts)
    drawn = deals_for(len(tested), level, MAIN_EFFECT_DEALS)
    later = np.arange(len(y), 0, -1)  # how many trials each one is ranked among
    rng = np.random.default_rng([seed, _MAIN_EFFECT_STREAM])  # apart from the forest test's stream
    reached = np.zeros(len(tested), dtype=int)  # draws explaining at least as much as the trials' own ranks
    counted = np.zeros(len(tested), dtype=int)
    open_ = np.ones(len(tested), dtype=bool)  # still able to be found
    while counted.max() < drawn and open_.any():
        batch = min(DEAL_BATCH, drawn - int(counted.max()))
        dealt = scaled_later_rank(np.floor(rng.random((batch, len(y))) * later) + 1.0, later)
        statistic = np.add.reduceat((dealt @ stacked) ** 2, starts, axis=1)
        reached += open_ * (statistic >= own - _ROUNDING * np.maximum(1.0, own)).sum(axis=0)
        counted += open_ * batch
        open_ &= (1 + reached) / (drawn + 1) <= level
    p_values = (1 + reached) / (counted + 1)
    adjusted = holm(p_values)
    tests = [
        MainEffectTest(
            names[k], float(own[i]), float(p_values[i]), float(adjusted[i]), int(counted[i]), len(tested), level
        )
        for i, k in enumerate(tested)
    ]
    return tuple(sorted(tests, key=lambda test: (test.adjusted, test.p_value, -test.statistic)))










def _main_effect_features(column: np.ndarray, options: int | None) -> np.ndarray:
    """The features of one parameter whose alignment with the trials' later ranks `_main_effect_tests` reads
    (``column``: its encoded values, ``NaN`` where inactive), one column each; none when it never varied.

    Each is a function of the trial's own configuration and of those created before it, never of later ones, which
    may depend on the trial's result. For a numeric parameter, a line and a parabola over its encoding (Legendre's
    first two polynomials: 0 on average under the uniform prior), so an optimum inside the range shows: with the line
    alone, a bowl-shaped effect worth 20% of the variance was found in 3% of studies of 40 trials. For a `Choice`,
    whether the trial took each option but the last, less that option's prior share. Every feature is 0 where the
    parameter is inactive: whether it is active is its parents' effect, tested with them (a child read as inactive
    against active was found wherever its parent's other options did better)."""
    active = np.isfinite(column)
    if len(np.unique(column[active])) < 2:
        return np.zeros((len(column), 0))
    features: list[np.ndarray] = []
    if options is not None:
        chosen = np.minimum(np.floor(np.where(active, column, 0.0) * options), options - 1)
        features += [np.where(active, (chosen == k) - 1.0 / options, 0.0) for k in range(options - 1)]
    else:
        centred = np.where(active, 2.0 * column - 1.0, 0.0)
        features += [centred, np.where(active, 1.5 * centred**2 - 0.5, 0.0)]
    return np.column_stack(features)


def _whiten(features: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """``features`` turned into columns whose sums weighted by independent values of the given ``variance`` are
    uncorrelated with variance 1, so that a statistic's squared sums count each direction alike; directions the
    trials never vary along are dropped."""
    if features.shape[1] == 0:
        return features
    covariance = features.T @ (features * variance[:, None])
    eigenvalues, vectors = np.linalg.eigh(covariance)
    keep = eigenvalues > _BASIS_TOLERANCE * max(float(eigenvalues.max()), 0.0)
    if not keep.any():
        return features[:, :0]
    return features @ (vectors[:, keep] / np.sqrt(eigenvalues[keep]))




def _test_r2(x: np.ndarray, y: np.ndarray, seed: int) -> float | None:
    """The out-of-bag R² of the permutation test's smaller forest (``None`` when it cannot be measured)."""
    return _out_of_bag_r2(_fit_forest(x, y, _TEST_TREES, seed, max_samples=_TEST_SAMPLES), y)


def _planted_data(
    test: _TestFit,
    column: int,
    lower: np.ndarray,
    share: float,
    seed: int,
    rng: np.random.Generator,
    without: Any = None,
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """For `ImportanceResult.planted_p`: each of ``test``'s trials' metric without noise in a world where ``column``
    has an effect worth ``share`` of the variance, the residuals to draw its noise from, and ``column``'s share as
    the trials' own forest reads it (``None`` when something cannot be measured). ``without``: the test's forest
    fitted without ``column`` when one is at hand (`_Fit.heads`), else fitted here."""
    x, y, own = test.x, test.y, test.forest
    kept = [k for k in range(x.shape[1]) if k != column]
    if without is None:
        without = _fit_forest(x[:, kept], y, _TEST_TREES, seed, max_samples=_TEST_SAMPLES)
    residual = y - np.asarray(own.oob_prediction_)
    residual = residual[np.isfinite(residual)]
    others = np.asarray(without.oob_prediction_)
    if not np.isfinite(others).all():  # the forest's own predictions are read only where these are missing
        others = np.where(np.isfinite(others), others, without.predict(x[:, kept]))
    uniform = lower + (1.0 - lower) * rng.random((_UNIFORM_POINTS, len(lower)))
    variance = float(np.var(without.predict(uniform[:, kept])))  # of the other parameters' effects
    seen = None if test.shares is None else test.shares[column]
    if len(residual) < 4 or variance == 0.0 or seen is None:
        return None
    # Linear over the dimension [lower, 1] of width w, an effect of slope k has variance (k w)² / 12; its share of
    # the whole is then share when that variance is share / (1 - share) of the others'.
    width = 1.0 - float(lower[column])
    slope = math.sqrt(12.0 * variance * share / (1.0 - share)) / width
    signal = others + slope * (x[:, column] - (1.0 - width / 2.0))
    return signal, residual * _noise_scale(x, y, signal, residual, own, seed), seen


def _noise_scale(x: np.ndarray, y: np.ndarray, signal: np.ndarray, residual: np.ndarray, own: Any, seed: int) -> float:
    """What the residuals are multiplied by so that a forest predicts ``signal`` plus them out of bag as well as
    ``own`` predicts ``y``: out-of-bag residuals hold the forest's own misfit as well as noise, and the misfit of
    ``signal`` comes on top of them."""
    fitted = _oob_error(_fit_forest(x, signal, _TEST_TREES, seed, max_samples=_TEST_SAMPLES), signal)
    target = _oob_error(own, y)
    spread = float(np.mean(residual**2))
    if fitted is None or target is None or spread == 0.0:
        return 1.0
    return math.sqrt(max(0.0, target - fitted) / spread)


def _oob_error(forest: Any, y: np.ndarray) -> float | None:
    prediction = np.asarray(forest.oob_prediction_)
    known = np.isfinite(prediction)
    return float(np.mean((y[known] - prediction[known]) ** 2)) if known.sum() >= 4 else None


def _partitions(estimators: Iterable[Any], lower: np.ndarray) -> list[_TreePartition]:
    """The fitted trees (a forest's ``estimators_``) that are not constant, as partitions of the search space."""
    length = 1.0 - lower
    trees = (_TreePartition.of(estimator.tree_, lower, length) for estimator in estimators)
    return [tree for tree in trees if tree is not None]


def _main_share(trees: Sequence[_TreePartition], column: int) -> float:
    """The mean over ``trees`` (at least one) of ``column``'s main effect as a share of the tree's variance."""
    return float(np.mean([tree.main_effect(column) / tree.total for tree in trees]))


def _reads_above(x: np.ndarray, y: np.ndarray, seed: int, lower: np.ndarray, column: int, seen: float) -> bool:
    """Whether the permutation test's smaller forest fitted on ``x``, ``y`` reads ``column``'s main share
    (`_main_share`) above ``seen`` (not when every tree is constant), for `ImportanceResult.planted_p`.

    The forest grows `_GROWTH` trees at a time and stops once the trees it has settle the answer: a share is at
    least 0, so the mean over all `_TEST_TREES` trees is at least the sum of the shares read so far over the most
    trees that may vary. A forest grown on (``warm_start``) has the trees a single fit of all of them has (scikit-learn
    draws their seeds, and so their bootstraps, alike), so the answer is the full forest's: where the trials read a
    share far below the planted one's (5% against 1% on 5,000 trials) the first 1-4 trees of each data set settle it.
    """
    forest = _forest(len(y), _GROWTH[0], seed, _TEST_SAMPLES, oob=False, warm_start=True)
    shares: list[float] = []
    for trees in _GROWTH:
        fitted = len(getattr(forest, "estimators_", ()))
        forest.set_params(n_estimators=trees)
        _fit(forest, x, y)
        shares += [tree.main_effect(column) / tree.total for tree in _partitions(forest.estimators_[fitted:], lower)]
        if shares and sum(shares) / (len(shares) + _TEST_TREES - trees) > seen + _ROUNDING:
            return True
    return bool(shares) and float(np.mean(shares)) > seen  # `_main_share` over every tree


def _first_trees_oob(forest: Any, x: np.ndarray, trees: int) -> np.ndarray:
    """The out-of-bag prediction of the forest's first ``trees`` trees: each trial predicted by those among them
    whose bootstrap left it out (``NaN`` where none did)."""
    total = np.zeros(len(x))
    count = np.zeros(len(x))
    for tree, drawn in zip(forest.estimators_[:trees], forest.estimators_samples_[:trees], strict=True):
        left_out = np.ones(len(x), dtype=bool)
        left_out[drawn] = False
        total[left_out] += tree.predict(x[left_out])
        count[left_out] += 1
    return np.divide(total, count, out=np.full(len(x), np.nan), where=count > 0)


def _extend_inactive(x: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Fill inactive (NaN) cells and return the inputs, each dimension's lower end (0: the unit range) and the used
    columns (those active in some trial).

    An inactive cell takes a value drawn uniformly over the parameter's range (from ``seed``), so that it tells the
    trees nothing. Filled with a value of its own below the range, it told them exactly what the parent that
    switches the parameter off says (momentum is inactive where the optimizer is adam), and a child took its
    parent's importance: the trees split on either alike, the forest gave each about half, and the two read as
    indistinguishable "until more trials" that could never tell them apart. Drawn, the child's share is what it
    explains where it is active (diluted by the trials where it is not), and the parent keeps its own."""
    inactive = np.isnan(x)
    used = [i for i in range(x.shape[1]) if not inactive[:, i].all()]
    x, inactive = x[:, used], inactive[:, used]
    drawn = np.random.default_rng([seed, _INACTIVE_STREAM]).random(x.shape)
    return np.where(inactive, drawn, x), np.zeros(len(used)), used


def _fit_forest(
    x: np.ndarray, y: np.ndarray, n_trees: int, seed: int, max_samples: int | None = None, oob: bool = True
) -> Any:
    forest = _forest(len(y), n_trees, seed, max_samples, oob)
    _fit(forest, x, y)
    return forest


def _holds_test_forest(n: int, n_trees: int, max_samples: int | None) -> bool:
    """Whether a forest of ``n_trees`` trees on all ``n`` trials, bootstraps of at most ``max_samples``, holds as its
    first `_TEST_TREES` trees the permutation test's smaller forest on the same inputs and seed: the test's forest
    sees every trial (up to `_TEST_TRIALS`, `_test_sample`), both draw bootstraps of as many trials (which sets the
    leaf size too, `_forest`), and scikit-learn draws each tree's seed, and so its bootstrap, in turn, so a
    forest's first trees are those a forest of fewer trees has."""
    return n <= _TEST_TRIALS and n_trees > _TEST_TREES and _drawn(n, max_samples) == _drawn(n, _TEST_SAMPLES)


def _fit_with_head(x: np.ndarray, y: np.ndarray, n_trees: int, seed: int, max_samples: int | None) -> tuple[Any, Any]:
    """The permutation test's smaller forest on ``x``, ``y`` and the forest of ``n_trees`` trees that `_fit_forest`
    fits, where the second holds the first as its first trees (`_holds_test_forest`): those `_TEST_TREES` trees are
    fitted once, as a forest of their own (kept as a copy), and the larger forest grows on from them (``warm_start``).
    Both read exactly as when fitted apart: the same trees, out-of-bag predictions and predictions."""
    forest = _forest(len(y), _TEST_TREES, seed, max_samples, oob=True, warm_start=True)
    _fit(forest, x, y)
    head = copy.deepcopy(forest)
    forest.set_params(n_estimators=n_trees)
    _fit(forest, x, y)
    return head, forest


def _drawn(n: int, max_samples: int | None) -> int:
    """How many of ``n`` trials each tree's bootstrap draws with ``max_samples`` (all of them when ``None``)."""
    return n if max_samples is None else min(n, max_samples)


def _forest(n: int, n_trees: int, seed: int, max_samples: int | None, oob: bool, warm_start: bool = False) -> Any:
    """The random forest `importance` fits on ``n`` trials, not fitted yet (with ``warm_start``, each fit after
    the first keeps the trees it has and adds those up to ``n_estimators``)."""
    from sklearn.ensemble import RandomForestRegressor

    # Each tree's bootstrap draws ``max_samples`` trials (all of them by default).
    drawn = _drawn(n, max_samples)
    # Leaves of a few trials each keep the partition (and so the decomposition) small for
    # thousands of trials, at no cost in what the forest can tell apart.
    min_leaf = max(1, drawn // 1000)
    return RandomForestRegressor(
        n_estimators=n_trees,
        min_samples_leaf=min_leaf,
        max_features=1.0,
        bootstrap=True,
        oob_score=oob,  # out-of-bag predictions: how much of the variation the parameters really predict
        random_state=seed,
        n_jobs=1,
        max_samples=None if drawn == n else drawn,
        warm_start=warm_start,
    )


def _fit(forest: Any, x: np.ndarray, y: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a trial in every bootstrap has no out-of-bag prediction
        forest.fit(x, y)


def _leaf_boxes(tree: Any, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each leaf's box (``lo``, ``hi``; one row per leaf) and predicted value, within ``[lower, upper]``."""
    left, right = tree.children_left, tree.children_right
    feature, threshold = tree.feature, tree.threshold
    n = tree.node_count
    lo = np.tile(lower, (n, 1))
    hi = np.tile(upper, (n, 1))
    frontier = np.array([0])
    while frontier.size:  # one pass per depth level: sklearn stores children after their parent
        internal = frontier[left[frontier] != -1]
        if not internal.size:
            break
        f, t = feature[internal], threshold[internal]
        lc, rc = left[internal], right[internal]
        for child in (lc, rc):
            lo[child] = lo[internal]
            hi[child] = hi[internal]
        hi[lc, f] = np.minimum(hi[lc, f], t)
        lo[rc, f] = np.maximum(lo[rc, f], t)
        frontier = np.concatenate([lc, rc])
    leaves = left == -1
    return np.clip(lo[leaves], lower, upper), np.clip(hi[leaves], lower, upper), tree.value[leaves, 0, 0]


@dataclass(frozen=True)
class _TreePartition:
    """One tree as boxes with values, normalised so that the search space has volume 1."""

    lo: np.ndarray
    hi: np.ndarray
    width: np.ndarray
    weighted: np.ndarray  # value * volume of each leaf
    length: np.ndarray
    mean: float
    total: float

    @classmethod
    def of(cls, tree: Any, lower: np.ndarray, length: np.ndarray) -> _TreePartition | None:
        """The partition of a fitted sklearn tree, or ``None`` when the tree is constant."""
        lo, hi, values = _leaf_boxes(tree, lower, np.ones_like(lower))
        width = (hi - lo) / length
        keep = np.all(width > 0, axis=1)
        lo, hi, values, width = lo[keep], hi[keep], values[keep], width[keep]
        volume = np.prod(width, axis=1)
        mean = float(volume @ values)
        total = float(volume @ (values * values)) - mean * mean
        if total <= 1e-12 * max(1.0, mean * mean):
            return None
        return cls(lo, hi, width, values * volume, length, mean, total)

    def main_effects(self) -> np.ndarray:
        """The variance of each dimension's marginal."""
        return np.array([self.main_effect(i) for i in range(self.lo.shape[1])])

    def main_effect(self, i: int) -> float:
        """The variance of dimension ``i``'s marginal."""
        height = self.weighted / self.width[:, i]
        return max(0.0, _marginal_variance_1d(self.lo[:, i], self.hi[:, i], height, float(self.length[i]), self.mean))

    def interactions(self, pair_index: Sequence[tuple[int, int]], main_fraction: np.ndarray) -> np.ndarray:
        """The variance of each pair's marginal net of both main effects."""
        main = main_fraction * self.total
        out = []
        for i, j in pair_index:
            joint = _marginal_variance_2d(
                (self.lo[:, i], self.hi[:, i], float(self.length[i])),
                (self.lo[:, j], self.hi[:, j], float(self.length[j])),
                self.weighted / (self.width[:, i] * self.width[:, j]),
                self.mean,
            )
            out.append(max(0.0, joint - main[i] - main[j]))
        return np.array(out)


def _marginal_variance_1d(lo: np.ndarray, hi: np.ndarray, height: np.ndarray, length: float, mean: float) -> float:
    """Variance of the step function ``sum_leaf height * 1[lo <= x < hi]`` over a dimension of ``length``."""
    points = np.unique(np.concatenate([lo, hi]))
    k = len(points)
    steps = np.bincount(np.searchsorted(points, lo), weights=height, minlength=k)
    steps -= np.bincount(np.searchsorted(points, hi), weights=height, minlength=k)
    marginal = np.cumsum(steps)[:-1]
    segment = np.diff(points) / length
    return float(segment @ (marginal * marginal)) - mean * mean


def _marginal_variance_2d(
    first: tuple[np.ndarray, np.ndarray, float],
    second: tuple[np.ndarray, np.ndarray, float],
    height: np.ndarray,
    mean: float,
) -> float:
    """Variance of the two-dimensional marginal, a step function over the grid of both dimensions' cuts."""
    (lo_a, hi_a, len_a), (lo_b, hi_b, len_b) = first, second
    points_a = np.unique(np.concatenate([lo_a, hi_a]))
    points_b = np.unique(np.concatenate([lo_b, hi_b]))
    ka, kb = len(points_a), len(points_b)
    ia_lo, ia_hi = np.searchsorted(points_a, lo_a), np.searchsorted(points_a, hi_a)
    ib_lo, ib_hi = np.searchsorted(points_b, lo_b), np.searchsorted(points_b, hi_b)
    corners = np.concatenate([ia_lo * kb + ib_lo, ia_hi * kb + ib_lo, ia_lo * kb + ib_hi, ia_hi * kb + ib_hi])
    signs = np.concatenate([height, -height, -height, height])
    grid = np.bincount(corners, weights=signs, minlength=ka * kb).reshape(ka, kb)
    marginal = np.cumsum(np.cumsum(grid, axis=0), axis=1)[:-1, :-1]
    area = np.outer(np.diff(points_a) / len_a, np.diff(points_b) / len_b)
    return float(np.sum(area * marginal * marginal)) - mean * mean
