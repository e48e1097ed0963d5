"""The study: ask/report/tell, states, guardrails, budget, seeds, resume."""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.objective import MetricDirectionWarning
from tunesmith.samplers.base import SearchContext
from tunesmith.schedulers.base import Scheduler
from tunesmith.study import trial_seed
from tunesmith.trial import TrialRecord


def quadratic_space() -> ts.Space:
    return ts.Space({"x": ts.Float(-5.0, 5.0), "n": ts.Int(1, 8)})


def make_study(**kwargs: object) -> ts.Study:
    options: dict[str, object] = {"metric": ts.Metric("loss", "min"), "storage": "memory", "seed": 3}
    options.update(kwargs)
    return ts.Study(quadratic_space(), **options)  # type: ignore[arg-type]


def test_ask_tell_records_a_complete_trial() -> None:
    study = make_study()
    trial = study.ask()
    record = study.tell(trial, {"loss": 1.5, "acc": 0.5})
    assert record.state is ts.TrialState.COMPLETE and record.metrics == {"loss": 1.5, "acc": 0.5}
    assert study.best == record


def test_a_bare_float_is_the_metric() -> None:
    study = make_study()
    assert study.tell(study.ask(), 0.25).metrics == {"loss": 0.25}


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (float("nan"), "loss is nan"),
        ({"acc": 1.0}, "has no 'loss'"),
        ("text", "return a float or a dict"),
        (None, "return a float or a dict"),
        ({"loss": "abc"}, "not a number"),
        ({"loss": "0.5"}, "metric 'loss' is not a number: '0.5' (str)"),  # float() took it as 0.5
        ({"loss": True}, "metric 'loss' is not a number: True (bool)"),  # float() took it as 1.0
        ({"loss": np.bool_(True)}, "metric 'loss' is not a number: np.True_ (bool)"),  # stored 1.0 COMPLETE
        (np.bool_(False), "the objective returned a bool"),
        ({"loss": 0.5, "note": "ok"}, "metric 'note' is not a number"),
    ],
)
def test_bad_results_are_failed_with_a_reason(result: object, reason: str) -> None:
    study = make_study()
    record = study.tell(study.ask(), result)
    assert record.state is ts.TrialState.FAILED and reason in (record.reason or "")


def test_a_flag_beside_the_metric_is_kept_as_a_number() -> None:
    study = make_study()
    assert study.tell(study.ask(), {"loss": 0.5, "converged": True}).metrics == {"loss": 0.5, "converged": 1.0}


def test_guardrail_breach_is_infeasible_and_never_best() -> None:
    study = make_study(guardrails=[ts.Guardrail("latency_ms", "<=", 20.0)])
    fast = study.tell(study.ask(), {"loss": 0.9, "latency_ms": 10.0})
    slow = study.tell(study.ask(), {"loss": 0.1, "latency_ms": 25.0})
    assert slow.state is ts.TrialState.INFEASIBLE and "latency_ms <= 20" in (slow.reason or "")
    assert study.best == fast


def test_missing_guardrail_metric_fails_the_trial() -> None:
    study = make_study(guardrails=[ts.Guardrail("latency_ms", "<=", 20.0)])
    record = study.tell(study.ask(), {"loss": 0.1})
    assert record.state is ts.TrialState.FAILED and "latency_ms" in (record.reason or "")


def test_max_direction_picks_the_largest() -> None:
    study = make_study(metric=ts.Metric("acc", "max"))
    for value in (0.2, 0.9, 0.5):
        study.tell(study.ask(), {"acc": value})
    assert study.best is not None and study.best.metrics["acc"] == 0.9


@pytest.mark.parametrize(
    "name",
    [
        "accuracy",
        "val_acc",
        "roc_auc",
        "val_f1",
        "r2",
        "neg_log_loss",
        "score",
        "valAccuracy",
        "testAUC",
        "F1Score",
        "valaccuracy",
        "meanAveragePrecision",
        "f1",
    ],
)
def test_a_bare_name_that_reads_like_a_score_is_refused_rather_than_minimised(name: str) -> None:
    with pytest.raises(ts.ConfigError, match=rf"metric '{name}' reads like a score where higher is better, but a "
                       rf"bare name is minimised: pass ts.Metric\('{name}', 'max'\)"):  # fmt: skip
        ts.Study(quadratic_space(), metric=name, storage="memory")
    with pytest.raises(ts.ConfigError, match="reads like a score"):
        ts.Study(quadratic_space(), metrics=[ts.Metric("loss"), name], storage="memory")
    assert ts.Study(quadratic_space(), metric=ts.Metric(name, "max"), storage="memory").metric.direction == "max"
    with pytest.warns(MetricDirectionWarning, match=rf"metric '{name}' reads like a score .* but the study minimises"):
        minimised = ts.Study(quadratic_space(), metric=ts.Metric(name, "min"), storage="memory")
    assert minimised.metric.direction == "min", "a choice made explicitly is kept, with a warning"


