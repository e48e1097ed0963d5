"""The advice to re-run the trials the best cannot be told from says what it costs: a field of 30 tied trials was
advised as ``k=31`` alone, more runs than the search made, with no word of the price or of a cheaper way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli


def _status(tmp_path: Path, trials: int, spread: float) -> str:
    """``trials`` random trials whose error rate moves by ``spread`` over x, read on 400 examples."""
    tmp_path.mkdir(exist_ok=True)
    url = f"sqlite:///{tmp_path}/tied.db"

    def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(trial.seed)
        return {"val_err": (rng.random(400) < 0.2 + spread * trial.params["x"]).astype(float)}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="val_err", budget=ts.Budget(trials=trials),
                     storage=url, name="tied", seed=0, sampler="random")  # fmt: skip
    study.optimize(objective)
    return " ".join(CliRunner().invoke(cli, ["status", "tied", "--storage", url]).output.split())


def test_re_running_a_large_tied_field_is_priced_against_the_search_with_what_decides_for_less(tmp_path: Path) -> None:
    text = _status(tmp_path, trials=40, spread=0.0)  # every trial equally good: most lie within noise of the best
    advice = text[text.index("ts.validate_top(study, objective, k="):]
    k = int(advice.split("k=", 1)[1].split(")", 1)[0])
    assert k > 10, advice
    runs = 5 * k + 5
    assert (f"re-runs them across seeds ({runs:,} runs on its default 5 seeds, {runs / 40:.2g} times the search's 40 "
            "trials; a smaller k re-runs the best-ranked of them") in advice, advice
    assert "a validation set m times larger shrinks each score's noise by sqrt(m)" in advice


def test_a_small_field_is_priced_without_the_alternatives_and_the_default_k_without_a_price(tmp_path: Path) -> None:
    few = _status(tmp_path / "few", trials=12, spread=0.1)  # three trials within noise of the best
    assert ("ts.validate_top(study, objective, k=4) re-runs them across seeds (25 runs on its default 5 seeds, 2.1 "
            "times the search's 12 trials)") in few, few
    fewer = _status(tmp_path / "fewer", trials=12, spread=0.15)  # two
    assert "ts.validate_top(study, objective, k=3) re-runs them across seeds Importance" in fewer, fewer


def test_under_asha_the_price_is_set_against_the_resource_every_trial_trained(tmp_path: Path) -> None:
    """ASHA stops most trials early and ranks only those trained to the end: 45 re-runs were set against "the
    search's 9 trials" of a search that trained 60, where each re-run trains as far as the best did."""
    url = f"sqlite:///{tmp_path}/asha.db"

    def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(trial.seed)
        for _step in trial.steps(9):
            trial.report(val_err=0.2 + 0.01 * rng.random())
        return {"val_err": (rng.random(400) < 0.2).astype(float)}  # every configuration equally good

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="val_err", budget=ts.Budget(trials=60),
                     scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3), storage=url, name="asha", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(objective)
    records = study.trials
    complete = [r for r in records if r.state is ts.TrialState.COMPLETE]
    assert len(complete) < len(records)  # ASHA stopped some
    text = " ".join(CliRunner().invoke(cli, ["status", "asha", "--storage", url]).output.split())
    advice = text[text.index("ts.validate_top(study, objective, k="):]
    k = int(advice.split("k=", 1)[1].split(")", 1)[0])
    assert k > 3, advice
    runs = 5 * k + 5
    spent = sum(r.resource for r in records)
    assert (f"({runs:,} runs on its default 5 seeds, each trained to step 9 as the best was, {runs * 9 / spent:.2g} "
            f"times the resource the search's {len(records)} trials trained") in advice, advice
