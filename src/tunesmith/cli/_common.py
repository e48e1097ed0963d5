"""What every command shares: the console, the storage and JSON options, errors as one line, finding a study."""

from __future__ import annotations

import _thread
import functools
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from tunesmith._attribute_json import json_safe
from tunesmith._console import WholeLinesConsole
from tunesmith._progress import Progress
from tunesmith._text import terminal_safe
from tunesmith.attributes import ConvergenceAttr, SamplerChoiceAttr, read_attr
from tunesmith.errors import StudyNotFound, TunesmithError
from tunesmith.objective import without_digests
from tunesmith.samplers import Auto
from tunesmith.storage import Storage, StudyInfo, open_storage, redact_url
from tunesmith.study import Study, StudyResult
from tunesmith.study._convergence import Convergence, assess, room_text, room_unread
from tunesmith.study._spec import sampler_changes
from tunesmith.study._validation_set import earlier_studies, reuse_line, validation_set
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.report import Findings

DEFAULT_STORAGE = "sqlite:///tunesmith.db"
DEMO_STORAGE = "sqlite:///tunesmith-demo.db"

# Names are data: no highlighting, no :emoji: codes; every user-supplied string goes through `terminal_safe`.
console = WholeLinesConsole(highlight=False, emoji=False)


def storage_options(*, default: str | None = DEFAULT_STORAGE, config: bool = False) -> Callable[[Any], Any]:
    """``--storage`` and ``--storage-file`` (and their environment variables) as given, for `storage_url` to
    resolve: `storage_option` does it for a command; `run` does it with its config's storage."""
    if config:
        order = f"beats the config's storage, which beats TUNESMITH_STORAGE; default {default}"
    else:
        order = f"also TUNESMITH_STORAGE; default {default}" if default else "also TUNESMITH_STORAGE"

    def decorate(command: Any) -> Any:
        command = click.option(
            "--storage-file",
            envvar="TUNESMITH_STORAGE_FILE",
            type=click.Path(dir_okay=False),
            default=None,
            help="A file whose first line is the storage URL (also TUNESMITH_STORAGE_FILE): keeps a password off "
            "command lines and out of the environment.",
        )(command)
        shown = f"Storage URL ({order}); never printed with its password."
        return click.option("--storage", envvar="TUNESMITH_STORAGE", default=None, help=shown)(command)

    return decorate


def storage_url(
    storage: str | None,
    storage_file: str | None,
    *,
    config: str | None = None,
    default: str | None = DEFAULT_STORAGE,
    say: bool = True,
) -> str:
    """The storage URL, found the same way by every command: --storage or --storage-file on the command line,
    else the config's ``storage`` (`run`), else TUNESMITH_STORAGE or TUNESMITH_STORAGE_FILE, else ``default``.

    ``storage`` and ``storage_file`` are the options' values, from the command line or the environment (click
    knows which). Unless ``say`` is false (JSON output), a URL from the environment or the default is printed
    on stderr with where it came from, its password hidden; so is the config's when it beats a variable set.

    Raises:
        CliError: both options on the command line, or both variables set; none given and no ``default``.
    """
    context = click.get_current_context()
    given = {"storage": storage, "storage_file": storage_file}
    typed = [key for key, value in given.items() if value and context.get_parameter_source(key) not in _NOT_TYPED]
    if len(typed) == 2:
        raise CliError("give the storage once, got both --storage and --storage-file: drop one of them")
    if typed:
        return _read_storage_file(storage_file or "") if typed == ["storage_file"] else storage or ""
    if config:
        if not (storage or storage_file):
            return config  # written in the config the command line names: said only when it beats a variable
        variable = "TUNESMITH_STORAGE" if storage else "TUNESMITH_STORAGE_FILE"
        url, origin = config, f"from the config's storage, which beats {variable}; --storage overrides both"
    elif storage and storage_file:
        raise CliError(
            f"give the storage once, got both TUNESMITH_STORAGE={redact_url(storage)} and "
            f"TUNESMITH_STORAGE_FILE={storage_file}: unset one, or pass --storage or --storage-file, which win"
        )
    elif storage:
        url, origin = storage, "from TUNESMITH_STORAGE; --storage overrides it"
    elif storage_file:
        url, origin = _read_storage_file(storage_file), f"from the file TUNESMITH_STORAGE_FILE names, {storage_file}"
    elif default is not None:
        url, origin = default, "the default; pass --storage URL or set TUNESMITH_STORAGE for another"
    else:
        raise CliError(
            "no storage given: pass --storage URL or --storage-file PATH (or set TUNESMITH_STORAGE or "
            "TUNESMITH_STORAGE_FILE)"
        )
    if say:
        click.echo(terminal_safe(f"storage: {redact_url(url)} ({origin})", markup=False), err=True)
    return url


