"""Running a study: `run` (from a config file) and `demo` (the built-in digits study)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tunesmith._text import safe_file_name, terminal_safe
from tunesmith.attributes import HoldoutAttr, read_attr
from tunesmith.cli._common import DEFAULT_STORAGE, DEMO_STORAGE, CliError, _fmt, _friendly_errors, _summary, console
from tunesmith.storage import redact_url
from tunesmith.study import MIN_FULLY_TRAINED, Study, trained_fully
from tunesmith.trial import TrialRecord, TrialState


def _plain(text: str) -> str:
    """A summary of several lines for `click.echo` or ``markup=False``: controls escaped, lines kept."""
    return terminal_safe(text, markup=False, multiline=True)


def _write_report(study: Study, path: str | None) -> None:
    if not path:
        return
    from tunesmith.report import write_report

    written = write_report(study, path)
    console.print(terminal_safe(f"report: {written}"))


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
    task = progress.add_task(terminal_safe(study.name), total=100.0, detail="")  # both columns are markup
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
        detail = terminal_safe(f"{usage.trials} trials · {best_text} · {failed[0]} failed")
        progress.update(task, completed=spent, detail=detail)

    with progress:
        yield advance


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--storage", envvar="TUNESMITH_STORAGE", default=None, help="Overrides the config's storage.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Overrides the config's workers.")
@click.option("--trials", "n_trials", type=click.IntRange(min=1), default=None, help="Start at most N trials now.")
@click.option("--name", default=None, help="Overrides the config's study name.")
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: when a terminal).")
@click.option("--report", "report_path", default=None,
              help="HTML report path (default: STUDY-report.html, STUDY made a safe file name).")  # fmt: skip
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
        _state_training(study)
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
            click.secho(_plain(verdict.summary()), fg="green" if verdict.ready else "red")
        _write_report(study, None if no_report else report_path or f"{safe_file_name(study.name)}-report.html")


@click.command()
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
            f"{demo_study.EPOCHS} epochs each (ASHA stops the weak at 2 and 6), "
            f"storage {terminal_safe(redact_url(storage))}"
        )
        _state_training(study)
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
        console.print(_plain(stability.summary()), markup=False)
        holdout = read_attr(study.attrs, HoldoutAttr) or HoldoutAttr()
        for row in holdout.rows or ():
            console.print(
                _plain(f"{row.label}: validation {row.validation:.4f}, holdout {row.holdout:.4f}"), markup=False
            )
        click.secho(_plain(verdict.summary()), fg="green" if verdict.ready else "red")
        _write_report(study, report_path)
    console.print(
        f"done in {time.monotonic() - started:.0f}s; read it back with: "
        f"tunesmith best --storage {terminal_safe(redact_url(storage))} {terminal_safe(study.name)}"
    )


def _state_training(study: Study) -> None:
    """Say up front how many configurations the budget trains to the full resource (a warning under 5)."""
    fully = trained_fully(study.budget, study.scheduler)
    if fully is not None:
        style = "yellow" if fully[0] < MIN_FULLY_TRAINED else "dim"
        console.print(f"[{style}]{terminal_safe(fully[1])}[/{style}]")
