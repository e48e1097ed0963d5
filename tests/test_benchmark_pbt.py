"""The PBT benchmark runs end to end on a tiny configuration and prints its tables."""

from __future__ import annotations

import pytest
from benchmarks.pbt import _sign_test, main


def test_tiny_run_prints_a_row_per_method_and_pb2_against_pbt(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--problems", "moving-lr", "--seeds", "2", "--budget", "1.5"]) == 0
    table = capsys.readouterr().out
    for method in ("fifo", "pbt", "pb2"):
        assert f"| moving-lr | {method} | " in table, table
    assert "| moving-lr | " in table.split("PB2 against PBT")[1], table


def test_the_sign_test_is_two_sided_and_leaves_ties_out() -> None:
    assert _sign_test(20, 0) == pytest.approx(2 / 2**20)
    assert _sign_test(0, 0) == 1.0
    assert _sign_test(3, 3) == 1.0
    assert _sign_test(9, 1) == pytest.approx(2 * 11 / 1024)
