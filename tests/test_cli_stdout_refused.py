"""Standard output that refuses what a command writes (a full disk, ``> /dev/full``) ends the command with one line
on standard error and exit code 1, never a traceback; what the command stored is kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tunesmith as ts

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux's full device")


def _tunesmith(*arguments: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("tunesmith")), *arguments]
    with open("/dev/full", "w") as full:
        return subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, check=False)


@pytest.mark.parametrize("command", [["trials", "s"], ["best", "s", "--json"], ["export", "s"], ["status", "s"]])
def test_a_command_whose_standard_output_is_full_says_so_in_one_line(tmp_path: Path, command: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3), storage=url,
                     name="s", seed=0)  # fmt: skip
    study.optimize(lambda trial: trial.params["x"])
    study.storage.close()
    done = _tunesmith(*command, "--storage", url)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("Error: cannot write to standard output (No space left on device)"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
