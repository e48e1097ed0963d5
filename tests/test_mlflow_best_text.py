"""The MLflow study run says what ``tunesmith best`` says of the best: the live callback's ``result.txt`` (given
``best_text=``, else the search's best and what it leaves unjudged), and the export's ``best.txt`` with the tag
``tunesmith.best_trial`` on the best every view shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.integrations.mlflow import MLflowCallback

SPACE = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("mlflow", reason="the mlflow extra is part of the test install (make test)")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # recent MLflow wants a database; a file store is faster here
    return f"file:{tmp_path}/mlruns"


def _artifact(uri: str, run_id: str, name: str, folder: Path) -> str:
    from mlflow.tracking import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    return Path(MlflowClient(tracking_uri=uri).download_artifacts(run_id, name, str(folder))).read_text()


def _tags(uri: str, run_id: str) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    return dict(MlflowClient(tracking_uri=uri).get_run(run_id).data.tags)


def nine_steps(trial: ts.Trial) -> dict[str, float]:
    loss = 1.0
    for step in trial.steps(9):
        loss = loss * 0.5 + trial.params["lr"] / (step + 1)
        trial.report(loss=loss)
        if trial.should_stop():
            break
    return {"loss": loss}


def _study(name: str, **options: Any) -> ts.Study:
    return ts.Study(SPACE, metric="loss", storage="memory", name=name, seed=0, sampler="random", **options)


def test_given_best_text_the_result_says_what_tunesmith_best_says_with_the_few_trained_caveat(
    mlflow_uri: str, tmp_path: Path
) -> None:
    from tunesmith.report import report_data
    from tunesmith.report._shown import shown_best
    from tunesmith.report.export import best_text

    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="few", best_text=best_text)
    study = _study("few", budget=ts.Budget(trials=8), scheduler=ts.ASHA(max_resource=9))
    study.optimize(nine_steps, callbacks=[tracking])
    shown = shown_best(report_data(study))
    assert shown is not None and shown.few_trained is not None and "trained fully" in shown.few_trained
    result = _artifact(mlflow_uri, tracking.parent_run_id(study), "result.txt", tmp_path / "out")
    assert result.startswith("stopped: ") and result.endswith(best_text(study))
    assert f"best trial: #{shown.record.number}" in result and shown.few_trained in result
    assert _tags(mlflow_uri, tracking.parent_run_id(study))["tunesmith.best_trial"] == str(study.best.number)


def test_without_best_text_the_result_names_the_search_best_and_what_it_leaves_unjudged(
    mlflow_uri: str, tmp_path: Path
) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="plain")
    study = _study("plain")
    study.optimize(nine_steps, n_trials=3, callbacks=[tracking])
    result = _artifact(mlflow_uri, tracking.parent_run_id(study), "result.txt", tmp_path / "out")
    assert f"best trial: #{study.best.number}, the search's best on its own seed" in result
    assert "not judged here: pass MLflowCallback(..., best_text=tunesmith.report.export.best_text)" in result


def test_a_best_text_that_is_not_a_function_is_refused_with_the_fix() -> None:
    with pytest.raises(ts.ConfigError, match=r"best_text must be a function .* got str .*MLflowCallback\(\.\.\., best"):
        MLflowCallback(best_text="best trial: #3")  # type: ignore[arg-type]
