"""Progress of a long wait: a phase, units done of a total, and the time left at the rate observed so far.

`Progress` is what the study loop, the discipline's re-runs and the CLI share. Where it draws:

* stderr is a terminal: a rich bar on stderr, redrawn `REFRESH_PER_SECOND` times a second at most;
* shown on a stream that is not a terminal (``progress=True`` in a log): one plain line per update, at
  most one every `PLAIN_INTERVAL` seconds, plus the first estimate and the end;
* by default where stderr is not a terminal (a log, a batch job's output, a notebook): a pulse, nothing while a phase
  is short, then one plain line every `PULSE_INTERVAL` seconds at most once it has run that long, and its end (a
  search of hours on a cluster printed nothing until its summary);
* not shown: nothing (``progress=False``, ``--no-progress``).

Updating is cheap (a few assignments; drawing is throttled), so a loop may update after every unit.
``show=None`` means: the ambient default set by `showing` (the CLI's ``--progress/--no-progress``),
else whether stderr is a terminal.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from types import TracebackType
from typing import IO, Any

from tunesmith._text import terminal_safe
from tunesmith.errors import ConfigError

__all__ = [
    "PLAIN_INTERVAL",
    "PULSE_INTERVAL",
    "REFRESH_PER_SECOND",
    "Progress",
    "check_progress",
    "format_seconds",
    "pulsed",
    "shown",
    "showing",
]

REFRESH_PER_SECOND = 4
PLAIN_INTERVAL = 5.0  # a log wants a pulse, not a flood
PULSE_INTERVAL = 60.0  # by default, in a log: a line a minute once a phase has run a minute, none for a short one
_RATE = object()  # `update(eta=...)` not given: estimate from the rate

_ambient: ContextVar[bool | None] = ContextVar("tunesmith_progress", default=None)
_live_displays = [0]  # rich draws one live display at a time: a phase inside another stays quiet


def check_progress(progress: object) -> bool | None:
    """``progress`` checked: ``True``, ``False`` or ``None`` (on when stderr is a terminal)."""
    if progress is not None and not isinstance(progress, bool):
        raise ConfigError(
            f"progress must be True, False or None, got progress={progress!r}: pass True to show it, False to hide "
            "it, or None to show it when stderr is a terminal"
        )
    return progress


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or bare stream
        return False


def shown(progress: bool | None, stream: IO[str] | None = None) -> bool:
    """Whether progress is shown: ``progress`` when given, else the ambient default (`showing`), else
    whether ``stream`` (default stderr) is a terminal."""
    if check_progress(progress) is not None:
        return bool(progress)
    ambient = _ambient.get()
    return ambient if ambient is not None else _is_terminal(stream or sys.stderr)


def pulsed(progress: bool | None, stream: IO[str] | None = None) -> bool:
    """Whether a phase that is not `shown` still gives a pulse: by default (``progress`` ``None`` and no ambient
    default) where ``stream`` (default stderr) is not a terminal."""
    return check_progress(progress) is None and _ambient.get() is None and not _is_terminal(stream or sys.stderr)


@contextlib.contextmanager
def showing(progress: bool | None) -> Iterator[None]:
    """Inside the block, ``progress=None`` means ``progress`` (``None`` leaves the default alone).

    The CLI's ``--progress/--no-progress`` reaches the discipline's functions this way, through code
    (the config-driven sequence) that passes no ``progress`` itself.
    """
    token = _ambient.set(check_progress(progress))
    try:
        yield
    finally:
        _ambient.reset(token)


def format_seconds(seconds: float) -> str:
    """``"45s"``, ``"3m 05s"``, ``"2h 07m"``: a duration as people read it."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _amount(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


