"""JSON scalars: the values a `Choice` offers, a `Fixed` holds and a ``when=`` condition names."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunesmith.errors import SpaceError

JsonScalar = str | int | float | bool | None

__all__ = ["JsonScalar", "is_json_scalar", "normalise_when", "plain"]


def plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (``np.int64(3) -> 3``, ``np.str_("a") -> "a"``), so an option
    taken from an array is stored, compared and returned as the same value written by hand; others unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def is_json_scalar(value: object) -> bool:
    """Whether ``value`` is a string, an integer, a finite float, a bool or ``None``."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def normalise_when(
    when: Mapping[str, Any] | None, orders: Mapping[str, Sequence[JsonScalar] | None] | None = None
) -> dict[str, tuple[JsonScalar, ...]]:
    """``when`` as parent name -> the allowed values, checked.

    A condition is a set of values: with ``orders``, each parent's values are put in one order, so that two
    conditions listing the same values in different orders are written, compared and stored alike.

    Args:
        when: the condition as given (``{"optimizer": "sgd"}``, ``{"optimizer": ["sgd", "rms"]}``) or ``None``.
        orders: per parent, its values in its own order (a `Choice`'s options); ``None`` for a parent whose
            values are numbers, which are sorted. A parent not named keeps the values as given.

    Raises:
        SpaceError: ``when`` is not a mapping, or names no value or a value that is not a JSON scalar.
    """
    if when is None:
        return {}
    if not isinstance(when, Mapping):
        raise SpaceError(
            f'when must be a mapping of parent name to value, got when={when!r}: use when={{"optimizer": "sgd"}}'
        )
    out: dict[str, tuple[JsonScalar, ...]] = {}
    for parent, allowed in when.items():
        given = tuple(allowed) if isinstance(allowed, list | tuple | set | frozenset) else (allowed,)
        values = tuple(plain(v) for v in given)
        if not values or not all(is_json_scalar(v) for v in values):
            raise SpaceError(
                f"when[{parent!r}] must be a value or a non-empty list of JSON scalars, got {allowed!r}: "
                f'use when={{"{parent}": "sgd"}} or when={{"{parent}": ["sgd", "rmsprop"]}}'
            )
        if orders is not None and parent in orders:
            values = _in_order(values, orders[parent])
        out[str(parent)] = values
    return out


def _in_order(values: tuple[JsonScalar, ...], order: Sequence[JsonScalar] | None) -> tuple[JsonScalar, ...]:
    """``values`` once each (as JSON tells them apart: 1 is not true), in ``order``; sorted when it is ``None``."""
    unique = {json.dumps(v): v for v in values}
    if order is None:
        return tuple(sorted(unique.values(), key=_sort_key))
    rank = {json.dumps(v): i for i, v in enumerate(order)}
    # A value the parent cannot take has no rank; the Space refuses it before it orders any.
    return tuple(sorted(unique.values(), key=lambda v: rank.get(json.dumps(v), len(rank))))


def _sort_key(value: JsonScalar) -> tuple[int, int | float, str]:
    """Numbers by value (Python compares an int with a float exactly); anything else, which a numeric parent
    never takes, after them by its JSON."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, value, json.dumps(value)
    return 1, 0, json.dumps(value)
