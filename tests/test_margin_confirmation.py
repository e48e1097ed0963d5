"""The baseline margin reads the winner on the fresh seeds it re-ran on after the pick, and a config sets how many."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.attributes import SeedStabilityAttr, read_attr
from tunesmith.config import load_config
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.sequence import after_search, before_search, holdout_plan
from tunesmith.discipline.verdict import Check

SPACE = ts.Space({"c": ts.Choice(["a", "b", "c"])})
BASELINE = {"c": "base"}
SELECTION = seed_list(7, 5)  # the seeds validate_top(seeds=5) picks on for a study with seed=7
FRESH = seed_list(7, 10)[5:]  # the seeds the winner re-runs on after the pick (confirm=5)


def own_noise(trial: ts.Trial, sd: float) -> float:
    """Noise of this configuration on this seed alone."""
    which = ["a", "b", "c", "base"].index(trial.params["c"])
    return float(np.random.default_rng([trial.seed, which]).normal(0.0, sd))


def searched(objective: ts.Objective, baseline: dict[str, str] | None = BASELINE) -> ts.Study:
    """Each configuration searched once (a grid), on study seed 7."""
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=3),
                     storage="memory", seed=7, baseline=baseline)  # fmt: skip
    study.optimize(objective, progress=False)
    return study


def margin(study: ts.Study) -> Check:
    return ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8}, progress=False).check("baseline margin")


def test_the_margin_reads_the_winners_confirmation_mean_not_the_mean_of_the_runs_that_picked_it() -> None:
    """Every candidate is lucky on the seeds that pick the winner and no better than the baseline on fresh ones."""

    def lucky_on_the_selection_seeds(trial: ts.Trial) -> dict[str, float]:
        luck = 0.05 if trial.params["c"] != "base" and trial.seed in SELECTION else 0.0
        return {"acc": 0.80 + luck + own_noise(trial, 0.003)}

    study = searched(lucky_on_the_selection_seeds)
    ts.validate_top(study, lucky_on_the_selection_seeds, k=3, seeds=5, progress=False)
    check = margin(study)
    assert not check.passed, check.detail
    assert abs(float(check.detail.split()[1]) - 0.80) < 0.005, "the fresh seeds' mean, not the lucky 0.85"
    assert "(confirmation mean over 5 fresh seeds after the pick)" in check.detail


def test_the_confirmation_runs_pair_with_a_baseline_run_on_their_seeds_without_a_correction_for_the_pick() -> None:
    """Each seed moves every model alike by far more than the gain; a baseline on 10 seeds ran the fresh ones too."""

    def steady_gain(trial: ts.Trial) -> dict[str, float]:
        shared = float(np.random.default_rng(trial.seed).normal(0.0, 0.05))
        gain = 0.0 if trial.params["c"] == "base" else 0.02
        return {"acc": 0.80 + gain + shared + own_noise(trial, 0.002)}

    study = searched(steady_gain, baseline=None)
    ts.evaluate_baseline(study, steady_gain, BASELINE, seeds=10, progress=False)
    report = ts.validate_top(study, steady_gain, k=3, seeds=5, progress=False)
    assert report.confirm_seeds == tuple(FRESH)
    check = margin(study)
    assert check.passed, check.detail
    assert "(confirmation mean over 5 fresh seeds after the pick)" in check.detail
    assert "on 5 paired seeds" in check.detail and "(one-sided t-test at 5.00%)" in check.detail


def test_unpaired_the_margin_weighs_the_confirmation_runs_spread_not_the_flattered_one_that_picked_the_winner() -> None:
    """Steady on the seeds that pick it, the winner wobbles on the fresh ones around 0.024 above the baseline,
    evaluated after validate_top on the first seeds only."""
    wobble = dict(zip(FRESH, (0.86, 0.80, 0.83, 0.78, 0.85), strict=True))

    def wobbles_on_fresh_seeds(trial: ts.Trial) -> dict[str, float]:
        if trial.params["c"] != "base" and trial.seed in wobble:
            return {"acc": wobble[trial.seed] + own_noise(trial, 0.001)}
        return {"acc": 0.80 + own_noise(trial, 0.001)}

    study = searched(wobbles_on_fresh_seeds, baseline=None)
    report = ts.validate_top(study, wobbles_on_fresh_seeds, k=3, seeds=5, progress=False)
    ts.evaluate_baseline(study, wobbles_on_fresh_seeds, BASELINE, seeds=5, progress=False)
    assert report.confirmation is not None and report.winner is not None and report.winner.std < 0.01
    check = margin(study)
    assert not check.passed and not check.decided, check.detail
    assert f"seed noise {report.confirmation.std:.3g} over the winner's 5 runs" in check.detail
    assert "(Welch's one-sided t-test at 5.00%) - within the noise" in check.detail


def test_without_confirmation_runs_the_margin_says_the_selection_mean_is_favoured_by_the_pick() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"acc": 0.80 + own_noise(trial, 0.01)}

    said = "(selection mean over 5 seeds: the runs that picked it from 3 candidates favour it)"
    for k, favoured in ((3, True), (1, False)):
        study = searched(objective)
        ts.validate_top(study, objective, k=k, seeds=5, confirm=0, progress=False)
        check = margin(study)
        assert (said in check.detail) is favoured, (k, check.detail)
        assert ("(re-run mean over 5 seeds)" in check.detail) is not favoured, (k, check.detail)


MODULE = """
import random


