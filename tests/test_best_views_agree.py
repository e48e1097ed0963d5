"""Every view that shows the best trial (or the front) says the same thing of it: `tunesmith status`, `status
--json`, `tunesmith best`, `best --json`, the HTML report and the dashboard's snapshot.

Before: the trials "within noise of the best" were read among each view's table only (4 named by best and status, 9
by the report, while the rule covered 14 of 19), and the dashboard said nothing of them; the caveat that an early
stopping scheduler trained too few configurations fully to pick a winner was in status and the report alone; and of
a noisy front, status said which trials it cannot be told from (in a sentence cut short) while best said nothing
and showed no standard errors."""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.report import write_report
from tunesmith.report._data import value_text
from tunesmith.report._shown import scheduler_stops
from tunesmith.trial import TrialRecord, TrialState


def _said(*args: str) -> str:
    """What a command prints, whitespace collapsed (rich wraps lines at the terminal's width)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, terminal_width=400)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.output)
    return parsed


def _page_text(study: ts.Study, path: Path) -> str:
    """The HTML report's words: scripts and tags dropped, entities read, whitespace collapsed."""
    page = write_report(study, path).read_text(encoding="utf-8")
    words = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", page, flags=re.S))
    return " ".join(html.unescape(words).split())


def _dashboard(study: ts.Study) -> dict[str, Any]:
    return snapshot(study.info, study.trials, SnapshotCache())


def _flat(text: str | None) -> str:
    assert text is not None
    return " ".join(text.split())


# 1. Trials within noise of the best: all of them, in every view --------------------------------------------------


@pytest.fixture(scope="module")
def ties(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ts.Study]:
    """20 trials of about equal accuracy on 300 examples each: most cannot be told from the best."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ties') / 'ties.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("val_acc", "max"),
                     budget=ts.Budget(trials=20), storage=url, name="ties", seed=0, sampler="random")  # fmt: skip
    study.optimize(lambda t: {"val_acc": np.random.default_rng(t.seed).random(300) < 0.85 + 0.01 * t.params["x"]})
    return url, study


def _within_two_standard_errors(study: ts.Study) -> tuple[list[TrialRecord], list[TrialRecord]]:
    """The ranked trials, best first, and those whose accuracy lies within two standard errors of the difference
    from the best's: the rule the note states, applied here by hand to every trial."""
    done = sorted((r for r in study.trials if r.state is TrialState.COMPLETE),
                  key=lambda r: (-r.metrics["val_acc"], r.number))  # fmt: skip
    best = done[0]
    within = [r for r in done[1:] if abs(r.metrics["val_acc"] - best.metrics["val_acc"])
              < 2 * math.hypot(best.metrics["stderr:val_acc"], r.metrics["stderr:val_acc"])]  # fmt: skip
    return done, within


def test_the_ties_note_counts_every_trial_within_two_standard_errors_of_the_best(
    ties: tuple[str, ts.Study],
) -> None:
    url, study = ties
    done, within = _within_two_standard_errors(study)
    assert len(within) > 10  # more than any view's table holds: the case the views disagreed on
    note = _json("best", "ties", "--storage", url)["ties"]
    named = ", ".join(f"#{r.number}" for r in within[:10])
    assert note.startswith(f"{named} and {len(within) - 10} more lie within two standard errors of the best's val_acc")
    assert f"{len(within)} of the {len(done) - 1} other ranked trials" in note


def test_status_best_the_report_and_the_dashboard_say_the_same_ties_note(
    ties: tuple[str, ts.Study], tmp_path: Path
) -> None:
    url, study = ties
    note = _flat(_json("best", "ties", "--storage", url)["ties"])
    dashboard = _dashboard(study)["best"]
    views = {
        "status": _said("status", "ties", "--storage", url),
        "best": _said("best", "ties", "--storage", url),
        "report": _page_text(study, tmp_path / "ties.html"),
        "dashboard ties": _flat(dashboard["ties"]),
        "dashboard note": _flat(dashboard["note"]),
    }
    assert [name for name, text in views.items() if note not in text] == []


def test_the_suggested_k_reaches_the_last_trial_within_noise_in_every_view(
    ties: tuple[str, ts.Study], tmp_path: Path
) -> None:
    """The advice read k=5 in the terminal and k=10 in the report: each view's table length."""
    url, study = ties
    done, within = _within_two_standard_errors(study)
    k = max(done.index(r) for r in within) + 1  # every configuration differs (a float drawn at random)
    advice = f"ts.validate_top(study, objective, k={k})"
    views = {
        "status": _said("status", "ties", "--storage", url),
        "best": _said("best", "ties", "--storage", url),
        "report": _page_text(study, tmp_path / "k.html"),
    }
    assert [name for name, text in views.items() if advice not in text] == []


# 2. A scheduler that trained too few fully: said beside the best in every view -----------------------------------


def _curve(trial: ts.Trial) -> dict[str, float]:
    rng = np.random.default_rng(trial.seed)
    loss = math.inf
    for step in trial.steps(27):
        loss = 0.1 * (math.log10(trial.params["lr"]) + 2.5) ** 2 + 0.9 * math.exp(-0.2 * (step + 1))
        loss += rng.normal(0, 0.01)
        trial.report(val_loss=loss)
    return {"val_loss": loss}


