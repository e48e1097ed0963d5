"""The baseline: the model's defaults run across the same fresh seeds as the re-run candidates."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunesmith._caller import outside_stacklevel
from tunesmith._progress import Progress, check_progress
from tunesmith.attributes import BaselineAttr, read_attr, write_attr
from tunesmith.discipline._reruns import (
    BASELINE_NUMBER,
    UNBOUNDED,
    Objective,
    RunJob,
    RunLimits,
    SeedRun,
    check_keep_checkpoints,
    completed,
    mean_and_sd,
    run_many,
    seed_list,
    typical_duration,
)
from tunesmith.discipline.verdict import warn_if_judged
from tunesmith.errors import ConfigError
from tunesmith.integrations._sklearn_space import estimator_params
from tunesmith.objective import Metric
from tunesmith.study import ObjectiveError
from tunesmith.study._known import refuse_unread_baseline
from tunesmith.study._optimize import refuse_unrunnable
from tunesmith.trial import TrialState

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = ["Baseline", "BaselineFailuresWarning", "evaluate_baseline", "run_pending_baseline"]

DEFAULT_SEEDS = 5  # a baseline run without a declared or given number of seeds


class BaselineFailuresWarning(UserWarning):
    """Some baseline runs failed: the baseline's mean and spread rest on the others."""


@dataclass(frozen=True)
class Baseline:
    """The baseline configuration evaluated across seeds.

    Attributes:
        params: the configuration (the model's defaults).
        runs: every run.
        mean, std: of the metric over the runs that completed (``std`` is the seed noise; ``None`` when
            fewer than two completed, so it is unknown).
    """

    params: dict[str, Any]
    runs: tuple[SeedRun, ...]
    mean: float
    std: float | None

    def to_attr(self, metric: Metric) -> dict[str, Any]:
        """The JSON of `attribute` (without ``seed_count``)."""
        return self.attribute(metric).to_json()

    def attribute(self, metric: Metric, seed_count: int | None = None) -> BaselineAttr:
        """The study attribute ``baseline`` (``mean`` null when no run completed)."""
        values = [r.metrics[metric.name] for r in self.runs
                  if r.state != TrialState.FAILED.value and metric.name in r.metrics]  # fmt: skip
        return BaselineAttr(params=self.params, seeds=tuple(r.seed for r in self.runs), values=tuple(values),
                            mean=self.mean if values else None, std=self.std,
                            runs=tuple(r.to_json() for r in self.runs), seed_count=seed_count)  # fmt: skip


def evaluate_baseline(
    study: Study,
    objective: Objective,
    params: Mapping[str, Any] | None = None,
    seeds: int | None = None,
    *,
    progress: bool | None = None,
    keep_checkpoints: bool = False,
    trial_timeout: float | None = None,
    memory_limit: int | str | None = None,
    workers: int = 1,
    gpus_per_trial: float | None = None,
    executor: str | Mapping[str, Any] | None = None,
) -> Baseline:
    """Run the baseline configuration with the same fresh seeds `validate_top` uses and record it.

    Args:
        study: the study.
        objective: the study's objective.
        params: the baseline configuration; default: the one declared with ``Study(baseline=...)``.
        seeds: how many seeds (default: the number declared with the baseline, else 5); given, it is the
            number run, whatever was declared.
        progress: show runs done and the time left on stderr (``None``: when stderr is a terminal).
        keep_checkpoints: keep each run's checkpoint folder (``checkpoint_root/seeds/baseline-<i>``) once it ends;
            by default it is deleted. Either way a run starts in an empty folder.
        trial_timeout, memory_limit: each run's limits, as a search trial's (`validate_top`'s; ``None``: none).
        workers, gpus_per_trial, executor: how many runs at once, the GPUs each holds while it runs and where they
            run (`validate_top`'s).

    Raises:
        ConfigError: when no configuration is given or declared, the objective is none an executor can run (not a
            function of the trial alone, or ``async def``), a limit is no number of seconds or size, or ``workers``
            or ``gpus_per_trial`` is out of its range (`validate_top`'s).
        ObjectiveError: when every baseline run failed (a `TunesmithError`); the failed runs are recorded first.
    """
    check_progress(progress)
    refuse_unrunnable(objective, "evaluate_baseline")
    check_keep_checkpoints(keep_checkpoints)
    limits = RunLimits.checked(trial_timeout, memory_limit, workers, gpus_per_trial, executor)
    limits.check_gpus()
    return _evaluate(study, objective, params, seeds, progress, keep_checkpoints, limits)


