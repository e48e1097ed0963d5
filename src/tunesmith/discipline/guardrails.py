"""What guardrails measure (calibration, latency, peak memory), and proxy-overfitting detection.

Put the measurements in an objective's result and guard them::

    proba = model.predict_proba(x_val)
    return {"auc": auc, **ts.discipline.calibration(y_val, proba),
            "latency_p95_ms": ts.discipline.latency(model.predict, x_val[:64]).p95_ms}

Proxy overfitting is the primary metric improving while a guardrail metric degrades across the
best trials (the guide: "AUC improves but calibration degrades"); `proxy_overfitting` finds it.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import numpy as np

from tunesmith._validate import integer
from tunesmith.discipline.gap import Z_ONE_SIDED_95, Noise, more_data
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric
from tunesmith.trial import TrialRecord, TrialState

__all__ = [
    "CALIBRATION_METRICS",
    "GuardrailOutcome",
    "GuardrailReading",
    "Latency",
    "ProxyFinding",
    "ProxyScan",
    "brier_score",
    "calibration",
    "expected_calibration_error",
    "latency",
    "log_loss",
    "peak_memory",
    "proxy_overfitting",
    "proxy_scan",
    "read_guardrail",
]

#: Metric names `proxy_overfitting` watches by default (lower is better for each).
CALIBRATION_METRICS = ("ece", "brier", "log_loss")


def _probabilities(y_true: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=float)
    if p.ndim == 1:
        p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape[0] != y.shape[0]:
        raise ConfigError(
            f"proba must be (n_samples,) or (n_samples, n_classes) matching y_true, got {p.shape} for {y.shape[0]} "
            "labels: pass predict_proba's output"
        )
    if y.min() < 0 or y.max() >= p.shape[1] or not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(
            f"y_true must hold integer class indices in [0, {p.shape[1]}), got values in [{y.min()}, {y.max()}]: "
            "encode labels with sklearn.preprocessing.LabelEncoder"
        )
    return y.astype(int), p


def expected_calibration_error(y_true: Any, proba: Any, n_bins: int = 15) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy, over equal-width confidence bins."""
    y, p = _probabilities(y_true, proba)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total)


def brier_score(y_true: Any, proba: Any) -> float:
    """Mean squared distance between the predicted distribution and the one-hot label (multi-class Brier)."""
    y, p = _probabilities(y_true, proba)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def log_loss(y_true: Any, proba: Any) -> float:
    """Cross-entropy of the predicted probabilities (scikit-learn's ``log_loss``)."""
    from sklearn.metrics import log_loss as sk_log_loss

    y, p = _probabilities(y_true, proba)
    return float(sk_log_loss(y, p, labels=np.arange(p.shape[1])))


def calibration(y_true: Any, proba: Any, n_bins: int = 15) -> dict[str, float]:
    """``{"ece": ..., "brier": ..., "log_loss": ...}`` for an objective's result."""
    return {
        "ece": expected_calibration_error(y_true, proba, n_bins),
        "brier": brier_score(y_true, proba),
        "log_loss": log_loss(y_true, proba),
    }


@dataclass(frozen=True)
class Latency:
    """Wall time of repeated calls, in milliseconds."""

    median_ms: float
    p95_ms: float
    calls: int

    def to_metrics(self, prefix: str = "latency") -> dict[str, float]:
        return {f"{prefix}_median_ms": self.median_ms, f"{prefix}_p95_ms": self.p95_ms}


def latency(fn: Callable[..., Any], *args: Any, repeats: int = 30, warmup: int = 3, **kwargs: Any) -> Latency:
    """Median and 95th percentile of ``fn(*args, **kwargs)`` over ``repeats`` calls after ``warmup`` untimed ones."""
    integer("repeats", repeats, minimum=1, fix="use 30")
    for _ in range(warmup):
        fn(*args, **kwargs)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        timings.append((time.perf_counter() - start) * 1000.0)
    return Latency(float(np.median(timings)), float(np.percentile(timings, 95)), repeats)


