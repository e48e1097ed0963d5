"""Study configuration files (TOML or YAML) and ``module:function`` references.

A config names everything a `Study` and `Study.optimize` need::

    name = "digits-mlp"
    objective = "tunesmith.demo:objective"
    workers = 2
    executor = "processes"
    sampler = "auto"
    seed = 0

    [metric]
    name = "val_loss"
    direction = "min"

    [[guardrails]]
    metric = "predict_ms"
    op = "<="
    bound = 50

    [budget]
    trials = 40
    wall_time = "10m"

    [space]
    lr = { type = "float", low = 1e-5, high = 1e-1, log = true }
    batch_size = { type = "int", low = 16, high = 256, base = 2 }
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import tomllib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tunesmith._text import excerpt
from tunesmith._validate import duration, integer, memory_size
from tunesmith.budget import Budget, parse_duration
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.executors import EXECUTORS, make_executor
from tunesmith.objective import Guardrail, Metric, metric_named
from tunesmith.samplers import make_sampler
from tunesmith.schedulers import make_scheduler
from tunesmith.space import Space
from tunesmith.study._optimize import _refuse_unrunnable

__all__ = ["StudyConfig", "import_object", "load_config"]

_KNOWN_KEYS = {
    "name", "objective", "storage", "seed", "workers", "executor", "sampler", "scheduler", "metric",
    "guardrails", "budget", "space", "memory_limit", "trial_timeout", "holdout", "lr_probe", "fail_fast",
}  # fmt: skip


@dataclass
class StudyConfig:
    """A parsed, validated config file."""

    path: Path
    name: str
    objective: str
    space: Space
    metric: Metric
    guardrails: list[Guardrail] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)
    sampler: Any = "auto"
    scheduler: Any = None
    storage: str | None = None
    seed: int | None = None
    workers: int = 1
    executor: str = "inline"
    memory_limit: int | None = None
    trial_timeout: float | None = None
    fail_fast: int | None = 3  # `Study.optimize`'s; ``fail_fast = false`` in the file: never stop on failures
    extra: dict[str, Any] = field(default_factory=dict)

    def load_objective(self) -> Callable[..., Any]:
        """The objective function the config names, refused when no executor can run it (not a function, an
        ``async def``, or one that cannot take the trial alone) before any command opens storage for it.

        Raises:
            ConfigError: the reference cannot be imported, or names nothing `Study.optimize` can run.
        """
        objective = import_object(self.objective, base_dir=self.path.parent, what="objective")
        if not callable(objective):
            raise ConfigError(
                f"objective must name a function of a trial, got objective = {self.objective!r}, which is "
                f"{type(objective).__name__} {excerpt(repr(objective))}: name the function, e.g. def "
                f"objective(trial), in {self.path.name}"
            )
        _refuse_unrunnable(objective)
        return objective


def import_object(reference: str, *, base_dir: Path | None = None, what: str = "object") -> Any:
    """Import ``"package.module:attribute"``; the config's directory is importable too."""
    if not isinstance(reference, str) or ":" not in reference:
        raise ConfigError(f"{what} must look like 'module:function', got {reference!r}")
    module_name, _, attribute = reference.partition(":")
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _names_part_of(exc.name, module_name):
            raise _raised_at_import(module_name, what, exc) from None  # a module it imports is missing
        raise ConfigError(
            f"cannot import module {module_name!r} for the {what} ({exc}): check the name and path"
        ) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - anything the user's module raises; Ctrl-C still interrupts
        raise _raised_at_import(module_name, what, exc) from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"module {module_name!r} has no {attribute!r} (the {what}): check the name")
        target = getattr(target, part)
    return target


def _names_part_of(missing: str, module_name: str) -> bool:
    """Whether the missing module ``missing`` is ``module_name`` or a package above it (the reference is wrong)."""
    return module_name == missing or module_name.startswith(missing + ".")


# Frames of the import machinery, not of the user's module: left out of the traceback an import error shows.
_IMPORT_MACHINERY = ("<frozen importlib", os.path.join(Path(importlib.__file__).parent, ""), __file__)


