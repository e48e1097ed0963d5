"""Report rules: steps only go forward, and a trial told to stop or pause reports nothing more.

An earlier step overwrote a value the scheduler had judged; a resumed objective counting from 1 again was paused
at the same rung for ever (until MemoryError); an objective ignoring should_stop went on recording past its stop,
so a trial stored "stop by asha at step 1" held reports up to step 9 and a resource budget of 20 spent 27."""

from __future__ import annotations

import contextlib
import re
import time
import warnings

import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.study import ObjectiveError
from tunesmith.trial import ReportRefused, TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
EXECUTORS = ["inline", "processes"]


def asha(mode: str = "stop") -> ts.ASHA:
    return ts.ASHA(min_resource=1, max_resource=9, eta=3, mode=mode)


def quiet_optimize(study: ts.Study, objective: object, **options: object) -> ts.StudyResult:
    """Optimize, with the warnings these small budgets draw (ShortTrainingWarning, ...) beside the point here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return study.optimize(objective, progress=False, **options)  # type: ignore[arg-type]


# A step at or below the last ------------------------------------------------------------------------------------


def test_an_earlier_step_is_refused_and_the_stored_value_is_kept() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0)
    trial = study.ask()
    for step, loss in ((1, 0.9), (2, 0.8), (3, 0.7)):
        trial.report(step, loss=loss)
    with pytest.raises(ReportRefused, match=r"trial 0 reported step 2 after step 3: report steps must increase"):
        trial.report(2, loss=5.0)
    with pytest.raises(ReportRefused, match=r"reported step 3 after step 3: .* the same step again with \['loss'\]"):
        trial.report(3, loss=0.1)
    trial.report(3, val_loss=0.4)  # another metric of the same step joins it (callbacks report one metric each)
    with pytest.raises(ReportRefused, match=r"the same step again with \['val_loss'\]"):
        trial.report(3, val_loss=0.3)
    assert trial.step == 3 and trial.decision is Decision.CONTINUE
    assert study.trials[0].curve("loss") == [(1, 0.9), (2, 0.8), (3, 0.7)]
    assert study.trials[0].curve("val_loss") == [(3, 0.4)]
    assert trial.report(4, loss=0.6) is Decision.CONTINUE, "a later step is still recorded"


def test_a_resumed_trial_may_not_report_the_step_it_resumes_from() -> None:
    trial = ts.Trial(0, {}, 0, start_step=3)
    with pytest.raises(ReportRefused, match=r"resumed from step 3 and reported step 3: .*continues from trial.step"):
        trial.report(3, loss=0.5)
    assert trial.refused is not None and trial.report(loss=0.4) is Decision.CONTINUE and trial.step == 4


def _restarting(trial: ts.Trial) -> dict[str, float] | None:
    """Counts from step 1 again after every resumption: it saves a checkpoint but never loads it, and forgets
    trial.step."""
    for epoch in range(9):
        trial.report(step=epoch + 1, loss=trial.params["x"] + 1 / (epoch + 1))
        trial.save_checkpoint({"epoch": epoch})
        if trial.should_stop():
            return None
    return {"loss": trial.params["x"]}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_resumed_objective_counting_from_one_again_fails_and_stops_the_run(executor: str, tmp_path: object) -> None:
    study = ts.Study(SPACE, metric="loss", scheduler=asha("promote"), budget=ts.Budget(trials=9), storage="memory",
                     seed=0, checkpoint_dir=f"{tmp_path}/ckpt")  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ObjectiveError, match=r"resumed from step 1 and reported step 1: .* report steps after it"):
        quiet_optimize(study, _restarting, executor=executor)
    assert time.monotonic() - started < 30, "it looped pausing and resuming the same trials"
    failed = [r for r in study.trials if r.state is TrialState.FAILED]
    assert len(failed) == 1 and failed[0].kind is TrialKind.EXCEPTION
    assert failed[0].error is not None and "ReportRefused" in failed[0].error and "_restarting" in failed[0].error
    assert sorted(failed[0].intermediate) == [1], "its curve is what it reported before the pause"


# A report after STOP or PAUSE ------------------------------------------------------------------------------------


def _ignores_stop(trial: ts.Trial) -> dict[str, float]:
    for epoch in range(9):
        trial.report(loss=trial.params["x"] + 1 / (epoch + 1))  # should_stop never read
    return {"loss": trial.params["x"]}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_report_after_a_budget_stop_fails_the_trial_and_the_resource_stays_within_the_budget(executor: str) -> None:
    # FIFO: under ASHA a new trial starts only where it could train to the end (9), so one worker is never cut.
    study = ts.Study(SPACE, metric="loss", scheduler=ts.FIFO(), budget=ts.Budget(resource=20), storage="memory", seed=0)
    with pytest.raises(
        ObjectiveError, match=r"was told to stop at step (\d) and reported step \d: .*trial.should_stop"
    ):
        quiet_optimize(study, _ignores_stop, executor=executor)
    assert study.usage().resource == 20, "nothing past the stop is counted"
    [failed] = [r for r in study.trials if r.state is TrialState.FAILED]
    assert failed.kind is TrialKind.EXCEPTION and failed.reason == "exception: ReportRefused"
    assert failed.resource == max(failed.intermediate), "the record ends at the stop"
    assert failed.metrics == failed.intermediate[max(failed.intermediate)], "what it reported last, not its result"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_report_after_a_scheduler_stop_keeps_the_record_at_the_stop(executor: str) -> None:
    study = ts.Study(SPACE, metric="loss", scheduler=asha(), budget=ts.Budget(trials=4), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"trial (\d) was told to stop at step 1 and reported step 2"):
        quiet_optimize(study, _ignores_stop, executor=executor)
    stopped = [r for r in study.trials if r.state is TrialState.FAILED]
    assert len(stopped) == 1 and sorted(stopped[0].intermediate) == [1] and stopped[0].resource == 1
    assert all(r.resource == 9 for r in study.trials if r.state is TrialState.COMPLETE)


def _ignores_pause(trial: ts.Trial) -> dict[str, float]:
    for epoch in range(trial.step, 9):
        trial.report(step=epoch + 1, loss=trial.params["x"] + 1 / (epoch + 1))
    return {"loss": trial.params["x"] + 1 / 9}


def test_a_report_after_a_pause_fails_the_trial_instead_of_storing_its_result_beyond_the_pause(
    tmp_path: object,
) -> None:
    study = ts.Study(SPACE, metric="loss", scheduler=asha("promote"), budget=ts.Budget(trials=9), storage="memory",
                     seed=0, checkpoint_dir=f"{tmp_path}/ckpt")  # fmt: skip
    with pytest.raises(ObjectiveError, match=r"trial 0 was told to pause at step 1 and reported step 2"):
        quiet_optimize(study, _ignores_pause)
    [record] = study.trials
    assert record.state is TrialState.FAILED and record.resource == 1
    assert record.metrics == record.intermediate[1], "the final value it returned past the pause is not stored"


def _logs_after_the_loss(trial: ts.Trial) -> dict[str, float]:
    """Reports the ranked loss, then the learning rate at the same step: the docs' split report."""
    trial.load_checkpoint()
    loss = 1.0
    for epoch in trial.steps(9):
        loss = trial.params["x"] + 1 / (epoch + 1)
        trial.save_checkpoint({})
        trial.report(loss=loss)
        trial.report(lr=0.01 * 0.9**epoch)
    return {"loss": loss}


