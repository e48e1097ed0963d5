"""Scale-out and upkeep: workers joining a study from any machine, a study's budget extended, a study deleted, the
storage's schema."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tunesmith._text import counted, terminal_safe
from tunesmith.attributes import ObjectiveReferenceAttr, ValidationSetAttr, read_attr
from tunesmith.budget import Budget
from tunesmith.cli._common import (
    CliError,
    _command_line,
    _confirm_stored,
    _friendly_errors,
    _interruptible,
    _open,
    console,
    no_study,
    shown_warnings,
    storage_option,
)
from tunesmith.errors import StudyNotFound
from tunesmith.storage import Storage, StudyInfo, open_storage, redact_url
from tunesmith.study import Study
from tunesmith.study._limits import starts_no_trial
from tunesmith.study._recovery import stopped_by
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.config import StudyConfig


def _recorded_config(study: Study) -> tuple[StudyConfig | None, str | None]:
    """The config the study records (``attrs["config"]``, written by ``tunesmith run``), read on this machine; or
    ``None`` and why it cannot be read here (``None`` too when the study records no config)."""
    from tunesmith.config import load_config
    from tunesmith.errors import ConfigError

    path = study.attrs.get("config")
    if not isinstance(path, str):
        return None, None
    try:
        return load_config(path), None
    except ConfigError as exc:
        return None, f"study {study.name!r} records its config {path}, which cannot be read here ({exc})"


def _imported_objective(reference: str, base_dir: Path) -> ObjectiveReferenceAttr:
    """The objective ``reference`` names, once `import_object` has imported it from ``base_dir``: its module's file
    relative to ``base_dir`` (``None`` for a module found elsewhere on the Python path) and its function."""
    module_name, _, function = reference.partition(":")
    directory = base_dir.resolve()
    found = _module_file(module_name) or getattr(sys.modules.get(module_name), "__file__", None)
    file = None
    if isinstance(found, str) and (path := Path(found).resolve()).is_relative_to(directory):
        file = path.relative_to(directory).as_posix()
    return ObjectiveReferenceAttr(module=module_name, function=function, file=file, directory=str(directory))


def _module_file(module_name: str) -> str | None:
    """The file an import of ``module_name`` finds on the Python path now (which holds the folder `import_object`
    read it from), whatever this process imported before under that name (a command run earlier in-process, from
    another folder); ``None`` when no path entry holds it (a namespace package, a module of another finder)."""
    from importlib.machinery import PathFinder

    parts = module_name.split(".")
    search: list[str] | None = None  # the Python path, then the package's folders
    origin = None
    for i in range(len(parts)):
        spec = PathFinder.find_spec(".".join(parts[: i + 1]), search)
        if spec is None:
            return None
        search, origin = list(spec.submodule_search_locations or ()), spec.origin if spec.has_location else None
    return origin


def _hold_objective(
    storage: Storage, info: StudyInfo, this: ObjectiveReferenceAttr, label: str, fix: Callable[[str], str],
    *, record: bool = True,
) -> None:  # fmt: skip
    """Hold the study ``info`` to one objective: refuse ``this`` (the objective ``label`` names) when the study
    records another one that a trial gave a result of; otherwise record ``this`` (unless not ``record``),
    atomically, so that of several commands starting at once the first wins. A study that records none (created in
    Python, or before studies recorded their objective) records ``this``; one none of whose trials gave a result
    (its objective was broken, and the fix names another) takes ``this`` in its place and says so on stderr.

    Raises:
        CliError: the rule, both objectives and ``fix(the recorded reference)``.
    """

    def refused(held: ObjectiveReferenceAttr) -> CliError:
        return _other_objective(info.name, f"{label} names {this.describe()}", held.describe(), fix(held.reference))

    recorded = read_attr(info.attrs, ObjectiveReferenceAttr)
    if recorded is not None and recorded.same_objective(this):
        return
    trials = [] if recorded is None else storage.get_trials(info.id)
    if recorded is not None and any(_gave_result(r) for r in trials):
        raise refused(recorded)
    if not record:
        return
    replaced = None if recorded is None else recorded.to_json()

    def record_this(current: Any) -> Any:
        return this.to_json() if current == replaced else current

    held = ObjectiveReferenceAttr.from_json(storage.update_study_attr(info.id, ObjectiveReferenceAttr.KEY, record_this))
    if not held.same_objective(this):  # another command recorded another objective meanwhile
        raise refused(held)
    if recorded is not None:
        click.echo(terminal_safe(
            f"note: study {info.name!r} now runs {this.describe()} in place of {recorded.describe()}, since none "
            f"of its {len(trials)} trials gave a result", markup=False,
        ), err=True)  # fmt: skip


def _gave_result(record: TrialRecord) -> bool:
    """Whether ``record`` holds a result of its objective, or may yet: it did not fail, or it reported or returned
    a value before it failed."""
    return record.state is not TrialState.FAILED or bool(record.intermediate) or bool(record.metrics)


def _other_objective(name: str, this: str, recorded: str, fix: str) -> CliError:
    # Trials of two objectives in one study cannot be compared, and no trial records which one it ran.
    return CliError(
        f"{this}, not the objective of study {name!r}, which records {recorded}: one study runs one objective, "
        f"since trials of two objectives cannot be compared (its best, samplers and analyses would mix them); {fix}"
    )


def _objective_hint(study: Study) -> str:
    """What the study's validation set, when named after the objective (`study.optimize` names it so, and records no
    reference to import), says of the ``--objective`` to pass: a script's file gives ``stem:function`` read from its
    folder, whose module must not start a search when imported; empty when nothing names it."""
    named = read_attr(study.attrs, ValidationSetAttr)
    if named is None or named.source != "objective" or ":" not in named.name:
        return ""
    module, _, function = named.name.rpartition(":")
    if not module.endswith(".py"):
        return f": it ran {module}:{function} from Python (--objective {module}:{function})"
    script = Path(module)
    return (
        f": it ran {function} of the script {script} from Python, so pass --objective {script.stem}:{function} "
        f"from {script.parent}, once that script starts no search when imported (keep its study.optimize under "
        "if __name__ == '__main__')"
    )


def _worker_objective(
    study: Study, reference: str | None, config: StudyConfig | None, unread: str | None
) -> Callable[..., Any]:  # fmt: skip
    """The objective: ``reference`` (--objective, read from the working directory), else the study's
    ``objective`` attribute (a first worker's --objective), else its config's. It must be the objective the study
    records (`ObjectiveReferenceAttr`), which it records when the study has none; a study that has none but an
    ``objective`` attribute or a config (recorded before objectives were) refuses a --objective naming another.

    Raises:
        CliError: the objective is another than the study's, or none is named.
    """
    from tunesmith.config import import_object

    attrs = study.attrs
    named, source, base_dir = None, "", Path.cwd()
    if isinstance(attrs.get("objective"), str):
        named, source = attrs["objective"], "its 'objective' attribute"
    elif config is not None:  # read from the config's directory, as `tunesmith run` reads it
        named, source, base_dir = config.objective, f"its config {config.path}", config.path.parent
    if reference is not None:  # read from the working directory, as the option's help says
        given, base_dir, label = reference, Path.cwd(), "--objective"
    elif named is not None:
        given, label = named, source
    elif unread is not None:
        raise CliError(f"{unread}: make it readable at that path, or pass --objective module:function")
    else:
        raise CliError(
            f"study {study.name!r} records no objective (attribute 'objective' or 'config'): "
            f"pass --objective module:function{_objective_hint(study)}"
        )

    def fix(recorded: str) -> str:
        if reference is None and config is not None and given == config.objective:
            back = f'put objective = "{recorded}" back in {config.path} (or pass --objective {recorded})'
        else:
            back = f"pass --objective {recorded} instead"
        return f"{back}, or run {given} as a new study, under another name"

    if ObjectiveReferenceAttr.KEY not in attrs and named is not None and given.strip() != named.strip():
        raise _other_objective(study.name, f"--objective names {given}", f"{named} ({source})", fix(named))
    with _friendly_errors():
        objective = import_object(given, base_dir=base_dir, what="objective")
    _hold_objective(study.storage, study.info, _imported_objective(given, base_dir), label, fix)
    if reference is not None and named is None and "config" not in attrs:
        study.set_attr("objective", reference)  # so that later workers need no --objective
    return objective


@click.command()
@click.argument("study_name")
@storage_option(default=None)
@click.option("--objective", default=None,
              help="module:function (default: the one the study records; another one is refused).")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Trials at once here.")
@click.option("--executor", type=click.Choice(["inline", "processes", "ray"]), default=None,
              help="How this worker runs its trials (default: the study config's, else inline, or processes with "
                   "--workers > 1).")  # fmt: skip
@click.option("--heartbeat-interval", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds between heartbeats (default: the study's).")  # fmt: skip
@click.option("--grace", type=click.FloatRange(min=0, min_open=True), default=None,
              help="A check, not a setting: the grace is the study's (every worker judges lost trials alike), so a "
                   "value other than the stored one is refused.")  # fmt: skip
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="When the budget is spent, wait for other workers' trials and run what lost ones free.")  # fmt: skip
@click.pass_context
def worker(
    ctx: click.Context, study_name: str, storage: str, objective: str | None, workers: int,
    executor: str | None, heartbeat_interval: float | None, grace: float | None, wait: bool,
) -> None:  # fmt: skip
    """Join the study STUDY_NAME from this machine and run its trials until its budget is spent.

    Any number of workers on any number of machines may share one storage (PostgreSQL across
    machines): the trial budget is counted in the storage, so it is exact over all of them. When the
    study records its config (``tunesmith run`` does), its executor (unless --executor), ``trial_timeout``,
    ``memory_limit`` and ``fail_fast`` apply, as for ``tunesmith run``, with or without --objective; a config
    this machine cannot read is said in one warning line. The objective (--objective, else the study's config's)
    must be the one the study recorded when it first ran; another is refused. Ctrl-C, SIGTERM or SIGHUP records
    the running trials as interrupted and exits with code 130 (143 for SIGTERM, 129 for SIGHUP).
    """
    url = storage
    store = _open(url, create=False)  # a worker joins a study: a mistyped path is an error, not a new empty file
    overrides: dict[str, Any] = {}
    if heartbeat_interval is not None:
        overrides["heartbeat_interval"] = heartbeat_interval
    if grace is not None:
        overrides["grace"] = grace

    def kept(exc: BaseException) -> str:
        stopped = stopped_by(exc)
        recorded = "no trial was running" if stopped is None else stopped.describe()
        # The command as typed, --storage included: the study's name alone names no storage.
        return (
            f"interrupted: the trials this worker finished are kept in {redact_url(url)}; {recorded}. Carry on "
            f"with:\n  {_command_line(ctx)}"
        )

    with _interruptible(kept), _friendly_errors():
        try:
            study = Study.load(study_name, store, **overrides)
        except StudyNotFound:
            raise no_study(study_name, store, url) from None
        config, unread = _recorded_config(study)
        run_objective = _worker_objective(study, objective, config, unread)
        if unread is not None:  # the objective came from --objective or the 'objective' attribute
            click.echo(terminal_safe(
                f"warning: {unread}, so this worker runs without its trial_timeout, memory_limit, executor and "
                "fail_fast (the defaults apply): make the config readable at that path to apply them", markup=False,
            ), err=True)  # fmt: skip
        limits: dict[str, Any] = {}
        chosen: str | dict[str, Any] | None = executor  # a config's table too (gpus_per_trial)
        if config is not None:
            limits = {"memory_limit": config.memory_limit, "trial_timeout": config.trial_timeout,
                      "fail_fast": config.fail_fast}  # fmt: skip
            if chosen is None and not (config.executor == "inline" and workers > 1):
                chosen = config.executor
        chosen = chosen or ("processes" if workers > 1 else "inline")
        ran, stop_reason = 0, "done"
        notes: dict[str, None] = {}  # each run's notes (inline switched to processes for a trial_timeout), once
        while True:
            with shown_warnings() as said:
                result = study.optimize(run_objective, workers=workers, executor=chosen, **limits)
            ran += result.trials_run
            stop_reason = result.stop_reason
            notes.update(dict.fromkeys(note for note in result.notes if note not in said))  # said as they came
            if not wait:
                break
            # Others' trials still running are waited for; then the study is asked again, so that the line below
            # says what storage holds after the wait (and runs what a reaped trial freed), not what it held before.
            others = any(r.state is TrialState.RUNNING for r in study.trials)
            if not study.settle() and not others:
                break
    where = f"{study.name} in {redact_url(url)}"
    console.print(terminal_safe(f"worker ran {ran} trials of {where}; stopped: {stop_reason}"))
    for note in notes:
        console.print(terminal_safe(note))
    _confirm_stored(study)


@click.command()
@click.argument("study_name")
@storage_option
@click.option("--trials", type=click.IntRange(min=1), default=None, help="The new trial budget (a total).")
@click.option("--wall-time", default=None, help="The new wall-time budget: seconds or a duration such as 2h.")
@click.option("--resource", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The new resource budget (a total of steps).")  # fmt: skip
@click.option("--compute", default=None,
              help="The new compute budget (trial time x devices): seconds or a duration such as 200h.")  # fmt: skip
@click.option("--past-convergence", is_flag=True, default=False,
              help="Turn the budget's until_converged off: the search goes on past convergence.")  # fmt: skip
def extend(
    study_name: str, storage: str, trials: int | None, wall_time: str | None,
    resource: float | None, compute: str | None, past_convergence: bool,
) -> None:  # fmt: skip
    """Raise the budget of the study STUDY_NAME: each limit given is its new total, above the stored one.

    A stored study's budget changes only this way (or with ``Study.extend_budget``); the change is
    recorded in the study's ``budget_log``. Resume it afterwards with ``tunesmith run CONFIG`` (the
    config's former budget is accepted) or ``tunesmith worker STUDY_NAME``.
    """
    url = storage
    if trials is None and wall_time is None and resource is None and compute is None and not past_convergence:
        raise CliError("tunesmith extend raises a limit of the budget, but none was given: pass --trials N, "
                       "--wall-time 2h, --compute 200h or --resource R, each the new total, above the stored "
                       "one (or --past-convergence to search on past convergence)")  # fmt: skip
    store = _open(url)
    with _friendly_errors():
        try:
            study = Study.load(study_name, store)
        except StudyNotFound:
            raise no_study(study_name, store, url) from None
        before = study.budget
        after = study.extend_budget(trials=trials, wall_time=wall_time, resource=resource, compute=compute,
                                    until_converged=False if past_convergence else None)  # fmt: skip
    where = f"{study.name} in {redact_url(url)}"
    console.print(terminal_safe(f"extended the budget of {where}: {before.describe()} -> {after.describe()}"))
    if (still := _still_starts_none(study, after)) is not None:
        console.print(terminal_safe(still))
    _confirm_stored(study)


# The option of `extend` that raises each limit.
_EXTEND_OPTIONS: dict[str, str] = {"trials": "--trials N", "wall_time": "--wall-time 2h", "compute": "--compute 200h",
                                   "resource": "--resource R"}  # fmt: skip


def _still_starts_none(study: Study, after: Budget) -> str | None:
    """When no trial runs and the extended budget ``after`` still lets `Study.ask` start none, what holds it and the
    fix: another limit that is spent, or what is left of a raised one too little to train a new trial to the end
    (`starts_no_trial`); ``None`` when a run on starts one. Without it, the extension read as done, and the run on
    ended at once."""
    records = study.trials
    if any(r.state is TrialState.RUNNING for r in records):
        return None  # a run under way goes on under the new budget
    usage = Budget.usage(records, time.time())
    if (limit := after.exhausted_limit(usage)) is not None:
        return (f"note: a run on still starts no trial: {after.spent_sentence(limit, usage)}; raise it too "
                f"(tunesmith extend {study.name} {_EXTEND_OPTIONS[limit]}, a total above the stored one)")  # fmt: skip
    if (spent := starts_no_trial(after, records, study.scheduler)) is not None:
        return f"note: a run on still starts no trial: {spent.message}"
    return None


@click.command()
@click.argument("study_name")
@storage_option
@click.option("--yes", is_flag=True, default=False, help="Delete without asking (what a script passes).")
@click.option("--force", is_flag=True, default=False,
              help="Delete even with trials RUNNING (their workers gone) or a holdout the study opened.")  # fmt: skip
def delete(study_name: str, storage: str, yes: bool, force: bool) -> None:
    """Delete the study STUDY_NAME with its trials: to start over under the same name.

    A study whose trials are running, or that opened a locked holdout (the record that tells later studies the set
    was read), is kept unless --force. Checkpoint files are left in place; the output names their folder.
    """
    from tunesmith._study_admin import delete_study

    store = _open(storage)
    with _friendly_errors():
        try:
            info = store.load_study(study_name)
        except StudyNotFound:
            raise no_study(study_name, store, storage) from None
        if not yes:
            held = len(store.get_trials(info.id))
            question = f"delete study {info.name!r} and its {counted(held, 'trial')} from {redact_url(storage)}?"
            if not _answerable():
                raise CliError(f"tunesmith delete asks before it deletes ({question}), but there is no terminal to "
                               "answer on: pass --yes to delete without asking")  # fmt: skip
            if not click.confirm(terminal_safe(question, markup=False), default=False):
                raise CliError(f"study {info.name!r} not deleted")
        deleted = delete_study(info.name, store, force=force)
    for line in deleted.lines():
        console.print(terminal_safe(line))
    with _friendly_errors():
        store.list_studies()  # the storage still answers after the last output (a SQLite file deleted meanwhile)


@click.command()
@click.argument("study_name")
@storage_option
@click.option("--to", "to_storage", required=True, help="The storage to copy into (a new SQLite file is created).")
@click.option("--as", "to_name", default=None, help="The copy's name (default: the study's).")
def copy(study_name: str, storage: str, to_storage: str, to_name: str | None) -> None:
    """Copy the study STUDY_NAME, every trial as recorded, to the storage --to (SQLite to PostgreSQL to scale out,
    or to a file to archive it); the source is unchanged and the two are separate studies from then on."""
    from tunesmith._study_admin import copy_study

    source = _open(storage)
    with _friendly_errors():
        try:
            source.load_study(study_name)
        except StudyNotFound:
            raise no_study(study_name, source, storage) from None
        if to_name is not None:  # refused before a new SQLite file is created for it
            from tunesmith.study._study import _study_name, refuse_control_characters

            refuse_control_characters(to_storage, _study_name(to_name))
        target = open_storage(to_storage)
        if target.url == "memory":  # the copy would end with this command, reported as done
            raise CliError(
                "--to memory keeps the copy only inside this command's process, so it is gone when the command ends: "
                "copy to a SQLite file (--to sqlite:///copy.db) or a PostgreSQL server"
            )
        copied = copy_study(study_name, source, target, to_name=to_name)
    for line in copied.lines():
        console.print(terminal_safe(line))
    with _friendly_errors():
        target.load_study(copied.name)  # both storages still answer after the last output
        source.load_study(study_name)


def _answerable() -> bool:
    """Whether a question can be answered: standard input is a terminal."""
    return sys.stdin.isatty()


@click.group("storage")
def storage_group() -> None:
    """The storage itself: its schema."""


@storage_group.command("upgrade")
@storage_option
def storage_upgrade(storage: str) -> None:
    """Migrate a SQL storage written by an older tunesmith to this version's schema.

    It never creates a database: a missing SQLite file (or one without tunesmith's tables) is refused.
    """
    from tunesmith.storage import SQLStorage

    url = storage
    with _friendly_errors():
        store = open_storage(url, create=False)
        if not isinstance(store, SQLStorage):
            raise CliError(f"{redact_url(url)} is not a SQL storage: only SQL storages have a schema")
        version = store.schema_version
        store.close()
    console.print(terminal_safe(f"{redact_url(url)} is at schema version {version}"))
