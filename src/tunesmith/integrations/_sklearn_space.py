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
Forbidden combinations (`tunesmith.Forbidden`, the search's ``forbidden=``) are added to the space's clauses: they
name the space's parameters, which are the estimator's for a dict (a choice among labelled options by its label, the
option's ``repr``) and, for a list of dicts, ``"@distributions"`` and a name kept apart as ``"name@<index>"``; a
`Space` keeps its own clauses beside them.
`Translation.to_estimator` turns a trial's parameters back into the estimator's. A search records its
translation in the study attribute ``sklearn_params`` (`record_translation`), each labelled option as JSON that
rebuilds it (an estimator as its class and ``get_params(deep=False)``), so that `estimator_params` turns a stored
trial's parameters into the estimator's for the discipline (``finalize``, ``validate_top``, ``evaluate_baseline``).
"""

from __future__ import annotations

import importlib
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tunesmith._attribute_json import Fields, JsonObject, is_object
from tunesmith._caller import outside_stacklevel
from tunesmith.attributes import read_attr, write_attr
from tunesmith.errors import ConfigError, SpaceError
from tunesmith.space import Choice, Fixed, Float, Forbidden, Int, Param, Space, SpaceWarning

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = [
    "BRANCH",
    "EstimatorParamsAttr",
    "Translation",
    "estimator_params",
    "internal_names",
    "read_distributions",
    "record_translation",
]

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


@dataclass(frozen=True, kw_only=True)
class EstimatorParamsAttr(JsonObject):
    """``sklearn_params``: how a `TunesmithSearchCV` study's trial parameters map to its estimator's.

    Attributes:
        names: a space name kept apart for one dict of a list of dicts -> the estimator's (``"C@1"`` -> ``"C"``).
        options: a parameter chosen by label -> each label's value as JSON that rebuilds it (`_stored`), or
            ``None`` for a value that JSON cannot rebuild.
    """

    KEY: ClassVar[str] = "sklearn_params"
    names: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> EstimatorParamsAttr:
        r = Fields(value, where or cls.KEY)
        names = r.mapping("names", lambda v: isinstance(v, str), "an object of strings") or {}
        options = r.mapping("options", is_object, "an object of objects") or {}
        return cls(names=names, options={k: dict(v) for k, v in options.items()}, **r.rest())


class OptionNotStoredWarning(UserWarning):
    """A `TunesmithSearchCV` option (an object in a list of ``param_distributions``) that storage cannot rebuild:
    the discipline cannot hand a trial that chose it its estimator's parameters."""


def record_translation(study: Study, param_distributions: Any) -> None:
    """Record in ``study`` how its trials' parameters map to the estimator's (`EstimatorParamsAttr`)."""
    _, translation = read_distributions(param_distributions)
    options = {name: {label: _stored(value) for label, value in labels.items()}
               for name, labels in translation.labels.items()}  # fmt: skip
    write_attr(study, EstimatorParamsAttr(names=dict(translation.names), options=options))
    lost = [f"{translation.names.get(name, name)}={label}" for name, labels in options.items()
            for label, stored in labels.items() if stored is None]  # fmt: skip
    if lost:  # said at the fit, not first at finalize, after the search was paid for
        warnings.warn(
            f"the options {', '.join(lost)} cannot be stored to be rebuilt (only estimators whose get_params() "
            "rebuild them, top-level classes and functions, JSON values and tuples, lists and dicts of them are): "
            "the search runs, but ts.finalize, ts.validate_top and tunesmith best cannot hand a trial that chose one "
            "its estimator's parameters; give such an option as one of those (a top-level function, not a lambda)",
            OptionNotStoredWarning,
            stacklevel=outside_stacklevel(),
        )


def internal_names(params: Mapping[str, Any]) -> list[str]:
    """The names in ``params`` that only a search over a list of dicts uses (``"@distributions"``, ``"C@1"``)."""
    return [name for name in params if name == BRANCH or re.fullmatch(r".+@\d+", name)]


def estimator_params(study: Study, params: Mapping[str, Any]) -> dict[str, Any]:
    """A `TunesmithSearchCV` study's trial ``params`` as its estimator's: the parameters ``set_params`` takes.

    The list-of-dicts choice (``"@distributions"``) is dropped, names kept apart per dict (``"C@1"``) get their
    own back, and options chosen by label (``"SVC()"``) are rebuilt from what the search recorded. A study that
    no search recorded (``sklearn_params`` absent) has its ``params`` returned as they are, as does a value that
    is not a recorded label (a configuration already in the estimator's terms).

    Raises:
        ConfigError: an option chosen by label whose value JSON could not rebuild (recorded as ``None``).
    """
    recorded = read_attr(study.attrs, EstimatorParamsAttr)
    if recorded is None:
        return dict(params)
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name == BRANCH:
            continue
        labels = recorded.options.get(name)
        if labels is not None and isinstance(value, str) and value in labels:
            if labels[value] is None:
                raise ConfigError(
                    f"study {study.name!r} chose {name}={value}, an option that storage cannot rebuild (only "
                    "estimators whose get_params() rebuild them, top-level classes and functions, JSON values and "
                    "tuples, lists and dicts of them are), so the estimator's parameters of this trial are unknown "
                    f"here: make the option rebuildable and fit the search again, or score trial params "
                    f"{dict(params)!r} with your own code"
                )
            value = _rebuilt(labels[value])
        out[recorded.names.get(name, name)] = value
    return out


def _stored(value: Any) -> Any:
    """JSON that `_rebuilt` turns back into ``value`` (an equal repr), or ``None`` when there is none."""
    try:
        data = _to_json(value)
        return data if repr(_rebuilt(data)) == repr(value) else None
    except (TypeError, ValueError, ImportError, AttributeError):
        return None


def _to_json(value: Any) -> dict[str, Any]:
    if isinstance(value, np.generic):
        value = value.item()
    if _json_scalar(value):
        return {"value": value}
    if isinstance(value, tuple | list):
        return {type(value).__name__: [_to_json(v) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _to_json(v) for k, v in value.items()}}
    if isinstance(value, dict):  # keys JSON objects cannot hold: class_weight={0: 1, 1: 10}, keyed by class label
        return {"pairs": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist()}
    if isinstance(value, type) or (callable(value) and not hasattr(value, "get_params")):
        return {"reference": _reference(value)}
    if hasattr(value, "get_params"):
        params = value.get_params(deep=False)
        return {"estimator": _reference(type(value)), "params": {k: _to_json(v) for k, v in params.items()}}
    raise TypeError(f"{type(value).__name__} is not stored")


def _reference(value: Any) -> str:
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not module or not qualname or "<" in qualname:  # a lambda, a local function or class
        raise TypeError(f"{value!r} has no importable name")
    return f"{module}:{qualname}"


def _rebuilt(data: Mapping[str, Any]) -> Any:
    """The value `_to_json` stored as ``data``."""
    if "value" in data:
        return data["value"]
    if "tuple" in data or "list" in data:
        items = [_rebuilt(v) for v in data.get("tuple", data.get("list", []))]
        return tuple(items) if "tuple" in data else items
    if "dict" in data:
        return {k: _rebuilt(v) for k, v in data["dict"].items()}
    if "pairs" in data:
        return {_rebuilt(k): _rebuilt(v) for k, v in data["pairs"]}
    if "array" in data:
        return np.asarray(data["array"])
    if "reference" in data:
        return _imported(data["reference"])
    if "estimator" in data:
        return _imported(data["estimator"])(**{k: _rebuilt(v) for k, v in data["params"].items()})
    raise ValueError(f"not a stored value: {dict(data)!r}")


def _imported(reference: str) -> Any:
    module, _, qualname = reference.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def read_distributions(value: Any, forbidden: Iterable[Forbidden] | None = ()) -> tuple[Space, Translation]:
    """The `Space` and `Translation` for a ``Space``, a dict or a list of dicts of distributions, with the
    ``forbidden`` clauses (`Forbidden`; ``None``: none) added to a `Space`'s own.

    Raises:
        SpaceError: a distribution tunesmith cannot read; ``forbidden`` not a list of `Forbidden`, or a clause that
            names no parameter of the space or a value it never takes (as `Space` checks them).
    """
    forbidden = forbidden or ()
    if isinstance(value, Space):
        return _with_clauses(value, forbidden), Translation()
    if isinstance(value, Mapping):
        return _read_one(value, None, forbidden)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if not value or not all(isinstance(d, Mapping) for d in value):
            raise SpaceError(
                f"param_distributions must be a dict, a non-empty list of dicts or a ts.Space, got {value!r}: "
                'pass e.g. {"C": loguniform(1e-3, 1e3)}'
            )
        return _read_many(value, forbidden)
    raise SpaceError(
        f"param_distributions must be a dict, a list of dicts or a ts.Space, got {type(value).__name__}: "
        'pass e.g. {"C": loguniform(1e-3, 1e3), "kernel": ["rbf", "linear"]}'
    )


def _with_clauses(space: Space, forbidden: Iterable[Forbidden]) -> Space:
    """``space`` with the ``forbidden`` clauses beside its own, each checked as `Space` checks them; ``space`` itself
    when none is given (it keeps its own)."""
    if isinstance(forbidden, list | tuple) and not forbidden:
        return space
    params = {name: space[name] for name in space}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpaceWarning)  # said when ``space`` was built
        given = Space(params, forbidden=forbidden).forbidden  # checked alone: a refusal names only ``forbidden``
        return Space(params, forbidden=[*space.forbidden, *given])


def _read_one(
    mapping: Mapping[str, Any], where: int | None, forbidden: Iterable[Forbidden] = ()
) -> tuple[Space, Translation]:
    if not mapping:
        raise SpaceError(_empty(where))
    params: dict[str, Param] = {}
    translation = Translation()
    for name, value in mapping.items():
        param, labels = _param(name, value, where)
        params[name] = param
        if labels is not None:
            translation.labels[name] = labels
    return Space(params, forbidden=forbidden), translation


def _read_many(dicts: Sequence[Mapping[str, Any]], forbidden: Iterable[Forbidden] = ()) -> tuple[Space, Translation]:
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
    return Space(params, forbidden=forbidden), translation


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
