"""The whole Define -> Test sequence around a search: baseline first, then seed stability, holdout, verdict.

Used by ``tunesmith run`` for a config that declares a holdout, and by ``tunesmith demo``. The
config's ``holdout`` is either ``"module:function"`` (the evaluation) or a table::

    [holdout]
    evaluate = "mymodule:evaluate_holdout"   # evaluate(params, seed) -> dict
    shifted = "mymodule:evaluate_shifted"    # optional: the same on shifted / time-split data
    top = 3                                  # candidates re-run across seeds
    seeds = 5
    confirm = 5                              # optional: fresh seeds the winner re-runs on after the pick
    baseline = { lr = 1e-3, batch_size = 128 }   # optional: the model's defaults
    gap = 0.02                               # optional thresholds (fractions)
    slice = 0.10
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith._validate import integer, real
from tunesmith.attributes import BaselineAttr, HoldoutAttr, HoldoutLogAttr, VerdictAttr, read_attr
from tunesmith.budget import Budget, BudgetUsage
from tunesmith.discipline.holdout import Evaluate, Thresholds, _holdout_name, finalize, holdout_name, voided
from tunesmith.discipline.seeds import SeedReport, evaluate_baseline, validate_top
from tunesmith.discipline.verdict import Verdict
from tunesmith.errors import ConfigError
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.trial import Trial

if TYPE_CHECKING:
    from tunesmith.config import StudyConfig
    from tunesmith.study import Study, StudyResult

__all__ = [
    "HoldoutPlan",
    "SearchLeft",
    "after_search",
    "before_search",
    "config_choice",
    "demo_verdict",
    "holdout_edits",
    "holdout_plan",
    "search_left",
]

_KEYS = {
    "evaluate", "shifted", "top", "seeds", "confirm", "baseline", "gap", "seed_cv", "slice", "shift", "name", "watch",
}  # fmt: skip


@dataclass(frozen=True)
class HoldoutPlan:
    """What a config's ``holdout`` entry asks for (``confirm``: `validate_top`'s; ``None``: as many as ``seeds``;
    ``name``: the holdout set's, `finalize`'s ``holdout``; ``watch``: metrics the proxy check watches)."""

    evaluate: Evaluate
    shifted: Evaluate | None = None
    top: int = 3
    seeds: int = 5
    confirm: int | None = None
    baseline: Mapping[str, Any] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    name: str | None = None
    watch: tuple[str, ...] = ()


def holdout_plan(entry: Any, base_dir: Path | None = None) -> HoldoutPlan:
    """Parse a config's ``holdout`` entry (a ``"module:function"`` string or a table)."""
    from tunesmith.config import import_object

    if isinstance(entry, str):
        entry = {"evaluate": entry}
    if not isinstance(entry, Mapping) or "evaluate" not in entry:
        raise ConfigError(f"holdout must be 'module:function' or a table with 'evaluate', got holdout={entry!r}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown holdout keys {unknown}: known keys are {sorted(_KEYS)}")
    evaluate = import_object(entry["evaluate"], base_dir=base_dir, what="holdout evaluation")
    shifted = entry.get("shifted")
    baseline = entry.get("baseline")
    if baseline is not None and not isinstance(baseline, Mapping):
        raise ConfigError(f"holdout.baseline must be a table of parameters, got {baseline!r}")
    return HoldoutPlan(
        evaluate=evaluate,
        shifted=None if shifted is None else import_object(shifted, base_dir=base_dir, what="shifted evaluation"),
        top=integer("holdout.top", entry.get("top", 3), minimum=1, fix="re-run the best 3: top = 3"),
        seeds=integer(
            "holdout.seeds",
            entry.get("seeds", 5),
            minimum=2,
            fix="give at least 2 seeds, so that the runs have a spread: seeds = 5",
        ),
        confirm=_confirm(entry),
        baseline=baseline,
        name=_name(entry),
        watch=_watch(entry),
        thresholds=Thresholds(
            **{
                k: real(f"holdout.{k}", entry[k], exclusive_minimum=0, fix="give a fraction, e.g. 0.02")
                for k in ("gap", "seed_cv", "slice", "shift")
                if k in entry
            }
        ),
    )


def _name(entry: Mapping[str, Any]) -> str | None:
    """The entry's ``name``, the holdout set's (``None`` when absent: named after ``evaluate``)."""
    name = entry.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ConfigError(f"holdout.name must name the holdout set, a non-empty string, got holdout.name={name!r}: "
                          'e.g. name = "churn-2024-holdout", the same wherever that set is read')  # fmt: skip
    return name


