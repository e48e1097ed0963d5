"""Re-running one configuration with one fresh seed: what seed stability and the baseline share."""

from __future__ import annotations

import math
import shutil
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith._text import excerpt
from tunesmith._validate import integer
from tunesmith.discipline.gap import Noise, noise_of
from tunesmith.errors import ConfigError, Infeasible
from tunesmith.executors.inline import noting_interrupts
from tunesmith.objective import Guardrail, Metric, keys_of, normalise_result
from tunesmith.trial import Trial, TrialRecord, TrialState

__all__ = [
    "BASELINE_NUMBER",
    "Objective",
    "SeedRun",
    "check_keep_checkpoints",
    "run_once",
    "seed_list",
    "typical_duration",
]

Objective = Callable[[Trial], Any]
BASELINE_NUMBER = -1


def seed_list(study_seed: int, count: int) -> list[int]:
    """``count`` fresh 32-bit seeds derived from the study seed, distinct from every trial's seed stream."""
    integer("seeds", count, minimum=2, fix="use 5 (a spread needs two seeds at least)")
    return [int(np.random.SeedSequence([study_seed, 0x5EED, i]).generate_state(1)[0]) for i in range(count)]


def check_keep_checkpoints(keep: object) -> None:
    """Refuse a ``keep_checkpoints`` that is not a bool: a count (the study's ``keep_checkpoints`` is one) read
    as true would keep every re-run's folder."""
    if not isinstance(keep, bool):
        raise ConfigError(
            f"keep_checkpoints must be True or False (keep each re-run's checkpoint folder or not), got {keep!r}: "
            "pass keep_checkpoints=True to keep them, or leave it out to delete each once its re-run ends"
        )


def typical_duration(records: Sequence[TrialRecord]) -> float | None:
    """The median seconds a COMPLETE trial among ``records`` took: what a re-run is expected to take
    before one has finished (``None`` without any)."""
    durations = [r.duration for r in records if r.state is TrialState.COMPLETE and r.duration is not None]
    return float(np.median(durations)) if durations else None


@dataclass(frozen=True)
class SeedRun:
    """One re-run of a configuration with one seed.

    Attributes:
        candidate: the trial number whose configuration ran (-1 for the baseline).
        seed: the seed.
        state: ``"complete"``, ``"infeasible"`` (a guardrail breached, or the objective raised `Infeasible`) or
            ``"failed"``.
        metrics: everything the objective returned (slice metrics included); none when it raised.
        reason: why it did not complete, with the error text for a failure.
    """

    candidate: int
    seed: int
    state: str
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "seed": self.seed, "state": self.state, "metrics": self.metrics,
                "reason": self.reason}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SeedRun:
        return cls(int(data["candidate"]), int(data["seed"]), str(data["state"]),
                   {k: float(v) for k, v in data.get("metrics", {}).items()}, data.get("reason"))  # fmt: skip


def run_once(
    objective: Objective,
    params: Mapping[str, Any],
    seed: int,
    *,
    candidate: int,
    metric: Metric,
    guardrails: Sequence[Guardrail] = (),
    checkpoint_dir: Path | None = None,
    keep_checkpoint: bool = False,
) -> SeedRun:
    """Run ``objective`` on one configuration and seed; a user's error becomes a failed run, never an exception.

    An interrupt (Ctrl-C; SIGTERM or SIGHUP under `tunesmith run`) delivered while the objective ran is raised here
    even when the objective caught it and returned or failed (`noting_interrupts`): a cut-short run is no result.
    An objective that raises `Infeasible` makes an INFEASIBLE run, without metrics, its reason the exception's.

    A re-run is fresh (``trial.resumed`` is false), so ``checkpoint_dir`` is emptied before it starts: an objective
    that loads whatever checkpoint it finds loaded the state an earlier re-run on the same seed left there. It is
    deleted once the run ends (nothing reads a re-run's files afterwards) unless ``keep_checkpoint``.
    """
    if checkpoint_dir is not None:
        _clear(checkpoint_dir)
    trial = Trial(candidate, params, seed, checkpoint_dir=checkpoint_dir)
    failure: Exception | None = None
    try:
        with noting_interrupts() as noted:
            try:
                result = objective(trial)
            except Exception as exc:  # noqa: BLE001 - a user's error is recorded, the validation goes on
                result, failure = None, exc
    finally:
        if checkpoint_dir is not None and not keep_checkpoint:
            _clear(checkpoint_dir)
    if noted:
        raise noted[0]
    if isinstance(failure, Infeasible):
        said = " ".join(str(failure).split()) or type(failure).__name__
        return SeedRun(candidate, seed, TrialState.INFEASIBLE.value, {}, f"infeasible: {excerpt(said)}")
    if failure is not None:
        text = "".join(traceback.format_exception(failure))
        return SeedRun(candidate, seed, TrialState.FAILED.value, {}, f"{type(failure).__name__}: {failure}\n{text}")
    try:
        metrics = normalise_result(result, metric)
    except ValueError as exc:
        return SeedRun(candidate, seed, TrialState.FAILED.value, {}, f"bad result: {exc}")
    value = metrics[metric.name]
    if not math.isfinite(value):
        return SeedRun(candidate, seed, TrialState.FAILED.value, metrics, f"{metric.name} is {value}")
    missing = [g.metric for g in guardrails if g.metric not in metrics]
    if missing:  # as in the search: a result without a guardrail's metric is the objective's failure, not a breach
        has = keys_of(metrics, missing[0])
        return SeedRun(candidate, seed, TrialState.FAILED.value, metrics,
                       f"bad result: it lacks the guardrail metric(s) {missing} ({has}): return every guardrail's "
                       "metric from the objective")  # fmt: skip
    broken = [g.metric for g in guardrails if not math.isfinite(metrics[g.metric])]
    if broken:  # a measurement that is no number is broken, not a breach (as in the search)
        return SeedRun(candidate, seed, TrialState.FAILED.value, metrics,
                       f"guardrail metric {broken[0]} is {metrics[broken[0]]}: a measurement that is not a finite "
                       "number is the objective's failure, not a breach")  # fmt: skip
    for guardrail in guardrails:
        observed = metrics[guardrail.metric]
        if not guardrail.holds(observed):
            return SeedRun(
                candidate,
                seed,
                TrialState.INFEASIBLE.value,
                metrics,
                f"guardrail breached: {guardrail.describe()} (got {observed:g})",
            )
    return SeedRun(candidate, seed, TrialState.COMPLETE.value, metrics)


