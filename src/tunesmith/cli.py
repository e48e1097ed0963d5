"""The ``tunesmith`` command line: run studies from config files and read them back from storage."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tunesmith.attributes import HoldoutAttr, SamplerChoiceAttr, SeedStabilityAttr, read_attr
from tunesmith.errors import StudyNotFound, TunesmithError
from tunesmith.storage import Storage, open_storage, redact_url
from tunesmith.study import Study, StudyResult
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["cli", "main"]

DEFAULT_STORAGE = "sqlite:///tunesmith.db"
DEMO_STORAGE = "sqlite:///tunesmith-demo.db"

console = Console(highlight=False)
storage_option = click.option(
    "--storage",
    envvar="TUNESMITH_STORAGE",
    default=DEFAULT_STORAGE,
    show_default=True,
    help="Storage URL (also TUNESMITH_STORAGE); never printed with its password.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")


class CliError(click.ClickException):
    """A `TunesmithError` shown as one line, exit code 1, never a traceback."""


@contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except TunesmithError as exc:
        raise CliError(str(exc)) from None


def _open(storage: str) -> Storage:
    with _friendly_errors():
        return open_storage(storage)


def _resolve_study(storage: str, name: str | None) -> Study:
    store = _open(storage)
    with _friendly_errors():
        studies = store.list_studies()
        if name is None:
            if not studies:
                raise CliError(f"no studies in {redact_url(storage)}: run one with `tunesmith run CONFIG`")
            name = studies[-1].name  # the most recent
        try:
            return Study.load(name, store)
        except StudyNotFound:
            known = ", ".join(s.name for s in studies) or "none"
            raise CliError(f"no study named {name!r} in {redact_url(storage)} (studies: {known})") from None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _record_json(record: TrialRecord) -> dict[str, Any]:
    return {
        "number": record.number,
        "state": record.state.value,
        "params": record.params,
        "metrics": record.metrics,
        "reason": record.reason,
        "seed": record.seed,
        "resource": record.resource,
        "duration": record.duration,
    }


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, sort_keys=True, allow_nan=True))


def _trials_table(study: Study, records: list[TrialRecord], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("state")
    table.add_column(study.metric.name, justify="right")
    table.add_column("params")
    table.add_column("reason", overflow="fold")
    for record in records:
        value = record.metrics.get(study.metric.name)
        table.add_row(
            str(record.number),
            record.state.value,
            "" if value is None else _fmt(value),
            _params_text(record.params),
            record.reason or "",
        )
    return table


def _summary(study: Study, result: StudyResult | None = None, *, analyses: bool = True) -> None:
    """Where the study lives and how this run ended, then the report's terminal summary."""
    from tunesmith.report import summary

    console.print(f"[bold]{study.name}[/bold] in {redact_url(study.storage.url)}")
    if result is not None:
        console.print(f"stopped: {result.stop_reason}; this run: {result.trials_run} trials in {result.elapsed:.1f}s")
    with _friendly_errors():
        choice = read_attr(study.attrs, SamplerChoiceAttr)
    if choice is not None:
        console.print(f"sampler: {choice.why}")
    summary(study, console=console, analyses=analyses)


def _write_report(study: Study, path: str | None) -> None:
    if not path:
        return
    from tunesmith.report import write_report

    written = write_report(study, path)
    console.print(f"report: {written}")


