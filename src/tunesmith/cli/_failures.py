"""Failures, read and recovered: one trial shown in full (`show`), failed trials re-queued after a fix (`retry`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from tunesmith import _trial_warnings as trial_warnings
from tunesmith._text import terminal_safe, times
from tunesmith.attributes import CheckpointRootAttr, read_attr
from tunesmith.cli._common import (
    CliError,
    _confirm_stored,
    _fmt,
    _friendly_errors,
    _print_json,
    _resolve_study,
    json_option,
    storage_option,
    trial_number,
)
from tunesmith.objective import COUNT, DIGEST, STDERR, Guardrail, Metric, without_digests
from tunesmith.study import CheckpointStore, Study
from tunesmith.study._checkpoints import CHECKPOINTED
from tunesmith.study._retry import CODE_FAILURES, FAILED_KINDS, owed_retry
from tunesmith.study._search_progress import command_arguments
from tunesmith.trial import TrialKind, TrialRecord, TrialState


def _echo(text: object) -> None:
    """One line of user data, exactly as stored: no markup, controls escaped, never wrapped."""
    click.echo(terminal_safe(text, markup=False))


def _when(moment: float | None) -> str:
    return "-" if moment is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))


def _pairs(values: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in values.items()) or "none"


def metric_text(
    metrics: Mapping[str, float], name: str, scale: float | None = None, guardrails: Sequence[Guardrail] = ()
) -> str:
    """Metric ``name`` of ``metrics`` as the report and `status` print it (`value_text`): returned per example (a
    ``stderr:<name>`` beside it), its estimate with its standard error and count, a proportion whose examples all
    agree read on ``scale`` (`Metric.scale`: ``0.913 ± 0.0163 (n=300)``); a metric one of ``guardrails`` bounds
    with the digits that keep it on its side of the bound (``0.099996`` under ``< 0.1``, never ``0.1``)."""
    from tunesmith.report._data import value_text  # the report package loads the analyses: only when printed

    return value_text(metrics, name, scale=scale, guardrails=guardrails)


def shown_metrics(
    metrics: Mapping[str, float], objectives: Sequence[Metric], guardrails: Sequence[Guardrail] = ()
) -> dict[str, str]:
    """Each metric of ``metrics`` as `metric_text` shows it, an objective's on its declared scale, a guarded one to
    the digits its bound needs. The storage keys that carry a per-example metric's standard error and count
    (``stderr:<m>``, ``count:<m>``) are folded into it, not listed as metrics of their own; ``--json`` keeps them,
    as the data. Its fingerprint (``digest:<m>``, bookkeeping for the holdout check) is no metric: left out."""
    scales = {metric.name: metric.scale for metric in objectives}
    return {name: metric_text(metrics, name, scales.get(name), guardrails) for name in metrics
            if not name.startswith((STDERR, COUNT, DIGEST))}  # fmt: skip


def _metrics_line(record: TrialRecord, objectives: Sequence[Metric], guardrails: Sequence[Guardrail]) -> str:
    """`show`'s metrics: a FAILED trial has no result, and what storage holds of its metrics depends on how it
    stopped (Ctrl-C keeps its last report, a killed worker none), so it shows the last it reported, labelled so,
    lest a partial value read as a result beside finished ones."""
    if record.state is not TrialState.FAILED:
        return _pairs(shown_metrics(record.metrics, objectives, guardrails))
    last, at = record.metrics, ""
    if not last and record.intermediate:
        step = max(record.intermediate)
        last, at = record.intermediate[step], f", at step {step}"
    if not last:
        return "none (it failed before reporting any)"
    return f"{_pairs(shown_metrics(last, objectives, guardrails))} (last reported before it failed{at}: not a result)"


def _checkpoint(study: Study, record: TrialRecord) -> tuple[str, bool, str]:
    """Trial ``record``'s checkpoint folder, whether it holds files now, and that in words: a trial marked
    checkpointed whose folder is empty had its files deleted by keep_checkpoints (or, when this machine cannot
    reach the folder the study recorded, keeps them there)."""
    folder = study.trial_checkpoint_dir(record.number)
    if CheckpointStore(study.checkpoint_root, study.keep_checkpoints).holds_files(record.number):
        return str(folder), True, f"{folder} (holds files)"
    stored = read_attr(study.attrs, CheckpointRootAttr)
    if not record.attrs.get(CHECKPOINTED):
        why = "none: the trial left no files there"
    elif stored is not None and Path(stored.path) != study.checkpoint_root:
        why = f"not here: the study keeps its checkpoints in {stored.path}, which this machine cannot reach"
    else:
        why = (
            "deleted by keep_checkpoints, which keeps only the best complete trials' checkpoints (with several "
            "objectives, the Pareto front's and the chosen trial's)"
        )
    return str(folder), False, f"{folder} ({why})"


def _show_record(
    study_name: str,
    record: TrialRecord,
    gone: str | None,
    objectives: Sequence[Metric],
    guardrails: Sequence[Guardrail],
    checkpoint: str,
) -> None:
    steps = sorted(record.intermediate)
    reports = f"{len(steps)} (steps {steps[0]}-{steps[-1]})" if steps else "0"
    duration = "-" if record.duration is None else f"{record.duration:.1f}s"
    _echo(f"{study_name}: trial #{record.number}")
    for label, value in (
        (
            "state",
            record.state.value
            + ("" if record.invalidated is None else f", invalidated: {record.invalidated}")
            + ("" if gone is None else f", but {gone}"),
        ),
        ("kind", "-" if record.kind is None else record.kind.value),
        ("reason", record.reason or "-"),
        ("params", _pairs(record.params)),
        ("seed", record.seed),
        ("metrics", _metrics_line(record, objectives, guardrails)),
        ("reports", reports),
        ("resource", _fmt(record.resource)),
        ("worker", record.worker or "-"),
        ("started", _when(record.started_at)),
        ("finished", f"{_when(record.finished_at)} ({duration})"),
        ("heartbeat", _when(record.heartbeat_at)),
        ("attrs", _pairs({k: v for k, v in record.attrs.items() if k != trial_warnings.KEY})),
        ("checkpoint", checkpoint),
    ):
        _echo(f"  {label:<10} {value}")
    for found in trial_warnings.recorded(record.attrs):  # the objective's, each kind once with its count
        _echo(f"  {'warned':<10} {found.describe()}, {times(found.count)}: {found.message}")
    if record.error:
        click.echo("traceback:" if "Traceback" in record.error else "error:")
        click.echo(terminal_safe(record.error.rstrip("\n"), markup=False, multiline=True))


@click.command()
@click.argument("target", nargs=-1, required=True, metavar="[STUDY_NAME] NUMBER")
@storage_option
@json_option
def show(target: tuple[str, ...], storage: str, as_json: bool) -> None:
    """Print trial NUMBER of STUDY_NAME (default: the most recent study) in full: its state, kind and
    reason, parameters, metrics, reports, worker, times, its checkpoint folder (whether it holds files now) and, for
    a failure, its whole traceback."""
    if len(target) > 2:
        raise CliError(f"show takes a study name and a trial number, got {len(target)} arguments: {' '.join(target)}")
    number = trial_number(target[-1], "tunesmith show NAME")
    study = _resolve_study(storage, target[0] if len(target) == 2 else None)
    with _friendly_errors():
        records = study.trials
    record = next((r for r in records if r.number == number), None)
    if record is None:
        held = f"its trials are #0-#{records[-1].number}" if records else "it has no trial yet"
        raise CliError(f"study {study.name!r} has no trial #{number}: {held}")
    gone = study.gone_trials().get(number)
    folder, holds, said = _checkpoint(study, record)
    if as_json:
        _print_json({"study": study.name, **record.to_json(), "metrics": without_digests(record.metrics),
                     "worker_gone": gone, "checkpoint": {"path": folder, "exists": holds}})  # fmt: skip
        return
    _show_record(study.name, record, gone, study.objectives or (study.metric,), study.guardrails, said)


def _named(study: Study) -> str:
    """The study's name and storage as a command pasted back takes them (``NAME --storage URL``)."""
    return command_arguments(study.name, study.storage.url)


