"""`tunesmith best --json` names the trial `tunesmith best` shows (the seed re-runs' winner when it stands, as
status, the report and the dashboard do), with the search's best beside it and the trial the verdict judged: the
JSON gave the search's best at the top while the text and `finalize` named the re-runs' winner."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import SeedStabilityAttr, read_attr
from tunesmith.cli import cli


def noisy_bowl(trial: ts.Trial) -> dict[str, float]:
    """A bowl at a = 0.5 under seed noise much larger than its depth near the bottom: the luckiest seed wins the
    search, and the re-runs across seeds overturn it."""
    rng = np.random.default_rng(trial.seed)
    return {"loss": (trial.params["a"] - 0.5) ** 2 + 0.05 * rng.normal()}


def pure_noise(trial: ts.Trial) -> dict[str, float]:
    """The parameters do nothing: each configuration and seed draws its own loss from the same distribution."""
    key = zlib.crc32(json.dumps(trial.params, sort_keys=True).encode())
    return {"loss": float(np.random.default_rng([trial.seed, key]).normal(1.0, 0.05))}


def holdout(params: dict[str, float], seed: int) -> dict[str, float]:
    return {"loss": (params["a"] - 0.5) ** 2 + 0.05 * np.random.default_rng(seed + 1).normal()}


def stored(url: str, name: str, failed_first: bool = False) -> ts.Study:
    """A study of 20 trials on the noisy bowl (the first of them FAILED with ``failed_first``)."""
    study = ts.Study(ts.Space({"a": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(trials=20), storage=url,
                     name=name, seed=3, sampler="random")  # fmt: skip
    if failed_first:
        study.tell(study.ask(), error="RuntimeError: out of memory")
    study.optimize(noisy_bowl)
    return study


def best_both_ways(url: str, name: str) -> tuple[int, dict[str, object]]:
    """The trial number `best` prints, and what `best --json` prints."""
    runner = CliRunner()
    text = runner.invoke(cli, ["best", name, "--storage", url], catch_exceptions=False).output
    shown = re.search(r"best trial #(\d+) ", text)
    assert shown is not None, text
    out = runner.invoke(cli, ["best", name, "--storage", url, "--json"], catch_exceptions=False).output
    return int(shown.group(1)), json.loads(out)


@pytest.fixture(scope="module")
def overturned(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Study, str]:
    """A stored study whose re-runs (validate_top, k=3, 5 seeds) picked another trial than the search's best, then
    judged by finalize."""
    url = f"sqlite:///{tmp_path_factory.mktemp('overturned') / 'val.db'}"
    study = stored(url, "val")
    ts.validate_top(study, noisy_bowl, k=3, seeds=5)
    ts.finalize(study, holdout)
    return ts.Study.load("val", url), url


def test_best_json_gives_the_validated_winner_the_text_shows_with_the_search_best_beside_it(
    overturned: tuple[ts.Study, str],
) -> None:
    study, url = overturned
    stability = read_attr(study.attrs, SeedStabilityAttr)
    assert stability is not None and stability.winner is not None and study.best is not None
    winner, search = stability.winner, study.best
    assert winner != search.number, "the re-runs must overturn the search's best for this test"
    shown, best = best_both_ways(url, "val")
    record = next(r for r in study.trials if r.number == winner)
    assert shown == best["number"] == winner
    assert best["params"] == record.params and best["metrics"] == record.metrics and best["validated"] is True
    search_best = best["search_best"]
    assert isinstance(search_best, dict)
    assert search_best["number"] == search.number and search_best["params"] == search.params


def test_best_json_names_the_trial_the_verdict_judged_as_the_one_it_gives(overturned: tuple[ts.Study, str]) -> None:
    study, url = overturned
    _, best = best_both_ways(url, "val")
    verdict = best["verdict"]
    assert isinstance(verdict, dict)
    assert verdict["trial"] == best["number"] == study.attrs["holdout"]["trial"] and verdict["stale"] is None


def test_best_json_without_reruns_gives_the_search_best_the_text_shows_and_the_verdict_judged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    study = stored(url, "plain")
    ts.finalize(study, holdout)
    assert study.best is not None
    shown, best = best_both_ways(url, "plain")
    verdict = best["verdict"]
    assert isinstance(verdict, dict) and isinstance(best["search_best"], dict)
    assert shown == best["number"] == best["search_best"]["number"] == verdict["trial"] == study.best.number
    assert best["validated"] is False and best["validated_winner"] is None


def test_best_json_names_no_validated_winner_when_the_reruns_winner_is_not_complete(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'failed.db'}"
    study = stored(url, "failed", failed_first=True)
    failed = study.trials[0]
    assert failed.state is ts.TrialState.FAILED and study.best is not None
    study.set_attr(SeedStabilityAttr.KEY, {"winner": failed.number, "seeds": [1, 2, 3], "rule": "lcb"})
    shown, best = best_both_ways(url, "failed")
    assert shown == best["number"] == study.best.number and best["validated_winner"] is None
    assert f"the seed re-runs picked trial {failed.number}, which is failed, not COMPLETE" in str(best["note"])


@pytest.fixture(scope="module")
def within_noise(tmp_path_factory: pytest.TempPathFactory) -> tuple[ts.Study, str]:
    """A stored study of pure noise whose re-runs (validate_top, 3 candidates x 5 seeds) pick a trial they cannot
    tell from the others: what nearly every study under the null gets."""
    url = f"sqlite:///{tmp_path_factory.mktemp('noise') / 'noise.db'}"
    study = ts.Study(ts.Space({"a": ts.Float(0, 1)}), metric="loss", budget=ts.Budget(trials=20), storage=url,
                     name="noise", seed=4, sampler="random")  # fmt: skip
    study.optimize(pure_noise)
    ts.validate_top(study, pure_noise, k=3, seeds=5)
    return ts.Study.load("noise", url), url


NOT_TOLD_APART = (r"best trial #(\d+) \(seed \d+\), the re-runs' pick, not told apart from #(\d+)(?:(?:, | or )#\d+)* "
                  "beyond noise")  # fmt: skip


def not_told_apart(url: str, name: str) -> tuple[int, int]:
    """The trial `best` shows and the one its text says the re-runs' pick is not told apart from."""
    text = " ".join(CliRunner().invoke(cli, ["best", name, "--storage", url], catch_exceptions=False).output.split())
    said = re.search(NOT_TOLD_APART, text)
    assert said is not None, f"the re-runs must not tell their pick apart for this test: {text}"
    return int(said.group(1)), int(said.group(2))