@contextmanager
def _progress(study: Study, enabled: bool) -> Iterator[Callable[[Study, TrialRecord], None]]:
    """A rich progress bar of budget burned; yields the per-trial callback that advances it."""
    if not enabled:
        yield lambda _study, _record: None
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}% budget"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task(study.name, total=100.0, detail="")
    best_value: list[float] = []
    failed = [0]

    def advance(current: Study, record: TrialRecord) -> None:
        value = record.value(current.metric.name)
        is_better = value is not None and (not best_value or current.metric.better(value, best_value[0]))
        if record.state is TrialState.COMPLETE and value is not None and is_better:
            best_value[:] = [value]
        if record.state is TrialState.FAILED:
            failed[0] += 1
        usage = current.usage()
        spent = current.budget.fraction_spent(usage) * 100.0
        best_text = f"best {current.metric.name} {_fmt(best_value[0])}" if best_value else "no result yet"
        progress.update(task, completed=spent, detail=f"{usage.trials} trials · {best_text} · {failed[0]} failed")

    with progress:
        yield advance


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tunesmith")
def cli() -> None:
    """Budget-aware hyperparameter tuning with the discipline built in."""


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--storage", envvar="TUNESMITH_STORAGE", default=None, help="Overrides the config's storage.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Overrides the config's workers.")
@click.option("--trials", "n_trials", type=click.IntRange(min=1), default=None, help="Start at most N trials now.")
@click.option("--name", default=None, help="Overrides the config's study name.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: when a terminal).")
@click.option("--report", "report_path", default=None, help="HTML report path (default: STUDY-report.html).")
@click.option("--no-report", is_flag=True, help="Do not write the HTML report.")
def run(
    config: str, storage: str | None, workers: int | None, n_trials: int | None, name: str | None,
    progress: bool | None, report_path: str | None, no_report: bool,
) -> None:  # fmt: skip
    """Run (or resume) the study described by CONFIG (TOML or YAML)."""
    from tunesmith.config import load_config

    with _friendly_errors():
        cfg = load_config(config)
        objective = cfg.load_objective()
        study = Study(
            cfg.space,
            metric=cfg.metric,
            guardrails=cfg.guardrails,
            sampler=cfg.sampler,
            scheduler=cfg.scheduler,
            budget=cfg.budget,
            storage=storage or cfg.storage or DEFAULT_STORAGE,
            name=name or cfg.name,
            seed=cfg.seed,
        )
        worker_count = workers or cfg.workers
        executor = cfg.executor if worker_count == cfg.workers else ("processes" if worker_count > 1 else "inline")
        show = sys.stdout.isatty() if progress is None else progress
        # Define: a config with a holdout runs the whole sequence, the baseline across seeds first.
        from tunesmith.discipline.sequence import after_search, before_search

        study.set_attr("config", str(cfg.path))  # lets `tunesmith worker` join without --objective
        before_search(study, cfg, objective)
        with _progress(study, show) as advance:
            result = study.optimize(
                objective,
                n_trials=n_trials,
                workers=worker_count,
                executor=executor,
                callbacks=[advance],
                memory_limit=cfg.memory_limit,
                trial_timeout=cfg.trial_timeout,
            )
        _summary(study, result)
        # Identify, Fix, Test: top candidates across seeds, the holdout opened once, the verdict.
        verdict = after_search(study, cfg, objective)
        if verdict is not None:
            click.secho(verdict.summary(), fg="green" if verdict.ready else "red")
        _write_report(study, None if no_report else report_path or f"{study.name}-report.html")


@cli.command()
@click.argument("study_name", required=False)
@storage_option
@json_option
@click.option("--state", type=click.Choice([s.value for s in TrialState]), default=None, help="Only trials in STATE.")
def trials(study_name: str | None, storage: str, as_json: bool, state: str | None) -> None:
    """List the trials of STUDY_NAME (default: the most recent study)."""
    study = _resolve_study(storage, study_name)
    records = [r for r in study.trials if state is None or r.state.value == state]
    if as_json:
        for record in records:
            _print_json(_record_json(record))
        return
    console.print(_trials_table(study, records, f"{study.name}: {len(records)} trials"))


@cli.command()
@click.argument("study_name", required=False)
@storage_option
@json_option
def best(study_name: str | None, storage: str, as_json: bool) -> None:
    """Show the best trial of STUDY_NAME (default: the most recent study)."""
    study = _resolve_study(storage, study_name)
    record = study.best
    if record is None:
        raise CliError(f"study {study.name!r} has no COMPLETE trial yet")
    with _friendly_errors():
        stability = read_attr(study.attrs, SeedStabilityAttr)
    winner = None if stability is None else stability.winner
    if as_json:
        _print_json({"study": study.name, **_record_json(record), "validated_winner": winner})
        return
    console.print(f"[bold]{study.name}[/bold] best trial #{record.number} (seed {record.seed})")
    if stability is not None and winner is not None and winner != record.number:
        console.print(
            f"[yellow]re-run across {len(stability.seeds or ())} seeds, trial #{winner} is the validated winner "
            f"(rule: {stability.rule}); the search's best below did not hold up[/yellow]"
        )
    for key, value in record.params.items():
        console.print(f"  {key} = {_fmt(value)}")
    for key, value in record.metrics.items():
        console.print(f"  [green]{key}[/green] = {_fmt(value)}")


