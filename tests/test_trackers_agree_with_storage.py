"""The trackers (MLflow, W&B) show each trial as storage records it: a paused trial retired unpromoted, a trial
reaped after its process died, a diverged trial; and a metric name MLflow refuses never stops a trial."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tests.test_tracking import _children, _client, _offline_runs
from tunesmith.integrations.mlflow import MetricRenamedWarning, MLflowCallback, logged_name
from tunesmith.integrations.wandb import WandbCallback

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("mlflow", reason="the mlflow extra is part of the test install (make test)")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a file store is faster here; child processes inherit it
    return f"file:{tmp_path}/mlruns"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb", reason="the wandb extra is part of the test install (make test)")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


def _runs_by_trial(uri: str, tracking: MLflowCallback, study: ts.Study) -> dict[int, Any]:
    return _children(_client(uri), tracking.parent_run_id(study))


# A paused trial retired unpromoted -------------------------------------------------------------------


def _falling(trial: ts.Trial) -> dict[str, float]:
    loss = float((trial.load_checkpoint() or {"loss": 1.0 + trial.params["x"]})["loss"])  # promoted: where it paused
    for _ in trial.steps(9):
        loss *= 0.8
        trial.report(val_loss=loss)
        trial.save_checkpoint({"loss": loss})
    return {"val_loss": loss}


def _promote_study(tmp_path: Path, name: str) -> ts.Study:
    """ASHA in promote mode with a trial budget that runs out while trials wait at their rung."""
    scheduler = ts.ASHA(min_resource=1, max_resource=9, eta=3, mode="promote")
    return ts.Study(SPACE, metric="val_loss", scheduler=scheduler, budget=ts.Budget(trials=9), storage="memory",
                    seed=0, name=name, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _retired(study: ts.Study) -> list[ts.TrialRecord]:
    # Kind SCHEDULER when its rung outranked it, BUDGET when its promotion was still to come.
    stopped = [r for r in study.trials if r.state is ts.TrialState.STOPPED]
    retired = [r for r in stopped if (r.reason or "").startswith("not promoted")]
    assert retired, "no trial waited at its rung and was retired: the study no longer plants the case"
    return retired


def test_a_paused_trial_retired_unpromoted_ends_stopped_in_mlflow(tmp_path: Path, mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="retired")
    study = _promote_study(tmp_path, "retired")
    study.optimize(_falling, callbacks=[tracking])
    runs = _runs_by_trial(mlflow_uri, tracking, study)
    for record in _retired(study):
        run = runs[record.number]
        assert (run.info.status, run.data.tags["tunesmith.state"]) == ("FINISHED", "stopped")
        assert run.data.tags["tunesmith.reason"] == record.reason


@pytest.mark.usefixtures("offline")
def test_a_paused_trial_retired_unpromoted_ends_stopped_in_wandb(tmp_path: Path) -> None:
    study = _promote_study(tmp_path, "wb-retired")
    study.optimize(_falling, callbacks=[WandbCallback(project="tunesmith-tests", dir=tmp_path)])
    runs = _offline_runs(tmp_path)
    for record in _retired(study):
        summary = runs[f"wb-retired-trial-{record.number}"]["summary"]
        assert (summary["state"], summary["reason"]) == ("stopped", record.reason)


# A trial whose process was killed ------------------------------------------------------------------

# A worker of study "killed" whose machine dies during its trial's first step.
_KILLED_WORKER = """
import os, signal, sys
import tunesmith as ts
from tunesmith.integrations.mlflow import MLflowCallback

def objective(trial):
    trial.report(loss=0.5)
    os.kill(os.getpid(), signal.SIGKILL)

