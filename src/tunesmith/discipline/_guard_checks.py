"""The verdict's checks on guardrails: each guardrail on the chosen configuration, and proxy overfitting
(a guardrail or calibration metric degrading as the primary metric improves among the best trials)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from tunesmith.discipline.guardrails import proxy_overfitting
from tunesmith.discipline.verdict import Check
from tunesmith.trial import TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["guardrail_check", "proxy_check"]


def guardrail_check(study: Study, scores: Mapping[str, float]) -> Check:
    name = "guardrails"
    if not study.guardrails:
        return Check(name, True, "the study declares no guardrails", checked=False)
    breaches, measured = [], []
    for guardrail in study.guardrails:
        for key in (f"holdout_{guardrail.metric}", guardrail.metric):
            if key in scores:
                measured.append(guardrail.describe())
                if not guardrail.holds(scores[key]):
                    breaches.append(f"{guardrail.describe()} breached on the holdout (got {scores[key]:g})")
                break
    if breaches:
        return Check(name, False, "; ".join(breaches))
    where = (
        f"held on the holdout ({', '.join(measured)})"
        if measured
        else "held in the search (not measured on the holdout)"
    )
    return Check(name, True, where)


def proxy_check(study: Study, records: Sequence[TrialRecord]) -> Check:
    name = "proxy overfitting"
    findings = proxy_overfitting(records, study.metric, study.guardrails)
    if findings:
        return Check(name, False, "; ".join(f.detail for f in findings))
    return Check(name, True, "no guardrail or calibration metric degrades as the metric improves among the best trials")
