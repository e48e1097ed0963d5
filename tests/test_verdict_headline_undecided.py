"""A check failed for want of evidence makes the verdict "not shown ready", never "not ready": only a failure the
evidence decided does that. The burden of proof stays on the configuration (it is not ready either way)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tunesmith as ts
from tunesmith.cli._common import verdict_colour
from tunesmith.discipline import Check

SPACE = ts.Space({"config": ts.Choice(["a", "b"])})
UNDECIDED = "not shown ready (the evidence cannot decide): "


def winner_within_noise_of_the_baseline(trial: ts.Trial) -> dict[str, Any]:
    """Configuration "a" scores 0.85 in the search and 0.78, 0.86, 0.79 on the re-run seeds; the baseline "b" scores
    0.80: a gain of about 0.04 that three paired seeds cannot tell from chance."""
    if trial.params["config"] == "b":
        return {"acc": 0.80}
    return {"acc": 0.85 if trial.seed is None else {0: 0.78, 1: 0.86, 2: 0.79}.get(trial.seed % 3, 0.81)}


def judged(url: str, holdout: float | list[float]) -> ts.discipline.Verdict:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage=url, seed=0, baseline={"config": "b"})  # fmt: skip
    study.optimize(winner_within_noise_of_the_baseline)
    ts.validate_top(study, winner_within_noise_of_the_baseline, k=1, seeds=3)
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": holdout})
    assert study.attrs["verdict"]["summary"] == verdict.headline, "stored as printed"
    return verdict


def test_a_verdict_whose_only_failure_is_undecided_is_not_shown_ready_with_status_warn(tmp_path: Path) -> None:
    verdict = judged(f"sqlite:///{tmp_path / 'undecided.db'}", holdout=0.86)  # no gap beyond validation
    margin = verdict.check("baseline margin")
    assert verdict.failed == (margin,) and margin.status == "FAILED, undecided"
    assert verdict.headline == f"{UNDECIDED}baseline margin - {margin.detail}"
    assert "paired seeds for both (now 3) would decide" in margin.detail, "it says what would decide it"
    assert verdict.attribute().status == "warn"
    assert not verdict.ready, "the burden of proof stays on the configuration"


def test_a_decided_failure_makes_it_not_ready_named_before_the_undecided_one(tmp_path: Path) -> None:
    # 45 points below validation, on 100 per-example values: a holdout of one number would leave it undecided.
    verdict = judged(f"sqlite:///{tmp_path / 'decided.db'}", holdout=[1.0] * 40 + [0.0] * 60)
    gap, margin = verdict.check("holdout gap"), verdict.check("baseline margin")
    assert gap.status == "FAILED" and margin.status == "FAILED, undecided"
    assert verdict.headline == f"not ready: holdout gap - {gap.detail}; baseline margin (undecided) - {margin.detail}"
    assert verdict.attribute().status == "fail"


def test_failed_undecided_and_leaning_checks_share_one_not_shown_ready_headline() -> None:
    margin = Check("baseline margin", False, "gains 0.01 +- 0.02: 12 paired seeds would decide", decided=False)
    gap = Check("holdout gap", True, "gap +3 points +- 4 (limit 2): 4x the examples would decide", decided=False,
                leans=True)  # fmt: skip
    verdict = ts.discipline.Verdict([gap, margin])
    assert verdict.headline == f"{UNDECIDED}holdout gap - {gap.detail}; baseline margin - {margin.detail}"
    assert verdict.attribute().status == "warn"


def test_the_cli_prints_a_failure_for_want_of_evidence_in_yellow_and_a_decided_one_in_red() -> None:
    undecided = Check("baseline margin", False, "within the noise: 12 paired seeds would decide", decided=False)
    decided = Check("holdout gap", False, "gap +46 points, beyond the 2-point limit by more than noise")
    for checks, colour in (([undecided], "yellow"), ([decided, undecided], "red")):
        verdict = ts.discipline.Verdict(checks)
        assert verdict_colour(verdict.ready, bool(verdict.failed_decided)) == colour