@cli.command()
@click.argument("study_name", required=False)
@storage_option
def status(study_name: str | None, storage: str) -> None:
    """Budget burned, trial states, the sampler's choice and the best so far."""
    study = _resolve_study(storage, study_name)
    usage = study.usage()
    budget = study.budget
    parts = []
    if budget.trials is not None:
        parts.append(f"trials {usage.trials}/{budget.trials}")
    if budget.wall_seconds is not None:
        parts.append(f"wall time {usage.elapsed:.0f}s/{budget.wall_seconds:.0f}s")
    if budget.resource is not None:
        parts.append(f"resource {usage.resource:g}/{budget.resource:g}")
    console.print(f"budget: {', '.join(parts) or 'unbounded'} ({budget.fraction_spent(usage):.0%} spent)")
    _summary(study)


@cli.command()
@storage_option
@json_option
def studies(storage: str, as_json: bool) -> None:
    """List the studies in the storage."""
    store = _open(storage)
    with _friendly_errors():
        infos = store.list_studies()
        for info in infos:
            count = len(store.get_trials(info.id))
            if as_json:
                _print_json({"name": info.name, "trials": count, "created_at": info.created_at})
            else:
                console.print(f"{info.name}  ({count} trials)")


@cli.command()
@click.option("--storage", envvar="TUNESMITH_STORAGE", default=DEMO_STORAGE, show_default=True, help="Storage URL.")
@click.option("--trials", "n_trials", type=click.IntRange(min=2), default=60, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: when a terminal).")
@click.option("--report", "report_path", default="tunesmith-demo-report.html", show_default=True,
              help="HTML report path ('' for none).")  # fmt: skip
def demo(storage: str, n_trials: int, workers: int, seed: int, progress: bool | None, report_path: str) -> None:
    """Tune an MLP on scikit-learn's digits, then score the winner once on a locked holdout."""
    from tunesmith import demo as demo_study

    started = time.monotonic()
    name = f"digits-mlp-{time.strftime('%Y%m%d-%H%M%S')}"
    with _friendly_errors():
        study = Study(
            demo_study.make_space(),
            metric=demo_study.METRIC,
            guardrails=demo_study.GUARDRAILS,
            budget=demo_study.default_budget(n_trials),
            scheduler=demo_study.make_scheduler(),
            storage=storage,
            name=name,
            seed=seed,
        )
        console.print(
            f"tuning MLPClassifier on digits: {n_trials} trials, {workers} worker processes, up to "
            f"{demo_study.EPOCHS} epochs each (ASHA stops the weak at 1, 3 and 9), storage {redact_url(storage)}"
        )
        show = sys.stdout.isatty() if progress is None else progress
        with _progress(study, show) as advance:
            result = study.optimize(demo_study.objective, workers=workers, executor="processes", callbacks=[advance])
        _summary(study, result)
    if result.best is None:
        raise CliError("no trial completed: nothing to score on the holdout")
    from tunesmith.discipline.sequence import demo_verdict

    with _friendly_errors():
        # Test: the baseline and the top 3 across 3 new seeds, then the locked holdout, opened once.
        stability, verdict = demo_verdict(study)
        console.print(stability.summary(), markup=False)
        holdout = read_attr(study.attrs, HoldoutAttr) or HoldoutAttr()
        for row in holdout.rows or ():
            console.print(f"{row.label}: validation {row.validation:.4f}, holdout {row.holdout:.4f}", markup=False)
        click.secho(verdict.summary(), fg="green" if verdict.ready else "red")
        _write_report(study, report_path)
    console.print(
        f"done in {time.monotonic() - started:.0f}s; read it back with: "
        f"tunesmith best --storage {redact_url(storage)} {study.name}"
    )


