"""Typed study attributes: the JSON stored stays what tunesmith has always written, old shapes still read."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith import attributes
from tunesmith.attributes import (
    BaselineAttr,
    BudgetLogAttr,
    CheckAttr,
    CheckpointRootAttr,
    ChoiceAttr,
    ConvergenceAttr,
    CopiesAttr,
    EnqueuedAttr,
    EnvironmentAttr,
    HoldoutAttr,
    HoldoutLogAttr,
    HoldoutOpeningAttr,
    LearnedSpaceAttr,
    NestedFoldAttr,
    ObjectiveReferenceAttr,
    OptimismAttr,
    ReferencePointAttr,
    SamplerChoiceAttr,
    SeedCandidateAttr,
    SeedStabilityAttr,
    ValidationSetAttr,
    VerdictAttr,
    WarmStartAttr,
    read_attr,
    write_attr,
)
from tunesmith.discipline import Check, Verdict
from tunesmith.errors import AttributeShapeError, TunesmithError
from tunesmith.report import ReportData, render_report
from tunesmith.trial import TrialRecord, TrialState

RUN = {"candidate": 4, "seed": 11, "state": "complete", "metrics": {"acc": 0.81}, "reason": None}
CANDIDATE = {"label": "#4", "trial": 4, "params": {"x": 0.9}, "original": 0.82, "values": [0.81, 0.8], "mean": 0.805,
             "std": 0.007, "score": 0.79, "eligible": True, "note": "", "slices": {"night": 0.7}}  # fmt: skip
BASELINE_CANDIDATE = {**CANDIDATE, "label": "baseline", "trial": -1, "original": None, "baseline": True}
CHECK = {"name": "holdout gap", "passed": True, "checked": True, "detail": "validation 0.81 vs holdout 0.8"}

# What tunesmith writes today, key for key (finalize, validate_top, evaluate_baseline, Study).
WRITTEN: dict[type[Any], list[Any]] = {
    EnvironmentAttr: [{"python": "3.11.9", "implementation": "CPython", "platform": "Linux",
                       "packages": {"numpy": "2.0"}, "git_commit": None}],
    SamplerChoiceAttr: [{"sampler": {"name": "tpe", "n_startup": 10}, "why": "continuous space, 100 trials"}],
    CheckpointRootAttr: [{"path": "/home/me/project/tunesmith-checkpoints/mlp"}],
    ObjectiveReferenceAttr: [
        {"module": "train", "function": "objective", "file": "train.py", "directory": "/home/me/project"},
        {"module": "mypkg.train", "function": "objective", "file": None, "directory": "/home/me/project"},
    ],
    BaselineAttr: [
        {"params": {"x": 0.5}, "seed_count": 3, "runs": []},
        {"params": {"x": 0.5}, "seeds": [11, 12], "values": [0.8, 0.79], "mean": 0.795, "std": 0.007,
         "runs": [RUN, {**RUN, "state": "failed", "metrics": {}, "reason": "RuntimeError: x"}], "seed_count": 2},
    ],
    SeedStabilityAttr: [
        {"metric": "acc", "direction": "max", "rule": "lcb", "confidence": 0.9, "seeds": [11, 12],
         "candidates": [CANDIDATE, BASELINE_CANDIDATE], "winner": 4, "winner_params": {"x": 0.9},
         "per_seed_winners": [4, 4], "changes_across_seeds": False, "overturned": False, "runs": [RUN]},
        {"metric": "acc", "direction": "max", "rule": "mean", "confidence": 0.9, "seeds": [11, 12],
         "candidates": [{**CANDIDATE, "eligible": False, "note": "2 of 2 runs failed"}], "winner": None,
         "winner_params": None, "per_seed_winners": [], "changes_across_seeds": False, "overturned": False,
         "runs": []},
    ],
    HoldoutAttr: [
        {"rows": [{"label": "acc", "validation": 0.82, "holdout": 0.8}], "trial": 4, "params": {"x": 0.9},
         "chosen_by": "seed-stability winner (lcb)", "gap": 0.024, "threshold": 0.02, "flagged": True, "opened": 1,
         "forced": 0, "scores": {"holdout_acc": 0.8, "slice:night:holdout_acc": 0.7}, "slices": {"night": 0.7}},
    ],
    HoldoutLogAttr: [
        [{"at": 1.7e9, "forced": False, "trial": 4, "scores": None}],
        [{"at": 1.7e9, "forced": False, "trial": 4, "scores": {"holdout_acc": 0.8}, "how": "best validation score"},
         {"at": 1.7e9 + 5, "forced": True, "trial": 4, "scores": None}],
    ],
    OptimismAttr: [{"compared": 20, "best": 0.82, "estimate": 0.01, "corrected": 0.81, "method": "order statistics",
                    "detail": "best of 20 scores"},
                   {"compared": 50, "best": 0.83, "estimate": 0.02, "corrected": 0.81, "method": "order statistics",
                    "detail": "best of 50 scores", "validation_set": "churn-val", "earlier": {"first": 30}}],
    ValidationSetAttr: [{"name": "train:objective", "source": "objective"},
                        {"name": "scikit-learn: X of shape (569, 30) #ab12", "source": "data",
                         "scoring": "'accuracy'"}],
    ConvergenceAttr: [{"trials": 26, "bound": 0.0052, "noise": 0.0058, "best": 10, "at": 1.7e9}],
    VerdictAttr: [{"status": "warn", "ready": True, "summary": "ready (1 check(s) could not run)",
                   "reasons": ["holdout gap [ok]: ..."], "checks": [CHECK, {**CHECK, "checked": False}], "trial": 4}],
    LearnedSpaceAttr: [
        {"params": [{"name": "lr", "type": "float", "low": 0.0001, "high": 0.1, "log": True, "step": None},
                    {"name": "optimizer", "type": "choice", "options": ["adam", "sgd"]},
                    {"name": "layers", "type": "int", "low": 1, "high": 6, "log": False, "base": None, "step": 1}]},
    ],
    BudgetLogAttr: [
        [{"at": 1.7e9, "old": {"trials": 20, "wall_time": None, "resource": None},
          "new": {"trials": 30, "wall_time": None, "resource": None}}],
    ],
    NestedFoldAttr: [
        {"fold": 2, "folds": 5, "outer_score": 0.31, "inner_best": 0.28, "metric": "val_loss", "maximize": False,
         "trial": 7, "train_rows": 480, "test_rows": 120, "at": 1.7e9},
        {"fold": 1, "folds": 3, "outer_score": 0.9, "inner_best": 0.95},
    ],
    CopiesAttr: [
        [{"source": "sqlite:///home.db", "study": "lr-search", "at": 1.7e9, "trials": 40},
         {"source": "postgresql://tuner:***@db/tuning", "study": "lr-search", "at": 1.7e9 + 60, "trials": 90}],
    ],
    EnqueuedAttr: [
        {"configs": [{"id": "402f4e61d0ce46a886123b7c301be4b0", "params": {"lr": 0.01}, "at": 1.7e9,
                      "note": "the paper's setting"},
                     {"id": "5b1c0e7e9f2a4d33a1f0c2d4e6a8b0c1", "params": {"lr": 0.02, "depth": 4}, "at": 1.7e9 + 5}]},
    ],
    WarmStartAttr: [
        {"source": "2 records", "metric": "loss", "points": [{"params": {"x": 0.5}, "value": 0.2}], "dropped": 1,
         "at": 1.7e9},
    ],
    ReferencePointAttr: [
        {"values": {"loss": 1.0, "latency_ms": 50.0}, "source": "given"},
        {"values": {"loss": 1.2, "latency_ms": 61.0}, "source": "derived", "trials": [0, 1, 2]},
    ],
    ChoiceAttr: [
        {"rule": {"rule": "knee"}, "trial": 3, "params": {"x": 0.4}, "values": {"loss": 0.2, "latency_ms": 12.0},
         "why": "the knee of the front", "front": [5, 3, 1], "neighbours": [5, 1], "at": 1.7e9},
    ],
}  # fmt: skip

# What the report has always read (docs/architecture.md, "Report"), older versions and `tunesmith demo` wrote.
MINIMAL: dict[type[Any], list[Any]] = {
    VerdictAttr: [{"status": "pass", "summary": "stable", "reasons": ["seed spread 0.004"]}],
    SeedStabilityAttr: [
        {"metric": "val_loss", "candidates": [{"label": "#3", "values": [0.1, 0.11]}]},
        {"winner": 7, "seeds": [1, 2, 3], "rule": "lcb"},
    ],
    HoldoutAttr: [{"trial": 3, "val_loss": 0.1, "holdout_loss": 0.12, "opened": 1}],
    BaselineAttr: [{"mean": 0.2, "params": {"x": 0.5}, "runs": [{}, {}, {}]}],
    HoldoutLogAttr: [[{"at": 1.7e9, "trial": 3, "how": "best", "forced": False}]],
}  # fmt: skip


def _cases(table: dict[type[Any], list[Any]]) -> list[Any]:
    return [pytest.param(kind, value, id=f"{kind.__name__}-{i}") for kind, values in table.items()
            for i, value in enumerate(values)]  # fmt: skip


@pytest.mark.parametrize(("kind", "stored"), _cases(WRITTEN) + _cases(MINIMAL))
def test_a_stored_value_reads_and_writes_back_exactly(kind: Any, stored: Any) -> None:
    value = kind.from_json(json.loads(json.dumps(stored)))
    assert value.to_json() == stored
    assert kind.from_json(value.to_json()) == value


def test_every_shared_attribute_has_the_shapes_tunesmith_writes_in_the_table() -> None:
    """A new attribute class (in `tunesmith.attributes` or a module it re-exports) comes with its shapes here."""
    kinds = {getattr(attributes, name) for name in attributes.__all__}
    keyed = {kind for kind in kinds if isinstance(kind, type) and isinstance(getattr(kind, "KEY", None), str)}
    assert sorted(kind.__name__ for kind in keyed - set(WRITTEN)) == []


def test_values_built_in_code_write_the_json_tunesmith_always_wrote() -> None:
    assert BaselineAttr(params={"x": 0.5}, seed_count=3).to_json() == WRITTEN[BaselineAttr][0]
    assert HoldoutOpeningAttr(at=1.7e9, forced=False, trial=4).to_json() == WRITTEN[HoldoutLogAttr][0][0]
    candidate = SeedCandidateAttr.from_json(CANDIDATE)
    assert replace(candidate, stored_keys=None).to_json() == CANDIDATE  # no "baseline" key unless it is one
    baseline = SeedCandidateAttr(**{**BASELINE_CANDIDATE, "values": tuple(BASELINE_CANDIDATE["values"])})
    assert baseline.to_json() == BASELINE_CANDIDATE  # "original": null written
    verdict = VerdictAttr(status="fail", ready=False, summary="not ready", reasons=(), checks=(), trial=None)
    assert verdict.to_json() == {"status": "fail", "ready": False, "summary": "not ready", "reasons": [],
                                 "checks": [], "trial": None}  # fmt: skip


def test_the_discipline_objects_write_their_attributes_through_the_dataclasses() -> None:
    verdict = Verdict([Check("holdout gap", True, "ok"), Check("x", True, "-", checked=False)], trial=4)
    assert VerdictAttr.from_json(verdict.to_attr()) == verdict.attribute()
    assert verdict.to_attr()["status"] == "warn" and verdict.to_attr()["checks"][1]["checked"] is False


def test_keys_written_by_other_versions_are_kept_and_written_back() -> None:
    stored = {**WRITTEN[OptimismAttr][0], "interval": [0.0, 0.02]}
    optimism = OptimismAttr.from_json(stored)
    assert optimism.extra == {"interval": [0.0, 0.02]} and optimism.to_json() == stored
    entry = SeedStabilityAttr.from_json({"candidates": [{**CANDIDATE, "seed_cv": 0.01}]}).candidate(4)
    assert entry is not None and entry.extra == {"seed_cv": 0.01}


def test_a_field_changed_on_a_read_value_is_written_even_when_it_was_absent() -> None:
    opening = HoldoutOpeningAttr.from_json({"at": 1.0, "forced": False, "trial": 2, "scores": None})
    changed = replace(opening, scores={"holdout_acc": 0.8}, how="best validation score")
    assert changed.to_json() == {"at": 1.0, "forced": False, "trial": 2, "scores": {"holdout_acc": 0.8},
                                 "how": "best validation score"}  # fmt: skip


def test_absent_keys_read_as_none_and_defaults() -> None:
    stability = SeedStabilityAttr.from_json(MINIMAL[SeedStabilityAttr][1])
    assert stability.winner == 7 and stability.candidates is None and stability.candidate(7) is None
    check = CheckAttr.from_json({"name": "x", "passed": False, "detail": "d"})
    assert check.checked is True and "checked" not in check.to_json()


@pytest.mark.parametrize(
    ("kind", "stored", "where"),
    [
        (BaselineAttr, [1, 2], "baseline must be a JSON object"),
        (BaselineAttr, None, "baseline must be a JSON object"),
        (BaselineAttr, {"mean": "0.2"}, "baseline.mean must be a number"),
        (SeedStabilityAttr, {"candidates": [{"label": "a", "values": [1, "x"]}]},
         "seed_stability.candidates[0].values must be a list of numbers"),
        (SeedStabilityAttr, {"candidates": [{"values": [1.0]}]}, "with 'label'"),
        (SeedStabilityAttr, {"winner": True}, "seed_stability.winner must be an integer"),
        (VerdictAttr, {"summary": "x"}, "verdict must be an object with 'status'"),
        (VerdictAttr, {"status": "pass", "checks": [{"name": "x", "passed": 1, "detail": ""}]},
         "verdict.checks[0].passed must be true or false"),
        (HoldoutLogAttr, {"at": 1.0}, "holdout_log must be a list"),
        (HoldoutLogAttr, [{"trial": 1}], "holdout_log[0] must be an object with 'at'"),
        (OptimismAttr, {"compared": 2, "best": 1.0, "estimate": "0.1"}, "optimism.estimate must be a number"),
        (SamplerChoiceAttr, {"sampler": "tpe", "why": "x"}, "sampler_choice.sampler must be a JSON object"),
        (LearnedSpaceAttr, {"params": [{"type": "float"}]}, "learned_space.params must be a list of objects with a"),
        (EnqueuedAttr, {"configs": [{"params": {}}]}, "enqueued.configs must be a list of objects with an 'id'"),
        (WarmStartAttr, {"source": "x", "metric": "loss", "points": []}, "warm_start must be an object with 'at'"),
        (BudgetLogAttr, {"at": 1}, "budget_log must be a list"),
        (CopiesAttr, [{"source": "a.db", "study": "s", "at": 1.0}], "copied_from[0] must be an object with 'trials'"),
        (NestedFoldAttr, {"fold": 1, "folds": 3, "outer_score": "0.9", "inner_best": 0.95},
         "nested_cv.outer_score must be a number"),
        (ReferencePointAttr, {"values": {"loss": "high"}, "source": "given"}, "reference_point.values must be"),
        (ChoiceAttr, {"rule": {"rule": "knee"}, "trial": 3}, "choice must be an object with 'params'"),
        (ValidationSetAttr, {"name": "val"}, "validation_set must be an object with 'source'"),
        (ConvergenceAttr, {"trials": 26, "bound": 0.0052, "noise": "low", "best": 10, "at": 1.7e9},
         "convergence.noise must be a number"),
        (OptimismAttr, {"compared": 2, "best": 1.0, "earlier": {"a": "3"}}, "optimism.earlier must be an object of"),
    ],
)  # fmt: skip
def test_a_value_of_another_shape_is_refused_naming_where_and_the_fix(kind: Any, stored: Any, where: str) -> None:
    with pytest.raises(AttributeShapeError, match=r"see tunesmith\.attributes") as caught:
        kind.from_json(stored)
    assert where in str(caught.value)


def test_the_shape_error_is_a_tunesmith_error_and_a_value_error() -> None:
    assert issubclass(AttributeShapeError, TunesmithError) and issubclass(AttributeShapeError, ValueError)


def test_holdout_rows_come_from_rows_or_from_flat_pairs() -> None:
    assert HoldoutAttr.from_json(WRITTEN[HoldoutAttr][0]).table() == [("acc", 0.82, 0.8)]
    assert HoldoutAttr.from_json(MINIMAL[HoldoutAttr][0]).table() == [("loss", 0.1, 0.12)]
    with pytest.raises(AttributeShapeError, match="'rows' or pairs"):
        HoldoutAttr.from_json({"trial": 3}).table()
    with pytest.raises(AttributeShapeError, match="numbers"):
        HoldoutAttr.from_json({"val_loss": "low", "holdout_loss": 0.1}).table()


class _Target:
    def __init__(self) -> None:
        self.attrs: dict[str, Any] = {}

    def set_attr(self, key: str, value: Any) -> None:
        self.attrs[key] = value


def test_read_attr_is_none_when_absent_and_write_attr_stores_under_the_key() -> None:
    target = _Target()
    assert read_attr(target.attrs, OptimismAttr) is None
    optimism = OptimismAttr.from_json(WRITTEN[OptimismAttr][0])
    write_attr(target, optimism)
    assert target.attrs == {"optimism": WRITTEN[OptimismAttr][0]} and read_attr(target.attrs, OptimismAttr) == optimism


def test_attributes_survive_a_sqlite_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/attrs.db"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="a", sampler="random")
    for kind in (BaselineAttr, SeedStabilityAttr, HoldoutAttr, HoldoutLogAttr, OptimismAttr, VerdictAttr):
        write_attr(study, kind.from_json(WRITTEN[kind][-1]))
    loaded = ts.Study.load("a", url)
    for kind in (BaselineAttr, SeedStabilityAttr, HoldoutAttr, HoldoutLogAttr, OptimismAttr, VerdictAttr):
        assert loaded.attrs[kind.KEY] == WRITTEN[kind][-1]
        assert read_attr(loaded.attrs, kind) == kind.from_json(WRITTEN[kind][-1])


def test_the_report_reads_older_shapes_with_extra_keys_and_notes_a_broken_one() -> None:
    records = tuple(TrialRecord(n, {"x": n / 10}, n, TrialState.COMPLETE, metrics={"loss": (n - 4) ** 2 / 10})
                    for n in range(8))  # fmt: skip
    attrs = {
        "verdict": {**MINIMAL[VerdictAttr][0], "added_later": {"a": 1}},
        "seed_stability": {**MINIMAL[SeedStabilityAttr][0], "added_later": 1},
        "holdout": MINIMAL[HoldoutAttr][0],
        "baseline": MINIMAL[BaselineAttr][0],
        "holdout_log": MINIMAL[HoldoutLogAttr][0],
        "optimism": {"compared": "many"},
    }
    data = ReportData("old", ts.Space({"x": ts.Float(0.0, 1.0)}), ts.Metric("loss"), records, attrs=attrs)
    text = render_report(data)
    for heading in ("Verdict", "Seed stability", "Validation vs holdout", "Baseline", "Holdout openings"):
        assert f"<h2>{heading}</h2>" in text
    assert text.count("is not in the shape the report reads") == 1 and "optimism.compared" in text


def test_the_attributes_module_stays_in_the_core() -> None:
    """It may import the errors, trial and objective level only: never discipline, report, dashboard or cli."""
    allowed = {"tunesmith.errors", "tunesmith._attribute_json", "tunesmith._attributes_judging", "tunesmith.trial",
               "tunesmith.objective"}  # fmt: skip
    here = Path(attributes.__file__)
    for module in (here, here.with_name("_attribute_json.py"), here.with_name("_attributes_judging.py")):
        tree = ast.parse(Path(str(module)).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        assert {m for m in imported if m.startswith("tunesmith")} <= allowed
