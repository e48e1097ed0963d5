"""The stored spec: what a study is, written once when it is created and checked on every reopening.

Its budget is the one part that may change, and only by `extend_budget`: upwards, explicitly, and
recorded in the study's ``budget_log``; a limit it lacks may be added only before its first trial. Its space changes
only before any trial (`replace_space`): no trial was drawn from it yet, so a space given on reopening (a clause
fixed) replaces it, saying what changed.
"""

from __future__ import annotations

import json
import re
import shlex
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tunesmith._attribute_json import Fields, JsonObject, shape_error
from tunesmith._caller import outside_stacklevel
from tunesmith._text import excerpt
from tunesmith._validate import integer
from tunesmith.attributes import BaselineAttr, BudgetChangeAttr, BudgetLogAttr, read_attr, write_attr
from tunesmith.budget import Budget, plain_number
from tunesmith.errors import ConfigError, SpaceError
from tunesmith.objective import Guardrail, Metric
from tunesmith.samplers import make_sampler
from tunesmith.schedulers import make_scheduler
from tunesmith.space import Space, SpaceWarning
from tunesmith.study._define_by_run import learned_space
from tunesmith.study._known import refuse_unread_baseline
from tunesmith.study._search_progress import command_arguments

if TYPE_CHECKING:
    from tunesmith.storage import Storage, StudyInfo
    from tunesmith.study._settings import Settings

__all__ = [
    "SAMPLER_LOG", "SPEC_VERSION", "SamplerChange", "StudySpec", "check_space_current", "config_entry",
    "extend_budget", "param_text", "replace_space", "sampler_changes",
]  # fmt: skip

_LIMITS = ("trials", "wall_time", "resource", "compute")

SPEC_VERSION = 1


