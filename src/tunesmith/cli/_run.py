"""Running a study: `run` (from a config file) and `demo` (the built-in digits study)."""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
import warnings
from typing import TYPE_CHECKING, Any

import click

from tunesmith._progress import Progress, showing
from tunesmith._text import counted, safe_file_name, terminal_safe
from tunesmith.attributes import HoldoutAttr, read_attr
from tunesmith.cli._common import (
    DEMO_STORAGE,
    NOT_READY_EXIT,
    NOT_SHOWN_READY_EXIT,
    CliError,
    _analyse,
    _command_line,
    _confirm_stored,
    _friendly_errors,
    _interruptible,
    _open,
    _resolve_study,
    _summary,
    console,
    exit_unless_ready,
    shown_warnings,
    storage_option,
    storage_options,
    storage_url,
    verdict_colour,
)
from tunesmith.cli._scale import _hold_objective, _imported_objective
from tunesmith.errors import ConfigError, StorageUnavailable, StudyNotFound, require
from tunesmith.storage import Storage, StudyInfo, open_storage, redact_url
from tunesmith.study import MIN_FULLY_TRAINED, Study, StudyResult, StudySpec, WarmStart, trained_fully
from tunesmith.study._optimize import NoFeasibleTrialWarning
from tunesmith.study._recovery import stopped_by
from tunesmith.study._study import refuse_control_characters

if TYPE_CHECKING:
    from tunesmith.config import StudyConfig
    from tunesmith.report import Findings


def _plain(text: str) -> str:
    """A summary of several lines for `click.echo` or ``markup=False``: controls escaped, lines kept."""
    return terminal_safe(text, markup=False, multiline=True)


def _write_report(
    study: Study, path: str | None, findings: Findings | None = None, analysis_seconds: float | None = None
) -> None:
    """Write the HTML report (reusing analyses already made), with a progress line.

    Drawing the figures is guessed to take about as long as the analyses took on the same trials.
    """
    if not path:
        return
    from tunesmith.report import ReportData, analyse, write_report

    steps = 1 if findings is not None else 2
    with Progress(f"writing the report of {study.name}", steps, unit="steps", per_unit=analysis_seconds) as bar:
        data = ReportData.from_study(study)
        if findings is None:
            findings = analyse(data)
            bar.update(advance=1)
        from tunesmith.report._shown import scheduler_stops

        # the scheduler's lines `status` prints, read from the same records as the page
        written = write_report(data, path, findings=findings, scheduler=scheduler_stops(study, data.records))
        bar.update(advance=1)
    console.print(terminal_safe(f"report: {written}"))


def _interrupted(ctx: click.Context, opened: list[Study], exc: BaseException) -> str:
    """What Ctrl-C kept (what storage holds of the trials it cut short: `stopped_by`) and the command that carries
    on."""
    command = _command_line(ctx)
    if not opened:
        return f"interrupted before the study opened; run it with:\n  {command}"
    study = opened[0]
    where = redact_url(study.storage.url)
    if where == "memory":
        return f"interrupted: study {study.name!r} lived in memory, so its trials are gone; run it again:\n  {command}"
    from tunesmith.storage._engine import without_waiting  # imported on first use: keeps `tunesmith --help` light

    try:
        with without_waiting():  # a server that is down must not hold the message for the reconnect window
            kept = sum(1 for r in study.trials if r.state.is_finished and not (r.kind and r.kind.is_interruption))
    except Exception:  # noqa: BLE001 - the message must come out even when storage does not answer
        kept = None
    trials = "its finished trials" if kept is None else f"its {kept} finished trial{'s' * (kept != 1)}"
    stopped = stopped_by(exc)
    recorded = "no trial was running" if stopped is None else stopped.describe()
    return f"interrupted: study {study.name!r} keeps {trials} in {where} ({recorded}); resume with:\n  {command}"


def _name_option(_ctx: click.Context, _param: click.Parameter, name: str | None) -> str | None:
    """``--name``, refused before anything runs when `Study` would refuse it: with white space at its ends."""
    if name is not None and name != name.strip():
        raise click.BadParameter(
            f"a study name must have no white space at its ends, which no listing shows, got {name!r}: "
            f"pass --name {name.strip()!r}"
        )
    return name


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@storage_options(config=True)
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Overrides the config's workers.")
@click.option("--trials", "n_trials", type=click.IntRange(min=1), default=None, help="Start at most N trials now.")
@click.option("--name", default=None, callback=_name_option, help="Overrides the config's study name.")
@click.option("--progress/--no-progress", default=None,
              help="Show progress and the time left on stderr (default: a bar on a terminal; elsewhere, as in a log, "
                   "a line a minute once a phase has run a minute).")  # fmt: skip
