"""validate_top says whether its winner differs from the other candidates beyond noise: candidates identical on
every seed tie (the search's ranking names one, and the summary says so), and a pick the paired seeds cannot tell
from another is said to be one, with the seeds that would decide, in the summary and wherever the best is shown."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.seeds import SeedReport, Standing

SEEDS = seed_list(0, 3)  # the fresh seeds validate_top gives a study of seed 0, seeds=3
CHOICES = ts.Space({"c": ts.Choice(["a", "b"])})


def seed_only(trial: ts.Trial) -> dict[str, float]:
    """The parameters do nothing: only the seed moves the result."""
    return {"loss": float(1.0 + np.random.default_rng(trial.seed).normal(0, 0.05))}


def rerun_as(search: Mapping[str, Any], rerun: Mapping[str, Sequence[Any]]) -> Callable[[ts.Trial], dict[str, Any]]:
    """An objective giving ``search[c]`` in the search and ``rerun[c][i]`` on validate_top's i-th seed."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        c = trial.params["c"]
        return {"acc": rerun[c][SEEDS.index(trial.seed)] if trial.seed in SEEDS else search[c]}

    return objective


def validated(objective: Callable[[ts.Trial], dict[str, Any]], storage: str = "memory") -> tuple[ts.Study, SeedReport]:
    """A grid over ``c`` (the search ranks "a" first), re-run on 3 seeds."""
    study = ts.Study(CHOICES, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage=storage, name="ties", seed=0)  # fmt: skip
    study.optimize(objective)
    return study, ts.validate_top(study, objective, k=2, seeds=3, confirm=0)


def seed_only_study(storage: str = "memory") -> tuple[ts.Study, SeedReport]:
    study = ts.Study(ts.Space({"a": ts.Float(0, 1), "b": ts.Float(0, 1)}), metric="loss", storage=storage,
                     name="seed_only", budget=ts.Budget(trials=15), seed=0, sampler="random")  # fmt: skip
    study.optimize(seed_only)
    return study, ts.validate_top(study, seed_only, k=3, seeds=3, confirm=0)


# On validate_top's seeds, "b" edges "a" by 0.02 on average with a seed-to-seed spread of 0.045: LCB picks it.
WITHIN_NOISE = rerun_as({"a": 0.95, "b": 0.94}, {"a": [0.90, 0.95, 0.85], "b": [0.93, 0.92, 0.91]})


def test_candidates_identical_on_every_seed_are_said_to_tie_and_no_winner_is_best_on_every_seed() -> None:
    _, report = seed_only_study()
    assert len({c.values for c in report.candidates}) == 1, "the parameters do nothing: identical on every seed"
    others = ", ".join(c.label for c in report.candidates[1:])
    assert f"the winner ties {others}: identical loss on every one of 3 seeds" in report.summary()
    assert "the winner is the best candidate on every seed" not in report.summary()
    assert report.contest is not None and report.contest.standing is Standing.TIED


def test_the_search_ranking_names_the_winner_among_tied_candidates_and_the_summary_says_so() -> None:
    _, report = seed_only_study()
    assert report.winner is not None and report.winner.trial == report.candidates[0].trial
    assert f"{report.winner.label} is named by the search's ranking" in report.summary()


def test_status_does_not_call_a_winner_tied_on_every_seed_the_validated_winner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tie.db'}"
    _, report = seed_only_study(url)
    assert report.winner is not None
    result = CliRunner().invoke(cli, ["status", "seed_only", "--storage", url], catch_exceptions=False)
    text = " ".join(result.output.split())
    others = ", ".join(c.label for c in report.candidates[1:])
    assert f"the re-runs' pick by the search's ranking, tied with {others} on every seed" in text
    assert "validated winner" not in text


def test_a_pick_within_the_paired_seeds_noise_is_said_to_be_undecided_with_the_seeds_that_would_decide() -> None:
    study, report = validated(WITHIN_NOISE)
    a, b = (next(r.number for r in study.trials if r.params["c"] == c) for c in "ab")
    assert report.winner is not None and report.winner.trial == b and report.overturned
    assert report.contest is not None and report.contest.standing is Standing.WITHIN_NOISE
    seeds = report.contest.seeds_to_decide
    assert seeds is not None and seeds > 3
    summary = report.summary()
    assert f"the winner cannot be told apart from #{a} on these seeds" in summary
    assert "one-sided paired t-test at 2.50%, 5% over 2 candidates" in summary and f"seeds={seeds}" in summary
    assert "overturned" not in summary and f"prefers it to the search's best #{a}, but not beyond noise" in summary


