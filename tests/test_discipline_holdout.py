"""The locked holdout: opened once, the gap flagged, optimism estimated, the verdict recorded for the report."""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.discipline import HoldoutOpened, estimate_optimism, fold_metrics
from tunesmith.errors import ConfigError
from tunesmith.report import plots

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def true_accuracy(params: dict[str, Any]) -> float:
    return 0.80 + 0.02 * params["x"]


def split_noise(params: dict[str, Any]) -> float:
    """Fixed per configuration, as the luck of one validation split is."""
    return float(np.random.default_rng(zlib.crc32(json.dumps(params).encode())).normal(0.0, 0.03))


def noisy_objective(trial: ts.Trial) -> dict[str, float]:
    return {"acc": true_accuracy(trial.params) + split_noise(trial.params)}


def holdout(params: dict[str, Any], seed: int) -> dict[str, float]:
    return {"holdout_acc": true_accuracy(params)}


def tuned(trials: int = 150, storage: str = "memory", name: str | None = None) -> ts.Study:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=trials),
                     storage=storage, name=name, seed=3)  # fmt: skip
    study.optimize(noisy_objective)
    return study


def per_example_objective(trial: ts.Trial) -> dict[str, Any]:
    """Correct/incorrect on 300 validation examples, the same draw for a configuration every time."""
    rng = np.random.default_rng(zlib.crc32(json.dumps(trial.params).encode()))
    return {"acc": rng.random(300) < true_accuracy(trial.params)}


def per_example_holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": np.random.default_rng(seed).random(2000) < true_accuracy(params)}


def leaked_holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    """The holdout of a validation split easier than the world by 8 points (a leak)."""
    return {"holdout_acc": np.random.default_rng(seed).random(2000) < true_accuracy(params) - 0.08}


def test_the_gap_that_choosing_among_many_trials_explains_is_expected_not_overfitting() -> None:
    # 150 configurations within 2 points of each other on one split of 300 examples: the best validation score
    # is the luckiest draw, several points above its truth. The holdout takes that back, as the optimism
    # estimate says it will; failing it as overfitting failed a third of the studies with nothing to find.
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=150),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(per_example_objective)
    assert study.best is not None and study.best.metrics["count:acc"] == 300 and "stderr:acc" in study.best.metrics
    verdict = ts.finalize(study, per_example_holdout)
    gap = verdict.check("holdout gap")
    # +0.7 points beyond what selection explains, +- 2.4 on 300 validation examples: within the 2-point limit, but
    # its upper bound is not, so the check passes undecided (the burden of proof is on a failure).
    assert gap.passed and "within the limit" in gap.detail, gap.detail
    assert "is expected from choosing among 150 configurations" in gap.detail
    assert "points" in gap.detail and "300 examples" in gap.detail and "2000 examples" in gap.detail
    stored = study.attrs["holdout"]
    assert not stored["flagged"] and stored["gap"] > 0.02 and stored["threshold"] == 0.02
    assert 0.02 < stored["gap_expected"] <= stored["gap"] + 0.02
    assert stored["gap_units"] == "points" and 0 < stored["gap_stderr"] < 0.03
    optimism = study.attrs["optimism"]
    assert optimism["compared"] == 150 and optimism["method"] == "per-example noise"
    true_optimism = stored["rows"][0]["validation"] - true_accuracy(stored["params"])
    assert 0.5 * true_optimism <= optimism["estimate"] <= 1.5 * true_optimism


def test_a_holdout_worse_than_choosing_among_the_trials_explains_is_overfitting() -> None:
    # The same search, but the validation split is easier than the world by 8 points (a leak): beyond what the
    # choice explains, the holdout falls short, and the verdict says the search overfitted the validation split.
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=150),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(per_example_objective)
    verdict = ts.finalize(study, leaked_holdout)
    gap = verdict.check("holdout gap")
    assert not gap.passed and not verdict.ready and "overfitted the validation split" in gap.detail
    assert "is expected from choosing among 150 configurations" in gap.detail


