"""The configurations a history has tried, by a canonical key of their values: what a sampler skips.

A sampler proposes a configuration again only when the space has nothing untried left, and on a
finite space that is used up it raises `SearchSpaceExhausted`, as `Grid` does. Keys are built from the
decoded values (an integer's value, a stepped float's step number, a choice's option number), never
from the unit-cube encoding, so they hold whatever the encoding becomes. A configuration with a
continuous float never comes back exactly: on a space where one is always active, `Tried` records
only the trials that never asked for it (define-by-run: a branch that does not ask for ``gamma`` is
one configuration whatever ``gamma`` would be), and with none of those every sampler proposes what it
proposed before.

A trial its worker vanished under (`TrialKind.is_interruption`: interrupted, or lost with its worker) was never
evaluated: it is not tried, and its configuration is proposed again, as `_history.observe` leaves it out of the
models. A trial that lacks a parameter stands for every value of it only if the parameter existed when it ran: a
define-by-run study learns a parameter from the first trial that asks for it (`first_asked`), and the trials before
that one ran an objective that may not have asked for it at all, so they cover none of its values.

A configuration the space forbids (`Space.forbids`: its `Forbidden` clauses) is never proposed either: `Tried` holds it
(``config in tried`` is true for it, though no trial ran it), `configurations` leaves it out, and `untried` never
returns one, so every sampler that skips what was tried skips what is forbidden, with no code of its own.

Only the study's own trials are tried: a warm start's points (the records numbered below 0 that
`tunesmith.study._known.Known.for_samplers` puts first) inform the models, but an earlier study's result
is not a run of this one, so its configuration may be proposed again (its best above all: a warm start
that covered the whole space would otherwise leave nothing to run, and the new study no result at all).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tunesmith.errors import SearchSpaceExhausted, SpaceError
from tunesmith.samplers._history import EncodingCache
from tunesmith.space import Choice, Float, Int, Param, Space
from tunesmith.space._space import ENUMERATION_LIMIT, every_value
from tunesmith.trial import TrialRecord, TrialState

__all__ = [
    "ENUMERATION_LIMIT",
    "Key",
    "Tried",
    "can_repeat",
    "config_key",
    "configurations",
    "first_asked",
    "holds_continuous",
    "is_interruption",
    "is_warm_start",
    "next_number",
    "own_trials",
    "untried",
]

Key = tuple[tuple[str, Hashable], ...]
Score = Callable[[np.ndarray], np.ndarray]

# A finite space with at most `ENUMERATION_LIMIT` configurations (the product of the parameters' counts) is
# listed in full when a sampler's own candidates were all tried: what is left, or that nothing is.
# Listing 20,000 takes about 70 ms, and a sampler runs under the study lock. (A space lists as many, when it is
# built, to tell whether its forbidden clauses allow a configuration.)
# Untried configurations ranked by a sampler's score when its own candidates were all tried (a random
# subset when more are left).
_POOL = 1024
# On a space too large to list, draws from the prior looked at for an untried configuration.
_DRAWS = 256
# With forbidden clauses, the draws from the prior made for those: one batch, not a rejection loop per candidate, so
# where the clauses rule out most of the space fewer candidates are ranked (at least one) rather than every ask
# costing `_DRAWS` / share draws (0.1% allowed: 256,000 draws, seconds an ask).
_CANDIDATE_DRAWS = 4 * _DRAWS
_CHUNK = 128  # rows scored at once: a model's densities cost memory per row times its points


def is_warm_start(record: TrialRecord) -> bool:
    """Whether ``record`` is a warm start's earlier result rather than a trial of the study: the study numbers its
    own trials from 0, and hands a warm start's points to the samplers numbered below 0."""
    return record.number < 0


def is_interruption(record: TrialRecord) -> bool:
    """Whether ``record`` ended with its worker gone (`TrialKind.is_interruption`): its configuration was never
    evaluated, so it is owed a rerun rather than counted as tried."""
    return record.state is TrialState.FAILED and record.kind is not None and record.kind.is_interruption


