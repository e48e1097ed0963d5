"""Live MLflow tracking: a parent run for the study, a nested run per trial, metrics as they are reported.

::

    from tunesmith.integrations.mlflow import MLflowCallback

    tracking = MLflowCallback(tracking_uri="sqlite:///mlflow.db", experiment="mnist")
    study.optimize(objective, callbacks=[tracking])
    ts.finalize(study, evaluate)
    tracking.log_verdict(study)                    # verdict.json and verdict tags on the study's run
    tracking.log_report(study, "report.html")     # the HTML report as an artifact

Each trial's run gets each reported metric at its step while the trial runs (the study's loop calls
the observer as each report arrives, from any executor), then its parameters as storage records them
(for an objective that asks for parameters by name, only those of the branches it took), its final
metrics, its state, kind and reason as tags, and an MLflow status: FINISHED (complete, stopped,
infeasible), FAILED, KILLED (interrupted) or SCHEDULED (paused, until it resumes); a run is never
left RUNNING once its trial ended, by whatever route. The
study's run gets the best value so far at each trial number (``best_<metric>``). It runs through
`MlflowClient` with explicit run ids, so concurrent trials each log to their own run and the
user's active MLflow run is left alone; when there is one, the study's run is nested under it. A
study resumed later (another process, the same experiment) logs into the same parent run. One
callback may log several studies in turn; each gets its own runs.

MLflow refuses some names tunesmith accepts (``recall@10``, a parameter name of 300 characters): the
study's metrics, guardrails, parameters and experiment name are checked against MLflow's rules when
the run starts, names first seen later (define-by-run parameters, other reported metrics) when they
appear, and a name MLflow would refuse raises `ConfigError` with the rule and a name it accepts. Needs
``pip install 'tunesmith[mlflow]'``.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.decision import Decision
from tunesmith.errors import ConfigError, require
from tunesmith.integrations._tracking import finite, is_better, last_step, report_file, verdict_json
from tunesmith.study import Observer
from tunesmith.trial import Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study, StudyResult

__all__ = ["MLflowCallback"]

_PARENT = "mlflow.parentRunId"

# MLflow's rules for metric and parameter names (mlflow/utils/validation.py): these characters only (no colon on
# Windows), a name a path would not rewrite (no "..", no leading "/", no "a//b" or "a/./b"), 250 characters at most.
_NAME_CHARACTERS = re.compile(r"[/\w.\- ]*" if sys.platform == "win32" else r"[/\w.\- :]*")
_NAME_MAX = 250
_EXPERIMENT_NAME_MAX = 500
_BATCH = 100  # MLflow takes at most 100 parameters (1000 metrics) in one log_batch
_BEST = "best_"  # the study run's curve of the best value, "best_<metric>"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _name_problem(name: str) -> str | None:
    """The MLflow rule ``name`` breaks as a metric or parameter name, or ``None``."""
    if len(name) > _NAME_MAX:
        return f"MLflow names hold at most {_NAME_MAX} characters, this one {len(name)}"
    if not _NAME_CHARACTERS.fullmatch(name):
        colon = "" if sys.platform == "win32" else ", colons"
        return f"MLflow names hold only letters, digits, underscores, dashes, periods, spaces{colon} and slashes"
    normal = posixpath.normpath(name)
    if normal != name or normal == "." or normal.startswith(("..", "/")):
        return f"MLflow stores names as file paths, and this one reads as the path {normal!r}"
    return None


def check_names(what: str, names: Iterable[str], fix: str, *, prefix: str = "") -> None:
    """Raise `ConfigError` for the first of ``names`` (each logged as ``prefix + name``) MLflow would refuse."""
    for name in names:
        problem = _name_problem(prefix + name)
        if problem is None:
            continue
        shown = repr(name) if len(name) <= 60 else f"{name[:40]!r}... ({len(name)} characters)"
        logged = f", logged as {prefix!r} + the name" if prefix else ""
        accepted = re.sub(r"[^\w.\- ]", "_", name).strip("._ ")[: min(40, _NAME_MAX - len(prefix))] or "value"
        raise ConfigError(
            f"MLflow refuses the {what} {shown}{logged}: {problem}. Fix: {fix}, e.g. {accepted!r}, or track this "
            "study without MLflowCallback"
        )


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
        run_ids: the MLflow run id of each trial logged, by ``(study name, trial number)``.

    Raises:
        ConfigError: from the hooks, for a metric, guardrail, parameter or experiment name MLflow refuses.
    """

    def __init__(
        self, tracking_uri: str | None = None, experiment: str | None = None, *, tags: Mapping[str, str] | None = None
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.tags = dict(tags or {})
        self.run_ids: dict[tuple[str, int], str] = {}
        self._client: Any = None
        self._experiments: dict[str, str] = {}
        self._parents: dict[str, str] = {}
        self._logged_params: dict[tuple[str, int], set[str]] = {}
        self._open: set[tuple[str, int]] = set()  # trials whose run this callback set RUNNING and did not end
        self._checked: set[str] = set()  # metric names found acceptable
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

    def _experiment_name(self, study: Study) -> str:
        name = self.experiment or study.name
        if not name or len(name) > _EXPERIMENT_NAME_MAX:
            given = "experiment" if self.experiment else "study name, the default experiment,"
            raise ConfigError(
                f"MLflow experiment names hold 1 to {_EXPERIMENT_NAME_MAX} characters, got the {given} "
                f"{name[:60]!r} ({len(name)} characters): pass MLflowCallback(experiment=...) a shorter name"
            )
        return name

    def _experiment_id(self, study: Study) -> str:
        name = self._experiment_name(study)
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

    def _check_metrics(self, names: Iterable[str]) -> None:
        new = [name for name in names if name not in self._checked]
        check_names("reported metric", new, "report it under another name")
        self._checked.update(new)

    def _log_params(self, client: Any, key: tuple[str, int], params: Mapping[str, Any]) -> None:
        """Log the parameters not logged yet (MLflow's are write-once; a resumed trial's come again)."""
        seen = self._logged_params.setdefault(key, set())
        new = {k: v for k, v in params.items() if k not in seen}
        check_names("parameter", new, "rename the parameter")
        entities = self._entities()
        entries = [entities.Param(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in new.items()]
        for first in range(0, len(entries), _BATCH):
            client.log_batch(self.run_ids[key], params=entries[first : first + _BATCH])
        seen.update(new)

    # Hooks ------------------------------------------------------------------------------------------
    def on_optimize_start(self, study: Study) -> None:
        """Check every name MLflow will be given, then open (or reopen) the study's run."""
        self._experiment_name(study)
        metrics = [metric.name for metric in (*study.objectives, study.metric)]
        check_names("metric", metrics, "name the metric otherwise (ts.Metric(name))")
        check_names("metric", [study.metric.name], "name the metric otherwise (ts.Metric(name))", prefix=_BEST)
        check_names("guardrail metric", [g.metric for g in study.guardrails], "name the guardrail's metric otherwise")
        check_names("parameter", list(study.space), "rename the parameter in the space")
        self._checked.update(metrics)
        client = self._connect(study)
        run_id = self.parent_run_id(study)
        client.update_run(run_id, status="RUNNING")
        if study.name not in self._best:  # a resumed study: its best so far (on the primary metric), not this call's
            best = study.best_of(study.trials)
            if best is not None:
                self._best[study.name] = best

    def on_trial_start(self, study: Study, trial: Trial) -> None:
        """Open the trial's run; its parameters are logged when it ends, as storage records them."""
        check_names("parameter", list(trial.params), "rename the parameter")
        client = self._connect(study)
        parent = self.parent_run_id(study)
        key = (study.name, trial.number)
        run_id = self.run_ids.get(key)
        if run_id is None and trial.start_step > 0:  # a paused trial resumed: its run may be an earlier process's
            run_id = self._find_trial(client, self._experiment_id(study), parent, trial.number)
        tags = {"tunesmith.state": TrialState.RUNNING.value}
        if run_id is None:
            tags.update({_PARENT: parent, "tunesmith.study": study.name, "tunesmith.trial": str(trial.number),
                         "tunesmith.seed": str(trial.seed)})  # fmt: skip
            run = client.create_run(
                self._experiment_id(study), start_time=_now_ms(), run_name=f"trial-{trial.number}", tags=tags
            )
            run_id = str(run.info.run_id)
            self.run_ids[key] = run_id
            self._open.add(key)
        else:
            self.run_ids[key] = run_id
            self._open.add(key)
            client.update_run(run_id, status="RUNNING")
            for name, value in tags.items():
                client.set_tag(run_id, name, value)

    def on_report(self, study: Study, number: int, step: int, metrics: Mapping[str, float], decision: Decision) -> None:
        run_id = self.run_ids.get((study.name, number))
        if run_id is None:
            return
        values = finite(metrics)
        self._check_metrics(values)
        entities = self._entities()
        now = _now_ms()
        entries = [entities.Metric(k, v, now, int(step)) for k, v in values.items()]
        if entries:
            self._connect(study).log_batch(run_id, metrics=entries)

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        """Log the trial's parameters, final metrics and state, then end its run, whatever fails on the way."""
        key = (study.name, record.number)
        run_id = self.run_ids.get(key)
        if run_id is None:
            return
        client = self._connect(study)
        try:
            self._log_end(client, study, record, run_id)
        except BaseException:
            with contextlib.suppress(Exception):  # the first failure is the one to raise
                self._close(client, key, record)
            raise
        self._close(client, key, record)
        best = self._best.get(study.name)
        if is_better(study, record, best):
            self._best[study.name] = record
            value = record.value(study.metric.name)
            if value is not None:
                client.log_metric(
                    self.parent_run_id(study), f"{_BEST}{study.metric.name}", value, _now_ms(), record.number
                )

    def _log_end(self, client: Any, study: Study, record: TrialRecord, run_id: str) -> None:
        entities = self._entities()
        tags = [entities.RunTag("tunesmith.state", record.state.value),
                entities.RunTag("tunesmith.kind", record.kind.value if record.kind else ""),
                entities.RunTag("tunesmith.reason", (record.reason or "")[:5000])]  # fmt: skip
        client.log_batch(run_id, tags=tags)
        if record.error:
            client.log_text(run_id, record.error, "error.txt")
        self._log_params(client, (study.name, record.number), record.params)
        values = finite(record.metrics)
        self._check_metrics(values)
        now, step = _now_ms(), last_step(record)
        metrics: Sequence[Any] = [entities.Metric(k, v, now, step) for k, v in values.items()]
        if metrics:
            client.log_batch(run_id, metrics=metrics)

    def _close(self, client: Any, key: tuple[str, int], record: TrialRecord) -> None:
        """End the trial's run with the MLflow status of its state (SCHEDULED while it is paused)."""
        status = _status(record)
        if status == "SCHEDULED":
            client.update_run(self.run_ids[key], status=status)
        else:
            client.set_terminated(self.run_ids[key], status=status, end_time=_now_ms())
        self._open.discard(key)

    def on_optimize_end(self, study: Study, result: StudyResult | None) -> None:
        client = self._connect(study)
        for key in sorted(k for k in self._open if k[0] == study.name):  # a trial whose end no hook heard
            with contextlib.suppress(Exception):
                client.set_terminated(self.run_ids[key], status="KILLED", end_time=_now_ms())
            self._open.discard(key)
        if study.name not in self._parents:  # the run never started (a name MLflow refuses)
            return
        run_id = self.parent_run_id(study)
        if result is not None:
            client.set_tag(run_id, "tunesmith.stop_reason", result.stop_reason)
            if result.best is not None:
                client.set_tag(run_id, "tunesmith.best_trial", str(result.best.number))
        client.set_terminated(run_id, status="FINISHED" if result is not None else "KILLED")

    # After the run -----------------------------------------------------------------------------------
    def log_verdict(self, study: Study) -> str:
        """Log the study's verdict (written by ``ts.finalize``) to its run: ``verdict.json`` and tags
        ``tunesmith.verdict``, ``tunesmith.ready`` and ``tunesmith.stale`` (``verdict.json`` and ``verdict.txt`` then
        say why: trials or evidence that came after it). Returns the run id."""
        verdict = verdict_json(study)
        client = self._connect(study)
        run_id = self.parent_run_id(study)
        client.log_dict(run_id, verdict, "verdict.json")
        if verdict.get("summary"):
            stale = f"\n{verdict['stale']}" if verdict.get("stale") else ""
            client.log_text(run_id, str(verdict["summary"]) + stale, "verdict.txt")
        client.set_tag(run_id, "tunesmith.verdict", str(verdict.get("status", "")))
        client.set_tag(run_id, "tunesmith.stale", "true" if verdict.get("stale") else "false")
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
