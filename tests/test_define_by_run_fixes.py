"""Define-by-run as a new user met it: a branch that never asks for a parameter is one configuration, a
definition that changes stops the run at once, and a range that holds one value is a constant."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.samplers._tried import Tried
from tunesmith.space import Space
from tunesmith.space._define_by_run import DefinitionError
from tunesmith.study import ObjectiveError
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState


def kernel(trial: Trial) -> float:
    """``gamma`` only on the ``rbf`` branch: ``linear`` is one configuration, whatever gamma would be."""
    if trial.suggest_categorical("kind", ["linear", "rbf"]) == "rbf":
        return trial.suggest_float("gamma", 1e-4, 1.0, log=True)
    return 0.5


def last_line(record: TrialRecord) -> str:
    return (record.error or "").strip().splitlines()[-1]


# A branch that never asks for a parameter ------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["sobol", "tpe", "gp"])
def test_a_branch_that_never_asks_for_a_continuous_parameter_runs_once_the_parameter_is_defined(sampler: str) -> None:
    study = ts.Study(metric="value", sampler=sampler, budget=ts.Budget(trials=16), storage="memory", seed=0)
    study.optimize(kernel)
    defined = min(r.number for r in study.trials if "gamma" in r.params)
    # A linear trial run before gamma was first asked for may have run an objective without gamma: it stands for
    # none of its values, so linear runs once more after that, and never again.
    assert sum(r.params == {"kind": "linear"} for r in study.trials if r.number > defined) == 1


def test_a_trial_is_keyed_without_the_parameter_it_never_asked_for_and_an_asked_float_never_repeats() -> None:
    learned = Space({"kind": ts.Choice(["linear", "rbf"]), "gamma": ts.Float(1e-4, 1.0, log=True)})  # no when=
    history = [  # the linear trial after gamma's first definition: it lacks gamma because it never asked
        TrialRecord(number=0, params={"kind": "rbf", "gamma": 0.01}, seed=0, state=TrialState.COMPLETE,
                    metrics={"value": 0.01}),
        TrialRecord(number=1, params={"kind": "linear"}, seed=1, state=TrialState.COMPLETE, metrics={"value": 0.5}),
    ]  # fmt: skip
    tried = Tried(learned, history)
    assert {"kind": "linear", "gamma": 0.3} in tried
    assert {"kind": "rbf", "gamma": 0.01} not in tried


def _params_seen(trial: Trial) -> dict[str, object]:
    """``kernel``'s branches, returning what ``trial.params`` held inside the objective once they asked."""
    if trial.suggest_categorical("kind", ["linear", "rbf"]) == "rbf":
        trial.suggest_float("gamma", 1e-4, 1.0, log=True)
    return {"value": 0.5, **{f"seen_{name}": 1.0 for name in trial.params}}


@pytest.mark.parametrize("executor", ["inline", "processes"])
def test_inside_the_objective_params_holds_only_what_the_branch_asked_for(executor: str) -> None:
    study = ts.Study(metric="value", sampler="tpe", storage="memory", seed=0)
    study.optimize(_params_seen, n_trials=8, executor=executor)
    linear = [r for r in study.trials if r.params.get("kind") == "linear" and r.number > 1]
    assert linear and all("seen_gamma" not in r.metrics for r in linear), "a linear trial saw the study's gamma"
    rbf = [r for r in study.trials if r.params.get("kind") == "rbf"]
    assert rbf and all("seen_gamma" in r.metrics for r in rbf)


def test_a_handle_from_ask_holds_a_learned_parameter_once_it_asks_for_it() -> None:
    study = ts.Study(metric="value", sampler="sobol", storage="memory", seed=0)
    for _ in range(4):
        trial = study.ask()
        study.tell(trial, {"value": kernel(trial)})
    trial = study.ask()
    assert "gamma" not in trial.params and "gamma" in trial.proposed, "the study proposed gamma; none asked yet"
    proposed = trial.proposed["gamma"]
    trial.suggest_categorical("kind", ["linear", "rbf"])
    assert trial.suggest_float("gamma", 1e-4, 1.0, log=True) == proposed == trial.params["gamma"]


@pytest.mark.parametrize("sampler", ["sobol", "tpe"])
def test_a_branch_tried_already_does_not_hand_the_next_trials_point_to_this_one(sampler: str) -> None:
    # Sobol's point for a tried branch (linear) moved on to the next trial's point, which that trial ran again.
    study = ts.Study(metric="value", sampler=sampler, storage="memory", seed=0)
    study.optimize(kernel, n_trials=12)
    asked = [tuple(sorted(r.params.items())) for r in study.trials if "gamma" in r.params]
    assert len(asked) == len(set(asked)), "an rbf configuration ran twice"


