"""`Study.reattach`: a restarted driver takes over a trial its dead predecessor was running (Ray Tune's
``Tuner.restore`` resumes it), reports to it from the last step it reported, and no worker reaps it as lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.errors import TrialNotRunning


def _dead_drivers_trial(url: str) -> None:
    """A process asks trial #0, reports its first step and dies without telling it."""
    script = textwrap.dedent(f"""
        import os, tunesmith as ts
        study = ts.Study(ts.Space({{"x": ts.Float(0.0, 1.0)}}), metric="loss", storage={url!r}, name="s", seed=1,
                         sampler="random", budget=ts.Budget(trials=3))
        study.ask().report(1, loss=0.9)
        os._exit(0)
    """)  # fmt: skip
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)


def test_a_reattached_trial_goes_on_from_its_last_step_and_is_not_reaped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _dead_drivers_trial(url)
    driver = ts.Study.load("s", url)
    trial = driver.reattach(0)
    assert trial.start_step == 1 and trial.step == 1
    trial.report(2, loss=0.7)
    other = ts.Study.load("s", url)  # another worker looks for lost trials: #0's process is now this one, alive
    assert other.reap_lost_trials() == []
    record = driver.tell(trial, {"loss": 0.7})
    assert record.state is ts.TrialState.COMPLETE and record.intermediate == {1: {"loss": 0.9}, 2: {"loss": 0.7}}


def test_without_reattaching_the_dead_drivers_trial_is_reaped_as_interrupted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _dead_drivers_trial(url)
    assert ts.Study.load("s", url).reap_lost_trials() == [0]


def test_a_trial_no_longer_running_cannot_be_reattached(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _dead_drivers_trial(url)
    ts.Study.load("s", url).reap_lost_trials()
    with pytest.raises(TrialNotRunning, match=r"trial #0 of study 's' is failed \(interrupted\), not running: only a "
                       r"running trial can be re-attached"):  # fmt: skip
        ts.Study.load("s", url).reattach(0)
