"""Trials as flat rows (CSV, or any table format), and a study logged to MLflow.

A row holds one trial: ``number``, ``state``, ``kind``, ``reason``, ``seed``, ``value`` (the study's
metric), ``resource``, ``started_at``, ``finished_at``, ``duration``, ``invalidated`` (why
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
import math
from pathlib import Path
from typing import Any

from tunesmith.budget import counts_toward_budget
from tunesmith.errors import require
from tunesmith.objective import Metric
from tunesmith.report._data import report_data
from tunesmith.space import Space

__all__ = ["log_to_mlflow", "trial_rows", "write_csv"]

BASE_COLUMNS = [
    "number", "state", "kind", "reason", "seed", "value", "resource", "started_at", "finished_at", "duration",
    "invalidated", "retry_of", "counts_toward_budget",
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
    """`trial_rows`, and the (row, column) cells of parameters whose value is ``None`` (a choice such as
    ``max_depth=None``), which a CSV must tell from a parameter the trial did not have (inactive)."""
    records = sorted(data.records, key=lambda r: r.number)
    param_names = list(data.space)
    extra_params = sorted({k for r in records for k in r.params} - set(param_names))
    metric_names = sorted({k for r in records for k in r.metrics})
    columns = (
        BASE_COLUMNS + [f"params.{n}" for n in param_names + extra_params] + [f"metrics.{n}" for n in metric_names]
    )
    rows: list[dict[str, Any]] = []
    nulls: set[tuple[int, str]] = set()
    for index, record in enumerate(records):
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(
            number=record.number,
            state=record.state.value,
            kind=None if record.kind is None else record.kind.value,
            reason=record.reason,
            seed=record.seed,
            value=record.metrics.get(data.metric.name),
            resource=record.resource,
            started_at=record.started_at,
            finished_at=record.finished_at,
            duration=record.duration,
            invalidated=record.invalidated,
            retry_of=record.attrs.get("retry_of"),  # the failed trial this one re-runs
            counts_toward_budget=counts_toward_budget(record),  # an interrupted or re-queued failure does not
        )
        for name, value in record.params.items():
            row[f"params.{name}"] = value
            if value is None:
                nulls.add((index, f"params.{name}"))
        for name, value in record.metrics.items():
            row[f"metrics.{name}"] = value
        rows.append(row)
    return columns, rows, nulls


def write_csv(source: Any, path: str | Path, *, space: Space | None = None, metric: Metric | str | None = None) -> Path:
    """Write `trial_rows` to a CSV file with a header line; return the path.

    An empty cell is a value the trial does not have (an inactive parameter, a metric it did not report); a
    parameter whose value is ``None`` (a choice) is written ``null``, which a warm start reads back as ``None``.
    """
    columns, rows, nulls = _table(report_data(source, space=space, metric=metric))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for index, row in enumerate(rows):
            writer.writerow({k: ("null" if (index, k) in nulls else "") if v is None else v for k, v in row.items()})
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

    Each trial's run gets its parameters, its state and reason (and why it was invalidated) as tags, its
    final metrics, and every intermediate metric at its step. The parent run gets the best trial's
    parameters and metric. Non-finite values are skipped (MLflow rejects them).

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
    data = report_data(source, space=space, metric=metric)
    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment or data.name)
    best = data.best
    with mlflow.start_run(run_name=data.name) as parent:
        mlflow.set_tags({"tunesmith.study": data.name, "tunesmith.metric": data.metric.name})
        if best is not None:
            mlflow.log_params({f"best.{k}": v for k, v in best.params.items()})
            mlflow.log_metrics(_finite({f"best.{k}": v for k, v in best.metrics.items()}))
        for record in sorted(data.records, key=lambda r: r.number):
            with mlflow.start_run(run_name=f"trial-{record.number}", nested=True):
                mlflow.log_params(record.params)
                mlflow.set_tags({"state": record.state.value, "kind": record.kind.value if record.kind else "",
                                 "reason": record.reason or "", "seed": str(record.seed),
                                 "invalidated": record.invalidated or ""})  # fmt: skip
                for step, values in sorted(record.intermediate.items()):
                    mlflow.log_metrics(_finite(values), step=step)
                # Final metrics at the last step, so a metric's history ends with its final value.
                mlflow.log_metrics(_finite(record.metrics), step=max(record.intermediate, default=0))
        return str(parent.info.run_id)


def _finite(values: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}