def objective(trial):
    rng = random.Random(trial.seed)
    return {"loss": (trial.params["x"] - 0.3) ** 2 + 0.1 + rng.gauss(0.0, 0.005)}


def evaluate(params, seed):
    return {"holdout_loss": (params["x"] - 0.3) ** 2 + 0.1}
"""


def run_config(tmp_path: Path, holdout: str) -> ts.Study:
    """A config's search and its [holdout] table run as `tunesmith run` runs them."""
    (tmp_path / "confirmmod.py").write_text(textwrap.dedent(MODULE))
    path = tmp_path / "study.toml"
    path.write_text('name = "confirm"\nobjective = "confirmmod:objective"\nseed = 1\nstorage = "memory"\n'
                    'sampler = "random"\n[metric]\nname = "loss"\n[budget]\ntrials = 6\n'
                    '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
                    f'[holdout]\nevaluate = "confirmmod:evaluate"\ntop = 2\nseeds = 3\n{holdout}')  # fmt: skip
    cfg = load_config(path)
    objective = cfg.load_objective()
    study = ts.Study(cfg.space, metric=cfg.metric, sampler=cfg.sampler, budget=cfg.budget, storage="memory",
                     seed=cfg.seed)  # fmt: skip
    before_search(study, cfg, objective)
    study.optimize(objective, progress=False)
    assert after_search(study, cfg, objective) is not None
    return study


@pytest.mark.parametrize(("holdout", "fresh"), [("confirm = 2\n", 2), ("confirm = 0\n", 0)])
def test_a_holdout_tables_confirm_sets_how_many_fresh_seeds_the_winner_re_runs_on(
    tmp_path: Path, holdout: str, fresh: int
) -> None:
    stability = read_attr(run_config(tmp_path, holdout).attrs, SeedStabilityAttr)
    assert stability is not None and len(stability.confirm_seeds or ()) == fresh


@pytest.mark.parametrize(
    ("confirm", "message"),
    [
        (1, r"holdout.confirm must be 0 or an integer >= 2, got holdout.confirm=1: .*e.g. confirm = 5"),
        (-1, r"holdout.confirm must be a non-negative integer, got holdout.confirm=-1: .*confirm = 0 for none"),
        (2.5, r"holdout.confirm must be a non-negative integer, got holdout.confirm=2.5"),
        (True, r"holdout.confirm must be a non-negative integer, got holdout.confirm=True"),
    ],
)
def test_a_holdout_confirm_that_is_not_0_or_at_least_2_is_refused_before_anything_runs(
    confirm: object, message: str
) -> None:
    with pytest.raises(ts.ConfigError, match=message):
        holdout_plan({"evaluate": "operator:add", "confirm": confirm})
