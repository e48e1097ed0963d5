"""The compute rule's benchmark runs end to end on one seed and prints a row per scheduler, workers and budget, with
the reservation for the running trials and without it."""

from __future__ import annotations

import pytest
from benchmarks.compute_rule import main


def test_tiny_run_prints_a_row_with_and_without_the_reservation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "1", "--schedulers", "fifo", "--workers", "8", "--budgets", "400"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| fifo | 8 | 400 |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    kept_cut, was_cut = (int(v) for v in cells[3].split(" / "))
    # Eight trials started at once with too little left for all of them: without the reservation the budget cut
    # several; with it, fewer.
    assert kept_cut < was_cut, row
