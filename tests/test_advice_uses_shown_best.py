"""The advice to fix parameters quotes the trial every view shows as best. After ts.validate_top picked trial 3 over
the search's best, 18, the summary printed "Best: trial 3 ..., the validated winner" and then "fix them at the best
trial's values (c=0.29, b=0.549)": trial 18's."""

from __future__ import annotations

import io
import json
import zlib

import numpy as np
import pytest
from rich.console import Console

import tunesmith as ts
from tunesmith.analysis import diagnose, importance
from tunesmith.analysis._common import format_value
from tunesmith.pareto import pareto_front
from tunesmith.report import analyse, report_data
from tunesmith.report.terminal import summary
from tunesmith.trial import TrialRecord

SPACE = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0), "c": ts.Float(0.0, 1.0)})


def _noisy(trial: ts.Trial) -> dict[str, float]:
    """a matters, b and c do nothing; seed noise of 0.3, the same for a configuration and seed on every call."""
    key = zlib.crc32(json.dumps(trial.params, sort_keys=True).encode())
    rng = np.random.default_rng([trial.seed, key])
    return {"loss": float(3 * trial.params["a"] + rng.normal(0, 0.3))}


@pytest.fixture(scope="module")
def overturned() -> tuple[ts.Study, TrialRecord]:
    """A study whose seed re-runs pick another trial (3) than the search's best (18), and that winner."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=40), storage="memory", seed=1, sampler="random")
    study.optimize(_noisy)
    report = ts.validate_top(study, _noisy, k=3, seeds=3)
    assert report.winner is not None and study.best is not None and report.winner.trial != study.best.number
    return study, next(r for r in study.trials if r.number == report.winner.trial)


def _fix_line(texts: list[str]) -> str:
    lines = [t for t in texts if "little effect" in t]
    assert len(lines) == 1, texts
    return lines[0]


def _quotes(line: str, record: TrialRecord) -> bool:
    """Whether ``line`` fixes its parameters at ``record``'s values, naming the trial."""
    values = [f"{name}={format_value(record.params[name])}" for name in ("b", "c") if f"{name}=" in line]
    return f"#{record.number}" in line and bool(values) and all(value in line for value in values)


def test_diagnose_fixes_parameters_at_the_trial_it_is_told_is_best(overturned: tuple[ts.Study, TrialRecord]) -> None:
    study, winner = overturned
    result = importance(study.trials, SPACE, "loss")
    found = diagnose(study.trials, SPACE, study.metric, importance=result, best=winner)
    assert _quotes(_fix_line([s.text for s in found.suggestions]), winner)


def test_the_summary_fixes_parameters_at_the_validated_winner_it_shows_as_best(
    overturned: tuple[ts.Study, TrialRecord],
) -> None:
    study, winner = overturned
    buffer = io.StringIO()
    summary(study, console=Console(file=buffer, width=400, color_system=None))
    lines = [" ".join(line.split()) for line in buffer.getvalue().splitlines()]
    assert any(line.startswith(f"Best: trial {winner.number} ") for line in lines), lines
    line = _fix_line(lines)
    assert study.best is not None and f"#{study.best.number}" not in line, line
    assert _quotes(line, winner), line


def test_a_front_parameter_is_fixed_as_in_the_chosen_trial() -> None:
    """x0 sets the loss, x1 the latency, x2 neither: x2 is fixed as in the trial chosen from the front (the knee,
    trial 3), not the front's lowest loss (trial 18)."""
    rng = np.random.default_rng(0)

    def objective(trial: ts.Trial) -> dict[str, float]:
        p = trial.params
        return {"loss": p["x0"] + 0.01 * rng.normal(), "latency_ms": 10 * p["x1"] + 0.1 * rng.normal()}

    space = ts.Space({name: ts.Float(0.0, 1.0) for name in ("x0", "x1", "x2")})
    objectives = [ts.Metric("loss"), ts.Metric("latency_ms")]
    study = ts.Study(space, metrics=objectives, budget=ts.Budget(trials=40), storage="memory", sampler="random",
                     seed=1)  # fmt: skip
    study.optimize(objective)
    chosen = study.choose(ts.choose.knee())
    lowest = min(pareto_front(study.trials, objectives), key=lambda r: r.metrics["loss"])
    assert chosen.number != lowest.number
    line = _fix_line([s.text for s in analyse(report_data(study)).diagnosis.suggestions])
    assert f"as in trial #{chosen.number} of the Pareto front (x2={format_value(chosen.params['x2'])})" in line, line
