"""A failure reads as one clear, bounded line: what is stored of a huge exception message is its head and tail with
a marker counting what was cut, a message quotes an excerpt of a bad value or an exception line, and a crash is
summed up by its reason (``killed by SIGSEGV``), not by the last line the fault handler wrote."""

from __future__ import annotations

import ctypes
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith._text import ERROR_CHARS, EXCERPT_CHARS, bounded_error, excerpt
from tunesmith.cli import cli
from tunesmith.study import ObjectiveError
from tunesmith.trial import TrialRecord

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
HUGE = 2_000_000  # characters: far beyond what a record or a terminal line should hold
# What a one-line excerpt may add to EXCERPT_CHARS: its marker (" [... 1,999,812 characters cut ...] ").
MARKER_ROOM = 40


def _study(tmp_path: Path, trials: int = 3) -> ts.Study:
    return ts.Study(SPACE, metric="loss", sampler="random", seed=0, name="big", budget=ts.Budget(trials=trials),
                    storage=f"sqlite:///{tmp_path}/big.db")  # fmt: skip


def raises_huge(trial: ts.Trial) -> float:
    raise ValueError("V" * HUGE)


def returns_huge_string(trial: ts.Trial) -> dict[str, object]:
    return {"loss": "V" * HUGE}


def reports_huge_string(trial: ts.Trial) -> float:
    trial.report(step=1, loss="V" * HUGE)  # type: ignore[arg-type]
    return 1.0


def exits_with_huge_message(trial: ts.Trial) -> float:
    sys.exit("V" * HUGE)


def segfaults(trial: ts.Trial) -> float:
    np.zeros(1)  # numpy loaded: the fault handler then ends its output with the list of extension modules
    ctypes.string_at(0)
    return 1.0


def _cut_count(text: str) -> int:
    found = re.search(r"\[\.\.\. ([\d,]+) characters cut \.\.\.\]", text)
    assert found is not None, text[:300]
    return int(found.group(1).replace(",", ""))


def _run(study: ts.Study, objective: object, **options: object) -> list[TrialRecord]:
    study.optimize(objective, fail_fast=None, **options)  # type: ignore[arg-type]
    return study.trials


def test_a_huge_exception_message_is_stored_as_its_head_and_tail(tmp_path: Path) -> None:
    record = _run(_study(tmp_path, trials=1), raises_huge)[0]
    assert record.error is not None
    assert len(record.error) <= ERROR_CHARS + MARKER_ROOM
    assert record.error.startswith("Traceback (most recent call last):")
    assert record.error.rstrip().endswith("V" * 100)
    assert HUGE - ERROR_CHARS < _cut_count(record.error) < HUGE  # the whole traceback less what was kept


def test_a_huge_exception_message_is_stored_bounded_by_the_process_executor_too(tmp_path: Path) -> None:
    record = _run(_study(tmp_path, trials=1), raises_huge, executor="processes", workers=1)[0]
    assert record.error is not None and len(record.error) <= ERROR_CHARS + MARKER_ROOM
    assert "characters cut" in record.error


def test_the_objective_error_for_a_huge_exception_message_has_a_bounded_first_line_and_traceback(
    tmp_path: Path,
) -> None:
    with pytest.raises(ObjectiveError) as caught:
        _study(tmp_path).optimize(raises_huge)
    message = str(caught.value)
    first = message.splitlines()[0]
    assert first.startswith("the first 3 trials (#0, #1, #2) failed the same way and none worked: ValueError: VVV")
    assert len(first) < 1_500  # the exception line quoted in at most 1,000 characters
    assert len(message) < 6_000  # the traceback under it: each line quoted as an excerpt


def test_a_cut_text_cut_again_counts_the_characters_of_the_original() -> None:
    original = "ValueError: " + "V" * HUGE
    shown = excerpt(bounded_error(original))
    assert len(shown) <= EXCERPT_CHARS + MARKER_ROOM
    assert _cut_count(shown) == len(original) - EXCERPT_CHARS


def test_a_metric_returned_as_a_huge_string_is_quoted_as_an_excerpt(tmp_path: Path) -> None:
    record = _run(_study(tmp_path, trials=1), returns_huge_string)[0]
    assert record.reason is not None and record.reason.startswith("bad result: metric 'loss' is not a number: 'VVV")
    assert len(record.reason) < 1_000


def test_a_huge_string_reported_is_quoted_as_an_excerpt(tmp_path: Path) -> None:
    record = _run(_study(tmp_path, trials=1), reports_huge_string)[0]
    assert record.error is not None
    last = record.error.rstrip().splitlines()[-1]
    assert "report() takes numbers, got loss='VVV" in last
    assert len(last) < 1_000


def test_sys_exit_with_a_huge_message_is_quoted_as_an_excerpt(tmp_path: Path) -> None:
    record = _run(_study(tmp_path, trials=1), exits_with_huge_message)[0]
    assert record.reason is not None and record.reason.startswith("the objective called sys.exit('VVV")
    assert len(record.reason) < 1_000


@pytest.fixture
def crashed(tmp_path: Path) -> str:
    """A SQLite study ``big`` whose three trials each died of a segfault in a trial process."""
    study = _study(tmp_path)
    with pytest.raises(ObjectiveError) as caught:
        study.optimize(segfaults, executor="processes", workers=1)
    assert all(r.error is not None and "Extension modules" in r.error for r in study.trials), "the premise"
    study.storage.close()
    return str(caught.value)


def test_a_crash_is_summed_up_by_its_reason_not_the_fault_handlers_last_line(crashed: str) -> None:
    first = crashed.splitlines()[0]
    assert "(3 crash; the last: killed by SIGSEGV)" in first
    assert "Extension modules" not in first


def test_the_failed_trials_table_shows_a_crash_by_its_reason(crashed: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["trials", "big", "--storage", f"sqlite:///{tmp_path}/big.db", "--failed"],
                                catch_exceptions=False, terminal_width=200)  # fmt: skip
    rows = [line for line in result.output.splitlines() if "crash" in line]
    assert len(rows) == 3 and all(row.count("killed by SIGSEGV") == 2 for row in rows), result.output
    assert "Extension modules" not in result.output