def test_a_metric_object_without_a_direction_that_reads_like_a_score_warns_when_the_study_is_created(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/acc.db"
    with pytest.warns(MetricDirectionWarning, match=r"pass ts.Metric\('val_accuracy', 'max'\)"):
        ts.Study(quadratic_space(), metric=ts.Metric("val_accuracy"), storage=url, name="acc").storage.close()
    ts.Study.load("acc", url).storage.close()  # reopening says nothing more: the warning came at creation


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "val_accuracy"}, "a bare name is minimised: add direction = 'max' to the metric's table"),
        ({"name": "val_accuracy", "directon": "max"}, r"unknown key 'directon': did you mean 'direction'"),
    ],
)
def test_a_metric_table_without_a_direction_or_with_a_misspelt_key_is_refused(
    table: dict[str, str], message: str
) -> None:
    with pytest.raises(ts.ConfigError, match=message):
        ts.Metric.from_json(table)


def test_a_guardrail_table_with_a_misspelt_key_is_refused() -> None:
    with pytest.raises(ts.ConfigError, match=r"unknown key 'bonud': did you mean 'bound'"):
        ts.Guardrail.from_json({"metric": "latency_ms", "op": "<=", "bonud": 20})


@pytest.mark.parametrize(
    "name",
    [
        "loss",
        "val_error",
        "latency_ms",
        "logloss",
        "value",
        "accuracy_loss",
        "valLoss",
        "accuracyLoss",
        "trainloss",
        "num_errors",
        "runtime",
        "timestamp",
    ],
)
def test_a_bare_name_of_a_loss_is_minimised(name: str) -> None:
    assert ts.Study(quadratic_space(), metric=name, storage="memory").metric == ts.Metric(name, "min")


def test_trial_budget_is_exact() -> None:
    study = make_study(budget=ts.Budget(trials=3))
    result = study.optimize(lambda t: t.params["x"] ** 2)
    assert len(study.trials) == 3 and result.stop_reason.startswith("trial budget spent")
    with pytest.raises(ts.BudgetExhausted):
        study.ask()


def test_resource_budget_stops_running_trials_and_new_ones() -> None:
    study = make_study(budget=ts.Budget(resource=10))

    def objective(trial: ts.Trial) -> float:
        loss = 1.0
        for step in trial.steps(4):
            loss = 1.0 / (step + 1)
            trial.report(loss=loss)
        return loss

    study.optimize(objective)
    usage = study.usage()
    assert usage.resource == 10
    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE, ts.TrialState.COMPLETE, ts.TrialState.STOPPED]


def test_same_seed_gives_the_same_suggestions() -> None:
    def params_of(seed: int) -> list[dict]:
        study = make_study(seed=seed, budget=ts.Budget(trials=6))
        study.optimize(lambda t: t.params["x"] ** 2)
        return [r.params for r in study.trials]

    assert params_of(11) == params_of(11)
    assert params_of(11) != params_of(12)


def test_trial_seeds_derive_from_study_seed_and_number() -> None:
    study = make_study(seed=5, budget=ts.Budget(trials=3))
    study.optimize(lambda t: float(t.seed % 7))
    assert [r.seed for r in study.trials] == [trial_seed(5, n) for n in range(3)]
    assert len({r.seed for r in study.trials}) == 3


def test_non_finite_intermediate_value_stops_the_trial_as_diverged() -> None:
    study = make_study(budget=ts.Budget(trials=1))
    steps_run: list[int] = []

    def objective(trial: ts.Trial) -> float:
        loss = 1.0
        for step in trial.steps(10):
            steps_run.append(step)
            loss = math.inf if step == 2 else 1.0
            trial.report(loss=loss)
        return loss

    study.optimize(objective)
    record = study.trials[0]
    assert steps_run == [0, 1, 2]
    assert record.state is ts.TrialState.STOPPED and record.reason == "diverged"


class StopAfterTwo(Scheduler):
    name = "stop-after-two"

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        return Decision.STOP if trial.resource >= 2 else Decision.CONTINUE


def test_scheduler_stop_ends_steps_and_records_stopped() -> None:
    study = make_study(scheduler=StopAfterTwo(), budget=ts.Budget(trials=2))

    def objective(trial: ts.Trial) -> dict[str, float]:
        for step in trial.steps(10):
            trial.report(loss=10.0 - step)
        return {"loss": 10.0 - trial.step}

    study.optimize(objective)
    for record in study.trials:
        assert record.state is ts.TrialState.STOPPED and record.resource == 2
        assert "stop-after-two" in (record.reason or "")
    assert study.best is None, "a stopped trial did not train to the end: it is never best"


