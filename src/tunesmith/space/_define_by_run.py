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
parameter, and asking for it by name (while the condition holds) returns its sampled value. A range that
holds one value (``suggest_int('k', 1, 1)``, which Optuna answers with 1) defines the constant `Fixed(1)`;
asked later with a wider range, it is another definition. A definition other than the study's (or than
the one the same trial asked for first) is a `DefinitionError`: the objective asks for it that way in
every later trial too.
"""

from __future__ import annotations

import math
import traceback
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.errors import SpaceError
from tunesmith.space._params import Choice, Fixed, Float, Int, JsonScalar, Param
from tunesmith.space._space import Space

__all__ = ["ONE_DEFINITION", "AskedParams", "DefinitionError", "describe", "failure_line", "plain", "same_definition"]

# The rule and the fix that end the message of a parameter asked for with a definition other than the study's.
ONE_DEFINITION = (
    "a parameter keeps one definition for the whole study, since its trials are compared on it; ask with the "
    "study's definition in every trial (a bound computed from the data or from the trial, or a range that holds "
    "one value in some trials, makes another definition), or start a new study (another name) for the new one"
)


class DefinitionError(SpaceError):
    """A `Trial.suggest_float` (or sibling) call that no value can satisfy (``low > high``, ``log=True`` with
    ``low <= 0``, no choices, a name that is not a string), or whose definition contradicts the one the study
    has (or the one the same trial asked for first). It is a mistake in the objective's code, not in the
    configuration tried (a parameter keeps one definition for the whole study, and the objective asks the same
    way in every later trial), so `Study.optimize` stops at the first trial that raises it (``fail_fast=None``
    goes on). Its message holds no trial number, so every trial it fails reads the same."""


def failure_line(error: DefinitionError) -> str:
    """``error`` as the exception line of a trial's stored traceback (which `Study.optimize`'s fail-fast reads), for
    a conflict found when the trial is told rather than raised in the objective."""
    return "".join(traceback.format_exception_only(error)).strip()


def plain(param: Param, value: Any) -> Any:
    """``value`` as the JSON scalar ``param`` holds: numpy scalars unwrapped, a whole float for an integer, a
    number equal to a numeric constant as that constant."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return value
    if isinstance(param, Int) and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(param, Float) and isinstance(value, int):
        return float(value)
    if isinstance(param, Fixed) and _numeric(value) and _numeric(param.value) and value == param.value:
        return param.value  # the constant 1 given as 1.0, or the other way round
    return value


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_definition(a: Param, b: Param) -> bool:
    """Whether two definitions take the same values in the same way (their conditions aside)."""
    left, right = a.to_json(), b.to_json()
    left.pop("when", None)
    right.pop("when", None)
    return left == right


