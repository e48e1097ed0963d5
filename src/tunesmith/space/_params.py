"""Parameters: `Float`, `Int`, `Choice`, `Fixed`, their conditions (``when=``) and unit-cube encoding."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any, ClassVar

import numpy as np

from tunesmith._validate import checked_arguments, integer, real
from tunesmith.errors import SpaceArgumentError, SpaceError
from tunesmith.space._scalars import JsonScalar, is_json_scalar, normalise_when, plain

# The samplers compute in int64 and float64: an integer bound, and the count of values an integer
# or a stepped float takes, must stay within int64.
INT64_MAX = 2**63 - 1

# Exact decimal arithmetic for stepped grids, in a context of its own (a caller's decimal.getcontext()
# may have any precision): 40 digits hold a step index below 2**63 times a 17-digit step exactly.
_DECIMAL = Context(prec=40)
# How far (high - low) / step may lie from a whole number and still count as one. Float64 errs by a few
# units of 2**-52 relative to the count of steps and to the bounds measured in steps (0.6 / 0.2 is
# 2.9999999999999996; 1e8 + 0.3 is off by 1e-7 steps of 0.1): a billionth of a step plus 1e-13 of those
# (hundreds of times the error) admits bounds written in decimals or computed from them, nothing more.
_WHOLE_STEPS_SLACK = 1e-9
_WHOLE_STEPS_RELATIVE = 1e-13
# A value within this share of a step (plus float64 noise at the bounds' magnitude) of a grid value is on
# the grid: values rounded in a config file or computed as low + k * step by hand still validate.
_ON_GRID_SLACK = 1e-6
# How many step counts above the given one `_whole_steps_error` tries when it suggests a step.
_STEP_SUGGESTION_TRIES = 100

__all__ = ["Choice", "Fixed", "Float", "Int", "JsonScalar", "Param"]

# Set while `Param.from_json` reads a study's stored spec: a `Choice` an older version stored with options that read
# alike as text is loaded as stored (its study must open), where a new one is refused.
_READING_STORED: ContextVar[bool] = ContextVar("tunesmith_reading_stored_spec", default=False)


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
    def from_json(data: Mapping[str, Any], *, stored: bool = False) -> Param:
        """Restore a parameter written by `to_json` (also the form config files use).

        ``stored``: read from a study's stored spec, which an older version may have written with a step that does
        not divide its range (now refused): such a range keeps the values it drew, its ``high`` moved down to the
        last value of its grid, since the older version never drew beyond it."""
        if not isinstance(data, Mapping) or "type" not in data:
            raise SpaceError(
                f"must be a table with a 'type' key, got {data!r}: use {{type = 'float', low = 0.0, high = 1.0}}"
            )
        fields_ = dict(data)
        kind = fields_.pop("type")
        if stored and kind in ("float", "int"):
            fields_ = _onto_the_grid(kind, fields_)
        classes: dict[str, type[Param]] = {"float": Float, "int": Int, "choice": Choice, "fixed": Fixed}
        if kind not in classes:
            raise SpaceError(f"parameter type must be one of {sorted(classes)}, got type={kind!r}")
        reading = _READING_STORED.set(stored)
        try:
            return classes[kind](**fields_)
        except TypeError as exc:
            raise SpaceError(f"invalid fields for a {kind!r} parameter {dict(data)!r}: {exc}") from None
        finally:
            _READING_STORED.reset(reading)

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


def _decimal(x: float) -> Decimal:
    """A float as the decimal its shortest repr spells (``0.1 -> Decimal('0.1')``): the number a person wrote."""
    return Decimal(repr(float(x)))


def _decimals(x: Decimal) -> int:
    """How many digits ``x`` has after the decimal point (0 for a whole number)."""
    exponent = x.normalize(_DECIMAL).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _shown(x: Decimal, whole: bool) -> str:
    """``x`` as a user writes it: an int for an `Int`, else the shortest repr of the nearest float."""
    return str(int(x)) if whole else repr(float(x))


def _whole_steps_error(low: Decimal, high: Decimal, step: Decimal, given: str, whole: bool) -> SpaceError:
    """The refusal of a range whose width is not a whole number of steps, with the highs and steps that fit.

    Args:
        low: the lower bound, exactly as written.
        high: the upper bound, exactly as written.
        step: the step, exactly as written.
        given: the arguments as received (``"low=0.0, high=1.0, step=0.3"``).
        whole: whether the parameter is an `Int` (values and suggestions are integers).
    """
    width = _DECIMAL.subtract(high, low)
    steps = _DECIMAL.divide(width, step)
    below, above = math.floor(steps), math.ceil(steps)
    over = _DECIMAL.subtract(width, _DECIMAL.multiply(below, step))
    highs = [_DECIMAL.add(low, _DECIMAL.multiply(k, step)) for k in (below, above)]
    fits = [h for h in highs if (abs(h) <= INT64_MAX if whole else math.isfinite(float(h)))]
    # The largest step under the given one that divides the width with at most one decimal more than the
    # arguments have (an Int's: none); failing that, one that divides it however it prints.
    allowed = 0 if whole else max(_decimals(low), _decimals(high), _decimals(step)) + 1
    tries = (_DECIMAL.divide(width, m) for m in range(above, above + _STEP_SUGGESTION_TRIES))
    fallback = Decimal(math.gcd(int(width), int(step))) if whole else _DECIMAL.divide(width, above)
    divisor = next((q for q in tries if _decimals(q) <= allowed), fallback)
    return SpaceError(
        f"high - low must be a whole number of steps, got {given}: high - low = {_shown(width, whole)} is "
        f"{below} step{'' if below == 1 else 's'} of {_shown(step, whole)} and {_shown(over, whole)} over, "
        f"so high={_shown(high, whole)} would never be drawn; use "
        + " or ".join(f"high={_shown(h, whole)}" for h in fits)
        + f", or a step that divides {_shown(width, whole)} such as step={_shown(divisor, whole)}"
    )


def _whole_steps(low: float, high: float, step: float) -> bool:
    """Whether ``high - low`` is a whole number of ``step`` up to float rounding, which grows with the magnitude of
    the bounds over the step: `Float`'s check, and the one a stored range is read back with (a fixed slack there read
    ``Float(1000000.1, 1000000.3, step=0.1)``, which `Float` accepts, as one step short, and a study refused it)."""
    steps = (high - low) / step
    slack = _WHOLE_STEPS_SLACK + _WHOLE_STEPS_RELATIVE * (steps + max(abs(low), abs(high)) / step)
    return abs(steps - round(steps)) <= slack


def _onto_the_grid(kind: str, fields_: dict[str, Any]) -> dict[str, Any]:
    """A stored stepped range whose step does not divide it, its ``high`` moved down to the last value of its grid
    (what an older version drew at most); any other range as it is."""
    low, high, step = fields_.get("low"), fields_.get("high"), fields_.get("step")
    if any(isinstance(v, bool) for v in (low, high, step)):
        return fields_
    if kind == "int":
        if isinstance(low, int) and isinstance(high, int) and isinstance(step, int) and 0 < step <= high - low:
            return {**fields_, "high": low + (high - low) // step * step}
        return fields_
    if not (isinstance(low, int | float) and isinstance(high, int | float) and isinstance(step, int | float)):
        return fields_
    first, size = _decimal(low), _decimal(step)
    width = _decimal(high) - first
    if size <= 0 or width < size:
        return fields_
    steps = width / size
    if _whole_steps(float(low), float(high), float(step)):  # what `Float` accepts is read back as it is
        return fields_
    return {**fields_, "high": float(_DECIMAL.add(first, _DECIMAL.multiply(math.floor(steps), size)))}


@checked_arguments(SpaceArgumentError)
@dataclass(frozen=True, eq=False)
class Float(Param):
    """A real-valued parameter in ``[low, high]``, uniform or log-uniform, optionally on a step grid.

    With ``step``, the values are ``low, low + step, ..., high``, each equally likely, so ``high - low``
    must be a whole number of steps (``Float(0.0, 1.0, step=0.25)``: 0.0, 0.25, 0.5, 0.75, 1.0; ``step=0.3``
    is refused). Values are computed in decimal from the bounds and the step as written, so 3 * 0.1 is
    0.3, not 0.30000000000000004. Each value takes an equal share of the unit interval and encodes to
    the centre of its share, as an `Int`'s values do.
    """

    kind: ClassVar[str] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        # NumPy scalars too (bounds taken from an array), as Int takes NumPy integers; stored as Python floats.
        low = real("low", self.low, numpy=True, error=SpaceError, fix="pass a float such as 0.1")
        high = real("high", self.high, numpy=True, error=SpaceError, fix="pass a float such as 0.1")
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
            step = real("step", self.step, numpy=True, error=SpaceError, fix="pass a float such as 0.1")
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
            if not _whole_steps(low, high, step):
                given = f"low={self.low!r}, high={self.high!r}, step={self.step!r}"
                raise _whole_steps_error(_decimal(low), _decimal(high), _decimal(step), given, whole=False)
            object.__setattr__(self, "step", step)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        normalise_when(self.when)

    def _count(self) -> int:
        assert self.step is not None
        return round((self.high - self.low) / self.step) + 1  # a whole number of steps, checked at construction

    def _grid_value(self, k: int) -> float:
        """The ``k``-th value of the step grid: ``low + k * step`` in decimal, the last one ``high`` itself."""
        assert self.step is not None
        last = self._count() - 1
        if k <= 0:
            return self.low
        if k >= last:
            return self.high
        value = float(_DECIMAL.add(_decimal(self.low), _DECIMAL.multiply(k, _decimal(self.step))))
        return min(self.high, max(self.low, value))

    def _grid_index(self, value: float) -> int:
        """The index of the grid value nearest ``value`` (a value outside ``[low, high]`` counts as the bound)."""
        assert self.step is not None
        v = min(self.high, max(self.low, value))  # NaN reads as low, as the unit-cube clip does
        return min(self._count() - 1, max(0, round((v - self.low) / self.step)))

    def encode(self, value: Any) -> float:
        v = float(value)
        if self.step is not None:
            return (self._grid_index(v) + 0.5) / self._count()  # the centre of its value's bin, as for Int
        if self.log:
            u = (math.log(v) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            u = (v - self.low) / (self.high - self.low)
        return min(1.0, max(0.0, u))

    def decode(self, u: float) -> float:
        u = min(1.0, max(0.0, float(u)))
        if self.step is not None:
            return self._grid_value(_bin_index(u, self._count()))  # equal bins: every value equally likely
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        return min(self.high, max(self.low, v))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if not self.low - 1e-12 * max(1.0, abs(self.low)) <= value <= self.high + 1e-12 * max(1.0, abs(self.high)):
            return False
        if self.step is not None:
            # Rounding error of a value computed by hand grows with the magnitude of the bounds, not of the step.
            tolerance = _ON_GRID_SLACK * self.step + 1e-12 * max(abs(self.low), abs(self.high))
            return abs(value - self._grid_value(self._grid_index(value))) <= tolerance
        return True

    def grid_values(self, points: int = 5) -> list[Any]:
        if self.step is not None and self._count() <= max(points, 1) * 4:
            return [self._grid_value(k) for k in range(self._count())]
        # The ends as given and the points between at 12 significant digits: decoded, 1e-4 came out as
        # 0.00010000000000000009 and 0.3 as 0.30000000000000004, so a configuration enqueued with the clean value
        # was not known as the grid's and ran again.
        spread = np.linspace(0.0, 1.0, max(points, 2))
        values = {self.low, self.high} | {min(self.high, max(self.low, float(f"{self.decode(u):.12g}")))
                                          for u in spread[1:-1]}  # fmt: skip
        return sorted(values)

    def cardinality(self) -> float:
        return float(self._count()) if self.step is not None else math.inf

    def _json_fields(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "log": self.log, "step": self.step}


@checked_arguments(SpaceArgumentError)
@dataclass(frozen=True, eq=False)
class Int(Param):
    """An integer parameter in ``[low, high]``.

    ``log=True`` samples log-uniformly; ``base=2`` restricts values to powers of two
    (``Int(32, 4096, base=2)`` is 32, 64, ..., 4096), each power equally likely. ``step`` takes every
    ``step``-th integer from ``low`` to ``high``, so ``high - low`` must be a multiple of it
    (``Int(0, 12, step=3)``; ``Int(0, 10, step=3)`` is refused).
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
        elif (self.high - self.low) % self.step:
            given = f"low={self.low}, high={self.high}, step={self.step}"
            raise _whole_steps_error(Decimal(self.low), Decimal(self.high), Decimal(self.step), given, whole=True)
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
    """A categorical parameter: one of ``options`` (JSON scalars), each equally likely.

    Options must differ as text (`text_forms`): a CSV cell (``tunesmith export``, a warm start from a file) and
    ``tunesmith enqueue name=value`` name an option by how it is written, so ``1`` and ``"1"``, or ``None`` and
    ``"None"``, could not be told apart there (a study stored with such options before still loads).
    """

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
        if not _READING_STORED.get():
            _refuse_alike_as_text(options)
        object.__setattr__(self, "options", options)
        normalise_when(self.when)

    @staticmethod
    def text_forms(value: JsonScalar) -> tuple[str, ...]:
        """How option ``value`` is written as text, each spelling a CSV cell or a command line may use: ``str()``,
        and for ``None`` and the booleans also JSON's (``null``, ``true``, ``false``)."""
        if value is None:
            return ("None", "null")
        if isinstance(value, bool):
            return (str(value), str(value).lower())
        return (str(value),)

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


def _refuse_alike_as_text(options: Sequence[JsonScalar]) -> None:
    """Refuse two options that share a spelling (`Choice.text_forms`): text could not say which one it names."""
    owner: dict[str, int] = {}
    for i, option in enumerate(options):
        for text in Choice.text_forms(option):
            first = owner.setdefault(text, i)
            if first == i:
                continue
            other = options[first]
            labels = [f"{text} ({'none' if v is None else type(v).__name__})" for v in (other, option)]
            raise SpaceError(
                f"options must differ as text, since a CSV cell (tunesmith export, a warm start from a file) and "
                f"tunesmith enqueue name=value name an option by how it is written, got {other!r} and {option!r}, "
                f"both written {text!r}: give them labels that differ as text (e.g. {labels[0]!r} and "
                f"{labels[1]!r}) and map each label to its value inside the objective"
            )


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