@dataclass(frozen=True)
class StudySpec:
    """A study's definition as stored with it (JSON in the storage's ``spec`` column).

    ``sampler`` and ``scheduler`` are their ``describe()`` forms, which `make_sampler` and
    `make_scheduler` rebuild. ``retries``, ``heartbeat_interval`` and ``grace`` are ``None`` in
    studies stored before they were recorded. ``objectives`` (every objective, ``metric`` first) and
    ``reference_point`` (as given, in the objectives' units) are stored only for a multi-objective study.
    ``space`` is the space given up front (``None``, JSON null, for a define-by-run study); `search_space`
    adds the parameters trials asked for by name. ``trial_cost`` (declared seconds per trial, by which
    ``sampler="auto"`` chooses) is stored only when declared, so a spec without one reads as before.
    """

    space: Space | None
    metric: Metric
    seed: int
    guardrails: tuple[Guardrail, ...] = ()
    budget: Budget = field(default_factory=Budget)
    sampler: Any = None
    scheduler: Any = None
    retries: int | None = None
    heartbeat_interval: float | None = None
    grace: float | None = None
    objectives: tuple[Metric, ...] = ()
    reference_point: dict[str, float] | None = None
    trial_cost: float | None = None
    version: int = SPEC_VERSION

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "space": None if self.space is None else self.space.to_json(),
            "metric": self.metric.to_json(),
            "guardrails": [g.to_json() for g in self.guardrails],
            "budget": self.budget.to_json(),
            "sampler": self.sampler,
            "scheduler": self.scheduler,
            "seed": self.seed,
        }
        if self.retries is not None:
            data["retries"] = self.retries
        if self.heartbeat_interval is not None:
            data["heartbeat_interval"] = self.heartbeat_interval
        if self.grace is not None:
            data["grace"] = self.grace
        if self.objectives:
            data["objectives"] = [m.to_json() for m in self.objectives]
        if self.reference_point is not None:
            data["reference_point"] = dict(self.reference_point)
        if self.trial_cost is not None:
            data["trial_cost"] = self.trial_cost
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StudySpec:
        """Read a stored spec (older specs lack ``retries``, ``heartbeat_interval``, ``grace`` and ``trial_cost``, and
        may hold a resource budget of inf, read as none: `Budget.from_json`)."""
        return cls(
            space=None if data.get("space") is None else Space.from_json(data["space"], stored=True),
            metric=Metric.from_json(data["metric"]),
            seed=int(data["seed"]),
            guardrails=tuple(Guardrail.from_json(g) for g in data.get("guardrails", [])),
            budget=Budget.from_json(data.get("budget"), stored=True),
            sampler=data.get("sampler"),
            scheduler=data.get("scheduler"),
            retries=None if data.get("retries") is None else int(data["retries"]),
            heartbeat_interval=_seconds_or_none(data.get("heartbeat_interval")),
            grace=_seconds_or_none(data.get("grace")),
            objectives=tuple(Metric.from_json(m) for m in data.get("objectives", [])),
            reference_point=None if data.get("reference_point") is None else dict(data["reference_point"]),
            trial_cost=_seconds_or_none(data.get("trial_cost")),
            version=int(data.get("version", SPEC_VERSION)),
        )

    def search_space(self, attrs: Mapping[str, Any]) -> Space:
        """The study's space now: the one given up front extended by the parameters trials asked for
        by name (the ``learned_space`` attribute in ``attrs``); `Space.empty` before any is known."""
        return learned_space(self.space, attrs)

    def arguments(self) -> dict[str, Any]:
        """`Study`'s arguments that rebuild the stored study (what `Study.load` passes)."""
        objectives: dict[str, Any] = (
            {"metrics": list(self.objectives), "reference_point": self.reference_point}
            if self.objectives
            else {"metric": self.metric}
        )
        return dict(
            space=self.space, guardrails=list(self.guardrails), sampler=self.sampler, **objectives,
            scheduler=self.scheduler, budget=self.budget, seed=self.seed, retries=self.retries or 0,
            heartbeat_interval=self.heartbeat_interval, grace=self.grace, trial_cost=self.trial_cost,
        )  # fmt: skip

    def check_reopened(
        self,
        name: str,
        where: str,
        settings: Settings,
        attrs: Mapping[str, Any] | None = None,
        *,
        sampler: Any = None,
        scheduler: Any = None,
    ) -> None:
        """Refuse to reopen study ``name`` (stored as ``self``, with attributes ``attrs``) with settings
        that contradict it.

        A budget the study had before a recorded extension (in ``budget_log``) is no contradiction:
        a config or a script written before `extend_budget` still resumes the study, with its new budget.
        ``sampler`` and ``scheduler`` are the ones given (see `check_plugins`); ``None``: not given.

        Raises:
            ConfigError: naming the setting that differs, the stored and the given value, and the fix.
        """
        if settings.space is not None and self.space != settings.space:
            raise ConfigError(_space_mismatch(name, where, self.space, settings.space))
        if self.metric != settings.metric or self.objectives != settings.objectives:
            if _unscaled(self) == _unscaled(settings):
                raise ConfigError(
                    f"study {name!r} exists with {_objectives_text(self)}, not {_objectives_text(settings)}: a "
                    "metric's scale sets how the verdict reads its differences (points of the scale), and a study "
                    "keeps the one it was created with; give the stored scale (or none) to resume it, or create a "
                    "new study with the scale"
                )
            raise ConfigError(
                f"study {name!r} exists with {_objectives_text(self)}, not {_objectives_text(settings)}: "
                "use a new name for different objectives, or ts.Study.load(name, storage) to resume it as stored"
            )
        if settings.given_reference is not None and settings.given_reference != self.reference_point:
            stored = "no reference point given" if self.reference_point is None else f"{self.reference_point}"
            raise ConfigError(
                f"study {name!r} exists with reference_point {stored}, not {settings.given_reference}: the "
                "hypervolume's reference never moves; drop reference_point to resume, or use a new name"
            )
        if settings.given_seed is not None and self.seed != settings.given_seed:
            raise ConfigError(
                f"study {name!r} exists with seed={self.seed}, not seed={settings.given_seed}: "
                "drop the seed to resume, or use a new name"
            )
        self.check_plugins(name, where, sampler=sampler, scheduler=scheduler)
        if settings.given_retries is not None and self.retries is not None and self.retries != settings.given_retries:
            raise ConfigError(
                f"study {name!r} exists with retries={self.retries}, not retries={settings.given_retries}: "
                "drop retries to resume (every worker must re-queue alike), or use a new name"
            )
        if settings.given_grace is not None and self.grace is not None and self.grace != settings.given_grace:
            raise ConfigError(
                f"study {name!r} exists with grace={self.grace:g}, not grace={settings.given_grace:g}: drop grace "
                "to resume with the stored value (every worker must judge lost trials alike), or use a new name"
            )
        if settings.trial_cost is not None and self.trial_cost is not None and self.trial_cost != settings.trial_cost:
            raise ConfigError(
                f"study {name!r} exists with trial_cost={plain_number(self.trial_cost)}, not "
                f"trial_cost={plain_number(settings.trial_cost)}: "
                "drop trial_cost to resume with the stored value (sampler='auto' chooses by it, and every worker "
                "must choose alike), or use a new name"
            )
        if settings.given_budget is not None and settings.given_budget != self.budget:
            self._check_budget(name, where, settings.given_budget, attrs or {})
        if settings.given_guardrails is not None and set(settings.given_guardrails) != set(self.guardrails):
            raise ConfigError(
                f"study {name!r} exists in {where} with guardrails {_guardrails_text(self.guardrails)}, not "
                f"{_guardrails_text(settings.given_guardrails)}: its trials were judged by the stored ones, so "
                "they cannot change; pass the stored guardrails (or none: guardrails=None, ts.Study.load) to "
                "resume, or use a new name for other guardrails"
            )

    def check_plugins(self, name: str, where: str, *, sampler: Any = None, scheduler: Any = None) -> None:
        """Refuse to reopen study ``name`` with another sampler or scheduler than the stored ones (`Study` passes
        only the scheduler: another sampler is a switch it records, `switch_sampler`).

        ``sampler`` and ``scheduler`` are the ones given, in any form `make_sampler` and `make_scheduler`
        take; ``None`` (and ``sampler="auto"``, the default) means none given: the study resumes with the
        stored one. They are compared as rebuilt (``describe()``), so ``"asha"`` equals the ``asha`` table
        with its defaults, and a form stored by an older tunesmith gains the settings added since.

        Raises:
            ConfigError: naming which differs, the stored and the given form, and the fix.
        """
        for kind, given, stored, make in (
            ("sampler", None if _is_auto(sampler) else sampler, self.sampler, make_sampler),
            ("scheduler", scheduler, self.scheduler, make_scheduler),
        ):
            if given is None or stored is None:
                continue  # not given (the stored one runs), or a study stored without one
            wanted, kept = _plugin_form(make(given)), _plugin_form(make(stored))
            if wanted != kept:
                raise ConfigError(
                    f"study {name!r} exists in {where} with {kind} {_plugin_text(kept, wanted)}, not "
                    f"{_plugin_text(wanted, kept)}: its trials were chosen and judged by the stored {kind}, so it "
                    f"cannot change; drop the {kind} (from the config, or {kind}= in Python) to resume with the "
                    f"stored one, pass the stored one ({kind} = {_plugin_value(kept)}), or use a new name "
                    f"(tunesmith run --name NEW, or name=) for another {kind}"
                )

    def _check_budget(self, name: str, where: str, given: Budget, attrs: Mapping[str, Any]) -> None:
        log = read_attr(attrs, BudgetLogAttr)
        if log is not None and any(Budget.from_json(change.old, stored=True) == given for change in log.changes):
            return  # the budget before a recorded extension: the study resumes with the extended one
        changed = _raised_or_added_limits(self.budget, given)
        if changed:
            added = [key for key in changed if getattr(self.budget, key) is None]
            raised = {key: value for key, value in changed.items() if key not in added}
            if raised:
                fix = (
                    "a stored budget changes only by an explicit, recorded extension: run "
                    f"`{_extend_command(name, where, raised)}` (or study.extend_budget({_arguments(raised)})), "
                    "then resume"
                )
            if added:
                fix = (f"{fix}. A" if raised else "a") + (
                    f" limit the study lacks ({', '.join(added)}) is added only before its first trial "
                    f"(`{_extend_command(name, where, changed)}`, or study.extend_budget({_arguments(changed)})); "
                    f"once it has trials, {_keep_or_rename(name, added)}"
                )
        else:
            fix = (
                f"a stored budget never shrinks: give the stored one to resume ({_budget_config(self.budget)} in "
                "the config; budget=None or ts.Study.load in Python), or use a new name for another budget "
                "(tunesmith run CONFIG --name NEW, or name= in Python)"
            )
        raise ConfigError(
            f"study {name!r} exists in {where} with budget {self.budget.describe()}, not {given.describe()}: {fix}"
        )


