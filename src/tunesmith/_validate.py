"""Argument checks shared by every constructor: one rule per check, one message shape.

Every failed check raises with a message that states the rule, the value received and the fix::

    n_trials must be a positive integer, got n_trials=0: pass n_trials=1 or more

Booleans are refused wherever a number is expected (``True`` is an ``int`` to Python, never a
count or a rate to a user), and every number check refuses NaN. Each check returns the value,
so a constructor validates and stores in one line::

    self.eta = real("eta", eta, minimum=2)

`checked_arguments` does the same for the arguments' names: a class it decorates answers a
misspelt keyword with the closest name it takes (``Float got an unexpected argument 'lwo': did you
mean 'low'?``) instead of Python's ``__init__() got an unexpected keyword argument``.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NoReturn, ParamSpec, TypeVar, overload

from tunesmith.errors import ArgumentError, ConfigError

__all__ = ["checked_arguments", "checked_call", "duration", "integer", "real", "unknown_argument"]

_C = TypeVar("_C", bound=type)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _fail(name: str, value: object, rule: str, fix: str, context: str | None, error: type[Exception]) -> NoReturn:
    where = f"{context}: " if context else ""
    raise error(f"{where}{name} must be {rule}, got {name}={value!r}: {fix}")


def _as_integer(value: object, numpy: bool) -> int | None:
    """``value`` as an ``int``, or None when it is not an integer (a bool is not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (numpy and isinstance(value, numbers.Integral)):
        return int(value)
    return None


def _as_real(value: object, numpy: bool) -> float | None:
    """``value`` as a ``float``, or None when it is not a real number (a bool is not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (numpy and isinstance(value, numbers.Real)):
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range
            return -math.inf if isinstance(value, int) and value < 0 else math.inf
    return None


def _integer_rule(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"an integer in [{minimum}, {maximum}]"
    if maximum is not None:
        return f"an integer <= {maximum}"
    if minimum == 0:
        return "a non-negative integer"
    if minimum == 1:
        return "a positive integer"
    return "an integer" if minimum is None else f"an integer >= {minimum}"


def _integer_fix(name: str, value: object, checked: int | None, minimum: int | None, maximum: int | None) -> str:
    if checked is None:
        return f"pass an int, not {type(value).__name__}"
    if minimum is not None and maximum is not None:
        return f"pass {name} from {minimum} to {maximum}"
    return f"pass {name}={minimum} or more" if maximum is None else f"pass {name}={maximum} or less"


@overload
def integer(
    name: str,
    value: object,
    *,
    minimum: int | None = ...,
    maximum: int | None = ...,
    allow_none: Literal[False] = ...,
    numpy: bool = ...,
    context: str | None = ...,
    fix: str | None = ...,
    error: type[Exception] = ...,
) -> int: ...
@overload
def integer(
    name: str,
    value: object,
    *,
    minimum: int | None = ...,
    maximum: int | None = ...,
    allow_none: bool,
    numpy: bool = ...,
    context: str | None = ...,
    fix: str | None = ...,
    error: type[Exception] = ...,
) -> int | None: ...
def integer(
    name: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
    numpy: bool = False,
    context: str | None = None,
    fix: str | None = None,
    error: type[Exception] = ConfigError,
) -> int | None:
    """Check that ``value`` is an integer within ``[minimum, maximum]``.

    Args:
        name: the argument's name, as the caller spells it.
        value: what the caller passed.
        minimum: the smallest value allowed (inclusive); None for no lower bound.
        maximum: the largest value allowed (inclusive); None for no upper bound.
        allow_none: accept None (and return it) as "not set".
        numpy: also accept NumPy integers (any ``numbers.Integral``).
        context: where the argument belongs, put before the message (``"range_test"``).
        fix: what the caller should do instead; by default one is derived from the rule.
        error: the exception class to raise.

    Returns:
        The value as an ``int`` (None when it is None and ``allow_none``).

    Raises:
        ConfigError: (or ``error``) the value is not an integer, is a bool, or is out of bounds.

    Example:
        >>> integer("workers", 0, minimum=1)
        Traceback (most recent call last):
        tunesmith.errors.ConfigError: workers must be a positive integer, got workers=0: pass workers=1 or more
    """
    if value is None and allow_none:
        return None
    checked = _as_integer(value, numpy)
    if checked is None or (minimum is not None and checked < minimum) or (maximum is not None and checked > maximum):
        rule = _integer_rule(minimum, maximum) + (" or None" if allow_none else "")
        _fail(name, value, rule, fix or _integer_fix(name, value, checked, minimum, maximum), context, error)
    return checked


def _real_rule(
    minimum: float | None,
    exclusive_minimum: float | None,
    maximum: float | None,
    exclusive_maximum: float | None,
    finite: bool,
) -> tuple[str, str]:
    """The rule (``"a finite number > 0"``, ``"a number in [0, 1)"``) and the values it wants."""
    if minimum is not None and exclusive_minimum is not None:
        raise TypeError("give minimum or exclusive_minimum, not both")
    if maximum is not None and exclusive_maximum is not None:
        raise TypeError("give maximum or exclusive_maximum, not both")
    low = minimum if minimum is not None else exclusive_minimum
    high = maximum if maximum is not None else exclusive_maximum
    if low is not None and high is not None:
        interval = f"{'[' if minimum is not None else '('}{low}, {high}{']' if maximum is not None else ')'}"
        return f"a number in {interval}", f"a value in {interval}"
    if low is not None:
        bound = f">= {low}" if minimum is not None else f"> {low}"
    elif high is not None:
        bound = f"<= {high}" if maximum is not None else f"< {high}"
    else:
        return ("a finite number", "a finite value") if finite else ("a number", "a number, not NaN")
    if finite:
        return f"a finite number {bound}", f"a finite value {bound}"
    return f"a number {bound}", f"a value {bound}"


def _within(
    value: float,
    minimum: float | None,
    exclusive_minimum: float | None,
    maximum: float | None,
    exclusive_maximum: float | None,
) -> bool:
    return (
        (minimum is None or value >= minimum)
        and (exclusive_minimum is None or value > exclusive_minimum)
        and (maximum is None or value <= maximum)
        and (exclusive_maximum is None or value < exclusive_maximum)
    )


@overload
def real(
    name: str,
    value: object,
    *,
    minimum: float | None = ...,
    exclusive_minimum: float | None = ...,
    maximum: float | None = ...,
    exclusive_maximum: float | None = ...,
    finite: bool = ...,
    allow_none: Literal[False] = ...,
    numpy: bool = ...,
    context: str | None = ...,
    fix: str | None = ...,
    error: type[Exception] = ...,
) -> float: ...
@overload
def real(
    name: str,
    value: object,
    *,
    minimum: float | None = ...,
    exclusive_minimum: float | None = ...,
    maximum: float | None = ...,
    exclusive_maximum: float | None = ...,
    finite: bool = ...,
    allow_none: bool,
    numpy: bool = ...,
    context: str | None = ...,
    fix: str | None = ...,
    error: type[Exception] = ...,
) -> float | None: ...
def real(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    exclusive_minimum: float | None = None,
    maximum: float | None = None,
    exclusive_maximum: float | None = None,
    finite: bool = True,
    allow_none: bool = False,
    numpy: bool = False,
    context: str | None = None,
    fix: str | None = None,
    error: type[Exception] = ConfigError,
) -> float | None:
    """Check that ``value`` is a real number (never NaN) within the given bounds.

    Give at most one lower bound (``minimum`` or ``exclusive_minimum``) and one upper bound.

    Args:
        name: the argument's name, as the caller spells it.
        value: what the caller passed.
        minimum: the smallest value allowed (inclusive).
        exclusive_minimum: a value the argument must exceed.
        maximum: the largest value allowed (inclusive).
        exclusive_maximum: a value the argument must stay below.
        finite: refuse infinities (NaN is always refused).
        allow_none: accept None (and return it) as "not set".
        numpy: also accept NumPy scalars (any ``numbers.Real``).
        context: where the argument belongs, put before the message (``"OneCycle"``).
        fix: what the caller should do instead; by default one is derived from the rule.
        error: the exception class to raise.

    Returns:
        The value as a ``float`` (None when it is None and ``allow_none``).

    Raises:
        ConfigError: (or ``error``) the value is not a number, is a bool, is NaN, is infinite
            while ``finite``, or is out of bounds.
        TypeError: both bounds of one side were given (a mistake in the calling code).

    Example:
        >>> real("gamma", 1.5, exclusive_minimum=0, exclusive_maximum=1)
        Traceback (most recent call last):
        tunesmith.errors.ConfigError: gamma must be a number in (0, 1), got gamma=1.5: pass a value in (0, 1)
    """
    rule, wanted = _real_rule(minimum, exclusive_minimum, maximum, exclusive_maximum, finite)
    if value is None and allow_none:
        return None
    checked = _as_real(value, numpy)
    if (
        checked is None
        or math.isnan(checked)
        or (finite and math.isinf(checked))
        or not _within(checked, minimum, exclusive_minimum, maximum, exclusive_maximum)
    ):
        if fix is None:
            fix = f"pass a float, not {type(value).__name__}" if checked is None else f"pass {wanted}"
        _fail(name, value, rule + (" or None" if allow_none else ""), fix, context, error)
    return checked


@overload
def duration(
    name: str,
    value: object,
    *,
    allow_none: Literal[False] = ...,
    context: str | None = ...,
    fix: str | None = ...,
    error: type[Exception] = ...,
) -> float: ...
@overload
def duration(
    name: str,
    value: object,
    *,
    allow_none: bool,
    context: str | None = ...,
    fix: str | None = ...,
    error: type[Exception] = ...,
) -> float | None: ...
def duration(
    name: str,
    value: object,
    *,
    allow_none: bool = False,
    context: str | None = None,
    fix: str | None = None,
    error: type[Exception] = ConfigError,
) -> float | None:
    """Check that ``value`` is a duration: a positive, finite number of seconds.

    Args:
        name: the argument's name, as the caller spells it.
        value: what the caller passed.
        allow_none: accept None (and return it) as "not set".
        context: where the argument belongs, put before the message.
        fix: what the caller should do instead; by default ``pass e.g. <name>=60``.
        error: the exception class to raise.

    Returns:
        The duration in seconds as a ``float`` (None when it is None and ``allow_none``).

    Raises:
        ConfigError: (or ``error``) the value is not a number, is a bool, or is not in ``(0, inf)``.
    """
    if value is None and allow_none:
        return None
    checked = _as_real(value, numpy=False)
    if checked is None or not 0 < checked < math.inf:
        rule = "a positive number of seconds" + (" or None" if allow_none else "")
        _fail(name, value, rule, fix or f"pass e.g. {name}=60", context, error)
    return checked


# Units of a memory size: decimal (kB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB; K, M, G, T as ``ulimit`` and
# container runtimes read them), matched without regard to case.
_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
# A memory limit below this is taken for a size meant in another unit (``memory_limit=500`` for 500 MB): no
# Python process runs a trial in a mebibyte beyond what it starts with.
MIN_MEMORY_LIMIT = 2**20


def memory_size(name: str, value: object, *, allow_none: bool = False) -> int | None:
    """Check that ``value`` is a memory size: a whole number of bytes, or a string such as ``"500MB"``, ``"2GiB"``
    or ``"4G"`` (`_SIZE_UNITS`), of at least `MIN_MEMORY_LIMIT` bytes; returns the bytes.

    Raises:
        ConfigError: a bool, a fraction, an unknown unit, or a size below `MIN_MEMORY_LIMIT`.
    """
    if value is None and allow_none:
        return None
    fix = f"pass bytes or a size with its unit, e.g. {name}='4GB' or {name}=4 * 2**30"
    rule = "a memory size: whole bytes or a number with a unit (kB, MB, GB, TB; KiB, MiB, GiB, TiB)"
    size: int | None = None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
        unit = match.group(2).lower() if match else None
        if match and unit in _SIZE_UNITS:
            size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    elif isinstance(value, float) and value.is_integer():  # 4e9
        size = int(value)
    else:
        size = _as_integer(value, numpy=True)
    if size is None:
        _fail(name, value, rule, fix, None, ConfigError)
    if size < MIN_MEMORY_LIMIT:
        raise ConfigError(
            f"{name} is in bytes and must be at least {MIN_MEMORY_LIMIT} (1 MiB), got {name}={value!r} "
            f"({size} bytes), which no trial runs in: {fix}"
        )
    return size


def _call_form(parameters: list[inspect.Parameter]) -> str:
    """``(low, high, log=False, step=None, *, when=None)``: how a constructor is called, without ``self``."""
    parts: list[str] = []
    star = False
    for p in parameters:
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star = True
            continue
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return f"({', '.join(parts)})"


def unknown_argument(owner: str, unknown: str, names: Sequence[str], instead: Mapping[str, str] | None = None) -> str:
    """What to say of a keyword ``unknown`` that ``owner`` does not take: what to write in its place when ``instead``
    names it (another library's name for an argument: Optuna's ``n_trials`` on a study, where the closest name
    ``trial_cost`` means something else), else the closest of ``names``; then all of them."""
    takes = ", ".join(names) or "no arguments"
    if instead and unknown in instead:
        return f"{owner} got an unexpected argument {unknown!r}: write {instead[unknown]} instead. It takes {takes}"
    close = difflib.get_close_matches(unknown, names, n=1)
    hint = f"did you mean {close[0]!r}? It takes {takes}" if close else f"it takes {takes}"
    return f"{owner} got an unexpected argument {unknown!r}: {hint}"


def _unknown_keywords(
    parameters: Sequence[inspect.Parameter],
) -> tuple[list[str], Callable[[Mapping[str, Any]], list[str]]]:
    """The names ``parameters`` take as keywords, and a function giving the keywords of a call that none of them
    takes (none when they take ``**kwargs``)."""
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return names, lambda _: []
    return names, lambda kwargs: [k for k in kwargs if k not in names]


def checked_call(instead: Mapping[str, str]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A function decorator: a call with a keyword the function does not take raises `ArgumentError` saying what to
    write instead (``instead``: other libraries' names, each with what to write here), else the closest name it
    takes, and all of them (`unknown_argument`), where Python's TypeError named the keyword alone. Other calls
    that do not bind raise as Python makes them."""

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        names, unknown_in = _unknown_keywords([p for p in inspect.signature(function).parameters.values()
                                               if p.name != "self"])  # fmt: skip

        @functools.wraps(function)
        def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if unknown := unknown_in(kwargs):
                raise ArgumentError(unknown_argument(function.__qualname__, unknown[0], names, instead))
            return function(*args, **kwargs)

        return checked

    return decorate


def checked_arguments(error: type[TypeError] = ArgumentError,
                      instead: Mapping[str, str] | None = None) -> Callable[[_C], _C]:  # fmt: skip
    """A class decorator: calls with arguments the constructor cannot take raise ``error``, explained.

    An unknown keyword gets what to write instead (``instead``, by the keyword: other libraries' names), else the
    closest name the constructor takes, and the list of all of them (`unknown_argument`); a missing, repeated or
    surplus positional argument gets the constructor's call form. Calls that bind are passed on unchanged (the
    constructor's own checks then apply). Put it above ``@dataclass``, so that it wraps the generated ``__init__``.

    Args:
        error: the exception to raise: a `TunesmithError` that is also a `TypeError`
            (`ArgumentError`, or `SpaceArgumentError` for parameters).
        instead: keywords other libraries use, each with what to write here.

    Example:
        >>> import tunesmith as ts
        >>> ts.Float(0, 1, lwo=0.1)
        Traceback (most recent call last):
        tunesmith.errors.SpaceArgumentError: Float got an unexpected argument 'lwo': did you mean 'low'? \
It takes low, high, log, step, when
    """

    def decorate(cls: _C) -> _C:
        init = cls.__init__  # type: ignore[misc]
        if getattr(init, "_checks_arguments", False):  # inherited from a checked class: already checked
            return cls
        if init is object.__init__:  # a class without a constructor takes no arguments
            signature = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)])
        else:
            signature = inspect.signature(init)
        parameters = list(signature.parameters.values())[1:]
        names, unknown_in = _unknown_keywords(parameters)

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            try:
                signature.bind(self, *args, **kwargs)
            except TypeError as exc:
                owner = type(self).__name__
                if unknown := unknown_in(kwargs):
                    message = unknown_argument(owner, unknown[0], names, instead)
                else:
                    message = f"{owner}: {exc}; call it as {owner}{_call_form(parameters)}"
                raise error(message) from None
            init(self, *args, **kwargs)

        __init__._checks_arguments = True  # type: ignore[attr-defined]
        setattr(cls, "__init__", __init__)  # noqa: B010 - mypy refuses assigning to a method
        return cls

    return decorate
