"""The DRIFT discipline: baseline, priors, planner, seed stability, guardrails, the locked holdout, the verdict."""

from tunesmith.discipline import priors
from tunesmith.discipline._nested_objective import nested_cv_objective
from tunesmith.discipline.conventions import fold_metrics, holdout_key, slice_metrics
from tunesmith.discipline.guardrails import (
    Latency,
    ProxyFinding,
    brier_score,
    calibration,
    expected_calibration_error,
    latency,
    log_loss,
    peak_memory,
    proxy_overfitting,
)
from tunesmith.discipline.holdout import (
    HoldoutEvaluationFailed,
    HoldoutKeyMissing,
    HoldoutOpened,
    HoldoutResultUnreadable,
    HoldoutScaleMismatch,
    StaleChoiceWarning,
    Thresholds,
    finalize,
)
from tunesmith.discipline.nested_cv import NestedCVResult, nested_cv
from tunesmith.discipline.optimism import Optimism, estimate_optimism
from tunesmith.discipline.planner import Fidelity, Method, Plan, PlanOption, plan
from tunesmith.discipline.seeds import (
    Baseline,
    Candidate,
    Rule,
    SeedReport,
    SeedRun,
    TopKUnusedWarning,
    evaluate_baseline,
    validate_top,
)
from tunesmith.discipline.verdict import Check, Verdict

__all__ = [
    "Baseline",
    "Candidate",
    "Check",
    "Fidelity",
    "HoldoutEvaluationFailed",
    "HoldoutOpened",
    "HoldoutKeyMissing",
    "HoldoutResultUnreadable",
    "HoldoutScaleMismatch",
    "Latency",
    "Method",
    "NestedCVResult",
    "Optimism",
    "Plan",
    "PlanOption",
    "ProxyFinding",
    "Rule",
    "SeedReport",
    "SeedRun",
    "StaleChoiceWarning",
    "Thresholds",
    "TopKUnusedWarning",
    "Verdict",
    "brier_score",
    "calibration",
    "estimate_optimism",
    "evaluate_baseline",
    "expected_calibration_error",
    "finalize",
    "fold_metrics",
    "holdout_key",
    "latency",
    "log_loss",
    "nested_cv",
    "nested_cv_objective",
    "peak_memory",
    "plan",
    "priors",
    "proxy_overfitting",
    "slice_metrics",
    "validate_top",
]