def _is_auto(sampler: Any) -> bool:
    return isinstance(sampler, str) and sampler == "auto"


def _plugin_form(plugin: Any) -> dict[str, Any]:
    """A sampler's or scheduler's ``describe()`` as stored (JSON: tuples become lists)."""
    form: dict[str, Any] = json.loads(json.dumps(plugin.describe()))
    return form


def _plugin_text(form: Mapping[str, Any], other: Mapping[str, Any]) -> str:
    """``random``; or, beside a form of the same name, the name and the settings that differ."""
    name = str(form.get("name"))
    if form.get("name") != other.get("name"):
        return repr(name)
    differ = [f"{key}={form.get(key)!r}" for key in form if key != "name" and form.get(key) != other.get(key)]
    differ += [f"{key} unset" for key in other if key not in form]
    return f"{name!r} ({', '.join(differ)})"


def _plugin_value(form: Mapping[str, Any]) -> str:
    """The stored form as a config or a call would give it: the name alone, else the whole table."""
    return json.dumps(form["name"]) if set(form) == {"name"} else json.dumps(dict(form))


def _space_mismatch(name: str, where: str, stored: Space | None, given: Space) -> str:
    """Study ``name`` is stored with a space other than ``given``: each parameter that differs, and the fixes."""
    new_name = (f"use a new name for the new space (tunesmith run --name NEW, or name= in Python), warm-started from "
                f"this study so that its results still inform the search (a config's [warm_start] table with study "
                f"= {json.dumps(name)}; in Python warm_start=ts.Study.load({name!r}, storage=...)), or delete the "
                f"stored study to start over under its name (tunesmith delete {shlex.quote(name)}, "
                "ts.delete_study)")  # fmt: skip
    resume = "drop space= (ts.Study.load(name, storage)) to resume it as stored"
    if stored is None:
        return (
            f"study {name!r} already exists in {where} with no space given up front (define-by-run), not the "
            f"space of {', '.join(given)}: its parameters are the ones its objective asks for; {resume} in Python, "
            f"or {new_name}"
        )
    differences = _space_differences(stored.to_json(), given.to_json())
    return (
        f"study {name!r} already exists in {where} with a different space: {'; '.join(differences)}. Its trials "
        f"were drawn from the stored space, so it cannot change: restore the stored definitions in the config's "
        f"[space] (or the space= you pass), {resume}, or {new_name}"
    )