def test_a_trial_that_asked_only_for_a_constant_does_not_use_up_the_space() -> None:
    """Trial 0 asks ``suggest_int('k_1', 1, 1)`` only: it took no branch on a value, so it does not stand for
    every configuration of the parameters later trials ask for."""

    def variants(trial: Trial) -> float:
        features = (1, 5, 8)[trial.number % 3]
        return float(trial.suggest_int(f"k_{features}", 1, features))

    study = ts.Study(metric="value", sampler="sobol", budget=ts.Budget(trials=9), storage="memory", seed=0)
    result = study.optimize(variants)
    assert result.states == {"complete": 9}


def test_auto_s_grid_does_not_take_a_constant_only_trial_for_every_configuration() -> None:
    """Under ``sampler="auto"`` (a grid for this small space) the study stopped after two trials: the grid read the
    trial that asked only for the constant ``k_1`` as having tried every point."""

    def variants(trial: Trial) -> float:
        features = (1, 5, 8)[trial.number % 3]
        return float(trial.suggest_int(f"k_{features}", 1, features))

    study = ts.Study(metric="value", budget=ts.Budget(trials=9), storage="memory", seed=0)
    assert study.optimize(variants).states == {"complete": 9}


# A definition that changes -------------------------------------------------------------------------------
def test_a_definition_that_changes_between_trials_stops_the_run_at_the_first_trial_that_asks_with_it() -> None:
    def widening(trial: Trial) -> float:
        return trial.suggest_float("x", 0.0, 1.0 if trial.number < 3 else 2.0)

    study = ts.Study(metric="value", sampler="tpe", budget=ts.Budget(trials=60), storage="memory", seed=0)
    with pytest.raises(ObjectiveError) as error:
        study.optimize(widening)
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 3 + [TrialState.FAILED]
    message = str(error.value)
    assert "'x' is asked for as suggest_float('x', 0.0, 2.0), but the study defines it as suggest_float('x', 0.0, " \
           "1.0): a parameter keeps one definition for the whole study" in message  # fmt: skip
    assert "ask with the study's definition in every trial" in message
    assert "or start a new study (another name) for the new one" in message


def test_a_definition_that_changes_is_said_to_conflict_with_the_study_s_not_to_be_unsatisfiable() -> None:
    """[0, 2] is a range values satisfy; the message opened with "a definition no value can satisfy"."""
    study = ts.Study(metric="value", budget=ts.Budget(trials=6), storage="memory", seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=3)
    with pytest.raises(ObjectiveError) as error:
        study.optimize(lambda t: t.suggest_float("x", 0.0, 2.0))
    message = str(error.value)
    assert message.startswith("trial 3 asked for a parameter with a definition that conflicts with the study's: ")
    assert "no value can satisfy" not in message


def test_a_name_asked_twice_with_different_definitions_in_one_trial_stops_the_run_at_once() -> None:
    def twice(trial: Trial) -> float:
        trial.suggest_float("a", 0.0, 1.0)
        return float(trial.suggest_int("a", 0, 1))

    study = ts.Study(metric="value", budget=ts.Budget(trials=50), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"'a' is asked for twice in one trial with different definitions, first "
                       r"suggest_float\('a', 0.0, 1.0\), then suggest_int\('a', 0, 1\)"):  # fmt: skip
        study.optimize(twice)
    assert len(study.trials) == 1


def test_every_trial_a_conflict_fails_reads_the_same_without_its_number() -> None:
    def twice(trial: Trial) -> float:
        trial.suggest_float("a", 0.0, 1.0)
        return float(trial.suggest_int("a", 0, 1))

    study = ts.Study(metric="value", storage="memory", seed=0)
    study.optimize(twice, n_trials=4, fail_fast=None)
    assert len({last_line(r) for r in study.trials}) == 1


def test_a_name_asked_twice_in_one_trial_is_said_to_conflict_not_to_be_unsatisfiable() -> None:
    """Each call alone is satisfiable; the message opened with "a definition no value can satisfy"."""

    def twice(trial: Trial) -> float:
        trial.suggest_float("a", 0.0, 1.0)
        return trial.suggest_float("a", 0.0, 2.0)

    study = ts.Study(metric="value", budget=ts.Budget(trials=5), storage="memory", seed=0)
    with pytest.raises(ObjectiveError) as error:
        study.optimize(twice)
    message = str(error.value)
    assert message.startswith("trial 0 asked for a parameter twice, with definitions that conflict with each other: ")
    assert "no value can satisfy" not in message


