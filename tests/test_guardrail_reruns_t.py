"""A guardrail read across a few seed re-runs: the spread of n runs is an estimate on n - 1 degrees of freedom, so
held and breached are read on Student's t, and a guardrail on its bound reads held in at most 5% of verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import tunesmith as ts
from tunesmith.discipline._reruns import SeedRun, across_runs, seed_list
from tunesmith.discipline.guardrails import GuardrailOutcome, read_guardrail

PEAK = ts.Guardrail("peak_mib", "<=", 512.0)


def runs(values: list[float], **per_example: float) -> list[SeedRun]:
    return [SeedRun(0, seed, "complete", {"peak_mib": value, **per_example}) for seed, value in enumerate(values)]


@pytest.mark.parametrize("seeds", [2, 3])
def test_a_guardrail_on_its_bound_read_across_a_few_re_runs_holds_at_most_5_percent_of_the_time(seeds: int) -> None:
    # Peak memory measured once per run, its true value on the bound: at 1.645 it read held in 39 (2 seeds) and
    # 20 (3 seeds) of 200 verdicts.
    rng = np.random.default_rng(seeds)
    held, reads = 0, 4000
    for _ in range(reads):
        measured = across_runs(runs(list(512.0 + rng.normal(0.0, 8.0, seeds))), "peak_mib")
        assert measured is not None
        held += read_guardrail(PEAK, measured[0], measured[1]).outcome is GuardrailOutcome.HELD
    assert held <= stats.binom.ppf(0.999, reads, 0.05)  # 5%, give or take chance over this many reads


def test_the_spread_of_n_re_runs_carries_n_minus_1_degrees_of_freedom_and_per_example_noise_adds_more() -> None:
    measured = across_runs(runs([500.0, 504.0, 508.0]), "peak_mib")
    assert measured is not None and measured[1] is not None and measured[1].dof == 2
    # Each run's own per-example noise (400 examples) dominates the spread: nearly its many degrees of freedom.
    per_example = {"stderr:peak_mib": 10.0, "count:peak_mib": 400.0}
    pooled = across_runs(runs([500.0, 504.0, 508.0], **per_example), "peak_mib")
    assert pooled is not None and pooled[1] is not None and pooled[1].dof is not None and pooled[1].dof > 100


def test_a_guardrail_5_standard_errors_inside_across_two_re_runs_is_undecided_and_names_students_t() -> None:
    selection = seed_list(7, 2)  # the seeds validate_top(seeds=2) runs on for a study with seed=7

    def objective(trial: ts.Trial) -> dict[str, float]:  # 500 and 504 MiB on the two re-runs: 502 +- 2
        peak = {selection[0]: 500.0, selection[1]: 504.0}.get(trial.seed, 480.0)
        return {"acc": 0.9, "peak_mib": peak}

    study = ts.Study(ts.Space({"c": ts.Choice(["a"])}), metric=ts.Metric("acc", "max"), guardrails=[PEAK],
                     sampler="grid", budget=ts.Budget(trials=1), storage="memory", seed=7)  # fmt: skip
    study.optimize(objective, progress=False)
    ts.validate_top(study, objective, k=1, seeds=2, progress=False)
    check = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.9}, progress=False).check("guardrails")
    assert not check.passed and not check.decided
    assert "cannot tell across the re-runs (502 +- 2 (2 seeds), 5.0 standard errors inside" in check.detail
    assert "needs 6.31 (Student's t on 1 degrees of freedom)" in check.detail
