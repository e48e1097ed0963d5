"""Schedulers decide on differences the noise cannot explain, and budgets say how many configurations they train."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.schedulers import PBT, Hyperband, MedianStop, make_scheduler
from tunesmith.study import ShortTrainingWarning, trained_fully
from tunesmith.study._limits import none_trained_note
from tunesmith.trial import TrialKind, TrialRecord, TrialState

CONTEXT = SearchContext(metric=Metric("loss", "min"))
NOISE = 0.05


def _median_run(offsets: list[float], rng: np.random.Generator, steps: int = 30) -> list[int | None]:
    """Configurations trained one after another under MedianStop's defaults, each a shared curve plus its offset and
    noise sd 0.05 per report: the step each was stopped at (``None``: trained to the end)."""
    median, history, stopped = MedianStop(), [], []
    for number, offset in enumerate(offsets):
        record, at = TrialRecord(number=number, params={}, seed=number), None
        for step in range(1, steps + 1):
            value = 1 + np.exp(-step / 5) + offset + NOISE * rng.standard_normal()
            record = record.evolve(intermediate={**record.intermediate, step: {"loss": float(value)}}, resource=step)
            if median.decide(record, [*history, record], CONTEXT) is Decision.STOP:
                at = step
                break
        history.append(record.evolve(state=TrialState.STOPPED if at else TrialState.COMPLETE))
        stopped.append(at)
    return stopped


def test_median_stop_keeps_identical_configurations_that_differ_by_noise_alone() -> None:
    # Before, every configuration after the first five that dipped above the median once was stopped: 15 of 20.
    stopped = _median_run([0.0] * 20, np.random.default_rng(0))
    assert sum(at is not None for at in stopped) <= 1


def test_median_stop_keeps_a_configuration_better_by_one_noise_sd() -> None:
    rng = np.random.default_rng(1)
    kept = [_median_run([0.0] * 10 + [-NOISE] + [0.0] * 9, rng)[10] is None for _ in range(5)]
    assert all(kept)  # half of them were stopped before


def test_median_stop_still_stops_a_clearly_worse_configuration_early() -> None:
    stopped = _median_run([0.0] * 10 + [5 * NOISE] + [0.0] * 9, np.random.default_rng(2))
    assert stopped[10] is not None and stopped[10] <= 7


def test_median_stop_says_how_far_beyond_the_noise_a_stopped_trial_was() -> None:
    def objective(trial: ts.Trial) -> dict[str, float] | None:
        rng = np.random.default_rng(trial.seed)
        value = 0.0
        for step in trial.steps(20):
            value = 1 + np.exp(-(step + 1) / 5) + trial.params["x"] + NOISE * rng.standard_normal()
            trial.report(loss=float(value))
            if trial.should_stop():
                return None
        return {"loss": float(value)}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 2.0)}), metric="loss", scheduler="median", sampler="random",
                     budget=ts.Budget(trials=12), storage="memory", seed=0)  # fmt: skip
    study.optimize(objective, progress=False)
    reasons = [r.reason or "" for r in study.trials if r.kind is TrialKind.SCHEDULER]
    assert reasons, "configurations up to 2.0 worse than the best are stopped"
    assert all("standard errors" in r and "from the step-to-step noise" in r and "one-sided 0.01" in r for r in reasons)


def test_median_stop_refuses_a_level_outside_zero_to_a_half() -> None:
    with pytest.raises(ConfigError, match=r"level must be a number in \(0, 0.5\), got level=0.7"):
        MedianStop(level=0.7)


def _population(offsets: list[float], rng: np.random.Generator, steps: int = 8) -> list[TrialRecord]:
    curves = [
        {s: {"loss": float(1 + np.exp(-s / 10) + off + NOISE * rng.standard_normal())} for s in range(1, steps + 1)}
        for off in offsets
    ]
    return [TrialRecord(n, {}, n, TrialState.RUNNING, intermediate=c, resource=steps) for n, c in enumerate(curves)]


def test_pbt_exploits_no_member_of_a_population_that_differs_by_noise_alone() -> None:
    pbt, rng = PBT(perturbation_interval=4), np.random.default_rng(3)
    exploited = 0
    for _ in range(20):
        population = _population([0.0] * 8, rng)
        exploited += sum(pbt.decide(r, population, CONTEXT) is Decision.STOP for r in population)
    assert exploited <= 6  # at one-sided 5% per member and round about 4 of 40; every one of the 40 before


def test_pbt_exploits_a_member_far_behind_and_records_the_gap_and_its_standard_error() -> None:
    pbt = PBT(perturbation_interval=4)
    population = _population([0.0] * 7 + [10 * NOISE], np.random.default_rng(4))
    assert pbt.decide(population[-1], population, CONTEXT) is Decision.STOP
    why = pbt.explain(population[-1], population, CONTEXT) or ""
    assert "trails #" in why and "standard error" in why and "step-to-step noise" in why


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"quantile": "0.25"}, r"quantile must be a number in \(0, 0.5\], got quantile='0.25'"),
        ({"min_population": 2.5}, r"min_population must be an integer >= 2, got min_population=2.5"),
        (
            {"perturb_factors": [0.8, float("inf")]},
            r"perturb_factors must be a finite number > 0, got perturb_factors=inf",
        ),
        ({"perturb_factors": "0.8"}, r"perturb_factors must be a non-empty list of positive numbers"),
        ({"resample_probability": None}, r"resample_probability must be a number in \[0, 1\], got .*=None"),
    ],
)
def test_pbt_refuses_options_of_the_wrong_type_with_the_rule(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_scheduler({"name": "pbt", **options})


def test_hyperbands_estimate_counts_the_early_trials_vouching_stops() -> None:
    # The share alone said "about 3 of 30"; runs trained 0.7 on average and none in 4 of 10.
    count, sentence = trained_fully(ts.Budget(trials=30), Hyperband(1, 27, 3)) or (99.0, "")
    assert count < 1.5 and "ends with no best" in sentence
    sixty = trained_fully(ts.Budget(trials=60), Hyperband(1, 27, 3))
    assert sixty is not None and sixty[0] < 5, "runs reach about 4 of 60: this budget warns"


def test_a_resource_budget_too_small_for_a_rung_scheduler_warns_before_the_run() -> None:
    stated = trained_fully(ts.Budget(resource=5 * 27), Hyperband(1, 27, 3))
    assert stated is not None and stated[0] < 5 and "give a resource budget of about" in stated[1]
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", scheduler=Hyperband(1, 27, 3),
                     budget=ts.Budget(resource=5 * 27), storage="memory", seed=0)  # fmt: skip

    def objective(trial: ts.Trial) -> dict[str, float] | None:
        for step in trial.steps(27):
            trial.report(loss=trial.params["x"] + 1 / (step + 1))
            if trial.should_stop():
                return None
        return {"loss": trial.params["x"]}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(objective, progress=False)
    said = [str(w.message) for w in caught if issubclass(w.category, ShortTrainingWarning)]
    assert any("with a resource budget of 135" in s for s in said)


def test_the_no_best_note_under_a_resource_budget_asks_for_more_resource_not_for_a_resource_budget() -> None:
    records = [
        TrialRecord(n, {}, n, TrialState.STOPPED, intermediate={1: {"loss": 1.0}}, resource=1, kind=TrialKind.SCHEDULER)
        for n in range(6)
    ]
    note = none_trained_note(records, Hyperband(1, 27, 3), ts.Budget(resource=54)) or ""
    assert "raise the resource budget (study.extend_budget(resource=...)" in note
    assert "give a resource budget" not in note and "trains 5 configurations fully" in note
    by_trials = none_trained_note(records, Hyperband(1, 27, 3), ts.Budget(trials=6)) or ""
    assert "raise the trial budget" in by_trials and "trials let one finish in 9 runs of 10" in by_trials
