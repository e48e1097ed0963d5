"""Where a best is shown (the summary of `tunesmith status`, the HTML report, the dashboard), the winner the seed
re-runs recorded (`seed_stability.winner`, as `tunesmith best` reads it) is shown as the winner, and the search's
best beside it, said to be the search's."""

from __future__ import annotations

import html
import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.analysis._common import format_value
from tunesmith.attributes import SeedStabilityAttr, read_attr
from tunesmith.cli import cli
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.report import render_report


def noisy_bowl(trial: ts.Trial) -> dict[str, float]:
    """A bowl at a = 0.5 under seed noise much larger than the bowl's depth near it: the luckiest seed wins the
    search, and the re-runs across seeds overturn it."""
    rng = np.random.default_rng(trial.seed)
    return {"loss": (trial.params["a"] - 0.5) ** 2 + 0.05 * rng.normal()}


@pytest.fixture(scope="module")
def overturned(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Study, str]:
    """A stored study whose re-runs (validate_top, k=3, 5 seeds) picked another trial than the search's best."""
    url = f"sqlite:///{tmp_path_factory.mktemp('validated') / 'val.db'}"
    study = ts.Study(ts.Space({"a": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(trials=20), storage=url,
                     name="val", seed=3, sampler="random")  # fmt: skip
    study.optimize(noisy_bowl)
    ts.validate_top(study, noisy_bowl, k=3, seeds=5)
    study = ts.Study.load("val", url)
    return study, url


def _numbers(study: ts.Study) -> tuple[int, int]:
    stability = read_attr(study.attrs, SeedStabilityAttr)
    assert stability is not None and stability.winner is not None and study.best is not None
    assert stability.winner != study.best.number, "the re-runs must overturn the search's best for these tests"
    return stability.winner, study.best.number


def test_status_shows_the_validated_winner_as_best_and_the_search_best_beside_it(
    overturned: tuple[ts.Study, str],
) -> None:
    """`best` said trial #6 was the validated winner; `status` printed "Best: trial 13" with no word of it."""
    study, url = overturned
    winner, search = _numbers(study)
    result = CliRunner().invoke(cli, ["status", "val", "--storage", url], catch_exceptions=False)
    text = " ".join(result.output.split())
    assert f"Best: trial {winner} (seed " in text and ", the validated winner:" in text
    assert f"the search's best is trial {search} (seed " in text
    assert f"Best: trial {search} " not in text


def test_the_html_reports_best_configuration_is_the_validated_winner_with_the_search_best_beside_it(
    overturned: tuple[ts.Study, str],
) -> None:
    study, _ = overturned
    winner, search = _numbers(study)
    page = render_report(study)
    section = re.search(r"<h2>Best configuration</h2>(.*?)</section>", page, flags=re.S)
    assert section is not None
    text = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", section.group(1)).split()))
    assert text.startswith(f"Trial {winner} (seed ")
    assert "the validated winner" in text and f"the search's best is trial {search} (seed " in text
    winner_params = next(r.params for r in study.trials if r.number == winner)
    assert f"a {format_value(winner_params['a'])}" in text  # the table holds the winner's parameters


def test_the_dashboards_best_is_the_validated_winner_and_names_the_search_best(
    overturned: tuple[ts.Study, str],
) -> None:
    study, _ = overturned
    winner, search = _numbers(study)
    best = snapshot(study.info, study.trials, SnapshotCache())["best"]
    assert best["number"] == winner and best["validated"] is True and best["search_best"] == search
    assert best["params"] == next(r.params for r in study.trials if r.number == winner)
    assert f"the search's best is trial {search}" in best["note"]


def test_a_winner_invalidated_since_gives_the_search_best_back_and_says_why(
    overturned: tuple[ts.Study, str], tmp_path: Path
) -> None:
    study, _ = overturned
    winner, search = _numbers(study)
    url = f"sqlite:///{tmp_path / 'void.db'}"
    copy = ts.Study(study.space, metric="loss", budget=ts.Budget(trials=20), storage=url, name="void", seed=3,
                    sampler="random")  # fmt: skip
    copy.optimize(noisy_bowl)
    copy.set_attr(SeedStabilityAttr.KEY, study.attrs[SeedStabilityAttr.KEY])
    copy.invalidate(winner, "leaked labels")
    result = CliRunner().invoke(cli, ["status", "void", "--storage", url], catch_exceptions=False)
    text = " ".join(result.output.split())
    assert f"Best: trial {search} (seed " in text
    assert f"the seed re-runs picked trial {winner}, which was invalidated since (leaked labels)" in text
    assert "run ts.validate_top(study, objective) again" in text


def pure_noise(trial: ts.Trial) -> dict[str, float]:
    """The parameters do nothing: each configuration and seed draws its own loss from the same distribution."""
    key = zlib.crc32(json.dumps(trial.params, sort_keys=True).encode())
    return {"loss": float(np.random.default_rng([trial.seed, key]).normal(1.0, 0.05))}


@pytest.fixture(scope="module")
def kept_within_noise() -> ts.Study:
    """A study of pure noise whose re-runs (validate_top, 3 candidates x 5 seeds) keep the search's best without
    telling it apart from the others."""
    study = ts.Study(ts.Space({"a": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(trials=20), storage="memory",
                     name="noise", seed=3, sampler="random")  # fmt: skip
    study.optimize(pure_noise)
    report = ts.validate_top(study, pure_noise, k=3, seeds=5)
    assert report.winner is not None and study.best is not None and report.winner.trial == study.best.number, (
        "the re-runs must keep the search's best for these tests"
    )
    return study


def test_the_html_report_does_not_mark_the_reruns_pick_settled_when_they_cannot_tell_it_apart(
    kept_within_noise: ts.Study,
) -> None:
    """The report's lines on a pick within noise were green ("ok") whenever the re-runs kept the search's best."""
    page = render_report(kept_within_noise)
    section = re.search(r"<h2>Best configuration</h2>(.*?)</section>", page, flags=re.S)
    assert section is not None
    assert "the re-runs&#x27; pick, not told apart from #" in section.group(1), "no pick within noise to test"
    said = re.findall(r'<p class="(\w+)">re-run across', section.group(1))
    assert said == ["warn"], section.group(1)


def test_the_dashboard_does_not_call_the_reruns_pick_validated_when_they_cannot_tell_it_apart(
    kept_within_noise: ts.Study,
) -> None:
    best = snapshot(kept_within_noise.info, kept_within_noise.trials, SnapshotCache())["best"]
    assert "the re-runs' pick, not told apart from #" in best["label"], "no pick within noise to test"
    assert best["validated"] is False and best["separated"] is False and best["rerun_pick"] == best["number"]


def test_the_dashboard_says_a_winner_that_beats_every_candidate_beyond_noise_is_separated(
    overturned: tuple[ts.Study, str],
) -> None:
    study, _ = overturned
    best = snapshot(study.info, study.trials, SnapshotCache())["best"]
    assert best["separated"] is True and best["not_told_apart_from"] == []
