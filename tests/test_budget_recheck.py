"""Before `ask` says the trial budget is spent it looks again: at the stored budget, which another process may
have raised (`tunesmith extend` beside a live runner), and at trials a dead worker holds, which spend nothing
once reaped. A runner left alone with a killed runner's trials said "budget spent (6/6)" with four evaluated."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.errors import BudgetExhausted

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _study(url: str, trials: int) -> ts.Study:
    return ts.Study(SPACE, metric="loss", storage=url, name="s", sampler="random", seed=1,
                    budget=ts.Budget(trials=trials))  # fmt: skip


def test_a_running_study_adopts_a_budget_extended_by_another_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    runner = _study(url, trials=4)

    def objective(trial: ts.Trial) -> float:
        if trial.number == 1:  # meanwhile, in another terminal: tunesmith extend s --trials 8
            ts.Study.load("s", url).extend_budget(trials=8)
        return float(trial.params["x"])

    result = runner.optimize(objective, progress=False)
    assert len(runner.trials) == 8 and result.stop_reason == "trial budget spent (8/8)"


def test_the_last_runner_reaps_a_dead_runners_trial_before_saying_the_budget_is_spent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    survivor = _study(url, trials=2)
    survivor.tell(survivor.ask(), 0.5)  # its last reap was just now: the next comes only after the heartbeat pace
    script = textwrap.dedent(f"""
        import os, tunesmith as ts
        trial = ts.Study.load("s", {url!r}).ask()
        os._exit(0)
    """)  # fmt: skip
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    replacement = survivor.ask()
    survivor.tell(replacement, 0.25)
    states = [r.state for r in survivor.trials]
    assert states == [ts.TrialState.COMPLETE, ts.TrialState.FAILED, ts.TrialState.COMPLETE]
    assert survivor.trials[1].reason == "interrupted"


def test_a_spent_budget_names_the_trials_other_workers_still_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    first, other = _study(url, trials=2), ts.Study.load("s", url)
    first.tell(first.ask(), 0.5)
    other.ask()  # alive in this process: not reaped
    with pytest.raises(BudgetExhausted, match=r"trial budget spent \(2/2\); 1 trial of other workers still run "
                       r"\(#1\): they end there, or if their worker is gone"):  # fmt: skip
        first.ask()


def slow_first(trial: ts.Trial) -> float:
    import time

    time.sleep(3.0 if trial.number == 1 else 0.1)  # trial 1 runs on after the ask that finds the budget spent
    return float(trial.params["x"])


def test_the_run_s_stop_reason_names_only_the_trials_other_workers_still_run_when_it_ends(tmp_path: Path) -> None:
    """The stop reason was read at the ask that found the budget spent: it named another worker's trial as still
    running, and said so after that trial ended, while this run's own trial finished."""
    import threading

    url = f"sqlite:///{tmp_path}/s.db"
    runner, other = _study(url, trials=3), ts.Study.load("s", url)
    theirs = other.ask()
    threading.Timer(1.5, lambda: other.tell(theirs, 0.5)).start()
    result = runner.optimize(slow_first, workers=2, executor="processes", progress=False)
    assert result.stop_reason == "trial budget spent (3/3)", result.stop_reason
