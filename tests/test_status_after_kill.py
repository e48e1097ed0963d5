"""After a run is killed with trials in flight, `tunesmith status` counts the trial budget once: a RUNNING trial
whose worker is gone spends none of it (a worker records it FAILED, interrupted, outside the budget), so the budget
line and the note on the gone trials agree."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
BUDGET = 12


def _killed_with_two_in_flight(tmp_path: Path) -> str:
    """A SQLite study ``killed`` (a budget of 12 trials): one trial finished, then a worker process that asked for
    two more and died without a word, as a run SIGKILLed mid-trial leaves it."""
    url = f"sqlite:///{tmp_path}/killed.db"
    study = ts.Study(SPACE, metric="loss", storage=url, name="killed", sampler="random", seed=1,
                     budget=ts.Budget(trials=BUDGET))  # fmt: skip
    trial = study.ask()
    study.tell(trial, {"loss": trial.params["x"]})
    study.storage.close()
    script = textwrap.dedent(
        f"""
        import os, tunesmith as ts
        study = ts.Study.load("killed", {url!r})
        study.ask(), study.ask()
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return url


def test_status_counts_the_trial_budget_as_its_note_on_gone_trials_does(tmp_path: Path) -> None:
    url = _killed_with_two_in_flight(tmp_path)
    result = CliRunner().invoke(cli, ["status", "killed", "--storage", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("is recorded running, but its worker is gone") == 2
    spent = re.search(rf"budget: trials (\d+)/{BUDGET} \((\d+)% spent\)", text)
    left = set(re.findall(rf"(\d+) of its {BUDGET} trials are left", text))
    assert spent is not None and len(left) == 1, text
    assert (int(spent[1]), int(left.pop())) == (1, BUDGET - 1), "only the finished trial spends the budget"
    assert int(spent[2]) == round(100 / BUDGET)
