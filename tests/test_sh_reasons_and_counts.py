"""Two honest counts: a trial that synchronous successive halving retires is told its rank among its group at the
rung, the group's size, how many the rung promotes and its value against the last promoted one; and an enqueued
configuration refused on a used-up space counts the configurations the samplers list, not the product of the
parameters' counts, which overcounts a conditional space."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.objective import Metric
from tunesmith.samplers.base import SearchContext
from tunesmith.schedulers import SuccessiveHalving
from tunesmith.schedulers.successive_halving import RungPromotion
from tunesmith.study._known import QueuedConfigurationRefusedWarning
from tunesmith.trial import TrialKind, TrialRecord, TrialState

CONTEXT = SearchContext(metric=Metric("loss", "min"))


def curve(number: int, losses: dict[int, float], state: TrialState = TrialState.PAUSED) -> TrialRecord:
    """Trial ``number`` with ``losses`` reported at their steps, its resource the last of them."""
    return TrialRecord(number=number, params={"x": float(number)}, seed=number, state=state,
                       intermediate={step: {"loss": value} for step, value in losses.items()},
                       resource=float(max(losses)))  # fmt: skip


def promotion_of(scheduler: SuccessiveHalving, history: list[TrialRecord], *, final: bool) -> RungPromotion:
    promotion = scheduler.promote(history, CONTEXT, final=final)
    assert isinstance(promotion, RungPromotion)
    return promotion


# Synchronous successive halving -----------------------------------------------------------------------------


def test_a_retired_trial_is_told_its_rank_in_its_group_the_groups_size_how_many_go_on_and_the_values() -> None:
    # Trials 0-2, the top third at rung 1, wait at rung 3; trials 3-8 wait at rung 1, outranked.
    promoted = [curve(n, {1: 0.1 * (n + 1), 3: 0.05 * (n + 1)}) for n in range(3)]
    waiting = [curve(n, {1: 0.1 * (n + 1)}) for n in range(3, 9)]
    promotion = promotion_of(SuccessiveHalving(1, 9, 3, population=9), [*promoted, *waiting], final=False)
    assert (promotion.resume, promotion.retire) == (0, (3, 4, 5, 6, 7, 8))
    assert promotion.outranked[5] == (
        "not promoted: ranked 6 of 9 at the rung at resource 1 of group 0 (its 9 trials, #0-#8), by its loss there "
        "(0.6; the last kept: 0.3); the rung promotes its top 3 (9 // eta=3, at least the best, and any tied with the "
        "last of them) once every trial of the group has reached it or ended"
    )


def test_a_group_judged_short_when_no_trial_may_start_says_how_many_of_its_trials_it_had() -> None:
    waiting = [curve(n, {1: 0.1 * (n - 8)}) for n in range(9, 14)]  # group 1 has 5 of its 9 when the budget is spent
    promotion = promotion_of(SuccessiveHalving(1, 9, 3, population=9), waiting, final=True)
    assert promotion.resume == 9
    assert promotion.outranked[12].startswith(
        "not promoted: ranked 4 of 5 at the rung at resource 1 of group 1 (5 of its 9 trials, #9-#13: no new trial "
        "may start to fill it), by its loss there (0.4; the best: 0.1); the rung promotes its top 1 (5 // eta=3"
    )


def _random_history(rng: np.random.Generator, size: int) -> list[TrialRecord]:
    """Trials reporting every step or every other one up to a random step, in a random state (ties included)."""
    history = []
    for number in range(size):
        reach = int(rng.choice([1, 2, 3, 5, 9]))
        state = TrialState(rng.choice(["paused", "paused", "running", "stopped", "complete", "failed"]))
        quality = float(rng.choice([0.1, 0.2])) if rng.uniform() < 0.3 else float(rng.uniform())
        steps = range(1, reach + 1) if rng.uniform() < 0.5 else range(2, reach + 1, 2)
        losses = {step: quality + 1.0 / step for step in steps} or {reach: quality}
        history.append(curve(number, losses, state))
    return history


@pytest.mark.parametrize("seed", range(40))
def test_the_reasons_name_exactly_the_trials_synchronous_halving_retires(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scheduler = SuccessiveHalving(1, 9, 3, population=int(rng.choice([3, 4, 9])))
    history = _random_history(rng, int(rng.integers(2, 30)))
    settling = promotion_of(scheduler, history, final=False)
    assert set(settling.outranked) == set(settling.retire)
    ending = promotion_of(scheduler, history, final=True)  # also names the outranked a promotion comes before
    assert set(ending.retire) <= set(ending.outranked)
    assert all(why.startswith("not promoted: ranked ") for why in ending.outranked.values())


def _quality(trial: ts.Trial) -> float:
    for step in trial.steps(9):
        trial.report(loss=trial.params["quality"] + 1.0 / (step + 1))
        trial.save_checkpoint({"step": step})  # the curve's state is its step: a promotion resumes from it
    return float(trial.params["quality"])


def test_a_stored_trial_retired_by_synchronous_halving_carries_its_rank_and_its_group(tmp_path: Path) -> None:
    study = ts.Study(ts.Space({"quality": ts.Float(0.0, 1.0)}), metric="loss", sampler="random", seed=0,
                     storage=f"sqlite:///{tmp_path / 'sh.db'}", budget=ts.Budget(trials=9),
                     scheduler=ts.SuccessiveHalving(1, 9, 3, population=9))  # fmt: skip
    study.optimize(_quality)
    stopped = [r for r in study.trials if r.state is TrialState.STOPPED]
    assert len(stopped) == 8
    for record in stopped:
        assert record.kind is TrialKind.SCHEDULER
        assert re.match(r"not promoted: ranked [2-9] of [39] at the rung at resource [13] of group 0 \(its 9 trials, "
                        r"#0-#8\), by its loss there \(", record.reason or ""), record.reason  # fmt: skip


def test_a_spent_resource_budget_retires_the_trials_synchronous_halving_outranked_as_cut_by_it(tmp_path: Path) -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", seed=0,
                     scheduler=ts.SuccessiveHalving(1, 9, 3, population=3), budget=ts.Budget(resource=3),
                     checkpoint_dir=tmp_path)  # fmt: skip
    for loss in (0.1, 0.6, 0.7):  # two wait at rung 1; the third's report spends the resource (it ends there)
        trial = study.ask()
        trial.report(step=1, loss=loss)
        study.tell(trial)
    with pytest.raises(ts.errors.BudgetExhausted):
        study.ask()
    first, second = study.trials[0], study.trials[1]
    assert (first.state, first.kind) == (TrialState.STOPPED, TrialKind.BUDGET), "the top 1 of 3: its turn was due"
    assert (second.state, second.kind) == (TrialState.STOPPED, TrialKind.SCHEDULER)
    assert (second.reason or "").startswith("not promoted: ranked 2 of 3 at the rung at resource 1 of group 0")


# Counting a conditional space's configurations --------------------------------------------------------------


def test_a_refused_entry_counts_a_conditional_spaces_configurations_not_the_product_of_its_parameters() -> None:
    """``x`` only under ``opt=a``: 3 configurations (a/1, a/2, b), where the product of the counts said 4."""
    space = ts.Space({"opt": ts.Choice(["a", "b"]), "x": ts.Int(1, 2, when={"opt": ["a"]})})
    study = ts.Study(space, metric="value", budget=ts.Budget(trials=10), storage="memory", seed=0, sampler="tpe")
    study.optimize(lambda trial: float(trial.params.get("x", 0)), n_trials=3)
    study.enqueue({"opt": "a"})  # leaves x to draw, and every x under a was tried
    with pytest.warns(QueuedConfigurationRefusedWarning, match=r"all 3 configurations of the space were tried"):
        study.optimize(lambda trial: float(trial.params.get("x", 0)))
