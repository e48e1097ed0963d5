"""A trial cut at a rung says why: in stop mode the rung, the trial's rank among the peers there, how many the rung
keeps, what it ranked by and, with fewer than eta peers, the few-peers rule; in promote mode the final retire tells
a trial its rung outranked (kind SCHEDULER) from one whose promotion the budget cut short (kind BUDGET)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.decision import Decision
from tunesmith.objective import Metric
from tunesmith.samplers.base import SearchContext
from tunesmith.schedulers import ASHA, Hyperband, Scheduler
from tunesmith.schedulers.successive_halving import RungPromotion
from tunesmith.trial import TrialKind, TrialRecord, TrialState

CONTEXT = SearchContext(metric=Metric("loss", "min"))


def curve(number: int, losses: dict[int, float], state: TrialState = TrialState.STOPPED,
          params: dict[str, float] | None = None) -> TrialRecord:  # fmt: skip
    """Trial ``number`` with ``losses`` reported at their steps."""
    return TrialRecord(
        number=number,
        params=params if params is not None else {"x": float(number)},
        seed=number,
        state=state,
        intermediate={step: {"loss": value} for step, value in losses.items()},
        resource=float(max(losses)),
    )


def stopped_with_reason(scheduler: Scheduler, trial: TrialRecord, history: list[TrialRecord],
                        context: SearchContext = CONTEXT) -> str:  # fmt: skip
    """The scheduler's explanation of a trial it stops (the study appends it to the stop reason)."""
    assert scheduler.decide(trial, history, context) is Decision.STOP
    why = scheduler.explain(trial, history, context)
    assert why is not None
    return why


# Stop mode ---------------------------------------------------------------------------------------------------


def test_an_asha_stop_names_the_rung_the_rank_among_the_peers_and_how_many_the_rung_keeps() -> None:
    peers = [curve(n, {1: 0.1 * (n + 1), 2: 0.1 * (n + 1)}) for n in range(5)]
    trial = curve(5, {1: 0.45}, TrialState.RUNNING)
    why = stopped_with_reason(ASHA(1, 9, 3), trial, [*peers, trial])
    assert why.startswith("ranked 5 of 6 at the rung at resource 1, by its loss there (0.45; the last kept: 0.2)")
    assert "the rung keeps the top 2 (6 // eta=3, and any tied with the last of them)" in why
    assert "few peers" not in why


def test_an_asha_stop_among_fewer_than_eta_peers_names_the_best_of_few_rule() -> None:
    first = curve(0, {1: 0.2, 3: 0.1, 9: 0.05}, TrialState.COMPLETE)
    trial = curve(1, {1: 0.9}, TrialState.RUNNING)
    why = stopped_with_reason(ASHA(1, 9, 3), trial, [first, trial])
    assert why.startswith("ranked 2 of 2 at the rung at resource 1, by its loss there (0.9; the best: 0.2)")
    assert "a decision on few peers: 2 trials had reached the rung, fewer than eta=3" in why
    assert "only the best of them goes on (few_peers='best')" in why


def test_a_stop_prints_its_value_and_the_cutoff_with_the_digits_that_tell_them_apart() -> None:
    first = curve(0, {1: 1.00001, 3: 0.1, 9: 0.05}, TrialState.COMPLETE)
    trial = curve(1, {1: 1.00009}, TrialState.RUNNING)
    why = stopped_with_reason(ASHA(1, 9, 3), trial, [first, trial])
    assert "by its loss there (1.0001; the best: 1)" in why  # "(1; the best: 1)" read as a tie, which is kept


def test_a_hyperband_stop_names_the_bracket_and_that_no_rung_lies_below_its_first_to_vouch() -> None:
    hyperband = Hyperband(1, 9, 3)  # few_peers="vouched"
    numbers = [n for n in range(40) if hyperband.bracket_of(n) == 2][:2]  # bracket 2 starts at resource 1
    worse = curve(numbers[0], {1: 0.9})
    best = curve(numbers[1], {1: 0.1}, TrialState.RUNNING)
    why = stopped_with_reason(hyperband, best, [worse, best])
    assert why.startswith("ranked 1 of 2 at the rung at resource 1 of bracket 2, by its loss there;")
    assert "a decision on few peers: 2 trials had reached the rung, fewer than eta=3" in why
    assert "even the best of them goes on only if a lower rung with enough trials ranked it" in why
    assert why.endswith("it is the first rung, with none below")


