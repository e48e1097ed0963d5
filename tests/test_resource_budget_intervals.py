"""A resource budget under trials that report every few units (validation every 5 epochs, ``eval_steps=50``).

A trial can be stopped only when it reports, so the units up to its next report are trained before the study
hears of them: the budget stops a trial at the last report after which the next one still fits, starts no
trial whose first report would not fit, and when a report it could not foresee passes the budget, keeps that
report and says how far past the budget it went and why.
"""

from __future__ import annotations

import time

import tunesmith as ts
from tunesmith.trial import TrialKind, TrialState

EVERY = 5  # epochs between two validations
EPOCHS = 30


def validates_every_5_epochs(trial: ts.Trial) -> dict[str, float]:
    loss = 1.0
    for epoch in range(trial.step, EPOCHS):
        if (epoch + 1) % EVERY == 0:
            loss = (trial.params["x"] - 0.3) ** 2 + 1 / (epoch + 2)
            if trial.report(epoch + 1, loss=loss) is not ts.Decision.CONTINUE:
                break
    return {"loss": loss}


def validates_every_5_slow_epochs(trial: ts.Trial) -> dict[str, float]:
    """The same, each epoch taking a little time, so that two trial processes train at once."""
    loss = 1.0
    for epoch in range(trial.step, EPOCHS):
        time.sleep(0.005)
        if (epoch + 1) % EVERY == 0:
            loss = (trial.params["x"] - 0.3) ** 2 + 1 / (epoch + 2)
            if trial.report(epoch + 1, loss=loss) is not ts.Decision.CONTINUE:
                break
    return {"loss": loss}


def reports_at_1_2_3_then_10(trial: ts.Trial) -> dict[str, float]:
    for step in (1, 2, 3, 10, 11):
        if trial.report(step, loss=1 / step) is not ts.Decision.CONTINUE:
            break
    return {"loss": 0.1}


def _study(resource: float) -> ts.Study:
    return ts.Study(
        ts.Space({"x": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(resource=resource), storage="memory", seed=0
    )


def test_a_trial_reporting_every_5_epochs_stops_at_the_last_report_whose_next_one_fits_the_budget() -> None:
    study = _study(97)
    study.optimize(validates_every_5_epochs, progress=False)
    assert study.usage().resource == 95, [(r.number, r.resource) for r in study.trials]
    last = study.trials[-1]
    assert last.resource == 5 and last.state is TrialState.STOPPED and last.kind is TrialKind.BUDGET
    assert "reports every 5 steps, so its next report would pass it" in (last.reason or "")


def test_no_trial_starts_when_its_first_report_would_pass_the_budget() -> None:
    study = _study(92)
    result = study.optimize(validates_every_5_epochs, progress=False)
    assert len(study.trials) == 3 and study.usage().resource == 90, [(r.number, r.resource) for r in study.trials]
    assert result.stop_reason == (
        "resource budget spent (90 used, 0 steps in flight, of 92): a new trial first reports 5 steps in, as the "
        "trials so far did, so it would pass it"
    )


def test_a_first_report_past_the_budget_is_kept_and_the_stop_reason_says_how_far_past_and_why() -> None:
    study = _study(3)
    result = study.optimize(validates_every_5_epochs, progress=False)
    (trial,) = study.trials
    assert trial.resource == 5 and list(trial.intermediate) == [5], "the units trained are recorded, not dropped"
    assert result.stop_reason.startswith(
        "resource budget spent and overrun by 2 (5 used of 3): trial #0 reported step 5, 5 steps after its start "
        "(step 0); a trial can be stopped only when it reports"
    ), result.stop_reason
    assert "report more often" in result.stop_reason


def test_a_report_interval_that_grows_past_the_budget_is_named_in_the_stop_reason() -> None:
    study = _study(8)
    result = study.optimize(reports_at_1_2_3_then_10, progress=False)
    assert study.usage().resource == 10 and len(study.trials) == 1
    assert "overrun by 2 (10 used of 8): trial #0 reported step 10, 7 steps after its report at step 3" in (
        result.stop_reason
    ), result.stop_reason


def test_two_trial_processes_reporting_every_5_epochs_keep_the_budget() -> None:
    """Each running trial may be training up to its next report: the overrun grew with interval x workers."""
    study = _study(97)
    study.optimize(validates_every_5_slow_epochs, workers=2, executor="processes", progress=False)
    used = study.usage().resource
    assert 97 - 2 * EVERY < used <= 97, [(r.number, r.state.value, r.resource) for r in study.trials]


def test_the_first_report_interval_of_a_continuation_counts_from_the_step_it_started_at() -> None:
    from tunesmith.study._limits import first_report_interval

    def record(number: int, steps: list[int], start: int | None = None) -> ts.TrialRecord:
        attrs = {} if start is None else {"start_step": start}
        intermediate = {step: {"loss": 1.0} for step in steps}
        return ts.TrialRecord(number, {"x": 0.5}, 0, TrialState.RUNNING, intermediate=intermediate, attrs=attrs)

    assert first_report_interval([]) == 1.0
    assert first_report_interval([record(0, [5, 10])]) == 5.0
    # A PBT continuation holds its parent's reports up to the step it started at: its own first report is 4 on.
    assert first_report_interval([record(0, [2, 4]), record(1, [5, 10, 14, 18], start=10)]) == 4.0
    assert first_report_interval([record(0, [2, 4]), record(1, [10], start=10)]) == 2.0, "nothing of its own yet"
