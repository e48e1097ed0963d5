"""JSON scalars: the values a `Choice` offers, a `Fixed` holds and a ``when=`` condition names."""

from __future__ import annotations

import math
from collections.abc import Mapping
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


def normalise_when(when: Mapping[str, Any] | None) -> dict[str, tuple[JsonScalar, ...]]:
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
        out[str(parent)] = values
    return out
