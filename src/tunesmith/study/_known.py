"""Known configurations: enqueued ones run next, earlier results warm-start the samplers, bad trials are invalidated.

- **Enqueue.** `Study.enqueue(params)` appends ``{"id", "params", "at", "note"}`` to the study attribute
  ``enqueued`` (`EnqueuedAttr`), atomically (`Storage.update_study_attr`), so any worker of any process
  sees it. `Known.next_queued` runs inside `Storage.create_trial`, under the study lock, and hands out the
  oldest entry whose ``id`` no trial records yet (``attrs["enqueue_id"]``): each entry runs exactly once,
  the lost-trial retry's guarantee, after owed retries and before the scheduler's and the sampler's
  proposals. Values are stored as the space holds them: one a hair outside a bound or off a step grid (within
  `Param.contains`'s tolerance) as the bound or the grid value. A configuration that repeats a trial or an entry
  is not queued unless ``repeat=True`` (`_Memo.repeated`). The sampler draws what an entry leaves out; where a given
  parent switches on children its proposal (on another branch) lacks, they are drawn from their prior
  (``attrs["drawn_from_prior"]``), and so is all of it when the sampler has nothing new to propose for an entry
  queued with ``repeat=True``. An entry that cannot be completed (stored without `enqueue`'s checks: a conditional
  value switched off, or values every completion of which a forbidden clause rules out), or a
  partial one on a space every configuration of which was tried, is marked ``"refused"``, with why, said once
  and skipped (`_runnable`, outside the lock; `Known.next_queued` skips the latter under it too). The entries
  stay in the attribute as the record of what was asked. A parameter the study does not know yet (a
  define-by-run one no trial asked for) is kept as given, and checked by the trial whose objective asks for it
  (`tunesmith.space._define_by_run.AskedParams`); `unasked_enqueued` names those it never asked for.
- **Warm start.** ``Study(warm_start=...)`` stores earlier results in the ``warm_start`` attribute
  (`tunesmith.study._warm_start`); every proposal puts them before the study's own trials in the history the
  sampler reads, as COMPLETE records with negative numbers and ``attrs["warm_start"]`` naming the source.
  They are never stored as trials: not in `Study.trials`, the budget, `best` or the discipline. They inform the
  models but are not tried configurations (`tunesmith.samplers._tried.is_warm_start`): the samplers may run one
  again (the earlier best above all), and a warm start that covered the space leaves it to run, not used up.
- **Cost.** An ask or an enqueue must not grow with the queue, the warm start or the trials: each `Study` handle
  keeps what it worked out (`_Memo`: the parsed queue and warm start, each entry's checks and key, each trial's
  key), reused only while storage holds what it was worked out from.
- **Invalidate.** `Study.invalidate(n, reason)` writes ``attrs["invalidated"]`` (the reason) and
  ``attrs["invalidated_at"]`` on the finished trial, the one source of truth: `TrialRecord.invalidated`
  reads it, `best_record` skips it, the samplers, the schedulers and the discipline never see it. It is
  kept for audit (``tunesmith trials``, ``tunesmith show``) and still spent its budget.
"""

from __future__ import annotations

import difflib
import json
import math
import threading
import uuid
import warnings
import weakref
from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from tunesmith._caller import outside_stacklevel
from tunesmith._text import counted, excerpt
from tunesmith.attributes import EnqueuedAttr, WarmStartAttr
from tunesmith.context import SearchContext
from tunesmith.errors import ConfigError, SearchSpaceExhausted, SpaceError
from tunesmith.samplers._tried import ENUMERATION_LIMIT, Tried, config_key, configurations
from tunesmith.space import Choice, Fixed, Float, Int, Space
from tunesmith.space._define_by_run import plain
from tunesmith.space._params import JsonScalar, Param
from tunesmith.storage import Proposal
from tunesmith.storage._trial_cache import Facet, TrialHistory, matching
from tunesmith.storage.base import count_budgeted
from tunesmith.study._search_progress import command_arguments
from tunesmith.trial import INVALIDATED, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "ENQUEUE_ID",
    "SKLEARN_PARAMS",
    "EnqueuedParameterUnusedWarning",
    "Known",
    "KnownConfigs",
    "QueueBeyondBudgetWarning",
    "QueuedConfigurationRefusedWarning",
    "QueuedConfigurationRepeatWarning",
    "checked_params",
    "from_text",
    "plain",
    "queue_beyond_budget",
    "read_known",
    "refuse_unknown_names",
    "refuse_unread_baseline",
    "unasked_enqueued",
    "valid",
    "waiting",
    "warn_unasked",
]

# The trial attribute naming the `enqueued` entry a trial ran.
ENQUEUE_ID = "enqueue_id"


