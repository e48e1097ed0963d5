"""A trial whose worker is gone stays RUNNING in storage until a worker of the study reaps it: every
reader (status, trials, show, the dashboard) says so instead of showing a dead run as alive."""

from __future__ import annotations

import gc
import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tests.browser import chromium
from tunesmith.cli import cli
from tunesmith.dashboard import serve
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.storage import MemoryStorage, SQLStorage

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _killed_mid_trial(tmp_path: Path, retries: int = 0) -> tuple[str, int]:
    """A SQLite study ``gone`` whose worker process asked for a trial and died without a word."""
    url = f"sqlite:///{tmp_path}/gone.db"
    ts.Study(SPACE, metric="loss", storage=url, name="gone", sampler="random", seed=1, retries=retries).storage.close()
    script = textwrap.dedent(
        f"""
        import os, tunesmith as ts
        trial = ts.Study.load("gone", {url!r}).ask()
        print(trial.number, flush=True)
        os._exit(0)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return url, int(out.stdout.split()[0])


def test_status_trials_and_show_say_a_dead_worker_s_trial_is_gone(tmp_path: Path) -> None:
    url, number = _killed_mid_trial(tmp_path)
    status = invoke("status", "gone", "--storage", url)
    assert status.exit_code == 0
    text = " ".join(status.output.split())
    assert f"trial {number} is recorded running, but its worker is gone" in text
    assert "its process is gone" in text and "records it FAILED (interrupted)" in text
    retry = f"tunesmith retry gone --storage {url} --kind interrupted"
    assert "".join(retry.split()) in "".join(text.split()), "retries=0: the note says how to run it again"
    table = " ".join(invoke("trials", "gone", "--storage", url).output.split())
    assert "running (worker gone)" in table
    (row,) = [json.loads(line) for line in invoke("trials", "gone", "--storage", url, "--json").output.splitlines()]
    assert row["state"] == "running" and "its worker is gone" in row["worker_gone"]
    shown = json.loads(invoke("show", "gone", str(number), "--storage", url, "--json").output)
    assert shown["worker_gone"] == row["worker_gone"]
    assert SQLStorage(url).get_trials(1)[0].state is ts.TrialState.RUNNING, "reading records nothing"


def test_a_trial_whose_worker_lives_is_not_called_gone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/alive.db"
    worker = ts.Study(SPACE, metric="loss", storage=url, name="alive", sampler="random", seed=1)
    worker.ask()  # this process runs it and beats its heartbeat
    assert ts.Study.load("alive", url).gone_trials() == {}
    assert "worker gone" not in invoke("trials", "alive", "--storage", url).output
    assert row_gone(invoke("trials", "alive", "--storage", url, "--json")) is None


def row_gone(result: Result) -> object:
    (row,) = [json.loads(line) for line in result.output.splitlines()]
    return row["worker_gone"]


@pytest.mark.slow
def test_a_silent_trial_is_gone_after_grace_and_the_note_says_it_runs_again_with_retries() -> None:
    storage = MemoryStorage()
    options: dict[str, object] = {"metric": "loss", "name": "quiet", "heartbeat_interval": 0.2, "grace": 3.0}
    vanished = ts.Study(SPACE, storage=storage, retries=1, **options)  # type: ignore[arg-type]
    number = vanished.ask().number
    del vanished
    gc.collect()  # its heartbeat thread ends with it, as a worker's would on another machine
    reader = ts.Study(SPACE, storage=storage, **options)  # type: ignore[arg-type]
    assert reader.gone_trials() == {}, "within grace the trial may still be alive"
    time.sleep(3.5)
    note = reader.gone_trials()[number]
    assert "no heartbeat for" in note and "FAILED (lost worker)" in note and "runs it again" in note


def test_the_dashboard_counts_and_marks_a_gone_trial(tmp_path: Path) -> None:
    url, number = _killed_mid_trial(tmp_path)
    storage = SQLStorage(url)
    info = storage.load_study("gone")
    data = snapshot(info, storage.get_trials(info.id), SnapshotCache())
    assert data["gone"] == 1 and data["states"] == {"running": 1}
    (row,) = data["latest"]
    assert row["number"] == number and "its process is gone" in row["worker_gone"]


def test_retry_of_interrupted_trials_reaps_a_gone_one_first(tmp_path: Path) -> None:
    url, number = _killed_mid_trial(tmp_path)
    result = invoke("retry", "gone", "--storage", url, "--kind", "interrupted")
    assert result.exit_code == 0 and f"#{number}" in result.output
    study = ts.Study.load("gone", url)
    record = study.trials[number]
    assert record.state is ts.TrialState.FAILED and record.kind is ts.TrialKind.INTERRUPTED
    retry = study.ask()
    assert study.storage.get_trial(study.info.id, retry.number).attrs["retry_of"] == number


@pytest.mark.slow
def test_the_dashboard_page_marks_the_gone_trial_in_headless_chromium(tmp_path: Path) -> None:
    url, number = _killed_mid_trial(tmp_path)
    server = serve(url, refresh=0.5)
    try:
        page = chromium("--virtual-time-budget=4000", "--dump-dom", server.url, profile=tmp_path / "profile",
                        allow_loopback=True, timeout=90)  # fmt: skip
    finally:
        server.shutdown()
    assert re.search(r'<span class="chip" id="ts-gone"[^>]*>1 running with the worker gone</span>', page.stdout), (
        page.stderr[-2000:]
    )
    row = re.search(rf'<tr data-number="{number}">(.*?)</tr>', page.stdout)
    assert row is not None and "running (worker gone)" in row[1] and "its process is gone" in row[1]


def test_a_result_that_comes_after_its_trial_was_given_up_as_lost_is_refused_loudly() -> None:
    """A worker stalled past the grace finished its trial (the best one) after another worker gave it up: the
    result was thrown away with no word, and the worker said it had run the trial."""
    import pytest

    from tunesmith.trial import TrialKind, TrialState

    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, heartbeat_interval=1.0, grace=5.0)
    trial = study.ask()
    study.storage.finish_trial(study.info.id, trial.number, TrialState.FAILED, metrics={}, reason="no heartbeat",
                               error=None, now=time.time(), kind=TrialKind.LOST_WORKER)  # fmt: skip
    with pytest.warns(ts.study.ResultDiscardedWarning) as caught:
        study.tell(trial, {"loss": 0.693})
    said = str(caught[0].message)
    assert "trial #0 had already ended as failed (no heartbeat) when this result came (complete, loss=0.693)" in said
    assert "the study's grace (5s" in said and "give the study a longer grace=" in said
    assert study.trials[0].state is TrialState.FAILED, "storage keeps what it holds"


def test_every_reader_counts_a_gone_trial_as_no_trial_spent(tmp_path: Path) -> None:
    """`status` said 'trials 0/...' for a dead worker's trial while the dashboard, `Study.usage` and the report
    counted it spent: every reader counts it as storage will once it is reaped."""
    url, _ = _killed_mid_trial(tmp_path)
    study = ts.Study.load("gone", url)
    assert study.usage().trials == 0
    storage = SQLStorage(url)
    info = storage.load_study("gone")
    assert snapshot(info, storage.get_trials(info.id), SnapshotCache())["usage"]["trials"] == 0
    assert "Spent 0 trials" in ts.report.render_report(study)
    status = " ".join(invoke("status", "gone", "--storage", url).output.split())
    assert "budget: unbounded" in status or "trials 0/" in status
    storage.close()


def test_trials_json_and_export_count_a_gone_worker_s_trial_as_status_does(tmp_path: Path) -> None:
    """``status`` said 0 of the budget spent; ``trials --json`` and ``export`` marked the gone trial as spending it."""
    url, number = _killed_mid_trial(tmp_path)
    (row,) = [json.loads(line) for line in invoke("trials", "gone", "--storage", url, "--json").output.splitlines()]
    assert row["number"] == number and row["counts_toward_budget"] is False
    exported = invoke("export", "gone", "--storage", url).output.splitlines()
    header, line = exported[0].split(","), exported[1].split(",")
    assert line[header.index("counts_toward_budget")] == "False"


def test_the_trials_dataframe_counts_a_gone_worker_s_trial_as_status_does(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    url, number = _killed_mid_trial(tmp_path)
    frame = ts.Study.load("gone", url).trials_dataframe()
    assert frame.loc[frame["number"] == number, "counts_toward_budget"].tolist() == [False]
