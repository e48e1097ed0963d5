"""The holdout-gap test: is the holdout worse than the validation score by more than noise explains?

The gap compares the validation score that *selected* the configuration (the search's value, where
the selection bias lives) with its holdout score. Bounded scores (accuracy, AUC, an error rate, all
values in [0, 1]) are compared in points, other metrics (a mean squared error too, whatever its values)
relative to the validation score. The gap is flagged only when it is beyond the practical threshold (the
guide's 2%) **and** beyond what the noise of both sides explains (one-sided, 95%). The noise comes from
per-example results (``stderr:<metric>``, written when an objective returns one value per example) or per-fold
results (``fold:<i>:<metric>``); without either the test says it cannot tell and does not fail.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tunesmith.discipline.conventions import folds_of
from tunesmith.objective import COUNT, STDERR, Metric, name_words

__all__ = ["Z_ONE_SIDED_95", "GapTest", "Noise", "gap_test", "more_data", "noise_of", "scored_in_points"]

Z_ONE_SIDED_95 = 1.6448536269514722

# Words of a metric's name (`name_words`) that say it is a score or a rate in [0, 1], and words of regression errors
# and unbounded losses, which are never read in points: a mean squared error of 0.05 is no error rate, and its gap
# read in points would hide a holdout 38% worse ("val_mean_squared_error", "log_loss", "cross_entropy_error").
_BOUNDED_WORDS = frozenset({"acc", "accuracy", "auc", "auroc", "auprc", "ap", "map", "f1", "fbeta", "fscore",
                            "f1score", "precision", "recall", "sensitivity", "specificity", "tpr", "fpr", "tnr",
                            "fnr", "iou", "miou", "jaccard", "dice", "ndcg", "mrr", "error", "err",
                            "misclassification", "hamming"})  # fmt: skip
_UNBOUNDED_WORDS = frozenset({"squared", "absolute", "mse", "mae", "rmse", "msle", "rmsle", "mape", "smape",
                              "huber", "l1", "l2", "log", "logloss", "entropy", "crossentropy", "xent", "bce", "nll",
                              "perplexity", "ppl", "deviance", "poisson", "tweedie", "hinge", "kl", "kld",
                              "divergence", "relative"})  # fmt: skip
# scikit-learn's zero_one_loss, the misclassification rate: bounded by its two words together.
_ZERO_ONE = frozenset({"zero", "one"})
# Words also found inside a name written without separators (``valaccuracy``, ``meansquarederror``): only those of
# five letters or more, which do not turn up inside other words by chance as "dice" does in "indices" or "map" in
# "heatmap".
_INSIDE_WORDS = frozenset(w for w in _BOUNDED_WORDS | _UNBOUNDED_WORDS if len(w) >= 5)


@dataclass(frozen=True)
class Noise:
    """The standard error of one score and where it came from (``"200 examples"``, ``"5 folds"``)."""

    stderr: float
    source: str


def noise_of(metrics: Mapping[str, float], name: str) -> Noise | None:
    """The sampling noise of ``metrics[name]``: per-example standard error, else the spread of its
    per-fold values over the square root of their count; ``None`` when the result carries neither."""
    stderr = metrics.get(f"{STDERR}{name}")
    if stderr is not None and math.isfinite(stderr):
        count = metrics.get(f"{COUNT}{name}")
        if stderr == 0:  # every example alike: a perfect (or nil) score still carries its sampling noise
            return _all_alike(metrics.get(name), count)
        return Noise(float(stderr), f"{int(count)} examples" if count else "per-example values")
    folds = folds_of(metrics, name)
    if len(folds) >= 2:
        return Noise(statistics.stdev(folds) / math.sqrt(len(folds)), f"{len(folds)} folds")
    return None


def _all_alike(value: float | None, count: float | None) -> Noise | None:
    """The noise of a score whose examples all agree: for a proportion (every example right, or every one
    wrong) the standard error of the adjusted proportion (x + 1) / (n + 2), which a sample of n cannot rule
    out; for anything else unknown (``None``)."""
    if value not in (0.0, 1.0) or not count or count < 1:
        return None
    n = float(count)
    adjusted = (n * float(value) + 1.0) / (n + 2.0)
    return Noise(math.sqrt(adjusted * (1.0 - adjusted) / n), f"{int(n)} examples, all alike")


def scored_in_points(metric: Metric, values: Sequence[float]) -> bool:
    """Whether ``metric`` is a bounded score (accuracy, AUC, F1, IoU, mAP, an error rate) whose gap reads in
    points: its name says so (`_reads_as_bounded`) and every value seen lies in [0, 1]."""
    return _reads_as_bounded(metric.name) and all(0.0 <= v <= 1.0 for v in values)


def _reads_as_bounded(name: str) -> bool:
    """Whether a metric's name, read by words, says a score or a rate in [0, 1]: a word of `_BOUNDED_WORDS` (or
    ``zero_one``) and none of `_UNBOUNDED_WORDS`. The name is also read without its camelCase humps, so that
    ``mAP``, ``IoU`` and ``mIoU`` are one word each, as written."""
    words = name_words(name, _INSIDE_WORDS) | name_words(name.lower(), _INSIDE_WORDS)
    if words & _UNBOUNDED_WORDS:
        return False
    return bool(words & _BOUNDED_WORDS) or _ZERO_ONE.issubset(words)


@dataclass(frozen=True)
class GapTest:
    """The outcome of `gap_test`.

    Attributes:
        gap: how much worse the holdout is (positive) in ``units``: points (a difference of scores in
            [0, 1]) or relative (a fraction of the validation score).
        stderr: the gap's standard error in the same units (``None``: no noise information).
        threshold: the practical threshold in the same units.
        flagged: beyond the threshold and beyond ``Z_ONE_SIDED_95`` standard errors.
        checked: whether the noise was known, so that the test could decide.
        detail: the figures in words.
        decided: ``False`` when the gap is beyond the threshold but within the noise (not flagged, and the
            detail says how many more examples would decide).
    """

    gap: float
    units: Literal["points", "relative"]
    stderr: float | None
    threshold: float
    flagged: bool
    checked: bool
    detail: str
    decided: bool = True


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
) -> GapTest:
    """Test the holdout gap of one configuration (see the module docstring).

    Args:
        metric: the study's metric (its direction orients the gap).
        validation: the validation score that selected the configuration.
        holdout: its holdout score.
        validation_noise, holdout_noise: each side's standard error, when known. When only one side
            is known the other is taken as equal (sets of similar size), and the detail says so.
        threshold: the practical threshold, as a fraction (0.02: 2 points, or 2%).
        points: whether the gap reads in points (see `scored_in_points`); else relative.
    """
    units: Literal["points", "relative"] = "points" if points else "relative"
    scale = 1.0 if points else max(abs(validation), 1e-12)
    gap = metric.sign() * (holdout - validation) / scale
    limit = f"limit {_show(threshold, units).lstrip('+')}"
    if validation_noise is None and holdout_noise is None:
        return GapTest(gap, units, None, threshold, False, False, (
            f"gap {_show(gap, units)} ({limit}), but no noise is known, so it cannot be told from sampling noise: "
            f"return per-example values (e.g. {{'{metric.name}': correct_per_example}}) or per-fold scores from "
            f"the objective, and per-example values from evaluate"
        ))  # fmt: skip
    sides = []
    if validation_noise is not None and holdout_noise is not None:
        variance = validation_noise.stderr**2 + holdout_noise.stderr**2
        sides = [f"validation {validation_noise.source}", f"holdout {holdout_noise.source}"]
    else:
        known = validation_noise or holdout_noise
        assert known is not None
        variance = 2 * known.stderr**2
        side = "validation" if validation_noise is not None else "holdout"
        other = "holdout" if validation_noise is not None else "validation"
        sides = [f"{side} {known.source}", f"{other} assumed alike (return its per-example values to measure it)"]
    stderr = math.sqrt(variance) / scale
    beyond_noise = gap > Z_ONE_SIDED_95 * stderr
    flagged = gap > threshold and beyond_noise
    if flagged:
        verdict = "beyond the limit and beyond noise: the search overfitted the validation split"
    elif gap > threshold:
        verdict = (f"beyond the limit but within noise (95%): not evidence of overfitting, nor of its absence; "
                   f"{more_data(gap / stderr, 'the validation and holdout examples')}")  # fmt: skip
    else:
        verdict = "within the limit"
    spread = _show(stderr, units).lstrip("+")
    detail = f"gap {_show(gap, units)} +- {spread} ({limit}; noise from {', '.join(sides)}): {verdict}"
    return GapTest(gap, units, stderr, threshold, flagged, True, detail, decided=flagged or gap <= threshold)


def more_data(z: float, what: str, z_needed: float = Z_ONE_SIDED_95) -> str:
    """How much more data would decide a difference measured ``z`` standard errors from zero, if it held:
    the standard error falls with the square root of the sample, so ``(z_needed / z) ** 2`` times as much."""
    if z <= 0.1:
        return f"the difference is too close to zero for more of {what} to decide it soon"
    return f"about {(z_needed / z) ** 2:.1f}x {what} would decide at this size"
