"""`nested_cv` with a storage: each outer fold tunes in a study of its own, and a stored fold is never resumed.

One study shared by the folds let fold 2 resume fold 1's spent study and choose among configurations fitted on
rows that include fold 2's own test rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import RidgeClassifier

import tunesmith as ts
from tunesmith.attributes import NestedFoldAttr, read_attr
from tunesmith.discipline import nested_cv
from tunesmith.errors import ConfigError

SPACE = {"alpha": ts.Float(1e-2, 1e4, log=True)}


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(n_samples=120, n_features=6, random_state=0)
    return x, y


def _trials(storage: str) -> dict[str, int]:
    return {name: len(ts.Study.load(name, storage=storage).trials) for name in ts.Study.names(storage)}


@pytest.mark.parametrize("random_state", [None, 0])
def test_each_outer_fold_tunes_in_a_study_named_after_the_study_name_and_the_fold(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path, random_state: int | None
) -> None:
    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    result = nested_cv(RidgeClassifier(), SPACE, *data, outer=3, inner=2, n_trials=4, random_state=random_state,
                       storage=storage, study_name="ncv")  # fmt: skip
    assert _trials(storage) == {"ncv-outer1": 4, "ncv-outer2": 4, "ncv-outer3": 4}
    assert result.study_names == ("ncv-outer1", "ncv-outer2", "ncv-outer3")


def test_folds_without_a_study_name_tune_in_studies_of_their_own_under_one_generated_name(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    result = nested_cv(RidgeClassifier(), SPACE, *data, outer=3, inner=2, n_trials=4, storage=storage)
    prefix = result.study_names[0].removesuffix("-outer1")
    assert prefix.startswith("nested-cv-")
    assert _trials(storage) == {f"{prefix}-outer1": 4, f"{prefix}-outer2": 4, f"{prefix}-outer3": 4}


def test_running_again_with_the_same_study_name_is_refused_before_any_fit(
    data: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    storage = f"sqlite:///{tmp_path / 'nested.db'}"

    def run() -> None:
        nested_cv(RidgeClassifier(), SPACE, *data, outer=3, inner=2, n_trials=4, random_state=None, storage=storage,
                  study_name="ncv")  # fmt: skip

    run()
    stored = _trials(storage)
    with pytest.raises(ConfigError, match=r"already holds 'ncv-outer1', 'ncv-outer2', 'ncv-outer3'.*new study_name"):
        run()
    assert _trials(storage) == stored


def test_an_empty_study_name_is_refused(data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="study_name must be a non-empty string, got ''"):
        nested_cv(RidgeClassifier(), SPACE, *data, outer=3, inner=2, n_trials=4,
                  storage=f"sqlite:///{tmp_path / 'nested.db'}", study_name="")  # fmt: skip


def test_each_fold_study_records_its_winner_and_its_outer_score(data: tuple[np.ndarray, np.ndarray], tmp_path: Path
                                                                ) -> None:  # fmt: skip
    storage = f"sqlite:///{tmp_path / 'nested.db'}"
    result = nested_cv(RidgeClassifier(), SPACE, *data, outer=3, inner=2, n_trials=4, storage=storage,
                       study_name="ncv")  # fmt: skip
    for fold, name in enumerate(result.study_names):
        recorded = read_attr(ts.Study.load(name, storage=storage).attrs, NestedFoldAttr)
        assert recorded is not None
        assert (recorded.fold, recorded.folds, recorded.metric, recorded.maximize) == (fold + 1, 3, None, True)
        scores = (result.outer_scores[fold], result.inner_best_scores[fold])
        assert (recorded.outer_score, recorded.inner_best) == scores
        assert recorded.trial is not None and recorded.train_rows + recorded.test_rows == 120
