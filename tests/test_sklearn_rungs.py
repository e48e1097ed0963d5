"""`TunesmithSearchCV`'s fits at the scheduler's rungs: the resource levels, stratified subsamples of the training
folds, and a search none of whose configurations worked."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, make_multilabel_classification
from sklearn.model_selection import KFold, StratifiedKFold

import tunesmith as ts
from tunesmith.integrations._sklearn_fits import SubsampledSplits, check_some_worked, resource_ladder
from tunesmith.study import ObjectiveError


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x / 16, y


def test_a_stratified_subsample_holds_every_class_of_its_training_fold(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # 30 random rows of a 10-class fold missed a class, and neg_log_loss scored every configuration NaN
    x, y = digits
    folds = StratifiedKFold(3)
    for (train, test), (whole, same_test) in zip(
        SubsampledSplits(folds, 30, seed=0, stratify=True).split(x, y), folds.split(x, y), strict=True
    ):
        assert len(train) == 30 and set(train) <= set(whole) and np.array_equal(test, same_test)
        assert set(y[train]) == set(y[whole])


def test_a_stratified_subsample_keeps_each_class_share_of_the_fold() -> None:
    x, y = load_breast_cancer(return_X_y=True)  # 212 malignant, 357 benign
    folds = KFold(2, shuffle=True, random_state=0)
    for (train, _), (whole, _) in zip(
        SubsampledSplits(folds, 40, seed=1, stratify=True).split(x, y), folds.split(x, y), strict=True
    ):
        share = np.mean(y[whole] == 1)
        assert abs(np.sum(y[train] == 1) - 40 * share) <= 1


def test_a_rung_too_small_for_every_class_is_refused_with_the_rows_it_gets_and_the_fix(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    with pytest.raises(ts.ConfigError, match=r"n_samples=6 gets 6 of the 1198 rows of training fold 0, which hold 10 "
                       r"classes: give min_resource >= 10"):  # fmt: skip
        SubsampledSplits(StratifiedKFold(3), 6, seed=0, stratify=True).check(x, y)


def test_a_multilabel_target_is_subsampled_at_random_and_never_refused_for_its_label_combinations() -> None:
    # stratification reads a binary or multiclass target; 2**5 label combinations would refuse any rung under 32 rows
    x, y = make_multilabel_classification(n_samples=300, n_classes=5, random_state=0)
    splits = SubsampledSplits(KFold(3), 8, seed=0, stratify=True)
    splits.check(x, y)
    assert [len(train) for train, _ in splits.split(x, y)] == [8, 8, 8]


def test_the_last_level_is_the_full_resource_with_no_rung_just_below_it() -> None:
    # ASHA's rungs from max_resource // 27 = 44 of 1198 rows end at 1188: every survivor was fitted at 1188, then 1198
    rungs = ts.ASHA(min_resource=44, max_resource=1198).rungs()
    assert resource_ladder(rungs, 1198, 3) == [44, 132, 396, 1198]


def test_a_rung_that_saves_fits_stays_below_the_full_resource() -> None:
    # 396 + 1000 / 3 rows per configuration that reaches 396 cost less than fitting each at 1000
    assert resource_ladder(ts.ASHA(min_resource=44, max_resource=1000).rungs(), 1000, 3) == [44, 132, 396, 1000]


def test_a_fractional_rung_is_fitted_at_the_integer_above_it_so_the_fit_reaches_the_rung() -> None:
    # Hyperband's rungs of 1198 rows are 1198 / 27 = 44.37, 133.1, 399.3: fits at 44 and 133 crossed none of them
    assert resource_ladder(ts.Hyperband(min_resource=44, max_resource=1198).rungs(), 1198, 3) == [45, 134, 400, 1198]


def _study() -> ts.Study:
    return ts.Study(ts.Space({"c": ts.Float(0, 1)}), metric=ts.Metric("score", "max"),
                    scheduler=ts.ASHA(min_resource=1, max_resource=9), storage="memory", seed=0)  # fmt: skip


def test_a_search_whose_every_configuration_failed_is_refused_naming_the_failures() -> None:
    # every configuration scored NaN at its first rung: best_params_ was an arbitrary one and best_score_ NaN, silently
    study = _study()
    for _ in range(3):
        study.tell(study.ask(), {"score": float("nan")})
    with pytest.raises(ObjectiveError, match=r"none of its 3 trials has a score \(3 'score is nan'\).*"
                       r"Pass error_score='raise' to raise the first failure"):  # fmt: skip
        check_some_worked(study.trials)


def test_a_configuration_stopped_at_a_rung_counts_as_one_that_worked() -> None:
    study = _study()
    failed, stopped = study.ask(), study.ask()
    study.report(failed.number, 1, {"score": 0.9})
    assert study.report(stopped.number, 1, {"score": 0.1}) is ts.Decision.STOP
    study.tell(failed, {"score": float("nan")})
    study.tell(stopped)
    assert [r.state for r in study.trials] == [ts.TrialState.FAILED, ts.TrialState.STOPPED]
    check_some_worked(study.trials)


def cheapest_within_one_standard_error(results: dict) -> int:
    """scikit-learn's one-standard-error rule: the fastest fit within one standard error of the best mean."""
    means, spreads = results["mean_test_score"], results["std_test_score"]
    best = int(np.nanargmax(means))
    near = np.flatnonzero(means >= means[best] - spreads[best])
    return int(near[np.argmin(results["mean_fit_time"][near])])


def test_a_refit_callable_chooses_among_the_fits_at_max_resource_alone(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # Over every row, the fastest fit within one standard error was one cut short at 18 trees: best_estimator_ had 18.
    from scipy.stats import loguniform, randint
    from sklearn.ensemble import RandomForestClassifier

    seen: list[set[float]] = []

    def rule(results: dict) -> int:
        seen.append(set(np.asarray(results["resource"], dtype=float)))
        assert sorted(results["rank_test_score"]) == list(range(1, len(results["params"]) + 1))
        return cheapest_within_one_standard_error(results)

    x, y = digits
    search = ts.integrations.sklearn.TunesmithSearchCV(
        RandomForestClassifier(random_state=0), {"max_depth": randint(2, 12), "max_features": loguniform(0.05, 1)},
        n_iter=9, cv=3, random_state=0, scheduler="asha", resource="n_estimators", min_resource=2, max_resource=54,
        refit=rule,
    ).fit(x[:600], y[:600])  # fmt: skip
    assert seen == [{54.0}]
    assert search.cv_results_["resource"][search.best_index_] == 54
    assert search.best_estimator_.n_estimators == 54 and search.best_params_["n_estimators"] == 54


def test_a_refit_callable_index_past_the_rows_it_was_given_is_refused(digits: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.ensemble import RandomForestClassifier

    x, y = digits
    search = ts.integrations.sklearn.TunesmithSearchCV(
        RandomForestClassifier(random_state=0), {"max_depth": [2, 4, 6, 8]}, n_iter=4, cv=3, random_state=0,
        scheduler="asha", resource="n_estimators", min_resource=2, max_resource=18, refit=lambda results: 99,
    )  # fmt: skip
    with pytest.raises(IndexError, match=r"the refit callable was given the \d+ rows of cv_results_ fitted at "
                       r"n_estimators=18 .* and returned 99"):  # fmt: skip
        search.fit(x[:300], y[:300])
