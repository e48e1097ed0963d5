"""Per-example values in the shapes frameworks give them: a column is read, a table or a row per example is refused
with its shape and the fix, and a holdout result that cannot be read voids its opening instead of spending it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline import HoldoutResultUnreadable
from tunesmith.objective import summarise
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
ERRORS = (np.random.default_rng(0).random(200) < 0.2).astype(float)


def reason_of(value: Any) -> tuple[TrialState, TrialKind | None, str]:
    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=1), storage="memory", seed=0)
    study.optimize(lambda trial: {"val_err": value}, fail_fast=None)
    trial = study.trials[0]
    return trial.state, trial.kind, trial.reason or ""


def _column(kind: str) -> Any:
    """The errors as a column of shape (n, 1): a numpy array, or a torch tensor (skipped without torch)."""
    if kind == "numpy":
        return ERRORS.reshape(-1, 1)
    torch = pytest.importorskip("torch")
    return torch.tensor(ERRORS).reshape(-1, 1)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_a_column_of_per_example_values_is_read_as_one_value_per_example(kind: str) -> None:
    column = _column(kind)
    assert summarise("val_err", column) == summarise("val_err", ERRORS)
    assert reason_of(column)[:2] == (TrialState.COMPLETE, None)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (np.stack([ERRORS, ERRORS], axis=1), "holds 2-dimensional values of shape (200, 2), where per-example values "
         "are one number per example: reduce each example's row to one value"),
        ([[0.1], [0.2]], "holds per-example values that are not all numbers: the value at index 0 is [0.1] (list); "
         "return one number per example"),
    ],
)
def test_values_that_are_not_one_number_per_example_fail_the_trial_with_their_shape_and_the_fix(value: Any,
                                                                                                said: str) -> None:
    state, kind, reason = reason_of(value)
    assert (state, kind) == (TrialState.FAILED, TrialKind.BAD_RESULT)
    assert f"metric 'val_err' {said}" in reason


def test_a_table_fails_the_trial_asking_for_its_column() -> None:
    pandas = pytest.importorskip("pandas")
    state, kind, reason = reason_of(pandas.DataFrame({"err": ERRORS}))
    assert (state, kind) == (TrialState.FAILED, TrialKind.BAD_RESULT)
    assert ("metric 'val_err' holds a table of shape (200, 1), where per-example values are one number per example: "
            "return its column of them (table['column'])") in reason


def test_a_holdout_given_as_a_column_is_judged_and_one_that_cannot_be_read_voids_its_opening() -> None:
    def objective(trial: ts.Trial) -> dict[str, Any]:
        return {"val_err": (np.random.default_rng(trial.seed).random(300) < 0.2).astype(float)}

    study = ts.Study(SPACE, metric="val_err", budget=ts.Budget(trials=3), storage="memory", seed=0)
    study.optimize(objective)
    with pytest.raises(HoldoutResultUnreadable) as raised:
        ts.finalize(study, lambda params, seed: {"holdout_err": "0.2"}, holdout="h")
    message = str(raised.value)
    assert "the holdout evaluation returned a result that cannot be read: metric 'holdout_err' is no number (str)" \
        in message
    assert "voided for its result: fix the evaluation and finalize again, with no force" in message
    assert [entry.get("voided") for entry in study.attrs["holdout_log"]] == ["unreadable"]
    column = (np.random.default_rng(7).random(400) < 0.2).astype(float).reshape(-1, 1)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_err": column}, holdout="h")
    assert study.attrs["holdout"]["scores"]["holdout_err"] == pytest.approx(float(column.mean()))
    assert f"vs holdout {float(column.mean()):.4g}" in verdict.check("holdout gap").detail
    opened = verdict.check("holdout opened once")
    assert opened.passed and "1 of them voided (returned a value that is no number" in opened.detail, opened.detail
