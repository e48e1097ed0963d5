"""A write SQLite could not make says what refused it when that can be read (a file-size limit: RLIMIT_FSIZE, what
``ulimit -f`` and job schedulers set), and otherwise lists the causes that fit, never advising to restore or
replace a database file that a refused write left intact.

Each test runs a real SQLite database in a subprocess under a real file-size limit (Python ignores SIGXFSZ, so a
write past the limit fails with EFBIG), since the limit would bind the test process too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")

# Room the database's files may grow by once the limit is set: a few trials' writes, then the limit refuses one.
ROOM = 64 * 1024

UNDER_THE_LIMIT = """
import os, resource, sys

def limit_to_room(path):
    sizes = [os.stat(path + s).st_size for s in ("", "-wal", "-shm") if os.path.exists(path + s)]
    limit = max(sizes) + {room}
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    return limit
"""


def _run(script: str, tmp_path: Path) -> str:
    code = textwrap.dedent(UNDER_THE_LIMIT.format(room=ROOM)) + textwrap.dedent(script)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_a_study_stopped_by_the_file_size_limit_says_so_with_the_fix(tmp_path: Path) -> None:
    message = _run(
        """
        import tunesmith as ts
        from tunesmith.errors import StorageUnavailable

        study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=5000),
                         storage="sqlite:///q.db", name="q", seed=0, sampler="random")
        limit = limit_to_room("q.db")
        try:
            study.optimize(lambda trial: trial.params["x"])
        except StorageUnavailable as exc:
            print(f"{limit}\\n{exc}")
        else:
            sys.exit("5000 trials ran under the limit: no write was refused")
        """,
        tmp_path,
    )
    limit, said = message.split("\n", 1)
    assert "\n" not in said, "one line"
    assert said.startswith(f"the SQLite database {tmp_path}/q.db reached this process's file-size limit ("), said
    assert f"the limit (`ulimit -f`, RLIMIT_FSIZE) is {int(limit):,} bytes; raise it" in said
    assert "the database is intact and the study resumes where it stopped" in said
    assert "restore" not in said and "start a new study" not in said


def test_a_refused_write_of_unknown_cause_lists_the_causes_without_advising_a_restore(tmp_path: Path) -> None:
    # A real SQLITE_IOERR from a write past the limit, explained once the limit is lifted: nothing left shows why.
    said = _run(
        """
        import sqlite3
        from tunesmith.storage._failures import explain

        db = sqlite3.connect("plain.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = wal")
        db.execute("CREATE TABLE t (x BLOB)")
        limit_to_room("plain.db")
        try:
            for _ in range(1000):
                db.execute("INSERT INTO t VALUES (randomblob(4000))")
        except sqlite3.OperationalError as exc:
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            print(explain(exc, "sqlite:///plain.db", path="plain.db"))
        else:
            sys.exit("1000 rows were written under the limit: no write was refused")
        """,
        tmp_path,
    )
    assert said.startswith("SQLite failed on the database plain.db (disk I/O error, SQLITE_IOERR_WRITE), and the "
                           "error does not say why: a disk quota used up (`quota -s` shows yours), a file-size limit "
                           "(`ulimit -f`)"), said  # fmt: skip
    assert "run again (the study resumes where it stopped)" in said
    assert "PRAGMA integrity_check" in said
    assert "restore" not in said and "start a new study" not in said