storage, tracking_uri = sys.argv[1:]
study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=storage, name="killed", seed=0)
study.optimize(objective, n_trials=1, callbacks=[MLflowCallback(tracking_uri=tracking_uri, experiment="killed")])
"""


def _kill_a_worker_mid_trial(tmp_path: Path, storage: str, uri: str) -> None:
    script = tmp_path / "killed_worker.py"
    script.write_text(textwrap.dedent(_KILLED_WORKER))
    done = subprocess.run([sys.executable, str(script), storage, uri], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr  # SIGKILL: nothing of the worker ended its trial or its run


def _killed_study(tmp_path: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", storage=f"sqlite:///{tmp_path / 'killed.db'}", name="killed", seed=0,
                    heartbeat_interval=0.1, grace=60.0, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def test_a_trial_killed_with_its_process_ends_killed_in_mlflow_when_the_study_resumes(
    tmp_path: Path, mlflow_uri: str
) -> None:
    study = _killed_study(tmp_path)
    _kill_a_worker_mid_trial(tmp_path, study.storage.url, mlflow_uri)
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="killed")
    study.optimize(lambda trial: 0.25, n_trials=1, callbacks=[tracking])  # the resume reaps trial 0 first
    killed = study.trials[0]
    assert (killed.state, killed.kind) == (ts.TrialState.FAILED, ts.TrialKind.INTERRUPTED)
    run = _runs_by_trial(mlflow_uri, tracking, study)[0]
    assert (run.info.status, run.data.tags.get("tunesmith.kind")) == ("KILLED", "interrupted")


def test_a_trial_reaped_while_the_study_runs_ends_killed_in_mlflow(tmp_path: Path, mlflow_uri: str) -> None:
    study = _killed_study(tmp_path)

    def objective(trial: ts.Trial) -> float:
        if trial.number == 0:  # meanwhile another worker starts trial 1 and dies with it
            _kill_a_worker_mid_trial(tmp_path, study.storage.url, mlflow_uri)
        return 0.25

    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="killed")
    study.optimize(objective, n_trials=2, callbacks=[tracking])
    reaped = study.trials[1]
    assert (reaped.state, reaped.kind) == (ts.TrialState.FAILED, ts.TrialKind.INTERRUPTED)
    run = _runs_by_trial(mlflow_uri, tracking, study)[1]
    assert (run.info.status, run.data.tags.get("tunesmith.kind")) == ("KILLED", "interrupted")


# A diverged trial --------------------------------------------------------------------------------


def _diverging(value: float) -> ts.Objective:
    """Trial 0 halves its loss twice, then reports ``value`` (it diverged); trial 1 holds 0.4."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        loss = 1.0
        for step in trial.steps(4):
            loss = (loss * 0.5 if step < 2 else value) if trial.number == 0 else 0.4
            trial.report(val_loss=loss)
        return {"val_loss": loss}

    return objective


def _diverged_study(name: str) -> ts.Study:
    return ts.Study(SPACE, metric="val_loss", budget=ts.Budget(trials=2), storage="memory", seed=0, name=name)


@pytest.mark.parametrize("value", [math.nan, -math.inf], ids=["nan", "minus-inf"])
def test_mlflow_sorts_a_diverged_trial_after_every_finite_one(mlflow_uri: str, value: float) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="diverged")
    study = _diverged_study("diverged")
    study.optimize(_diverging(value), callbacks=[tracking], fail_fast=None)
    assert study.trials[0].kind is ts.TrialKind.DIVERGED
    client = _client(mlflow_uri)
    parent = client.get_run(tracking.parent_run_id(study))
    for order in ("ASC", "DESC"):
        runs = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
                                  order_by=[f"metrics.val_loss {order}"])  # fmt: skip
        assert [r.data.tags["tunesmith.trial"] for r in runs] == ["1", "0"]
        assert math.isnan(runs[1].data.metrics["val_loss"])  # not its last finite value, 0.25


