"""The report's timeline: each trial's running spans, one row per trial running at once, with how busy the rows were."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tests.browser import chromium
from tunesmith.report import ReportData, write_report
from tunesmith.report._plots_timeline import lanes, timeline
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _record(number: int, start: float, end: float, state: TrialState = TrialState.COMPLETE,
            **attrs: object) -> TrialRecord:  # fmt: skip
    return TrialRecord(number, {"x": 0.5}, number, state, metrics={"loss": 0.1 * number}, started_at=start,
                       finished_at=end, attrs=dict(attrs))  # fmt: skip


def _data(records: list[TrialRecord]) -> ReportData:
    return ReportData(name="t", space=SPACE, metric=ts.Metric("loss"), records=tuple(records))


def test_each_trial_takes_the_lowest_row_free_when_it_starts() -> None:
    laid = lanes([_record(0, 100.0, 102.0), _record(1, 101.0, 103.0), _record(2, 102.5, 104.0)], now=200.0)
    assert laid is not None
    assert [(span.record.number, span.row) for span in laid.spans] == [(0, 0), (1, 1), (2, 0)]
    assert laid.rows == 2
    # drawn on the study's running time, from its first start
    assert [(span.start, span.end) for span in laid.spans] == [(0.0, 2.0), (1.0, 3.0), (2.5, 4.0)]
    assert laid.running == pytest.approx(4.0)
    assert laid.busy == pytest.approx((2.0 + 2.0 + 1.5) / (2 * 4.0))


def test_a_row_freed_as_a_trial_ends_is_taken_by_one_starting_then() -> None:
    laid = lanes([_record(0, 0.0, 1.0), _record(1, 1.0, 2.0)], now=10.0)
    assert laid is not None and laid.rows == 1 and laid.busy == pytest.approx(1.0)


def test_a_wait_paused_at_a_rung_is_no_bar_and_time_between_runs_is_left_out() -> None:
    resumed = _record(0, 100.0, 200.0, paused=[[110.0, 190.0]])
    beside = _record(1, 150.0, 160.0)
    laid = lanes([resumed, beside], now=300.0)
    assert laid is not None
    assert [(span.record.number, span.start, span.end, span.row) for span in laid.spans] == [
        (0, 0.0, 10.0, 0),  # ran 100 to 110
        (1, 10.0, 20.0, 0),  # ran 150 to 160: the wait between counts no time, and the row was free
        (0, 20.0, 30.0, 0),  # resumed 190 to 200
    ]
    assert laid.rows == 1 and laid.running == pytest.approx(30.0)


def test_a_study_with_no_trial_started_has_no_timeline() -> None:
    assert lanes([TrialRecord(0, {"x": 0.5}, 0, TrialState.RUNNING)], now=1.0) is None


def test_the_figure_has_a_bar_per_stretch_coloured_by_state_and_says_when_it_shows_only_the_latest() -> None:
    records = [_record(0, 0.0, 2.0), _record(1, 0.5, 1.0, TrialState.FAILED), _record(2, 1.0, 3.0, TrialState.STOPPED)]
    data = _data(records)
    laid = lanes(records, now=5.0)
    assert laid is not None
    fig = timeline(data, laid)
    assert {trace.name: len(trace.x) for trace in fig.data} == {"complete": 1, "stopped": 1, "failed": 1}
    hover = "".join(text for trace in fig.data for text in trace.hovertext)
    assert "trial #1 (failed)" in hover and "ran 0.5 s" in hover
    thinned = timeline(data, laid, limit=2)
    assert sum(len(trace.x) for trace in thinned.data) == 2
    assert "latest 2 of 3" in thinned.layout.title.text


def test_a_report_of_trials_run_at_once_has_a_timeline_and_of_trials_one_by_one_none(tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        time.sleep(0.3)  # long beside a process start: the three run at once
        return {"loss": trial.params["x"]}

    alone = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=4), storage="memory", seed=0)
    alone.optimize(objective)
    text = write_report(alone, tmp_path / "alone.html").read_text()
    assert "Trials over running time" not in text

    parallel = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=6), storage="memory", seed=0)
    parallel.optimize(objective, workers=3, executor="processes")
    path = write_report(parallel, tmp_path / "parallel.html")
    text = path.read_text()
    assert "Trials over running time" in text
    assert "trials ran at once, and they filled" in text
    # and it draws in a browser, as every other figure does
    done = chromium("--virtual-time-budget=15000", "--dump-dom", path.as_uri(), profile=tmp_path / "profile",
                    timeout=120)  # fmt: skip
    status = re.search(r'<p id="ts-status"([^>]*)>', done.stdout)
    assert status is not None, done.stderr[-2000:]
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', status[1]))
    assert json.loads(attrs["data-errors"].replace("&quot;", '"')) == []
    assert attrs["data-rendered"] == attrs["data-expected"]


def test_the_dashboard_draws_a_running_trial_up_to_now_and_says_when_none_ran_at_once() -> None:
    from tunesmith.dashboard._data import _timeline

    running = TrialRecord(1, {"x": 0.5}, 1, TrialState.RUNNING, started_at=105.0, heartbeat_at=115.0)
    figure = _timeline(_data([_record(0, 100.0, 110.0), running]), now=130.0)
    bars = {trace["name"]: list(zip(trace["base"], trace["x"], strict=True)) for trace in figure["data"]}
    assert bars == {"complete": [(0.0, 10.0)], "running": [(5.0, 25.0)]}  # seconds from the first start
    alone = _timeline(_data([_record(0, 100.0, 110.0)]), now=130.0)
    assert not alone["data"]
    assert "no two trials have run at once yet" in alone["layout"]["annotations"][0]["text"]
