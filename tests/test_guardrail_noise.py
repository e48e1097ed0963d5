"""Guardrails judged against the noise of what measured them: held or breached only beyond it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline.gap import Noise
from tunesmith.discipline.guardrails import GuardrailOutcome, read_guardrail
from tunesmith.study._optimize import NoFeasibleTrialWarning

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
LATENCY = ts.Guardrail("latency_ms", "<=", 20.0)


def tuned(guardrails: tuple[ts.Guardrail, ...] = (LATENCY,), latency: Any = 10.0) -> ts.Study:
    study = ts.Study(SPACE, metric="loss", guardrails=guardrails, budget=ts.Budget(trials=4), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(lambda trial: {"loss": (trial.params["x"] - 0.3) ** 2, "latency_ms": latency})
    return study


def latencies(mean: float, n: int = 400) -> np.ndarray:
    """Per-example latencies whose mean is exactly ``mean`` (standard error about 0.25 at n = 400)."""
    values = np.random.default_rng(0).normal(0.0, 5.0, n)
    return values - values.mean() + mean


def test_a_reading_within_noise_of_the_bound_is_undecided_and_beyond_it_decided() -> None:
    noise = Noise(0.25, "400 examples")
    assert read_guardrail(LATENCY, 19.9, noise).outcome is GuardrailOutcome.UNDECIDED
    assert read_guardrail(LATENCY, 20.1, noise).outcome is GuardrailOutcome.UNDECIDED
    assert read_guardrail(LATENCY, 19.0, noise).outcome is GuardrailOutcome.HELD
    assert read_guardrail(LATENCY, 21.0, noise).outcome is GuardrailOutcome.BREACHED
    floor = ts.Guardrail("recall", ">=", 0.8)  # a floor: inside is above it
    assert read_guardrail(floor, 0.9, Noise(0.01, "900 examples")).outcome is GuardrailOutcome.HELD
    assert read_guardrail(floor, 0.79, Noise(0.01, "900 examples")).outcome is GuardrailOutcome.UNDECIDED
    assert read_guardrail(LATENCY, 19.9).outcome is GuardrailOutcome.UNDECIDED  # no noise known: not shown to hold
    assert read_guardrail(LATENCY, float("nan"), noise).outcome is GuardrailOutcome.BREACHED


def test_a_holdout_guardrail_inside_the_bound_by_less_than_its_noise_is_not_ready_and_says_what_decides() -> None:
    study = tuned()
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": 0.01, "latency_ms": latencies(19.8)})
    check = verdict.check("guardrails")
    assert not check.passed and not verdict.ready
    assert "cannot tell on the holdout" in check.detail and "19.8 +- 0.2" in check.detail
    assert "the examples (or seeds) would decide" in check.detail


def test_a_holdout_guardrail_well_inside_its_noise_holds_and_shows_the_value() -> None:
    study = tuned()
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": 0.01, "latency_ms": latencies(18.0)})
    check = verdict.check("guardrails")
    assert (
        check.passed and "held on the holdout (18 +- 0.2" in check.detail and "standard errors inside" in check.detail
    )


def test_a_search_measurement_within_noise_is_not_ready_when_the_holdout_does_not_measure_the_guardrail() -> None:
    study = tuned(latency=latencies(19.9))
    assert study.best is not None and study.best.state is ts.TrialState.COMPLETE  # the point held in the search
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": 0.01})
    check = verdict.check("guardrails")
    assert not check.passed and "cannot tell in the search (not measured on the holdout)" in check.detail


def test_a_guardrail_on_a_validation_metric_is_read_under_the_holdout_name_of_its_base() -> None:
    study = ts.Study(SPACE, metric="loss", guardrails=(ts.Guardrail("val_ece", "<=", 0.05),),
                     budget=ts.Budget(trials=3), storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"loss": trial.params["x"], "val_ece": 0.02})
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": 0.5, "holdout_ece": 0.30})
    check = verdict.check("guardrails")
    assert not check.passed and "breached on the holdout (0.3" in check.detail


def test_a_re_run_mean_within_noise_of_a_guardrail_stays_eligible_with_a_note_and_a_clear_breach_does_not() -> None:
    study = tuned()
    offsets = iter(np.tile([-0.6, 0.6, -0.3, 0.3, 0.0], 4))

    def rerun(trial: ts.Trial) -> dict[str, Any]:  # the mean across seeds sits 0.1 inside the bound, seeds spread
        return {"loss": (trial.params["x"] - 0.3) ** 2, "latency_ms": 19.9 + next(offsets)}

    report = ts.validate_top(study, rerun, k=1, seeds=5)
    (candidate,) = report.candidates
    assert candidate.eligible and "guardrail undecided across seeds: latency_ms <= 20: cannot tell" in candidate.note

    def breaching(trial: ts.Trial) -> dict[str, Any]:
        return {"loss": (trial.params["x"] - 0.3) ** 2, "latency_ms": 23.0 + next(offsets, 0.0)}

    offsets = iter(np.tile([-0.6, 0.6, -0.3, 0.3, 0.0], 4))
    report = ts.validate_top(study, breaching, k=1, seeds=5)
    (candidate,) = report.candidates
    assert not candidate.eligible and "guardrail breached across seeds: latency_ms <= 20: breached" in candidate.note


def test_re_runs_without_a_guardrail_metric_are_failures_and_a_broken_re_run_objective_stops_validate_top() -> None:
    study = tuned()

    def forgets_latency(trial: ts.Trial) -> dict[str, Any]:
        return {"loss": (trial.params["x"] - 0.3) ** 2}

    with pytest.raises(ts.study.ObjectiveError, match=r"first 3 re-runs .* all failed.*lacks the guardrail metric"):
        ts.validate_top(study, forgets_latency, k=2, seeds=3)
    assert study.attrs["seed_stability"]["winner"] is None  # the failed runs are recorded, no winner
    calls = iter(range(100))

    def forgets_once(trial: ts.Trial) -> dict[str, Any]:  # one configuration's run lacks it: that run failed
        result = {"loss": (trial.params["x"] - 0.3) ** 2, "latency_ms": 10.0}
        return {"loss": result["loss"]} if next(calls) == 1 else result

    report = ts.validate_top(study, forgets_once, k=2, seeds=3)
    failed = [c for c in report.candidates if not c.eligible]
    assert len(failed) == 1 and "lacks the guardrail metric ['latency_ms']" in failed[0].note


def test_the_reports_guardrail_figure_marks_each_trial_as_the_verdict_judges_it() -> None:
    from tunesmith.report import ReportData
    from tunesmith.report._plots_discipline import guardrails

    study = ts.Study(ts.Space({"x": ts.Choice([0, 1, 2])}), metric="loss", guardrails=(LATENCY,), sampler="grid",
                     budget=ts.Budget(trials=3), storage="memory", seed=0)  # fmt: skip
    near = [latencies(15.0), latencies(19.9), latencies(23.0)]
    study.optimize(lambda trial: {"loss": float(trial.params["x"]), "latency_ms": near[trial.params["x"]]})
    figure = guardrails(ReportData.from_study(study))
    assert figure is not None
    shown = {trace.name: list(trace.x) for trace in figure.data}
    assert shown["holds"] == [15.0] and shown["cannot tell"] == [19.9] and shown["breached"] == [23.0]


def test_the_searchs_reading_chosen_for_falling_inside_the_bound_holds_at_most_5_percent_of_the_time_at_it() -> None:
    # A true latency exactly on the bound: half the readings fall inside, and the search chooses only those.
    noise = Noise(0.25, "400 examples")
    readings = 20.0 + 0.25 * np.random.default_rng(1).standard_normal(20_000)
    inside = readings[readings <= 20.0]
    held = [read_guardrail(LATENCY, float(v), noise, chosen_inside=True).outcome is GuardrailOutcome.HELD
            for v in inside]  # fmt: skip
    plain = [read_guardrail(LATENCY, float(v), noise).outcome is GuardrailOutcome.HELD for v in inside]
    assert np.mean(plain) == pytest.approx(0.10, abs=0.01)  # the one-sided 5% point, read among the chosen
    assert np.mean(held) == pytest.approx(0.05, abs=0.01)


def test_a_search_result_1_8_standard_errors_inside_the_bound_is_undecided_and_says_why() -> None:
    study = tuned(latency=latencies(19.55))  # 1.8 standard errors of 0.25 inside: held at 1.645, not at 1.96
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": 0.01})
    check = verdict.check("guardrails")
    assert not check.passed and "cannot tell in the search" in check.detail
    said = "needs 1.97 (Student's t on 399 degrees of freedom), as the reading was chosen for falling inside the bound"
    assert said in check.detail


def test_a_breach_is_printed_on_its_side_of_the_bound_and_the_bound_in_full() -> None:
    """A value just past the bound read ``(got 50)`` under ``<= 50``, the figure of one that holds, and a bound of
    1234567 printed as 1.23457e+06."""
    with pytest.warns(NoFeasibleTrialWarning, match="nearest to it latency_ms = 50.0000001"):
        study = tuned(guardrails=(ts.Guardrail("latency_ms", "<=", 50.0),), latency=50.0000001)
    reasons = {record.reason for record in study.trials}
    assert reasons == {"guardrail breached: latency_ms <= 50 (got 50.0000001)"}
    big = ts.Guardrail("params", "<", 1234567)
    assert big.describe() == "params < 1234567" and float(big.value_text(1234567.4)) >= 1234567
    assert "'params': ('<', 1234567)" in ts.choose.best("loss", bounds={"params": ("<", 1234567)}).describe()
    reading = read_guardrail(ts.Guardrail("latency_ms", "<=", 50.0), 50.00001)
    assert "(50.00001;" in reading.describe() and "breached" in reading.describe()


def test_re_runs_that_breach_just_past_the_bound_are_printed_past_it() -> None:
    """Each re-run breaching ``latency_ms <= 20`` at 20.0000004 was listed as ``seed N: 20``."""
    study = tuned()
    ts.validate_top(study, lambda trial: {"loss": (trial.params["x"] - 0.3) ** 2, "latency_ms": 20.0000004},
                    k=1, seeds=3)  # fmt: skip
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": 0.1})
    detail = verdict.check("guardrails").detail
    assert "3 of 3 re-runs breached it" in detail and ": 20.0000004" in detail and ": 20," not in detail
