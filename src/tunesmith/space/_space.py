"""`Space`: an ordered, validated set of parameters; sampling, unit-cube encoding, grids, JSON."""

from __future__ import annotations

import copy
import json
import math
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith._caller import outside_stacklevel
from tunesmith.errors import SpaceError
from tunesmith.space._forbidden import Forbidden
from tunesmith.space._names import kind_of, transformed
from tunesmith.space._params import Choice, Fixed, Float, Int, Param
from tunesmith.space._scalars import JsonScalar, normalise_when

__all__ = [
    "ENUMERATION_LIMIT", "FORBIDDEN_DRAWS", "FORBIDDEN_KEY", "SLOW_SHARE", "Space", "SpaceWarning", "every_value",
]  # fmt: skip

# The key of a space's JSON (and of a config file's [space] table) that lists its forbidden clauses, after the
# parameters. A parameter may still be named so in a space without clauses: its entry is a table, theirs a list.
FORBIDDEN_KEY = "forbidden"
# Draws from the priors a space with forbidden clauses makes when it is built (and is too large to list), to find
# a configuration they allow: with none of them allowed, the allowed share of the space is below 3 / FORBIDDEN_DRAWS
# (0.03%) at 95% confidence (the rule of three), and the space is refused. A space is tested once, when built, so
# the bound is one test, not one per sample: a space built never gives up on its share alone.
FORBIDDEN_DRAWS = 10_000
# A finite space (or the part of it the clauses read) with at most this many configurations is listed rather than
# drawn from, to tell exactly whether its clauses allow one (`tunesmith.samplers._tried` lists as many).
ENUMERATION_LIMIT = 20_000
# Below this allowed share (the 95% upper bound, over the draws a space has made) every allowed configuration costs
# more than 50 draws from the priors, and a sampler that draws hundreds of candidates a trial slows down: warned once.
SLOW_SHARE = 0.02
# One `Space.samples` call gives up after this many draws without an allowed one, though the space was built with one
# (a share below 1e-5 that its draws when built hit by luck): it says the share measured.
_DRAW_LIMIT = 1_000_000
# A grid with forbidden clauses is counted by listing it (what `Space.grid` keeps) when it has at most this many
# combinations; beyond, `grid_size` is the count of the combinations, an upper bound.
_COUNT_BY_LISTING = 100_000


class SpaceWarning(UserWarning):
    """Something about a space that costs a search and that a change of the space fixes: a bound outside the range
    where the parameter is physically meaningful, a forbidden clause that never holds, or clauses that rule out so
    much of the space that drawing an allowed configuration is slow."""


def every_value(param: Param) -> Sequence[Any]:
    """Every value of a finite parameter, as its own decoding gives them."""
    if isinstance(param, Int) and param.values() is None:  # a log-scaled integer: every integer is reachable
        return range(param.low, param.high + 1)
    return param.grid_values(points=max(1, math.ceil(param.cardinality())))


