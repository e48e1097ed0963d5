"""Under early stopping the sampler learns from stopped trials: a region that always loses at the first
rung is not proposed again and again (trials stopped below the rung the model reads are kept, behind
every trial that reached it, instead of being forgotten)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.executors import SimulatedExecutor
from tunesmith.fidelity import rung_view
from tunesmith.schedulers.successive_halving import value_at_rung
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True), "width": ts.Float(0.0, 1.0)})


def curve(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """Learning rates above 0.1 are bad from the first step; the rest improve with training."""
    lr, width = trial.params["lr"], trial.params["width"]
    for step in range(trial.step, 27):
        loss = 3.0 + width if lr > 0.1 else 0.3 + abs(np.log10(lr) + 2.5) * 0.1 + 0.05 * width + 1.0 / (step + 1)
        yield 1.0, {"loss": loss}


@pytest.mark.slow
@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_a_region_stopped_at_the_first_rung_is_rarely_proposed_again(sampler: str) -> None:
    shares = []
    for seed in range(2):
        study = ts.Study(SPACE, metric="loss", sampler=sampler, scheduler=ts.ASHA(min_resource=1, max_resource=27,
                         eta=3), budget=ts.Budget(trials=60), storage="memory", seed=seed,
                         divergence_factor=None)  # fmt: skip
        study.optimize(curve, executor=SimulatedExecutor(workers=2))
        early = np.mean([r.params["lr"] > 0.1 for r in study.trials[:20]])
        late = np.mean([r.params["lr"] > 0.1 for r in study.trials[30:]])
        shares.append((early, late))
    # before this fix the share after trial 30 was 0.57 (TPE) and 0.49 (GP) over a few seeds
    assert all(late <= 0.15 for _, late in shares), shares


def _stopped(number: int, values: list[float]) -> TrialRecord:
    intermediate = {step + 1: {"loss": v} for step, v in enumerate(values)}
    return TrialRecord(number, {"lr": 0.01, "width": 0.5}, number, TrialState.STOPPED, metrics={"loss": values[-1]},
                       intermediate=intermediate, resource=len(values))  # fmt: skip


def test_stopped_trials_are_kept_behind_the_worst_at_the_rung_in_their_own_order() -> None:
    reached = [_stopped(i, [1.0, 0.8, 0.5 + 0.1 * i]) for i in range(6)]
    low = [_stopped(6, [1.5]), _stopped(7, [2.5])]
    level, view = rung_view([*reached, *low], ts.Metric("loss"), [1.0, 3.0, 9.0], 6, stopped_as_worst=True)
    values = {r.number: r.metrics["loss"] for r in view}
    assert level == 3.0 and values[6] >= 1.0 and values[7] > values[6], values
    _, forgetting = rung_view([*reached, *low], ts.Metric("loss"), [1.0, 3.0, 9.0], 6)
    assert {r.number for r in forgetting} == set(range(6)), "the report's view still leaves them out"


def test_a_running_trial_stays_pending_for_samplers_whatever_rungs_it_passed() -> None:
    # With several workers a trial still training may yet diverge: a late diverger that looks best at a rung
    # drew the search to its region before it blew up (4 workers on the benchmark's divergence curves: 2 of 5
    # seeds matched random search's best, 4 of 5 with running trials kept pending).
    finished = [_stopped(i, [1.0, 0.8, 0.5 + 0.1 * i]) for i in range(6)]
    running = TrialRecord(6, {"lr": 0.5, "width": 0.9}, 6, TrialState.RUNNING, intermediate={1: {"loss": 0.2},
                          3: {"loss": 0.1}}, resource=3)  # fmt: skip
    level, view = rung_view([*finished, running], ts.Metric("loss"), [1.0, 3.0, 9.0], 6, stopped_as_worst=True,
                            running_pending=True)  # fmt: skip
    assert level == 3.0
    assert [r for r in view if r.number == 6] == [running], "pending, as it is: not a result at the rung"
    _, report = rung_view([*finished, running], ts.Metric("loss"), [1.0, 3.0, 9.0], 6)
    shown = next(r for r in report if r.number == 6)
    assert shown.state is TrialState.COMPLETE and shown.metrics["loss"] == 0.1, "the report still shows its value"
    # Nor does it count towards the trials a rung needs before samplers read it.
    level, _ = rung_view([*finished[:5], running], ts.Metric("loss"), [1.0, 3.0, 9.0], 6, stopped_as_worst=True,
                         running_pending=True)  # fmt: skip
    assert level is None


def test_samplers_under_early_stopping_see_running_trials_as_pending() -> None:
    from tunesmith.context import SearchContext
    from tunesmith.samplers._history import observe

    finished = [_stopped(i, [1.0, 0.8, 0.5 + 0.1 * i]) for i in range(6)]
    running = TrialRecord(6, {"lr": 0.5, "width": 0.9}, 6, TrialState.RUNNING, intermediate={1: {"loss": 0.2},
                          3: {"loss": 0.1}}, resource=3)  # fmt: skip
    context = SearchContext(metric=ts.Metric("loss"), rungs=(1.0, 3.0, 9.0))
    obs = observe(SPACE, [*finished, running], context)
    assert len(obs.pending_x) == 1 and len(obs.x) == 6


def test_samplers_see_a_trial_at_a_rung_by_the_value_the_rung_ranked_it_by() -> None:
    # Evaluated every 8 steps, a trial is ranked at rungs 1 and 3 by its step-8 value (the scheduler's first report
    # at or past the rung): the samplers' view read its value from before the rung, none at rungs 1 and 3 at all.
    def sparse(number: int, loss: float) -> TrialRecord:
        return TrialRecord(number, {"lr": 0.01, "width": 0.1 * number}, number, TrialState.STOPPED,
                           intermediate={8: {"loss": loss}, 16: {"loss": loss / 2}}, resource=16)  # fmt: skip

    trials = [sparse(i, 1.0 + i) for i in range(6)]
    level, view = rung_view(trials, ts.Metric("loss"), [1.0, 3.0, 9.0, 27.0], 6, stopped_as_worst=True)
    assert level == 9.0
    ranked = [value_at_rung(record, "loss", 9.0) for record in trials]
    assert [r.metrics["loss"] for r in view] == ranked == [(1.0 + i) / 2 for i in range(6)]
    level, view = rung_view(trials, ts.Metric("loss"), [1.0, 3.0, 27.0], 6, stopped_as_worst=True)
    assert level == 3.0 and [r.metrics["loss"] for r in view] == [1.0 + i for i in range(6)]