def _space_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Each parameter (and the forbidden clauses) that differs between two spaces' JSON, in words."""
    differences = [f"removed {key} (stored {param_text(old[key])})" for key in old if key not in new]
    differences += [f"added {key} (given {param_text(new[key])})" for key in new if key not in old]
    differences += [
        f"changed {key} (stored {param_text(old[key])}, given {param_text(new[key])})"
        for key in old
        if key in new and old[key] != new[key]
    ]
    return differences


def replace_space(storage: Storage, info: StudyInfo, given: Space | None, where: str) -> bool:
    """Store ``given`` as study ``info``'s space when it differs from the stored one and the study has no trial at all
    (of any state): none was drawn from the stored space, so nothing contradicts the new one, and a space stored with
    a mistake (a clause that forbids everything, refused only at the first ask by an older tunesmith) can be fixed
    under the same name. Says what was replaced (`SpaceWarning`). Returns whether it was; with trials, or without a
    space given up front on either side, it is not, and `StudySpec.check_reopened` refuses a different space."""
    old = info.spec.get("space")
    if given is None or old is None:
        return False
    stored = Space.from_json(old, stored=True)
    if stored == given or storage.get_trials(info.id):
        return False
    storage.update_study_spec(info.id, {**info.spec, "space": given.to_json()})
    differences = _space_differences(stored.to_json(), given.to_json())
    warnings.warn(
        f"study {info.name!r} in {where} has no trial yet, so the space given replaces the stored one: "
        f"{'; '.join(differences) or 'the same definitions, as now written'}. Every worker must reopen it with the "
        "new space (one opened before refuses to draw at its first ask: `check_space_current`)",
        SpaceWarning,
        stacklevel=outside_stacklevel(),
    )
    return True