_NOT_TYPED = (ParameterSource.ENVIRONMENT, ParameterSource.DEFAULT)


def _read_storage_file(path: str) -> str:
    from tunesmith.storage import read_storage_file

    with _friendly_errors():
        return read_storage_file(path)


def storage_option(command: Callable[..., Any] | None = None, *, default: str | None = DEFAULT_STORAGE) -> Any:
    """``--storage`` and ``--storage-file`` for a command whose ``storage`` argument is the URL `storage_url`
    resolves (``@storage_option``, or ``@storage_option(default=None)`` for a command that needs one given)."""

    def decorate(command: Callable[..., Any]) -> Any:
        @functools.wraps(command)
        def resolved(*args: Any, storage: str | None, storage_file: str | None, **kwargs: Any) -> Any:
            url = storage_url(storage, storage_file, default=default, say=not kwargs.get("as_json"))
            return command(*args, storage=url, **kwargs)

        return storage_options(default=default)(resolved)

    return decorate if command is None else decorate(command)


json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")


class CliError(click.ClickException):
    """A `TunesmithError` shown as one line, exit code 1, never a traceback (nor a name's escape sequence); raised
    by a command run with ``--json``, shown as the JSON object ``{"error": message}`` on stdout, where a program
    reads that command's output."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # Whether the command asked for JSON, read while it runs: its context is gone when click shows the error.
        context = click.get_current_context(silent=True)
        self.as_json = bool(context is not None and context.params.get("as_json"))

    def format_message(self) -> str:
        return terminal_safe(self.message, markup=False, multiline=True)

    def show(self, file: IO[Any] | None = None) -> None:
        if self.as_json:
            _print_json({"error": self.message})
        else:
            super().show(file)


@contextmanager
def shown_warnings() -> Iterator[set[str]]:
    """The messages of the warnings shown while the block runs (those the filters let through), as they are shown:
    a run's notes (`StudyResult.notes`) repeat the warnings it gave, and the summary leaves out those the user saw
    when they happened (an `ExampleCountWarning` was printed as it came and again, word for word, under
    "stopped:")."""
    import warnings

    shown: set[str] = set()
    with warnings.catch_warnings():
        show = warnings.showwarning

        def noting(message: Warning | str, *args: Any, **kwargs: Any) -> None:
            shown.add(str(message))
            show(message, *args, **kwargs)

        warnings.showwarning = noting
        yield shown


@contextmanager
def _friendly_errors() -> Iterator[None]:
    try:
        yield
    except TunesmithError as exc:
        raise CliError(str(exc)) from None


INTERRUPTED_EXIT = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C
TERMINATED_EXIT = 143  # 128 + SIGTERM, what a shell reports for a command stopped by `kill`, `timeout`, a supervisor
HUNG_UP_EXIT = 129  # 128 + SIGHUP, what a shell reports for a command whose terminal closed (an ssh session dropped)
# `--require-ready`'s exit codes (`finalize`, `run`): a check failed on evidence that decided it ("not ready"), or the
# evidence could not decide ("not shown ready"); a pipeline may hold either, or retry the second with more data.
NOT_READY_EXIT = 3
NOT_SHOWN_READY_EXIT = 4
# The signals that end a command as Ctrl-C does, but say "terminated (SIG...)", with their exit codes.
_TERMINATING: dict[int, int] = {signal.SIGTERM: TERMINATED_EXIT}
if hasattr(signal, "SIGHUP"):  # not on Windows
    _TERMINATING[signal.SIGHUP] = HUNG_UP_EXIT


# Set by the console script (`tunesmith.cli.main`), whose process ends with the command: a Ctrl-C after an
# interruption's report then ends it by the signal's default action (see `_sigterm_as_interrupt`), where a command
# invoked from Python (click's test runner, a notebook) gets its caller's handler back.
PROCESS_ENDS_WITH_COMMAND: ContextVar[bool] = ContextVar("PROCESS_ENDS_WITH_COMMAND", default=False)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl-C's `KeyboardInterrupt`, so that `Study.optimize`
    records the running trials as interrupted and kills their processes before the command exits.

    An objective running in the command's process may catch it as it catches Ctrl-C (a training loop that saves its
    state, then returns): that is why it stays a `KeyboardInterrupt`. The inline executor notes it all the same
    (`tunesmith.executors.inline.noting_interrupts`) and raises it again once the objective returns, so the trial
    is recorded interrupted and the command still ends.

    Attributes:
        signum: the signal that ended the command.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM or SIGHUP (the terminal closed) raises `Terminated` in the main thread; the previous
    handlers are restored afterwards. The block always ends with `Terminated` once one was raised. Ctrl-C raises
    `KeyboardInterrupt` as Python's handler does, except that a second one is ignored while the first is being handled
    (``timeout -s INT`` sends two; a double Ctrl-C), for the reason below.

    A later signal is ignored while that `Terminated` is being handled, which is when the command records what it cut
    short (``timeout`` signals the command and then its whole process group, so one SIGTERM often comes twice; a
    closed terminal may be followed by SIGTERM); a supervisor's SIGKILL still ends it. Anywhere else a later signal
    raises `Terminated` again: the first was caught and the code went on (an objective running inline that saves its
    state; see `tunesmith.executors.inline.noting_interrupts`), or it was lost. A `Terminated` that C code or a
    finalizer dropped (reported as "Exception ignored in: ..." through `sys.unraisablehook`: a Cython callback, a
    ``__del__`` running when the signal lands) is raised again at once, without a second signal, and one caught and
    dropped silently is raised again when the block ends, so the command still exits as terminated. A trial process
    forked inside the block inherits the handler, which there does what the signal does by default. A signal ignored
    when the block starts stays ignored: ``nohup`` asks for a command that outlives its terminal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (a command invoked from a thread keeps the default)
        return
    owner = os.getpid()
    raised: Terminated | None = None  # the last `Terminated` raised in the block
    in_hook = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal raised
        if os.getpid() != owner:  # a forked trial process: the signal ends it as by default
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if in_hook:  # an exception raised in the unraisable hook is dropped too: once the hook has returned
            _deliver_again(signum)
            return
        if raised is not None and _being_handled(raised):
            return  # the command is recording what the first one cut short
        raised = Terminated(signum)
        raise raised

    former_hook = sys.unraisablehook

    def on_unraisable(unraisable: Any) -> None:
        nonlocal in_hook
        dropped = unraisable.exc_value
        ours = dropped is not None and (dropped is raised or dropped is first_interrupt)
        if not ours or os.getpid() != owner:
            former_hook(unraisable)
            return
        # Dropped where no exception can propagate, and not ignored after all: no "Exception ignored" message. The
        # signal comes again, to raise where the main thread next runs Python code.
        in_hook = True
        try:
            _deliver_again(raised.signum if raised is not None and dropped is raised else signal.SIGINT)
        finally:
            in_hook = False

    first_interrupt: KeyboardInterrupt | None = None

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        # Ctrl-C as Python's own handler, but a second one is ignored while the first is being handled: the run is
        # recording what it cut short, and a KeyboardInterrupt landing there (between a lock's acquire and the block
        # that releases it, in a finally of the unwinding) hung the command or cut its records short.
        # One dropped where no exception can propagate (a weakref callback the garbage collector ran, reported as
        # "Exception ignored in: ..."; the Ctrl-C was lost and the run went on) comes again, as SIGTERM's does.
        nonlocal first_interrupt
        if in_hook:
            _deliver_again(signum)
            return
        if os.getpid() != owner or first_interrupt is None or not _being_handled(first_interrupt):
            first_interrupt = KeyboardInterrupt()
            raise first_interrupt

    previous = {
        number: signal.signal(number, on_signal)
        for number in _TERMINATING
        if signal.getsignal(number) is not signal.SIG_IGN
    }
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored, nor set by the caller
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, on_interrupt)
    if previous:
        sys.unraisablehook = on_unraisable
    unwinding = True  # until the block ends without an exception: an interruption ends the command by one
    try:
        yield
        if raised is not None:  # caught and dropped without a trace: a terminated command still ends terminated
            raise Terminated(raised.signum)
        unwinding = False
    finally:
        interrupted = raised is not None or first_interrupt is not None
        ending = unwinding and interrupted and PROCESS_ENDS_WITH_COMMAND.get()
        for number, handler in previous.items():
            # A console script interrupted goes on only to exit: a later Ctrl-C (the second of ``timeout -s INT``'s,
            # landing in click's exit or an atexit finalizer: "Exception ignored in atexit callback" and a traceback
            # after the report) ends it at once and silently, as SIGTERM's default does, with all recorded.
            ending_on = ending and number == signal.SIGINT and handler is signal.default_int_handler
            signal.signal(number, signal.SIG_DFL if ending_on else handler)
        if sys.unraisablehook is on_unraisable:  # a hook set inside the block stays, as without us
            sys.unraisablehook = former_hook


def _deliver_again(signum: int) -> None:
    """Run ``signum``'s Python handler again in the main thread, where it next runs Python code after this call has
    returned: tripped from another thread, since the main thread runs a handler it trips itself before returning (a
    bare thread: `threading`'s start waits for the thread, and the main thread would run the handler in that wait)."""
    _thread.start_new_thread(_thread.interrupt_main, (signal.Signals(signum),))


def _being_handled(exc: BaseException) -> bool:
    """Whether ``exc`` is being handled in this thread: an ``except`` or ``finally`` block or a context manager's
    exit runs for it, or for an exception raised while it was handled."""
    current, seen = sys.exc_info()[1], set[int]()
    while current is not None and id(current) not in seen:
        if current is exc:
            return True
        seen.add(id(current))
        current = current.__context__
    return False


@contextmanager
def _interruptible(say: Callable[[BaseException], str]) -> Iterator[None]:
    """Ctrl-C, SIGTERM or SIGHUP ends the command with ``say(exc)`` on stderr (what was kept, read from the
    interruption ``exc``: `tunesmith.study.stopped_by(exc)` says what storage holds; how to carry on) and
    exit code 130 (143 for SIGTERM, 129 for SIGHUP), instead of click's bare "Aborted!" or a silent death that
    leaves trials RUNNING and the trials' own processes orphaned.

    ``say(exc)`` starts with "interrupted"; after SIGTERM that word reads "terminated (SIGTERM)", after SIGHUP
    "terminated (SIGHUP)". A closed terminal may refuse the message: the exit code still says what happened.
    """
    # The interruption is reported inside the handlers' block, so that a second signal while ``say`` reads storage
    # is ignored as one during the unwinding is: outside it, Python's own handler raised there, click printed
    # "Aborted!" and the command exited 1 without saying what was kept.
    with _sigterm_as_interrupt():
        try:
            yield
        except KeyboardInterrupt as exc:
            text, code = say(exc), INTERRUPTED_EXIT
            if isinstance(exc, Terminated):
                cause, code = f"terminated ({signal.Signals(exc.signum).name})", _TERMINATING[exc.signum]
                said = text.startswith("interrupted")
                text = cause + text.removeprefix("interrupted") if said else f"{cause}: {text}"
            with suppress(OSError):  # stderr on a terminal that hung up
                click.echo(terminal_safe(text, markup=False, multiline=True), err=True)
            raise click.exceptions.Exit(code) from None


def _command_line(ctx: click.Context) -> str:
    """The command as typed (the arguments and the options given on the command line, not those from the
    environment), ready to paste into a shell; a storage URL's password shows as ``***``."""
    names, node = [], ctx
    while node.parent is not None:  # the root's name is the program's
        names.append(node.info_name or "")
        node = node.parent
    words = ["tunesmith", *(reversed(names) if names else [ctx.info_name or ""])]
    options: list[str] = []
    for param in ctx.command.params:
        name = param.name or ""
        value = ctx.params.get(name)
        if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE or value is None:
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif isinstance(param, click.Option) and param.is_flag:
            if value:
                options.append(param.opts[0])
            elif param.secondary_opts:
                options.append(param.secondary_opts[0])
        else:
            options += [param.opts[0], redact_url(str(value)) if name == "storage" else str(value)]
    return shlex.join(words + options)


def _open(storage: str, *, create: bool = False) -> Storage:
    """The storage at ``storage``; a missing SQLite file is refused unless ``create`` (run, worker)."""
    with _friendly_errors():
        return open_storage(storage, create=create)


def no_study(name: str, store: Storage, storage: str) -> CliError:
    """The error for a study ``name`` that ``store`` (at URL ``storage``) does not hold, naming the ones it does."""
    known = ", ".join(s.name for s in store.list_studies()) or "none"
    return CliError(f"no study named {name!r} in {redact_url(storage)} (studies: {known})")


def trial_number(text: str, example: str) -> int:
    """``text``, a trial number given on the command line, refused unless it is an integer (``example``: the command
    to show, as ``tunesmith show NAME``, to which the number 3 is added)."""
    try:
        return int(text)
    except ValueError:
        raise CliError(f"the trial number must be an integer, got {text!r}: e.g. {example} 3") from None


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
            raise no_study(name, store, storage) from None


def _confirm_stored(study: Study) -> None:
    """Read ``study``'s storage once more, after a command's last output: a SQLite file deleted or replaced since
    the command's last read or write (a read checks the file) ends the command with that error on one line and exit
    code 1, so that no command reports success over a database that is gone.

    Raises:
        CliError: the storage no longer answers, or no longer holds the study.
    """
    with _friendly_errors():
        study.storage.load_study(study.name)


def verdict_colour(ready: bool | None, failed_decided: bool) -> str:
    """The colour a verdict's headline prints in: green when ready, red when a check failed on decided evidence
    ("not ready", status "fail"), yellow when it is not shown ready (a check failed for want of evidence, or leans
    beyond its limit within noise)."""
    return "green" if ready else "red" if failed_decided else "yellow"


def _fmt(value: Any) -> str:
    """A value as the report and `status` print it (`format_value`): `best` printed a parameter to 4 digits
    (``x = 0.5324``) where they print 0.532."""
    from tunesmith.analysis._common import format_value

    return format_value(value)


def _params_text(params: dict[str, Any]) -> str:
    """``name=value, ...`` as rich markup: names and values are escaped."""
    return terminal_safe(", ".join(f"{k}={_fmt(v)}" for k, v in params.items()))


def _record_json(record: TrialRecord) -> dict[str, Any]:
    return {
        "number": record.number,
        "state": record.state.value,
        "params": record.params,
        "metrics": without_digests(record.metrics),  # stderr: and count: kept, as the data
        "reason": record.reason,
        "seed": record.seed,
        "resource": record.resource,
        "duration": record.duration,
    }


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(json_safe(obj), sort_keys=True, allow_nan=False))  # NaN and infinities as null


