"""The discipline's re-runs and holdout evaluations honour the per-trial limits the search's trials do.

A re-run past ``trial_timeout`` is killed and recorded FAILED of kind TIMEOUT, as a search trial would be, through
the same processes executor; one past ``memory_limit`` fails of kind OUT_OF_MEMORY. ``tunesmith run`` (through
`after_search`) and ``tunesmith finalize`` pass the config's limits.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.config import load_config
from tunesmith.discipline.holdout import HoldoutEvaluationFailed
from tunesmith.discipline.seeds import SeedRun
from tunesmith.discipline.sequence import after_search
from tunesmith.errors import ConfigError
from tunesmith.study import ObjectiveError
from tunesmith.trial import TrialKind

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the processes executor forks its trials")

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def quick(trial: ts.Trial) -> dict[str, float]:
    """The search's objective: done at once."""
    return {"loss": (trial.params["x"] - 0.3) ** 2 + (trial.seed % 7) / 1000.0}


def hangs(trial: ts.Trial) -> dict[str, float]:
    """A re-run that hangs: far past any timeout below."""
    time.sleep(60)
    return quick(trial)


def grows(trial: ts.Trial) -> dict[str, float]:
    """A re-run that maps a gibibyte, far beyond the memory limit below."""
    block = bytearray(2**30)
    return {"loss": float(len(block))}


def hanging_evaluation(params: dict[str, Any], seed: int) -> dict[str, float]:
    time.sleep(60)
    return {"holdout_loss": 0.1}


def searched(trials: int = 4) -> ts.Study:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage="memory", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(quick)
    return study


def stored_runs(study: ts.Study) -> list[SeedRun]:
    return [SeedRun.from_json(run) for run in study.attrs["seed_stability"]["runs"]]


def test_a_re_run_past_trial_timeout_is_killed_and_recorded_failed_of_kind_timeout() -> None:
    study = searched()
    started = time.monotonic()
    report = ts.validate_top(study, hangs, k=1, seeds=2, trial_timeout=1)
    took = time.monotonic() - started
    assert took < 8, f"the re-runs hang for 60 s each; killed at 1 s, they took {took:.1f}s"
    runs = stored_runs(study)
    assert [(run.state, run.kind) for run in runs] == [("failed", TrialKind.TIMEOUT)] * 2
    assert all("killed after trial_timeout=1.0s" in (run.reason or "") for run in runs)
    assert report.winner is None and not report.candidates[0].eligible
    assert "2 of 2 runs failed (timed out" in report.candidates[0].note, report.candidates[0].note


def test_a_re_run_past_memory_limit_fails_of_kind_out_of_memory() -> None:
    study = searched()
    ts.validate_top(study, grows, k=1, seeds=2, memory_limit="64MB")
    assert [(run.state, run.kind) for run in stored_runs(study)] == [("failed", TrialKind.OUT_OF_MEMORY)] * 2


def test_three_re_runs_past_the_timeout_stop_validate_top_naming_the_limit_not_a_broken_objective() -> None:
    study = searched()
    with pytest.raises(ObjectiveError, match=r"per-run limits, trial_timeout=0\.5s .*raise the limit") as raised:
        ts.validate_top(study, hangs, k=2, seeds=2, trial_timeout=0.5)
    assert "is broken" not in str(raised.value)
    assert [run.kind for run in stored_runs(study)] == [TrialKind.TIMEOUT] * 3, "recorded before it raised"


def test_a_re_run_within_its_limits_completes_as_one_without_them() -> None:
    study = searched()
    bounded = ts.validate_top(study, quick, k=1, seeds=2, trial_timeout=30, memory_limit="2GB")
    plain = ts.validate_top(study, quick, k=1, seeds=2)
    assert [c.values for c in bounded.candidates] == [c.values for c in plain.candidates]
    assert all(run.state == "complete" and run.kind is None for run in stored_runs(study))


def test_validate_top_refuses_a_trial_timeout_that_is_no_positive_number_of_seconds() -> None:
    study = searched()
    with pytest.raises(ConfigError, match=r"trial_timeout.*got trial_timeout=0.*e\.g\. trial_timeout=600"):
        ts.validate_top(study, quick, k=1, seeds=2, trial_timeout=0)
    assert "seed_stability" not in study.attrs, "refused before anything ran"


def test_a_failed_run_recorded_before_kinds_were_kept_loads_without_one() -> None:
    run = SeedRun.from_json({"candidate": 0, "seed": 1, "state": "failed", "metrics": {}, "reason": "x"})
    assert run.kind is None and "kind" not in run.to_json()
    timed_out = SeedRun(0, 1, "failed", {}, "timed out", kind=TrialKind.TIMEOUT)
    assert SeedRun.from_json(timed_out.to_json()) == timed_out


def test_finalize_with_a_trial_timeout_kills_a_hanging_evaluation_and_keeps_the_opening() -> None:
    study = searched()
    started = time.monotonic()
    with pytest.raises(HoldoutEvaluationFailed, match=r"ran past trial_timeout=0\.5s .*killed.*stays locked"):
        ts.finalize(study, hanging_evaluation, trial_timeout=0.5)
    assert time.monotonic() - started < 8
    assert len(study.attrs["holdout_log"]) == 1, "the opening is spent, as for any evaluation that failed"


MODULE = """
import time


def objective(trial):
    return {"loss": (trial.params["x"] - 0.3) ** 2}


def hangs(trial):
    time.sleep(60)
    return objective(trial)


def evaluate(params, seed):
    return {"holdout_loss": (params["x"] - 0.3) ** 2}


def evaluate_hangs(params, seed):
    time.sleep(60)
    return evaluate(params, seed)
"""


def write_config(tmp_path: Path, storage: str = "memory") -> Path:
    (tmp_path / "limitsmod.py").write_text(textwrap.dedent(MODULE))
    config = tmp_path / "study.toml"
    config.write_text(
        f'name = "limits"\nobjective = "limitsmod:objective"\nseed = 1\nstorage = "{storage}"\nsampler = "random"\n'
        'trial_timeout = 1\n[metric]\nname = "loss"\n[budget]\ntrials = 3\n'
        '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
        '[holdout]\nevaluate = "limitsmod:evaluate"\ntop = 1\nseeds = 2\n'
    )
    return config


def test_the_config_s_trial_timeout_bounds_the_re_runs_of_tunesmith_run(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path))
    study = ts.Study(cfg.space, metric=cfg.metric, sampler=cfg.sampler, budget=cfg.budget, storage="memory",
                     seed=cfg.seed)  # fmt: skip
    study.optimize(cfg.load_objective())
    started = time.monotonic()
    verdict = after_search(study, cfg, hangs)
    assert time.monotonic() - started < 8, "each re-run is killed at the config's trial_timeout of 1 s"
    assert [run.kind for run in stored_runs(study)] == [TrialKind.TIMEOUT] * 2
    assert isinstance(verdict, ts.discipline.Verdict) and not verdict.ready

