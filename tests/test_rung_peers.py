"""Who a successive-halving rung compares a trial with, and on which value.

A trial that ended FAILED (a crash, an interruption) can never use a promotion: it takes no place at a rung and
does not count among the trials the top ``1/eta`` is taken of. One that diverged after the rung reached it: it counts
there, ranked last, whatever its value there. A trial is read at a rung by its report at the
rung, else its first report after it (the reading it had when it crossed the rung), never by one from before it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.objective import Metric
from tunesmith.samplers.base import SearchContext
from tunesmith.schedulers import ASHA, Hyperband, SuccessiveHalving
from tunesmith.trial import TrialKind, TrialRecord, TrialState

CONTEXT = SearchContext(metric=Metric("loss", "min"))


def record(number: int, curve: dict[int, float], state: TrialState = TrialState.STOPPED,
           kind: TrialKind | None = None) -> TrialRecord:  # fmt: skip
    return TrialRecord(number=number, params={"x": number}, seed=number, state=state, kind=kind,
                       intermediate={step: {"loss": value} for step, value in curve.items()},
                       resource=float(max(curve)))  # fmt: skip


def crashed(number: int, curve: dict[int, float], kind: TrialKind = TrialKind.EXCEPTION) -> TrialRecord:
    return record(number, curve, TrialState.FAILED, kind)


def every_step(number: int, x: float, steps: int, state: TrialState = TrialState.STOPPED) -> TrialRecord:
    """A trial reporting ``x + 1/step`` at every step up to ``steps``."""
    return record(number, {s: x + 1.0 / s for s in range(1, steps + 1)}, state)


def diverged(number: int, curve: dict[int, float]) -> TrialRecord:
    """A trial the study's divergence check stopped after the last step of ``curve`` (its next value was not finite,
    or far past its best)."""
    return record(number, curve, TrialState.STOPPED, TrialKind.DIVERGED)


# A trial that diverged after a rung counts there, last ----------------------------------------------------------


def test_trials_that_diverged_after_a_rung_count_among_the_trials_it_keeps_the_top_third_of_but_rank_last() -> None:
    # Six trials reached rung 1: it keeps two. Two diverged later, after the best values at rung 1 (a learning rate
    # past the edge converges fastest, then blows up). Dropped, they would leave four, keeping one, and the second
    # live trial would stop; ranked by their value at the rung, they would fill the top two and stop it too.
    blew_up = [diverged(0, {1: 0.05, 2: 0.04}), diverged(1, {1: 0.06, 2: 0.05})]
    live = [record(2, {1: 0.1}), record(3, {1: 0.3}), record(4, {1: 0.4})]
    second = record(5, {1: 0.2}, TrialState.RUNNING)
    asha = ASHA(1, 9, 3, predict_final=False)
    history = [*blew_up, *live, second]
    assert asha.decide(second, history, CONTEXT) is Decision.CONTINUE
    third = record(6, {1: 0.35}, TrialState.RUNNING)
    assert asha.decide(third, [*history, third], CONTEXT) is Decision.STOP
    reason = asha.explain(third, [*history, third], CONTEXT)
    assert reason is not None
    assert "ranked 4 of 7 (2 of them diverged after it: ranked last) at the rung at resource 1" in reason, reason


def test_a_trial_that_diverged_before_reaching_a_rung_does_not_count_there() -> None:
    # Diverged at step 2: it never reached rung 3 with a value. Five live trials there keep one, so the second best
    # stops; counted at rung 3 too, the diverger would make six, keeping two, and the second best would go on.
    early = diverged(0, {1: 0.05, 2: 0.04})
    at_three = [record(n, {1: v, 2: v, 3: v}) for n, v in zip((1, 2, 3, 4), (0.1, 0.3, 0.4, 0.5), strict=True)]
    second = record(5, {1: 0.2, 2: 0.2, 3: 0.2}, TrialState.RUNNING)
    history = [early, *at_three, second]
    assert ASHA(1, 9, 3, predict_final=False).decide(second, history, CONTEXT) is Decision.STOP


# A FAILED trial is no rung peer ---------------------------------------------------------------------------------


def test_a_trial_that_crashed_after_a_rung_takes_no_place_there() -> None:
    best_then_crashed = crashed(0, {1: 0.1, 3: 0.1, 5: 0.1}, TrialKind.OUT_OF_MEMORY)
    live = record(1, {1: 0.2}, TrialState.RUNNING)
    assert ASHA(1, 9, 3).decide(live, [best_then_crashed, live], CONTEXT) is Decision.CONTINUE


def test_failed_trials_do_not_count_among_the_trials_a_rung_keeps_the_top_third_of() -> None:
    # Three live trials reached rung 1: the top one goes on. Three crashed ones behind them do not make it six,
    # which would keep two and let the second best run on.
    live = [record(0, {1: 0.1}), record(1, {1: 0.2})]
    failed = [crashed(n, {1: 0.9}, TrialKind.TIMEOUT) for n in (2, 3, 4)]
    second = record(5, {1: 0.15}, TrialState.RUNNING)
    assert ASHA(1, 9, 3, predict_final=False).decide(second, [*live, *failed, second], CONTEXT) is Decision.STOP


def test_a_failed_trial_does_not_hold_back_the_promotion_of_a_paused_one() -> None:
    failed = crashed(0, {1: 0.1}, TrialKind.CRASH)
    paused = [record(n, {1: 0.1 * (n + 1)}, TrialState.PAUSED) for n in (1, 2, 3)]
    asha = ASHA(1, 9, 3, mode="promote", predict_final=False)
    assert asha.promote([failed, *paused], CONTEXT, final=False).resume == 1


def test_synchronous_halving_promotes_the_best_live_trial_of_a_group_whose_best_failed() -> None:
    group = [crashed(0, {1: 0.1}), record(1, {1: 0.2}, TrialState.PAUSED), record(2, {1: 0.3}, TrialState.PAUSED)]
    assert SuccessiveHalving(1, 9, 3, population=3).promote(group, CONTEXT, final=False).resume == 1


def test_a_retried_configuration_counts_once_at_a_rung_through_its_retry() -> None:
    # Five live trials at rung 1 keep one. The lost original of trial 5 (same configuration and seed, so the same
    # value) would make six, keeping two, and its tie with the retry would carry the retry through.
    lost = crashed(0, {1: 0.2}, TrialKind.LOST_WORKER).evolve(attrs={"retries": 1})
    live = [record(n, {1: value}) for n, value in zip((1, 2, 3, 4), (0.1, 0.3, 0.4, 0.5), strict=True)]
    retry = record(5, {1: 0.2}, TrialState.RUNNING).evolve(params=lost.params, seed=lost.seed, attrs={"retry_of": 0})
    assert ASHA(1, 9, 3, predict_final=False).decide(retry, [lost, *live, retry], CONTEXT) is Decision.STOP


def _crashes_when_interrupted(trial: ts.Trial) -> dict[str, float]:
    loss = 1.0
    for step in trial.steps(9):
        loss = trial.params["x"] * (1 + 1 / (step + 1))
        trial.report(loss=loss)
        if trial.number == 0 and step == 4:
            raise KeyboardInterrupt  # the run is killed after trial 0 passed rung 3
    return {"loss": loss}


def test_a_trial_interrupted_by_a_kill_is_no_rung_peer_when_the_study_resumes(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.05, 1.0)}), metric="loss", name="killed", storage=storage, seed=0,
                     scheduler=ASHA(min_resource=1, max_resource=9, eta=3), budget=ts.Budget(trials=4))  # fmt: skip
    for x in (0.1, 0.2, 0.3, 0.4):
        study.enqueue({"x": x})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.study.ShortTrainingWarning)  # four trials are few: this test knows
        with pytest.raises(KeyboardInterrupt):
            study.optimize(_crashes_when_interrupted, progress=False)
        resumed = ts.Study.load("killed", storage)
        resumed.optimize(_crashes_when_interrupted, progress=False)
    first = resumed.trials[0]
    assert (first.state, first.kind) == (TrialState.FAILED, TrialKind.INTERRUPTED)
    assert resumed.best is not None and resumed.best.params == {"x": 0.2}


# The value a rung reads ---------------------------------------------------------------------------------------


def test_a_trial_reporting_every_few_steps_is_judged_at_a_rung_by_its_first_report_past_it() -> None:
    # Rungs 1, 3, 9. Trial 3 reports at steps 8 and 16 and is below trial 0 at every step; at rung 9 it is
    # judged when its step-16 report crosses it, by that report, not by its step-8 value (0.415 > 0.411).
    leader = every_step(0, 0.30, 27, TrialState.COMPLETE)
    history = [leader, every_step(1, 0.31, 1), every_step(2, 0.32, 1)]
    sparse = record(3, {8: 0.29 + 1 / 8, 16: 0.29 + 1 / 16}, TrialState.RUNNING)
    assert ASHA(1, 27, 3, predict_final=False).decide(sparse, [*history, sparse], CONTEXT) is Decision.CONTINUE


def test_a_peer_reporting_every_few_steps_is_read_at_a_rung_by_its_first_report_past_it() -> None:
    # The peer reported 0.5 at step 8 and 0.2 at step 16; at rung 9 it stands at 0.2, ahead of the trial's 0.3.
    sparse_peer = record(0, {8: 0.5, 16: 0.2})
    trial = record(1, {step: 0.3 for step in range(1, 10)}, TrialState.RUNNING)
    assert ASHA(1, 27, 3, predict_final=False).decide(trial, [sparse_peer, trial], CONTEXT) is Decision.STOP


def test_a_trial_paused_past_a_rung_it_reported_no_value_at_is_promoted_from_it() -> None:
    # Trial 3 reports every 8 steps: its first report crossed rungs 1 and 3, and it paused at step 8, best at rung 3.
    waiting = [record(n, {1: 0.6, 2: 0.6, 3: 0.5 + n / 10}, TrialState.PAUSED) for n in range(3)]
    sparse = record(3, {8: 0.1}, TrialState.PAUSED)
    asha = ASHA(1, 27, 3, mode="promote", predict_final=False)
    assert asha.promote([*waiting, sparse], CONTEXT, final=False).resume == 3


def test_hyperband_brackets_read_a_trial_reporting_every_few_steps_by_its_first_report_past_the_rung() -> None:
    hyperband = Hyperband(1, 27, 3, few_peers="best", predict_final=False)
    first, second, third, fourth = [n for n in range(200) if hyperband.bracket_of(n) == 3][:4]  # rungs 1, 3, 9
    history = [every_step(first, 0.30, 27, TrialState.COMPLETE), every_step(second, 0.31, 1),
               every_step(third, 0.32, 1)]  # fmt: skip
    sparse = record(fourth, {8: 0.29 + 1 / 8, 16: 0.29 + 1 / 16}, TrialState.RUNNING)
    assert hyperband.decide(sparse, [*history, sparse], CONTEXT) is Decision.CONTINUE


def test_a_trial_declared_infeasible_after_a_rung_takes_no_place_there() -> None:
    """A trial that raised ts.Infeasible at a later rung (out of memory only at the largest) cannot use a
    promotion either: live trials lost their places to it."""
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", seed=0, sampler="random",
                     scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3), budget=ts.Budget(trials=4))  # fmt: skip

    def objective(trial: ts.Trial) -> dict[str, float]:
        x = 0.05 if trial.number == 0 else 0.2 + 0.1 * trial.number
        for epoch in trial.steps(9):
            if trial.number == 0 and epoch == 4:
                raise ts.Infeasible("out of memory at this size")
            trial.report(loss=x + 1.0 / (epoch + 1))
        return {"loss": x}

    study.optimize(objective, progress=False)
    states = [r.state for r in study.trials]
    assert states[0] is ts.TrialState.INFEASIBLE and ts.TrialState.COMPLETE in states[1:], states
