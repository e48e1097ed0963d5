"""Numbers as they are printed: short, and never contradicting what they stand for.

A figure printed beside a bound compares with it as the value does (`format_value`), and a table's figures are
given the digits that tell them apart (`telling_digits`). Every layer prints numbers, so this sits in the core.

Example:
    >>> format_value(0.099996, bounds=[0.1])
    '0.099996'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["detached", "format_value", "telling_digits"]


def format_value(value: object, *, bounds: Iterable[float] = (), digits: int = 3) -> str:
    """A short human form of a value: ``0.04``, ``3e-05``, ``256``, ``1950``, ``adam``.

    ``bounds``: limits the value is judged against (a guardrail's bound on its metric). A float then gets digits
    beyond the usual three until the figure printed compares with every bound as the value does: ``0.099996``
    under ``latency < 0.1`` prints ``0.099996``, never ``0.1``, the figure of a trial that breached it.
    ``digits``: the fewest significant digits (a table's `telling_digits`).
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number, limits = float(value), [float(bound) for bound in bounds]
        for shown in range(digits, _ROUND_TRIP_DIGITS):
            text = f"{number:.{shown}g}"
            if "e+" in text and abs(number) < _WHOLE_UP_TO:
                text = f"{number:.0f}"  # 1950 beside a bound of 1500, not 1.95e+03: more digits, never fewer
            if all(_side(float(text), bound) == _side(number, bound) for bound in limits):
                return text
        return f"{number:.{_ROUND_TRIP_DIGITS}g}"  # reads back as the value itself, so it compares as the value does
    return str(value)


# A float below this that ``g`` would print with an exponent prints rounded to a whole number instead (1000 and 1950,
# not 1e+03 and 1.95e+03); above, the exponent reads more easily (1e+08).
_WHOLE_UP_TO = 1e6
# Significant digits that print every float so that it reads back exactly.
_ROUND_TRIP_DIGITS = 17
# The most significant digits a table gives its values to tell them apart (`telling_digits`).
_TELLING_DIGITS = 8


def telling_digits(values: Iterable[object]) -> int:
    """The fewest significant digits, from three, at which the distinct floats of ``values`` print distinctly (at
    most `_TELLING_DIGITS`): a ranking of 1.0039, 1.0029 and 1.0010 printed "1" three times, and read as a tie."""
    numbers = {float(v) for v in values if isinstance(v, float | np.floating) and math.isfinite(float(v))}
    for digits in range(3, _TELLING_DIGITS):
        if len({f"{v:.{digits}g}" for v in numbers}) == len(numbers):
            return digits
    return _TELLING_DIGITS


def detached(value: Any) -> Any:
    """A tensor without its autograd graph (``value.detach()``), anything else as it is. A metric returned or
    reported as the loss tensor the training computed requires grad, and ``float()`` of one makes PyTorch warn
    ("Converting a tensor with requires_grad=True to a scalar"), from tunesmith's line, of a value read correctly."""
    detach = getattr(value, "detach", None)
    return detach() if callable(detach) else value


def _side(value: float, bound: float) -> int:
    """-1, 0 or 1: ``value`` below, at or above ``bound`` (0 for NaN, which compares with nothing)."""
    return (value > bound) - (value < bound)
