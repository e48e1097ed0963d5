"""`TunesmithSearchCV` meets scikit-learn's expectations of a search estimator; nested CV on top of it."""

from __future__ import annotations

import inspect
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import expon, loguniform, norm, poisson, randint, reciprocal, uniform
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import check_estimator

import tunesmith as ts
from tunesmith.discipline import nested_cv
from tunesmith.integrations.sklearn import TunesmithSearchCV


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(x)[::2], y[::2]


C_SPACE = ts.Space({"C": ts.Float(1e-3, 1e2, log=True)})


def test_cv_results_have_the_keys_randomized_search_has(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    ours = TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=4, cv=3, random_state=0,
                             return_train_score=True).fit(x, y)  # fmt: skip
    theirs = RandomizedSearchCV(LogisticRegression(), {"C": [0.01, 0.1, 1.0, 10.0]}, n_iter=4, cv=3, random_state=0,
                                return_train_score=True).fit(x, y)  # fmt: skip
    assert set(ours.cv_results_) == set(theirs.cv_results_) | {"trial"}
    assert len(ours.cv_results_["params"]) == 4 and list(ours.cv_results_["trial"]) == [0, 1, 2, 3]
    assert ours.n_splits_ == 3 and ours.best_score_ == pytest.approx(max(ours.cv_results_["mean_test_score"]))
    assert ours.cv_results_["params"][ours.best_index_] == ours.best_params_
    assert [r.state for r in ours.trials_] == [ts.TrialState.COMPLETE] * 4


def test_refit_gives_a_best_estimator_and_refit_false_does_not(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    search = TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=3, cv=2, random_state=1).fit(x, y)
    assert search.best_params_["C"] == search.best_estimator_.C
    assert search.predict(x[:5]).shape == (5,) and 0.8 < search.score(x, y) <= 1.0
    assert hasattr(search, "refit_time_")
    bare = TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=3, cv=2, refit=False, random_state=1).fit(x, y)
    assert not hasattr(bare, "best_estimator_")
    with pytest.raises(AttributeError, match="predict"):
        bare.predict(x[:5])


def test_multimetric_scoring_refits_on_the_named_scorer(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    search = TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=3, cv=2, random_state=0,
                               scoring={"acc": "accuracy", "auc": "roc_auc"}, refit="auc").fit(x, y)  # fmt: skip
    assert {"mean_test_acc", "mean_test_auc", "rank_test_auc"} <= set(search.cv_results_)
    assert search.best_score_ == pytest.approx(search.cv_results_["mean_test_auc"][search.best_index_])
    assert [r.metrics["score"] for r in search.trials_] == list(search.cv_results_["mean_test_auc"])


MARKER = -999.0


class Fussy(ClassifierMixin, BaseEstimator):
    """A classifier that fails to fit: never, on training folds holding the marked row, or always."""

    def __init__(self, fail: str = "never") -> None:
        self.fail = fail

    def fit(self, x: Any, y: Any) -> Fussy:
        if self.fail == "always" or (self.fail == "some" and np.any(x[:, -1] == MARKER)):
            raise ValueError(f"cannot fit with fail={self.fail}")
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: Any) -> np.ndarray:
        return np.full(len(x), self.classes_[0])


