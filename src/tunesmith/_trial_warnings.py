"""The warnings a trial's objective raised: caught as they come, each kind shown once per run, kept on the trial.

A search runs the same code hundreds of times, so a library's warning (scikit-learn's ``ConvergenceWarning``, a
deprecation) came once per trial: a 30-trial study of a logistic regression printed 24 of them, 190 lines that buried
the summary. Yet whether a trial warned is evidence about it: there, 21 of the 22 that did not converge had C above
0.002 (little regularisation), which no line said. So while `executors.inline.run_job` runs an objective, `caught`
takes each warning the user's filters let through (an ignored one is not seen, an ``error`` one raises as before) and
counts it by its *kind*, the category and the line that raised it (``ConvergenceWarning at
sklearn/linear_model/_logistic.py:599``). The first of a kind in a run is shown as Python would show it; later ones
are counted, not shown (`forget_shown` starts a run, `mark_shown` tells the study's process of kinds a trial process
showed, so that trial processes forked later do not show them again). Each trial's kinds, with their counts and the
first message's first line, are recorded in its ``attrs["warnings"]`` (`TrialWarning`); `warned_note` sums a run's,
and the diagnosis tests which parameters explain them as it does failures (`tunesmith.analysis.diagnose`). The seed
re-runs (`tunesmith.discipline._reruns`) show each kind once per batch of runs.

Tunesmith's own warnings (its categories, raised while the objective reports) are the study's, not the objective's:
they pass untouched. Warnings from threads other than the trial's are shown as before, unattributed. The capture
installs one hook in ``warnings.showwarning`` while any trial runs, under a lock, rather than `warnings.catch_warnings`
per trial, which restores the wrong function when two studies run in two threads. Each trial starts with Python's
once-per-location registries invalidated, as entering ``catch_warnings`` does, so a warning of fixed text that an
earlier trial gave is seen, and counted, in this one too.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from tunesmith._text import excerpt

__all__ = ["KEY", "Caught", "TrialWarning", "caught", "forget_shown", "mark_shown", "merged", "recorded", "warned_note"]

KEY = "warnings"  # the trial attribute, and `TrialOutcome.extra`'s key, that hold a trial's warnings
MAX_KINDS = 20  # kinds kept per run of a trial: a later kind is still shown, once a run, but not kept
MESSAGE_CHARS = 200  # of a kind's first message, its first line

Kind = tuple[str, str]  # (category, where)


@dataclass(frozen=True)
class TrialWarning:
    """One kind of warning a trial raised: its category's name, ``where`` (``file:line``, the file relative to the
    Python path entry it lies under), how many times, and the first one's message (its first line, bounded)."""

    category: str
    where: str
    message: str
    count: int = 1

    @property
    def kind(self) -> Kind:
        return (self.category, self.where)

    def describe(self) -> str:
        """``ConvergenceWarning at sklearn/linear_model/_logistic.py:599``."""
        return f"{self.category} at {self.where}"

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "where": self.where, "message": self.message, "count": self.count}

    @classmethod
    def from_json(cls, value: object) -> TrialWarning | None:
        """The warning a trial attribute holds, or ``None`` for a value of another shape (written by hand)."""
        if not isinstance(value, dict):
            return None
        category, where, message, count = (value.get(k) for k in ("category", "where", "message", "count"))
        if not (isinstance(category, str) and isinstance(where, str) and isinstance(message, str)):
            return None
        return cls(category, where, message, count if isinstance(count, int) and count > 0 else 1)


def recorded(attrs: dict[str, Any]) -> tuple[TrialWarning, ...]:
    """The warnings a trial's attributes record (those of another shape left out)."""
    value = attrs.get(KEY)
    if not isinstance(value, list):
        return ()
    return tuple(w for w in map(TrialWarning.from_json, value) if w is not None)


def merged(earlier: Sequence[TrialWarning], later: Sequence[TrialWarning]) -> list[TrialWarning]:
    """``earlier`` with ``later`` added (a paused trial's runs): a kind's counts summed, its first message kept."""
    out = {w.kind: w for w in earlier}
    for w in later:
        seen = out.get(w.kind)
        out[w.kind] = w if seen is None else TrialWarning(seen.category, seen.where, seen.message, seen.count + w.count)
    return list(out.values())


class Caught:
    """The warnings one trial's run raised, by kind, in the order first seen (at most `MAX_KINDS` kinds)."""

    def __init__(self) -> None:
        self._kinds: dict[Kind, TrialWarning] = {}

    def add(self, message: Warning | str, category: type[Warning], filename: str, lineno: int) -> Kind:
        kind = (category.__name__, f"{_short(filename)}:{lineno}")
        seen = self._kinds.get(kind)
        if seen is not None:
            self._kinds[kind] = TrialWarning(seen.category, seen.where, seen.message, seen.count + 1)
        elif len(self._kinds) < MAX_KINDS:
            text = str(message).strip()
            first = text.splitlines()[0].rstrip(": ") if text else ""  # "lbfgs failed to converge ... (status=1):"
            self._kinds[kind] = TrialWarning(kind[0], kind[1], excerpt(first, MESSAGE_CHARS))
        return kind

    @property
    def warnings(self) -> list[TrialWarning]:
        return list(self._kinds.values())

    def __bool__(self) -> bool:
        return bool(self._kinds)


