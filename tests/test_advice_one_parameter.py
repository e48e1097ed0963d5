"""A search of one parameter gets no advice on where to spend the budget, which is a choice among parameters: it was
told "tune lr first", and before 30 trials "no advice yet: about N more trials to run", a search continued for advice
it could never give. The range's end is still judged."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import diagnose, importance


def _texts(space: ts.Space, trials: int, loss: object) -> list[str]:
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=trials), storage="memory", seed=0, sampler="random")

    def objective(trial: ts.Trial) -> float:
        noise = np.random.default_rng(trial.number).normal(0.0, 0.05)
        return float(loss(math.log10(trial.params["lr"]))) + noise  # type: ignore[operator]

    study.optimize(objective)
    found = diagnose(study.trials, space, study.metric, importance=importance(study.trials, space, study.metric))
    return [suggestion.text for suggestion in found.suggestions]


ONE = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})
TWO = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True), "width": ts.Float(0.0, 1.0)})


@pytest.mark.parametrize("trials", [12, 40])
def test_one_parameter_gets_no_advice_on_where_to_spend_the_budget(trials: int) -> None:
    texts = _texts(ONE, trials, lambda exponent: (exponent + 2.5) ** 2)
    assert not [t for t in texts if "tune lr first" in t or "where to spend the budget" in t], texts


def test_its_range_end_is_still_judged() -> None:
    texts = _texts(ONE, 40, lambda exponent: -exponent)  # the larger lr, the lower the loss, up to the bound
    assert any("lr's range may cut better configurations off above 0.1" in t for t in texts), texts


def test_two_parameters_still_get_it() -> None:
    assert any("tune lr first" in t for t in _texts(TWO, 40, lambda exponent: (exponent + 2.5) ** 2))
    assert any("where to spend the budget yet" in t for t in _texts(TWO, 12, lambda exponent: (exponent + 2.5) ** 2))