def _evaluate(study: Study, objective: Objective, params: Mapping[str, Any] | None, seeds: int | None,
              progress: bool | None, keep_checkpoints: bool, limits: RunLimits, *, judged: bool = True) -> Baseline:
    """`evaluate_baseline`'s body, its arguments checked. ``judged``: whether to warn that a recorded verdict went
    stale, which a caller that warns so itself (`validate_top`) leaves to itself, so that a user who never called
    `evaluate_baseline` is not told that it ran."""
    what = "evaluate_baseline's params"
    if params is None:
        declared = read_attr(study.attrs, BaselineAttr)
        if declared is None or declared.params is None:
            raise ConfigError(
                "no baseline configuration: pass params=... or declare one with ts.Study(..., baseline={...})"
            )
        params = declared.params
        what = "the baseline declared with the study (study.declare_baseline({...}) replaces it until it has run)"
        if seeds is None:
            seeds = declared.seed_count
    seeds = DEFAULT_SEEDS if seeds is None else seeds
    if not isinstance(params, Mapping):
        raise ConfigError(f"a baseline must be a dict of parameters, got {params!r}")
    refuse_unread_baseline(study, params, what)  # before a run: the study's trials may have shown its names since
    seed_values = seed_list(study.seed, seeds)
    label = f"baseline of {study.name} across {len(seed_values)} seeds"
    runs = _run(study, objective, params, list(enumerate(seed_values)), label, progress, keep_checkpoints, limits)
    values = [r.metrics[study.metric.name] for r in runs
              if r.state != TrialState.FAILED.value and study.metric.name in r.metrics]  # fmt: skip
    failed = [r for r in runs if r.state == TrialState.FAILED.value]
    fix = _fix(params)
    if not values:
        # Recorded before raising: the verdict's baseline margin then fails on these runs, rather than reading
        # as a baseline never run, and `run_pending_baseline` runs it again once the objective is fixed.
        write_attr(study, Baseline(dict(params), runs, math.nan, None).attribute(study.metric, seed_count=seeds))
        if judged:
            warn_if_judged(study.attrs, "evaluate_baseline")
        first = failed[0].reason or ""
        raise ObjectiveError(
            f"every baseline run failed ({len(runs)} of {len(runs)} seeds; the first: "
            f"{first.splitlines()[0] if first else 'no reason'}): {fix}.{_negative_number_hint(first)} The failed "
            "runs are recorded in the study attribute baseline, so the verdict's baseline margin fails until then."
            f"\nThe first failure:\n{first}",
            first,
        )
    if failed:
        warnings.warn(
            f"{len(failed)} of {len(runs)} baseline runs failed (the first: {failed[0].reason}); the baseline's mean "
            f"rests on the other {len(values)}"
            + ("" if len(values) > 1 else ", and with one its seed spread is unknown")
            + f": {fix}",
            BaselineFailuresWarning,
            stacklevel=outside_stacklevel(),
        )
    baseline = _measured(params, runs, study.metric)
    write_attr(study, baseline.attribute(study.metric, seed_count=seeds))
    if judged:
        warn_if_judged(study.attrs, "evaluate_baseline")
    return baseline


def _run(study: Study, objective: Objective, params: Mapping[str, Any], seeds: Sequence[tuple[int, int]], label: str,
         progress: bool | None, keep_checkpoints: bool, limits: RunLimits) -> tuple[SeedRun, ...]:  # fmt: skip
    """The baseline run on each ``(index, seed)`` of ``seeds`` (``index``: the seed's place in the seed list, which
    names its checkpoint folder, deleted after the run unless ``keep_checkpoints``) under ``limits``; a user's error,
    or a run past a limit, becomes a failed run."""
    jobs = [RunJob(BASELINE_NUMBER, estimator_params(study, params), seed,
                   study.checkpoint_root / "seeds" / f"baseline-{index}") for index, seed in seeds]  # fmt: skip
    per_unit = limits.per_run(typical_duration(study.trials))
    with Progress(label, len(jobs), unit="runs", per_unit=per_unit, show=progress) as bar:
        done = run_many(objective, jobs, metric=study.metric, keep_checkpoint=keep_checkpoints, limits=limits,
                        ended=lambda runs: bar.update(advance=1))  # fmt: skip
    return tuple(done)


# What NumPy says of a negative seed (`default_rng`, and `RandomState`, which scikit-learn's random_state reaches).
_NEGATIVE_SEED_REFUSALS = ("expected non-negative integer", "Seed must be between")


