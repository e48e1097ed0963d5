"""The live dashboard: its JSON against storage, its guards, and the page live in headless Chromium."""

from __future__ import annotations

import html
import json
import math
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tests.browser import chromium
from tests.pg import PostgresServer
from tunesmith.cli import cli
from tunesmith.dashboard import DashboardServer, serve
from tunesmith.errors import ConfigError, StorageError, StudyNotFound
from tunesmith.storage import open_storage
from tunesmith.trial import Trial, TrialState

PASSWORD = "s3cret-dashboard-pw"
SPACE = ts.Space(
    {
        "lr": ts.Float(1e-4, 0.5, log=True),
        "width": ts.Int(8, 256, base=2),
        "optimizer": ts.Choice(["adam", "sgd"]),
    }
)


def _objective(trial: Trial) -> dict[str, float]:
    """A loss that falls faster with the learning rate and diverges above 0.2."""
    lr = trial.params["lr"]
    loss = 2.3
    for step in trial.steps(10):
        loss = loss * 1.6 if lr > 0.2 else 0.2 + (loss - 0.2) * (1 - min(0.8, lr * 8)) + 0.001 * step
        trial.report(val_loss=loss)
    return {"val_loss": loss}


def _study(url: str, name: str = "live", trials: int = 6) -> ts.Study:
    study = ts.Study(
        SPACE,
        metric=ts.Metric("val_loss", "min"),
        sampler="random",
        budget=ts.Budget(trials=400, resource=4000),
        storage=url,
        name=name,
        seed=3,
    )
    study.optimize(_objective, n_trials=trials)
    return study


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def _get_json(url: str) -> Any:
    status, body = _get(url)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    study = _study(url)
    study.storage.close()
    yield url


@pytest.fixture
def server(db: str) -> Iterator[DashboardServer]:
    running = serve(db, refresh=0.5)
    try:
        yield running
    finally:
        running.shutdown()


def test_serve_binds_loopback_on_a_free_port_by_default(server: DashboardServer) -> None:
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/"


def test_api_studies_lists_the_studies_and_the_storage(server: DashboardServer, db: str) -> None:
    listing = _get_json(server.url + "api/studies")
    assert listing["studies"][0]["name"] == "live"
    assert listing["default"] == "live"
    assert listing["storage"] == db


def test_api_study_matches_storage(server: DashboardServer, db: str) -> None:
    data = _get_json(server.url + "api/study/live")
    stored = ts.Study.load("live", db)
    records = stored.trials
    best = stored.best
    stored.storage.close()
    assert best is not None
    assert data["trials"] == len(records) == 6
    assert data["states"] == {state: sum(r.state.value == state for r in records) for state in data["states"]}
    assert sum(data["states"].values()) == 6
    assert data["best"]["number"] == best.number
    assert data["best"]["params"] == best.params
    assert math.isclose(data["best"]["value"], best.value("val_loss") or math.nan)
    assert data["usage"]["trials"] == 6
    assert data["usage"]["resource"] == sum(r.resource for r in records)
    assert data["budget"] == {"trials": 400, "wall_seconds": None, "resource": 4000, "compute_seconds": None,
                              "until_converged": False}  # fmt: skip
    assert data["fraction_spent"] == pytest.approx(6 / 400)
    assert [t["number"] for t in data["latest"]] == [5, 4, 3, 2, 1, 0]
    assert set(data["figures"]) == {"history", "learning_curves", "budget_burn", "timeline"}
    history_traces = [t["name"] for t in data["figures"]["history"]["data"]]
    assert "best so far" in history_traces
    assert data["figures"]["learning_curves"]["data"], "no learning curves"
    trials = _get_json(server.url + "api/study/live/trials")
    assert [t["number"] for t in trials["trials"]] == list(range(6))
    assert trials["trials"][0]["intermediate"], "records come with their learning curves"


