"""The shifted-data check with a baseline: does the tuned gain over the baseline hold on a shifted set?"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.attributes import HoldoutAttr
from tunesmith.errors import ConfigError

SPACE = ts.Space({"config": ts.Choice(["tuned", "other"])})
DEFAULTS = {"config": "default"}
N = 400

Evaluate = Callable[[dict[str, Any], int], dict[str, Any]]


def hits(right: int, n: int = N) -> np.ndarray:
    """Per-example results on the same ``n`` examples: the first ``right`` right, so that two models' results pair."""
    return (np.arange(n) < right).astype(float)


def tuned(baseline: dict[str, Any] | None = DEFAULTS) -> ts.Study:
    """A study whose search picks "tuned" (validation accuracy 0.95), with the defaults declared as its baseline."""
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=2),
                     storage="memory", seed=11, baseline=baseline)  # fmt: skip
    study.optimize(lambda trial: {"acc": 0.95 if trial.params["config"] == "tuned" else 0.80})
    return study


def scoring(right: dict[str, int]) -> Evaluate:
    """An evaluation that gives each configuration ``right[config]`` of `N` examples right."""
    return lambda params, seed: {"holdout_acc": hits(right[params["config"]])}


HOLDOUT = scoring({"tuned": 380, "default": 340})  # the tuned gain in distribution: +10 points


def test_a_drop_every_model_shares_under_the_shift_is_the_shift_not_the_tuning() -> None:
    verdict = ts.finalize(tuned(), HOLDOUT, shifted=scoring({"tuned": 340, "default": 300}))  # both lose 10 points
    check = verdict.check("shifted data")
    assert check.passed and check.decided
    assert "gain +10.0 points" in check.detail and "the gain holds under the shift, beyond noise" in check.detail
    assert "the winner loses 10.0 points" in check.detail and "the baseline loses 10.0 points" in check.detail
    assert "the drop is the shift itself, not the tuning" in check.detail


def test_a_tuned_configuration_worse_than_the_baseline_under_the_shift_fails() -> None:
    # The winner loses only 2 points (within the drop limit), but the baseline gains 11: 3 points below it.
    verdict = ts.finalize(tuned(), HOLDOUT, shifted=scoring({"tuned": 372, "default": 384}))
    check = verdict.check("shifted data")
    assert not check.passed and check.decided and not verdict.ready
    assert "gain -3.0 points" in check.detail
    assert "the tuned configuration is worse than the baseline under the shift, beyond noise" in check.detail
    assert "does not carry over" in check.detail


def test_a_gain_under_the_shift_within_its_noise_is_undecided_and_says_what_would_decide() -> None:
    # +4 points on the holdout: the gain's loss under the shift stays within the 5-point limit.
    verdict = ts.finalize(
        tuned(), scoring({"tuned": 378, "default": 362}), shifted=scoring({"tuned": 302, "default": 300})
    )
    check = verdict.check("shifted data")
    assert check.passed and not check.decided
    assert "within noise: not evidence that the gain holds under the shift, nor that it is lost" in check.detail
    assert "the shifted examples would decide" in check.detail


def test_per_example_values_on_the_same_examples_pair_the_gain() -> None:
    # +2.5 points: within the two standard errors combined (3 points), but on the same examples the two models
    # differ on 10 of 400 only, so the paired difference decides it.
    verdict = ts.finalize(
        tuned(), scoring({"tuned": 378, "default": 362}), shifted=scoring({"tuned": 300, "default": 290})
    )
    check = verdict.check("shifted data")
    assert check.passed and check.decided and f"paired over {N} examples" in check.detail


def test_the_two_standard_errors_combine_when_the_examples_do_not_pair() -> None:
    def shifted(params: dict[str, Any], seed: int) -> dict[str, Any]:
        n = N if params["config"] == "tuned" else N // 2  # another sample of the shifted set: no pairs
        return {"holdout_acc": hits(300 if params["config"] == "tuned" else 145, n)}

    check = ts.finalize(tuned(), HOLDOUT, shifted=shifted).check("shifted data")
    assert "the two standard errors combined" in check.detail and "paired over" not in check.detail
    assert check.passed and not check.decided  # +2.5 points against about 4 points of noise