def test_a_vouched_stop_names_the_lower_rung_that_ranked_the_trial_outside_its_top_share() -> None:
    # Nine trials at rung 1, so it vouches for its top 9 // 3**2 = 1; the trial ranked 3rd there leads rung 3 alone.
    below = [curve(n, {1: 0.1 * (n + 1)}) for n in range(8)]
    trial = curve(8, {1: 0.25, 3: 0.2}, TrialState.RUNNING)
    why = stopped_with_reason(ASHA(1, 27, 3, few_peers="vouched"), trial, [*below, trial])
    assert why.startswith("ranked 1 of 1 at the rung at resource 3, by its loss there;")
    assert (
        "the rung at resource 1, the highest below with enough trials, ranked it 3 of 9, where only its top 1 vouch "
        "(9 // 9: the share that climbs past this rung)"
    ) in why


def test_a_vouched_stop_says_the_lower_rungs_had_too_few_trials_to_judge_yet() -> None:
    below = [curve(n, {1: 0.1 * (n + 2)}) for n in range(3)]
    trial = curve(3, {1: 0.1, 3: 0.1}, TrialState.RUNNING)
    why = stopped_with_reason(ASHA(1, 27, 3, few_peers="vouched"), trial, [*below, trial])
    assert why.endswith("no lower rung had the trials to judge yet: the rung at resource 1 had 4 of the 9 it needs")


def _trained_and_crowded() -> list[TrialRecord]:
    """Fourteen trials trained to 9, whose loss at rung 1 lags their final one by a lag a fast starter (``speed``)
    has less of, and eight fast starters with poor final values stopped at rung 1."""
    rng = np.random.default_rng(3)

    def final(x: float) -> float:
        return 0.1 + (x - 0.7) ** 2

    def early(x: float, speed: float) -> float:
        return final(x) + 1.0 - 0.8 * speed

    trained = []
    for n in range(14):
        x, speed = float(rng.uniform()), float(rng.uniform())
        trained.append(curve(n, {1: early(x, speed), 9: final(x)}, TrialState.COMPLETE, {"x": x, "speed": speed}))
    crowd = [
        curve(14 + n, {1: early(0.1 + 0.05 * n, 0.9)}, params={"x": 0.1 + 0.05 * n, "speed": 0.9}) for n in range(8)
    ]
    return [*trained, *crowd]


def test_a_stop_says_whether_the_rung_ranked_by_the_predicted_final_value_or_by_the_raw_one() -> None:
    # A slow starter that ends well, stopped when its raw value decides; a fast starter that ends badly, when the
    # predicted final value does.
    past = _trained_and_crowded()
    slow = curve(30, {1: 0.1 + 1.0}, TrialState.RUNNING, {"x": 0.7, "speed": 0.0})
    raw = stopped_with_reason(ASHA(1, 9, 3, predict_final=False), slow, [*past, slow])
    assert "by its loss there (1.1;" in raw
    fast = curve(30, {1: 0.1 + 0.36 + 0.2}, TrialState.RUNNING, {"x": 0.1, "speed": 1.0})
    predicted = stopped_with_reason(ASHA(1, 9, 3), fast, [*past, fast])
    assert "by its predicted final loss (" in predicted and "there" not in predicted


def test_a_stop_among_several_objectives_says_it_ranked_by_non_dominated_sorting() -> None:
    objectives = (Metric("loss", "min"), Metric("latency", "min"))
    context = SearchContext(metric=objectives[0], objectives=objectives)

    def both(number: int, loss: float, latency: float, state: TrialState = TrialState.STOPPED) -> TrialRecord:
        reports = {1: {"loss": loss, "latency": latency}}
        return TrialRecord(number, {}, number, state, intermediate=reports, resource=1.0)

    peers = [both(0, 0.1, 0.1), both(1, 0.2, 0.2), both(2, 0.3, 0.3)]
    trial = both(3, 0.4, 0.4, TrialState.RUNNING)
    why = stopped_with_reason(ASHA(1, 9, 3), trial, [*peers, trial], context)
    assert why.startswith("ranked 4 of 4 at the rung at resource 1, by non-dominated sorting of loss and latency;")


