"""Messages the command line prints give command-line fixes, and the demo module runs the demo: `tunesmith extend`
without a limit said "pass e.g. trials=50" (the flag is --trials 50), `tunesmith plan` without a resource axis said
"fidelity=..." (no config key or flag has that name), and `python -m tunesmith.demo` did nothing and exited 0 (it
now says how to run the demo, and exits 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.discipline import plan


def test_extend_without_a_limit_names_the_flags_to_pass(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(trials=2), storage=url, name="q")
    result = CliRunner().invoke(cli, ["extend", "q", "--storage", url])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "pass --trials N, --wall-time 2h, --compute 200h or --resource R" in said and "trials=50" not in said


def test_a_plan_without_a_resource_axis_says_how_to_give_one_in_python_and_on_the_command_line() -> None:
    found = plan(ts.Space({"x": ts.Float(0, 1)}), 100)
    asha = next(option for option in found.options if option.method.value == "asha")
    assert "ts.plan(fidelity=...); tunesmith plan --max-resource N" in asha.note


def test_the_demo_module_run_as_a_program_says_how_to_run_the_demo_and_fails() -> None:
    shown = subprocess.run([sys.executable, "-m", "tunesmith.demo"], capture_output=True, text=True, timeout=120,
                           check=False)  # fmt: skip
    assert shown.returncode == 1
    assert "run the demo with `tunesmith demo` (or `python -m tunesmith.cli demo`)" in shown.stderr
