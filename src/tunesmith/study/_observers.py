"""Observers: objects `Study.optimize` tells as a run starts, as trials start, report and finish, and as it ends.

Live tracking (MLflow, Weights & Biases) needs more than a call per finished trial: it logs a
trial's parameters when it starts and each metric at the step it is reported. An observer is an
object with any of the hooks of `Observer`; a plain callable ``callback(study, record)`` in
``callbacks`` is still called once per finished trial, as before.

Where the hooks run: on the thread of the study's loop, in the driver process, whatever the
executor. The process and Ray executors already carry every report of a trial back to the driver,
where the study records it (`Executor`'s ``on_report``); `on_report` is called right after that,
before the trial gets its decision. So an observer sees each step as it is reported, never reads
storage for it, and needs nothing from the trial's process.

A hook that raises stops the run at once, with the hook's own exception. One in `on_report` is raised
in the objective's call stack when the trial runs inline: it travels as `StopStudy`, a `BaseException`
that the objective's ``except Exception`` and the executor let through, so the trial is recorded
interrupted (it spends no budget and says nothing of the objective) rather than failed, and the run
does not go on to spend its budget on trials whose tracking fails.

A trial can also end outside the loop's hands, in `Study.ask` during the run: a PAUSED trial retired unpromoted
(`study._ask`), a trial whose worker is gone reaped (`study._recovery`). `trials_ended` tells the observers of the
`optimize` running on that study, so that a tracker never shows such a trial paused or running while storage holds
it ended.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunesmith._text import excerpt
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.executors.base import StopStudy
from tunesmith.trial import Trial, TrialKind, TrialRecord

if TYPE_CHECKING:
    from tunesmith.study._optimize import StudyResult
    from tunesmith.study._study import Study

__all__ = ["HOOKS", "Observer", "Observers", "trials_ended"]

HOOKS = ("on_optimize_start", "on_trial_start", "on_report", "on_trial_end", "on_optimize_end")

# The observers of each study whose `optimize` runs in this process, from their `on_optimize_start` to their
# `on_optimize_end`; held weakly, so that a run that raised past its last hook leaves nothing behind.
_watching: weakref.WeakKeyDictionary[Study, weakref.ReferenceType[Observers]] = weakref.WeakKeyDictionary()


def trials_ended(study: Study, numbers: Sequence[int]) -> None:
    """Tell the observers of the `optimize` running on ``study`` (none when it is not running) that trials
    ``numbers`` ended outside the loop's hands (retired from a pause, reaped), each with the record storage
    holds now. Only on the loop's own thread: hooks run there, one at a time."""
    found = _watching.get(study) if numbers else None
    observers = found() if found is not None else None
    if observers is None or observers.thread != threading.get_ident():
        return
    for number in numbers:
        observers.notify("on_trial_end", study, study.storage.get_trial(study._info.id, number))


class Observer:
    """Hooks called by `Study.optimize`; each is a no-op here, so a subclass overrides only what it needs.

    Any object with one of these methods is an observer (subclassing is optional). Hooks run in
    the driver, on the loop's thread, one at a time; an exception in a hook stops the run like an
    exception in a callback.
    """

    def on_optimize_start(self, study: Study) -> None:
        """A call to `optimize` begins."""

    def on_trial_start(self, study: Study, trial: Trial) -> None:
        """A trial was created (or a paused one resumed) and is about to run; ``trial.params`` is set."""

    def on_report(self, study: Study, number: int, step: int, metrics: Mapping[str, float], decision: Decision) -> None:
        """Trial ``number`` reported ``metrics`` at ``step``; the study answered ``decision``."""

    def on_trial_end(self, study: Study, record: TrialRecord) -> None:
        """A trial finished (or paused), or was retired from its pause or reaped during the run (`trials_ended`);
        ``record`` is what storage holds now."""

    def on_optimize_end(self, study: Study, result: StudyResult | None) -> None:
        """The call to `optimize` ends: ``result`` as it returns, ``None`` when the loop raised."""


def _is_callback(value: Any) -> bool:
    """Whether ``value`` is one callback: callable as ``callback(study, record)`` or with an observer hook."""
    return callable(value) or any(callable(getattr(value, hook, None)) for hook in HOOKS)


