"""`tunesmith export` without -o: a terminal sees control characters escaped, a pipe gets the data exactly.

A study's names and values are whatever the user typed. On a terminal, a raw ESC sequence in a value would clear
the screen or retitle the window, so export shows it escaped as every other command does. A program reading a pipe
needs the values as stored, so there nothing is escaped.
"""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
import tty
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tests.conftest import BIN
from tunesmith._text import terminal_safe
from tunesmith.cli import cli

# Clears the screen, retitles the window (an OSC ended by BEL), and a lone carriage return inside the value.
PLANTED = "\x1b[2J\x1b]0;pwned\x07 back\rover"


@pytest.fixture
def planted_study(tmp_path: Path) -> str:
    """The storage URL of study "planted", whose choice value and second metric's name hold ``PLANTED``."""
    url = f"sqlite:///{tmp_path / 'planted.db'}"
    space = ts.Space({"opt": ts.Choice([f"sgd{PLANTED}"]), "lr": ts.Float(0.01, 1.0, log=True)})
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=3), storage=url, name="planted", seed=0)
    study.optimize(lambda t: {"loss": t.params["lr"], f"note{PLANTED}": 2.0}, progress=False)
    study.storage.close()
    return url


def _exported_file(url: str, tmp_path: Path) -> list[list[str]]:
    """The cells of ``tunesmith export planted -o FILE``, read exactly as written."""
    path = tmp_path / "planted.csv"
    written = CliRunner().invoke(cli, ["export", "planted", "--storage", url, "-o", str(path)])
    assert written.exit_code == 0, written.output
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _export_on_a_terminal(url: str, env: dict[str, str]) -> str:
    """What ``tunesmith export planted`` writes when its stdout is a pseudo-terminal, byte for byte (raw mode:
    the terminal adds no carriage return of its own)."""
    primary, secondary = pty.openpty()
    tty.setraw(secondary)
    with subprocess.Popen([str(BIN / "tunesmith"), "export", "planted", "--storage", url], stdout=secondary,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env) as proc:  # fmt: skip
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(primary)
        assert proc.stderr is not None
        errors = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, errors
    return b"".join(chunks).decode("utf-8")


def test_export_on_a_terminal_writes_no_control_character(planted_study: str, cli_env: dict[str, str]) -> None:
    shown = _export_on_a_terminal(planted_study, cli_env)
    assert [c for c in shown if c in "\x1b\x07\r"] == []
    assert "sgd\\x1b[2J\\x1b]0;pwned\\x07 back\\rover" in shown


def test_export_on_a_terminal_is_the_files_csv_with_each_cell_escaped(
    planted_study: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    escaped = [[terminal_safe(cell, markup=False) for cell in row] for row in _exported_file(planted_study, tmp_path)]
    shown = _export_on_a_terminal(planted_study, cli_env)
    assert len(escaped) == 1 + 3 and shown.count("\n") == len(escaped)  # the header and a line per trial
    assert list(csv.reader(io.StringIO(shown, newline=""))) == escaped


def test_export_to_a_pipe_writes_every_value_exactly(
    planted_study: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    piped = subprocess.run([str(BIN / "tunesmith"), "export", "planted", "--storage", planted_study],
                           capture_output=True, env=cli_env, timeout=120)  # fmt: skip
    assert piped.returncode == 0, piped.stderr.decode()
    rows = list(csv.reader(io.StringIO(piped.stdout.decode("utf-8"), newline="")))
    assert rows == _exported_file(planted_study, tmp_path)
    assert f"sgd{PLANTED}" in rows[1]