@click.option("--report", "report_path", default=None,
              help="HTML report path (default: STUDY-report.html, STUDY made a safe file name).")  # fmt: skip
@click.option("--no-report", is_flag=True, help="Do not write the HTML report.")
@click.option("--require-ready", is_flag=True,
              help=f"With a [holdout] table: exit {NOT_READY_EXIT} when the verdict is not ready and "
                   f"{NOT_SHOWN_READY_EXIT} when it is not shown ready or not reached yet (the search goes on), for a "
                   "pipeline to gate on.")  # fmt: skip
@click.pass_context
def run(
    ctx: click.Context, config: str, storage: str | None, storage_file: str | None, workers: int | None,
    n_trials: int | None, name: str | None, progress: bool | None, report_path: str | None, no_report: bool,
    require_ready: bool,
) -> None:  # fmt: skip
    """Run (or resume) the study described by CONFIG (TOML or YAML).

    The storage is --storage (or --storage-file), else the config's ``storage``, else TUNESMITH_STORAGE (or
    TUNESMITH_STORAGE_FILE), else sqlite:///tunesmith.db. A study that exists is resumed with its stored sampler
    and scheduler; a config that names another scheduler is refused, another sampler is switched to and logged.
    A study runs one objective, the one it recorded when it first ran: a config naming another is refused.

    Each wait (the baseline, the search, the re-runs of the top candidates, the holdout, the report) shows its
    progress and the time left on stderr. Ctrl-C keeps every stored trial, records the running one as
    interrupted, prints the command that resumes and exits with code 130. A SQLite database deleted or replaced
    before the command ends, even after its summary and report, makes it exit with code 1 and say so.
    """
    from tunesmith.config import load_config

    opened: list[Study] = []
    with _interruptible(lambda exc: _interrupted(ctx, opened, exc)), showing(progress), _friendly_errors():
        cfg = load_config(config)  # every setting checked, the sampler, scheduler and executor by building them
        if require_ready and "holdout" not in cfg.extra:
            raise CliError(f"--require-ready gates on the verdict, which {cfg.path.name} asks for with a [holdout] "
                           "table (evaluate = \"module:function\"): add one, or run the search and then `tunesmith "
                           "finalize STUDY --evaluate module:function --require-ready`")  # fmt: skip
        objective = cfg.load_objective()
        named = _imported_objective(cfg.objective, cfg.path.parent)
        worker_count = workers or cfg.workers
        # An executor the file names (processes, ray, a table with options) holds for any count of workers: --workers
        # replaced it, so a crash meant for one FAILED trial's process killed the CLI inline, and Ray never started.
        # One the file leaves to its default follows the count, and so does inline, which runs one trial at a time.
        named_executor = cfg.executor_named and cfg.executor != "inline"
        executor = (
            cfg.executor
            if worker_count == cfg.workers or named_executor
            else ("processes" if worker_count > 1 else "inline")
        )
        _check_before_storing(cfg, executor, worker_count)
        url = storage_url(storage, storage_file, config=cfg.storage)
        resumed = _budgeted_storage(url, name or cfg.name, cfg, n_trials)
        refuse_control_characters(url, name or cfg.name)  # before a new SQLite file is created
        warm_start = _warm_start(cfg, url)  # its study read before this run's storage is created
        created = _new_sqlite_file(url)
        store = resumed or _open(url, create=True)
        if created is not None:  # a relative path read from another directory would start a study afresh
            click.echo(terminal_safe(f"created a new database {created} (a relative sqlite:/// path is read from "
                                     f"the working directory, {os.getcwd()})", markup=False), err=True)  # fmt: skip

        def fix(recorded: str) -> str:
            return (f'put objective = "{recorded}" in {cfg.path.name}, or run {cfg.objective} as a new study: '
                    f"--name NEW_NAME (or another name in {cfg.path.name})")  # fmt: skip

        label = f"config {cfg.path}"
        if (stored := _stored_study(store, name or cfg.name)) is not None:  # refused before opening records anything
            _hold_objective(store, stored, named, label, fix, record=False)
        sampler, scheduler = _sampler_and_scheduler(store, name or cfg.name, cfg)
        study = Study(
            cfg.space,
            **cfg.study_metrics(),  # metric=, or metrics= and reference_point= for several objectives
            guardrails=cfg.guardrails,
            sampler=sampler,
            scheduler=scheduler,
            budget=cfg.budget,
            storage=store,
            name=name or cfg.name,
            seed=cfg.seed,
            validation_set=cfg.validation_set,
            warm_start=warm_start,
        )
        opened.append(study)
        _hold_objective(store, study.info, named, label, fix)  # recorded by the study's first run (or worker)
        _state_training(study)
        # Define: a config with a holdout runs the whole sequence, the baseline across seeds first.
        from tunesmith.discipline.sequence import (
            RecordedVerdict,
            SearchLeft,
            after_search,
            before_search,
            config_choice,
            holdout_edits,
        )
        from tunesmith.discipline.verdict import stale_note

        study.set_attr("config", str(cfg.path))  # lets `tunesmith worker` join without --objective
        before_search(study, cfg, objective, workers=worker_count, executor=executor)
        with warnings.catch_warnings(), shown_warnings() as said:
            # `_no_result` says it below, with exit code 1, once the summary and the report are out.
            warnings.simplefilter("ignore", NoFeasibleTrialWarning)
            result = study.optimize(
                objective,
                n_trials=n_trials,
                workers=worker_count,
                executor=executor,
                memory_limit=cfg.memory_limit,
                trial_timeout=cfg.trial_timeout,
                fail_fast=cfg.fail_fast,
                progress=progress,  # None: a bar on a terminal, in a log a line a minute once the run is long
            )
        try:
            config_choice(study, cfg, result)  # before the summary and the report, which show the choice
            unchosen = None
        except ConfigError as refused:  # said once the summary and the report show what the stored trials hold
            unchosen = refused
        findings, took = _analyse(study)
        kept = _kept(no_report)
        no_result = _no_result(study, result, kept)  # said with exit code 1 once the report is written
        # Why there is no result is said once, in that error: the notes and the summary say the rest, and point to it
        _summary(study, _without_no_result(result, no_result), findings=findings, why_no_result_below=bool(no_result),
                 said=said)  # fmt: skip
        # Identify, Fix, Test: top candidates across seeds, the holdout opened once, the verdict; not before the
        # study's budget is spent (a run cut short by --trials leaves the rest of the search to come), nor without
        # the choice that the discipline judges with several objectives, nor without a result to judge.
        verdict = (
            after_search(study, cfg, objective, result, workers=worker_count, executor=executor)
            if unchosen is None and no_result is None
            else None
        )
        failed = False
        if isinstance(verdict, SearchLeft):  # nothing re-run, nothing opened
            click.echo(_plain(verdict.note()))
        elif verdict is not None:
            if isinstance(verdict, RecordedVerdict):  # word for word the first run's: said so, or it reads as new
                click.echo(_plain(verdict.note()))
                failed = verdict.failed
            else:
                failed = bool(verdict.failed_decided)
            click.secho(_plain(verdict.summary()), fg=verdict_colour(verdict.ready, failed))
            if stale := stale_note(study.attrs, study.trials):
                click.secho(_plain(stale), fg="yellow")
            if edited := holdout_edits(study, cfg):
                click.secho(_plain(edited), fg="yellow")
        path = None if no_report else report_path or f"{safe_file_name(study.name)}-report.html"
        _write_report(study, path, findings, took)
        _confirm_stored(study)  # the database may have gone while the summary and the report were made
        if no_result is not None:  # no feasible trial: why the choice had nothing to pick from
            raise CliError(no_result)
        if unchosen is not None:
            raise CliError(_unchosen(study, cfg, unchosen, kept))
        if require_ready:  # no verdict yet (the search goes on) is not shown ready
            exit_unless_ready(verdict is not None and not isinstance(verdict, SearchLeft) and verdict.ready, failed)


