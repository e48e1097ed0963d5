"""Live MLflow tracking: a parent run for the study, a nested run per trial, metrics as they are reported.

::

    from tunesmith.integrations.mlflow import MLflowCallback

    tracking = MLflowCallback(tracking_uri="sqlite:///mlflow.db", experiment="mnist")
    study.optimize(objective, callbacks=[tracking])
    ts.finalize(study, evaluate)
    tracking.log_verdict(study)                    # verdict.json and verdict tags on the study's run
    tracking.log_report(study, "report.html")     # the HTML report as an artifact

Each trial's run gets its parameters when it starts, each reported metric at its step while the
trial runs (the study's loop calls the observer as each report arrives, from any executor), then
its final metrics, its state, kind and reason as tags, and an MLflow status: FINISHED (complete,
stopped, infeasible), FAILED, KILLED (interrupted) or SCHEDULED (paused, until it resumes). The
study's run gets the best value so far at each trial number (``best_<metric>``). It runs through
`MlflowClient` with explicit run ids, so concurrent trials each log to their own run and the
user's active MLflow run is left alone; when there is one, the study's run is nested under it. A
study resumed later (another process, the same experiment) logs into the same parent run. Needs
``pip install 'tunesmith[mlflow]'``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.decision import Decision
from tunesmith.errors import require
from tunesmith.integrations._tracking import finite, is_better, last_step, report_file, verdict_json
from tunesmith.study import Observer
from tunesmith.trial import Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study, StudyResult

__all__ = ["MLflowCallback"]

_PARENT = "mlflow.parentRunId"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _status(record: TrialRecord) -> str:
    if record.state is TrialState.PAUSED:
        return "SCHEDULED"
    if record.state is TrialState.FAILED:
        return "KILLED" if record.kind is not None and record.kind.is_interruption else "FAILED"
    return "FINISHED"


class MLflowCallback(Observer):
    """An `Observer` that logs a study to MLflow while it runs (pass it in ``optimize(callbacks=[...])``).

    Args:
        tracking_uri: where MLflow writes (default: MLflow's own, ``MLFLOW_TRACKING_URI``); recent
            MLflow wants a database such as ``sqlite:///mlflow.db`` (a ``file:`` store needs
            ``MLFLOW_ALLOW_FILE_STORE=true``).
        experiment: the MLflow experiment (default: the study's name); created when missing.
        tags: extra tags for the study's run.

    Attributes:
        run_ids: the MLflow run id of each trial logged, by trial number.
    """

    def __init__(
        self, tracking_uri: str | None = None, experiment: str | None = None, *, tags: Mapping[str, str] | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.tags = dict(tags or {})
        self.run_ids: dict[int, str] = {}
        self._client: Any = None
        self._experiments: dict[str, str] = {}
        self._parents: dict[str, str] = {}
        self._logged_params: dict[int, set[str]] = {}
        self._best: dict[str, TrialRecord] = {}

    # MLflow objects -------------------------------------------------------------------------------
    def _mlflow(self) -> Any:
        return require("mlflow", "mlflow")

    def _entities(self) -> Any:
        return require("mlflow.entities", "mlflow")

    def _connect(self, study: Study) -> Any:
        if self._client is None:
            tracking: Any = require("mlflow.tracking", "mlflow")
            self._client = tracking.MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def _experiment_id(self, study: Study) -> str:
        name = self.experiment or study.name
        if name not in self._experiments:
            client = self._connect(study)
            found = client.get_experiment_by_name(name)
            self._experiments[name] = str(found.experiment_id if found is not None else client.create_experiment(name))
        return self._experiments[name]

    def parent_run_id(self, study: Study) -> str:
        """The study's MLflow run: the one this callback made, one an earlier process made, or a new one."""
        if study.name in self._parents:
            return self._parents[study.name]
        client = self._connect(study)
        run_id = self._find_parent(client, self._experiment_id(study), study.name)
        if run_id is None:
            tags = {"tunesmith.role": "study", "tunesmith.study": study.name, "tunesmith.metric": study.metric.name,
                    "tunesmith.direction": study.metric.direction, "tunesmith.storage": study.storage.url,
                    **self.tags}  # fmt: skip
            active = self._mlflow().active_run()
            if active is not None:
                tags[_PARENT] = active.info.run_id
            run = client.create_run(self._experiment_id(study), run_name=study.name, tags=tags)
            run_id = str(run.info.run_id)
            client.log_text(run_id, json.dumps(study.space.to_json(), indent=2), "space.json")
        self._parents[study.name] = run_id
        return run_id

    @staticmethod
    def _find_parent(client: Any, experiment_id: str, name: str) -> str | None:
        if "'" in name:  # MLflow's filter syntax has no quoting for it: start a new run instead
            return None
        runs = client.search_runs(
            [experiment_id],
            f"tags.`tunesmith.role` = 'study' and tags.`tunesmith.study` = '{name}'",
            max_results=1,
        )
        return str(runs[0].info.run_id) if runs else None

    @staticmethod
    def _find_trial(client: Any, experiment_id: str, parent: str, number: int) -> str | None:
        runs = client.search_runs(
            [experiment_id],
            f"tags.`{_PARENT}` = '{parent}' and tags.`tunesmith.trial` = '{number}'",
            max_results=1,
        )
        return str(runs[0].info.run_id) if runs else None

    def _log_params(self, client: Any, number: int, params: Mapping[str, Any]) -> None:
        """Log the parameters not logged yet (MLflow's are write-once; define-by-run ones come later)."""
        seen = self._logged_params.setdefault(number, set())
        new = {k: v for k, v in params.items() if k not in seen}
        if new:
            entities = self._entities()
            entries = [entities.Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in new.items()]
            client.log_batch(self.run_ids[number], params=entries)
            seen.update(new)

    # Hooks ------------------------------------------------------------------------------------------
    def on_optimize_start(self, study: Study) -> None:
        client = self._connect(study)
        run_id = self.parent_run_id(study)
        client.update_run(run_id, status="RUNNING")
        if study.name not in self._best:  # a resumed study: its best so far (on the primary metric), not this call's
            best = study.best_of(study.trials)
            if best is not None:
                self._best[study.name] = best

    def on_trial_start(self, study: Study, trial: Trial) -> None:
        client = self._connect(study)
        parent = self.parent_run_id(study)
        number = trial.number
        run_id = self.run_ids.get(number)
        if run_id is None and trial.start_step > 0:  # a paused trial resumed: its run may be an earlier process's
            run_id = self._find_trial(client, self._experiment_id(study), parent, number)
        tags = {"tunesmith.state": TrialState.RUNNING.value}
        if run_id is None:
            tags.update({_PARENT: parent, "tunesmith.study": study.name, "tunesmith.trial": str(number),
                         "tunesmith.seed": str(trial.seed)})  # fmt: skip
            run = client.create_run(
                self._experiment_id(study), start_time=_now_ms(), run_name=f"trial-{number}", tags=tags
            )
            run_id = str(run.info.run_id)
        else:
            client.update_run(run_id, status="RUNNING")
            for key, value in tags.items():
                client.set_tag(run_id, key, value)
        self.run_ids[number] = run_id
        self._log_params(client, number, trial.params)

    def on_report(self, study: Study, number: int, step: int, metrics: Mapping[str, float], decision: Decision) -> None:
        run_id = self.run_ids.get(number)
        if run_id is None:
            return
        entities = self._entities()
        now = _now_ms()
        entries = [entities.Metric(k, v, now, int(step)) for k, v in finite(metrics).items()]
        if entries:
            self._connect(study).log_batch(run_id, metrics=entries)

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        run_id = self.run_ids.get(record.number)
        if run_id is None:
            return
        client = self._connect(study)
        entities = self._entities()
        self._log_params(client, record.number, record.params)
        now = _now_ms()
        step = last_step(record)
        metrics = [entities.Metric(k, v, now, step) for k, v in finite(record.metrics).items()]
        tags = [entities.RunTag("tunesmith.state", record.state.value),
                entities.RunTag("tunesmith.kind", record.kind.value if record.kind else ""),
                entities.RunTag("tunesmith.reason", (record.reason or "")[:5000])]  # fmt: skip
        client.log_batch(run_id, metrics=metrics, tags=tags)
        if record.error:
            client.log_text(run_id, record.error, "error.txt")
        status = _status(record)
        if status == "SCHEDULED":
            client.update_run(run_id, status=status)
        else:
            client.set_terminated(run_id, status=status, end_time=now)
        best = self._best.get(study.name)
        if is_better(study, record, best):
            self._best[study.name] = record
            value = record.value(study.metric.name)
            if value is not None:
                client.log_metric(self.parent_run_id(study), f"best_{study.metric.name}", value, now, record.number)

    def on_optimize_end(self, study: Study, result: StudyResult | None) -> None:
        client = self._connect(study)
        run_id = self.parent_run_id(study)
        if result is not None:
            client.set_tag(run_id, "tunesmith.stop_reason", result.stop_reason)
            if result.best is not None:
                client.set_tag(run_id, "tunesmith.best_trial", str(result.best.number))
        client.set_terminated(run_id, status="FINISHED" if result is not None else "KILLED")

    # After the run -----------------------------------------------------------------------------------
    def log_verdict(self, study: Study) -> str:
        """Log the study's verdict (written by ``ts.finalize``) to its run: ``verdict.json`` and tags
        ``tunesmith.verdict`` and ``tunesmith.ready``. Returns the run id."""
        verdict = verdict_json(study)
        client = self._connect(study)
        run_id = self.parent_run_id(study)
        client.log_dict(run_id, verdict, "verdict.json")
        if verdict.get("summary"):
            client.log_text(run_id, str(verdict["summary"]), "verdict.txt")
        client.set_tag(run_id, "tunesmith.verdict", str(verdict.get("status", "")))
        if verdict.get("ready") is not None:
            client.set_tag(run_id, "tunesmith.ready", str(bool(verdict["ready"])).lower())
        return run_id

    def log_report(self, study: Study, path: str | Path) -> str:
        """Log a report file (``tunesmith.report.write_report``'s HTML) as an artifact of the study's run."""
        target = report_file(path)
        client = self._connect(study)
        run_id = self.parent_run_id(study)
        client.log_artifact(run_id, str(target))
        return run_id
