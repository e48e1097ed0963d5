"""TensorBoard: a study's trials as TensorBoard runs, live (`TensorBoardCallback`) or after the fact
(`tunesmith.report.log_to_tensorboard`, which reads the study and calls `write_study`), so the Scalars tab draws
every trial's curves and the HParams tab compares the trials.

::

    from tunesmith.integrations.tensorboard import TensorBoardCallback
    from tunesmith.report import log_to_tensorboard

    from tunesmith.report.export import best_text

    board = TensorBoardCallback("runs", best_text=best_text)   # best_text: the best as `tunesmith best` says it
    study.optimize(objective, callbacks=[board])                # then: tensorboard --logdir runs
    log_to_tensorboard(study, "exported")                       # a study that already ran

Layout: ``<log_dir>/<study>/trial-<number>``, one run per trial, beside the study's own run in ``<log_dir>/<study>``.
``<study>`` is the study's name when it is a safe folder name (ASCII letters, digits, ``.``, ``_`` and ``-``, not
starting or ending with a dot, at most 100 characters, not a name Windows reserves); any other name is made one
(`folder_name`): each other character becomes ``_``, the dots it then starts or ends with are dropped, and ``-``
with 8 hexadecimal digits of the name's SHA-256 is added, so two names never share a folder and no name writes
outside ``log_dir`` (``../x`` -> ``_x-`` and the hash, ``../../x`` -> ``_.._x-`` and its hash). The study folder
holds ``tunesmith-study.json``, naming the study it belongs to: a folder another study's runs fill is refused.

Each trial's run holds every reported value as a scalar at its step (the metric's name is the tag), then its final
metrics at its last step, so each curve ends with the value storage records as the trial's result, the value the
HParams tab shows (it reads a metric's latest). When the trial ends its run gets the HParams session: the
parameters as storage records them (for an objective that asks for parameters by name, only those of the branches
it took), ``tunesmith.trial``, ``tunesmith.seed``, ``tunesmith.state``, ``tunesmith.kind`` and
``tunesmith.invalidated`` (why `Study.invalidate` took it out, else empty) as hyperparameters, so the HParams tab
filters trials by state, and a session status: success for a complete trial, failure for a failed one, and unknown
for a stopped (pruned, diverged, out of budget) or infeasible one, whose value is no result to rank beside the
complete ones; the export says running for a trial still running or paused. Its reason and error are text (the
Text tab). A value that is not finite (a diverged loss) is logged as NaN, never left out, as the MLflow export logs
it: left out, the curve and the HParams tab would show the trial's last finite value. TensorBoard keeps scalars as
32-bit floats: values keep about 7 significant digits, and a finite value beyond 3.4e38, which TensorBoard would
read as infinite, is NaN too.

The callback writes a trial's session when the trial ends, never at its start: TensorBoard keeps the first session
a run states, and one written at the start would show the trial running for good. A paused trial's run has its
curve and no session until the trial ends. Each run that is ended gets ``tunesmith-trial.json``; a study run again
ends, as storage records them, the trial runs an earlier process left without one (a process killed mid-trial).

The study's run is the same live and exported (`_BestSoFar` draws it for both): with one objective it gets
``best_<metric>``, the best value so far (`tunesmith.trial.best_record`), at each count of trials ended, in the order
they ended (trials end out of their numbers' order, and TensorBoard drops the points past a step that comes again);
with several objectives, which have no single best, no curve, and its text names the Pareto front and the chosen
trial (`front_text`). The export's text ``tunesmith/best`` is what ``tunesmith best`` says of the best
(`tunesmith.report.export.best_text`: the seed re-runs' pick, the trials it cannot be told from, a scheduler's few
trained fully); when ``optimize`` ends, the callback's text ``tunesmith/result`` says why the run stopped and the same,
given ``best_text=tunesmith.report.export.best_text`` (this layer cannot read what the report judges: without it, the
text names the search's best and says what it leaves unjudged). Needs ``pip install 'tunesmith[tensorboard]'``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith.decision import Decision
from tunesmith.errors import ConfigError, not_written, require
from tunesmith.integrations._tracking import (
    BestText,
    checked_best_text,
    front_text,
    last_step,
    logged_values,
    result_text,
    verdict_json,
)
from tunesmith.objective import Metric
from tunesmith.study import Observer
from tunesmith.trial import Trial, TrialRecord, TrialState, best_record

if TYPE_CHECKING:
    from tunesmith.study import Study, StudyResult

__all__ = [
    "STUDY_FILE", "TRIAL_FILE", "BestText", "TensorBoardCallback", "folder_name", "front_text", "logged_floats",
    "write_study",
]  # fmt: skip

STUDY_FILE = "tunesmith-study.json"  # in a study's folder: the study its runs belong to
TRIAL_FILE = "tunesmith-trial.json"  # in a trial's run: its session is written (the trial ended)

_FOLDER_CHARACTER_REFUSED = re.compile(r"[^A-Za-z0-9._-]")
_FOLDER_MAX = 100
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_BEST = "best_"  # the study run's curve of the best value, "best_<metric>"
_FLUSH_SECONDS = 5  # a live run's events reach the disk at least this often (each report is flushed too)
# TensorBoard's session statuses (tensorboard.hparams.Status) by trial state: a stopped or infeasible trial's value
# is no result to rank beside a complete one's, so neither says success.
_STATUS = {
    TrialState.COMPLETE: "STATUS_SUCCESS",
    TrialState.FAILED: "STATUS_FAILURE",
    TrialState.STOPPED: "STATUS_UNKNOWN",
    TrialState.INFEASIBLE: "STATUS_UNKNOWN",
    TrialState.RUNNING: "STATUS_RUNNING",
    TrialState.PAUSED: "STATUS_RUNNING",
}


def _tensorboard(module: str) -> Any:
    return require(module, "tensorboard")


def folder_name(name: str) -> str:
    """The folder a study named ``name`` writes its runs in: ``name`` itself when it is a safe folder name, else a
    safe name made from it (see the module's docstring): each other character ``_``, the dots at either end dropped,
    then ``-`` and 8 hexadecimal digits.

    The suffix, a hash of the whole name, keeps two names apart (``a b`` and ``a_b`` alike); the rest is for people.

    Example:
        >>> folder_name("mnist-lr_sweep.v2")
        'mnist-lr_sweep.v2'
        >>> folder_name("../x")
        '_x-d6b96a97'
        >>> folder_name("../../x")
        '_.._x-9cdf6a50'
    """
    readable = _FOLDER_CHARACTER_REFUSED.sub("_", name).strip(".")
    reserved = readable.split(".")[0].upper() in _WINDOWS_RESERVED
    if readable and readable == name and len(name) <= _FOLDER_MAX and not reserved:
        return name
    suffix = "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return (readable[: _FOLDER_MAX - len(suffix)] or "study") + suffix


def logged_floats(values: Mapping[str, Any]) -> dict[str, float]:
    """The numeric values of ``values`` as TensorBoard gets them, as 32-bit floats: a value that is not finite (a
    diverged loss) as NaN (`_tracking.logged_values`), and so is a finite one beyond 32 bits' 3.4e38, which would
    read as infinite; a digest (``digest:<m>``) left out."""
    return {
        name: float(np.float32(value)) if abs(value) <= _FLOAT32_MAX else math.nan
        for name, value in logged_values(values).items()
    }


def _hparam(value: Any) -> bool | float | str:
    """A parameter's value as the HParams plugin takes it: a bool, a number or a string (``None`` and any other
    value as JSON, ``null``, as the CSV export writes it)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return json.dumps(value, default=repr)