def describe(name: str, param: Param) -> str:
    """A definition as the call that asks for it (``suggest_float('lr', 1e-05, 0.1, log=True)``); a constant
    (a range that holds one value, or a `Fixed` given up front) as ``the constant 1``."""
    if isinstance(param, Fixed):
        return f"the constant {param.value!r}"
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
        offered: the values the study proposed for learned parameters (ones trials asked for by name), kept
            out of ``params`` until the objective asks for them: a branch that never asks for one never sees it.
    """

    def __init__(self, number: int, params: dict[str, Any], seed: int, known: Space | None,
                 offered: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self._number = number
        self._params = params
        self._seed = seed
        self._known = known
        self.offered: dict[str, Any] = dict(offered or {})
        self.definitions: dict[str, Param] = {}
        # Names whose enqueued value the ask refused (outside what it asks for): the objective asked for them, and
        # stopped there, so the names it never reached were not left unused by its design.
        self.refused: set[str] = set()

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None) -> Any:
        call = f"suggest_float({name!r}, {low!r}, {high!r}, log={log!r}, step={step!r})"
        param = _built(call, lambda: _float_definition(low, high, log=log, step=step))
        return float(self._answer(name, param, call))

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False, step: int = 1) -> Any:
        call = f"suggest_int({name!r}, {low!r}, {high!r}, log={log!r}, step={step!r})"
        param = _built(call, lambda: _int_definition(low, high, log=log, step=step))
        return int(self._answer(name, param, call))

    def suggest_categorical(self, name: str, choices: Sequence[JsonScalar]) -> Any:
        call = f"suggest_categorical({name!r}, {choices!r})"
        return self._answer(name, _built(call, lambda: Choice(choices)), call)

    def to_json(self) -> dict[str, Any]:
        """What flows back to the study: the configuration and the definitions asked for (JSON), and the names whose
        enqueued value an ask refused (``refused``, only when there are any)."""
        out = {"params": dict(self._params), "definitions": {n: p.to_json() for n, p in self.definitions.items()}}
        return out | ({"refused": sorted(self.refused)} if self.refused else {})

    def _answer(self, name: str, param: Param, call: str) -> Any:
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"{call}: a parameter's name must be a non-empty string, got {name!r}: name it")
        earlier = self.definitions.get(name)
        if earlier is not None:
            if not same_definition(earlier, param):
                raise DefinitionError(
                    f"{name!r} is asked for twice in one trial with different definitions, first "
                    f"{describe(name, earlier)}, then {describe(name, param)}: a parameter has one definition, and "
                    "the objective asks this way in every trial; ask with one definition, or use another name for "
                    "the second parameter"
                )
            return self._params[name]
        known = None if self._known is None else self._known.get(name)
        if known is not None and not same_definition(known, param):
            constant = (
                f"; if the study's space declares it Fixed, read the constant as trial.params[{name!r}]"
                if isinstance(known, Fixed) and not isinstance(param, Fixed)
                else ""
            )
            raise DefinitionError(
                f"{name!r} is asked for as {describe(name, param)}, but the study defines it as "
                f"{describe(name, known)}: {ONE_DEFINITION}{constant}"
            )
        if name not in self._params and name in self.offered:  # asked for now: the study's proposal is its value
            _store(self._params, name, self.offered.pop(name))
        if name in self._params:
            value = plain(param, self._params[name])
            if not param.contains(value):
                if self._known is not None:  # only `Study.enqueue` gives a value the study has not checked
                    self.refused.add(name)
                    raise SpaceError(
                        f"trial {self._number} was given {name}={value!r} by study.enqueue, which "
                        f"{describe(name, param)} cannot take: enqueue a value inside the range asked for, or "
                        f"leave {name!r} out for the sampler to choose"
                    )
                raise SpaceError(
                    f"trial {self._number}'s configuration holds {name}={value!r}, which {describe(name, param)} "
                    f"cannot take: ask with the definition the configuration was made with"
                )
            _store(self._params, name, value)
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
            _store(self._params, name, value)
        self.definitions[name] = param
        return value


def _store(params: dict[str, Any], name: str, value: Any) -> None:
    """Set ``params[name]`` to the trial's answer: past the refusal of `tunesmith.trial.TrialParams`, which is read-only
    to the objective's code, not to the trial's own ``suggest_*`` calls."""
    dict.__setitem__(params, name, value)


def _one_value(low: Any, high: Any) -> bool:
    """Whether ``[low, high]`` holds one value (``low == high``, numbers only), which Optuna answers with.

    Raises:
        SpaceError: ``low > high``: no value fits (the parameters' own message offers `Fixed`, which a
            ``suggest_*`` call spells as ``low == high``).
    """
    numbers = [v for v in (low, high) if isinstance(v, int | float | np.integer | np.floating)]
    if len(numbers) < 2 or any(isinstance(v, bool) for v in numbers):
        return False  # the parameter's own checks name what is wrong
    if low > high:
        raise SpaceError(f"low <= high must hold, got low={low!r}, high={high!r}: swap them (low == high: a constant)")
    return bool(low == high)


def _int_definition(low: Any, high: Any, *, log: Any, step: Any) -> Param:
    """What ``suggest_int`` asks for: an `Int`, or for ``low == high`` the constant ``low``, its other arguments
    checked as `Int` checks them."""
    if not _one_value(low, high):
        return Int(low, high, log=log, step=step)
    whole = int(low) if isinstance(low, float) and low.is_integer() else low  # 3.0 means 3, as for `Int`
    value = integer("low", whole, numpy=True, error=SpaceError, fix="use suggest_float for real values")
    integer("step", step, minimum=1, numpy=True, error=SpaceError, fix="use step=1")
    if _switch(log) and value < 1:
        raise SpaceError(f"low must be >= 1 when log=True, got low={value}: use low=1 or log=False")
    if _switch(log) and step != 1:
        raise SpaceError(f"step cannot be combined with log=True, got step={step}: drop one of them")
    return Fixed(value)


def _float_definition(low: Any, high: Any, *, log: Any, step: Any) -> Param:
    """What ``suggest_float`` asks for: a `Float`, or for ``low == high`` the constant ``low``, its other arguments
    checked as `Float` checks them."""
    if not _one_value(low, high):
        return Float(low, high, log=log, step=step)
    value = real("low", low, numpy=True, error=SpaceError, fix="pass a float such as 0.1")
    if _switch(log) and value <= 0:
        raise SpaceError(f"low must be > 0 when log=True, got low={low!r}: use low=1e-8 or log=False")
    if step is not None:
        real("step", step, exclusive_minimum=0.0, numpy=True, error=SpaceError, fix="use step=None for a constant")
        if _switch(log):
            raise SpaceError(f"step cannot be combined with log=True, got step={step!r}: drop one of them")
    return Fixed(float(value))


def _switch(value: Any) -> bool:
    """``log``: True or False (a NumPy bool too), never a truthy string."""
    if not isinstance(value, bool | np.bool_):
        raise SpaceError(f"log must be True or False, got log={value!r}: pass log=True or log=False")
    return bool(value)


def _built(call: str, make: Callable[[], Param]) -> Param:
    """``make()``; its error, a definition no value can satisfy, is a `DefinitionError` prefixed with the call."""
    try:
        return make()
    except SpaceError as exc:
        raise DefinitionError(f"{call}: {exc}") from None