def check_space_current(info: StudyInfo, stored: Any, where: str) -> None:
    """Refuse to draw from the space study ``info`` was opened with when another process has since replaced it
    (`replace_space`: reopened before any trial, with another space), ``stored`` being the space as storage holds it
    now: this process would propose configurations of the old space, beside trials of the new one. The proposer asks
    once per `Study` object, before its first draw (`_ask.proposer`, from the read of the attributes it makes
    anyway); a space can be replaced only while the study has no trial, so a later draw needs no look.

    Raises:
        SpaceError: the stored space is no longer the one this process opened the study with.
    """
    mine = info.spec.get("space")
    if stored == mine or mine is None or stored is None:
        return
    differences = "; ".join(_space_differences(mine, stored)) or "the same definitions, as now written"
    raise SpaceError(
        f"study {info.name!r} in {where} had its space replaced since this process opened it (another process "
        f"reopened it, before any trial, with a new space, as its warning said: {differences}), "
        "so this process would draw from the old one: open the study again (restart the worker, or ts.Study(...) "
        "with the new space) to draw from the new one"
    )


def param_text(definition: Mapping[str, Any]) -> str:
    """A parameter's JSON definition as a config writes it (``{type = "float", low = 0.0, high = 1.0}``), its
    defaults (``log = false``, no ``step``) left out; the space's forbidden clauses (a list) as JSON."""
    if not isinstance(definition, Mapping):
        return json.dumps(definition)
    defaults: dict[str, Any] = {"log": False, "step": None, "base": None}
    if definition.get("type") == "int":
        defaults["step"] = 1
    fields = [
        f"{key} = {_config_value(value)}"
        for key, value in definition.items()
        if not (key in defaults and value == defaults[key])
    ]
    return "{" + ", ".join(fields) + "}"


def config_entry(name: str, definition: Mapping[str, Any]) -> str:
    """A parameter's line in a config's ``[space]`` table: ``lr = {type = "float", ...}``, the name quoted when TOML
    needs it."""
    return f"{_config_key(name)} = {param_text(definition)}"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _config_key(key: Any) -> str:
    return str(key) if _BARE_KEY.fullmatch(str(key)) else json.dumps(str(key))


def _config_value(value: Any) -> str:
    """``value`` as a TOML config writes it: a table inline (``{optimizer = ["sgd"]}``, where JSON wrote
    ``{"optimizer": ["sgd"]}``), a key quoted only when TOML needs it. ``None``, which TOML cannot write, stays
    JSON's ``null``, as a YAML config writes it."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_config_key(key)} = {_config_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_config_value(item) for item in value) + "]"
    return json.dumps(value)


def _unscaled(study: StudySpec | Settings) -> tuple[tuple[str, str], ...]:
    """The study's objectives (or its one metric) by name and direction alone."""
    return tuple((m.name, m.direction) for m in (study.objectives or (study.metric,)))


def _objectives_text(study: StudySpec | Settings) -> str:
    if study.objectives:
        return "objectives " + ", ".join(
            f"{m.name} ({m.direction}{'' if m.scale is None else f', scale {m.scale:g}'})" for m in study.objectives
        )
    return f"metric {study.metric.to_json()}"


def _seconds_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _guardrails_text(guardrails: tuple[Guardrail, ...]) -> str:
    return "[" + ", ".join(g.describe() for g in guardrails) + "]" if guardrails else "none"


def _raised_or_added_limits(old: Budget, new: Budget) -> dict[str, float]:
    """The limits ``new`` raises above ``old`` or adds to it; empty unless every other limit is the same."""
    changed: dict[str, float] = {}
    for key in _LIMITS:
        before, after = getattr(old, key), getattr(new, key)
        if after == before:
            continue
        if after is None or (before is not None and after < before):
            return {}
        changed[key] = after
    return changed


def _budget_config(budget: Budget) -> str:
    """``budget`` as a config writes it: ``[budget] trials = 20, wall_time = 7200``, or ``no [budget]``."""
    limits = [f"{key} = {plain_number(getattr(budget, key))}" for key in _LIMITS if getattr(budget, key) is not None]
    return "[budget] " + ", ".join(limits) if limits else "no [budget]"


