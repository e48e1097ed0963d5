"""A trial the scheduler stops is recorded with its last reported value, whatever the objective returns after the stop
(a library's best score, an evaluation of its best checkpoint): the returned -100 was stored beside a curve ending at
1.76, and samplers read stopped trials' values before a rung fills. Metrics it returned and never reported stay."""

from __future__ import annotations

import tunesmith as ts


def _flattering(trial: ts.Trial) -> dict[str, float]:
    x = trial.params["x"]
    for step in trial.steps(9):
        trial.report(loss=x + 1.0 / (step + 1))
    return {"loss": -100.0 if trial.should_stop() else x, "size": 7.0}


def test_a_stopped_trial_keeps_its_last_report_and_the_metrics_it_only_returned() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(trials=9), storage="memory",
                     scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3), seed=0)  # fmt: skip
    study.optimize(_flattering, progress=False)
    stopped = [r for r in study.trials if r.state is ts.TrialState.STOPPED]
    assert stopped, "the scheduler stopped some"
    for record in stopped:
        assert record.metrics["loss"] == record.intermediate[max(record.intermediate)]["loss"]
        assert record.metrics["size"] == 7.0
    assert study.best is not None and study.best.metrics["loss"] >= 0