def _clear(folder: Path) -> None:
    """Delete a re-run's checkpoint ``folder`` and its files. A link there is left alone (deleting through it
    could reach any folder) with a warning, since the re-run then starts from what it points at."""
    if folder.is_symlink():
        warnings.warn(
            f"not emptying the re-run checkpoint folder {folder}: it is a link (to {folder.resolve()}), so the re-run "
            "may load the state left there; remove the link, and tunesmith makes a folder of its own there",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    shutil.rmtree(folder, ignore_errors=True)


def completed(runs: Iterable[Mapping[str, Any]] | None, candidate: int | None) -> list[SeedRun]:
    """The recorded runs (``seed_stability.runs``, ``baseline.runs``) of ``candidate`` that did not fail and gave
    a result (a run whose objective raised `Infeasible` gave none)."""
    if runs is None or candidate is None:
        return []
    found = (SeedRun.from_json(data) for data in runs)
    return [run for run in found if run.candidate == candidate and run.state != TrialState.FAILED.value and run.metrics]


def across_runs(runs: Sequence[SeedRun], key: str) -> tuple[float, Noise | None, int] | None:
    """The mean of ``key`` over the runs that measured it, the mean's noise and how many runs measured it
    (``None``: none did). The noise is the runs' spread over the square root of their number with, when the runs
    carry per-example or per-fold noise, their typical standard error (every run scored the same validation
    examples: that part does not average out); unknown (``None``) for one run without such noise. Its degrees of
    freedom (`Noise.dof`) are those of that sum (`_degrees_of_freedom`): a spread read from n runs has n - 1, so
    a decision on two or three runs reads Student's t, not the normal."""
    measured = [run for run in runs if key in run.metrics]
    if not measured:
        return None
    values = [float(run.metrics[key]) for run in measured]
    spread = float(np.std(values, ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    within = [n for run in measured if (n := noise_of(run.metrics, key)) is not None]
    noise = None
    if len(values) > 1 or within:
        typical = float(np.mean([n.stderr for n in within])) if within else 0.0
        noise = Noise(math.hypot(spread, typical), f"{len(values)} seeds",
                      dof=_degrees_of_freedom(spread, len(values), typical, within))  # fmt: skip
    return float(np.mean(values)), noise, len(values)


def _degrees_of_freedom(spread: float, runs: int, typical: float, within: Sequence[Noise]) -> float | None:
    """The degrees of freedom of ``hypot(spread, typical)`` (Welch-Satterthwaite): ``spread`` read from ``runs``
    runs has ``runs - 1``; ``typical`` the fewest any of ``within`` was estimated with (`Noise.dof`, else its
    examples less one; many when none says). ``None``: many, so that the normal reads it."""
    parts: list[tuple[float, float]] = [(spread**2, runs - 1.0)] if runs > 1 and spread > 0 else []
    estimated = [d for n in within if (d := n.dof if n.dof is not None or n.examples is None else n.examples - 1.0)
                 is not None]  # fmt: skip
    if typical > 0 and estimated:
        parts.append((typical**2, min(estimated)))
    denominator = sum(variance**2 / dof for variance, dof in parts if dof > 0)
    if denominator == 0.0:
        return None
    return float((spread**2 + typical**2) ** 2 / denominator)
