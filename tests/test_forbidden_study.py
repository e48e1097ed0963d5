"""A study keeps its space's forbidden clauses: stored with the spec and reopened, never run, never learned from.

An enqueued configuration that is a forbidden combination is refused with the clause; a partial one is completed
with values that make none; a warm start drops the forbidden results and counts them; a sampler that proposes a
forbidden configuration stops the study before any trial runs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.samplers import Sampler, SearchContext
from tunesmith.schedulers import PBT
from tunesmith.study import WarmStartWarning
from tunesmith.trial import TrialRecord

PARAMS = {"kernel": ts.Choice(["linear", "rbf", "poly"]), "degree": ts.Int(1, 5), "c": ts.Float(0.01, 100.0, log=True)}
LINEAR_HAS_NO_DEGREE = ts.Forbidden({"kernel": "linear", "degree": ts.Above(1)})
SPACE = ts.Space(PARAMS, forbidden=[LINEAR_HAS_NO_DEGREE, ts.Forbidden("kernel == 'poly' and degree * c > 200")])


def _objective(trial: ts.Trial) -> dict[str, float]:
    return {"loss": float(trial.params["degree"]) + (trial.params["kernel"] != "linear")}


def _forbidden(study: ts.Study) -> list[dict[str, Any]]:
    return [trial.params for trial in study.trials if SPACE.forbids(trial.params) is not None]


# Storage --------------------------------------------------------------------------------------------------------------
def test_a_reopened_study_reads_its_clauses_from_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clauses.db'}"
    ts.Study(SPACE, metric="loss", storage=url, name="svm", seed=0)

    assert ts.Study.load("svm", url).space.forbidden == SPACE.forbidden


def test_a_reopened_study_goes_on_proposing_only_allowed_configurations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clauses.db'}"
    ts.Study(SPACE, metric="loss", sampler="random", budget=ts.Budget(trials=15), storage=url, name="svm",
             seed=0).optimize(_objective, n_trials=5, progress=False)  # fmt: skip

    reopened = ts.Study.load("svm", url)
    reopened.optimize(_objective, progress=False)

    assert len(reopened.trials) == 15
    assert _forbidden(reopened) == []


def test_reopening_with_other_clauses_is_refused_naming_the_stored_and_the_given_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clauses.db'}"
    ts.Study(SPACE, metric="loss", storage=url, name="svm", seed=0).optimize(_objective, n_trials=1, progress=False)

    with pytest.raises(ts.ConfigError) as refused:
        ts.Study(ts.Space(PARAMS, forbidden=[LINEAR_HAS_NO_DEGREE]), metric="loss", storage=url, name="svm")

    message = str(refused.value)
    assert "changed forbidden (stored [\"kernel == 'poly' and degree * c > 200\", {" in message
    assert 'given [{"kernel": "linear", "degree": {"above": 1}}])' in message


# Enqueued configurations ----------------------------------------------------------------------------------------------
def test_an_enqueued_forbidden_combination_is_refused_with_the_clause_and_the_fix() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0)

    with pytest.raises(ts.SpaceError) as refused:
        study.enqueue({"kernel": "linear", "degree": 3, "c": 1.0})

    assert (
        "enqueue: a configuration must not be a combination the space forbids, got kernel='linear', degree=3, which "
        "clause \"kernel == 'linear' and degree > 1\" forbids: change kernel or degree"
    ) in str(refused.value)


def test_a_partial_enqueued_configuration_is_completed_with_values_no_clause_forbids() -> None:
    study = ts.Study(SPACE, metric="loss", sampler="random", budget=ts.Budget(trials=6), storage="memory", seed=0)
    for _ in range(6):
        study.enqueue({"kernel": "linear"})

    study.optimize(_objective, progress=False)

    assert [trial.params["degree"] for trial in study.trials] == [1] * 6
    assert all(trial.attrs.get("enqueued") for trial in study.trials)


# Warm starts ----------------------------------------------------------------------------------------------------------
EARLIER = [
    {"kernel": "linear", "degree": 3, "c": 1.0, "loss": 0.1},
    {"kernel": "rbf", "degree": 3, "c": 1.0, "loss": 0.2},
    {"kernel": "linear", "degree": 1, "c": 1.0, "loss": 0.3},
]


def test_a_warm_start_drops_its_forbidden_results_and_says_how_many() -> None:
    with pytest.warns(WarmStartWarning, match=r"1 of 3 results dropped \(.*, 1 forbidden by the space's clauses\)"):
        study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, warm_start=EARLIER)

    points = study.attrs["warm_start"]["points"]
    assert [point["params"]["kernel"] for point in points] == ["rbf", "linear"]


def test_a_warm_start_of_forbidden_results_only_is_refused_counting_them() -> None:
    with pytest.raises(ts.ConfigError, match=r"none of its 1 results is usable .*1 forbidden by the space's clauses"):
        ts.Study(SPACE, metric="loss", storage="memory", seed=0, warm_start=EARLIER[:1])


# A sampler of one's own -----------------------------------------------------------------------------------------------
class UpperCorner(Sampler):
    """Proposes the corner of the unit cube every time, whatever the space forbids."""

    name = "upper-corner"

    def suggest(self, space: ts.Space, history: Sequence[TrialRecord], rng: np.random.Generator,
                context: SearchContext) -> dict[str, Any]:  # fmt: skip
        return space.decode(np.ones(len(space.dimensions)))


def test_a_sampler_proposing_a_forbidden_configuration_stops_the_study_before_it_runs() -> None:
    study = ts.Study(SPACE, metric="loss", sampler=UpperCorner(), storage="memory", seed=0)

    with pytest.raises(ts.SpaceError, match="a sampler must never propose a configuration the space forbids, got "):
        study.optimize(_objective, n_trials=1, progress=False)

    assert study.trials == []


# Population-based training -------------------------------------------------------------------------------------------
def test_pbt_explores_a_donor_into_allowed_configurations_only() -> None:
    donor = {"kernel": "linear", "degree": 1, "c": 1.0}
    rng = np.random.default_rng(0)

    explored = [PBT(resample_probability=0.9)._explore(SPACE, donor, rng)[0] for _ in range(200)]

    assert [params for params in explored if SPACE.forbids(params) is not None] == []
