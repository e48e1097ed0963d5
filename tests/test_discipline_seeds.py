"""Seed stability, the baseline, guardrails, proxy overfitting, slices and shifted data in the verdict."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline import (
    brier_score,
    calibration,
    expected_calibration_error,
    latency,
    peak_memory,
    proxy_overfitting,
    seeds,
    slice_metrics,
)

KINDS = ts.Space({"config": ts.Choice(["fragile", "stable", "decent"])})


def searched(values: dict[str, dict[str, float]], guardrails: tuple[ts.Guardrail, ...] = (), **kwargs: Any) -> ts.Study:
    """A study whose search saw ``values`` for each configuration (a grid, so each runs once)."""
    study = ts.Study(KINDS, metric=ts.Metric("acc", "max"), guardrails=guardrails, sampler="grid",
                     budget=ts.Budget(trials=len(values)), storage="memory", seed=7, **kwargs)  # fmt: skip
    study.optimize(lambda trial: values[trial.params["config"]])
    return study


def lucky_on_one_seed(trial: ts.Trial) -> dict[str, float]:
    """The "fragile" configuration shines on the first validation seed only; "stable" is good on all."""
    first = seeds.seed_list(7, 5)[0]
    noise = np.random.default_rng(trial.seed).normal(0, 0.003)
    if trial.params["config"] == "fragile":
        return {"acc": 0.97 if trial.seed == first else 0.55}
    if trial.params["config"] == "stable":
        return {"acc": 0.90 + noise}
    return {"acc": 0.86 + noise}


def hits(correct: int, n: int = 200) -> np.ndarray:
    """Per-example results: ``correct`` of ``n`` right."""
    return np.arange(n) < correct


SEARCH = {"fragile": {"acc": 0.97}, "stable": {"acc": 0.90}, "decent": {"acc": 0.86}}


def test_a_configuration_best_on_one_seed_and_bad_on_others_is_not_picked() -> None:
    study = searched(SEARCH)
    assert study.best is not None and study.best.params["config"] == "fragile"
    report = ts.validate_top(study, lucky_on_one_seed, k=3, seeds=5)
    assert report.winner is not None and report.winner.params["config"] == "stable"
    assert report.changes_across_seeds and report.overturned
    assert report.rule is seeds.Rule.LCB
    fragile = next(c for c in report.candidates if c.params["config"] == "fragile")
    assert max(fragile.values) == 0.97 and fragile.std > 0.1
    stored = study.attrs["seed_stability"]
    assert len(stored["runs"]) == 15 and stored["winner"] == report.winner.trial
    assert {c["label"] for c in stored["candidates"]} == {f"#{r.number}" for r in study.trials}
    assert len(study.trials) == 3  # re-runs are not trials: they spend no budget and never become best


def test_finalize_scores_the_seed_stability_winner() -> None:
    study = searched(SEARCH)
    report = ts.validate_top(study, lucky_on_one_seed, k=3, seeds=5)
    opened: list[dict[str, Any]] = []

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, float]:
        opened.append(params)
        return {"holdout_acc": 0.899}

    verdict = ts.finalize(study, evaluate)
    assert opened == [{"config": "stable"}] and verdict.trial == report.winner.trial  # type: ignore[union-attr]
    assert verdict.check("seed stability").passed and "overturned" in verdict.check("seed stability").detail
    assert verdict.check("holdout gap").passed


def test_every_rule_is_stated_and_failed_runs_are_kept() -> None:
    study = searched(SEARCH)

    def sometimes_crashes(trial: ts.Trial) -> dict[str, float]:
        if trial.params["config"] == "decent" and trial.seed == seeds.seed_list(7, 3)[1]:
            raise RuntimeError("CUDA error")
        return lucky_on_one_seed(trial)

    report = ts.validate_top(study, sometimes_crashes, k=3, seeds=3, rule="worst")
    decent = next(c for c in report.candidates if c.params["config"] == "decent")
    assert not decent.eligible and "CUDA error" in decent.note
    assert any(
        run["state"] == "failed" and "CUDA error" in run["reason"] for run in study.attrs["seed_stability"]["runs"]
    )
    assert report.rule is seeds.Rule.WORST and "worst" in report.summary()
    with pytest.raises(ts.ConfigError, match="rule"):
        ts.validate_top(study, lucky_on_one_seed, rule="median")
    with pytest.raises(ts.ConfigError, match="seeds"):
        ts.validate_top(study, lucky_on_one_seed, seeds=1)


def test_a_declared_baseline_runs_before_the_re_runs_and_a_winner_within_seed_noise_is_not_ready() -> None:
    order: list[str] = []

    def objective(trial: ts.Trial) -> dict[str, float]:
        order.append(trial.params["config"])
        return {"acc": 0.90 + np.random.default_rng(trial.seed).normal(0, 0.01)}

    study = ts.Study(KINDS, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=3),
                     storage="memory", seed=7, baseline={"config": "decent"})  # fmt: skip
    study.optimize(objective)
    assert len(order) == 3 and not study.attrs["baseline"]["runs"], "the search itself never runs the baseline"
    ts.validate_top(study, objective, k=2, seeds=5)
    # then the winner and the baseline on 5 fresh seeds
    assert order[3:8] == ["decent"] * 5 and len(order) == 3 + 5 + 2 * 5 + 5 + 5 and order[-5:] == ["decent"] * 5
    baseline = study.attrs["baseline"]
    assert len(baseline["values"]) == 5 + 5 and baseline["std"] > 0
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.905})
    margin = verdict.check("baseline margin")
    # The two score alike on every shared seed and carry no per-example values: no noise is known, so it fails
    # for want of evidence, not as shown worse.
    assert not margin.passed and not margin.decided and "no noise is known" in margin.detail and not verdict.ready
    assert "(confirmation mean over 5 fresh seeds after the pick)" in margin.detail  # not the runs that picked it


def test_a_winner_that_clearly_beats_the_baseline_passes_the_margin() -> None:
    study = searched(SEARCH)
    ts.evaluate_baseline(study, lucky_on_one_seed, {"config": "decent"}, seeds=5)
    ts.validate_top(study, lucky_on_one_seed, k=3, seeds=5)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.9})
    assert verdict.check("baseline margin").passed


def test_a_winner_that_breaches_a_guardrail_is_never_reported_as_best() -> None:
    guard = (ts.Guardrail("latency_ms", "<=", 10.0),)
    search = {"fragile": {"acc": 0.97, "latency_ms": 25.0}, "stable": {"acc": 0.90, "latency_ms": 9.5},
              "decent": {"acc": 0.86, "latency_ms": 5.0}}  # fmt: skip
    study = searched(search, guardrails=guard)
    assert study.best is not None and study.best.params["config"] == "stable"
    assert next(r for r in study.trials if r.params["config"] == "fragile").state is ts.TrialState.INFEASIBLE

    def rerun(trial: ts.Trial) -> dict[str, float]:  # "stable" was lucky on latency in the search
        return {**search[trial.params["config"]], "latency_ms": 12.0 if trial.params["config"] == "stable" else 5.0}

    report = ts.validate_top(study, rerun, k=3, seeds=3)
    assert report.winner is not None and report.winner.params["config"] == "decent"
    stable = next(c for c in report.candidates if c.params["config"] == "stable")
    assert not stable.eligible and "latency_ms <= 10" in stable.note
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.86, "latency_ms": 14.0})
    assert not verdict.check("guardrails").passed and "breached on the holdout" in verdict.check("guardrails").detail


def test_a_collapsing_slice_makes_the_verdict_not_ready() -> None:
    study = searched(SEARCH)

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, float]:
        per_slice = {"day": hits(186), "dusk": hits(184), "night": hits(110)}  # of 200: 0.93, 0.92, 0.55
        return {"holdout_acc": 0.89, **{f"slice:{name}:holdout_acc": v for name, v in per_slice.items()}}

    ts.validate_top(study, lucky_on_one_seed, k=2, seeds=3)
    verdict = ts.finalize(study, evaluate)
    worst = verdict.check("worst slice")
    assert not worst.passed and "'night'" in worst.detail and not verdict.ready
    assert verdict.summary().startswith("not ready") and "worst slice" in verdict.summary().splitlines()[0]
    assert study.attrs["holdout"]["slices"]["night"] == 0.55
    assert "bounds at 2.13 standard errors" in worst.detail  # the worst of three slices: one-sided 5% over three


def test_a_slice_below_the_average_by_its_noise_alone_is_not_a_collapse_and_scalar_slices_are_undecided() -> None:
    study = searched(SEARCH)
    equal = {"day": hits(20, 200), "dusk": hits(19, 200), "night": hits(12, 200)}  # error rates: one true 0.085
    per_slice = {f"slice:{name}:holdout_acc": 1 - v.astype(float) for name, v in equal.items()}
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.89, **per_slice})
    assert verdict.check("worst slice").passed  # 6 vs 9.3 points of error: within three slices' noise
    scalar = searched(SEARCH)
    verdict = ts.finalize(scalar, lambda params, seed: {"holdout_acc": 0.89, **slice_metrics("holdout_acc", {
        "day": 0.93, "night": 0.55})})  # fmt: skip
    worst = verdict.check("worst slice")
    assert worst.passed and not worst.decided and "mean only" in worst.detail and "per-example values" in worst.detail


def test_slices_reported_by_the_objective_are_checked_when_the_holdout_has_none() -> None:
    study = searched(SEARCH)

    def objective(trial: ts.Trial) -> dict[str, Any]:
        result = lucky_on_one_seed(trial)
        right = round(result["acc"] * 200)  # per-example slices: their own noise, beside the spread across seeds
        return {**result, **slice_metrics("acc", {"old": hits(right), "new": hits(right // 2)})}

    ts.validate_top(study, objective, k=2, seeds=3)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.9})
    assert not verdict.check("worst slice").passed and "validation, across seeds" in verdict.check("worst slice").detail


def test_a_drop_on_shifted_data_is_flagged() -> None:
    study = searched(SEARCH)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": hits(388, 400)},
                             shifted=lambda params, seed: {"holdout_acc": hits(320, 400)})  # fmt: skip
    shifted = verdict.check("shifted data")
    assert not shifted.passed and "0.8 vs holdout 0.97" in shifted.detail and "beyond noise" in shifted.detail
    fine = searched(SEARCH)
    kept = ts.finalize(
        fine, lambda params, seed: {"holdout_acc": hits(388, 400), "shifted:holdout_acc": hits(386, 400)}
    )
    assert kept.check("shifted data").passed and kept.check("shifted data").checked
    noisy = searched(SEARCH)  # 6 points worse on 100 examples: beyond the 5-point limit, within the noise
    unsure = ts.finalize(
        noisy, lambda params, seed: {"holdout_acc": hits(90, 100), "shifted:holdout_acc": hits(84, 100)}
    )
    check = unsure.check("shifted data")
    assert check.passed and not check.decided and "x the examples would decide" in check.detail
    scalar = ts.finalize(searched(SEARCH), lambda params, seed: {"holdout_acc": 0.97, "shifted:holdout_acc": 0.5})
    assert not scalar.check("shifted data").decided  # no noise known: it cannot tell, and says what to return


def test_proxy_overfitting_is_detected_when_calibration_degrades_as_the_metric_improves() -> None:
    space = ts.Space({"capacity": ts.Float(0.0, 1.0)})

    def objective(trial: ts.Trial) -> dict[str, float]:
        c = trial.params["capacity"]
        return {"auc": 0.8 + 0.15 * c, "ece": 0.02 + 0.2 * c**2}

    study = ts.Study(space, metric=ts.Metric("auc", "max"), sampler="random", budget=ts.Budget(trials=30),
                     storage="memory", seed=1)  # fmt: skip
    study.optimize(objective)
    findings = proxy_overfitting(study.trials, study.metric)
    assert [f.metric for f in findings] == ["ece"] and findings[0].correlation > 0.9
    verdict = ts.finalize(study, lambda params, seed: {"holdout_auc": objective_value(params)})
    assert not verdict.check("proxy overfitting").passed
    steady = [r.evolve(metrics={**r.metrics, "ece": 0.05}) for r in study.trials]
    assert proxy_overfitting(steady, study.metric) == []


def test_proxy_overfitting_shares_its_level_among_the_metrics_it_watches_and_says_when_it_compared_none() -> None:
    from tunesmith.discipline.guardrails import proxy_scan

    auc = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    ece = [0.5, 0.6, 0.3, 0.4, 0.1, 0.2]  # worse as auc improves, two swaps: Spearman 0.83, one-sided p 0.02

    def records(extra: dict[str, list[float]]) -> list[ts.TrialRecord]:
        return [ts.TrialRecord(i, {"x": float(i)}, i, ts.TrialState.COMPLETE,
                               {"auc": auc[i], "ece": ece[i], **{k: v[i] for k, v in extra.items()}})
                for i in range(6)]  # fmt: skip

    alone = proxy_scan(records({}), ts.Metric("auc", "max"))
    assert alone.compared == ("ece",) and [f.metric for f in alone.findings] == ["ece"]
    unrelated = {"brier": [0.3, 0.1, 0.2, 0.6, 0.4, 0.5], "log_loss": [0.2, 0.5, 0.1, 0.3, 0.6, 0.4]}
    watched = proxy_scan(records(unrelated), ts.Metric("auc", "max"))
    assert watched.compared == ("ece", "brier", "log_loss") and watched.findings == []  # 0.02 > 5% / 3
    lonely = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("auc", "max"), budget=ts.Budget(trials=3),
                      storage="memory", seed=0)  # fmt: skip
    lonely.optimize(lambda trial: {"auc": trial.params["x"], "ece": 1 - trial.params["x"]})
    check = ts.finalize(lonely, lambda params, seed: {"holdout_auc": 0.5}).check("proxy overfitting")
    assert not check.checked and "nothing to compare" in check.detail


def test_a_guardrail_on_another_objective_is_the_front_not_proxy_overfitting() -> None:
    space = ts.Space({"size": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metrics=[ts.Metric("error", "min"), ts.Metric("latency_ms", "min")],
                     guardrails=[ts.Guardrail("latency_ms", "<=", 60.0)], budget=ts.Budget(trials=30), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(
        lambda trial: {"error": 0.3 - 0.2 * trial.params["size"], "latency_ms": 10 + 40 * trial.params["size"]}
    )
    study.choose(ts.choose.knee())
    check = ts.finalize(study, lambda params, seed: {"holdout_error": 0.2}).check("proxy overfitting")
    assert check.passed and not check.checked and "latency_ms is an objective" in check.detail


def bigger_errs_less(guardrails: list[ts.Guardrail], cost: str = "mem_mb", ece_slope: float = 0.0) -> ts.Study:
    """24 random trials whose error falls as ``cost`` rises with the model's size, within the guardrails' bound,
    while ``val_ece`` rises by ``ece_slope`` over the sizes (with 0 it does not vary, and is not compared)."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        size = trial.params["size"]
        return {"error": 0.3 - 0.2 * size, cost: 50.0 + 300.0 * size, "val_ece": 0.02 + ece_slope * size}

    study = ts.Study(ts.Space({"size": ts.Float(0.0, 1.0)}), metric=ts.Metric("error", "min"), guardrails=guardrails,
                     sampler="random", budget=ts.Budget(trials=24), storage="memory", seed=0)  # fmt: skip
    study.optimize(objective)
    return study


