"""The holdout-gap check on a holdout that is the validation set: a holdout is data the search never saw, so one whose
result is the chosen trial's validation result itself, to every digit, fails; a tie that independent sets of
right-or-wrong values meet by chance is judged as any other gap."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import HoldoutAttr, read_attr
from tunesmith.cli import cli
from tunesmith.discipline.gap import gap_test, noise_of
from tunesmith.objective import summarise
from tunesmith.report import render_report

ACC = ts.Metric("val_acc", "max")


def _losses(params: dict[str, Any], seed: int) -> list[float]:
    """Per-example losses of one configuration on 300 validation examples, the same for the same params and seed."""
    rng = np.random.default_rng([seed % 2**32, int(params["x"] * 1e9)])
    return [float(v) for v in rng.exponential(0.4, 300)]


def _check(verdict: ts.Verdict) -> ts.discipline.Check:
    return next(c for c in verdict.checks if c.name == "holdout gap")


def test_a_holdout_that_is_the_validation_set_fails_the_gap_check_as_decided() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric=ts.Metric("val_loss", "min"),
                     budget=ts.Budget(trials=12), storage="memory", name="leaked", seed=3)  # fmt: skip
    study.optimize(lambda trial: {"val_loss": _losses(trial.params, trial.seed)}, progress=False)
    # evaluate scores x_val again: the chosen trial's own validation losses come back as the holdout
    verdict = ts.finalize(study, lambda params, seed: {"holdout_loss": _losses(params, seed)}, holdout="copy",
                          progress=False)  # fmt: skip
    check = _check(verdict)
    assert check.status == "FAILED" and not verdict.ready, check.detail
    assert "the holdout result is the validation result itself" in check.detail
    assert "300 per-example values" in check.detail
    assert "the holdout must be data the search never saw" in check.detail
    assert "evaluate(params, seed) scores x_holdout, not x_val" in check.detail


def test_right_or_wrong_values_tied_by_count_are_judged_as_a_gap_not_as_the_validation_set() -> None:
    # 850 of 1,000 right on both sides: an independent holdout ties that count in up to 4% of studies, so the tie
    # decides nothing by itself
    values = np.r_[np.ones(850), np.zeros(150)]
    scores = summarise("val_acc", values)
    test = gap_test(ACC, scores["val_acc"], scores["val_acc"], validation_noise=noise_of(scores, "val_acc"),
                    holdout_noise=noise_of(scores, "val_acc"), threshold=0.02, points=True, selection=0.05,
                    compared=30)  # fmt: skip
    assert not test.flagged and test.decided, test.detail
    assert "validation result itself" not in test.detail


def _correct(params: dict[str, Any], which: str) -> np.ndarray:
    """Right (1) or wrong (0) on 300 examples of split ``which``, the same for the same params: about 0.9 right."""
    rng = np.random.default_rng([zlib.crc32(which.encode()), int(params["x"] * 1e9)])
    return (rng.random(300) < 0.85 + 0.05 * params["x"]).astype(float)


def _right_or_wrong_study(storage: str = "memory") -> ts.Study:
    study = ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric=ACC, budget=ts.Budget(trials=12), storage=storage,
                     name="right-or-wrong", seed=3)  # fmt: skip
    study.optimize(lambda trial: {"val_acc": _correct(trial.params, "val")}, progress=False)
    return study


def test_a_right_or_wrong_holdout_on_the_validation_examples_fails_the_gap_check_as_decided() -> None:
    study = _right_or_wrong_study()
    # evaluate scores x_val again: the chosen trial's own right-or-wrong values come back as the holdout, whose
    # count of right answers independent sets tie often, but whose values in order they match about once in 1e23
    verdict = ts.finalize(study, lambda params, seed: {"holdout_acc": _correct(params, "val")}, holdout="copy",
                          progress=False)  # fmt: skip
    check = _check(verdict)
    assert check.status == "FAILED" and check.decided and not verdict.ready, check.detail
    assert "the same 300 per-example values in the same order" in check.detail
    assert "the holdout must be data the search never saw" in check.detail
    assert "evaluate(params, seed) scores x_holdout, not x_val" in check.detail


def test_a_separate_holdout_with_as_many_right_answers_is_judged_as_a_gap() -> None:
    study = _right_or_wrong_study()

    def separate(params: dict[str, Any], seed: int) -> dict[str, Any]:
        # other examples, as many of them right as on validation: the means tie, the values differ
        right = int(_correct(params, "val").sum())
        values = np.zeros(300)
        values[np.random.default_rng(seed).choice(300, right, replace=False)] = 1.0
        return {"holdout_acc": values}

    verdict = ts.finalize(study, separate, holdout="separate", progress=False)
    check = _check(verdict)
    read = read_attr(study.attrs, HoldoutAttr)
    assert read is not None and read.rows is not None and read.rows[0].holdout == read.rows[0].validation  # a tie
    assert check.status != "FAILED", check.detail
    assert "validation result itself" not in check.detail


def test_identical_values_that_are_all_alike_are_no_evidence_of_the_validation_set() -> None:
    # every example right on both sides: independent sets of a perfect score match element by element as often as
    # not, so the identical values decide nothing by themselves
    scores = summarise("val_acc", np.ones(300))
    test = gap_test(ACC, 1.0, 1.0, validation_noise=noise_of(scores, "val_acc"),
                    holdout_noise=noise_of(scores, "val_acc"), threshold=0.02, points=True,
                    holdout_values=[1.0] * 300, validation_digest=scores["digest:val_acc"])  # fmt: skip
    assert not test.flagged, test.detail
    assert "validation result itself" not in test.detail


def test_the_digest_of_per_example_values_is_stored_but_not_listed_by_trials_json(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/digest.db"
    study = _right_or_wrong_study(url)
    assert all("digest:val_acc" in record.metrics for record in study.trials)  # kept for the holdout check
    listed = CliRunner().invoke(cli, ["trials", "right-or-wrong", "--storage", url, "--json"], catch_exceptions=False)
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert len(rows) == 12
    assert all(sorted(row["metrics"]) == ["count:val_acc", "stderr:val_acc", "val_acc"] for row in rows), rows[0]


def test_the_digest_of_per_example_values_is_not_shown_in_the_report() -> None:
    study = _right_or_wrong_study()
    assert "digest:val_acc" in study.trials[0].metrics  # kept for the holdout check
    html = render_report(study)
    assert "val_acc=" in html  # the best trial's metrics are shown
    assert "digest" not in html
