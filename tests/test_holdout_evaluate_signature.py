"""`finalize` refuses an evaluation that cannot be called as ``evaluate(params, seed)`` before the holdout opens.

Passing the search's objective, a function of the trial, is the natural slip. The call raised TypeError inside the
opening, which was recorded as spent: the fixed evaluation then needed ``force=True``, and the verdict showed a
forced opening for a holdout no code had read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.attributes import HoldoutLogAttr, read_attr


def objective(trial: ts.Trial) -> dict[str, float]:
    return {"loss": (trial.params["x"] - 0.3) ** 2}


def evaluate(params: dict[str, Any], seed: int) -> dict[str, float]:
    return {"loss": (params["x"] - 0.3) ** 2 + 0.001}


def needs_split(params: dict[str, Any], seed: int, split: str) -> dict[str, float]:
    return evaluate(params, seed)


def tuned(tmp_path: Path) -> ts.Study:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=6),
                     storage=f"sqlite:///{tmp_path / 's.db'}", name="s", seed=0)  # fmt: skip
    study.optimize(objective)
    return study


def openings(study: ts.Study) -> int:
    log = read_attr(study.attrs, HoldoutLogAttr)
    return 0 if log is None else len(log.openings)


def test_the_search_objective_passed_as_the_evaluation_is_refused_before_the_holdout_opens(tmp_path: Path) -> None:
    study = tuned(tmp_path)
    with pytest.raises(ts.ConfigError) as refused:
        ts.finalize(study, objective)  # type: ignore[arg-type]
    said = str(refused.value)
    assert "evaluate objective(trial) cannot be called as evaluate(params, seed)" in said
    assert "finalize calls evaluate(params, seed) with the chosen configuration's params (a dict)" in said
    assert openings(study) == 0
    ts.finalize(study, evaluate)  # the fixed evaluation needs no force
    (opening,) = read_attr(study.attrs, HoldoutLogAttr).openings  # type: ignore[union-attr]
    assert not opening.forced
    assert opening.scores["loss"] == pytest.approx(evaluate(study.best.params, 0)["loss"])


def test_a_shifted_evaluation_of_other_arguments_is_refused_before_the_holdout_opens(tmp_path: Path) -> None:
    study = tuned(tmp_path)
    with pytest.raises(ts.ConfigError, match=r"shifted needs_split\(params, seed, split\) cannot be called as "
                                             r"shifted\(params, seed\) \(missing a required argument: 'split'\): "
                                             "define it so, with 2 positional parameters"):  # fmt: skip
        ts.finalize(study, evaluate, shifted=needs_split)
    assert openings(study) == 0


def test_an_evaluation_that_is_no_function_is_refused_before_the_holdout_opens(tmp_path: Path) -> None:
    study = tuned(tmp_path)
    with pytest.raises(ts.ConfigError, match=r"evaluate must be a function, evaluate\(params, seed\), got dict"):
        ts.finalize(study, {"loss": 0.1})  # type: ignore[arg-type]
    assert openings(study) == 0


def test_an_evaluation_with_defaults_or_extra_arguments_is_accepted(tmp_path: Path) -> None:
    study = tuned(tmp_path)

    def flexible(params: dict[str, Any], seed: int = 0, *rest: Any, scale: float = 1.0) -> dict[str, float]:
        return evaluate(params, seed)

    ts.finalize(study, flexible)
    (opening,) = read_attr(study.attrs, HoldoutLogAttr).openings  # type: ignore[union-attr]
    assert "loss" in opening.scores
