"""Trials the Pareto front dominates only within the recorded noise of the objectives are told apart from those
it dominates beyond it (`discipline._front.near_front`)."""

from __future__ import annotations

import numpy as np

import tunesmith as ts
from tunesmith.discipline._front import near_front

OBJECTIVES = [ts.Metric("error"), ts.Metric("latency")]


def _study(objective: ts.Objective) -> ts.Study:
    study = ts.Study(ts.Space({"x": ts.Float(0.05, 0.95)}), metrics=OBJECTIVES, budget=ts.Budget(trials=25),
                     storage="memory", sampler="random", seed=0)  # fmt: skip
    study.optimize(objective, progress=False)
    return study


def test_trials_on_the_true_front_dropped_only_by_noise_are_near_it() -> None:
    rng = np.random.default_rng(0)

    def on_the_front(trial: ts.Trial) -> dict[str, np.ndarray]:  # error x, latency 1 - x: every x is optimal
        x = trial.params["x"]
        return {"error": rng.binomial(1, x, 200).astype(float), "latency": rng.normal(1 - x, 0.3, 200)}

    study = _study(on_the_front)
    front = study.pareto_front
    off = [r for r in study.trials if r.number not in {f.number for f in front}]
    near = near_front(front, study.trials, OBJECTIVES)
    # The rule the verdict's front check reads (one-sided 95% on some objective, against each front member that
    # dominates it): 5 of the 14 dropped here.
    assert {r.number for r in near} <= {r.number for r in off} and len(near) >= 3


def test_trials_dominated_far_beyond_their_noise_are_not_near_it() -> None:
    rng = np.random.default_rng(0)

    def half_dominated(trial: ts.Trial) -> dict[str, np.ndarray]:  # x > 0.5 is worse on both by far
        x = trial.params["x"]
        worse = 0.5 if x > 0.5 else 0.0
        return {"error": rng.normal(0.2 + worse, 0.01, 400), "latency": rng.normal(0.2 + worse, 0.01, 400)}

    study = _study(half_dominated)
    near = near_front(study.pareto_front, study.trials, OBJECTIVES)
    assert all(r.params["x"] <= 0.5 for r in near)
    assert any(r.params["x"] > 0.5 for r in study.trials)


def test_plain_floats_carry_no_noise_and_nothing_is_near_the_front() -> None:
    study = _study(lambda trial: {"error": trial.params["x"] + 0.01, "latency": 1.0 - trial.params["x"] + 0.02})
    assert near_front(study.pareto_front, study.trials, OBJECTIVES) == []


def test_the_summary_and_the_report_say_which_trials_the_front_cannot_be_told_from() -> None:
    from io import StringIO

    from rich.console import Console

    from tunesmith.report.html import render_report
    from tunesmith.report.terminal import summary

    rng = np.random.default_rng(0)
    study = _study(lambda trial: {"error": rng.binomial(1, trial.params["x"], 200).astype(float),
                                  "latency": rng.normal(1 - trial.params["x"], 0.3, 200)})  # fmt: skip
    out = StringIO()
    summary(study, console=Console(file=out, width=200), analyses=False)
    assert "are dominated by the front only within the recorded noise" in out.getvalue()
    assert "are dominated by the front only within the recorded noise" in render_report(study)


def test_an_exact_objective_beside_a_noisy_one_hides_no_trial_within_the_noisy_ones_noise() -> None:
    """Error on 200 examples, latency exact (a plain float): a trial worse by 0.02 in error, far within its noise,
    and slower by a little was left out of the note because latency carries no noise."""
    rng = np.random.default_rng(0)

    def objective(trial: ts.Trial) -> dict[str, object]:
        x = trial.params["x"]
        return {"error": list(rng.random(200) < 0.1 + 0.3 * x), "latency": 10.0 + 40.0 * (1.0 - x)}

    study = _study(objective)
    front = {r.number for r in study.pareto_front}
    near = near_front(study.pareto_front, study.trials, OBJECTIVES)
    assert near and all(r.number not in front for r in near)
    for record in near:  # each is within the error's noise of every front member that dominates it
        assert any(abs(record.metrics["error"] - f.metrics["error"]) < 2 * 0.05 for f in study.pareto_front)


def test_a_percentage_whose_examples_all_agree_carries_its_noise_on_its_scale() -> None:
    """Accuracy in percent, 100 on each of 50 examples: the front's checks read its noise as the verdict does (the
    adjusted proportion on a scale of 100), where they read it as unknown and the front check leaned."""
    from tunesmith.discipline._front import Dominance, dominance

    objectives = [ts.Metric("acc", "max", scale=100), ts.Metric("cost")]
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=objectives, budget=ts.Budget(trials=2),
                     storage="memory", sampler="random", seed=0)  # fmt: skip
    for cost in (1.0, 0.9):
        study.tell(study.ask(), {"acc": [100.0] * 50, "cost": cost, "stderr:cost": 0.0})
    chosen, cheaper = study.trials
    assert dominance(cheaper, chosen, objectives) is Dominance.WITHIN_NOISE  # level on acc, within its noise
