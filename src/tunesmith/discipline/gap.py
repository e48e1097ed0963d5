"""The holdout-gap test: is the holdout worse than the validation score by more than noise explains?

The gap compares the validation score that *selected* the configuration (the search's value, where
the selection bias lives) with its holdout score. Bounded scores are compared in points: a metric with a declared
scale (`Metric.scale`: 1 for a fraction, 100 for a percentage) in points of that scale, and, without one, a name
that says a bounded score whose values all lie in its range (accuracy, AUC, an error rate in [0, 1]; a correlation,
Cohen's kappa or MCC in [-1, 1]; R^2 at most 1); other metrics (a mean squared error too, whatever its values)
relative to the validation score. A relative gap means nothing when the validation score is near zero (its 95%
interval reaches zero, or validation and holdout lie on both sides of zero): the test is then undecided and says
how much more data would bring it clear of zero for a loss never negative (a log loss, an RMSE: no scale), else to
declare the metric's scale (`near_zero`). The gap is judged against the practical threshold (the guide's 2%), the
burden of proof on a failure: it is flagged only when its one-sided 95% lower bound is beyond the threshold (it
exceeds the threshold by more than the noise of both sides explains), passes as decided when its upper bound is
within it, and is undecided in between (tested against zero instead, a true gap of 1.5 points against 2, on 1,000
examples a side, was flagged in 27% of studies; now 2.5%); an undecided gap leans, so that the winner is not shown
ready, only when its lower bound is above zero and its estimate beyond the threshold (a gap is shown, its size
undecided). The noise comes from
per-example results (``stderr:<metric>``, written when an objective returns one value per example) or per-fold
results (``fold:<i>:<metric>``); without either the test says it cannot tell and does not fail. A true gap exactly
at the limit is flagged in at most 5% of studies, up to the jitter of whole counts, and the detail names the test
that read it (`_spread_of_difference`): right-or-wrong examples by the score test at the limit (300 validation
examples at 0.95 or 0.80 against 30 to 1,000 holdout examples: 4.7-5.3%, where pooling both sides' spread flagged
8.9% on 30 holdout examples at 0.95 and 7.0% on 100), other values by Student's t on each side's degrees of
freedom (k - 1 for k folds: on 3 folds 4.0-4.9%, where the normal flagged 8.0-11%). A holdout that gives one
number is not taken to be as noisy as validation: a 40-row holdout read so against 300 rows of validation in 5
folds failed 23-24% of studies with no gap (RMSE, 400 studies; 4% with the holdout's own standard error), so the
test is then undecided, never failed (0% of those studies), and says what would measure the holdout's noise
(`_measure_holdout`).

A holdout is data the search never saw. One whose result is the chosen trial's validation result itself (the same
per-example values in the same order, by their fingerprint, ``digest:<metric>``, where independent sets of such
values would not match element by element by chance: `_same_values`; or the same mean of as many per-example
values, with the same standard error, a tie that independent sets do not meet by chance: `_same_result`) is the
validation set, and fails the test as decided. A holdout better than validation
less the optimism selection explains is not flagged on that alone: honest holdouts read so beyond noise in up to
6.8% of studies (the estimate overstates what choosing flattered when one configuration dominates), and a holdout
of right-or-wrong values that is the validation set read so in none of 1,000 (the optimism, about 3.8 points on 300
examples, never clears the noise of the difference).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tunesmith._noise import Noise, noise_of, point_unit
from tunesmith.discipline.conventions import holdout_keys
from tunesmith.objective import STDERR, Metric, digest_level, digest_of, name_words, reads_as_unbounded_loss

__all__ = [
    "Z_ONE_SIDED_95",
    "GapTest",
    "Noise",
    "bootstrapped",
    "computed_on_whole_set",
    "gap_test",
    "more_data",
    "near_zero",
    "noise_of",
    "point_range",
    "point_unit",
    "range_text",
    "read_relative",
    "scored_in_points",
]

Z_ONE_SIDED_95 = 1.6448536269514722

# Words of a metric's name (`name_words`) that say it is a score or a rate in [0, 1], and words of regression errors
# and unbounded losses, which are never read in points: a mean squared error of 0.05 is no error rate, and its gap
# read in points would hide a holdout 38% worse ("val_mean_squared_error", "log_loss", "cross_entropy_error").
_BOUNDED_WORDS = frozenset({"acc", "accuracy", "auc", "auroc", "auprc", "ap", "map", "f1", "fbeta", "fscore",
                            "f1score", "precision", "recall", "sensitivity", "specificity", "tpr", "fpr", "tnr",
                            "fnr", "iou", "miou", "jaccard", "dice", "ndcg", "mrr", "error", "err",
                            "misclassification", "hamming"})  # fmt: skip
# "sq", "abs" and "rel" are the abbreviations of "squared", "absolute" and "relative" (``sq_err``, ``abs_error``,
# ``rel_err``); "sse" and "rss" sums of squared errors.
_UNBOUNDED_WORDS = frozenset({"squared", "sq", "absolute", "abs", "rel", "sse", "rss", "mse", "mae", "rmse", "msle",
                              "rmsle", "mape", "smape",
                              "huber", "l1", "l2", "log", "logloss", "entropy", "crossentropy", "xent", "bce", "nll",
                              "perplexity", "ppl", "deviance", "poisson", "tweedie", "hinge", "kl", "kld",
                              "divergence", "relative"})  # fmt: skip
# Words of scores in [-1, 1]: correlations (Pearson's r, Spearman's rho, Kendall's tau), Cohen's kappa (and the
# quadratic weighted kappa, qwk) and the Matthews correlation coefficient. Read in points of 1, as R^2 and the
# scores in [0, 1] are: a difference of 0.01 is a point.
_CORRELATION_WORDS = frozenset({"pearson", "pearsonr", "spearman", "spearmanr", "corr", "correlation", "corrcoef",
                                "kendall", "kendalltau", "kappa", "qwk", "mcc", "matthews"})  # fmt: skip
# Words of the coefficient of determination, at most 1 and unbounded below (a model worse than the mean scores
# below zero); also its two-word spellings, ``r_squared`` (whose "squared" alone is a regression error's word) and
# scikit-learn's ``explained_variance_score``.
_R2_WORDS = frozenset({"r2", "r2score", "rsquared", "rsq"})
_R2_PAIRS = (frozenset({"r", "squared"}), frozenset({"explained", "variance"}))
# scikit-learn's zero_one_loss, the misclassification rate: bounded by its two words together.
_ZERO_ONE = frozenset({"zero", "one"})
# Words also found inside a name written without separators (``valaccuracy``, ``meansquarederror``): only those of
# five letters or more, which do not turn up inside other words by chance as "dice" does in "indices" or "map" in
# "heatmap".
_INSIDE_WORDS = frozenset(w for w in _BOUNDED_WORDS | _UNBOUNDED_WORDS | _CORRELATION_WORDS | _R2_WORDS
                          if len(w) >= 5)  # fmt: skip
# Words of metrics computed on a whole set rather than averaged over its examples (a root of a mean, a ranking, a
# ratio of counts, a correlation): per-example values cannot give their noise, a bootstrap or folds can.
_WHOLE_SET_WORDS = frozenset({"rmse", "rmsle", "auc", "auroc", "auprc", "aucpr", "ap", "f1", "fbeta", "fscore",
                              "f1score", "precision", "recall", "perplexity", "ppl",
                              *_CORRELATION_WORDS, *_R2_WORDS})  # fmt: skip


def scored_in_points(metric: Metric, values: Sequence[float]) -> bool:
    """Whether ``metric``'s differences read in points: it declares a scale (`Metric.scale`, its values checked
    against it where they are read), or, without one, it is a bounded score by its name (`_range_by_name`:
    accuracy, AUC, F1, IoU, mAP, an error rate in [0, 1]; a correlation, kappa or MCC in [-1, 1]; R^2 at most 1)
    and every value seen lies in that range."""
    if metric.scale is not None:
        return True
    bounds = _range_by_name(metric.name)
    return bounds is not None and all(bounds[0] <= v <= bounds[1] for v in values)


def point_range(metric: Metric) -> tuple[float, float]:
    """The values ``metric`` can take when it reads in points (`scored_in_points`): [0, scale] for a declared
    scale, else its name's range ([0, 1] for a rate, [-1, 1] for a correlation, (-inf, 1] for R^2)."""
    if metric.scale is not None:
        return 0.0, metric.scale
    return _range_by_name(metric.name) or (0.0, 1.0)