class Progress:
    """One phase of a wait: ``done`` of ``total`` units and the time left.

    The time left is, in this order: the ``eta`` last passed to `update` (a time budget knows its
    end), counted down since; the rate observed since the phase began (units done since then over the
    time taken); before the first unit, ``per_unit`` seconds per unit when an expected cost is known.
    Use it as a context manager: leaving closes it, and an exception marks it stopped or interrupted.
    One thread updates it; rich's refresh thread only reads.

    Args:
        label: what is being waited for (user data is escaped).
        total: units in the phase (trials, runs, evaluations, seconds of budget).
        unit: the units' name, shown after the counts.
        done: units already done when the phase begins (a resumed study): they do not count in the rate.
        per_unit: expected seconds per unit before the first one is done, if known.
        show: ``True``, ``False`` or ``None`` (see `shown`).
        stream: where to draw (default: stderr, looked up when drawing starts).
    """

    def __init__(
        self,
        label: str,
        total: float,
        *,
        unit: str = "",
        done: float = 0.0,
        per_unit: float | None = None,
        show: bool | None = None,
        stream: IO[str] | None = None,
    ) -> None:
        self.label = terminal_safe(label, markup=False)
        self.total = float(total)
        self.unit = unit
        self.done = self._base = float(done)
        self.detail = ""
        self.per_unit = per_unit
        self.started = self._changed = time.monotonic()
        self._eta: tuple[float, float] | None = None  # (seconds left, when that was said)
        self._given = False
        self._ended: str | None = None
        self._last_drawn = -math.inf
        self._view: _View | None = None
        if shown(show, stream):
            target = stream or sys.stderr
            self._view = _RichView(self, target) if _is_terminal(target) else _PlainView(self, target)
            if isinstance(self._view, _RichView) and _live_displays[0]:
                self._view = None
        elif pulsed(show, stream):
            self._view = _PulseView(self, stream or sys.stderr)
        if self._view is not None:
            self._view.start()

    @property
    def enabled(self) -> bool:
        """Whether anything may be drawn: a bar, plain lines, or the pulse a log gets by default."""
        return self._view is not None

    def update(
        self,
        done: float | None = None,
        *,
        advance: float = 0.0,
        total: float | None = None,
        unit: str | None = None,
        eta: Any = _RATE,
        detail: str | None = None,
    ) -> None:
        """Set ``done`` (or add ``advance``), and optionally the total, unit, time left and a detail."""
        now = time.monotonic()
        new = (self.done if done is None else float(done)) + advance
        if new != self.done:
            self.done, self._changed = new, now
        if total is not None:
            self.total = float(total)
        if unit is not None:
            self.unit = unit
        if detail is not None:
            self.detail = terminal_safe(detail, markup=False)
        if eta is not _RATE:
            self._given = True
            self._eta = None if eta is None else (max(0.0, float(eta)), now)
        if self._view is not None and (not self._view.throttled or now - self._last_drawn >= 1.0 / REFRESH_PER_SECOND):
            self._last_drawn = now
            self._view.update(now)

    def seconds_left(self, now: float | None = None) -> float | None:
        """The estimated seconds left (``None`` while there is nothing to estimate from)."""
        now = time.monotonic() if now is None else now
        if self._given:
            return None if self._eta is None else max(0.0, self._eta[0] - (now - self._eta[1]))
        remaining = max(0.0, self.total - self.done)
        counted = self.done - self._base
        if counted > 0:
            per_unit = (self._changed - self.started) / counted
            return max(0.0, per_unit * remaining - (now - self._changed))
        if self.per_unit is not None:
            return max(0.0, self.per_unit * remaining - (now - self.started))
        return None

    def status(self, now: float | None = None) -> str:
        """``"7/20 trials, about 1m 10s left · best loss 0.1"`` (after the end: how long it took)."""
        now = time.monotonic() if now is None else now
        counts = f"{_amount(self.done)}/{_amount(self.total)}{' ' + self.unit if self.unit else ''}"
        if self._ended is not None:
            timing = f"{self._ended} after {format_seconds(now - self.started)}"
        else:
            left = self.seconds_left(now)
            timing = "estimating the time left" if left is None else f"about {format_seconds(math.ceil(left))} left"
        return f"{counts}, {timing}" + (f" · {self.detail}" if self.detail else "")

    def close(self, ended: str = "done") -> None:
        """End the phase (``ended``: ``"done"``, ``"interrupted"``, ``"stopped"``); the last state stays shown."""
        if self._ended is not None:
            return
        self._ended = ended
        if self._view is not None:
            self._view.stop(time.monotonic())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close("done" if kind is None else "interrupted" if issubclass(kind, KeyboardInterrupt) else "stopped")