def _analyse(study: Study) -> tuple[Findings, float]:
    """Importance and diagnosis of ``study``'s trials, with a progress line; returns them and the seconds taken."""
    from tunesmith.report import ReportData, analyse

    started = time.monotonic()
    data = ReportData.from_study(study)
    with Progress(f"analysing {len(data.records)} trials of {study.name}", 1, unit="analyses") as bar:
        findings = analyse(data)
        bar.update(advance=1)
    return findings, time.monotonic() - started


def _summary(
    study: Study,
    result: StudyResult | None = None,
    *,
    analyses: bool = True,
    findings: Findings | None = None,
    why_no_result_below: bool = False,
    said: Collection[str] = (),
) -> None:
    """Where the study lives and how this run ended, then the report's terminal summary (``why_no_result_below``:
    the command says why the study has no result after it, as `summary` takes it; ``said``: the run's warnings
    shown as they came, `shown_warnings`, whose notes are not printed again)."""
    from tunesmith.report import summary

    console.print(f"[bold]{terminal_safe(study.name)}[/bold] in {terminal_safe(redact_url(study.storage.url))}")
    if result is not None:
        ran = f"this run: {result.trials_run} trials in {result.elapsed:.1f}s"
        console.print(terminal_safe(f"stopped: {result.stop_reason}; {ran}"))
        for note in result.notes:
            if note not in said:
                console.print(terminal_safe(note))
    with _friendly_errors():
        sampler = _sampler_line(study.info, study.sampler.describe())
    if sampler is not None:
        console.print(terminal_safe(sampler))
    with _friendly_errors():  # the studies that tuned on the same validation set before this one
        named = validation_set(study)
        reused = None if named is None else reuse_line(named, earlier_studies(study))
    if reused is not None:
        console.print(f"[yellow]{terminal_safe(reused)}[/yellow]")
    with _friendly_errors():
        left = left_to_find(study)
        unread = left_unread(study) if left is None else None
    if left is not None and (room := room_text(left, study.metric)) is not None:
        console.print(terminal_safe(room))
    elif unread is not None:
        console.print(terminal_safe(unread))
    summary(study, console=console, analyses=analyses, findings=findings, why_no_result_below=why_no_result_below)