def range_text(bounds: tuple[float, float]) -> str:
    """``bounds`` as an interval in words: ``[0, 1]``, ``[-1, 1]``, ``(-inf, 1]``."""
    low, high = bounds
    return f"{'(-inf' if math.isinf(low) else f'[{low:g}'}, {high:g}]"


def read_relative(metric: Metric, values: Sequence[float]) -> str:
    """Why ``metric``, whose name reads as a bounded score, is read relative to its value rather than in points:
    a value seen lies beyond its range ([0, 1], a correlation's [-1, 1], R^2's (-inf, 1]) and no scale was declared
    (a percentage, most often), with the fix; ``""`` when that is not so. A check that reads ``values`` appends it
    to its detail, so that the fallback is seen."""
    bounds = None if metric.scale is not None else _range_by_name(metric.name)
    if bounds is None:
        return ""
    beyond = next((v for v in values if math.isfinite(v) and not bounds[0] <= v <= bounds[1]), None)
    if beyond is None:
        return ""
    return (f"; {metric.name!r} reads as a bounded score, but {beyond:.4g} lies beyond {range_text(bounds)} and no "
            f"scale is declared, so it is read relative to its value, not in points: if it is a percentage, declare "
            f"ts.Metric({metric.name!r}, {metric.direction!r}, scale=100) (scale=1 for a fraction), and it reads in "
            "points of that scale")  # fmt: skip


def near_zero(metric: Metric, value: float, stderr: float | None, compared: Sequence[float], what: str,
              dof: float | None = None, noise: Noise | None = None) -> str:  # fmt: skip
    """Why reading ``metric`` relative to ``value`` (``what`` it is: "mean", "validation score") means nothing,
    with the fix; ``""`` when the relative reading stands. A relative figure is a difference over ``|value|``, so
    it reads the metric's zero as its origin. That fails when ``value`` is within noise of zero (its two-sided 95%
    interval, from ``stderr`` and Student's t on ``dof`` degrees of freedom when given, else the normal, reaches
    zero: the figure has no finite bound, and 1% of a value that may be 0 is no limit), or when the scores
    ``compared`` lie on both sides of zero, which a loss or a duration, the metrics a relative figure suits, never
    do. A check that meets it does not decide on the relative figure: it passes, undecided.

    The fix for a bounded score is its scale. A loss never negative and without bound (`reads_as_unbounded_loss`:
    a log loss, an RMSE) has none: a positive value whose interval reaches zero is too noisy to read from, and the
    detail says how much more data (``noise``: what ``stderr`` was read from, when known) would clear it."""
    finite = [v for v in compared if math.isfinite(v)]
    if finite and min(finite) < 0.0 < max(finite):
        why = f"the scores compared lie on both sides of zero, {min(finite):.4g} to {max(finite):.4g}"
    elif value == 0.0 or (stderr is not None and abs(value) <= _two_sided_95(dof) * stderr):
        half = 0.0 if stderr is None else _two_sided_95(dof) * stderr
        why = f"its 95% interval, {value - half:.3g} to {value + half:.3g}, reaches zero"
    else:
        return ""
    if reads_as_unbounded_loss(metric.name) and metric.scale is None:
        return _noisy_loss(metric, value, stderr, what, why, dof, noise, negative=bool(finite) and min(finite) < 0.0)
    negative = ("; a scale reads values in [0, scale], so shift a score that can be negative into such a range "
                "first") if finite and min(finite) < 0.0 else ""  # fmt: skip
    return (f"{metric.name} is read relative to its {what}, {value:.4g}, near zero ({why}), where a relative figure "
            f"says nothing, so this cannot be decided on it: give the metric's scale, ts.Metric({metric.name!r}, "
            f"{metric.direction!r}, scale=...) (the full range of its values: 1 for a fraction, 100 for a "
            f"percentage), so that it reads in points{negative}")  # fmt: skip


