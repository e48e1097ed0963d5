"""`nested_cv` with groups: rows of one group (a patient's repeated measurements) never sit on both sides of a
split, in the outer loop or in any tuning run's inner folds.

The data: 60 patients with 8 near-identical rows each, and a label that is a coin flip per patient. Nothing
generalises to a new patient, so a score well above 0.5 means rows of a scored patient were in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, KFold, LeaveOneGroupOut, StratifiedGroupKFold
from sklearn.neighbors import KNeighborsClassifier

import tunesmith as ts
from tunesmith.discipline import nested_cv
from tunesmith.errors import ConfigError

SPACE = {"n_neighbors": ts.Int(1, 15)}


@pytest.fixture(scope="module")
def patients() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), 8)
    x = rng.normal(size=(60, 5))[groups] + 0.05 * rng.normal(size=(480, 5))
    y = rng.integers(0, 2, 60)[groups]
    order = rng.permutation(480)
    return x[order], y[order], groups[order]


def test_groups_make_a_fold_count_for_the_inner_search_into_group_folds(
    patients: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x, y, groups = patients
    result = nested_cv(KNeighborsClassifier(), SPACE, x, y, outer=GroupKFold(4), inner=3, n_trials=5, groups=groups)
    # Row-wise inner folds read 0.9958 here (every patient's twins in training); group folds read chance.
    assert np.mean(result.inner_best_scores) < 0.7
    assert result.optimistic is False


def test_a_group_splitter_inside_gets_the_groups_of_each_outer_training_part(
    patients: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x, y, groups = patients
    result = nested_cv(KNeighborsClassifier(), SPACE, x, y, outer=GroupKFold(4), inner=GroupKFold(3), n_trials=5,
                       groups=groups)  # fmt: skip
    assert np.mean(result.inner_best_scores) < 0.7
    assert result.optimistic is False


def test_groups_make_a_fold_count_for_the_outer_loop_into_group_folds(
    patients: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x, y, groups = patients
    result = nested_cv(KNeighborsClassifier(), SPACE, x, y, outer=4, inner=GroupKFold(3), n_trials=5, groups=groups)
    # Row-wise outer folds score 1.0 here: the nearest neighbour of a held-out row is its patient's twin.
    assert result.mean < 0.7


@pytest.mark.parametrize(
    ("splitters", "named"),
    [
        ({"outer": GroupKFold(4)}, "outer=GroupKFold("),
        ({"outer": KFold(4), "inner": LeaveOneGroupOut()}, "inner=LeaveOneGroupOut()"),
        ({"outer": StratifiedGroupKFold(4), "inner": GroupKFold(3)}, "outer=StratifiedGroupKFold("),
    ],
)
def test_a_group_splitter_without_groups_is_refused_with_the_fix(
    patients: tuple[np.ndarray, np.ndarray, np.ndarray], splitters: dict[str, Any], named: str
) -> None:
    x, y, _ = patients
    with pytest.raises(ConfigError) as refused:
        nested_cv(KNeighborsClassifier(), SPACE, x, y, n_trials=2, **splitters)
    message = str(refused.value)
    assert message.startswith("a splitter that splits by groups needs groups, got ")
    assert named in message and "with groups=None: pass groups=" in message


def test_groups_without_one_label_per_row_are_refused(patients: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    x, y, groups = patients
    with pytest.raises(ConfigError, match="groups must hold one label per row of X, got 479 labels for 480 rows"):
        nested_cv(KNeighborsClassifier(), SPACE, x, y, outer=GroupKFold(4), n_trials=2, groups=groups[:-1])


def test_a_splitter_that_takes_no_groups_still_splits_rows_without_groups(
    patients: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x, y, _ = patients
    result = nested_cv(KNeighborsClassifier(), SPACE, x, y, outer=KFold(4, shuffle=True, random_state=0), inner=3,
                       n_trials=5)  # fmt: skip
    # Rows, not patients, are split: each held-out row's twins are in training, as before groups existed.
    assert len(result.outer_scores) == 4
    assert result.mean > 0.95 and np.mean(result.inner_best_scores) > 0.9


def test_a_splitter_of_rows_beside_groups_is_refused_with_the_fix(
    patients: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    x, y, groups = patients
    with pytest.raises(ConfigError, match=r"outer=KFold\(.*splits rows, not groups.*pass a group splitter"):
        nested_cv(KNeighborsClassifier(), SPACE, x, y, outer=KFold(4), n_trials=2, groups=groups)