def _extend_command(name: str, where: str, limits: Mapping[str, Any]) -> str:
    """The ``tunesmith extend`` command that raises ``limits`` of study ``name`` in the storage at URL ``where``, as a
    shell reads it: the name quoted where needed, and the storage, which the command's default is not."""
    flags = " ".join(f"--{key.replace('_', '-')} {plain_number(value)}" for key, value in limits.items())
    return f"tunesmith extend {command_arguments(name, where)} {flags}"


def _arguments(limits: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in limits.items())


def _keep_or_rename(name: str, added: Sequence[str]) -> str:
    """The fixes for a study with trials that cannot gain the limits ``added``: resume it as stored, or rename."""
    keys = " and ".join(added)
    per_run = " (`tunesmith run CONFIG --trials N` bounds one run, n_trials= in Python)" if "trials" in added else ""
    return (
        f"leave {keys} out of the config's [budget] to resume {name!r} as stored{per_run}, or start a new study "
        "with the limit (tunesmith run CONFIG --name NEW, or name= in Python)"
    )


def extend_budget(
    storage: Storage,
    name: str,
    now: float,
    *,
    trials: int | None = None,
    wall_time: float | str | None = None,
    resource: float | None = None,
    compute: float | str | None = None,
    until_converged: bool | None = None,
) -> Budget:
    """Raise the stored budget of study ``name`` to the limits given; see `Study.extend_budget`.

    A limit the stored budget lacks (an unbounded study's trials) is added only while the study has no
    trials: nothing recorded ran under the old budget, so a config stored without ``[budget]`` and refused
    for it is not a dead end. ``until_converged=False`` turns the stop at convergence off, so the search goes on
    past it (the recorded convergence stays, as history); turning it on would shrink the budget, and is refused.

    Returns:
        The new budget, as now stored.

    Raises:
        ConfigError: no limit given, a value that is no limit, a limit the study lacks once it has
            trials, or one not above the stored value; ``until_converged`` other than False, or False on a
            budget without it.
    """
    given: dict[str, Any] = {
        key: value
        for key, value in zip(_LIMITS, (trials, wall_time, resource, compute), strict=True)
        if value is not None
    }
    if not given and until_converged is None:
        raise ConfigError(
            "extend_budget needs a limit to raise, got none of trials, wall_time, resource or compute: pass e.g. "
            "trials=50 (or until_converged=False to search on past convergence)"
        )
    if until_converged is not None and until_converged is not False:
        raise ConfigError(
            f"extend_budget takes until_converged=False only (the search goes on past convergence), got "
            f"until_converged={until_converged!r}: a stop added to a stored budget would shrink it; start a new "
            "study (name=) with Budget(until_converged=True)"
        )
    asked = Budget(**given) if given else Budget()  # each value checked: the rule, the value and the fix
    info = storage.load_study(name)
    old = Budget.from_json(info.spec.get("budget"), stored=True)
    if until_converged is False and not old.until_converged:
        raise ConfigError(
            f"study {name!r} does not stop at convergence (its budget is {old.describe()}), got until_converged="
            "False: leave it out"
        )
    added = [key for key in given if getattr(old, key) is None]
    if added and (ran := len(storage.get_trials(info.id))):  # read only when a limit is added
        got = ", ".join(f"{key}={given[key]!r}" for key in added)
        raise ConfigError(
            f"study {name!r} has no {' or '.join(added)} limit to extend (its budget is {old.describe()}), got "
            f"{got}, and it has {ran} trial{'s' if ran != 1 else ''}: a limit is added only before a study's first "
            f"trial, since it would shrink the budget its trials ran under: {_keep_or_rename(name, added)}"
        )
    for key, value in given.items():
        before, after = getattr(old, key), getattr(asked, key)
        if before is not None and after <= before:
            raise ConfigError(
                f"an extension must raise {key} above the stored {key}={plain_number(before)}, got {key}={value!r}: "
                f"pass more than {plain_number(before)}, or leave {key} out"
            )
    new = replace(old, **{key: getattr(asked, key) for key in given})
    if until_converged is False:
        new = replace(new, until_converged=False)
    storage.update_study_spec(info.id, {**info.spec, "budget": new.to_json()})
    log = read_attr(info.attrs, BudgetLogAttr) or BudgetLogAttr()
    change = BudgetChangeAttr(at=now, old=old.to_json(), new=new.to_json())
    storage.set_study_attr(info.id, BudgetLogAttr.KEY, BudgetLogAttr((*log.changes, change)).to_json())
    return new


