"""`Study.trials_dataframe`: the trials as a pandas DataFrame, with the columns `tunesmith export` writes."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import MissingExtra
from tunesmith.report import trial_rows

pytest.importorskip("pandas")

SPACE = ts.Space({
    "optimizer": ts.Choice(["adam", "sgd"]),
    "momentum": ts.Float(0.8, 0.99, when={"optimizer": "sgd"}),
    "layers": ts.Int(1, 4),
})  # fmt: skip


def objective(trial: ts.Trial) -> dict[str, float]:
    if trial.number == 3:
        raise ValueError("no luck")
    return {"loss": trial.params["layers"] / 10, "latency_ms": 5.0 * trial.params["layers"]}


def _study(name: str, **options: Any) -> ts.Study:
    study = ts.Study(SPACE, budget=ts.Budget(trials=8), storage="memory", name=name, seed=1, **options)
    study.optimize(objective)
    return study


def _same(a: object, b: object) -> bool:
    """Equal, or both missing (pandas reads a missing number as NaN)."""
    missing = [x is None or (isinstance(x, float) and math.isnan(x)) for x in (a, b)]
    return all(missing) or (not any(missing) and a == b)


def test_the_dataframe_has_one_row_per_trial_and_the_csv_exports_columns_and_values() -> None:
    study = _study("export", metric="loss")
    frame = study.trials_dataframe()
    columns, rows = trial_rows(study)
    assert list(frame.columns) == columns
    assert list(frame["number"]) == list(range(8))
    for row, (_, got) in zip(rows, frame.iterrows(), strict=True):
        for column in columns:
            if column not in ("started_at", "finished_at"):  # datetimes here, UNIX seconds in the CSV
                assert _same(got[column], row[column]), (column, got[column], row[column])


def test_a_parameter_a_trial_did_not_have_is_missing_in_its_row() -> None:
    frame = _study("conditional", metric="loss").trials_dataframe()
    adam = frame[frame["params.optimizer"] == "adam"]
    sgd = frame[frame["params.optimizer"] == "sgd"]
    assert len(adam) and len(sgd)  # the seed draws both
    assert adam["params.momentum"].isna().all()
    assert sgd["params.momentum"].between(0.8, 0.99).all()


def test_start_and_finish_times_are_utc_datetimes_of_the_recorded_times() -> None:
    study = _study("times", metric="loss")
    frame = study.trials_dataframe()
    assert str(frame["started_at"].dtype).startswith("datetime64") and str(frame["finished_at"].dt.tz) == "UTC"
    for record, started, finished in zip(study.trials, frame["started_at"], frame["finished_at"], strict=True):
        assert started.timestamp() == pytest.approx(record.started_at, abs=1e-6)
        assert finished.timestamp() == pytest.approx(record.finished_at, abs=1e-6)


def test_every_objective_of_a_multi_objective_study_has_its_column() -> None:
    study = _study("several", metrics=[ts.Metric("loss"), ts.Metric("latency_ms")])
    frame = study.trials_dataframe()
    complete = frame[frame["state"] == ts.TrialState.COMPLETE.value]
    assert list(complete["metrics.latency_ms"]) == [5.0 * layers for layers in complete["params.layers"]]
    assert list(complete["metrics.loss"]) == pytest.approx([layers / 10 for layers in complete["params.layers"]])
    failed = frame[frame["state"] == ts.TrialState.FAILED.value]
    assert list(failed["kind"]) == [ts.TrialKind.EXCEPTION.value] and failed["metrics.loss"].isna().all()


def test_a_study_without_trials_gives_the_columns_and_no_row() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", name="empty", seed=1)
    frame = study.trials_dataframe()
    assert frame.empty and list(frame.columns) == trial_rows(study)[0]


def test_without_pandas_it_raises_naming_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", name="no-pandas", seed=1)
    monkeypatch.setitem(sys.modules, "pandas", None)  # how Python marks a module that cannot be imported
    with pytest.raises(MissingExtra, match=r"trials_dataframe\(\) needs pandas.*pip install pandas"):
        study.trials_dataframe()


def _reports_then_fails(trial: ts.Trial) -> float:
    trial.report(loss=0.01)  # a partial report, better than any result, which storage keeps as the trial's metrics
    if trial.number == 1:
        raise ValueError("diverged after its first report")
    return 0.5


def test_a_failed_trial_s_partial_report_is_no_value_but_stays_among_its_metrics() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory", name="partial", seed=1)
    study.optimize(_reports_then_fails, fail_fast=None)
    assert study.trials[1].state is ts.TrialState.FAILED and study.trials[1].metrics  # what the frame must not rank
    frame = study.trials_dataframe()
    assert list(frame["value"].isna()) == [False, True]
    assert frame.loc[1, "metrics.loss"] == pytest.approx(0.01)