def _no_result(study: Study, result: StudyResult, kept: str) -> str | None:
    """Why `run` exits with code 1 when the study's budget is spent and no trial is feasible (every one declared
    infeasible or broke a guardrail, or every one failed: ``fail_fast = false`` let the run spend its budget, where
    fail-fast on stops it with exit code 1), ``None`` when it has a result or the search goes on: the run has no
    result, which a script gating on the exit code must see as one that failed would (30 of 30 trials raising
    ts.Infeasible exited 0, as did 8 of 8 that raised). The message is `no_feasible_note`'s, what `study.optimize`
    warns with, with the commands that read and re-queue the failures for this study and storage and the most common
    failure's traceback. Nothing is re-run or opened then (the re-runs had no candidate and said only that); the
    trials, the summary and the report (unless --no-report) are kept, as ``kept`` (`_kept`) says."""
    from tunesmith.discipline.sequence import search_left
    from tunesmith.study._optimize import no_feasible_note, no_result_traceback
    from tunesmith.study._search_progress import listing_arguments

    if search_left(study, result) is not None:
        return None  # the search goes on in a later run
    records = study.trials
    where = listing_arguments(study.name, study.storage.url)
    nothing = no_feasible_note(records, study.metric, study.objectives, study.guardrails, where)
    if nothing is None:
        return None
    said = f"the budget is spent and the study has no result: {nothing}; {kept}"
    quoted = no_result_traceback(records)  # every trial failed: the failure the message names, as stored
    return said if quoted is None else f"{said}\n{quoted}"