def peak_memory(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), peak MiB allocated during the call)``, traced with ``tracemalloc``.

    numpy arrays are traced; memory that native libraries allocate on their own is not.
    """
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        result = fn(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not already:
            tracemalloc.stop()
    return result, max(0.0, (peak - base) / 2**20)


@dataclass(frozen=True)
class ProxyFinding:
    """A guardrail metric that degrades as the primary metric improves across the best trials.

    Attributes:
        metric: the degrading metric.
        correlation: Spearman correlation between primary-metric goodness and this metric's badness (> 0: trade-off).
        trials: how many of the best trials were compared.
        detail: the figures, in words.
    """

    metric: str
    correlation: float
    trials: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "correlation": self.correlation, "trials": self.trials, "detail": self.detail}


def _watched(watch: Sequence[Guardrail | Metric | str]) -> list[Metric]:
    out = []
    for item in watch:
        if isinstance(item, Guardrail):
            out.append(Metric(item.metric, "min" if item.op in ("<=", "<") else "max"))
        elif isinstance(item, Metric):
            out.append(item)
        elif isinstance(item, str):
            out.append(Metric(item, "min"))
        else:
            raise ConfigError(f"watch takes Guardrail, Metric or metric names, got {item!r}")
    return out


def proxy_overfitting(
    records: Sequence[TrialRecord],
    metric: Metric,
    watch: Sequence[Guardrail | Metric | str] = (),
    *,
    top: float = 0.25,
    min_trials: int = 6,
    threshold: float | None = None,
    significance: float = 0.05,
) -> list[ProxyFinding]:
    """Guardrail metrics that get worse as the primary metric gets better among the best trials.

    A metric is flagged when the Spearman correlation between the primary metric's goodness and its badness,
    over the best trials, is positive beyond chance: its one-sided p-value is at most ``significance`` shared
    among the metrics compared (Bonferroni: watching three metrics must not triple the false alarms). The
    p-value counts every ordering of the watched metric up to 8 trials, a fixed sample of 20,000 orderings up
    to 30, and takes Student's t approximation beyond, each within about 5% of the stated level. Six trials
    need a correlation of about 0.83, ten about 0.56, thirty about 0.31, for one metric.

    Args:
        records: the trials; COMPLETE and INFEASIBLE ones with both metrics are compared.
        metric: the primary metric.
        watch: what to watch (a guardrail's direction is its bound's side); the calibration
            metrics (`CALIBRATION_METRICS`) the trials report are always watched too.
        top: the fraction of trials (best by the primary metric) compared, at least ``min_trials``.
        min_trials: the fewest trials measuring a metric for it to be compared.
        threshold: deprecated; a correlation the flag also requires. A fixed correlation over the best
            trials loses power as trials grow (their range narrows), so the p-value alone decides.
        significance: the chance, shared among the metrics compared, of flagging a metric with no trade-off.

    Warns:
        FutureWarning: when ``threshold`` is given.
    """
    _warn_threshold(threshold)
    return _scan(records, metric, watch, top=top, min_trials=min_trials, threshold=threshold,
                 significance=significance).findings  # fmt: skip


@dataclass(frozen=True)
class ProxyScan:
    """What `proxy_scan` compared (``compared``: the metrics it could test) and found."""

    compared: tuple[str, ...]
    findings: list[ProxyFinding]


def proxy_scan(
    records: Sequence[TrialRecord],
    metric: Metric,
    watch: Sequence[Guardrail | Metric | str] = (),
    *,
    top: float = 0.25,
    min_trials: int = 6,
    threshold: float | None = None,
    significance: float = 0.05,
) -> ProxyScan:
    """`proxy_overfitting`, also saying which metrics it could compare (enough trials measured them, and
    they varied)."""
    _warn_threshold(threshold)
    return _scan(records, metric, watch, top=top, min_trials=min_trials, threshold=threshold,
                 significance=significance)  # fmt: skip


def _warn_threshold(threshold: float | None) -> None:
    if threshold is not None:
        warnings.warn(
            f"proxy overfitting's threshold is deprecated, got threshold={threshold}: a fixed correlation over "
            "the best trials loses power as trials grow, so the one-sided p-value alone should decide; drop the "
            "argument (it still also requires the correlation to reach it)",
            FutureWarning,
            stacklevel=3,
        )


def _scan(
    records: Sequence[TrialRecord],
    metric: Metric,
    watch: Sequence[Guardrail | Metric | str],
    *,
    top: float,
    min_trials: int,
    threshold: float | None,
    significance: float,
) -> ProxyScan:
    from scipy.stats import spearmanr

    finished = [r for r in records if r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE)]
    watched = _watched(watch)
    watched += [
        Metric(name, "min")
        for name in CALIBRATION_METRICS
        if name not in {m.name for m in watched} and any(name in r.metrics for r in finished)
    ]
    ranked = sorted(
        (r for r in finished if r.value(metric.name) is not None),
        key=lambda r: metric.sign() * (r.value(metric.name) or 0.0),
    )
    count = max(min_trials, math.ceil(top * len(ranked)))
    best = ranked[:count]
    tests = []
    for guard in watched:
        pairs = [
            (-metric.sign() * (r.value(metric.name) or 0.0), guard.sign() * v)
            for r in best
            if (v := r.value(guard.name)) is not None
        ]
        if len(pairs) < min_trials:
            continue
        goodness, badness = (np.array(x) for x in zip(*pairs, strict=True))
        if np.ptp(goodness) == 0 or np.ptp(badness) == 0:
            continue
        test = spearmanr(goodness, badness, alternative="greater")
        p_value = _trade_off_p_value(goodness, badness) if len(pairs) <= _SAMPLED_ORDERINGS_UP_TO else test.pvalue
        tests.append((guard, len(pairs), float(test.statistic), float(p_value)))
    level = significance / max(1, len(tests))
    findings = []
    for guard, n, rho, p_value in tests:
        if p_value > level or (threshold is not None and rho < threshold):
            continue
        floor = f" >= {threshold:.2f}" if threshold is not None else ""
        shown = f"p = {p_value:.3f}" if p_value >= 0.001 else "p < 0.001"
        shared = f" <= {level:.3f}: {significance:.0%} over {len(tests)} metrics watched" if len(tests) > 1 else ""
        findings.append(ProxyFinding(guard.name, rho, n, (
            f"across the best {n} trials, {guard.name} gets worse as {metric.name} improves (Spearman {rho:.2f}"
            f"{floor}, one-sided {shown}{shared})")))  # fmt: skip
    return ProxyScan(tuple(guard.name for guard, *_ in tests), findings)


#: Up to this many trials compared, the p-value counts every ordering of the watched metric (8! = 40,320).
_EVERY_ORDERING_UP_TO = 8
#: Up to this many, a fixed sample of orderings; beyond, Student's t approximation (measured under no trade-off
#: at a level of 1.67%: 1.71% false alarms at 50 trials, but 1.75% at 20 and 1.97% at 10).
_SAMPLED_ORDERINGS_UP_TO = 30
_SAMPLED_ORDERINGS = 20_000


def _trade_off_p_value(goodness: np.ndarray, badness: np.ndarray) -> float:
    """One-sided p-value of Spearman's correlation between ``goodness`` and ``badness``: the share of orderings
    of ``badness`` (every one, or a fixed sample) that correlate at least as strongly. Tied values share their
    average rank, in the observed pairs and in every ordering alike."""
    from scipy.stats import rankdata

    n = len(goodness)
    good = rankdata(goodness) - (n + 1) / 2
    bad = rankdata(badness) - (n + 1) / 2
    orderings = _orderings(n)
    # Centred ranks are multiples of 1/2, so these sums are exact and ties with the observed one are counted.
    as_strong = int(np.count_nonzero(good[orderings] @ bad >= good @ bad))
    if n <= _EVERY_ORDERING_UP_TO:
        return as_strong / len(orderings)
    return (1 + as_strong) / (1 + len(orderings))


@functools.cache
def _orderings(n: int) -> np.ndarray:
    """Every ordering of ``n`` positions, or a fixed sample of them: the same trials always get the same
    p-value."""
    if n <= _EVERY_ORDERING_UP_TO:
        orderings = np.array(list(itertools.permutations(range(n))), dtype=np.int8)
    else:
        rng = np.random.default_rng(n)
        orderings = rng.permuted(np.tile(np.arange(n, dtype=np.int8), (_SAMPLED_ORDERINGS, 1)), axis=1)
    orderings.setflags(write=False)
    return orderings


class GuardrailOutcome(Enum):
    """What a measurement says of a guardrail, allowing for its noise."""

    HELD = "held"
    BREACHED = "breached"
    UNDECIDED = "undecided"  # within the noise of the bound: the evidence cannot tell


@dataclass(frozen=True)
class GuardrailReading:
    """One guardrail judged on one measurement.

    Attributes:
        guardrail: the guardrail.
        value: the measured value.
        noise: its standard error and where that came from (``None``: unknown, judged on the point).
        outcome: held or breached beyond ``Z_ONE_SIDED_95`` standard errors (one-sided 95%), else
            undecided; on the point alone when the noise is unknown.
    """

    guardrail: Guardrail
    value: float
    noise: Noise | None
    outcome: GuardrailOutcome

    @property
    def inside(self) -> float:
        """How far inside the bound the value lies (negative: beyond it)."""
        distance = float(self.guardrail.bound) - self.value
        return distance if self.guardrail.op in ("<=", "<") else -distance

    def describe(self, where: str = "") -> str:
        """``latency_ms <= 20: cannot tell on the holdout (20.07 +- 0.354 (400 examples), 0.2 standard errors
        beyond; ...)``: the rule, the outcome ``where`` it was measured, the value and its noise."""
        rule, at = self.guardrail.describe(), f" {where}" if where else ""
        if self.noise is None:
            return (f"{rule}: {self.outcome.value}{at} ({self.value:.4g}; its noise is unknown, so this reads the "
                    "point: per-example or per-fold values would say how sure)")  # fmt: skip
        value = f"{self.value:.4g} +- {self.noise.stderr:.3g} ({self.noise.source})"
        if self.noise.stderr <= 0:
            return f"{rule}: {self.outcome.value}{at} ({value})"
        z = self.inside / self.noise.stderr
        side = f"{abs(z):.1f} standard errors {'inside' if z >= 0 else 'beyond'}"
        if self.outcome is not GuardrailOutcome.UNDECIDED:
            return f"{rule}: {self.outcome.value}{at} ({value}, {side})"
        return (f"{rule}: cannot tell{at} ({value}, {side}; a one-sided 95% decision needs {Z_ONE_SIDED_95:.2f}): "
                f"{_what_decides(abs(z))}")  # fmt: skip


def _what_decides(z: float) -> str:
    """How much more data would decide a reading ``z`` standard errors from the bound, if the value held."""
    if z <= 0.1:
        return "the value sits on the bound, so more data would barely help: move it off the bound"
    return more_data(z, "the examples (or seeds)")


def read_guardrail(guardrail: Guardrail, value: float, noise: Noise | None = None) -> GuardrailReading:
    """Judge ``guardrail`` on ``value`` measured with ``noise``: held or breached only beyond the noise."""
    if not math.isfinite(value):
        return GuardrailReading(guardrail, value, noise, GuardrailOutcome.BREACHED)
    if noise is None or not math.isfinite(noise.stderr) or noise.stderr <= 0:
        outcome = GuardrailOutcome.HELD if guardrail.holds(value) else GuardrailOutcome.BREACHED
        return GuardrailReading(guardrail, value, noise, outcome)
    reading = GuardrailReading(guardrail, value, noise, GuardrailOutcome.UNDECIDED)
    z = reading.inside / noise.stderr
    if z >= Z_ONE_SIDED_95 and guardrail.holds(value):
        return replace(reading, outcome=GuardrailOutcome.HELD)
    if z <= -Z_ONE_SIDED_95:
        return replace(reading, outcome=GuardrailOutcome.BREACHED)
    return reading
