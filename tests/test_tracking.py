"""Live tracking: observers told as trials start, report and end; MLflow and W&B logging during the run."""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.discipline import finalize
from tunesmith.integrations.mlflow import MLflowCallback
from tunesmith.integrations.wandb import WandbCallback
from tunesmith.report import write_report

SPACE = ts.Space({"lr": ts.Float(1e-3, 1.0, log=True), "layers": ts.Int(1, 3)})
STEPS = 4


def _loss(lr: float, layers: int, step: int) -> float:
    return (math.log10(lr) + 1.5) ** 2 + 0.1 * layers + 1.0 / (step + 1)


def curve(trial: ts.Trial) -> dict[str, float]:
    """Reports a falling loss at every step; returns the last one."""
    loss = math.nan
    for step in trial.steps(STEPS):
        loss = _loss(trial.params["lr"], trial.params["layers"], step)
        trial.report(loss=loss, acc=1.0 / (1.0 + loss))
    return {"loss": loss}


def _study(tmp_path: Path, name: str, **options: Any) -> ts.Study:
    return ts.Study(SPACE, metric="loss", storage="memory", name=name, seed=3, sampler="random",
                    checkpoint_dir=tmp_path / "ckpt", **options)  # fmt: skip


# The core hook ---------------------------------------------------------------------------------


