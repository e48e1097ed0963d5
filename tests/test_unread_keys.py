"""A result key in a form the discipline reads (slice:, fold:, shifted:) that names no metric is refused, loudly.

``slice:digit:3`` (the slice and its value) reads as slice ``digit`` of a metric ``3``: before, nothing read it, the
worst-slice check said "no per-slice metrics reported" and the verdict read ready. The search's trials now fail with
the rule and the fix (fail-fast stops the run), and a holdout result is refused before any check reads it, its
opening voided so that the fixed evaluation needs no force."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline.holdout import HoldoutKeyMissing
from tunesmith.objective import unread_key
from tunesmith.study import ObjectiveError
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def errors(seed: int, n: int = 300) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < 0.2).astype(float)


def test_keys_that_name_a_metric_the_result_returns_or_the_study_reads_it_by_are_read() -> None:
    result = {"val_err": 0.2, "latency_ms": 3.0, "slice:night:val_err": 0.3, "stderr:slice:night:val_err": 0.01,
              "slice:night:latency_ms": 4.0, "fold:0:val_err": 0.2, "fold:1:val_err": 0.25,
              "shifted:val_err": 0.3}  # fmt: skip
    assert unread_key(result, ["val_err"], "val_err") is None
    # a holdout result names its score holdout_err, and its slices may name the study's metric
    assert unread_key({"holdout_err": 0.2, "slice:night:val_err": 0.3, "shifted:val_err": 0.3},
                      ["holdout_err", "val_err"], "holdout_err") is None  # fmt: skip


@pytest.mark.parametrize(
    ("key", "reads", "fix"),
    [
        ("slice:digit:3", "slice 'digit' of a metric '3'", "e.g. slice:digit_3:val_err"),
        ("slice:night", "no slice: it names one part, not two", "'slice:<slice>:<metric>'"),
        ("slice:night:val_error", "slice 'night' of a metric 'val_error'", "e.g. slice:night:val_err"),
        ("fold:val_err:0", "no fold: its first part is not a fold's number", "e.g. fold:0:val_err"),
        ("fold:2:acc", "fold 2 of a metric 'acc'", "'fold:<i>:<metric>'"),
        ("shifted:holdout_error", "a metric 'holdout_error' on shifted data", "e.g. shifted:val_err"),
    ],
)
def test_a_key_that_names_no_metric_says_what_it_reads_as_what_the_result_holds_and_the_fix(
        key: str, reads: str, fix: str) -> None:  # fmt: skip
    message = unread_key({"val_err": 0.2, key: 0.1}, ["val_err"], "val_err")
    assert message is not None
    assert f"returns {key!r}, which reads as {reads}, but its metrics are 'val_err': nothing would read it" in message
    assert fix in message


def test_a_search_whose_objective_writes_slices_that_name_no_metric_stops_with_the_rule() -> None:
    def objective(trial: ts.Trial) -> dict[str, Any]:
        err = errors(trial.seed)
        return {"val_err": err, **{f"slice:digit:{d}": err[d::3] for d in range(3)}}

    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=10), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"the first 3 trials \(#0, #1, #2\) failed the same way") as raised:
        study.optimize(objective)
    assert "'slice:digit:0' (and 2 more such keys), which reads as slice 'digit' of a metric '0'" in str(raised.value)
    assert [(t.state, t.kind) for t in study.trials] == [(TrialState.FAILED, TrialKind.BAD_RESULT)] * 3


def test_a_holdout_whose_slices_name_no_metric_is_refused_before_any_check_and_its_opening_voided() -> None:
    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {"val_err": errors(trial.seed)}

    def holdout(params: dict[str, Any], seed: int, *, key: str) -> dict[str, Any]:
        err = errors(seed + 1, 600)
        return {"holdout_err": err, **{key.format(d): err[d::3] for d in range(3)}}

    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=4), storage="memory", seed=0)
    study.optimize(objective)
    with pytest.raises(HoldoutKeyMissing) as raised:
        ts.finalize(study, lambda p, s: holdout(p, s, key="slice:digit:{}"), holdout="h")
    message = str(raised.value)
    assert "returns 'slice:digit:0' (and 2 more such keys), which reads as slice 'digit' of a metric '0'" in message
    assert "e.g. slice:digit_0:holdout_err" in message and "the next one needs no force" in message
    assert [entry.get("voided") for entry in study.attrs["holdout_log"]] == ["key"]
    verdict = ts.finalize(study, lambda p, s: holdout(p, s, key="slice:digit_{}:holdout_err"), holdout="h")
    sliced = verdict.check("worst slice")
    assert sliced.checked and "slice 'digit_" in sliced.detail, sliced.detail
    assert verdict.check("holdout opened once").passed


def test_a_shifted_set_scored_without_the_metric_is_refused_before_any_check_not_taken_for_no_shifted_set() -> None:
    """It read as "no shifted or time-split test set given", the verdict ready with the shift not checked."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {"val_err": errors(trial.seed)}

    def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_err": errors(seed + 1, 600)}

    def shifted(params: dict[str, Any], seed: int, *, key: str) -> dict[str, Any]:
        return {key: (np.random.default_rng(seed + 2).random(600) < 0.3).astype(float)}

    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=4), storage="memory", seed=0)
    study.optimize(objective)
    with pytest.raises(HoldoutKeyMissing) as raised:
        ts.finalize(study, holdout, shifted=lambda p, s: shifted(p, s, key="test_err"), holdout="h")
    message = str(raised.value)
    assert "the shifted evaluation returned ['test_err'], without the study's metric" in message
    assert "the next one needs no force" in message
    assert [entry.get("voided") for entry in study.attrs["holdout_log"]] == ["key"]
    verdict = ts.finalize(study, holdout, shifted=lambda p, s: shifted(p, s, key="holdout_err"), holdout="h")
    assert verdict.check("shifted data").checked, verdict.check("shifted data").detail


