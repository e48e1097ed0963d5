"""How an objective (or a holdout evaluation) reports per-fold, per-slice and shifted-data metrics.

Metrics stay a flat dict of floats; the extra results are keys with a prefix:

* ``fold:<i>:<metric>``: the metric on cross-validation fold ``i`` (used for the optimism estimate);
* ``slice:<name>:<metric>``: the metric on data slice ``name`` (used for the worst-slice check);
* ``shifted:<metric>``: the metric on a shifted or time-split test set (used for the shift check).

``<metric>`` is the study's metric name, or, for a holdout result, the name the holdout value
is under (see `holdout_key`). Helpers build the keys::

    return {"val_loss": losses, **ts.discipline.fold_metrics("val_loss", per_fold_losses),
            **ts.discipline.slice_metrics("val_loss", {"night": losses[night], "day": losses[~night]})}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import SupportsFloat

from tunesmith.objective import FOLD, SHIFTED, SLICE, Metric, folds_of, is_per_example, summarise, without_digests

__all__ = [
    "FOLD",
    "SHIFTED",
    "SLICE",
    "folds_of",
    "fold_metrics",
    "holdout_key",
    "holdout_keys",
    "shifted_of",
    "slice_metrics",
    "slices_of",
]

_VALIDATION_PREFIXES = ("val_", "valid_", "validation_")


def fold_metrics(metric: str, scores: Sequence[float]) -> dict[str, float]:
    """``{"fold:0:<metric>": scores[0], ...}``: per-fold results to merge into an objective's result."""
    return {f"{FOLD}{i}:{metric}": float(v) for i, v in enumerate(scores)}


def slice_metrics(metric: str, slices: Mapping[str, float | Iterable[float]]) -> dict[str, float]:
    """``{"slice:<name>:<metric>": value, ...}``: per-slice results to merge into a result.

    Give each slice its per-example values (a list or an array, one value per example of the slice): the
    result then carries the slice's mean with its count and standard error (``count:`` and ``stderr:`` keys, as
    a per-example metric does), which the worst-slice check needs to tell a collapse from sampling noise. A
    slice given as one number (its mean) carries no noise, and the check says it cannot decide. A metric computed
    on the whole set (an RMSE, AUC, F1: `gap.computed_on_whole_set`) is not the mean of per-example values: give
    each slice's score as one number, with a bootstrap standard error beside it as ``stderr:slice:<name>:<metric>``.

    Example:
        ``slice_metrics("val_acc", {"night": correct[night], "day": correct[~night]})``

    Raises:
        ValueError: a slice name with ``':'``, or a value that is neither a number nor a non-empty sequence
            of numbers.
    """
    out: dict[str, float] = {}
    for name, value in slices.items():
        if ":" in name:
            raise ValueError(f"slice names must not contain ':', got {name!r}: use '_' or '-' instead")
        key = f"{SLICE}{name}:{metric}"
        if is_per_example(value):
            # Without the fingerprint: the objective returns this dict, and a digest: key it returns is refused
            # (only the study computes one, from values it was given).
            out.update(without_digests(summarise(key, value)))
            continue
        if not isinstance(value, SupportsFloat):  # text, or a mapping, where a number was meant
            raise ValueError(
                f"slice {name!r} must be a number or a sequence of per-example numbers, got {value!r} "
                f"({type(value).__name__}): pass one value per example of the slice, e.g. a list or an array"
            )
        out[key] = float(value)
    return out


def slices_of(metrics: Mapping[str, float], names: Iterable[str]) -> dict[str, float]:
    """Slice name -> value, for the first of ``names`` that any slice key uses."""
    for metric in names:
        found = {}
        for key, value in metrics.items():
            if key.startswith(SLICE):
                name, _, of = key[len(SLICE) :].rpartition(":")
                if of == metric and name:
                    found[name] = float(value)
        if found:
            return found
    return {}


def shifted_of(metrics: Mapping[str, float], names: Iterable[str]) -> float | None:
    """The shifted-data value under the first of ``names`` present."""
    for metric in names:
        key = f"{SHIFTED}{metric}"
        if key in metrics:
            return float(metrics[key])
    return None


def holdout_key(metric: Metric, result: Mapping[str, float]) -> str | None:
    """Where a holdout result keeps the primary metric.

    In order: ``holdout_<base>`` (``base`` is the metric's name without a ``val_``/``valid_``/
    ``validation_`` prefix, so ``val_loss`` -> ``holdout_loss``), ``holdout_<name>``, then the
    metric's own name.
    """
    return next((key for key in holdout_keys(metric) if key in result), None)


def holdout_keys(metric: Metric) -> tuple[str, ...]:
    """The names a holdout result may give the primary metric, in the order `holdout_key` reads them."""
    base = metric.name
    for prefix in _VALIDATION_PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix) :]
            break
    return tuple(dict.fromkeys((f"holdout_{base}", f"holdout_{metric.name}", metric.name)))
