"""An objective recorded with ``stderr:<name>`` = 0 by the objective itself (a parameter count) is exact: its bounds
and its comparisons decide. It read as "no noise recorded", so a bound on it could never be shown to hold and the
verdict could never read ready; per-example values that all agree (``count:<name>`` beside the 0) stay what they
were."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.discipline.gap import noise_of

EXAMPLES = 400


def test_a_stderr_of_zero_the_objective_recorded_is_exact_and_per_example_values_all_alike_are_not() -> None:
    exact = noise_of({"n_params": 114000.0, "stderr:n_params": 0.0}, "n_params")
    assert exact is not None and exact.stderr == 0 and exact.dof == math.inf
    assert noise_of({"loss": 0.7, "stderr:loss": 0.0, "count:loss": 50.0}, "loss") is None  # all alike: unknown


def objective(trial: ts.Trial) -> dict[str, Any]:
    width = trial.params["width"]
    rng = np.random.default_rng(trial.seed)
    return {"err": (rng.random(EXAMPLES) < 0.3 - 0.002 * width).astype(float), "n_params": float(1000 * width),
            "stderr:n_params": 0.0}  # fmt: skip


def evaluate(params: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 99)
    return {"holdout_err": (rng.random(EXAMPLES) < 0.3 - 0.002 * params["width"]).astype(float),
            "holdout_n_params": float(1000 * params["width"]), "stderr:holdout_n_params": 0.0}  # fmt: skip


def test_a_bound_on_an_exact_objective_is_met_when_the_value_is_inside_it() -> None:
    # Every configuration has at most 128,000 parameters: the bound of 200,000 holds, exactly.
    study = ts.Study(ts.Space({"width": ts.Int(8, 128)}), metrics=[ts.Metric("err"), ts.Metric("n_params")],
                     budget=ts.Budget(trials=12), storage="memory", seed=0, sampler="random")  # fmt: skip
    study.optimize(objective, progress=False)
    study.choose(ts.choose.best("err", bounds={"n_params": ("<=", 200_000)}))
    assert "of no recorded noise" not in study.attrs["choice"]["why"]
    ts.validate_top(study, objective, seeds=3, progress=False)
    guardrails = ts.finalize(study, evaluate, progress=False).check("guardrails")
    assert guardrails.passed and guardrails.decided, guardrails.detail
    assert "exact (stderr:holdout_n_params recorded as 0)" in guardrails.detail, guardrails.detail