class Journal(ts.Observer):
    """Writes down every hook call, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_optimize_start(self, study: ts.Study) -> None:
        self.events.append(("optimize_start",))

    def on_trial_start(self, study: ts.Study, trial: ts.Trial) -> None:
        self.events.append(("start", trial.number, dict(trial.params)))

    def on_report(self, study: ts.Study, number: int, step: int, metrics: Mapping[str, float], decision: Any) -> None:
        stored = next(r for r in study.trials if r.number == number).intermediate
        self.events.append(("report", number, step, decision, step in stored))

    def on_trial_end(self, study: ts.Study, record: ts.TrialRecord) -> None:
        self.events.append(("end", record.number, record.state))

    def on_optimize_end(self, study: ts.Study, result: ts.StudyResult | None) -> None:
        self.events.append(("optimize_end", None if result is None else result.trials_run))


@pytest.mark.parametrize("executor", ["inline", "processes"])
def test_observers_hear_every_trial_start_each_report_as_it_is_recorded_and_every_end(
    tmp_path: Path, executor: str
) -> None:
    journal, finished = Journal(), []
    study = _study(tmp_path, f"hooks-{executor}")
    result = study.optimize(curve, n_trials=3, executor=executor,
                            callbacks=[journal, lambda s, r: finished.append(r.number)])  # fmt: skip
    events = journal.events
    assert events[0] == ("optimize_start",) and events[-1] == ("optimize_end", 3)
    for record in study.trials:
        mine = [e for e in events if len(e) > 1 and e[1] == record.number]
        assert mine[0] == ("start", record.number, record.params)
        assert [e[2] for e in mine[1:-1]] == sorted(record.intermediate)  # each step, in order, start to end
        assert len(record.intermediate) == STEPS
        assert all(e[0] == "report" and e[3] is ts.Decision.CONTINUE and e[4] for e in mine[1:-1])
        assert mine[-1] == ("end", record.number, ts.TrialState.COMPLETE)
    assert finished == [0, 1, 2] and result.trials_run == 3  # a plain callable is still a per-trial callback


def test_a_callback_that_is_neither_callable_nor_an_observer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ts.ConfigError, match=r"callbacks\[1\] must be callable .* got 'mlflow': subclass tunesmith.Observer"
    ):
        _study(tmp_path, "refused").optimize(curve, n_trials=1, callbacks=[Journal(), "mlflow"])


def test_observers_hear_the_end_of_an_interrupted_run(tmp_path: Path) -> None:
    journal = Journal()

    def broken(trial: ts.Trial) -> float:
        trial.report(loss=1.0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _study(tmp_path, "interrupted").optimize(broken, n_trials=2, callbacks=[journal])
    assert journal.events[-1] == ("optimize_end", None)


def test_a_tracker_whose_library_is_missing_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("mlflow", "mlflow.tracking", "wandb"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    study = _study(tmp_path, "no-extra")
    with pytest.raises(ts.MissingExtra, match=r"pip install 'tunesmith\[mlflow\]'"):
        study.optimize(curve, n_trials=1, callbacks=[MLflowCallback()])
    with pytest.raises(ts.MissingExtra, match=r"pip install 'tunesmith\[wandb\]'"):
        study.optimize(curve, n_trials=1, callbacks=[WandbCallback(mode="offline", dir=tmp_path)])
    (never_ran,) = study.trials  # the trial whose start the tracker failed is not left RUNNING
    assert never_ran.state is ts.TrialState.FAILED and never_ran.kind is ts.TrialKind.INTERRUPTED


# MLflow -----------------------------------------------------------------------------------------


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("mlflow", reason="the mlflow extra is part of the test install (make test)")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # recent MLflow wants a database; a file store is faster here
    return f"file:{tmp_path}/mlruns"


def _client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _children(client: Any, parent: str) -> dict[int, Any]:
    run = client.get_run(parent)
    runs = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent}'", max_results=100)
    return {int(r.data.tags["tunesmith.trial"]): r for r in runs}


def test_mlflow_logs_each_step_when_it_is_reported_not_after_the_trial(tmp_path: Path, mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="live")
    client = _client(mlflow_uri)
    seen: dict[int, list[list[int]]] = {}

    def watched(trial: ts.Trial) -> dict[str, float]:
        run_id = tracking.run_ids[("live", trial.number)]
        assert client.get_run(run_id).info.status == "RUNNING"
        if trial.number > 0:  # the previous trial is logged and closed before this one starts
            before = client.get_run(tracking.run_ids[("live", trial.number - 1)])
            assert before.info.status == "FINISHED" and before.data.tags["tunesmith.state"] == "complete"
            assert before.data.params == {k: json.dumps(v) for k, v in study.trials[trial.number - 1].params.items()}
        loss = math.nan
        for step in trial.steps(STEPS):
            loss = _loss(trial.params["lr"], trial.params["layers"], step)
            trial.report(loss=loss)
            seen.setdefault(trial.number, []).append([m.step for m in client.get_metric_history(run_id, "loss")])
        return {"loss": loss}

    study = _study(tmp_path, "live")
    study.optimize(watched, n_trials=2, callbacks=[tracking])
    steps = {r.number: sorted(r.intermediate) for r in study.trials}
    assert seen == {n: [steps[n][: k + 1] for k in range(STEPS)] for n in (0, 1)}


def test_mlflow_nests_a_run_per_trial_from_child_processes_with_steps_final_values_and_states(
    tmp_path: Path, mlflow_uri: str
) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri)

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 2:
            raise ValueError("planted failure")
        live, loss = 0, math.nan
        reader = _client(mlflow_uri)  # in the trial's own process
        for step in trial.steps(STEPS):
            loss = _loss(trial.params["lr"], trial.params["layers"], step)
            trial.report(loss=loss)
            history = reader.get_metric_history(tracking.run_ids[("nested", trial.number)], "loss")
            live += trial.step in {m.step for m in history}
        return {"loss": loss, "live": live}

    study = _study(tmp_path, "nested")
    study.optimize(objective, n_trials=4, workers=2, executor="processes", callbacks=[tracking], fail_fast=None)
    client = _client(mlflow_uri)
    parent = tracking.parent_run_id(study)
    study_run = client.get_run(parent)
    assert study_run.info.run_name == "nested" and study_run.info.status == "FINISHED"
    assert client.get_experiment(study_run.info.experiment_id).name == "nested"  # the study's name by default
    children = _children(client, parent)
    assert sorted(children) == [r.number for r in study.trials] == [0, 1, 2, 3]
    for record in study.trials:
        run = children[record.number]
        assert run.data.tags["tunesmith.state"] == record.state.value
        assert run.data.params == {k: json.dumps(v) for k, v in record.params.items()}
        if record.state is ts.TrialState.FAILED:
            assert run.info.status == "FAILED" and run.data.tags["tunesmith.kind"] == "exception"
            error = Path(client.download_artifacts(run.info.run_id, "error.txt", str(tmp_path)))
            assert "ValueError: planted failure" in error.read_text()
            continue
        assert run.info.status == "FINISHED" and record.metrics["live"] == STEPS  # each step there when reported
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [(m.step, m.value) for m in history][:STEPS] == [(s, v["loss"]) for s, v in record.intermediate.items()]
        assert run.data.metrics["loss"] == record.metrics["loss"]
    best = client.get_metric_history(parent, "best_loss")
    assert best[-1].value == study.best.metrics["loss"] and best[-1].step == study.best.number


def test_mlflow_logs_the_verdict_and_the_report_into_the_study_run(tmp_path: Path, mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="judged")
    study = _study(tmp_path, "judged")
    study.optimize(curve, n_trials=3, callbacks=[tracking])
    with pytest.raises(ts.ConfigError, match=r"has no verdict yet.*ts.finalize\(study, evaluate\)"):
        tracking.log_verdict(study)
    verdict = finalize(study, lambda params, seed: {"loss": _loss(params["lr"], params["layers"], STEPS) + 0.01})
    run_id = tracking.log_verdict(study)
    report = write_report(study, tmp_path / "report.html")
    assert tracking.log_report(study, report) == run_id == tracking.parent_run_id(study)
    client = _client(mlflow_uri)
    logged = json.loads(Path(client.download_artifacts(run_id, "verdict.json", str(tmp_path / "v"))).read_text())
    assert logged["status"] == verdict.attribute().status and logged["ready"] == verdict.ready
    assert client.get_run(run_id).data.tags["tunesmith.verdict"] == logged["status"]
    assert {a.path for a in client.list_artifacts(run_id)} >= {"verdict.json", "report.html", "space.json"}
    assert logged["stale"] is None and client.get_run(run_id).data.tags["tunesmith.stale"] == "false"
    with pytest.raises(ts.ConfigError, match="must be an existing file"):
        tracking.log_report(study, tmp_path / "missing.html")
    with pytest.warns(ts.study.HoldoutSpentWarning):
        study.optimize(curve, n_trials=1, callbacks=[tracking])  # a trial after the verdict: it is stale
    tracking.log_verdict(study)
    again = json.loads(Path(client.download_artifacts(run_id, "verdict.json", str(tmp_path / "w"))).read_text())
    assert again["stale"].startswith("stale: 1 trials finished after the holdout was opened")
    assert client.get_run(run_id).data.tags["tunesmith.stale"] == "true"


def test_a_resumed_study_logs_into_the_same_mlflow_run(tmp_path: Path, mlflow_uri: str) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    first = MLflowCallback(tracking_uri=mlflow_uri, experiment="resumed")
    study = ts.Study(SPACE, metric="loss", storage=storage, name="resumed", seed=1, checkpoint_dir=tmp_path / "c")
    study.optimize(curve, n_trials=2, callbacks=[first])
    again = MLflowCallback(tracking_uri=mlflow_uri, experiment="resumed")  # as a new process would
    ts.Study.load("resumed", storage, checkpoint_dir=tmp_path / "c").optimize(curve, n_trials=2, callbacks=[again])
    parent = first.parent_run_id(study)
    assert again.parent_run_id(study) == parent
    client = _client(mlflow_uri)
    assert sorted(_children(client, parent)) == [0, 1, 2, 3]
    best = [m.value for m in sorted(client.get_metric_history(parent, "best_loss"), key=lambda m: m.step)]
    assert best == sorted(best, reverse=True) and best[-1] == study.best.metrics["loss"]  # the study's best so far


def test_one_mlflow_callback_logs_two_studies_in_turn_each_into_its_own_runs(tmp_path: Path, mlflow_uri: str) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="families")
    studies = []
    for name, scale in (("svm", 1.0), ("forest", 10.0)):
        study = _study(tmp_path, name)
        study.optimize(lambda t, scale=scale: {"loss": scale * curve(t)["loss"]}, n_trials=2, callbacks=[tracking])
        studies.append(study)
    client = _client(mlflow_uri)
    for study in studies:
        children = _children(client, tracking.parent_run_id(study))
        assert sorted(children) == [0, 1]
        for record in study.trials:
            run = children[record.number]
            assert run.info.run_id == tracking.run_ids[(study.name, record.number)]
            assert run.data.tags["tunesmith.study"] == study.name and run.info.status == "FINISHED"
            assert run.data.metrics["loss"] == record.metrics["loss"]  # this study's, not the next one's
            assert run.data.params == {k: json.dumps(v) for k, v in record.params.items()}


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        (
            {"space": ts.Space({"x" * 300: ts.Float(0.0, 1.0)})},
            r"parameter 'x+'\.\.\. \(300 characters\): .*at most "
            r"250 characters.*rename the parameter in the space",
        ),
        ({"space": ts.Space({"../up": ts.Float(0.0, 1.0)})}, r"parameter '\.\./up': .*file paths.*e\.g\. 'up'"),
        ({"name": "s" * 501}, r"MLflow experiment names hold 1 to 500 characters.*MLflowCallback\(experiment=\.\.\.\)"),
    ],
    ids=["long-parameter", "path-parameter", "experiment"],
)
def test_a_name_mlflow_refuses_stops_the_run_before_any_trial_with_the_rule_and_a_name_it_accepts(
    tmp_path: Path, mlflow_uri: str, options: dict[str, Any], refused: str
) -> None:
    # Parameter and experiment names are the user's to change; metric names (reported ones too, which a library's
    # callback chooses) are mapped to names MLflow accepts (tests/test_trackers_agree_with_storage.py).
    space = options.pop("space", ts.Space({"x": ts.Float(0.0, 1.0)}))
    study = ts.Study(space, metric="loss", storage="memory", name=options.pop("name", "refused"), **options)
    with pytest.raises(ts.ConfigError, match=refused):
        study.optimize(lambda trial: 0.5, n_trials=3, callbacks=[MLflowCallback(tracking_uri=mlflow_uri)])
    assert study.trials == []  # no trial ran, none spent the budget


def test_mlflow_logs_a_define_by_run_trial_s_parameters_as_storage_records_them(
    tmp_path: Path, mlflow_uri: str
) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="branches")

    def objective(trial: ts.Trial) -> float:
        kind = trial.suggest_categorical("kind", ["deep", "shallow"])
        x = trial.suggest_float("x", 0.0, 1.0)
        if kind == "deep":
            x += trial.suggest_int("layers", 1, 9) / 10
        return x

    study = ts.Study(metric="loss", storage="memory", name="branches", seed=0)
    study.optimize(objective, n_trials=8, callbacks=[tracking])
    client = _client(mlflow_uri)
    shallow = [r for r in study.trials if r.params["kind"] == "shallow"]
    assert shallow and all("layers" not in r.params for r in shallow)
    for record in study.trials:  # a branch not taken logs no parameter
        logged = client.get_run(tracking.run_ids[("branches", record.number)]).data.params
        assert logged == {k: json.dumps(v) if not isinstance(v, str) else v for k, v in record.params.items()}


def test_a_define_by_run_parameter_mlflow_refuses_is_named_when_it_appears_and_its_run_is_ended(
    tmp_path: Path, mlflow_uri: str
) -> None:
    tracking = MLflowCallback(tracking_uri=mlflow_uri, experiment="asked")
    study = ts.Study(metric="loss", storage="memory", name="asked", seed=0)
    with pytest.raises(ts.ConfigError, match=r"MLflow refuses the parameter 'lr@warmup'.*e\.g\. 'lr_warmup'"):
        study.optimize(lambda t: t.suggest_float("lr@warmup", 0.0, 1.0), n_trials=3, callbacks=[tracking])
    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE]  # stopped after the trial that asked
    run = _client(mlflow_uri).get_run(tracking.run_ids[("asked", 0)])
    assert run.info.status == "FINISHED" and run.data.tags["tunesmith.state"] == "complete"  # not left RUNNING


# Weights & Biases -------------------------------------------------------------------------------


def _wandb_records(path: Path) -> list[Any]:
    """The records of an offline run's ``.wandb`` file: a 7-byte header, then LevelDB-style log blocks."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pos, chunk = [], 7, b""
    block = 32 * 1024
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            records.append(record)
            chunk = b""
        elif kind == 0:
            break
    return records


