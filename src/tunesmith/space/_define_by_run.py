"""Define-by-run: a trial asks for its parameters by name as its objective runs (`Trial.suggest_float`, ...).

`AskedParams` answers one trial's requests:

* a parameter the trial's configuration holds (proposed by the sampler, given by `Study.enqueue`, or stored
  when a configuration is re-run) returns that value, once the definition asked for is checked against the
  one the study has and the value against the definition (an enqueued value the study could not check,
  since no trial had asked for the parameter yet, is checked here: outside the range, the trial fails);
* a parameter the study has not seen yet is drawn from the prior of the definition asked for, with the
  trial's seed (the same trial asking for the same name draws the same value), and is recorded, so that
  the study learns it and its samplers propose it from then on;
* a trial that re-runs a fixed configuration (``known=None``: the discipline's seed re-runs, a baseline)
  never draws: asking for a parameter that configuration lacks is an error, since a silent random value
  would make the re-run a different configuration.

A definition is compared without its ``when=`` condition: a `Space` given up front may condition a
parameter, and asking for it by name (while the condition holds) returns its sampled value.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tunesmith.errors import SpaceError
from tunesmith.space._params import Choice, Fixed, Float, Int, JsonScalar, Param
from tunesmith.space._space import Space

__all__ = ["AskedParams", "DefinitionError", "describe", "plain", "same_definition"]


class DefinitionError(SpaceError):
    """A `Trial.suggest_float` (or sibling) call that no value can satisfy: ``low >= high``, ``log=True`` with
    ``low <= 0``, no choices, a name that is not a string. It is a mistake in the objective's code, not in the
    configuration tried (a parameter keeps one definition for the whole study), so `Study.optimize` stops at the
    first trial that raises it (``fail_fast=None`` goes on)."""


def plain(param: Param, value: Any) -> Any:
    """``value`` as the JSON scalar ``param`` holds: numpy scalars unwrapped, a whole float for an integer."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(param, Int) and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(param, Float) and isinstance(value, int):
        return float(value)
    return value


def same_definition(a: Param, b: Param) -> bool:
    """Whether two definitions take the same values in the same way (their conditions aside)."""
    left, right = a.to_json(), b.to_json()
    left.pop("when", None)
    right.pop("when", None)
    return left == right


def describe(name: str, param: Param) -> str:
    """A definition as the call that asks for it (``suggest_float('lr', 1e-05, 0.1, log=True)``)."""
    if isinstance(param, Float):
        extra = (", log=True" if param.log else "") + ("" if param.step is None else f", step={param.step!r}")
        return f"suggest_float({name!r}, {param.low!r}, {param.high!r}{extra})"
    if isinstance(param, Int) and param.base is None:
        extra = (", log=True" if param.log else "") + ("" if param.step == 1 else f", step={param.step!r}")
        return f"suggest_int({name!r}, {param.low!r}, {param.high!r}{extra})"
    if isinstance(param, Choice):
        return f"suggest_categorical({name!r}, {list(param.options)!r})"
    fields = ", ".join(f"{k}={v!r}" for k, v in param.to_json().items() if k not in ("type", "when"))
    return f"{type(param).__name__}({fields})"


class AskedParams:
    """One trial's answers to `Trial.suggest_float` and its siblings, and the definitions it asked for.

    Args:
        number: the trial's number (for messages).
        params: the trial's configuration; a value drawn for a new parameter is added to it in place.
        seed: the trial's seed; a new parameter's value is drawn from ``[seed, crc32(name)]``.
        known: the study's space when the trial was handed out (`Space.empty` before any parameter is
            known), or ``None`` for a fixed configuration, which never draws.
    """

    def __init__(self, number: int, params: dict[str, Any], seed: int, known: Space | None) -> None:
        self._number = number
        self._params = params
        self._seed = seed
        self._known = known
        self.definitions: dict[str, Param] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None) -> Any:
        call = f"suggest_float({name!r}, {low!r}, {high!r}, log={log!r}, step={step!r})"
        value = self._answer(name, _built(call, lambda: Float(low, high, log=log, step=step)), call)
        return float(value)

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False, step: int = 1) -> Any:
        call = f"suggest_int({name!r}, {low!r}, {high!r}, log={log!r}, step={step!r})"
        return int(self._answer(name, _built(call, lambda: Int(low, high, log=log, step=step)), call))

    def suggest_categorical(self, name: str, choices: Sequence[JsonScalar]) -> Any:
        call = f"suggest_categorical({name!r}, {choices!r})"
        return self._answer(name, _built(call, lambda: Choice(choices)), call)

    def to_json(self) -> dict[str, Any]:
        """What flows back to the study: the configuration and the definitions asked for (JSON)."""
        return {"params": dict(self._params), "definitions": {n: p.to_json() for n, p in self.definitions.items()}}

    def _answer(self, name: str, param: Param, call: str) -> Any:
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"{call}: a parameter's name must be a non-empty string, got {name!r}: name it")
        earlier = self.definitions.get(name)
        if earlier is not None:
            if not same_definition(earlier, param):
                raise SpaceError(
                    f"trial {self._number} asked for {name!r} twice with different definitions, first "
                    f"{describe(name, earlier)}, then {describe(name, param)}: ask with one definition, or use "
                    "another name for the second parameter"
                )
            return self._params[name]
        known = None if self._known is None else self._known.get(name)
        if known is not None and not same_definition(known, param):
            fix = (
                f"read the constant as trial.params[{name!r}]"
                if isinstance(known, Fixed)
                else "ask with the study's definition, or use another name (or a new study) for another range"
            )
            raise SpaceError(
                f"{name!r} is asked for as {describe(name, param)}, but the study defines it as "
                f"{describe(name, known)}: a parameter keeps one definition for the whole study, since its "
                f"trials are compared on it; {fix}"
            )
        if name in self._params:
            value = plain(param, self._params[name])
            if not param.contains(value):
                if self._known is not None:  # only `Study.enqueue` gives a value the study has not checked
                    raise SpaceError(
                        f"trial {self._number} was given {name}={value!r} by study.enqueue, which "
                        f"{describe(name, param)} cannot take: enqueue a value inside the range asked for, or "
                        f"leave {name!r} out for the sampler to choose"
                    )
                raise SpaceError(
                    f"trial {self._number}'s configuration holds {name}={value!r}, which {describe(name, param)} "
                    f"cannot take: ask with the definition the configuration was made with"
                )
            self._params[name] = value
        elif self._known is None:
            raise SpaceError(
                f"trial {self._number} re-runs a fixed configuration, which has no {name!r} (it has "
                f"{sorted(self._params)}), so {call} has no value to return: add {name!r} to the configuration "
                "(a baseline's params, say), or ask for it only where the original trials did"
            )
        elif known is not None and not self._known.is_active(name, self._params):
            raise SpaceError(
                f"{name!r} is switched off in trial {self._number} by its condition when="
                f"{ {k: list(v) for k, v in known.conditions.items()} }, so {call} has no value: ask for it only "
                "when the condition holds, or drop when= from the space"
            )
        else:
            Space._check_meaningful(name, param)  # a `SpaceWarning`, in the objective, for a new parameter
            value = param.sample(np.random.default_rng([self._seed, zlib.crc32(name.encode())]))
            self._params[name] = value
        self.definitions[name] = param
        return value


def _built(call: str, make: Callable[[], Param]) -> Param:
    """``make()``; its error, a definition no value can satisfy, is a `DefinitionError` prefixed with the call."""
    try:
        return make()
    except SpaceError as exc:
        raise DefinitionError(f"{call}: {exc}") from None
