"""Shared fixtures: importable objective modules for subprocess tests."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

OBJECTIVES = '''
import math
import os
import time


def quadratic(trial):
    time.sleep(float(os.environ.get("TS_TEST_SLEEP", "0")))
    return {"loss": (trial.params["x"] - 0.3) ** 2}


def slow(trial):
    time.sleep(0.4)
    return {"loss": (trial.params["x"] - 0.3) ** 2}
'''


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in a working directory of its own: what studies write relative to it (their
    ``tunesmith-checkpoints/<name>`` folders) never meets another test's, whatever their order, nor the checkout.
    It holds only a link to the test package, so that processes which find modules by their working directory (a
    Ray worker unpickling a test module's objective) still import ``tests``."""
    own = tmp_path_factory.mktemp("cwd")
    (own / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    monkeypatch.chdir(own)


@pytest.fixture
def objectives_dir(tmp_path: Path) -> Path:
    """A directory holding ``objectives.py``; configs placed there can name ``objectives:quadratic``."""
    (tmp_path / "objectives.py").write_text(textwrap.dedent(OBJECTIVES))
    return tmp_path


@pytest.fixture
def cli_env(objectives_dir: Path) -> dict[str, str]:
    """Environment for running the installed ``tunesmith`` and helper scripts in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(objectives_dir), env.get("PYTHONPATH", "")]))
    env.pop("TUNESMITH_STORAGE", None)
    return env


# Appended for the PostgreSQL tests (the imports above belong to the original fixtures).
from collections.abc import Iterator  # noqa: E402

from tests.pg import PostgresServer  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole session (see tests/pg.py); `create_database` per test."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
