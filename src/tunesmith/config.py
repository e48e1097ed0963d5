"""Study configuration files (TOML or YAML) and ``module:function`` references.

A config names everything a `Study` and `Study.optimize` need::

    name = "digits-mlp"
    objective = "tunesmith.demo:objective"
    workers = 2
    executor = "processes"        # or with options: { name = "processes", gpus_per_trial = 1 }
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

Without ``[space]`` the study is defined by run: it learns its parameters from what the objective asks for
(``trial.suggest_float(...)``), as `Study` does with no space.

A study of several objectives lists them in ``[[metrics]]`` in place of ``[metric]`` (the first is the primary),
with an optional ``[reference_point]`` (the hypervolume's bound, by objective name) and an optional ``[choose]``
(the rule `Study.choose` records once the search's budget is spent; needed with a ``[holdout]``)::

    [[metrics]]
    name = "error"
    direction = "min"

    [[metrics]]
    name = "latency_ms"
    direction = "min"

    [reference_point]
    error = 1.0
    latency_ms = 100

    [choose]
    rule = "best"                 # or "knee", or "weights" with weights = { error = 0.7, latency_ms = 0.3 }
    metric = "error"
    bounds = [{ metric = "latency_ms", op = "<=", bound = 30 }]
"""

from __future__ import annotations

import difflib
import importlib
import math
import os
import sys
import tomllib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from tunesmith import choose as choose_rules
from tunesmith._text import excerpt
from tunesmith._validate import duration, integer, memory_size
from tunesmith.budget import Budget, parse_duration
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.executors import EXECUTORS, make_executor
from tunesmith.executors._gpus import gpu_share
from tunesmith.objective import Guardrail, Metric, check_keys, metric_named
from tunesmith.samplers import make_sampler
from tunesmith.schedulers import make_scheduler
from tunesmith.space import Space
from tunesmith.study._optimize import refuse_unrunnable
from tunesmith.study._settings import check_objectives, check_search_objectives
from tunesmith.study._validation_set import checked_name

__all__ = ["StudyConfig", "WarmStartSource", "import_object", "load_config"]

_KNOWN_KEYS = {
    "name", "objective", "storage", "seed", "workers", "executor", "sampler", "scheduler", "metric", "metrics",
    "reference_point", "choose", "guardrails", "budget", "space", "memory_limit", "trial_timeout", "holdout",
    "lr_probe", "fail_fast", "validation_set", "warm_start",
}  # fmt: skip
# The keys of each rule's [choose] table: the rule's own form as the study records it (`choose.Best.to_json`...).
_CHOOSE_KEYS = {"best": ("rule", "metric", "bounds"), "knee": ("rule",), "weights": ("rule", "weights")}
_BOUND_KEYS = ("metric", "op", "bound")

ChoiceRule: TypeAlias = choose_rules.Best | choose_rules.Knee | choose_rules.Weights


@dataclass
class StudyConfig:
    """A parsed, validated config file."""

    path: Path
    name: str
    objective: str
    space: Space | None  # None: no [space], the study learns its parameters from what the objective asks for
    metric: Metric  # the only objective, or the primary (the first) of several
    guardrails: list[Guardrail] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)
    sampler: Any = "auto"
    scheduler: Any = None
    storage: str | None = None
    seed: int | None = None
    workers: int = 1
    executor: str | dict[str, Any] = "inline"  # its name, or a table of its name and options (`_executor`)
    executor_named: bool = False  # whether the file names it (else it follows workers: `_executor`)
    memory_limit: int | None = None
    trial_timeout: float | None = None
    fail_fast: int | None = 3  # `Study.optimize`'s; ``fail_fast = false`` in the file: never stop on failures
    extra: dict[str, Any] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()  # every objective of a study of several ([[metrics]]); empty for one
    reference_point: dict[str, float] | None = None
    choose: ChoiceRule | None = None  # [choose]: the rule the study records once the search's budget is spent
    validation_set: str | None = None  # `Study`'s: the validation set the objective scores on
    warm_start: WarmStartSource | None = None  # earlier results the samplers read first (`Study`'s warm_start)

    def study_metrics(self) -> dict[str, Any]:
        """`Study`'s arguments for what the config optimises: ``metric`` for one objective; ``metrics`` and
        ``reference_point`` for several."""
        if not self.metrics:
            return {"metric": self.metric}
        return {"metrics": list(self.metrics), "reference_point": self.reference_point}

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
        refuse_unrunnable(objective)
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