def _raised_at_import(module_name: str, what: str, exc: BaseException) -> ConfigError:
    """One error for an exception that importing the ``what``'s module raised: what it raised, the fix, and the
    traceback of the module's own frames (the import machinery's left out), below the first line."""
    if isinstance(exc, SystemExit):
        raised = f"SystemExit (exit code {exc.code!r})"
    else:
        raised = "".join(traceback.format_exception_only(exc)).strip().splitlines()[-1]
    if isinstance(exc, SyntaxError):
        fix = f"fix the syntax at {exc.filename}, line {exc.lineno}"
    elif isinstance(exc, ModuleNotFoundError):
        fix = f"install {exc.name!r} where this command runs, since module {module_name!r} imports it"
    elif isinstance(exc, SystemExit):
        fix = (f"a module named as the {what} must import without side effects: put the script's main code "
               "under if __name__ == '__main__'")  # fmt: skip
    else:
        fix = (f"a module named as the {what} must import without side effects or errors: fix what raised it "
               "(shown below), or put the script's main code under if __name__ == '__main__'")  # fmt: skip
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_IMPORT_MACHINERY)]
    shown = "".join(traceback.format_list(frames))
    if isinstance(exc, SyntaxError):  # its place is the exception itself, not a frame
        shown += "".join(traceback.format_exception_only(exc))
    where = f"\nwhere it was raised:\n{shown.rstrip()}" if shown.strip() else ""
    return ConfigError(f"importing module {module_name!r} for the {what} raised {raised}: {fix}{where}")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"config must be .toml, .yaml or .yml, got {path.name!r}")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse {path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name} must hold a table of settings at the top level")
    return data


def _int_setting(data: Mapping[str, Any], key: str, default: int | None, minimum: int) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    return integer(key, value, minimum=minimum)


def _duration_setting(data: Mapping[str, Any], key: str) -> float | None:
    """Seconds from a number of seconds or a duration string (``"90s"``, ``"30m"``, ``"1h30m"``), as ``wall_time``."""
    value = data.get(key)
    fix = f'write seconds or a duration, e.g. {key} = 600 or {key} = "10m"'
    if isinstance(value, str):
        try:
            value = parse_duration(value)
        except ConfigError:
            rule = "seconds or a duration such as '90s', '30m', '2h' or '1h30m' (units s, m, h, d)"
            raise ConfigError(f"{key} must be {rule}, got {key}={value!r}: {fix}") from None
    return None if value is None else duration(key, value, fix=fix)