def _noisy_loss(metric: Metric, value: float, stderr: float | None, what: str, why: str, dof: float | None,
                noise: Noise | None, negative: bool) -> str:  # fmt: skip
    """`near_zero`'s reason for a loss never negative and without bound, which has no scale to declare: a value
    too noisy to read a relative figure from, with how much more data would bring its 95% interval clear of zero
    (its standard error falls with the square root of the data); a value of zero, from which no relative figure
    reads; or negative scores, which such a loss does not give."""
    opening = f"{metric.name} is read relative to its {what}, {value:.4g}"
    if negative:
        return (f"{opening}, but {why}, and {metric.name} reads as a loss that is never negative; a relative "
                "figure from such scores says nothing, so this cannot be decided on it: check that the objective "
                "and evaluate return the loss the name says (a negated loss is neg_<loss>, maximised)")  # fmt: skip
    if value <= 0.0 or not stderr:
        return f"{opening}, which is zero: a relative figure from a loss of zero has no bound, so it cannot decide this"
    factor = (_two_sided_95(dof) * stderr / value) ** 2
    if noise is not None and noise.examples:
        more = f"about {math.ceil(factor * noise.examples)} examples rather than {noise.examples}"
    elif noise is not None:
        more = f"about {factor:.1f}x the data its noise was read from ({noise.source})"
    else:
        more = f"about {factor:.1f}x the examples its noise was read from (or the seeds, for a spread across seeds)"
    return (f"{opening}: {why}, and as {metric.name} is a loss that is never negative, that says it is too noisy to "
            "read a relative figure from (1% of a value that may be near 0 is no limit), not that it is near zero, "
            f"so this cannot be decided on it: {more} would bring its interval clear of zero")  # fmt: skip


def _two_sided_95(dof: float | None) -> float:
    """The two-sided 95% quantile of Student's t on ``dof`` degrees of freedom (``None``: of the normal)."""
    if dof is None:
        return statistics.NormalDist().inv_cdf(0.975)
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def _range_by_name(name: str) -> tuple[float, float] | None:
    """The range a metric's name, read by words, says its values lie in (``None``: no bounded score): [0, 1] for
    a word of `_BOUNDED_WORDS` (or ``zero_one``), [-1, 1] for a correlation's (`_CORRELATION_WORDS`), (-inf, 1] for
    R^2's (`_R2_WORDS`, ``r_squared``, ``explained_variance``); the widest when several say one; none with a word
    of `_UNBOUNDED_WORDS`. The name is also read without its camelCase humps, so that ``mAP``, ``IoU`` and
    ``mIoU`` are one word each, as written."""
    words = name_words(name, _INSIDE_WORDS) | name_words(name.lower(), _INSIDE_WORDS)
    r2 = bool(words & _R2_WORDS) or any(pair <= words for pair in _R2_PAIRS)
    if words & _UNBOUNDED_WORDS - ({"squared"} if r2 else set()):
        return None
    ranges = [bounds for found, bounds in ((bool(words & _BOUNDED_WORDS) or words >= _ZERO_ONE, (0.0, 1.0)),
                                           (bool(words & _CORRELATION_WORDS), (-1.0, 1.0)),
                                           (r2, (-math.inf, 1.0))) if found]  # fmt: skip
    if not ranges:
        return None
    return min(low for low, _ in ranges), max(high for _, high in ranges)


@dataclass(frozen=True)
class GapTest:
    """The outcome of `gap_test`.

    Attributes:
        gap: how much worse the holdout is (positive) in ``units``: points (a difference of scores as a share of
            the metric's scale, `point_unit`: 0.014 is 1.4 points) or relative (a fraction of the validation
            score).
        stderr: the gap's standard error in the same units, where the hypothesis tested puts it (for proportions,
            at the limit: `_spread_of_difference`; ``None``: no noise information); with the holdout's noise
            unknown, as if it were validation's, which decides nothing.
        threshold: the practical threshold in the same units.
        flagged: ``gap - expected`` beyond the threshold by more standard errors than its test's one-sided 95%
            point (the normal's, skew-corrected for proportions, or Student's t: its lower bound is beyond it), or
            below minus the threshold by as much: a holdout better than validation
            beyond noise is no untouched estimate of the same thing (shared examples, an easier distribution).
            Never on a relative gap whose validation score is near zero (`near_zero`): that is undecided. Also,
            decided, when the holdout result is the validation result itself (`_same_result`).
        checked: whether the test ran: the noise was known, or, unknown, the gap lies beyond the threshold (then
            undecided and ``leans``).
        detail: the figures in words.
        decided: ``False`` when the threshold lies within that many standard errors of ``gap -
            expected`` (not flagged, and the detail says how many more examples would decide).
        expected: the part of ``gap`` that choosing the configuration on the validation data explains (the
            ``selection`` given to `gap_test`, in ``units``); the threshold and the noise judge ``gap - expected``.
        leans: undecided with ``gap - expected`` beyond the threshold and beyond noise of zero (its 95% lower
            bound above 0: a gap is shown, and its size lies within noise of the threshold), or beyond the threshold
            of unknown noise: the verdict cannot call the configuration ready on it (`Check.leans`). A gap beyond
            the threshold but within noise of zero does not lean: which side of the threshold its estimate falls on
            is then a coin flip (it made 21% of studies with no gap "not shown ready", now 6%).
    """

    gap: float
    units: Literal["points", "relative"]
    stderr: float | None
    threshold: float
    flagged: bool
    checked: bool
    detail: str
    decided: bool = True
    expected: float = 0.0
    leans: bool = False


