"""The ``tunesmith`` command line: run studies from config files and read them back from storage.

The group `cli` lives here; its commands, one module per kind: `_run` (run, demo), `_inspect` (trials,
best, status, studies, report, export, dashboard), `_failures` (show, retry), `_discipline` (plan, finalize,
lr-find), `_scale` (worker, extend, copy, delete, storage upgrade), `_optuna` (import-optuna) and `_known` (enqueue,
invalidate, revalidate). `_common` holds what they share.
"""

from __future__ import annotations

import click

from tunesmith.cli._discipline import finalize_command, lr_find, plan_command
from tunesmith.cli._failures import retry, show
from tunesmith.cli._inspect import best, dashboard_command, export, report, status, studies, trials
from tunesmith.cli._known import enqueue, invalidate, revalidate
from tunesmith.cli._optuna import import_optuna
from tunesmith.cli._run import demo, run
from tunesmith.cli._scale import copy, delete, extend, storage_group, worker

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tunesmith")
def cli() -> None:
    """Budget-aware hyperparameter tuning with the discipline built in."""


for _command in (
    run, trials, best, status, studies, demo, report, export, lr_find, worker, storage_group, plan_command,
    finalize_command, dashboard_command, extend, show, retry, import_optuna, enqueue, invalidate, revalidate,
    delete, copy,
):  # fmt: skip
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    import warnings

    from tunesmith.study import ShortTrainingWarning

    # `run` and `demo` state the number of fully trained configurations in their own words.
    warnings.filterwarnings("ignore", category=ShortTrainingWarning)
    cli(prog_name="tunesmith")