def test_the_baseline_is_scored_with_the_winners_evaluations_and_seed_and_recorded() -> None:
    study = tuned()
    calls: list[tuple[str, dict[str, Any], int]] = []

    def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
        calls.append(("holdout", params, seed))
        return HOLDOUT(params, seed)

    def shifted(params: dict[str, Any], seed: int) -> dict[str, Any]:
        calls.append(("shifted", params, seed))
        return scoring({"tuned": 340, "default": 300})(params, seed)

    verdict = ts.finalize(study, holdout, shifted=shifted)
    winner = next(r for r in study.trials if r.number == verdict.trial)
    assert [(what, params["config"], seed) for what, params, seed in calls] == [
        ("holdout", "tuned", winner.seed), ("shifted", "tuned", winner.seed),
        ("holdout", "default", winner.seed), ("shifted", "default", winner.seed),
    ]  # fmt: skip
    recorded = HoldoutAttr.from_json(study.attrs["holdout"])
    assert recorded.baseline_params == DEFAULTS
    assert recorded.baseline_scores is not None and recorded.baseline_scores["holdout_acc"] == pytest.approx(0.85)
    assert recorded.baseline_scores["shifted:holdout_acc"] == pytest.approx(0.75)
    assert recorded.scores is not None and recorded.scores["holdout_acc"] == pytest.approx(0.95)
    opening = study.attrs["holdout_log"][0]["scores"]
    assert opening["baseline:shifted:holdout_acc"] == pytest.approx(0.75) and opening["holdout_acc"] == 0.95


def test_the_progress_counts_the_baselines_evaluations(capsys: pytest.CaptureFixture[str]) -> None:
    ts.finalize(tuned(), HOLDOUT, shifted=scoring({"tuned": 340, "default": 300}), progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("holdout of ")]
    assert "4/4 evaluations, done after" in lines[-1]


def test_shifted_keys_in_the_holdout_result_are_compared_with_the_baselines_too() -> None:
    shifted = {"tuned": 340, "default": 300}

    def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {**HOLDOUT(params, seed), "shifted:holdout_acc": hits(shifted[params["config"]])}

    verdict = ts.finalize(tuned(), holdout)
    check = verdict.check("shifted data")
    assert check.passed and "winner 0.85 vs baseline 0.75" in check.detail


def test_a_gain_under_the_shift_without_per_example_values_is_undecided_and_says_what_to_return() -> None:
    right = {"tuned": (0.95, 0.50), "default": (0.85, 0.60)}  # 10 points below the baseline, noise unknown
    verdict = ts.finalize(tuned(), lambda params, seed: dict(zip(("holdout_acc", "shifted:holdout_acc"),
                                                                 right[params["config"]], strict=True)))  # fmt: skip
    check = verdict.check("shifted data")
    assert check.passed and not check.decided
    assert "the shifted set gave the winner and the baseline one number" in check.detail
    assert "whether the gain holds under the shift cannot be told" in check.detail
    assert "return one value per example" in check.detail


def test_a_baseline_evaluation_without_the_metric_is_refused_and_names_the_baseline() -> None:
    def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
        return HOLDOUT(params, seed) if params["config"] == "tuned" else {"accuracy_default": 0.8}

    with pytest.raises(ConfigError, match=r"the baseline's holdout evaluation returned \['accuracy_default'\]"):
        ts.finalize(tuned(), holdout, shifted=scoring({"tuned": 340, "default": 300}))


def test_without_a_baseline_the_drop_check_says_a_baseline_would_judge_the_gain() -> None:
    verdict = ts.finalize(tuned(baseline=None), HOLDOUT, shifted=scoring({"tuned": 340, "default": 300}))
    check = verdict.check("shifted data")
    assert not check.passed and "shifted acc 0.85 vs holdout 0.95" in check.detail  # today's drop check
    assert "declare one (ts.Study(..., baseline={...defaults})) and this check judges the gain" in check.detail


def test_the_holdout_attribute_reads_the_baselines_scores_and_json_without_them() -> None:
    stored = {"trial": 0, "scores": {"holdout_acc": 0.95}}
    assert HoldoutAttr.from_json(stored).baseline_scores is None  # written before the baseline was scored
    with_baseline = HoldoutAttr.from_json({**stored, "baseline_params": DEFAULTS,
                                           "baseline_scores": {"holdout_acc": 0.85}})  # fmt: skip
    assert with_baseline.baseline_params == DEFAULTS and with_baseline.baseline_scores == {"holdout_acc": 0.85}
    assert with_baseline.extra == {} and HoldoutAttr.from_json(with_baseline.to_json()) == with_baseline
