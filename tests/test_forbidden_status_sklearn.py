"""Forbidden clauses where a space is shown or searched outside `Study`: `tunesmith status` did not show a space's
clauses, and `TunesmithSearchCV` could not take any for a search built from a dict of distributions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.svm import SVC

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.errors import SpaceError
from tunesmith.integrations.sklearn import TunesmithSearchCV

# The degree of an SVC counts only with the polynomial kernel: another kernel with another degree repeats a fit.
NO_DEGREE = ts.Forbidden({"kernel": ["linear", "rbf"], "degree": ts.Above(1)})
EFFECTIVE_BATCH = ts.Forbidden("batch_size * grad_accum > 4096")
KERNELS = ["linear", "rbf", "poly"]


def _is_forbidden(kernel: str, degree: int) -> bool:
    return kernel != "poly" and degree > 1


# tunesmith status --------------------------------------------------------------------------------------------
def _stored(tmp_path: Path, forbidden: list[ts.Forbidden]) -> str:
    """A stored study of 3 trials over a space with ``forbidden``; its storage URL."""
    url = f"sqlite:///{tmp_path / 'clauses.db'}"
    space = ts.Space(
        {"kernel": ts.Choice(KERNELS), "degree": ts.Int(1, 4), "batch_size": ts.Int(32, 4096, base=2),
         "grad_accum": ts.Int(1, 8)},
        forbidden=forbidden,
    )  # fmt: skip
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=3), storage=url, name="clauses", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(lambda trial: {"loss": float(trial.params["degree"])})
    return url


def _status(url: str, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["status", "clauses", "--storage", url, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_shows_each_forbidden_clause_under_the_space(tmp_path: Path) -> None:
    url = _stored(tmp_path, [NO_DEGREE, EFFECTIVE_BATCH])
    lines = _status(url).splitlines()
    heading = lines.index("space: 4 parameters; 2 forbidden clauses:")
    stored = ts.Study.load("clauses", url).space.forbidden  # storage sorts a mapping's names
    assert lines[heading + 1 : heading + 3] == [f"  {clause}" for clause in stored]
    assert set(stored) == {NO_DEGREE, EFFECTIVE_BATCH}


def test_status_of_a_space_without_clauses_says_nothing_of_them(tmp_path: Path) -> None:
    assert "forbidden clause" not in _status(_stored(tmp_path, []))


def test_status_json_lists_the_clauses_as_the_space_stores_them(tmp_path: Path) -> None:
    url = _stored(tmp_path, [NO_DEGREE, EFFECTIVE_BATCH])
    stored = ts.Study.load("clauses", url).space.forbidden
    assert json.loads(_status(url, "--json"))["forbidden"] == [clause.to_json() for clause in stored]


# TunesmithSearchCV ----------------------------------------------------------------------------------------------
class _RecordingSVC(SVC):
    """An SVC that notes the kernel and degree of each fit: what scikit-learn actually fitted, refit included."""

    fitted: ClassVar[list[tuple[str, int]]] = []

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _RecordingSVC:
        _RecordingSVC.fitted.append((self.kernel, self.degree))
        super().fit(X, y, sample_weight=sample_weight)
        return self


@pytest.fixture
def fitted() -> list[tuple[str, int]]:
    _RecordingSVC.fitted = []
    return _RecordingSVC.fitted


def _search(param_distributions: Any, **options: Any) -> TunesmithSearchCV:
    x, y = load_iris(return_X_y=True)
    search = TunesmithSearchCV(_RecordingSVC(), param_distributions, n_iter=12, cv=3, random_state=0,
                               sampler="random", **options)  # fmt: skip
    return search.fit(x, y)


def test_a_search_over_distributions_fits_no_forbidden_combination(fitted: list[tuple[str, int]]) -> None:
    search = _search({"kernel": KERNELS, "degree": [1, 2, 3, 4]}, forbidden=[NO_DEGREE])
    assert len(fitted) == 12 * 3 + 1  # every fold of every configuration, and the refit
    assert not [fit for fit in fitted if _is_forbidden(*fit)]
    assert search.space_.forbidden == (NO_DEGREE,)


def test_the_same_search_without_the_clause_fits_those_combinations(fitted: list[tuple[str, int]]) -> None:
    # What the search above leaves out: half the space, which 12 draws miss with probability 1 in 4096.
    _search({"kernel": KERNELS, "degree": [1, 2, 3, 4]})
    assert [fit for fit in fitted if _is_forbidden(*fit)]


def test_a_search_over_a_space_keeps_its_clauses(fitted: list[tuple[str, int]]) -> None:
    space = ts.Space({"kernel": ts.Choice(KERNELS), "degree": ts.Int(1, 4)}, forbidden=[NO_DEGREE])
    search = _search(space)
    assert not [fit for fit in fitted if _is_forbidden(*fit)]
    assert search.space_.forbidden == (NO_DEGREE,)


def test_forbidden_given_with_a_space_is_kept_beside_its_own_clauses(fitted: list[tuple[str, int]]) -> None:
    space = ts.Space({"kernel": ts.Choice(KERNELS), "degree": ts.Int(1, 4), "C": ts.Float(0.1, 10.0, log=True)},
                     forbidden=[NO_DEGREE])  # fmt: skip
    no_large_c = ts.Forbidden({"kernel": "poly", "C": ts.Above(1.0)})
    search = _search(space, forbidden=[no_large_c])
    assert set(search.space_.forbidden) == {NO_DEGREE, no_large_c}
    assert not [fit for fit in fitted if _is_forbidden(*fit)]
    assert all(not (t.params["kernel"] == "poly" and t.params["C"] > 1.0) for t in search.trials_)


def test_a_clone_of_the_search_keeps_its_clauses() -> None:
    search = TunesmithSearchCV(SVC(), {"kernel": KERNELS, "degree": [1, 2, 3]}, forbidden=[NO_DEGREE])
    assert clone(search).get_params()["forbidden"] == [NO_DEGREE]


def test_a_single_clause_not_in_a_list_is_refused_with_the_fix() -> None:
    x, y = load_iris(return_X_y=True)
    search = TunesmithSearchCV(SVC(), {"kernel": KERNELS, "degree": [1, 2, 3]}, forbidden=NO_DEGREE, n_iter=2)
    with pytest.raises(SpaceError, match=r"forbidden must be a list of Forbidden clauses, got forbidden=Forbidden"):
        search.fit(x, y)


def test_a_clause_naming_a_parameter_the_search_does_not_tune_is_refused() -> None:
    x, y = load_iris(return_X_y=True)
    search = TunesmithSearchCV(SVC(), {"kernel": KERNELS, "C": np.logspace(-1, 1, 5)}, n_iter=2,
                               forbidden=[NO_DEGREE])  # fmt: skip
    with pytest.raises(SpaceError, match=r"names 'degree', which is not a parameter of the space"):
        search.fit(x, y)