def first_asked(history: Iterable[TrialRecord]) -> dict[str, int]:
    """Each parameter's first definition: the number of the study's first trial whose configuration holds it.

    The ``learned_space`` attribute keeps a define-by-run study's definitions but not when each was learned, and a
    sampler reads the history only: the first trial that holds a parameter is the one that asked for it first (or
    was enqueued with it; an enqueued value the trial did not ask for is dropped from its ``params``). A warm start's
    points are not trials of the study and do not count."""
    first: dict[str, int] = {}
    for record in history:
        if not is_warm_start(record):
            for name in record.params:
                first[name] = min(first.get(name, record.number), record.number)
    return first


def own_trials(history: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The study's own trials in ``history``: its records without the warm start's (`is_warm_start`)."""
    return [record for record in history if not is_warm_start(record)]


def next_number(history: Sequence[TrialRecord]) -> int:
    """The number the study's next trial takes, as far as ``history`` shows: one past the highest number of its own
    trials, so how many trials it has numbered. Not the length of ``history``, which counts a warm start's points
    and leaves invalidated trials out: a trial keeps its number, so this never steps back past a trial ``history``
    holds (invalidating the latest trials gives their numbers back, as what they ran no longer counts)."""
    return 1 + max((record.number for record in own_trials(history)), default=-1)


def _continuous(param: Param) -> bool:
    return isinstance(param, Float) and param.step is None


def holds_continuous(space: Space, config: Mapping[str, Any]) -> bool:
    """Whether ``config`` gives a continuous float a value: such a configuration never comes back exactly, so no
    later `Tried` will hold it."""
    return any(_continuous(space[name]) for name in config if name in space)


def _always_continuous(space: Space, names: Sequence[str]) -> list[str]:
    """The continuous floats among ``names`` that no condition switches off."""
    return [n for n in names if _continuous(space[n]) and not space[n].conditions]


def can_repeat(space: Space, names: Sequence[str] | None = None) -> bool:
    """Whether two configurations of ``space`` (restricted to ``names``) can be equal.

    Not when a continuous float is always active among them. A space without dimensions is not a
    search: its one configuration may run as often as the budget says.
    """
    names = space.dimensions if names is None else names
    return bool(names) and not _always_continuous(space, names)


def _canonical(param: Param, value: Any) -> Hashable:
    """One value of ``param`` as a key: equal for every spelling of the same value."""
    try:
        if isinstance(param, Choice):
            return param.index(value)
        if isinstance(param, Int):
            return int(value)
        if isinstance(param, Float):
            return float(value) if param.step is None else round((float(value) - param.low) / param.step)
    except (SpaceError, TypeError, ValueError, OverflowError):
        pass
    return repr(value)  # a value the space does not hold (an older definition): equal only to itself


def config_key(space: Space, params: Mapping[str, Any], names: Sequence[str] | None = None) -> Key:
    """The canonical key of a configuration: its values of ``names`` (the dimensions by default) it has."""
    names = space.dimensions if names is None else names
    return tuple((n, _canonical(space[n], params[n])) for n in names if n in params)


class Tried:
    """Every configuration of a history's own trials, by `config_key`: pending and failed trials included, a warm
    start's points (`is_warm_start`) and trials never evaluated (`is_interruption`: they are owed a rerun) left out.

    Every other trial counts, in every state, so the set depends on the trials alone, not on when it is
    read (a replay sees what a suggestion saw). A trial that lacks a parameter it would have had
    (define-by-run: it never asked for it) ran every value of it, as `Grid` counts it, unless it is older than
    the parameter's first definition (`first_asked`: its objective may not have asked for it yet); a failed one
    stands only for itself, since it may have stopped before it asked, and so does one that asked for
    no dimension (only constants). On a space with a continuous
    float always active (`can_repeat` is false: a define-by-run study learns its parameters without
    conditions), only trials that never asked for any such float are recorded, since only their
    configurations can come back; `active` is false until one is.

    Args:
        space: the space the keys are built in.
        history: the trials to record.
        cache: memoises each finished trial's key (finished trials are immutable).
        names: key on these dimensions only (a projection); a trial without all of them is not recorded.
    """

    def __init__(
        self,
        space: Space,
        history: Iterable[TrialRecord] = (),
        cache: EncodingCache | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        self.space = space
        self.names = list(space.dimensions if names is None else names)
        self.projected = names is not None
        self._continuous = _always_continuous(space, self.names)
        self._every = bool(self.names) and not self._continuous  # `can_repeat`: every trial is recorded
        self._cache = cache
        self._full: dict[Key, TrialRecord] = {}
        self._partial: dict[frozenset[str], dict[Key, TrialRecord]] = {}
        self._first: dict[str, int] = {}  # `first_asked` of the trials added
        if self._every or not self.projected:
            for record in history:
                self.add(record)

    @property
    def active(self) -> bool:
        """Whether a configuration can be found here: the space's configurations can repeat, a trial
        recorded lacks the continuous floats that make the others unique, or the space forbids some."""
        return self._every or bool(self._partial) or self._forbids

    @property
    def _forbids(self) -> bool:
        """Whether forbidden configurations are held here: the space has clauses, and keys are whole configurations
        (a projection's keys are parts, which a clause may not settle)."""
        return bool(self.space.forbidden) and not self.projected

    def copy(self) -> Tried:
        twin = Tried(self.space, cache=self._cache, names=self.names if self.projected else None)
        twin._full = dict(self._full)
        twin._partial = {names: dict(keys) for names, keys in self._partial.items()}
        twin._first = dict(self._first)
        return twin

    def _key(self, record: TrialRecord) -> Key:
        if self._cache is None or self.projected:
            return config_key(self.space, record.params, self.names)
        return self._cache.key(self.space, record, lambda: config_key(self.space, record.params, self.names))

    def add(self, record: TrialRecord) -> None:
        """Record ``record``'s configuration (the first trial of a configuration is the one `holder` names, the newest
        of one that lacks a parameter); a warm start's point is not a trial of the study, and one never evaluated
        (`is_interruption`) is owed a rerun: neither is recorded."""
        if is_warm_start(record):
            return
        for name in record.params:  # before any return: a trial that is not recorded still shows what was defined
            self._first[name] = min(self._first.get(name, record.number), record.number)
        if is_interruption(record):
            return
        if not self._every and (
            self.projected
            or not self.names
            or record.state is TrialState.FAILED  # stands only for itself, and a proposal has the floats it lacks
            or any(n in record.params for n in self._continuous)  # a continuous value never comes back
        ):
            return
        key = self._key(record)
        params = record.params
        if self.projected:
            if len(key) == len(self.names):
                self._full.setdefault(key, record)
            return
        lacks = any(n not in params and self.space.is_active(n, params) for n in self.names)
        # A trial that asked for no dimension at all (only constants: ``suggest_int('k', 1, 1)``) took no branch
        # on a value: it says nothing about the configurations of the trials that asked for one.
        if lacks and key and record.state is not TrialState.FAILED:
            # The newest: an older one may predate a parameter's first definition, which a later one does not.
            keys = self._partial.setdefault(frozenset(n for n, _ in key), {})
            if key not in keys or keys[key].number < record.number:
                keys[key] = record
        else:
            self._full.setdefault(key, record)

    def holder(self, config: Mapping[str, Any]) -> TrialRecord | None:
        """The trial that ran ``config`` (or one that never asked for the parameters it lacks, though they were
        defined before it ran), if any."""
        if not self.active:
            return None
        key = config_key(self.space, config, self.names)
        hit = self._full.get(key)
        if hit is not None or not self._partial:
            return hit
        given = {n for n, _ in key}
        for names, keys in self._partial.items():
            if names <= given:
                hit = keys.get(tuple(pair for pair in key if pair[0] in names))
                # A parameter no trial holds (its first holder invalidated) counts as defined from the start: else a
                # branch that never stores it would be proposed again for ever.
                if hit is not None and all(self._first.get(n, -1) < hit.number for n in given - names):
                    return hit
        return None

    def __contains__(self, config: object) -> bool:
        """Whether ``config`` must not be proposed: a trial ran it (`holder`), or the space forbids it."""
        if not isinstance(config, Mapping):
            return False
        if self._forbids and self.space.forbids(config) is not None:
            return True
        return self.holder(config) is not None


def configurations(space: Space) -> list[dict[str, Any]]:
    """Every configuration of a finite space, conditions respected (parents come before their children) and forbidden
    combinations left out (`Space.forbids`): what `untried` lists, and so how many configurations a finite space
    has. ``Space.cardinality()`` is only a bound, the product of the parameters' counts: a parameter that a condition
    switches off adds no configuration on that branch (``x`` only under ``opt="a"``, with two values each: 3
    configurations, where the product says 4). List only a space whose bound is finite and at most
    `ENUMERATION_LIMIT`."""
    configs = space.combinations(lambda _, param: every_value(param))
    if space.forbidden:
        return [config for config in configs if space.forbids(config) is None]
    return configs


def _best(space: Space, configs: list[dict[str, Any]], score: Score | None, rng: np.random.Generator) -> dict[str, Any]:
    """The configuration ``score`` ranks first (on the encoded points), or one at random without a score."""
    if len(configs) > _POOL:
        configs = [configs[int(i)] for i in rng.choice(len(configs), size=_POOL, replace=False)]
    if score is None:
        return configs[int(rng.integers(len(configs)))]
    x = np.vstack([space.encode(c) for c in configs])
    values = np.concatenate([score(x[i : i + _CHUNK]) for i in range(0, len(x), _CHUNK)])
    return configs[int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))]


