"""With several objectives no view names a single best: what `optimize` returns, its progress line and the MLflow
callback show the Pareto front (and the recorded choice), as `Study.best` and `tunesmith status` do."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.integrations.mlflow import MLflowCallback

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
OBJECTIVES = [ts.Metric("error"), ts.Metric("latency_ms")]


def trade_off(trial: ts.Trial) -> dict[str, float]:
    """Every trial is on the front: lower error costs latency one for one, so no trial is best."""
    x = trial.params["x"]
    return {"error": x, "latency_ms": 1.0 - x}


def _study(name: str, trials: int = 8, **options: Any) -> ts.Study:
    return ts.Study(SPACE, metrics=OBJECTIVES, sampler="random", budget=ts.Budget(trials=trials), storage="memory",
                    name=name, seed=0, **options)  # fmt: skip


def _numbers(records: Any) -> list[int]:
    return [record.number for record in records]


# What optimize returns --------------------------------------------------------------------------


def test_the_result_of_several_objectives_names_no_best_but_carries_the_pareto_front() -> None:
    study = _study("front")
    result = study.optimize(trade_off, progress=False)
    assert result.front is not None and _numbers(result.front) == _numbers(study.pareto_front)
    assert len(result.front) == 8 and result.chosen is None


def test_the_result_carries_the_trial_study_choose_recorded() -> None:
    study = _study("chosen", trials=12)
    study.optimize(trade_off, n_trials=6, progress=False)
    study.choose(ts.choose.best("error"))
    result = study.optimize(trade_off, progress=False)
    assert study.chosen is not None and result.chosen is not None
    assert result.chosen.number == study.chosen.number


def test_reading_the_best_of_a_result_of_several_objectives_is_refused_as_the_study_refuses_it() -> None:
    study = _study("refused")
    result = study.optimize(trade_off, progress=False)
    with pytest.raises(ConfigError) as from_result:
        _ = result.best  # the lowest first objective is one end of the front, not a best
    with pytest.raises(ConfigError) as from_study:
        _ = study.best
    assert str(from_result.value) == str(from_study.value) and "study.pareto_front" in str(from_result.value)


def test_a_single_objective_result_still_names_its_best_and_no_front() -> None:
    study = ts.Study(SPACE, metric="error", sampler="random", budget=ts.Budget(trials=5), storage="memory", seed=0)
    result = study.optimize(lambda trial: trial.params["x"], progress=False)
    assert result.best is not None and study.best is not None and result.best.number == study.best.number
    assert result.front is None and result.chosen is None


# The progress line ------------------------------------------------------------------------------


def test_the_progress_line_of_several_objectives_shows_the_front_and_its_hypervolume_not_a_best(
    capsys: pytest.CaptureFixture[str],
) -> None:
    study = _study("shown", reference_point={"error": 1.0, "latency_ms": 1.0})
    study.optimize(trade_off, progress=True)
    last = capsys.readouterr().err.splitlines()[-1]
    hypervolume = study.hypervolume()
    assert hypervolume is not None
    assert re.search(rf"· Pareto front 8 trials · hypervolume {hypervolume:.4g}$", last), last
    assert "best" not in last, last


def test_the_progress_line_shows_the_front_without_a_hypervolume_before_the_study_has_a_reference_point(
    capsys: pytest.CaptureFixture[str],
) -> None:
    study = _study("early", trials=4)  # a derived reference point needs 10 complete trials
    study.optimize(trade_off, progress=True)
    last = capsys.readouterr().err.splitlines()[-1]
    assert study.reference_point is None
    assert last.endswith("· Pareto front 4 trials") and "best" not in last, last


# MLflow ------------------------------------------------------------------------------------------


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("mlflow", reason="the mlflow extra is part of the test install (make test)")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # recent MLflow wants a database; a file store is faster here
    return f"file:{tmp_path}/mlruns"


def _study_run(uri: str, tracking: MLflowCallback, study: ts.Study) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri).get_run(tracking.parent_run_id(study))


def test_mlflow_tags_the_study_run_with_the_pareto_front_and_logs_no_best(mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="front")
    study = _study("tracked", trials=6)
    study.optimize(trade_off, callbacks=[tracking], progress=False)
    run = _study_run(mlflow_uri, tracking, study)
    assert run.data.tags["tunesmith.pareto_front"] == ",".join(str(n) for n in _numbers(study.pareto_front))
    assert "tunesmith.best_trial" not in run.data.tags and "tunesmith.chosen_trial" not in run.data.tags
    assert not [name for name in run.data.metrics if name.startswith("best_")], run.data.metrics


def test_mlflow_tags_the_study_run_with_the_trial_study_choose_recorded(mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="choice")
    study = _study("tracked-choice", trials=10)
    study.optimize(trade_off, n_trials=5, progress=False)
    chosen = study.choose(ts.choose.best("latency_ms"))
    study.optimize(trade_off, callbacks=[tracking], progress=False)
    run = _study_run(mlflow_uri, tracking, study)
    assert run.data.tags["tunesmith.chosen_trial"] == str(chosen.number)
