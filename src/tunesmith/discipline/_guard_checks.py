"""The verdict's checks on guardrails: each guardrail on the chosen configuration, and proxy overfitting
(a guardrail or calibration metric degrading as the primary metric improves among the best trials)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tunesmith.discipline.conventions import holdout_key
from tunesmith.discipline.gap import noise_of
from tunesmith.discipline.guardrails import GuardrailOutcome, proxy_scan, read_guardrail
from tunesmith.discipline.verdict import Check
from tunesmith.errors import TunesmithError
from tunesmith.objective import Metric
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["guardrail_check", "proxy_check"]


def guardrail_check(study: Study, record: TrialRecord, scores: Mapping[str, float]) -> Check:
    """Each guardrail on the chosen configuration: on the holdout when ``scores`` measure it (under the names
    `holdout_keys` reads for a metric), else on its search result; decided beyond the measurement's noise
    (`read_guardrail`). A guardrail the evidence cannot decide fails the check, which says so and what would
    decide it: a winner is ready only when its guardrails are shown to hold."""
    name = "guardrails"
    if not study.guardrails:
        return Check(name, True, "the study declares no guardrails", checked=False)
    lines, outcomes = [], []
    for guardrail in study.guardrails:
        key = holdout_key(Metric(guardrail.metric, "min"), scores)
        if key is not None:
            reading, where = read_guardrail(guardrail, scores[key], noise_of(scores, key)), "on the holdout"
        else:
            value = record.value(guardrail.metric)
            if value is None:  # the search records a result without a guardrail's metric as FAILED
                raise TunesmithError(f"trial #{record.number} has no {guardrail.metric!r}: it cannot have passed "
                                     f"{guardrail.describe()}")  # fmt: skip
            where = "in the search (not measured on the holdout)"
            reading = read_guardrail(guardrail, value, noise_of(record.metrics, guardrail.metric))
        outcomes.append(reading.outcome)
        lines.append(reading.describe(where))
    passed = all(o is GuardrailOutcome.HELD for o in outcomes)
    if GuardrailOutcome.UNDECIDED in outcomes and GuardrailOutcome.BREACHED not in outcomes:
        lines.append("a winner is ready only when its guardrails are shown to hold")
    decided = GuardrailOutcome.BREACHED in outcomes or GuardrailOutcome.UNDECIDED not in outcomes
    return Check(name, passed, "; ".join(lines), decided=decided)


def proxy_check(study: Study, records: Sequence[TrialRecord]) -> Check:
    """Proxy overfitting among the best trials, on the guardrails and calibration metrics the trials report. On
    a study of several objectives, a guardrail on another objective is left out: that trade-off is the front the
    study set out to explore, not a proxy overfitted."""
    name = "proxy overfitting"
    objectives = {m.name for m in study.objectives}
    watch = [g for g in study.guardrails if g.metric not in objectives]
    scan = proxy_scan(records, study.metric, watch)
    if scan.findings:
        return Check(name, False, "; ".join(f.detail for f in scan.findings))
    if not scan.compared:
        left_out = [g.metric for g in study.guardrails if g.metric in objectives]
        why = f" ({', '.join(left_out)} is an objective: its trade-off is the front)" if left_out else ""
        return Check(name, True, (
            "nothing to compare: no guardrail or calibration metric (ece, brier, log_loss) measured on at least 6 of "
            f"the best trials and varying{why}"), checked=False)  # fmt: skip
    return Check(name, True, f"{', '.join(scan.compared)} do not degrade as {study.metric.name} improves among the "
                 "best trials")  # fmt: skip
