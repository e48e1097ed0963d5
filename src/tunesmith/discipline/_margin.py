"""The verdict's baseline margin: does the chosen configuration beat the declared baseline by more than noise?"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tunesmith.attributes import BaselineAttr, SeedCandidateAttr, read_attr
from tunesmith.discipline.gap import Z_ONE_SIDED_95, noise_of
from tunesmith.discipline.optimism import Optimism
from tunesmith.discipline.verdict import Check
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["baseline_check"]


# A seed spread this small, relative to the scores, is rounding: the runs agree exactly across seeds.
_NO_NOISE = 1e-9


def baseline_check(study: Study, record: TrialRecord, entry: SeedCandidateAttr | None,
                    optimism: Optimism | None) -> Check:  # fmt: skip
    """Whether the winner beats the baseline by more than the noise in either score.

    The winner's score is its re-run mean; without re-runs, the search's best, which won a comparison on
    the same validation data and is moved back by the selection optimism when that was estimated from
    measured noise (folds, per-example errors or seed noise). The noise is the larger of one seed standard
    deviation (the baseline's or the winner's: on five seeds, about a one-sided 95% test of the means) and,
    when the winner's result carries its sampling noise (per-example values or folds), `Z_ONE_SIDED_95`
    standard errors of the difference: the winner's own (a validation set of a few hundred examples moves a
    score by more than many tuning gains) combined with the baseline mean's across its seeds. The winner's
    standard error stands in for its share of the difference's, which the per-example values of both models
    would give paired but which are not kept: on one validation set the two models' errors are correlated,
    and the winner's own standard error is the difference's when they correlate at 0.5.
    """
    baseline = read_attr(study.attrs, BaselineAttr)
    name = "baseline margin"
    if baseline is None:
        return Check(name, True, "no baseline evaluated: declare ts.Study(..., baseline={...defaults})", checked=False)
    if not baseline.values:
        return Check(name, True, "the declared baseline was never run: ts.evaluate_baseline(study, objective) runs it "
                     "(ts.validate_top runs it first)", checked=False)  # fmt: skip
    if baseline.mean is None:
        raise baseline.missing("mean")
    metric = study.metric
    base_mean = float(baseline.mean)
    searched = float(record.metrics[metric.name])
    if entry is not None and entry.mean is not None:
        value, what = float(entry.mean), f"re-run mean over {len(entry.values or ())} seeds"
    elif (optimism is not None and optimism.measured and optimism.estimate > 0
          and math.isclose(searched, optimism.best)):  # fmt: skip  # the search's best (not a front's choice)
        value = searched + metric.sign() * optimism.estimate
        what = f"the search's {searched:.4g} less its selection optimism {optimism.estimate:.3g}"
    elif optimism is None:
        value, what = searched, "the search's one score: nothing was selected"
    else:
        value, what = searched, "the search's best, not corrected for selection: ts.validate_top re-runs it"
    seed_noise = max(float(baseline.std or 0.0), float(entry.std or 0.0) if entry else 0.0)
    winner = noise_of(record.metrics, metric.name)
    # The baseline's mean is itself uncertain: its seeds' spread over the square root of their number.
    base_error = float(baseline.std or 0.0) / math.sqrt(len(baseline.values))
    sampling, noise = 0.0, f"seed noise {seed_noise:.3g}"
    if winner is not None and Z_ONE_SIDED_95 * math.hypot(winner.stderr, base_error) > seed_noise:
        sampling = Z_ONE_SIDED_95 * math.hypot(winner.stderr, base_error)
        noise = (f"sampling noise {sampling:.3g} ({Z_ONE_SIDED_95:.3g} standard errors of the difference: its "
                 f"score's, {winner.source}, and the baseline mean's)")  # fmt: skip
    margin = metric.sign() * (base_mean - value)
    if margin > 0 and winner is None and seed_noise <= _NO_NOISE * max(1.0, abs(base_mean), abs(value)):
        return Check(name, True, (
            f"{metric.name} {value:.4g} ({what}) vs baseline {base_mean:.4g}{_baseline_failures(baseline)}: better by "
            f"{margin:.3g}, but no noise is "
            "known, so it cannot be told from the validation sample's noise: the runs agree across seeds (a "
            "deterministic pipeline, or no re-runs) and the results carry no per-example values or folds; return "
            f"per-example values (e.g. {{'{metric.name}': correct_per_example}}) or per-fold scores to decide"
        ), checked=False)  # fmt: skip
    passed = margin > max(seed_noise, sampling)
    if passed:
        outcome = ""
    elif margin > 0:
        outcome = (" - within the noise, so the evidence cannot tell the winner from the baseline: more validation "
                   "examples, or more seeds for both, would decide")  # fmt: skip
    else:
        outcome = " - the winner does not beat the baseline"
    relation = "better" if margin > 0 else "worse" if margin < 0 else "no better"
    return Check(
        name,
        passed,
        f"{metric.name} {value:.4g} ({what}) vs baseline {base_mean:.4g}{_baseline_failures(baseline)}: "
        f"{relation} by {abs(margin):.3g}, {noise}{outcome}",
    )


def _baseline_failures(baseline: BaselineAttr) -> str:
    """`` (on 1 of 5 seeds: 4 failed)`` when some baseline runs failed, else nothing."""
    runs, values = len(baseline.runs), len(baseline.values or ())
    if runs <= values:
        return ""
    unknown = "; its seed spread unknown" if values < 2 else ""
    return f" (on {values} of {runs} seeds: {runs - values} failed{unknown})"
