"""What a study optimises (`Metric`), what it must not break (`Guardrail`), and result normalisation."""

from __future__ import annotations

import decimal
import difflib
import hashlib
import math
import numbers
import operator
import re
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tunesmith._caller import outside_stacklevel
from tunesmith._numbers import detached, format_value
from tunesmith._text import counted, excerpt
from tunesmith._validate import checked_arguments, real
from tunesmith.errors import ConfigError

__all__ = [
    "ANNOTATIONS",
    "COUNT",
    "DIGEST",
    "FOLD",
    "SHIFTED",
    "SLICE",
    "STDERR",
    "Guardrail",
    "Metric",
    "MetricDirectionWarning",
    "MissingMetric",
    "check_keys",
    "digest_level",
    "digest_of",
    "example_numbers",
    "folds_of",
    "is_per_example",
    "metric_named",
    "name_words",
    "normalise_result",
    "reads_as_loss",
    "reads_as_score",
    "reads_as_unbounded_loss",
    "summarise",
    "unread_key",
    "warn_if_minimised_score",
    "without_digests",
]

Direction = Literal["min", "max"]

# A metric given as per-example values is stored as its mean, with these keys beside it.
STDERR = "stderr:"
COUNT = "count:"
# A metric's per-fold results, "fold:<i>:<metric>" (`tunesmith.discipline.fold_metrics` writes them; the study's
# convergence check and the scikit-learn search read and write them too, below the discipline).
FOLD = "fold:"
# A metric's result on one slice of the examples, "slice:<slice>:<metric>", and on a shifted or time-split set,
# "shifted:<metric>" (`tunesmith.discipline.slice_metrics` writes the first; the discipline reads both).
SLICE = "slice:"
SHIFTED = "shifted:"


def folds_of(metrics: Mapping[str, float], metric: str) -> list[float]:
    """The per-fold values of ``metric`` in fold order (empty when the result has none)."""
    found: dict[int, float] = {}
    for key, value in metrics.items():
        if key.startswith(FOLD):
            index, _, name = key[len(FOLD) :].partition(":")
            if name == metric and index.isdigit():
                found[int(index)] = float(value)
    return [found[i] for i in sorted(found)]


# Bookkeeping, never a metric: a fingerprint of the per-example values in order (`digest_of`), by which the holdout
# check knows a holdout that is the validation set when their means tie by chance too often to tell.
DIGEST = "digest:"
# Keys of a result that annotate a metric rather than name one (its noise, its fingerprint, a fold's, a slice's or a
# shifted score).
ANNOTATIONS = (STDERR, COUNT, DIGEST, FOLD, SLICE, SHIFTED)
# Per-example values are fingerprinted to this many significant digits, so that a difference in the last bits of
# how one value was computed (0.1 + 0.2 against 0.3) does not change the fingerprint.
_DIGEST_DIGITS = 12

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}


