"""`Study.report` follows the report rules of `Trial.report`: hand-written ask/tell drivers and the scikit-learn
search report through it, and it recorded anything: a step going back rewrote a value a rung had judged, and a
report after STOP was stored past the step where the study stopped the trial."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.errors import TunesmithError
from tunesmith.storage.base import Proposal
from tunesmith.trial import ReportRefused

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
STORAGES = ["memory", "sqlite"]


def storage_url(kind: str, tmp_path: Path) -> str:
    return "memory" if kind == "memory" else f"sqlite:///{tmp_path}/reports.db"


def make_study(kind: str, tmp_path: Path, scheduler: ts.ASHA | None = None) -> ts.Study:
    url = storage_url(kind, tmp_path)
    return ts.Study(SPACE, metric="loss", scheduler=scheduler, storage=url, name="rules", seed=0)


@pytest.mark.parametrize("kind", STORAGES)
def test_an_earlier_step_is_refused_with_the_trial_message_and_the_judged_value_is_kept(
    kind: str, tmp_path: Path
) -> None:
    study = make_study(kind, tmp_path)
    number = study.ask().number
    for step, loss in ((1, 0.9), (2, 0.8), (3, 0.7)):
        study.report(number, step, {"loss": loss})
    with pytest.raises(ReportRefused, match=r"trial 0 reported step 2 after step 3: report steps must increase"):
        study.report(number, 2, {"loss": 5.0})
    record = study.trials[0]
    assert record.curve("loss") == [(1, 0.9), (2, 0.8), (3, 0.7)] and record.resource == 3.0


@pytest.mark.parametrize("kind", STORAGES)
def test_the_same_step_again_is_refused_for_a_stored_metric_and_joins_it_for_a_new_one(
    kind: str, tmp_path: Path
) -> None:
    study = make_study(kind, tmp_path)
    number = study.ask().number
    study.report(number, 1, {"loss": 0.9})
    with pytest.raises(ReportRefused, match=r"reported step 1 after step 1: .* the same step again with \['loss'\]"):
        study.report(number, 1, {"loss": 0.1, "val_loss": 0.3})
    assert study.report(number, 1, {"val_loss": 0.4}) is Decision.CONTINUE
    assert study.trials[0].intermediate == {1: {"loss": 0.9, "val_loss": 0.4}}


def test_a_second_study_object_on_the_same_storage_refuses_a_step_going_back(tmp_path: Path) -> None:
    first = make_study("sqlite", tmp_path)
    number = first.ask().number
    first.report(number, 4, {"loss": 0.5})
    second = ts.Study.load("rules", storage_url("sqlite", tmp_path))
    with pytest.raises(ReportRefused, match=r"trial 0 reported step 3 after step 4"):
        second.report(number, 3, {"loss": 0.1})
    assert first.trials[0].curve("loss") == [(4, 0.5)]


@pytest.mark.parametrize("kind", STORAGES)
def test_a_continuation_may_not_report_at_or_below_the_step_it_starts_from(kind: str, tmp_path: Path) -> None:
    study = make_study(kind, tmp_path)
    # A PBT continuation as storage holds it before its first report: resource 0, attrs["start_step"] 3.
    continuation = study.storage.create_trial(
        study.info.id, lambda number, history: Proposal({"x": 0.5}, 7, {"start_step": 3}),
        max_trials=None, worker="h:1", now=1.0,
    )  # fmt: skip
    assert continuation is not None
    with pytest.raises(ReportRefused, match=r"trial 0 resumed from step 3 and reported step 3: report steps must"):
        study.report(continuation.number, 3, {"loss": 0.4})
    assert study.trials[0].intermediate == {}
    assert study.report(continuation.number, 4, {"loss": 0.4}) is Decision.CONTINUE


def _diverging(study: ts.Study, number: int) -> None:
    assert study.report(number, 1, {"loss": math.nan}) is Decision.STOP


def _paused_at_the_first_rung(study: ts.Study, number: int) -> None:
    assert study.report(number, 1, {"loss": 0.5}) is Decision.PAUSE


@pytest.mark.parametrize(
    ("told", "scheduler", "answer"),
    [("stop", None, _diverging), ("pause", ts.ASHA(min_resource=1, max_resource=9, eta=3, mode="promote"),
                                   _paused_at_the_first_rung)],
)  # fmt: skip
def test_a_report_after_the_study_answered_stop_or_pause_is_refused_and_not_recorded(
    told: str, scheduler: ts.ASHA | None, answer: object, tmp_path: Path
) -> None:
    study = make_study("sqlite", tmp_path, scheduler=scheduler)
    number = study.ask().number
    answer(study, number)  # type: ignore[operator]
    with pytest.raises(ReportRefused, match=rf"trial 0 was told to {told} at step 1 and reported step 2: a trial"):
        study.report(number, 2, {"loss": 0.4})
    record = study.trials[0]
    assert sorted(record.intermediate) == [1] and record.resource == 1.0


def test_a_study_report_driven_loop_counting_from_one_again_gets_a_clear_refusal(tmp_path: Path) -> None:
    study = make_study("sqlite", tmp_path)
    first = study.ask()
    for epoch in range(3):
        study.report(first.number, epoch + 1, {"loss": 1.0 / (epoch + 1)})
    with pytest.raises(ReportRefused) as refused:
        study.report(first.number, 1, {"loss": 0.9})  # a driver restarting its epoch count for the same trial
    message = str(refused.value)
    assert "reported step 1 after step 3" in message and "report steps must increase" in message
    assert "counting on from trial.step (now 3)" in message, "it says how to fix it"
    study.tell(first, {"loss": 1.0 / 3})
    assert study.trials[0].state is ts.TrialState.COMPLETE and study.trials[0].curve("loss")[-1] == (3, 1.0 / 3)


@pytest.mark.parametrize("step", [1.5, True, "2"])
def test_a_step_that_is_not_a_whole_number_of_resource_units_is_refused(step: object, tmp_path: Path) -> None:
    study = make_study("memory", tmp_path)
    number = study.ask().number
    with pytest.raises(TunesmithError, match=r"report step must be a whole number of resource units"):
        study.report(number, step, {"loss": 0.5})  # type: ignore[arg-type]
    assert study.trials[0].intermediate == {}
