"""Define-by-run: objectives that ask for their parameters by name (`Trial.suggest_float` and siblings)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.attributes import LearnedSpaceAttr, read_attr
from tunesmith.errors import ConfigError, SpaceError
from tunesmith.samplers._tried import Tried
from tunesmith.space import Space
from tunesmith.trial import Trial, TrialRecord, TrialState

ASKED = ["lr", "layers", "optimizer", "momentum"]


def objective(trial: Trial) -> float:
    """An Optuna-style objective: a log-scale float, an integer, a choice and a parameter only ``sgd`` has."""
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 6)
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])
    loss = (math.log10(lr) + 2.0) ** 2 + 0.1 * (layers - 3) ** 2
    if optimizer == "sgd":
        momentum = trial.suggest_float("momentum", 0.0, 0.99)
        loss += 4.0 * (momentum - 0.9) ** 2
    else:
        loss += 0.3
    return loss


def best_so_far(records: list[TrialRecord]) -> float:
    return min(r.metrics["value"] for r in records)


@pytest.mark.parametrize("sampler", ["random", "sobol", "tpe", "gp", "auto"])
def test_an_optuna_style_objective_runs_unchanged_under_every_sampler(sampler: str) -> None:
    study = ts.Study(sampler=sampler, storage="memory", seed=3)
    result = study.optimize(objective, n_trials=24)
    trials = study.trials
    assert result.states == {"complete": 24}
    assert list(study.space) == ASKED
    assert study.space["lr"] == ts.Float(1e-4, 1e-1, log=True)
    assert study.space["optimizer"] == ts.Choice(["adam", "sgd"])
    assert best_so_far(trials) < statistics.median(r.metrics["value"] for r in trials[:4])  # it improves
    for record in trials:  # a parameter asked for only inside the `if` is absent where the branch was not taken
        expected = set(ASKED) if record.params["optimizer"] == "sgd" else set(ASKED) - {"momentum"}
        assert set(record.params) == expected
        assert objective(Trial(record.number, record.params, record.seed)) == record.metrics["value"]


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_model_based_samplers_learn_the_asked_space(sampler: str) -> None:
    study = ts.Study(sampler=sampler, storage="memory", seed=5)
    study.optimize(objective, n_trials=30)
    values = [r.metrics["value"] for r in study.trials]
    assert statistics.median(values[-10:]) < statistics.median(values[:10])


def test_grid_counts_a_branch_not_taken_as_every_value_of_its_parameters() -> None:
    def branching(trial: Trial) -> float:
        if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "adam":
            return 1.0
        return float(trial.suggest_int("momentum_steps", 1, 3))

    study = ts.Study(sampler="grid", storage="memory", seed=2)
    result = study.optimize(branching, n_trials=10)
    assert result.space_used_up
    distinct = {tuple(sorted(r.params.items())) for r in study.trials}
    assert len(study.trials) == len(distinct) == 4  # adam once, sgd with each of 1, 2, 3


def branch(trial: Trial) -> float:
    """``k`` only on branch ``b``: 4 configurations, {a} and {b, k} for k in 1..3, where the product counts 6."""
    if trial.suggest_categorical("o", ["a", "b"]) == "b":
        trial.suggest_int("k", 1, 3)
    return 1.0


@pytest.mark.parametrize("sampler", ["grid", "tpe"])
def test_a_used_up_branching_space_counts_the_configurations_its_trials_ran(sampler: str) -> None:
    study = ts.Study(metric="loss", sampler=sampler, budget=ts.Budget(trials=12), storage="memory", seed=0)
    result = study.optimize(branch)
    assert result.space_used_up
    assert result.stop_reason.startswith("all 4 configurations")


def only_k(trial: Trial) -> float:
    return float(trial.suggest_int("k", 1, 3))


def k_and_d(trial: Trial) -> float:
    return float(trial.suggest_int("k", 1, 3) + trial.suggest_int("d", 1, 3))


@pytest.mark.parametrize("sampler", ["grid", "tpe"])
def test_a_used_up_learned_space_says_how_to_search_a_parameter_the_objective_asks_for_only_now(sampler: str) -> None:
    study = ts.Study(metric="loss", sampler=sampler, budget=ts.Budget(trials=12), storage="memory", seed=0)
    study.optimize(only_k)
    result = study.optimize(k_and_d)  # the study cannot know of d before a trial asks for it
    assert len(study.trials) == 3
    assert "a parameter the objective asks for only now is unknown to it" in result.stop_reason
    assert "study.enqueue(" in result.stop_reason


@pytest.mark.parametrize("sampler", ["grid", "tpe"])
def test_a_parameter_added_after_the_space_was_used_up_is_searched_with_every_value_tried_before(sampler: str) -> None:
    study = ts.Study(metric="loss", sampler=sampler, budget=ts.Budget(trials=20), storage="memory", seed=0)
    study.optimize(only_k)
    study.enqueue({"k": 1, "d": 2})
    result = study.optimize(k_and_d)
    pairs = {(r.params["k"], r.params["d"]) for r in study.trials if "d" in r.params}
    assert pairs == {(k, d) for k in (1, 2, 3) for d in (1, 2, 3)}
    assert len(study.trials) == 3 + 9 and result.space_used_up


def test_a_trial_older_than_a_parameter_s_first_definition_does_not_stand_for_its_values() -> None:
    learned = Space({"k": ts.Int(1, 3), "d": ts.Int(1, 3)})  # d first asked for by trial 1
    history = [
        TrialRecord(number=0, params={"k": 1}, seed=0, state=TrialState.COMPLETE, metrics={"value": 1.0}),
        TrialRecord(number=1, params={"k": 2, "d": 1}, seed=1, state=TrialState.COMPLETE, metrics={"value": 3.0}),
    ]
    assert {"k": 1, "d": 2} not in Tried(learned, history)


def test_the_sampler_proposes_every_learned_parameter_at_ask_time() -> None:
    study = ts.Study(sampler="random", storage="memory", seed=1)
    study.optimize(objective, n_trials=4)
    trial = study.ask()
    assert set(trial.proposed) == set(ASKED) and not trial.params  # proposed before the objective asks
    assert trial.suggest_float("lr", 1e-4, 1e-1, log=True) == trial.proposed["lr"] == trial.params["lr"]


def test_a_new_parameter_is_drawn_from_its_prior_with_the_trials_seed() -> None:
    first = Trial(0, {}, 1234, space=Space.empty()).suggest_float("lr", 1e-5, 1.0, log=True)
    again = Trial(7, {}, 1234, space=Space.empty()).suggest_float("lr", 1e-5, 1.0, log=True)
    other = Trial(0, {}, 4321, space=Space.empty()).suggest_float("lr", 1e-5, 1.0, log=True)
    assert first == again != other
    assert 1e-5 <= first <= 1.0


def test_a_new_parameter_with_a_meaningless_range_is_warned_about_in_the_objective() -> None:
    with pytest.warns(ts.SpaceWarning, match="'dropout' spans"):
        Trial(0, {}, 1, space=Space.empty()).suggest_float("dropout", 0.0, 2.0)


def test_a_parameter_asked_with_other_bounds_names_both_definitions() -> None:
    study = ts.Study(storage="memory", seed=2)
    trial = study.ask()
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_categorical("optimizer", ["adam", "sgd"])
    study.tell(trial, 1.0)
    later = study.ask()
    with pytest.raises(SpaceError) as error:
        later.suggest_float("lr", 1e-3, 1.0)
    message = str(error.value)
    assert "suggest_float('lr', 0.001, 1.0)" in message
    assert "suggest_float('lr', 0.0001, 0.1, log=True)" in message
    assert "ask with the study's definition" in message
    with pytest.raises(SpaceError, match=r"\['adam', 'sgd', 'rmsprop'\].*\['adam', 'sgd'\]"):
        later.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"])


def test_other_bounds_inside_optimize_fail_that_trial_with_the_message() -> None:
    def narrowing(trial: Trial) -> float:
        high = 1.0 if trial.number == 0 else 0.5
        return trial.suggest_float("x", 0.0, high)

    study = ts.Study(storage="memory", seed=2)
    study.optimize(narrowing, n_trials=2, fail_fast=None)
    first, second = study.trials
    assert first.state is TrialState.COMPLETE
    assert second.state is TrialState.FAILED
    assert "suggest_float('x', 0.0, 0.5)" in (second.error or "")
    assert "suggest_float('x', 0.0, 1.0)" in (second.error or "")


def test_two_workers_defining_one_parameter_differently_keep_the_first_definition() -> None:
    storage = ts.storage.MemoryStorage()
    one = ts.Study(storage=storage, name="race", seed=4)
    two = ts.Study(storage=storage, name="race")
    a, b = one.ask(), two.ask()  # both handed out before either learned "x"
    a.suggest_float("x", 0.0, 1.0)
    b.suggest_float("x", 0.0, 2.0)
    assert one.tell(a, 0.5).state is TrialState.COMPLETE
    refused = two.tell(b, 0.1)
    assert refused.state is TrialState.FAILED
    assert "suggest_float('x', 0.0, 2.0)" in (refused.error or "")
    assert "suggest_float('x', 0.0, 1.0)" in (refused.error or "")
    assert two.space["x"] == ts.Float(0.0, 1.0)


def test_a_given_space_mixes_with_asked_parameters() -> None:
    given = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True), "batch": ts.Int(32, 256, base=2)})
    seen: list[tuple[dict[str, Any], float]] = []

    def mixed(trial: Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)  # a parameter of the given space
        units = trial.suggest_int("units", 8, 64, log=True)  # a new one extends it
        seen.append((dict(trial.params), lr))
        return (math.log10(lr) + 2) ** 2 + abs(units - 32) / 32 + trial.params["batch"] / 1000

    study = ts.Study(given, sampler="tpe", storage="memory", seed=6)
    study.optimize(mixed, n_trials=8)
    assert list(study.space) == ["lr", "batch", "units"]
    for record, (params, lr) in zip(study.trials, seen, strict=True):
        assert lr == params["lr"] == record.params["lr"]  # the sampled value of the given space
        assert set(record.params) == {"lr", "batch", "units"}  # batch was not asked for, and is kept
    learned = read_attr(study.attrs, LearnedSpaceAttr)
    assert learned is not None and learned.definitions() == {"units": ts.Int(8, 64, log=True).to_json()}
    trial = study.ask()
    with pytest.raises(SpaceError, match=r"Int\(low=32, high=256, log=False, base=2, step=1\)"):
        trial.suggest_int("batch", 32, 256)


def test_a_conditional_parameter_of_a_given_space_is_refused_when_switched_off() -> None:
    given = ts.Space(
        {"optimizer": ts.Choice(["adam", "sgd"]), "momentum": ts.Float(0.0, 1.0, when={"optimizer": "sgd"})}
    )
    trial = Trial(0, {"optimizer": "adam"}, seed=1, space=given)  # as a study hands it out
    assert trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "adam"
    with pytest.raises(SpaceError, match=r"'momentum' is switched off .* when=\{'optimizer': \['sgd'\]\}"):
        trial.suggest_float("momentum", 0.0, 1.0)


def test_study_load_resumes_with_the_learned_space(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dbr.db'}"
    ts.Study(storage=url, name="dbr", sampler="tpe", seed=8).optimize(objective, n_trials=6)
    resumed = ts.Study.load("dbr", storage=url)
    assert list(resumed.space) == ASKED
    assert set(resumed.ask().proposed) == set(ASKED)
    resumed.optimize(objective, n_trials=3)
    assert len(resumed.trials) == 10  # the trial asked above is still running
    assert all(set(r.params) <= set(ASKED) and "lr" in r.params for r in resumed.trials)
    with pytest.raises(ConfigError, match="no space given up front"):
        ts.Study(ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)}), storage=url, name="dbr")


def test_the_process_executor_brings_the_asked_parameters_back() -> None:
    study = ts.Study(sampler="random", storage="memory", seed=9)
    result = study.optimize(objective, n_trials=6, workers=2, executor="processes")
    assert result.states == {"complete": 6}
    assert list(study.space) == ASKED
    assert {r.params["optimizer"] for r in study.trials} == {"adam", "sgd"}
    for record in study.trials:
        assert {"lr", "layers", "optimizer"} <= set(record.params)
        assert ("momentum" in record.params) == (record.params["optimizer"] == "sgd")
        assert objective(Trial(record.number, record.params, record.seed)) == record.metrics["value"]


def test_ask_and_tell_record_what_the_trial_asked_for() -> None:
    study = ts.Study(storage="memory", seed=11)
    by_handle = study.ask()
    x = by_handle.suggest_float("x", -1.0, 1.0)
    assert by_handle.asked == {"x": ts.Float(-1.0, 1.0)}
    study.tell(by_handle, x**2)
    by_number = study.ask()
    y = by_number.suggest_float("x", -1.0, 1.0)
    kind = by_number.suggest_categorical("kind", ["a", "b"])
    study.tell(by_number.number, y**2)
    first, second = study.trials
    assert first.params == {"x": x}
    assert second.params == {"x": y, "kind": kind}
    assert list(study.space) == ["x", "kind"]


def test_a_rerun_of_a_fixed_configuration_returns_its_values_and_refuses_a_missing_one() -> None:
    study = ts.Study(metric=ts.Metric("value", "min"), sampler="random", storage="memory", seed=12)
    study.optimize(objective, n_trials=6)
    report = ts.validate_top(study, objective, k=2, seeds=2)
    for candidate in report.candidates:
        assert candidate.values == (candidate.original, candidate.original)  # the objective ignores the seed
    fixed = Trial(0, {"lr": 0.01}, seed=1)
    assert fixed.suggest_float("lr", 1e-4, 1e-1, log=True) == 0.01
    with pytest.raises(SpaceError, match="re-runs a fixed configuration, which has no 'layers'"):
        fixed.suggest_int("layers", 1, 6)


def test_the_report_and_the_dashboard_read_the_learned_space() -> None:
    from tunesmith.dashboard._data import study_data
    from tunesmith.report import ReportData, analyse
    from tunesmith.report.export import trial_rows

    study = ts.Study(sampler="random", storage="memory", seed=13)
    study.optimize(objective, n_trials=30)
    data = study_data(study.storage.load_study(study.name), study.trials)  # from storage alone, no Study
    assert list(data.space) == list(study.space) == ASKED
    findings = analyse(ReportData.from_study(study))
    assert findings.importance is not None
    assert set(findings.importance.ranking()) == set(ASKED)  # momentum's absence on adam trials reads as inactive
    columns, rows = trial_rows(study)
    assert {f"params.{name}" for name in ASKED} <= set(columns)
    assert len(rows) == 30


def test_the_gp_does_not_run_a_branch_s_configuration_again_for_a_parameter_that_branch_never_asks() -> None:
    """A tree trial lacks C (it never asked for it): a proposal that differs from it only in C is that trial
    again. The GP once took C for a difference and ran the same tree for most of the budget."""

    def branches(trial: Trial) -> float:
        if trial.suggest_categorical("model", ["logreg", "tree"]) == "logreg":
            return 0.10 + 0.01 * abs(math.log10(trial.suggest_float("C", 1e-3, 1e2, log=True)))
        depth = trial.suggest_int("max_depth", 1, 10)
        return 0.05 + 0.01 * abs(depth - 9) + (0.01 if trial.suggest_categorical("criterion", ["gini", "entropy"])
                                                == "gini" else 0.0)  # fmt: skip

    study = ts.Study(metric="loss", sampler="gp", budget=ts.Budget(trials=20), storage="memory", seed=1)
    study.optimize(branches)
    after_start = [r for r in study.trials if r.number >= 5 and r.params["model"] == "tree"]
    earlier = {json_key(r.params) for r in study.trials if r.number < 5}
    repeated = [r.number for i, r in enumerate(after_start)
                if json_key(r.params) in earlier | {json_key(p.params) for p in after_start[:i]}]  # fmt: skip
    assert repeated == [], f"trials {repeated} ran a tree configuration again"


def json_key(params: dict[str, Any]) -> str:
    import json

    return json.dumps(params, sort_keys=True)