@pytest.mark.slow
def test_a_gap_beyond_the_limit_without_noise_information_is_not_shown_ready_and_says_what_to_return() -> None:
    study = tuned()
    verdict = ts.finalize(study, holdout)
    gap = verdict.check("holdout gap")
    assert gap.passed and gap.checked and not gap.decided and gap.leans and "per-example values" in gap.detail
    assert not verdict.ready and verdict.headline.startswith("not shown ready")
    stored = study.attrs["holdout"]
    assert not stored["flagged"] and stored["gap"] > 0.02
    optimism = study.attrs["optimism"]
    real = stored["rows"][0]["validation"] - stored["rows"][0]["holdout"]
    assert 0.3 * real < optimism["estimate"] <= real * 1.5


def test_an_honest_validation_passes_the_gap_check() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=20),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(per_example_objective)
    verdict = ts.finalize(study, per_example_holdout)
    assert verdict.check("holdout gap").checked and verdict.check("holdout gap").passed and verdict.ready
    assert study.attrs["verdict"]["status"] == "warn"  # ready, with checks that could not run


def test_a_verdict_no_check_of_the_configuration_could_read_is_not_shown_ready() -> None:
    """Plain-float scores on both sides, no re-runs, no baseline: every check lacks what it reads, and "ready
    (not checked: every check)" rested on no evidence at all."""
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=20),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(lambda trial: {"acc": true_accuracy(trial.params)})
    verdict = ts.finalize(study, holdout)
    assert verdict.check("holdout gap").passed and not verdict.check("holdout gap").checked
    assert not verdict.ready and verdict.unsupported
    assert verdict.headline.startswith("not shown ready (no check of the configuration could run: baseline margin, "
                                       "holdout gap, seed stability")  # fmt: skip
    assert study.attrs["verdict"]["status"] == "warn" and study.attrs["verdict"]["ready"] is False


def test_the_holdout_cannot_be_opened_twice_without_force_and_forcing_is_recorded() -> None:
    calls: list[int] = []

    def counted(params: dict[str, Any], seed: int) -> dict[str, float]:
        calls.append(seed)
        return holdout(params, seed)

    study = tuned(30)
    ts.finalize(study, counted)
    with pytest.raises(HoldoutOpened, match="force=True"):
        ts.finalize(study, counted)
    assert len(calls) == 1
    verdict = ts.finalize(study, counted, force=True)
    log = study.attrs["holdout_log"]
    assert [entry["forced"] for entry in log] == [False, True] and len(calls) == 2
    assert not verdict.check("holdout opened once").passed and not verdict.ready
    assert study.attrs["holdout"]["opened"] == 2 and study.attrs["holdout"]["forced"] == 1


def test_an_opening_is_recorded_even_when_the_evaluation_crashes() -> None:
    study = tuned(10)

    def crashing(params: dict[str, Any], seed: int) -> dict[str, float]:
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError):
        ts.finalize(study, crashing)
    with pytest.raises(HoldoutOpened):
        ts.finalize(study, holdout)


def test_a_holdout_result_without_the_metric_is_refused_naming_the_keys_and_its_opening_voided() -> None:
    study = tuned(5)
    with pytest.raises(ConfigError, match=r"return it as 'holdout_acc' or 'acc'.* this opening judged nothing and is "
                       r"recorded in holdout_log as voided for its keys: the next one needs no force"):  # fmt: skip
        ts.finalize(study, lambda params, seed: {"something": 1.0})
    assert [entry.get("voided") for entry in study.attrs["holdout_log"]] == ["key"]


def test_the_report_reads_the_recorded_attributes() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=150),
                     storage="memory", seed=3)  # fmt: skip
    study.optimize(per_example_objective)
    ts.finalize(study, leaked_holdout)
    attrs = study.attrs
    assert plots.holdout_rows(attrs["holdout"])[0][0] == "acc"
    assert set(attrs["verdict"]) >= {"status", "summary", "reasons"}
    assert attrs["verdict"]["status"] == "fail" and attrs["verdict"]["reasons"]


