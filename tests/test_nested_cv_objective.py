"""`nested_cv_objective`: nested cross-validation of any training function, not only a scikit-learn estimator.

Each outer fold's study tunes ``objective(trial, train)`` on the outer training rows alone, and
``evaluate(params, seed, train, test)`` scores the winner once on the outer test rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_diabetes

import tunesmith as ts
from tunesmith.attributes import NestedFoldAttr, read_attr
from tunesmith.cli import cli
from tunesmith.discipline import NestedCVResult, nested_cv_objective
from tunesmith.errors import ConfigError
from tunesmith.study import ObjectiveError

ROWS = 240
COIN_FLIPS = np.random.default_rng(7).integers(0, 2, size=ROWS)
GUESS_SPACE = {"guess": ts.Int(0, 10**6)}  # each configuration guesses every row's label at random: none is better


def _error_rate(guess: int, fit: np.ndarray, score: np.ndarray) -> float:
    """The error rate on rows ``score`` of the labels configuration ``guess`` guesses (``fit`` teaches it
    nothing)."""
    guessed = np.random.default_rng(guess).integers(0, 2, size=ROWS)
    return float(np.mean(guessed[score] != COIN_FLIPS[score]))


def coin_flip_objective(trial: ts.Trial, train: np.ndarray) -> dict[str, float]:
    cut = len(train) * 3 // 4  # an inner holdout of the outer training rows
    return {"error": _error_rate(trial.params["guess"], train[:cut], train[cut:])}


def coin_flip_evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
    return {"error": _error_rate(params["guess"], train, test)}


def test_a_tuned_loss_on_coin_flips_reads_chance_outside_and_flatters_inside() -> None:
    # 30 configurations drawn at random, each read on 53 inner validation rows: the best is lucky; the outer folds
    # see chance.
    result = nested_cv_objective(coin_flip_objective, coin_flip_evaluate, GUESS_SPACE, rows=ROWS,
                                 metric="error", n_trials=30, outer=8, sampler="random")  # fmt: skip
    assert len(result.outer_scores) == 8
    assert 0.4 < result.mean < 0.6
    assert np.mean(result.inner_best_scores) < 0.4
    assert result.optimism > 0.05  # a loss: the inner best is lower than the outer score
    assert result.optimistic is True
    assert result.metric == "error" and result.maximize is False
    assert result.summary().startswith("nested CV of error over 8 outer folds")


def test_the_objective_sees_only_the_outer_training_rows_and_evaluate_the_winner(tmp_path: Path) -> None:
    seen: list[np.ndarray] = []
    evaluated: list[tuple[dict[str, Any], int, np.ndarray, np.ndarray]] = []

    def objective(trial: ts.Trial, train: np.ndarray) -> dict[str, float]:
        seen.append(train)
        return coin_flip_objective(trial, train)

    def evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
        evaluated.append((params, seed, train, test))
        return coin_flip_evaluate(params, seed, train, test)

    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    result = nested_cv_objective(objective, evaluate, GUESS_SPACE, rows=ROWS, metric="error", n_trials=3,
                                 outer=3, storage=storage, study_name="ncv")  # fmt: skip
    assert result.study_names == ("ncv-outer1", "ncv-outer2", "ncv-outer3")
    assert len(seen) == 9 and len(evaluated) == 3
    tests = [test for *_, test in evaluated]
    assert sorted(np.concatenate(tests).tolist()) == list(range(ROWS))  # the outer test folds cover every row once
    for fold, (params, seed, train, test) in enumerate(evaluated):
        assert not set(train) & set(test)
        for rows in seen[3 * fold : 3 * fold + 3]:
            assert np.array_equal(rows, train)  # every trial of the fold tuned on its training rows alone
        best = ts.Study.load(f"ncv-outer{fold + 1}", storage=storage).best
        assert best is not None
        assert (params, seed) == (best.params, best.seed)
        assert result.inner_best_scores[fold] == best.value("error")
        assert result.outer_scores[fold] == coin_flip_evaluate(params, seed, train, test)["error"]


def test_each_fold_study_records_how_its_winner_scored_and_status_says_it(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    result = nested_cv_objective(coin_flip_objective, coin_flip_evaluate, GUESS_SPACE, rows=ROWS, metric="error",
                                 n_trials=3, outer=3, storage=storage, study_name="ncv")  # fmt: skip
    for fold, name in enumerate(result.study_names):
        study = ts.Study.load(name, storage=storage)
        recorded = read_attr(study.attrs, NestedFoldAttr)
        assert recorded is not None and study.best is not None
        assert (recorded.fold, recorded.folds, recorded.trial) == (fold + 1, 3, study.best.number)
        scores = (result.outer_scores[fold], result.inner_best_scores[fold])
        assert (recorded.outer_score, recorded.inner_best) == scores
        assert (recorded.metric, recorded.maximize) == ("error", False)
        assert (recorded.train_rows, recorded.test_rows) == (160, 80)
    shown = CliRunner().invoke(cli, ["status", "ncv-outer2", "--storage", storage])
    assert shown.exit_code == 0, shown.output
    said = "".join(shown.output.split())
    expected = (f"nested cross-validation, outer fold 2 of 3: its winner (#{result_trial(storage, 'ncv-outer2')}) "
                f"scored error {result.outer_scores[1]:.6g} on the fold's 80 test rows")  # fmt: skip
    assert "".join(expected.split()) in said
    caveat = "one fold's score, no estimate on its own: the nested estimate is the mean over the 3"
    assert caveat.replace(" ", "") in said


def result_trial(storage: str, name: str) -> int:
    best = ts.Study.load(name, storage=storage).best
    assert best is not None
    return best.number


def test_a_maximised_metric_flatters_when_the_inner_best_is_higher() -> None:
    def accuracy(trial: ts.Trial, train: np.ndarray) -> float:
        return 1.0 - coin_flip_objective(trial, train)["error"]

    def evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> float:
        return 1.0 - coin_flip_evaluate(params, seed, train, test)["error"]

    result = nested_cv_objective(accuracy, evaluate, GUESS_SPACE, rows=ROWS, metric=ts.Metric("accuracy", "max"),
                                 n_trials=30, outer=8, sampler="random")  # fmt: skip
    assert result.maximize is True
    assert result.optimism > 0.05 and result.optimistic is True


def test_groups_keep_each_group_on_one_side_of_every_outer_split() -> None:
    groups = np.arange(ROWS) // 6
    tests: list[np.ndarray] = []

    def evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
        assert not set(groups[train]) & set(groups[test])
        tests.append(test)
        return coin_flip_evaluate(params, seed, train, test)

    nested_cv_objective(coin_flip_objective, evaluate, GUESS_SPACE, rows=ROWS, metric="error", n_trials=2,
                        outer=4, groups=groups)  # fmt: skip
    assert len(tests) == 4


def test_class_labels_stratify_the_outer_folds() -> None:
    labels = np.repeat([0, 1], [ROWS - 24, 24])  # rows in class order: plain KFold would put all of class 1 in one
    counts: list[int] = []

    def evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> dict[str, float]:
        counts.append(int(labels[test].sum()))
        return coin_flip_evaluate(params, seed, train, test)

    nested_cv_objective(coin_flip_objective, evaluate, GUESS_SPACE, rows=ROWS, metric="error", n_trials=2,
                        outer=4, y=labels)  # fmt: skip
    assert counts == [6, 6, 6, 6]


def test_a_define_by_run_objective_is_tuned_without_a_space() -> None:
    x, y = load_diabetes(return_X_y=True)

    def ridge_mse(alpha: float, fit: np.ndarray, score: np.ndarray) -> float:
        a = x[fit]
        w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (y[fit] - y[fit].mean()))
        return float(np.mean((x[score] @ w + y[fit].mean() - y[score]) ** 2))

    def objective(trial: ts.Trial, train: np.ndarray) -> float:
        cut = len(train) * 3 // 4
        return ridge_mse(trial.suggest_float("alpha", 1e-4, 1e2, log=True), train[:cut], train[cut:])

    def evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> float:
        return ridge_mse(params["alpha"], train, test)

    result = nested_cv_objective(objective, evaluate, rows=len(y), metric="mse", n_trials=6, outer=3)
    assert all(set(params) == {"alpha"} for params in result.best_params)
    assert 2000 < result.mean < 4500  # diabetes' target variance is about 5900


def test_process_workers_run_the_fold_objective() -> None:
    result = nested_cv_objective(coin_flip_objective, coin_flip_evaluate, GUESS_SPACE, rows=ROWS, metric="error",
                                 n_trials=4, outer=2, workers=2, executor="processes")  # fmt: skip
    assert len(result.outer_scores) == 2


def _one_argument(trial: ts.Trial) -> float:
    return 0.0


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"objective": _one_argument}, "objective _one_argument(trial) cannot be called as objective(trial, train)"),
        ({"evaluate": lambda params, train, test: 0.0}, "cannot be called as evaluate(params, seed, train, test)"),
        ({"rows": 0}, "rows must be the number of rows in the data"),
        ({"y": np.zeros(ROWS - 1)}, "y must hold one value per row, got 239 for rows=240"),
        ({"groups": np.zeros(5)}, "groups must hold one value per row, got 5 for rows=240"),
        ({"budget": ts.Budget(trials=3), "n_trials": 3}, "pass either n_trials or budget"),
        ({"metrics": ["a", "b"]}, "scores each fold's winner on one metric"),
        ({"outer": __import__("sklearn.model_selection").model_selection.GroupKFold(3)}, "needs groups"),
    ],
)
def test_arguments_it_cannot_run_are_refused_before_any_trial(arguments: dict[str, Any], said: str) -> None:
    calls: list[int] = []

    def objective(trial: ts.Trial, train: np.ndarray) -> float:
        calls.append(1)
        return 0.0

    given: dict[str, Any] = {"objective": objective, "evaluate": coin_flip_evaluate, "rows": ROWS,
                             "metric": "error", "n_trials": 2, **arguments}  # fmt: skip
    with pytest.raises(ConfigError, match=__import__("re").escape(said)):
        nested_cv_objective(given.pop("objective"), given.pop("evaluate"), GUESS_SPACE, **given)
    assert calls == []


@pytest.mark.parametrize(
    ("returned", "said"),
    [(float("nan"), "got nan on outer fold 1"), ({"loss": 0.1}, "got ['loss'] without 'error' on outer fold 1")],
)
def test_an_evaluation_without_a_finite_metric_stops_with_the_fold(returned: Any, said: str) -> None:
    def evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> Any:
        return returned

    with pytest.raises(ObjectiveError, match=__import__("re").escape(said)):
        nested_cv_objective(coin_flip_objective, evaluate, GUESS_SPACE, rows=ROWS, metric="error", n_trials=2,
                            outer=2)  # fmt: skip


def test_a_broken_objective_stops_the_first_fold_with_its_error_and_the_fold_named() -> None:
    def objective(trial: ts.Trial, train: np.ndarray) -> float:
        raise KeyError("learning_rate")

    with pytest.raises(ObjectiveError) as caught:
        nested_cv_objective(objective, coin_flip_evaluate, GUESS_SPACE, rows=ROWS, metric="error", n_trials=5,
                            outer=2, study_name="broken")  # fmt: skip
    assert "KeyError: 'learning_rate'" in (caught.value.error or "")
    assert "raised by outer fold 1's search (study 'broken-outer1')" in caught.value.__notes__[0]


def test_an_evaluate_that_raises_is_named_with_its_fold_and_configuration() -> None:
    def evaluate(params: dict[str, Any], seed: int, train: np.ndarray, test: np.ndarray) -> float:
        raise RuntimeError("out of disk")

    with pytest.raises(RuntimeError, match="out of disk") as caught:
        nested_cv_objective(coin_flip_objective, evaluate, GUESS_SPACE, rows=ROWS, metric="error", n_trials=2,
                            outer=2)  # fmt: skip
    assert caught.value.__notes__[0].startswith("nested_cv_objective: raised by evaluate on outer fold 1 (trial #")


def test_the_scikit_learn_result_keeps_reading_scores_as_higher_is_better() -> None:
    result = NestedCVResult(outer_scores=(0.8, 0.7), inner_best_scores=(0.9, 0.9), best_params=({}, {}))
    assert result.optimism == pytest.approx(0.15)
    loss = NestedCVResult(outer_scores=(0.8, 0.7), inner_best_scores=(0.9, 0.9), best_params=({}, {}), maximize=False)
    assert loss.optimism == pytest.approx(-0.15)
