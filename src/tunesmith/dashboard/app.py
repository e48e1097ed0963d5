"""The live dashboard: a standard-library HTTP server that reads a study from storage and shows it.

Routes (GET and HEAD only; nothing here writes to storage):

- ``/``: the page; its own JavaScript polls the JSON below and redraws the charts.
- ``/api/studies``: ``{"storage": <redacted URL>, "default": name | null, "studies": [{"name", "created_at"}]}``.
- ``/api/study/<name>``: counts by state, budget usage, the best trial, the latest trials and the
  plotly figures (see `tunesmith.dashboard._data.snapshot`).
- ``/api/study/<name>/trials``: every trial record as JSON.
- ``/api/study?name=<name>`` and ``/api/trials?name=<name>``: the same two, for any name. Browsers (and curl)
  resolve a path segment ``.`` or ``..`` (percent-encoded too) before sending it, so a study named ``..`` could not
  be asked for by path; the page asks by query.
- ``/static/...``: the page's script and style, and plotly.js from the installed ``plotly`` package.

It binds 127.0.0.1 by default and refuses any non-loopback address unless ``allow_remote=True``:
it has no authentication. On loopback it also answers only requests whose ``Host`` header names a
loopback address, so a web page elsewhere cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import html
import ipaddress
import json
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tunesmith.dashboard._data import FIGURES, SnapshotCache, json_safe, snapshot, study_data
from tunesmith.errors import ConfigError, StorageError, StudyNotFound
from tunesmith.objective import without_digests
from tunesmith.storage import SQLStorage, Storage, open_storage, redact_url

__all__ = ["DashboardServer", "check_host", "serve"]

_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_LOOPBACK_NAMES = ("localhost",)


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool = False) -> None:
    """Refuse a non-loopback ``host`` unless ``allow_remote``.

    Raises:
        ConfigError: ``host`` is not a loopback address and ``allow_remote`` is false.
    """
    if not allow_remote and not _is_loopback(host):
        raise ConfigError(
            f"the dashboard serves on loopback only (127.0.0.1, ::1, localhost), got host={host!r}: it has no "
            "authentication, so anyone who can reach the port could read every trial, parameter and metric "
            "of the storage; pass --allow-remote (allow_remote=True) to serve there anyway, or keep 127.0.0.1 "
            "and reach it through an SSH tunnel"
        )


def _open_read_only(url: str) -> Storage:
    """The storage at ``url``, refusing to create a missing SQLite file or to migrate an older schema."""
    if "://" not in url and url.endswith((".db", ".sqlite", ".sqlite3")):
        url = f"sqlite:///{url}"
    if "://" not in url:
        return open_storage(url)
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not Path(database).is_file():
        raise StorageError(
            f"no database at {redact_url(url)}: the dashboard only reads, so it does not create one; "
            "check the path, or start the study first"
        )
    return SQLStorage(url, upgrade=False, must_exist=True)


def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs()).encode("utf-8")


def _static(name: str) -> bytes | None:
    if "/" in name or name.startswith("."):
        return None
    resource = resources.files("tunesmith.dashboard") / "static" / name
    return resource.read_bytes() if resource.is_file() else None


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tunesmith dashboard</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/errors.js"></script>
<script src="/static/plotly.min.js"></script>
<script src="/static/dashboard.js" defer></script>
</head>
<body data-study="{study}" data-refresh="{refresh}" data-figures="{figures}">
<header>
  <div><h1>tunesmith <span id="ts-study-name"></span></h1><p id="ts-storage">{storage}</p></div>
  <div class="controls"><label>study <select id="ts-study-select"></select></label>
  <span id="ts-updated">connecting...</span></div>
</header>
<main>
<p id="ts-message" class="warn" hidden></p>
<div class="cards">
  <section class="card"><h2>Budget burned</h2><div class="bar"><div id="ts-budget-bar"></div></div>
    <p id="ts-budget-text"></p></section>
  <section class="card"><h2>Trials <span id="ts-trial-count" data-count="">-</span></h2>
    <div id="ts-states"></div></section>
  <section class="card wide"><h2>Best so far</h2><p id="ts-best-value">no complete trial yet</p>
    <p id="ts-verdict" hidden></p>
    <table id="ts-best-params"></table></section>
</div>
<section><div class="ts-chart" id="ts-chart-history"></div></section>
<section><div class="ts-chart" id="ts-chart-learning_curves"></div></section>
<section><div class="ts-chart" id="ts-chart-budget_burn"></div></section>
<section><div class="ts-chart" id="ts-chart-timeline"></div></section>
<section><h2>Latest trials</h2><div class="scroll"><table id="ts-latest"></table></div></section>
<p id="ts-status" class="warn" data-done="0" data-polls="0">charts not drawn: is JavaScript on?</p>
</main>
</body>
</html>
"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dashboard: DashboardServer


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "tunesmith-dashboard"
    sys_version = ""
    # Seconds a connection may stay silent (before or between requests) before it is dropped: a client that
    # connects and sends nothing must not hold a thread and a socket forever.
    timeout = 30.0

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the command line prints the URL and nothing per request."""

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        dashboard = self.server.dashboard
        if dashboard.loopback_only and not _is_loopback(_host_name(self.headers.get("Host", ""))):
            self._send(HTTPStatus.FORBIDDEN, b"requests must name a loopback host", "text/plain; charset=utf-8", head)
            return
        try:
            parts = urlsplit(self.path)
            status, body, kind = dashboard.route(parts.path, parts.query)
        except Exception as exc:  # noqa: BLE001 - a broken study must not take the server down
            message = {"error": f"{type(exc).__name__}: {exc}"}
            status, body, kind = HTTPStatus.INTERNAL_SERVER_ERROR, _json(message), "application/json"
        self._send(status, body, kind, head)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store" if not kind.startswith("text/javascript") else "max-age=3600")
        self.end_headers()
        if not head:
            self.wfile.write(body)


