"""Enqueued configurations: a partial one on a used-up space is refused and never blocks the queue, values within
the space's tolerance run as the space holds them, and a repeated configuration is queued once unless asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.attributes import EnqueuedAttr, read_attr
from tunesmith.errors import ConfigError
from tunesmith.study._known import (
    EnqueuedParameterUnusedWarning,
    Known,
    QueuedConfigurationRefusedWarning,
    QueuedConfigurationRepeatWarning,
)
from tunesmith.trial import TrialRecord

FOUR = ts.Space({"a": ts.Int(1, 2), "b": ts.Int(1, 2)})  # four configurations, used up by four trials
LR_LAYERS = ts.Space({"lr": ts.Float(1e-5, 1e-1, log=True), "layers": ts.Int(1, 4)})


def _sum(trial: ts.Trial) -> float:
    return float(trial.params["a"] + trial.params["b"])


def _used_up(storage: str = "memory") -> ts.Study:
    """A study of `FOUR` whose four trials tried every configuration."""
    study = ts.Study(FOUR, metric="value", budget=ts.Budget(trials=10), storage=storage, seed=0, sampler="tpe")
    study.optimize(_sum, n_trials=4)
    assert {(t.params["a"], t.params["b"]) for t in study.trials} == {(1, 1), (1, 2), (2, 1), (2, 2)}
    return study


def _queue(study: ts.Study) -> tuple[dict[str, Any], ...]:
    stored = read_attr(study.attrs, EnqueuedAttr)
    return () if stored is None else stored.configs


# A partial entry on a used-up space ----------------------------------------------------------------
def test_a_partial_entry_on_a_used_up_space_is_refused_and_the_entry_behind_it_runs(tmp_path: Path) -> None:
    """After every configuration was tried, the sampler had nothing to draw b from: the run stopped "nothing new to
    propose" with neither entry run, neither marked refused, and no warning."""
    study = _used_up(f"sqlite:///{tmp_path / 'used_up.db'}")
    entries = ({"id": "partial", "params": {"a": 2}, "at": 0.0},
               {"id": "full", "params": {"a": 1, "b": 2}, "at": 0.0, "note": "behind it"})  # fmt: skip
    study.set_attr(EnqueuedAttr.KEY, EnqueuedAttr(configs=entries).to_json())  # queued before the space was used up
    refused = r"\{'a': 2\} cannot run in study .*: all 4 configurations of the space were tried .*, so whatever is "
    with pytest.warns(QueuedConfigurationRefusedWarning, match=refused + r"drawn for b repeats one; it is skipped"):
        study.optimize(_sum)
    ran = [t for t in study.trials if t.attrs.get("enqueued")]
    assert [(t.attrs["enqueue_id"], t.params) for t in ran] == [("full", {"a": 1, "b": 2})]
    assert _queue(study)[0]["refused"].startswith("all 4 configurations of the space were tried")


def test_a_partial_entry_enqueued_once_the_space_is_used_up_is_refused_not_left_waiting() -> None:
    study = _used_up()
    study.enqueue({"a": 2})
    with pytest.warns(QueuedConfigurationRefusedWarning, match=r"enqueue it again with repeat=True to run it anyway"):
        result = study.optimize(_sum)
    assert len(study.trials) == 4 and "nothing new to propose" in str(result.stop_reason)
    assert "refused" in _queue(study)[0]
    study.optimize(_sum)  # said once: a second run meets it marked (warnings are errors here)


def test_a_refused_entry_counts_the_configurations_define_by_run_trials_reached_as_the_samplers_do() -> None:
    """``x`` asked for on branch ``a`` only: the learned space holds it unconditionally, and the trial on ``b`` stands
    for every x, so 3 configurations ran where the product of the values says 4; the refusal said "all 4"."""

    def branchy(trial: ts.Trial) -> float:
        if trial.suggest_categorical("opt", ["a", "b"]) == "a":
            return float(trial.suggest_int("x", 1, 2))
        return 0.0

    study = ts.Study(metric="value", budget=ts.Budget(trials=20), storage="memory", seed=0, sampler="tpe")
    used_up = study.optimize(branchy)
    assert used_up.space_used_up and "all 3 configurations" in used_up.stop_reason, "the sampler's own count"
    study.enqueue({"opt": "a"})  # leaves x to draw
    with pytest.warns(QueuedConfigurationRefusedWarning) as said:
        study.optimize(branchy)
    (refused,) = [str(w.message) for w in said if issubclass(w.category, QueuedConfigurationRefusedWarning)]
    assert "all 3 configurations of the space were tried (running trials included; a trial that never asked for " \
           "a parameter stands for every value of it, so the 4 combinations of the values count some of them more " \
           "than once), so whatever is drawn for x repeats one" in refused  # fmt: skip


def test_a_partial_entry_queued_with_repeat_runs_on_a_used_up_space_with_the_rest_drawn_from_the_prior() -> None:
    study = _used_up()
    study.enqueue({"a": 2}, repeat=True)
    study.optimize(_sum, n_trials=1)
    fifth = study.trials[4]
    assert fifth.attrs["enqueued"] is True and fifth.params["a"] == 2 and fifth.params["b"] in (1, 2)
    assert fifth.attrs["drawn_from_prior"] == ["b"]


