"""What `tunesmith status` said of a study's end: after Hyperband it gave only "3 complete, 17 stopped", naming
neither the scheduler, nor where its trials were stopped, nor how many trained to the full resource, nor that the
best stood among too few of them; after a search that used its finite space up it said "trials 3/10 (30% spent)"
and nothing of why the rest cannot run. `best --json` of several objectives carried no verdict."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import VerdictAttr, read_attr
from tunesmith.cli import cli
from tunesmith.trial import TrialKind, TrialState


def _said(*args: str) -> str:
    """What a command prints, its lines joined (rich wraps them at the terminal's width)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.output)
    return parsed


def _curve(trial: ts.Trial) -> dict[str, float]:
    """A loss that falls with training and is set by ``q``: the rungs rank trials as their ends do."""
    value = math.inf
    for step in trial.steps(9):
        value = trial.params["q"] + math.exp(-0.2 * (step + 1))
        trial.report(val_loss=value)
    return {"val_loss": value}


@pytest.fixture(scope="module")
def hyperband(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ts.Study]:
    """A stored Hyperband study (1 to 9, eta 3) whose 20-trial budget trains 3 configurations fully."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hb') / 'hb.db'}"
    study = ts.Study(ts.Space({"q": ts.Float(0.0, 1.0)}), metric="val_loss", budget=ts.Budget(trials=20),
                     scheduler=ts.Hyperband(min_resource=1, max_resource=9, eta=3), storage=url, name="hb", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(_curve)
    return url, study


@pytest.fixture(scope="module")
def hyperband_status(hyperband: tuple[str, ts.Study]) -> str:
    return _said("status", "hb", "--storage", hyperband[0])


def _stopped_by_rung(study: ts.Study) -> Counter[str]:
    """The scheduler's stops by the rung its own stop reasons name ("at the rung at resource 3")."""
    rungs: Counter[str] = Counter()
    for record in study.trials:
        if record.state is TrialState.STOPPED and record.kind is TrialKind.SCHEDULER:
            found = re.search(r"at the rung at resource (\S+)", record.reason or "")
            assert found is not None, record.reason
            rungs[found.group(1)] += 1
    return rungs


def _trained_fully(study: ts.Study) -> int:
    return sum(1 for r in study.trials if r.state is TrialState.COMPLETE and r.resource == 9)


def test_status_names_the_scheduler_with_its_stored_settings(hyperband_status: str) -> None:
    assert (
        "scheduler: hyperband(min_resource=1, max_resource=9, eta=3, brackets=3, mode='stop', few_peers='vouched', "
        "predict_final=True)" in hyperband_status
    )


def test_status_counts_the_trials_the_scheduler_stopped_at_each_rung(
    hyperband: tuple[str, ts.Study], hyperband_status: str
) -> None:
    rungs = _stopped_by_rung(hyperband[1])
    assert set(rungs) == {"1", "3"}  # the study stops trials at both rungs below the full resource
    where = ", ".join(f"{rungs[level]} at rung {level}" for level in sorted(rungs, key=float))
    assert f"stopped by hyperband: {where};" in hyperband_status


def test_status_counts_the_trials_trained_to_the_full_resource(
    hyperband: tuple[str, ts.Study], hyperband_status: str
) -> None:
    trained = _trained_fully(hyperband[1])
    assert 0 < trained < ts.study.MIN_FULLY_TRAINED
    assert f"trained to the full resource (9): {trained} of 20 trials" in hyperband_status


def test_status_says_the_best_stands_among_few_trained_fully_with_the_fix_the_run_gave(
    hyperband: tuple[str, ts.Study], hyperband_status: str
) -> None:
    trained = _trained_fully(hyperband[1])
    assert f"the best was chosen among only {trained} trained fully:" in hyperband_status
    assert "cannot tell a winner from noise; raise the trial budget" in hyperband_status
    assert "tunesmith extend --trials" in hyperband_status


def test_status_json_carries_the_scheduler_section(hyperband: tuple[str, ts.Study]) -> None:
    url, study = hyperband
    section = _json("status", "hb", "--storage", url)["scheduler"]
    assert section["settings"] == {
        "name": "hyperband",
        "min_resource": 1,
        "max_resource": 9,
        "eta": 3,
        "brackets": 3,
        "mode": "stop",
        "few_peers": "vouched",
        "predict_final": True,
    }
    rungs = _stopped_by_rung(study)
    assert section["stopped"] == [{"rung": float(level), "trials": rungs[level]} for level in sorted(rungs, key=float)]
    assert (section["full_resource"], section["trained_fully"]) == (9.0, _trained_fully(study))
    assert section["few_trained"].startswith("the best was chosen among only")


def _tiny(tmp_path: Path, space: ts.Space, sampler: str, trials: int = 10) -> str:
    """A stored study that ran until its sampler stopped or its budget ran out; its storage URL."""
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    study = ts.Study(space, metric="value", budget=ts.Budget(trials=trials), storage=url, name="tiny",
                     sampler=sampler, seed=0)  # fmt: skip
    study.optimize(lambda t: float(sum(v for v in t.params.values() if isinstance(v, int))))
    return url


def test_status_says_the_space_is_used_up_and_the_rest_of_the_trial_budget_cannot_run(tmp_path: Path) -> None:
    url = _tiny(tmp_path, ts.Space({"a": ts.Int(1, 3)}), "tpe")
    said = _said("status", "tiny", "--storage", url)
    assert "space used up: all 3 configurations tried; the budget's 7 other trials cannot run: widen the space" in said


def test_status_json_says_the_space_is_used_up(tmp_path: Path) -> None:
    url = _tiny(tmp_path, ts.Space({"a": ts.Int(1, 3)}), "tpe")
    assert _json("status", "tiny", "--storage", url)["space_used_up"] == {
        "configurations": 3, "running": False, "trials_left": 7, "budget_left": True, "repeats": False,
    }  # fmt: skip


def test_a_used_up_conditional_space_counts_its_configurations_not_the_product_of_its_parameters(
    tmp_path: Path,
) -> None:
    """``x`` only under ``opt=a``: 3 configurations (a/1, a/2, b), where the product of the counts says 4."""
    space = ts.Space({"opt": ts.Choice(["a", "b"]), "x": ts.Int(1, 2, when={"opt": ["a"]})})
    url = _tiny(tmp_path, space, "tpe")
    assert "all 3 configurations tried; the budget's 7 other trials" in _said("status", "tiny", "--storage", url)


def test_a_space_with_a_continuous_float_is_never_used_up(tmp_path: Path) -> None:
    url = _tiny(tmp_path, ts.Space({"a": ts.Int(1, 2), "lr": ts.Float(0.1, 1.0)}), "tpe", trials=6)
    assert _json("status", "tiny", "--storage", url)["space_used_up"] is None


def test_status_says_the_random_sampler_repeats_a_used_up_space(tmp_path: Path) -> None:
    url = _tiny(tmp_path, ts.Space({"a": ts.Int(1, 2)}), "random", trials=8)
    said = _said("status", "tiny", "--storage", url)
    assert "space used up: all 2 configurations tried, the random sampler repeating them; widen the space" in said


def _error_and_latency(trial: ts.Trial) -> dict[str, float]:
    """Error falls as latency rises: a front of trade-offs."""
    x = trial.params["lr"]
    return {"error": x, "latency_ms": 10 * (1 - x**0.5)}


def test_best_json_of_several_objectives_carries_the_recorded_verdict(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'front.db'}"
    objectives = [ts.Metric("error", "min"), ts.Metric("latency_ms", "min")]
    study = ts.Study(ts.Space({"lr": ts.Float(1e-4, 1.0, log=True)}), metrics=objectives, budget=ts.Budget(trials=12),
                     storage=url, name="front", seed=0, sampler="random")  # fmt: skip
    study.optimize(_error_and_latency)
    chosen = study.choose(ts.choose.knee())
    ts.finalize(study, lambda params, seed: {"error": 2 * params["lr"], "latency_ms": 10.0})
    stored = read_attr(ts.Study.load("front", url).attrs, VerdictAttr)
    assert stored is not None and stored.trial == chosen.number
    said = _json("best", "front", "--storage", url)["verdict"]
    assert said == {"trial": chosen.number, "status": stored.status, "ready": stored.ready,
                    "recorded_ready": stored.ready, "stale": None}  # fmt: skip
