"""Which metric names read as scores (maximised) and which as losses: scikit-learn's scorer names included."""

from __future__ import annotations

import pytest
from sklearn.metrics import get_scorer_names

import tunesmith as ts
from tunesmith.objective import MetricDirectionWarning, reads_as_score

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


@pytest.mark.parametrize("name", get_scorer_names())
def test_every_scikit_learn_scorer_name_is_refused_as_a_bare_name_as_accuracy_is(name: str) -> None:
    """Every scorer scikit-learn names is higher-is-better; f1, jaccard, matthews_corrcoef, explained_variance,
    d2_*_score and positive_likelihood_ratio were minimised silently while accuracy was refused with the fix."""
    with pytest.raises(ts.ConfigError, match=rf"metric '{name}' reads like a score where higher is better, but a "
                       rf"bare name is minimised: pass ts.Metric\('{name}', 'max'\)"):  # fmt: skip
        ts.Study(SPACE, metric=name, storage="memory")


MINIMISED_BY_MISTAKE = ["f1", "f1_macro", "jaccard_weighted", "matthews_corrcoef", "explained_variance",
                        "d2_absolute_error_score", "d2_log_loss_score", "positive_likelihood_ratio"]  # fmt: skip


@pytest.mark.parametrize("name", MINIMISED_BY_MISTAKE)
def test_a_minimised_scorer_name_warns_as_a_minimised_accuracy_does(name: str) -> None:
    with pytest.warns(MetricDirectionWarning, match=rf"metric '{name}' reads like a score .* but the study minimises"):
        ts.Study(SPACE, metric=ts.Metric(name), storage="memory")
    assert ts.Study(SPACE, metric=ts.Metric(name, "max"), storage="memory").metric.direction == "max"


@pytest.mark.parametrize("name", ["brier_score", "brier", "negative_log_likelihood", "val_brier_score"])
def test_losses_whose_names_hold_score_words_are_minimised(name: str) -> None:
    """The Brier score is a loss (scikit-learn maximises its negation, neg_brier_score); it was refused as a score."""
    assert not reads_as_score(name)
    assert ts.Study(SPACE, metric=name, storage="memory").metric == ts.Metric(name, "min")


def test_numbered_objectives_of_a_study_with_several_are_not_read_as_f1_scores() -> None:
    """f1, f2 are how optimisation papers number objectives: minimising them among several says nothing wrong,
    while a lone minimised f1 reads as the F1 score."""
    study = ts.Study(SPACE, metrics=[ts.Metric("f1"), ts.Metric("f2")], storage="memory")  # warnings are errors
    assert [m.direction for m in study.objectives] == ["min", "min"]
    with pytest.warns(MetricDirectionWarning, match="metric 'f1' reads like a score"):
        ts.Study(SPACE, metric=ts.Metric("f1"), storage="memory")


@pytest.mark.parametrize(
    "name",
    [
        # Keras spells a class name's IoU "io_u": MeanIoU logs val_mean_io_u
        "val_mean_io_u", "io_u", "val_binary_io_u", "one_hot_mean_io_u",
        "val_specificity_at_sensitivity", "sensitivity_at_specificity", "concordance_correlation",
        "val_psnr", "val_ssim", "eval_meteor", "eval_chrf", "eval_gleu", "val_fbeta", "mrr@10",
    ],
)  # fmt: skip
def test_keras_torchmetrics_and_evaluate_score_names_are_refused_as_bare_names(name: str) -> None:
    """These were read as neither a score nor a loss, so a bare name minimised them without a word: a study on
    Keras's MeanIoU picked the model of the worst IoU."""
    with pytest.raises(ts.ConfigError, match=rf"metric '{name}' reads like a score where higher is better"):
        ts.Study(SPACE, metric=name, storage="memory")


@pytest.mark.parametrize("name", ["pessimistic_bound", "radio_u", "io_unit", "cosine_similarity"])
def test_words_that_only_contain_a_score_s_letters_are_not_read_as_one(name: str) -> None:
    """Keras's cosine_similarity loss is minimised: the name alone cannot say."""
    assert not reads_as_score(name)