def _watch(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The entry's ``watch``: names of metrics the proxy-overfitting check watches (minimised)."""
    watch = entry.get("watch", [])
    if not isinstance(watch, list) or not all(isinstance(w, str) and w for w in watch):
        raise ConfigError(f"holdout.watch must be a list of metric names, got holdout.watch={watch!r}: e.g. "
                          'watch = ["val_ece"]')  # fmt: skip
    return tuple(watch)


def _confirm(entry: Mapping[str, Any]) -> int | None:
    """The entry's ``confirm``, checked before anything runs (``None`` when absent: as many as ``seeds``)."""
    if "confirm" not in entry:
        return None
    fix = ("give how many fresh seeds the winner re-runs on after the pick, at least 2 (a spread needs two), "
           "e.g. confirm = 5, or confirm = 0 for none; leave it out for as many as seeds")  # fmt: skip
    count = integer("holdout.confirm", entry["confirm"], minimum=0, fix=fix)
    if count == 1:
        raise ConfigError(f"holdout.confirm must be 0 or an integer >= 2, got holdout.confirm=1: {fix}")
    return count


def before_search(study: Study, cfg: StudyConfig, objective: Callable[[Trial], Any]) -> None:
    """Evaluate the config's baseline across seeds before the search (no-op without a holdout or baseline)."""
    if "holdout" not in cfg.extra:
        return
    plan = holdout_plan(cfg.extra["holdout"], cfg.path.parent)
    if plan.baseline is not None:
        study.declare_baseline(plan.baseline, plan.seeds)
        current = read_attr(study.attrs, BaselineAttr)
        if current is None or not current.runs:
            evaluate_baseline(study, objective, plan.baseline, plan.seeds)


@dataclass(frozen=True)
class SearchLeft:
    """The budget a study's search has left after a run that a per-call limit (``--trials``, ``n_trials``) ended
    before the study's own budget was spent: the re-runs and the holdout wait until it is."""

    budget: Budget
    usage: BudgetUsage

    def note(self) -> str:
        """One line for people: what is left, when the holdout opens, and how to go on."""
        budget, usage = self.budget, self.usage
        left = []
        if budget.trials is not None:
            left.append(f"{budget.trials - usage.trials} of {budget.trials} trials")
        if budget.wall_seconds is not None:
            left.append(f"{budget.wall_seconds - usage.elapsed:.0f}s of {budget.wall_seconds:.0f}s of wall time")
        if budget.resource is not None:
            left.append(f"{budget.resource - usage.resource:g} of {budget.resource:g} resource units")
        if len(left) > 1:
            when = "one of them is spent"
        else:
            when = "they are spent" if budget.trials is not None else "it is spent"
        return f"the search has {' and '.join(left)} left: the holdout opens when {when}; run again to go on"


def search_left(study: Study, search: StudyResult | None = None) -> SearchLeft | None:
    """What the study's own budget has left, by the rule `Study.ask` follows (``None``: a limit is spent, the budget
    has none, or ``search``, the run just ended, used up the space, so that no later run can go on)."""
    budget = study.budget
    if budget.is_unbounded() or (search is not None and search.space_used_up):
        return None
    history = study.trials
    now = time.time()
    usage = Budget.usage(history, now)
    if budget.exhausted_limit(usage) is not None or spent_beyond_trials(budget, history, now) is not None:
        return None
    return SearchLeft(budget, usage)


def after_search(
    study: Study, cfg: StudyConfig, objective: Callable[[Trial], Any], search: StudyResult | None = None
) -> Verdict | SearchLeft | None:
    """Re-run the top candidates across seeds, open the holdout once, return the verdict (``None`` without a holdout).

    A study whose holdout was opened already gets the recorded verdict back instead of a second opening; an opening
    voided for its scale (`holdout.voided`) judged nothing, so the holdout is opened again. While the study's budget
    is not spent (`search_left`; ``search`` is the run that just ended, if any), nothing is re-run or opened, and
    what is left comes back instead: a verdict on part of the search would be stale once the rest runs, and the
    holdout would be spent.
    """
    if "holdout" not in cfg.extra:
        return None
    plan = holdout_plan(cfg.extra["holdout"], cfg.path.parent)
    log = read_attr(study.attrs, HoldoutLogAttr)
    if log is not None and any(voided(opening) is None for opening in log.openings):  # a voided one judged nothing
        return recorded_verdict(study)
    if (left := search_left(study, search)) is not None:
        return left
    # with several objectives the one candidate is the configuration the config's choose rule picked
    validate_top(study, objective, k=None if cfg.metrics else plan.top, seeds=plan.seeds, confirm=plan.confirm)
    return finalize(study, plan.evaluate, shifted=plan.shifted, thresholds=plan.thresholds, holdout=plan.name,
                    watch=plan.watch)  # fmt: skip


def config_choice(study: Study, cfg: StudyConfig, search: StudyResult | None = None) -> None:
    """Record the pick of the config's ``choose`` rule (`Study.choose`) once the study's budget is spent (`search_left`;
    ``search`` is the run that just ended): a pick from part of the search would be stale once the rest runs. No-op
    without a rule, and once the holdout was opened: the choice it judged stands (`after_search`).

    Raises:
        ConfigError: no complete feasible trial, or none on the front meets the rule's bounds (`Study.choose`).
    """
    if cfg.choose is None or search_left(study, search) is not None:
        return
    log = read_attr(study.attrs, HoldoutLogAttr)
    if log is not None and any(voided(opening) is None for opening in log.openings):
        return
    study.choose(cfg.choose)


def holdout_edits(study: Study, cfg: StudyConfig) -> str | None:
    """What the config's holdout now declares differently from what the recorded opening of the holdout and its
    verdict used (the holdout set's name, the gap limit, the baseline), with the fact that the recorded verdict
    stands; ``None`` when nothing differs or the holdout was not opened (openings voided for their scale judged
    nothing and do not count)."""
    if "holdout" not in cfg.extra:
        return None
    log = read_attr(study.attrs, HoldoutLogAttr)
    counted = [] if log is None else [opening for opening in log.openings if voided(opening) is None]
    if not counted:
        return None
    plan = holdout_plan(cfg.extra["holdout"], cfg.path.parent)
    differences = []
    opened_name, name = holdout_name(counted[-1]), _holdout_name(plan.evaluate, plan.name)
    if opened_name is not None and name is not None and name != opened_name:  # unnamed: nothing to compare
        differences.append(f"holdout set {name!r} (the opening read {opened_name!r})")
    recorded = read_attr(study.attrs, HoldoutAttr)
    if recorded is not None and recorded.threshold is not None and plan.thresholds.gap != recorded.threshold:
        differences.append(f"gap limit {plan.thresholds.gap:g} (the verdict used {recorded.threshold:g})")
    baseline = read_attr(study.attrs, BaselineAttr)
    judged = None if baseline is None or not baseline.runs else baseline.params
    declared = None if plan.baseline is None else dict(plan.baseline)
    if judged is not None and declared != judged:
        differences.append(f"baseline {_params_text(declared)} (the verdict compared with {_params_text(judged)})")
    if not differences:
        return None
    return (f"{cfg.path.name} now declares {'; '.join(differences)}: the recorded verdict stands, since the holdout "
            "is opened once; a new holdout needs a new study (--name NEW_NAME, or another name in "
            f"{cfg.path.name})")  # fmt: skip


def _params_text(params: Mapping[str, Any] | None) -> str:
    """``x=0.9, y=0.5`` (``none`` for no parameters)."""
    return "none" if params is None else ", ".join(f"{name}={value!r}" for name, value in params.items())


def recorded_verdict(study: Study) -> Verdict | None:
    """The verdict stored with the study by `finalize` (``None`` when there is none)."""
    from tunesmith.discipline.verdict import Check

    stored = read_attr(study.attrs, VerdictAttr)
    if stored is None or stored.checks is None:
        return None
    return Verdict([Check(c.name, c.passed, c.detail, c.checked, c.decided, c.leans) for c in stored.checks],
                   trial=stored.trial)


DEMO_BASELINE: dict[str, Any] = {
    # MLPClassifier's defaults, with the batch size and width rounded to the space's powers of two
    "learning_rate": 1e-3,
    "batch_size": 128,
    "alpha": 1e-4,
    "depth": 1,
    "width": 128,
    "beta_1": 0.9,
    "beta_2": 0.999,
}


def demo_verdict(study: Study, *, top: int = 3, seeds: int = 3) -> tuple[SeedReport, Verdict]:
    """The demo's Test step: baseline across seeds, top candidates across seeds, the holdout once, the verdict."""
    from tunesmith import demo

    current = read_attr(study.attrs, BaselineAttr)
    if current is None or not current.runs:
        evaluate_baseline(study, demo.objective, DEMO_BASELINE, seeds)
    report = validate_top(study, demo.objective, k=top, seeds=seeds)
    return report, finalize(study, demo.evaluate_holdout)