def cost_check(study: ts.Study) -> ts.discipline.Check:
    return ts.finalize(study, lambda params, seed: {"holdout_error": 0.15}).check("proxy overfitting")


@pytest.mark.parametrize(
    ("name", "exact"),
    [("mem_mb", True), ("n_layers", True), ("latency_p95_ms", False), ("peakMemory", False), ("model_size", False),
     ("n_params", False)],
)  # fmt: skip
def test_a_held_guardrail_on_a_cost_is_a_trade_off_the_study_accepted_not_proxy_overfitting(
    name: str, exact: bool
) -> None:
    """A bigger model errs less and uses more memory: the bound the user set accepts that trade-off, and it held, yet
    the verdict called it proxy overfitting and offered to tighten the bound or take a trial the rule did not pick."""
    study = bigger_errs_less([ts.Guardrail(name, "<=", 400.0, exact=exact)], cost=name)
    check = cost_check(study)
    assert check.passed, check.detail
    why = "declared exact" if exact else "its name reads as time, memory, size or compute"
    assert f"{name} <= 400 bounds a cost ({why}), not a proxy: across " in check.detail
    assert f"{name} gets worse as error improves" in check.detail and "tighten the guardrail" not in check.detail


def test_calibration_that_degrades_fails_the_check_beside_a_cost_it_does_not_watch() -> None:
    """A guardrail on calibration stays a proxy, declared exact or not: AUC improves but calibration degrades."""
    guardrails = [ts.Guardrail("mem_mb", "<=", 400.0, exact=True), ts.Guardrail("val_ece", "<=", 0.5, exact=True)]
    check = cost_check(bigger_errs_less(guardrails, ece_slope=0.1))
    assert not check.passed and check.decided
    assert check.detail.startswith("across the best 6 trials, val_ece gets worse as error improves"), check.detail
    assert "tighten the guardrail val_ece <= 0.5" in check.detail and "tighten the guardrail mem_mb" not in check.detail
    assert "mem_mb <= 400 bounds a cost (declared exact), not a proxy" in check.detail