def test_bootstrap_bias_correction_uses_per_fold_results() -> None:
    rng = np.random.default_rng(0)
    noisy = [
        ts.TrialRecord(n, {"x": n / 60}, n, ts.TrialState.COMPLETE,
                       metrics={"acc": 0.0, **fold_metrics("acc", 0.8 + rng.normal(0, 0.05, 5))})
        for n in range(60)
    ]  # fmt: skip
    noisy = [r.evolve(metrics={**r.metrics, "acc": float(np.mean([r.metrics[f"fold:{i}:acc"] for i in range(5)]))})
             for r in noisy]  # fmt: skip
    found = estimate_optimism(noisy, ts.Metric("acc", "max"))
    assert found is not None and found.method == "bootstrap" and found.estimate > 0.01
    clear = [
        ts.TrialRecord(n, {"x": n / 10}, n, ts.TrialState.COMPLETE,
                       metrics={"acc": 0.5 + n * 0.04, **fold_metrics("acc", [0.5 + n * 0.04] * 5)})
        for n in range(10)
    ]  # fmt: skip
    dominant = estimate_optimism(clear, ts.Metric("acc", "max"))
    assert dominant is not None and dominant.estimate == pytest.approx(0.0, abs=1e-12)


def test_cli_finalize_opens_the_holdout_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "holdouts.py").write_text(
        "import numpy as np\n\n"
        "def evaluate(params, seed):\n"
        "    return {'holdout_acc': np.random.default_rng(seed).random(2000) < 0.72 + 0.02 * params['x']}\n"
    )
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'cli.db'}"
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=150),
                     storage=storage, name="noisy", seed=3)  # fmt: skip
    study.optimize(per_example_objective)
    runner = CliRunner()
    first = runner.invoke(cli, ["finalize", "noisy", "--storage", storage, "--evaluate", "holdouts:evaluate"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("not ready") and "holdout gap" in first.output
    second = runner.invoke(cli, ["finalize", "noisy", "--storage", storage, "--evaluate", "holdouts:evaluate"])
    assert second.exit_code == 1 and "force=True" in second.output
    forced = runner.invoke(cli, ["finalize", "--storage", storage, "--evaluate", "holdouts:evaluate", "--force",
                                 "--json"])  # fmt: skip
    assert forced.exit_code == 0 and json.loads(forced.output)["status"] == "fail"


def _against_baseline(accuracy: float, trials: int, baseline: float = 0.80) -> ts.Check:
    """The baseline margin of a search over configurations all ``accuracy`` accurate on 200 validation examples
    (each trial its own draw; one trial scores ``accuracy`` exactly), against a deterministic baseline scoring
    ``baseline`` on every seed."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        draws = np.random.default_rng(trial.seed).random(200) if trials > 1 else np.arange(200) / 200
        return {"acc": draws < accuracy}

    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=trials),
                     storage="memory", seed=0, baseline={"x": 0.5})  # fmt: skip
    study.optimize(objective)
    ts.evaluate_baseline(study, lambda trial: {"acc": baseline})
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": accuracy})
    return verdict.check("baseline margin")


def test_a_search_best_that_beats_the_baseline_only_by_its_selection_luck_fails_the_margin() -> None:
    # Twenty configurations as good as the baseline: the best of twenty draws of 200 examples beats 0.80 by luck.
    margin = _against_baseline(0.80, trials=20)
    assert not margin.passed
    assert "less its selection optimism" in margin.detail
    assert "standard errors of the difference: its score's, 200 examples, and the baseline mean's" in margin.detail


def test_a_margin_within_the_sampling_noise_cannot_tell_and_says_what_would_decide() -> None:
    margin = _against_baseline(0.84, trials=1)  # one trial: nothing selected; 0.84 +- 0.026 against 0.80
    assert not margin.passed and "cannot tell the winner from the baseline" in margin.detail
    assert "x the validation examples would decide" in margin.detail


def test_a_winner_well_beyond_the_sampling_noise_passes_the_margin() -> None:
    margin = _against_baseline(0.95, trials=20)
    assert margin.passed and "better by" in margin.detail


@pytest.mark.parametrize("rerun", [False, True])
def test_a_deterministic_pipeline_without_per_example_values_cannot_pass_the_margin_on_rounding(rerun: bool) -> None:
    """The same score on every seed and no per-example values: the only noise known is 0 (or 1e-16 of
    rounding), so a win of 3 examples in 500 cannot be told from the validation sample's noise."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"acc": 0.9463 + 0.006 * trial.params["x"] + 1e-16 * (trial.seed % 3)}  # rounding across seeds

    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=8),
                     storage="memory", seed=0, baseline={"x": 0.0})  # fmt: skip
    study.optimize(objective)
    if rerun:
        ts.validate_top(study, objective, k=2, seeds=2)
    else:
        ts.evaluate_baseline(study, objective)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": 0.95})
    margin = verdict.check("baseline margin")
    assert margin.passed and not margin.checked, margin.detail
    assert "better by" in margin.detail and "but no noise is known" in margin.detail
    assert "return per-example values (e.g. {'acc': correct_per_example})" in margin.detail
    # without re-runs no check reads any noise, and nothing supports a "ready"
    assert verdict.headline.startswith("ready (" if rerun else "not shown ready (no check of the configuration")
    assert "not checked: baseline margin" in verdict.headline or "could run: baseline margin" in verdict.headline