class _View:
    # Whether updates reach the view at most `REFRESH_PER_SECOND` times a second; the plain view keeps its own
    # pace (`PLAIN_INTERVAL`) and must see the update that brings the first estimate, however soon it comes.
    throttled = True

    def __init__(self, progress: Progress, stream: IO[str]) -> None:
        self.progress, self.stream = progress, stream

    def start(self) -> None: ...

    def update(self, now: float) -> None: ...

    def stop(self, now: float) -> None: ...


class _PlainView(_View):
    """One line per update, at most one every `PLAIN_INTERVAL` seconds, plus the first estimate and the end."""

    throttled = False

    def __init__(self, progress: Progress, stream: IO[str]) -> None:
        super().__init__(progress, stream)
        self.last = -math.inf
        self.estimated = False

    def _line(self, now: float) -> None:
        self.last = now
        print(f"{self.progress.label}: {self.progress.status(now)}", file=self.stream, flush=True)

    def start(self) -> None:
        now = time.monotonic()
        self.estimated = self.progress.seconds_left(now) is not None
        self._line(now)

    def update(self, now: float) -> None:
        if self.progress.done >= self.progress.total:
            return  # the closing line follows
        first_estimate = not self.estimated and self.progress.seconds_left(now) is not None
        if first_estimate or now - self.last >= PLAIN_INTERVAL:
            self.estimated = self.estimated or first_estimate
            self._line(now)

    def stop(self, now: float) -> None:
        self._line(now)


class _PulseView(_PlainView):
    """The default in a log: nothing while the phase is short; once it has run `PULSE_INTERVAL` seconds, a plain line
    at each update at most every `PULSE_INTERVAL` seconds, and its end."""

    def __init__(self, progress: Progress, stream: IO[str]) -> None:
        super().__init__(progress, stream)
        self.said = False

    def start(self) -> None:
        self.last = time.monotonic()  # the first line comes a whole interval after the phase began

    def update(self, now: float) -> None:
        if self.progress.done < self.progress.total and now - self.last >= PULSE_INTERVAL:
            self._line(now)
            self.said = True

    def stop(self, now: float) -> None:
        if self.said:
            self._line(now)


class _RichView(_View):
    """A rich bar on the stream; rich's own thread redraws it, reading the progress's state."""

    def start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, ProgressColumn, TextColumn
        from rich.progress import Progress as Bar
        from rich.text import Text

        progress = self.progress

        class Status(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(progress.status())

        console = Console(file=self.stream, highlight=False, emoji=False)
        # The objective's prints go above the bar only when stdout shares its terminal.
        self.bar = Bar(
            TextColumn("{task.description}", markup=False), BarColumn(bar_width=24), Status(), console=console,
            refresh_per_second=REFRESH_PER_SECOND, redirect_stdout=_is_terminal(sys.stdout),
        )  # fmt: skip
        self.task = self.bar.add_task(progress.label, total=max(progress.total, 1e-9))
        self.bar.update(self.task, completed=progress.done)
        _live_displays[0] += 1
        self.bar.start()

    def update(self, now: float) -> None:
        self.bar.update(self.task, completed=self.progress.done, total=max(self.progress.total, 1e-9))

    def stop(self, now: float) -> None:
        try:
            self.update(now)
            self.bar.stop()
        finally:
            _live_displays[0] -= 1