def _show(value: float, units: str) -> str:
    return f"{value * 100:+.1f} points" if units == "points" else f"{value:+.1%}"


def gap_test(
    metric: Metric,
    validation: float,
    holdout: float,
    *,
    validation_noise: Noise | None,
    holdout_noise: Noise | None,
    threshold: float,
    points: bool,
    selection: float = 0.0,
    compared: int = 1,
    estimate: float | None = None,
    holdout_values: Sequence[float] | None = None,
    validation_digest: float | None = None,
) -> GapTest:
    """Test the holdout gap of one configuration (see the module docstring).

    Args:
        metric: the study's metric (its direction orients the gap).
        validation: the validation score that selected the configuration.
        holdout: its holdout score.
        validation_noise, holdout_noise: each side's standard error, when known. Validation's, unknown, is taken
            as equal to the holdout's (sets of similar size), and the detail says so. The holdout's, unknown, is
            not taken as validation's, since a holdout is often far smaller: the test is then undecided (leaning
            beyond the limit), showing the bounds it would have were it validation's and what would measure it
            (`_measure_holdout`).
        threshold: the practical threshold, as a fraction (0.02: 2 points, or 2%).
        points: whether the gap reads in points (see `scored_in_points`), of the metric's scale (`point_unit`);
            else relative.
        selection: how much the validation score flatters the configuration by having been chosen among
            ``compared`` configurations on the same validation data (a measured optimism estimate, in the
            metric's units, >= 0), which the holdout is expected to take back: only the gap beyond it is
            evidence that the search overfitted, so it is tested, and the detail says how much was expected.
            Choosing the luckiest of many equally good configurations is what the optimism estimate reports;
            failing it as overfitting failed a third of the studies that had nothing to find.
        estimate: the optimism estimate ``selection`` was read from, when ``selection`` is less (held to the chosen
            score's lead over the median score): the detail then gives both, so that it does not contradict the
            verdict's optimism line, which gives the estimate.
        holdout_values: the holdout's per-example values behind ``holdout``, when ``evaluate`` returned them: they
            tell how likely a holdout result identical to the validation result is by chance (`_chance_of_tie`).
        validation_digest: the fingerprint of the validation per-example values behind ``validation``
            (``digest:<metric>``, `summarise`), when the objective returned them: with ``holdout_values``, it tells
            a holdout whose values are the validation values themselves (`_same_values`).
    """
    units: Literal["points", "relative"] = "points" if points else "relative"
    scale = point_unit(metric) if points else max(abs(validation), 1e-12)
    divisor = validation_noise or holdout_noise  # an unknown side is taken as noisy as the known one, as below
    near = "" if points else near_zero(metric, validation, None if divisor is None else divisor.stderr,
                                       (validation, holdout), "validation score",
                                       None if validation_noise is None else validation_noise.dof,
                                       noise=divisor)  # fmt: skip
    raw = metric.sign() * (holdout - validation) / scale
    expected = max(selection, 0.0) / scale
    gap = raw - expected  # what the test judges: the gap that selection does not explain
    limit = f"limit {_show(threshold, units).lstrip('+')}"
    shown = _show(raw, units)
    if expected > 0:
        source = "the optimism estimate"
        if estimate is not None and estimate > selection * (1.0 + 1e-9):
            source += (f" is {_show(estimate / scale, units).lstrip('+')} for the best score; for the chosen score, "
                       "its own flattery with seed noise, else at most its lead over the median score")  # fmt: skip
        shown = (f"{shown}, of which about {_show(expected, units)} is expected from choosing among {compared} "
                 f"configurations on the same validation data ({source}): {_show(gap, units)} beyond it")
    if validation_noise is None and holdout_noise is None:
        if near:
            return GapTest(raw, units, None, threshold, False, True, f"gap {shown} ({limit}): {near}",
                           decided=False, expected=expected, leans=gap > threshold)  # fmt: skip
        # Within the limit there is nothing to tell; beyond it the gap may be noise or overfitting, and one number
        # a side cannot say which: a gap of 29 points on plain floats was "not checked" and the verdict ready.
        beyond = gap > threshold
        side = " beyond the limit, but" if beyond else ""
        return GapTest(raw, units, None, threshold, False, beyond, expected=expected, decided=not beyond,
                       leans=beyond, detail=(
            f"gap {shown} ({limit}),{side} no noise is known, so it cannot be told from sampling noise: "
            f"return per-example values (e.g. {{'{metric.name}': correct_per_example}}) or per-fold scores from "
            f"the objective, and per-example values from evaluate"
        ))  # fmt: skip
    if validation_noise is not None and holdout_noise is not None:
        sides = [f"validation {validation_noise.source}", f"holdout {holdout_noise.source}"]
    else:
        known = validation_noise or holdout_noise
        assert known is not None
        side = "validation" if validation_noise is not None else "holdout"
        other = ("holdout unknown, taken as validation's for the bounds shown" if validation_noise is not None
                 else "validation assumed alike (return its per-example values to measure it)")  # fmt: skip
        sides = [f"{side} {known.source}", other]
    same = _same_values(holdout, validation_digest, holdout_values) or _same_result(
        validation, validation_noise, holdout, holdout_noise, holdout_values, point_unit(metric))  # fmt: skip
    if same:
        return GapTest(raw, units, None, threshold, True, True, f"gap {shown} ({limit}): {same}",
                       expected=expected)  # fmt: skip
    proportions = None
    if points and validation_noise is not None and holdout_noise is not None:
        proportions = _proportions(validation, validation_noise, holdout, holdout_noise, scale, metric.sign() > 0)
    spread = _spread_of_difference(validation_noise, holdout_noise, proportions, threshold + expected)
    stderr = spread.stderr / scale
    # Against the limit, not against zero: a gap just below the limit clears zero by many standard errors on a
    # large set, and was flagged whenever its point estimate crossed the limit.
    lower, upper = gap - spread.above * stderr, gap + spread.below * stderr
    flagged, decided = lower > threshold, lower > threshold or upper <= threshold
    # The other side: a holdout better than validation by more than the limit, beyond noise, is no untouched
    # estimate of the same thing (examples shared with the training data, or an easier distribution). Read on the
    # raw gap: the optimism taken back above protects the other side, and here it would make the holdout look
    # better than it is (an estimate of +4 points where the true optimism was 0 flagged 6% of clean studies).
    # A proportion's noise is read where that side's hypothesis puts it: the holdout better by the limit.
    other_side = spread if proportions is None else _spread_of_difference(validation_noise, holdout_noise,
                                                                          proportions, -threshold)  # fmt: skip
    raw_upper = raw + other_side.below * other_side.stderr / scale
    easier = raw_upper < -threshold
    if near:  # the relative figure and its bounds are shown, but decide nothing
        flagged = easier = decided = False
        verdict = near
    elif holdout_noise is None:
        # Validation's noise is no measure of the holdout's: a 40-row holdout taken as noisy as 300 rows of
        # validation failed 23% of studies with no gap at all (4% with the holdout's own standard error).
        flagged = easier = decided = False
        verdict = (f"{'beyond' if gap > threshold else 'within'} the limit (95% bounds {_show(lower, units)} to "
                   f"{_show(upper, units)}, were the holdout as noisy as validation), but the holdout gave one number, "
                   "so its noise is unknown and need not be validation's (a smaller holdout is noisier): not evidence "
                   f"of overfitting beyond the limit, nor of its absence; {_measure_holdout(metric)}")  # fmt: skip
    elif flagged:
        verdict = (f"beyond the limit and beyond noise (its 95% lower bound {_show(lower, units)} is beyond the "
                   "limit): the search overfitted the validation split")  # fmt: skip
    elif easier:
        verdict = (f"the holdout scores better than validation by more than the limit, beyond noise (the raw gap's "
                   f"95% upper bound {_show(raw_upper, units)}): a holdout that shares examples with the training "
                   "data, or comes from an easier distribution, does not estimate how the configuration does on new "
                   "data: check it for duplicates of training or validation examples and for how it was "
                   "split")  # fmt: skip
    elif decided:
        verdict = f"within the limit, and so is its 95% upper bound {_show(upper, units)}"
    else:
        side = "beyond" if gap > threshold else "within"
        more = _what_decides(abs(gap - threshold) * scale, spread.stderr, spread.above if gap > threshold
                             else spread.below, validation_noise, holdout_noise)  # fmt: skip
        shown_at_all = "" if gap <= threshold or lower > 0 else ", and no gap at all is shown (it is within noise of 0)"
        verdict = (f"{side} the limit but within noise of it (95% bounds {_show(lower, units)} to "
                   f"{_show(upper, units)}){shown_at_all}: not evidence of overfitting beyond the limit, nor of its "
                   f"absence; {more}")  # fmt: skip
    shown_spread = _show(stderr, units).lstrip("+")
    detail = f"gap {shown} +- {shown_spread} ({limit}; noise from {', '.join(sides)}; {spread.test}): {verdict}"
    # It leans (the verdict cannot call the winner ready) only on a gap shown beyond noise of zero whose size lies
    # beyond the limit: on the estimate's side of the limit alone it leaned in 21% of studies with no gap (200
    # examples a side, whose noise spans the limit), a coin flip the verdict turned into "not ready".
    return GapTest(raw, units, stderr, threshold, flagged or easier, True, detail, decided=decided,
                   expected=expected, leans=not decided and gap > threshold and lower > 0)  # fmt: skip


