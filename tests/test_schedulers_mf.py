"""Multi-fidelity scheduling that does not waste resource early: vouched rungs and Hyperband's deal."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis import diagnose
from tunesmith.decision import Decision
from tunesmith.executors import SimulatedExecutor
from tunesmith.objective import Metric
from tunesmith.samplers.base import SearchContext
from tunesmith.schedulers import ASHA, Hyperband, make_scheduler
from tunesmith.schedulers.hyperband import most_aggressive_bracket
from tunesmith.schedulers.successive_halving import bracket_sizes
from tunesmith.trial import TrialRecord, TrialState

CONTEXT = SearchContext(metric=Metric("loss", "min"))


def record(number: int, curve: dict[int, float], state: TrialState = TrialState.STOPPED) -> TrialRecord:
    return TrialRecord(number=number, params={"x": number}, seed=number, state=state,
                       intermediate={step: {"loss": value} for step, value in curve.items()},
                       resource=float(max(curve)))  # fmt: skip


def test_vouched_asha_stops_the_best_of_two_when_no_lower_rung_can_vouch_for_it() -> None:
    first = record(0, {1: 0.5})
    trial = record(1, {1: 0.1}, TrialState.RUNNING)
    assert ASHA(1, 27, 3).decide(trial, [first, trial], CONTEXT) is Decision.CONTINUE
    assert ASHA(1, 27, 3, few_peers="vouched").decide(trial, [first, trial], CONTEXT) is Decision.STOP


def test_vouched_asha_lets_a_trial_alone_at_a_rung_go_on_when_the_rung_below_ranks_it_on_top() -> None:
    peers = [record(n, {1: 0.5 + n / 100}) for n in range(8)]  # nine at rung 1: the top ninth reaches rung 9
    best = record(8, {1: 0.1, 3: 0.1}, TrialState.RUNNING)
    asha = ASHA(1, 27, 3, few_peers="vouched")
    assert asha.decide(best, [*peers, best], CONTEXT) is Decision.CONTINUE
    second = record(8, {1: 0.51, 3: 0.1}, TrialState.RUNNING)  # first at rung 3, but only second at rung 1
    assert asha.decide(second, [*peers, second], CONTEXT) is Decision.STOP
    assert ASHA(1, 27, 3).decide(second, [*peers, second], CONTEXT) is Decision.CONTINUE


def test_vouched_asha_with_enough_peers_keeps_the_top_third_as_plain_asha_does() -> None:
    peers = [record(n, {1: 0.1 * (n + 1)}) for n in range(5)]
    good, bad = record(5, {1: 0.05}, TrialState.RUNNING), record(5, {1: 0.45}, TrialState.RUNNING)
    asha = ASHA(1, 9, 3, few_peers="vouched")
    assert asha.decide(good, [*peers, good], CONTEXT) is Decision.CONTINUE
    assert asha.decide(bad, [*peers, bad], CONTEXT) is Decision.STOP


def test_a_trial_tied_with_the_last_one_kept_at_a_rung_goes_on() -> None:
    # Six trials at rung 1 keep two; error rates on 540 examples tie: a later trial equal to the second best
    # cannot be told from it, so it is not stopped for coming later.
    errors = [10 / 540, 12 / 540, 15 / 540, 20 / 540, 30 / 540]
    peers = [record(n, {1: e}) for n, e in enumerate(errors)]
    tied, worse = record(5, {1: 12 / 540}, TrialState.RUNNING), record(5, {1: 13 / 540}, TrialState.RUNNING)
    asha = ASHA(1, 9, 3, predict_final=False)
    assert asha.decide(tied, [*peers, tied], CONTEXT) is Decision.CONTINUE
    assert asha.decide(worse, [*peers, worse], CONTEXT) is Decision.STOP


def test_a_paused_trial_tied_with_the_last_one_kept_at_a_rung_is_promoted() -> None:
    # Six trials reached rung 1, so two go on: #0 and #1 already did; #5 ties with them and is promoted too.
    promoted = [record(n, {1: 10 / 540, 3: 0.01}, TrialState.RUNNING) for n in range(2)]
    others = [record(n, {1: e}) for n, e in zip(range(2, 5), (20 / 540, 30 / 540, 40 / 540), strict=True)]
    waiting = record(5, {1: 10 / 540}, TrialState.PAUSED)
    asha = ASHA(1, 9, 3, mode="promote", predict_final=False)
    assert asha.promote([*promoted, *others, waiting], CONTEXT, final=False).resume == 5
    behind = record(5, {1: 11 / 540}, TrialState.PAUSED)
    assert asha.promote([*promoted, *others, behind], CONTEXT, final=False).resume is None


def test_few_peers_is_validated_and_survives_the_description() -> None:
    with pytest.raises(ts.ConfigError, match="few_peers must be 'best' or 'vouched'"):
        ASHA(1, 9, 3, few_peers="patient")  # type: ignore[arg-type]
    assert make_scheduler(ASHA(1, 9, 3, few_peers="vouched").describe()).describe()["few_peers"] == "vouched"
    assert Hyperband(1, 9, 3).describe()["few_peers"] == "vouched"


def test_hyperband_deals_trials_to_brackets_in_proportion_to_eta_to_the_s() -> None:
    assert bracket_sizes(1, 81, 3) == {4: 81, 3: 27, 2: 9, 1: 3, 0: 1}
    hyperband = Hyperband(1, 81, 3)
    counts = np.bincount([hyperband.bracket_of(n) for n in range(121 * 10)])
    assert list(counts) == [10, 30, 90, 270, 810]


SPACE = ts.Space({"quality": ts.Float(0.0, 1.0)})


def test_hyperband_starts_its_most_aggressive_bracket_at_the_lowest_level_not_below_min_resource() -> None:
    # A power of eta keeps the layout (and the multi-fidelity benchmark's figures, 1 to 81 by 3); otherwise
    # the most aggressive bracket starts above min_resource rather than below it.
    cases = {
        (1, 81, 3): (1.0, 3.0, 9.0, 27.0, 81.0),
        (1, 27, 3): (1.0, 3.0, 9.0, 27.0),
        (1, 12, 3): (12 / 9, 4.0, 12.0),
        (2, 27, 3): (3.0, 9.0, 27.0),
        (1, 100, 3): (100 / 81, 100 / 27, 100 / 9, 100 / 3, 100.0),  # each level once, though brackets round apart
    }
    for (low, high, eta), rungs in cases.items():
        assert Hyperband(low, high, eta, mode="promote").rungs() == pytest.approx(rungs), (low, high)
        deck = Hyperband(low, high, eta).deck()
        assert deck is not None
        assert len(deck.brackets) == len(rungs), (low, high)
        for k, levels in enumerate(deck.brackets):
            assert levels == pytest.approx(rungs[k:-1]), (low, high, k)
        assert most_aggressive_bracket(low, high, eta) == len(rungs) - 1


def test_hyperband_promote_over_twelve_steps_ranks_every_trial_at_whole_steps(tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        state = trial.load_checkpoint() if trial.resumed else None
        loss = 1.0 if state is None else float(state["loss"])
        for _ in trial.steps(12):
            loss *= 0.8 + 0.1 * trial.params["quality"]
            trial.report(loss=loss)
            trial.save_checkpoint({"loss": loss})
        return {"loss": loss}

    study = ts.Study(SPACE, metric="loss", scheduler=Hyperband(1, 12, 3, mode="promote"), storage="memory", seed=0,
                     budget=ts.Budget(trials=9), checkpoint_dir=tmp_path / "ckpt")  # fmt: skip
    study.optimize(objective, progress=False)
    failed = [(r.number, r.reason) for r in study.trials if r.state is TrialState.FAILED]
    assert not failed, failed
    assert study.best is not None and study.best.resource == 12


def curve(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    quality = trial.params["quality"]
    for step in range(trial.step, 81):
        yield 1.0, {"loss": quality + 1.0 / (step + 1)}


def test_hyperband_evaluates_about_ten_times_the_configurations_of_random_search_at_equal_resource() -> None:
    full_trainings = 20
    study = ts.Study(SPACE, metric="loss", scheduler=Hyperband(1, 81, 3), storage="memory", seed=0,
                     sampler="random", budget=ts.Budget(resource=full_trainings * 81))  # fmt: skip
    study.optimize(curve, executor=SimulatedExecutor(workers=1))
    # Spent but for what could not train another configuration to the end.
    assert full_trainings * 81 - 81 < study.usage().resource <= full_trainings * 81
    assert len(study.trials) >= 8 * full_trainings  # Hyperband's own bracket sizes: about 5x


def _nine_steps(trial: ts.Trial) -> float:
    for step in trial.steps(9):
        trial.report(loss=trial.params["quality"] + 1.0 / (step + 1))
        trial.save_checkpoint({"step": step})  # the curve's state is its step: a promotion resumes from it
    return trial.params["quality"]


def test_the_paused_note_of_a_study_with_a_trial_budget_does_not_advise_one() -> None:
    """It told a study with Budget(trials=50) to "give the study a trial budget"."""
    study = ts.Study(SPACE, metric="loss", sampler="random", storage="memory", seed=0, budget=ts.Budget(trials=50),
                     scheduler=ts.SuccessiveHalving(1, 9, 3))  # fmt: skip
    with pytest.warns(ts.study.PausedTrialsWarning, match=r"the study's trial budget makes the last promotions, and "
                      r"ends those never promoted, before it ends"):  # fmt: skip
        study.optimize(_nine_steps, n_trials=9)


def test_optimize_ending_with_trials_paused_at_their_rungs_says_so_and_how_to_finish() -> None:
    # A call limit (n_trials) instead of the study's trial budget: no final promotions, every trial waits.
    study = ts.Study(SPACE, metric="loss", sampler="random", storage="memory", seed=0,
                     scheduler=ts.SuccessiveHalving(1, 9, 3))  # fmt: skip
    with pytest.warns(ts.study.PausedTrialsWarning, match=r"9 trials are paused at their rungs waiting for "
                      r"promotion \(#0, #1, #2, #3, #4, \.\.\.\): .*the next optimize\(\) call resumes each one its "
                      r"rung ranks there .*give the study a trial budget .*; no trial has finished yet, so there is no "
                      r"best"):  # fmt: skip
        result = study.optimize(_nine_steps, n_trials=9)  # nine new trials: a resumption is no new start
    assert result.states == {"paused": 9} and result.best is None and len(result.notes) == 1
    assert diagnose(study.trials, SPACE, "loss").lines() == [
        "no finished trial to diagnose yet: 9 trials reported 'loss' and are still running or paused at a rung"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.study.PausedTrialsWarning)  # the next group may wait in its turn
        study.optimize(_nine_steps, n_trials=40)
    first = [r.state for r in study.trials if r.number < 9]
    assert TrialState.PAUSED not in first and TrialState.COMPLETE in first, "the next call resumed them"


def test_a_trial_budget_ends_with_its_promotions_made_and_nothing_paused() -> None:
    study = ts.Study(SPACE, metric="loss", sampler="random", storage="memory", seed=0, budget=ts.Budget(trials=9),
                     scheduler=ts.SuccessiveHalving(1, 9, 3, population=9))  # fmt: skip
    result = study.optimize(_nine_steps)
    assert "paused" not in result.states and not [n for n in result.notes if "paused" in n]


def test_a_run_whose_every_trial_was_stopped_says_there_is_no_best() -> None:
    space = ts.Space({"x": ts.Float(0.0, 1.0)})

    def curve(trial: ts.Trial) -> dict[str, float]:
        value = 1.0
        for step in trial.steps(27):
            value = (trial.params["x"] - 0.3) ** 2 + 1.0 / (step + 1)
            trial.report(val_loss=value)
        return {"val_loss": value}

    study = ts.Study(space, metric="val_loss", scheduler=ts.Hyperband(min_resource=1, max_resource=27, eta=3),
                     budget=ts.Budget(trials=16), seed=0, storage="memory")  # fmt: skip
    with pytest.warns(ts.study.ShortTrainingWarning) as caught:
        result = study.optimize(curve)
    assert study.best is None and set(result.states) == {"stopped"}
    said = "no trial trained to the full resource (27): hyperband stopped all 16 at a rung, so the study has no best"
    assert any(said in str(w.message) for w in caught) and any(said in note for note in result.notes)


def test_n_trials_counts_new_trials_and_trials_run_counts_each_trial_once_under_promotion() -> None:
    """A paused trial resumed was counted as a started trial (n_trials=10 made 8) and each of its runs as a trial
    run (trials_run 10 against 8 trials)."""
    study = ts.Study(SPACE, metric="loss", sampler="random", storage="memory", seed=0,
                     scheduler=ts.ASHA(1, 9, 3, mode="promote"))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.study.PausedTrialsWarning)
        result = study.optimize(_nine_steps, n_trials=10)
    assert len(study.trials) == 10 and result.trials_run == 10
    assert any(r.resource > 1 for r in study.trials), "some were promoted and resumed in the call"


@pytest.mark.parametrize(("low", "high", "eta"), [(1, 2, 3), (1, 2.9, 3), (10, 15, 2)])
def test_hyperband_over_less_than_one_halving_is_refused_and_auto_and_the_planner_pass_it_over(
    low: float, high: float, eta: float
) -> None:
    """Its only bracket trained every trial to max_resource: a random search under Hyperband's name, where ASHA
    over the same range stops at min_resource."""
    from tunesmith.discipline import Fidelity, Method, plan
    from tunesmith.schedulers.auto import choose_scheduler

    with pytest.raises(ts.ConfigError, match=r"is below eta=.*its only bracket trains every trial to max_resource"):
        Hyperband(low, high, eta)
    chosen, why = choose_scheduler(high, min_resource=low, eta=eta, early_signal=None)
    assert isinstance(chosen, ASHA) and "span less than one halving" in why
    options = plan(ts.Space({"x": ts.Float(0.0, 1.0)}), fidelity=Fidelity(min_resource=low, max_resource=high, eta=eta),
                   budget=ts.Budget(trials=30))
    hyperband = next(o for o in options.options if o.method is Method.HYPERBAND)
    assert not hyperband.fits and "a single bracket that stops nothing" in hyperband.note