# Every change of a stored study's sampler, first first: a JSON list of `SamplerChange`.
SAMPLER_LOG = "sampler_log"


@dataclass(frozen=True, kw_only=True)
class SamplerChange(JsonObject):
    """One entry of ``sampler_log``: at ``at`` (seconds since the epoch) the stored sampler went from ``old``
    to ``new`` (their ``describe()`` forms), with ``after`` trials then stored."""

    at: float
    old: Any
    new: dict[str, Any]
    after: int

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> SamplerChange:
        r = Fields(value, where or f"{SAMPLER_LOG} entry")
        old = r.get("old", lambda v: isinstance(v, str | Mapping), "a sampler's name or table", required=True)
        return cls(at=r.number("at", required=True), old=old, new=r.mapping("new", required=True),
                   after=r.integer("after", required=True), **r.rest())  # fmt: skip


def sampler_changes(attrs: Mapping[str, Any]) -> tuple[SamplerChange, ...]:
    """The study's ``sampler_log`` as read from its attributes ``attrs``; empty when it never switched.

    Raises:
        AttributeShapeError: the stored log is not in the shape `switch_sampler` writes.
    """
    log = attrs.get(SAMPLER_LOG)
    if log is None:
        return ()
    if not isinstance(log, list):
        raise shape_error(SAMPLER_LOG, "a JSON list", log)
    return tuple(SamplerChange.from_json(entry, f"{SAMPLER_LOG}[{i}]") for i, entry in enumerate(log))


def switch_sampler(storage: Storage, info: StudyInfo, given: Any, now: float) -> bool:
    """Store ``given`` (a sampler) as study ``info``'s sampler when it differs from the stored one, appending the
    change to the ``sampler_log`` attribute, so that the spec says what runs (``tunesmith status``,
    ``Study.load``, workers); whether it changed. A search may well begin at random and go on with a model."""
    stored = info.spec.get("sampler")
    new = _plugin_form(given)
    if stored is None or _plugin_form(make_sampler(stored)) == new:
        return False
    storage.update_study_spec(info.id, {**info.spec, "sampler": new})
    after = len(storage.get_trials(info.id))  # read on a switch only
    entry = SamplerChange(at=now, old=stored, new=new, after=after).to_json()
    storage.update_study_attr(info.id, SAMPLER_LOG, lambda log: [*(log or []), entry])
    return True


def _stored_baseline(space: Space | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline's ``params`` as storage keeps them: a value JSON cannot hold that is an option of the space by
    its label (a `TunesmithSearchCV` study chooses ``StandardScaler()`` by its repr, and hands the objective the
    object again) becomes that label; any other is refused, naming it (it raised JSON's TypeError)."""
    stored: dict[str, Any] = {}
    for name, value in params.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            param = None if space is None or name not in space else space[name]
            options = getattr(param, "options", ())
            if repr(value) not in options:
                raise ConfigError(
                    f"baseline parameter {name}={excerpt(repr(value))} cannot be stored (storage keeps JSON values: "
                    "numbers, strings, lists and dicts of them): pass a value the space offers"
                    + (f", one of {', '.join(map(repr, options))}" if options else "")
                ) from None
            value = repr(value)
        stored[str(name)] = value
    return stored


def declare_baseline(study: Any, params: Mapping[str, Any], seeds: int) -> None:
    """`Study.declare_baseline`: the baseline recorded with the study (``study`` has ``attrs``/``set_attr``)."""
    if not isinstance(params, Mapping):
        raise ConfigError(f"baseline must be a dict of parameters, got baseline={params!r}: pass the defaults")
    integer("seeds", seeds, minimum=2, fix="use 5 seeds to measure the spread")
    refuse_unread_baseline(study, params)
    params = _stored_baseline(getattr(study, "space", None), params)
    current = read_attr(study.attrs, BaselineAttr)
    if current is None or not current.runs:
        write_attr(study, BaselineAttr(params=dict(params), seed_count=seeds))
