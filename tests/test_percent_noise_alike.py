"""A score in percent carries the noise the same score as a fraction does: the baseline margin, the seed contest
and the re-runs' means read a proportion whose examples all agree on the metric's scale (`noise_of(..., scale)`).

A winner right on all 40 examples, in percent, read "no noise is known ... return per-example values" beside the
per-example values it had returned, where the same score as a fraction read its noise (the adjusted proportion).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline._margin import baseline_check
from tunesmith.discipline._reruns import SeedRun, across_runs
from tunesmith.discipline.verdict import Check


def _margin(scale: float | None) -> Check:
    unit = 1.0 if scale is None else scale
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max", scale=scale),
                     baseline={"x": 0.0}, storage="memory", budget=ts.Budget(trials=3), sampler="random",
                     seed=0)  # fmt: skip

    def objective(trial: ts.Trial) -> dict[str, Any]:
        if trial.params["x"] == 0.0:  # the baseline: 36 of 40 right
            return {"acc": list(unit * (np.arange(40) % 10 != 0))}
        return {"acc": [unit] * 40}  # every example right

    study.optimize(objective, progress=False)
    ts.evaluate_baseline(study, objective)
    assert study.best is not None
    return baseline_check(study, study.best, None, None)


def test_the_baseline_margin_reads_a_perfect_score_in_percent_as_in_fractions() -> None:
    fraction, percent = _margin(None), _margin(100.0)
    assert (fraction.passed, fraction.decided) == (percent.passed, percent.decided) == (True, True)
    assert "no noise is known" not in percent.detail, percent.detail
    assert "better by 10, sampling noise 3.96 (1.64 standard errors of the difference: its score's, 40 examples, " \
           "all alike" in percent.detail  # fmt: skip
    assert "better by 0.1, sampling noise 0.0396 (" in fraction.detail


def test_the_re_runs_mean_reads_a_perfect_percentage_on_its_scale() -> None:
    runs = [SeedRun(0, seed, ts.TrialState.COMPLETE.value, {"acc": 100.0, "stderr:acc": 0.0, "count:acc": 40.0})
            for seed in (1, 2)]  # fmt: skip
    as_fraction = across_runs([SeedRun(0, r.seed, r.state, {**r.metrics, "acc": 1.0}) for r in runs], "acc")
    as_percent = across_runs(runs, "acc", 100.0)
    assert as_fraction is not None and as_percent is not None
    assert as_fraction[1] is not None and as_percent[1] is not None
    assert as_percent[1].stderr == pytest.approx(100.0 * as_fraction[1].stderr)


def test_a_standard_error_the_objective_recorded_itself_is_named_as_such_not_as_per_example_values() -> None:
    """A bootstrap standard error given as ``stderr:auc`` (no ``count:auc`` beside it, so no values behind it) was
    named "per-example values" in the gap check's noise."""
    from tunesmith._noise import noise_of

    given = noise_of({"auc": 0.9, "stderr:auc": 0.01}, "auc")
    assert given is not None and given.source == "its recorded stderr:auc"
    read = noise_of({"auc": 0.9, "stderr:auc": 0.01, "count:auc": 300.0}, "auc")
    assert read is not None and read.source == "300 examples"
