"""An objective that raises `ts.Infeasible` says its configuration cannot be run: the trial is recorded INFEASIBLE
with its reason, as a guardrail's breach is, and never counts as the objective's failure."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.discipline._reruns import run_once
from tunesmith.errors import ArgumentError
from tunesmith.samplers._history import observe
from tunesmith.study import ObjectiveError
from tunesmith.study._optimize import NoFeasibleTrialWarning
from tunesmith.trial import ReportRefused, TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
TOO_LARGE = "batch 4096 needs 40 GB, the GPU has 16"


def _study(trials: int, storage: str = "memory", **options: object) -> ts.Study:
    return ts.Study(SPACE, metric="loss", storage=storage, seed=0, sampler="random", budget=ts.Budget(trials=trials),
                    **options)  # type: ignore[arg-type]  # fmt: skip


def too_large(trial: ts.Trial) -> float:
    raise ts.Infeasible(TOO_LARGE)


# For tests of something else whose every trial is infeasible: `optimize` then warns that the study has no result,
# which the tests at the end of this file specify.
NO_RESULT_SAID = pytest.mark.filterwarnings("ignore::tunesmith.study._optimize.NoFeasibleTrialWarning")


def test_infeasible_keeps_its_reason_through_a_pickle() -> None:
    copied = pickle.loads(pickle.dumps(ts.Infeasible(TOO_LARGE)))
    assert isinstance(copied, ts.Infeasible) and copied.reason == TOO_LARGE and str(copied) == TOO_LARGE


def test_infeasible_without_a_reason_is_refused_with_the_fix() -> None:
    with pytest.raises(ArgumentError, match=r"needs a reason, a non-empty string, got ' '.*e\.g\. ts\.Infeasible"):
        ts.Infeasible(" ")


@NO_RESULT_SAID
@pytest.mark.parametrize("executor", ["inline", "processes"])
def test_an_objective_that_raises_infeasible_records_the_trial_infeasible_with_its_reason(executor: str) -> None:
    study = _study(1)
    result = study.optimize(too_large, executor=executor)
    (record,) = study.trials
    assert (record.state, record.kind) == (TrialState.INFEASIBLE, TrialKind.DECLARED)
    assert record.reason == f"infeasible: {TOO_LARGE}"
    assert record.error is not None and "Traceback" in record.error and "too_large" in record.error
    assert result.states == {"infeasible": 1} and result.failures == []


@NO_RESULT_SAID
def test_a_subclass_defined_in_the_objective_crosses_the_trial_process_pipe() -> None:
    class DoesNotFit(ts.Infeasible):  # a local class: it cannot be pickled, so it must not have to be
        pass

    def objective(trial: ts.Trial) -> float:
        raise DoesNotFit(f"x={trial.params['x']:.2f} does not fit")

    study = _study(2)
    study.optimize(objective, executor="processes", workers=2)
    assert [(r.state, r.kind) for r in study.trials] == [(TrialState.INFEASIBLE, TrialKind.DECLARED)] * 2
    assert all(r.reason and r.reason.startswith("infeasible: x=") for r in study.trials)


def _always_the_same(trial: ts.Trial) -> float:
    raise ts.Infeasible(TOO_LARGE)


def _each_its_own(trial: ts.Trial) -> float:
    raise ts.Infeasible(f"x={trial.params['x']:.6f} needs 40 GB, the GPU has 16")


def _after_three_worked(trial: ts.Trial) -> float:
    if trial.number < 3:
        return trial.params["x"]
    raise ts.Infeasible(TOO_LARGE)


# Each fail-fast rule, with a run that breaks it when the trials are failures: three identical ones; ten of any kind;
# a streak clustered at the end after trials worked (38 after three); a whole run with nothing that worked.
FAIL_FAST_RULES = {
    "three identical": (_always_the_same, 5),
    "ten of any kind": (_each_its_own, 12),
    "a streak at the end after trials worked": (_after_three_worked, 43),
    "a run where nothing worked": (_always_the_same, 2),
}


@NO_RESULT_SAID
@pytest.mark.parametrize("rule", list(FAIL_FAST_RULES))
def test_infeasible_trials_never_stop_the_study_under_fail_fast(rule: str) -> None:
    objective, trials = FAIL_FAST_RULES[rule]
    study = _study(trials)
    result = study.optimize(objective, fail_fast=3)
    assert result.trials_run == trials, "every trial of the budget ran"
    assert result.failures == []


def test_an_infeasible_trial_is_never_the_best() -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.number == 0:
            trial.report(loss=0.0)  # better than any result, before it found it cannot go on
            raise ts.Infeasible(TOO_LARGE)
        return 0.5 + trial.params["x"]

    study = _study(3)
    result = study.optimize(objective)
    assert study.trials[0].state is TrialState.INFEASIBLE
    assert result.best is not None and result.best.number != 0
    assert study.best is not None and study.best.number == result.best.number


def test_the_samplers_see_an_infeasible_trial_as_a_point_to_avoid() -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.params["x"] > 0.5:
            raise ts.Infeasible(f"x={trial.params['x']:.2f} is above what the model takes")
        return trial.params["x"]

    study = _study(12)
    study.optimize(objective)
    infeasible = [r for r in study.trials if r.state is TrialState.INFEASIBLE]
    assert infeasible, "the random draws landed above 0.5"
    seen = observe(study.space, study.trials, study.context)
    assert seen.has_infeasible, "the GP fits its feasibility model on it"
    avoided = sorted(float(row[0]) for row in seen.failed_x)
    assert avoided == sorted(float(SPACE.encode(r.params)[0]) for r in infeasible), "TPE ranks it among the bad"


@NO_RESULT_SAID
def test_a_trial_infeasible_at_its_largest_rung_keeps_its_curve() -> None:
    def objective(trial: ts.Trial) -> float:
        for step in trial.steps(9):
            if step == 8:
                raise ts.Infeasible("out of memory at the full resource")
            trial.report(loss=1.0 / (step + 1))
        return 0.1

    study = _study(1, scheduler=ts.ASHA(1, 9, 3))
    study.optimize(objective)
    (record,) = study.trials
    assert (record.state, record.kind) == (TrialState.INFEASIBLE, TrialKind.DECLARED)
    assert sorted(record.intermediate) == list(range(1, 9)) and record.resource == 8.0
    assert record.metrics == {}, "no reported value passes for a final result"


def test_a_seed_rerun_that_raises_infeasible_is_recorded_infeasible() -> None:
    run = run_once(too_large, {"x": 0.5}, seed=7, candidate=3, metric=ts.Metric("loss", "min"))
    assert (run.state, run.metrics) == (TrialState.INFEASIBLE.value, {})
    assert run.reason == f"infeasible: {TOO_LARGE}"


def test_a_report_rule_broken_before_infeasible_still_stops_the_run() -> None:
    def objective(trial: ts.Trial) -> float:
        trial.report(2, loss=1.0)
        with contextlib.suppress(ReportRefused):  # the objective caught it and went on
            trial.report(1, loss=0.9)  # a step going back: refused
        raise ts.Infeasible(TOO_LARGE)

    study = _study(3)
    with pytest.raises(ObjectiveError, match="broke the report rules"):
        study.optimize(objective)
    (record,) = study.trials
    assert (record.state, record.kind) == (TrialState.FAILED, TrialKind.EXCEPTION)


def test_trials_and_status_show_an_infeasible_trial_with_its_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/infeasible.db"

    def objective(trial: ts.Trial) -> float:
        if trial.number == 1:
            raise ts.Infeasible(TOO_LARGE)
        return trial.params["x"]

    _study(3, storage=url, name="oom").optimize(objective)

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(cli, [*args, "oom", "--storage", url], env={"COLUMNS": "250"},
                                    catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
        return result.output

    row = next(line for line in invoke("trials").splitlines() if line.startswith("│ 1 "))
    assert "infeasible" in row and f"infeasible: {TOO_LARGE}" in row
    (listed,) = [json.loads(line) for line in invoke("trials", "--state", "infeasible", "--json").splitlines()]
    assert (listed["number"], listed["kind"], listed["reason"]) == (1, "declared", f"infeasible: {TOO_LARGE}")
    assert "2 complete, 1 infeasible" in invoke("status")


def _ray_objective(trial: ts.Trial) -> float:
    raise ts.Infeasible(TOO_LARGE)


@NO_RESULT_SAID
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning",
                            "ignore::pytest.PytestUnraisableExceptionWarning")  # fmt: skip  # Ray's own
def test_the_ray_executor_records_infeasible_as_the_others_do() -> None:
    pytest.importorskip("ray", reason="the ray extra is part of the test install (make test)")
    from tunesmith.executors.ray import RayExecutor

    study = _study(1)
    study.optimize(_ray_objective, executor=RayExecutor(workers=1, num_cpus=1))
    (record,) = study.trials
    assert (record.state, record.kind, record.reason) == (TrialState.INFEASIBLE, TrialKind.DECLARED,
                                                          f"infeasible: {TOO_LARGE}")  # fmt: skip


def test_a_bug_behind_an_infeasible_trial_still_stops_the_study() -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.number == 0:
            raise ts.Infeasible(TOO_LARGE)  # says nothing of whether the code that trains works
        return undefined_name  # type: ignore[name-defined]  # noqa: F821

    study = _study(50)
    with pytest.raises(ObjectiveError, match="the first 3 trials"):
        study.optimize(objective)
    assert len(study.trials) == 4


def test_infeasible_trials_between_identical_failures_do_not_break_their_streak() -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.number % 2:
            raise ts.Infeasible(TOO_LARGE)
        return undefined_name  # type: ignore[name-defined]  # noqa: F821

    study = _study(50)
    with pytest.raises(ObjectiveError, match=r"\(#0, #2, #4\) failed the same way"):
        study.optimize(objective)
    assert len(study.trials) == 5


def test_a_candidate_whose_rerun_cannot_be_run_is_not_eligible() -> None:
    study = _study(6)
    study.optimize(lambda trial: trial.params["x"])

    def rerun(trial: ts.Trial) -> float:
        if trial.seed % 2:
            raise ts.Infeasible("this seed's data does not fit")
        return trial.params["x"]

    report = ts.validate_top(study, rerun, k=2, seeds=3)
    assert report.winner is None
    assert all("could not be run (infeasible: this seed's data does not fit)" in c.note for c in report.candidates)


@NO_RESULT_SAID
def test_the_simulated_executor_records_infeasible_as_the_others_do() -> None:
    def objective(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        yield 1.0, {"loss": 0.5}
        raise ts.Infeasible(TOO_LARGE)

    study = _study(1)
    study.optimize(objective, executor=ts.SimulatedExecutor())
    (record,) = study.trials
    assert (record.state, record.kind, record.reason) == (TrialState.INFEASIBLE, TrialKind.DECLARED,
                                                          f"infeasible: {TOO_LARGE}")  # fmt: skip
    assert sorted(record.intermediate) == [1]


def test_under_rungs_the_samplers_still_see_a_trial_that_could_not_run() -> None:
    def objective(trial: ts.Trial) -> float:
        if trial.params["x"] > 0.5:
            raise ts.Infeasible(f"x={trial.params['x']:.2f} is above what the model takes")
        for step in trial.steps(9):
            trial.report(loss=trial.params["x"] + 1.0 / (step + 1))
        return trial.params["x"]

    study = _study(16, scheduler=ts.FIFO())
    study.optimize(objective)
    context = dataclasses.replace(study.context, rungs=(1.0, 3.0, 9.0))
    infeasible = [r for r in study.trials if r.state is TrialState.INFEASIBLE]
    assert infeasible
    seen = observe(study.space, study.trials, context)
    assert len(seen.failed_x) == len(infeasible)


@NO_RESULT_SAID
def test_a_study_whose_every_trial_was_declared_infeasible_says_so_not_to_relax_a_guardrail() -> None:
    from tunesmith.report import report_data
    from tunesmith.report._shown import no_feasible_note

    def never_fits(trial: ts.Trial) -> float:
        raise ts.Infeasible("needs 40 GB, the GPU has 16")

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", seed=0,
                     budget=ts.Budget(trials=3))  # fmt: skip
    study.optimize(never_fits, progress=False)
    note = no_feasible_note(report_data(study))
    assert note is not None and "the objective declared 3 of the 3 trials that finished infeasible" in note
    assert "needs 40 GB, the GPU has 16" in note and "Relax the bound" not in note


def _no_result_warnings(said: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in said if issubclass(w.category, NoFeasibleTrialWarning)]


def test_optimize_warns_once_when_the_budget_is_spent_with_every_trial_declared_infeasible() -> None:
    """It returned as quietly as from a search that found something; `tunesmith run` exits 1 with the same text."""
    study = _study(3)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        result = study.optimize(too_large)
    (warned,) = _no_result_warnings(said)
    assert warned.startswith("the budget is spent and study ")
    assert "the objective declared 3 of the 3 trials that finished infeasible (ts.Infeasible)" in warned
    assert f"the first, trial #0, with {'infeasible: ' + TOO_LARGE!r}" in warned
    assert "check the condition it raises ts.Infeasible on" in warned
    assert warned in result.notes


def test_the_no_result_warning_waits_for_the_run_that_spends_the_budget() -> None:
    """A run cut short by n_trials leaves the budget to a later run, which may still find a feasible trial."""
    study = _study(4)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        early = study.optimize(too_large, n_trials=2)
    assert _no_result_warnings(said) == [] and not any("no feasible trial" in note for note in early.notes)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        spent = study.optimize(too_large)
    assert len(_no_result_warnings(said)) == 1 and any("no feasible trial" in note for note in spent.notes)