def _hparams(record: TrialRecord) -> dict[str, bool | float | str]:
    values = {str(name): _hparam(value) for name, value in record.params.items()}
    values.update({"tunesmith.trial": float(record.number), "tunesmith.seed": float(record.seed),
                   "tunesmith.state": record.state.value, "tunesmith.kind": record.kind.value if record.kind else "",
                   "tunesmith.invalidated": record.invalidated or ""})  # fmt: skip
    return values


class _Run:
    """One TensorBoard run: an event file in ``folder`` (created when missing), written through tensorboard's
    ``EventFileWriter``. Another `_Run` on the same folder adds an event file; TensorBoard reads them as one run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        writer = _tensorboard("tensorboard.summary.writer.event_file_writer")
        try:
            self._writer = writer.EventFileWriter(str(folder), flush_secs=_FLUSH_SECONDS)
        except OSError as exc:
            raise _not_written(folder, exc) from exc

    def _write(self, summary: Any, step: int) -> None:
        event_pb2 = _tensorboard("tensorboard.compat.proto.event_pb2")
        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def scalars(self, values: Mapping[str, Any], step: int) -> None:
        """Each numeric value of ``values`` as a scalar at ``step`` (`logged_floats`)."""
        summary_pb2 = _tensorboard("tensorboard.compat.proto.summary_pb2")
        tensor_util = _tensorboard("tensorboard.util.tensor_util")
        scalar_metadata = _tensorboard("tensorboard.plugins.scalar.metadata")
        for tag, value in logged_floats(values).items():
            summary = summary_pb2.Summary()
            summary.value.add(tag=tag, metadata=scalar_metadata.create_summary_metadata(None, None),
                              tensor=tensor_util.make_tensor_proto(np.float32(value)))  # fmt: skip
            self._write(summary, step)

    def text(self, tag: str, text: str, step: int = 0) -> None:
        self._write(_tensorboard("tensorboard.plugins.text.summary_v2").text_pb(tag, text), step)

    def session(self, record: TrialRecord, group: str) -> None:
        """The HParams plugin's session of ``record``: its hyperparameters (`_hparams`), then its status (`_STATUS`)."""
        hparams = _tensorboard("tensorboard.plugins.hparams.summary_v2")
        started = record.started_at if record.started_at is not None else time.time()
        self._write(hparams.hparams_pb(_hparams(record), trial_id=group, start_time_secs=started), 0)
        metadata = _tensorboard("tensorboard.plugins.hparams.metadata")
        plugin_data = _tensorboard("tensorboard.plugins.hparams.plugin_data_pb2")
        status = getattr(_tensorboard("tensorboard.plugins.hparams.api_pb2"), _STATUS[record.state])
        ended = record.finished_at if record.finished_at is not None else time.time()
        info = plugin_data.HParamsPluginData(
            session_end_info=plugin_data.SessionEndInfo(status=status, end_time_secs=ended)
        )
        summary = _tensorboard("tensorboard.compat.proto.summary_pb2").Summary()
        summary.value.add(tag=metadata.SESSION_END_INFO_TAG, metadata=metadata.create_summary_metadata(info),
                          tensor=metadata.NULL_TENSOR)  # fmt: skip
        self._write(summary, 0)

    def flush(self) -> None:
        try:
            self._writer.flush()
        except OSError as exc:
            raise _not_written(self.folder, exc) from exc

    def close(self) -> None:
        """Write what is pending and close the file; a write that failed is raised (a bare close would drop it)."""
        self.flush()
        self._writer.close()


