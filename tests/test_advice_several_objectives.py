"""Advice for a study with several objectives reads every objective: a parameter that barely moves the first one
may drive another, and a range that avoids the first one's failures may cut the Pareto front."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import Diagnosis
from tunesmith.report._data import analyse, report_data

SPACE = ts.Space({f"x{i}": ts.Float(0.0, 1.0) for i in range(3)})


def _zdt1_with_curves(trial: ts.Trial) -> dict[str, float]:
    """ZDT1: x0 alone sets the error, x1 and x2 only add latency; the error's learning curve underfits for a
    large x0, so its failures point at x0 although the whole range of x0 lies on the front."""
    x0, x1, x2 = (trial.params[f"x{i}"] for i in range(3))
    g = 1 + 9 * (x1 + x2) / 2
    for step in range(3):
        trial.report(error=x0 + 0.5 / (step + 1))
    return {"error": x0, "latency_ms": 10 * g * (1 - math.sqrt(x0 / g))}


@pytest.fixture(scope="module")
def zdt1_diagnosis() -> Diagnosis:
    study = ts.Study(SPACE, metrics=[ts.Metric("error"), ts.Metric("latency_ms")], budget=ts.Budget(trials=40),
                     storage="memory", sampler="random", seed=0)  # fmt: skip
    study.optimize(_zdt1_with_curves)
    return analyse(report_data(study)).diagnosis


def test_parameters_that_drive_the_second_objective_are_not_called_of_little_effect(
    zdt1_diagnosis: Diagnosis,
) -> None:
    """x1 and x2 explain none of the error and most of the latency: "fix them at the best trial's values" gave up
    the low-latency part of the front."""
    texts = [s.text for s in zdt1_diagnosis.suggestions]
    assert not any("little effect" in t for t in texts), texts


def test_a_narrowing_that_would_cut_the_pareto_front_is_not_advised(zdt1_diagnosis: Diagnosis) -> None:
    """Underfitting error curves follow x0 > 0.42, but front trials trade error for latency up to x0 near 1:
    "narrow x0 to at most 0.3" cut the low-latency half of the front."""
    texts = [s.text for s in zdt1_diagnosis.suggestions]
    assert not any(t.startswith("narrow x0") for t in texts), texts
    assert any(t.startswith("x0 is not narrowed: it would cut") and "of the Pareto front" in t for t in texts), texts


def test_each_statement_names_the_objective_it_is_about(zdt1_diagnosis: Diagnosis) -> None:
    lines = zdt1_diagnosis.lines()
    assert lines[0].startswith("signatures of 40 trials' learning curves of error (one of 2 objectives)"), lines
    advice = [s.text for s in zdt1_diagnosis.suggestions if not s.text.startswith("x0 is not narrowed")]
    assert any(t.startswith("for error: tune x0 first") for t in advice), advice
    assert any(t.startswith("for latency_ms: ") for t in advice), advice
    assert all(t.startswith(("for error: ", "for latency_ms: ")) for t in advice), advice


def test_a_parameter_of_little_effect_on_every_objective_is_still_named_for_fixing() -> None:
    """x0 sets the loss, x1 the latency and x2 neither: only x2 may be fixed (x1 barely moves the loss)."""
    rng = np.random.default_rng(0)

    def objective(trial: ts.Trial) -> dict[str, float]:
        p = trial.params
        return {"loss": p["x0"] + 0.01 * rng.normal(), "latency_ms": 10 * p["x1"] + 0.1 * rng.normal()}

    study = ts.Study(SPACE, metrics=[ts.Metric("loss"), ts.Metric("latency_ms")], budget=ts.Budget(trials=40),
                     storage="memory", sampler="random", seed=1)  # fmt: skip
    study.optimize(objective)
    texts = [s.text for s in analyse(report_data(study)).diagnosis.suggestions]
    little = [t for t in texts if "little effect" in t]
    assert len(little) == 1 and little[0].startswith("x2 ("), texts
    assert "little effect on every objective" in little[0] and "of the Pareto front" in little[0], little