@pytest.mark.usefixtures("offline")
def test_wandb_keeps_no_finite_value_as_a_diverged_trial_s_latest(tmp_path: Path) -> None:
    study = _diverged_study("wb-diverged")
    study.optimize(_diverging(math.nan), callbacks=[WandbCallback(project="tunesmith-tests", dir=tmp_path)],
                   fail_fast=None)  # fmt: skip
    runs = _offline_runs(tmp_path)
    diverged = runs["wb-diverged-trial-0"]["summary"]
    assert diverged["kind"] == "diverged"
    assert not (isinstance(diverged.get("val_loss"), float) and math.isfinite(diverged["val_loss"]))
    assert runs["wb-diverged-trial-1"]["summary"]["val_loss"] == 0.4


# Metric names MLflow refuses ---------------------------------------------------------------------


def test_xgboost_metric_names_mlflow_refuses_are_logged_under_accepted_names_and_every_trial_completes(
    mlflow_uri: str,
) -> None:
    xgb = pytest.importorskip("xgboost", reason="the xgboost extra is part of the test install (make test)")
    from sklearn.datasets import load_breast_cancer

    from tunesmith.integrations.xgboost import TunesmithCallback

    x, y = load_breast_cancer(return_X_y=True)
    data = xgb.DMatrix(x, label=y)

    def objective(trial: ts.Trial) -> dict[str, float]:
        params = {"objective": "binary:logistic", "eval_metric": ["error@0.7", "logloss"], "nthread": 1,
                  "eta": 0.05 + 0.3 * trial.params["x"]}  # fmt: skip
        booster = xgb.train(params, data, 3, evals=[(data, "validation")], verbose_eval=False,
                            callbacks=[TunesmithCallback(trial, monitor="validation-logloss")])  # fmt: skip
        return {"validation-logloss": float(booster.eval(data, "validation").split(":")[-1])}

    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="xgb")
    study = ts.Study(SPACE, metric="validation-logloss", storage="memory", name="xgb", seed=0)
    with pytest.warns(MetricRenamedWarning) as said:
        study.optimize(objective, n_trials=2, callbacks=[tracking])
    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE] * 2
    assert tracking.renamed == {"validation-error@0.7": "validation-error_at_0.7-459cb4c7"}  # the documented example
    assert len([w for w in said if w.category is MetricRenamedWarning]) == 1  # once per name, not per trial
    client = _client(mlflow_uri)
    for record in study.trials:
        history = client.get_metric_history(
            tracking.run_ids[("xgb", record.number)], "validation-error_at_0.7-459cb4c7"
        )
        assert [(m.step, m.value) for m in history] == [
            (step, pytest.approx(values["validation-error@0.7"])) for step, values in record.intermediate.items()
        ]


def test_two_metric_names_alike_once_mlflow_s_refused_characters_are_replaced_keep_apart(mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="alike")
    study = ts.Study(SPACE, metric="loss", storage="memory", name="alike", seed=0)
    with pytest.warns(MetricRenamedWarning, match=r"'a@b'.*logged as 'a_at_b-"):
        study.optimize(lambda trial: {"loss": 0.5, "a@b": 1.0, "a_at_b": 2.0}, n_trials=1, callbacks=[tracking])
    metrics = _client(mlflow_uri).get_run(tracking.run_ids[("alike", 0)]).data.metrics
    assert metrics[logged_name("a@b")] == 1.0 and metrics["a_at_b"] == 2.0


def test_a_study_metric_mlflow_refuses_is_tracked_with_its_best_curve(mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="ranked")
    study = ts.Study(SPACE, metric=ts.Metric("ndcg@10", "max"), storage="memory", name="ranked", seed=0)
    with pytest.warns(MetricRenamedWarning):
        study.optimize(lambda trial: {"ndcg@10": trial.params["x"]}, n_trials=3, callbacks=[tracking])
    client = _client(mlflow_uri)
    best = client.get_metric_history(tracking.parent_run_id(study), logged_name("best_ndcg@10"))
    assert best[-1].value == study.best.metrics["ndcg@10"]
    for record in study.trials:
        metrics = client.get_run(tracking.run_ids[("ranked", record.number)]).data.metrics
        assert metrics[logged_name("ndcg@10")] == record.metrics["ndcg@10"]
