"""The ``tunesmith`` command line: run studies from config files and read them back from storage.

The group `cli` lives here; its commands, one module per kind: `_run` (run, demo), `_inspect` (trials,
best, status, studies, report, export, dashboard), `_failures` (show, retry), `_discipline` (plan, finalize,
lr-find), `_choose` (choose), `_scale` (worker, extend, copy, delete, storage upgrade), `_optuna`
(import-optuna) and `_known` (enqueue, invalidate, revalidate). `_common` holds what they share.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import Any, NoReturn

import click

from tunesmith.cli._choose import choose
from tunesmith.cli._common import PROCESS_ENDS_WITH_COMMAND
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
    delete, copy, choose,
):  # fmt: skip
    cli.add_command(_command)


def _warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  line: str | None = None) -> str:  # fmt: skip
    """A warning as the command line says it: its kind and its message, not the library's file and line, which
    name where it was raised, not what the user wrote (a config's space, a budget)."""
    return f"warning ({category.__name__}): {message}\n"


def main() -> None:
    """Console-script entry point."""
    import warnings

    from tunesmith.study import ShortTrainingWarning

    # `run` and `demo` state the number of fully trained configurations in their own words.
    warnings.filterwarnings("ignore", category=ShortTrainingWarning)
    warnings.formatwarning = _warning_line
    sys.stdout = _Stdout(sys.stdout)
    PROCESS_ENDS_WITH_COMMAND.set(True)
    try:
        cli(prog_name="tunesmith")
    except StdoutRefused as exc:
        _say_stdout_refused(exc)
    finally:
        # The command is over and what it stored is committed; the interpreter only exits now. Ctrl-C there ends it
        # by the signal's default action, as SIGTERM does, where Python's handler raised in an atexit finalizer (a
        # storage engine's disposal) and printed a traceback after the command's last line.
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.SIG_DFL)


class StdoutRefused(OSError):
    """Standard output refused what the command wrote to it (a full disk, ``> /dev/full``): the `OSError` it raised,
    marked as standard output's, so that the command ends with one line, never a traceback."""


class _Stdout:
    """Standard output, whose ``write`` and ``flush`` raise `StdoutRefused` for the `OSError` the stream raised; every
    other attribute is the stream's (rich and click read ``encoding``, ``isatty`` and ``fileno`` from it)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except OSError as exc:
            raise StdoutRefused(exc.errno, exc.strerror) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise StdoutRefused(exc.errno, exc.strerror) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _say_stdout_refused(exc: OSError) -> NoReturn:
    """End the command with one line on standard error and exit code 1, instead of a traceback, when standard output
    refused what the command wrote; standard output is pointed at the null device first, so that the interpreter's
    own flush at exit does not fail again."""
    reason = exc.strerror or str(exc)
    try:
        sys.stderr.write(
            f"Error: cannot write to standard output ({reason}): what this command printed is incomplete; what it "
            "stored in the storage is kept. Write its output where there is room (or drop the redirection), and run "
            "it again\n"
        )
        sys.stderr.flush()
    except OSError:
        pass
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    raise SystemExit(1)