def _key(item: Any) -> str:
    return str(item.key) or ".".join(item.nested_key)


def _offline_runs(root: Path) -> dict[str, dict[str, Any]]:
    """Every offline run under ``root``: its name, group, job type, config, history rows and summary."""
    import wandb

    wandb.teardown()  # W&B's service writes run files in the background: let it finish them
    runs = {}
    for path in sorted(root.glob("wandb/offline-run-*/run-*.wandb")):
        run: dict[str, Any] = {"history": [], "summary": {}, "config": {}, "exit": None, "artifacts": [],
                               "dir": path.parent}  # fmt: skip
        for record in _wandb_records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                run.update(name=record.run.display_name, group=record.run.run_group, job_type=record.run.job_type,
                           project=record.run.project)  # fmt: skip
                run["config"].update({_key(i): json.loads(i.value_json) for i in record.run.config.update})
            elif kind == "config":
                run["config"].update({_key(i): json.loads(i.value_json) for i in record.config.update})
            elif kind == "history":
                run["history"].append({_key(i): json.loads(i.value_json) for i in record.history.item})
            elif kind == "summary":
                run["summary"].update({_key(i): json.loads(i.value_json) for i in record.summary.update})
            elif kind == "artifact":
                run["artifacts"].append((record.artifact.type, [f.path for f in record.artifact.manifest.contents]))
            elif kind == "exit":
                run["exit"] = record.exit.exit_code
        runs[run["name"]] = run
    return runs


