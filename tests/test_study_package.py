"""The study package's parts: the stored spec, result judging, and defects found in the review."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.executors import SimulatedExecutor
from tunesmith.study import ResourceAxisWarning, ShortTrainingWarning, StudySpec, trained_fully
from tunesmith.study._outcome import StopNote, judge
from tunesmith.trial import TrialKind, TrialRecord, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _record(intermediate: dict[int, dict[str, float]] | None = None) -> TrialRecord:
    return TrialRecord(number=0, params={"x": 0.5}, seed=1, state=TrialState.RUNNING,
                       intermediate=intermediate or {})  # fmt: skip


def test_a_spec_round_trips_through_json() -> None:
    spec = StudySpec(space=SPACE, metric=ts.Metric("loss"), seed=3, guardrails=(ts.Guardrail("ms", "<=", 5.0),),
                     budget=ts.Budget(trials=4), sampler="random", scheduler="fifo", retries=2,
                     heartbeat_interval=2.0, grace=30.0)  # fmt: skip
    assert StudySpec.from_json(spec.to_json()) == spec


def test_a_spec_stored_before_retries_and_heartbeats_reads_as_unknown() -> None:
    stored = StudySpec(space=SPACE, metric=ts.Metric("loss"), seed=3).to_json()
    assert "retries" not in stored and "grace" not in stored
    spec = StudySpec.from_json(stored)
    assert spec.retries is None and spec.heartbeat_interval is None and spec.grace is None


def test_judging_a_guardrail_breach_gives_an_infeasible_outcome_with_the_bound() -> None:
    outcome = judge(_record(), {"loss": 0.1, "ms": 9.0}, metric=ts.Metric("loss"),
                    guardrails=(ts.Guardrail("ms", "<=", 5.0),), decision=Decision.CONTINUE, note=None)  # fmt: skip
    assert outcome.state is TrialState.INFEASIBLE and outcome.kind is TrialKind.GUARDRAIL
    assert outcome.reason is not None and "got 9" in outcome.reason


def test_judging_a_stopped_trial_that_returned_nothing_keeps_its_last_report() -> None:
    outcome = judge(_record({1: {"loss": 0.4}, 2: {"loss": 0.3}}), None, metric=ts.Metric("loss"), guardrails=(),
                    decision=Decision.STOP, note=StopNote(TrialKind.SCHEDULER, "stop by asha at step 2"))  # fmt: skip
    assert outcome.state is TrialState.STOPPED and outcome.metrics == {"loss": 0.3}
    assert outcome.kind is TrialKind.SCHEDULER and outcome.reason == "stop by asha at step 2"


def _steps(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    for step in range(trial.step, 5):
        yield 100.0, {"loss": trial.params["x"] + 1.0 / (step + 1)}


def test_usage_elapsed_under_the_simulated_clock_is_simulated_time() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(trials=4))
    result = study.optimize(_steps, executor=SimulatedExecutor(workers=2))
    assert result.usage is not None
    assert result.usage.elapsed == pytest.approx(1000.0), "4 trials x 5 steps x 100 s on 2 workers"


def test_heartbeat_interval_and_grace_are_stored_and_loaded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    ts.Study(SPACE, metric="loss", storage=url, name="hb", heartbeat_interval=2.0, grace=7.0)
    loaded = ts.Study.load("hb", url)
    assert (loaded.heartbeat_interval, loaded.grace) == (2.0, 7.0)
    reopened = ts.Study(SPACE, metric="loss", storage=url, name="hb")
    assert (reopened.heartbeat_interval, reopened.grace) == (2.0, 7.0), "omitted: the stored values"
    faster = ts.Study(SPACE, metric="loss", storage=url, name="hb", heartbeat_interval=0.5)
    assert (faster.heartbeat_interval, faster.grace) == (0.5, 7.0), "the beat is each worker's own"
    with pytest.raises(ts.ConfigError, match="grace must exceed heartbeat_interval"):
        ts.Study(SPACE, metric="loss", storage=url, name="hb", heartbeat_interval=8.0)


def test_reopening_with_another_grace_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    ts.Study(SPACE, metric="loss", storage=url, name="hb", grace=60.0)
    with pytest.raises(ts.ConfigError, match="grace=60"):
        ts.Study(SPACE, metric="loss", storage=url, name="hb", grace=90.0)


@pytest.mark.parametrize("keep", [-1, 1.5, True, "3"])
def test_keep_checkpoints_must_be_a_non_negative_integer(keep: object) -> None:
    with pytest.raises(ts.ConfigError, match="keep_checkpoints"):
        ts.Study(SPACE, metric="loss", storage="memory", keep_checkpoints=keep)  # type: ignore[arg-type]


def test_a_trial_diverged_at_a_report_is_stopped_with_kind_diverged() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=1))

    def exploding(trial: ts.Trial) -> float:
        for step in trial.steps(5):
            trial.report(loss=1.0 * 100**step)
        return 1.0

    study.optimize(exploding)
    record = study.trials[0]
    assert record.state is TrialState.STOPPED and record.kind is TrialKind.DIVERGED and record.reason == "diverged"


@pytest.mark.parametrize(
    ("result", "kind"),
    [(float("nan"), TrialKind.NON_FINITE), ({"other": 1.0}, TrialKind.MISSING_METRIC), ("text", TrialKind.BAD_RESULT)],
)
def test_a_result_without_a_usable_metric_records_its_kind(result: object, kind: TrialKind) -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0)
    record = study.tell(study.ask(), result)
    assert record.state is TrialState.FAILED and record.kind is kind


def test_an_objective_exception_is_failed_with_kind_exception() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=1))

    def broken(trial: ts.Trial) -> float:
        raise KeyError("x")

    study.optimize(broken, fail_fast=None)  # a run whose every trial failed raises otherwise
    assert study.trials[0].kind is TrialKind.EXCEPTION


def _five_steps(trial: ts.Trial) -> float:
    for step in trial.steps(5):
        trial.report(loss=trial.params["x"] + 1.0 / (step + 1))
    return trial.params["x"] + 0.2


def test_a_trial_that_ran_all_its_steps_is_complete_although_the_resource_budget_ran_out() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(resource=15))
    study.optimize(_five_steps)
    records = study.trials
    assert [r.state for r in records] == [TrialState.COMPLETE] * 3, [(r.state, r.reason) for r in records]
    assert study.best is not None


def test_a_trial_stopped_by_the_budget_before_its_last_step_stays_stopped() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(resource=12))
    study.optimize(_five_steps)
    last = study.trials[-1]
    assert last.state is TrialState.STOPPED and last.kind is TrialKind.BUDGET and last.resource < 5


def test_a_trial_budget_that_trains_fewer_than_five_configurations_fully_warns_with_the_fix() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, scheduler=ts.ASHA(min_resource=1,
                     max_resource=27, eta=3), budget=ts.Budget(trials=20))  # fmt: skip
    def trains_27_steps(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        for step in range(trial.step, 27):
            yield 100.0, {"loss": trial.params["x"] + 1.0 / (step + 1)}

    fix = r"of 20 configurations .*Budget\(resource=.*about 160 trials, which train 5"
    with pytest.warns(ShortTrainingWarning, match=fix):
        study.optimize(trains_27_steps, executor=SimulatedExecutor(workers=2))


def test_the_planner_and_the_run_agree_on_how_many_configurations_train_fully() -> None:
    fidelity = ts.Fidelity(max_resource=27, min_resource=1, eta=3)
    plan = ts.plan(SPACE, ts.Budget(trials=20), fidelity=fidelity)
    assert plan.scheduler["name"] == "asha" and plan.trained_fully is not None
    study = ts.Study(SPACE, metric="loss", storage="memory", scheduler=plan.scheduler, budget=plan.budget)
    stated = trained_fully(study.budget, study.scheduler)
    assert stated is not None and stated[0] == pytest.approx(plan.trained_fully)
    assert f"{plan.trained_fully:.3g} configurations train to the full resource" in plan.summary()


def _trains(length: int, *, report: bool = True, short_for: int | None = None):  # type: ignore[no-untyped-def]
    """An objective training ``length`` steps (trial ``short_for`` stops itself after 4), reporting each or none."""

    def objective(trial: ts.Trial) -> float:
        steps = 4 if trial.number == short_for else length
        for epoch in trial.steps(steps):
            if report:
                trial.report(loss=trial.params["x"] + 1.0 / (epoch + 1))
        return trial.params["x"]

    return objective


def _axis_warnings(objective, scheduler: ts.schedulers.Scheduler | None = None,  # type: ignore[no-untyped-def]
                   **options: object) -> tuple[list[str], ts.StudyResult]:  # fmt: skip
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random",
                     scheduler=scheduler or ts.ASHA(1, 27, 3), budget=ts.Budget(trials=12),
                     **options)  # type: ignore[arg-type]  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = study.optimize(objective)
    return [str(w.message) for w in caught if w.category is ResourceAxisWarning], result


def test_trials_that_all_end_short_of_max_resource_are_said_once_with_the_fix() -> None:
    said, result = _axis_warnings(_trains(5))
    assert said == [
        "the first 3 completed trials ended by step 5, short of asha's max_resource 27, so none counts as trained "
        "to the end; the rung at 9 compared none of them: if a full run is 5 steps, set max_resource=5 (if your "
        "training stops itself early, this is expected)"
    ]
    assert result.notes == tuple(said), "the result keeps what was said"


def test_trials_that_report_no_step_under_early_stopping_are_said_once() -> None:
    said, _ = _axis_warnings(_trains(27, report=False))
    assert len(said) == 1
    assert said[0].startswith("the first 3 completed trials reported no step, so asha could stop none")


def test_trials_on_the_axis_or_one_that_stops_itself_early_say_nothing() -> None:
    assert _axis_warnings(_trains(27))[0] == []
    assert _axis_warnings(_trains(27, short_for=0))[0] == [], "one trial ending early proves nothing"


def test_trials_that_all_end_before_median_stopping_s_warm_up_are_said_once_with_the_fix() -> None:
    said, _ = _axis_warnings(_trains(5), ts.MedianStop(warmup_steps=10))
    assert said == [
        "the first 3 completed trials ended by step 5, before median makes its first decision at step 10 "
        "(warmup_steps), so it could stop none of them: set warmup_steps below 5"
    ]
    assert _axis_warnings(_trains(12), ts.MedianStop(warmup_steps=10))[0] == []


def test_trials_that_all_train_past_max_resource_are_said_once_with_the_fix() -> None:
    said, _ = _axis_warnings(_trains(30), ts.ASHA(1, 9, 3))
    assert said == [
        "the first 3 completed trials trained to step 30 or more, past asha's max_resource 9, so its rungs (1, 3) "
        "sit in the first 30% of training and nothing later is compared: if a full run is 30 steps, set "
        "max_resource=30"
    ]
