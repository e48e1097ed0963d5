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
left RUNNING once its trial ended, by whatever route: a trial retired from its pause or reaped during
the run is heard of as it ends, and as a run starts the study's trial runs left open (a process killed
mid-trial, whose trial storage records interrupted once reaped) are ended as storage records their trials.
A value that is not finite (a diverged loss) is logged as NaN, never left out: left out, the run kept its last
finite value as its latest, and sorting the runs by the metric put a diverged trial first; MLflow sorts NaN after
every number, in either direction (an infinity it would store as the largest float of its sign). With one objective,
the study's run gets the best value so far at each trial number (``best_<metric>``) and, when the run ends, the
search's best trial as the tag ``tunesmith.best_trial`` and the artifact ``result.txt``: why the run stopped and
what ``tunesmith best`` says of the best (the seed re-runs' pick, the trials it cannot be told from), given
``best_text=tunesmith.report.export.best_text``, else what it leaves unjudged. Several objectives have no single
best (`Study.best` is refused): the study's run then gets no ``best_<metric>``, and when the run ends the tag
``tunesmith.pareto_front`` lists the Pareto front's trial numbers (``"0,3,5"``) and ``tunesmith.chosen_trial`` names
the trial `Study.choose` recorded, while that choice stands. It runs through `MlflowClient` with explicit run ids,
so concurrent trials each log to their own run and the user's active MLflow run is left alone; when there is one,
the study's run is nested under it. A study resumed later (another process, the same experiment) logs into the same
parent run. One callback may log several studies in turn; each gets its own runs.

MLflow refuses some names tunesmith accepts (``ndcg@10``, a parameter name of 300 characters). A metric
name it refuses, which a training library may choose (XGBoost's ``validation-error@0.7``, LightGBM's
``valid_0-map@5``), is logged under a name it accepts (`logged_name`): each ``@`` becomes ``_at_``, any
other character MLflow refuses ``_``, and ``-`` with 8 hexadecimal digits of the name's SHA-256 is added
(kept within MLflow's 250 characters), so the same name always maps alike, in every process, and two names
never share a column; ``validation-error@0.7`` is logged as ``validation-error_at_0.7-459cb4c7``. The
callback's ``renamed`` lists them, and a `MetricRenamedWarning` names each once, after the trial that
reported it is stored (from inside the objective, a warning made an error would cut the trial short).
Parameter and experiment names are the user's to choose: one MLflow refuses raises `ConfigError` with the
rule and a name it accepts, when the run starts (a define-by-run parameter when it appears). Needs
``pip install 'tunesmith[mlflow]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import re
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith._caller import outside_stacklevel
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError, require
from tunesmith.integrations._tracking import (
    BestText,
    checked_best_text,
    is_better,
    last_step,
    logged_values,
    report_file,
    result_text,
    verdict_json,
)
from tunesmith.study import Observer
from tunesmith.trial import Trial, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study, StudyResult

__all__ = ["MLflowCallback", "MetricRenamedWarning", "Stamps", "logged_name"]

_PARENT = "mlflow.parentRunId"

# MLflow's rules for metric and parameter names (mlflow/utils/validation.py): these characters only (no colon on
# Windows), a name a path would not rewrite (no "..", no leading "/", no "a//b" or "a/./b"), 250 characters at most.
_NAME_CHARACTERS = re.compile(r"[/\w.\- ]*" if sys.platform == "win32" else r"[/\w.\- :]*")
_REFUSED_CHARACTER = re.compile(r"[^/\w.\- ]" if sys.platform == "win32" else r"[^/\w.\- :]")
_NAME_MAX = 250
_EXPERIMENT_NAME_MAX = 500
_BATCH = 100  # MLflow takes at most 100 parameters (1000 metrics) in one log_batch
_BEST = "best_"  # the study run's curve of the best value, "best_<metric>"
_TAG_MAX = 5000  # the longest tag value MLflow 1.x stores (later releases take 8000), as the reason tag is cut
_OPEN = ("RUNNING", "SCHEDULED")  # the MLflow statuses of a trial run not ended yet


class MetricRenamedWarning(UserWarning):
    """A metric name MLflow refuses was logged under a name it accepts (`logged_name`)."""


def _now_ms() -> int:
    return int(time.time() * 1000)


class Stamps:
    """Metric timestamps in milliseconds, each after the one before. MLflow shows a run's metric as its value at
    the highest step, then the latest timestamp: a trial's final value logged at its last report's step in the same
    millisecond as that report tied with it, and MLflow showed the report (a diverged trial's last finite loss
    where its final one was NaN)."""

    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last = max(_now_ms(), self.last + 1)
        return self.last


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


def logged_name(name: str) -> str:
    """The name MLflow logs metric ``name`` under: ``name`` itself when MLflow accepts it, else a name it accepts
    made from it, ``validation-error@0.7`` -> ``validation-error_at_0.7-459cb4c7`` (see the module's docstring).

    The suffix, a hash of the whole name, is what keeps two names apart (``a@b`` and ``a_at_b`` alike); the rest
    is for people. Slashes, MLflow's grouping, stay unless they make a path MLflow refuses.
    """
    if _name_problem(name) is None:
        return name
    suffix = "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    readable = _REFUSED_CHARACTER.sub("_", name.replace("@", "_at_"))
    for shape in (readable, readable.replace("/", "_").lstrip(".")):
        logged = shape[: _NAME_MAX - len(suffix)] + suffix
        if _name_problem(logged) is None:
            return logged
    return "metric" + suffix  # not reached: the second shape holds only characters MLflow accepts


def check_names(what: str, names: Iterable[str], fix: str) -> None:
    """Raise `ConfigError` for the first of ``names`` MLflow would refuse."""
    for name in names:
        problem = _name_problem(name)
        if problem is None:
            continue
        shown = repr(name) if len(name) <= 60 else f"{name[:40]!r}... ({len(name)} characters)"
        accepted = re.sub(r"[^\w.\- ]", "_", name).strip("._ ")[:40] or "value"
        raise ConfigError(
            f"MLflow refuses the {what} {shown}: {problem}. Fix: {fix}, e.g. {accepted!r}, or track this "
            "study without MLflowCallback"
        )


def _numbers_tag(records: Sequence[TrialRecord]) -> str:
    """The trial numbers of ``records`` as a tag value, ``"0,3,5"``, within MLflow's limit on a tag's length: a
    longer list keeps its first numbers and says how many it leaves out (``"0,3,... (+120 more)"``)."""
    numbers = [str(record.number) for record in records]
    text = ",".join(numbers)
    kept = len(numbers)
    while len(text) > _TAG_MAX:
        kept -= 1
        text = f"{','.join(numbers[:kept])},... (+{len(numbers) - kept} more)"
    return text


def _status(record: TrialRecord) -> str:
    if record.state is TrialState.PAUSED:
        return "SCHEDULED"
    if record.state is TrialState.FAILED:
        return "KILLED" if record.kind is not None and record.kind.is_interruption else "FAILED"
    return "FINISHED"


_WITH_BEST_TEXT = "MLflowCallback(..., best_text=tunesmith.report.export.best_text)"


class MLflowCallback(Observer):
    """An `Observer` that logs a study to MLflow while it runs (pass it in ``optimize(callbacks=[...])``).

    Args:
        tracking_uri: where MLflow writes (default: MLflow's own, ``MLFLOW_TRACKING_URI``); recent
            MLflow wants a database such as ``sqlite:///mlflow.db`` (a ``file:`` store needs
            ``MLFLOW_ALLOW_FILE_STORE=true``).
        experiment: the MLflow experiment (default: the study's name); created when missing.
        tags: extra tags for the study's run.
        best_text: what the study's run's ``result.txt`` says of the best when ``optimize`` ends, read from the study
            then: pass `tunesmith.report.export.best_text`, which says what ``tunesmith best`` and the export say (the
            seed re-runs' pick, the trials it cannot be told from, a scheduler's few trained fully). This layer cannot
            judge that itself: without it, ``result.txt`` names the search's best (the tag ``tunesmith.best_trial``)
            and says what it leaves unjudged.

    Attributes:
        run_ids: the MLflow run id of each trial logged, by ``(study name, trial number)``.
        renamed: each metric name MLflow refuses that was logged, with the name it was logged under
            (`logged_name`).

    Raises:
        ConfigError: ``best_text`` is not callable; from the hooks, for a parameter or experiment name MLflow refuses.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        best_text: BestText | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.tags = dict(tags or {})
        self.best_text = checked_best_text(best_text, _WITH_BEST_TEXT)
        self.run_ids: dict[tuple[str, int], str] = {}
        self._client: Any = None
        self._experiments: dict[str, str] = {}
        self._parents: dict[str, str] = {}
        self._logged_params: dict[tuple[str, int], set[str]] = {}
        self._open: set[tuple[str, int]] = set()  # trials whose run this callback set RUNNING and did not end
        self.renamed: dict[str, str] = {}
        self._unsaid: list[str] = []  # renamed metrics no warning named yet
        self._best: dict[str, TrialRecord] = {}
        self._stamps = Stamps()

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

    @staticmethod
    def _open_trial_runs(client: Any, experiment_id: str, parent: str) -> Iterator[Any]:
        """The trial runs under ``parent`` not ended yet (RUNNING or SCHEDULED), page by page."""
        for status in _OPEN:
            token = None
            while True:
                page = client.search_runs(
                    [experiment_id],
                    f"tags.`{_PARENT}` = '{parent}' and attributes.status = '{status}'",
                    max_results=1000,
                    page_token=token,
                )
                yield from page
                token = page.token
                if not token:
                    break

    def _metrics(self, values: Mapping[str, Any], step: int) -> list[Any]:
        """``values`` as MLflow metrics at ``step``, each under the name MLflow accepts (`logged_name`)."""
        entities = self._entities()
        now = self._stamps.next()
        return [entities.Metric(self._name(k), v, now, step) for k, v in logged_values(values).items()]

    def _name(self, name: str) -> str:
        logged = self.renamed.get(name) or logged_name(name)
        if logged != name and name not in self.renamed:
            self.renamed[name] = logged
            self._unsaid.append(name)
        return logged

    def _say_renamed(self) -> None:
        """One `MetricRenamedWarning` per metric renamed since the last; called once no trial's objective is
        on the stack."""
        unsaid, self._unsaid = self._unsaid, []
        for name in unsaid:
            problem = _name_problem(name)
            warnings.warn(
                f"MLflow refuses the metric name {name!r} ({problem}): it is logged as {self.renamed[name]!r} "
                "(each '@' becomes '_at_', every other character MLflow refuses '_', and a hash of the name keeps "
                "two names apart); MLflowCallback.renamed lists every such name",
                MetricRenamedWarning,
                stacklevel=outside_stacklevel(),
            )

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
        """Check the experiment and parameter names, open (or reopen) the study's run, and end the trial runs
        left open that storage records as ended (`_end_runs_left_open`)."""
        self._experiment_name(study)
        check_names("parameter", list(study.space), "rename the parameter in the space")
        client = self._connect(study)
        run_id = self.parent_run_id(study)
        client.update_run(run_id, status="RUNNING")
        history = study.trials
        self._end_runs_left_open(client, study, run_id, history)
        one_objective = len(study.objectives) < 2  # several have no single best to follow
        if study.name not in self._best and one_objective:  # a resumed study: its best so far, not this call's
            best = study.best_of(history)
            if best is not None:
                self._best[study.name] = best

    def _end_runs_left_open(self, client: Any, study: Study, parent: str, history: Sequence[TrialRecord]) -> None:
        """End each trial run still open (RUNNING, SCHEDULED) whose trial storage records as ended or paused, as
        storage records it: a process killed mid-trial left its run RUNNING, and the trial is recorded interrupted
        once reaped (before this hook, as the run begins, or by any other process); a trial paused by an earlier
        process may have been retired since. A trial storage records RUNNING is left alone: a worker runs it."""
        records = {record.number: record for record in history}
        for run in list(self._open_trial_runs(client, self._experiment_id(study), parent)):
            number = run.data.tags.get("tunesmith.trial", "")
            record = records.get(int(number)) if number.isdigit() else None
            if record is None or record.state is TrialState.RUNNING or _status(record) == run.info.status:
                continue
            key = (study.name, record.number)
            self.run_ids[key] = str(run.info.run_id)
            self._end(client, study, record, key)

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
        entries = self._metrics(metrics, int(step))
        if entries:
            self._connect(study).log_batch(run_id, metrics=entries)

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        """Log the trial's parameters, final metrics and state, then end its run, whatever fails on the way.

        A trial whose run another process opened (a paused trial retired, a trial reaped after its process died)
        is found by its tags."""
        key = (study.name, record.number)
        client = self._connect(study)
        if key not in self.run_ids and study.name in self._parents:
            found = self._find_trial(client, self._experiment_id(study), self._parents[study.name], record.number)
            if found is not None:
                self.run_ids[key] = found
        if key not in self.run_ids:
            return
        self._end(client, study, record, key)
        best = self._best.get(study.name)
        if is_better(study, record, best):
            self._best[study.name] = record
            value = record.value(study.metric.name)
            if value is not None:
                client.log_metric(
                    self.parent_run_id(study), self._name(f"{_BEST}{study.metric.name}"), value, _now_ms(),
                    record.number,
                )  # fmt: skip
        self._say_renamed()

    def _end(self, client: Any, study: Study, record: TrialRecord, key: tuple[str, int]) -> None:
        """Log what storage records of the trial, then end its run with its status, whatever fails on the way."""
        try:
            self._log_end(client, study, record, self.run_ids[key])
        except BaseException:
            with contextlib.suppress(Exception):  # the first failure is the one to raise
                self._close(client, key, record)
            raise
        self._close(client, key, record)

    def _log_end(self, client: Any, study: Study, record: TrialRecord, run_id: str) -> None:
        entities = self._entities()
        tags = [entities.RunTag("tunesmith.state", record.state.value),
                entities.RunTag("tunesmith.kind", record.kind.value if record.kind else ""),
                entities.RunTag("tunesmith.reason", (record.reason or "")[:5000])]  # fmt: skip
        client.log_batch(run_id, tags=tags)
        if record.error:
            client.log_text(run_id, record.error, "error.txt")
        self._log_params(client, (study.name, record.number), record.params)
        metrics = self._metrics(record.metrics, last_step(record))
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
        if study.name in self._parents:  # else the run never started (a name MLflow refuses)
            run_id = self.parent_run_id(study)
            if result is not None:
                client.set_tag(run_id, "tunesmith.stop_reason", result.stop_reason)
                if result.front is None and result.best is not None:  # one objective: several have no best
                    client.set_tag(run_id, "tunesmith.best_trial", str(result.best.number))
                if result.front is not None:  # several objectives: the front, never a best
                    client.set_tag(run_id, "tunesmith.pareto_front", _numbers_tag(result.front))
                if result.chosen is not None:
                    client.set_tag(run_id, "tunesmith.chosen_trial", str(result.chosen.number))
                best = None if self.best_text is None else self.best_text(study)
                client.log_text(run_id, result_text(result, best, _WITH_BEST_TEXT), "result.txt")
            client.set_terminated(run_id, status="FINISHED" if result is not None else "KILLED")
        self._say_renamed()

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