def _config(run: Mapping[str, Any]) -> dict[str, Any]:
    """A W&B config as values (W&B stores each as ``{"value": ...}``)."""
    return {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in run["config"].items()}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb", reason="the wandb extra is part of the test install (make test)")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


@pytest.mark.usefixtures("offline")
def test_wandb_logs_a_run_per_trial_in_the_study_group_with_every_step(tmp_path: Path) -> None:
    tracking = WandbCallback(project="tunesmith-tests", dir=tmp_path)
    live: list[tuple[int, float]] = []

    def watched(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 2:
            raise ValueError("planted failure")
        for step in trial.steps(STEPS):
            loss = _loss(trial.params["lr"], trial.params["layers"], step)
            trial.report(loss=loss)
            live.append((tracking.runs[trial.number].summary["loss"], loss))  # W&B's run has it already
        return {"loss": loss}

    study = _study(tmp_path, "wandb-study")
    study.optimize(watched, n_trials=3, callbacks=[tracking], fail_fast=None)
    assert live and all(a == b for a, b in live) and tracking.runs == {}
    runs = _offline_runs(tmp_path)
    assert sorted(runs) == [f"wandb-study-trial-{n}" for n in range(3)]
    for record in study.trials:
        run = runs[f"wandb-study-trial-{record.number}"]
        assert run["group"] == "wandb-study" and run["job_type"] == "trial" and run["project"] == "tunesmith-tests"
        assert {k: _config(run)[k] for k in record.params} == record.params
        assert _config(run)["tunesmith.trial"] == record.number
        assert run["summary"]["state"] == record.state.value
        if record.state is ts.TrialState.FAILED:
            assert run["exit"] == 1 and run["summary"]["kind"] == "exception"
            continue
        steps = [(row["_step"], row["loss"]) for row in run["history"] if "loss" in row]
        assert steps == [(s, v["loss"]) for s, v in record.intermediate.items()]
        assert run["summary"]["loss"] == record.metrics["loss"] and run["exit"] == 0


@pytest.mark.usefixtures("offline")
def test_wandb_logs_the_verdict_and_the_report_as_runs_of_the_study_group(tmp_path: Path) -> None:
    tracking = WandbCallback(project="tunesmith-tests", dir=tmp_path)
    study = _study(tmp_path, "wandb-judged")
    study.optimize(curve, n_trials=3)
    with pytest.raises(ts.ConfigError, match="has no verdict yet"):
        tracking.log_verdict(study)
    verdict = finalize(study, lambda params, seed: {"loss": _loss(params["lr"], params["layers"], STEPS)})
    tracking.log_verdict(study)
    written = write_report(study, tmp_path / "report.html")
    tracking.log_report(study, written)
    runs = _offline_runs(tmp_path)
    judged = runs["wandb-judged-verdict"]
    assert judged["group"] == "wandb-judged" and judged["job_type"] == "verdict"
    assert judged["summary"]["verdict"] == verdict.attribute().status and judged["summary"]["ready"] == verdict.ready
    assert judged["summary"].get("stale") is None  # current: nothing came after it
    assert judged["artifacts"] == [("verdict", ["verdict.json"])]
    report = runs["wandb-judged-report"]
    assert report["job_type"] == "report" and report["summary"]["report._type"] == "html-file"
    assert (report["dir"] / "files" / report["summary"]["report.path"]).read_bytes() == written.read_bytes()
    assert report["artifacts"] == [("report", ["report.html"])]
