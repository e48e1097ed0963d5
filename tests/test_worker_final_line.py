"""`tunesmith worker` ends with a line storage agrees with: a worker that found the budget spent waited for the
other worker's last trial, then printed that this trial "still runs" and that "a later run reaps" it, although by
then storage held it COMPLETE."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tunesmith as ts

BIN = Path(sys.executable).parent


def test_a_worker_that_waited_for_the_others_last_trial_does_not_say_it_still_runs(tmp_path: Path) -> None:
    (tmp_path / "slow_objective.py").write_text(
        "import time\n\n\ndef objective(trial):\n"
        "    time.sleep(0.3 + 1.2 * trial.params['x'])\n    return trial.params['x']\n"
    )
    url = f"sqlite:///{tmp_path}/w.db"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="value", budget=ts.Budget(trials=8), storage=url, name="j",
             seed=0, sampler="random")  # fmt: skip
    command = [str(BIN / "tunesmith"), "worker", "j", "--storage", url, "--objective", "slow_objective:objective"]
    workers = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(2)]  # fmt: skip
    outputs = [" ".join(w.communicate(timeout=120)[0].split()) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert all(r.state is ts.TrialState.COMPLETE for r in ts.Study.load("j", url).trials)
    for output in outputs:
        assert "stopped: trial budget spent (8/8)" in output and "still run" not in output, output