@pytest.mark.parametrize(("executor", "mode"), [("inline", "stop"), ("processes", "stop"), ("inline", "promote")])
def test_a_metric_that_joins_the_step_a_trial_was_stopped_at_is_recorded_and_the_stop_stands(
    executor: str, mode: str, tmp_path: object
) -> None:
    """The split report the docs allow (loss, then lr at the same step) stopped the whole study the first time ASHA
    stopped a trial: the second call was refused as a report after the stop."""
    study = ts.Study(SPACE, metric="loss", scheduler=asha(mode), budget=ts.Budget(trials=12), storage="memory",
                     seed=0, sampler="random", checkpoint_dir=f"{tmp_path}/ckpt")  # fmt: skip
    quiet_optimize(study, _logs_after_the_loss, executor=executor)
    states = {r.state for r in study.trials}
    assert TrialState.FAILED not in states and TrialState.STOPPED in states, [r.error for r in study.trials]
    for record in study.trials:
        last = max(record.intermediate)
        assert record.resource == last and set(record.intermediate[last]) == {"loss", "lr"}, record


def test_a_metric_reported_again_at_the_step_a_trial_was_stopped_at_is_still_refused() -> None:
    study = ts.Study(SPACE, metric="loss", scheduler=ts.MedianStop(warmup_steps=0, min_trials=1), storage="memory",
                     seed=0)  # fmt: skip
    for _ in range(3):
        done = study.ask()
        done.report(step=1, loss=0.1)
        study.tell(done, 0.1)
    trial = study.ask()
    assert trial.report(step=1, loss=5.0) is Decision.STOP
    with pytest.raises(ReportRefused, match="told to stop at step 1 and reported step 1"):
        trial.report(step=1, loss=0.2)
    assert trial.report(step=1, acc=0.5) is Decision.STOP, "a new metric joins the step; the stop stands"
    with pytest.raises(ReportRefused, match="told to stop at step 1 and reported step 2"):
        trial.report(step=2, acc=0.6)


