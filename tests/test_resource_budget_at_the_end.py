"""A resource budget running out as trials reach the rung scheduler's full resource: they trained fully."""

from __future__ import annotations

from collections.abc import Iterator

import tunesmith as ts
from tunesmith.executors import SimulatedExecutor
from tunesmith.schedulers import ASHA
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _curve(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    x = trial.params["x"]
    for step in range(trial.step + 1, 28):
        yield 1.0, {"loss": (x - 0.3) ** 2 + 1.0 / step}


def _run(seed: int, resource: int, workers: int = 4) -> list[ts.TrialRecord]:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(resource=resource), seed=seed, storage="memory",
                     sampler="random", scheduler=ASHA(1, 27, 3))  # fmt: skip
    study.optimize(_curve, executor=SimulatedExecutor(workers=workers), progress=False)
    return study.trials


def test_a_trial_the_budget_stops_at_its_full_resource_is_complete_with_its_last_report() -> None:
    # Four workers, four full trainings' worth: each seed's first trials pass every rung among few peers and reach
    # 27 as the budget runs out. They were recorded STOPPED (the next report would not fit), and no seed had a best.
    for seed in range(4):
        records = _run(seed, 4 * 27)
        full = [r for r in records if r.resource >= 27]
        assert full and all(r.state is TrialState.COMPLETE and r.kind is None for r in full), [
            (r.number, r.state, r.kind, r.reason) for r in full
        ]
        for record in full:
            assert record.metrics["loss"] == record.intermediate[27]["loss"]
    # Short of it, the budget's stop is a cut: STOPPED, of kind BUDGET.
    cut = [r for s in range(4) for r in _run(s, 4 * 27) if r.kind is TrialKind.BUDGET]
    assert cut and all(r.state is TrialState.STOPPED and r.resource < 27 for r in cut)