@checked_arguments()
@dataclass(frozen=True)
class Metric:
    """A metric a study optimises: its name in the objective's result, whether lower or higher is better, and,
    for a bounded score, its ``scale``: the full range of its values, 1.0 for a fraction, 100.0 for a percentage.

    With a scale, the verdict reads the metric's differences (the holdout gap, the seed spread, the slice and
    shifted-data drops) in points of that scale, so that an error rate of 14.4 in percent reads exactly as 0.144
    does, and a result outside [0, scale] is refused. Without one (``None``), a name that says a bounded score
    (accuracy, AUC, an error rate) reads in points when every value lies in [0, 1], and anything else relative to
    its value: a name is no safe guide to a percentage (an RMSE named ``val_error`` can be 14). A name that reads
    as a loss never negative and without bound (`reads_as_unbounded_loss`: a log loss, an RMSE) has no range, and
    is refused a scale.

    Example:
        >>> Metric("val_acc", "max", scale=100)  # accuracy reported in percent
        Metric(name='val_acc', direction='max', scale=100.0)
    """

    name: str
    direction: Direction = "min"
    scale: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(
                f"metric name must be a non-empty string, got name={self.name!r}: pass the key your objective "
                "returns, e.g. Metric('loss')"
            )
        if self.direction not in ("min", "max"):
            raise ConfigError(
                f"direction must be 'min' or 'max', got direction={self.direction!r}: "
                "use 'min' for losses and 'max' for accuracies"
            )
        scale = real("scale", self.scale, exclusive_minimum=0, allow_none=True, numpy=True, context="Metric",
                     fix="pass the full range of a bounded score (1.0 for a fraction, 100.0 for a percentage), or "
                         "None for a metric without bounds")  # fmt: skip
        if scale is not None and reads_as_unbounded_loss(self.name):
            # Such a loss often stays within [0, scale], which the values check passes: a log loss declared
            # scale=1 read 0.25 nats as 25 points of a [0, 1] score.
            raise ConfigError(
                f"metric {self.name!r} reads as a loss that is never negative and has no upper bound (a log loss, "
                f"a cross-entropy, an NLL, an RMSE, MSE or MAE), so it has no full range to declare, but got "
                f"scale={scale:g}: a scale is only for a bounded score; drop scale= (its differences then read "
                f"relative to its value), or rename the metric if it is a bounded score"
            )
        object.__setattr__(self, "scale", scale)

    def within_scale(self, value: float) -> bool:
        """Whether ``value`` lies in [0, scale] (always, without a scale). A value that is not a finite number is
        no unit slip: it is refused as such where it is read."""
        return self.scale is None or not math.isfinite(value) or 0.0 <= value <= self.scale

    def outside_scale(self, value: float, what: str) -> str:
        """Why ``value`` (``what`` it is, e.g. "the result") cannot be a value of this metric: the rule, the value
        and the fix; call it when `within_scale` is false."""
        ends = [0.0] if self.scale is None else [0.0, float(self.scale)]
        shown = format_value(float(value), bounds=ends, digits=6)  # 100.0000001, never 100, which the scale holds
        return (
            f"metric {self.name!r} has a declared scale of {self.scale:g}, so its values lie in [0, {self.scale:g}], "
            f"but {what} gives {self.name}={shown}: "
            "return it on that scale ("
            f"{'divide a percentage by 100' if self.scale == 1 else f'multiply a fraction by {self.scale:g}'}), or "
            f"declare the scale it is reported on (ts.Metric({self.name!r}, {self.direction!r}, scale=100) for a "
            "percentage, scale=1 for a fraction, no scale for a metric without bounds)"
        )

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return a < b if self.direction == "min" else a > b

    def sign(self) -> float:
        """+1 for min, -1 for max: ``sign() * value`` is always a loss."""
        return 1.0 if self.direction == "min" else -1.0

    def to_json(self) -> dict[str, Any]:
        """``name`` and ``direction``, and ``scale`` only when set: a spec stored without one reads the same."""
        data: dict[str, Any] = {"name": self.name, "direction": self.direction}
        if self.scale is not None:
            data["scale"] = self.scale
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Metric:
        """A metric from its table (a config file's, or a stored spec's): ``name``, ``direction`` and optionally
        ``scale``; without a direction, a name that reads like a score is refused, as a bare name is
        (`metric_named`)."""
        check_keys("metric", data, ("name", "direction", "scale"))
        scale = data.get("scale")
        if "direction" not in data:
            named = metric_named(
                str(data["name"]),
                fix="add direction = 'max' to the metric's table (or 'min' if lower really is better)",
            )
            return cls(named.name, named.direction, scale)
        return cls(str(data["name"]), data["direction"], scale)


class MetricDirectionWarning(UserWarning):
    """A new study minimises a metric whose name reads like a score (accuracy, AUC, F1...), or maximises one whose
    name reads like a loss (loss, log loss, error, RMSE...)."""


def warn_if_minimised_score(metric: Metric, objectives: Sequence[Metric] = ()) -> None:
    """Warn when ``metric``'s direction contradicts its name: minimised although the name says higher is better
    (`reads_as_score`), as ``Metric("val_accuracy")`` (minimised by default) or ``"min"`` given by mistake, or
    maximised although it says lower is better (`reads_as_loss`: ``Metric("valid_0-binary_logloss", "max")``).
    Either way the search would look for the worst model. Called when a study is created, not each time one is
    opened. Among several ``objectives``, ``f1``, ``f2``... are how optimisation papers number them, not F1
    scores: not warned."""
    numbered = len(objectives) > 1 and re.fullmatch(r"f\d+", metric.name) is not None
    if metric.direction == "min" and reads_as_score(metric.name) and not numbered:
        warnings.warn(
            f"metric {metric.name!r} reads like a score where higher is better, but the study minimises it: "
            f"pass ts.Metric({metric.name!r}, 'max'); if lower really is better, name it so (e.g. "
            f"'{metric.name}_error') or filter this warning",
            MetricDirectionWarning,
            stacklevel=outside_stacklevel(),
        )
    elif metric.direction == "max" and reads_as_loss(metric.name):
        warnings.warn(
            f"metric {metric.name!r} reads like a loss where lower is better, but the study maximises it: "
            f"pass ts.Metric({metric.name!r}, 'min'); if higher really is better (a negated loss), name it so "
            f"(e.g. 'neg_{metric.name}') or filter this warning",
            MetricDirectionWarning,
            stacklevel=outside_stacklevel(),
        )