class KnownConfigs:
    """`Study`'s methods for configurations known before the search: the queue and invalidation.

    A base of `Study` only (it is `Study`'s face, kept in its own module); warm starts are the
    ``warm_start`` argument of `Study` itself.
    """

    def enqueue(self, params: Mapping[str, Any], *, note: str | None = None, repeat: bool = False) -> None:
        """Run ``params`` next: the next trial any worker starts runs it, before the sampler's proposals
        (after a paused trial's promotion and a lost trial's owed retry); several run in the order they were
        enqueued, each once.

        The values of the space's parameters (those given up front and those trials asked for by name so
        far) are checked now. A parameter the study does not know yet (one the objective will ask for by name,
        ``trial.suggest_float("lr", ...)``) is taken as given: its value goes into the trial's ``params``, and
        ``trial.suggest_*`` returns it once it fits the definition asked for; a value outside it fails that
        trial, saying so. A name close to a known parameter's is refused as a likely typo. A study whose space
        was given up front takes a new name only while its objective may ask for names: once a trial has
        completed, only if some trial asked for a parameter outside the given space; otherwise nothing would
        read the value, and the trial's record would claim a configuration that never ran. A partial
        configuration is allowed: the sampler draws the parameters it lacks for that trial (the children a given
        parent switches on come from its prior when the sampler's proposal took another branch); a conditional
        parameter needs its parents given. A value a hair outside a bound or off a step grid (a float's rounding,
        within the space's tolerance) is stored and run as the bound or the grid value.
        The trial records ``attrs["enqueued"] = True`` (and ``attrs["note"]``) and spends the budget as
        any trial does. CLI: ``tunesmith enqueue NAME key=value ...``.

        A configuration that repeats one already run (a trial that did not fail and is not invalidated, running
        ones included) or still queued, as a script run twice enqueues it, is not queued again: a
        `QueuedConfigurationRepeatWarning` names the trial (or the queue entry) it repeats. A partial one repeats
        nothing, since the sampler draws the rest anew for each; once every configuration of the space was tried,
        though, it is refused when its turn comes (`QueuedConfigurationRefusedWarning`). ``repeat=True`` queues a
        repeat anyway (a noisy objective measured again, or a changed one), and runs such a partial entry with
        the rest drawn from their prior.

        Raises:
            SpaceError: a value outside its parameter's range, an inactive parameter, a name close to a known
                parameter's, a new name the study would not read, a value that is not a JSON scalar.
            ConfigError: ``repeat`` is not a bool.
        """
        study = cast("Study", self)
        if not isinstance(repeat, bool):
            raise ConfigError(
                f"enqueue's repeat must be True or False, got repeat={repeat!r}: pass repeat=True to queue a "
                "configuration that repeats a trial or a queued one"
            )
        space = study._defined.refresh(study.attrs)  # with what other workers' trials asked for since
        trials = study.trials
        refused = _why_no_new_names(study, space, trials)
        checked = checked_params(space, params, learns=refused is None, refused_new=refused or "")
        entry: dict[str, Any] = {"id": uuid.uuid4().hex, "params": checked}
        entry["at"] = study._clock()
        if note is not None:
            entry["note"] = str(note)
        if repeat:
            entry[REPEAT] = True
        memo = _memo(study)
        facts = memo.learn(space, entry)  # the entry's checks and key, worked out once, here
        repeated = None if repeat else memo.repeated(space, facts, None, trials)
        written: EnqueuedAttr | None = None

        def append(stored: Any) -> Any:  # runs with the study locked: another worker may have queued it first
            nonlocal repeated, written
            queue = EnqueuedAttr() if stored is None else memo.queue(stored)
            repeated = None if repeat else memo.repeated(space, facts, queue, trials)
            if repeated is not None:
                return stored
            # What `EnqueuedAttr(configs=(*queue.configs, entry), extra=queue.extra).to_json()` writes, without
            # copying every entry again: the queue's entries are plain JSON already.
            value = {"configs": [*queue.configs, entry], **queue.extra}
            written = memo.remember_queue(value, queue, space, facts)
            return value

        if repeated is None:
            study.storage.update_study_attr(study._info.id, EnqueuedAttr.KEY, append)
        if repeated is not None:  # a trial ran it, or it is queued (perhaps by another worker meanwhile)
            warnings.warn(
                f"enqueue to study {study.name!r}: {checked!r} repeats {repeated}, so it is not queued again (a run "
                "of the same configuration adds nothing to the search): pass repeat=True to run it again, e.g. to "
                "measure a noisy objective's spread",
                QueuedConfigurationRepeatWarning,
                stacklevel=outside_stacklevel(),
            )
            return
        if blocked := queue_beyond_budget(study, trials, queue=written):
            warnings.warn(blocked, QueueBeyondBudgetWarning, stacklevel=outside_stacklevel())

    def invalidate(self, number: int, reason: str) -> TrialRecord:
        """Take finished trial ``number`` out of the search: never `best`, never in the samplers' or
        the schedulers' history, never a candidate of `tunesmith.validate_top` or `tunesmith.finalize`.

        It stays stored and shown, marked with ``reason`` (``tunesmith trials``, ``tunesmith show``),
        and it still spent its budget (``extend_budget`` buys a replacement). `revalidate` undoes it.
        Every invalidate and revalidate is appended to ``attrs["judgements"]`` with its time, so a later
        reason or a revalidation never erases an earlier reason.
        CLI: ``tunesmith invalidate NAME N --reason "..."``.

        Raises:
            ConfigError: no such trial, a trial still running or paused, or an empty reason.
        """
        study = cast("Study", self)
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(
                f"invalidate needs a reason for the audit trail, got reason={reason!r}: "
                'say why, e.g. reason="evaluated on the training split"'
            )
        record = _finished_trial(study, number, "invalidate")
        now = study._clock()
        study.storage.update_trial(study._info.id, number, attrs={
            INVALIDATED: reason.strip(), "invalidated_at": now,
            JUDGEMENTS: _judged(record, {"invalidated": reason.strip(), "at": now}),
        })  # fmt: skip
        return study.storage.get_trial(study._info.id, number)

    def revalidate(self, number: int) -> TrialRecord:
        """Undo `invalidate`: trial ``number`` counts again (``attrs["revalidated_at"]`` records when)."""
        study = cast("Study", self)
        record = _finished_trial(study, number, "revalidate")
        if record.invalidated is None:
            raise ConfigError(f"trial #{number} of study {study.name!r} is not invalidated: nothing to revalidate")
        now = study._clock()
        study.storage.update_trial(study._info.id, number, attrs={
            INVALIDATED: None, "revalidated_at": now, JUDGEMENTS: _judged(record, {"revalidated": True, "at": now}),
        })  # fmt: skip
        return study.storage.get_trial(study._info.id, number)


# Every invalidate and revalidate of a trial, oldest first: the audit trail a later call never overwrites.
JUDGEMENTS = "judgements"


