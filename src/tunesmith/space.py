"""Search spaces: parameters with priors, conditions, and the unit-cube encoding samplers work in.

Every parameter that can vary is one dimension of the unit cube ``[0, 1]^d``. Floats map
linearly or logarithmically; integers and choices map to equal-width bins, so a sampler that
proposes any point of the cube always decodes to a valid value. A parameter switched off by
its condition encodes as ``NaN``.

Example:
    >>> space = Space({
    ...     "lr": Float(1e-5, 1e-1, log=True),
    ...     "batch_size": Int(32, 4096, base=2),
    ...     "optimizer": Choice(["adam", "sgd"]),
    ...     "momentum": Float(0.8, 0.99, when={"optimizer": "sgd"}),
    ... })
"""

from __future__ import annotations

import json
import math
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.errors import SpaceError

JsonScalar = str | int | float | bool | None

__all__ = ["Choice", "Fixed", "Float", "Int", "Param", "Space", "SpaceWarning"]


class SpaceWarning(UserWarning):
    """A bound lies outside the range where the parameter is physically meaningful."""


def _is_json_scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _normalise_when(when: Mapping[str, Any] | None) -> dict[str, tuple[JsonScalar, ...]]:
    if when is None:
        return {}
    if not isinstance(when, Mapping):
        raise SpaceError(
            f'when must be a mapping of parent name to value, got when={when!r}: use when={{"optimizer": "sgd"}}'
        )
    out: dict[str, tuple[JsonScalar, ...]] = {}
    for parent, allowed in when.items():
        values = tuple(allowed) if isinstance(allowed, list | tuple | set | frozenset) else (allowed,)
        if not values or not all(_is_json_scalar(v) for v in values):
            raise SpaceError(
                f"when[{parent!r}] must be a value or a non-empty list of JSON scalars, got {allowed!r}: "
                f'use when={{"{parent}": "sgd"}} or when={{"{parent}": ["sgd", "rmsprop"]}}'
            )
        out[str(parent)] = values
    return out