def _share_interval(allowed: int, draws: int) -> tuple[float, float]:
    """The 95% interval of a share from ``allowed`` of ``draws`` (Wilson's score interval)."""
    z = 1.959964
    centre = (allowed + z * z / 2) / (draws + z * z)
    half = z * math.sqrt(allowed * (draws - allowed) / draws + z * z / 4) / (draws + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


# Guards every `_Tally`: one lock for all, so that a space stays picklable and copyable (a lock is neither).
_TALLY_LOCK = threading.Lock()


@dataclass
class _Tally:
    """The draws from the priors one space object made (when built, and in every `Space.samples` call) and how many
    its clauses allowed: the share they leave, read over all of them, and the seconds spent drawing."""

    draws: int = 0
    allowed: int = 0
    seconds: float = 0.0
    warned: bool = False
    known: bool = False  # the space was checked to allow a configuration when it was built

    def add(self, draws: int, allowed: int, seconds: float) -> None:
        with _TALLY_LOCK:
            self.draws += draws
            self.allowed += allowed
            self.seconds += seconds

    def share(self) -> str:
        """The allowed share with its 95% interval and the draws it is read over, in words."""
        low, high = _share_interval(self.allowed, self.draws)
        return f"{self.allowed / self.draws:.2%} (95% interval {low:.2%} to {high:.2%}, over {self.draws:,} draws)"


@dataclass(frozen=True)
class _Search:
    """A look for an allowed configuration: the one found (``None``: none), how many configurations were looked at,
    whether they were all there are (listed) rather than drawn, the names listed, and each forbidden one's clause."""

    found: dict[str, Any] | None
    looked: int
    listed: bool
    names: tuple[str, ...]
    ruled_out: Counter[str]

    def why_none(self, ones: str) -> str:
        """Why no ``ones`` (``configuration of the space``, ``completion of a='x'``) is allowed: every combination
        listed forbidden, or every draw, with the bound on the allowed share."""
        by_clause = ", ".join(f"{clause} {count} times" for clause, count in self.ruled_out.most_common())
        if self.listed:
            return (
                f"all {self.looked} combinations of the values of {', '.join(self.names)} that the clauses read are "
                f"forbidden ({by_clause}), so no {ones} is allowed"
            )
        return (
            f"none of {self.looked:,} draws from the priors (each a {ones}) is allowed ({by_clause}), so the allowed "
            f"share is below {3 / self.looked:.2%} (95% upper bound)"
        )


# The spaces (by their JSON) known to allow a configuration: a space built again is not searched again. A cache, not
# a registry: cleared when full.
_ALLOWING: dict[str, None] = {}
# Set while a study's stored space is read (`Space.from_json(stored=True)`): it was checked when the study was
# created, or an older version stored it unchecked, and reading it must not fail (a study with no trial takes a
# fixed space on reopening); its first draws tell, as `Space.samples` says.
_READING_STORED: ContextVar[bool] = ContextVar("tunesmith_reading_stored_space", default=False)


# The bounds that make physical sense for a parameter of each kind its name is spelt as (`kind_of`), the types read
# (counts such as a batch size may be drawn as floats), and why: a space reaching past them draws a `SpaceWarning`.
_MEANINGFUL: dict[str, tuple[float, float, tuple[type[Param], ...], str]] = {
    "learning_rate": (0.0, 10.0, (Float,), "a learning rate is positive, and above 10 diverges for any model"),
    "dropout": (0.0, 1.0, (Float,), "a dropout rate lies in [0, 1)"),
    "momentum": (0.0, 1.0, (Float,), "a momentum lies in [0, 1)"),
    "adam_beta1": (0.0, 1.0, (Float,), "an Adam beta lies in [0, 1)"),
    "adam_beta2": (0.0, 1.0, (Float,), "an Adam beta lies in [0, 1)"),
    "adam_eps": (0.0, math.inf, (Float,), "an epsilon (Adam's, a tolerance) is never negative"),
    "weight_decay": (0.0, math.inf, (Float, Int), "an L2 strength is never negative: below 0 it rewards large weights"),
    "batch_size": (1.0, math.inf, (Float, Int), "a batch holds at least one example"),
    "depth": (0.0, math.inf, (Float, Int), "a network's depth is never negative"),
}


def _value_order(parent: Param) -> Sequence[JsonScalar] | None:
    """A condition parent's values in its own order (a `Choice`'s options); ``None`` for an `Int`'s, sorted."""
    if isinstance(parent, Choice):
        return parent.options
    if isinstance(parent, Fixed):
        return (parent.value,)
    return None


class Space(Mapping[str, Param]):
    """An ordered, validated set of named parameters with conditions.

    Construction validates everything before any compute is spent: names, bounds, and that
    each condition names an existing discrete parent with a value that parent can take.
    Parameters are kept in an order where every parent precedes its children.

    ``forbidden`` lists the combinations of values that must never run (`Forbidden`): `sample`, `grid` and every
    sampler leave them out, and `validate` refuses them. Each clause is checked against the parameters here (every
    name one of them, every test able to hold; a clause that provably never holds draws a `SpaceWarning`), and so is
    the space: some configuration must be allowed, found exactly by listing the values the clauses read when they are
    at most `ENUMERATION_LIMIT` combinations, else among `FORBIDDEN_DRAWS` draws from the priors. The clauses are a
    set: kept in one order, duplicates dropped.
    """

    def __init__(self, params: Mapping[str, Param], forbidden: Iterable[Forbidden] = ()) -> None:
        if not isinstance(params, Mapping):
            raise SpaceError(f"a Space takes a mapping of name to parameter, got {type(params).__name__}")
        if not params:
            raise SpaceError(
                "a Space needs at least one parameter, got none: add e.g. {'lr': Float(1e-5, 1e-1, log=True)}"
            )
        for name, param in params.items():
            if not isinstance(name, str) or not name:
                raise SpaceError(f"parameter names must be non-empty strings, got {name!r}")
            if not isinstance(param, Param):
                raise SpaceError(
                    f"parameter {name!r} must be a Float, Int, Choice or Fixed, got {param!r}: "
                    f"wrap constants as Fixed({param!r})"
                )
        self._params: dict[str, Param] = {
            n: self._in_parents_order(params[n], params) for n in self._topological_order(params)
        }
        for name, param in self._params.items():
            self._check_meaningful(name, param)
        self._forbidden: tuple[Forbidden, ...] = self._checked_clauses(forbidden)
        self._warn_never_holding()
        self._tally = _Tally()
        if self._forbidden and not _READING_STORED.get():
            self._check_allows_some()
        elif self._forbidden:  # read from storage: known to allow one if this process built it (the study's creator)
            self._tally.known = json.dumps(self.to_json(), sort_keys=True) in _ALLOWING

    @classmethod
    def empty(cls) -> Space:
        """The space without parameters: a define-by-run study's before any trial asked for one.

        ``Space({})`` is refused (a space given up front needs a parameter); this one is only grown,
        with `extended`.
        """
        space = cls.__new__(cls)
        space._params = {}
        space._forbidden = ()
        space._tally = _Tally()
        return space

    def extended(self, params: Mapping[str, Param]) -> Space:
        """This space with ``params`` added after its own (names it has already are refused).

        No `SpaceWarning`: a parameter asked for by name is warned about when a trial first draws it.
        """
        clash = sorted(set(params) & set(self._params))
        if clash:
            raise SpaceError(f"parameters {clash} are already in the space: extend it with new names only")
        if not params:
            return self
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpaceWarning)
            return Space({**self._params, **params}, forbidden=self._forbidden)

    def _checked_clauses(self, forbidden: Iterable[Forbidden]) -> tuple[Forbidden, ...]:
        """``forbidden`` checked against the parameters, in one order (by their JSON), each once."""
        if isinstance(forbidden, Forbidden | str | Mapping) or not isinstance(forbidden, Iterable):
            raise SpaceError(
                f"forbidden must be a list of Forbidden clauses, got forbidden={forbidden!r}: pass e.g. "
                "forbidden=[Forbidden({'kernel': 'linear', 'degree': Above(1)})]"
            )
        clauses: dict[str, Forbidden] = {}
        for clause in forbidden:
            if not isinstance(clause, Forbidden):
                raise SpaceError(
                    f"each forbidden clause must be a Forbidden, got {clause!r}: wrap it, Forbidden({clause!r})"
                )
            clause.check(self._params, probe=not _READING_STORED.get())
            clauses.setdefault(clause.form, clause)
        if clauses and FORBIDDEN_KEY in self._params:
            raise SpaceError(
                f"a parameter named {FORBIDDEN_KEY!r} cannot sit beside forbidden clauses, got both: the space's JSON "
                f"and a config file's [space] table list the clauses under that name; rename the parameter"
            )
        return tuple(sorted(clauses.values(), key=lambda clause: json.dumps(clause.to_json(), sort_keys=True)))

    def _warn_never_holding(self) -> None:
        """Say (a `SpaceWarning`) which clauses provably never hold (`Forbidden.never_holds`): they forbid nothing."""
        for clause in self._forbidden:
            never = clause.never_holds(self._params)
            if never is not None:
                warnings.warn(
                    f"forbidden clause {clause} never holds ({never}), so it forbids nothing: fix it (a typo?), or "
                    "drop it",
                    SpaceWarning,
                    stacklevel=outside_stacklevel(),
                )

    def _check_allows_some(self) -> None:
        """Refuse a space whose clauses forbid every configuration (`_search_allowed`), before a study stores it."""
        key = json.dumps(self.to_json(), sort_keys=True)
        if key in _ALLOWING:
            self._tally.known = True
            return
        search = self._search_allowed({}, np.random.default_rng(0))
        if search.found is None:
            why = search.why_none("configuration of the space")
            raise SpaceError(
                f"a space's forbidden clauses must allow some configuration, but {why}: loosen or remove a clause, or "
                "narrow the parameters' ranges to the region the clauses allow"
            )
        self._tally.known = True
        if len(_ALLOWING) >= 1024:
            _ALLOWING.clear()
        _ALLOWING[key] = None

    def _read_by_clauses(self) -> list[str]:
        """The parameters whether a configuration is forbidden depends on: those the clauses name, and the parents
        their conditions read (which switch them on), in the space's order."""
        wanted: set[str] = set()
        pending = [name for clause in self._forbidden for name in clause.names]
        while pending:
            name = pending.pop()
            if name not in wanted:
                wanted.add(name)
                pending.extend(self._params[name].conditions)
        return [name for name in self._params if name in wanted]

    def _listing(self, given: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]] | None:
        """Every combination of the values of the parameters the clauses read (`_read_by_clauses`) that takes
        ``given``'s values, conditions respected, and the names listed; ``None`` when they are more than
        `ENUMERATION_LIMIT` (or continuous)."""
        read = self._read_by_clauses()
        listed = [name for name in read if name not in given]
        bound = math.prod(self._params[name].cardinality() for name in listed)
        if not math.isfinite(bound) or bound > ENUMERATION_LIMIT:
            return None
        configs = self.combinations(lambda name, param: [given[name]] if name in given else every_value(param), read)
        return listed, configs

    def _search_allowed(self, given: Mapping[str, Any], rng: np.random.Generator) -> _Search:
        """Look for an allowed configuration that takes ``given``'s values: exactly, by listing the values the clauses
        read (`_listing`), else among `FORBIDDEN_DRAWS` draws of the rest from the priors (counted as the space's
        draws when nothing is given). The configuration found is the listed values only, when listed."""
        ruled_out: Counter[str] = Counter()
        listing = self._listing(given)
        if listing is not None:
            names, configs = listing
            for looked, config in enumerate(configs, start=1):
                clause = self.forbids(config)
                if clause is None:
                    return _Search(config, looked, True, tuple(names), ruled_out)
                ruled_out[str(clause)] += 1
            return _Search(None, len(configs), True, tuple(names), ruled_out)
        start = time.perf_counter()
        found: dict[str, Any] | None = None
        looked = 0
        while found is None and looked < FORBIDDEN_DRAWS:
            config = self._draw(rng, given)
            looked += 1
            clause = self.forbids(config)
            if clause is None:
                found = config
            else:
                ruled_out[str(clause)] += 1
        if not given:
            self._tally.add(looked, int(found is not None), time.perf_counter() - start)
        return _Search(found, looked, False, (), ruled_out)

    def allowed_completion(self, given: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any] | None:
        """A configuration the clauses allow that takes ``given``'s values (active ones, as `validate` reads them),
        the rest drawn from their priors; ``None`` when there is none (every completion forbidden), or when none of
        `FORBIDDEN_DRAWS` draws is allowed and the values the clauses read are too many to list."""
        for _ in range(FORBIDDEN_DRAWS):
            config = self._draw(rng, given)
            if self.forbids(config) is None:
                return config
        listing = self._listing(given)
        if listing is None:
            return None
        allowed = [config for config in listing[1] if self.forbids(config) is None]
        if not allowed:
            return None
        return self._draw(rng, {**given, **allowed[int(rng.integers(len(allowed)))]})

    def why_incomplete(self, given: Mapping[str, Any]) -> str | None:
        """Why no configuration the clauses allow takes ``given``'s values (a partial configuration: `Study.enqueue`),
        or ``None`` when one does: exactly when the values the clauses read can be listed, else by draws, with the
        bound on the allowed share of the completions."""
        if not self._forbidden:
            return None
        clause = self.forbids(given)
        if clause is not None:
            return f"clause {clause} forbids {', '.join(f'{n}={given[n]!r}' for n in clause.names)}"
        shown = ", ".join(f"{name}={value!r}" for name, value in given.items()) or "nothing"
        search = self._search_allowed(given, np.random.default_rng(0))
        return None if search.found is not None else search.why_none(f"completion of {shown}")

    @staticmethod
    def _topological_order(params: Mapping[str, Param]) -> list[str]:
        for name, param in params.items():
            for parent, allowed in param.conditions.items():
                if parent == name:
                    raise SpaceError(f"parameter {name!r} cannot be conditioned on itself")
                if parent not in params:
                    raise SpaceError(
                        f"parameter {name!r} is conditioned on {parent!r}, which is not in the space: "
                        f"add {parent!r} or fix the name (known: {sorted(params)})"
                    )
                parent_param = params[parent]
                if isinstance(parent_param, Float):
                    raise SpaceError(
                        f"parameter {name!r} is conditioned on the float {parent!r}: conditions need a "
                        "discrete parent (Choice, Int or Fixed)"
                    )
                for value in allowed:
                    if not parent_param.contains(value):
                        raise SpaceError(
                            f"condition of {name!r} expects {parent}={value!r}, which {parent!r} can never take: "
                            f"use one of {parent_param.grid_values(20)[:10]}"
                        )
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise SpaceError(f"conditions form a cycle: {' -> '.join((*path, name))}: break the cycle")
            state[name] = 1
            for parent in params[name].conditions:
                visit(parent, (*path, name))
            state[name] = 2
            order.append(name)

        for name in params:
            visit(name, ())
        return order

    @staticmethod
    def _in_parents_order(param: Param, params: Mapping[str, Param]) -> Param:
        """``param`` with its condition's values in its parents' order: a condition is a set of values, so
        ``["sgd", "rms"]`` and ``["rms", "sgd"]`` make one space, stored alike and reopened alike."""
        if not param.when:
            return param
        orders = {parent: _value_order(params[parent]) for parent in param.conditions}
        ordered = normalise_when(param.when, orders)
        if json.dumps(ordered) == json.dumps(param.conditions):  # JSON tells 1 from true, as conditions do
            return param
        # A copy, not a new construction: the parameter was checked as given (a Choice read from a stored spec
        # under the rules it was stored by), and only the order of its condition's values changes.
        reordered = copy.copy(param)
        object.__setattr__(reordered, "when", {parent: list(values) for parent, values in ordered.items()})
        return reordered

    @staticmethod
    def _check_meaningful(name: str, param: Param) -> None:
        # log_lr over [-6, -1] is an exponent: a learning rate's bounds say nothing of it
        meaningful = None if transformed(name) else _MEANINGFUL.get(kind_of(name) or "")
        if meaningful is None:
            return
        low, high, types, why = meaningful
        # A rate drawn as an Int (an exponent, say) is another thing.
        if not isinstance(param, Float | Int) or not isinstance(param, types):
            return
        if param.low >= low and param.high <= high:
            return
        bounds = f"reaching below {low:g}" if math.isinf(high) else f"outside [{low:g}, {high:g}]"
        warnings.warn(
            f"{name!r} spans [{param.low}, {param.high}], {bounds}: {why}; narrow the bounds unless you mean it",
            SpaceWarning,
            stacklevel=outside_stacklevel(),
        )

    # Mapping protocol -------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        """The same parameters, and the same forbidden clauses however their expressions are spaced
        (`Forbidden.form`)."""
        return isinstance(other, Space) and self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def _compared(self) -> tuple[str, tuple[str, ...]]:
        """The parameters' JSON in any order (a study stored by name order opens with its space in another), and
        the clauses' forms."""
        params = json.dumps({name: param.to_json() for name, param in self._params.items()}, sort_keys=True)
        return params, tuple(sorted({clause.form for clause in self._forbidden}))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {p!r}" for n, p in self._params.items())
        clauses = f", forbidden={list(self._forbidden)!r}" if self._forbidden else ""
        return f"Space({{{inner}}}{clauses})"

    # Structure ---------------------------------------------------------------------------
    @property
    def dimensions(self) -> list[str]:
        """Names of the parameters that vary, in encoding order."""
        return [n for n, p in self._params.items() if p.is_dimension]

    @property
    def is_conditional(self) -> bool:
        return any(p.conditions for p in self._params.values())

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` is switched on by the values of its parents in ``params``."""
        for parent, allowed in self._params[name].conditions.items():
            if parent not in params or not self.is_active(parent, params):
                return False
            value = params[parent]  # a NumPy scalar read as its Python value, as `contains` reads it
            key = json.dumps(value.item() if isinstance(value, np.generic) else value)
            if not any(json.dumps(v) == key for v in allowed):
                return False
        return True

    @property
    def forbidden(self) -> tuple[Forbidden, ...]:
        """The combinations that must never run (`Forbidden`), in the space's order."""
        return self._forbidden

    def forbids(self, params: Mapping[str, Any]) -> Forbidden | None:
        """The first clause that forbids configuration ``params``, or ``None`` when it may run.

        A clause holds only when every parameter it names is in ``params``: a partial configuration is forbidden
        only by the clauses its values already settle.
        """
        for clause in self._forbidden:
            if clause.holds(params):
                return clause
        return None

    def cardinality(self) -> float:
        """Number of distinct configurations (``math.inf`` when a float is continuous): the product of the
        parameters' counts, an upper bound when conditions or forbidden clauses leave some combinations out."""
        total = 1.0
        for param in self._params.values():
            total *= param.cardinality()
        return total

    # Sampling and encoding -----------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one configuration from the priors; inactive parameters are left out.

        With forbidden clauses, draws until one is allowed: the priors restricted to the allowed configurations.
        Every draw is counted on the space (`samples`).
        """
        return self.samples(rng, 1)[0]

    def samples(self, rng: np.random.Generator, count: int, *, draws: int | None = None) -> list[dict[str, Any]]:
        """``count`` configurations drawn from the priors, those the clauses forbid drawn again.

        With ``draws``, at most that many draws are made once one allowed configuration is found, so fewer than
        ``count`` may come back where the clauses rule out much of the space: a sampler that ranks candidates gets
        fewer of them, rather than a cost that grows as the allowed share shrinks. Every draw is counted on the space,
        so the allowed share is read over all of them; below `SLOW_SHARE` (its 95% upper bound) a `SpaceWarning` says
        so, once per space object, with the cost and the fix. A space is built only if it allows a configuration
        (`FORBIDDEN_DRAWS`), so this never gives up on the share alone; one read from a study's storage unchecked
        gives up only while none of its draws so far, `FORBIDDEN_DRAWS` at least, was allowed: the bound then holds
        for all of them, a test made once, not once per call.

        Raises:
            SpaceError: no draw on an unchecked space was ever allowed (the 95% upper bound on its allowed share), or
                one call made `_DRAW_LIMIT` draws without an allowed one (a share below 1e-5, which the draws made when
                the space was built hit by luck): saying the share measured.
        """
        if not self._forbidden:
            return [self._draw(rng) for _ in range(count)]
        limit = math.inf if draws is None else max(count, draws)
        found: list[dict[str, Any]] = []
        ruled_out: Counter[str] = Counter()  # each draw before the first allowed one, by the clause that forbids it
        made = 0
        start = time.perf_counter()
        while len(found) < count and (made < limit or not found):
            config = self._draw(rng)
            made += 1
            clause = self.forbids(config)
            if clause is None:
                found.append(config)
                continue
            if found:
                continue
            ruled_out[str(clause)] += 1
            tally = self._tally
            if not tally.known and not tally.allowed and tally.draws + made >= FORBIDDEN_DRAWS:
                tally.add(made, 0, time.perf_counter() - start)
                search = _Search(None, tally.draws, False, (), ruled_out)
                raise SpaceError(
                    f"a draw from the priors must find a configuration the forbidden clauses allow, but "
                    f"{search.why_none('configuration of the space')}: loosen or remove a clause, or narrow the "
                    "parameters' ranges to the region the clauses allow"
                )
            if made >= _DRAW_LIMIT:
                self._tally.add(made, 0, time.perf_counter() - start)
                raise SpaceError(
                    f"a draw from the priors must find a configuration the forbidden clauses allow, but {made:,} "
                    f"draws in a row were all forbidden, and the clauses allow {self._tally.share()} of the draws "
                    "made on this space: loosen or remove a clause, or narrow the parameters' ranges to the region the "
                    "clauses allow"
                )
        self._tally.add(made, len(found), time.perf_counter() - start)
        self._warn_if_slow()
        return found

    def _warn_if_slow(self) -> None:
        """Say once (a `SpaceWarning`) that the clauses leave so little of the space that drawing is slow: the 95%
        upper bound of the allowed share, read over every draw made, below `SLOW_SHARE`."""
        tally = self._tally
        if tally.warned or not tally.draws or _share_interval(tally.allowed, tally.draws)[1] >= SLOW_SHARE:
            return
        with _TALLY_LOCK:
            if tally.warned:
                return
            tally.warned = True
        per_config = tally.draws / max(tally.allowed, 1)
        milliseconds = 1000 * tally.seconds / max(tally.allowed, 1)
        warnings.warn(
            f"the forbidden clauses allow {tally.share()} of the space, below {SLOW_SHARE:.0%}: each allowed "
            f"configuration costs about {per_config:,.0f} draws from the priors ({milliseconds:.1f} ms here), and a "
            "model sampler (TPE, the GP, CMA-ES) draws hundreds of candidates a trial; narrow the parameters' ranges "
            "so that the clauses cut less, or state the constraint as a condition (when=) or a reparametrisation (e.g. "
            "a total and a fraction of it rather than two parts whose sum is bounded)",
            SpaceWarning,
            stacklevel=outside_stacklevel(),
        )

    def _draw(self, rng: np.random.Generator, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One configuration from the priors, forbidden or not; ``given``'s values taken where they are active."""
        out: dict[str, Any] = {}
        for name, param in self._params.items():
            u = float(rng.random())  # drawn for every parameter so the stream does not depend on conditions
            if self.is_active(name, out):
                out[name] = given[name] if given is not None and name in given else param.decode(u)
        return out

    def encode(self, params: Mapping[str, Any], *, recorded: bool = False) -> np.ndarray:
        """Map a configuration to the unit cube; inactive dimensions are ``NaN``.

        ``recorded``: ``params`` are a trial's as stored, which may hold a value the parameter cannot encode (an
        enqueued option a define-by-run objective then asked for with other choices, text where it asked for an
        integer: that trial failed, naming both); such a dimension reads ``NaN``, as an inactive one does, instead
        of raising: the samplers read every trial of the history, and the next ask of every model sampler raised, on
        every resume of the study. A number outside the range encodes at the bound, as it always did."""
        dims = self.dimensions
        out = np.full(len(dims), np.nan)
        for i, name in enumerate(dims):
            if name in params and self.is_active(name, params):
                try:
                    out[i] = self._params[name].encode(params[name])
                except (SpaceError, TypeError, ValueError, OverflowError):
                    if not recorded:
                        raise
        return out

    def decode(self, u: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """Map a point of the unit cube to a configuration (``NaN`` coordinates are read as 0.5)."""
        arr = np.asarray(u, dtype=float)
        dims = self.dimensions
        if arr.shape != (len(dims),):
            raise SpaceError(f"a point must have {len(dims)} coordinates, got shape {arr.shape}")
        coords = dict(zip(dims, arr, strict=True))
        out: dict[str, Any] = {}
        for name, param in self._params.items():
            if self.is_active(name, out):
                value = coords.get(name, 0.5)
                out[name] = param.decode(0.5 if np.isnan(value) else value)
        return out

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check a user-given configuration: every active parameter present and valid, no strays."""
        unknown = sorted(set(params) - set(self._params))
        if unknown:
            raise SpaceError(f"unknown parameters {unknown}: the space has {list(self._params)}")
        out: dict[str, Any] = {}
        for name, param in self._params.items():
            if not self.is_active(name, out):
                continue
            if name not in params:
                if isinstance(param, Fixed):
                    out[name] = param.value
                    continue
                raise SpaceError(f"parameter {name!r} is active but missing from {dict(params)!r}: give it a value")
            if not param.contains(params[name]):
                raise SpaceError(f"{name}={params[name]!r} is outside its range {param.to_json()}: pick a valid value")
            out[name] = params[name]
        clause = self.forbids(out)
        if clause is not None:
            shown = ", ".join(f"{n}={out[n]!r}" for n in clause.names)
            raise SpaceError(
                f"a configuration must not be a forbidden combination, got {shown}, which clause {clause} forbids: "
                f"change {' or '.join(clause.names)}"
            )
        return out

    def combinations(
        self, values_of: Callable[[str, Param], Iterable[Any]], names: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every combination of the values ``values_of(name, param)`` gives each parameter of ``names`` (default every
        parameter; in the space's order, parents before their children), conditions respected: on a branch where a
        parameter's conditions switch it off, it adds no value and no combination. Forbidden clauses are not read."""
        configs: list[dict[str, Any]] = [{}]
        for name in self._params if names is None else names:
            values = list(values_of(name, self._params[name]))
            grown: list[dict[str, Any]] = []
            for config in configs:
                if self.is_active(name, config):
                    grown.extend({**config, name: value} for value in values)
                else:
                    grown.append(config)
            configs = grown
        return configs

    def grid(self, points: int = 5) -> list[dict[str, Any]]:
        """Every grid configuration, conditions respected (continuous floats get ``points`` values), forbidden
        combinations left out.

        Raises:
            SpaceError: every grid configuration is forbidden.
        """
        configs = self.combinations(lambda _, param: param.grid_values(points))
        unique: dict[str, dict[str, Any]] = {}
        for config in configs:
            unique.setdefault(json.dumps(config, sort_keys=True), config)
        if not self._forbidden:
            return list(unique.values())
        allowed = [config for config in unique.values() if self.forbids(config) is None]
        if not allowed:
            clauses = ", ".join(str(clause) for clause in self._forbidden)
            raise SpaceError(
                f"a grid needs a configuration the forbidden clauses allow, but all {len(unique)} grid configurations "
                f"are forbidden (by {clauses}): loosen or remove a clause, or give continuous ranges more grid points "
                f"than points={points}"
            )
        return allowed

    def grid_size(self, points: int = 5) -> int:
        """How many configurations `grid` would return, counted branch by branch without listing them.

        Each value of a condition's parent opens a branch, which holds the product of the value counts of the
        parameters active in it: a 6-option choice switching on two 10-value parameters per option has 600
        configurations, not the 6 * 10**12 of every parameter's values at once. With forbidden clauses a grid of at
        most 100,000 combinations is listed and its allowed configurations counted; a larger one is counted as
        combinations, an upper bound (a grid sampler refuses it before listing it anyway).

        Raises:
            SpaceError: every grid configuration is forbidden (`grid`).
        """
        combinations = self._grid_combinations(points)
        if self._forbidden and combinations <= _COUNT_BY_LISTING:
            return len(self.grid(points))
        return combinations

    def _grid_combinations(self, points: int) -> int:
        """`grid_size` before forbidden combinations are left out."""
        last_read: dict[str, int] = {}  # parent -> position of the last parameter whose condition reads it
        for position, param in enumerate(self._params.values()):
            for parent in param.conditions:
                last_read[parent] = position
        # A branch: the values (as JSON, as `is_active` compares them) of the active parents that a later
        # condition still reads, and how many configurations share them.
        branches: dict[tuple[tuple[str, str], ...], int] = {(): 1}
        for position, (name, param) in enumerate(self._params.items()):
            values = [json.dumps(v) for v in param.grid_values(points)]
            allowed = {parent: {json.dumps(v) for v in vs} for parent, vs in param.conditions.items()}
            grown: dict[tuple[tuple[str, str], ...], int] = {}
            for branch, count in branches.items():
                taken = dict(branch)  # only active parents are in it, so one present was switched on
                if not all(taken.get(parent) in keys for parent, keys in allowed.items()):
                    grown[branch] = grown.get(branch, 0) + count
                elif name in last_read:
                    for value in values:
                        grown[(*branch, (name, value))] = grown.get((*branch, (name, value)), 0) + count
                else:
                    grown[branch] = grown.get(branch, 0) + count * len(values)
            branches = {}
            for branch, count in grown.items():  # a parent no later condition reads splits nothing more
                kept = tuple((parent, value) for parent, value in branch if last_read[parent] > position)
                branches[kept] = branches.get(kept, 0) + count
        return sum(branches.values())

    # JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description; ``Space.from_json(space.to_json()) == space``. Forbidden clauses are
        listed under `FORBIDDEN_KEY` after the parameters (only when there are some: a space without them is written
        as before)."""
        data: dict[str, Any] = {name: param.to_json() for name, param in self._params.items()}
        if self._forbidden:
            data[FORBIDDEN_KEY] = [clause.to_json() for clause in self._forbidden]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, stored: bool = False) -> Space:
        """The space ``data`` describes (`to_json`'s form, or a config file's); ``stored``: read from a study's
        stored spec (see `Param.from_json`)."""
        if not isinstance(data, Mapping):
            raise SpaceError(f"a space must be a table of parameters, got {data!r}")
        listed = data.get(FORBIDDEN_KEY)
        clauses: list[Forbidden] = []
        if FORBIDDEN_KEY in data and not isinstance(listed, Mapping):  # a table is a parameter of that name
            if not isinstance(listed, list | tuple):
                raise SpaceError(
                    f"{FORBIDDEN_KEY} must be a list of clauses, got {FORBIDDEN_KEY}={listed!r}: write e.g. "
                    f'{FORBIDDEN_KEY} = [{{kernel = "linear", degree = {{above = 1}}}}, "batch * accum > 4096"]'
                )
            for i, entry in enumerate(listed):
                try:
                    clauses.append(Forbidden.from_json(entry))
                except SpaceError as exc:
                    raise SpaceError(f"{FORBIDDEN_KEY}[{i}]: {exc}") from None
            data = {name: spec for name, spec in data.items() if name != FORBIDDEN_KEY}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpaceWarning)
            params: dict[str, Param] = {}
            for name, spec in data.items():
                try:
                    params[name] = Param.from_json(spec, stored=stored)
                except SpaceError as exc:
                    raise SpaceError(f"parameter {name!r}: {exc}") from None
            reading = _READING_STORED.set(stored)
            try:
                space = cls(params, forbidden=clauses)
            finally:
                _READING_STORED.reset(reading)
        if not stored:  # a config file's: a clause that never holds is a mistake to fix there (a stored one was said)
            space._warn_never_holding()
            for name in space:  # and so are bounds past what the parameter's name can mean, as in Python
                Space._check_meaningful(name, space[name])
        return space