# A holdout result identical to the validation result is the validation set itself when independent sets of these
# values would tie this exactly by chance at most this often.
_TIE_BY_CHANCE = 1e-3


def _same_result(validation: float, validation_noise: Noise | None, holdout: float, holdout_noise: Noise | None,
                 holdout_values: Sequence[float] | None, unit: float) -> str:  # fmt: skip
    """Why the holdout result is the chosen trial's validation result itself, in words with the fix; ``""`` when it
    is not, or may be by chance. Identical means the same mean of the same number of per-example values with the
    same standard error, which holds also for the validation values in another order, where their fingerprint
    (`_same_values`) differs; it is decisive only when independent sets tie so exactly by chance at most
    `_TIE_BY_CHANCE` of the time (`_chance_of_tie`): right-or-wrong values on 300 examples tie by chance up to 6% of
    the time (a tie of their counts), so their tie is judged as any other gap is, unless their fingerprints
    agree."""
    if validation_noise is None or holdout_noise is None or validation_noise.examples is None:
        return ""
    if validation_noise.examples != holdout_noise.examples or not (
            math.isclose(validation, holdout, rel_tol=1e-9)
            and math.isclose(validation_noise.stderr, holdout_noise.stderr, rel_tol=1e-9)):  # fmt: skip
        return ""
    chance = _chance_of_tie(holdout, holdout_noise, holdout_values, unit)
    if chance > _TIE_BY_CHANCE:
        return ""
    odds = (f"independent sets of such values tie this exactly with a chance of at most {chance:.1g}"
            if chance > 0 else "a tie to every digit, which independent sets of values of many levels do not meet "
            "by chance")  # fmt: skip
    return _the_validation_set(f"mean {holdout:.6g} of {holdout_noise.examples} per-example values, standard error "
                               f"{holdout_noise.stderr:.4g}, on both sides; {odds}")  # fmt: skip


