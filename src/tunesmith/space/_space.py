"""`Space`: an ordered, validated set of parameters; sampling, unit-cube encoding, grids, JSON."""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tunesmith.errors import SpaceError
from tunesmith.space._forbidden import Forbidden
from tunesmith.space._params import Choice, Fixed, Float, Param
from tunesmith.space._scalars import JsonScalar, normalise_when

__all__ = ["FORBIDDEN_DRAWS", "FORBIDDEN_KEY", "Space", "SpaceWarning"]

# The key of a space's JSON (and of a config file's [space] table) that lists its forbidden clauses, after the
# parameters. A parameter may still be named so in a space without clauses: its entry is a table, theirs a list.
FORBIDDEN_KEY = "forbidden"
# Draws from the priors before `Space.sample` gives up on finding an allowed configuration. With none of them
# allowed, the allowed share of the space is below 3 / FORBIDDEN_DRAWS (0.03%) at 95% confidence (the rule of
# three); a share of 0.1% fails this way once in 22,000 samples (0.999 ** 10,000 = e^-10).
FORBIDDEN_DRAWS = 10_000
# A grid with forbidden clauses is counted by listing it (what `Space.grid` keeps) when it has at most this many
# combinations; beyond, `grid_size` is the count of the combinations, an upper bound.
_COUNT_BY_LISTING = 100_000


class SpaceWarning(UserWarning):
    """A bound lies outside the range where the parameter is physically meaningful."""


_MEANINGFUL: list[tuple[re.Pattern[str], float, float, str]] = [
    (re.compile(r"dropout", re.I), 0.0, 1.0, "a dropout rate lies in [0, 1)"),
    (re.compile(r"(^|_)(lr|learning_rate)($|_)", re.I), 0.0, 10.0, "a learning rate above 10 diverges for any model"),
    (re.compile(r"momentum|beta", re.I), 0.0, 1.0, "a momentum or Adam beta lies in [0, 1)"),
]


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
    name one of them, every test able to hold). The clauses are a set: kept in one order, duplicates dropped.
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

    @classmethod
    def empty(cls) -> Space:
        """The space without parameters: a define-by-run study's before any trial asked for one.

        ``Space({})`` is refused (a space given up front needs a parameter); this one is only grown,
        with `extended`.
        """
        space = cls.__new__(cls)
        space._params = {}
        space._forbidden = ()
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
            clause.check(self._params)
            clauses.setdefault(json.dumps(clause.to_json(), sort_keys=True), clause)
        if clauses and FORBIDDEN_KEY in self._params:
            raise SpaceError(
                f"a parameter named {FORBIDDEN_KEY!r} cannot sit beside forbidden clauses, got both: the space's JSON "
                f"and a config file's [space] table list the clauses under that name; rename the parameter"
            )
        return tuple(clauses[key] for key in sorted(clauses))

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
        if not isinstance(param, Float):  # rates and probabilities are real-valued; lr_cycle_steps is not one
            return
        for pattern, low, high, why in _MEANINGFUL:
            if pattern.search(name) and (param.low < low or param.high > high):
                warnings.warn(
                    f"{name!r} spans [{param.low}, {param.high}], outside [{low}, {high}]: {why}; "
                    "narrow the bounds unless you mean it",
                    SpaceWarning,
                    stacklevel=4,
                )
                return

    # Mapping protocol -------------------------------------------------------------------
    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_json(), sort_keys=True))

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
            key = json.dumps(params[parent])
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

        Raises:
            SpaceError: `FORBIDDEN_DRAWS` draws in a row were all forbidden (the message counts them by clause).
        """
        config = self._draw(rng)
        if not self._forbidden:
            return config
        ruled_out: Counter[str] = Counter()  # each draw by the first clause that forbids it
        for draw in range(FORBIDDEN_DRAWS):
            if draw:
                config = self._draw(rng)
            clause = self.forbids(config)
            if clause is None:
                return config
            ruled_out[str(clause)] += 1
        by_clause = ", ".join(f"{clause} {count} times" for clause, count in ruled_out.most_common())
        raise SpaceError(
            f"a configuration the forbidden clauses allow must be found by drawing from the priors, but all "
            f"{FORBIDDEN_DRAWS} draws were forbidden ({by_clause}), so the allowed share of the space is below "
            f"{3 / FORBIDDEN_DRAWS:.2%} (95% upper bound): loosen or remove a clause, or narrow the parameters' ranges "
            "to the region the clauses allow"
        )

    def _draw(self, rng: np.random.Generator) -> dict[str, Any]:
        """One configuration from the priors, forbidden or not."""
        out: dict[str, Any] = {}
        for name, param in self._params.items():
            u = float(rng.random())  # drawn for every parameter so the stream does not depend on conditions
            if self.is_active(name, out):
                out[name] = param.decode(u)
        return out

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Map a configuration to the unit cube; inactive dimensions are ``NaN``."""
        dims = self.dimensions
        out = np.full(len(dims), np.nan)
        for i, name in enumerate(dims):
            if name in params and self.is_active(name, params):
                out[i] = self._params[name].encode(params[name])
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

    def grid(self, points: int = 5) -> list[dict[str, Any]]:
        """Every grid configuration, conditions respected (continuous floats get ``points`` values), forbidden
        combinations left out.

        Raises:
            SpaceError: every grid configuration is forbidden.
        """
        configs: list[dict[str, Any]] = [{}]
        for name, param in self._params.items():
            extended: list[dict[str, Any]] = []
            for config in configs:
                if self.is_active(name, config):
                    extended.extend({**config, name: v} for v in param.grid_values(points))
                else:
                    extended.append(config)
            configs = extended
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
            return cls(params, forbidden=clauses)