def test_stopped_trial_returning_nothing_keeps_its_last_report() -> None:
    study = make_study(scheduler=StopAfterTwo(), budget=ts.Budget(trials=1))

    def objective(trial: ts.Trial) -> None:
        for step in trial.steps(5):
            trial.report(loss=1.0 / (step + 1))

    study.optimize(objective)
    assert study.trials[0].metrics == {"loss": 0.5}


def test_exception_in_objective_is_recorded_and_the_study_goes_on() -> None:
    study = make_study(budget=ts.Budget(trials=4))

    def objective(trial: ts.Trial) -> float:
        if trial.number % 2 == 0:
            raise RuntimeError("boom")
        return 1.0

    result = study.optimize(objective)
    states = [r.state for r in study.trials]
    assert states == [ts.TrialState.FAILED, ts.TrialState.COMPLETE] * 2
    failed = study.trials[0]
    assert failed.reason == "exception: RuntimeError" and "boom" in (failed.error or "")
    assert len(result.failures) == 2


def test_resume_by_name_continues_numbering_and_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/resume.db"
    first = make_study(storage=url, name="exp", budget=ts.Budget(trials=5))
    first.optimize(lambda t: t.params["x"] ** 2, n_trials=2)
    again = make_study(storage=url, name="exp", budget=ts.Budget(trials=5))
    again.optimize(lambda t: t.params["x"] ** 2)
    assert [r.number for r in again.trials] == [0, 1, 2, 3, 4]
    loaded = ts.Study.load("exp", url)
    assert loaded.space == quadratic_space() and loaded.seed == 3 and len(loaded.trials) == 5


def test_resume_with_a_different_space_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mismatch.db"
    make_study(storage=url, name="exp").optimize(lambda t: t.params["x"] ** 2, n_trials=1)  # a trial drawn from it
    with pytest.raises(ts.ConfigError, match="different space"):
        ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("loss"), storage=url, name="exp")


def test_environment_is_recorded() -> None:
    env = make_study().attrs["environment"]
    assert env["python"] == platform.python_version() and "numpy" in env["packages"]


def test_auto_records_its_choice_and_why() -> None:
    tiny = ts.Study(ts.Space({"a": ts.Choice([1, 2, 3]), "b": ts.Int(1, 4)}), storage="memory")
    assert tiny.attrs["sampler_choice"]["sampler"]["name"] == "grid"
    big = make_study()
    assert big.attrs["sampler_choice"]["sampler"]["name"] != "grid"
    assert big.attrs["sampler_choice"]["why"]


def test_grid_ends_the_study_when_exhausted() -> None:
    study = ts.Study(
        ts.Space({"a": ts.Choice(["x", "y"]), "b": ts.Int(1, 3)}),
        sampler="grid",
        storage="memory",
        budget=ts.Budget(trials=50),
    )
    result = study.optimize(lambda t: float(t.params["b"]))
    assert len(study.trials) == 6 and "grid points" in result.stop_reason
    assert len({(r.params["a"], r.params["b"]) for r in study.trials}) == 6


def test_optimize_without_any_budget_is_refused() -> None:
    with pytest.raises(ts.ConfigError, match="no budget"):
        make_study().optimize(lambda t: 0.0)


def test_random_search_improves_on_a_quadratic() -> None:
    study = make_study(budget=ts.Budget(trials=60), sampler="random")
    study.optimize(lambda t: (t.params["x"] - 1.0) ** 2)
    assert study.best is not None and abs(study.best.params["x"] - 1.0) < 0.5
    assert np.isfinite(study.best.metrics["loss"])


def test_a_stopped_trial_without_guardrail_metrics_is_stopped_not_failed() -> None:
    study = make_study(scheduler=StopAfterTwo(), budget=ts.Budget(trials=1),
                       guardrails=[ts.Guardrail("latency_ms", "<=", 20.0)])  # fmt: skip

    def objective(trial: ts.Trial) -> None:
        for step in trial.steps(5):
            trial.report(loss=1.0 / (step + 1))

    study.optimize(objective)
    assert study.trials[0].state is ts.TrialState.STOPPED


def test_optimize_refuses_what_it_cannot_run_before_starting_a_trial() -> None:
    study = make_study()
    with pytest.raises(ts.ConfigError, match=r"objective must be a function of a trial, got float 0\.5: pass the "
                       r"function itself"):  # fmt: skip
        study.optimize(0.5, n_trials=2)  # type: ignore[arg-type]  # what calling the objective returned
    with pytest.raises(ts.ConfigError, match=r"workers must be a positive integer or None, got workers=0"):
        study.optimize(lambda trial: 1.0, n_trials=2, workers=0)
    with pytest.raises(ts.ConfigError, match=r"timeout must be a finite number > 0 or None, got timeout=-1"):
        study.optimize(lambda trial: 1.0, timeout=-1)  # it ran no trial and reported "timeout of -1s reached"
    assert study.trials == [], "nothing was started, so nothing was recorded as failed"