def test_a_conflict_found_when_the_trial_is_told_stops_the_run_too(tmp_path: Path) -> None:
    """Two trials handed out before either defined ``x`` ask for it differently: the one told second conflicts
    with the definition stored first, which the objective would contradict in every later trial. The first two
    wait for each other after asking, and later ones wait before asking, so the conflict is found when the second
    is told, not by a third trial asking first (on a loaded machine it once did)."""
    study = ts.Study(metric="value", budget=ts.Budget(trials=12), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"'x' was asked for as suggest_float\('x', 0.0, [12].0\), but the study"):
        study.optimize(functools.partial(_by_parity, tmp_path), workers=2, executor="processes")
    failed = [r for r in study.trials if r.kind is TrialKind.EXCEPTION]  # a trial still running is INTERRUPTED
    assert [r.number for r in failed] in ([0], [1])  # one of the first two, not a later one asking the study's way
    assert last_line(failed[0]).startswith("tunesmith.space._define_by_run.DefinitionError: 'x' was asked")


def _by_parity(meeting: Path, trial: Trial) -> float:
    if trial.number >= 2:
        time.sleep(5.0)  # after the first two are told, whichever is told second
    x = trial.suggest_float("x", 0.0, 1.0 + trial.number % 2)
    if trial.number < 2:
        (meeting / str(trial.number)).touch()
        deadline = time.monotonic() + 60.0
        while len(list(meeting.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    return x


# A range that holds one value ------------------------------------------------------------------------------
def test_a_range_that_holds_one_value_returns_it_and_the_study_learns_a_constant() -> None:
    def collapsed(trial: Trial) -> float:
        return trial.suggest_int("k", 1, 1) + trial.suggest_float("w", 0.5, 0.5)

    study = ts.Study(metric="value", budget=ts.Budget(trials=3), storage="memory", seed=0)
    study.optimize(collapsed)
    assert [r.metrics["value"] for r in study.trials] == [1.5, 1.5, 1.5]
    assert study.space["k"] == ts.Fixed(1) and study.space["w"] == ts.Fixed(0.5)
    assert all(r.params == {"k": 1, "w": 0.5} for r in study.trials)


def test_a_constant_asked_for_later_with_a_wider_range_stops_the_run_as_a_changed_definition() -> None:
    def growing(trial: Trial) -> float:
        return float(trial.suggest_int("k", 1, 1 if trial.number < 2 else 4))

    study = ts.Study(metric="value", budget=ts.Budget(trials=20), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"'k' is asked for as suggest_int\('k', 1, 4\), but the study defines "
                       r"it as the constant 1: a parameter keeps one definition"):  # fmt: skip
        study.optimize(growing)
    assert len(study.trials) == 3


def test_a_range_that_holds_one_value_is_still_checked_for_log() -> None:
    with pytest.raises(DefinitionError, match=r"low must be >= 1 when log=True, got low=0: use low=1 or log=False"):
        Trial(0, {}, 1, space=Space.empty()).suggest_int("k", 0, 0, log=True)


def test_reversed_bounds_say_low_may_equal_high_rather_than_offer_fixed() -> None:
    with pytest.raises(DefinitionError, match=r"low <= high must hold, got low=2, high=1: swap them \(low == high: a "
                       r"constant\)$"):  # fmt: skip
        Trial(0, {}, 1, space=Space.empty()).suggest_int("k", 2, 1)


@pytest.mark.parametrize("sampler", ["tpe", "gp", "cmaes", "auto"])
def test_an_enqueued_value_outside_the_definition_fails_its_trial_alone_and_the_samplers_go_on(
    sampler: str, tmp_path: Path
) -> None:
    # The queue took "c" and "abc" before any trial asked for the parameters; the objective then asked for other
    # values, so that trial failed, keeping them in its parameters, and every model sampler's next ask raised
    # SpaceError (or int()'s ValueError) on encoding it, on every resume too.
    def objective(trial: Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        n = trial.suggest_int("n", 1, 5)
        return trial.suggest_float("x", 0.0, 1.0) + n + (kind == "b")

    url = f"sqlite:///{tmp_path / 'queue.db'}"
    study = ts.Study(metric="value", storage=url, name="queue", seed=1, sampler=sampler)
    study.enqueue({"kind": "b", "n": 2})
    study.enqueue({"kind": "c", "n": "abc"})
    study.optimize(objective, n_trials=13, progress=False)
    states = [record.state for record in study.trials]
    assert states[1] is TrialState.FAILED and states.count(TrialState.COMPLETE) == 12, states
    again = ts.Study.load("queue", storage=url)
    again.optimize(objective, n_trials=2, progress=False)
    assert len(again.trials) == 15
