"""`RandomizedSearchCV`'s ``param_distributions`` read into a tunesmith `Space`.

A value may be a tunesmith parameter, a scipy.stats frozen distribution or a list of values:

- ``loguniform(a, b)`` (``reciprocal``) -> ``Float(a, b, log=True)``
- ``uniform(loc, scale)`` -> ``Float(loc, loc + scale)``
- ``randint(low, high)`` -> ``Int(low, high - 1)`` (scipy's ``high`` is exclusive)
- a list (tuple, array) -> ``Choice`` (``Fixed`` for one value); options that are not JSON scalars
  (tuples, estimators) are chosen by a label, their ``repr``, and handed to the estimator as given

Any other distribution is refused with a message that names it and the uniform range to use
instead: tunesmith samples uniform and log-uniform ranges, so a normal or exponential prior has
no equivalent. A list of dicts (scikit-learn picks one dict, then samples from it) becomes a
``Choice`` named ``"@distributions"`` (the dict's index) with each dict's parameters conditioned on
it; a name that several dicts give different distributions is kept apart as ``"name@<index>"``.
`Translation.to_estimator` turns a trial's parameters back into the estimator's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunesmith.errors import SpaceError
from tunesmith.space import Choice, Fixed, Float, Int, Param, Space

__all__ = ["BRANCH", "Translation", "read_distributions"]

BRANCH = "@distributions"


@dataclass
class Translation:
    """How a trial's parameters map back to the estimator's: names (``"C@1"`` -> ``"C"``) and labels."""

    names: dict[str, str] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_estimator(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in params.items():
            if name == BRANCH:
                continue
            labels = self.labels.get(name)
            out[self.names.get(name, name)] = labels[value] if labels is not None else value
        return out


def read_distributions(value: Any) -> tuple[Space, Translation]:
    """The `Space` and `Translation` for a ``Space``, a dict or a list of dicts of distributions."""
    if isinstance(value, Space):
        return value, Translation()
    if isinstance(value, Mapping):
        return _read_one(value, None)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if not value or not all(isinstance(d, Mapping) for d in value):
            raise SpaceError(
                f"param_distributions must be a dict, a non-empty list of dicts or a ts.Space, got {value!r}: "
                'pass e.g. {"C": loguniform(1e-3, 1e3)}'
            )
        return _read_many(value)
    raise SpaceError(
        f"param_distributions must be a dict, a list of dicts or a ts.Space, got {type(value).__name__}: "
        'pass e.g. {"C": loguniform(1e-3, 1e3), "kernel": ["rbf", "linear"]}'
    )


def _read_one(mapping: Mapping[str, Any], where: int | None) -> tuple[Space, Translation]:
    if not mapping:
        raise SpaceError(_empty(where))
    params: dict[str, Param] = {}
    translation = Translation()
    for name, value in mapping.items():
        param, labels = _param(name, value, where)
        params[name] = param
        if labels is not None:
            translation.labels[name] = labels
    return Space(params), translation


def _read_many(dicts: Sequence[Mapping[str, Any]]) -> tuple[Space, Translation]:
    for i, d in enumerate(dicts):
        if not d:
            raise SpaceError(_empty(i))
    read = [[(name, *_param(name, value, i)) for name, value in d.items()] for i, d in enumerate(dicts)]
    params: dict[str, Param] = {BRANCH: Choice(list(range(len(dicts))))}
    translation = Translation()
    # name -> [(param, labels, branches)]: one entry per distinct distribution a name is given
    variants: dict[str, list[tuple[Param, dict[str, Any] | None, list[int]]]] = {}
    for branch, entries in enumerate(read):
        for name, param, labels in entries:
            same = [v for v in variants.setdefault(name, []) if v[0] == param and v[1] == labels]
            if same:
                same[0][2].append(branch)
            else:
                variants[name].append((param, labels, [branch]))
    keys = {  # (branch, name) -> the parameter's name in the space
        (branch, name): name if len(found) == 1 else f"{name}@{branches[0]}"
        for name, found in variants.items()
        for _, _, branches in found
        for branch in branches
    }
    for name, found in variants.items():
        for param, labels, branches in found:
            key = keys[branches[0], name]
            params[key] = _conditioned(param, branches, {p: keys.get((branches[0], p), p) for p in param.conditions})
            translation.names[key] = name
            if labels is not None:
                translation.labels[key] = labels
    return Space(params), translation


def _conditioned(param: Param, branches: list[int], parents: Mapping[str, str]) -> Param:
    """``param`` active only in ``branches``; its own condition stays, on its parents' names in the space."""
    data = param.to_json()
    data["when"] = {**{parents[p]: v for p, v in data.get("when", {}).items()}, BRANCH: branches}
    return Param.from_json(data)


