"""Known configurations: enqueued ones run next, earlier results warm-start the samplers, bad trials are invalidated.

- **Enqueue.** `Study.enqueue(params)` appends ``{"id", "params", "at", "note"}`` to the study attribute
  ``enqueued`` (`EnqueuedAttr`), atomically (`Storage.update_study_attr`), so any worker of any process
  sees it. `Known.next_queued` runs inside `Storage.create_trial`, under the study lock, and hands out the
  oldest entry whose ``id`` no trial records yet (``attrs["enqueue_id"]``): each entry runs exactly once,
  the lost-trial retry's guarantee, after owed retries and before the scheduler's and the sampler's
  proposals. The sampler draws what an entry leaves out; where a given parent switches on children its proposal
  (on another branch) lacks, they are drawn from their prior (``attrs["drawn_from_prior"]``). An entry that cannot
  be completed (stored without `enqueue`'s checks) is marked ``"refused"``, with why, said once and skipped. The
  entries stay in the attribute as the record of what was asked. A parameter the study
  does not know yet (a define-by-run one no trial asked for) is kept as given, and checked by the trial
  whose objective asks for it (`tunesmith.space._define_by_run.AskedParams`).
- **Warm start.** ``Study(warm_start=...)`` stores earlier results in the ``warm_start`` attribute
  (`tunesmith.study._warm_start`); every proposal puts them before the study's own trials in the history the
  sampler reads, as COMPLETE records with negative numbers and ``attrs["warm_start"]`` naming the source.
  They are never stored as trials: not in `Study.trials`, the budget, `best` or the discipline.
- **Invalidate.** `Study.invalidate(n, reason)` writes ``attrs["invalidated"]`` (the reason) and
  ``attrs["invalidated_at"]`` on the finished trial, the one source of truth: `TrialRecord.invalidated`
  reads it, `best_record` skips it, the samplers, the schedulers and the discipline never see it. It is
  kept for audit (``tunesmith trials``, ``tunesmith show``) and still spent its budget.
"""

from __future__ import annotations

import difflib
import json
import math
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from tunesmith.attributes import EnqueuedAttr, WarmStartAttr, read_attr
from tunesmith.context import SearchContext
from tunesmith.errors import ConfigError, SpaceError
from tunesmith.space import Choice, Fixed, Float, Int, Space
from tunesmith.space._define_by_run import plain
from tunesmith.space._params import JsonScalar, Param
from tunesmith.storage import Proposal
from tunesmith.storage._trial_cache import Facet, TrialHistory, matching
from tunesmith.storage.base import count_budgeted
from tunesmith.trial import INVALIDATED, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "ENQUEUE_ID",
    "Known",
    "KnownConfigs",
    "QueueBeyondBudgetWarning",
    "QueuedConfigurationRefusedWarning",
    "checked_params",
    "from_text",
    "plain",
    "queue_beyond_budget",
    "read_known",
    "valid",
    "waiting",
]

# The trial attribute naming the `enqueued` entry a trial ran.
ENQUEUE_ID = "enqueue_id"


class KnownConfigs:
    """`Study`'s methods for configurations known before the search: the queue and invalidation.

    A base of `Study` only (it is `Study`'s face, kept in its own module); warm starts are the
    ``warm_start`` argument of `Study` itself.
    """

    def enqueue(self, params: Mapping[str, Any], *, note: str | None = None) -> None:
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
        parameter needs its parents given.
        The trial records ``attrs["enqueued"] = True`` (and ``attrs["note"]``) and spends the budget as
        any trial does. CLI: ``tunesmith enqueue --study NAME key=value ...``.

        Raises:
            SpaceError: a value outside its parameter's range, an inactive parameter, a name close to a known
                parameter's, a new name the study would not read, a value that is not a JSON scalar.
        """
        study = cast("Study", self)
        space = study._defined.refresh(study.attrs)  # with what other workers' trials asked for since
        refused = _why_no_new_names(study, space)
        checked = checked_params(space, params, learns=refused is None, refused_new=refused or "")
        entry: dict[str, Any] = {"id": uuid.uuid4().hex, "params": checked}
        entry["at"] = study._clock()
        if note is not None:
            entry["note"] = str(note)

        def append(stored: Any) -> Any:
            queue = EnqueuedAttr() if stored is None else EnqueuedAttr.from_json(stored)
            return EnqueuedAttr(configs=(*queue.configs, entry), extra=queue.extra).to_json()

        study.storage.update_study_attr(study._info.id, EnqueuedAttr.KEY, append)
        if blocked := queue_beyond_budget(study):
            warnings.warn(blocked, QueueBeyondBudgetWarning, stacklevel=2)

    def invalidate(self, number: int, reason: str) -> TrialRecord:
        """Take finished trial ``number`` out of the search: never `best`, never in the samplers' or
        the schedulers' history, never a candidate of `tunesmith.validate_top` or `tunesmith.finalize`.

        It stays stored and shown, marked with ``reason`` (``tunesmith trials``, ``tunesmith show``),
        and it still spent its budget (``extend_budget`` buys a replacement). `revalidate` undoes it.
        Every invalidate and revalidate is appended to ``attrs["judgements"]`` with its time, so a later
        reason or a revalidation never erases an earlier reason.
        CLI: ``tunesmith invalidate --study NAME N --reason "..."``.

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


