"""`tunesmith best` and `tunesmith status` name the trial a `TunesmithSearchCV` fit's ``refit`` handed back when it
is not the study's best, so the command line agrees with ``search.best_params_``."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tunesmith.cli import cli
from tunesmith.integrations.sklearn import TunesmithSearchCV


def smallest_c(results: dict[str, Any]) -> int:
    """A refit callable that picks the most regularised configuration, not the top mean score."""
    return int(np.argmin([p["C"] for p in results["params"]]))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    """A search stored in SQLite whose refit chose trial #0 (C=0.01) over the best, #1 (C=1): the storage URL and
    the chosen trial."""
    x, y = load_iris(return_X_y=True)
    storage = f"sqlite:///{tmp_path_factory.mktemp('pick') / 's.db'}"
    search = TunesmithSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 1.0, 10.0]}, n_iter=3, cv=3,
                               random_state=0, refit=smallest_c, storage=storage, study_name="lr")  # fmt: skip
    search.fit(x, y)
    return storage, int(search.cv_results_["trial"][search.best_index_])


def invoke(*args: str) -> str:
    """The command's output with its lines joined (the console wraps them at 80 columns)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_best_names_the_trial_the_refit_chose_and_that_the_fitted_estimator_is_it(fitted: tuple[str, int]) -> None:
    storage, chosen = fitted
    out = invoke("best", "lr", "--storage", storage)
    assert out.startswith("lr best trial #1 ")
    said = (
        f"refit chose trial #{chosen} (C=0.01, score 0.873), not the best trial #1: the last fit's best_params_ "
        f"and best_estimator_ are trial #{chosen}'s"
    )
    assert said in out


def test_status_names_the_trial_the_refit_chose_beside_the_best_it_shows(fitted: tuple[str, int]) -> None:
    storage, chosen = fitted
    out = invoke("status", "lr", "--storage", storage)
    assert f"refit chose trial #{chosen} (C=0.01, score 0.873), not the best trial #1" in out
    assert "Best: trial 1 " in out


def test_best_json_carries_the_trial_the_refit_chose(fitted: tuple[str, int]) -> None:
    storage, chosen = fitted
    shown = json.loads(invoke("best", "lr", "--storage", storage, "--json"))
    assert shown["number"] == 1
    assert shown["best_params_trial"]["number"] == chosen
    assert shown["best_params_trial"]["params"] == {"C": 0.01}