def _host_name(header: str) -> str:
    """The host of a ``Host`` header, without its port (``[::1]:8000`` -> ``::1``)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _json(value: Any) -> bytes:
    return json.dumps(json_safe(value), allow_nan=False, default=str).encode("utf-8")


class DashboardServer:
    """A running dashboard: ``.url`` to open, ``.shutdown()`` to stop it (also a context manager).

    Build it with `serve`. Requests are answered on their own threads; storage reads are serialised.
    """

    def __init__(
        self,
        storage: str | Storage,
        study: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        refresh: float = 2.0,
        allow_remote: bool = False,
    ) -> None:
        check_host(host, allow_remote)
        if not (refresh > 0):
            raise ConfigError(f"refresh must be a positive number of seconds, got refresh={refresh!r}: use 2")
        self._owns_storage = not isinstance(storage, Storage)
        self.storage = storage if isinstance(storage, Storage) else _open_read_only(storage)
        self.storage_label = storage.url if isinstance(storage, Storage) else redact_url(storage)
        self.study = study
        self.refresh = refresh
        self.loopback_only = _is_loopback(host)
        self._read_lock = threading.Lock()
        self._cache = SnapshotCache()
        self._plotly: bytes | None = None
        try:
            if study is not None:
                self.storage.load_study(study)  # raises StudyNotFound before anything is served
            server_class = _Server6 if ":" in host.strip("[]") else _Server
            self._httpd = server_class((host.strip("[]"), port), _Handler)
        except BaseException:
            if self._owns_storage:
                self.storage.close()
            raise
        self._httpd.dashboard = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="tunesmith-dashboard", daemon=True)
        self._thread.start()
        bound_host, bound_port = self._httpd.server_address[:2]
        self.host = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        self.port = int(bound_port)
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}/"

    # Routing -----------------------------------------------------------------------------------
    def route(self, raw_path: str, query: str = "") -> tuple[HTTPStatus, bytes, str]:
        """The status, body and content type answering a GET of ``raw_path`` (still percent-encoded) with the
        query string ``query``."""
        path = unquote(raw_path)
        if path in ("/", "/index.html"):
            return HTTPStatus.OK, self.page().encode("utf-8"), "text/html; charset=utf-8"
        if path == "/api/studies":
            return HTTPStatus.OK, _json(self.studies()), "application/json"
        if path in ("/api/study", "/api/trials"):
            names = parse_qs(query, keep_blank_values=True).get("name")
            if not names:
                missing_name = {"error": f"{path} needs the study's name: {path}?name=NAME (percent-encoded)"}
                return HTTPStatus.BAD_REQUEST, _json(missing_name), "application/json"
            return self._study(names[0], trials=path == "/api/trials")
        if raw_path.startswith("/api/study/"):
            # Split before decoding: a study name may hold a "/" (sent as %2F).
            quoted, _, rest = raw_path[len("/api/study/") :].partition("/")
            if rest not in ("", "trials"):
                return self._not_found(path)
            return self._study(unquote(quoted), trials=bool(rest))
        if path == "/static/plotly.min.js":
            if self._plotly is None:
                self._plotly = _plotly_js()
            return HTTPStatus.OK, self._plotly, _STATIC_TYPES[".js"]
        if path.startswith("/static/"):
            name = path[len("/static/") :]
            content = _static(name)
            suffix = name[name.rfind(".") :] if "." in name else ""
            if content is not None and suffix in _STATIC_TYPES:
                return HTTPStatus.OK, content, _STATIC_TYPES[suffix]
        return self._not_found(path)

    def _study(self, name: str, *, trials: bool) -> tuple[HTTPStatus, bytes, str]:
        try:
            body = self.trials(name) if trials else self.study_snapshot(name)
        except StudyNotFound:
            known = [s["name"] for s in self.studies()["studies"]]
            missing = {"error": f"no study named {name!r}", "studies": known}
            return HTTPStatus.NOT_FOUND, _json(missing), "application/json"
        return HTTPStatus.OK, _json(body), "application/json"

    def _not_found(self, path: str) -> tuple[HTTPStatus, bytes, str]:
        return HTTPStatus.NOT_FOUND, _json({"error": f"nothing at {path!r}"}), "application/json"

    def page(self) -> str:
        return _PAGE.format(
            study=html.escape(self.study or "", quote=True),
            refresh=html.escape(f"{self.refresh:g}", quote=True),
            figures=html.escape(",".join(FIGURES), quote=True),
            storage=html.escape(f"storage: {self.storage_label}"),
        )

    def studies(self) -> dict[str, Any]:
        with self._read_lock:
            infos = self.storage.list_studies()
        return {
            "storage": self.storage_label,
            "default": self.study if self.study is not None else (infos[-1].name if infos else None),
            "studies": [{"name": info.name, "created_at": info.created_at} for info in infos],
        }

    def study_snapshot(self, name: str) -> dict[str, Any]:
        with self._read_lock:
            info = self.storage.load_study(name)
            records = self.storage.get_trials(info.id)
        return snapshot(info, records, self._cache)

    def trials(self, name: str) -> dict[str, Any]:
        with self._read_lock:
            info = self.storage.load_study(name)
            records = self.storage.get_trials(info.id)
        data = study_data(info, records)
        return {"name": name, "metric": data.metric.name,
                "trials": [{**r.to_json(), "metrics": without_digests(r.metrics)} for r in records]}  # fmt: skip

    # Lifetime ----------------------------------------------------------------------------------
    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises `KeyboardInterrupt` here)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def shutdown(self) -> None:
        """Stop serving, close the socket, and close the storage if the dashboard opened it."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()
        if self._owns_storage:
            self.storage.close()
            self._owns_storage = False

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(
    storage: str | Storage,
    study: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    refresh: float = 2.0,
    allow_remote: bool = False,
) -> DashboardServer:
    """Start the dashboard in a background thread and return at once.

    Args:
        storage: a storage URL (its password is never shown) or an open `Storage`.
        study: the study to open with; ``None`` shows the most recent one (the page can switch).
        host: the address to bind; non-loopback addresses need ``allow_remote``.
        port: the port; 0 picks a free one (see ``.url``).
        refresh: seconds between the page's reads.
        allow_remote: allow a non-loopback ``host`` (the dashboard has no authentication).

    Returns:
        The running `DashboardServer`; call ``.shutdown()`` to stop it.

    Raises:
        ConfigError: a non-loopback host without ``allow_remote``, or a non-positive ``refresh``.
        StudyNotFound: ``study`` is not in the storage.

    Example:
        >>> server = serve("sqlite:///tunesmith.db")  # doctest: +SKIP
        >>> print(server.url); server.shutdown()  # doctest: +SKIP
    """
    return DashboardServer(storage, study, host, port, refresh=refresh, allow_remote=allow_remote)