def test_a_cost_named_in_watch_against_its_guardrail_is_refused_with_the_direction_to_watch_it() -> None:
    study = bigger_errs_less([ts.Guardrail("mem_mb", "<=", 400.0, exact=True)])
    with pytest.raises(ts.ConfigError, match=r"watch it the way its guardrail bounds it: ts.Metric\('mem_mb', 'min'\)"):
        ts.finalize(study, lambda params, seed: {"holdout_error": 0.15}, watch=[ts.Metric("mem_mb", "max")])


def objective_value(params: dict[str, Any]) -> float:
    return 0.8 + 0.15 * params["capacity"]


def test_calibration_helpers_agree_with_scikit_learn() -> None:
    from sklearn.metrics import brier_score_loss
    from sklearn.metrics import log_loss as sk_log_loss

    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, 400)
    y = (rng.uniform(size=400) < p).astype(int)
    assert brier_score(y, p) == pytest.approx(2 * brier_score_loss(y, p))  # multi-class form counts both classes
    assert calibration(y, p)["log_loss"] == pytest.approx(sk_log_loss(y, p))
    assert expected_calibration_error(y, p) < 0.08
    overconfident = np.where(p > 0.5, 0.999, 0.001)
    assert expected_calibration_error(y, overconfident) > 0.15
    with pytest.raises(ts.ConfigError, match="y_true"):
        brier_score(np.array([0.5, 1.0]), np.array([0.2, 0.3]))


