"""What guardrails measure (calibration, latency, peak memory), and proxy-overfitting detection.

Put the measurements in an objective's result and guard them::

    proba = model.predict_proba(x_val)
    return {"auc": auc, **ts.discipline.calibration(y_val, proba),
            "latency_p95_ms": ts.discipline.latency(model.predict, x_val[:64]).p95_ms}

Proxy overfitting is the primary metric improving while a metric of quality it stands in for degrades
across the best trials (the guide: "AUC improves but calibration degrades"); `proxy_overfitting` finds it.
A guardrail on a cost (latency, memory, size: `_bounds_a_cost`) bounds a trade-off the user accepted, and
is not watched as a proxy, by the verdict or by `proxy_overfitting` called directly (`_watched`: the one rule).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import re
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith._caller import outside_stacklevel
from tunesmith._text import counted
from tunesmith._validate import integer
from tunesmith.discipline.gap import Noise, more_data
from tunesmith.errors import ConfigError
from tunesmith.objective import ANNOTATIONS, STDERR, Direction, Guardrail, Metric, name_words, reads_as_score
from tunesmith.trial import TrialRecord, TrialState

__all__ = [
    "CALIBRATION_METRICS",
    "GuardrailOutcome",
    "GuardrailReading",
    "Latency",
    "MODERATE_TRADE_OFF",
    "PEAK_MEMORY_SAMPLE_INTERVAL_S",
    "PeakMemory",
    "PrimaryTie",
    "ProxyFinding",
    "ProxyScan",
    "ProxyTest",
    "brier_score",
    "calibration",
    "expected_calibration_error",
    "latency",
    "log_loss",
    "peak_memory",
    "proxy_overfitting",
    "proxy_scan",
    "read_guardrail",
    "unmeasured_zero",
]

#: The metric names `calibration` returns; like every reported metric whose name reads as calibration
#: (`_reads_as_calibration`), `proxy_overfitting` watches them (lower is better for each).
CALIBRATION_METRICS = ("ece", "brier", "log_loss")

# Words of a metric's name (`name_words`) that say it measures calibration: a calibration error (expected, maximum)
# or a proper scoring rule on predicted probabilities (Brier, log loss, negative log-likelihood, cross-entropy), and
# pairs of words that say it together. A bare "loss" says nothing of calibration (it may be a squared error), nor a
# name of the training data: a model fitted harder is better fitted there while calibrated worse on new data.
_CALIBRATION_WORDS = frozenset({"ece", "mce", "calibration", "calib", "brier", "nll", "logloss", "crossentropy",
                                "xent", "bce", "loglikelihood"})  # fmt: skip
_CALIBRATION_PAIRS = (frozenset({"log", "loss"}), frozenset({"log", "likelihood"}), frozenset({"cross", "entropy"}))
_TRAINING_WORDS = frozenset({"train", "training"})
# Words also found inside a longer word (``miscalibration``, ``valLogloss``, ``binarycrossentropy``).
_CALIBRATION_INSIDE = frozenset(w for w in _CALIBRATION_WORDS if len(w) >= 5)
def _reads_as_calibration(name: str) -> bool:
    """Whether a metric's name, read by words in any case (``val_ece``, ``ECE``, ``calibration_error``,
    ``holdout_log_loss``, ``val_nll``, ``brierScore``), says it measures calibration, and not on the training data."""
    words = name_words(name, _CALIBRATION_INSIDE) | name_words(name.lower(), _CALIBRATION_INSIDE)
    if words & _TRAINING_WORDS:
        return False
    return bool(words & _CALIBRATION_WORDS) or any(pair <= words for pair in _CALIBRATION_PAIRS)


# Words of a metric's name that say it measures what running the model costs: time, memory, size or compute. A
# guardrail on one bounds a trade-off the user accepts up to the bound (a bigger model errs less and uses more
# memory), so a search that spends it is doing what it was told, not overfitting a proxy (`_bounds_a_cost`).
_COST_WORDS = frozenset({"latency", "time", "runtime", "duration", "ms", "sec", "secs", "seconds", "throughput",
                         "qps", "fps", "memory", "mem", "ram", "vram", "rss", "kb", "kib", "mb", "mib", "gb", "gib",
                         "bytes", "footprint", "size", "param", "params", "parameters", "nparams", "flops", "gflops",
                         "macs", "energy"})  # fmt: skip
_COST_INSIDE = frozenset(w for w in _COST_WORDS if len(w) >= 5)


def _bounds_a_cost(guardrail: Guardrail) -> bool:
    """Whether ``guardrail`` bounds a cost rather than a proxy of quality: declared exact (`Guardrail.exact`: a
    parameter count, a size on disk) or on a metric whose name reads as time, memory, size or compute
    (``latency_p95_ms``, ``mem_mb``, ``peakMemory``, ``n_params``, ``model_size``, ``gflops``); never one whose name
    reads as calibration (`_reads_as_calibration`), which degrades unseen however it is declared."""
    if _reads_as_calibration(guardrail.metric):
        return False
    words = name_words(guardrail.metric, _COST_INSIDE) | name_words(guardrail.metric.lower(), _COST_INSIDE)
    return guardrail.exact or bool(words & _COST_WORDS)


def _calibration_metrics(records: Sequence[TrialRecord], leave_out: Collection[str]) -> list[Metric]:
    """The metrics ``records`` report whose names read as calibration, in the order first reported, but
    ``leave_out``: each minimised, unless its name reads as a score (``neg_log_loss``, ``log_likelihood``)."""
    names = dict.fromkeys(name for r in records for name in r.metrics if not name.startswith(ANNOTATIONS))
    return [Metric(name, "max" if reads_as_score(name) else "min") for name in names
            if name not in leave_out and _reads_as_calibration(name)]  # fmt: skip


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


#: Seconds between the resident-set samples `peak_memory` takes while the call runs.
PEAK_MEMORY_SAMPLE_INTERVAL_S = 0.001

# tracemalloc keeps a record of every live block it traces, allocated with malloc beside the process's own memory,
# so the resident set grows with it (by more than the traced data itself for many small Python objects) and keeps
# some of it after the blocks are freed. get_tracemalloc_memory() counts the records' hash-table entries but not
# the trace each entry points to nor malloc's per-chunk overhead: on CPython 3.11 with glibc the resident set grew
# by 1.9 to 2.0 times what it reports (lists of ints, floats, bytes and dicts); the entry (32 bytes), its trace
# (16) and malloc's chunks (48 and 32) bound the ratio at 2.5, which the resident figure subtracts.
_TRACING_FOOTPRINT_RATIO = 2.5
_MIB = 2**20


class PeakMemory(float):
    """The MiB a call added to the process at its peak, as a float, with the figures it is the larger of.

    It compares and formats as the float it is (``f"{peak:.1f}"``, ``peak <= 512``); the attributes say what was
    measured. Pickles and JSON keep the float (pickles keep the attributes too).

    Attributes:
        traced_mib: the peak rise of memory allocated through Python's allocators, traced with ``tracemalloc``:
            Python objects and numpy arrays, exactly (a ``numpy.zeros`` array counts whole, even where its pages
            were never touched); blind to memory native libraries allocate themselves (PyTorch tensors on the CPU,
            LightGBM, XGBoost).
        resident_mib: the peak rise of the process's resident set (``/proc/self/statm``) over its size when the call
            began, sampled every ``sample_interval_s`` in a background thread and once as the call returns, and
            read exactly from the process's high-water mark (``VmHWM``) when the call set a new one; less
            ``tracemalloc``'s own records (see `peak_memory`). ``None`` where ``/proc/self`` cannot be read (off
            Linux): the float is then ``traced_mib`` alone.
        cuda_mib: the peak rise of the memory PyTorch allocated on CUDA devices during the call, summed over the
            devices (``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``); not part of the float.
            ``None`` when torch was not imported or CUDA is not available.
        sample_interval_s: the seconds between resident-set samples.
    """

    __slots__ = ("cuda_mib", "resident_mib", "sample_interval_s", "traced_mib")
    traced_mib: float
    resident_mib: float | None
    cuda_mib: float | None
    sample_interval_s: float

    def __new__(
        cls, traced_mib: float, resident_mib: float | None, cuda_mib: float | None, sample_interval_s: float
    ) -> PeakMemory:
        self = super().__new__(cls, max(traced_mib, resident_mib or 0.0))
        object.__setattr__(self, "traced_mib", traced_mib)
        object.__setattr__(self, "resident_mib", resident_mib)
        object.__setattr__(self, "cuda_mib", cuda_mib)
        object.__setattr__(self, "sample_interval_s", sample_interval_s)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"PeakMemory is immutable: {name} cannot be set")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.traced_mib, self.resident_mib, self.cuda_mib, self.sample_interval_s))

    @property
    def detail(self) -> str:
        """What was measured, in words."""
        if self.resident_mib is None:
            host = f"traced {self.traced_mib:.2f} MiB (tracemalloc); the resident set was not readable"
        else:
            interval_ms = self.sample_interval_s * 1000
            host = (
                f"resident set +{self.resident_mib:.2f} MiB (sampled every {interval_ms:g} ms), traced "
                f"{self.traced_mib:.2f} MiB (tracemalloc)"
            )
        device = "not measured" if self.cuda_mib is None else f"{self.cuda_mib:.2f} MiB allocated by PyTorch"
        return f"peak {float(self):.2f} MiB: {host}; CUDA {device}"


class _ResidentSampler:
    """Samples this process's resident set in a background thread from `__init__` to `stop`.

    Also samples tracemalloc's own memory, whose largest growth `stop` takes off the peak at
    ``_TRACING_FOOTPRINT_RATIO`` (tracemalloc must be tracing throughout).
    """

    def __init__(self, interval: float) -> None:
        self._statm = os.open("/proc/self/statm", os.O_RDONLY)
        try:
            self._page = os.sysconf("SC_PAGE_SIZE")
            self._interval = interval
            self._high_water_at_start = _high_water_mark()
            self._tracing_at_start = tracemalloc.get_tracemalloc_memory()
            self._tracing_peak = 0
            self._sampled_peak = 0
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample_until_stopped, name="peak_memory", daemon=True)
            self._thread.start()
            self._start = self._resident()  # after the thread's start, so that its stack is not counted
        except BaseException:
            os.close(self._statm)
            raise

    def _resident(self) -> int:
        return int(os.pread(self._statm, 128, 0).split()[1]) * self._page

    def _tracing_growth(self) -> int:
        return tracemalloc.get_tracemalloc_memory() - self._tracing_at_start

    def _sample_until_stopped(self) -> None:
        while True:
            self._sampled_peak = max(self._sampled_peak, self._resident())
            self._tracing_peak = max(self._tracing_peak, self._tracing_growth())
            if self._stop.wait(self._interval):
                return

    def stop(self) -> float:
        """Stop sampling; the peak rise in MiB, the last sample taken now."""
        last = self._resident()
        self._stop.set()
        self._thread.join()
        os.close(self._statm)
        peak = max(self._sampled_peak, last)
        high_water, before = _high_water_mark(), self._high_water_at_start
        if high_water is not None and before is not None and high_water > before:
            peak = max(peak, high_water)  # the call set the process's high-water mark: its exact peak
        tracing = _TRACING_FOOTPRINT_RATIO * max(self._tracing_peak, self._tracing_growth())
        return max(0.0, (peak - self._start - tracing) / _MIB)


def _high_water_mark() -> int | None:
    """This process's peak resident set so far in bytes (``VmHWM``), or ``None`` where it cannot be read."""
    try:
        status = Path("/proc/self/status").read_bytes()
    except OSError:
        return None
    found = re.search(rb"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def _cuda_in_use() -> Any:
    """``torch.cuda`` when torch is imported and CUDA is available, else ``None``; never imports torch itself."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda


def _cuda_start(cuda: Any) -> list[int]:
    """Reset each device's peak; the bytes PyTorch holds allocated on each now (none before CUDA starts)."""
    if not cuda.is_initialized():
        return [0] * cuda.device_count()
    allocated = []
    for device in range(cuda.device_count()):
        cuda.reset_peak_memory_stats(device)
        allocated.append(cuda.memory_allocated(device))
    return allocated


def _cuda_rise(cuda: Any, allocated: list[int]) -> float:
    """The MiB PyTorch's peak allocation rose above ``allocated`` (from `_cuda_start`), summed over the devices."""
    if not cuda.is_initialized():
        return 0.0
    return sum(max(0, cuda.max_memory_allocated(device) - start) for device, start in enumerate(allocated)) / _MIB


def peak_memory(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, PeakMemory]:
    """``(fn(*args, **kwargs), PeakMemory)``: the MiB the call added to the process at its peak.

    The figure (a float) is the larger of two measurements of host memory, both kept on the `PeakMemory`:
    ``traced_mib``, what Python's allocators handed out (``tracemalloc``: Python objects and numpy arrays), and
    ``resident_mib``, the rise of the process's resident set, which sees what native libraries allocate too
    (PyTorch on the CPU, LightGBM, XGBoost). When torch is imported and CUDA is available, the peak of PyTorch's
    CUDA allocations is ``cuda_mib``, a separate figure.

    Limits:
        - The resident set is sampled every `PEAK_MEMORY_SAMPLE_INTERVAL_S` (1 ms) by a Python thread, and read
          as the call returns: a spike shorter than that is missed, unless the call set a new peak for the
          whole process (then its high-water mark gives the exact peak). The thread needs the GIL: while the call
          runs Python code it samples about every ``sys.getswitchinterval()`` (5 ms), and through a native call
          that holds the GIL not at all.
        - The resident set is the process's: what other threads allocate during the call counts too.
        - Allocator caches: memory an allocator kept from earlier frees (glibc, pymalloc) is reused without the
          resident set growing, and only ``traced_mib`` sees Python's share of it; memory allocated but never
          touched is not resident.
        - tracemalloc's own records (more memory than the data itself for millions of small Python objects)
          are taken off the resident figure at 2.5 times the most tracemalloc reported of them, an upper bound:
          native memory allocated beside many Python objects reads low by up to that much, rather than the
          records reading as the call's memory.
        - ``cuda_mib`` counts tensors PyTorch allocated, not its cached reserve (``max_memory_reserved``), the
          CUDA context or other libraries' device memory. It resets PyTorch's peak statistics, and ``tracemalloc``
          its peak, for the whole process: nested or concurrent calls disturb each other.

    Example::

        _, peak = ts.discipline.peak_memory(model.predict, x_val)
        return {"auc": auc, "peak_mib": peak}
    """
    cuda = _cuda_in_use()
    cuda_allocated = _cuda_start(cuda) if cuda is not None else []
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        try:
            sampler: _ResidentSampler | None = _ResidentSampler(PEAK_MEMORY_SAMPLE_INTERVAL_S)
        except OSError:  # no /proc/self (off Linux)
            sampler = None
        try:
            result = fn(*args, **kwargs)
        finally:
            resident = sampler.stop() if sampler is not None else None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not already:
            tracemalloc.stop()
    cuda_mib = _cuda_rise(cuda, cuda_allocated) if cuda is not None else None
    return result, PeakMemory(max(0.0, (peak - base) / _MIB), resident, cuda_mib, PEAK_MEMORY_SAMPLE_INTERVAL_S)


@dataclass(frozen=True)
class ProxyFinding:
    """A guardrail metric that degrades as the primary metric improves across the best trials.

    Attributes:
        metric: the degrading metric.
        correlation: Spearman correlation between primary-metric goodness and this metric's badness (> 0: trade-off).
        trials: how many of the best trials were compared.
        detail: the figures, in words.
        direction: which way the degrading metric is better, as it was watched (``"min"`` or ``"max"``).
    """

    metric: str
    correlation: float
    trials: int
    detail: str
    direction: Direction = "min"

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "correlation": self.correlation, "trials": self.trials, "detail": self.detail}