def _swallows_refusal(trial: ts.Trial) -> dict[str, float]:
    for epoch in range(9):
        with contextlib.suppress(ts.TunesmithError):
            trial.report(loss=trial.params["x"] + 1 / (epoch + 1))
    return {"loss": trial.params["x"]}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_an_objective_that_catches_the_refusal_still_fails(executor: str) -> None:
    study = ts.Study(SPACE, metric="loss", scheduler=asha(), budget=ts.Budget(trials=4), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"was told to stop at step 1"):
        quiet_optimize(study, _swallows_refusal, executor=executor)
    [failed] = [r for r in study.trials if r.state is not TrialState.COMPLETE]
    assert failed.state is TrialState.FAILED and failed.kind is TrialKind.EXCEPTION
    assert failed.error is not None and "caught this error" in failed.error


def test_fail_fast_none_records_the_failure_and_goes_on() -> None:
    study = ts.Study(SPACE, metric="loss", scheduler=asha(), budget=ts.Budget(trials=6), storage="memory", seed=0)
    result = quiet_optimize(study, _ignores_stop, fail_fast=None)
    assert len(study.trials) == 6 and result.failures
    for record in result.failures:
        assert record.reason == "exception: ReportRefused" and record.resource == max(record.intermediate)


# A trial another process finished ------------------------------------------------------------------------------


def test_inline_a_trial_another_process_finished_is_told_to_stop_as_in_a_trial_process() -> None:
    """Storage refuses its report (TrialNotRunning); the process executor answered STOP, the inline one raised
    the storage's error into the objective."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=1), storage="memory", seed=0)
    decisions: list[Decision] = []

    def reaped_midway(trial: ts.Trial) -> dict[str, float] | None:
        for epoch in range(5):
            if epoch == 2:  # another worker's reaper records the trial lost
                study.storage.finish_trial(study.info.id, trial.number, TrialState.FAILED, metrics={},
                                           reason="lost worker", error=None, now=time.time(),
                                           kind=TrialKind.LOST_WORKER)  # fmt: skip
            decisions.append(trial.report(loss=1.0 / (epoch + 1)))
            if trial.should_stop():
                return None
        return {"loss": 0.2}

    with pytest.warns(ts.study.ResultDiscardedWarning):
        study.optimize(reaped_midway, progress=False, n_trials=1)  # a lost trial spends no budget
    assert decisions == [Decision.CONTINUE, Decision.CONTINUE, Decision.STOP]
    assert study.trials[0].kind is TrialKind.LOST_WORKER and sorted(study.trials[0].intermediate) == [1, 2]


def test_the_refusal_names_the_rule_the_values_and_the_fix() -> None:
    trial = ts.Trial(7, {}, 0, reporter=lambda step, metrics: Decision.PAUSE)
    trial.report(4, loss=0.3)
    with pytest.raises(ReportRefused) as caught:
        trial.report(5, loss=0.2)
    message = str(caught.value)
    assert re.search(r"trial 7 was told to pause at step 4 and reported step 5", message)
    assert "check trial.should_stop() after each report" in message.lower()


# The default step inside a steps loop -----------------------------------------------------------------------------


def test_a_report_without_a_step_inside_a_steps_loop_is_at_the_steps_done() -> None:
    """Evaluating every third epoch spends three epochs a report: the budget counted one, so a resource budget of
    200 trained 600 epochs while reading 200 spent, and ASHA's rungs at 3 and 9 fell at epochs 9 and 27."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0)
    trial = study.ask()
    for epoch in trial.steps(9):
        if (epoch + 1) % 3 == 0:
            trial.report(loss=1.0 / (epoch + 1))
    assert [step for step, _ in study.trials[0].curve("loss")] == [3, 6, 9]
    assert trial.step == 9


def test_a_metric_reported_twice_in_one_iteration_without_a_step_is_refused_with_the_fix() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0)
    trial = study.ask()
    loop = trial.steps(4)
    next(loop)
    trial.report(loss=0.9)
    trial.report(accuracy=0.5)  # another metric of the same epoch joins it
    with pytest.raises(ReportRefused, match=r"reported \['loss'\] twice at step 1: inside for epoch in trial.steps"):
        trial.report(loss=0.8)
    assert study.trials[0].curve("loss") == [(1, 0.9)]


def test_a_report_without_a_step_outside_a_steps_loop_counts_reports() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0)
    trial = study.ask()
    for loss in (0.9, 0.8):
        trial.report(loss=loss)
    assert study.trials[0].curve("loss") == [(1, 0.9), (2, 0.8)]