def _negative_number_hint(reason: str) -> str:
    """Why a baseline run whose objective seeded from ``trial.number`` failed, when NumPy refused the seed: the
    baseline is no trial of the search and runs as number `BASELINE_NUMBER`; empty for any other failure."""
    if not any(refusal in reason for refusal in _NEGATIVE_SEED_REFUSALS):
        return ""
    return (f" The baseline runs as trial number {BASELINE_NUMBER}, since no trial of the search ran it, and NumPy "
            "refuses a negative seed: an objective seeding from trial.number (np.random.default_rng(trial.number), "
            "random_state=trial.number) fails on it; seed from trial.seed, which each run gets its own of.")


def _fix(params: Mapping[str, Any]) -> str:
    """What to do about the baseline's failed runs."""
    return (f"fix the objective for the baseline {dict(params)!r}, or evaluate another with "
            "ts.evaluate_baseline(study, objective, params={...}), which replaces it")  # fmt: skip


def _measured(params: Mapping[str, Any], runs: tuple[SeedRun, ...], metric: Metric) -> Baseline:
    """The baseline with the mean and spread of its runs that completed (at least one did)."""
    values = [r.metrics[metric.name] for r in runs if r.state != TrialState.FAILED.value and metric.name in r.metrics]
    mean, std = mean_and_sd(values)
    return Baseline(dict(params), runs, mean, std if len(values) > 1 else None)


def run_baseline_on_seeds(
    study: Study,
    objective: Objective,
    seeds: Sequence[int],
    *,
    first: int,
    progress: bool | None = None,
    keep_checkpoints: bool = False,
    limits: RunLimits = UNBOUNDED,
) -> Baseline | None:
    """Run the recorded baseline on those of ``seeds`` (the seed list's from the ``first``-th on) it has not run,
    and record them with its runs (``None``: nothing ran, for every seed was run already or no baseline with a
    completed run is recorded).

    `validate_top` calls it with the winner's confirmation seeds, so that the baseline margin pairs those runs with
    the baseline's seed by seed: the baseline runs on the seed list's first seeds, and the confirmation on the seeds
    after the selection's. A seed run before, failed or not, is not run again: re-running `validate_top` adds no
    run. Its mean and spread stay what `evaluate_baseline` makes them, over every run that completed: the same
    configuration on more fresh seeds, so they only sharpen the mean the unpaired margin and the report read, and
    the margin pairs runs by seed, not means. A failed run is recorded with its error and warned about
    (`BaselineFailuresWarning`), never raised: the baseline completed runs before, so the objective works and the
    failure is the configuration's on that seed.
    """
    recorded = read_attr(study.attrs, BaselineAttr)
    if recorded is None or recorded.params is None or not completed(recorded.runs, BASELINE_NUMBER):
        return None
    earlier = tuple(SeedRun.from_json(run) for run in recorded.runs)
    ran = {run.seed for run in earlier}
    missing = [(first + i, seed) for i, seed in enumerate(seeds) if seed not in ran]
    if not missing:
        return None
    label = f"baseline of {study.name} on the winner's {len(missing)} fresh seeds"
    added = _run(study, objective, recorded.params, missing, label, progress, keep_checkpoints, limits)
    baseline = _measured(recorded.params, earlier + added, study.metric)
    write_attr(study, baseline.attribute(study.metric, seed_count=recorded.seed_count))
    failed = [run for run in added if run.state == TrialState.FAILED.value]
    if failed:
        warnings.warn(
            f"{len(failed)} of {len(added)} baseline runs on the winner's fresh seeds failed (the first: "
            f"{(failed[0].reason or 'no reason').splitlines()[0]}; each error is in the study attribute baseline); the "
            f"baseline margin pairs the winner with the baseline on the other seeds only: {_fix(recorded.params)}",
            BaselineFailuresWarning,
            stacklevel=outside_stacklevel(),
        )
    return baseline


def run_pending_baseline(
    study: Study,
    objective: Objective,
    *,
    seeds: int | None = None,
    progress: bool | None = None,
    keep_checkpoints: bool = False,
    limits: RunLimits = UNBOUNDED,
) -> Baseline | None:
    """Evaluate a declared baseline that has not run yet, or whose every run failed (`validate_top` calls it, its
    arguments checked; the study itself never runs it), on ``seeds`` seeds (default: the declared count), each run
    under ``limits``. That a recorded verdict went stale is the caller's to say."""
    declared = read_attr(study.attrs, BaselineAttr)
    if declared is not None and declared.params is not None and not completed(declared.runs, BASELINE_NUMBER):
        return _evaluate(study, objective, None, seeds, progress, keep_checkpoints, limits, judged=False)
    return None