def _without_no_result(result: StudyResult, no_result: str | None) -> StudyResult:
    """``result`` with its note that the study has no result (`StudyResult.no_result`) left out of the notes the
    summary prints, when `run` ends by saying it with exit code 1 (``no_result``, `_no_result`'s message: the same
    note, with the commands for this storage and the failure's traceback)."""
    if no_result is None or result.no_result is None:
        return result
    return dataclasses.replace(result, notes=tuple(note for note in result.notes if note != result.no_result))


def _unchosen(study: Study, cfg: StudyConfig, refused: ConfigError, kept: str) -> str:
    """Why the config's choose rule picked nothing once the budget was spent, with the fix: the front holds no
    trial (every trial was cut short; none feasible, or every one failed, is `_no_result`'s to say), or no trial of it
    meets the bounds of rule ``best`` (`choose.Best.unmet`: the bound and the closest trial); ``refused`` otherwise."""
    from tunesmith.choose import Best
    from tunesmith.study._search_progress import listing_arguments

    where = "[choose]" if cfg.path.suffix == ".toml" else "choose:"
    said = f"the budget is spent and {where} in {cfg.path.name}"
    front = study.pareto_front
    named = listing_arguments(study.name, study.storage.url) or shlex.quote(study.name)
    if not front:
        show = f"tunesmith show {named} NUMBER"
        return (f"{said} has nothing to pick: it picks from the Pareto front, the trials COMPLETE and feasible with "
                f"every objective, and no trial is; the summary above counts the trials by state and `{show}` gives "
                f"one's error; {kept}")  # fmt: skip
    if isinstance(cfg.choose, Best):
        more = f"tunesmith extend {named} --trials N"
        return (f"{said} picks nothing: {cfg.choose.unmet(front, study.objectives)}: loosen the bound in {where} and "
                "run the same command again, which chooses from the trials kept without running more, or search "
                f"on toward it ({more}, then run again); {kept}")  # fmt: skip
    return f"{said} picks nothing: {refused}; {kept}"


def _kept(no_report: bool) -> str:
    """What a run that ends with exit code 1 keeps, in the words its error ends with: its trials, and its report
    unless ``--no-report`` left it unwritten (said otherwise, a user looks for a file that is not there)."""
    return "the trials are kept" if no_report else "the trials and the report are kept"


def _earlier_demos(study: Study) -> str | None:
    """What a demo says before its search when its storage holds earlier demos whose verdicts opened the holdout set
    it opens too: its verdict will fail "holdout opened once", which read as a broken demo to one who ran it twice."""
    from tunesmith.discipline.holdout import counted_openings

    earlier = [info.name for info in study.storage.list_studies()  # an opening that counts: not a voided one
               if info.name != study.name and info.name.startswith(_DEMO_PREFIX) and counted_openings(info.attrs)]
    if not earlier:
        return None
    shown = ", ".join(earlier[-3:]) + (f" and {len(earlier) - 3} more" if len(earlier) > 3 else "")
    where = redact_url(study.storage.url)
    other = "--storage sqlite:///another.db"
    fresh = f"remove {where.removeprefix('sqlite:///')} or pass {other}" if where.startswith("sqlite:///") else other
    verdicts = "verdict" if len(earlier) == 1 else "verdicts"
    return (f"note: {where} holds {counted(len(earlier), 'earlier demo')} ({shown}) whose {verdicts} opened the "
            "holdout set this demo opens too, so its verdict will fail 'holdout opened once', as the discipline fails "
            f"any reused holdout; for a fresh demo, {fresh}")  # fmt: skip