def _as_list(callbacks: Any) -> list[Any]:
    """``optimize``'s ``callbacks`` as a list: one callback or observer given alone (``callbacks=log``, where
    ``callbacks=[log]`` was meant) is a list of one, and ``None`` (Optuna's default) a list of none."""
    if callbacks is None:
        return []
    if _is_callback(callbacks):
        return [callbacks]
    if isinstance(callbacks, str | bytes) or not isinstance(callbacks, Iterable):
        raise ConfigError(
            f"callbacks must be a list of callback(study, record) functions or observers (ts.Observer), got "
            f"{type(callbacks).__name__} {excerpt(repr(callbacks))}: pass a list, e.g. callbacks=[log]"
        )
    return list(callbacks)


class Observers:
    """The hooks of every callback passed to `optimize`, called in the order the callbacks were given."""

    def __init__(self, callbacks: Iterable[Any] | Callable[..., Any] | Observer | None) -> None:
        self.hooks: dict[str, list[Callable[..., None]]] = {hook: [] for hook in HOOKS}
        self._failed: dict[int, BaseException] = {}  # trial number -> its on_report hook's exception
        self.thread = threading.get_ident()  # the loop's: where the hooks run
        self._outer: weakref.ReferenceType[Observers] | None = None  # an optimize this one runs inside of
        for i, callback in enumerate(_as_list(callbacks)):
            found = {hook: getattr(callback, hook) for hook in HOOKS if callable(getattr(callback, hook, None))}
            if found:
                for hook, method in found.items():
                    self.hooks[hook].append(method)
            elif callable(callback):
                self.hooks["on_trial_end"].append(callback)
            else:
                raise ConfigError(
                    f"callbacks[{i}] must be callable as callback(study, record) or have an observer hook "
                    f"({', '.join(HOOKS)}), got {callback!r}: subclass tunesmith.Observer"
                )

    def notify(self, hook: str, *args: Any) -> None:
        if hook == "on_optimize_end":
            self._unwatch(args[0])
        for method in self.hooks[hook]:
            method(*args)
        if hook == "on_trial_end":
            self._raise_swallowed(args[1])
        elif hook == "on_optimize_start":  # from now on, trials that end in `Study.ask` reach the hooks too
            self._outer = _watching.get(args[0])
            _watching[args[0]] = weakref.ref(self)

    def _unwatch(self, study: Study) -> None:
        """Stop hearing of ``study``'s trials ended in `Study.ask`; an `optimize` this one ran inside hears again."""
        found = _watching.get(study)
        if found is None or found() is not self:
            return
        if self._outer is None:
            del _watching[study]
        else:
            _watching[study] = self._outer

    def _raise_swallowed(self, record: TrialRecord) -> None:
        """At a trial's end, the exception of one of its `on_report` hooks when the objective caught the
        `StopStudy` that carried it (a bare ``except:``) and the trial ended otherwise than interrupted."""
        failed = self._failed.pop(record.number, None)
        if failed is not None and record.kind is not TrialKind.INTERRUPTED:
            raise failed

    def trial_start(self, study: Study, trial: Trial) -> None:
        """`on_trial_start`; a hook that raises leaves no RUNNING trial behind: the trial, which never ran,
        is recorded interrupted (it does not spend the trial budget), and the observers hear of its end (a
        tracker closes what it opened), before the error goes on."""
        try:
            self.notify("on_trial_start", study, trial)
        except BaseException:
            told = study.tell(trial, reason="interrupted", error="an observer failed before the trial ran",
                              kind=TrialKind.INTERRUPTED)  # fmt: skip
            with contextlib.suppress(Exception):  # the first failure is the one to raise
                self.notify("on_trial_end", study, told)
            raise

    def reporter(self, study: Study) -> Callable[[int, int, dict[str, float]], Decision]:
        """The executor's ``on_report``: record the report in the study, then tell the observers."""
        if not self.hooks["on_report"]:
            return study.report

        def report(number: int, step: int, metrics: dict[str, float]) -> Decision:
            if (failed := self._failed.get(number)) is not None:
                raise StopStudy(failed)  # the objective caught it and reported again
            decision = study.report(number, step, metrics)
            try:
                self.notify("on_report", study, number, step, metrics, decision)
            except BaseException as exc:  # noqa: BLE001 - raised again, by the executor
                self._failed[number] = exc
                raise StopStudy(exc) from None  # the executor raises ``exc`` itself, with the hook's traceback
            return decision

        return report