def test_per_example_optimism_shrinks_near_equal_scores_together_and_leaves_a_clear_winner() -> None:
    # Near-equal: every configuration 0.80 accurate, scores spread by noise alone; the best of 50 draws flatters
    # by about se * E[max of 50 normals] (2.25 se). One clearly best (0.95 against 0.70): it barely flatters.
    from tunesmith.discipline.optimism import expected_max_normal

    rng = np.random.default_rng(5)
    se = 0.03

    def records(truths: list[float]) -> list[ts.TrialRecord]:
        return [ts.TrialRecord(n, {"x": n}, n, ts.TrialState.COMPLETE,
                               metrics={"acc": t + se * rng.standard_normal(), "stderr:acc": se})
                for n, t in enumerate(truths)]  # fmt: skip

    equal = estimate_optimism(records([0.80] * 50), ts.Metric("acc", "max"))
    assert equal is not None and equal.method == "per-example noise"
    assert equal.estimate == pytest.approx(se * expected_max_normal(50), rel=0.15)
    clear = estimate_optimism(records([0.95] + [0.70] * 49), ts.Metric("acc", "max"))
    assert clear is not None and abs(clear.estimate) < 0.2 * se


def test_per_example_optimism_of_configurations_sharing_their_validation_examples_counts_only_what_differs() -> None:
    """20 equally good configurations, each differing from one base model on 5% of the same 300 examples: what
    differs between them is noise of about 0.0126, so the best flatters by about 0.0126 * E[max of 20] = 0.024
    (the shared part moves them all alike); the estimate from each score's own standard error (0.024) was 0.045,
    moving the best score back below the median one."""
    from tunesmith.discipline.optimism import expected_max_normal

    estimates = []
    for rep in range(12):
        rng = np.random.default_rng(rep)
        base = rng.random(300) < 0.8
        records = []
        for n in range(20):
            correct = base ^ (rng.random(300) < 0.05)
            error = float(correct.std(ddof=1) / np.sqrt(300))
            records.append(ts.TrialRecord(n, {"x": n}, n, ts.TrialState.COMPLETE,
                                          metrics={"acc": float(correct.mean()), "stderr:acc": error}))  # fmt: skip
        found = estimate_optimism(records, ts.Metric("acc", "max"), rounds=500, seed=rep)
        assert found is not None and "share validation examples, so scaled by" in found.detail
        estimates.append(found.estimate)
    differing = math.sqrt(0.05 * 0.95 / 300)
    assert float(np.mean(estimates)) == pytest.approx(differing * expected_max_normal(20), rel=0.25)


