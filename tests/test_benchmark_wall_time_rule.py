"""The wall-time rule's benchmark runs end to end on a few runs and prints a row per law, count and share."""

from __future__ import annotations

import pytest
from benchmarks.wall_time_rule import main


def test_tiny_run_prints_the_rule_and_its_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs", "40", "--trainings", "2,7", "--left", "0.5", "--laws", "log-normal spread 0.05"]) == 0
    table = capsys.readouterr().out
    assert "refuse below a 5% chance to finish, from 7 trainings on" in table
    # Below the gate nothing is refused; from it, times this alike leave half their median too little every time.
    assert "| log-normal spread 0.05 | 2 | 0.5 | 0.0% | 0.00% |" in table, table
    assert "| log-normal spread 0.05 | 7 | 0.5 | 100.0% | 0.00% | 0.00% | 0.0% |" in table, table