def left_to_find(study: Study) -> Convergence | None:
    """The convergence check on the study as it stands, which the summary words as how much better the space may
    still score than the best (`tunesmith.study._convergence.room_text`) and `status --json` gives as
    ``left_to_find``: for one objective whose scores carry a standard error; not once a recorded convergence ended
    the search (`status` says that), nor for several objectives (``None``)."""
    if study.objectives or (study.budget.until_converged and read_attr(study.attrs, ConvergenceAttr) is not None):
        return None
    check = assess(study.space, study.trials, study.metric)
    return None if check is None or check.bound is None else check


def left_unread(study: Study) -> str | None:
    """Why the summary cannot say what is left to find where `left_to_find` has nothing (`room_unread`: too few
    complete trials, or scores without a standard error); ``None`` where it says nothing of it by design (several
    objectives, a recorded convergence) or before any trial completed."""
    if study.objectives or (study.budget.until_converged and read_attr(study.attrs, ConvergenceAttr) is not None):
        return None
    return room_unread(study.trials, study.metric)


def _sampler_line(info: StudyInfo, given: Mapping[str, Any]) -> str | None:
    """The summary's word on the sampler, as storage has it: why ``auto`` chose what it runs, while the stored
    sampler is ``auto`` (or a study stored without one); else the stored sampler with its settings, as status names
    the scheduler (``sampler: tpe(n_startup=None, ...)``, in the order of ``given``, the running sampler's
    ``describe()``: storage sorts the keys), followed by the switch once a config or a script switched to it (the
    ``sampler_log``), since the choice recorded at creation no longer runs.

    Raises:
        AttributeShapeError: ``sampler_choice`` or ``sampler_log`` not in the shape tunesmith writes.
    """
    from tunesmith.report._shown import call_text, described

    choice = read_attr(info.attrs, SamplerChoiceAttr)
    stored = info.spec.get("sampler")
    if stored is None or _sampler_name(stored) == Auto.name:
        return None if choice is None else f"sampler: {choice.why}"
    named = call_text(described(stored, given)) if isinstance(stored, Mapping) else str(stored)
    objectives = len(info.spec.get("objectives") or ())
    if _sampler_name(stored) == "gp" and 2 <= objectives <= 3:  # its settings name the one-objective acquisition
        named += f" (with {objectives} objectives: log expected hypervolume improvement; acquisition and beta unused)"
    changes = sampler_changes(info.attrs)
    if not changes:
        return f"sampler: {named}"
    last, old = changes[-1], _sampler_name(changes[-1].old)
    if old == Auto.name and choice is not None:
        old = f"{old} ({_sampler_name(choice.sampler)})"  # what auto ran before the switch
    return f"sampler: {named}, switched from {old} after {last.after} trials"


def _sampler_name(form: Any) -> str:
    """A stored sampler's name: its table's ``name`` (a ``describe()`` form), or the name itself."""
    return str(form.get("name")) if isinstance(form, Mapping) else str(form)


def exit_unless_ready(ready: bool, failed: bool) -> None:
    """`--require-ready`, once the verdict is printed and stored: exit `NOT_READY_EXIT` when a check ``failed`` on
    evidence that decided it, `NOT_SHOWN_READY_EXIT` when the verdict is otherwise not ``ready`` (or not reached)."""
    if not ready:
        click.get_current_context().exit(NOT_READY_EXIT if failed else NOT_SHOWN_READY_EXIT)
