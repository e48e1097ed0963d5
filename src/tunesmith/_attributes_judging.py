"""The discipline's study attributes: seed stability, the holdout, optimism and the verdict.

Declared here, beside `tunesmith.attributes` (which re-exports every name, so import them from there):
the same frozen dataclasses with ``KEY``, ``to_json`` and ``from_json`` (see that module's docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from tunesmith._attribute_json import (
    Fields,
    JsonObject,
    is_integer,
    is_number,
    is_object,
    is_text,
    read_list,
    shape_error,
)

__all__ = [
    "CheckAttr",
    "HoldoutAttr",
    "HoldoutLogAttr",
    "HoldoutOpeningAttr",
    "HoldoutRowAttr",
    "OptimismAttr",
    "SeedCandidateAttr",
    "SeedStabilityAttr",
    "VerdictAttr",
]


@dataclass(frozen=True, kw_only=True)
class SeedCandidateAttr(JsonObject):
    """One entry of ``seed_stability.candidates``: ``label`` and ``values`` (the report's minimal shape), and
    from `validate_top` the rest (``original`` is null for the baseline, which also has ``baseline: true``).
    The winner's entry also has ``confirm_values``, ``confirm_mean``, ``confirm_std`` and ``confirm_note`` when
    it was re-run on fresh seeds after the pick (``seed_stability.confirm_seeds``); absent otherwise."""

    ALWAYS = frozenset({"original"})
    label: str
    trial: int | None = None
    params: dict[str, Any] | None = None
    original: float | None = None
    values: tuple[float, ...]
    mean: float | None = None
    std: float | None = None
    score: float | None = None
    eligible: bool | None = None
    note: str | None = None
    slices: dict[str, float] | None = None
    baseline: bool = False
    confirm_values: tuple[float, ...] | None = None
    confirm_mean: float | None = None
    confirm_std: float | None = None
    confirm_note: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> SeedCandidateAttr:
        r = Fields(value, where or "seed_stability candidate")
        return cls(label=r.text("label", required=True), trial=r.integer("trial"), params=r.mapping("params"),
                   original=r.number("original"),
                   values=r.items("values", is_number, "numbers", required=True), mean=r.number("mean"),
                   std=r.number("std"), score=r.number("score"), eligible=r.flag("eligible"), note=r.text("note"),
                   slices=r.mapping("slices", is_number, "an object of numbers"),
                   baseline=bool(r.flag("baseline")),
                   confirm_values=r.items("confirm_values", is_number, "numbers"),
                   confirm_mean=r.number("confirm_mean"), confirm_std=r.number("confirm_std"),
                   confirm_note=r.text("confirm_note"), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class SeedStabilityAttr(JsonObject):
    """``seed_stability``: the candidates re-run across seeds by `validate_top`, with its rule and winner
    (a trial number); ``runs`` holds every run as ``SeedRun.to_json()`` writes it. On a multi-objective study
    the one candidate is the trial `Study.choose` recorded, and ``around`` its neighbours on the Pareto front.
    When the winner was picked from several candidates by a rule that reads their spread, it was re-run on
    ``confirm_seeds`` after the pick, every such run in ``confirm_runs`` (absent when it was not)."""

    KEY: ClassVar[str] = "seed_stability"
    ALWAYS = frozenset({"winner", "winner_params"})
    metric: str | None = None
    direction: str | None = None
    rule: str | None = None
    confidence: float | None = None
    seeds: tuple[int, ...] | None = None
    candidates: tuple[SeedCandidateAttr, ...] | None = None
    winner: int | None = None
    winner_params: dict[str, Any] | None = None
    per_seed_winners: tuple[int, ...] | None = None
    changes_across_seeds: bool | None = None
    overturned: bool | None = None
    runs: tuple[dict[str, Any], ...] | None = None
    around: tuple[int, ...] | None = None
    confirm_seeds: tuple[int, ...] | None = None
    confirm_runs: tuple[dict[str, Any], ...] | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> SeedStabilityAttr:
        r = Fields(value, where or cls.KEY)
        return cls(metric=r.text("metric"), direction=r.text("direction"), rule=r.text("rule"),
                   confidence=r.number("confidence"), seeds=r.items("seeds", is_integer, "integers"),
                   candidates=r.nested("candidates", SeedCandidateAttr), winner=r.integer("winner"),
                   winner_params=r.mapping("winner_params"),
                   per_seed_winners=r.items("per_seed_winners", is_integer, "integers"),
                   changes_across_seeds=r.flag("changes_across_seeds"), overturned=r.flag("overturned"),
                   runs=r.items("runs", is_object, "objects"), around=r.items("around", is_integer, "integers"),
                   confirm_seeds=r.items("confirm_seeds", is_integer, "integers"),
                   confirm_runs=r.items("confirm_runs", is_object, "objects"), **r.rest())  # fmt: skip

    def candidate(self, trial: int) -> SeedCandidateAttr | None:
        """The candidate re-run from trial ``trial`` (``None`` when there is none)."""
        return next((c for c in self.candidates or () if c.trial == trial), None)


@dataclass(frozen=True, kw_only=True)
class HoldoutRowAttr(JsonObject):
    """One row of ``holdout.rows``: a metric's validation and holdout values."""

    label: str
    validation: float
    holdout: float

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> HoldoutRowAttr:
        r = Fields(value, where or "holdout row")
        return cls(label=r.text("label", required=True), validation=r.number("validation", required=True),
                   holdout=r.number("holdout", required=True), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class HoldoutAttr(JsonObject):
    """``holdout``: ``rows`` (the primary metric first) and what `finalize` adds, or the flat pairs
    ``val_<metric>`` / ``holdout_<metric>`` (kept in ``extra``) that ``tunesmith demo`` once wrote.
    ``gap_expected`` is the part of ``gap`` that choosing among the configurations explains (the optimism
    estimate), absent before finalize took it back. ``baseline_params`` and ``baseline_scores`` are the baseline
    configuration and its scores when `finalize` scored it beside the winner for the shifted-data check (its
    holdout scores, with ``shifted:<key>`` from a shifted evaluation); absent otherwise."""

    KEY: ClassVar[str] = "holdout"
    rows: tuple[HoldoutRowAttr, ...] | None = None
    trial: int | None = None
    params: dict[str, Any] | None = None
    chosen_by: str | None = None
    gap: float | None = None
    gap_units: str | None = None
    gap_stderr: float | None = None
    gap_expected: float | None = None
    threshold: float | None = None
    flagged: bool | None = None
    opened: int | None = None
    forced: int | None = None
    scores: dict[str, float] | None = None
    slices: dict[str, float] | None = None
    baseline_params: dict[str, Any] | None = None
    baseline_scores: dict[str, float] | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> HoldoutAttr:
        r = Fields(value, where or cls.KEY)
        numbers = "an object of numbers"
        return cls(rows=r.nested("rows", HoldoutRowAttr), trial=r.integer("trial"), params=r.mapping("params"),
                   chosen_by=r.text("chosen_by"), gap=r.number("gap"), gap_units=r.text("gap_units"),
                   gap_stderr=r.number("gap_stderr"), gap_expected=r.number("gap_expected"),
                   threshold=r.number("threshold"),
                   flagged=r.flag("flagged"), opened=r.integer("opened"), forced=r.integer("forced"),
                   scores=r.mapping("scores", is_number, numbers), slices=r.mapping("slices", is_number, numbers),
                   baseline_params=r.mapping("baseline_params"),
                   baseline_scores=r.mapping("baseline_scores", is_number, numbers), **r.rest())  # fmt: skip

    def table(self) -> list[tuple[str, float, float]]:
        """``(label, validation, holdout)`` per metric, from ``rows`` or else the flat pairs.

        Raises:
            AttributeShapeError: when there are neither rows nor pairs of numbers.
        """
        if self.rows is not None:
            return [(row.label, float(row.validation), float(row.holdout)) for row in self.rows]
        pairs = [(key[4:], value, self.extra[f"holdout_{key[4:]}"]) for key, value in self.extra.items()
                 if key.startswith("val_") and f"holdout_{key[4:]}" in self.extra]  # fmt: skip
        if not pairs:
            raise shape_error(self.KEY, "an object with 'rows' or pairs of 'val_<metric>' and 'holdout_<metric>' keys",
                         self.to_json())  # fmt: skip
        for label, validation, holdout in pairs:
            if not (is_number(validation) and is_number(holdout)):
                raise shape_error(f"{self.KEY}.val_{label}/holdout_{label}", "numbers", (validation, holdout))
        return [(label, float(validation), float(holdout)) for label, validation, holdout in pairs]


@dataclass(frozen=True, kw_only=True)
class HoldoutOpeningAttr(JsonObject):
    """One entry of ``holdout_log``: when, whether forced, for which trial; ``scores`` (null until read)
    and ``how`` the trial was chosen are filled in once the evaluation returned."""

    ALWAYS = frozenset({"scores"})
    at: float
    forced: bool | None = None
    trial: int | None = None
    scores: dict[str, float] | None = None
    how: str | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> HoldoutOpeningAttr:
        r = Fields(value, where or "holdout_log entry")
        return cls(at=r.number("at", required=True), forced=r.flag("forced"), trial=r.integer("trial"),
                   scores=r.mapping("scores", is_number, "an object of numbers"), how=r.text("how"),
                   **r.rest())  # fmt: skip


@dataclass(frozen=True)
class HoldoutLogAttr:
    """``holdout_log``: every opening of the locked holdout, first first (stored as a JSON list)."""

    KEY: ClassVar[str] = "holdout_log"
    openings: tuple[HoldoutOpeningAttr, ...] = ()

    def to_json(self) -> list[dict[str, Any]]:
        return [opening.to_json() for opening in self.openings]

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> HoldoutLogAttr:
        return cls(read_list(value, where or cls.KEY, "a list of openings", HoldoutOpeningAttr.from_json))


@dataclass(frozen=True, kw_only=True)
class OptimismAttr(JsonObject):
    """``optimism``: how optimistic the best validation score is (see `tunesmith.discipline.optimism`);
    ``estimate`` and ``corrected`` are null when the noise behind them is unknown (the detail says why).
    ``earlier``: how many configurations each study created before this one compared on the same validation set,
    ``validation_set`` (`tunesmith.study._validation_set`), beyond the ``compared`` of this study; empty when none
    did. ``across``: the optimism of the best of them all (null: no earlier study, or its noise unknown)."""

    KEY: ClassVar[str] = "optimism"
    compared: int
    best: float
    estimate: float | None = None
    corrected: float | None = None
    method: str | None = None
    detail: str | None = None
    validation_set: str | None = None
    earlier: dict[str, int] = field(default_factory=dict)
    across: float | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> OptimismAttr:
        r = Fields(value, where or cls.KEY)
        return cls(compared=r.integer("compared", required=True), best=r.number("best", required=True),
                   estimate=r.number("estimate"), corrected=r.number("corrected"),
                   method=r.text("method"), detail=r.text("detail"), validation_set=r.text("validation_set"),
                   earlier=r.mapping("earlier", is_integer, "an object of configuration counts by study") or {},
                   across=r.number("across"), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class CheckAttr(JsonObject):
    """One entry of ``verdict.checks`` (see `tunesmith.discipline.verdict.Check`)."""

    ALWAYS = frozenset({"checked", "decided"})
    name: str
    passed: bool
    checked: bool = True
    decided: bool = True
    leans: bool = False
    detail: str

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> CheckAttr:
        r = Fields(value, where or "verdict check")
        checked, decided, leans = r.flag("checked"), r.flag("decided"), r.flag("leans")
        return cls(name=r.text("name", required=True), passed=r.flag("passed", required=True),
                   checked=True if checked is None else checked, decided=True if decided is None else decided,
                   leans=bool(leans), detail=r.text("detail", required=True), **r.rest())  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class VerdictAttr(JsonObject):
    """``verdict``: ``status`` (``"pass"``, ``"warn"`` or ``"fail"``), ``summary`` and ``reasons`` (the
    report's shape); `finalize` adds ``ready``, every check, the trial it judged (null when none) and the
    ``evidence`` it read (`tunesmith.discipline.verdict.evidence_of`), so that a later change shows it stale."""

    KEY: ClassVar[str] = "verdict"
    ALWAYS = frozenset({"trial"})
    status: str
    ready: bool | None = None
    summary: str | None = None
    reasons: tuple[str, ...] | None = None
    checks: tuple[CheckAttr, ...] | None = None
    trial: int | None = None
    evidence: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> VerdictAttr:
        r = Fields(value, where or cls.KEY)
        return cls(status=r.text("status", required=True), ready=r.flag("ready"), summary=r.text("summary"),
                   reasons=r.items("reasons", is_text, "strings"), checks=r.nested("checks", CheckAttr),
                   trial=r.integer("trial"), evidence=r.mapping("evidence"), **r.rest())  # fmt: skip