@pytest.fixture(scope="module")
def asha(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ts.Study, str]:
    """ASHA (1 to 27, eta 3) on 30 trials, which trains fewer than 5 fully; with what status says of it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('asha') / 'asha.db'}"
    with pytest.warns(ts.study.ShortTrainingWarning):
        study = ts.Study(ts.Space({"lr": ts.Float(1e-4, 0.3, log=True)}), metric=ts.Metric("val_loss", "min"),
                         scheduler=ts.ASHA(min_resource=1, max_resource=27, eta=3), budget=ts.Budget(trials=30),
                         storage=url, name="asha", seed=1, sampler="random")  # fmt: skip
        study.optimize(_curve, progress=False)
    stops = scheduler_stops(study)
    assert stops is not None and stops.few_trained is not None
    return url, study, stops.few_trained


def test_best_and_best_json_say_the_best_stands_among_few_trained_fully(asha: tuple[str, ts.Study, str]) -> None:
    url, _, few = asha
    assert _flat(few) in _said("best", "asha", "--storage", url)
    said = _json("best", "asha", "--storage", url)
    assert (said["few_trained"], _flat(few) in _flat(said["note"])) == (few, True)


def test_the_dashboards_best_says_it_stands_among_few_trained_fully(asha: tuple[str, ts.Study, str]) -> None:
    _, study, few = asha
    best = _dashboard(study)["best"]
    assert (best["few_trained"], few in best["note"]) == (few, True)


def test_status_and_the_reports_best_section_say_it_as_status_json_records_it(
    asha: tuple[str, ts.Study, str], tmp_path: Path
) -> None:
    url, study, few = asha
    assert _json("status", "asha", "--storage", url)["scheduler"]["few_trained"] == few
    status = _said("status", "asha", "--storage", url)
    assert status.count(_flat(few)) == 1  # once: beside the best, not again under the scheduler
    page = write_report(study, tmp_path / "asha.html").read_text(encoding="utf-8")
    section = page.split("<h2>Best configuration</h2>", 1)[1].split("<h2>", 1)[0]
    assert html.escape(few) in section


def test_the_report_says_few_trained_fully_once_beside_the_best_as_status_does(
    asha: tuple[str, ts.Study, str], tmp_path: Path
) -> None:
    _, study, few = asha
    assert _page_text(study, tmp_path / "once.html").count(_flat(few)) == 1  # the header said it again


# 3. A noisy front: what it cannot be told from, and each objective's standard error, in every view ----------------


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ts.Study]:
    """Two objectives on 200 examples each, traded off by x: many trials off the front lie within its noise."""
    url = f"sqlite:///{tmp_path_factory.mktemp('front') / 'front.db'}"

    def objective(trial: ts.Trial) -> dict[str, Any]:
        x, rng = trial.params["x"], np.random.default_rng(trial.seed)
        return {"error": (rng.random(200) < 0.1 + 0.3 * x).astype(float),
                "cost": (rng.random(200) < 0.4 - 0.3 * x).astype(float)}  # fmt: skip

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=[ts.Metric("error"), ts.Metric("cost")],
                     budget=ts.Budget(trials=30), storage=url, name="front", seed=0, sampler="random")  # fmt: skip
    study.optimize(objective, progress=False)
    study.choose(ts.choose.weights({"error": 1, "cost": 1}))
    return url, study


def _near_note(status: str) -> str:
    found = re.search(r"\d+ more trials? \(.*?\) (?:is|are) dominated by the front only within the recorded noise.*?;"
                      r" more examples per trial would[^;]*?(?= hypervolume|$)", status)  # fmt: skip
    assert found is not None, status
    return found.group(0)


def test_the_near_front_note_says_what_more_examples_would_do(front: tuple[str, ts.Study]) -> None:
    """It ended "...more examples per trial would", the rest of the sentence cut."""
    url, _ = front
    note = _near_note(_said("status", "front", "--storage", url))
    assert note.endswith("more examples per trial would narrow the standard errors, which may then tell them apart")


def test_best_best_json_the_report_and_the_dashboard_say_what_status_says_of_the_front(
    front: tuple[str, ts.Study], tmp_path: Path
) -> None:
    url, study = front
    note = _near_note(_said("status", "front", "--storage", url))
    views = {
        "best": _said("best", "front", "--storage", url),
        "best --json": _flat(_json("best", "front", "--storage", url)["near_front"]),
        "report": _page_text(study, tmp_path / "front.html"),
        "dashboard": _flat(_dashboard(study)["front"]["near_front"]),
    }
    assert [name for name, text in views.items() if note not in text] == []


def test_best_shows_each_front_members_objectives_with_their_standard_errors(front: tuple[str, ts.Study]) -> None:
    url, study = front
    best = _said("best", "front", "--storage", url)
    shown = [value_text(r.metrics, m.name) for r in study.pareto_front for m in study.objectives]
    assert all("±" in text for text in shown)
    assert [text for text in shown if text not in best] == []


def test_the_dashboards_front_carries_each_objective_with_its_standard_error(front: tuple[str, ts.Study]) -> None:
    _, study = front
    rows = {row["number"]: row for row in _dashboard(study)["front"]["trials"]}
    expected = {r.number: {m.name: value_text(r.metrics, m.name) for m in study.objectives} for r in study.pareto_front}
    assert {number: row.get("texts") for number, row in rows.items()} == expected


def test_the_dashboards_best_reads_a_percentage_all_alike_on_its_scale_as_best_does(tmp_path: Path) -> None:
    """A best whose examples were all right (100 on a percentage) has the standard error of a proportion on its
    scale; the dashboard read it on a scale of 1 and showed ``100 (n=50, all alike, noise unknown)``."""
    url = f"sqlite:///{tmp_path / 'pct.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc_pct", "max", scale=100),
                     budget=ts.Budget(trials=3), storage=url, name="pct", seed=0, sampler="random")  # fmt: skip
    study.optimize(lambda t: {"acc_pct": [100.0] * 50 if t.number == 1 else [100.0] * 40 + [0.0] * 10})
    expected = value_text(study.best.metrics, "acc_pct", scale=100)
    assert "all alike" in expected
    assert _dashboard(study)["best"]["text"] == expected
    assert expected in _said("best", "pct", "--storage", url)
