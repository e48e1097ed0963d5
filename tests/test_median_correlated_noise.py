"""MedianStop judges a trial against the median of its peers with a noise that allows for a loss that wanders from
report to report rather than scattering independently (SGD's does): identical configurations are stopped at no more
than the level per decision whatever the correlation of their noise, and the stop reason says what it allowed for."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.schedulers import MedianStop
from tunesmith.trial import TrialKind, TrialRecord, TrialState

CONTEXT = SearchContext(metric=ts.Metric("loss", "min"))
NOISE = 0.05
STEPS = 20


def _curve(rng: np.random.Generator, rho: float, offset: float) -> np.ndarray:
    """A shared decay that bends sharply early, plus ``offset`` and noise of sd ``NOISE`` with lag-1 correlation
    ``rho``."""
    noise = rng.normal(0.0, NOISE, STEPS)
    for step in range(1, STEPS):
        noise[step] = rho * noise[step - 1] + np.sqrt(1.0 - rho**2) * noise[step]
    return 0.5 + 1.0 / np.arange(1, STEPS + 1) + offset + noise


def _study(rng: np.random.Generator, rho: float, offsets: list[float]) -> list[tuple[int | None, int]]:
    """Configurations trained one after another under MedianStop's defaults: for each, the step it was stopped at
    (``None``: trained to the end) and how many decisions judged it (from step ``warmup_steps=5`` on, with
    ``min_trials=5`` peers that reached the step)."""
    median, history, outcomes = MedianStop(), [], []
    for number, offset in enumerate(offsets):
        record, stopped, judged = TrialRecord(number=number, params={}, seed=number), None, 0
        for step, value in enumerate(_curve(rng, rho, offset), 1):
            record = record.evolve(intermediate={**record.intermediate, step: {"loss": float(value)}}, resource=step)
            judged += step >= 5 and sum(peer.resource >= step for peer in history) >= 5
            if median.decide(record, [*history, record], CONTEXT) is Decision.STOP:
                stopped = step
                break
        history.append(record.evolve(state=TrialState.STOPPED if stopped else TrialState.COMPLETE))
        outcomes.append((stopped, judged))
    return outcomes


@pytest.mark.parametrize(("rho", "studies"), [(0.7, 40), (0.9, 100)])
def test_identical_configurations_whose_loss_wanders_are_stopped_at_no_more_than_the_level_per_decision(
    rho: float, studies: int
) -> None:
    # Decisions within a study share its peers, so stops come in clusters (0 to 7 a study at 0.9): enough studies to
    # average them out.
    rng = np.random.default_rng(0)
    outcomes = [outcome for _ in range(studies) for outcome in _study(rng, rho, [0.0] * 15)]
    stops = sum(stopped is not None for stopped, _ in outcomes)
    decisions = sum(judged for _, judged in outcomes)
    # level=0.01 a decision. Read from second differences as independent, 1.7% (0.7) and 4.3% (0.9) of decisions
    # stopped one, and about half of the configurations at 0.9.
    assert stops <= 0.01 * decisions


def test_a_configuration_two_noise_sd_worse_is_stopped_in_most_studies_though_the_shared_curve_bends() -> None:
    # Second differences took the curve's early bend for noise (48% of studies; 61% on a flat curve); the noise is
    # now measured about the peers' shared shape.
    rng = np.random.default_rng(1)
    stopped = [_study(rng, 0.0, [0.0] * 10 + [2 * NOISE])[10][0] is not None for _ in range(40)]
    assert sum(stopped) >= 0.7 * len(stopped)


def test_the_stop_reason_says_how_far_the_noise_was_allowed_to_wander() -> None:
    def objective(trial: ts.Trial) -> dict[str, float] | None:
        rng, wander, value = np.random.default_rng(trial.seed), 0.0, 0.0
        for step in trial.steps(STEPS):
            wander = 0.8 * wander + 0.6 * NOISE * rng.standard_normal()
            value = 0.5 + 1.0 / (step + 1) + trial.params["x"] + wander
            trial.report(loss=value)
            if trial.should_stop():
                return None
        return {"loss": value}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 2.0)}), metric="loss", scheduler="median", sampler="random",
                     budget=ts.Budget(trials=16), storage="memory", seed=0)  # fmt: skip
    study.optimize(objective, progress=False)
    reasons = [r.reason or "" for r in study.trials if r.kind is TrialKind.SCHEDULER]
    assert reasons, "configurations up to 40 noise sd worse than the best are stopped"
    allowed = r"of \d+ trials' steps \d+-\d+ about their median(, less each one's own trend,)? allowing a lag-1 "
    assert all(re.search(allowed, r) for r in reasons), reasons


def test_with_too_few_reports_shared_the_stop_reason_says_the_noise_was_read_as_independent() -> None:
    # The peers reported at even steps, the trial at odd ones: no step is shared, so how far the noise wanders
    # cannot be measured, and the decision rests on the curves' second differences.
    peers = [
        TrialRecord(n, {}, n, TrialState.COMPLETE, intermediate={s: {"loss": 1.0 + 0.01 * ((n + s) % 3)}
                                                                 for s in range(2, 11, 2)}, resource=10)
        for n in range(3)
    ]  # fmt: skip
    trial = TrialRecord(3, {}, 3, TrialState.RUNNING, intermediate={s: {"loss": 5.0 + 0.01 * (s % 4)}
                                                                   for s in range(1, 10, 2)}, resource=9)  # fmt: skip
    median = MedianStop(warmup_steps=1, min_trials=3)
    assert median.decide(trial, [*peers, trial], CONTEXT) is Decision.STOP
    assert "read from second differences as independent" in (median.explain(trial, [*peers, trial], CONTEXT) or "")