class _UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping, as TOML does: YAML kept the last silently, so a
    config that set ``trials`` twice ran with whichever came last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` may appear beside keys it also holds
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: the safe loader's own error names it
                break
            if first is not None:  # by the key, not its line: {trials: 3, trials: 5} holds both on one
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first at line {first + 1}): keep one", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _parse_error(exc: Exception) -> str:
    """A parser's error in one line: YAML's names its problem and where, then quotes the text over several lines."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem and exc.problem_mark is not None:
        mark = exc.problem_mark
        context = f"{exc.context}: " if exc.context else ""
        return f"{context}{exc.problem} (at line {mark.line + 1}, column {mark.column + 1})"
    return str(exc)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.load(text, Loader=_UniqueKeys)
        else:
            raise ConfigError(f"config must be .toml, .yaml or .yml, got {path.name!r}")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse {path.name}: {_parse_error(exc)}") from None
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
    if unknown:
        hints = [
            f"{key!r} -> {close[0]!r}" for key in unknown if (close := difflib.get_close_matches(key, _KNOWN_KEYS, 1))
        ]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        keys = "key" if len(unknown) == 1 else "keys"
        raise ConfigError(f"unknown {keys} {', '.join(map(repr, unknown))} in {path.name}{hint}: known keys are "
                          f"{sorted(_KNOWN_KEYS)}")  # fmt: skip
    if "objective" not in data:
        entry = 'objective = "module:function"' if _is_toml(path) else 'objective: "module:function"'
        raise ConfigError(f"{path.name} needs an 'objective' entry, the function a trial runs: write {entry} "
                          "(the module is found beside the config too)")  # fmt: skip
    _one_metric_entry(data, path)
    try:
        metric, objectives = _objectives(data, path)
        reference_point = _reference_point(data.get("reference_point"), objectives, path)
        rule = _choose(data.get("choose"), objectives, path)
        guardrails = [Guardrail.from_json(g) for g in data.get("guardrails", [])]
        space = Space.from_json(data["space"]) if "space" in data else None
        budget = Budget.from_json(data.get("budget"))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path.name}: missing or invalid field {exc}") from None
    except TunesmithError as exc:
        raise ConfigError(f"{path.name}: {exc}") from None
    if objectives and "holdout" in data:
        _holdout_of_several(data["holdout"], objectives, rule, path)
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
        # CMA-ES, median stopping and PBT would rank trials by the first objective alone: refused as `Study` does
        check_search_objectives(make_sampler(sampler), make_scheduler(scheduler), objectives)
        executor = _executor(data.get("executor"), workers, memory_limit, trial_timeout)
        validation_set = checked_name(data.get("validation_set"))
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
        executor_named=data.get("executor") is not None,
        memory_limit=memory_limit,
        trial_timeout=trial_timeout,
        fail_fast=_fail_fast(data),
        extra={k: data[k] for k in ("holdout", "lr_probe") if k in data},
        metrics=objectives,
        reference_point=reference_point,
        choose=rule,
        validation_set=validation_set,
        warm_start=_warm_start(data.get("warm_start"), path),
    )


@dataclass(frozen=True)
class WarmStartSource:
    """A config's ``warm_start``: a CSV file (``csv``, resolved from the config's folder) or a stored study
    (``study``, in ``storage``, else the storage the run uses), with the values the earlier runs used for
    parameters they lack (``fill``, `ts.WarmStart`'s)."""

    csv: Path | None = None
    study: str | None = None
    storage: str | None = None
    fill: dict[str, Any] = field(default_factory=dict)


_WARM_START_KEYS = ("csv", "study", "storage", "fill")


def _warm_start(value: Any, path: Path) -> WarmStartSource | None:
    """The config's ``warm_start``: a string is a CSV file's path, a table names ``csv`` or ``study`` (with
    ``storage``) and a ``fill``; a CSV file that does not exist is refused here, before storage is opened."""
    if value is None:
        return None
    toml = _is_toml(path)
    example = ('warm_start = "earlier.csv", or [warm_start] study = "stage1" with fill = { dropout = 0.1 }' if toml
               else "warm_start: earlier.csv, or warm_start: {study: stage1, fill: {dropout: 0.1}}")  # fmt: skip
    table = {"csv": value} if isinstance(value, str) else value
    check_keys("warm_start", table, _WARM_START_KEYS)
    given = [key for key in ("csv", "study") if key in table]
    if len(given) != 1 or not all(isinstance(table[key], str) and table[key] for key in given):
        raise ConfigError(
            f"{path.name}: warm_start names one source, a CSV file (csv) or a stored study (study), each a non-empty "
            f"string, got {excerpt(repr(value))}: write {example}"
        )
    storage, fill = table.get("storage"), table.get("fill", {})
    if storage is not None and ("study" not in table or not isinstance(storage, str)):
        raise ConfigError(f"{path.name}: warm_start.storage is the URL of the study warm_start.study names, got "
                          f"storage={excerpt(repr(storage))}{'' if 'study' in table else ' beside a csv'}: "
                          f"write {example}")  # fmt: skip
    if not isinstance(fill, Mapping):
        raise ConfigError(f"{path.name}: warm_start.fill maps parameter names to the values the earlier runs used, "
                          f"got {excerpt(repr(fill))}: write {example}")  # fmt: skip
    if "study" in table:
        return WarmStartSource(study=table["study"], storage=storage, fill=dict(fill))
    csv = (path.parent / table["csv"]).resolve()
    if not csv.is_file():
        raise ConfigError(f"{path.name}: warm_start.csv {table['csv']!r} is no file ({csv}; a relative path is read "
                          f"from the config's folder): give the CSV `tunesmith export` wrote")  # fmt: skip
    return WarmStartSource(csv=csv, fill=dict(fill))


def _objectives(data: Mapping[str, Any], path: Path) -> tuple[Metric, tuple[Metric, ...]]:
    """The config's primary metric and every objective (empty for one): from ``metric``, or from ``metrics``, the
    list of several (`check_objectives`: distinct names; one entry is a study of one objective)."""
    if "metrics" in data:
        return check_objectives(None, _metric_list(data["metrics"], path))
    return metric_entry(data["metric"], "metric", path), ()


def _one_metric_entry(data: Mapping[str, Any], path: Path) -> None:
    """Refuse a config without ``metric`` or ``metrics``, or with both."""
    if "metric" in data and "metrics" in data:
        if _is_toml(path):
            fix = ("drop [metric] and list that metric first in [[metrics]] (the first is the primary), or drop "
                   "[[metrics]] to tune one metric")  # fmt: skip
        else:
            fix = ("drop metric: and list that metric first under metrics: (the first is the primary), or drop "
                   "metrics: to tune one metric")  # fmt: skip
        raise ConfigError(
            f"{path.name} declares both 'metric' and 'metrics': a config tunes one metric ('metric') or several "
            f"objectives ('metrics', a list of metric tables), got metric={excerpt(repr(data['metric']))} and "
            f"metrics={excerpt(repr(data['metrics']))}: {fix}"
        )
    if "metric" not in data and "metrics" not in data:
        raise ConfigError(f"{path.name} needs a 'metric' entry (or 'metrics', a list of them, for several objectives)")


def metric_entry(value: Any, what: str, path: Path) -> Metric:
    """One metric of the config: a name (minimised, unless it reads like a score) or a table (`Metric.from_json`)."""
    if isinstance(value, str):
        if what == "metric":
            table = (f'metric = {{ name = "{value}", direction = "max" }}' if _is_toml(path)
                     else f"metric: {{name: {value}, direction: max}}")  # fmt: skip
        else:
            table = (f'{{ name = "{value}", direction = "max" }} as {what}' if _is_toml(path)
                     else f"{{name: {value}, direction: max}} as {what}")  # fmt: skip
        return metric_named(value, fix=f"write {table} (or direction min if lower really is better)")
    if isinstance(value, Mapping):
        try:
            return Metric.from_json(value)
        except ConfigError as exc:
            if what == "metric":
                raise
            raise ConfigError(f"{what}: {exc}") from None
    raise ConfigError(f"{what} must be a name or a table with name and direction, got {excerpt(repr(value))}")


def _metric_list(value: Any, path: Path) -> list[Metric]:
    """The ``metrics`` entry: a non-empty list of metric tables (TOML's ``[[metrics]]``, a YAML list)."""
    if not isinstance(value, list) or not value:
        if _is_toml(path):
            example = ('[[metrics]] tables, e.g. [[metrics]] name = "error" direction = "min", then [[metrics]] '
                       'name = "latency_ms" direction = "min"')  # fmt: skip
        else:
            example = "a list, e.g. metrics: [{name: error, direction: min}, {name: latency_ms, direction: min}]"
        raise ConfigError(f"metrics must be a non-empty list of metrics, got metrics={excerpt(repr(value))}: "
                          f"write {example}")  # fmt: skip
    return [metric_entry(entry, f"metrics entry {i} of {len(value)}", path) for i, entry in enumerate(value, 1)]


def _objective_named(name: Any, objectives: tuple[Metric, ...], what: str) -> str:
    """``name`` when it names one of ``objectives``; else refused with the closest name."""
    names = [m.name for m in objectives]
    if isinstance(name, str) and name in names:
        return name
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"{what} must name one of the objectives {names}, got {name!r}: {hint}use one of those names")


def _reference_point(value: Any, objectives: tuple[Metric, ...], path: Path) -> dict[str, float] | None:
    """The ``reference_point`` table: the hypervolume's bound on each objective, by its name (``None`` when absent:
    the study derives one from its first complete trials).

    A table by name, not a list in the order of ``metrics``: a bound stands next to the objective it bounds, in that
    objective's units, so reordering or adding a metric cannot pair it with another; and it is the form `Study`
    takes and stores (``reference_point={"error": 1.0, ...}``), which `tunesmith status` prints.
    """
    if value is None:
        return None
    example = (
        "[reference_point] " + " ".join(f"{m.name} = ..." for m in objectives)
        if _is_toml(path)
        else "reference_point: {" + ", ".join(f"{m.name}: ..." for m in objectives) + "}"
    )
    if not objectives:
        raise ConfigError(
            f"reference_point bounds the hypervolume of several objectives, got reference_point={excerpt(repr(value))} "
            "with one metric: list the objectives in 'metrics', or drop reference_point"
        )
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"reference_point must be a table of objective name -> bound, got {excerpt(repr(value))}: write {example}"
        )
    for name in value:
        _objective_named(name, objectives, "each name in reference_point")
    missing = [m.name for m in objectives if m.name not in value]
    if missing:
        raise ConfigError(
            f"reference_point must give a bound for every objective, got {dict(value)!r}, which lacks {missing}: "
            f"write {example}, or drop reference_point to have it derived from the first complete trials"
        )
    point = {}
    for metric in objectives:
        bound = value[metric.name]
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not math.isfinite(bound):
            raise ConfigError(
                f"reference_point.{metric.name} must be a finite number, got {bound!r}: give the worst "
                f"{metric.name} worth having, e.g. {example}"
            )
        point[metric.name] = float(bound)
    return point


def _choose(value: Any, objectives: tuple[Metric, ...], path: Path) -> ChoiceRule | None:
    """The ``choose`` table: the rule `Study.choose` applies to the front once the search's budget is spent, in the
    form the study records it (``rule`` = ``"best"`` with ``metric`` and ``bounds``, ``"knee"``, or ``"weights"``
    with ``weights``); ``None`` when absent. Every name is checked here: a typo found after the search would leave
    its trials run and the choice unmade."""
    if value is None:
        return None
    if not objectives:
        raise ConfigError(
            f"choose picks one trial from the Pareto front of several objectives, got choose={excerpt(repr(value))} "
            "with one metric, whose best trial is the pick: drop choose, or list the objectives in 'metrics'"
        )
    example = '[choose] rule = "knee"' if _is_toml(path) else "choose: {rule: knee}"
    if not isinstance(value, Mapping) or value.get("rule") not in _CHOOSE_KEYS:
        given = value.get("rule") if isinstance(value, Mapping) else value
        close = difflib.get_close_matches(str(given), list(_CHOOSE_KEYS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"choose must be a table whose rule is one of {list(_CHOOSE_KEYS)}, got {excerpt(repr(given))}: {hint}"
            f"write e.g. {example}"
        )
    kind = str(value["rule"])
    check_keys(f"choose (rule {kind!r})", value, _CHOOSE_KEYS[kind])
    if kind == "knee":
        return choose_rules.knee()
    if kind == "weights":
        weights = value.get("weights")
        if not isinstance(weights, Mapping):
            raise ConfigError(
                f"choose with rule 'weights' needs a weights table of objective name -> weight, got "
                f"weights={excerpt(repr(weights))}: write e.g. weights = {{ {objectives[0].name} = 1 }}"
            )
        for name in weights:
            _objective_named(name, objectives, "each name in choose.weights")
        return choose_rules.weights(weights)
    metric = _objective_named(value.get("metric"), objectives, "choose.metric (the objective rule 'best' ranks on)")
    bounds = value.get("bounds", [])
    if not isinstance(bounds, list) or not all(isinstance(b, Mapping) for b in bounds):
        raise ConfigError(
            f"choose.bounds must be a list of tables with metric, op and bound, got {excerpt(repr(bounds))}: write "
            f"e.g. bounds = [{_bound_example(path)}]"
        )
    checked: dict[str, tuple[str, float]] = {}
    for bound in bounds:
        check_keys("each of choose.bounds", bound, _BOUND_KEYS)
        missing = [key for key in _BOUND_KEYS if key not in bound]
        if missing:
            raise ConfigError(f"each of choose.bounds needs metric, op and bound, got {dict(bound)!r}, which lacks "
                              f"{missing}: write e.g. {_bound_example(path)}")  # fmt: skip
        name = _objective_named(bound["metric"], objectives, "each metric of choose.bounds")
        if name in checked:
            raise ConfigError(f"choose.bounds bounds {name!r} twice, got {bounds!r}: give each objective one bound")
        checked[name] = (bound["op"], bound["bound"])
    try:
        return choose_rules.best(metric, checked)  # checks each op and bound
    except ConfigError as exc:
        raise ConfigError(f"choose.bounds: {exc}") from None


def _holdout_of_several(holdout: Any, objectives: tuple[Metric, ...], rule: ChoiceRule | None, path: Path) -> None:
    """Refuse a ``holdout`` of a config of several objectives that names no ``choose`` rule, or sets ``top``."""
    if rule is None:
        raise ConfigError(_choice_needed(objectives, path))
    if isinstance(holdout, Mapping) and "top" in holdout:
        raise ConfigError(
            f"holdout.top is how many of the best trials by one metric are re-run across seeds, got "
            f"holdout.top={holdout['top']!r} with {len(objectives)} objectives, where the re-runs and the holdout "
            "judge the one configuration the choose rule picks from the Pareto front: drop top"
        )


def _choice_needed(objectives: tuple[Metric, ...], path: Path) -> str:
    """Why a config of several objectives with a holdout needs a ``choose`` rule, and the fix."""
    add = ('[choose] rule = "knee" (or rule = "best" with metric and bounds, or rule = "weights" with weights)'
           if _is_toml(path) else
           "choose: {rule: knee} (or rule best with metric and bounds, or rule weights with weights)")  # fmt: skip
    return (
        f"{path.name} declares a holdout and {len(objectives)} objectives ({', '.join(m.name for m in objectives)}) "
        "but no choose rule: the re-runs across seeds and the holdout judge the one configuration a rule picks from "
        f"the Pareto front, and the run cannot pick it for you; add {add}, which is applied once the search's budget "
        "is spent, or drop the holdout, run the search, pick with `tunesmith choose` (or study.choose(...) in Python) "
        "after looking at the front (`tunesmith best`), and open the holdout with `tunesmith finalize`"
    )


def _bound_example(path: Path) -> str:
    return (
        '{ metric = "latency_ms", op = "<=", bound = 30 }'
        if _is_toml(path)
        else '{metric: latency_ms, op: "<=", bound: 30}'
    )


def _is_toml(path: Path) -> bool:
    return path.suffix == ".toml"


def _study_name(value: Any, path: Path) -> str:
    """The config's ``name`` (the file's stem when absent), refused with white space at its ends, as `Study` refuses
    it: "quad " and "quad" would be two studies that every listing prints alike."""
    if value is not None and (not isinstance(value, str) or not value):
        # YAML reads an unquoted 00123 as the number 83 and yes as true; an empty name fell back on the file's
        quoted = f'"{value}"' if isinstance(value, str) else repr(value)
        raise ConfigError(
            f"{path.name}: a study name must be a non-empty string, got name={quoted} ({type(value).__name__}): "
            + ("quote it in the file, as YAML reads an unquoted 00123 as a number and yes as true"
               if value != "" else f"write a name, or leave name out for the file's, {path.stem!r}")
        )  # fmt: skip
    name = str(value or path.stem)
    if name == name.strip():
        return name
    setting = f'name = "{name.strip()}"' if path.suffix == ".toml" else f"name: {name.strip()}"
    fix = f"write {setting}" if value else f"add {setting}, or rename the file, whose name the study takes"
    raise ConfigError(
        f"{path.name}: a study name must have no white space at its ends, which no listing shows, got "
        f"name={name!r}: {fix}"
    )


# Settings of the whole config that the executor takes too: written once, at the top level, not in its table.
_TOP_LEVEL_LIMITS = ("workers", "memory_limit", "trial_timeout")


def _executor(value: Any, workers: int, memory_limit: int | None, trial_timeout: float | None) -> str | dict[str, Any]:
    """The config's ``executor`` (absent: ``processes`` for several workers, else ``inline``): its registered name, or
    for a table with options (``{name = "processes", gpus_per_trial = 1}``) the table with that name, which
    `Study.optimize` builds with the workers and limits. Refused when unknown, or when it cannot run ``workers``
    trials under the limits and options given (built once here, so that nothing is stored before it is).

    The GPUs are the machine's, not the config's: ``gpus_per_trial`` is checked here as a value only, so that a
    config is read where no GPU is (``tunesmith plan`` on a laptop, a worker with fewer); ``tunesmith run`` checks it
    against this machine's GPUs before it stores anything (`cli._run._check_before_storing`)."""
    if value is None:
        return "processes" if workers > 1 else "inline"
    table: dict[str, Any] = {}
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        table = {str(key): option for key, option in value.items() if key != "name"}
        value = value["name"]
    if not isinstance(value, str):
        raise ConfigError(
            f"executor must name an executor, one of {', '.join(map(repr, EXECUTORS.names()))}, got "
            f'executor = {excerpt(repr(value))}: write e.g. executor = "processes", or a table with its name and '
            'options, executor = {name = "processes", gpus_per_trial = 1}'
        )
    name = value.lower()
    EXECUTORS.lookup(name)  # an unknown name: the known ones and the closest
    if doubled := [key for key in _TOP_LEVEL_LIMITS if key in table]:
        raise ConfigError(
            f"{doubled[0]} is a setting of the whole config, got {doubled[0]} = {excerpt(repr(table[doubled[0]]))} in "
            f"the executor table: write {doubled[0]} = ... at the top level of the config, beside executor"
        )
    limits = {"memory_limit": memory_limit, "trial_timeout": trial_timeout}
    given = {key: limit for key, limit in limits.items() if limit is not None}
    built = dict(table)
    if name == "processes" and built.get("gpus_per_trial") is not None:
        gpu_share(built.pop("gpus_per_trial"))
    if name != "inline" or table:  # `Study.optimize` runs an inline executor given workers or limits as "processes"
        make_executor({"name": name, **built}, workers, **given)
    return {"name": name, **table} if table else name