def _fail_fast(data: Mapping[str, Any]) -> int | None:
    """``fail_fast``: how many identical failures, before any trial worked, stop the run (3); ``false`` never."""
    value = data.get("fail_fast", 3)
    if value is False:
        return None
    if isinstance(value, bool):
        raise ConfigError(
            "fail_fast must be a number of failures or false, got fail_fast = true: write fail_fast = 3 (the "
            "default), or fail_fast = false to never stop on failures"
        )
    return integer("fail_fast", value, minimum=1, fix="write fail_fast = 3, or fail_fast = false to keep going")


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a config; every problem becomes one `ConfigError` naming the key."""
    path = Path(path).resolve()
    data = _read(path)
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if "metrics" in unknown:
        raise ConfigError(
            f"{path.name} declares 'metrics': a config file tunes one metric ('metric'); a study with several "
            "objectives is created in Python, ts.Study(space, metrics=[ts.Metric('error'), ts.Metric('latency')]), "
            "and `tunesmith worker NAME` runs it from the command line"
        )
    if unknown:
        hints = [
            f"{key!r} -> {close[0]!r}" for key in unknown if (close := difflib.get_close_matches(key, _KNOWN_KEYS, 1))
        ]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise ConfigError(f"unknown keys {unknown} in {path.name}{hint}: known keys are {sorted(_KNOWN_KEYS)}")
    for key in ("objective", "space", "metric"):
        if key not in data:
            raise ConfigError(f"{path.name} needs a {key!r} entry")
    metric_data = data["metric"]
    try:
        if isinstance(metric_data, str):
            table = (f'metric = {{ name = "{metric_data}", direction = "max" }}' if path.suffix == ".toml"
                     else f"metric: {{name: {metric_data}, direction: max}}")  # fmt: skip
            metric = metric_named(metric_data, fix=f"write {table} (or direction min if lower really is better)")
        elif isinstance(metric_data, Mapping):
            metric = Metric.from_json(metric_data)
        else:
            raise ConfigError(f"metric must be a name or a table with name and direction, got {metric_data!r}")
        guardrails = [Guardrail.from_json(g) for g in data.get("guardrails", [])]
        space = Space.from_json(data["space"])
        budget = Budget.from_json(data.get("budget"))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path.name}: missing or invalid field {exc}") from None
    except TunesmithError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
    workers = _int_setting(data, "workers", 1, 1) or 1
    memory_limit = memory_size("memory_limit", data.get("memory_limit"), allow_none=True)
    trial_timeout = _duration_setting(data, "trial_timeout")
    storage = data.get("storage")
    if storage is not None and not isinstance(storage, str):
        raise ConfigError(f"storage must be a URL string, got {storage!r}")
    # Every setting `tunesmith run` hands on is checked here, before it opens storage: a setting refused once
    # the study was stored left a study of no trials behind, which then refused the fixed config.
    try:
        sampler, scheduler = data.get("sampler", "auto"), data.get("scheduler")
        make_sampler(sampler)
        make_scheduler(scheduler)
        executor = _executor(data.get("executor"), workers, memory_limit, trial_timeout)
    except TunesmithError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
    return StudyConfig(
        path=path,
        name=_study_name(data.get("name"), path),
        objective=str(data["objective"]),
        space=space,
        metric=metric,
        guardrails=guardrails,
        budget=budget,
        sampler=sampler,
        scheduler=scheduler,
        storage=storage,
        seed=_int_setting(data, "seed", None, 0),
        workers=workers,
        executor=executor,
        memory_limit=memory_limit,
        trial_timeout=trial_timeout,
        fail_fast=_fail_fast(data),
        extra={k: data[k] for k in ("holdout", "lr_probe") if k in data},
    )


def _study_name(value: Any, path: Path) -> str:
    """The config's ``name`` (the file's stem when absent), refused with white space at its ends, as `Study` refuses
    it: "quad " and "quad" would be two studies that every listing prints alike."""
    name = str(value or path.stem)
    if name == name.strip():
        return name
    setting = f'name = "{name.strip()}"' if path.suffix == ".toml" else f"name: {name.strip()}"
    fix = f"write {setting}" if value else f"add {setting}, or rename the file, whose name the study takes"
    raise ConfigError(
        f"{path.name}: a study name must have no white space at its ends, which no listing shows, got "
        f"name={name!r}: {fix}"
    )


def _executor(value: Any, workers: int, memory_limit: int | None, trial_timeout: float | None) -> str:
    """The config's ``executor`` (absent: ``processes`` for several workers, else ``inline``), by its registered name,
    refused when unknown or when it cannot run ``workers`` trials under the limits given."""
    if value is None:
        return "processes" if workers > 1 else "inline"
    if not isinstance(value, str):
        raise ConfigError(
            f"executor must name an executor, one of {', '.join(map(repr, EXECUTORS.names()))}, got "
            f'executor = {excerpt(repr(value))}: write e.g. executor = "processes"; an executor with options '
            "(RayExecutor(num_gpus=0.5)) is passed in Python, study.optimize(objective, executor=...)"
        )
    name = value.lower()
    EXECUTORS.lookup(name)  # an unknown name: the known ones and the closest
    if name != "inline":  # `Study.optimize` runs an inline executor given workers or limits as "processes"
        limits = {"memory_limit": memory_limit, "trial_timeout": trial_timeout}
        make_executor(name, workers, **{key: limit for key, limit in limits.items() if limit is not None})
    return name