def test_under_the_lock_a_partial_entry_is_passed_over_once_the_history_has_used_up_the_space() -> None:
    """`next_queued` runs under the storage's lock, on a history that may hold trials created since the queue was
    read (another worker's): it passes over the partial entry there, where nothing may mark it refused."""
    history = [TrialRecord(number=i, params={"a": a, "b": b}, seed=0, state=ts.TrialState.COMPLETE)
               for i, (a, b) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2)])]  # fmt: skip
    queue = ({"id": "partial", "params": {"a": 2}}, {"id": "full", "params": {"a": 1, "b": 2}})
    known = Known(queue=queue, space=FOUR)
    assert known.next_queued(history[:3]) == queue[0]
    assert known.next_queued(history) == queue[1]


# Values within the space's tolerance ---------------------------------------------------------------
def test_an_enqueued_value_a_hair_above_a_bound_reaches_the_objective_as_the_bound() -> None:
    """1.0 + 1e-13 passes Float(0.1, 1.0)'s tolerance; handed on as given, scikit-learn refused it as max_features."""
    study = ts.Study(ts.Space({"max_features": ts.Float(0.1, 1.0)}), metric="value", budget=ts.Budget(trials=1),
                     storage="memory", seed=0)  # fmt: skip
    received: list[float] = []

    def objective(trial: ts.Trial) -> float:
        received.append(trial.params["max_features"])
        return 0.0

    study.enqueue({"max_features": 1.0 + 1e-13})
    study.optimize(objective)
    assert received == [1.0] and study.trials[0].params["max_features"] == 1.0


def test_an_enqueued_value_off_a_step_grid_by_rounding_is_stored_and_run_as_the_grid_value() -> None:
    study = ts.Study(ts.Space({"s": ts.Float(0.0, 1.0, step=0.1)}), metric="value", budget=ts.Budget(trials=1),
                     storage="memory", seed=0)  # fmt: skip
    study.enqueue({"s": 0.30000001})
    assert _queue(study)[0]["params"] == {"s": 0.3}
    study.optimize(lambda t: t.params["s"])
    assert study.trials[0].params["s"] == 0.3


def test_an_entry_stored_with_a_value_off_the_grid_is_handed_out_as_the_grid_value() -> None:
    """A queue written before `enqueue` snapped its values (or by hand) runs as the space holds it too."""
    study = ts.Study(ts.Space({"s": ts.Float(0.0, 1.0, step=0.1)}), metric="value", budget=ts.Budget(trials=1),
                     storage="memory", seed=0)  # fmt: skip
    study.set_attr(EnqueuedAttr.KEY, EnqueuedAttr(configs=({"id": "old", "params": {"s": 0.1 * 3}},)).to_json())
    study.optimize(lambda t: t.params["s"])
    assert study.trials[0].params["s"] == 0.3 and 0.1 * 3 != 0.3


# Repeats ---------------------------------------------------------------------------------------------
SMALL = ts.Space({"n": ts.Int(1, 50), "c": ts.Choice(["a", "b"])})


def _small(storage: str = "memory") -> ts.Study:
    return ts.Study(SMALL, metric="value", budget=ts.Budget(trials=6), storage=storage, name="small", seed=0)


def test_the_same_configuration_enqueued_three_times_is_queued_once_with_a_warning_naming_the_entry() -> None:
    study = _small()
    study.enqueue({"n": 7, "c": "a"}, note="known good")
    with pytest.warns(QueuedConfigurationRepeatWarning, match=r"enqueue to study 'small': \{'n': 7, 'c': 'a'\} repeats "
                      r"entry 1 of the queue \(known good\), not run yet, so it is not queued again"):  # fmt: skip
        study.enqueue({"n": 7, "c": "a"})
        study.enqueue({"n": 7.0, "c": "a"})  # the same value, spelled as a float
    study.optimize(lambda t: float(t.params["n"]))
    assert [t.params for t in study.trials if t.attrs.get("enqueued")] == [{"n": 7, "c": "a"}]


def test_a_script_run_twice_does_not_run_its_enqueued_configuration_twice(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'twice.db'}"
    first = _small(storage)
    first.enqueue({"n": 7, "c": "a"})
    first.optimize(lambda t: float(t.params["n"]), n_trials=2)
    again = _small(storage)
    with pytest.warns(QueuedConfigurationRepeatWarning, match=r"\{'n': 7, 'c': 'a'\} repeats trial #0 \(complete\)"):
        again.enqueue({"n": 7, "c": "a"})
    again.optimize(lambda t: float(t.params["n"]), n_trials=2)
    assert [t.number for t in again.trials if t.params == {"n": 7, "c": "a"}] == [0]


def test_repeat_true_queues_a_configuration_a_trial_already_ran() -> None:
    study = _small()
    study.enqueue({"n": 7, "c": "a"})
    study.enqueue({"n": 7, "c": "a"}, repeat=True)  # a noisy objective measured twice
    study.optimize(lambda t: float(t.params["n"]))
    assert [t.number for t in study.trials if t.params == {"n": 7, "c": "a"}] == [0, 1]


