"""The winner of the seed re-runs re-run on fresh seeds after the pick, and the verdict's spread read on those."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.attributes import SeedStabilityAttr, read_attr
from tunesmith.discipline._reruns import Objective, seed_list
from tunesmith.discipline.verdict import Check

SPACE = ts.Space({"c": ts.Choice(["a", "b", "c"])})
BASE = {"a": 1.0, "b": 1.01, "c": 1.02}
SELECTION = seed_list(7, 3)  # the seeds validate_top(seeds=3) picks on for a study with seed=7
FRESH = seed_list(7, 6)[3:]  # the seeds the winner re-runs on after the pick (confirm=3)
LEFT = re.compile(r"about (\d+h )?(\d+m )?\d+s left")


def steady(trial: ts.Trial) -> dict[str, float]:
    """Every configuration agrees with itself to 0.1% on every seed."""
    return {"loss": BASE[trial.params["c"]] * (1 + 0.001 * (trial.seed % 3))}


def searched(objective: Objective = steady, baseline: dict[str, Any] | None = None) -> ts.Study:
    """Each configuration searched once (a grid), on study seed 7."""
    study = ts.Study(SPACE, metric="loss", sampler="grid", budget=ts.Budget(trials=3), storage="memory", seed=7,
                     baseline=baseline)  # fmt: skip
    study.optimize(objective, progress=False)
    return study


def recording() -> tuple[list[tuple[str, int]], Objective]:
    """`steady`, and the (configuration, seed) of each of its calls in order."""
    calls: list[tuple[str, int]] = []

    def objective(trial: ts.Trial) -> dict[str, float]:
        calls.append((trial.params["c"], trial.seed))
        return steady(trial)

    return calls, objective


def seed_check(study: ts.Study) -> Check:
    return ts.finalize(study, lambda params, seed: {"loss": 1.0}).check("seed stability")


def test_only_a_winner_picked_by_its_spread_from_several_candidates_re_runs_on_fresh_seeds_after_the_pick() -> None:
    for k, rule, expected in ((3, "lcb", 3), (3, "worst", 3), (3, "mean", 0), (1, "lcb", 0)):
        calls, objective = recording()
        study = searched(objective)
        report = ts.validate_top(study, objective, k=k, seeds=3, rule=rule)
        assert report.winner is not None
        after = calls[3 + k * 3 :]  # the search, then every candidate on the selection seeds
        assert after == [(report.winner.params["c"], seed) for seed in FRESH][:expected], (k, rule)
        assert report.confirm_seeds == tuple(FRESH[:expected]), (k, rule)
        assert not set(FRESH) & {r.seed for r in study.trials}, "fresh for the search as for the selection"


def test_the_confirmation_runs_are_recorded_beside_the_selection_runs() -> None:
    study = searched()
    report = ts.validate_top(study, steady, k=3, seeds=3)
    stored = read_attr(study.attrs, SeedStabilityAttr)
    assert stored is not None and report.winner is not None and report.confirmation is not None
    assert len(stored.runs or ()) == 9, "the selection's runs stay what they were: 3 candidates x 3 seeds"
    assert stored.confirm_seeds == tuple(FRESH)
    assert [(run["candidate"], run["seed"]) for run in stored.confirm_runs or ()] == [
        (report.winner.trial, seed) for seed in FRESH
    ]
    entry = stored.candidate(report.winner.trial)
    assert entry is not None and entry.confirm_values == report.confirmation.values and len(entry.values) == 3
    others = [c for c in stored.candidates or () if c.trial != report.winner.trial]
    assert others and all(c.confirm_values is None for c in others)


def test_the_verdict_judges_the_winners_spread_on_the_fresh_seeds_alone() -> None:
    """On the seeds that picked it the winner agrees with itself to 0.1%; on fresh seeds it wobbles by 25%."""

    def wobbles_on_fresh_seeds(trial: ts.Trial) -> dict[str, float]:
        if trial.seed in FRESH:
            return {"loss": BASE[trial.params["c"]] * (1 + (0.25, -0.25, 0.2)[FRESH.index(trial.seed)])}
        return steady(trial)

    study = searched(wobbles_on_fresh_seeds)
    ts.validate_top(study, wobbles_on_fresh_seeds, k=3, seeds=3)
    check = seed_check(study)
    assert not check.passed and check.decided
    assert "over 3 fresh seeds run after the pick, not the 3 that picked it" in check.detail
    assert "results depend on the seed" in check.detail


def test_a_failed_run_on_a_fresh_seed_is_kept_and_fails_the_seed_check() -> None:
    def crashes_on_a_fresh_seed(trial: ts.Trial) -> dict[str, float]:
        if trial.seed == FRESH[1]:
            raise RuntimeError("CUDA error: out of memory")
        return steady(trial)

    study = searched(crashes_on_a_fresh_seed)
    ts.validate_top(study, crashes_on_a_fresh_seed, k=3, seeds=3)  # recorded, not raised: the selection ran
    stored = read_attr(study.attrs, SeedStabilityAttr)
    assert stored is not None
    states = [(run["state"], "CUDA error" in (run["reason"] or "")) for run in stored.confirm_runs or ()]
    assert states == [("complete", False), ("failed", True), ("complete", False)]
    check = seed_check(study)
    assert not check.passed and "the winner failed: 1 of 3 runs failed (RuntimeError: CUDA error" in check.detail


def test_a_spread_read_on_the_runs_that_picked_the_winner_by_its_spread_is_said_to_be() -> None:
    caveat = "the spread was read on the runs that picked it from 3 candidates by lcb"
    for k, rule, confirm, said in ((3, "lcb", 0, True), (3, "mean", 3, False), (1, "lcb", 3, False)):
        study = searched()
        ts.validate_top(study, steady, k=k, seeds=3, rule=rule, confirm=confirm)
        check = seed_check(study)
        assert check.passed and (caveat in check.detail) is said, (k, rule, confirm, check.detail)
        assert ("fresh seeds run after the pick" in check.detail) is False


def test_confirm_must_be_zero_or_at_least_two_and_is_checked_before_any_run() -> None:
    calls, objective = recording()
    study = searched(objective, baseline={"c": "c"})
    searched_calls = len(calls)
    with pytest.raises(ts.ConfigError, match=r"confirm must be 0 or at least 2 .*got confirm=1: pass confirm=3"):
        ts.validate_top(study, objective, k=3, seeds=3, confirm=1)
    for bad in (-1, 2.5, "3"):
        with pytest.raises(ts.ConfigError, match=rf"confirm .*got confirm={re.escape(repr(bad))}"):
            ts.validate_top(study, objective, k=3, seeds=3, confirm=bad)  # type: ignore[arg-type]
    assert len(calls) == searched_calls and "seed_stability" not in study.attrs
    assert not study.attrs["baseline"]["runs"], "not even the baseline ran"


def test_the_baseline_runs_the_selection_seeds_first_and_the_fresh_ones_after_the_winner() -> None:
    calls, objective = recording()
    study = searched(objective, baseline={"c": "c"})
    report = ts.validate_top(study, objective, k=2, seeds=3)
    assert report.winner is not None and report.confirm_seeds == tuple(FRESH)
    winner = report.winner.params["c"]
    assert calls[3:6] == [("c", seed) for seed in SELECTION], "the baseline ran first, on the selection seeds"
    assert calls[-6:] == [(winner, seed) for seed in FRESH] + [("c", seed) for seed in FRESH]


def test_the_fresh_seeds_are_a_phase_of_their_own_with_its_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    def sleepy(trial: ts.Trial) -> dict[str, float]:
        time.sleep(0.02)
        return steady(trial)

    study = searched(sleepy)
    report = ts.validate_top(study, sleepy, k=2, seeds=3, progress=True)
    assert report.winner is not None
    lines = capsys.readouterr().err.splitlines()
    selection = [line for line in lines if line.startswith(f"re-running the top 2 of {study.name} across 3 seeds")]
    assert "6/6 runs, done after" in selection[-1]
    phase = f"re-running the winner #{report.winner.trial} of {study.name} on 3 fresh seeds"
    fresh = [line for line in lines if line.startswith(phase)]
    assert LEFT.search(fresh[0]) and "0/3 runs" in fresh[0], "guessed from the winner's time in the search"
    assert "3/3 runs, done after" in fresh[-1]


def test_the_summary_gives_the_winners_spread_on_the_fresh_seeds() -> None:
    study = searched()
    report = ts.validate_top(study, steady, k=3, seeds=3)
    assert report.confirmation is not None
    confirmation = report.confirmation
    line = f"the winner re-run on 3 fresh seeds after the pick: loss {confirmation.mean:.4g} +- {confirmation.std:.2g}"
    assert line in report.summary().splitlines()


def test_the_confirmation_fields_read_back_typed_and_a_value_without_them_reads_as_before() -> None:
    run = {"candidate": 4, "seed": 11, "state": "complete", "metrics": {"loss": 1.0}, "reason": None}
    entry = {"label": "#4", "trial": 4, "original": 1.0, "values": [1.0, 1.01], "mean": 1.005, "std": 0.007}
    old = {"rule": "lcb", "seeds": [11, 12], "candidates": [entry], "winner": 4, "winner_params": None, "runs": [run]}
    fresh = {"confirm_values": [1.2, 0.8], "confirm_mean": 1.0, "confirm_std": 0.28, "confirm_note": ""}
    new = {**old, "candidates": [{**entry, **fresh}], "confirm_seeds": [13, 14], "confirm_runs": [run, run]}
    read = SeedStabilityAttr.from_json(new)
    confirmed = read.candidate(4)
    assert read.confirm_seeds == (13, 14) and read.confirm_runs == (run, run) and not read.extra
    assert confirmed is not None and confirmed.confirm_values == (1.2, 0.8) and confirmed.confirm_std == 0.28
    assert read.to_json() == new
    before = SeedStabilityAttr.from_json(old)
    assert before.confirm_seeds is None and before.confirm_runs is None and before.to_json() == old
    assert before.candidate(4) is not None and before.candidate(4).confirm_values is None  # type: ignore[union-attr]
