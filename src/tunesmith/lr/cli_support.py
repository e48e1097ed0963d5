"""``tunesmith lr-find CONFIG``: the LR range test for a study config whose objective supports it.

The contract. A config supports ``lr-find`` when it names an *LR probe*, a factory that returns a
``step(lr) -> loss`` function (one training step at rate ``lr`` on a fresh model, returning the loss)::

    objective = "train:objective"
    lr_probe = "train:lr_probe"          # the short form

or, with settings::

    [lr_probe]
    function = "train:lr_probe"
    param = "lr"                         # the space parameter the suggested bounds are for
    min_lr = 1e-6
    max_lr = 1.0
    num_steps = 100
    params = { batch_size = 64 }         # fixed values handed to the factory

The factory is called with one argument, a dict of parameters: the centre of the config's space
(each parameter at the middle of its range) updated with ``params``, so a probe can build the
same model the objective would. A factory that takes no argument is called without it.

The dict also holds ``params["seed"]``, the seed to build the model and draw the batches with: ``lr-find
--seed N`` when given, else ``lr_probe.params``' own ``seed``, else the config's ``seed`` (absent when
none of them is set). A probe should read it (``params.get("seed", 0)``): the suggested range is read
from one run, and only a probe that follows the seed lets a second run on another seed check it. A
probe that ignores it keeps working.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.errors import ConfigError
from tunesmith.lr.range_test import MIN_READ_STEPS, RangeTestResult, range_test
from tunesmith.space import Space

__all__ = ["LrFindOutcome", "LrProbeSettings", "probe_settings", "run_lr_find"]

_SETTINGS = {"function", "param", "min_lr", "max_lr", "num_steps", "params"}
_CONTRACT = (
    "add lr_probe = 'module:function' to the config, naming a function that takes the parameters "
    "and returns step(lr) -> loss"
)


@dataclass(frozen=True)
class LrProbeSettings:
    """What a config's ``lr_probe`` entry says."""

    function: str
    param: str = "lr"
    min_lr: float = 1e-7
    max_lr: float = 10.0
    num_steps: int = 100
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LrFindOutcome:
    """A finished ``lr-find``: the range test and what to put in the space."""

    config: Path
    settings: LrProbeSettings
    result: RangeTestResult
    seed: int | None = None  # the probe's params["seed"]; None when it was handed none
    defined_by_run: bool = False  # the config has no [space]: its objective asks for the rate by name

    def bounds_entry(self) -> str:
        """The config line for the searched parameter, e.g. ``lr = { type = "float", ... }``."""
        bounds = self.result.bounds()
        low, high = f"{bounds.low:.3g}", f"{bounds.high:.3g}"
        return f'{self.settings.param} = {{ type = "float", low = {low}, high = {high}, log = true }}'

    def where_to_put(self) -> str:
        """The line saying where the bounds go: the config's ``[space]``, or, for a config without one, the
        objective's own ``trial.suggest_float`` call (or a ``[space]`` table added)."""
        if not self.defined_by_run:
            return f"put in the space: {self.bounds_entry()}"
        bounds = self.result.bounds()
        return (f"ask for it in the objective: trial.suggest_float({self.settings.param!r}, {bounds.low:.3g}, "
                f"{bounds.high:.3g}, log=True) (the config has no [space]), or add a [space] table with "
                f"{self.bounds_entry()}")  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """The settings, the curve, the suggestions and the bounds as JSON values."""
        out: dict[str, Any] = {
            "config": str(self.config),
            "param": self.settings.param,
            "min_lr": self.settings.min_lr,
            "max_lr": self.settings.max_lr,
            "num_steps": self.settings.num_steps,
            "seed": self.seed,
            **self.result.to_json(),
        }
        if "suggestions" in out:
            bounds = self.result.bounds()
            out["bounds"] = {"low": bounds.low, "high": bounds.high, "log": True}
        return out