def _judged(record: TrialRecord, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The trial's judgements with ``entry`` added (one written before the log existed is kept as its first)."""
    log = [dict(e) for e in record.attrs.get(JUDGEMENTS) or ()]
    if not log and record.invalidated is not None:
        log.append({"invalidated": record.invalidated, "at": record.attrs.get("invalidated_at")})
    return [*log, entry]


def _finished_trial(study: Study, number: int, what: str) -> TrialRecord:
    try:
        record = study.storage.get_trial(study._info.id, int(number))
    except KeyError:
        held = len(study.trials)
        have = f"its trials are #0-#{held - 1}" if held else "it has no trial yet"
        raise ConfigError(f"{what}: study {study.name!r} has no trial #{number}: {have}") from None
    if not record.state.is_finished:
        raise ConfigError(
            f"{what}: trial #{number} of study {study.name!r} is {record.state.value.upper()}; only a finished "
            "trial can be judged: wait until it ends"
        )
    return record


# An invalidated trial (a reason is a string; a revalidated trial holds ``None``): `valid` runs at every new trial,
# so the storage's history finds them from its index (`TrialHistory.matching`).
_INVALIDATED = Facet("invalidated", lambda record: isinstance(record.attrs.get(INVALIDATED), str))


def valid(history: Sequence[TrialRecord]) -> list[TrialRecord]:
    """``history`` without invalidated trials: what samplers and schedulers may learn from."""
    if isinstance(history, TrialHistory):
        return history.without(history.matching(_INVALIDATED))
    return [r for r in history if not _INVALIDATED.test(r)]


# Checking a configuration -------------------------------------------------------------------------
def _range(param: Param) -> str:
    if isinstance(param, Choice):
        return f"one of {list(param.options)}"
    if isinstance(param, Fixed):
        return f"fixed at {param.value!r}"
    if isinstance(param, Int | Float):
        base = getattr(param, "base", None)
        steps = f" in steps of {param.step}" if param.step and param.step != 1 else ""
        return f"[{param.low}, {param.high}]{steps}" + (f", powers of {base}" if base else "")
    return repr(param)


def _number(text: str) -> float | None:
    """``text`` read as a finite number, else ``None``."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def from_text(param: Param | None, text: str) -> Any:
    """A CSV cell (or a command line's ``name=value``) as the value ``param`` holds (left as text when it is
    none of them: then it is outside). Without a ``param`` (one no trial has asked for yet): a number,
    ``true``/``false``/``null``, else the text.

    Raises:
        SpaceError: ``text`` is how two options are written (`Choice.text_forms`), which only a study stored before
            `Choice` refused such options can hold: reading it as either would mislabel results."""
    if param is None:
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if value is None or isinstance(value, bool | int | float) else text
    if isinstance(param, Choice | Fixed):
        options = param.options if isinstance(param, Choice) else (param.value,)
        named = [o for o in options if text in Choice.text_forms(o)]
        if len(named) > 1:  # a study stored before `Choice` refused options alike as text (new ones cannot be)
            raise SpaceError(
                f"a value given as text must name one option, got {text!r}, which is how options "
                f"{' and '.join(repr(o) for o in named)} of {list(options)} are all written: give it from Python "
                "(Study.enqueue, or a warm start from the study or from records), where each option keeps its type"
            )
        if named:
            return named[0]
        # A number written as another number's text: pandas writes a column holding an empty cell as floats, so a
        # conditional Choice([16, 32]) reads "16.0" (every such row was dropped as outside the space).
        number = _number(text)
        equal = [o for o in options if isinstance(o, int | float) and not isinstance(o, bool) and o == number]
        return equal[0] if number is not None and len(equal) == 1 else text
    if isinstance(param, Int):
        try:
            return int(text.strip())  # exact: through float, integers past 2**53 changed (1152921504606847308)
        except ValueError:
            pass
    try:
        number = float(text)
    except ValueError:
        return text
    if isinstance(param, Int) and number.is_integer():
        return int(number)  # written as a float ("3.0", "1e3")
    return number if isinstance(param, Float) else text


def checked_params(
    space: Space, params: Mapping[str, Any], what: str = "enqueue", *, learns: bool = False, refused_new: str = ""
) -> dict[str, Any]:
    """``params`` checked against ``space``: each a parameter of it, inside its range, and active given
    the others; parameters left out are allowed (the sampler draws them). Returns them as JSON scalars, each as
    its parameter holds it (`_snapped`: a float a hair outside a bound as the bound, one off a step grid as the
    grid value).

    With ``learns`` (the study learns parameters from what its trials ask for by name), a name the space
    lacks is kept unchecked, as a JSON scalar, unless it is close to a known name (a likely typo); the trial
    that runs it checks it against the definition it asks for. Without it, such a name is refused, and
    ``refused_new`` (why the study takes no new names, with the fix) ends the message."""
    if not isinstance(params, Mapping):
        raise ConfigError(
            f"{what} takes a mapping of parameter values, got {type(params).__name__} {params!r}: "
            f"pass e.g. {{{next(iter(space), 'x')!r}: ...}}"
        )
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name not in space:
            close = difflib.get_close_matches(str(name), list(space), n=1)
            if learns and not close and isinstance(name, str) and name:
                out[name] = _unlearned(name, value, what)
                continue
            later = refused_new or None
            if learns and close:
                later = (
                    f"if {name!r} is a new parameter the objective asks for by name, enqueue it once a trial has "
                    "asked for it, or add it to the space"
                )
            raise _not_in_space(what, name, repr(value), space, close, later)
        out[name] = plain(space[name], value)
        given = out[name]
        integral = isinstance(space[name], Int)
        if isinstance(space[name], Float | Int) and (
            isinstance(given, bool)
            or not isinstance(given, int | float)
            or not math.isfinite(given)
            or (integral and not float(given).is_integer())
        ):
            kind = "an integer" if integral else "a finite number"
            raise SpaceError(
                f"{what}: {name}={value!r} is not {kind} ({type(value).__name__}): give "
                f"{'an integer' if integral else 'a number'} in {_range(space[name])}"
            )
        if not space[name].contains(out[name]):
            raise SpaceError(
                f"{what}: {name}={value!r} is outside the parameter's range, {_range(space[name])}: "
                "give a value inside it"
            )
        out[name] = _snapped(space[name], out[name])
    for name in (n for n in out if n in space):
        parents = space[name].conditions
        missing = [p for p in parents if p not in out]
        if missing:
            raise SpaceError(
                f"{what}: {name} applies only for some values of {', '.join(missing)}, which is not given, got "
                f"{name}={out[name]!r}: give {', '.join(missing)} too, or leave {name} out for the sampler to choose"
            )
        if not space.is_active(name, out):
            when = ", ".join(f"{p} in {list(v)}" for p, v in parents.items())
            raise SpaceError(
                f"{what}: {name} applies only when {when}, so {name}={out[name]!r} would be ignored with "
                f"{', '.join(f'{p}={out[p]!r}' for p in parents)}: drop {name} or change its parent"
            )
    clause = space.forbids(out)  # only a clause whose every parameter is given: the sampler draws the rest allowed
    if clause is not None:
        shown = ", ".join(f"{n}={out[n]!r}" for n in clause.names)
        raise SpaceError(
            f"{what}: a configuration must not be a combination the space forbids, got {shown}, which clause {clause} "
            f"forbids: change {' or '.join(clause.names)}"
        )
    held = {name: value for name, value in out.items() if name in space}
    if _leaves_some(space, held):  # a partial one: else no trial could ever run it, and it would block the queue
        why = space.why_incomplete(held)
        if why is not None:
            raise SpaceError(
                f"{what}: a partial configuration must have a completion the forbidden clauses allow, but {why}: "
                f"change {', '.join(held)}, or loosen the clause"
            )
    return out


def _snapped(param: Param, value: Any) -> Any:
    """``value``, which ``param`` holds (`Param.contains`, within its tolerance for a float's rounding), as the value
    itself: one a hair outside a bound as the bound, one off a step grid as the grid value. The objective is handed
    what the space holds, never 1.0000000000001 for ``Float(0.1, 1.0)``, which a library checking its own bounds
    (scikit-learn's ``max_features``) refuses."""
    if not isinstance(param, Float) or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if param.step is not None:
        return param.decode(param.encode(value))  # the grid value nearest ``value``: its bin's centre decoded
    return min(param.high, max(param.low, float(value)))


def refuse_unknown_names(space: Space, params: Mapping[str, Any], what: str, *, refused_new: str | None) -> None:
    """Refuse a name of ``params`` that ``space`` lacks when it is close to one of its names (a likely typo), and
    any such name when ``refused_new`` says why the study takes no new name (``None``: it may learn one, which a
    trial asks for by name). Only the names: a value outside a range is left to the caller (a baseline may lie
    outside the searched range)."""
    for name, value in params.items():
        if name in space:
            continue
        close = difflib.get_close_matches(str(name), list(space), n=1)
        if close or refused_new is not None:
            raise _not_in_space(what, name, excerpt(repr(value)), space, close, refused_new)


def _not_in_space(what: str, name: Any, shown: str, space: Space, close: Sequence[str], why: str | None) -> SpaceError:
    """The refusal of ``name`` (its value ``shown``), which ``space`` lacks: the close name it may mean (``close``),
    the space's names, and ``why`` the study takes no new one, with the fix (``None``: nothing to add)."""
    hint = f"did you mean {close[0]!r}? " if close else ""
    return SpaceError(f"{what}: {name!r} is not a parameter of the space, got {name}={shown}: {hint}the space has "
                      f"{', '.join(space) or 'no parameters'}{'' if why is None else f'; {why}'}")  # fmt: skip


# `integrations._sklearn_space.EstimatorParamsAttr.KEY`, which this layer cannot import: a `TunesmithSearchCV` study's.
SKLEARN_PARAMS = "sklearn_params"


def refuse_unread_baseline(study: Study, params: Mapping[str, Any], what: str = "baseline") -> None:
    """Refuse a baseline configuration with a name the study's space lacks, before it is recorded or run: a typo of
    a parameter's name (the objective then ran the baseline without it, or failed every run on a KeyError) and, once
    the study's trials showed its objective reads only its given space, any new name, whose value no run would read
    while the verdict's baseline claimed it. A scikit-learn search's study is left alone: its baseline is in the
    estimator's terms (``kernel``, where its space keeps ``kernel@0`` and ``kernel@1`` apart), and its objective
    hands every name to the estimator's ``set_params``, which refuses a name it lacks."""
    if SKLEARN_PARAMS in study.attrs:
        return
    space = study._defined.refresh(study.attrs)
    unread = None
    if _why_no_new_names(study, space, study.trials) is not None:
        unread = (
            f"study {study.name!r} was given its space up front and its trials asked for no other parameter by "
            "name, so no baseline run would read it, and the verdict's baseline would claim a value that never ran: "
            "leave it out, or add the parameter to the space (a new study)"
        )
    refuse_unknown_names(space, params, what, refused_new=unread)


def _why_no_new_names(study: Study, space: Space, trials: Sequence[TrialRecord]) -> str | None:
    """Why ``study`` takes no parameter its ``space`` lacks (with the fix), or ``None`` when it may learn one;
    ``trials``: its trials, just read.

    A define-by-run study (no space given up front) learns names, and so does a study with a given space
    once a trial asked for a parameter outside it. A given space with completed trials that asked for none
    says its objective reads only that space: a new name's value would go unread, and the trial's record
    would claim it ran with it. Before any trial completed, that is not known yet, so the name is taken."""
    given = study._defined.given
    if given is None or not len(given) or any(name not in given for name in space):
        return None
    completed = sum(1 for record in trials if record.state is TrialState.COMPLETE)
    if not completed:
        return None
    ran = "its completed trial" if completed == 1 else f"its {completed} completed trials"
    return (
        f"study {study.name!r} was given its space up front and {ran} asked for no other parameter by name, so "
        "no trial would read a new one and its record would claim a value that never ran: add the parameter "
        "to the space (a new study), or enqueue it once a trial has asked for it by name (trial.suggest_*)"
    )


def _unlearned(name: str, value: Any, what: str) -> JsonScalar:
    """The value of a parameter no trial has asked for yet: any JSON scalar (its range is not known)."""
    if isinstance(value, np.generic):
        value = value.item()
    finite = not isinstance(value, float) or math.isfinite(value)
    if (value is None or isinstance(value, bool | int | float | str)) and finite:
        return value
    raise SpaceError(
        f"{what}: {name}={value!r} is not a value a parameter asked for by name can take (a number, a string, "
        "true, false or null): give one of those"
    )


# What a proposal needs to know --------------------------------------------------------------------
@dataclass(frozen=True)
class Known:
    """What `Study.ask` reads from the study's attributes once per trial, before the storage's lock is
    taken (a proposer must not touch the storage): the queue and the warm-start points."""

    queue: tuple[dict[str, Any], ...] = ()
    priors: tuple[TrialRecord, ...] = ()
    space: Space | None = None  # the study's, to tell an entry that could only repeat a tried configuration
    # The ids of the entries of ``queue`` that leave a parameter to draw and were not queued with ``repeat=True``,
    # as `read_known` worked them out; ``None``: work it out here, per entry.
    drawing: frozenset[str] | None = None

    def next_queued(self, history: Sequence[TrialRecord]) -> dict[str, Any] | None:
        """The oldest enqueued configuration no trial of ``history`` ran yet, passing over a partial one (not queued
        with ``repeat=True``) once ``history`` tried every configuration of the space: whatever the sampler drew
        for it would repeat one. `_runnable` marks such an entry refused before the lock is taken; this runs under
        it, on the exact history, so an entry another worker's trial used the space up for since never stops the
        queue either (it is marked refused by the next `read_known`: nothing may be written under the lock)."""
        if not self.queue:
            return None
        taken = _ran(history)
        space = self.space
        used_up: bool | None = None
        for entry in self.queue:
            if entry["id"] in taken:
                continue
            if space is not None and self._draws(space, entry):
                if used_up is None:
                    used_up = _used_up(space, valid(history)) is not None
                if used_up:
                    continue
            return entry
        return None

    def _draws(self, space: Space, entry: Mapping[str, Any]) -> bool:
        """Whether ``entry`` leaves parameters of ``space`` to draw and may not repeat a configuration."""
        if entry.get(REPEAT):
            return False
        if self.drawing is not None:
            return entry["id"] in self.drawing
        return _needs_draw(space, entry["params"])

    def for_samplers(self, history: Sequence[TrialRecord]) -> list[TrialRecord]:
        """The history a sampler learns from: warm-start points first (numbered below 0, which no sampler counts as
        tried or as a trial of the study: `tunesmith.samplers._tried.is_warm_start`), then the valid trials."""
        return [*self.priors, *valid(history)]


NOTHING_KNOWN = Known()


class QueueBeyondBudgetWarning(UserWarning):
    """Enqueued configurations wait for trials the study's budget has no room for."""


class QueuedConfigurationRefusedWarning(UserWarning):
    """An enqueued configuration cannot run: it cannot be completed into one of the space (a conditional value
    switched off, or values every completion of which the space's forbidden clauses rule out: stored without
    `Study.enqueue`'s checks), or it leaves parameters to draw on a space every configuration of which was tried.
    It is marked refused and skipped, never run."""


class QueuedConfigurationRepeatWarning(UserWarning):
    """`Study.enqueue` was given a configuration a trial already ran, or one still queued: it is not queued again
    (``repeat=True`` queues it anyway)."""


class EnqueuedParameterUnusedWarning(UserWarning):
    """An enqueued configuration gave a name the space lacks, and the objective never asked for it: its value is
    not in the trial's ``params``, since it never ran."""


# The key of an ``enqueued`` entry that can never run, holding why (`_refuse`).
REFUSED = "refused"
# The key of an ``enqueued`` entry queued with ``repeat=True``: it runs though it repeats a configuration.
REPEAT = "repeat"


# A trial that ran an enqueued entry (`_ran`, at every new trial of a study with a queue).
_RAN_ENQUEUED = Facet("ran an enqueued configuration", lambda record: ENQUEUE_ID in record.attrs)


def _ran(records: Sequence[TrialRecord]) -> set[Any]:
    """The ids of the enqueued entries trials of ``records`` ran."""
    return {r.attrs.get(ENQUEUE_ID) for r in matching(records, _RAN_ENQUEUED)}


def waiting(queue: EnqueuedAttr | None, records: Sequence[TrialRecord]) -> int:
    """How many configurations of ``queue`` no trial of ``records`` has run yet (those refused aside)."""
    if queue is None:
        return 0
    ran = _ran(records)
    return sum(1 for entry in queue.configs if entry["id"] not in ran and REFUSED not in entry)


def queue_beyond_budget(
    study: Study, records: Sequence[TrialRecord] | None = None, *, queue: EnqueuedAttr | None = None
) -> str | None:
    """What to say when the enqueued configurations waiting outnumber the trials the budget has left (``None``:
    they fit, or the budget counts no trials). ``records``: the study's trials, when already read; ``queue``: the
    stored queue, when just written."""
    limit = study.budget.trials
    if limit is None:
        return None
    history = study.trials if records is None else records
    if queue is None:
        attrs = study.attrs
        queue = _memo(study).queue(attrs[EnqueuedAttr.KEY]) if EnqueuedAttr.KEY in attrs else None
    count = waiting(queue, history)
    if not count:
        return None
    left = max(0, limit - count_budgeted(history))
    if count <= left:
        return None
    needed = limit + count - left
    return (
        f"{counted(count, 'enqueued configuration')} {'waits' if count == 1 else 'wait'}, but the trial budget has "
        f"{left} of {limit} trials left: {'it runs' if count == 1 else 'they run'} "
        f"only once it is raised (study.extend_budget(trials={needed}), or tunesmith extend "
        f"{command_arguments(study.name, study.storage.url)} --trials {needed})"
    )


# Prior records are built once per study and source, so that samplers' encoding caches (keyed by the
# records' identity) keep working across asks.
_PRIORS: dict[tuple[str, float, str], tuple[TrialRecord, ...]] = {}


def _priors(study: Study, warm: WarmStartAttr) -> tuple[TrialRecord, ...]:
    key = (warm.source, warm.at, study.metric.name)
    cached = _PRIORS.get(key)
    if cached is None:
        n = len(warm.points)
        cached = tuple(
            TrialRecord(
                number=i - n,
                params=dict(p["params"]),
                seed=0,
                state=TrialState.COMPLETE,
                metrics={str(k): float(v) for k, v in p["values"].items()}
                if "values" in p
                else {study.metric.name: float(p["value"])},
                attrs={"warm_start": warm.source},
            )
            for i, p in enumerate(warm.points)
        )
        if len(_PRIORS) > 64:  # studies come and go; this is a cache, not a registry
            _PRIORS.clear()
        _PRIORS[key] = cached
    return cached


def read_known(study: Study, attrs: Mapping[str, Any] | None = None) -> Known:
    """The queue and the warm-start points of ``study``, from its attributes (``attrs``: as just read; else read
    now). What was worked out from a stored value before is reused while storage holds that value (`_Memo`)."""
    attrs = study.attrs if attrs is None else attrs
    if EnqueuedAttr.KEY not in attrs and WarmStartAttr.KEY not in attrs:
        return NOTHING_KNOWN
    memo = _memo(study)
    priors = memo.priors(study, attrs[WarmStartAttr.KEY]) if WarmStartAttr.KEY in attrs else ()
    space = study.space
    if EnqueuedAttr.KEY not in attrs:
        return Known(priors=priors, space=space)
    view = memo.view(space, memo.queue(attrs[EnqueuedAttr.KEY]))
    return Known(queue=_runnable(study, view), priors=priors, space=space, drawing=view.drawing_ids)


def queued_proposal(
    study: Study, entry: Mapping[str, Any], learned: list[TrialRecord], rng: np.random.Generator,
    context: SearchContext, seed: int,
) -> Proposal:  # fmt: skip
    """The trial of an enqueued ``entry``; the sampler draws what the entry leaves out (`_completed`), or, when it
    has nothing new to propose (`SearchSpaceExhausted`), their prior does. A value the space could not check when
    it was enqueued (its parameter learned only since, or not yet) goes to the trial as given: the trial checks it
    against the definition its objective asks for."""
    given = dict(entry["params"])
    space = study.space
    checked = _checked_given(space, given)
    unchecked = {name: value for name, value in given.items() if name not in checked}
    attrs: dict[str, Any] = {"enqueued": True, ENQUEUE_ID: entry["id"], "sampler": "enqueued"}
    if "note" in entry:
        attrs["note"] = entry["note"]
    drawn: dict[str, Any] = {}
    needs = _needs_draw(space, checked)
    if needs:
        try:
            drawn = study.sampler.suggest(space, learned, rng, context)
            attrs["sampler"] = study.sampler.name
        except SearchSpaceExhausted:
            # Its prior draws the rest (`_completed`): the entry was queued with repeat=True, or the sampler's own
            # points ran out (a grid's) while the space has values left. One that may not repeat a tried
            # configuration never comes here on a used-up space (`_runnable`, `Known.next_queued`): refusing it
            # here would mean writing the queue under the lock this runs in.
            pass
    completed, from_prior = _completed(space, checked, drawn, rng)
    params = {**completed, **unchecked}
    if needs:
        attrs["drawn"] = sorted(set(params) - set(given))
    if from_prior:
        attrs[DRAWN_FROM_PRIOR] = from_prior
    return Proposal(params=params, seed=seed, attrs=attrs)


# The trial attribute naming the parameters of an enqueued configuration drawn from their prior: children its
# given parents switch on that the sampler's proposal, on another branch, did not hold.
DRAWN_FROM_PRIOR = "drawn_from_prior"


def _checked_given(space: Space, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``given`` that ``space`` holds, as its parameters hold them (`_snapped`: an entry stored before
    `enqueue` snapped its values is handed out as the space holds it too); the others go to the trial as given."""
    return {
        name: _snapped(space[name], plain(space[name], value))
        for name, value in given.items()
        if name in space and space[name].contains(plain(space[name], value))
    }


def _completed(
    space: Space, given: Mapping[str, Any], drawn: Mapping[str, Any], rng: np.random.Generator
) -> tuple[dict[str, Any], list[str]]:
    """``given`` (checked values) completed into a configuration of ``space``, and the names drawn from the prior.

    Parents come before their children, so each parameter the values so far switch on takes its given value, else
    the sampler's (``drawn``), else a draw from its prior: the sampler drew a whole configuration on a branch of its
    own choosing, and where a given parent picks another branch, its children are not in that proposal (the
    sampler cannot be asked for a configuration with some values fixed). The sampler's values on the branch not
    taken are dropped. An entry `Study.enqueue` accepted always completes (`_incomplete`). When the sampler's values
    beside the given ones make a combination the space forbids, the rest are drawn from their prior until they do not
    (`Space.allowed_completion`: past its limit of draws, one of the allowed values the clauses read, listed; with
    none, `Space.validate` says which clause holds)."""
    out, from_prior = _filled_in(space, given, drawn, rng)
    if space.forbids(out) is not None:
        completion = space.allowed_completion(given, rng)
        if completion is not None:
            out = completion
            from_prior = [name for name in completion if name not in given and space[name].is_dimension]
    return space.validate(out), from_prior


def _filled_in(
    space: Space, given: Mapping[str, Any], drawn: Mapping[str, Any], rng: np.random.Generator
) -> tuple[dict[str, Any], list[str]]:
    """`_completed`'s configuration, forbidden or not."""
    out: dict[str, Any] = {}
    from_prior: list[str] = []
    for name, param in space.items():
        if not space.is_active(name, out):
            continue
        if name in given:
            out[name] = given[name]
        elif name in drawn and param.contains(drawn[name]):
            out[name] = drawn[name]
        else:
            out[name] = param.sample(rng)
            if param.is_dimension:
                from_prior.append(name)
    return out, from_prior


def _incomplete(
    space: Space, params: Mapping[str, Any], checked: Mapping[str, Any], declared: Container[str]
) -> tuple[str, str] | None:
    """Why enqueued ``params`` cannot be completed into a configuration of ``space``, and the fix (``None``: they
    can): a value switched off by the others, or without the parent that switches it on, or values every completion
    of which the space's forbidden clauses rule out (`Space.why_incomplete`). `Study.enqueue` refuses them all (see
    `checked_params`); a queue stored otherwise (by hand, by a version that did not check, or queued before the
    space's clauses changed) may hold them. ``checked``: the values of ``params`` the space holds
    (`_checked_given`). A value outside the range of a parameter of the space given to the study (``declared``:
    their names) is one too: the space was replaced after it was queued (`_spec.replace_space`), and run as given it
    would put a trial outside the space. One outside a parameter learned since from what trials asked for by name
    goes to its trial, whose objective's ask refuses it (`queued_proposal`)."""
    for name, value in params.items():
        if name in declared and name in space and name not in checked:
            from tunesmith.study._spec import param_text  # _spec imports what imports this module

            shown = param_text(space[name].to_json())
            reason = f"{name}={value!r} is outside its range {shown} (the space was replaced after it was queued)"
            return reason, _RANGE_FIX
    for name, value in checked.items():
        if space.is_active(name, checked):
            continue
        when = ", ".join(f"{p} in {list(v)}" for p, v in space[name].conditions.items())
        got = ", ".join(f"{p}={params[p]!r}" for p in space[name].conditions if p in params)
        reason = f"{name}={value!r} applies only when {when}, " + (f"got {got}" if got else "and no parent is given")
        return reason, _BRANCH_FIX
    forbidden = space.why_incomplete(checked)
    return None if forbidden is None else (forbidden, _FORBIDDEN_FIX)


# How to fix an entry `_incomplete` refuses, and one that could only repeat a tried configuration.
_BRANCH_FIX = (
    "enqueue it again with each conditional parameter's parent set to a value that switches it on, or without the "
    "parameter"
)
_RANGE_FIX = "enqueue it again with a value inside the range, or without the parameter (the sampler draws it)"
_FORBIDDEN_FIX = "enqueue it again with values the forbidden clauses allow a completion of, or loosen the clause"
_USED_UP_FIX = (
    "enqueue it again with repeat=True to run it anyway (the rest drawn from their prior), or widen a range or add "
    "options (a new study) to search further"
)


def _runnable(study: Study, view: _QueueView) -> tuple[dict[str, Any], ...]:
    """The entries of the queue ``view`` shows that can run. One that cannot is never handed out, and if no trial
    ran it, it is marked refused in the stored queue and said once (`_refuse`): it never blocks the ones after it.

    One cannot run when it cannot be completed (`_incomplete`), or when it leaves parameters for the sampler (and
    was not queued with ``repeat=True``) while the study's valid trials tried every configuration of the space (a
    warm start's points are not tried: the samplers run them again): the sampler has nothing new to propose, and
    whatever else filled it in would repeat a tried configuration. The checks of each entry are the view's, worked
    out once: only the history is read here, and only while an entry waits for the sampler."""
    space = view.space
    why: dict[str, tuple[str, str]] = dict(view.incomplete)
    used_up: dict[str, tuple[str, str]] = {}
    if view.drawing:
        trials = study.trials
        ran = _ran(trials)
        left = [facts for facts in view.drawing if facts.entry["id"] not in ran]
        reached = _used_up(space, valid(trials)) if left else None
        if reached is not None:
            count, combinations = reached
            every = (
                "the space's one configuration was" if count == 1 else f"all {count} configurations of the space were"
            )
            tried = f"{every} tried (running trials included)"
            if count != combinations:  # as the samplers count it (`tunesmith.samplers._tried.untried`)
                tried = (
                    f"{every} tried (running trials included; a trial that never asked for a parameter stands for "
                    f"every value of it, so the {combinations} combinations of the values count some of them more "
                    "than once)"
                )
            for facts in left:
                given = facts.checked
                missing = [n for n in space.dimensions if n not in given and space.is_active(n, given)]
                reason = f"{tried}, so whatever is drawn for {', '.join(missing)} repeats one"
                used_up[facts.entry["id"]] = (reason, _USED_UP_FIX)
    if why or used_up:
        _refuse(study, {**why, **used_up})
    if not used_up:
        return view.waiting
    return tuple(entry for entry in view.waiting if entry["id"] not in used_up)


def _needs_draw(space: Space, params: Mapping[str, Any]) -> bool:
    """Whether enqueued ``params`` leave a parameter of ``space`` that their values switch on to be drawn."""
    return _leaves_some(space, _checked_given(space, params))


def _leaves_some(space: Space, given: Mapping[str, Any]) -> bool:
    """`_needs_draw`, with ``given`` the checked values (`_checked_given`)."""
    return any(name not in given and space.is_active(name, given) for name in space.dimensions)


def _used_up(space: Space, history: Sequence[TrialRecord]) -> tuple[int, int] | None:
    """When ``history`` tried every configuration of ``space``, running trials included (what a sampler finds before
    it raises `SearchSpaceExhausted`: `tunesmith.samplers._tried.untried`), how many configurations its trials
    reached and how many combinations of the values the space lists (`configurations`, conditions respected), else
    ``None``. The two differ when a trial never asked for a parameter (define-by-run: a branch not taken): it stands
    for every value of it, one configuration the combinations count once per value. Only a finite space small enough
    to list (`ENUMERATION_LIMIT`) can be used up."""
    size = space.cardinality()
    if not space.dimensions or not math.isfinite(size) or size > ENUMERATION_LIMIT:
        return None
    tried = Tried(space, history)
    if not tried.active:
        return None
    combinations = configurations(space)
    holders = [tried.holder(config) for config in combinations]
    if any(holder is None for holder in holders):
        return None
    return len({id(holder) for holder in holders}), len(combinations)


def _refuse(study: Study, why: Mapping[str, tuple[str, str]]) -> None:
    """Mark the enqueued entries ``why`` names (id -> reason and its fix) refused, with their reason, unless a trial
    ran them, and warn once for each (`QueuedConfigurationRefusedWarning`: the worker whose update marked it)."""
    ran = _ran(study.trials)
    marked: list[dict[str, Any]] = []

    def mark(stored: Any) -> Any:  # runs with the study locked: another worker may have marked them first
        marked.clear()
        queue = EnqueuedAttr() if stored is None else EnqueuedAttr.from_json(stored)
        configs = []
        for entry in queue.configs:
            if entry["id"] in why and entry["id"] not in ran and REFUSED not in entry:
                entry = {**entry, REFUSED: why[entry["id"]][0]}
                marked.append(entry)
            configs.append(entry)
        return EnqueuedAttr(configs=tuple(configs), extra=queue.extra).to_json()

    if any(entry_id not in ran for entry_id in why):
        study.storage.update_study_attr(study._info.id, EnqueuedAttr.KEY, mark)
    for entry in marked:
        note = f" ({entry['note']})" if "note" in entry else ""
        fix = why[entry["id"]][1]
        warnings.warn(
            f"the enqueued configuration {entry['params']!r}{note} cannot run in study {study.name!r}: "
            f"{entry[REFUSED]}; it is skipped (marked refused in the queue) and the queue goes on: {fix}",
            QueuedConfigurationRefusedWarning,
            stacklevel=outside_stacklevel(),
        )


# Repeats and names nothing asked for ----------------------------------------------------------------
def _repeated_trial(record: TrialRecord, params: Mapping[str, Any], partial: bool) -> bool:
    """Whether trial ``record``, which ran the same values as enqueued ``params`` (`_identity`), is one they repeat.

    A trial that failed, or was invalidated, holds no result: running its configuration again repeats nothing. A
    partial configuration repeats only a trial that ran with exactly its names: a define-by-run branch that never
    asked for a parameter the learned space holds unconditionally (`momentum` only under sgd); else the sampler
    draws the rest anew for each."""
    return (
        record.state is not TrialState.FAILED
        and record.invalidated is None
        and (not partial or set(record.params) == set(params))
    )


def _identity(space: Space, params: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two configurations one: the values of ``space``'s parameters, as the samplers key them, and any
    other name's value as given (one the space lacks: for an objective that asks for it by name)."""
    others = tuple(sorted((str(name), repr(value)) for name, value in params.items() if name not in space))
    return config_key(space, params), others


# Worked out once per study handle ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _EntryFacts:
    """What one enqueued entry is on one space: its values the space holds (`_checked_given`), why it cannot be
    completed (`_incomplete`), whether it leaves parameters to draw (`_needs_draw`) and its `_identity`. An entry's
    params never change once queued, so these are worked out once, when it is queued or first read."""

    entry: dict[str, Any]
    checked: dict[str, Any]
    incomplete: tuple[str, str] | None  # why it cannot be completed, and the fix
    draws: bool
    identity: tuple[Any, ...]

    @classmethod
    def of(cls, space: Space, entry: dict[str, Any], declared: Container[str]) -> _EntryFacts:
        params = entry["params"]
        checked = _checked_given(space, params)
        return cls(
            entry=entry,
            checked=checked,
            incomplete=_incomplete(space, params, checked, declared),
            draws=_leaves_some(space, checked),
            identity=_identity(space, params),
        )


@dataclass(frozen=True, eq=False)
class _QueueView:
    """A parsed queue's unrefused entries on one space, as asks and enqueues read them.

    ``waiting``: those that can be completed, in queue order (`_runnable` hands them out); ``incomplete``: why each
    of the others cannot be, and the fix, by id; ``drawing``: the facts of the waiting ones that leave parameters to
    draw and were not queued with ``repeat=True`` (`_used_up` may refuse them), and their ids; ``positions``: where each
    configuration stands in the queue (from 1), by `_identity` (what a new entry would repeat)."""

    queue: EnqueuedAttr
    space: Space
    waiting: tuple[dict[str, Any], ...]
    incomplete: Mapping[str, tuple[str, str]]
    drawing: tuple[_EntryFacts, ...]
    drawing_ids: frozenset[str]
    positions: Mapping[tuple[Any, ...], tuple[int, ...]]

    @classmethod
    def of(cls, queue: EnqueuedAttr, space: Space, facts: Sequence[_EntryFacts | None]) -> _QueueView:
        """The view of ``queue``, given each entry's facts (``None`` for a refused entry)."""
        waiting: list[dict[str, Any]] = []
        incomplete: dict[str, tuple[str, str]] = {}
        drawing: list[_EntryFacts] = []
        positions: dict[tuple[Any, ...], tuple[int, ...]] = {}
        for position, (entry, known) in enumerate(zip(queue.configs, facts, strict=True), start=1):
            if known is None:
                continue
            positions[known.identity] = (*positions.get(known.identity, ()), position)
            if known.incomplete is not None:
                incomplete[entry["id"]] = known.incomplete
                continue
            waiting.append(entry)
            if known.draws and not entry.get(REPEAT):
                drawing.append(known)
        ids = frozenset(known.entry["id"] for known in drawing)
        return cls(queue, space, tuple(waiting), incomplete, tuple(drawing), ids, positions)

    def appended(self, queue: EnqueuedAttr, facts: _EntryFacts) -> _QueueView:
        """This view of ``queue``, which is this view's queue with ``facts``'s entry appended: no entry re-read."""
        entry = facts.entry
        positions = dict(self.positions)
        positions[facts.identity] = (*positions.get(facts.identity, ()), len(queue.configs))
        if facts.incomplete is not None:
            incomplete = {**self.incomplete, entry["id"]: facts.incomplete}
            return replace(self, queue=queue, incomplete=incomplete, positions=positions)
        if not facts.draws or entry.get(REPEAT):
            return replace(self, queue=queue, waiting=(*self.waiting, entry), positions=positions)
        return replace(self, queue=queue, waiting=(*self.waiting, entry), drawing=(*self.drawing, facts),
                       drawing_ids=self.drawing_ids | {entry["id"]}, positions=positions)  # fmt: skip


class _Memo:
    """What one `Study` handle worked out from its queue, warm start and trials, so that the work an ask or an
    enqueue does here does not grow with them: each entry was checked and keyed at every ask, each trial keyed twice
    at every enqueue, the warm start parsed twice at every ask.

    Nothing here is trusted without a look at storage: another process may enqueue, take, refuse or rewrite. A
    parsed attribute is reused only while the value just read from storage equals the one it was parsed from; an
    entry's facts only while its id holds the same params, on the same space; a trial's key only while its number
    holds the same params (its state and attributes are read from the record just read). A new space (a
    parameter learned by name) drops every fact and key. Safe across threads: each parse and view is replaced
    whole, and the trial index changes under a lock, never held while storage is called.
    """

    def __init__(self, declared: Container[str]) -> None:
        self._declared = declared  # the names of the parameters of the space given to the study (`_incomplete`)
        self._lock = threading.Lock()
        self._space: Space | None = None
        self._facts: dict[str, _EntryFacts] = {}
        self._queue: tuple[Any, EnqueuedAttr] | None = None  # a stored value, and its parse
        self._view: _QueueView | None = None
        self._warm: tuple[Any, tuple[TrialRecord, ...]] | None = None  # a stored value, and its records
        # Each trial's record as last keyed, by number, its key, and the numbers of the trials holding each key.
        self._records: dict[int, TrialRecord] = {}
        self._keys: dict[int, tuple[Any, ...]] = {}
        self._holders: dict[tuple[Any, ...], set[int]] = {}

    def _on(self, space: Space) -> None:
        """Drop what was worked out on another space than ``space`` (call with the lock held)."""
        if space is not self._space:  # the study learned a parameter: every key and check may differ
            self._space, self._facts, self._view = space, {}, None
            self._records, self._keys, self._holders = {}, {}, {}

    # The queue --------------------------------------------------------------------------------------
    def queue(self, stored: Any) -> EnqueuedAttr:
        """The ``enqueued`` attribute as just read from storage, parsed once per value (`EnqueuedAttr.from_json`)."""
        held = self._queue
        if held is not None and (held[0] is stored or held[0] == stored):
            return held[1]
        queue = EnqueuedAttr.from_json(stored)
        self._queue = (stored, queue)
        return queue

    def remember_queue(
        self, value: dict[str, Any], before: EnqueuedAttr, space: Space, facts: _EntryFacts
    ) -> EnqueuedAttr:
        """``value``, being written: the queue ``before`` with the entry of ``facts`` (on ``space``) appended. The
        next read of the same value finds it parsed, and its view extended by the one entry."""
        queue = EnqueuedAttr(configs=tuple(value["configs"]), extra=before.extra, stored_keys=frozenset(value))
        self._queue = (value, queue)
        view = self._view
        if view is not None and view.queue is before and view.space is space:
            self._view = view.appended(queue, facts)
        return queue

    def learn(self, space: Space, entry: dict[str, Any]) -> _EntryFacts:
        """The facts of ``entry`` on ``space``, worked out now unless known for the same params."""
        with self._lock:
            self._on(space)
            return self._learned(space, entry)

    def _learned(self, space: Space, entry: dict[str, Any]) -> _EntryFacts:
        held = self._facts.get(entry["id"])
        if held is not None and held.entry["params"] == entry["params"]:
            return held
        facts = self._facts[entry["id"]] = _EntryFacts.of(space, entry, self._declared)
        return facts

    def view(self, space: Space, queue: EnqueuedAttr) -> _QueueView:
        """``queue`` on ``space`` (`_QueueView`), worked out once per parsed queue."""
        held = self._view
        if held is not None and held.queue is queue and held.space is space:
            return held
        with self._lock:
            self._on(space)
            facts = [None if REFUSED in entry else self._learned(space, entry) for entry in queue.configs]
        view = self._view = _QueueView.of(queue, space, facts)
        return view

    # Repeats ----------------------------------------------------------------------------------------
    def repeated(
        self, space: Space, facts: _EntryFacts, queue: EnqueuedAttr | None, trials: Sequence[TrialRecord]
    ) -> str | None:
        """What queuing the entry of ``facts`` would repeat, in words (``None``: nothing), when it gives every
        parameter it switches on: a trial that ran the same configuration, running ones included
        (`_repeated_trial`), or an entry of ``queue`` still waiting with it. Values compare as the space holds them
        (`config_key`: 7 and 7.0 for an integer are one value). Only trials new or changed since the last call, and
        entries not seen before, are keyed."""
        params = facts.entry["params"]
        with self._lock:
            self._on(space)
            self._index(space, trials)
            holders = [self._records[number] for number in sorted(self._holders.get(facts.identity, ()))]
        for record in holders:
            if _repeated_trial(record, params, facts.draws):
                return f"trial #{record.number} ({record.state.value})"
        if facts.draws or queue is None:
            return None
        positions = self.view(space, queue).positions.get(facts.identity, ())
        started = _ran(trials) if positions else set()
        for position in positions:
            entry = queue.configs[position - 1]
            if entry["id"] not in started:
                note = f" ({entry['note']})" if "note" in entry else ""
                return f"entry {position} of the queue{note}, not run yet"
        return None

    def _index(self, space: Space, trials: Sequence[TrialRecord]) -> None:
        """Key the trials of ``trials`` not keyed before with the same params: new ones, mostly; a record read again
        keeps its key (call with the lock held)."""
        records, keys, holders = self._records, self._keys, self._holders
        for record in trials:
            number = record.number
            held = records.get(number)
            if held is record:
                continue
            if held is not None and held.params == record.params:  # read again (its state, its attributes)
                records[number] = record
                continue
            if number in keys:
                holders[keys[number]].discard(number)
            key = keys[number] = _identity(space, record.params)
            records[number] = record
            holders.setdefault(key, set()).add(number)
        if len(records) > len(trials):  # a trial keyed before is gone from storage: key them all again
            self._records, self._keys, self._holders = {}, {}, {}
            self._index(space, trials)

    # The warm start ---------------------------------------------------------------------------------
    def priors(self, study: Study, stored: Any) -> tuple[TrialRecord, ...]:
        """The warm start's points as records (`_priors`), from the ``warm_start`` attribute as just read from
        storage, parsed once per value: a study records one warm start, so once per handle."""
        held = self._warm
        if held is not None and (held[0] is stored or held[0] == stored):
            return held[1]
        priors = _priors(study, WarmStartAttr.from_json(stored))
        self._warm = (stored, priors)
        return priors


_MEMOS: weakref.WeakKeyDictionary[Study, _Memo] = weakref.WeakKeyDictionary()
_MEMOS_LOCK = threading.Lock()


def _memo(study: Study) -> _Memo:
    """``study``'s `_Memo`, which lives as long as the handle."""
    with _MEMOS_LOCK:
        memo = _MEMOS.get(study)
        if memo is None:
            given = study._defined.given
            memo = _MEMOS[study] = _Memo(frozenset(() if given is None else given))
        return memo


def unasked_enqueued(space: Space, record: TrialRecord, asked: Collection[str]) -> dict[str, Any]:
    """The values trial ``record`` holds for names ``space`` (the study's, learned parameters included) lacks and its
    objective did not ask for (``asked``): an enqueued configuration gave them for a define-by-run objective
    (`Study.enqueue` takes such a name before any trial completed), which never read them. The trial's ``params``
    must not claim them (`Study.best` would show a value that never ran): whatever records what it asked for drops
    them, saying so (`warn_unasked`)."""
    if ENQUEUE_ID not in record.attrs:
        return {}
    return {name: value for name, value in record.params.items() if name not in space and name not in asked}


def warn_unasked(study_name: str, number: int, unasked: Mapping[str, Any]) -> None:
    """Say that trial ``number`` dropped the enqueued values ``unasked`` (`unasked_enqueued`)."""
    given = ", ".join(f"{name}={value!r}" for name, value in unasked.items())
    warnings.warn(
        f"trial #{number} of study {study_name!r} ran an enqueued configuration giving {given}, which the space "
        "lacks and the objective never asked for by name (trial.suggest_*): it is left out of the trial's params, "
        "since no value of it ran; add it to the space, or ask for it in the objective, for it to count",
        EnqueuedParameterUnusedWarning,
        stacklevel=outside_stacklevel(),
    )
