"""Trials as flat rows (CSV, or any table format), and a study logged to MLflow.

A row holds one trial: ``number``, ``state``, ``kind``, ``reason``, ``seed``, ``value`` (the study's
metric; empty for a FAILED trial), ``resource``, ``started_at``, ``finished_at``, ``duration``, ``invalidated`` (why
`Study.invalidate` took the trial out of the search; empty for a valid trial: every trial is kept,
so the rows are the audit), then one column per parameter (``params.<name>``) and per final metric
(``metrics.<name>``). Every row has every
column (``None`` where a trial lacks it), so the rows load as they are into pandas, polars or
Parquet.

Example:
    >>> write_csv(study, "trials.csv")
    >>> log_to_mlflow(study, tracking_uri="file:./mlruns")   # needs pip install 'tunesmith[mlflow]'
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path
from typing import Any

from tunesmith._caller import outside_stacklevel
from tunesmith._trial_table import trial_table
from tunesmith.errors import FileNotWritten, not_written, require
from tunesmith.integrations._tracking import logged_values
from tunesmith.objective import Metric
from tunesmith.report._data import ReportData, report_data
from tunesmith.report._shown import (
    ShownBest,
    choice_off_front,
    few_trained_note,
    near_front_note,
    no_feasible_note,
    shown_best,
)
from tunesmith.space import Space
from tunesmith.study._validation_set import mixed_examples_note

__all__ = [
    "FileNotWritten", "best_text", "log_to_mlflow", "log_to_tensorboard", "not_written", "trial_rows", "write_csv",
]  # fmt: skip


def trial_rows(
    source: Any, *, space: Space | None = None, metric: Metric | str | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """The column names and one row per trial, in trial order.

    Args:
        source: a `Study`, a `ReportData`, or a list of `TrialRecord` (then pass ``space`` and ``metric``).
        space, metric: the space and metric when ``source`` is bare records.

    Returns:
        ``(columns, rows)``; each row maps every column to a JSON scalar or ``None`` (non-finite metrics
        stay as float NaN/inf, which CSV writes as ``nan``/``inf``).
    """
    columns, rows, _ = _table(report_data(source, space=space, metric=metric))
    return columns, rows


def _table(data: Any) -> tuple[list[str], list[dict[str, Any]], set[tuple[int, str]]]:
    """`trial_rows`, and the (row, column) cells of parameters whose value is ``None`` (`trial_table`)."""
    return trial_table(data.records, list(data.space), data.metric.name, data.gone)


def write_csv(source: Any, path: str | Path, *, space: Space | None = None, metric: Metric | str | None = None) -> Path:
    """Write `trial_rows` to a CSV file with a header line; return the path.

    An empty cell is a value the trial does not have (an inactive parameter, a metric it did not report); a
    parameter whose value is ``None`` (a choice) is written ``null``, which a warm start reads back as ``None``.

    Raises:
        FileNotWritten: the file or its folder cannot be written (parent folders are created).
    """
    columns, rows, nulls = _table(report_data(source, space=space, metric=metric))
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for index, row in enumerate(rows):
                writer.writerow({k: ("null" if (index, k) in nulls else "") if v is None else v
                                 for k, v in row.items()})  # fmt: skip
    except OSError as exc:
        raise not_written("the trials' CSV", target, exc) from exc
    return target


def log_to_mlflow(
    source: Any,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    space: Space | None = None,
    metric: Metric | str | None = None,
) -> str:
    """Log a study to MLflow: a parent run for the study, one nested run per trial.

    Each trial's run gets its parameters, its state and reason (and why it was invalidated) as tags, its final
    metrics, and every intermediate metric at its step. The parent run gets the parameters and metric of the best
    every view shows (`report._shown.shown_best`: the seed re-runs' pick once they ran; with several objectives,
    none), its number as the tag ``tunesmith.best_trial``, and ``best.txt``: what ``tunesmith best`` says of it, or
    of the Pareto front (`best_text`). Values are logged as the live tracker logs them (`MLflowCallback`): a
    non-finite one (a diverged loss) as NaN, never left out (a diverged trial would show its last finite value, and
    sort first), and a metric name MLflow refuses (XGBoost's ``validation-error@0.7``) under the name `logged_name`
    gives it, with a `MetricRenamedWarning` naming each.

    Args:
        source: a `Study`, a `ReportData`, or a list of `TrialRecord` (then pass ``space`` and ``metric``).
        tracking_uri: where MLflow writes (default: MLflow's own; recent MLflow wants a database URI such
            as ``sqlite:///mlflow.db`` and refuses ``./mlruns`` unless ``MLFLOW_ALLOW_FILE_STORE=true``).
        experiment: the MLflow experiment's name (default: the study's name).
        space, metric: the space and metric when ``source`` is bare records.

    Returns:
        The parent run's id.

    Raises:
        MissingExtra: MLflow is not installed (``pip install 'tunesmith[mlflow]'``).
    """
    mlflow: Any = require("mlflow", "mlflow")
    from mlflow.entities import Metric as Logged

    from tunesmith.integrations.mlflow import MetricRenamedWarning, Stamps, logged_name

    renamed: dict[str, str] = {}

    def logged(values: dict[str, Any], prefix: str = "") -> dict[str, float]:
        named = {}
        for name, value in logged_values(values).items():
            as_logged = logged_name(prefix + name)
            named[as_logged] = value
            if as_logged != prefix + name:
                renamed[prefix + name] = as_logged
        return named

    stamps = Stamps()

    def log_at(values: dict[str, float], step: int) -> None:
        if values:
            stamp = stamps.next()
            entries = [Logged(name, value, stamp, step) for name, value in values.items()]
            mlflow.tracking.MlflowClient().log_batch(mlflow.active_run().info.run_id, metrics=entries)

    data = report_data(source, space=space, metric=metric)
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment or data.name)
    from tunesmith.report._shown import shown_best

    shown = shown_best(data)  # the trial every view shows: the seed re-runs' pick once they ran
    best = None if shown is None else shown.record
    with mlflow.start_run(run_name=data.name) as parent:
        mlflow.set_tags({"tunesmith.study": data.name, "tunesmith.metric": data.metric.name})
        if best is not None:
            mlflow.set_tag("tunesmith.best_trial", str(best.number))
            mlflow.log_params({f"best.{k}": v for k, v in best.params.items()})
            mlflow.log_metrics(logged(best.metrics, "best."))
        mlflow.log_text(_best_text(data, shown), "best.txt")
        for record in sorted(data.records, key=lambda r: r.number):
            with mlflow.start_run(run_name=f"trial-{record.number}", nested=True):
                mlflow.log_params(record.params)
                mlflow.set_tags({"state": record.state.value, "kind": record.kind.value if record.kind else "",
                                 "reason": record.reason or "", "seed": str(record.seed),
                                 "invalidated": record.invalidated or ""})  # fmt: skip
                for step, values in sorted(record.intermediate.items()):
                    log_at(logged(values), step)
                # Final metrics at the last step, so a metric's history ends with its final value: logged after the
                # report there (`Stamps`), or a tie with it showed the report.
                log_at(logged(record.metrics), max(record.intermediate, default=0))
    for name, as_logged in renamed.items():
        warnings.warn(f"MLflow refuses the metric name {name!r}: it is logged as {as_logged!r}",
                      MetricRenamedWarning, stacklevel=outside_stacklevel())  # fmt: skip
    return str(parent.info.run_id)


def log_to_tensorboard(
    source: Any, log_dir: str | Path, *, space: Space | None = None, metric: Metric | str | None = None
) -> Path:
    """Write a study that ran into a TensorBoard log folder: one run per trial, as
    `tunesmith.integrations.tensorboard.TensorBoardCallback` writes them (every reported value at its step, the
    final metrics at the last step, the HParams session with the trial's state), and the study's run as the callback
    draws it: ``best_<metric>``, the best value so far at each count of trials ended, in the order storage records
    their end (one objective), and the text ``tunesmith/best`` (`best_text`): the best every view shows (the seed
    re-runs' pick once they ran) with what they say of it, the Pareto front with several objectives, or why there is
    none.

    Args:
        source: a `Study`, a `ReportData`, or a list of `TrialRecord` (then pass ``space`` and ``metric``).
        log_dir: the folder TensorBoard reads; the study's runs go in ``<log_dir>/<folder_name(study name)>``.
        space, metric: the space and metric when ``source`` is bare records.

    Returns:
        The study's folder.

    Raises:
        ConfigError: the study's folder exists and is not empty (an earlier export, or a live callback, wrote there).
        MissingExtra: tensorboard is not installed (``pip install 'tunesmith[tensorboard]'``).
        FileNotWritten: a folder or file cannot be written.
    """
    from tunesmith.integrations.tensorboard import write_study

    data = report_data(source, space=space, metric=metric)
    curve = None if data.several else data.metric  # several objectives have no best: no curve
    return write_study(data.name, data.records, log_dir, _best_text(data, shown_best(data)), metric=curve)


def best_text(source: Any, *, space: Space | None = None, metric: Metric | str | None = None) -> str:
    """What a TensorBoard study run says of the best, as ``tunesmith best`` says it: the trials' states counted, then
    the best every view shows (`report._shown.shown_best`: the seed re-runs' pick once they ran) with its value,
    parameters and caveats (the re-runs' findings, the trials it cannot be told from, a scheduler's few trained
    fully, a PBT schedule); with several objectives the Pareto front, the chosen trial and what ``tunesmith best``
    says of them; or why there is none. The export's ``tunesmith/best``; pass it to the live callback,
    ``TensorBoardCallback(log_dir, best_text=best_text)``, and its ``tunesmith/result`` says the same.

    Args:
        source: a `Study`, a `ReportData`, or a list of `TrialRecord` (then pass ``space`` and ``metric``).
        space, metric: the space and metric when ``source`` is bare records.
    """
    data = report_data(source, space=space, metric=metric)
    return _best_text(data, shown_best(data))


def _best_text(data: ReportData, shown: ShownBest | None) -> str:
    """`best_text` of ``data``, whose best every view shows is ``shown``."""
    from tunesmith.integrations.tensorboard import front_text

    states: dict[str, int] = {}
    for record in data.records:
        states[record.state.value] = states.get(record.state.value, 0) + 1
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "no trials"
    lines = [f"study {data.name!r}: {counts}"]
    if data.several:  # as `tunesmith best` says a front: the choice, then its caveats
        front = data.front
        if not front:
            lines.append(f"no Pareto front: {no_feasible_note(data) or 'no complete trial has every objective yet'}")
        else:
            choice = data.choice
            lines.append(front_text(front, None if choice is None else choice.trial,
                                    None if choice is None else choice.why))  # fmt: skip
        said = (mixed_examples_note(data.records, data.metric), few_trained_note(data), near_front_note(data),
                data.void_choice, choice_off_front(data))  # fmt: skip
        lines.extend(note for note in said if note is not None)
    elif shown is None:
        why = no_feasible_note(data) or f"no complete trial has a finite {data.metric.name}"
        lines.append(f"no best: {why}")
    else:
        value = shown.record.value(data.metric.name)
        shown_value = "no value" if value is None else f"{value:.6g}"
        params = json.dumps(shown.record.params, default=repr)
        lines.append(f"best trial: #{shown.record.number}{shown.label}: {data.metric.name} = {shown_value} "
                     f"({data.metric.direction}); parameters {params}")  # fmt: skip
        if shown.note:
            lines.append(shown.note)
    return "\n\n".join(lines)