def test_best_json_is_not_validated_when_its_text_says_the_pick_is_not_told_apart(
    within_noise: tuple[ts.Study, str],
) -> None:
    """The text read "the re-runs' pick, not told apart from #N beyond noise" while the JSON said validated: true."""
    _, url = within_noise
    not_told_apart(url, "noise")
    _, best = best_both_ways(url, "noise")
    assert best["validated"] is False and best["validated_winner"] is None and best["separated"] is False


def test_best_json_gives_the_reruns_pick_it_shows_when_they_cannot_tell_it_apart(
    within_noise: tuple[ts.Study, str],
) -> None:
    study, url = within_noise
    pick, _ = not_told_apart(url, "noise")
    _, best = best_both_ways(url, "noise")
    assert study.best is not None and pick != study.best.number, "the pick must not be the search's best here"
    assert best["number"] == best["rerun_pick"] == pick


def test_best_json_names_the_candidates_the_reruns_pick_is_not_told_apart_from(
    within_noise: tuple[ts.Study, str],
) -> None:
    study, url = within_noise
    pick, closest = not_told_apart(url, "noise")
    _, best = best_both_ways(url, "noise")
    stability = read_attr(study.attrs, SeedStabilityAttr)
    assert stability is not None
    others = {c.trial for c in stability.candidates or () if not c.baseline} - {pick}
    apart = best["not_told_apart_from"]
    assert isinstance(apart, list) and closest in apart and set(apart) <= others


def test_status_and_best_text_name_every_candidate_the_json_says_the_pick_is_not_told_apart_from(
    within_noise: tuple[ts.Study, str],
) -> None:
    _, url = within_noise
    _, best = best_both_ways(url, "noise")
    apart = best["not_told_apart_from"]
    assert isinstance(apart, list) and len(apart) >= 2, "the pick must be within noise of several candidates here"
    named = f"{', '.join(f'#{n}' for n in apart[:-1])} or #{apart[-1]}"
    for command in ("status", "best"):
        output = CliRunner().invoke(cli, [command, "noise", "--storage", url], catch_exceptions=False).output
        assert f"the re-runs' pick, not told apart from {named} beyond noise" in " ".join(output.split()), output


def test_best_json_says_a_winner_that_beats_every_candidate_beyond_noise_is_separated(
    overturned: tuple[ts.Study, str],
) -> None:
    _, url = overturned
    _, best = best_both_ways(url, "val")
    assert best["separated"] is True and best["not_told_apart_from"] == [] and best["rerun_pick"] == best["number"]


def test_best_json_without_reruns_says_nothing_of_separation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    stored(url, "plain")
    _, best = best_both_ways(url, "plain")
    assert best["rerun_pick"] is None and best["separated"] is None and best["not_told_apart_from"] is None