def test_latency_and_peak_memory_measure_the_call() -> None:
    timing = latency(time.sleep, 0.002, repeats=10, warmup=1)
    assert 1.5 <= timing.median_ms <= timing.p95_ms < 200 and timing.calls == 10
    result, peak = peak_memory(lambda: np.ones(4 * 2**20 // 8).sum())
    assert result == 4 * 2**20 // 8 and 3.5 < peak < 64


def test_a_candidate_beaten_on_every_seed_never_wins_on_its_steadiness() -> None:
    # B ties itself on both seeds (spread 0, no margin); A beats it on each. The lower bound alone picks B.
    space = ts.Space({"model": ts.Choice(["A", "B"])})

    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"acc": (0.95 if trial.seed % 2 else 0.85) if trial.params["model"] == "A" else 0.82}

    study = ts.Study(space, metric=ts.Metric("acc", "max"), sampler="grid", storage="memory", seed=0)
    study.optimize(objective, n_trials=2)
    report = ts.validate_top(study, objective, k=2, seeds=2)
    a, b = sorted(report.candidates, key=lambda c: c.params["model"])
    assert sorted(a.values) == [0.85, 0.95] and b.score > a.score, "the seeds split A, and B's bound is higher"
    assert report.winner is not None and report.winner.params == {"model": "A"}
    assert f"left out: beaten on every seed by #{a.trial}" in report.summary()
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.9})
    assert "the winner is the best candidate on every seed" in verdict.check("seed stability").detail


