"""A trial process that dies (``os._exit``, a segfault, the OOM killer) leaves nothing running: what its objective
started in a session of its own (``setsid``: a launcher, a data server) is re-parented to the driver, which kills it
when it records the crash. Before, it went to init and ran for ever, holding the run's stdout open (so
``tunesmith run | tee`` hung). A process the driver's own code started is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BIN

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl, /proc")

# The objective starts `sleep` in a session of its own, writes its pid, then its trial process crashes.
SCRIPT = """
import os, subprocess, sys, time
from pathlib import Path
import tunesmith as ts

here = Path(sys.argv[1])


def objective(trial):
    daemon = subprocess.Popen(["setsid", "sleep", "300"], stdout=subprocess.DEVNULL)
    (here / f"daemon-{trial.number}").write_text(str(daemon.pid))
    time.sleep(0.5)  # setsid has become sleep
    os._exit(7)


mine = subprocess.Popen(["sleep", "300"])  # the driver's own: a data server the user's script runs
(here / "mine").write_text(str(mine.pid))
study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=2), name="crash",
                 storage="memory")
study.optimize(objective, workers=2, executor="processes", fail_fast=None)
print("mine alive after the run:", mine.poll() is None, flush=True)
mine.kill()
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead and waiting to be reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _run(tmp_path: Path) -> tuple[str, list[int]]:
    """Run `SCRIPT`; its output and the pids of the daemons its trials started (those left are killed here)."""
    (tmp_path / "crash.py").write_text(SCRIPT)
    done = subprocess.run([str(BIN / "python"), "crash.py", str(tmp_path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    daemons = [int(path.read_text()) for path in sorted(tmp_path.glob("daemon-*"))]
    time.sleep(0.5)
    left = [pid for pid in daemons if _alive(pid)]
    for pid in left:
        os.kill(pid, 9)
    assert done.returncode == 0, done.stderr
    assert len(daemons) == 2, done.stderr
    return done.stdout, left


@pytest.mark.slow  # a real study with crashing trial processes, a few seconds
def test_a_crashed_trial_leaves_no_process_it_started_in_a_session_of_its_own(tmp_path: Path) -> None:
    _, left = _run(tmp_path)

    assert left == []


@pytest.mark.slow  # a real study with crashing trial processes, a few seconds
def test_killing_a_crashed_trials_orphans_spares_the_drivers_own_processes(tmp_path: Path) -> None:
    output, _ = _run(tmp_path)

    assert "mine alive after the run: True" in output, output