def test_slices_of_another_metric_alone_are_named_where_the_check_said_none_were_reported() -> None:
    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {"val_err": errors(trial.seed)}

    def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {"holdout_err": errors(seed + 1, 600), "predict_ms": 2.0, "slice:cpu:predict_ms": 3.0,
                "slice:gpu:predict_ms": 1.0}  # fmt: skip

    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=3), storage="memory", seed=0)
    study.optimize(objective)
    sliced = ts.finalize(study, holdout, holdout="h").check("worst slice")
    assert not sliced.checked
    assert sliced.detail == ("no slices of val_err reported (slice:<name>:val_err keys); the results slice "
                             "'predict_ms', which this check does not read: it judges the study's metric")


def test_a_search_result_with_a_shifted_score_fails_the_trial_since_only_the_holdout_is_read_for_one() -> None:
    """The shifted check reads a shifted score from the holdout alone: one the objective returned in the search was
    stored, and the verdict said "no shifted or time-split test set given"."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {"val_err": errors(trial.seed), "shifted:val_err": errors(trial.seed + 1)}

    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=4), storage="memory", seed=0)
    with pytest.raises(ObjectiveError) as raised:
        study.optimize(objective)
    message = str(raised.value)
    assert "the result returns 'shifted:val_err', but a shifted score is read from the holdout only" in message
    assert "finalize(..., shifted=evaluate_on_shifted)" in message and "(e.g. 'val_err_shifted')" in message


def test_a_misspelt_shifted_key_in_a_search_result_is_told_where_shifted_scores_go_not_another_spelling() -> None:
    """Its fix read "a shifted key is 'shifted:<metric>', e.g. shifted:val_err", a key the search refuses too."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {"val_err": errors(trial.seed), "shifted:val_er": 0.3}

    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=3), storage="memory", seed=0)
    study.optimize(objective, fail_fast=None)
    reason = study.trials[0].reason or ""
    assert "a shifted score is read from the holdout only" in reason and "e.g. shifted:val_err" not in reason, reason
