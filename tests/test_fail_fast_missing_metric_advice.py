"""A streak of results without the study's metric, or of the wrong type, is the objective's bug: fail-fast's message
does not advise treating it as a region of the space that refuses on purpose, nor blame the configurations tried."""

from __future__ import annotations

import pytest

import tunesmith as ts
from tunesmith.study import ObjectiveError


def _study() -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", storage="memory", budget=ts.Budget(trials=20),
                    seed=0)  # fmt: skip


def test_a_misspelt_metric_gets_no_advice_about_regions_that_raise_on_purpose() -> None:
    with pytest.raises(ObjectiveError) as stopped:
        _study().optimize(lambda trial: {"los": trial.params["x"]}, progress=False)
    message = str(stopped.value)
    assert "did you mean 'los'" in message
    assert "ts.Infeasible" not in message and "different configurations" not in message


def test_an_exception_in_several_configurations_still_gets_that_advice() -> None:
    def objective(trial: ts.Trial) -> float:
        raise RuntimeError("CUDA error: too many resources requested for launch")

    with pytest.raises(ObjectiveError, match=r"different configurations.*ts\.Infeasible\(reason\)"):
        _study().optimize(objective, progress=False)


def _forgot_return(trial: ts.Trial) -> None:
    trial.params["x"] ** 2  # the loss a forgotten `return` drops


def test_a_forgotten_return_gets_no_advice_about_regions_that_raise_on_purpose() -> None:
    with pytest.raises(ObjectiveError) as stopped:
        _study().optimize(_forgot_return, progress=False)
    message = str(stopped.value)
    assert "the objective returned None: it ended without a return statement reaching its result" in message
    assert "ts.Infeasible" not in message and "different configurations" not in message


def test_two_wrong_results_at_the_end_of_a_run_blame_the_code_not_the_configurations() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", storage="memory", budget=ts.Budget(trials=2),
                     seed=0)  # fmt: skip
    with pytest.raises(ObjectiveError) as stopped:
        study.optimize(_forgot_return, progress=False)
    message = str(stopped.value)
    assert "may be to blame" not in message
    assert "the objective's code returns the wrong thing" in message
