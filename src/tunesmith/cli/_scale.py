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


def _worker_objective(study: Study, reference: str | None) -> tuple[Callable[..., Any], StudyConfig | None]:
    """The objective from --objective, else the study's ``objective`` or ``config`` attribute; with the config
    when the objective came from it (its executor, ``trial_timeout`` and ``memory_limit`` apply to the worker)."""
    from pathlib import Path

    from tunesmith.config import import_object, load_config

    attrs = study.attrs
    with _friendly_errors():
        if reference is not None:
            objective = import_object(reference, base_dir=Path.cwd(), what="objective")
            if "objective" not in attrs and "config" not in attrs:
                study.set_attr("objective", reference)  # so that later workers need no --objective
            return objective, None
        if isinstance(attrs.get("objective"), str):
            return import_object(attrs["objective"], base_dir=Path.cwd(), what="objective"), None
        if isinstance(attrs.get("config"), str):
            config = load_config(attrs["config"])
            return config.load_objective(), config
    raise CliError(
        f"study {study.name!r} records no objective (attribute 'objective' or 'config'): "
        "pass --objective module:function"
    )


@click.command()
@click.argument("study_name")
@storage_option(default=None)
@click.option("--objective", default=None, help="module:function (default: the one the study records).")
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
    objective comes from the study's config, so do the executor (unless --executor), ``trial_timeout``
    and ``memory_limit``, as for ``tunesmith run``. Ctrl-C or SIGTERM records the running trials as
    interrupted and exits with code 130 (143 for SIGTERM).
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
        run_objective, config = _worker_objective(study, objective)
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
