"""The discipline: plan a search, open the holdout once, the verdict; and the LR range test."""

from __future__ import annotations

import shlex
from typing import Any

import click
from click.core import ParameterSource
from rich.table import Table

from tunesmith._text import terminal_safe
from tunesmith.cli._common import (
    NOT_READY_EXIT,
    NOT_SHOWN_READY_EXIT,
    CliError,
    _confirm_stored,
    _friendly_errors,
    _interruptible,
    _print_json,
    _resolve_study,
    console,
    exit_unless_ready,
    json_option,
    storage_option,
    storage_options,
    storage_url,
    verdict_colour,
)
from tunesmith.lr.range_test import BOTTOM_IN_NOISE, FALL_IN_NOISE, MIN_READ_STEPS
from tunesmith.objective import Metric, metric_named
from tunesmith.space import Space
from tunesmith.study import Study


@click.command("plan")
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
@click.option("--early-signal-from", "signal_from", default=None, metavar="STUDY",
              help="Read --early-signal (and --min-resource) from STUDY's curves: a search without early stopping, "
                   "in --storage, else the config's storage.")  # fmt: skip
@click.option("--adaptive", is_flag=True, help="Training can take new hyperparameters from a checkpoint (PBT).")
@storage_options(config=True)
@json_option
def plan_command(
    config: str, trial_cost: float | None, trials: int | None, workers: int | None, max_resource: float | None,
    min_resource: float | None, early_signal: str, signal_from: str | None, adaptive: bool, storage: str | None,
    storage_file: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Recommend the search method and scheduler for CONFIG, with what its budget buys under each."""
    from tunesmith.config import load_config
    from tunesmith.discipline.planner import plan_for_config

    with _friendly_errors():
        cfg = load_config(config)
    stated = {"yes": True, "unsure": None, "no": False}[early_signal]
    measured: dict[str, Any] | None = None
    if signal_from is not None:
        if click.get_current_context().get_parameter_source("early_signal") is not ParameterSource.DEFAULT:
            raise CliError(
                f"give the early signal once, got --early-signal {early_signal} and --early-signal-from "
                f"{signal_from}: drop one of them"
            )
        url = storage_url(storage, storage_file, config=cfg.storage, say=not as_json)
        stated, start, measured = _measured_signal(url, signal_from)
        if min_resource is None:
            min_resource = start
    learned = None
    if cfg.space is None:  # defined by run: the space its stored trials asked for, when the study has run
        learned = _learned_space(storage_url(storage, storage_file, config=cfg.storage, say=False), cfg.name)
    with _friendly_errors():
        plan = plan_for_config(
            cfg, trial_cost=trial_cost, trials=trials, workers=workers, max_resource=max_resource,
            min_resource=min_resource, early_signal=stated, adaptive=adaptive,
            signal_read=None if measured is None else measured["source"], space=learned,
        )  # fmt: skip
    if as_json:
        _print_json(plan.to_json() if measured is None else {**plan.to_json(), "early_signal_from": measured})
        return
    if measured is not None:
        for line in measured["lines"]:
            click.echo(terminal_safe(line, markup=False))
    click.echo(terminal_safe(plan.summary(), markup=False, multiline=True))


def _learned_space(url: str, name: str) -> Space | None:
    """The space study ``name`` in ``url`` learned from what its trials asked for; ``None`` when the SQLite file or
    the study does not exist yet (nothing is created to find out). A storage that does not answer is said as it is:
    read as "no trial yet", its advice to run a few trials misled."""
    from tunesmith.errors import DatabaseMissing, StudyNotFound
    from tunesmith.storage import open_storage

    with _friendly_errors():
        try:
            return Study.load(name, open_storage(url, create=False)).space
        except (DatabaseMissing, StudyNotFound):
            return None


def _measured_signal(url: str, name: str) -> tuple[bool | None, float | None, dict[str, Any]]:
    """What study ``name`` in ``url`` says of the early signal (`tunesmith.analysis.early_signal`): the plan's
    ``early_signal`` and ``min_resource`` (``None``: none read), and what to print and record of it."""
    from tunesmith.analysis import early_signal

    study = _resolve_study(url, name)
    signal = early_signal(study.trials, study.metric, study.scheduler)
    if signal is None:
        raise CliError(
            f"study {name!r} has no curves of {study.metric.name!r} to read the early signal from: its trials must "
            "report it at each step (trial.report) while training to the end"
        )
    stated, start = signal.stated()
    word = {True: "yes", None: "unsure", False: "no"}[stated]
    at = "" if start is None else f", min_resource={start:g}"
    # A study whose curves could not tell (a rung scheduler chose which trials trained to the end, or too few did)
    # leaves the plan hedging; said so, where the plan said it read "unsure" from the study.
    kept, unread = signal.kept_by, all(r.reading == "too few" for r in signal.rungs)
    source = (f"not read: {kept} chose which trials of study {name!r} trained to the end" if kept is not None else
              f"not read: too few trials of study {name!r} trained to the end" if unread else
              f"read from study {name!r}")  # fmt: skip
    lines = [*signal.lines(), f"planned with early signal: {word}{at} ({source})"]
    return stated, start, {"study": name, "early_signal": stated, "min_resource": start, "lines": lines,
                           "reading": signal.to_json(), "source": source}  # fmt: skip


def _watched(given: str) -> Metric:
    """A ``--watch`` value: ``NAME`` (minimised, refused where it reads like a score) or ``NAME:max``/``NAME:min``."""
    name, _, direction = given.rpartition(":")
    if name and direction in ("max", "min"):
        return Metric(name, "max" if direction == "max" else "min")
    return metric_named(given, fix=f"write --watch {given}:max (or {given}:min if lower really is better)")


@click.command("finalize")
@click.argument("study_name", required=False)
@storage_option
@click.option("--evaluate", "evaluate_ref", required=True, help="module:function, evaluate(params, seed) -> dict.")
@click.option("--shifted", "shifted_ref", default=None, help="module:function on a shifted or time-split test set.")
@click.option("--force", is_flag=True, help="Open the holdout again although it was opened (recorded as forced).")
@click.option("--holdout-name", default=None,
              help="The holdout set's name, the same wherever it is read (default: the evaluate reference).")
@click.option("--watch", "watch", multiple=True,
              help="A metric the proxy-overfitting check watches (repeatable): NAME (minimised) or NAME:max.")
@click.option("--rerun-top", "rerun_top", type=click.IntRange(min=1), default=None, metavar="K",
              help="First re-run the top K configurations across fresh seeds with the study's objective "
                   "(ts.validate_top), so that the verdict judges their pick and its seed stability.")  # fmt: skip
@click.option("--seeds", type=click.IntRange(min=2), default=None,
              help="Fresh seeds each re-run configuration gets (default: 5); needs --rerun-top.")  # fmt: skip
@click.option("--objective", "objective_ref", default=None,
              help="module:function the re-runs call (default: the one the study records; another is refused).")
@click.option("--baseline", "baseline", multiple=True, metavar="NAME=VALUE",
              help="A parameter of the baseline configuration (the model's defaults), repeatable: it runs on the "
                   "re-runs' seeds and the verdict's baseline margin judges the winner against it; needs "
                   "--rerun-top.")  # fmt: skip
@click.option("--progress/--no-progress", default=None,
              help="Show progress and the time left on stderr (default: a bar on a terminal; elsewhere, as in a log, "
                   "a line a minute once a phase has run a minute).")  # fmt: skip
@click.option("--require-ready", is_flag=True,
              help=f"Exit {NOT_READY_EXIT} when the verdict is not ready and {NOT_SHOWN_READY_EXIT} when it is not "
                   "shown ready (the evidence cannot decide), for a pipeline to gate on; the verdict is printed and "
                   "stored as without it.")  # fmt: skip
@json_option
def finalize_command(
    study_name: str | None, storage: str, evaluate_ref: str, shifted_ref: str | None, force: bool,
    holdout_name: str | None, watch: tuple[str, ...], rerun_top: int | None, seeds: int | None,
    objective_ref: str | None, baseline: tuple[str, ...], progress: bool | None, require_ready: bool, as_json: bool,
) -> None:  # fmt: skip
    """Score the chosen configuration of STUDY_NAME once on the locked holdout and print the verdict.

    With --rerun-top K the top K configurations are re-run across fresh seeds first, as a config's [holdout]
    table has `tunesmith run` do, and the holdout scores the configuration the re-runs pick. Ctrl-C exits with
    code 130; the opening stays recorded (``--force`` opens the holdout again).
    """
    from pathlib import Path

    from tunesmith.config import import_object
    from tunesmith.discipline.holdout import finalize

    if rerun_top is None and (seeds is not None or objective_ref is not None or baseline):
        given = "--seeds" if seeds is not None else "--objective" if objective_ref is not None else "--baseline"
        raise CliError(f"{given} sets the seed re-runs, which only --rerun-top K asks for: add --rerun-top 3 (the top "
                       f"three configurations), or drop {given}")  # fmt: skip
    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        watched = [_watched(name) for name in watch]
        evaluate = import_object(evaluate_ref, base_dir=Path.cwd(), what="holdout evaluation")
        shifted = None if shifted_ref is None else import_object(shifted_ref, base_dir=Path.cwd(), what="shifted")
        if rerun_top is not None:
            _rerun_top(study, rerun_top, seeds, objective_ref, force=force, progress=progress, say=not as_json,
                       baseline=baseline, storage=storage)  # fmt: skip
        with _interruptible(lambda _: _opening_kept(study.name)):
            verdict = finalize(study, evaluate, force=force, shifted=shifted, progress=progress,
                               holdout=holdout_name, watch=watched)  # fmt: skip
    if as_json:
        _print_json(verdict.to_attr())
    else:
        summary = terminal_safe(verdict.summary(), markup=False, multiline=True)
        click.secho(summary, fg=verdict_colour(verdict.ready, bool(verdict.failed_decided)))
    _confirm_stored(study)  # the opening and the verdict are recorded only if the database is still there
    if require_ready:
        exit_unless_ready(verdict.ready, bool(verdict.failed_decided))


def _declare_baseline(study: Study, storage: str, pairs: tuple[str, ...]) -> None:
    """`finalize --baseline`: declare the baseline ``pairs`` give, for `validate_top` to run on its seeds; refused
    when the study evaluated another baseline already, which the verdict would judge against instead."""
    from tunesmith.attributes import BaselineAttr, read_attr
    from tunesmith.cli._known import parse_params

    params = parse_params(study, storage, pairs, example=f"tunesmith finalize {shlex.quote(study.name)} --baseline")
    evaluated = read_attr(study.attrs, BaselineAttr)
    if evaluated is not None and evaluated.runs and dict(evaluated.params or {}) != params:
        raise CliError(
            f"study {study.name!r} evaluated its baseline {evaluated.params} already, which the verdict judges "
            f"against, got --baseline for {params}: drop --baseline, or replace the evaluated one in Python with "
            "ts.evaluate_baseline(study, objective, params={...})"
        )
    with _friendly_errors():
        study.declare_baseline(params)


def _rerun_top(study: Study, k: int, seeds: int | None, objective_ref: str | None, *, force: bool,
               progress: bool | None, say: bool, baseline: tuple[str, ...], storage: str) -> None:  # fmt: skip
    """`finalize --rerun-top`: `validate_top` on the study's objective (``objective_ref``, else the one it records,
    as `tunesmith worker` finds it) under the limits of the config it records, once the holdout may be opened; a
    ``baseline`` given (``NAME=VALUE`` texts) is declared first, so that it runs on the same seeds."""
    from tunesmith.cli._scale import _recorded_config, _worker_objective
    from tunesmith.discipline.holdout import refuse_reopening
    from tunesmith.discipline.seeds import DEFAULT_SEEDS, validate_top

    refuse_reopening(study, force)  # before the re-runs, which only this opening would read
    if baseline:
        _declare_baseline(study, storage, baseline)
    several = len(study.objectives) > 1
    if several and k != 1 and say:  # what `TopKUnusedWarning` says to Python's k, in the option's terms
        click.echo(terminal_safe(
            f"--rerun-top {k}: study {study.name!r} has several objectives, so the re-runs judge the one "
            f"configuration its recorded choice picked from the Pareto front, not the top {k} on one objective",
            markup=False))  # fmt: skip
    config, unread = _recorded_config(study)
    objective = _worker_objective(study, objective_ref, config, unread)

    def kept(_: BaseException) -> str:  # `validate_top` records its re-runs once they have all ended
        return (f"interrupted: the holdout of study {study.name!r} was not opened, and its re-runs were not "
                "recorded: run the command again")

    with _interruptible(kept):
        report = validate_top(study, objective, k=None if several else k,
                              seeds=DEFAULT_SEEDS if seeds is None else seeds, progress=progress,
                              trial_timeout=None if config is None else config.trial_timeout,
                              memory_limit=None if config is None else config.memory_limit)  # fmt: skip
    if say:
        click.echo(terminal_safe(report.summary(), markup=False, multiline=True))


def _opening_kept(name: str) -> str:
    return (
        f"interrupted: an opening of the holdout of study {name!r} that had begun stays recorded; "
        "`tunesmith finalize --force` opens it again, and the verdict reports it as forced"
    )


@click.command("lr-find")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--min-lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Overrides lr_probe.min_lr.")
@click.option("--max-lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Overrides lr_probe.max_lr.")
@click.option("--num-steps", type=click.IntRange(min=MIN_READ_STEPS), default=None,
              help=f"Overrides lr_probe.num_steps (at least {MIN_READ_STEPS}: fewer cannot tell the loss's fall from "
                   "its noise).")  # fmt: skip
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Handed to the probe as params['seed'] (default: lr_probe.params.seed, else the config's "
                   "seed).")  # fmt: skip
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Write the curve (HTML).")
@json_option
def lr_find(
    config: str, min_lr: float | None, max_lr: float | None, num_steps: int | None, seed: int | None,
    plot_path: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Run the LR range test for CONFIG, whose lr_probe returns step(lr) -> loss, and suggest bounds."""
    from tunesmith.lr.cli_support import run_lr_find

    with _friendly_errors():
        outcome = run_lr_find(config, min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, seed=seed)
    result = outcome.result
    if plot_path is not None:
        result.plot(title=f"LR range test: {outcome.config.name}").write_html(plot_path, include_plotlyjs=True)
    if as_json:
        _print_json(outcome.to_json())
        return
    title = terminal_safe(f"LR range test ({len(result.lrs)} steps, {result.stop_reason})")
    table = Table(title=title, title_justify="left", min_width=len(title))  # the title on one line, not wrapped
    table.add_column("suggestion")
    table.add_column("learning rate", justify="right")
    for name, lr in result.suggestions.items():
        table.add_row(terminal_safe(name), f"{lr:.3g}")
    console.print(table)
    if result.steepest_lr is None:
        console.print(terminal_safe(
            f"steepest: undecided (the loss's fall is within its noise: its trend falls at most "
            f"{result.steepest_fall_in_noise:.2g} times its step-to-step noise across {result.window} steps, not more "
            f"than {FALL_IN_NOISE:g}, so where it falls fastest is the noise's doing); to decide it, steady the loss "
            "(a larger batch) or lower --num-steps, so that each step raises the rate more, and run the test again"
        ))  # fmt: skip
    low, high = result.bottom_lrs
    console.print(terminal_safe(
        f"the bottom: the loss's trend lies within {BOTTOM_IN_NOISE:g} times its noise of its lowest value from lr "
        f"{low:.3g} to {high:.3g}; the onset is its middle rate"
    ))  # fmt: skip
    low, high = result.suggested_range
    # The range is read from this run's noise alone, and seeds move the suggestion beyond some runs' ranges.
    seed = outcome.seed
    if seed is None:
        again = "run lr-find with --seed 0 and again with --seed 1 to check (the config sets no seed to hand the probe)"
    else:
        again = f"run lr-find again with --seed {seed + 1} to check (this run handed the probe seed {seed})"
    one_run = f"[{low:.3g}, {high:.3g}], from one run: another seed's suggestion may fall outside it; {again}"
    if result.flat_floor:
        console.print(terminal_safe(
            f"the floor is flat within noise: the suggestion could be anywhere in {one_run}; the bounds cover that "
            "range; to narrow it, steady the loss (a larger batch) and run the test again"
        ))  # fmt: skip
    else:
        console.print(terminal_safe(f"the suggestions the bottom allows: {one_run}"))
    if not result.diverged:
        console.print("the loss did not diverge before max_lr: raise --max-lr to see where it does")
    console.print(terminal_safe(outcome.where_to_put()))
    if plot_path is not None:
        console.print(terminal_safe(f"plot written to {plot_path}"))
