"""A check whose evidence cannot decide says so in the verdict's headline, and what would decide it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline.sequence import recorded_verdict

SPACE = ts.Space({"config": ts.Choice(["a", "b"])})


def correct(hits: int, n: int = 300) -> np.ndarray:
    """``hits`` correct answers out of ``n`` (per-example results)."""
    return np.arange(n) < hits


def test_a_gap_beyond_the_limit_but_within_noise_is_not_shown_ready_and_says_how_much_data_would_decide() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": correct(800 if trial.params["config"] == "a" else 650, 1000)})
    # 4 points below 0.80 on 1,000 examples a side: a gap beyond noise of zero, beyond the limit within noise of it.
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": correct(760, 1000)})
    gap = verdict.check("holdout gap")
    assert gap.passed and gap.checked and not gap.decided and gap.status == "undecided"
    assert "x the validation and holdout examples would decide" in gap.detail
    assert gap.leans and not verdict.ready and verdict.headline.startswith("not shown ready")
    assert "holdout gap - " in verdict.headline  # with its figures and what would decide
    assert study.attrs["verdict"]["status"] == "warn" and study.attrs["verdict"]["ready"] is False
    assert recorded_verdict(study) == verdict  # the stored verdict keeps which checks were undecided and leaned


def test_a_gap_beyond_the_limit_that_is_not_shown_above_zero_leaves_the_winner_ready_undecided() -> None:
    """4 points on 300 examples a side (95% bounds about -1 to +9 points): no gap is shown at all, and which side of
    the limit the estimate falls on is a coin flip, which made 21% of studies with no gap "not shown ready"."""
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": correct(240 if trial.params["config"] == "a" else 200)})
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": correct(228)})  # 4 points below 0.80
    gap = verdict.check("holdout gap")
    assert gap.passed and not gap.decided and not gap.leans, gap.detail
    assert "beyond the limit but within noise of it" in gap.detail
    assert "and no gap at all is shown (it is within noise of 0)" in gap.detail
    assert "x the validation and holdout examples would decide" in gap.detail
    assert verdict.ready and "holdout gap" in verdict.headline


def test_a_gap_within_the_limit_but_within_noise_is_ready_undecided() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": correct(240 if trial.params["config"] == "a" else 200)})
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": correct(237)})  # 1 point below 0.80
    gap = verdict.check("holdout gap")
    assert gap.passed and not gap.decided and not gap.leans
    assert verdict.ready and verdict.headline.startswith("ready (undecided: holdout gap; not checked: ")


def test_a_clear_gap_and_a_gap_within_the_limit_are_decided() -> None:
    # 0.80 on validation: 0.60 on the holdout is beyond the 2-point limit by more than noise; 0.84 is within it by
    # more than noise (upper bound about +1 point). 0.79 on 300 examples would be within the limit, yet undecided.
    for holdout_hits, flagged in ((180, True), (252, False)):
        study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                         storage="memory", seed=0)  # fmt: skip
        study.optimize(lambda trial: {"acc": correct(240 if trial.params["config"] == "a" else 200)})
        gap = ts.finalize(study, lambda params, seed, h=holdout_hits: {"holdout_acc": correct(h)}).check("holdout gap")
        assert gap.decided and gap.passed is not flagged


def test_a_seed_spread_above_the_limit_that_few_seeds_cannot_confirm_is_undecided_and_names_the_seeds_needed() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": 0.8 if trial.params["config"] == "a" else 0.7})
    wobble = iter([0.74, 0.86, 0.80] * 4)

    def rerun(trial: ts.Trial) -> dict[str, Any]:  # spread 7.5% of the mean on 3 seeds: its lower bound is under 5%
        return {"acc": next(wobble) if trial.params["config"] == "a" else 0.6}

    ts.validate_top(study, rerun, k=1, seeds=3)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8})
    seeds = verdict.check("seed stability")
    assert seeds.passed and not seeds.decided and "seeds would decide at this spread" in seeds.detail
    assert seeds.leans and verdict.headline.startswith("not shown ready") and "seed stability - " in verdict.headline


def seed_check_on(name: str, direction: str, accuracies: list[float]) -> ts.discipline.Check:
    """The seed-stability check of a winner re-run with these accuracies, scored as ``name``: accuracy
    itself ("max"), or the error rate 1 - accuracy ("min")."""

    def score(accuracy: float) -> float:
        return accuracy if direction == "max" else 1.0 - accuracy

    study = ts.Study(SPACE, metric=ts.Metric(name, direction), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {name: score(0.96 if trial.params["config"] == "a" else 0.9)})
    runs = iter(accuracies)
    ts.validate_top(study, lambda trial: {name: score(next(runs)) if trial.params["config"] == "a" else 0.5},
                    k=1, seeds=len(accuracies))  # fmt: skip
    return ts.finalize(study, lambda params, seed: {f"holdout_{name}": score(0.95)}).check("seed stability")


def test_seed_spread_reads_an_error_rate_as_it_reads_the_accuracy_it_complements() -> None:
    accuracies = [0.94, 0.95, 0.96, 0.945, 0.955]
    accuracy, error = seed_check_on("acc", "max", accuracies), seed_check_on("error", "min", accuracies)
    assert accuracy.passed and error.passed  # a spread of 0.008 in 0.95, however it is written
    assert accuracy.detail.split("(spread ")[1][:4] == error.detail.split("(spread ")[1][:4] == "0.8%"


def test_a_perfect_per_example_score_still_carries_its_sampling_noise() -> None:
    from tunesmith.discipline.gap import noise_of

    perfect = noise_of({"acc": 1.0, "stderr:acc": 0.0, "count:acc": 150.0}, "acc")
    assert perfect is not None and 0.006 < perfect.stderr < 0.007 and "all alike" in perfect.source
    assert noise_of({"loss": 0.3, "stderr:loss": 0.0, "count:loss": 150.0}, "loss") is None  # unknown, not zero
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=0, baseline={"config": "b"})  # fmt: skip

    def objective(trial: ts.Trial) -> dict[str, Any]:  # 150 of 150 against 149 of 150, on every seed
        return {"acc": correct(150 if trial.params["config"] == "a" else 149, 150)}

    study.optimize(objective)
    ts.validate_top(study, objective, k=1, seeds=5)
    margin = ts.finalize(study, lambda params, seed: {"holdout_acc": correct(150, 150)}).check("baseline margin")
    assert not margin.passed and not margin.decided and "x the validation examples would decide" in margin.detail


def test_a_verdict_goes_stale_when_the_re_runs_or_the_baseline_it_judged_change_and_says_so() -> None:
    from tunesmith.discipline.verdict import stale_note

    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": 0.9 if trial.params["config"] == "a" else 0.8})
    ts.validate_top(study, lambda trial: {"acc": 0.9}, k=1, seeds=3)
    ts.finalize(study, lambda params, seed: {"holdout_acc": 0.9})
    assert stale_note(study.attrs, study.trials) is None
    with pytest.warns(ts.study.HoldoutSpentWarning, match="validate_top ran after the study's verdict"):
        ts.validate_top(study, lambda trial: {"acc": 0.5 + 0.1 * (trial.seed % 7)}, k=1, seeds=3)
    note = stale_note(study.attrs, study.trials)
    assert note is not None and "the seed re-runs (validate_top) it judged changed since" in note
    with pytest.warns(ts.study.HoldoutSpentWarning, match="evaluate_baseline ran after"):
        ts.evaluate_baseline(study, lambda trial: {"acc": 0.7}, {"config": "b"}, seeds=2)
    assert "the baseline runs it judged changed since" in (stale_note(study.attrs, study.trials) or "")


def test_a_multi_objective_verdict_goes_stale_when_the_choice_moves() -> None:
    from tunesmith.discipline.verdict import stale_note

    space = ts.Space({"size": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metrics=[ts.Metric("error", "min"), ts.Metric("latency_ms", "min")],
                     budget=ts.Budget(trials=12), storage="memory", seed=0)  # fmt: skip
    study.optimize(
        lambda trial: {"error": 0.3 - 0.2 * trial.params["size"], "latency_ms": 10 + 40 * trial.params["size"]}
    )
    judged = study.choose(ts.choose.best("error"))
    ts.finalize(study, lambda params, seed: {"holdout_error": 0.2})
    with pytest.warns(ts.study.HoldoutSpentWarning, match="study.choose, picking another trial than the one judged"):
        moved = study.choose(ts.choose.best("latency_ms"))
    assert moved.number != judged.number
    note = stale_note(study.attrs, study.trials)
    assert (
        note is not None
        and f"the recorded choice is now trial #{moved.number}, not the judged #{judged.number}" in note
    )


def two_objectives(trials: int) -> ts.Study:
    space = ts.Space({"size": ts.Float(0.0, 1.0)})
    return ts.Study(space, metrics=[ts.Metric("error", "min"), ts.Metric("latency_ms", "min")],
                    budget=ts.Budget(trials=trials), storage="memory", seed=0)  # fmt: skip


def test_a_choice_dominated_by_trials_run_since_fails_the_front_check_and_an_invalidated_one_is_named() -> None:
    def measured(error: float, latency: float) -> dict[str, list[float]]:  # per example: the noise is known
        return {"error": [error - 0.001, error + 0.001], "latency_ms": [latency - 0.1, latency + 0.1]}

    study = two_objectives(8)
    study.optimize(lambda trial: measured(0.3 - 0.2 * trial.params["size"], 10 + 40 * trial.params["size"]))
    chosen = study.choose(ts.choose.knee())
    study.extend_budget(trials=10)
    # the same size, now better and 5 ms faster: it dominates
    study.enqueue({"size": chosen.params["size"]}, repeat=True)
    study.optimize(lambda trial: measured(0.29 - 0.2 * trial.params["size"], 5 + 40 * trial.params["size"]))
    with pytest.raises(ts.ConfigError) as refused:  # refused before the holdout opens: no score could make it ready
        ts.finalize(study, lambda params, seed: {"holdout_error": 0.2})
    said = str(refused.value)
    assert "Pareto front check fails on it whatever the holdout scores; the holdout was not opened" in said
    assert "is dominated by #" in said and "choose again" in said
    study.invalidate(chosen.number, reason="leak found")
    with pytest.raises(ts.ConfigError, match=rf"recorded choice .* trial #{chosen.number}, was invalidated since"):
        ts.validate_top(study, lambda trial: {"error": 0.1, "latency_ms": 10.0})


def test_a_verdict_on_a_trial_other_than_the_re_run_winner_reads_its_own_re_runs_and_is_not_stale_at_once() -> None:
    from tunesmith.discipline.verdict import stale_note

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"), sampler="random",
                     budget=ts.Budget(trials=4), storage="memory", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"acc": 0.8 + 0.1 * trial.params["x"]})
    report = ts.validate_top(study, lambda trial: {"acc": 0.8 + 0.1 * trial.params["x"]}, k=2, seeds=3)
    assert report.winner is not None
    study.invalidate(report.winner.trial, reason="leak found")
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.85})
    runner_up = next(c for c in report.candidates if c.trial != report.winner.trial)
    assert verdict.trial == runner_up.trial
    seeds = verdict.check("seed stability")
    assert seeds.passed and seeds.checked and "over 3 seeds" in seeds.detail  # its own three re-runs
    assert stale_note(study.attrs, study.trials) is None


def test_a_front_choice_made_after_the_re_runs_is_not_checked_for_seeds_and_the_verdict_is_current() -> None:
    from tunesmith.discipline.verdict import stale_note

    study = two_objectives(12)
    study.optimize(
        lambda trial: {"error": 0.3 - 0.2 * trial.params["size"], "latency_ms": 10 + 40 * trial.params["size"]}
    )
    first = study.choose(ts.choose.best("error"))
    ts.validate_top(study, lambda trial: {"error": 0.1, "latency_ms": 40.0}, seeds=3)
    second = study.choose(ts.choose.best("latency_ms"))
    assert second.number != first.number
    verdict = ts.finalize(study, lambda params, seed: {"holdout_error": 0.2})
    seeds = verdict.check("seed stability")
    assert not seeds.checked and f"the judged trial #{second.number}" in seeds.detail and "validate_top" in seeds.detail
    assert stale_note(study.attrs, study.trials) is None
