"""A programming error confined to a region of the space (a KeyError in the code one option runs) is advised as code
to fix, never as a range to drop: the diagnosis advised "drop sgd from opt's options (it raised KeyError most
often)", hiding the bug, while the samplers, steered away from the failures, left sgd unsearched. A library refusing
a combination (a ValueError) still narrows the space."""

from __future__ import annotations

import pytest

import tunesmith as ts
from tunesmith.analysis import diagnose

SPACE = ts.Space({"opt": ts.Choice(["adam", "sgd"]), "lr": ts.Float(1e-4, 1e-1, log=True)})


def _diagnosis(error: type[Exception]) -> list[str]:
    def objective(trial: ts.Trial) -> float:
        if trial.params["opt"] == "sgd":
            raise error("momentum")
        return (trial.params["lr"] - 0.01) ** 2

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=24), storage="memory", seed=0, sampler="random")
    study.optimize(objective, fail_fast=None)
    return [s.text for s in diagnose(study.trials, SPACE, study.metric).suggestions]


@pytest.mark.parametrize("error", [KeyError, AttributeError, TypeError])
def test_a_programming_error_in_one_options_code_is_advised_as_code_to_fix(error: type[Exception]) -> None:
    texts = _diagnosis(error)
    fix = next(t for t in texts if t.startswith("fix the objective's code for opt = sgd"))
    assert f"{error.__name__} is a programming error" in fix and "that region goes unsearched" in fix
    assert "tunesmith retry" in fix
    assert not [t for t in texts if "drop sgd" in t], texts


def test_a_library_refusing_the_option_still_narrows_the_space() -> None:
    texts = _diagnosis(ValueError)
    assert "drop sgd from opt's options (it raised ValueError most often)" in texts, texts
