"""`tunesmith run` of a config with a holdout: the holdout waits until the study's budget is spent, a finished study
run again starts nothing and warns of nothing, and a [holdout] edited after the opening is named, not ignored."""

from __future__ import annotations

import textwrap
import time
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


def test_a_finished_study_run_again_heads_the_verdict_with_a_line_saying_it_is_the_recorded_one(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=4)
    first = run(config, url)
    again = run(config, url)
    attrs = ts.Study.load("partial", storage=url).attrs
    opening = attrs["holdout_log"][0]
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(opening["at"]))
    note = (
        "the recorded verdict, read back from storage, not recomputed: the holdout of study 'partial' was opened "
        f"for trial #{opening['trial']} at {at} UTC and is not opened again (a holdout is scored once)"
    )
    lines = again.output.splitlines()
    assert note in lines and lines[lines.index(note) + 1] == attrs["verdict"]["summary"], again.output
    assert "the recorded verdict" not in first.output and openings(url) == 1


def test_rerun_counts_edited_after_the_opening_are_named_with_what_the_reruns_ran_and_how_to_apply_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=4)
    run(config, url)
    assert len(ts.Study.load("partial", storage=url).attrs["seed_stability"]["confirm_seeds"]) == 3
    config.write_text(config.read_text().replace("top = 2\nseeds = 3", "top = 3\nseeds = 4\nconfirm = 2"))
    said = " ".join(run(config, url).output.split())
    assert ("study.toml now declares top 3 (the re-runs ran 2 candidates); seeds 4 (the re-runs ran 3); confirm 2 "
            "(the winner re-ran on 3 fresh seeds after the pick): the recorded verdict stands") in said  # fmt: skip
    assert ("To judge this study under top, seeds and confirm instead, re-run its candidates, ts.validate_top(study, "
            "objective, k=3, seeds=4, confirm=2), then open its holdout again, ts.finalize(study, evaluate, "
            "force=True)") in said  # fmt: skip
    assert openings(url) == 1


def test_limits_edited_after_the_opening_are_named_with_the_ones_the_verdict_used_and_how_to_apply_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=4)
    run(config, url)
    config.write_text(config.read_text() + "gap = 0.02\nseed_cv = 0.01\nslice = 0.2\nshift = 0.1\n")
    said = " ".join(run(config, url).output.split())
    assert ("study.toml now declares seed_cv limit 0.01 (the verdict used 0.05); slice limit 0.2 (the verdict used "
            "0.1); shift limit 0.1 (the verdict used 0.05): the recorded verdict stands") in said  # fmt: skip
    assert ("open its holdout again, ts.finalize(study, evaluate, force=True, thresholds=ts.discipline.Thresholds("
            "seed_cv=0.01, slice=0.2, shift=0.1)) (evaluate: the function the config's holdout names): a forced "
            'opening fails the verdict\'s "holdout opened once" check') in said  # fmt: skip
    assert "gap limit" not in said and openings(url) == 1  # the gap's limit was stated, not changed


def test_a_shifted_evaluation_removed_after_the_opening_is_named_with_the_one_the_verdict_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "partialshift.py").write_text(
        "import numpy as np\n\n\n"
        "def shifted(params, seed):\n"
        "    return {'holdout_acc': (np.random.default_rng(seed + 3).random(300) < 0.8).astype(float)}\n"
    )
    url = f"sqlite:///{tmp_path}/partial.db"
    config = write_config(tmp_path, trials=4, holdout=HOLDOUT + '\nshifted = "partialshift:shifted"')
    run(config, url)
    config.write_text(config.read_text().replace('shifted = "partialshift:shifted"\n', ""))
    said = " ".join(run(config, url).output.split())
    assert ("study.toml now declares no shifted evaluation (the verdict read 'partialshift:shifted'): the recorded "
            "verdict stands") in said  # fmt: skip
    assert "To judge this study under shifted instead, open its holdout again" in said and openings(url) == 1