def _all_tried(size: int, holders: Sequence[TrialRecord | None]) -> str:
    """That the ``size`` configurations of a space were all tried, counted as the trials ran them: a trial that
    never asked for a parameter (a branch not taken) is one configuration that the product of the values counts
    once for each value of the parameter."""
    ran = len({id(holder) for holder in holders})
    if ran == size:
        return f"all {size} configurations of the space have been tried (running trials included)"
    return (
        f"all {ran} configurations of the space have been tried (running trials included; a trial that never asked "
        f"for a parameter stands for every value of it, so the {size} combinations of the values count some of them "
        "more than once)"
    )


def untried(space: Space, tried: Tried, rng: np.random.Generator, score: Score | None = None) -> dict[str, Any] | None:
    """An untried configuration, for a sampler whose own candidates were all tried.

    A finite space of at most `ENUMERATION_LIMIT` configurations is listed, and the untried ones (a
    random subset when many are left) are ranked by ``score``, best first, else one is drawn at
    random. A larger space is sampled from its prior instead (`_DRAWS` candidates, from at most `_CANDIDATE_DRAWS`
    draws where forbidden clauses rule some out). ``score`` takes encoded points (``NaN`` for an inactive parameter)
    and returns one value per row.

    Returns:
        The configuration, or ``None`` on a large space whose draws were all tried (a repeat is then
        the sampler's own choice), or on a space whose configurations cannot repeat. On a space with
        forbidden clauses never ``None``: the sampler's own choice may be forbidden, so the draws, allowed
        ones (`Space.sample`), are ranked even when all were tried.

    Raises:
        SearchSpaceExhausted: every configuration of a finite space has been tried.
        SpaceError: every configuration of a finite space is forbidden (a space is refused so when it is built).
    """
    if not tried.active:
        return None
    bound = space.cardinality()
    if math.isfinite(bound) and bound <= ENUMERATION_LIMIT:
        every = configurations(space)
        if not every:
            clauses = ", ".join(str(clause) for clause in space.forbidden)
            raise SpaceError(
                f"a search needs a configuration the forbidden clauses allow, but every configuration of the space is "
                f"forbidden (by {clauses}): loosen or remove a clause"
            )
        holders = [tried.holder(c) for c in every]
        left = [c for c, holder in zip(every, holders, strict=True) if holder is None]
        if not left:
            left_out = " (the combinations its forbidden clauses rule out left out)" if space.forbidden else ""
            raise SearchSpaceExhausted(
                f"{_all_tried(len(every), holders)}{left_out}: there is nothing new to propose; widen a range or add "
                "options to search further"
            )
        return _best(space, left, score, rng)
    if space.forbidden and score is None:
        # Each draw is drawn again while forbidden (`Space.sample`): with nothing to rank them by, the first untried
        # one will do; with none untried, one of them, allowed, rather than the sampler's own, which may not be.
        drawn = []
        for _ in range(_DRAWS):
            drawn.append(space.sample(rng))
            if drawn[-1] not in tried:
                return drawn[-1]
        return _best(space, drawn, None, rng)
    drawn = space.samples(rng, _DRAWS, draws=_CANDIDATE_DRAWS)
    left = [c for c in drawn if c not in tried]
    if not left and space.forbidden:
        left = drawn
    return _best(space, left, score, rng) if left else None
