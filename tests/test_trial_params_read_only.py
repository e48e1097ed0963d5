"""``trial.params`` is read-only to the objective: it is the configuration the study records for the trial. A change
ran values the records did not hold; in a study defined by run the change was recorded in place of the trial's own
answers (``params.pop("x")`` dropped ``x`` from the record, a value set was recorded as if drawn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import ReadOnlyParamsError
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0), "optimizer": ts.Choice(["adam", "sgd"])})

CHANGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "trial.params['x'] = 0.5": lambda params: params.__setitem__("x", 0.5),
    "del trial.params['x']": lambda params: params.__delitem__("x"),
    "trial.params.pop('optimizer')": lambda params: params.pop("optimizer"),
    "trial.params.popitem()": lambda params: params.popitem(),
    "trial.params.update(...)": lambda params: params.update(x=0.5),
    "trial.params.setdefault('lr', 0.1)": lambda params: params.setdefault("lr", 0.1),
    "trial.params.clear()": lambda params: params.clear(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_each_change_of_the_params_is_refused_and_the_record_kept(change: str) -> None:
    refused: list[str] = []

    def objective(trial: ts.Trial) -> float:
        before = dict(trial.params)
        with pytest.raises(ReadOnlyParamsError) as caught:
            CHANGES[change](trial.params)
        refused.append(str(caught.value))
        assert trial.params == before  # nothing changed before the refusal
        return float(trial.params["x"])

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory", seed=0, sampler="random")
    study.optimize(objective, progress=False)
    assert len(refused) == 2 and refused[0].startswith(f"{change} changes trial.params, which is read-only")
    assert "params = dict(trial.params)" in refused[0]
    assert all(record.metrics["loss"] == record.params["x"] for record in study.trials)


def test_a_setdefault_of_a_key_it_holds_reads_it() -> None:
    def objective(trial: ts.Trial) -> float:
        return float(trial.params.setdefault("x", 2.0))

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=1), storage="memory", seed=0, sampler="random")
    study.optimize(objective, progress=False)
    assert study.trials[0].metrics["loss"] == study.trials[0].params["x"] < 1.0


def test_a_study_defined_by_run_records_what_its_trials_asked_for() -> None:
    # A define-by-run trial's record is read from its params when it ends: popping ``x`` dropped it from the record
    # and setting ``y`` recorded 0.5 as the trial's draw.
    def objective(trial: ts.Trial) -> float:
        x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
        params = dict(trial.params)  # the fix the refusal names
        params.pop("x")
        params["y"] = 0.5
        with pytest.raises(ReadOnlyParamsError):
            trial.params.pop("x")
        return x + y

    study = ts.Study(metric="loss", budget=ts.Budget(trials=3), storage="memory", seed=0)
    study.optimize(objective, progress=False)
    assert all(set(record.params) == {"x", "y"} for record in study.trials)
    assert all(record.metrics["loss"] == pytest.approx(record.params["x"] + record.params["y"])
               for record in study.trials)  # fmt: skip


def test_fail_fast_calls_a_change_of_the_params_the_codes_error_in_every_configuration() -> None:
    def objective(trial: ts.Trial) -> float:
        trial.params["x"] = min(trial.params["x"], 0.9)
        return float(trial.params["x"])

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=10), storage="memory", seed=0, sampler="random")
    with pytest.raises(ObjectiveError, match=r"ReadOnlyParamsError: trial.params\['x'\] = 0\.\d+ changes") as caught:
        study.optimize(objective, progress=False)
    assert "raise this on purpose" not in str(caught.value)


def test_an_objective_written_for_a_dict_of_params_is_told_they_are_trial_params() -> None:
    """``def objective(params): return params["x"]`` failed on "'Trial' object is not subscriptable", and fail-fast
    spent a fourth trial on it and asked whether some configurations raise it on purpose."""

    def objective(params: Any) -> float:
        return float(params["x"])

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=10), storage="memory", seed=0, sampler="random")
    with pytest.raises(ObjectiveError, match=r"the first 3 trials \(#0, #1, #2\) failed the same way.*NotTheParams"
                                             r"Error: 'Trial' object is not subscriptable: the objective receives a "
                                             r"ts.Trial, whose parameters are trial.params .*trial.params\['x'\]"
                       ) as caught:  # fmt: skip
        study.optimize(objective, progress=False)
    assert "raise this on purpose" not in str(caught.value)
    trial = study.ask()
    with pytest.raises(AttributeError, match=r"'Trial' object has no attribute 'get': the objective receives a "
                                             r"ts.Trial, whose parameters are trial.params"):  # fmt: skip
        trial.get("x")  # type: ignore[attr-defined]
    assert not hasattr(trial, "items") and hasattr(trial, "params")