def _same_values(holdout: float, validation_digest: float | None, holdout_values: Sequence[float] | None) -> str:
    """Why the holdout's per-example values are the chosen trial's validation values themselves, in words with the
    fix; ``""`` when they are not, or may be by chance. Their fingerprints (`digest_of`) agree only for the same
    values in the same order, which is decisive only when independent sets of such values would match element by
    element at most `_TIE_BY_CHANCE` of the time (`_log10_chance_of_match`): right-or-wrong values at 0.95 on 300
    examples match so about once in 10**13, where their counts tie up to 6% of the time; values all alike (an
    accuracy of 1.0) match as often as not, and are no evidence."""
    if validation_digest is None or not holdout_values or digest_of(holdout_values) != validation_digest:
        return ""
    log10_chance = _log10_chance_of_match(holdout_values)
    if log10_chance > math.log10(_TIE_BY_CHANCE):
        return ""
    odds = f"1e{math.floor(log10_chance)}" if log10_chance < -300 else f"{10.0**log10_chance:.1g}"
    return _the_validation_set(f"the same {len(holdout_values)} per-example values in the same order, mean "
                               f"{holdout:.6g}, on both sides; independent sets of such values match element by "
                               f"element with a chance of at most {odds}")  # fmt: skip


def _log10_chance_of_match(values: Sequence[float]) -> float:
    """The base-10 logarithm of how often an independent set of ``len(values)`` values drawn as these are spread
    (each level, as `digest_level` reads it, as often as here) matches them element by element: each element
    matches with the chance that two draws agree, the sum of the squared shares of the levels (p^2 + (1 - p)^2
    for right-or-wrong values with mean p), and the elements are independent. In logarithms, since the chance
    falls below the smallest float within a few thousand examples."""
    n = len(values)
    agree = sum((count / n) ** 2 for count in Counter(digest_level(v) for v in values).values())
    return 0.0 if agree >= 1.0 else n * math.log10(agree)


def _the_validation_set(evidence: str) -> str:
    """The failure of a holdout that is the validation set, with the rule, the ``evidence`` and the fix."""
    return (f"the holdout result is the validation result itself ({evidence}): the holdout must be data the search "
            "never saw, and this reads as the validation set: score a separate split, and check that "
            "evaluate(params, seed) scores x_holdout, not x_val")  # fmt: skip


def _chance_of_tie(value: float, noise: Noise, values: Sequence[float] | None, unit: float) -> float:
    """About how often an independent set of ``noise.examples`` values like these has exactly this mean, at most:
    a mean of values whose distinct levels lie ``spacing`` apart takes values ``spacing / n`` apart, and no one of
    them is more likely than the normal's density at its mode over that step. The spacing is the closest two
    distinct values of ``values`` (the holdout's per-example values), else, without them, ``unit`` for a share of
    right-or-wrong values (`_proportion_of`) and none (continuous values) for anything else. Values all alike
    (fewer than two levels) tie by chance as often as not: 1."""
    n = noise.examples
    if n is None or noise.stderr <= 0:
        return 1.0
    if values is not None and len(values) == n:
        levels = sorted({float(v) for v in values})
        if len(levels) < 2:
            return 1.0
        spacing = min(high - low for low, high in itertools.pairwise(levels))
    elif _proportion_of(value, noise, unit) is not None:
        spacing = unit
    else:
        spacing = 0.0
    return min(1.0, spacing / n / (noise.stderr * math.sqrt(2.0 * math.pi)))


def _what_decides(distance: float, stderr: float, needed: float, validation: Noise | None,
                  holdout: Noise) -> str:  # fmt: skip
    """What would decide a gap ``distance`` from the limit at standard error ``stderr`` (both in the metric's
    units), ``needed`` standard errors from it at a one-sided 95% (`_Spread`). Sampling noise
    shrinks with more examples (`more_data`); the spread of one run across seeds does not: more validation examples
    leave it whole, and more seeds only measure it more tightly. When that spread alone keeps the gap within noise
    of the limit, more data does not decide it, and the advice says so rather than asking for examples that would
    not help. A validation side whose noise is unknown is taken as noisy as the holdout, as `gap_test` takes it,
    spread included (a holdout of unknown noise decides nothing, and says what would measure it instead)."""
    sides = [validation or holdout, holdout]
    floor = math.sqrt(sum(n.floor**2 for n in sides))
    if floor == 0:
        return more_data(distance / stderr, "the validation and holdout examples", needed, against="the limit")
    seeds = f"the seed-to-seed spread of one run ({floor:.3g})"
    if distance > needed * floor:
        return (f"part of its noise is {seeds}, which more examples do not shrink: more fresh seeds after the pick "
                "(measuring that spread more tightly) and more holdout examples would decide")
    return (f"{seeds} alone keeps it within noise of the limit, and neither more examples nor more seeds shrink "
            "that spread: one run's gap cannot decide this")


