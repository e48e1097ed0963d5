"""The verdict's optimism line is "not checked" when no optimism could be estimated (the trials' noise is unknown):
it read "[ok]", checked and decided, beside a detail saying no optimism was estimated."""

from __future__ import annotations

import tunesmith as ts


def _verdict(trials: int) -> ts.Verdict:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("val_acc", "max"),
                     budget=ts.Budget(trials=trials), storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"val_acc": 0.9 - 0.05 * (trial.params["x"] - 0.5) ** 2}, progress=False)
    return ts.finalize(study, lambda params, seed: {"holdout_acc": 0.89}, holdout="h", progress=False)


def test_an_optimism_that_could_not_be_estimated_is_not_checked_and_says_what_would_measure_it() -> None:
    optimism = _verdict(8).check("optimism")
    assert optimism.status == "not checked"
    assert "no optimism is estimated" in optimism.detail and "ts.validate_top" in optimism.detail
