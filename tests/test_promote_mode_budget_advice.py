"""Promote mode (ASHA and Hyperband pausing at their rungs) gets the budget advice stop mode gets: a resource budget
that trains fewer than 5 configurations fully is forecast before the run, with its spread across runs and the
resource that would do; a run that ends with fewer trained fully says so at its end, whatever the mode, when no
forecast said it; and the advice is given once."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.executors import SimulatedExecutor
from tunesmith.schedulers import Scheduler
from tunesmith.schedulers._deck import simulate
from tunesmith.study import MIN_FULLY_TRAINED, ShortTrainingWarning, trained_fully
from tunesmith.study._limits import _promote_deck, short_training_note
from tunesmith.trial import TrialKind, TrialRecord, TrialState

SPACE = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0)})
SPREAD = re.compile(r"([\d.]+) on average \((\d+)-(\d+) in 8 runs of 10\)")
ADVISED_RESOURCE = re.compile(r"resource budget of about (\d+)")


def _curves(length: int) -> Callable[[ts.Trial], Iterator[tuple[float, dict[str, float]]]]:
    """Curves that cross (floor and rate drawn from the parameters), one simulated second a step; a promoted trial
    goes on from the step it paused at, as from a checkpoint."""

    def objective(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        floor, rate = 0.1 + 0.5 * trial.params["a"], 0.05 + 0.4 * trial.params["b"]
        noise = np.random.default_rng(trial.seed)
        for step in range(trial.step, length):
            loss = floor + (1 - floor) * np.exp(-rate * step) + noise.normal(0, 0.01)
            yield 1.0, {"val_loss": float(loss)}

    return objective


def _study(scheduler: Scheduler, budget: ts.Budget, seed: int = 0) -> ts.Study:
    return ts.Study(SPACE, metric="val_loss", sampler="random", scheduler=scheduler, budget=budget, storage="memory",
                    seed=seed)  # fmt: skip


def _trained_fully(study: ts.Study, length: int) -> int:
    return sum(1 for r in study.trials if r.state is TrialState.COMPLETE and r.resource >= length)


def _short_training(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ShortTrainingWarning)]


@pytest.mark.parametrize(
    "scheduler", [ts.ASHA(1, 27, 3, mode="promote"), ts.Hyperband(1, 27, 3, mode="promote")], ids=["asha", "hyperband"]
)
def test_promote_modes_forecast_states_its_spread_and_the_resource_budget_that_trains_five(
    scheduler: Scheduler,
) -> None:
    stated = trained_fully(ts.Budget(resource=150), scheduler)
    assert stated is not None and stated[0] < MIN_FULLY_TRAINED
    spread = SPREAD.search(stated[1])
    assert spread is not None and int(spread.group(2)) == stated[0], stated[1]
    advised = ADVISED_RESOURCE.search(stated[1])
    assert advised is not None, stated[1]
    enough = float(advised.group(1))
    at = trained_fully(ts.Budget(resource=enough), scheduler)
    assert at is not None and at[0] >= MIN_FULLY_TRAINED and "about" not in at[1], at
    deck = _promote_deck(scheduler)
    assert deck is not None and simulate(deck, resource=0.99 * enough, promoted=True).low < MIN_FULLY_TRAINED, (
        "the advice is within 1% of the smallest whose runs train it 9 in 10"
    )


def test_promote_modes_forecast_holds_for_runs_of_the_scheduler_itself() -> None:
    stated = trained_fully(ts.Budget(resource=150), ts.ASHA(1, 27, 3, mode="promote"))
    assert stated is not None
    spread = SPREAD.search(stated[1])
    assert spread is not None, stated[1]
    measured = []
    for seed in range(10):
        study = _study(ts.ASHA(1, 27, 3, mode="promote"), ts.Budget(resource=150), seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShortTrainingWarning)
            study.optimize(_curves(27), executor=SimulatedExecutor(workers=1), progress=False)
        measured.append(_trained_fully(study, 27))
    assert abs(float(spread.group(1)) - np.mean(measured)) < 0.5, (stated[1], measured)
    assert int(spread.group(2)) <= np.mean(measured) <= int(spread.group(3)), (stated[1], measured)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_resource_budget_too_small_for_promote_mode_warns_once_before_the_run(workers: int) -> None:
    # It warned nothing, before or after, while 2 of 39 trials trained fully.
    study = _study(ts.ASHA(1, 27, 3, mode="promote"), ts.Budget(resource=150))
    at_start: list[int] = []

    class WarningsAtStart(ts.Observer):
        def on_optimize_start(self, study: ts.Study) -> None:
            at_start.append(len(_short_training(caught)))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(_curves(27), executor=SimulatedExecutor(workers=workers), callbacks=[WarningsAtStart()],
                       progress=False)  # fmt: skip
    said = _short_training(caught)
    assert at_start == [1] and len(said) == 1, said
    assert "asha in promote mode trains" in said[0] and "with a resource budget of 150" in said[0], said[0]
    assert _trained_fully(study, 27) < MIN_FULLY_TRAINED


@pytest.mark.parametrize("mode", ["stop", "promote"])
def test_a_run_that_trains_fewer_than_five_fully_says_so_at_its_end_when_no_forecast_did(
    mode: Literal["stop", "promote"],
) -> None:
    # A wall-time budget has no forecast: nothing was said although 2 to 4 configurations trained fully.
    study = _study(ts.ASHA(1, 27, 3, mode=mode), ts.Budget(wall_time=150))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = study.optimize(_curves(27), executor=SimulatedExecutor(workers=1), progress=False)
    said = _short_training(caught)
    trained = _trained_fully(study, 27)
    assert trained < MIN_FULLY_TRAINED and len(said) == 1, said
    assert said[0].startswith(
        f"asha trained {trained} of {len(study.trials)} configurations to the full resource (27) before the "
        "wall-time budget ran out (wall_time=150s): fewer than 5 trained fully cannot tell a winner from noise; "
        "raise the wall-time budget (study.extend_budget(wall_time=...), tunesmith extend --wall-time)"
    ), said[0]
    assert "or use a smaller max_resource" in said[0] and said[0] in result.notes


def test_the_end_of_run_note_under_a_resource_budget_names_the_resource_that_trains_five() -> None:
    scheduler = ts.ASHA(1, 27, 3, mode="promote")
    stated = trained_fully(ts.Budget(resource=150), scheduler)
    advised = ADVISED_RESOURCE.search(stated[1] if stated else "")
    assert advised is not None, stated
    records = [TrialRecord(n, {}, n, TrialState.COMPLETE, resource=27) for n in range(2)] + [
        TrialRecord(n, {}, n, TrialState.STOPPED, resource=1, kind=TrialKind.BUDGET) for n in range(2, 40)
    ]
    note = short_training_note(records, scheduler, ts.Budget(resource=150), "resource") or ""
    assert note.startswith("asha trained 2 of 40 configurations to the full resource (27) before the resource"), note
    assert (
        "raise the resource budget (study.extend_budget(resource=...), tunesmith extend --resource) to about "
        f"{advised.group(1)}, which trains 5 or more in 9 runs of 10" in note
    ), note