def from_text(param: Param | None, text: str) -> Any:
    """A CSV cell (or a command line's ``name=value``) as the value ``param`` holds (left as text when it is
    none of them: then it is outside). Without a ``param`` (one no trial has asked for yet): a number,
    ``true``/``false``/``null``, else the text."""
    if param is None:
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if value is None or isinstance(value, bool | int | float) else text
    if isinstance(param, Choice | Fixed):
        options = param.options if isinstance(param, Choice) else (param.value,)
        return next((o for o in options if text in (str(o), _text_of(o))), text)
    try:
        number = float(text)
    except ValueError:
        return text
    if isinstance(param, Int) and number.is_integer():
        return int(number)
    return number if isinstance(param, Float) else text


def _text_of(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def checked_params(
    space: Space, params: Mapping[str, Any], what: str = "enqueue", *, learns: bool = False, refused_new: str = ""
) -> dict[str, Any]:
    """``params`` checked against ``space``: each a parameter of it, inside its range, and active given
    the others; parameters left out are allowed (the sampler draws them). Returns them as JSON scalars.

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
            hint = f"did you mean {close[0]!r}? " if close else ""
            later = f"; {refused_new}" if refused_new else ""
            if learns and close:
                later = (
                    f"; if {name!r} is a new parameter the objective asks for by name, enqueue it once a trial has "
                    "asked for it, or add it to the space"
                )
            raise SpaceError(
                f"{what}: {name!r} is not a parameter of the space, got {name}={value!r}: {hint}"
                f"the space has {', '.join(space) or 'no parameters'}{later}"
            )
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
    return out


def _why_no_new_names(study: Study, space: Space) -> str | None:
    """Why ``study`` takes no parameter its ``space`` lacks (with the fix), or ``None`` when it may learn one.

    A define-by-run study (no space given up front) learns names, and so does a study with a given space
    once a trial asked for a parameter outside it. A given space with completed trials that asked for none
    says its objective reads only that space: a new name's value would go unread, and the trial's record
    would claim it ran with it. Before any trial completed, that is not known yet, so the name is taken."""
    given = study._defined.given
    if given is None or not len(given) or any(name not in given for name in space):
        return None
    completed = sum(1 for record in study.trials if record.state is TrialState.COMPLETE)
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

    def next_queued(self, history: Sequence[TrialRecord]) -> dict[str, Any] | None:
        """The oldest enqueued configuration no trial of ``history`` ran yet."""
        if not self.queue:
            return None
        taken = _ran(history)
        return next((entry for entry in self.queue if entry["id"] not in taken), None)

    def for_samplers(self, history: Sequence[TrialRecord]) -> list[TrialRecord]:
        """The history a sampler learns from: warm-start points first, then the valid trials."""
        return [*self.priors, *valid(history)]


NOTHING_KNOWN = Known()


class QueueBeyondBudgetWarning(UserWarning):
    """Enqueued configurations wait for trials the study's budget has no room for."""


class QueuedConfigurationRefusedWarning(UserWarning):
    """An enqueued configuration cannot be completed into one of the space (stored without `Study.enqueue`'s
    checks): it is marked refused and skipped, never run."""


# The key of an ``enqueued`` entry that can never run, holding why (`_refuse`).
REFUSED = "refused"


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


def queue_beyond_budget(study: Study, records: Sequence[TrialRecord] | None = None) -> str | None:
    """What to say when the enqueued configurations waiting outnumber the trials the budget has left (``None``:
    they fit, or the budget counts no trials). ``records``: the study's trials, when already read."""
    limit = study.budget.trials
    if limit is None:
        return None
    history = study.trials if records is None else records
    count = waiting(read_attr(study.attrs, EnqueuedAttr), history)
    if not count:
        return None
    left = max(0, limit - count_budgeted(history))
    if count <= left:
        return None
    needed = limit + count - left
    return (
        f"{count} enqueued configuration(s) wait, but the trial budget has {left} of {limit} trials left: they run "
        f"only once it is raised (study.extend_budget(trials={needed}), or tunesmith extend {study.name} "
        f"--trials {needed})"
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


def read_known(study: Study) -> Known:
    """The queue and the warm-start points of ``study``, read from its attributes now."""
    attrs = study.attrs
    queue = read_attr(attrs, EnqueuedAttr)
    warm = read_attr(attrs, WarmStartAttr)
    if queue is None and warm is None:
        return NOTHING_KNOWN
    return Known(
        queue=() if queue is None else _runnable(study, queue),
        priors=() if warm is None else _priors(study, warm),
    )


def queued_proposal(
    study: Study, entry: Mapping[str, Any], learned: list[TrialRecord], rng: np.random.Generator,
    context: SearchContext, seed: int,
) -> Proposal:  # fmt: skip
    """The trial of an enqueued ``entry``; the sampler draws what the entry leaves out (`_completed`). A value the
    space could not check when it was enqueued (its parameter learned only since, or not yet) goes to the trial as
    given: the trial checks it against the definition its objective asks for."""
    given = dict(entry["params"])
    space = study.space
    checked = _checked_given(space, given)
    unchecked = {name: value for name, value in given.items() if name not in checked}
    attrs: dict[str, Any] = {"enqueued": True, ENQUEUE_ID: entry["id"], "sampler": "enqueued"}
    if "note" in entry:
        attrs["note"] = entry["note"]
    drawn: dict[str, Any] = {}
    if any(name not in checked and space.is_active(name, checked) for name in space.dimensions):
        drawn = study.sampler.suggest(space, learned, rng, context)
        attrs["sampler"] = study.sampler.name
    completed, from_prior = _completed(space, checked, drawn, rng)
    params = {**completed, **unchecked}
    if drawn:
        attrs["drawn"] = sorted(set(params) - set(given))
    if from_prior:
        attrs[DRAWN_FROM_PRIOR] = from_prior
    return Proposal(params=params, seed=seed, attrs=attrs)


# The trial attribute naming the parameters of an enqueued configuration drawn from their prior: children its
# given parents switch on that the sampler's proposal, on another branch, did not hold.
DRAWN_FROM_PRIOR = "drawn_from_prior"


def _checked_given(space: Space, given: Mapping[str, Any]) -> dict[str, Any]:
    """The values of ``given`` that ``space`` holds, as its parameters hold them (the others go to the trial as
    given)."""
    return {
        name: plain(space[name], value)
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
    taken are dropped. An entry `Study.enqueue` accepted always completes (`_incomplete`)."""
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
    return space.validate(out), from_prior


def _incomplete(space: Space, params: Mapping[str, Any]) -> str | None:
    """Why enqueued ``params`` cannot be completed into a configuration of ``space`` (``None``: they can): a value
    switched off by the others, or without the parent that switches it on. `Study.enqueue` refuses both (see
    `checked_params`); a queue stored otherwise (by hand, or by a version that did not check) may hold them."""
    checked = _checked_given(space, params)
    for name, value in checked.items():
        if space.is_active(name, checked):
            continue
        when = ", ".join(f"{p} in {list(v)}" for p, v in space[name].conditions.items())
        got = ", ".join(f"{p}={params[p]!r}" for p in space[name].conditions if p in params)
        return f"{name}={value!r} applies only when {when}, " + (f"got {got}" if got else "and no parent is given")
    return None


def _runnable(study: Study, queue: EnqueuedAttr) -> tuple[dict[str, Any], ...]:
    """The entries of ``queue`` that can run. One that cannot (`_incomplete`) is never handed out, and if no trial
    ran it, it is marked refused in the stored queue and said once (`_refuse`): it never blocks the ones after it."""
    space = study.space
    why = {
        entry["id"]: reason
        for entry in queue.configs
        if REFUSED not in entry and (reason := _incomplete(space, entry["params"])) is not None
    }
    if why:
        _refuse(study, why)
    return tuple(entry for entry in queue.configs if REFUSED not in entry and entry["id"] not in why)


def _refuse(study: Study, why: Mapping[str, str]) -> None:
    """Mark the enqueued entries ``why`` names (id -> reason) refused, with their reason, unless a trial ran them,
    and warn once for each (`QueuedConfigurationRefusedWarning`: the worker whose update marked it)."""
    ran = _ran(study.trials)
    marked: list[dict[str, Any]] = []

    def mark(stored: Any) -> Any:  # runs with the study locked: another worker may have marked them first
        marked.clear()
        queue = EnqueuedAttr() if stored is None else EnqueuedAttr.from_json(stored)
        configs = []
        for entry in queue.configs:
            if entry["id"] in why and entry["id"] not in ran and REFUSED not in entry:
                entry = {**entry, REFUSED: why[entry["id"]]}
                marked.append(entry)
            configs.append(entry)
        return EnqueuedAttr(configs=tuple(configs), extra=queue.extra).to_json()

    if any(entry_id not in ran for entry_id in why):
        study.storage.update_study_attr(study._info.id, EnqueuedAttr.KEY, mark)
    for entry in marked:
        note = f" ({entry['note']})" if "note" in entry else ""
        warnings.warn(
            f"the enqueued configuration {entry['params']!r}{note} cannot run in study {study.name!r}: "
            f"{entry[REFUSED]}; it is skipped (marked refused in the queue) and the queue goes on: enqueue it again "
            "with each conditional parameter's parent set to a value that switches it on, or without the parameter",
            QueuedConfigurationRefusedWarning,
            stacklevel=2,
        )