_DEMO_PREFIX = "digits-mlp-"


@click.command()
@storage_option(default=DEMO_STORAGE)
@click.option("--trials", "n_trials", type=click.IntRange(min=2), default=60, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--progress/--no-progress", default=None,
              help="Show progress and the time left on stderr (default: a bar on a terminal; elsewhere, as in a log, "
                   "a line a minute once a phase has run a minute).")  # fmt: skip
@click.option("--report", "report_path", default="tunesmith-demo-report.html", show_default=True,
              help="HTML report path ('' for none).")  # fmt: skip
def demo(storage: str, n_trials: int, workers: int, seed: int, progress: bool | None, report_path: str) -> None:
    """Tune an MLP on scikit-learn's digits, then score the winner once on a locked holdout."""
    from tunesmith import demo as demo_study

    started = time.monotonic()
    name = f"{_DEMO_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}"
    def kept(_: BaseException) -> str:
        return f"interrupted: the demo's trials so far are kept in {redact_url(storage)} as study {name!r}"

    with _interruptible(kept), showing(progress), _friendly_errors():
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
        if (earlier := _earlier_demos(study)) is not None:
            console.print(terminal_safe(earlier), markup=False)
        _state_training(study)
        with shown_warnings() as said:
            result = study.optimize(demo_study.objective, workers=workers, executor="processes", progress=progress)
        findings, took = _analyse(study)
        _summary(study, result, findings=findings, said=said)
    if result.best is None:
        raise CliError("no trial completed: nothing to score on the holdout")
    from tunesmith.discipline.sequence import demo_verdict

    with _interruptible(kept), showing(progress), _friendly_errors():
        # Test: the baseline and the top 3 across 3 new seeds, then the locked holdout, opened once.
        stability, verdict = demo_verdict(study, workers=workers)
        console.print(_plain(stability.summary()), markup=False)
        holdout = read_attr(study.attrs, HoldoutAttr) or HoldoutAttr()
        for row in holdout.rows or ():
            console.print(
                _plain(f"{row.label}: validation {row.validation:.4f}, holdout {row.holdout:.4f}"), markup=False
            )
        click.secho(_plain(verdict.summary()), fg=verdict_colour(verdict.ready, bool(verdict.failed_decided)))
        _write_report(study, report_path, findings, took)
    console.print(
        f"done in {time.monotonic() - started:.0f}s; read it back with: "
        f"{terminal_safe(shlex.join(['tunesmith', 'best', '--storage', redact_url(storage), study.name]))}",
        soft_wrap=True,  # a command to paste: never broken in two, on a terminal too
    )
    _confirm_stored(study)


def _warm_start(cfg: StudyConfig, url: str) -> WarmStart | None:
    """The config's ``warm_start`` as `Study` takes it: its CSV file, or its study loaded from its storage (the
    run's, ``url``, unless it names one), which must exist: nothing is created to find out."""
    given = cfg.warm_start
    if given is None:
        return None
    if given.csv is not None:
        return WarmStart(str(given.csv), fill=given.fill)
    assert given.study is not None  # `load_config` names one source
    try:  # opened without creating: a missing database or study is refused, as a reading command refuses it
        source = _resolve_study(given.storage or url, given.study)
    except CliError as exc:
        raise CliError(f"warm_start.study {given.study!r} in {cfg.path.name}: {exc.message}") from None
    return WarmStart(source, fill=given.fill)


