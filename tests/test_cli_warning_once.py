"""A warning `tunesmith run` shows as it comes is not printed again under "stopped:".

A run's notes (`StudyResult.notes`) repeat the warnings it gave: the console script printed an ExampleCountWarning on
standard error when the trial came, then the same words again among the notes of the summary.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

OBJECTIVE = """
import numpy as np


def objective(trial):
    rng = np.random.default_rng(trial.seed)
    count = 200 if trial.number % 3 == 0 else 300  # the first trial's validation set is smaller
    return {"acc": (rng.random(count) < 0.5 + 0.4 * trial.params["x"]).astype(float)}
"""

CONFIG = """
name = "mixed"
objective = "mixed_objective:objective"
storage = "sqlite:///mixed.db"
seed = 0
sampler = "random"
[metric]
name = "acc"
direction = "max"
[budget]
trials = 4
[space]
x = { type = "float", low = 0.0, high = 1.0 }
"""


def test_a_warning_shown_during_the_run_is_not_repeated_among_its_notes(tmp_path: Path) -> None:
    (tmp_path / "mixed_objective.py").write_text(textwrap.dedent(OBJECTIVE))
    (tmp_path / "mixed.toml").write_text(textwrap.dedent(CONFIG))
    done = subprocess.run(
        [sys.executable, "-m", "tunesmith", "run", "mixed.toml", "--no-progress", "--no-report"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env={**_environment(), "COLUMNS": "400"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = "trial #1's acc was read from 300 validation examples, the study's earlier trials' from 200"
    assert f"warning (ExampleCountWarning): {said}" in done.stderr
    assert said not in done.stdout, done.stdout  # the notes under "stopped:" leave it out
    assert "stopped: trial budget spent (4/4)" in done.stdout
    # The summary's word on the study as stored stays: every count, with its trials.
    assert "the trials' acc was read from different numbers of validation examples (200 for" in done.stdout


def _environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TUNESMITH_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [".", environment.get("PYTHONPATH", "")]))
    return environment
