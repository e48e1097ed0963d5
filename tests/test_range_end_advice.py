"""A search whose metric improves towards an end of a parameter's range, with its best trial at that end, is told that
better configurations may lie beyond the range, and by how much to widen it: an XGBoost study whose loss fell with
the learning rate over the whole range (its best trials crowded under the bound) said nothing of it. A best trial at
an end by chance, or a bowl whose bottom lies inside the range, is told nothing."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console

import tunesmith as ts
from tunesmith.analysis import diagnose, importance
from tunesmith.analysis._advice import _widened
from tunesmith.analysis._edges import range_end_tests
from tunesmith.report.terminal import summary

SPACE = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True), "width": ts.Float(0.0, 1.0)})


def _searched(loss_of_lr: object, seed: int = 0) -> ts.Study:
    """40 random trials of ``loss_of_lr(log10(lr))`` plus noise, width doing nothing."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=40), storage="memory", seed=seed, sampler="random")

    def objective(trial: ts.Trial) -> float:
        noise = np.random.default_rng([seed, trial.number]).normal(0.0, 0.1)
        return float(loss_of_lr(math.log10(trial.params["lr"]))) + noise  # type: ignore[operator]

    study.optimize(objective)
    return study


def _widen_lines(study: ts.Study) -> list[str]:
    found = diagnose(study.trials, SPACE, study.metric, importance=importance(study.trials, SPACE, study.metric))
    return [s.text for s in found.suggestions if "range may cut better configurations off" in s.text]


def test_a_loss_falling_towards_the_upper_bound_is_told_to_widen_the_range_above_it() -> None:
    study = _searched(lambda exponent: -exponent)  # the larger lr, the lower the loss, up to the bound 0.1
    assert study.best is not None and study.best.params["lr"] >= 0.05
    (line,) = _widen_lines(study)
    assert line.startswith(
        "lr's range may cut better configurations off above 0.1: loss improves towards that end (p = "
    ), line
    assert line.endswith(
        f"(trial #{study.best.number}), lies in the top tenth of the range; widen the range to about 0.56 (a quarter "
        "of its span further, on its log scale) unless 0.1 is as far as lr can go"
    ), line
    assert "Holm over 4 range ends" in line and "tested at 5%" in line


def test_the_run_summary_prints_the_advice() -> None:
    study = _searched(lambda exponent: -exponent)
    buffer = io.StringIO()
    summary(study, console=Console(file=buffer, width=400, color_system=None))
    said = " ".join(buffer.getvalue().split())
    assert "• lr's range may cut better configurations off above 0.1: loss improves towards that end" in said, said


def test_a_bowl_whose_bottom_lies_inside_the_range_is_told_nothing_of_its_ends() -> None:
    study = _searched(lambda exponent: (exponent + 2.5) ** 2)  # best at lr = 10^-2.5, mid-range
    assert _widen_lines(study) == []


def test_a_best_trial_at_an_end_by_chance_is_not_enough() -> None:
    # Pure noise, but the trial with the largest lr is made the best: it lies at the end, and no trend leads there.
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=2, sampler="random")
    trials = [study.ask() for _ in range(40)]
    values = np.random.default_rng(2).normal(size=40)
    top = int(np.argmax([trial.params["lr"] for trial in trials]))
    values[top] = values.min() - 1.0
    for trial, value in zip(trials, values, strict=True):
        study.tell(trial, {"loss": float(value)})
    assert study.best is not None and study.best.number == trials[top].number
    assert study.best.params["lr"] >= 0.05  # in the top tenth of the range
    assert _widen_lines(study) == []


def test_the_trend_is_tested_against_chance_over_every_end() -> None:
    rng = np.random.default_rng(3)
    x = rng.random((60, 3))
    falling = -x[:, 0] + rng.normal(0.0, 0.3, 60)  # better towards the high end of the first parameter
    tests = range_end_tests(x, falling, ["a", "b", "c"], [True, True, True], seed=0, level=0.05)
    assert [(t.name, t.end) for t in tests if t.found] == [("a", "high")]
    assert {t.family for t in tests} == {6}
    noise = range_end_tests(x, rng.normal(size=60), ["a", "b", "c"], [True, True, True], seed=0, level=0.05)
    assert not any(t.found for t in noise)
    inactive = x.copy()
    inactive[::2, 0] = np.nan  # the trials where a is inactive are left out of its test
    assert range_end_tests(inactive, falling, ["a", "b", "c"], [True, False, False], seed=0, level=0.05)[0].found


