"""The study attributes the discipline, the report, the dashboard and the CLI share, declared once.

Each attribute is a frozen dataclass with its storage key (``KEY``), ``to_json()`` and
``from_json()``. The JSON is what tunesmith has always stored, so old databases still read:
``from_json`` accepts every shape tunesmith wrote (a value with only some of the keys, as the
report's minimal shapes and older versions have, reads with the others ``None``), keeps keys it does
not know in ``extra``, and ``to_json`` writes a value read from storage back exactly as it was.
A value in another shape raises `AttributeShapeError`, which names the key, the value and the fix.

Example:
    >>> from tunesmith.attributes import BaselineAttr, read_attr, write_attr
    >>> write_attr(study, BaselineAttr(params={"lr": 1e-3}, seed_count=5))
    >>> read_attr(study.attrs, BaselineAttr).seed_count
    5
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, ClassVar, Protocol, Self, TypeVar

from tunesmith._attribute_json import (
    Fields,
    JsonObject,
    is_integer,
    is_number,
    is_object,
    is_text,
    read_list,
)
from tunesmith._attributes_judging import (
    CheckAttr,
    HoldoutAttr,
    HoldoutLogAttr,
    HoldoutOpeningAttr,
    HoldoutRowAttr,
    OptimismAttr,
    SeedCandidateAttr,
    SeedStabilityAttr,
    VerdictAttr,
)
from tunesmith.errors import AttributeShapeError

__all__ = [
    "AttributeShapeError",
    "AttributeTarget",
    "BaselineAttr",
    "BudgetChangeAttr",
    "BudgetLogAttr",
    "CheckAttr",
    "CheckpointRootAttr",
    "ChoiceAttr",
    "ConvergenceAttr",
    "CopiesAttr",
    "CopyAttr",
    "EnqueuedAttr",
    "EnvironmentAttr",
    "HoldoutAttr",
    "HoldoutLogAttr",
    "HoldoutOpeningAttr",
    "HoldoutRowAttr",
    "LearnedSpaceAttr",
    "NestedFoldAttr",
    "ObjectiveReferenceAttr",
    "OptimismAttr",
    "ReferencePointAttr",
    "SamplerChoiceAttr",
    "SeedCandidateAttr",
    "SeedStabilityAttr",
    "StudyAttribute",
    "ValidationSetAttr",
    "VerdictAttr",
    "WarmStartAttr",
    "read_attr",
    "read_intact",
    "write_attr",
]


class StudyAttribute(Protocol):
    """What every shared attribute provides: its key in ``Study.attrs`` and its JSON both ways."""

    KEY: ClassVar[str]

    def to_json(self) -> Any: ...

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> Self: ...


class AttributeTarget(Protocol):
    """Anything attributes are written to (a `Study`)."""

    def set_attr(self, key: str, value: Any) -> None: ...


_A = TypeVar("_A", bound=StudyAttribute)


def read_attr(attrs: Mapping[str, Any], kind: type[_A]) -> _A | None:
    """The attribute ``kind.KEY`` of a study's ``attrs`` (``None`` when absent).

    Raises:
        AttributeShapeError: when the stored value is not in the shape tunesmith writes.
    """
    if kind.KEY not in attrs:
        return None
    return kind.from_json(attrs[kind.KEY])


def read_intact(attrs: Mapping[str, Any], kind: type[_A]) -> _A | None:
    """`read_attr`, with ``None`` also when the stored value is not in its shape: for a reader that goes on without
    it (a report section, an analysis) while the part that draws the attribute says what is wrong with it."""
    try:
        return read_attr(attrs, kind)
    except AttributeShapeError:
        return None


def write_attr(target: AttributeTarget, value: StudyAttribute) -> None:
    """Store ``value`` under its key: ``target.set_attr(value.KEY, value.to_json())``."""
    target.set_attr(value.KEY, value.to_json())


@dataclass(frozen=True, kw_only=True)
class EnvironmentAttr(JsonObject):
    """``environment``: the interpreter, package versions and git commit the study was created with, their
    ``fingerprint`` (`tunesmith.environment.fingerprint`), and ``environments``: every environment a trial ran
    under, by fingerprint, added the first time a trial records it (the trial's ``attrs["environment"]``).

    Studies stored before trials recorded their environment have neither ``fingerprint`` nor ``environments``.
    """

    KEY: ClassVar[str] = "environment"
    ALWAYS = frozenset({"git_commit"})
    python: str
    implementation: str
    platform: str
    packages: dict[str, str]
    git_commit: str | None = None
    fingerprint: str | None = None
    environments: dict[str, EnvironmentAttr] = field(default_factory=dict)

    def with_environment(self, entry: EnvironmentAttr) -> EnvironmentAttr:
        """This attribute with ``entry`` in ``environments`` under its fingerprint (unchanged when it is there)."""
        if entry.fingerprint is None:
            raise entry.missing("fingerprint", f"{self.KEY}.environments entry")
        if entry.fingerprint in self.environments:
            return self
        return replace(self, environments={**self.environments, entry.fingerprint: entry})

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> EnvironmentAttr:
        where = where or cls.KEY
        r = Fields(value, where)
        seen = r.mapping("environments", is_object, "an object of environments by fingerprint") or {}
        return cls(python=r.text("python", required=True), implementation=r.text("implementation", required=True),
                   platform=r.text("platform", required=True),
                   packages=r.mapping("packages", is_text, "an object of version strings", required=True),
                   git_commit=r.text("git_commit"), fingerprint=r.text("fingerprint"),
                   environments={key: cls.from_json(entry, f"{where}.environments.{key}")
                                 for key, entry in seen.items()},
                   **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class SamplerChoiceAttr(JsonObject):
    """``sampler_choice``: the sampler ``sampler="auto"`` chose (its ``describe()``) and why."""

    KEY: ClassVar[str] = "sampler_choice"
    sampler: dict[str, Any]
    why: str

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> SamplerChoiceAttr:
        r = Fields(value, where or cls.KEY)
        return cls(sampler=r.mapping("sampler", required=True), why=r.text("why", required=True), **r.rest())


@dataclass(frozen=True, kw_only=True)
class CheckpointRootAttr(JsonObject):
    """``checkpoint_root``: the absolute folder the study's first opener kept checkpoints in, so that a worker
    started in another working directory resumes a paused trial from the same files."""

    KEY: ClassVar[str] = "checkpoint_root"
    path: str

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> CheckpointRootAttr:
        r = Fields(value, where or cls.KEY)
        return cls(path=r.text("path", required=True), **r.rest())


@dataclass(frozen=True, kw_only=True)
class ObjectiveReferenceAttr(JsonObject):
    """``objective_reference``: the objective the study runs, as the first `tunesmith run` or `tunesmith worker`
    that ran it imported it, so that a later one naming another objective is refused (one study, one objective).

    ``module`` and ``function`` are the ``module:function`` reference; ``directory`` is the absolute folder it was
    read from (the config's, or the worker's working directory for ``--objective``); ``file`` is the module's
    file relative to ``directory`` (``/``-separated), or ``None`` for a module imported from elsewhere on the
    Python path (an installed package), which its name then identifies. Two records name the same objective when
    their function and their file (else module) agree: a project checked out at another path is the same one.
    """

    KEY: ClassVar[str] = "objective_reference"
    ALWAYS = frozenset({"file"})
    module: str
    function: str
    file: str | None = None
    directory: str

    @property
    def reference(self) -> str:
        """``module:function``, as a config's ``objective`` or ``--objective`` names it."""
        return f"{self.module}:{self.function}"

    def same_objective(self, other: ObjectiveReferenceAttr) -> bool:
        """Whether ``other`` names the same function of the same module file (or module, off the folder)."""
        return self._identity() == other._identity()

    def _identity(self) -> tuple[str, str | None, str | None]:
        return self.function, self.file, self.module if self.file is None else None

    def describe(self) -> str:
        """The reference and where its module was found, for messages."""
        if self.file is None:
            return f"{self.reference} (module {self.module} from the Python path)"
        return f"{self.reference} ({PurePath(self.directory, self.file)})"

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> ObjectiveReferenceAttr:
        r = Fields(value, where or cls.KEY)
        return cls(module=r.text("module", required=True), function=r.text("function", required=True),
                   file=r.text("file"), directory=r.text("directory", required=True), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ValidationSetAttr(JsonObject):
    """``validation_set``: the validation set the study's scores were measured on, so that the discipline finds the
    other studies on the storage that tuned on it (see `tunesmith.study._validation_set`).

    ``name`` names the set; ``source`` says where the name came from: ``"given"`` (``Study(validation_set=...)`` or
    a config's ``validation_set``), ``"objective"`` (the objective's ``module:qualname``, recorded by `optimize`)
    or ``"data"`` (a hash of the rows, splits and fit parameters a `TunesmithSearchCV` scored on). ``scoring`` says
    what the metric measures when its name does not (a scikit-learn search's ``score``: its scorer), so that only
    scores of one kind are compared.
    """

    KEY: ClassVar[str] = "validation_set"
    name: str
    source: str
    scoring: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> ValidationSetAttr:
        r = Fields(value, where or cls.KEY)
        return cls(name=r.text("name", required=True), source=r.text("source", required=True),
                   scoring=r.text("scoring"), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ConvergenceAttr(JsonObject):
    """``convergence``: the search converged (a budget with ``until_converged``, `tunesmith.study._convergence`):
    after ``trials`` complete trials, the improvement still possible (``bound``, at most, at 90%) was below the
    metric's ``noise`` (the median standard error of the best trials), with trial ``best`` the best; at ``at``
    (seconds since the epoch)."""

    KEY: ClassVar[str] = "convergence"
    trials: int
    bound: float
    noise: float
    best: int
    at: float

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> ConvergenceAttr:
        r = Fields(value, where or cls.KEY)
        return cls(trials=r.integer("trials", required=True), bound=r.number("bound", required=True),
                   noise=r.number("noise", required=True), best=r.integer("best", required=True),
                   at=r.number("at", required=True), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class LearnedSpaceAttr(JsonObject):
    """``learned_space``: the parameters trials asked for by name (define-by-run, `Trial.suggest_float`...)
    outside the space given up front, in the order first learned, each `Param.to_json` with its ``name``."""

    KEY: ClassVar[str] = "learned_space"
    params: tuple[dict[str, Any], ...] = ()

    def definitions(self) -> dict[str, dict[str, Any]]:
        """Name -> the parameter's JSON (`Param.from_json` reads it), in order."""
        return {p["name"]: {k: v for k, v in p.items() if k != "name"} for p in self.params}

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> LearnedSpaceAttr:
        r = Fields(value, where or cls.KEY)
        named = lambda v: is_object(v) and is_text(v.get("name"))  # noqa: E731
        return cls(params=r.items("params", named, "objects with a 'name'", required=True), **r.rest())


@dataclass(frozen=True, kw_only=True)
class BaselineAttr(JsonObject):
    """``baseline``: the model's defaults, declared (``params``, ``seed_count``, no runs yet) or run across
    seeds (also ``seeds``, ``values``, ``mean``, ``std``; each run as ``SeedRun.to_json()`` writes it)."""

    KEY: ClassVar[str] = "baseline"
    ALWAYS = frozenset({"runs"})
    params: dict[str, Any] | None = None
    seeds: tuple[int, ...] | None = None
    values: tuple[float, ...] | None = None
    mean: float | None = None
    std: float | None = None
    runs: tuple[dict[str, Any], ...] = ()
    seed_count: int | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> BaselineAttr:
        r = Fields(value, where or cls.KEY)
        return cls(params=r.mapping("params"), seeds=r.items("seeds", is_integer, "integers"),
                   values=r.items("values", is_number, "numbers"), mean=r.number("mean"), std=r.number("std"),
                   runs=r.items("runs", is_object, "objects") or (), seed_count=r.integer("seed_count"),
                   **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class BudgetChangeAttr(JsonObject):
    """One entry of ``budget_log``: at ``at`` (seconds since the epoch) the budget went from ``old`` to
    ``new`` (each as `Budget.to_json` writes it)."""

    at: float
    old: dict[str, Any]
    new: dict[str, Any]

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> BudgetChangeAttr:
        r = Fields(value, where or "budget_log entry")
        return cls(at=r.number("at", required=True), old=r.mapping("old", required=True),
                   new=r.mapping("new", required=True), **r.rest())  # fmt: skip


@dataclass(frozen=True)
class BudgetLogAttr:
    """``budget_log``: every extension of the study's budget (`Study.extend_budget`), first first (a JSON list)."""

    KEY: ClassVar[str] = "budget_log"
    changes: tuple[BudgetChangeAttr, ...] = ()

    def to_json(self) -> list[dict[str, Any]]:
        return [change.to_json() for change in self.changes]

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> BudgetLogAttr:
        return cls(read_list(value, where or cls.KEY, "a list of budget changes", BudgetChangeAttr.from_json))


@dataclass(frozen=True, kw_only=True)
class CopyAttr(JsonObject):
    """One entry of ``copied_from``: at ``at`` (seconds since the epoch) the study was copied with ``trials``
    trials from study ``study`` of the storage ``source`` (its URL, password hidden)."""

    source: str
    study: str
    at: float
    trials: int

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> CopyAttr:
        r = Fields(value, where or "copied_from entry")
        return cls(source=r.text("source", required=True), study=r.text("study", required=True),
                   at=r.number("at", required=True), trials=r.integer("trials", required=True),
                   **r.rest())  # fmt: skip


@dataclass(frozen=True)
class CopiesAttr:
    """``copied_from``: the copies that brought the study to this storage (`tunesmith.copy_study`), the first
    first: a study copied on again keeps where it came from before."""

    KEY: ClassVar[str] = "copied_from"
    copies: tuple[CopyAttr, ...] = ()

    def to_json(self) -> list[dict[str, Any]]:
        return [copy.to_json() for copy in self.copies]

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> CopiesAttr:
        return cls(read_list(value, where or cls.KEY, "a list of copies", CopyAttr.from_json))


@dataclass(frozen=True, kw_only=True)
class NestedFoldAttr(JsonObject):
    """``nested_cv``: the outer fold of a nested cross-validation this study tuned on (`nested_cv`,
    `nested_cv_objective`), and how its winner scored on the fold's test rows, which no trial of the study saw.

    Attributes:
        fold: the fold, from 1; folds: how many there are.
        outer_score: the winner's score on the fold's test rows; inner_best: its score in the search (optimistic
            by selection).
        metric: the metric's name (``None``: a scikit-learn scorer's score, higher is better); maximize: whether
            higher is better.
        trial: the winner's trial number; train_rows, test_rows: how many rows the search tuned on and the winner
            was scored on.
        at: when the fold was scored (UNIX time).
    """

    KEY: ClassVar[str] = "nested_cv"
    fold: int
    folds: int
    outer_score: float
    inner_best: float
    metric: str | None = None
    maximize: bool = True
    trial: int | None = None
    train_rows: int = 0
    test_rows: int = 0
    at: float = 0.0

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> NestedFoldAttr:
        r = Fields(value, where or cls.KEY)
        maximize = r.flag("maximize")
        return cls(fold=r.integer("fold", required=True), folds=r.integer("folds", required=True),
                   outer_score=r.number("outer_score", required=True), inner_best=r.number("inner_best", required=True),
                   metric=r.text("metric"), maximize=True if maximize is None else maximize, trial=r.integer("trial"),
                   train_rows=r.integer("train_rows") or 0, test_rows=r.integer("test_rows") or 0,
                   at=r.number("at") or 0.0, **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class EnqueuedAttr(JsonObject):
    """``enqueued``: every configuration `Study.enqueue` queued, first first; each ``{"id", "params", "at",
    "note"}`` (``params`` as given: the sampler draws the others), its ``id`` recorded by the trial that ran it."""

    KEY: ClassVar[str] = "enqueued"
    configs: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> EnqueuedAttr:
        r = Fields(value, where or cls.KEY)
        entry = lambda v: is_object(v) and is_text(v.get("id")) and is_object(v.get("params"))  # noqa: E731
        return cls(configs=r.items("configs", entry, "objects with an 'id' and 'params'") or (), **r.rest())


@dataclass(frozen=True, kw_only=True)
class WarmStartAttr(JsonObject):
    """``warm_start``: earlier results the samplers learn from (never trials): ``source`` in words, ``metric``,
    ``points`` (``{"params", "value"}`` each), rows ``dropped`` (outside the space, no finite value), ``at``, and
    ``fill``: the values given for parameters the earlier results lack (`tunesmith.study.WarmStart`)."""

    KEY: ClassVar[str] = "warm_start"
    source: str
    metric: str
    points: tuple[dict[str, Any], ...]
    dropped: int = 0
    at: float
    fill: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> WarmStartAttr:
        r = Fields(value, where or cls.KEY)
        return cls(source=r.text("source", required=True), metric=r.text("metric", required=True),
                   points=r.items("points", is_object, "objects", required=True), dropped=r.integer("dropped") or 0,
                   at=r.number("at", required=True), fill=dict(r.mapping("fill") or {}), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ReferencePointAttr(JsonObject):
    """``reference_point``: what a multi-objective study's hypervolume is measured against, in the objectives'
    own units (``values``: name -> value); ``source`` is ``"given"`` (``Study(reference_point=...)``) or
    ``"derived"`` (the nadir of the complete trials numbered in ``trials`` plus 10% of their range). Written
    once; it never moves, so hypervolumes stay comparable over the study's life."""

    KEY: ClassVar[str] = "reference_point"
    values: dict[str, float]
    source: str
    trials: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> ReferencePointAttr:
        r = Fields(value, where or cls.KEY)
        return cls(values=r.mapping("values", is_number, "an object of numbers", required=True),
                   source=r.text("source", required=True), trials=r.items("trials", is_integer, "integers") or (),
                   **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ChoiceAttr(JsonObject):
    """``choice``: the trial `Study.choose` picked from a multi-objective study's Pareto front: the ``rule``
    (`tunesmith.choose` rule JSON), ``trial``, ``params``, its objective ``values``, ``why`` in words, the
    ``front`` then (trial numbers, by the primary objective), the chosen trial's ``neighbours`` on it, ``at``."""

    KEY: ClassVar[str] = "choice"
    rule: dict[str, Any]
    trial: int
    params: dict[str, Any]
    values: dict[str, float]
    why: str
    front: tuple[int, ...] = ()
    neighbours: tuple[int, ...] = ()
    at: float | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> ChoiceAttr:
        r = Fields(value, where or cls.KEY)
        return cls(rule=r.mapping("rule", required=True), trial=r.integer("trial", required=True),
                   params=r.mapping("params", required=True),
                   values=r.mapping("values", is_number, "an object of numbers", required=True),
                   why=r.text("why", required=True), front=r.items("front", is_integer, "integers") or (),
                   neighbours=r.items("neighbours", is_integer, "integers") or (), at=r.number("at"),
                   **r.rest())  # fmt: skip