def _not_written(folder: Path, exc: OSError) -> Exception:
    return not_written("TensorBoard events", folder, exc)


def _write_file(path: Path, data: Mapping[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(data), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _not_written(path.parent, exc) from exc


def _end_trial(run: _Run, record: TrialRecord, group: str) -> None:
    """Write what storage records of the trial's end into its run: final metrics, reason, error, session."""
    run.scalars(record.metrics, last_step(record))  # after the curve, at its last step: the latest value is final
    if record.reason:
        run.text("tunesmith/reason", record.reason)
    if record.error:
        run.text("tunesmith/error", f"```\n{record.error}\n```")
    run.session(record, group)


def _mark_ended(folder: Path, study_name: str, record: TrialRecord) -> None:
    _write_file(folder / TRIAL_FILE, {"study": study_name, "trial": record.number, "state": record.state.value,
                                      "kind": record.kind.value if record.kind else None})  # fmt: skip


class _BestSoFar:
    """The study run's ``best_<metric>`` curve, drawn alike live (`TensorBoardCallback`) and after the fact
    (`write_study`): after each trial ends, the best value so far (`tunesmith.trial.best_record`: a COMPLETE, valid
    trial with a finite value; the one that ended first on a tie) at the count of trials ended. The count, not the
    trial's number, is the step: trials end out of their numbers' order, and TensorBoard drops the points past a step
    that comes again. ``metric`` is ``None`` with several objectives, which have no single best: no curve.

    ``ended`` and ``best`` start from the trials that ended before (a study run again).
    """

    def __init__(self, metric: Metric | None, *, ended: int = 0, best: TrialRecord | None = None) -> None:
        self.metric = metric
        self.ended = ended
        self.best = best

    def draw(self, run: _Run, record: TrialRecord) -> None:
        """Count ``record`` ended and draw the best so far into ``run`` (nothing while no trial qualifies)."""
        self.ended += 1
        if self.metric is None:
            return
        self.best = best_record([r for r in (self.best, record) if r is not None], self.metric)
        value = None if self.best is None else self.best.value(self.metric.name)
        if value is not None:
            run.scalars({f"{_BEST}{self.metric.name}": value}, self.ended)


def _in_end_order(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trials that ended, in the order storage records their end (``finished_at``; a record without one last,
    then by number)."""
    ended = [r for r in records if r.state.is_finished]
    return sorted(ended, key=lambda r: (r.finished_at is None, r.finished_at or 0.0, r.number))


_WITH_BEST_TEXT = "TensorBoardCallback(log_dir, best_text=tunesmith.report.export.best_text)"


def _study_of(folder: Path) -> str | None:
    """The study ``folder``'s ``tunesmith-study.json`` names (``""`` when it cannot be read), ``None`` without one."""
    path = folder / STUDY_FILE
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("study")
    except (OSError, ValueError, AttributeError):
        return ""
    return found if isinstance(found, str) else ""


def _checked_log_dir(log_dir: Any, fix: str) -> Path:
    if not isinstance(log_dir, str | Path) or not str(log_dir):
        raise ConfigError(f"log_dir must be a folder's path (a str or Path), got {log_dir!r}: {fix}")
    path = Path(log_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"log_dir must be a folder, got {str(path)!r}, which is a file: {fix}")
    return path


class TensorBoardCallback(Observer):
    """An `Observer` that logs a study to TensorBoard while it runs (pass it in ``optimize(callbacks=[...])``).

    One callback may log several studies in turn, each into its own folder; a study resumed later, by another
    process, logs into the same runs (each process adds its own event files).

    Args:
        log_dir: the folder TensorBoard reads (``tensorboard --logdir <log_dir>``); created when missing.
        best_text: what the text ``tunesmith/result`` says of the best when ``optimize`` ends, read from the study
            then: pass `tunesmith.report.export.best_text`, which says what ``tunesmith best`` and the export say (the
            seed re-runs' pick, the trials it cannot be told from, a scheduler's few trained fully). This layer cannot
            judge that itself: without it, the text names the search's best and says what it leaves unjudged.

    Attributes:
        run_dirs: the run folder of each trial logged, by ``(study name, trial number)``.

    Raises:
        ConfigError: ``log_dir`` is not a folder's path, or ``best_text`` is not callable; from ``on_optimize_start``,
            the study's folder holds another study's runs (two names that differ only in case, on a disk that ignores
            case).
        FileNotWritten: from the hooks, a run's folder or file cannot be written.
    """

    def __init__(self, log_dir: str | Path, *, best_text: BestText | None = None) -> None:
        self.log_dir = _checked_log_dir(log_dir, "pass TensorBoardCallback('runs'), a folder (created when missing)")
        self.best_text = checked_best_text(best_text, _WITH_BEST_TEXT)
        self.run_dirs: dict[tuple[str, int], Path] = {}
        self._runs: dict[tuple[str, int], _Run] = {}  # the trials running now
        self._studies: dict[str, _Run] = {}  # each study's own run, from on_optimize_start to on_optimize_end
        self._curves: dict[str, _BestSoFar] = {}  # each study's best_<metric>, from on_optimize_start on

    def study_dir(self, study: Study) -> Path:
        """The folder of ``study``'s runs: ``<log_dir>/<folder_name(study.name)>``."""
        return self.log_dir / folder_name(study.name)

    def run_dir(self, study: Study, number: int) -> Path:
        """The run folder of trial ``number``: ``<study_dir>/trial-<number>``."""
        return self.study_dir(study) / f"trial-{number}"

    def _group(self, study: Study, number: int) -> str:
        return f"{folder_name(study.name)}/trial-{number}"  # the run's name as TensorBoard lists it

    def _claim(self, study: Study) -> Path:
        """The study's folder, once its ``tunesmith-study.json`` names this study (written when missing)."""
        folder = self.study_dir(study)
        recorded = _study_of(folder)
        if recorded is None:
            _write_file(folder / STUDY_FILE, {"study": study.name})
        elif recorded != study.name:
            raise ConfigError(
                f"the TensorBoard folder {folder} holds the runs of study {recorded!r}, not of {study.name!r} (two "
                "names that differ only in case share a folder where the disk ignores case): pass "
                "TensorBoardCallback another log_dir, or give the study another name"
            )
        return folder

    # Hooks ------------------------------------------------------------------------------------------
    def on_optimize_start(self, study: Study) -> None:
        """Claim the study's folder, open its run, and end the trial runs an earlier process left open that storage
        records as ended (a process killed mid-trial: its trial is recorded interrupted once reaped)."""
        _tensorboard("tensorboard.summary.writer.event_file_writer")  # a missing extra stops the run before a trial
        folder = self._claim(study)
        if study.name not in self._studies:
            self._studies[study.name] = _Run(folder)
        history = study.trials
        for record in history:
            run_dir = self.run_dir(study, record.number)
            if record.state.is_finished and run_dir.is_dir() and not (run_dir / TRIAL_FILE).exists():
                self._end(study, record)
        # Counted from storage, as the export counts them: a resumed study's curve goes on from its trials ended.
        metric = study.metric if len(study.objectives) < 2 else None
        ended = sum(1 for record in history if record.state.is_finished)
        best = None if metric is None else best_record(_in_end_order(history), metric)
        self._curves[study.name] = _BestSoFar(metric, ended=ended, best=best)

    def on_trial_start(self, study: Study, trial: Trial) -> None:
        """Open the trial's run (a resumed trial's: a new event file in the same run)."""
        key = (study.name, trial.number)
        if key not in self._runs:
            self._runs[key] = _Run(self.run_dir(study, trial.number))
            self.run_dirs[key] = self._runs[key].folder

    def on_report(self, study: Study, number: int, step: int, metrics: Mapping[str, float], decision: Decision) -> None:
        run = self._runs.get((study.name, number))
        if run is None:
            return
        run.scalars(metrics, int(step))
        run.flush()  # seen in TensorBoard as it is reported

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        """End the trial's run as storage records the trial; a paused trial's run is closed without a session.

        A trial whose run another process opened (a paused trial retired, a trial reaped after its process died) is
        ended in its folder."""
        key = (study.name, record.number)
        if not record.state.is_finished:
            run = self._runs.pop(key, None)
            if run is not None:
                run.close()
            return
        if key in self._runs or self.run_dir(study, record.number).is_dir():  # else no run of it was ever opened
            self._end(study, record)
        study_run, curve = self._studies.get(study.name), self._curves.get(study.name)
        if study_run is not None and curve is not None:
            curve.draw(study_run, record)
            study_run.flush()

    def _end(self, study: Study, record: TrialRecord) -> None:
        """Write the trial's end into its run and close it, whatever fails on the way; a run ended before is left."""
        key = (study.name, record.number)
        folder = self.run_dir(study, record.number)
        run = self._runs.pop(key, None)
        if (folder / TRIAL_FILE).exists():  # TensorBoard keeps a run's first session: a second would be lost
            if run is not None:
                run.close()
            return
        run = run or _Run(folder)
        self.run_dirs[key] = folder
        try:
            _end_trial(run, record, self._group(study, record.number))
        except BaseException:
            with contextlib.suppress(Exception):  # the first failure is the one to raise
                run.close()
            raise
        run.close()
        _mark_ended(folder, study.name, record)

    def on_optimize_end(self, study: Study, result: StudyResult | None) -> None:
        """Close the runs still open (a trial whose end no hook heard keeps no session: the next run ends it as
        storage records it), and write the run's outcome into the study's run."""
        for key in [k for k in self._runs if k[0] == study.name]:
            with contextlib.suppress(Exception):
                self._runs.pop(key).close()
        study_run = self._studies.pop(study.name, None)
        if study_run is None:
            return
        try:
            if result is not None:
                best = None if self.best_text is None else self.best_text(study)
                study_run.text("tunesmith/result", result_text(result, best, _WITH_BEST_TEXT), len(study.trials))
        finally:
            study_run.close()

    # After the run -----------------------------------------------------------------------------------
    def log_verdict(self, study: Study) -> Path:
        """Write the study's verdict (written by ``ts.finalize``) into the study's run as the text
        ``tunesmith/verdict``: its summary, whether it is stale and why, and ``verdict.json``. Returns the folder."""
        verdict = verdict_json(study)
        folder = self._claim(study)
        lines = [f"verdict: {verdict.get('status', '')}", str(verdict.get("summary") or "")]
        if verdict.get("stale"):
            lines.append(f"stale: {verdict['stale']}")
        body = "\n\n".join(line for line in lines if line)
        run = _Run(folder)
        try:
            run.text("tunesmith/verdict", f"{body}\n\n```json\n{json.dumps(verdict, indent=2)}\n```",
                     len(study.trials))  # fmt: skip
        finally:
            run.close()
        return folder


def write_study(
    name: str, records: Sequence[TrialRecord], log_dir: str | Path, summary: str, *, metric: Metric | None
) -> Path:
    """Write a study that ran into a TensorBoard log folder: one run per trial of ``records``, as
    `TensorBoardCallback` writes them (every reported value at its step, the final metrics at the last step, the
    HParams session with the trial's state), and the study's run as the callback draws it (`_BestSoFar`: the best
    value of ``metric`` so far at each count of trials ended, in the order they ended; ``None`` with several
    objectives, which have no curve) with ``summary`` as the text ``tunesmith/best``.
    `tunesmith.report.log_to_tensorboard` reads a study and calls it.

    Returns:
        The study's folder, ``<log_dir>/<folder_name(name)>``.

    Raises:
        ConfigError: the study's folder exists and is not empty (an earlier export, or a live callback, wrote there).
        MissingExtra: tensorboard is not installed (``pip install 'tunesmith[tensorboard]'``).
        FileNotWritten: a folder or file cannot be written.
    """
    _tensorboard("tensorboard.summary.writer.event_file_writer")
    fix = "pass log_to_tensorboard(study, 'runs'), a folder (created when missing)"
    folder = _checked_log_dir(log_dir, fix) / folder_name(name)
    if folder.is_dir() and any(folder.iterdir()):
        raise ConfigError(
            f"the TensorBoard folder {folder} already holds runs (an earlier export or a live TensorBoardCallback "
            "wrote them), and a second export would add every trial twice: export into another log_dir, or remove "
            "that folder first"
        )
    _write_file(folder / STUDY_FILE, {"study": name})
    for record in sorted(records, key=lambda r: r.number):
        run_dir = folder / f"trial-{record.number}"
        run = _Run(run_dir)
        try:
            for step, values in sorted(record.intermediate.items()):
                run.scalars(values, step)
            _end_trial(run, record, f"{folder.name}/trial-{record.number}")
        finally:
            run.close()
        if record.state.is_finished:
            _mark_ended(run_dir, name, record)
    study_run = _Run(folder)
    try:
        curve = _BestSoFar(metric)
        for record in _in_end_order(records):
            curve.draw(study_run, record)
        study_run.text("tunesmith/best", summary, curve.ended)
    finally:
        study_run.close()
    return folder