@pytest.mark.parametrize(
    ("param", "high", "widened"),
    [
        (ts.Float(1e-4, 1e-1, log=True), True, 0.56),
        (ts.Float(1e-4, 1e-1, log=True), False, 1.8e-05),
        (ts.Float(0.0, 1.0), True, 1.25),
        (ts.Float(0.0, 1.0), False, -0.25),
        (ts.Float(0.0, 1.0, step=0.1), True, 1.2),  # whole steps: a quarter of 10 steps, rounded to 2
        (ts.Int(32, 4096, base=2), True, 8192),
        (ts.Int(32, 4096, base=2), False, 16),
        (ts.Int(1, 4096, base=2), False, None),  # no power of two below 1
        (ts.Int(2, 10), True, 12),
        (ts.Int(1, 100, log=True), False, None),  # a log Int cannot go below 1
        (ts.Int(1, 100, log=True), True, 316),
    ],
)
def test_the_widened_bound_is_a_quarter_of_the_span_further_on_the_parameter_s_grid(
    param: ts.Float | ts.Int, high: bool, widened: float | None
) -> None:
    assert _widened(param, high) == (pytest.approx(widened) if widened is not None else None)


def test_a_study_of_several_objectives_is_told_for_the_objective_that_improves_towards_the_bound() -> None:
    objectives = [ts.Metric("loss"), ts.Metric("size")]
    study = ts.Study(SPACE, metrics=objectives, budget=ts.Budget(trials=40), storage="memory", seed=0,
                     sampler="random")  # fmt: skip

    def objective(trial: ts.Trial) -> dict[str, float]:
        noise = np.random.default_rng([0, trial.number]).normal(0.0, 0.1)
        return {"loss": -math.log10(trial.params["lr"]) + noise, "size": 0.5 + trial.params["width"]}

    study.optimize(objective)
    results = [importance(study.trials, SPACE, o) for o in objectives]
    found = diagnose(study.trials, SPACE, objectives[0], importance=results, objectives=objectives)
    lines = [s.text for s in found.suggestions if "range may cut better configurations off" in s.text]
    (line,) = [text for text in lines if text.startswith("for loss: ")]
    assert line.startswith("for loss: lr's range may cut better configurations off above 0.1: loss improves"), line
    assert "and lr in the Pareto front's best trial on loss, " in line, line


def test_an_end_that_another_objective_worsens_towards_is_called_the_front_s_trade_off() -> None:
    """Two objectives that pull a parameter opposite ways (accuracy up with a model's width, latency down) have the
    front's extremes at its bounds by construction: "may cut better configurations off" promised configurations better
    on both, where a wider range only extends the trade-off."""
    objectives = [ts.Metric("loss"), ts.Metric("cost")]
    study = ts.Study(SPACE, metrics=objectives, budget=ts.Budget(trials=40), storage="memory", seed=0,
                     sampler="random")  # fmt: skip

    def objective(trial: ts.Trial) -> dict[str, float]:
        noise = np.random.default_rng([0, trial.number]).normal(0.0, 0.1, size=2)
        lr = math.log10(trial.params["lr"])
        return {"loss": -lr + noise[0], "cost": 4.0 + lr + noise[1]}

    study.optimize(objective)
    results = [importance(study.trials, SPACE, o) for o in objectives]
    found = diagnose(study.trials, SPACE, objectives[0], importance=results, objectives=objectives)
    texts = [s.text for s in found.suggestions]
    assert not [t for t in texts if "range may cut better configurations off" in t], texts
    (loss,) = [t for t in texts if t.startswith("for loss: lr's range ends the front's trade-off above 0.1: ")]
    assert " while cost improves towards the other end (p = " in loss, loss
    assert loss.endswith("a wider range would extend the front to better loss at that cost, not reach configurations "
                         "better on both; widen the range to about 0.56 (a quarter of its span further, on its log "
                         "scale) only if that part of the trade-off is wanted"), loss  # fmt: skip
    (cost,) = [t for t in texts if t.startswith("for cost: lr's range ends the front's trade-off below 0.0001: ")]
    assert " while loss improves towards the other end (p = " in cost, cost


def test_an_end_beyond_which_trials_failed_is_not_one_to_widen() -> None:
    # The loss falls with lr up to 0.3 and every trial above diverges: the diagnosis narrows lr to at most about 0.3,
    # and the trials that did not fail improve towards the bound, with the best of them in the top tenth of the range.
    space = ts.Space({"lr": ts.Float(1e-3, 0.5, log=True), "width": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=60), storage="memory", seed=0, sampler="random")

    def objective(trial: ts.Trial) -> float:
        lr = trial.params["lr"]
        return math.nan if lr > 0.3 else -math.log10(lr) + np.random.default_rng([0, trial.number]).normal(0, 0.1)

    study.optimize(objective)
    result = importance(study.trials, space, study.metric)
    assert any(t.found and (t.name, t.end) == ("lr", "high") for t in result.ends)
    found = diagnose(study.trials, space, study.metric, importance=result)
    texts = [s.text for s in found.suggestions]
    assert any(text.startswith("narrow lr to at most") for text in texts), texts
    assert not any("range may cut better configurations off" in text for text in texts), texts