def computed_on_whole_set(name: str) -> bool:
    """Whether a metric's name says it is computed on a whole set rather than averaged over its examples
    (`_WHOLE_SET_WORDS`: a root of a mean such as RMSE, a ranking such as AUC, a ratio of counts such as F1, a
    correlation, R^2, a perplexity): the mean of one value per example is not the metric, so per-example values
    can give neither it nor its noise, and a bootstrap standard error beside its one number can (`bootstrapped`)."""
    words = name_words(name, _INSIDE_WORDS) | name_words(name.lower(), _INSIDE_WORDS)
    return bool(words & _WHOLE_SET_WORDS) or any(pair <= words for pair in _R2_PAIRS)


def bootstrapped(key: str, examples: str = "the holdout's examples") -> str:
    """How to give the noise of ``key``, a score given as one number, in words: a bootstrap standard error as
    ``stderr:<key>`` beside it (`noise_of` reads it), the metric recomputed on ``examples`` resampled."""
    return (f"a bootstrap standard error as '{STDERR}{key}' beside the score (the metric recomputed on {examples} "
            "resampled with replacement, a few hundred times: the standard deviation of those)")  # fmt: skip


def _measure_holdout(metric: Metric) -> str:
    """What would measure the holdout's own noise, for a gap whose holdout gave one number: per-example values
    from ``evaluate``, which summarise into a mean and its standard error; for a metric computed on a whole set
    (`computed_on_whole_set`: RMSE, AUC, F1, a correlation, R^2), which no per-example values give, a bootstrap
    standard error beside the score or per-fold holdout scores."""
    key = holdout_keys(metric)[0]
    others = f"{bootstrapped(key)}, or per-fold holdout scores (ts.discipline.fold_metrics({key!r}, [...]))"
    if computed_on_whole_set(metric.name):
        return (f"{metric.name} is computed on the whole set, not averaged over examples, so per-example values "
                f"cannot give its noise: return the holdout's own from evaluate, {others}")  # fmt: skip
    return (f"return per-example values from evaluate ({key!r}: one value per holdout example, a list or an "
            f"array), which measure the holdout's own noise; for a score that is not a mean over examples, "
            f"{others}")  # fmt: skip


@dataclass(frozen=True)
class _Spread:
    """The standard error of the gap (metric units) where the hypothesis tested puts it, how many of them a
    one-sided 95% decision needs each way (``above``: a gap beyond the hypothesis, its lower bound; ``below``: a
    gap short of it, its upper bound; equal but for a skewed score test) and the test, in words, for the detail."""

    stderr: float
    above: float
    below: float
    test: str


@dataclass(frozen=True)
class _Proportions:
    """Both sides as shares of examples scored 0 or the full ``scale`` (right or wrong), each as the share that
    is better (an accuracy for an error rate: the gap is then validation minus holdout), with its number of
    examples."""

    validation: float
    validation_examples: int
    holdout: float
    holdout_examples: int
    scale: float


def _proportions(validation: float, validation_noise: Noise, holdout: float, holdout_noise: Noise, scale: float,
                 lower_is_better: bool) -> _Proportions | None:  # fmt: skip
    """Both sides as proportions (`_Proportions`) when both means were read from per-example values that are each
    0 or ``scale``; ``None`` when either was not, or is not known to have been."""
    first, second = _proportion_of(validation, validation_noise, scale), _proportion_of(holdout, holdout_noise, scale)
    if first is None or second is None:
        return None
    if lower_is_better:
        first, second = (1.0 - first[0], first[1]), (1.0 - second[0], second[1])
    return _Proportions(first[0], first[1], second[0], second[1], scale)


def _proportion_of(value: float, noise: Noise, scale: float) -> tuple[float, int] | None:
    """``value`` as a share of ``scale`` and its number of examples, when ``noise`` says its per-example values are
    each 0 or ``scale``; ``None`` otherwise. The standard error of such values is fixed by their mean
    (`_binomial_stderr`), which values in [0, scale] meet only when every one lies at an end; a count that is not
    whole, or a standard error off that, reads as other values."""
    n = noise.examples
    share = value / scale
    if n is None or n < 2 or not 0.0 <= share <= 1.0 or abs(share * n - round(share * n)) > 1e-6:
        return None
    return (share, n) if math.isclose(noise.stderr / scale, _binomial_stderr(share, n), rel_tol=1e-6) else None


def _restricted_proportions(sides: _Proportions, difference: float) -> tuple[float, float]:
    """The validation and holdout proportions most likely to have given what was seen (maximum likelihood) among
    those that differ by exactly ``difference`` (validation minus holdout): where the hypothesis tested puts
    them. The log-likelihood is concave in the validation proportion p on the range the difference allows; its
    slope times ``p (1 - p) (p - d) (1 - p + d)`` is a cubic in p, so its maximum is a root of that cubic or an
    end of the range."""
    from numpy.polynomial import Polynomial
    from scipy.special import xlogy

    n1, n2, d = sides.validation_examples, sides.holdout_examples, difference
    x1, x2 = sides.validation * n1, sides.holdout * n2
    low, high = max(0.0, d), min(1.0, 1.0 + d)
    cubic = (Polynomial([x1, -n1]) * Polynomial([-d, 1.0]) * Polynomial([1.0 + d, -1.0])
             + Polynomial([x2 + n2 * d, -n2]) * Polynomial([0.0, 1.0, -1.0]))  # fmt: skip

    def likelihood(p: float) -> float:
        return float(xlogy(x1, p) + xlogy(n1 - x1, 1.0 - p) + xlogy(x2, p - d) + xlogy(n2 - x2, 1.0 - p + d))

    candidates = [low, high, *(min(max(float(root.real), low), high) for root in cubic.roots())]
    best = max(candidates, key=likelihood)
    return best, best - d