def probe_settings(entry: object) -> LrProbeSettings:
    """Parse a config's ``lr_probe`` entry (a ``"module:function"`` string or a table)."""
    if entry is None:
        raise ConfigError(f"this config's objective does not support lr-find (no lr_probe entry): {_CONTRACT}")
    if isinstance(entry, str):
        return LrProbeSettings(function=entry)
    if not isinstance(entry, Mapping) or "function" not in entry:
        raise ConfigError(
            f"lr_probe must be 'module:function' or a table with a 'function' key, got {entry!r}: {_CONTRACT}"
        )
    unknown = sorted(set(entry) - _SETTINGS)
    if unknown:
        keys = "key" if len(unknown) == 1 else "keys"
        raise ConfigError(f"unknown {keys} {', '.join(map(repr, unknown))} in lr_probe: known keys are "
                          f"{sorted(_SETTINGS)}")  # fmt: skip
    params = entry.get("params", {})
    if not isinstance(params, Mapping):
        raise ConfigError(f"lr_probe.params must be a table of parameter values, got {params!r}")
    param = entry.get("param", "lr")
    if not isinstance(param, str) or not param:
        raise ConfigError(f"lr_probe.param must be a parameter name, got {param!r}: e.g. param = 'lr'")
    return LrProbeSettings(
        function=str(entry["function"]),
        param=param,
        min_lr=real(
            "min_lr", entry.get("min_lr", 1e-7), exclusive_minimum=0, context="lr_probe", fix="e.g. min_lr = 1e-7"
        ),
        max_lr=real(
            "max_lr", entry.get("max_lr", 10.0), exclusive_minimum=0, context="lr_probe", fix="e.g. max_lr = 10"
        ),
        num_steps=integer(
            "num_steps",
            entry.get("num_steps", 100),
            minimum=MIN_READ_STEPS,
            context="lr_probe",
            fix=f"e.g. num_steps = 100 (a rate is read from at least MIN_READ_STEPS = {MIN_READ_STEPS} steps)",
        ),
        params=dict(params),
    )


def _make_step(factory: Callable[..., Any], params: dict[str, Any], reference: str) -> Callable[[float], float]:
    try:
        takes_params = bool(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        takes_params = True
    step = factory(params) if takes_params else factory()
    if not callable(step):
        raise ConfigError(
            f"lr_probe {reference!r} must return a step(lr) -> loss function, got {type(step).__name__}: {_CONTRACT}"
        )
    return step


def run_lr_find(
    config: str | Path,
    *,
    min_lr: float | None = None,
    max_lr: float | None = None,
    num_steps: int | None = None,
    seed: int | None = None,
) -> LrFindOutcome:
    """Run the range test a config's ``lr_probe`` describes; arguments override its settings.

    ``seed`` reaches the probe as ``params["seed"]``; without it, ``lr_probe.params``' seed or the config's.

    Raises:
        ConfigError: the config is invalid or has no ``lr_probe``.
        RangeTestError: the test saw no usable range (the message says what to change).
    """
    from tunesmith.config import import_object, load_config

    if seed is not None:
        integer("seed", seed, minimum=0, fix="pass e.g. seed=1")
    cfg = load_config(config)
    settings = probe_settings(cfg.extra.get("lr_probe"))
    settings = LrProbeSettings(
        function=settings.function,
        param=settings.param,
        params=settings.params,
        min_lr=settings.min_lr if min_lr is None else min_lr,
        max_lr=settings.max_lr if max_lr is None else max_lr,
        num_steps=settings.num_steps if num_steps is None else num_steps,
    )
    space = cfg.space or Space.empty()  # a study defined by run: the probe's own params alone
    if settings.param not in space:
        close = difflib.get_close_matches(settings.param, list(space), n=1)
        if close:  # a new parameter is fine (the bounds are to be added); a misspelt one would miss the old range
            raise ConfigError(
                f"lr_probe.param {settings.param!r} is not in the space, but {close[0]!r} is: did you mean "
                f"param = '{close[0]}'? (a new name is fine when the rate is not searched yet)"
            )
    factory = import_object(settings.function, base_dir=cfg.path.parent, what="lr_probe")
    if not callable(factory):
        raise ConfigError(f"lr_probe {settings.function!r} is not callable: {_CONTRACT}")
    centre = space.decode(np.full(len(space.dimensions), 0.5)) if space else {}
    params = {**centre, **settings.params}
    # A seed fixed in lr_probe.params is the probe's own choice; the config's seed only fills in for it.
    if seed is not None:
        params["seed"] = seed
    elif "seed" not in settings.params and cfg.seed is not None:
        params["seed"] = cfg.seed
    step = _make_step(factory, params, settings.function)
    result = range_test(step, settings.min_lr, settings.max_lr, settings.num_steps)
    handed = params.get("seed")
    outcome = LrFindOutcome(
        config=cfg.path, settings=settings, result=result, seed=handed if isinstance(handed, int) else None,
        defined_by_run=cfg.space is None,
    )
    _ = result.suggested_lr  # raise RangeTestError now, with its advice, when the curve is unusable
    return outcome
