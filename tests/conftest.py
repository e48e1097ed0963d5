"""Shared fixtures: importable objective modules for subprocess tests."""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A pytest-xdist worker starts with COLUMNS=80 in its environment, which rich reads once, when the CLI's console is
# built at import, and then ignores the COLUMNS a test gives `CliRunner(env=...)`: a plain run has none, so drop it
# before any test module imports the CLI.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.pop("COLUMNS", None)
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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shard", default=None, metavar="I/N",
        help="run only the I-th of N shares of the test files (CI runs a quarter of the quick suite on Python 3.12 "
             "or 3.13, which and which quarter following from the commit; 3.11 runs it all)",
    )  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--shard I/N``, only the tests of the files in share I: a file's share is the CRC-32 of its path, so a
    file runs whole (its module fixtures once), the N shares together hold every test once, and each share is the same
    set on every machine and in every run."""
    shard = config.getoption("--shard")
    if shard is None:
        return
    index, _, count = str(shard).partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise pytest.UsageError(f"--shard takes I/N with 1 <= I <= N, got {shard!r}: pass e.g. --shard 1/2")
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        (kept if zlib.crc32(path.encode()) % int(count) == int(index) - 1 else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


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


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], str]]:
    """``user_module(prefix, source)`` writes ``source`` as a module under a unique name beginning with ``prefix``
    into ``tmp_path``, the working directory from then on, and returns its name, as a user's config folder holds
    its objective. ``sys.path`` and the storage environment variables are restored afterwards, and every module
    written is dropped from ``sys.modules``, so no later test imports a stale one."""
    written: list[str] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("TUNESMITH_STORAGE", raising=False)
    monkeypatch.delenv("TUNESMITH_STORAGE_FILE", raising=False)

    def write(prefix: str, source: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


# Appended for the PostgreSQL tests (the imports above belong to the original fixtures).

from tests.pg import PostgresServer  # noqa: E402


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole session (see tests/pg.py); `create_database` per test."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