def _spread_of_difference(validation: Noise | None, holdout: Noise | None, proportions: _Proportions | None,
                          difference: float) -> _Spread:  # fmt: skip
    """The noise of the gap (metric units) under the hypothesis that it is ``difference`` (a share of the scale:
    the limit plus the optimism taken back), and how to read it.

    Two proportions (``proportions``: every example 0 or the full scale) are read with the score test at that
    hypothesis: each side's binomial variance at the proportions most likely under it
    (`_restricted_proportions`; the score test of a difference of proportions, Farrington and Manning 1990),
    its skew taken into account (the Cornish-Fisher term of the one-sided 5% point: a holdout at 0.93 is skewed
    towards its failures). Pooling both sides into one spread, as if they came from one distribution, let 300
    validation examples at 0.95 shrink the spread of 30 holdout examples at 0.93: a true gap exactly at the
    limit was flagged in 8.9% of studies (7.0% on 100); each side's own spread understates the noise exactly when
    a lucky draw made the difference large (a high accuracy has a small binomial spread), which raised false
    alarms to 7-8% before; the spread at the limit is neither's (6.4% on 30 without the skew term, 4.9% with it).

    Other values (a loss, per-fold scores, seeds) add each side's squared standard error (Welch), read with each
    side's Student's t weighted by its variance (Cochran and Cox, 1950): on a side's own degrees of freedom
    (`Noise.dof`: k - 1 over k folds), else its examples less one, else the normal. The normal read a true gap at
    the limit on 3 folds (spread 0.03) against 1,000 holdout examples at 0.88 as beyond it in 8.1% of studies,
    Student's t on the Welch-Satterthwaite degrees of freedom in 6.0% (they rise when the folds' spread happens
    to read low, just when the gap looks large), Cochran-Cox in 4.0%. A side whose noise is unknown is taken as
    noisy as the known one: the same estimate twice, on its degrees of freedom. Folds that share training rows
    spread less than their mean varies: on a real scikit-learn CV (logistic regression, 300 rows, 5 or 10 folds)
    a true gap at the limit was flagged in 7.5% of 1,000 studies (5.4% on 1,000 rows); Nadeau and Bengio's
    correction took that to 2.1-2.8%, and is not applied.
    """
    if proportions is not None and abs(difference) < 1.0:
        better, worse = _restricted_proportions(proportions, difference)
        n1, n2 = proportions.validation_examples, proportions.holdout_examples
        variance = better * (1.0 - better) / n1 + worse * (1.0 - worse) / n2
        if variance > 0:
            third = better * (1.0 - better) * (1.0 - 2.0 * better) / n1**2 - worse * (1.0 - worse) * (
                1.0 - 2.0 * worse) / n2**2  # fmt: skip
            skew = third / variance**1.5
            shift = min(max(skew * (Z_ONE_SIDED_95**2 - 1.0) / 6.0, -Z_ONE_SIDED_95), Z_ONE_SIDED_95)
            return _Spread(proportions.scale * math.sqrt(variance), Z_ONE_SIDED_95 + shift, Z_ONE_SIDED_95 - shift,
                           "score test at the limit")  # fmt: skip
    parts = [(n.stderr**2, _degrees_of_freedom(n)) for n in (validation, holdout) if n is not None]
    own = sum(part for part, _ in parts)
    variance = own if len(parts) == 2 else 2.0 * own  # an unknown side: the known one's estimate again
    freedoms = [dof for _, dof in parts]
    if own == 0 or all(dof is None for dof in freedoms):
        return _Spread(math.sqrt(variance), Z_ONE_SIDED_95, Z_ONE_SIDED_95, "normal quantile")
    from scipy.stats import t

    needed = sum(part * (Z_ONE_SIDED_95 if dof is None else float(t.isf(0.05, dof))) for part, dof in parts) / own
    test = f"Student's t, {' and '.join(_count(dof) for dof in freedoms if dof is not None)} degrees of freedom"
    if len(parts) == 2:
        test += f"{', and the normal' if None in freedoms else ''}, weighted by each side's variance (Cochran-Cox)"
    return _Spread(math.sqrt(variance), needed, needed, test)


def _count(dof: float) -> str:
    """Degrees of freedom in words: whole, or to one decimal below 10."""
    return f"{dof:.0f}" if dof >= 10 or dof == round(dof) else f"{dof:.1f}"


def _binomial_stderr(share: float, examples: int) -> float:
    """The standard error of a share of ``examples`` each 0 or 1, as `summarise` writes it (a spread with n - 1),
    and, for a share of 0 or 1, as `noise_of` reads it."""
    if share in (0.0, 1.0):
        adjusted = (examples * share + 1.0) / (examples + 2.0)
        return math.sqrt(adjusted * (1.0 - adjusted) / examples)
    return math.sqrt(share * (1.0 - share) / (examples - 1))


def _degrees_of_freedom(noise: Noise) -> float | None:
    """The degrees of freedom ``noise``'s standard error was estimated with: its own (`Noise.dof`), else its
    examples less one; ``None``: many (or not said), read with the normal."""
    if noise.dof is not None:
        return noise.dof if noise.dof > 0 else None
    return None if noise.examples is None or noise.examples < 2 else noise.examples - 1.0


def more_data(z: float, what: str, z_needed: float = Z_ONE_SIDED_95, against: str = "zero") -> str:
    """How much more data would decide a difference measured ``z`` standard errors from zero (or from what
    ``against`` names, such as a limit), if it held: the standard error falls with the square root of the sample,
    so ``(z_needed / z) ** 2`` times as much."""
    if z <= 0.1:
        return f"the difference is too close to {against} for more of {what} to decide it soon"
    return f"about {(z_needed / z) ** 2:.1f}x {what} would decide at this size"