def _random_history(rng: np.random.Generator, size: int) -> list[TrialRecord]:
    """Trials whose reports, every other step for some, reach a random rung of 1, 3, 9 (27: trained fully)."""
    history = []
    for number in range(size):
        reach = int(rng.choice([1, 2, 3, 5, 9, 12, 27]))
        every = int(rng.choice([1, 2]))
        quality = float(rng.uniform())
        losses = {s: quality + float(rng.normal(0, 0.05)) + 1.0 / s for s in range(every, reach + 1, every)}
        if not losses:
            losses = {reach: quality}
        state = TrialState.COMPLETE if reach == 27 else TrialState.STOPPED
        history.append(curve(number, losses, state, {"x": quality}))
    return history


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "scheduler",
    [ASHA(1, 27, 3), ASHA(1, 27, 3, few_peers="vouched"), Hyperband(1, 27, 3)],
    ids=["asha-best", "asha-vouched", "hyperband"],
)
def test_explain_speaks_exactly_when_decide_stops(scheduler: Scheduler, seed: int) -> None:
    rng = np.random.default_rng(seed)
    history = _random_history(rng, 30)
    for index, trial in enumerate(history):
        seen = history[: index + 1]  # the trial has just made its latest report
        stops = scheduler.decide(trial, seen, CONTEXT) is Decision.STOP
        assert (scheduler.explain(trial, seen, CONTEXT) is not None) == stops, trial.number


def test_a_stopped_trials_record_carries_the_rung_its_rank_and_the_peers_that_judged_it() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        value = 0.0
        for step in trial.steps(8):
            value = trial.params["q"] + 1.0 / (step + 1)
            if (step + 1) % 2 == 0:  # reports every other step: a rung is read at the first report past it
                trial.report(loss=value)
        return {"loss": value}

    study = ts.Study(ts.Space({"q": ts.Float(0.0, 1.0)}), metric="loss", scheduler=ts.ASHA(1, 8, 2),
                     budget=ts.Budget(trials=8), storage="memory", seed=0, sampler="random")  # fmt: skip
    with pytest.warns(ts.study.ShortTrainingWarning):
        study.optimize(objective)
    stopped = [r for r in study.trials if r.state is TrialState.STOPPED]
    assert stopped
    for record in stopped:
        assert record.kind is TrialKind.SCHEDULER
        assert re.match(r"stop by asha at step \d+: ranked \d+ of \d+ at the rung at resource \d+, by its loss there",
                        record.reason or ""), record.reason  # fmt: skip


# Promote mode: the final retire ------------------------------------------------------------------------------


def _promote_study(tmp_path: Path, budget: ts.Budget) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", scheduler=ts.ASHA(1, 9, 3, mode="promote"),
                    budget=budget, storage="memory", seed=0, checkpoint_dir=tmp_path)  # fmt: skip


def _pause_at_rung_1(study: ts.Study, losses: tuple[float, ...]) -> None:
    for loss in losses:
        trial = study.ask()
        trial.report(step=1, loss=loss)
        trial.save_checkpoint({"step": 1})  # promote mode resumes a paused trial from its checkpoint
        study.tell(trial)


def test_the_trial_budgets_final_retire_records_a_trial_its_rung_outranked_as_cut_by_the_scheduler(
    tmp_path: Path,
) -> None:
    study = _promote_study(tmp_path, ts.Budget(trials=3))
    _pause_at_rung_1(study, (0.1, 0.6, 0.7))
    for step in (3, 9):  # the final promotions take trial 0, the top 1 of 3, to the end
        trial = study.ask()
        assert trial.number == 0
        trial.report(step=step, loss=0.05)
        trial.save_checkpoint({"step": step})
        study.tell(trial, {"loss": 0.05})
    with pytest.raises(ts.errors.BudgetExhausted):
        study.ask()
    retired = {r.number: r for r in study.trials if r.state is TrialState.STOPPED}
    assert sorted(retired) == [1, 2]
    assert all(r.kind is TrialKind.SCHEDULER for r in retired.values())
    assert (retired[2].reason or "").startswith(
        "not promoted: ranked 3 of 3 at the rung at resource 1, by its loss there (0.7; the best: 0.1); the rung "
        "promotes its top 1 (3 // eta=3"
    )