def test_unknown_studies_and_paths_are_404_and_writes_are_refused(server: DashboardServer, db: str) -> None:
    status, body = _get(server.url + "api/study/nope")
    assert status == 404
    assert json.loads(body)["studies"] == ["live"]
    assert _get(server.url + "etc/passwd")[0] == 404
    assert _get(server.url + "static/..%2Fapp.py")[0] == 404
    request = urllib.request.Request(server.url + "api/study/live", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 501
    storage = open_storage(db)
    assert len(storage.get_trials(storage.load_study("live").id)) == 6
    storage.close()


def test_a_request_naming_a_foreign_host_is_refused(server: DashboardServer) -> None:
    """A DNS-rebinding page would send its own host name; only loopback names are answered."""
    status, _ = _get(server.url + "api/studies", headers={"Host": f"evil.example:{server.port}"})
    assert status == 403
    assert _get(server.url + "api/studies", headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_a_client_that_connects_and_sends_nothing_is_dropped(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tunesmith.dashboard import app

    assert app._Handler.timeout is not None and app._Handler.timeout <= 60, "a stalled socket is held forever"
    monkeypatch.setattr(app._Handler, "timeout", 0.3)  # the shipped 30 s, shortened for the test
    with serve(db) as running, socket.create_connection((running.host, running.port), timeout=10) as stalled:
        started = time.monotonic()
        assert stalled.recv(1) == b"", "the server closes the silent connection"
        assert time.monotonic() - started < 5
        assert _get(running.url + "api/studies")[0] == 200, "and still serves others"


def test_a_remote_host_is_refused_without_allow_remote(db: str) -> None:
    with pytest.raises(ConfigError, match=r"no authentication.*--allow-remote"):
        serve(db, host="0.0.0.0")
    with pytest.raises(ConfigError, match="allow-remote"):
        serve(db, host="192.168.1.10")
    result = CliRunner().invoke(cli, ["dashboard", "--storage", db, "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "--allow-remote" in result.output
    assert "no authentication" in result.output


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="only reads"):
        serve(f"sqlite:///{missing}")
    assert not missing.exists()


def test_an_unknown_study_is_refused_before_serving(db: str) -> None:
    with pytest.raises(StudyNotFound):
        serve(db, study="nope")
    result = CliRunner().invoke(cli, ["dashboard", "nope", "--storage", db])
    assert result.exit_code == 1
    assert "no study named 'nope'" in result.output


def test_user_controlled_text_is_escaped_in_the_page(db: str) -> None:
    name = '<script>alert("x")</script>'
    _study(db, name=name, trials=1).storage.close()
    with serve(db, study=name) as running:
        status, body = _get(running.url)
        snapshot = _get_json(running.url + "api/study/" + urllib.parse.quote(name, safe=""))
    assert snapshot["name"] == name
    assert snapshot["trials"] == 1
    page = body.decode()
    assert status == 200
    assert name not in page
    assert html.escape(name, quote=True) in page


def _password_url(postgres: PostgresServer) -> str:
    url = postgres.create_database("dash")
    assert "tunesmith@" in url
    return url.replace("tunesmith@", f"tunesmith:{PASSWORD}@", 1)  # trust authentication ignores it


def test_the_password_never_appears_in_any_response(postgres: PostgresServer) -> None:
    url = _password_url(postgres)
    _study(url, trials=2).storage.close()
    with serve(url, refresh=1) as running:
        bodies = [
            _get(running.url + path)[1]
            for path in ("", "api/studies", "api/study/live", "api/study/live/trials", "api/study/nope", "x")
        ]
    assert all(PASSWORD.encode() not in body for body in bodies)
    assert b"tunesmith:***@" in bodies[1]
    assert b"storage: postgresql://tunesmith:***@" in bodies[0]


@pytest.mark.slow
def test_the_command_prints_the_url_serves_and_stops_on_ctrl_c(postgres: PostgresServer) -> None:
    url = _password_url(postgres)
    _study(url, trials=2).storage.close()
    command = [sys.executable, "-u", "-m", "tunesmith.cli", "dashboard", "live", "--storage", url, "--refresh", "1"]
    # A shell's background job (make runs the suites of two Pythons side by side) ignores SIGINT, and its
    # children inherit that: give the dashboard the default handler, as a terminal would.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", first)
        assert found, first
        assert _get_json(found[0] + "api/study/live")["trials"] == 2
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, rest
    assert PASSWORD not in first + rest
    assert "***" in first + rest


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return chromium(*args, profile=profile, allow_loopback=True, timeout=45)


class _Writer(threading.Thread):
    """Keeps adding trials to the study, as a running `tunesmith run` would."""

    def __init__(self, url: str) -> None:
        super().__init__(name="trial-writer", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            study = ts.Study.load("live", self.url)
            try:
                while not self.stop.is_set():
                    study.optimize(_objective, n_trials=1)
                    self.stop.wait(0.05)
            finally:
                study.storage.close()
        except BaseException as exc:  # noqa: BLE001 - handed to the test, which fails on it
            self.error = exc


def _count(url: str) -> int:
    storage = open_storage(url)
    try:
        return len(storage.get_trials(storage.load_study("live").id))
    finally:
        storage.close()


@pytest.mark.slow
def test_the_page_shows_the_study_live_in_headless_chromium(server: DashboardServer, db: str, tmp_path: Path) -> None:
    writer = _Writer(db)
    writer.start()
    try:
        deadline = time.monotonic() + 20
        while _count(db) < 9 and time.monotonic() < deadline and writer.error is None:
            time.sleep(0.05)
        before = _count(db)
        done = _chromium("--virtual-time-budget=6000", "--dump-dom", server.url, profile=tmp_path / "profile")
        after = _count(db)
        screenshot = tmp_path / "dashboard.png"
        _chromium(
            "--virtual-time-budget=4000",
            f"--screenshot={screenshot}",
            "--window-size=1300,2100",
            server.url,
            profile=tmp_path / "profile",
        )
    finally:
        writer.stop.set()
        writer.join(30)
    assert writer.error is None, writer.error
    status = re.search(r'<p id="ts-status"([^>]*)>', done.stdout)
    assert status is not None, f"no status in the page; chromium said: {done.stderr[-2000:]}"
    attrs = {k: html.unescape(v) for k, v in re.findall(r'(data-[a-z-]+)="([^"]*)"', status[1])}
    print(f"chromium: {attrs}; storage had {before} trials before and {after} after; screenshot {screenshot}")
    assert attrs["data-done"] == "1"
    assert json.loads(attrs["data-errors"]) == []
    assert attrs["data-expected"] == "4"
    assert attrs["data-rendered"] == "4"
    assert int(attrs["data-polls"]) >= 2, "the page read the study once and never refreshed"
    shown = int(attrs["data-trials"])
    assert 6 < before <= shown <= after, "the count shown is not the study's count while it ran"
    assert int(attrs["data-first-trials"]) <= shown
    count = re.search(r'<span id="ts-trial-count" data-count="(\d+)">(\d+)</span>', done.stdout)
    assert count is not None
    assert int(count[1]) == int(count[2]) == shown
    numbers = [int(n) for n in re.findall(r'<tr data-number="(\d+)">', done.stdout)]
    assert numbers[0] == shown - 1, "the latest trial listed is not the newest in storage"
    assert numbers == sorted(numbers, reverse=True)
    for chart in ("history", "learning_curves", "budget_burn", "timeline"):
        assert re.search(rf'<div class="ts-chart js-plotly-plot" id="ts-chart-{chart}"', done.stdout), chart
    assert "best so far" in done.stdout
    assert screenshot.stat().st_size > 20_000
    storage = open_storage(db)
    states = {r.state for r in storage.get_trials(storage.load_study("live").id)}
    storage.close()
    assert TrialState.COMPLETE in states


@pytest.mark.slow
def test_a_study_named_dot_dot_is_shown_on_the_page(tmp_path: Path) -> None:
    """Browsers resolve a path segment ``..`` (percent-encoded too) before they send it, so a page that asked for
    ``/api/study/..`` got ``/api/`` and showed nothing; it asks by query."""
    url = f"sqlite:///{tmp_path / 'dots.db'}"
    _study(url, name="..", trials=3).storage.close()
    with serve(url, "..", refresh=0.5) as running:
        assert _get_json(running.url + "api/study?name=..")["trials"] == 3
        assert _get(running.url + "api/study")[0] == 400
        done = chromium("--virtual-time-budget=3000", "--dump-dom", running.url, profile=tmp_path / "profile",
                        allow_loopback=True)  # fmt: skip
    status = re.search(r'<p id="ts-status"([^>]*)>', done.stdout)
    assert status is not None, f"no status in the page; chromium said: {done.stderr[-2000:]}"
    attrs = {k: html.unescape(v) for k, v in re.findall(r'(data-[a-z-]+)="([^"]*)"', status[1])}
    assert json.loads(attrs["data-errors"]) == []
    assert attrs["data-trials"] == "3"