def test_a_candidate_tied_on_most_seeds_is_not_said_to_be_beaten_on_every_seed() -> None:
    """Counts of right answers tie often: B matched A on four of five seeds and beat it by one example on the
    fifth. A is left out (on no seed did it do better), but the summary said "beaten on every seed"."""
    space = ts.Space({"model": ts.Choice(["A", "B"])})
    lucky: list[int] = []  # the one seed B gains an example on: the first it runs

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.params["model"] == "B" and not lucky:
            lucky.append(trial.seed)
        return {"acc": 0.81 if trial.params["model"] == "B" and trial.seed in lucky else 0.80}

    study = ts.Study(space, metric=ts.Metric("acc", "max"), sampler="grid", storage="memory", seed=0)
    study.optimize(objective, n_trials=2)
    lucky.clear()
    report = ts.validate_top(study, objective, k=2, seeds=5)
    a, b = sorted(report.candidates, key=lambda c: c.params["model"])
    assert sum(x < y for x, y in zip(a.values, b.values, strict=True)) == 1 and report.winner is not None
    assert report.winner.trial == b.trial
    summary = report.summary()
    assert "beaten on every seed" not in summary
    assert f"left out: #{b.trial} matched it on 4 of the 5 seeds and beat it on 1, so it was better on none" in summary