def test_a_spent_resource_budget_retires_the_would_be_promoted_as_budget_and_the_outranked_as_scheduler(
    tmp_path: Path,
) -> None:
    study = _promote_study(tmp_path, ts.Budget(resource=3))
    _pause_at_rung_1(study, (0.1, 0.6, 0.7))  # two wait at rung 1; the third's report spends the resource
    with pytest.raises(ts.errors.BudgetExhausted):
        study.ask()
    first, second = study.trials[0], study.trials[1]
    assert (first.state, first.kind) == (TrialState.STOPPED, TrialKind.BUDGET), "the top 1 of 3: its turn was due"
    assert (first.reason or "").endswith("while it waited at its rung for a promotion")
    assert (second.state, second.kind) == (TrialState.STOPPED, TrialKind.SCHEDULER)
    assert (second.reason or "").startswith("not promoted: ranked 2 of 3 at the rung at resource 1")


def test_hyperbands_final_retire_names_the_bracket_of_each_trial_its_rung_outranked() -> None:
    hyperband = Hyperband(1, 9, 3, mode="promote")
    numbers = [n for n in range(40) if hyperband.bracket_of(n) == 2][:3]
    history = [
        curve(numbers[0], {1: 0.1, 3: 0.1, 9: 0.1}, TrialState.COMPLETE),
        curve(numbers[1], {1: 0.5}, TrialState.PAUSED),
        curve(numbers[2], {1: 0.6}, TrialState.PAUSED),
    ]
    promotion = hyperband.promote(history, CONTEXT, final=True)
    assert isinstance(promotion, RungPromotion) and promotion.resume is None
    assert set(promotion.retire) == set(promotion.outranked) == set(numbers[1:])
    assert promotion.outranked[numbers[2]].startswith(
        "not promoted: ranked 3 of 3 at the rung at resource 1 of bracket 2, by its loss there (0.6; the best: 0.1)"
    )


def test_a_rung_waits_for_its_metric_when_a_step_is_reported_in_two_calls() -> None:
    """train_loss first, then val_loss at the same step (which the report rules allow): the rung decided on the first
    call, by the step before's val_loss, and stopped the trial whose rung value was the best of all."""
    space = ts.Space({"c": ts.Choice(["a", "b", "late"])})
    val = {"a": [1.0, 0.9, 0.5], "b": [1.0, 0.95, 0.6], "late": [1.0, 5.0, 0.01]}  # val_loss at steps 1-3

    def objective(trial: ts.Trial) -> dict[str, float]:
        loss = 0.0
        for epoch in trial.steps(9):
            trial.report(train_loss=0.1)
            if trial.should_stop():
                break
            curve = val[trial.params["c"]]
            loss = curve[epoch] if epoch < 3 else curve[2] - 0.001 * epoch
            trial.report(val_loss=loss)
            if trial.should_stop():
                break
        return {"val_loss": loss}

    study = ts.Study(space, metric="val_loss", scheduler=ts.ASHA(1, 9, 3, predict_final=False),
                     budget=ts.Budget(trials=3), storage="memory", seed=0, sampler="grid")  # fmt: skip
    for c in ("a", "b", "late"):
        study.enqueue({"c": c})
    study.optimize(objective)

    late = next(r for r in study.trials if r.params["c"] == "late")
    assert late.resource == 9 and study.best is not None and study.best.params == {"c": "late"}


def test_median_stopping_judges_a_trial_only_at_a_report_of_its_metric() -> None:
    """Identical curves, val_loss reported in a second call at each step: at the first call the trial's best so far
    lacked the step its peers had reached, and 7 of 12 identical trials were stopped."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        loss = 1.0
        for epoch in trial.steps(20):
            loss = 0.5 + 1.0 / (epoch + 1)  # the same curve for every configuration
            trial.report(train_loss=loss / 2)
            if trial.should_stop():
                break
            trial.report(val_loss=loss)
            if trial.should_stop():
                break
        return {"val_loss": loss}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="val_loss", scheduler=ts.MedianStop(),
                     budget=ts.Budget(trials=12), storage="memory", seed=0, sampler="random")  # fmt: skip
    study.optimize(objective)

    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 12
