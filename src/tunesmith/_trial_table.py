"""Trials as flat rows: the table `tunesmith export` writes and `Study.trials_dataframe` returns.

A row holds one trial: ``number``, ``state``, ``kind``, ``reason``, ``seed``, ``value`` (the study's metric;
empty for a FAILED trial), ``resource``, ``started_at``, ``finished_at``, ``duration``, ``invalidated``,
``retry_of``, ``counts_toward_budget``, then one column per parameter (``params.<name>``) and per final metric
(``metrics.<name>``; not a per-example metric's fingerprint, ``digest:<name>``, which is bookkeeping). Every row
has every column (``None`` where a trial lacks it). It lives in the core so that the study and the report build the
one table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from tunesmith.budget import counts_toward_budget
from tunesmith.objective import without_digests
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["BASE_COLUMNS", "trial_table"]

BASE_COLUMNS = [
    "number", "state", "kind", "reason", "seed", "value", "resource", "started_at", "finished_at", "duration",
    "invalidated", "retry_of", "counts_toward_budget",
]  # fmt: skip


def trial_table(
    records: Iterable[TrialRecord], params: Sequence[str], metric: str, gone: Collection[int] = ()
) -> tuple[list[str], list[dict[str, Any]], set[tuple[int, str]]]:
    """The column names, one row per trial in trial order, and the (row, column) cells of parameters whose value
    is ``None`` (a choice such as ``max_depth=None``), which a CSV must tell from a parameter the trial did not have
    (inactive). ``params``: the space's parameters, in its order (a define-by-run parameter the space lacks comes
    after them); ``metric``: the study's metric, the ``value`` column (empty for a FAILED trial); ``gone``: RUNNING
    trials whose worker is gone (`Study.gone_trials`), which spend no trial budget, as `Budget.usage` counts them."""
    ordered = sorted(records, key=lambda r: r.number)
    extra_params = sorted({k for r in ordered for k in r.params} - set(params))
    metric_names = sorted({k for r in ordered for k in without_digests(r.metrics)})
    columns = BASE_COLUMNS + [f"params.{n}" for n in [*params, *extra_params]] + [f"metrics.{n}" for n in metric_names]
    rows: list[dict[str, Any]] = []
    nulls: set[tuple[int, str]] = set()
    for index, record in enumerate(ordered):
        row: dict[str, Any] = dict.fromkeys(columns)
        row.update(
            number=record.number,
            state=record.state.value,
            kind=None if record.kind is None else record.kind.value,
            reason=record.reason,
            seed=record.seed,
            # a FAILED trial's metrics are what it reported before it failed (or nothing, by how it was stopped):
            # never a result to sort beside finished ones; its metrics.<name> cells keep them
            value=None if record.state is TrialState.FAILED else record.metrics.get(metric),
            resource=record.resource,
            started_at=record.started_at,
            finished_at=record.finished_at,
            duration=record.duration,
            invalidated=record.invalidated,
            retry_of=record.attrs.get("retry_of"),  # the failed trial this one re-runs
            # an interrupted or re-queued failure does not, nor a trial whose worker is gone (it will be interrupted)
            counts_toward_budget=counts_toward_budget(record) and record.number not in gone,
        )
        for name, value in record.params.items():
            row[f"params.{name}"] = value
            if value is None:
                nulls.add((index, f"params.{name}"))
        for name, value in without_digests(record.metrics).items():
            row[f"metrics.{name}"] = value
        rows.append(row)
    return columns, rows, nulls