def test_a_trial_that_failed_holds_no_result_so_only_a_completed_ones_configuration_is_a_repeat() -> None:
    """Running a failed trial's configuration again (after a fix) repeats nothing; a completed one's does."""
    study = _small()
    study.enqueue({"n": 7, "c": "a"})
    study.enqueue({"n": 8, "c": "a"})
    study.optimize(lambda t: 1.0 / (t.params["n"] - 7), n_trials=2, fail_fast=None)
    assert [t.state for t in study.trials] == [ts.TrialState.FAILED, ts.TrialState.COMPLETE]
    study.enqueue({"n": 7, "c": "a"})
    with pytest.warns(QueuedConfigurationRepeatWarning, match=r"repeats trial #1 \(complete\)"):
        study.enqueue({"n": 8, "c": "a"})
    assert [entry["params"]["n"] for entry in _queue(study)] == [7, 8, 7]


def test_a_partial_configuration_is_never_a_repeat_since_the_sampler_draws_the_rest_anew() -> None:
    study = _small()
    study.enqueue({"n": 7})
    study.enqueue({"n": 7})  # two configurations: c is drawn for each
    study.enqueue({"n": 7, "c": "a"})
    with pytest.warns(QueuedConfigurationRepeatWarning, match=r"repeats entry 3 of the queue, not run yet"):
        study.enqueue({"n": 7, "c": "a"})
    assert [entry["params"] for entry in _queue(study)] == [{"n": 7}, {"n": 7}, {"n": 7, "c": "a"}]


def test_enqueue_refuses_a_repeat_that_is_not_a_bool() -> None:
    with pytest.raises(ConfigError, match=r"repeat must be True or False, got repeat='yes': pass repeat=True"):
        _small().enqueue({"n": 7, "c": "a"}, repeat="yes")  # type: ignore[arg-type]


def test_an_enqueued_name_the_objective_never_asked_for_is_left_out_of_the_trials_params() -> None:
    """Taken before any trial completed (it may be a define-by-run name), weight_decay stayed in best.params
    though the objective only read lr and layers."""
    study = ts.Study(LR_LAYERS, metric="value", budget=ts.Budget(trials=2), storage="memory", seed=0)
    study.enqueue({"lr": 1e-5, "layers": 1, "weight_decay": 0.1})
    with pytest.warns(EnqueuedParameterUnusedWarning, match=r"trial #0 of study .* giving weight_decay=0.1, which the "
                      r"space lacks and the objective never asked for by name"):  # fmt: skip
        study.optimize(lambda t: t.params["lr"] * t.params["layers"])
    assert study.trials[0].params == {"lr": 1e-5, "layers": 1}
    assert study.best is not None and "weight_decay" not in study.best.params


def test_an_enqueued_name_a_told_trial_did_not_ask_for_is_said_while_the_names_it_asked_for_are_kept() -> None:
    study = ts.Study(LR_LAYERS, metric="value", budget=ts.Budget(trials=1), storage="memory", seed=0)
    study.enqueue({"lr": 1e-3, "layers": 2, "weight_decay": 0.1})
    trial = study.ask()
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    with pytest.warns(EnqueuedParameterUnusedWarning, match=r"giving weight_decay=0.1"):
        study.tell(trial, trial.params["lr"] + dropout)
    assert set(study.trials[0].params) == {"lr", "layers", "dropout"}


def test_the_cli_says_a_repeat_was_not_enqueued_and_queues_it_with_repeat(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tunesmith.cli import cli

    url = f"sqlite:///{tmp_path}/e.db"
    study = ts.Study(ts.Space({"a": ts.Int(1, 5)}), metric="loss", storage=url, name="e", seed=0,
                     budget=ts.Budget(trials=1))  # fmt: skip
    study.optimize(lambda t: float(t.params["a"]))
    ran = study.trials[0].params["a"]
    said = CliRunner().invoke(cli, ["enqueue", "--study", "e", "--storage", url, f"a={ran}"])
    assert said.exit_code == 0 and "not enqueued: " in said.output and "pass --repeat" in " ".join(said.output.split())
    said = CliRunner().invoke(cli, ["enqueue", "--study", "e", "--storage", url, f"a={ran}", "--repeat"])
    assert said.exit_code == 0 and "enqueued for e" in said.output


def test_a_define_by_run_branch_already_run_is_a_repeat_though_the_learned_space_holds_more() -> None:
    """The learned space holds ``momentum`` unconditionally, so the adam configuration read as partial and re-ran."""

    def objective(trial: ts.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])
        if optimizer == "sgd":
            trial.suggest_float("momentum", 0.5, 0.99)
        return lr

    study = ts.Study(metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(trials=4))
    study.enqueue({"lr": 1e-3, "optimizer": "adam"})
    study.enqueue({"lr": 1e-3, "optimizer": "sgd", "momentum": 0.9})
    study.optimize(objective, n_trials=2)
    with pytest.warns(QueuedConfigurationRepeatWarning, match=r"repeats trial #0"):
        study.enqueue({"lr": 1e-3, "optimizer": "adam"})
