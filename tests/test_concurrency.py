"""Real concurrency and real crashes against one SQLite file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest

import tunesmith as ts
from tests.conftest import BIN

WORKER = textwrap.dedent(
    """
    import sys
    import tunesmith as ts
    from objectives import quadratic

    study = ts.Study(
        ts.Space({"x": ts.Float(0.0, 1.0)}),
        metric=ts.Metric("loss"),
        budget=ts.Budget(trials=100),
        storage=sys.argv[1],
        name="shared",
        sampler="random",
        seed=1,
    )
    result = study.optimize(quadratic, n_trials=25)
    print(result.trials_run)
    """
)


@pytest.mark.slow
def test_four_worker_processes_share_one_sqlite_file(
    tmp_path: Path, objectives_dir: Path, cli_env: dict[str, str]
) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    script = objectives_dir / "worker.py"
    script.write_text(WORKER)
    env = {**cli_env, "TS_TEST_SLEEP": "0.01"}
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
        assert "database is locked" not in err
        assert out.strip() == "25"
    study = ts.Study.load("shared", url)
    numbers = [r.number for r in study.trials]
    assert numbers == list(range(100)), "no lost trial, no duplicate number"
    assert all(r.state is ts.TrialState.COMPLETE for r in study.trials)
    assert len({r.worker for r in study.trials}) == 4


CONFIG = """
name = "crashy"
objective = "objectives:slow"
storage = "{url}"
seed = 4
sampler = "random"
workers = 2
executor = "processes"

[metric]
name = "loss"

[budget]
trials = 16

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def _states(db: Path) -> dict[int, tuple[str, str | None]]:
    with closing(sqlite3.connect(db)) as conn, conn:  # sqlite3's own context commits but never closes
        return {n: (s, r) for n, s, r in conn.execute("SELECT number, state, reason FROM trials")}


@pytest.mark.slow
def test_kill_9_of_a_run_then_rerun_loses_nothing_and_ends_exact(
    tmp_path: Path, objectives_dir: Path, cli_env: dict[str, str]
) -> None:
    db = tmp_path / "crash.db"
    config = objectives_dir / "crashy.toml"
    config.write_text(CONFIG.format(url=f"sqlite:///{db}"))
    command = [str(BIN / "tunesmith"), "run", str(config), "--no-progress", "--no-report"]
    run = subprocess.Popen(
        command, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if db.exists():
            try:
                states = _states(db)
            except sqlite3.OperationalError:
                continue
            complete = [n for n, (s, _) in states.items() if s == "complete"]
            running = [n for n, (s, _) in states.items() if s == "running"]
            if len(complete) >= 4 and running:
                break
    else:
        run.kill()
        pytest.fail("the run never reached 4 complete trials")
    os.killpg(run.pid, signal.SIGKILL)  # the driver and its trial processes, all at once
    run.wait(timeout=30)
    before = _states(db)
    complete_before = {n for n, (s, _) in before.items() if s == "complete"}
    running_before = {n for n, (s, _) in before.items() if s == "running"}
    assert running_before, "the kill must catch trials in flight"

    again = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    after = _states(db)
    assert complete_before <= {n for n, (s, _) in after.items() if s == "complete"}, "a COMPLETE trial was lost"
    for number in running_before:
        assert after[number] == ("failed", "interrupted")
    counted = [n for n, (s, r) in after.items() if not (s == "failed" and r == "interrupted")]
    assert len(counted) == 16, "the trial budget ends exact"
    assert sorted(after) == list(range(len(after))), "numbers stay gap-free"
