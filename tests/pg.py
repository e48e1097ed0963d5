"""A throwaway PostgreSQL server for tests, started from the machine's own binaries.

`PostgresServer` runs ``initdb`` into a fresh temporary directory and ``pg_ctl start`` with the
server listening only on 127.0.0.1 at a free port (its unix socket in the same directory) and
trust authentication for local connections. Durability is switched off (``fsync=off``): the
data directory is deleted at the end anyway. PostgreSQL refuses to run as root, so under root
(CI) the server runs as the ``postgres`` user (or ``nobody``) through ``runuser``.

Binaries are looked up on PATH, then in ``/usr/lib/postgresql/<version>/bin`` (Debian's
layout); ``scripts/ensure-postgres.sh`` installs them where they are missing.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresServer", "find_postgres_bin"]

SUPERUSER = "tunesmith"


def find_postgres_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's versioned dirs)."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unprivileged_user() -> str | None:
    """The account to run the server as when we are root (``None`` when we are not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists: create one")


class PostgresServer:
    """One PostgreSQL server in a temporary directory; `start` it, make databases, `stop` it.

    Example:
        >>> server = PostgresServer().start()
        >>> url = server.create_database()   # postgresql://tunesmith@127.0.0.1:PORT/ts_1
        >>> server.stop()
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        found = bin_dir or find_postgres_bin()
        if found is None:
            raise RuntimeError(
                "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: "
                "run scripts/ensure-postgres.sh (apt-get install postgresql)"
            )
        self.bin_dir = found
        self.user = _unprivileged_user()
        self.root = Path(tempfile.mkdtemp(prefix="tunesmith-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._counter = itertools.count(1)
        self._running = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False, cwd=self.root
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log}")

    def start(self) -> PostgresServer:
        """initdb and start the server; returns self."""
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)
        self._check(
            self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync",
                      "--locale=C"),
            "initdb",
        )  # fmt: skip
        for attempt in range(5):
            self.port = _free_port()
            options = " ".join(
                [
                    "-c listen_addresses=127.0.0.1",
                    f"-p {self.port}",
                    f"-k {self.root}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=300",
                    "-c shared_buffers=64MB",
                ]
            )
            result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
                               "start")  # fmt: skip
            if result.returncode == 0:
                self._running = True
                return self
            if attempt == 4:
                self._check(result, "pg_ctl start")
            time.sleep(0.2)  # the port was taken between choosing and binding it: try another
        return self

    @property
    def url(self) -> str:
        """The URL of the ``postgres`` maintenance database."""
        return self.url_of("postgres")

    def url_of(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE DATABASE cannot run inside one)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname=database,
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, prefix: str = "ts") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        self.psql(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url_of(name)

    def pause(self) -> None:
        """Stop the server as an administrator would for a restart (fast: its sessions end at once), its data kept."""
        self._pg_ctl("-m", "fast", "stop")

    def resume(self) -> None:
        """Start the paused server again where it ran (``pg_ctl start`` alone would take postgresql.conf's port)."""
        where = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._pg_ctl("-l", str(self.log), "-o", where, "start")

    def _pg_ctl(self, *args: str) -> None:
        self._check(self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", *args), f"pg_ctl {args[-1]}")

    def stop(self) -> None:
        """Stop the server (immediately: nothing needs to survive) and delete its directory."""
        if self._running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self._running = False
        shutil.rmtree(self.root, ignore_errors=True)