_lock = threading.Lock()
_sinks: dict[int, Caught] = {}  # thread id -> the trial running in it
_previous: Any = None  # ``warnings.showwarning`` as it was when the hook went in
_shown: set[Kind] = set()  # kinds shown in this run


@contextmanager
def caught() -> Iterator[Caught]:
    """Catch the warnings this thread raises while the block runs (see the module's docstring); a nested use (a
    trial's objective that runs another study inline) leaves the outer trial's sink in place."""
    global _previous
    ident = threading.get_ident()
    sink = Caught()
    with _lock:
        outer = _sinks.get(ident)
        _sinks[ident] = sink
        if warnings.showwarning is not _hook:
            _previous = warnings.showwarning
            warnings.showwarning = _hook
        _invalidate_registries()
    try:
        yield sink
    finally:
        with _lock:
            if outer is None:
                _sinks.pop(ident, None)
            else:
                _sinks[ident] = outer
            if not _sinks and warnings.showwarning is _hook:
                warnings.showwarning = _previous


def forget_shown() -> None:
    """A run starts: every kind is shown again the first time it comes."""
    with _lock:
        _shown.clear()


def mark_shown(found: Sequence[TrialWarning]) -> None:
    """Kinds a trial process showed: not shown again by this process, nor by trial processes it forks later."""
    with _lock:
        _shown.update(w.kind for w in found)


def _hook(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None,
          line: str | None = None) -> None:  # fmt: skip
    sink = _sinks.get(threading.get_ident())
    show = _previous if _previous is not None else warnings._showwarning_orig  # type: ignore[attr-defined]
    if sink is None or category.__module__.partition(".")[0] == "tunesmith":
        show(message, category, filename, lineno, file, line)
        return
    with _lock:
        kind = sink.add(message, category, filename, lineno)
        first = kind not in _shown
        _shown.add(kind)
    if first:
        show(message, category, filename, lineno, file, line)


def _invalidate_registries() -> None:
    """What entering ``warnings.catch_warnings`` does to the once-per-location registries: they are read afresh."""
    mutated = getattr(warnings, "_filters_mutated", None)
    if callable(mutated):
        mutated()


def _short(filename: str) -> str:
    """``filename`` relative to the longest Python path entry it lies under (``sklearn/linear_model/_logistic.py``),
    else to the working directory when under it, else as given; ``/``-separated."""
    path = os.path.abspath(filename)
    roots = [os.path.abspath(p) for p in sys.path if p] + [os.getcwd()]
    under = [r for r in roots if path.startswith(r.rstrip(os.sep) + os.sep)]
    if under:
        path = os.path.relpath(path, max(under, key=len))
    return path.replace(os.sep, "/")


def warned_note(records: Sequence[Any], total: int, listing: str = "", limit: int = 3) -> str | None:
    """What a run's summary says of the warnings ``records`` (the trials it finished, ``total`` of them) recorded:
    each kind with the trials that gave it, the most common first (``limit`` of them, then how many more), and the
    first message; ``None`` when none warned. ``listing``: the study's ``NAME --storage URL`` for the command that
    shows a trial (empty for a study in memory, which no command reads)."""
    trials: dict[Kind, list[int]] = {}
    first: dict[Kind, TrialWarning] = {}
    latest = {r.number: r for r in records}  # a trial paused and resumed in the run is listed once per run
    for record in sorted(latest.values(), key=lambda r: r.number):
        for w in recorded(record.attrs):
            trials.setdefault(w.kind, []).append(record.number)
            first.setdefault(w.kind, w)
    if not trials:
        return None
    order = sorted(trials, key=lambda k: (-len(trials[k]), k))
    parts = []
    for kind in order[:limit]:
        numbers, w = trials[kind], first[kind]
        parts.append(f"{w.describe()} in {len(numbers)} of {total} trials (first #{numbers[0]}: {w.message})")
    more = f"; {len(order) - limit} more kinds" if len(order) > limit else ""
    shown = f" (tunesmith show {listing} {trials[order[0]][0]})" if listing else ""
    return (
        f"the objective warned: {'; '.join(parts)}{more}. Each kind was shown once, as it first came; every trial's "
        f"are kept in its attrs['warnings']{shown}, and the diagnosis says when a parameter explains which trials "
        "warned"
    )
