"""validate_top runs the baseline on the winner's fresh seeds after the pick, so that the margin pairs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tests.test_margin_confirmation import BASELINE, FRESH, SELECTION, margin, searched
from tunesmith.analysis._common import format_value
from tunesmith.attributes import BaselineAttr, SeedStabilityAttr, read_attr
from tunesmith.discipline._reruns import Objective, seed_list
from tunesmith.discipline.baseline import BaselineFailuresWarning
from tunesmith.report import write_report


def steady_gain(trial: ts.Trial) -> dict[str, float]:
    """Each seed moves every model alike by far more than the candidates' gain of 0.02 over the baseline."""
    shared = float(np.random.default_rng(trial.seed).normal(0.0, 0.05))
    which = ["a", "b", "c", "base"].index(trial.params["c"])
    own = float(np.random.default_rng([trial.seed, which]).normal(0.0, 0.002))
    return {"acc": 0.80 + (0.0 if trial.params["c"] == "base" else 0.02) + shared + own}


def counting(objective: Objective) -> tuple[list[int], Objective]:
    """``objective``, and the seed of each baseline run it made."""
    seeds: list[int] = []

    def counted(trial: ts.Trial) -> dict[str, float]:
        if trial.params == BASELINE:
            seeds.append(trial.seed)
        return dict(objective(trial))

    return seeds, counted


def test_the_margin_pairs_the_winners_confirmation_runs_with_the_declared_baseline_at_5_percent() -> None:
    study = searched(steady_gain)
    ts.validate_top(study, steady_gain, k=3, seeds=5, progress=False)
    check = margin(study)
    assert check.passed, check.detail
    assert "(confirmation mean over 5 fresh seeds after the pick)" in check.detail
    assert "on 5 paired seeds" in check.detail and "(one-sided t-test at 5.00%)" in check.detail


def test_the_baseline_runs_on_the_fresh_seeds_after_the_winner_and_on_no_seed_twice_when_validate_top_runs_again() -> (
    None
):
    ran, objective = counting(steady_gain)
    study = searched(objective)
    ts.validate_top(study, objective, k=3, seeds=5, progress=False)
    ts.validate_top(study, objective, k=3, seeds=5, progress=False)
    assert ran == SELECTION + FRESH
    stored = read_attr(study.attrs, BaselineAttr)
    assert stored is not None and stored.seeds == tuple(SELECTION + FRESH) and len(stored.runs) == 10


def test_a_baseline_evaluated_on_some_of_the_fresh_seeds_runs_only_the_others() -> None:
    ran, objective = counting(steady_gain)
    study = searched(objective, baseline=None)
    ts.evaluate_baseline(study, objective, BASELINE, seeds=7, progress=False)
    ts.validate_top(study, objective, k=3, seeds=5, progress=False)
    assert ran == seed_list(7, 7) + FRESH[2:]


def test_a_failed_baseline_run_on_a_fresh_seed_is_recorded_warned_about_and_left_out_of_the_pairs() -> None:
    def crashes_on_a_fresh_seed(trial: ts.Trial) -> dict[str, float]:
        if trial.params == BASELINE and trial.seed == FRESH[1]:
            raise RuntimeError("out of memory on this seed")
        return steady_gain(trial)

    study = searched(crashes_on_a_fresh_seed)
    with pytest.warns(
        BaselineFailuresWarning,
        match=r"1 of 5 baseline runs on the winner's fresh seeds failed .*"
        r"RuntimeError: out of memory on this seed.*pairs the winner with the baseline on the other",
    ):
        ts.validate_top(study, crashes_on_a_fresh_seed, k=3, seeds=5, progress=False)
    stored = read_attr(study.attrs, BaselineAttr)
    assert stored is not None
    failed = [run for run in stored.runs if run["state"] == "failed"]
    assert [run["seed"] for run in failed] == [FRESH[1]] and "out of memory" in failed[0]["reason"]
    check = margin(study)
    assert "on 4 paired seeds" in check.detail and "(on 9 of 10 seeds: 1 failed)" in check.detail


def test_the_baselines_mean_and_spread_are_over_every_seed_it_ran() -> None:
    study = searched(steady_gain)
    ts.validate_top(study, steady_gain, k=3, seeds=5, progress=False)
    stored = read_attr(study.attrs, BaselineAttr)
    assert stored is not None and stored.values is not None and len(stored.values) == 10
    assert stored.mean == pytest.approx(np.mean(stored.values))
    assert stored.std == pytest.approx(np.std(stored.values, ddof=1))
    assert stored.seed_count == 5, "the number declared, which evaluate_baseline runs"


def test_the_baseline_beside_the_candidates_holds_its_runs_on_their_seeds_only() -> None:
    study = searched(steady_gain, baseline=None)
    ts.evaluate_baseline(study, steady_gain, BASELINE, seeds=10, progress=False)
    report = ts.validate_top(study, steady_gain, k=3, seeds=5, progress=False)
    assert report.baseline is not None and [run.seed for run in report.baseline.runs] == SELECTION
    stability = read_attr(study.attrs, SeedStabilityAttr)
    assert stability is not None
    entry = next(c for c in stability.candidates or () if c.baseline)
    assert len(entry.values) == 5


def test_the_margin_shows_the_baselines_mean_on_the_paired_seeds_beside_its_mean_over_all() -> None:
    study = searched(steady_gain)
    ts.validate_top(study, steady_gain, k=3, seeds=5, progress=False)
    stored = read_attr(study.attrs, BaselineAttr)
    assert stored is not None and stored.mean is not None
    on_fresh = np.mean([steady_gain(ts.Trial(-1, BASELINE, seed))["acc"] for seed in FRESH])
    check = margin(study)
    assert f"vs baseline {on_fresh:.4g} on the same seeds, {stored.mean:.4g} over all 10:" in check.detail


def test_the_report_counts_the_baseline_runs_on_the_fresh_seeds_among_its_seeds(tmp_path: Path) -> None:
    study = searched(steady_gain)
    ts.validate_top(study, steady_gain, k=3, seeds=5, progress=False)
    stored = read_attr(study.attrs, BaselineAttr)
    assert stored is not None and stored.mean is not None
    page = write_report(study, tmp_path / "report.html").read_text()
    assert f"run across 10 seeds: mean {format_value(stored.mean)}" in page, "no run said to have failed"