def _empty(where: int | None) -> str:
    at = "param_distributions" if where is None else f"param_distributions[{where}]"
    return f"{at} must name at least one parameter, got {{}}: add e.g. {{'C': loguniform(1e-3, 1e3)}}"


def _param(name: str, value: Any, where: int | None) -> tuple[Param, dict[str, Any] | None]:
    """One entry as a tunesmith parameter, with the labels of a choice among non-JSON values."""
    at = f"param_distributions[{name!r}]" if where is None else f"param_distributions[{where}][{name!r}]"
    if isinstance(value, Param):
        return value, None
    if hasattr(value, "rvs"):
        return _distribution(at, value), None
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str | bytes):
        return _choice(at, list(value))
    raise SpaceError(
        f"{at} must be a list of values, a scipy.stats distribution or a tunesmith parameter, got {value!r}: "
        f"wrap a single value in a list ([{value!r}])"
    )


def _choice(at: str, values: list[Any]) -> tuple[Param, dict[str, Any] | None]:
    if not values:
        raise SpaceError(f"{at} must list at least one value, got []: add the values to choose from")
    plain = [v.item() if isinstance(v, np.generic) else v for v in values]
    if all(_json_scalar(v) for v in plain):
        options = list({json.dumps(v): v for v in plain}.values())  # a repeated value is one option
        return (Fixed(options[0]) if len(options) == 1 else Choice(options)), None
    labels: dict[str, Any] = {}
    for i, v in enumerate(values):
        label = repr(v)
        if label in labels and labels[label] is not v:
            label = f"{label} #{i}"
        labels[label] = v
    options = list(labels)
    return (Fixed(options[0]) if len(options) == 1 else Choice(options)), labels


def _json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _distribution(at: str, dist: Any) -> Param:
    """A scipy.stats frozen distribution as the tunesmith parameter with the same prior."""
    family = getattr(getattr(dist, "dist", None), "name", None)
    if family is None:
        raise SpaceError(
            f"{at} is a {type(dist).__name__} with rvs() but not a scipy.stats distribution: tunesmith reads "
            "loguniform, uniform and randint from scipy.stats, lists, or ts.Float / ts.Int / ts.Choice"
        )
    low, high = (float(b) for b in dist.support())
    if family in ("loguniform", "reciprocal") and low > 0 and math.isclose(dist.median(), math.sqrt(low * high)):
        return Float(low, high, log=True)
    if family == "uniform":
        return Float(low, high)
    if family == "randint":
        return Fixed(int(low)) if low == high else Int(int(low), int(high))
    lo, hi = (float(q) for q in dist.ppf([0.01, 0.99]))
    lo, hi = (max(lo, low), min(hi, high))
    if family in ("loguniform", "reciprocal"):
        why = "is log-uniform only without loc (its median is not sqrt(low * high))"
    else:
        why = "has no tunesmith equivalent (tunesmith samples uniform and log-uniform ranges, no other priors)"
    if hasattr(dist.dist, "pmf"):
        fix = f"randint({math.floor(lo)}, {math.floor(hi) + 1}) or ts.Int({math.floor(lo)}, {math.floor(hi)})"
    else:
        fix = f"uniform({lo:.4g}, {hi - lo:.4g}) or ts.Float({lo:.4g}, {hi:.4g})"
        if lo > 0 and hi / lo >= 100:
            fix = f"loguniform({lo:.4g}, {hi:.4g}) or ts.Float({lo:.4g}, {hi:.4g}, log=True)"
    raise SpaceError(
        f"{at} is scipy.stats.{family}{_arguments(dist)}, which {why}: use {fix} "
        f"(its 1st to 99th percentile), or a list of values"
    )


def _arguments(dist: Any) -> str:
    parts = [repr(a) for a in getattr(dist, "args", ())]
    parts += [f"{k}={v!r}" for k, v in getattr(dist, "kwds", {}).items()]
    return f"({', '.join(parts)})"