def test_error_score_behaves_as_in_randomized_search(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    x = np.column_stack([x, np.zeros(len(x))])
    x[0, -1] = MARKER
    space = ts.Space({"fail": ts.Choice(["never", "some", "always"])})
    with pytest.warns(FitFailedWarning):
        search = TunesmithSearchCV(Fussy(), space, n_trials=3, cv=2, sampler="grid", error_score=0.25).fit(x, y)
    rows = {p["fail"]: i for i, p in enumerate(search.cv_results_["params"])}
    assert set(rows) == {"never", "some"}  # "always" failed every fit: recorded, without a row
    scores = [search.cv_results_[f"split{k}_test_score"][rows["some"]] for k in range(2)]
    assert sorted(scores)[0] == 0.25 and sorted(scores)[1] != 0.25
    states = {r.params["fail"]: r.state for r in search.trials_}
    assert states == {"never": ts.TrialState.COMPLETE, "some": ts.TrialState.COMPLETE, "always": ts.TrialState.FAILED}
    with pytest.raises(ValueError, match="fail=some"):
        TunesmithSearchCV(Fussy(), space, n_trials=3, cv=2, sampler="grid", error_score="raise").fit(x, y)
    with pytest.warns(FitFailedWarning), pytest.raises(ValueError, match="fits failed"):
        only = ts.Space({"fail": ts.Choice(["always"])})
        TunesmithSearchCV(Fussy(), only, n_trials=1, cv=2, sampler="grid").fit(x, y)


def test_a_grid_stops_when_the_space_is_exhausted(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    space = ts.Space({"C": ts.Choice([0.1, 1.0]), "fit_intercept": ts.Choice([True, False])})
    search = TunesmithSearchCV(LogisticRegression(), space, n_trials=10, cv=2, sampler="grid").fit(x, y)
    assert len(search.cv_results_["params"]) == 4


@pytest.mark.slow
def test_n_jobs_evaluates_the_same_configurations(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    one = TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=4, cv=2, sampler="random", random_state=5)
    two = clone(one).set_params(n_jobs=2)
    assert two.get_params()["param_distributions"] == C_SPACE
    serial, parallel = one.fit(x, y), two.fit(x, y)
    assert serial.cv_results_["params"] == parallel.cv_results_["params"]
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"])


def test_asha_on_iterations_stops_poor_configurations_early() -> None:
    x, y = load_digits(return_X_y=True)
    x = x[::3] / 16.0
    y = y[::3]
    space = ts.Space({"alpha": ts.Float(1e-6, 1e-1, log=True)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SGD's convergence warnings at low max_iter are the point
        search = TunesmithSearchCV(
            SGDClassifier(tol=None), space, n_trials=9, cv=2, random_state=0, resource="max_iter", min_resource=1,
            max_resource=9, scheduler="asha",
        ).fit(x, y)  # fmt: skip
    states = [r.state for r in search.trials_]
    assert ts.TrialState.STOPPED in states and ts.TrialState.COMPLETE in states
    resources = np.asarray(search.cv_results_["resource"])
    assert set(resources) == {1, 3, 9} and resources[search.best_index_] == 9
    assert search.best_params_["max_iter"] == 9 and search.best_estimator_.max_iter == 9
    for record in search.trials_:  # stored with the resource it was trained on: 9 for those trained fully
        assert record.resource == (9 if record.state is ts.TrialState.COMPLETE else max(record.intermediate))


def test_subsampling_is_a_resource_too(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    search = TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=6, cv=2, random_state=0, resource="n_samples",
                               min_resource=20, scheduler="asha").fit(x, y)  # fmt: skip
    assert set(search.cv_results_["resource"]) >= {20, len(x) // 2}
    assert search.cv_results_["resource"][search.best_index_] == max(search.cv_results_["resource"])


def test_settings_that_cannot_work_are_refused(cancer: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = cancer
    with pytest.raises(ts.ConfigError, match="needs a resource"):
        TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=2, scheduler="asha").fit(x, y)
    with pytest.raises(ts.ConfigError, match="not a parameter"):
        TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=2, resource="epochs", max_resource=5).fit(x, y)
    with pytest.raises(ts.ConfigError, match="cannot resume"):
        TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=2, resource="max_iter", max_resource=27,
                          scheduler=ts.ASHA(1, 27, mode="promote")).fit(x, y)  # fmt: skip
    for name in ("pbt", "pb2"):
        with pytest.raises(ts.ConfigError, match=rf"got scheduler='{name}': use scheduler='asha' \(or 'hyperband'"):
            TunesmithSearchCV(LogisticRegression(), C_SPACE, n_trials=2, resource="max_iter", max_resource=27,
                              scheduler=name).fit(x, y)  # fmt: skip


def test_it_passes_scikit_learns_estimator_checks() -> None:
    search = TunesmithSearchCV(Ridge(), {"alpha": ts.Float(0.1, 10.0, log=True)}, n_trials=2, cv=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(
            search,
            expected_failed_checks={
                "check_supervised_y_2d": "RandomizedSearchCV(Ridge()) fails it alike: Ridge takes a 2-d y silently"
            },
        )


def test_nested_cv_gives_outer_scores_with_their_spread() -> None:
    x, y = load_wine(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    result = nested_cv(model, {"logisticregression__C": ts.Float(1e-4, 1e2, log=True)}, x, y, outer=3, inner=2,
                       n_trials=3, sampler="random", random_state=0)  # fmt: skip
    assert len(result.outer_scores) == 3 and len(result.best_params) == 3
    assert 0.8 < result.mean <= 1.0 and result.std >= 0.0
    assert result.optimism == pytest.approx(np.mean(result.inner_best_scores) - result.mean)
    assert "nested CV over 3 outer folds" in result.summary()


def test_nested_cv_says_how_sure_its_optimism_is() -> None:
    from tunesmith.discipline.nested_cv import NestedCVResult

    noisy = NestedCVResult((0.90, 0.92, 0.95), (0.93, 0.90, 0.94), ({}, {}, {}))
    assert noisy.optimism_stderr == pytest.approx(np.std([0.03, -0.02, -0.01], ddof=1) / np.sqrt(3))
    assert "within the noise (one-sided t-test, 5%), so the folds cannot tell" in noisy.summary()
    clear = NestedCVResult((0.90, 0.91, 0.90, 0.90), (0.95, 0.96, 0.95, 0.955), ({}, {}, {}, {}))
    assert "it flatters it by 0.0513 +- 0.0013, a standard error over the folds; beyond their noise" in clear.summary()
    pessimistic = NestedCVResult((0.95, 0.96, 0.95, 0.955), (0.90, 0.91, 0.90, 0.90), ({}, {}, {}, {}))
    assert not pessimistic.optimistic and "within the noise" in pessimistic.summary(), "one-sided: flattering only"


def test_nested_cv_calls_optimism_beyond_noise_at_its_stated_rate_on_few_folds() -> None:
    """Two standard errors over 3 folds (2 degrees of freedom) called pure noise optimistic 18% of the time."""
    from tunesmith.discipline.nested_cv import NestedCVResult

    rng = np.random.default_rng(0)
    for folds in (3, 5):
        calls = 0
        for _ in range(2000):
            outer = 0.9 + 0.02 * rng.standard_normal(folds)
            inner = 0.9 + 0.02 * rng.standard_normal(folds)
            calls += bool(NestedCVResult(tuple(outer), tuple(inner), tuple({} for _ in range(folds))).optimistic)
        assert 0.03 < calls / 2000 < 0.07, f"{folds} folds: {calls / 2000:.1%} of null runs called optimistic"


# A drop-in for RandomizedSearchCV ---------------------------------------------------------------


def test_a_randomized_search_call_runs_with_only_the_class_renamed() -> None:
    X, y = load_iris(return_X_y=True)
    theirs = RandomizedSearchCV(SVC(), {"C": loguniform(1e-3, 1e3), "kernel": ["rbf", "linear"]}, n_iter=20, cv=3,
                                scoring="accuracy", random_state=0, n_jobs=1).fit(X, y)  # fmt: skip
    ours = TunesmithSearchCV(SVC(), {"C": loguniform(1e-3, 1e3), "kernel": ["rbf", "linear"]}, n_iter=20, cv=3,
                             scoring="accuracy", random_state=0, n_jobs=1).fit(X, y)  # fmt: skip
    assert set(ours.cv_results_) == set(theirs.cv_results_) | {"trial"}
    assert len(ours.cv_results_["params"]) == 20 and len(ours.trials_) == 20
    assert ours.space_ == ts.Space({"C": ts.Float(1e-3, 1e3, log=True), "kernel": ts.Choice(["rbf", "linear"])})
    assert {p["kernel"] for p in ours.cv_results_["params"]} == {"rbf", "linear"}
    assert all(1e-3 <= p["C"] <= 1e3 for p in ours.cv_results_["params"])
    assert ours.best_score_ == pytest.approx(max(ours.cv_results_["mean_test_score"]))
    assert ours.best_params_ == ours.cv_results_["params"][ours.best_index_]
    assert ours.best_estimator_.get_params()["C"] == ours.best_params_["C"]
    assert ours.best_estimator_.kernel == ours.best_params_["kernel"]
    assert ours.score(X, y) == pytest.approx(ours.best_estimator_.score(X, y))
    assert ours.n_splits_ == theirs.n_splits_ == 3 and ours.refit_time_ > 0
    # as good a search as scikit-learn's on the same budget: within one fold's worth of accuracy
    assert ours.best_score_ >= theirs.best_score_ - 1 / 50


def test_it_takes_every_argument_of_randomized_search_with_the_same_default() -> None:
    theirs = inspect.signature(RandomizedSearchCV).parameters
    ours = inspect.signature(TunesmithSearchCV).parameters
    assert list(ours)[: len(theirs)] == list(theirs)
    for name, param in theirs.items():
        assert ours[name].kind == param.kind
        assert ours[name].default is param.default or ours[name].default == param.default, name


@pytest.mark.parametrize(
    ("distribution", "param"),
    [
        (loguniform(1e-3, 1e3), ts.Float(1e-3, 1e3, log=True)),
        (reciprocal(0.5, 50.0), ts.Float(0.5, 50.0, log=True)),
        (uniform(0.5, 2.0), ts.Float(0.5, 2.5)),
        (uniform(loc=0.1, scale=0.8), ts.Float(0.1, 0.9)),
        (randint(1, 6), ts.Int(1, 5)),
        (randint(2, 3), ts.Fixed(2)),
        ([0.1, 1.0, 10.0], ts.Choice([0.1, 1.0, 10.0])),
        (np.array([1, 2, 3]), ts.Choice([1, 2, 3])),
        ([1.0, 1.0, 10.0], ts.Choice([1.0, 10.0])),
        ([True], ts.Fixed(True)),
        (ts.Float(0.2, 0.3), ts.Float(0.2, 0.3)),
    ],
    ids=lambda value: getattr(getattr(value, "dist", None), "name", type(value).__name__),
)
def test_each_distribution_is_read_as_the_parameter_with_the_same_range(distribution: Any, param: ts.Param) -> None:
    x, y = load_iris(return_X_y=True)
    # One value is one configuration: fitted once, with scikit-learn's warning, as RandomizedSearchCV does.
    once = pytest.warns(UserWarning, match="Running 1 iterations") if isinstance(param, ts.Fixed) else nullcontext()
    with once:
        search = TunesmithSearchCV(Recorder(), {"value": distribution}, n_iter=4, cv=2, random_state=0).fit(x, y)
    assert search.space_["value"] == param
    assert all(param.contains(p["value"]) for p in search.cv_results_["params"])


class Recorder(ClassifierMixin, BaseEstimator):
    """A classifier that takes any ``value`` and ``shape`` and predicts the majority class."""

    def __init__(self, value: Any = None, shape: Any = None) -> None:
        self.value = value
        self.shape = shape

    def fit(self, x: Any, y: Any) -> Recorder:
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        self.seen_ = (self.value, self.shape)
        return self

    def predict(self, x: Any) -> np.ndarray:
        return np.full(len(x), self.majority_)


def test_a_list_of_values_that_are_not_json_reaches_the_estimator_as_given() -> None:
    x, y = load_iris(return_X_y=True)
    shapes = [(50,), (100, 50), None]
    search = TunesmithSearchCV(Recorder(), {"shape": shapes}, n_iter=6, cv=2, sampler="grid").fit(x, y)
    assert search.space_["shape"] == ts.Choice(["(50,)", "(100, 50)", "None"])
    assert [p["shape"] for p in search.cv_results_["params"]] == shapes
    assert search.best_estimator_.seen_[1] in shapes
    assert {r.params["shape"] for r in search.trials_} == {"(50,)", "(100, 50)", "None"}


def test_a_list_of_dicts_picks_one_dict_per_configuration() -> None:
    x, y = load_iris(return_X_y=True)
    grids = [
        {"kernel": ["linear"], "C": loguniform(1e-2, 1e2)},
        {"kernel": ["rbf"], "C": loguniform(1e-2, 1e2), "gamma": loguniform(1e-3, 1e1)},
    ]
    search = TunesmithSearchCV(SVC(), grids, n_iter=12, cv=2, sampler="random", random_state=0).fit(x, y)
    rows = search.cv_results_["params"]
    assert {p["kernel"] for p in rows} == {"linear", "rbf"}
    assert all(set(p) == ({"kernel", "C"} if p["kernel"] == "linear" else {"kernel", "C", "gamma"}) for p in rows)
    assert all(1e-2 <= p["C"] <= 1e2 for p in rows)
    # "C" has one distribution in both dicts: one parameter; "kernel" differs: one per dict
    assert set(search.space_) == {"@distributions", "C", "kernel@0", "kernel@1", "gamma"}
    assert search.space_["C"].conditions == {"@distributions": (0, 1)}
    assert search.best_estimator_.kernel == search.best_params_["kernel"]


def test_a_tunesmith_condition_inside_one_of_the_dicts_still_holds() -> None:
    x, y = load_iris(return_X_y=True)
    grids = [
        {"kernel": ["linear", "rbf"], "gamma": ts.Float(1e-3, 1.0, log=True, when={"kernel": "rbf"})},
        {"kernel": ["poly"], "degree": randint(2, 4)},
    ]
    search = TunesmithSearchCV(SVC(), grids, n_iter=12, cv=2, sampler="random", random_state=1).fit(x, y)
    rows = search.cv_results_["params"]
    expected = {"linear": {"kernel"}, "rbf": {"kernel", "gamma"}, "poly": {"kernel", "degree"}}
    assert {p["kernel"] for p in rows} == set(expected)
    assert all(set(p) == expected[p["kernel"]] for p in rows)


def test_a_distribution_without_an_equivalent_is_refused_with_the_range_to_use() -> None:
    x, y = load_iris(return_X_y=True)

    def fit(distributions: Any) -> None:
        TunesmithSearchCV(Recorder(), distributions, n_iter=2, cv=2).fit(x, y)

    with pytest.raises(ts.SpaceError, match=r"\['value'\] is scipy.stats.norm\(0, 1\).*use uniform\(-2.326, 4.653\)"):
        fit({"value": norm(0, 1)})
    with pytest.raises(ts.SpaceError, match=r"scipy.stats.expon.*use loguniform\(0.01005, 4.605\)"):
        fit({"value": expon()})
    with pytest.raises(ts.SpaceError, match=r"scipy.stats.poisson\(3\).*use randint\(0, 9\) or ts.Int\(0, 8\)"):
        fit({"value": poisson(3)})
    with pytest.raises(ts.SpaceError, match=r"loguniform\(1, 10, loc=5\).*only without loc"):
        fit({"value": loguniform(1, 10, loc=5)})
    with pytest.raises(ts.SpaceError, match=r"\[1\]\['value'\] must be a list of values.*\['abc'\]"):
        fit([{"value": [1, 2]}, {"value": "abc"}])
    with pytest.raises(ts.SpaceError, match=r"must name at least one parameter"):
        fit({})
    with pytest.raises(ts.SpaceError, match=r"must list at least one value"):
        fit({"value": []})
    with pytest.raises(ts.ConfigError, match=r"n_iter and n_trials both set the trial budget.*pass only n_iter"):
        TunesmithSearchCV(Recorder(), {"value": [1, 2]}, n_iter=3, n_trials=5).fit(x, y)
    with pytest.raises(ts.ConfigError, match=r"n_iter must be a positive integer, got n_iter=0"):
        TunesmithSearchCV(Recorder(), {"value": [1, 2]}, n_iter=0).fit(x, y)


def test_n_trials_still_sets_the_budget_and_n_iter_defaults_to_ten() -> None:
    x, y = load_iris(return_X_y=True)
    assert len(TunesmithSearchCV(Recorder(), {"value": uniform()}, cv=2).fit(x, y).trials_) == 10
    assert len(TunesmithSearchCV(Recorder(), {"value": uniform()}, cv=2, n_trials=3).fit(x, y).trials_) == 3


def test_scipy_distributions_pass_scikit_learns_estimator_checks() -> None:
    search = TunesmithSearchCV(Ridge(), {"alpha": loguniform(0.1, 10.0), "fit_intercept": [True, False]}, n_iter=2,
                               cv=2, random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(
            search,
            expected_failed_checks={
                "check_supervised_y_2d": "RandomizedSearchCV(Ridge()) fails it alike: Ridge takes a 2-d y silently"
            },
        )


def test_a_resumed_search_scores_the_stored_configurations_again_so_the_best_stays_the_best(
    tmp_path: Any, cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    # The first fit tries one value of C; the budget is extended and the second fit draws the other only.
    # best_params_ came from this fit's rows alone, so C=0.001 (far worse) won when the second fit drew it;
    # a third fit, its budget spent, crashed inside scikit-learn.
    x, y = cancer
    storage = f"sqlite:///{tmp_path / 'search.db'}"

    def search(n_iter: int) -> TunesmithSearchCV:
        return TunesmithSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression()),
            {"logisticregression__C": [1.0, 0.001]},
            n_iter=n_iter,
            cv=3,
            storage=storage,
            study_name="resumed",
            resume=True,
            random_state=0,
        ).fit(x, y)

    first = search(1)
    assert len(first.cv_results_["params"]) == 1
    ts.Study.load("resumed", storage).extend_budget(trials=2)
    second = search(2)
    assert sorted(p["logisticregression__C"] for p in second.cv_results_["params"]) == [0.001, 1.0]
    assert second.best_params_ == {"logisticregression__C": 1.0} and len(second.trials_) == 2
    spent = search(2)
    assert len(spent.cv_results_["params"]) == 2 and spent.best_params_ == {"logisticregression__C": 1.0}


def test_a_fit_that_raises_records_its_trials_failed_with_the_traceback(tmp_path: Path) -> None:
    """error_score="raise": the fit raises as scikit-learn's does, and its trial is recorded FAILED with the
    exception instead of staying RUNNING in storage as if a worker still ran it."""
    x, y = load_breast_cancer(return_X_y=True)
    url = f"sqlite:///{tmp_path}/raise.db"
    search = TunesmithSearchCV(LogisticRegression(max_iter=300), {"C": [-1.0, -2.0]}, n_iter=2, cv=3,
                               random_state=0, error_score="raise", storage=url, study_name="raise")  # fmt: skip
    with pytest.raises(ValueError, match="'C' parameter"):
        search.fit(x[:200, :5], y[:200])
    (record,) = ts.Study.load("raise", url).trials
    assert record.state is ts.TrialState.FAILED and record.kind is ts.TrialKind.EXCEPTION
    assert (record.reason or "").startswith("exception: ") and "'C' parameter" in (record.error or "")


class Graded(BaseEstimator):
    """An estimator whose score is its ``skill`` at any ``max_iter``: median stopping's ranking is known."""

    def __init__(self, skill: float = 0.5, max_iter: int = 1) -> None:
        self.skill = skill
        self.max_iter = max_iter

    def fit(self, x: Any, y: Any) -> Graded:
        self.fitted_ = True
        return self

    def score(self, x: Any, y: Any) -> float:
        return float(self.skill)


def test_median_stopping_fits_each_configuration_on_a_ladder_and_stops_the_poor_ones_early() -> None:
    # "median" fitted every configuration once, at max_resource: min_resource went unused and nothing was stopped
    x, y = load_iris(return_X_y=True)
    space = ts.Space({"skill": ts.Float(0.0, 1.0)})
    search = TunesmithSearchCV(Graded(), space, n_iter=12, cv=2, sampler="random", random_state=0, scheduler="median",
                               resource="max_iter", min_resource=1, max_resource=9).fit(x, y)  # fmt: skip
    assert set(search.cv_results_["resource"]) == {1, 3, 9} and search.best_params_["max_iter"] == 9
    records = search.trials_
    skills = [r.params["skill"] for r in records]
    for record in records[:5]:  # MedianStop's min_trials=5: the first five have too few peers to be stopped
        assert record.state is ts.TrialState.COMPLETE and [s for s, _ in record.curve("score")] == [1, 3, 9]
    below = [r for r in records[5:] if r.params["skill"] < np.median(skills[: r.number])]
    assert below and all(r.state is ts.TrialState.STOPPED and r.resource == 1 for r in below)
    assert search.best_params_["skill"] == max(r.params["skill"] for r in records if r.state is ts.TrialState.COMPLETE)
    # an instance's warm-up is where its ladder starts (no fit is wasted where it cannot stop anything) ...
    warm = ts.MedianStop(warmup_steps=3, min_trials=2)
    later = TunesmithSearchCV(Graded(), space, n_iter=6, cv=2, random_state=0, resource="max_iter", min_resource=1,
                              max_resource=9, scheduler=warm).fit(x, y)  # fmt: skip
    assert set(later.cv_results_["resource"]) == {3, 9}
    # ... and one that could never stop a trial is refused
    with pytest.raises(ts.ConfigError, match=r"warmup_steps=9 must be below max_resource=9: lower warmup_steps"):
        TunesmithSearchCV(Graded(), space, n_iter=2, cv=2, resource="max_iter", min_resource=1, max_resource=9,
                          scheduler=ts.MedianStop(warmup_steps=9)).fit(x, y)  # fmt: skip


def test_median_stopping_with_too_few_configurations_to_stop_any_says_so() -> None:
    """With n_iter at or under MedianStop's min_trials every configuration was fitted at every level, silently."""
    from tunesmith.integrations.sklearn import EarlyStoppingWarning

    x, y = load_iris(return_X_y=True)
    space = ts.Space({"skill": ts.Float(0.0, 1.0)})
    with pytest.warns(EarlyStoppingWarning, match=r"min_trials=5 others at the same level, so with n_iter=4 it can "
                      r"stop none .* give n_iter > 5"):  # fmt: skip
        TunesmithSearchCV(Graded(), space, n_iter=4, cv=2, random_state=0, scheduler="median", resource="max_iter",
                          min_resource=1, max_resource=9).fit(x, y)  # fmt: skip


def test_a_configuration_whose_fits_raise_is_recorded_as_an_exception_with_scikit_learns_error(
    tmp_path: Path, cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    # it was recorded FAILED as a NaN score ("score is nan", no error): the cause went only to a warning, and
    # `tunesmith retry` (which re-queues exceptions, not NaN scores) passed it over
    x, y = cancer
    url = f"sqlite:///{tmp_path}/fail.db"
    search = TunesmithSearchCV(LogisticRegression(), {"C": [-1.0, 1.0]}, n_iter=2, cv=2, sampler="grid", storage=url,
                               study_name="fail", scheduler="asha", resource="n_samples", min_resource=20)  # fmt: skip
    with pytest.warns(FitFailedWarning, match="'C' parameter"):
        search.fit(x, y)
    failed, good = sorted(ts.Study.load("fail", url).trials, key=lambda r: r.params["C"])
    assert failed.state is ts.TrialState.FAILED and failed.kind is ts.TrialKind.EXCEPTION
    assert failed.reason == "exception: InvalidParameterError" and "'C' parameter" in (failed.error or "")
    assert good.state is ts.TrialState.COMPLETE and search.best_params_["C"] == 1.0
    assert ts.Study.load("fail", url).retry_failed() == [failed.number]
    # failing on some folds: scored as error_score says; NaN (the default) fails it, with the error
    x = np.column_stack([x, np.zeros(len(x))])
    x[0, -1] = MARKER
    space = ts.Space({"fail": ts.Choice(["never", "some"])})
    with pytest.warns(FitFailedWarning, match="fail=some"), pytest.warns(UserWarning, match="non-finite"):
        some = TunesmithSearchCV(Fussy(), space, n_trials=2, cv=2, sampler="grid").fit(x, y)
    assert np.isnan(some.cv_results_["mean_test_score"][1])  # its row, as RandomizedSearchCV has it
    record = some.trials_[1]
    assert record.state is ts.TrialState.FAILED and record.kind is ts.TrialKind.EXCEPTION
    assert (record.error or "").startswith("1 of the 2 fits failed") and "fail=some" in (record.error or "")


class StopsEveryConfigurationAtThree(ts.ASHA):
    """ASHA's rungs (1, 3, 9) with every configuration stopped at resource 3: none reaches max_resource."""

    def decide(self, trial: ts.TrialRecord, history: Any, context: Any) -> ts.Decision:
        return ts.Decision.STOP if max(trial.intermediate) >= 3 else ts.Decision.CONTINUE


def test_a_search_whose_scheduler_stopped_every_configuration_early_says_its_best_is_a_partial_fit() -> None:
    # best_params_ came from the furthest resource fitted, silently: a partial fit, where only fits at
    # max_resource should compete (Hyperband with too few configurations to promote one that far).
    from tunesmith.integrations.sklearn import EarlyStoppingWarning

    x, y = load_iris(return_X_y=True)
    space = ts.Space({"skill": ts.Float(0.0, 1.0)})
    stopping = StopsEveryConfigurationAtThree(min_resource=1, max_resource=9)
    with pytest.warns(EarlyStoppingWarning, match=r"max_resource=9 .* none was fitted further than max_iter=3, so "
                      r"best_params_ is the best fit at max_iter=3, a partial fit. Give a larger n_iter.* "
                      r"or scheduler='asha'"):  # fmt: skip
        search = TunesmithSearchCV(Graded(), space, n_iter=4, cv=2, random_state=0, resource="max_iter", min_resource=1,
                                   max_resource=9, scheduler=stopping).fit(x, y)  # fmt: skip
    assert set(search.cv_results_["resource"]) == {1, 3} and search.max_resource_ == 9
    assert search.best_params_["max_iter"] == 3
    assert search.best_params_["skill"] == max(r.params["skill"] for r in search.trials_)
