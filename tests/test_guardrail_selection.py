"""A guardrail on a metric the pick itself read (``choose.best`` on it, the knee, a weight on it): the chosen trial's
one search reading may be the luckiest of every configuration's, so it is held only beyond what that luck explains,
and otherwise the check says what would decide."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import tunesmith as ts
from tunesmith.discipline.gap import noise_of
from tunesmith.discipline.guardrails import GuardrailOutcome, read_guardrail

LATENCY = ts.Guardrail("latency_ms", "<=", 60.0)
TIMINGS = 50  # per-example latencies a trial measures


def timings(mean: float) -> np.ndarray:
    """Per-example latencies whose mean is exactly ``mean``, with standard error `SE`."""
    values = np.random.default_rng(0).normal(0.0, 5.0, TIMINGS)
    return values - values.mean() + mean


SE = float(timings(0.0).std(ddof=1) / TIMINGS**0.5)  # 0.65 ms


def test_the_luckiest_of_20_readings_on_the_bound_reads_held_at_most_5_percent_of_the_time() -> None:
    # Every configuration's true latency sits on the bound; the pick takes the lowest of 20 readings (the
    # search's best latency), which also fell inside the bound. 14 of 40 such verdicts read "held".
    rng = np.random.default_rng(2)
    held = plain = 0
    picks = 4000
    for _ in range(picks):
        readings = [rng.normal(60.0, 5.0, TIMINGS) for _ in range(20)]
        lowest = min(readings, key=np.mean)
        metrics = {"latency_ms": float(lowest.mean()), "stderr:latency_ms": float(lowest.std(ddof=1) / TIMINGS**0.5),
                   "count:latency_ms": float(TIMINGS)}  # fmt: skip
        noise = noise_of(metrics, "latency_ms")
        value = metrics["latency_ms"]
        plain += read_guardrail(LATENCY, value, noise, chosen_inside=True).outcome is GuardrailOutcome.HELD
        held += read_guardrail(LATENCY, value, noise, chosen_inside=True,
                               compared=20).outcome is GuardrailOutcome.HELD  # fmt: skip
    assert plain / picks > 0.3  # read as if the pick had not read the guarded metric
    assert held <= stats.binom.ppf(0.999, picks, 0.05)  # 5%, give or take chance over this many picks


def test_a_reading_the_pick_chose_among_20_holds_only_past_the_point_shared_among_them() -> None:
    noise = noise_of({"latency_ms": 58.0, "stderr:latency_ms": 0.7, "count:latency_ms": float(TIMINGS)}, "latency_ms")
    near = read_guardrail(LATENCY, 60.0 - 2.5 * 0.7, noise, chosen_inside=True, compared=20)
    far = read_guardrail(LATENCY, 60.0 - 3.2 * 0.7, noise, chosen_inside=True, compared=20)
    assert near.outcome is GuardrailOutcome.UNDECIDED and far.outcome is GuardrailOutcome.HELD
    assert near.needed == pytest.approx(2.94, abs=0.01)  # Student's t on 49 degrees of freedom at 0.25%


def multi_objective_study(latency_of: dict[int, float]) -> ts.Study:
    """20 trials of error and per-example latency; trial i's mean latency is ``latency_of[i]`` (60.5 otherwise)."""
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metrics=[ts.Metric("error"), ts.Metric("latency_ms")],
                     guardrails=[LATENCY], sampler="random", budget=ts.Budget(trials=20), storage="memory",
                     seed=0)  # fmt: skip
    for i in range(20):
        trial = study.ask()
        errors = (np.random.default_rng(i).random(400) < 0.3 - 0.2 * trial.params["x"]).astype(float)
        study.tell(trial, {"error": errors, "latency_ms": timings(latency_of.get(i, 60.5 - 0.05 * i))})
    return study


def holdout_error(params: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    return {"holdout_error": (np.random.default_rng(seed).random(4000) < 0.3 - 0.2 * params["x"]).astype(float)}


def test_choose_best_on_the_guarded_metric_leaves_its_search_reading_undecided_and_says_what_would_decide() -> None:
    study = multi_objective_study({7: 60.0 - 2.5 * SE})  # the fastest: 2.5 standard errors inside the bound
    chosen = study.choose(ts.choose.best("latency_ms"))
    assert chosen.number == 7
    check = ts.finalize(study, holdout_error, progress=False).check("guardrails")
    assert not check.passed and not check.decided
    assert "cannot tell in the search (not measured on the holdout)" in check.detail
    assert "may have taken the luckiest of 20 configurations' readings" in check.detail
    assert "re-runs of the winner on fresh seeds (ts.validate_top(study, objective))" in check.detail
    assert "return 'holdout_latency_ms' from evaluate" in check.detail


def test_the_knee_reads_every_objective_so_its_pick_is_read_as_chosen_among_every_trial() -> None:
    study = multi_objective_study({i: 60.0 - 2.5 * SE - 0.01 * i for i in range(20)})  # 2.5-2.8 errors inside
    study.choose(ts.choose.knee())
    check = ts.finalize(study, holdout_error, progress=False).check("guardrails")
    assert not check.passed and "may have taken the luckiest of 20 configurations' readings" in check.detail