def test_a_search_that_goes_on_after_the_holdout_was_opened_is_warned_and_the_verdict_shown_stale(
    tmp_path: Path,
) -> None:
    from tunesmith.discipline.verdict import stale_note
    from tunesmith.report import render_report
    from tunesmith.study import HoldoutSpentWarning

    url = f"sqlite:///{tmp_path}/after.db"
    study = tuned(4, storage=url, name="after")
    ts.finalize(study, holdout)
    assert stale_note(study.attrs, study.trials) is None, "just judged: not stale"
    study.extend_budget(trials=8)
    with pytest.warns(HoldoutSpentWarning, match="opened once already for trial #"):
        result = study.optimize(noisy_objective)
    assert any("holdout of this study was opened" in note for note in result.notes)
    note = stale_note(study.attrs, study.trials)
    assert note is not None and note.startswith("stale: 4 trials finished after the holdout was opened")
    assert "force=True" in note
    status = CliRunner().invoke(cli, ["status", "after", "--storage", url])
    assert "verdict stale: 4 trials finished after the holdout was opened" in " ".join(status.output.split())
    headline = study.attrs["verdict"]["summary"]
    assert f"verdict: {headline}" in " ".join(status.output.split()), "status shows the recorded verdict"
    report = CliRunner().invoke(cli, ["report", "after", "--storage", url, "-o", str(tmp_path / "r.html")])
    assert f"verdict: {headline}" in " ".join(report.output.split()), "so does report's terminal summary"
    assert "<b>STALE</b> stale: 4 trials finished" in render_report(study)


def test_a_declared_baseline_that_never_ran_says_how_to_run_it() -> None:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=4),
                     storage="memory", seed=3, baseline={"x": 0.5})  # fmt: skip
    study.optimize(noisy_objective)
    margin = ts.finalize(study, holdout).check("baseline margin")
    assert not margin.checked and "the declared baseline was never run: ts.evaluate_baseline" in margin.detail


def test_a_verdict_on_a_trial_invalidated_since_is_stale_and_best_names_no_validated_winner(tmp_path: Path) -> None:
    from tunesmith.discipline.verdict import stale_note

    url = f"sqlite:///{tmp_path}/void.db"
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="random", budget=ts.Budget(trials=6),
                     storage=url, name="void", seed=3)  # fmt: skip
    study.optimize(per_example_objective)
    winner = ts.validate_top(study, per_example_objective, k=2, seeds=2).winner
    assert winner is not None and winner.trial is not None
    verdict = ts.finalize(study, per_example_holdout)
    assert verdict.trial == winner.trial
    study.invalidate(winner.trial, "evaluated on the training split")
    note = stale_note(study.attrs, study.trials)
    assert note is not None and f"the judged trial #{winner.trial} was invalidated since" in note
    best = json.loads(CliRunner().invoke(cli, ["best", "void", "--storage", url, "--json"]).output)
    assert best["validated_winner"] is None and best["number"] != winner.trial
    text = " ".join(CliRunner().invoke(cli, ["best", "void", "--storage", url]).output.split())
    assert f"the seed re-runs picked trial {winner.trial}, which was invalidated since" in text
    assert "the validated winner" not in text



def test_a_holdout_score_that_is_not_a_number_is_refused_and_the_opening_is_recorded() -> None:
    study = tuned(trials=5)
    with pytest.raises(ConfigError, match=r"holdout_acc=nan.*force=True"):
        ts.finalize(study, lambda params, seed: {"holdout_acc": [1.0, float("nan"), 0.0]})
    assert "verdict" not in study.attrs and len(study.attrs["holdout_log"]) == 1
    with pytest.raises(ConfigError, match=r"slice night=nan"):
        ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8, "slice:night:holdout_acc": float("nan"),
                                                 "slice:day:holdout_acc": 0.8}, force=True)  # fmt: skip
    with pytest.raises(ConfigError, match=r"shifted holdout_acc=inf"):
        ts.finalize(study, lambda params, seed: {"holdout_acc": 0.8}, force=True,
                    shifted=lambda params, seed: {"holdout_acc": float("inf")})  # fmt: skip