@dataclass(frozen=True, eq=False)
class Param(ABC):
    """One hyperparameter: its prior, its encoding to ``[0, 1]`` and its JSON form.

    Subclasses implement `encode`, `decode`, `contains`, `grid_values`, `cardinality` and
    `_json_fields`. Instances are immutable and safe to share.
    """

    kind: ClassVar[str] = ""
    when: Mapping[str, Any] | None = field(default=None, kw_only=True)

    @property
    def conditions(self) -> dict[str, tuple[JsonScalar, ...]]:
        """The normalised condition: parent name -> allowed values."""
        return _normalise_when(self.when)

    @property
    def is_dimension(self) -> bool:
        """Whether the parameter varies and so takes a dimension of the unit cube."""
        return True

    @abstractmethod
    def encode(self, value: Any) -> float:
        """Map a valid value to ``[0, 1]``."""

    @abstractmethod
    def decode(self, u: float) -> Any:
        """Map any point of ``[0, 1]`` (clipped) to a valid value."""

    @abstractmethod
    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a valid value of this parameter."""

    @abstractmethod
    def grid_values(self, points: int = 5) -> list[Any]:
        """The values a grid search visits: every value when discrete, ``points`` otherwise."""

    @abstractmethod
    def cardinality(self) -> float:
        """The number of distinct values (``math.inf`` for a continuous float)."""

    @abstractmethod
    def _json_fields(self) -> dict[str, Any]: ...

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw a value from the prior (uniform in the encoded space)."""
        return self.decode(float(rng.random()))

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description that `Param.from_json` restores."""
        out: dict[str, Any] = {"type": self.kind, **self._json_fields()}
        if self.when:
            out["when"] = {k: list(v) for k, v in self.conditions.items()}
        return out

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Param:
        """Restore a parameter written by `to_json` (also the form config files use)."""
        if not isinstance(data, Mapping) or "type" not in data:
            raise SpaceError(
                f"must be a table with a 'type' key, got {data!r}: "
                "use {type = 'float', low = 0.0, high = 1.0}"
            )
        fields_ = dict(data)
        kind = fields_.pop("type")
        classes: dict[str, type[Param]] = {"float": Float, "int": Int, "choice": Choice, "fixed": Fixed}
        if kind not in classes:
            raise SpaceError(f"parameter type must be one of {sorted(classes)}, got type={kind!r}")
        try:
            return classes[kind](**fields_)
        except TypeError as exc:
            raise SpaceError(f"invalid fields for a {kind!r} parameter {dict(data)!r}: {exc}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Param) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_json(), sort_keys=True))


def _bin_index(u: float, n: int) -> int:
    return min(n - 1, max(0, math.floor(float(u) * n)))


@dataclass(frozen=True, eq=False)
class Float(Param):
    """A real-valued parameter in ``[low, high]``, uniform or log-uniform, optionally on a step grid."""

    kind: ClassVar[str] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        low = real("low", self.low, error=SpaceError, fix="pass a float such as 0.1")
        high = real("high", self.high, error=SpaceError, fix="pass a float such as 0.1")
        if not low < high:
            raise SpaceError(
                f"low < high must hold, got low={self.low!r}, high={self.high!r}: "
                "swap them, or use Fixed(value) for a constant"
            )
        if self.log and low <= 0:
            raise SpaceError(f"low must be > 0 when log=True, got low={self.low!r}: use low=1e-8 or log=False")
        if self.step is not None:
            step = real("step", self.step, error=SpaceError, fix="pass a float such as 0.1")
            if step <= 0:
                raise SpaceError(f"step must be > 0, got step={self.step!r}: use step=None for a continuous range")
            if self.log:
                raise SpaceError(f"step cannot be combined with log=True, got step={self.step!r}: drop one of them")
            if step > high - low:
                raise SpaceError(
                    f"step must not exceed high - low = {high - low!r}, got step={self.step!r}: use a smaller step"
                )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        _normalise_when(self.when)

    def _count(self) -> int:
        assert self.step is not None
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1

    def encode(self, value: Any) -> float:
        v = float(value)
        if self.log:
            u = (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            u = (v - self.low) / (self.high - self.low)
        return min(1.0, max(0.0, u))

    def decode(self, u: float) -> float:
        u = min(1.0, max(0.0, float(u)))
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        if self.step is not None:
            k = min(self._count() - 1, max(0, round((v - self.low) / self.step)))
            v = self.low + k * self.step
        return min(self.high, max(self.low, v))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if not self.low - 1e-12 * max(1.0, abs(self.low)) <= value <= self.high + 1e-12 * max(1.0, abs(self.high)):
            return False
        if self.step is not None:
            k = (value - self.low) / self.step
            # Rounding error of value - low grows with the magnitude of the bounds, not of the step.
            tolerance = 1e-6 + 1e-12 * max(abs(self.low), abs(self.high)) / self.step
            return abs(k - round(k)) < tolerance
        return True

    def grid_values(self, points: int = 5) -> list[Any]:
        if self.step is not None and self._count() <= max(points, 1) * 4:
            return [self.low + k * self.step for k in range(self._count())]
        return sorted({self.decode(u) for u in np.linspace(0.0, 1.0, max(points, 2))})

    def cardinality(self) -> float:
        return float(self._count()) if self.step is not None else math.inf

    def _json_fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step}


@dataclass(frozen=True, eq=False)
class Int(Param):
    """An integer parameter in ``[low, high]``.

    ``log=True`` samples log-uniformly; ``base=2`` restricts values to powers of two
    (``Int(32, 4096, base=2)`` is 32, 64, ..., 4096), each power equally likely.
    """

    kind: ClassVar[str] = "int"
    low: int
    high: int
    log: bool = False
    base: int | None = None
    step: int = 1

    def __post_init__(self) -> None:
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():  # Int(0.0, 10.0) means Int(0, 10)
                value = int(value)
            value = integer(name, value, numpy=True, error=SpaceError, fix="use Float for real values")
            object.__setattr__(self, name, value)
        if not self.low < self.high:
            raise SpaceError(
                f"low < high must hold, got low={self.low}, high={self.high}: "
                "swap them, or use Fixed(value) for a constant"
            )
        if self.step < 1:
            raise SpaceError(f"step must be >= 1, got step={self.step}: use step=1")
        if self.base is not None:
            integer("base", self.base, minimum=2, error=SpaceError, fix="use base=2 for powers of two")
            if self.step != 1:
                raise SpaceError(f"step cannot be combined with base, got step={self.step}: drop step")
            for name in ("low", "high"):
                value = getattr(self, name)
                if value < 1 or self.base ** round(math.log(value, self.base)) != value:
                    lower = self.base ** max(0, math.floor(math.log(max(value, 1), self.base)))
                    raise SpaceError(
                        f"{name} must be a power of base={self.base} when base is set, got {name}={value}: "
                        f"use {name}={lower} or {lower * self.base}"
                    )
        elif self.log:
            if self.low < 1:
                raise SpaceError(f"low must be >= 1 when log=True, got low={self.low}: use low=1 or log=False")
            if self.step != 1:
                raise SpaceError(f"step cannot be combined with log=True, got step={self.step}: drop one of them")
        elif self.step > self.high - self.low:
            raise SpaceError(
                f"step must not exceed high - low = {self.high - self.low}, got step={self.step}: use a smaller step"
            )
        _normalise_when(self.when)

    def _exponents(self) -> tuple[int, int]:
        assert self.base is not None
        return round(math.log(self.low, self.base)), round(math.log(self.high, self.base))

    def values(self) -> list[int] | None:
        """Every value, when the parameter is a power-of-base or stepped grid (``None`` for plain log)."""
        if self.base is not None:
            lo, hi = self._exponents()
            return [self.base**k for k in range(lo, hi + 1)]
        if self.log:
            return None
        return list(range(self.low, self.high + 1, self.step))

    def encode(self, value: Any) -> float:
        v = int(value)
        if self.base is not None:
            lo, hi = self._exponents()
            k = round(math.log(v, self.base))
            return (k - lo + 0.5) / (hi - lo + 1)
        if self.log:
            log_lo, log_hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return min(1.0, max(0.0, (math.log(v) - log_lo) / (log_hi - log_lo)))
        n = (self.high - self.low) // self.step + 1
        return ((v - self.low) // self.step + 0.5) / n

    def decode(self, u: float) -> int:
        u = min(1.0, max(0.0, float(u)))
        if self.base is not None:
            lo, hi = self._exponents()
            return int(self.base ** (lo + _bin_index(u, hi - lo + 1)))
        if self.log:
            log_lo, log_hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return int(min(self.high, max(self.low, round(math.exp(log_lo + u * (log_hi - log_lo))))))
        n = (self.high - self.low) // self.step + 1
        return self.low + _bin_index(u, n) * self.step

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            return False
        vals = self.values()
        return bool(self.low <= value <= self.high) if vals is None else int(value) in vals

    def grid_values(self, points: int = 5) -> list[Any]:
        vals = self.values()
        if vals is not None and len(vals) <= max(points, 1) * 4:
            return vals
        return sorted({self.decode(u) for u in np.linspace(0.0, 1.0, max(points, 2))})

    def cardinality(self) -> float:
        vals = self.values()
        return float(self.high - self.low + 1 if vals is None else len(vals))

    def _json_fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "base": self.base, "step": self.step}


@dataclass(frozen=True, eq=False)
class Choice(Param):
    """A categorical parameter: one of ``options`` (JSON scalars), each equally likely."""

    kind: ClassVar[str] = "choice"
    options: Sequence[JsonScalar]

    def __post_init__(self) -> None:
        if isinstance(self.options, str | bytes) or not isinstance(self.options, Sequence):
            raise SpaceError(f"options must be a list, got options={self.options!r}: use Choice(['a', 'b'])")
        options = tuple(self.options)
        if not options:
            raise SpaceError("options must not be empty, got options=[]: list at least one value")
        bad = [o for o in options if not _is_json_scalar(o)]
        if bad:
            raise SpaceError(
                f"options must be JSON scalars (str, int, float, bool, None), got {bad[0]!r}: "
                "name the option with a string and build the object inside the objective"
            )
        keys = [json.dumps(o) for o in options]
        if len(set(keys)) != len(keys):
            dup = next(o for o, k in zip(options, keys, strict=True) if keys.count(k) > 1)
            raise SpaceError(f"options must be unique, got {dup!r} twice: remove the duplicate")
        object.__setattr__(self, "options", options)
        _normalise_when(self.when)

    def index(self, value: Any) -> int:
        """The position of ``value`` among the options."""
        key = json.dumps(value)
        for i, option in enumerate(self.options):
            if json.dumps(option) == key:
                return i
        raise SpaceError(f"value must be one of {list(self.options)}, got {value!r}")

    def encode(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.options)

    def decode(self, u: float) -> Any:
        return self.options[_bin_index(u, len(self.options))]

    def contains(self, value: Any) -> bool:
        key = json.dumps(value) if _is_json_scalar(value) else None
        return key is not None and any(json.dumps(o) == key for o in self.options)

    def grid_values(self, points: int = 5) -> list[Any]:
        return list(self.options)

    def cardinality(self) -> float:
        return float(len(self.options))

    def _json_fields(self) -> dict[str, Any]:
        return {"options": list(self.options)}


@dataclass(frozen=True, eq=False)
class Fixed(Param):
    """A constant recorded with every trial; takes no dimension of the search."""

    kind: ClassVar[str] = "fixed"
    value: JsonScalar

    def __post_init__(self) -> None:
        if not _is_json_scalar(self.value):
            raise SpaceError(f"value must be a JSON scalar, got value={self.value!r}: use a str, int, float or bool")
        _normalise_when(self.when)

    @property
    def is_dimension(self) -> bool:
        return False

    def encode(self, value: Any) -> float:
        return 0.5

    def decode(self, u: float) -> Any:
        return self.value

    def contains(self, value: Any) -> bool:
        return json.dumps(value) == json.dumps(self.value) if _is_json_scalar(value) else False

    def grid_values(self, points: int = 5) -> list[Any]:
        return [self.value]

    def cardinality(self) -> float:
        return 1.0

    def _json_fields(self) -> dict[str, Any]:
        return {"value": self.value}


_MEANINGFUL: list[tuple[re.Pattern[str], float, float, str]] = [
    (re.compile(r"dropout", re.I), 0.0, 1.0, "a dropout rate lies in [0, 1)"),
    (re.compile(r"(^|_)(lr|learning_rate)($|_)", re.I), 0.0, 10.0, "a learning rate above 10 diverges for any model"),
    (re.compile(r"momentum|beta", re.I), 0.0, 1.0, "a momentum or Adam beta lies in [0, 1)"),
]


class Space(Mapping[str, Param]):
    """An ordered, validated set of named parameters with conditions.

    Construction validates everything before any compute is spent: names, bounds, and that
    each condition names an existing discrete parent with a value that parent can take.
    Parameters are kept in an order where every parent precedes its children.
    """

    def __init__(self, params: Mapping[str, Param]) -> None:
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
        self._params: dict[str, Param] = {n: params[n] for n in self._topological_order(params)}
        for name, param in self._params.items():
            self._check_meaningful(name, param)

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
        return f"Space({{{inner}}})"

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

    def cardinality(self) -> float:
        """Number of distinct configurations (``math.inf`` when a float is continuous)."""
        total = 1.0
        for param in self._params.values():
            total *= param.cardinality()
        return total

    # Sampling and encoding -----------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one configuration from the priors; inactive parameters are left out."""
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
        return out

    def grid(self, points: int = 5) -> list[dict[str, Any]]:
        """Every grid configuration, conditions respected (continuous floats get ``points`` values)."""
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
        return list(unique.values())

    def grid_size(self, points: int = 5) -> int:
        """How many configurations `grid` would return, without materialising a large one."""
        sizes = [len(p.grid_values(points)) for p in self._params.values()]
        if not self.is_conditional:
            return math.prod(sizes)
        return len(self.grid(points)) if math.prod(sizes) <= 1_000_000 else math.prod(sizes)

    # JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description; ``Space.from_json(space.to_json()) == space``."""
        return {name: param.to_json() for name, param in self._params.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Space:
        if not isinstance(data, Mapping):
            raise SpaceError(f"a space must be a table of parameters, got {data!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpaceWarning)
            params: dict[str, Param] = {}
            for name, spec in data.items():
                try:
                    params[name] = Param.from_json(spec)
                except SpaceError as exc:
                    raise SpaceError(f"parameter {name!r}: {exc}") from None
            return cls(params)