def _other_kinds(study: Study, chosen: Sequence[TrialKind], *, defaulted: bool) -> str:
    """What `retry` adds to "nothing re-queued" when failures of kinds it was not asked for are owed a retry: how
    many of each, and the --kind that re-queues them; nothing when there are none."""
    with _friendly_errors():
        owed = owed_retry(study.trials, [kind for kind in FAILED_KINDS if kind not in chosen])
    if not owed:
        return ""
    counts = Counter(record.kind for record in owed)
    kinds = [kind for kind in FAILED_KINDS if kind in counts]  # in FAILED_KINDS' order, for a stable line
    listed = ", ".join(f"{counts[kind]} {kind.value}" for kind in kinds)
    # Only the code's failures are re-queued unasked: a timeout, a crash or a non-finite result may come from the
    # configuration itself, and would then fail again and spend the budget a second time.
    why = (
        "not re-queued by default, since these may come from the configuration rather than the code"
        if defaulted
        else "not among the kinds asked for"
    )
    flags = " ".join(f"--kind {kind.value}" for kind in kinds)
    return (
        f"; {len(owed)} FAILED trials of other kinds are owed one ({listed}), {why}: "
        f"`tunesmith retry {_named(study)} {flags}` re-queues them"
    )


@click.command()
@click.argument("study_name")
@storage_option
@click.option("--kind", "kinds", multiple=True, type=click.Choice([k.value for k in FAILED_KINDS]),
              help="Re-queue failures of this kind (repeatable; default: exception, bad_result and "
              "missing_metric, the failures of the code).")  # fmt: skip
def retry(study_name: str, storage: str, kinds: tuple[str, ...]) -> None:
    """Re-queue the FAILED trials of STUDY_NAME after a fix to the objective, each once.

    The next ``tunesmith run CONFIG`` or ``tunesmith worker STUDY_NAME`` runs them first, as new trials
    with the same parameters and seeds (``attrs["retry_of"]`` names the failure). A re-queued trial no
    longer spends the trial budget: its retry spends it instead, so a spent study can run them.
    """
    study = _resolve_study(storage, study_name)
    chosen = tuple(TrialKind(k) for k in kinds) or CODE_FAILURES
    with _friendly_errors():
        queued = study.retry_failed(chosen)
    which = ", ".join(k.value for k in chosen)
    if not queued:
        _echo(f"no FAILED trial of {study.name} of kind {which} is owed a retry: nothing re-queued"
              + _other_kinds(study, chosen, defaulted=not kinds))  # fmt: skip
        return
    numbers = ", ".join(f"#{n}" for n in queued)
    _echo(f"re-queued {len(queued)} failed trials of {study.name} ({numbers}; kind {which}); "
          f"`tunesmith run CONFIG` or `tunesmith worker {_named(study)}` runs them first")  # fmt: skip
    _confirm_stored(study)