@cli.command()
@click.argument("study_name", required=False)
@storage_option
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default="report.html", show_default=True, help="HTML file."
)
def report(study_name: str | None, storage: str, output: str) -> None:
    """Write the HTML report of STUDY_NAME (default: the most recent study): one offline file."""
    from tunesmith.report import analyse, report_data, summary, write_report

    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        data = report_data(study)
        findings = analyse(data)
        path = write_report(data, output, findings=findings)
        summary(data, console=console, findings=findings)
    console.print(f"report written to {path}")


@cli.command()
@click.argument("study_name", required=False)
@storage_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="CSV file (default: stdout).")
@click.option("--mlflow", "to_mlflow", is_flag=True, help="Also log the study to MLflow (tunesmith[mlflow]).")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI (default: MLflow's own).")
@click.option("--experiment", default=None, help="MLflow experiment (default: the study's name).")
def export(
    study_name: str | None,
    storage: str,
    output: str | None,
    to_mlflow: bool,
    tracking_uri: str | None,
    experiment: str | None,
) -> None:
    """Export the trials of STUDY_NAME as CSV rows (one per trial), and optionally to MLflow."""
    import csv

    from tunesmith.report import log_to_mlflow, trial_rows, write_csv

    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        if output is not None:
            path = write_csv(study, output)
            console.print(f"{len(study.trials)} trials written to {path}")
        elif not to_mlflow:
            columns, rows = trial_rows(study)
            writer = csv.DictWriter(sys.stdout, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
        if to_mlflow:
            run_id = log_to_mlflow(study, tracking_uri=tracking_uri, experiment=experiment)
            console.print(f"logged to MLflow: parent run {run_id}")


@cli.command("lr-find")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--min-lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Overrides lr_probe.min_lr.")
@click.option("--max-lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Overrides lr_probe.max_lr.")
@click.option("--num-steps", type=click.IntRange(min=5), default=None, help="Overrides lr_probe.num_steps.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write the curve (HTML).")
@json_option
def lr_find(
    config: str, min_lr: float | None, max_lr: float | None, num_steps: int | None, plot_path: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Run the LR range test for CONFIG, whose lr_probe returns step(lr) -> loss, and suggest bounds."""
    from tunesmith.lr.cli_support import run_lr_find

    with _friendly_errors():
        outcome = run_lr_find(config, min_lr=min_lr, max_lr=max_lr, num_steps=num_steps)
    result = outcome.result
    if plot_path is not None:
        result.plot(title=f"LR range test: {outcome.config.name}").write_html(plot_path, include_plotlyjs=True)
    if as_json:
        _print_json(outcome.to_json())
        return
    table = Table(title=f"LR range test ({len(result.lrs)} steps, {result.stop_reason})", title_justify="left")
    table.add_column("suggestion")
    table.add_column("learning rate", justify="right")
    for name, lr in result.suggestions.items():
        table.add_row(name, f"{lr:.3g}")
    console.print(table)
    if not result.diverged:
        console.print("the loss did not diverge before max_lr: raise --max-lr to see where it does")
    console.print(f"put in the space: {outcome.bounds_entry()}")
    if plot_path is not None:
        console.print(f"plot written to {plot_path}")


# Scale-out: workers joining a study from any machine, and the storage's schema --------------------
storage_file_option = click.option(
    "--storage-file",
    envvar="TUNESMITH_STORAGE_FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="A file whose first line is the storage URL (also TUNESMITH_STORAGE_FILE): keeps a password off "
    "command lines and out of the environment.",
)


def _storage_url(storage: str | None, storage_file: str | None, default: str | None = None) -> str:
    """The storage URL from --storage or --storage-file (the command line beats the environment)."""
    from click.core import ParameterSource

    from tunesmith.storage import read_storage_file

    context = click.get_current_context()
    from_line = {
        name: context.get_parameter_source(name) == ParameterSource.COMMANDLINE for name in ("storage", "storage_file")
    }
    if storage and storage_file and from_line["storage"] == from_line["storage_file"]:
        raise CliError("give the storage once: --storage (TUNESMITH_STORAGE) or --storage-file (its _FILE variable)")
    if storage_file and not (storage and from_line["storage"]):
        with _friendly_errors():
            return read_storage_file(storage_file)
    if storage:
        return storage
    if default is not None:
        return default
    raise CliError("no storage given: pass --storage URL or --storage-file PATH (or set TUNESMITH_STORAGE)")


def _worker_objective(study: Study, reference: str | None) -> Callable[..., Any]:
    """The objective from --objective, else the study's ``objective`` or ``config`` attribute."""
    from pathlib import Path

    from tunesmith.config import import_object, load_config

    attrs = study.attrs
    with _friendly_errors():
        if reference is not None:
            objective = import_object(reference, base_dir=Path.cwd(), what="objective")
            if "objective" not in attrs and "config" not in attrs:
                study.set_attr("objective", reference)  # so that later workers need no --objective
            return objective
        if isinstance(attrs.get("objective"), str):
            return import_object(attrs["objective"], base_dir=Path.cwd(), what="objective")
        if isinstance(attrs.get("config"), str):
            return load_config(attrs["config"]).load_objective()
    raise CliError(
        f"study {study.name!r} records no objective (attribute 'objective' or 'config'): "
        "pass --objective module:function"
    )


@cli.command()
@click.argument("study_name")
@click.option("--storage", envvar="TUNESMITH_STORAGE", default=None, help="Storage URL (also TUNESMITH_STORAGE).")
@storage_file_option
@click.option("--objective", default=None, help="module:function (default: the one the study records).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Trials at once here.")
@click.option("--executor", type=click.Choice(["inline", "processes", "ray"]), default=None,
              help="How this worker runs its trials (default: inline, or processes with --workers > 1).")  # fmt: skip
@click.option("--heartbeat-interval", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds between heartbeats (default: the study's).")  # fmt: skip
@click.option("--grace", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds of silence after which another worker's trial counts as lost.")  # fmt: skip
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="When the budget is spent, wait for other workers' trials and run what lost ones free.")  # fmt: skip
def worker(
    study_name: str, storage: str | None, storage_file: str | None, objective: str | None, workers: int,
    executor: str | None, heartbeat_interval: float | None, grace: float | None, wait: bool,
) -> None:  # fmt: skip
    """Join the study STUDY_NAME from this machine and run its trials until its budget is spent.

    Any number of workers on any number of machines may share one storage (PostgreSQL across
    machines): the trial budget is counted in the storage, so it is exact over all of them.
    """
    url = _storage_url(storage, storage_file)
    store = _open(url)
    overrides: dict[str, Any] = {}
    if heartbeat_interval is not None:
        overrides["heartbeat_interval"] = heartbeat_interval
    if grace is not None:
        overrides["grace"] = grace
    with _friendly_errors():
        try:
            study = Study.load(study_name, store, **overrides)
        except StudyNotFound:
            known = ", ".join(s.name for s in store.list_studies()) or "none"
            raise CliError(f"no study named {study_name!r} in {redact_url(url)} (studies: {known})") from None
        run_objective = _worker_objective(study, objective)
        chosen = executor or ("processes" if workers > 1 else "inline")
        ran, stop_reason = 0, "done"
        while True:
            result = study.optimize(run_objective, workers=workers, executor=chosen)
            ran += result.trials_run
            stop_reason = result.stop_reason
            if not wait or not study.settle():
                break
    console.print(f"worker ran {ran} trials of {study.name} in {redact_url(url)}; stopped: {stop_reason}")


@cli.group("storage")
def storage_group() -> None:
    """The storage itself: its schema."""


@storage_group.command("upgrade")
@click.option("--storage", envvar="TUNESMITH_STORAGE", default=None, help="Storage URL (also TUNESMITH_STORAGE).")
@storage_file_option
def storage_upgrade(storage: str | None, storage_file: str | None) -> None:
    """Migrate a SQL storage written by an older tunesmith to this version's schema."""
    from tunesmith.storage import SQLStorage

    url = _storage_url(storage, storage_file, default=DEFAULT_STORAGE)
    with _friendly_errors():
        store = open_storage(url)
        if not isinstance(store, SQLStorage):
            raise CliError(f"{redact_url(url)} is not a SQL storage: only SQL storages have a schema")
        version = store.schema_version
        store.close()
    console.print(f"{redact_url(url)} is at schema version {version}")

# The discipline: plan a search, open the holdout once, the verdict ----------------------------------
@cli.command("plan")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--trial-cost", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds one full-length trial takes (default: unknown, treated as expensive).")  # fmt: skip
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Overrides the config's trial budget.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Overrides the config's workers.")
@click.option("--max-resource", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Full training length in resource units (default: the scheduler's max_resource).")  # fmt: skip
@click.option("--min-resource", type=click.FloatRange(min=0, min_open=True), default=None,
              help="First resource at which trials can be compared.")  # fmt: skip
@click.option("--early-signal", type=click.Choice(["yes", "unsure", "no"]), default="yes", show_default=True,
              help="Do early results predict final ones?")  # fmt: skip
@click.option("--adaptive", is_flag=True, help="Training can take new hyperparameters from a checkpoint (PBT).")
@json_option
def plan_command(
    config: str, trial_cost: float | None, trials: int | None, workers: int | None, max_resource: float | None,
    min_resource: float | None, early_signal: str, adaptive: bool, as_json: bool,
) -> None:  # fmt: skip
    """Recommend the search method and scheduler for CONFIG, with what its budget buys under each."""
    from tunesmith.config import load_config
    from tunesmith.discipline.planner import plan_for_config

    with _friendly_errors():
        cfg = load_config(config)
        plan = plan_for_config(
            cfg, trial_cost=trial_cost, trials=trials, workers=workers, max_resource=max_resource,
            min_resource=min_resource, early_signal={"yes": True, "unsure": None, "no": False}[early_signal],
            adaptive=adaptive,
        )  # fmt: skip
    if as_json:
        _print_json(plan.to_json())
        return
    click.echo(plan.summary())


@cli.command("finalize")
@click.argument("study_name", required=False)
@storage_option
@click.option("--evaluate", "evaluate_ref", required=True, help="module:function, evaluate(params, seed) -> dict.")
@click.option("--shifted", "shifted_ref", default=None, help="module:function on a shifted or time-split test set.")
@click.option("--force", is_flag=True, help="Open the holdout again although it was opened (recorded as forced).")
@json_option
def finalize_command(
    study_name: str | None, storage: str, evaluate_ref: str, shifted_ref: str | None, force: bool, as_json: bool
) -> None:
    """Score the chosen configuration of STUDY_NAME once on the locked holdout and print the verdict."""
    from pathlib import Path

    from tunesmith.config import import_object
    from tunesmith.discipline.holdout import finalize

    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        evaluate = import_object(evaluate_ref, base_dir=Path.cwd(), what="holdout evaluation")
        shifted = None if shifted_ref is None else import_object(shifted_ref, base_dir=Path.cwd(), what="shifted")
        verdict = finalize(study, evaluate, force=force, shifted=shifted)
    if as_json:
        _print_json(verdict.to_attr())
        return
    click.secho(verdict.summary(), fg="green" if verdict.ready else "red")


@cli.command("dashboard")
@click.argument("study_name", required=False)
@storage_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback only by default).")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, show_default=True, help="0: a free port.")
@click.option("--refresh", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True,
              help="Seconds between the page's reads.")  # fmt: skip
@click.option("--allow-remote", is_flag=True, help="Serve on a non-loopback address (the dashboard has no login).")
def dashboard_command(
    study_name: str | None, storage: str, host: str, port: int, refresh: float, allow_remote: bool
) -> None:
    """Serve a live dashboard of STUDY_NAME (default: the most recent study) until Ctrl-C; it only reads."""
    from tunesmith.dashboard import serve

    with _friendly_errors():
        try:
            server = serve(storage, study_name, host, port, refresh=refresh, allow_remote=allow_remote)
        except StudyNotFound:
            raise CliError(f"no study named {study_name!r} in {redact_url(storage)}") from None
        except OSError as exc:
            raise CliError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    click.echo(f"tunesmith dashboard at {server.url} (storage {server.storage_label}); Ctrl-C to stop")
    try:
        server.wait()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.shutdown()

def main() -> None:
    """Console-script entry point."""
    cli(prog_name="tunesmith")


if __name__ == "__main__":
    main()
