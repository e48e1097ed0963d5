"""Parameters: `Float`, `Int`, `Choice`, `Fixed`, their conditions (``when=``) and unit-cube encoding."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tunesmith._validate import checked_arguments, integer, real
from tunesmith.errors import SpaceArgumentError, SpaceError
from tunesmith.space._scalars import JsonScalar, is_json_scalar, normalise_when, plain

# The samplers compute in int64 and float64: an integer bound, and the count of values an integer
# or a stepped float takes, must stay within int64.
INT64_MAX = 2**63 - 1

__all__ = ["Choice", "Fixed", "Float", "Int", "JsonScalar", "Param"]


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
        return normalise_when(self.when)

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
                f"must be a table with a 'type' key, got {data!r}: use {{type = 'float', low = 0.0, high = 1.0}}"
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


def _flag(name: str, value: object) -> bool:
    """A switch such as ``log``: True or False (a NumPy bool too), never a truthy string."""
    if not isinstance(value, bool | np.bool_):
        raise SpaceError(f"{name} must be True or False, got {name}={value!r}: pass {name}=True or {name}=False")
    return bool(value)


def _bin_index(u: float, n: int) -> int:
    return min(n - 1, max(0, math.floor(float(u) * n)))


@checked_arguments(SpaceArgumentError)
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
        object.__setattr__(self, "log", _flag("log", self.log))
        if not low < high:
            raise SpaceError(
                f"low < high must hold, got low={self.low!r}, high={self.high!r}: "
                "swap them, or use Fixed(value) for a constant"
            )
        if not math.isfinite(high - low):
            raise SpaceError(
                f"high - low must be a finite float64, got low={self.low!r}, high={self.high!r} (high - low "
                "overflows): narrow the range, or use log=True with low > 0 for one over many orders of magnitude"
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
            if not (high - low) / step < INT64_MAX:
                raise SpaceError(
                    f"step must leave fewer than 2**63 values in [low, high], got step={self.step!r} for high - low "
                    f"= {high - low!r}: use a larger step, or step=None for a continuous range"
                )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        normalise_when(self.when)

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


@checked_arguments(SpaceArgumentError)
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
        object.__setattr__(self, "log", _flag("log", self.log))
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():  # Int(0.0, 10.0) means Int(0, 10)
                value = int(value)
            value = integer(name, value, numpy=True, error=SpaceError, fix="use Float for real values")
            if not -INT64_MAX - 1 <= value <= INT64_MAX:
                raise SpaceError(
                    f"{name} must fit in a 64-bit integer [-2**63, 2**63 - 1], got {name}={value}: the samplers "
                    "compute in int64; use Float(low, high, log=True) for numbers that large"
                )
            object.__setattr__(self, name, value)
        if not self.low < self.high:
            raise SpaceError(
                f"low < high must hold, got low={self.low}, high={self.high}: "
                "swap them, or use Fixed(value) for a constant"
            )
        if self.step < 1:
            raise SpaceError(f"step must be >= 1, got step={self.step}: use step=1")
        if self.high - self.low >= INT64_MAX:
            raise SpaceError(
                f"high - low must be below 2**63 - 1 (the count of values must fit in int64), got low={self.low}, "
                f"high={self.high} (high - low = {self.high - self.low}): narrow the range"
            )
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
        normalise_when(self.when)

    def _exponents(self) -> tuple[int, int]:
        assert self.base is not None
        return round(math.log(self.low, self.base)), round(math.log(self.high, self.base))

    def values(self) -> Sequence[int] | None:
        """Every value, when the parameter is a power-of-base or stepped grid (``None`` for plain log).

        A stepped grid is a `range`, so that a wide one costs nothing until it is iterated.
        """
        if self.base is not None:
            lo, hi = self._exponents()
            return [self.base**k for k in range(lo, hi + 1)]
        if self.log:
            return None
        return range(self.low, self.high + 1, self.step)

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
            return list(vals)
        return sorted({self.decode(u) for u in np.linspace(0.0, 1.0, max(points, 2))})

    def cardinality(self) -> float:
        vals = self.values()
        return float(self.high - self.low + 1 if vals is None else len(vals))

    def _json_fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "base": self.base, "step": self.step}


@checked_arguments(SpaceArgumentError)
@dataclass(frozen=True, eq=False)
class Choice(Param):
    """A categorical parameter: one of ``options`` (JSON scalars), each equally likely."""

    kind: ClassVar[str] = "choice"
    options: Sequence[JsonScalar]

    def __post_init__(self) -> None:
        given = self.options
        if isinstance(given, np.ndarray) and given.ndim == 1:  # an array's items as Python values
            given = given.tolist()
        if isinstance(given, str | bytes) or not isinstance(given, Sequence):
            raise SpaceError(f"options must be a list, got options={self.options!r}: use Choice(['a', 'b'])")
        options = tuple(plain(o) for o in given)
        if not options:
            raise SpaceError("options must not be empty, got options=[]: list at least one value")
        bad = [o for o in options if not is_json_scalar(o)]
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
        normalise_when(self.when)

    def index(self, value: Any) -> int:
        """The position of ``value`` among the options."""
        value = plain(value)
        key = json.dumps(value) if is_json_scalar(value) else None
        for i, option in enumerate(self.options):
            if json.dumps(option) == key:
                return i
        raise SpaceError(f"value must be one of {list(self.options)}, got {value!r}")

    def encode(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.options)

    def decode(self, u: float) -> Any:
        return self.options[_bin_index(u, len(self.options))]

    def contains(self, value: Any) -> bool:
        value = plain(value)
        key = json.dumps(value) if is_json_scalar(value) else None
        return key is not None and any(json.dumps(o) == key for o in self.options)

    def grid_values(self, points: int = 5) -> list[Any]:
        return list(self.options)

    def cardinality(self) -> float:
        return float(len(self.options))

    def _json_fields(self) -> dict[str, Any]:
        return {"options": list(self.options)}


@checked_arguments(SpaceArgumentError)
@dataclass(frozen=True, eq=False)
class Fixed(Param):
    """A constant recorded with every trial; takes no dimension of the search."""

    kind: ClassVar[str] = "fixed"
    value: JsonScalar

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", plain(self.value))
        if not is_json_scalar(self.value):
            raise SpaceError(f"value must be a JSON scalar, got value={self.value!r}: use a str, int, float or bool")
        normalise_when(self.when)

    @property
    def is_dimension(self) -> bool:
        return False

    def encode(self, value: Any) -> float:
        return 0.5

    def decode(self, u: float) -> Any:
        return self.value

    def contains(self, value: Any) -> bool:
        value = plain(value)
        return json.dumps(value) == json.dumps(self.value) if is_json_scalar(value) else False

    def grid_values(self, points: int = 5) -> list[Any]:
        return [self.value]

    def cardinality(self) -> float:
        return 1.0

    def _json_fields(self) -> dict[str, Any]:
        return {"value": self.value}
