"""Argument checks shared by every constructor: one rule per check, one message shape.

Every failed check raises with a message that states the rule, the value received and the fix::

    n_trials must be a positive integer, got n_trials=0: pass n_trials=1 or more

Booleans are refused wherever a number is expected (``True`` is an ``int`` to Python, never a
count or a rate to a user), and every number check refuses NaN. Each check returns the value,
so a constructor validates and stores in one line::

    self.eta = real("eta", eta, minimum=2)
"""

from __future__ import annotations

import math
import numbers
from typing import Literal, NoReturn, overload

from tunesmith.errors import ConfigError

__all__ = ["duration", "integer", "real"]


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
