"""What the CLI prints stays pasteable. Where standard output is no terminal (a file, a pipe, a batch job's log) each
message is one line, as the verdict's always were: rich broke every line at 80 columns there, so a log held "read it
back with: tunesmith best --storage" on one line and the URL on the next. On a terminal text wraps to its width,
but a command printed to paste is never broken in two."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith._console import WholeLinesConsole
from tunesmith.cli import _common, _inspect, cli
from tunesmith.report import summary

NAME = "latency-against-error-of-the-ranking-model"
# The commands `best` and `status` print for a study of several objectives without a choice.
PICK = (f"no choice recorded: tunesmith choose {NAME} --knee (study.choose(ts.choose.knee()) in Python) picks one "
        "(* marks it)")  # fmt: skip
PICK_TOO = (f"no choice recorded: study.choose(ts.choose.knee()) (tunesmith choose {NAME} --knee) picks one for the "
            "discipline")  # fmt: skip


@pytest.fixture
def storage(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=[ts.Metric("error", "min"),
                     ts.Metric("latency_ms", "min")], storage=url, name=NAME, seed=0,
                     budget=ts.Budget(trials=8))  # fmt: skip
    study.optimize(lambda trial: {"error": 0.1 + 0.4 * trial.params["x"] ** 2,
                                  "latency_ms": 50.0 - 40.0 * trial.params["x"]})  # fmt: skip
    return url


def _lines(*args: str) -> list[str]:
    shown = CliRunner().invoke(cli, list(args))
    assert shown.exit_code == 0, shown.output
    return shown.output.splitlines()


def test_into_a_file_every_message_is_one_line(storage: str) -> None:
    assert PICK in _lines("best", NAME, "--storage", storage)
    status = _lines("status", NAME, "--storage", storage)
    assert PICK_TOO in status
    assert f"{NAME} in {storage}" in status  # a URL left whole too
    assert any(len(line) > 200 for line in status), "the premise: messages longer than 80 columns"


def test_on_a_terminal_text_wraps_to_its_width_and_a_command_stays_whole(
    storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = WholeLinesConsole(force_terminal=True, color_system=None, width=60, highlight=False, emoji=False)
    for module in (_common, _inspect):
        monkeypatch.setattr(module, "console", terminal)

    best = _lines("best", NAME, "--storage", storage)
    status = _lines("status", NAME, "--storage", storage)

    assert PICK in best
    assert PICK_TOO in status
    assert max(len(line) for line in [*best, *status] if line not in (PICK, PICK_TOO)) <= 60
    assert f"{NAME} in " in status, "the premise: a line longer than the terminal was wrapped"


def test_the_terminal_summary_printed_from_python_into_a_log_keeps_each_message_whole(
    storage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    summary(ts.Study.load(NAME, storage))

    advice = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  • for error: ")]
    assert len(advice) == 1, advice
    assert len(advice[0]) > 200, "the premise: a message longer than 80 columns"
    assert advice[0].endswith("only if that part of the trade-off is wanted"), advice