def test_the_seeds_said_to_decide_are_the_fewest_whose_paired_t_test_would_clear_the_gain_at_its_spread() -> None:
    from scipy.stats import t as student

    _, report = validated(WITHIN_NOISE)
    assert report.contest is not None and report.contest.runner_up is not None
    more = report.contest.seeds_to_decide
    differences = np.subtract([0.93, 0.92, 0.91], [0.90, 0.95, 0.85])  # "b" over "a", seed by seed
    gain, spread = float(differences.mean()), float(differences.std(ddof=1))

    def bar(seeds: int) -> float:
        return float(student.ppf(1 - 0.05 / 2, seeds - 1)) * spread / np.sqrt(seeds)

    assert more is not None and bar(more) < gain <= bar(more - 1)


def test_a_winner_picked_for_its_steadiness_over_a_better_mean_is_not_said_to_beat_it() -> None:
    steady = rerun_as({"a": 0.95, "b": 0.94}, {"a": [0.80, 0.99, 0.99], "b": [0.91, 0.91, 0.92]})
    study, report = validated(steady)
    a = next(r.number for r in study.trials if r.params["c"] == "a")
    assert report.winner is not None and report.winner.params == {"c": "b"}
    assert report.contest is not None and report.contest.seeds_to_decide is None
    assert f"#{a} does as well or better on average" in report.summary()


def test_a_winner_ahead_by_the_same_margin_on_every_seed_beats_the_other_beyond_noise() -> None:
    clear = rerun_as({"a": 0.95, "b": 0.94}, {"a": [0.80, 0.85, 0.75], "b": [0.90, 0.95, 0.85]})
    study, report = validated(clear)
    a = next(r.number for r in study.trials if r.params["c"] == "a")
    assert report.contest is not None and report.contest.standing is Standing.BEYOND_NOISE
    assert f"the winner beats #{a} beyond noise" in report.summary()
    assert "the search's best was overturned" in report.summary()


def test_a_gain_of_one_example_on_every_seed_is_within_the_validation_examples_noise() -> None:
    def hits(correct: int) -> np.ndarray:
        return np.arange(200) < correct

    one_more = rerun_as({"a": 0.95, "b": 0.94}, {"a": [hits(150)] * 3, "b": [hits(151)] * 3})
    _, report = validated(one_more)
    assert report.winner is not None and report.winner.params == {"c": "b"}
    assert report.contest is not None and report.contest.standing is Standing.WITHIN_NOISE
    assert "the validation examples" in report.summary()


def test_best_calls_a_pick_within_noise_the_re_runs_pick_not_the_validated_winner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'within.db'}"
    study, _ = validated(WITHIN_NOISE, url)
    a = next(r.number for r in study.trials if r.params["c"] == "a")
    text = " ".join(CliRunner().invoke(cli, ["best", "ties", "--storage", url], catch_exceptions=False).output.split())
    assert f"the re-runs' pick, not told apart from #{a} beyond noise" in text and "validated winner" not in text


def test_the_verdicts_seed_stability_line_says_a_tie_and_a_pick_within_noise_as_the_summary_does() -> None:
    study, _ = seed_only_study()
    tied = ts.finalize(study, lambda params, seed: {"holdout_loss": 1.0}).check("seed stability")
    assert "the winner ties" in tied.detail and "best candidate on every seed" not in tied.detail, tied.detail
    study, report = validated(WITHIN_NOISE)
    assert report.winner is not None and report.winner.params["c"] == "b"
    within = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.92}).check("seed stability")
    assert "but not beyond noise" in within.detail and "overturned" not in within.detail, within.detail


def test_a_winner_within_noise_of_several_candidates_names_every_one_of_them() -> None:
    """Naming only the one whose gain fell furthest below its bar read as if the winner beat the rest, which the
    same runs could not tell from it either."""

    def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(trial.seed)
        return {"err": (rng.random(300) < 0.2 + 0.1 * trial.params["x"]).astype(float)}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="err", budget=ts.Budget(trials=4), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(objective)
    report = ts.validate_top(study, objective, k=4, seeds=2)
    contest = report.contest
    assert contest is not None and contest.standing is Standing.WITHIN_NOISE
    unbeaten = [r.trial for r in contest.rivals if not r.beaten]
    assert len(unbeaten) > 1 and contest.runner_up is not None
    names = ", ".join(f"#{n}" for n in unbeaten[:-1]) + f" or #{unbeaten[-1]}"
    assert (f"the winner cannot be told apart from {names} on these seeds; against #{contest.runner_up.trial}, whose "
            "gain falls furthest below its noise bar: it gains") in report.summary()
