"""Several objectives, guardrails and scales: what is printed of a value beside a bound or a scale lies on the side
of it the stored value does, the front's members print distinctly, and the guardrails figure judges only trials
that finished."""

from __future__ import annotations

import pytest

import tunesmith as ts
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.report import plots
from tunesmith.report._data import report_data
from tunesmith.report.terminal import front_table

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
OBJECTIVES = [ts.Metric("error"), ts.Metric("latency_ms")]


def _study(rows: list[dict[str, float]], **options: object) -> ts.Study:
    study = ts.Study(SPACE, metrics=OBJECTIVES, budget=ts.Budget(trials=len(rows)), storage="memory", seed=0,
                     **options)  # type: ignore[arg-type]  # fmt: skip
    study.optimize(lambda trial: dict(rows[trial.number]))
    return study


def test_an_unmet_bound_names_the_closest_value_on_its_side() -> None:
    """"closest: #0 with error 0.3, latency_ms 10" for a stored 10.00001 under latency_ms <= 10."""
    study = _study([{"error": 0.3, "latency_ms": 10.00001}, {"error": 0.2, "latency_ms": 10.00004}])
    with pytest.raises(ts.ConfigError, match=r"closest: #0 with error 0\.3, latency_ms 10\.00001\)"):
        study.choose(ts.choose.best("error", bounds={"latency_ms": ("<=", 10)}))


def test_a_value_past_its_scale_is_printed_past_it() -> None:
    """"values lie in [0, 100], but the result gives acc=100" for a stored 100.0000001."""
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max", scale=100), budget=ts.Budget(trials=2), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": 100.0000001 if trial.number else 50.0}, fail_fast=None)
    (failed,) = [r for r in study.trials if r.state is ts.TrialState.FAILED]
    assert "but the result gives acc=100.0000001:" in (failed.reason or "")


def test_the_front_table_tells_its_members_apart() -> None:
    study = _study([{"error": 0.1000001, "latency_ms": 5.0}, {"error": 0.1000002, "latency_ms": 4.0},
                    {"error": 0.1000003, "latency_ms": 3.0}])  # fmt: skip
    table = front_table(report_data(study), study.pareto_front)
    assert sorted(table.columns[1]._cells) == ["0.1000001", "0.1000002", "0.1000003"]  # they read "0.1" thrice


def test_the_guardrails_figure_judges_finished_trials_only() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        x = trial.params["x"]
        for step in trial.steps(9):
            trial.report(error=x + 1 / (step + 1), latency_ms=10 * (1 - x) + 1 / (step + 1))
        return {"error": x + 1 / (step + 1), "latency_ms": 10 * (1 - x) + 1 / (step + 1), "mem_mb": 100 * x}

    study = ts.Study(SPACE, metrics=OBJECTIVES, guardrails=[ts.Guardrail("mem_mb", "<=", 50)],
                     scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3), budget=ts.Budget(trials=15),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(objective)
    breached = sorted(r.metrics["mem_mb"] for r in study.trials if r.state is ts.TrialState.INFEASIBLE)
    assert any(r.state is ts.TrialState.STOPPED and r.metrics.get("mem_mb", 0) > 50 for r in study.trials)
    figure = plots.guardrails(report_data(study))
    assert figure is not None
    shown = {trace.name: sorted(trace.x) for trace in figure.data}
    assert shown["breached"] == breached


def test_the_dashboards_front_tells_its_members_apart_as_status_does() -> None:
    study = _study([{"error": 0.1000001, "latency_ms": 5.0}, {"error": 0.1000002, "latency_ms": 4.0},
                    {"error": 0.1000003, "latency_ms": 3.0}])  # fmt: skip
    rows = snapshot(study.info, study.trials, SnapshotCache())["front"]["trials"]
    assert sorted(row["texts"]["error"] for row in rows) == ["0.1000001", "0.1000002", "0.1000003"]
