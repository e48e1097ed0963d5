"""Scale-out and upkeep: workers joining a study from any machine, a study's budget extended, the storage's schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from tunesmith._text import terminal_safe
from tunesmith.cli._common import (
    CliError,
    _confirm_stored,
    _friendly_errors,
    _interruptible,
    _open,
    console,
    storage_option,
)
from tunesmith.errors import StudyNotFound
from tunesmith.storage import open_storage, redact_url
from tunesmith.study import Study

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


def _worker_objective(
    study: Study, reference: str | None, config: StudyConfig | None, unread: str | None
) -> Callable[..., Any]:  # fmt: skip
    """The objective: the study's (its ``objective`` attribute, else its config's); ``reference`` (--objective)
    only when it names the same one, or when the study records none, which it then records for later workers.

    Raises:
        CliError: ``reference`` names another objective than the study's, or neither names one.
    """
    from pathlib import Path

    from tunesmith.config import import_object

    attrs = study.attrs
    recorded, source, base_dir = None, "", Path.cwd()
    if isinstance(attrs.get("objective"), str):
        recorded, source = attrs["objective"], "its 'objective' attribute"
    elif config is not None:  # read from the config's directory, as `tunesmith run` reads it
        recorded, source, base_dir = config.objective, f"its config {config.path}", config.path.parent
    if reference is not None and recorded is not None and reference.strip() != recorded.strip():
        # Trials of two objectives in one study cannot be compared, and no trial records which one it ran.
        raise CliError(
            f"--objective {reference} is not the objective of study {study.name!r}, which records {recorded} "
            f"({source}): one study runs one objective; leave --objective out (or pass --objective {recorded}), "
            "or start a new study for the other objective"
        )
    with _friendly_errors():
        if reference is not None:  # read from the working directory, as the option's help says
            objective = import_object(reference, base_dir=Path.cwd(), what="objective")
            if recorded is None and "config" not in attrs:
                study.set_attr("objective", reference)  # so that later workers need no --objective
            return objective
        if recorded is not None:
            return import_object(recorded, base_dir=base_dir, what="objective")
    if unread is not None:
        raise CliError(f"{unread}: make it readable at that path, or pass --objective module:function")
    raise CliError(
        f"study {study.name!r} records no objective (attribute 'objective' or 'config'): "
        "pass --objective module:function"
    )


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
def worker(
    study_name: str, storage: str, objective: str | None, workers: int,
    executor: str | None, heartbeat_interval: float | None, grace: float | None, wait: bool,
) -> None:  # fmt: skip
    """Join the study STUDY_NAME from this machine and run its trials until its budget is spent.

    Any number of workers on any number of machines may share one storage (PostgreSQL across
    machines): the trial budget is counted in the storage, so it is exact over all of them. When the
    study records its config (``tunesmith run`` does), its executor (unless --executor), ``trial_timeout``,
    ``memory_limit`` and ``fail_fast`` apply, as for ``tunesmith run``, with or without --objective; a config
    this machine cannot read is said in one warning line. --objective must name the objective the study
    records, if it records one. Ctrl-C, SIGTERM or SIGHUP records the running trials as interrupted and exits
    with code 130 (143 for SIGTERM, 129 for SIGHUP).
    """
    url = storage
    store = _open(url, create=False)  # a worker joins a study: a mistyped path is an error, not a new empty file
    overrides: dict[str, Any] = {}
    if heartbeat_interval is not None:
        overrides["heartbeat_interval"] = heartbeat_interval
    if grace is not None:
        overrides["grace"] = grace

    def kept() -> str:
        return (
            f"interrupted: the trials this worker finished are kept in {redact_url(url)}; its running trial is "
            f"recorded interrupted. Carry on with: tunesmith worker {study_name} (the same storage and objective)"
        )

    with _interruptible(kept), _friendly_errors():
        try:
            study = Study.load(study_name, store, **overrides)
        except StudyNotFound:
            known = ", ".join(s.name for s in store.list_studies()) or "none"
            raise CliError(f"no study named {study_name!r} in {redact_url(url)} (studies: {known})") from None
        config, unread = _recorded_config(study)
        run_objective = _worker_objective(study, objective, config, unread)
        if unread is not None:  # the objective came from --objective or the 'objective' attribute
            click.echo(terminal_safe(
                f"warning: {unread}, so this worker runs without its trial_timeout, memory_limit, executor and "
                "fail_fast (the defaults apply): make the config readable at that path to apply them", markup=False,
            ), err=True)  # fmt: skip
        limits: dict[str, Any] = {}
        chosen = executor
        if config is not None:
            limits = {"memory_limit": config.memory_limit, "trial_timeout": config.trial_timeout,
                      "fail_fast": config.fail_fast}  # fmt: skip
            if chosen is None and not (config.executor == "inline" and workers > 1):
                chosen = config.executor
        chosen = chosen or ("processes" if workers > 1 else "inline")
        ran, stop_reason = 0, "done"
        while True:
            result = study.optimize(run_objective, workers=workers, executor=chosen, **limits)
            ran += result.trials_run
            stop_reason = result.stop_reason
            if not wait or not study.settle():
                break
    where = f"{study.name} in {redact_url(url)}"
    console.print(terminal_safe(f"worker ran {ran} trials of {where}; stopped: {stop_reason}"))
    _confirm_stored(study)


@click.command()
@click.argument("study_name")
@storage_option
@click.option("--trials", type=click.IntRange(min=1), default=None, help="The new trial budget (a total).")
@click.option("--wall-time", default=None, help="The new wall-time budget: seconds or a duration such as 2h.")
@click.option("--resource", type=click.FloatRange(min=0, min_open=True), default=None,
              help="The new resource budget (a total of steps).")  # fmt: skip
def extend(
    study_name: str, storage: str, trials: int | None, wall_time: str | None,
    resource: float | None,
) -> None:  # fmt: skip
    """Raise the budget of the study STUDY_NAME: each limit given is its new total, above the stored one.

    A stored study's budget changes only this way (or with ``Study.extend_budget``); the change is
    recorded in the study's ``budget_log``. Resume it afterwards with ``tunesmith run CONFIG`` (the
    config's former budget is accepted) or ``tunesmith worker STUDY_NAME``.
    """
    url = storage
    store = _open(url)
    with _friendly_errors():
        try:
            study = Study.load(study_name, store)
        except StudyNotFound:
            known = ", ".join(s.name for s in store.list_studies()) or "none"
            raise CliError(f"no study named {study_name!r} in {redact_url(url)} (studies: {known})") from None
        before = study.budget
        after = study.extend_budget(trials=trials, wall_time=wall_time, resource=resource)
    where = f"{study.name} in {redact_url(url)}"
    console.print(terminal_safe(f"extended the budget of {where}: {before.describe()} -> {after.describe()}"))
    _confirm_stored(study)


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
