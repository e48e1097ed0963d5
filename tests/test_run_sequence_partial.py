"""`tunesmith run` of a config with a holdout: the holdout waits until the study's budget is spent, a finished study
run again starts nothing and warns of nothing, and a [holdout] edited after the opening is named, not ignored."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli

MODULE = """
import numpy as np


def accuracy(params):
    return 0.9 - 0.1 * (params["x"] - 0.3) ** 2


def objective(trial):
    return {"acc": (np.random.default_rng(trial.seed).random(300) < accuracy(trial.params)).astype(float)}


def evaluate(params, seed):
    return {"holdout_acc": (np.random.default_rng(seed + 1).random(300) < accuracy(params)).astype(float)}


def evaluate_other_set(params, seed):
    return {"holdout_acc": (np.random.default_rng(seed + 2).random(300) < accuracy(params) - 0.3).astype(float)}
"""

SPACE = 'x = { type = "float", low = 0.0, high = 1.0 }'
HOLDOUT = 'evaluate = "partialrunmod:evaluate"\ntop = 2\nseeds = 3\nbaseline = { x = 0.5 }'


def write_config(tmp_path: Path, *, trials: int, space: str = SPACE, sampler: str = "random",
                 holdout: str = HOLDOUT) -> Path:  # fmt: skip
    (tmp_path / "partialrunmod.py").write_text(textwrap.dedent(MODULE))
    config = tmp_path / "study.toml"
    config.write_text(
        f'name = "partial"\nobjective = "partialrunmod:objective"\nseed = 0\nsampler = "{sampler}"\n'
        f'[metric]\nname = "acc"\ndirection = "max"\n[budget]\ntrials = {trials}\n[space]\n{space}\n'
        f"[holdout]\n{holdout}\n"
    )
    return config


def run(config: Path, url: str, *more: str) -> Result:
    result = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-progress", "--no-report", *more])
    assert result.exit_code == 0, result.output
    return result


def openings(url: str) -> int:
    return len(ts.Study.load("partial", storage=url).attrs.get("holdout_log", []))


def test_a_run_cut_short_by_trials_opens_no_holdout_and_says_how_much_of_the_search_is_left(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    result = run(write_config(tmp_path, trials=6), url, "--trials", "2")
    said = " ".join(result.output.split())
    assert "the search has 4 of 6 trials left: the holdout opens when they are spent; run again to go on" in said
    attrs = ts.Study.load("partial", storage=url).attrs
    assert "holdout_log" not in attrs and "seed_stability" not in attrs and "verdict" not in attrs


def test_the_run_that_spends_the_budget_opens_the_holdout_even_when_its_trials_limit_ends_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=6)
    run(config, url, "--trials", "2")
    last = run(config, url, "--trials", "4")  # ended by --trials, at the moment the budget is spent
    assert "holdout gap" in last.output and "stale" not in last.output
    assert openings(url) == 1


def test_a_space_used_up_before_the_budget_opens_the_holdout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=10, sampler="grid",
                          space='x = { type = "choice", options = [0.1, 0.3, 0.6] }')  # fmt: skip
    result = run(config, url)
    assert "all 3 grid points have been evaluated" in result.output and "holdout gap" in result.output
    assert openings(url) == 1


def test_a_finished_study_run_again_starts_no_trial_and_warns_of_no_trial_after_the_opening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=4)
    run(config, url)
    again = run(config, url)
    assert "this run: 0 trials" in again.output
    assert "a trial that finishes now" not in " ".join(again.output.split())


def test_a_holdout_edited_after_the_opening_is_named_difference_by_difference_and_the_verdict_stands(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=4)
    first = run(config, url)
    config.write_text(config.read_text().replace('"partialrunmod:evaluate"', '"partialrunmod:evaluate_other_set"\n'
                                                 'name = "other-set"\ngap = 0.5')
                      .replace("{ x = 0.5 }", "{ x = 0.9 }"))  # fmt: skip
    edited = run(config, url)
    said = " ".join(edited.output.split())
    assert ("study.toml now declares holdout set 'other-set' (the opening read 'partialrunmod:evaluate'); gap limit "
            "0.5 (the verdict used 0.02); baseline x=0.9 (the verdict compared with x=0.5): the recorded verdict "
            "stands, since the holdout is opened once; a new holdout needs a new study") in said  # fmt: skip
    gap = [line for line in first.output.splitlines() if "holdout gap:" in line]
    assert gap and gap == [line for line in edited.output.splitlines() if "holdout gap:" in line]
    assert openings(url) == 1