def check_keys(what: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    """Refuse keys of a ``what`` table other than ``known``, with the closest known one: a misspelt one would be
    dropped silently."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} must be a table with keys {', '.join(known)}, got {data!r}")
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"{what} has unknown {'key' if len(unknown) == 1 else 'keys'} {', '.join(map(repr, unknown))}: {hint}its "
            f"keys are {', '.join(known)}"
        )


# Words of a metric's name (split at anything but letters and digits) that say higher is better, and words that
# say lower is: a name with a word of the second kind is never read as a score ("accuracy_loss"), unless it also
# has a word of `_SCORE_OF_LOSS_WORDS`. Every scikit-learn scorer name (`sklearn.metrics.get_scorer_names()`, all
# higher-is-better) reads as a score: f1, jaccard, matthews_corrcoef, explained_variance, d2_*_score,
# positive_likelihood_ratio and the neg_* losses; so do XGBoost's and LightGBM's built-in scores (aucpr, pre@k,
# map, ndcg) and those of Hugging Face's evaluate (pearson, spearmanr, exact_match, SQuAD's exact, meteor, chrf,
# gleu), Keras's (every IoU, as it spells them: mean_io_u; specificity_at_sensitivity) and torchmetrics' image scores
# (psnr, ssim), and their built-in losses read as losses (l1, l2, mape, rmsle, mphe, the nloglik and deviance
# metrics). Keras's cosine_similarity is left out: its loss of that name is minimised.
_SCORE_WORDS = frozenset({"acc", "accuracy", "auc", "auroc", "auprc", "aucpr", "precision", "pre", "recall", "r2",
                          "iou", "dice", "ndcg", "bleu", "rouge", "map", "mcc", "kappa", "score", "reward", "neg",
                          "f1", "jaccard", "matthews", "corrcoef", "explained", "d2", "likelihood", "pearson",
                          "spearman", "exact", "exactmatch", "psnr", "ssim", "meteor", "chrf", "gleu", "specificity",
                          "sensitivity", "concordance", "fbeta", "mrr"})  # fmt: skip
_LOSS_WORDS = frozenset({"loss", "error", "err", "mse", "mae", "rmse", "rmsle", "mape", "mphe", "l1", "l2", "nll",
                         "nloglik", "deviance", "perplexity", "ppl", "cost", "latency", "regret", "wer", "cer",
                         "sse", "rss", "time", "ms", "brier", "negative"})  # fmt: skip
# Words that make a score of a loss: scikit-learn's negated losses (neg_log_loss, neg_negative_likelihood_ratio)
# and D² scores, the share of a loss's deviance explained (d2_log_loss_score).
_SCORE_OF_LOSS_WORDS = frozenset({"neg", "d2"})
# Loss words that do not say on their own that lower is better: units and qualifiers of a maximised rate
# (tokens_per_ms, true_negative_rate), which keep a score's name from reading as a score but are no loss by
# themselves (`reads_as_loss`).
_QUALIFIER_WORDS = frozenset({"time", "ms", "negative"})


# Words long enough to be found inside a name written without separators (``valaccuracy``, ``trainloss``); "time",
# "exact" and "ssim" are too often part of another word (runtime, inexact, pessimistic).
_LONG_WORDS = frozenset(w for w in _SCORE_WORDS | _LOSS_WORDS if len(w) >= 4) - {"time", "exact", "ssim"}


def name_words(name: str, inside: Collection[str] = ()) -> set[str]:
    """The words of a metric's name, lower-cased: split at anything but letters and digits and at camelCase humps
    (``valAcc``, ``testAUC``, ``F1Score``), plus each of ``inside`` found within a word that is not itself one of
    them (``valaccuracy``, ``trainloss``)."""
    # Keras writes a class name's "IoU" as "io_u" (MeanIoU logs mean_io_u): one word.
    name = re.sub(r"(?i)(?<![a-z])io_u(?![a-z0-9])", "iou", name)
    humps = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    words = {w for w in re.split(r"[^a-z0-9]+", humps.lower()) if w}
    found = {known for w in words.difference(inside) for known in inside if known in w}
    return words | found


def reads_as_score(name: str) -> bool:
    """Whether a metric's name says higher is better: accuracy, AUC, precision, recall, F1, R2, a score, a reward,
    and every scikit-learn scorer name, its negated losses (``neg_log_loss``) and D² scores
    (``d2_log_loss_score``) included. Words are read in any spelling: ``val_accuracy``, ``valAccuracy``,
    ``valaccuracy``. (Numbered objectives ``f1``, ``f2`` of a study with several are `warn_if_minimised_score`'s
    exception, not this function's.)"""
    words = name_words(name, _LONG_WORDS)
    if words & _LOSS_WORDS:
        return bool(words & _SCORE_OF_LOSS_WORDS)  # neg_mean_squared_error: a negated loss, maximised
    return bool(words & _SCORE_WORDS)


def reads_as_loss(name: str) -> bool:
    """Whether a metric's name says lower is better: a loss (``binary_logloss``, ``val_loss``), an error or error
    rate, RMSE, MAE, MSE, a negative log-likelihood, a perplexity, a cost, a latency, a regret; read as
    `reads_as_score` reads words, and not when ``neg`` or ``d2`` makes a score of the loss (``neg_log_loss``).
    A unit or a qualifier alone (``time``, ``ms``, ``negative``) is no loss: ``tokens_per_ms`` and
    ``true_negative_rate`` may be maximised, while ``negative_log_likelihood`` is a loss."""
    words = name_words(name, _LONG_WORDS)
    loss = bool(words & (_LOSS_WORDS - _QUALIFIER_WORDS)) or {"negative", "likelihood"} <= words
    return loss and not words & _SCORE_OF_LOSS_WORDS


# Words of losses that are never negative and have no upper bound, by which `Metric` refuses a scale and a relative
# reading near zero says "too noisy" rather than "declare a scale": one word (``rmse``, ``logloss``) or all the words
# of a phrase (``log_loss``, ``cross_entropy``, ``mean_squared_error``). A bounded loss (``zero_one_loss``, ``brier``,
# an error rate) and a negated one (``neg_log_loss``) are not among them.
_UNBOUNDED_LOSS_WORDS = frozenset({"mse", "mae", "rmse", "msle", "rmsle", "mape", "logloss", "nll", "nloglik",
                                   "crossentropy", "xent", "bce", "perplexity", "ppl", "huber", "hinge", "deviance",
                                   "kld", "sse", "rss"})  # fmt: skip
_UNBOUNDED_LOSS_PAIRS = (frozenset({"log", "loss"}), frozenset({"cross", "entropy"}),
                         *(frozenset({size, error}) for size in ("squared", "sq", "absolute", "abs")
                           for error in ("error", "err")),
                         frozenset({"negative", "log", "likelihood"}))  # fmt: skip


def reads_as_unbounded_loss(name: str) -> bool:
    """Whether a metric's name says a loss that is never negative and has no upper bound: a log loss, a
    cross-entropy, a negative log-likelihood, a perplexity, RMSE, MSE, MAE, a hinge or Huber loss, a deviance;
    read as `reads_as_loss` reads words (``binary_logloss``, ``valCrossEntropy``), and not when ``neg`` or ``d2``
    makes a score of it (``neg_log_loss``, ``d2_log_loss_score``)."""
    # Found inside a longer word too (``valrmse``), except "mape" (inside "smape", bounded at 200%).
    words = name_words(name, {w for w in _UNBOUNDED_LOSS_WORDS if len(w) >= 4} - {"mape"})
    found = bool(words & _UNBOUNDED_LOSS_WORDS) or any(pair <= words for pair in _UNBOUNDED_LOSS_PAIRS)
    return found and not words & _SCORE_OF_LOSS_WORDS


def metric_named(name: str, fix: str | None = None) -> Metric:
    """The metric a bare name stands for: minimised, unless the name reads like a score (`reads_as_score`),
    which is refused rather than minimised silently. ``fix`` is what to write instead, where the name came from
    something other than Python (a config file); by default the `Metric` call."""
    if reads_as_score(name):
        raise ConfigError(
            f"metric {name!r} reads like a score where higher is better, but a bare name is minimised: "
            + (fix or f"pass ts.Metric({name!r}, 'max') (or ts.Metric({name!r}, 'min') if lower really is better)")
        )
    return Metric(name)


@checked_arguments()
@dataclass(frozen=True)
class Guardrail:
    """A constraint a winner must satisfy, e.g. ``Guardrail("latency_ms", "<=", 20.0)``.

    A trial whose result breaches it is recorded INFEASIBLE: kept for the samplers as
    information, never reported as best. ``exact=True`` declares a metric without noise (a parameter
    count, a model's size): re-runs that agree then show it held, where for a measured metric (a
    latency, a calibration error) they are one number of unknown noise, which shows only a breach.
    """

    metric: str
    op: str
    bound: float
    exact: bool = False  # the metric has no noise (a parameter count, a model's size): runs that agree are exact

    def __post_init__(self) -> None:
        if not isinstance(self.exact, bool):
            raise ConfigError(
                f"guardrail exact must be True or False, got exact={self.exact!r}: pass exact=True only for a metric "
                "with no noise (a parameter count, a model's size on disk)"
            )
        if not isinstance(self.metric, str) or not self.metric:
            raise ConfigError(
                f"guardrail metric must be a non-empty string, got metric={self.metric!r}: pass the key your "
                "objective returns, e.g. Guardrail('latency_ms', '<=', 20.0)"
            )
        if not isinstance(self.op, str) or self.op not in _OPS:
            raise ConfigError(f"guardrail op must be one of {list(_OPS)}, got op={self.op!r}: use '<=' for a ceiling")
        bound = real("bound", self.bound, context="guardrail", fix="pass the limit as a number, e.g. 20.0")
        object.__setattr__(self, "bound", bound)

    def holds(self, value: float) -> bool:
        return math.isfinite(value) and _OPS[self.op](value, float(self.bound))

    def describe(self) -> str:
        """``latency_ms <= 20``: the bound printed in full (``1234567``, never ``1.23457e+06``)."""
        return f"{self.metric} {self.op} {self.bound_text()}"

    def bound_text(self) -> str:
        """The bound, printed so that it reads back as itself: on its own side of itself (`format_value`)."""
        return format_value(float(self.bound), bounds=[float(self.bound)])

    def value_text(self, value: float, digits: int = 3) -> str:
        """``value`` of the metric, printed on the side of the bound it lies on: 50.0000001 under ``<= 50`` prints
        ``50.0000001``, never ``50``, the figure of a value that holds."""
        return format_value(float(value), bounds=[float(self.bound)], digits=digits)

    def to_json(self) -> dict[str, Any]:
        exact = {"exact": True} if self.exact else {}  # a guardrail stored before reads the same
        return {"metric": self.metric, "op": self.op, "bound": self.bound, **exact}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Guardrail:
        check_keys("guardrail", data, ("metric", "op", "bound", "exact"))
        return cls(str(data["metric"]), str(data["op"]), data["bound"], data.get("exact", False))  # checked there


def example_numbers(name: str, values: Any) -> list[float]:
    """Metric ``name``'s per-example values as floats, one per example: a column (an array or a tensor of shape
    ``(n, 1)``) is read as its ``n`` values, as a sequence of numbers is.

    Raises:
        ValueError: with the rule and the fix, when ``values`` holds more than one value per example (a table, an
            array of shape ``(n, k)``) or something that is not a number.
    """
    values = detached(values)
    shape = getattr(values, "shape", None)
    if isinstance(shape, tuple) and len(shape) > 1:  # an array, a tensor (torch.Size is a tuple) or a table
        if hasattr(values, "columns"):
            raise ValueError(f"metric {name!r} holds a table of shape {tuple(shape)}, where per-example values are "
                             "one number per example: return its column of them (table['column'])")  # fmt: skip
        if any(d != 1 for d in shape[1:]):
            raise ValueError(f"metric {name!r} holds {len(shape)}-dimensional values of shape {tuple(shape)}, where "
                             "per-example values are one number per example: reduce each example's row to one value "
                             "(its loss, or whether its prediction was right)")  # fmt: skip
        values = values.reshape(-1)  # one value per example, as a column: (n, 1)
    try:
        # an array's or a tensor's values in one copy (a GPU tensor's element by element: a device sync each); a list
        # of loss tensors, each still in the graph, one by one
        listed = values.tolist() if callable(getattr(values, "tolist", None)) else values
        numbers = [float(detached(v)) for v in listed]
    except (TypeError, ValueError):
        raise ValueError(f"metric {name!r} holds per-example values that are not all numbers: "
                         f"{_first_not_a_number(values)}; return one number per example") from None
    except Exception as exc:  # noqa: BLE001 - an int beyond a float's range, a device tensor's own error
        raise ValueError(f"metric {name!r} holds per-example values that float() cannot read: "
                         f"{type(exc).__name__}: {excerpt(str(exc))}") from None  # fmt: skip
    return numbers


def summarise(name: str, values: Any) -> dict[str, float]:
    """``{name: mean, "stderr:<name>": standard error, "count:<name>": n, "digest:<name>": fingerprint}`` of
    per-example values (the standard error and the fingerprint from two values on).

    The array itself is never stored: its mean is the metric, and the count and standard error say
    how much sampling noise the mean carries (the verdict's holdout-gap check reads them). The fingerprint
    (`digest_of`) is bookkeeping, not a metric: it lets the holdout-gap check tell a holdout that is the
    validation set from one whose mean ties with it by chance.

    Raises:
        ValueError: when ``values`` is empty or holds something that is not a number.
    """
    numbers = example_numbers(name, values)
    if not numbers:
        raise ValueError(f"metric {name!r} is an empty sequence: return one value per validation example")
    n = len(numbers)
    mean = math.fsum(numbers) / n
    out = {name: mean, f"{COUNT}{name}": float(n)}
    if n > 1:  # one value says nothing about its own noise
        variance = math.fsum((v - mean) ** 2 for v in numbers) / (n - 1)
        out[f"{STDERR}{name}"] = math.sqrt(variance / n)
        out[f"{DIGEST}{name}"] = digest_of(numbers)
    return out


def digest_level(value: float) -> str:
    """One per-example value as `digest_of` reads it: to 12 significant digits, ``-0.0`` as ``0.0``."""
    return f"{float(value) + 0.0:.{_DIGEST_DIGITS}g}"


def digest_of(values: Sequence[float]) -> float:
    """A fingerprint of per-example ``values`` in their order, each read by `digest_level`: equal for the same
    values, and for different ones about once in 2**52. It is a whole number below 2**52, which a float holds
    exactly, so that storage keeps it as the float a result's every value is."""
    text = ",".join(digest_level(v) for v in values)
    return float(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 12)


def without_digests(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` but their fingerprints (``digest:<m>``): bookkeeping for the holdout check, which no view or
    export shows as a metric (a hash read as a number means nothing)."""
    return {name: value for name, value in metrics.items() if not name.startswith(DIGEST)}


def _first_not_a_number(values: Any) -> str:
    """The first of ``values`` that ``float()`` cannot read, with its place and type."""
    for index, value in enumerate(values):
        try:
            float(value)
        except (TypeError, ValueError):
            return f"the value at index {index} is {excerpt(repr(value), 60)} ({type(value).__name__})"
    return "one of them cannot be read as a number"


def is_per_example(value: Any) -> bool:
    """Whether a result value is a sequence of per-example values (a list, a tuple, an array), not one number."""
    if isinstance(value, str | bytes | Mapping):
        return False
    if getattr(value, "ndim", 1) == 0:  # a zero-dimensional array is one number
        return False
    return isinstance(value, list | tuple) or (hasattr(value, "__len__") and hasattr(value, "__iter__"))


def non_finite_examples(result: Any, name: str) -> str | None:
    """Which of the per-example values ``result`` holds for ``name`` are not finite, in words (``None``: it holds no
    such sequence, or every value is finite). Their mean is NaN or infinite, and the failure said only that: a
    per-example loss that is NaN on a few examples is a log(0) or a division by zero there, not a divergence."""
    values = result.get(name) if isinstance(result, Mapping) else None
    if values is None or not is_per_example(values):
        return None
    try:
        numbers = example_numbers(name, values)
    except ValueError:
        return None
    bad = [i for i, number in enumerate(numbers) if not math.isfinite(number)]
    if not bad:
        return None
    kinds = sorted({"NaN" if math.isnan(numbers[i]) else "infinite" for i in bad})
    where = ", ".join(str(i) for i in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    return (f"{len(bad)} of its {len(numbers)} per-example values {'is' if len(bad) == 1 else 'are'} "
            f"{' or '.join(kinds)}, at example{'s' if len(bad) > 1 else ''} {where} (counting from 0)")


def _is_bool(value: Any) -> bool:
    """Whether ``value`` is a truth value, Python's or an array library's (``numpy.bool_``, a 0-d bool array or
    tensor), which ``float()`` would read as 1.0 or 0.0."""
    if isinstance(value, bool):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(value, "ndim", None) == 0 and dtype is not None and str(dtype).rsplit(".", 1)[-1] == "bool"


def normalise_result(result: Any, metric: Metric, *, objectives: Sequence[Metric] = ()) -> dict[str, float]:
    """Turn what an objective returned into a dict of float metrics.

    A bare number is the primary metric. In a dict, a sequence of numbers (a list, an array) is a
    metric's per-example values: see `summarise`; its ``stderr:`` or ``count:`` key returned beside them is refused
    (`_refuse_noise_beside`), while beside one number it is the objective's own noise. Raises `ValueError` with the
    reason when the result lacks the primary metric, holds something that is not a number, gives an objective as a
    bool, or gives an objective outside its declared scale (`Metric.scale`; a per-example metric by its mean); or holds
    a ``slice:``/``fold:`` key naming no metric it returns (`unread_key`) or a ``shifted:`` key (`_refuse_shifted`),
    which nothing reads in a search.
    ``objectives`` are every objective of a multi-objective study (empty for one): a result that is not a dict is
    then told to be one with each of them, and each objective it holds is checked as the primary metric is.
    """
    if _is_bool(result):
        raise ValueError(f"the objective returned a bool ({result!r}); return a float or a dict of floats")
    # every real number a dict's value may be (a Fraction, a Decimal), as float() reads it there
    if isinstance(result, numbers.Real | decimal.Decimal):
        return _on_scale({metric.name: _number(metric.name, result)}, (metric,))
    if hasattr(result, "item") and callable(result.item) and not is_per_example(result):  # numpy / torch scalars
        return _on_scale({metric.name: _number(metric.name, result, item=True)}, (metric,))
    if not isinstance(result, Mapping):
        if len(objectives) > 1:
            raise ValueError(_not_a_dict_of_objectives(result, [m.name for m in objectives]))
        if is_per_example(result):  # Optuna's objectives return a tuple for several objectives
            raise ValueError(
                f"the objective returned {counted(len(result), 'value')} ({type(result).__name__}), but the study "
                f"has one objective, {metric.name!r}: return a float or a dict such as {{'{metric.name}': 0.1}}; for "
                "several objectives declare them (metrics=[...]) and return a dict naming each, and per-example "
                f"values go under the metric's name, {{'{metric.name}': values}}"
            )
        returned = ("None: it ended without a return statement reaching its result (a missing return, or one only "
                    "in some branch)") if result is None else type(result).__name__  # fmt: skip
        raise ValueError(
            f"the objective returned {returned}; return a float or a dict such as {{'{metric.name}': 0.1}}"
        )
    checked = (metric, *(m for m in objectives if m.name != metric.name))
    names = {m.name for m in checked}
    out: dict[str, float] = {}
    for key, value in result.items():
        if str(key).startswith(DIGEST):
            # The holdout check reads this key as the fingerprint of the validation examples: one an objective
            # wrote could pass a holdout that is the validation set, or fail an honest one.
            raise ValueError(
                f"the result returns {excerpt(repr(key))}, but {DIGEST!r} keys are tunesmith's own (the fingerprint "
                "of a metric's per-example values, computed when the objective returns them): rename the key"
            )
        if is_per_example(value):
            _refuse_noise_beside(key, result)
            out.update(summarise(str(key), value))
            continue
        # float() would read "0.5" as 0.5 (text where a number was meant) and True as 1.0 (a flag beside the
        # objectives may be one, an objective itself never)
        if isinstance(value, str | bytes) or (_is_bool(value) and key in names):
            raise ValueError(
                f"metric {excerpt(repr(key))} is not a number: {excerpt(repr(value))} ({type(value).__name__}); "
                "return a float"
            )
        out[str(key)] = _number(key, value)
    if metric.name not in out:
        raise MissingMetric(f"the result has no {metric.name!r} (the study's metric); {keys_of(out, metric.name)}")
    _refuse_shifted(out)  # first: unread_key's fix for a shifted key names one, which a search cannot take either
    if (unread := unread_key(out, names, metric.name)) is not None:
        raise ValueError(unread)
    return _on_scale(out, checked)


def _refuse_shifted(out: Mapping[str, float]) -> None:
    """Refuse a search's (or a re-run's) result holding a ``shifted:<metric>`` key: the shifted-data check reads one
    from the holdout only (finalize's ``evaluate`` beside the holdout score, or its ``shifted`` evaluation), so here
    nothing would, and the verdict said "no shifted or time-split test set given" of a study that returned one."""
    shifted = [key for key in out if key.startswith(SHIFTED)]
    if not shifted:
        return
    more = f" (and {len(shifted) - 1} more)" if len(shifted) > 1 else ""
    name = shifted[0][len(SHIFTED) :]
    raise ValueError(
        f"the result returns {excerpt(repr(shifted[0]), 80)}{more}, but a shifted score is read from the holdout only: "
        f"return it from finalize's evaluate beside the holdout score ('shifted:holdout_<metric>'), or pass "
        f"finalize(..., shifted=evaluate_on_shifted); in the search nothing would read it, so to keep it as a metric "
        f"name it without the prefix (e.g. {excerpt(repr(name + '_shifted'), 60)})"
    )


def _refuse_noise_beside(key: object, result: Mapping[Any, Any]) -> None:
    """Refuse a result that gives metric ``key`` as per-example values and also returns a key `summarise` computes
    from them (``stderr:<key>``, ``count:<key>``): which of the two was stored depended on the keys' order. Beside
    one number, such a key is how an objective gives its own noise (a bootstrap standard error), and is kept."""
    for prefix in (STDERR, COUNT):
        given = f"{prefix}{key}"
        if given in result:
            raise ValueError(
                f"the result gives {excerpt(repr(key))} as per-example values, from which its {excerpt(repr(given))} "
                f"is computed, and also returns {excerpt(repr(given))}={excerpt(repr(result[given]))}: a metric's "
                f"noise must come from one source; return the per-example values alone, or the metric's mean as one "
                f"number with {excerpt(repr(given))} beside it"
            )


def _on_scale(out: dict[str, float], metrics: Sequence[Metric]) -> dict[str, float]:
    """``out`` once each of ``metrics`` it holds lies within its declared scale, else `ValueError` with the rule, the
    value and the fix. One it lacks is not checked here: the study reports a missing objective with the outcome."""
    for metric in metrics:
        if metric.name in out and not metric.within_scale(out[metric.name]):
            raise ValueError(metric.outside_scale(out[metric.name], "the result"))
    return out


def _not_a_dict_of_objectives(result: Any, names: Sequence[str]) -> str:
    """Why ``result``, not a dict, is refused by a study whose objectives are ``names``, and the fix: a dict with
    every objective (one number can never be all of them); a sequence of as many values may be zipped with them.

    The values returned are left out: fail-fast knows a broken objective by its trials failing with one message.
    """
    sequence = is_per_example(result)
    returned = f"a {type(result).__name__} of {len(result)} values" if sequence else type(result).__name__
    wanted = "{" + ", ".join(f"{name!r}: ..." for name in names) + "}"
    fix = f"return a dict with every objective, {wanted}"
    if sequence and len(result) == len(names):
        fix += f", e.g. return dict(zip({list(names)!r}, values)) when the {len(names)} values come in that order"
    return (
        f"the objective returned {returned}, but the study has {len(names)} objectives "
        f"({', '.join(repr(name) for name in names)}), which it reads by name from a dict: {fix}"
    )


def _number(key: object, value: Any, *, item: bool = False) -> float:
    """``value`` (``value.item()`` with ``item``) as a float, or `ValueError` naming metric ``key``: whatever
    ``float()`` raises, an ``OverflowError`` for an int beyond a float's range or a framework's error from a
    tensor's conversion too, is the result's fault, and a trial failed for it is recorded, never left running."""
    try:
        value = detached(value)
        return float(value.item() if item else value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {excerpt(repr(key))} is not a number: {excerpt(repr(value))}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the value's own conversion raises is the result's fault
        raise ValueError(f"metric {excerpt(repr(key))} cannot be read as a number: float() raised "
                         f"{type(exc).__name__}: {excerpt(str(exc))}") from None  # fmt: skip


def keys_of(result: Mapping[str, Any], wanted: str, *, taken: Collection[str] = (), shown: int = 20) -> str:
    """What a result that lacks ``wanted`` has instead: the close names first (not those ``taken`` by something
    else, such as the study's other objectives), at most ``shown`` keys, each cut to a short excerpt (a result of
    thousands of keys made a message of megabytes)."""
    keys = sorted(result)
    close = difflib.get_close_matches(wanted, [k for k in keys if k not in taken], n=3)
    listed = ", ".join(excerpt(repr(k), 80) for k in keys[:shown])
    more = f", and {len(keys) - shown} more" if len(keys) > shown else ""
    hint = f"did you mean {' or '.join(excerpt(repr(k), 80) for k in close)}? " if close else ""
    return f"{hint}it has {counted(len(keys), 'key')}: [{listed}{more}]"


def unread_key(result: Mapping[str, Any], names: Collection[str], primary: str) -> str | None:
    """Why a key of ``result`` in one of the forms the discipline reads (``slice:<slice>:<metric>``,
    ``fold:<i>:<metric>``, ``shifted:<metric>``) would be read by nothing, with the rule and the fix; ``None`` when
    each such key names a metric the result returns or one of ``names`` (the names its metric is read by: a holdout
    result's slices may name the validation metric). ``primary``: the metric the fix's example names.

    Such a key read nowhere left the check it was written for "not checked" in silence (``slice:digit:3``, the slice
    and its value, reads as slice ``digit`` of a metric ``3``)."""
    known = {str(k) for k in result if not str(k).startswith(ANNOTATIONS)} | set(names)
    unread: list[tuple[str, str, str]] = []  # (key, what it reads as, the fix)
    for key in map(str, result):
        if key.startswith(SLICE):
            name, colon, of = key[len(SLICE) :].rpartition(":")
            if colon and name and of in known:
                continue
            example = f"{name}_{of}" if name and not any(c.isalpha() for c in of) else (name or of or "night")
            reads = f"slice {name!r} of a metric {of!r}" if name and colon else "no slice: it names one part, not two"
            unread.append((key, reads, f"a slice key is 'slice:<slice>:<metric>', the slice's name (no ':') "
                                       f"then the metric it slices, e.g. {SLICE}{example}:{primary}"))  # fmt: skip
        elif key.startswith(FOLD):
            index, colon, of = key[len(FOLD) :].partition(":")
            if colon and index.isdigit() and of in known:
                continue
            reads = (f"fold {index} of a metric {of!r}" if colon and index.isdigit()
                     else "no fold: its first part is not a fold's number")  # fmt: skip
            unread.append((key, reads, f"a fold key is 'fold:<i>:<metric>', e.g. {FOLD}0:{primary} "
                                       "(ts.discipline.fold_metrics writes them)"))  # fmt: skip
        elif key.startswith(SHIFTED) and key[len(SHIFTED) :] not in known:
            unread.append((key, f"a metric {key[len(SHIFTED):]!r} on shifted data",
                           f"a shifted key is 'shifted:<metric>', e.g. {SHIFTED}{primary}"))  # fmt: skip
    if not unread:
        return None
    key, reads, fix = unread[0]
    more = f" (and {counted(len(unread) - 1, 'more such key')})" if len(unread) > 1 else ""
    metrics = sorted(str(k) for k in result if not str(k).startswith(ANNOTATIONS))
    listed = ", ".join(excerpt(repr(n), 40) for n in metrics[:6]) + (", ..." if len(metrics) > 6 else "")
    return (f"the result returns {excerpt(repr(key), 80)}{more}, which reads as {reads}, but its metrics are "
            f"{listed or 'none'}: nothing would read it; {fix}")


class MissingMetric(ValueError):
    """A result that can be read but lacks the study's metric (a trial of kind MISSING_METRIC, not BAD_RESULT)."""