def test_evaluate_baseline_runs_the_seeds_it_is_given_and_else_the_declared_number() -> None:
    calls: list[int] = []

    def objective(trial: ts.Trial) -> dict[str, float]:
        calls.append(trial.seed)
        return {"acc": 0.9}

    study = ts.Study(KINDS, metric=ts.Metric("acc", "max"), storage="memory", seed=0, baseline={"config": "decent"})
    study.declare_baseline({"config": "decent"}, seeds=3)
    assert len(ts.evaluate_baseline(study, objective).runs) == 3, "without a number, the declared one"
    assert len(ts.evaluate_baseline(study, objective, seeds=2).runs) == 2 and len(calls) == 3 + 2


def test_a_tie_on_one_seed_does_not_read_as_the_best_candidate_changing_across_seeds() -> None:
    """#1 beats #0 on two seeds and ties it on the third: it is beaten on no seed, so the report must not
    say the best candidate changes across seeds (it once listed #0 as the third seed's best by rank)."""
    from tunesmith.discipline._reruns import seed_list

    seeds = seed_list(0, 3)
    rerun = {"a": [0.91, 0.92, 0.90], "b": [0.93, 0.94, 0.90]}

    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.seed in seeds:
            return {"acc": rerun[trial.params["c"]][seeds.index(trial.seed)]}
        return {"acc": {"a": 0.95, "b": 0.94}[trial.params["c"]]}  # the search ranks a first

    study = ts.Study(ts.Space({"c": ts.Choice(["a", "b"])}), metric=ts.Metric("acc", "max"), sampler="grid",
                     budget=ts.Budget(trials=2), storage="memory", seed=0)  # fmt: skip
    study.optimize(objective)
    report = ts.validate_top(study, objective, k=2, seeds=3)
    assert report.winner is not None and report.winner.params == {"c": "b"}
    assert not report.changes_across_seeds and set(report.per_seed_winners) == {report.winner.trial}
    assert "the winner is the best candidate on every seed" in report.summary()
    assert "changes across seeds" not in report.summary()


def test_failed_baseline_runs_are_warned_about_and_named_in_the_margin() -> None:
    from tunesmith.discipline.baseline import BaselineFailuresWarning

    study = searched(SEARCH)
    calls: list[int] = []

    def mostly_nan(trial: ts.Trial) -> dict[str, float]:
        calls.append(trial.seed)
        return {"acc": 0.86 if len(calls) == 1 else float("nan")}

    with pytest.warns(BaselineFailuresWarning, match="4 of 5 baseline runs failed .* seed spread is unknown"):
        baseline = ts.evaluate_baseline(study, mostly_nan, {"config": "decent"}, seeds=5)
    assert baseline.std is None and study.attrs["baseline"].get("std") is None, "one value has no spread, not 0"
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.9})
    margin = verdict.check("baseline margin")
    assert "baseline 0.86 (on 1 of 5 seeds: 4 failed; its seed spread unknown)" in margin.detail


def test_a_baseline_whose_every_run_failed_says_how_to_replace_it() -> None:
    study = searched(SEARCH)
    with pytest.raises(ts.TunesmithError, match=r"every baseline run failed \(3 of 3 seeds.*ts.evaluate_baseline"):
        ts.evaluate_baseline(study, lambda trial: {"acc": float("nan")}, {"config": "decent"}, seeds=3)


def test_the_summary_prints_each_candidates_search_value_in_full_not_cut_to_six_characters() -> None:
    """`f"{original!s:.6}"` printed a loss of 1.0014e-05 as "1.0014", off by 10^5 from what was recorded."""
    space = ts.Space({"x": ts.Float(0.0, 1.0)})

    def objective(trial: ts.Trial) -> dict[str, float]:
        noise = np.random.default_rng(trial.seed).normal(0, 1e-7)
        return {"val_loss": 1e-5 * (1 + trial.params["x"]) + noise}

    study = ts.Study(space, metric=ts.Metric("val_loss", "min"), budget=ts.Budget(trials=6), storage="memory",
                     seed=0)  # fmt: skip
    study.optimize(objective)
    report = ts.validate_top(study, objective, k=2, seeds=3)
    for candidate in report.candidates:
        assert candidate.original is not None and f"(search {candidate.original:.4g};" in report.summary()
        assert 1e-5 < candidate.original < 3e-5


