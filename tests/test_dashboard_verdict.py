"""What the dashboard says besides the search: the verdict `finalize` recorded (in the API and on the page, as
``tunesmith status --json`` gives it) and the studies created while the page is open."""

from __future__ import annotations

import html
import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tests.browser import chromium
from tunesmith.cli import cli
from tunesmith.dashboard import DashboardServer, serve
from tunesmith.study import HoldoutSpentWarning
from tunesmith.trial import Trial

SPACE = ts.Space({"a": ts.Float(0, 1)})


def _accuracy(trial: Trial) -> dict[str, np.ndarray]:
    """Per-example results (the discipline judges on them): best near a = 0.3."""
    p = 0.9 - abs(trial.params["a"] - 0.3) * 0.2
    return {"acc": (np.random.default_rng(trial.seed).random(200) < p).astype(float)}


def _poor_holdout(params: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """A holdout on which the winner does far worse than in the search: the verdict fails."""
    return {"acc": (np.random.default_rng(seed + 7).random(200) < 0.6).astype(float)}


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def _page(url: str, profile: Path, budget_ms: int) -> str:
    done = chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", url, profile=profile, allow_loopback=True)
    assert "ts-status" in done.stdout, f"no page; chromium said: {done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A study finalized (not ready), then searched two trials more (so the verdict is stale)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('verdict') / 'judged.db'}"
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=6), storage=url, name="judged",
                     seed=0, baseline={"a": 0.31})  # fmt: skip
    study.optimize(_accuracy)
    ts.validate_top(study, _accuracy, k=2, seeds=2)
    ts.finalize(study, _poor_holdout)
    study.extend_budget(trials=8)
    with pytest.warns(HoldoutSpentWarning):  # the search goes on after the holdout: the verdict goes stale
        study.optimize(_accuracy)
    study.storage.close()
    return url


def test_the_api_carries_the_verdict_status_json_gives(judged: str) -> None:
    said = CliRunner().invoke(cli, ["status", "judged", "--storage", judged, "--json"])
    assert said.exit_code == 0, said.output
    with serve(judged, "judged") as running:
        snapshot = _get_json(running.url + "api/study/judged")
    assert snapshot["verdict"] == json.loads(said.output)["verdict"]
    assert snapshot["verdict"]["ready"] is False
    assert snapshot["verdict"]["stale"].startswith("stale: 2 trials finished after the holdout was opened")


def test_the_page_shows_the_verdict_beside_the_best(judged: str, tmp_path: Path) -> None:
    with serve(judged, "judged", refresh=0.5) as running:
        verdict = _get_json(running.url + "api/study/judged")["verdict"]
        page = _page(running.url, tmp_path / "profile", 3000)
    shown = re.search(r'<p id="ts-verdict" class="([^"]*)">([^<]*)</p>', page)
    assert shown is not None, "the page shows no verdict"
    assert shown[1] == "warn"
    assert html.unescape(shown[2]) == (
        f"verdict on trial {verdict['trial']}: {verdict['status']}, not ready; {verdict['stale']}"
    )


class _Watched(DashboardServer):
    """The dashboard, with a study created in its storage between the page's first and second reads of the list
    (as another process would create one while the page is open)."""

    def __init__(self, storage: str) -> None:
        super().__init__(storage, refresh=0.2)
        self.storage_url = storage
        self.listings = 0

    def studies(self) -> dict[str, Any]:
        self.listings += 1
        if self.listings == 2:
            _study(self.storage_url, "new")
        return super().studies()


def _study(url: str, name: str) -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=1), storage=url, name=name, seed=0)
    study.optimize(lambda trial: trial.params["a"])
    study.storage.close()


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[_Watched]:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    _study(url, "old")
    running = _Watched(url)
    try:
        yield running
    finally:
        running.shutdown()


def test_a_study_created_while_the_page_is_open_is_listed_and_the_page_stays_on_its_study(
    watched: _Watched, tmp_path: Path
) -> None:
    page = _page(watched.url, tmp_path / "profile", 3000)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", page) == ["old", "new"]
    assert '<span id="ts-study-name">old</span>' in page