def _guarded_metric(guardrail: Guardrail) -> Metric:
    """The metric ``guardrail`` bounds, worsening the way it bounds it: minimised under a ceiling (``<=``, ``<``),
    maximised above a floor."""
    return Metric(guardrail.metric, "min" if guardrail.op in ("<=", "<") else "max")


def _watched(watch: Sequence[Guardrail | Metric | str]) -> tuple[list[Metric], tuple[Guardrail, ...]]:
    """The metrics ``watch`` has watched for proxy overfitting, and the guardrails it gives that bound a cost
    (`_bounds_a_cost`), which are not: the trade-off such a bound accepts up to its bound is no proxy overfitted. A
    cost given as a `Metric` or a name is watched: that is how one asks for it."""
    out: list[Metric] = []
    costs: list[Guardrail] = []
    for item in watch:
        if isinstance(item, Guardrail):
            if _bounds_a_cost(item):
                costs.append(item)
            else:
                out.append(_guarded_metric(item))
        elif isinstance(item, Metric):
            out.append(item)
        elif isinstance(item, str):
            out.append(Metric(item, "min"))
        else:
            raise ConfigError(f"watch takes Guardrail, Metric or metric names, got {item!r}")
    return out, tuple(costs)


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

    The Spearman correlation between the primary metric's goodness and a watched metric's badness is tested over
    three windows of the trials ranked by the primary metric: the best ``top``, twice as many, and every trial
    (the search's whole climb: a sampler that models the metric, the default GP among them, piles its best trials
    up near the optimum, where the metric barely varies and noise hides a trade-off). A metric is flagged when a
    window's one-sided p-value is at most ``significance`` shared among every window of every metric compared
    (Bonferroni: watching three metrics, or looking wider, must not triple the false alarms); the finding names
    the narrowest such window. The p-value counts every ordering of the watched metric up to 8 trials, a fixed
    sample of 20,000 orderings up to 30, and takes Student's t approximation beyond, each within about 5% of the
    stated level. At 5% for one test, six trials need a correlation of about 0.83, ten about 0.56, thirty about
    0.31. Finding nothing is not evidence of nothing: `proxy_scan` also says whether the widest window rules out
    a moderate trade-off (`MODERATE_TRADE_OFF`).

    Args:
        records: the trials; COMPLETE and INFEASIBLE ones with both metrics are compared.
        metric: the primary metric.
        watch: what to watch (a guardrail's direction is its bound's side, a bare name is minimised). A guardrail
            on a cost (`_bounds_a_cost`: declared exact, or a name that reads as time, memory, size or compute) is
            not watched, as in the verdict: the trade-off it bounds is one accepted up to the bound; to watch such
            a metric, give it as ``ts.Metric(name, direction)`` or its name (`proxy_scan` lists the costs it left
            out in ``ProxyScan.costs``). Every other metric the trials
            report whose name reads as calibration (`_reads_as_calibration`: a word such as ece, calibration,
            brier, log_loss, nll or cross_entropy, in any case, with any prefix, but not train) is watched too,
            minimised unless its name reads as a score (``neg_log_loss``), and never the primary metric itself.
        top: the fraction of trials (best by the primary metric) in the narrowest window, at least
            ``min_trials``; the next window holds twice as many, the last every trial.
        min_trials: the fewest trials measuring a metric for it to be compared.
        threshold: deprecated; a correlation the flag also requires, over the best ``top`` only (the one window
            it was chosen for). A fixed correlation over the best trials loses power as trials grow (their range
            narrows), so the p-value alone decides.
        significance: the chance, shared among the windows and metrics compared, of flagging a metric with no
            trade-off.

    Warns:
        FutureWarning: when ``threshold`` is given.
    """
    _warn_threshold(threshold)
    return _scan(records, metric, watch, top=top, min_trials=min_trials, threshold=threshold,
                 significance=significance).findings  # fmt: skip


#: The smallest trade-off a pass must be able to rule out before it says there is none: a Spearman correlation of
#: 0.3, Cohen's "medium" (0.1 small, 0.5 large). Below it the watched metric's ranks share under a tenth of their
#: variance with the primary metric's among the best trials, so picking among those for the guardrail costs
#: little of the primary metric; above it, a search that climbs the primary metric drags the watched one along.
MODERATE_TRADE_OFF = 0.3


@dataclass(frozen=True)
class ProxyTest:
    """One watched metric's correlation with the primary metric over one window of the best trials.

    Attributes:
        metric: the watched metric.
        trials: how many trials of the window measured the metric.
        correlation: Spearman correlation between primary-metric goodness and this metric's badness.
        p_value: its one-sided p-value (a trade-off: the correlation is positive).
        upper: the correlation's one-sided upper confidence bound, at the scan's ``bound_level`` (Fisher's
            transform with Bonett and Wright's variance for Spearman's correlation).
        every: whether this is the widest window: every trial ranked but those far below the rest on the
            primary metric (beyond Tukey's far-out fence, 3 interquartile ranges below the lower quartile).
        left_out: how many trials the widest window left out as far below the rest.
    """

    metric: str
    trials: int
    correlation: float
    p_value: float
    upper: float
    every: bool = False
    left_out: int = 0

    @property
    def window(self) -> str:
        """The window in words: ``"the best 10 trials"``, ``"all 40 trials"``, ``"all 35 trials but the 5 far below
        the rest"``."""
        if not self.every:
            return f"the best {self.trials} trials"
        if not self.left_out:
            return f"all {self.trials} trials"
        return f"all {self.trials} trials but the {self.left_out} far below the rest"


@dataclass(frozen=True)
class PrimaryTie:
    """The primary metric's best value shared by so many trials that it fills the scan's narrowest window: among
    them the primary metric does not vary, so no trade-off can be read there, only against the trials off the tie.

    Attributes:
        value: the best value, tied.
        tied: how many trials share it.
        ranked: how many trials were ranked on the primary metric.
    """

    value: float
    tied: int
    ranked: int

    def describe(self, metric: Metric) -> str:
        """``val_auc ties at its best, 0.9, on 27 of the 30 trials``."""
        return f"{metric.name} ties at its best, {self.value:.4g}, on {self.tied} of the {self.ranked} trials"


@dataclass(frozen=True)
class ProxyScan:
    """What `proxy_scan` compared (``compared``: the metrics it could test), its tests and what it found.

    ``tests`` holds every window tested per metric, narrowest first; ``level`` is the significance each test was
    held to (shared among them all), ``bound_level`` the one-sided level of each upper bound (shared among the
    metrics); ``tie``: the primary metric's best value when enough trials share it to fill the narrowest window;
    ``watched``: every metric watched, compared or not; ``costs``: the guardrails given that bound a cost
    (`_bounds_a_cost`), left unwatched.
    """

    compared: tuple[str, ...]
    findings: list[ProxyFinding]
    tests: tuple[ProxyTest, ...] = ()
    level: float = 0.05
    bound_level: float = 0.05
    tie: PrimaryTie | None = None
    watched: tuple[str, ...] = ()
    costs: tuple[Guardrail, ...] = ()

    def widest(self, metric: str) -> ProxyTest:
        """``metric``'s test over its widest window."""
        return max((t for t in self.tests if t.metric == metric), key=lambda t: t.trials)

    @property
    def decided(self) -> bool:
        """Whether the scan settles the question: a trade-off found, or every metric's widest window rules out a
        moderate one (`MODERATE_TRADE_OFF`) at its one-sided upper bound. A scan that compared nothing is not."""
        if self.findings:
            return True
        return bool(self.compared) and all(self.widest(m).upper < MODERATE_TRADE_OFF for m in self.compared)

    def absence(self, metric: Metric) -> str:
        """What a scan may say of each metric it compared and found nothing on: no trade-off beyond chance in the
        windows it tested, and whether the widest could have seen a moderate one; if not, what would decide."""
        said = []
        for name in self.compared:
            tested = " or ".join(f"{t.window} (Spearman {t.correlation:.2f}, one-sided {_shown(t.p_value)})"
                                 for t in self.tests if t.metric == name)  # fmt: skip
            widest = self.widest(name)
            line = f"no trade-off between {name} and {metric.name} beyond chance among {tested}"
            bound = f"{1 - self.bound_level:.0%} upper bound {widest.upper:.2f}"
            if widest.upper < MODERATE_TRADE_OFF:
                said.append(f"{line}; a moderate one (Spearman {MODERATE_TRADE_OFF:g} or more) among {widest.window} "
                            f"is ruled out ({bound})")  # fmt: skip
                continue
            said.append(f"{line}, but {widest.window} cannot rule out a moderate one ({bound}, not below "
                        f"{MODERATE_TRADE_OFF:g}): {_trials_to_decide(widest, self.bound_level)}")  # fmt: skip
        return "; ".join(said)


def _shown(p_value: float) -> str:
    return f"p = {p_value:.3f}" if p_value >= 0.001 else "p < 0.001"


def _upper_bound(correlation: float, trials: int, level: float) -> float:
    """The one-sided ``1 - level`` upper confidence bound of a Spearman correlation over ``trials`` pairs: Fisher's
    transform, with Bonett and Wright's (2000) variance (1 + r^2 / 2) / (n - 3) for Spearman's coefficient."""
    from scipy.stats import norm

    if trials <= 3:
        return 1.0
    r = min(max(correlation, -0.9999), 0.9999)
    return float(np.tanh(np.arctanh(r) + norm.ppf(1.0 - level) * math.sqrt((1.0 + r**2 / 2.0) / (trials - 3))))


def _trials_to_decide(test: ProxyTest, level: float) -> str:
    """How many trials the window would need to rule out a moderate trade-off if the correlation stayed where it is:
    the ``n`` that brings `_upper_bound` below `MODERATE_TRADE_OFF`."""
    from scipy.stats import norm

    room = math.atanh(MODERATE_TRADE_OFF) - math.atanh(min(max(test.correlation, -0.9999), 0.9999))
    if room <= 0.05:
        return (f"the correlation so far ({test.correlation:.2f}) is itself near or above that, so only more trials "
                "would tell whether it is real")  # fmt: skip
    needed = math.ceil(3 + (1 + test.correlation**2 / 2) * (float(norm.ppf(1.0 - level)) / room) ** 2)
    where = "trials" if test.every else "of the best trials (more trials near the top)"
    return f"about {needed} {where} would decide if the correlation stayed at {test.correlation:.2f}"


def proxy_scan(
    records: Sequence[TrialRecord],
    metric: Metric,
    watch: Sequence[Guardrail | Metric | str] = (),
    *,
    top: float = 0.25,
    min_trials: int = 6,
    threshold: float | None = None,
    significance: float = 0.05,
    leave_out: Collection[str] = (),
) -> ProxyScan:
    """`proxy_overfitting`, also saying which metrics it could compare (enough trials measured them, and
    they varied), every test it ran, and whether a scan without findings rules out a moderate trade-off
    (`ProxyScan.decided`, `ProxyScan.absence`). ``leave_out``: names never watched for reading as calibration
    alone (a study's other objectives: their trade-off with the primary metric is the front)."""
    _warn_threshold(threshold)
    return _scan(records, metric, watch, top=top, min_trials=min_trials, threshold=threshold,
                 significance=significance, leave_out=leave_out)  # fmt: skip


def _warn_threshold(threshold: float | None) -> None:
    if threshold is not None:
        warnings.warn(
            f"proxy overfitting's threshold is deprecated, got threshold={threshold}: a fixed correlation over "
            "the best trials loses power as trials grow, so the one-sided p-value alone should decide; drop the "
            "argument (it still also requires the correlation to reach it)",
            FutureWarning,
            stacklevel=outside_stacklevel(),
        )


#: Tukey's far-out fence: a trial whose primary metric lies more than this many interquartile ranges below the
#: lower quartile is no contender, and the widest window of `proxy_scan` leaves it out.
_FAR_OUT = 3.0


def _contenders(ranked: Sequence[TrialRecord], metric: Metric) -> int:
    """How many of ``ranked`` (best first) lie above Tukey's far-out fence on ``metric``'s goodness: 3 interquartile
    ranges below the lower quartile. When more than half the trials tie (a plateau: 27 of 30 at an AUC of 0.9000),
    the interquartile range is 0 and that fence kept the tie alone, where the primary metric cannot vary. The range
    is then read from the trials off the tie, as twice their median absolute deviation (the interquartile range of a
    normal sample; robust to up to half of them collapsed), so that the trials just below a plateau stay contenders
    and a collapsed configuration far below them does not. With fewer than two trials off the tie, or those alike,
    the fence stays at the tie."""
    if not ranked:
        return 0
    goodness = np.array([-metric.sign() * (r.value(metric.name) or 0.0) for r in ranked])
    lower, upper = np.percentile(goodness, [25, 75])
    spread = upper - lower
    if spread == 0:
        off_the_tie = goodness[goodness != lower]
        if off_the_tie.size >= 2:
            spread = 2.0 * float(np.median(np.abs(off_the_tie - np.median(off_the_tie))))
    return int(np.count_nonzero(goodness >= lower - _FAR_OUT * spread))


def _tie_at_best(ranked: Sequence[TrialRecord], metric: Metric, narrowest: int) -> PrimaryTie | None:
    """The primary metric's best value when at least ``narrowest`` (and two) of ``ranked`` (best first) share it."""
    if not ranked:
        return None
    best = ranked[0].value(metric.name)
    tied = sum(1 for r in ranked if r.value(metric.name) == best)
    if best is None or tied < max(2, narrowest):
        return None
    return PrimaryTie(best, tied, len(ranked))


def _scan(
    records: Sequence[TrialRecord],
    metric: Metric,
    watch: Sequence[Guardrail | Metric | str],
    *,
    top: float,
    min_trials: int,
    threshold: float | None,
    significance: float,
    leave_out: Collection[str] = (),
) -> ProxyScan:
    from scipy.stats import spearmanr

    finished = [r for r in records if r.state in (TrialState.COMPLETE, TrialState.INFEASIBLE)]
    watched, costs = _watched(watch)
    watched += _calibration_metrics(finished, {metric.name, *leave_out, *(m.name for m in watched)})
    ranked = sorted(
        (r for r in finished if r.value(metric.name) is not None),
        key=lambda r: metric.sign() * (r.value(metric.name) or 0.0),
    )
    # Three windows: the best ``top``, twice as many, and every trial but those far below the rest. A sampler that
    # models the metric (the default GP) piles the best trials up near the optimum, where the metric barely varies
    # and its noise hides a trade-off that the search's whole climb shows: ECE rising from 0.02 to 0.12 as AUC rose
    # over the range, 40 trials, was found in 8% of 200 studies by the best quarter alone under the default sampler
    # (33% under random search), in 100% (100%) now. A trial far below the rest (a collapsed configuration: a
    # constant prediction is perfectly calibrated) is no contender: kept, it showed a trade-off none of the
    # contenders had in 27% (41%) of studies where a tenth of the range collapsed; left out (Tukey's far-out fence),
    # in 3% (5.5%). False alarms on an unrelated metric stay about 5%: 5.3% of 400 (4.6% of 1,000) studies.
    contenders = min(len(ranked), max(min_trials, _contenders(ranked, metric)))
    counts = sorted({min(contenders, max(min_trials, math.ceil(share * len(ranked)))) for share in (top, 2.0 * top)}
                    | {contenders})  # fmt: skip
    widest: int | None = contenders
    if threshold is not None:  # a deprecated threshold keeps the one window it was chosen for
        widest, counts = None, [min(len(ranked), max(min_trials, math.ceil(top * len(ranked))))]
    tests: list[tuple[Metric, int, float, float, bool]] = []
    for guard in watched:
        sizes: set[int] = set()
        for count in counts:
            pairs = [
                (-metric.sign() * (r.value(metric.name) or 0.0), guard.sign() * v)
                for r in ranked[:count]
                if (v := r.value(guard.name)) is not None
            ]
            if len(pairs) < min_trials or len(pairs) in sizes:  # too few, or the same trials as a narrower window
                continue
            goodness, badness = (np.array(x) for x in zip(*pairs, strict=True))
            if np.ptp(goodness) == 0 or np.ptp(badness) == 0:
                continue
            sizes.add(len(pairs))
            test = spearmanr(goodness, badness, alternative="greater")
            p_value = _trade_off_p_value(goodness, badness) if len(pairs) <= _SAMPLED_ORDERINGS_UP_TO else test.pvalue
            tests.append((guard, len(pairs), float(test.statistic), float(p_value), count == widest))
    directions = {guard.name: guard.direction for guard in watched}
    compared = tuple(dict.fromkeys(guard.name for guard, *_ in tests))
    # Bonferroni over every window of every metric: watching more, or looking wider, must not add false alarms.
    level = significance / max(1, len(tests))
    bound_level = significance / max(1, len(compared))
    left_out = 0 if widest is None else len(ranked) - widest
    proxy_tests = tuple(ProxyTest(guard.name, n, rho, p, _upper_bound(rho, n, bound_level), every,
                                  left_out if every else 0) for guard, n, rho, p, every in tests)  # fmt: skip
    findings = []
    for name in compared:
        flagged = [t for t in proxy_tests if t.metric == name and t.p_value <= level
                   and (threshold is None or t.correlation >= threshold)]  # fmt: skip
        if not flagged:
            continue
        found = flagged[0]  # the narrowest window that shows it: the nearest the optimum
        floor = f" >= {threshold:.2f}" if threshold is not None else ""
        shared = ""
        if len(tests) > 1:
            shared = (f" <= {level:.3f}: {significance:.0%} shared among {len(tests)} tests, "
                      f"{counted(len(compared), 'metric')} watched over their windows of the best trials")  # fmt: skip
        detail = (f"across {found.window}, {name} gets worse as {metric.name} improves (Spearman "
                  f"{found.correlation:.2f}{floor}, one-sided {_shown(found.p_value)}{shared})")  # fmt: skip
        findings.append(ProxyFinding(name, found.correlation, found.trials, detail, directions[name]))
    return ProxyScan(compared, findings, proxy_tests, level, bound_level, _tie_at_best(ranked, metric, counts[0]),
                     tuple(directions), costs)  # fmt: skip


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


#: The one-sided level of a guardrail's decisions: held, or breached, only beyond its noise at 5%.
_LEVEL = 0.05


def _held_level(chosen_inside: bool, compared: int) -> float:
    """The one-sided level a held reading is read at, so that a guardrail whose true value sits on its bound reads
    held in at most `_LEVEL` of the verdicts that judge it (`read_guardrail`)."""
    level = _LEVEL / compared  # any of ``compared`` readings that far inside: at most their sum (Bonferroni)
    return level * (1.0 - 0.5**compared) if chosen_inside else level  # the pick happens once one fell inside


def _degrees_of_freedom(noise: Noise | None) -> float | None:
    """The degrees of freedom ``noise``'s standard error was estimated with: its own (`Noise.dof`: a spread over a
    few runs), else a mean of m per-example values' m - 1; ``None``: many, read with the normal."""
    if noise is None or noise.dof is not None:
        return None if noise is None else noise.dof
    return None if noise.examples is None else noise.examples - 1.0


def _standard_errors(level: float, dof: float | None) -> float:
    """How many standard errors from the bound a one-sided ``level`` needs: Student's t on ``dof`` degrees of
    freedom (two runs' spread needs 6.31 at 5%, not the normal's 1.645), the normal when ``dof`` is ``None``."""
    from scipy import stats

    return float(stats.norm.isf(level) if dof is None else stats.t.isf(level, dof))


class GuardrailOutcome(Enum):
    """What a measurement says of a guardrail, allowing for its noise."""

    HELD = "held"
    BREACHED = "breached"
    UNDECIDED = "undecided"  # within the noise of the bound, or inside it with unknown noise: the evidence cannot tell


@dataclass(frozen=True)
class GuardrailReading:
    """One guardrail judged on one measurement.

    Attributes:
        guardrail: the guardrail.
        value: the measured value.
        noise: its standard error and where that came from (``None``: unknown).
        outcome: held `needed` standard errors inside the bound, breached `breach_needed` beyond it, else
            undecided. With unknown noise (`noise_known` false) a value beyond the bound is breached and one
            inside it undecided: the point alone cannot show that a guardrail holds.
        chosen_inside: the reading was chosen for falling inside the bound (see `read_guardrail`).
        compared: how many configurations' readings of the guarded metric the pick chose this one among (1: the
            pick did not read it; see `read_guardrail`).
        readings: how many readings of the guardrail a breach in any one of decides it (1: this one alone; see
            `read_guardrail`).
    """

    guardrail: Guardrail
    value: float
    noise: Noise | None
    outcome: GuardrailOutcome
    chosen_inside: bool = False
    compared: int = 1
    readings: int = 1

    @property
    def inside(self) -> float:
        """How far inside the bound the value lies (negative: beyond it)."""
        distance = float(self.guardrail.bound) - self.value
        return distance if self.guardrail.op in ("<=", "<") else -distance

    @property
    def noise_known(self) -> bool:
        """Whether the value's standard error is known: measured by per-example or per-fold values, or by a spread
        across seeds. A zero no such values measured (runs that agree exactly across seeds, with nothing per example
        or per fold: `unmeasured_zero`) is not: a deterministic model's runs agree whatever the sampling noise of
        the examples they read."""
        return _known(self.noise)

    @property
    def needed(self) -> float:
        """How many standard errors inside the bound a held reading needs: the one-sided 5% point, or further for
        a reading the pick favoured, on Student's t when the noise was read from a few values (`read_guardrail`)."""
        return _standard_errors(_held_level(self.chosen_inside, self.compared), _degrees_of_freedom(self.noise))

    @property
    def breach_needed(self) -> float:
        """How many standard errors beyond the bound a breached reading needs: the one-sided 5% point shared among
        the ``readings`` (Student's t when the noise was read from a few values; the pick favoured readings inside,
        never beyond)."""
        return _standard_errors(_LEVEL / self.readings, _degrees_of_freedom(self.noise))

    def describe(self, where: str = "") -> str:
        """``latency_ms <= 20: cannot tell on the holdout (20.07 +- 0.354 (400 examples), 0.2 standard errors
        beyond; ...)``: the rule, the outcome ``where`` it was measured, the value and its noise."""
        rule, at = self.guardrail.describe(), f" {where}" if where else ""
        point = self.guardrail.value_text(self.value, 4)  # on the side of the bound it lies on
        if self.noise is not None and unmeasured_zero(self.noise):
            return self._describe_unmeasured_zero(rule, at, self.noise, point)
        if self.noise is None or not self.noise_known:
            if self.outcome is GuardrailOutcome.BREACHED:
                return (f"{rule}: breached{at} ({point}; its noise is unknown, so this reads the point, and "
                        "beyond the bound a point is a breach)")  # fmt: skip
            measures = _what_measures(self.guardrail)
            return (f"{rule}: not shown to hold{at} ({point}, inside the bound on the point; its noise is "
                    f"unknown, so the point alone cannot show that it holds: {measures})")  # fmt: skip
        value = f"{point} +- {self.noise.stderr:.3g} ({self.noise.source})"
        if self.noise.stderr <= 0:
            return f"{rule}: {self.outcome.value}{at} ({value})"
        z = self.inside / self.noise.stderr
        side = f"{abs(z):.1f} standard errors {'inside' if z >= 0 else 'beyond'}"
        if self.outcome is not GuardrailOutcome.UNDECIDED:
            return f"{rule}: {self.outcome.value}{at} ({value}, {side})"
        needs = self.breach_needed if z < 0 else self.needed
        return (f"{rule}: cannot tell{at} ({value}, {side}; a one-sided 95% decision needs {needs:.2f}"
                f"{self._why_needed(beyond=z < 0)}): {_what_decides(abs(z), needs)}")  # fmt: skip

    def _describe_unmeasured_zero(self, rule: str, at: str, noise: Noise, point: str) -> str:
        """The detail of a reading whose runs agreed exactly (`unmeasured_zero`): a breach on the point, else not
        shown to hold, with what would measure the noise the agreement hides."""
        alike = f"{point} on all {noise.source}: runs that agree exactly"
        if self.outcome is GuardrailOutcome.BREACHED:
            return (f"{rule}: breached{at} ({alike}, with no per-example or per-fold values, leave its noise unknown, "
                    "so this reads the point, and beyond the bound a point is a breach)")  # fmt: skip
        return (f"{rule}: not shown to hold{at} ({alike} measure no noise of the examples {self.guardrail.metric} "
                f"was read on, so the point alone cannot show that it holds; {_what_measures_examples(self.guardrail)} "
                "to decide)")  # fmt: skip

    def _why_needed(self, *, beyond: bool) -> str:
        """Why a decision needs what it does, when not the normal's one-sided 5% point: the noise read from a few
        values (Student's t), and for held a reading the pick favoured."""
        dof = _degrees_of_freedom(self.noise)
        said = "" if dof is None else f" (Student's t on {dof:.3g} degrees of freedom)"
        if beyond and self.readings > 1:
            return (f"{said}, as a breach in any of the {self.readings} readings of {self.guardrail.metric} decides: "
                    f"one-sided {_LEVEL / self.readings:.2%} each, which keeps 5% over all of them")  # fmt: skip
        if beyond or not (self.chosen_inside or self.compared > 1):
            return said
        if self.compared == 1:
            return f"{said}, as the reading was chosen for falling inside the bound"
        level = _held_level(self.chosen_inside, self.compared)
        return (f"{said}, as the pick read {self.guardrail.metric} itself and may have taken the luckiest of "
                f"{self.compared} configurations' readings: one-sided {level:.2%} each, which keeps 5% over all of "
                "them")  # fmt: skip


def unmeasured_zero(noise: Noise) -> bool:
    """Whether ``noise`` is a standard error of exactly 0 that no per-example or per-fold values measured: the
    spread of runs that agree exactly across seeds (`_reruns.across_runs`), which a model that ignores its seed
    gives whatever the sampling noise of its examples. Per-example values all alike are read by `noise_of` (the
    adjusted proportion's standard error, or unknown) and per-fold values all alike say their degrees of freedom, so
    neither is this."""
    return noise.stderr == 0 and noise.examples is None and noise.dof is None


def _known(noise: Noise | None) -> bool:
    return noise is not None and math.isfinite(noise.stderr) and noise.stderr >= 0 and not unmeasured_zero(noise)


def _what_measures(guardrail: Guardrail) -> str:
    """What would measure the noise of a guardrail's metric read as one number."""
    return (f"re-runs across seeds (ts.validate_top(study, objective)) or per-example values of {guardrail.metric} "
            "(a sequence) would measure it")  # fmt: skip


def _what_measures_examples(guardrail: Guardrail) -> str:
    """What would measure the sampling noise of a guardrail's metric that re-runs cannot: the examples'."""
    name = guardrail.metric
    return (f"return its per-example values (a sequence), its values on folds of the validation data "
            f"(**ts.discipline.fold_metrics({name!r}, per_fold)) or, for a score that is no mean over examples "
            f"such as ECE, a bootstrap standard error as {STDERR + name!r}")  # fmt: skip


def _what_decides(z: float, needed: float) -> str:
    """How much more data would decide a reading ``z`` standard errors from the bound, if the value held, at
    ``needed`` standard errors."""
    if z <= 0.1:
        return "the value sits on the bound, so more data would barely help: move it off the bound"
    return more_data(z, "the examples (or seeds)", needed)


def read_guardrail(guardrail: Guardrail, value: float, noise: Noise | None = None, *, chosen_inside: bool = False,
                   compared: int = 1, readings: int = 1) -> GuardrailReading:  # fmt: skip
    """Judge ``guardrail`` on ``value`` measured with ``noise``: held or breached only beyond the noise, at the
    one-sided 5% point. With the noise unknown a value beyond the bound is breached, and one inside it undecided:
    one number of unknown noise cannot show that the guardrail holds (the search once read a latency of 51 +- 2 ms
    against a limit of 50 as held in 191 of 200 studies, on the chosen trial's one lucky result). Runs that agree
    exactly across seeds with no per-example or per-fold values (`unmeasured_zero`) are one number too: a model
    that ignores its seed read an ECE of 0.0553 against a bound of 0.06 as held, "+- 0 (6 seeds)", where the ECE of
    its 560 validation examples has a bootstrap spread of 0.012. A standard error
    read from a few values (`Noise.dof`: the spread of n re-runs, on n - 1 degrees of freedom; a mean of m
    per-example values, on m - 1) is read with Student's t: at 1.645 a guardrail on its bound read across 2 and 3
    re-runs held in 39 and 20 of 200 verdicts.

    Held needs more when the reading was favoured, so that a true value on the bound reads held in at most 5% of
    the verdicts:

    * ``chosen_inside``: the reading is the search's result of the trial it chose, and a trial whose result
      breached the guardrail was infeasible, never chosen. At a true value on the bound half the readings fall
      inside, so held at the 5% point would be read in 10% of the chosen ones (10.5% measured): held then needs the
      one-sided 2.5% point (1.96), which keeps 5% among readings inside the bound.
    * ``compared``: the pick read the guarded metric itself (``choose.best`` on it, the knee, a weight on it) among
      that many configurations' readings, and may have taken the luckiest: with every configuration on the bound,
      ``choose.best("latency_ms")`` over 20 trials read held at 1.96 in 14 of 40 verdicts. Any of them lies that
      far inside in at most ``compared`` times the level (Bonferroni), so held needs the point of 5% shared among
      them (with ``chosen_inside``, of the 1 - 2**-compared of studies where one fell inside: 2.5% for one).

    Breached needs more when this is one of ``readings`` readings of the guardrail (the holdout and the re-runs) and a
    breach in any of them decides: each read at 5%, a latency on its bound read breached in 12.4% of 394 verdicts
    (50 holdout values and 10 re-runs), so each is read at 5% shared among them (Bonferroni: 5.1%). Held needs no
    such share, for it needs every reading to hold.

    Raises:
        ConfigError: ``compared`` or ``readings`` is not a positive integer.
    """
    integer("compared", compared, minimum=1, fix="pass how many configurations' readings the pick chose among, "
            "1 when it did not read the guarded metric")  # fmt: skip
    integer("readings", readings, minimum=1, fix="pass how many readings of the guardrail a breach in any one of "
            "decides it, 1 for this one alone")  # fmt: skip
    if guardrail.exact:  # declared without noise: the value is the metric's
        noise = Noise(0.0, "exact (Guardrail(exact=True))", dof=math.inf)
    if not math.isfinite(value):
        return GuardrailReading(guardrail, value, noise, GuardrailOutcome.BREACHED, chosen_inside, compared, readings)
    reading = GuardrailReading(guardrail, value, noise, GuardrailOutcome.UNDECIDED, chosen_inside, compared, readings)
    if noise is None or not _known(noise) or noise.stderr == 0:
        if not guardrail.holds(value):
            return replace(reading, outcome=GuardrailOutcome.BREACHED)
        return replace(reading, outcome=GuardrailOutcome.HELD) if _known(noise) else reading
    z = reading.inside / noise.stderr
    if z >= reading.needed and guardrail.holds(value):
        return replace(reading, outcome=GuardrailOutcome.HELD)
    if z <= -reading.breach_needed:
        return replace(reading, outcome=GuardrailOutcome.BREACHED)
    return reading