def test_a_declared_baseline_run_by_validate_top_gets_the_very_seeds_the_candidates_get() -> None:
    """The guide says so; the baseline ran its declared 5 seeds beside candidates on 3, and the margin compared
    means over different seed sets."""
    from tunesmith.attributes import BaselineAttr, read_attr

    space = ts.Space({"x": ts.Float(0.0, 1.0)})

    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"loss": (trial.params["x"] - 0.3) ** 2 + (trial.seed % 100) / 1e4}

    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=6), storage="memory", seed=0, baseline={"x": 0.5})
    study.optimize(objective)
    report = ts.validate_top(study, objective, k=2, seeds=3)
    baseline = read_attr(study.attrs, BaselineAttr)
    assert baseline is not None and tuple(baseline.seeds or ())[:3] == report.seeds, "then the winner's fresh seeds"


def test_the_baseline_margin_pairs_seeds_so_a_gain_steady_across_noisy_seeds_passes() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:  # each seed moves both alike by far more than the gain
        shared = np.random.default_rng(trial.seed).normal(0, 0.05)
        own = np.random.default_rng([trial.seed, ["stable", "fragile", "decent"].index(trial.params["config"])])
        own = own.normal(0, 0.002)
        gain = {"stable": 0.03, "fragile": 0.0, "decent": 0.0}[trial.params["config"]]
        return {"acc": 0.80 + gain + shared + own}

    study = ts.Study(KINDS, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=3),
                     storage="memory", seed=7, baseline={"config": "decent"})  # fmt: skip
    study.optimize(objective)
    report = ts.validate_top(study, objective, k=1, seeds=5)
    assert report.winner is not None and report.winner.params["config"] == "stable"
    assert float(study.attrs["baseline"]["std"]) > 0.03  # the unpaired means cannot tell 0.03 from seed noise
    margin = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.83}).check("baseline margin")
    assert margin.passed and margin.decided and "on 5 paired seeds the winner gains 0.02" in margin.detail


def test_the_baseline_margin_allows_for_picking_the_best_of_several_candidates() -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:  # nothing beats the baseline: each seed is luck
        which = ["stable", "fragile", "decent"].index(trial.params["config"])
        return {"acc": 0.80 + np.random.default_rng([trial.seed, which]).normal(0, 0.01)}

    study = ts.Study(KINDS, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=3),
                     storage="memory", seed=7, baseline={"config": "decent"})  # fmt: skip
    study.optimize(objective)
    ts.validate_top(study, objective, k=3, seeds=5, confirm=0)  # no fresh seeds: the pairs are the selection's
    margin = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8}).check("baseline margin")
    assert "(one-sided t-test at 1.67% for the best of 3 candidates)" in margin.detail


def test_runs_that_all_recorded_one_value_average_to_it_with_no_spread() -> None:
    # Six runs of 0.9875 averaged 0.9874999999999999 +- 1.2e-16: the report printed "mean 0.987 +- 1.22e-16" for the
    # baseline beside a best of 0.988, the same value.
    from tunesmith.discipline._reruns import mean_and_sd

    assert mean_and_sd([0.9875] * 6) == (0.9875, 0.0)
    assert mean_and_sd([0.1, 0.2, 0.3]) == (pytest.approx(0.2), pytest.approx(0.1))
    assert mean_and_sd([0.4]) == (0.4, 0.0)
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"), storage="memory", seed=0)
    baseline = ts.evaluate_baseline(study, lambda trial: {"acc": 0.9875}, {"x": 0.5}, seeds=6, progress=False)
    assert (baseline.mean, baseline.std) == (0.9875, 0.0)


def test_a_k_beyond_the_studys_distinct_configurations_re_runs_them_all_and_says_how_many_were_asked() -> None:
    study = searched(SEARCH)
    report = ts.validate_top(study, lucky_on_one_seed, k=10, seeds=3)
    assert len(report.candidates) == 3 and report.asked == 10
    assert "10 were asked for: the study has no other distinct completed configuration" in report.summary()
    exact = ts.validate_top(study, lucky_on_one_seed, k=3, seeds=3)
    assert exact.asked is None and "asked for" not in exact.summary()