def _check_before_storing(cfg: StudyConfig, executor: str | dict[str, Any], workers: int) -> None:
    """Refuse, before storage is opened (a SQLite file created) or the study stored, what `load_config` cannot
    check alone: the ``holdout`` entry (a `discipline` plan, its functions imported), Ray for ``executor``, and an
    executor table built for ``workers`` on this machine (``gpus_per_trial``: the GPUs found here).

    A refusal after the study was stored left a study of no trials behind, which then refused the fixed config
    ("already exists ... with a different space"), so nothing is stored until every check has passed.
    """
    from tunesmith.discipline.sequence import holdout_plan
    from tunesmith.study._known import refuse_unknown_names

    if "holdout" in cfg.extra:
        plan = holdout_plan(cfg.extra["holdout"], cfg.path.parent, cfg.path)
        if plan.baseline is not None and cfg.space is not None:  # a typo; `declare_baseline` checks it against trials
            refuse_unknown_names(cfg.space, plan.baseline, "holdout.baseline", refused_new=None)
    if executor == "ray" or (isinstance(executor, dict) and executor["name"] == "ray"):
        require("ray", "ray")  # the executor imports it only once the first trial is about to start
    if isinstance(executor, dict):
        from tunesmith.executors import make_executor

        limits = {"memory_limit": cfg.memory_limit, "trial_timeout": cfg.trial_timeout}
        make_executor(executor, workers, **{key: limit for key, limit in limits.items() if limit is not None})


def _budgeted_storage(url: str, name: str, cfg: StudyConfig, n_trials: int | None) -> Storage | None:
    """Refuse a run nothing would end (the config gives no budget, the command no --trials) unless study ``name`` is
    stored with a budget (one extended since it was made), whose storage is then returned; ``None`` when the run
    has an end anyway. The storage is opened without creating anything: a new study is refused before it is stored.

    Raises:
        CliError: the rule, what gives no budget and the fix.
    """
    if n_trials is not None or not cfg.budget.is_unbounded():
        return None
    add = "[budget] trials = N" if cfg.path.suffix == ".toml" else "budget: {trials: N}"
    try:
        store = open_storage(url, create=False)
        spec = StudySpec.from_json(store.load_study(name).spec)
    except (StudyNotFound, StorageUnavailable):  # no database, no such study, or none that can be read
        raise CliError(
            f"study {name!r} would run without end: {cfg.path.name} gives it no budget, the command no --trials, and "
            f"no study {name!r} with a budget was found in {redact_url(url)}: add {add} to {cfg.path.name} (or "
            "wall_time), or run it with --trials N"
        ) from None
    if spec.budget.is_unbounded():
        raise CliError(
            f"study {name!r} in {redact_url(url)} has no budget, and neither {cfg.path.name} nor the command "
            f"(--trials) gives one, so nothing would end the run: `tunesmith extend {shlex.quote(name)} --trials N` "
            "gives it one (a study gains a limit before its first trial), or run it with --trials N"
        )
    return store


def _new_sqlite_file(url: str) -> str | None:
    """The absolute path of the SQLite file ``url`` names by a relative path when no such file exists yet
    (``None`` otherwise: an absolute path says where it is)."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return None  # not a URL: opening it says why
    database = parsed.database or ""
    if not parsed.drivername.startswith("sqlite") or database in ("", ":memory:") or database.startswith("~"):
        return None
    if os.path.isabs(database):
        return None
    path = os.path.abspath(database)
    return None if os.path.exists(path) else path


def _stored_study(store: Storage, name: str) -> StudyInfo | None:
    """Study ``name`` as stored (``None`` when there is no such study yet)."""
    try:
        return store.load_study(name)
    except StudyNotFound:
        return None


def _sampler_and_scheduler(store: Storage, name: str, cfg: StudyConfig) -> tuple[Any, Any]:
    """The sampler and scheduler to open study ``name`` with: the config's for a new study; for a stored one, the
    stored ones where the config names none (no ``scheduler``, no ``sampler`` or ``"auto"``); another scheduler is
    refused (`StudySpec.check_plugins`), another sampler is a switch the study stores and logs."""
    try:
        info = store.load_study(name)
    except StudyNotFound:
        return cfg.sampler, cfg.scheduler
    stored = StudySpec.from_json(info.spec)
    stored.check_plugins(info.name, store.url, scheduler=cfg.scheduler)  # another sampler: a switch Study records
    sampler = stored.sampler if stored.sampler is not None and cfg.sampler == "auto" else cfg.sampler
    scheduler = stored.scheduler if stored.scheduler is not None and cfg.scheduler is None else cfg.scheduler
    return sampler, scheduler


def _state_training(study: Study) -> None:
    """Say up front how many configurations the budget trains to the full resource (a warning under 5)."""
    fully = trained_fully(study.budget, study.scheduler)
    if fully is not None:
        style = "yellow" if fully[0] < MIN_FULLY_TRAINED else "dim"
        console.print(f"[{style}]{terminal_safe(fully[1])}[/{style}]")
