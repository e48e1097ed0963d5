"""Which metrics read in points: a bounded score or rate, said by the words of its name, never a regression error."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

import tunesmith as ts
from tunesmith.discipline.gap import scored_in_points

VALUES_IN_0_1 = [0.05, 0.2, 0.9]

BOUNDED = [
    "accuracy", "val_accuracy", "valAccuracy", "valaccuracy", "val_acc", "top5_acc", "balanced_accuracy",
    "sparse_categorical_accuracy", "cross_val_accuracy",
    "error", "error_rate", "valerror", "err", "val_err", "err_rate", "top1_error", "top1Err", "zero_one_loss",
    "misclassification_rate", "hamming_loss",
    "auc", "roc_auc", "testAUC", "val_auroc", "pr_auc", "average_precision",
    "f1", "f1_macro", "F1Score", "fbeta_score", "precision", "recall", "precision_at_k", "recall@10",
    "iou", "val_IoU", "mIoU", "mean_iou", "jaccard", "dice", "dice_loss", "map", "mAP", "mAP@0.5", "map@k",
]  # fmt: skip

NOT_BOUNDED = [
    "mse", "val_mse", "MSE", "mean_squared_error", "val_mean_squared_error", "meanSquaredError", "meansquarederror",
    "root_mean_squared_error", "rmse", "mean_squared_log_error", "msle", "mean_absolute_error", "mae",
    "mean_absolute_percentage_error", "mape", "huber_error", "l2_error", "relative_error",
    "log_loss", "LogLoss", "logloss", "cross_entropy", "CrossEntropyError", "binary_crossentropy_error",
    "perplexity", "ppl", "val_loss", "heatmap", "heatmap_l2", "heatmap_mse",
    "sq_err", "val_sq_err", "sq_error", "mean_sq_err", "squared_err", "abs_err", "val_abs_error", "rel_err", "sse",
    "rss",
]  # fmt: skip


def _misread(names: list[str], bounded: bool) -> list[str]:
    return [name for name in names if scored_in_points(ts.Metric(name), VALUES_IN_0_1) != bounded]


def test_names_of_bounded_scores_and_error_rates_read_in_points() -> None:
    assert _misread(BOUNDED, bounded=True) == []


def test_names_of_regression_errors_and_losses_never_read_in_points_even_with_values_in_0_1() -> None:
    assert _misread(NOT_BOUNDED, bounded=False) == []


def test_map_reads_in_points_only_as_a_word_of_its_own() -> None:
    assert _misread(["mAP", "map@k", "val_map"], bounded=True) == []
    assert _misread(["heatmap", "heatmap_l2", "val_heatmap"], bounded=False) == []


def _judged_on(name: str, validation: npt.NDArray[np.float64], holdout: npt.NDArray[np.float64]) -> ts.Verdict:
    """The verdict on a study of metric ``name`` whose every trial scores ``validation``, and its holdout ``holdout``
    (per-example values, so that both sides carry their noise)."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {name: validation}

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {name: holdout}

    study = ts.Study(ts.Space({"c": ts.Float(0, 1)}), metric=ts.Metric(name, "min"), budget=ts.Budget(trials=3),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(objective)
    return ts.finalize(study, evaluate)


def test_a_holdout_38_percent_worse_in_mean_squared_error_fails_the_gap_check_under_each_of_its_names() -> None:
    validation = np.random.default_rng(0).exponential(0.05, 2000)  # per-example squared errors, mean about 0.05
    holdout = 1.38 * validation  # 38% worse: 1.9 points, within the 2-point limit were it read as a bounded score
    for name in ("val_mean_squared_error", "val_mse", "sq_err"):
        gap = _judged_on(name, validation, holdout).check("holdout gap")
        assert gap.status == "FAILED" and "gap +38.0%" in gap.detail, (name, gap.detail)
