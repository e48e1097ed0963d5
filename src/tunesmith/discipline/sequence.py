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
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tunesmith._attribute_json import Fields, JsonObject, is_text
from tunesmith._validate import integer, real
from tunesmith.attributes import (
    BaselineAttr,
    ConvergenceAttr,
    HoldoutAttr,
    HoldoutOpeningAttr,
    SeedStabilityAttr,
    VerdictAttr,
    read_attr,
    write_attr,
)
from tunesmith.budget import Budget, BudgetUsage
from tunesmith.discipline.conventions import SHIFTED
from tunesmith.discipline.holdout import (
    Evaluate,
    Thresholds,
    _holdout_name,
    _utc,
    counted_openings,
    finalize,
    holdout_name,
    refuse_uncallable,
)
from tunesmith.discipline.seeds import (
    DEFAULT_SEEDS,
    SeedReport,
    evaluate_baseline,
    spread_flattered,
    top_configurations,
    validate_top,
)
from tunesmith.discipline.verdict import Verdict
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.trial import Trial, TrialState

if TYPE_CHECKING:
    from tunesmith.config import StudyConfig
    from tunesmith.study import Study, StudyResult

__all__ = [
    "HoldoutPlan",
    "RecordedVerdict",
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
    seeds: int = DEFAULT_SEEDS
    confirm: int | None = None
    baseline: Mapping[str, Any] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    name: str | None = None
    watch: tuple[Metric, ...] = ()


def holdout_plan(entry: Any, base_dir: Path | None = None, config: Path | None = None) -> HoldoutPlan:
    """Parse a config's ``holdout`` entry (a ``"module:function"`` string or a table); ``config``: the file it came
    from, whose format (TOML or YAML) the fixes are written in (``None``: TOML)."""
    from tunesmith.config import import_object

    if isinstance(entry, str):
        entry = {"evaluate": entry}
    if not isinstance(entry, Mapping) or "evaluate" not in entry:
        raise ConfigError(f"holdout must be 'module:function' or a table with 'evaluate', got holdout={entry!r}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise ConfigError(f"unknown holdout keys {unknown}: known keys are {sorted(_KEYS)}")
    evaluate = import_object(entry["evaluate"], base_dir=base_dir, what="holdout evaluation")
    refuse_uncallable(evaluate, "evaluate")
    shifted = None
    if entry.get("shifted") is not None:
        shifted = import_object(entry["shifted"], base_dir=base_dir, what="shifted evaluation")
        refuse_uncallable(shifted, "shifted")
    baseline = entry.get("baseline")
    if baseline is not None and not isinstance(baseline, Mapping):
        raise ConfigError(f"holdout.baseline must be a table of parameters, got {baseline!r}")
    return HoldoutPlan(
        evaluate=evaluate,
        shifted=shifted,
        top=integer("holdout.top", entry.get("top", 3), minimum=1, fix="re-run the best 3: top = 3"),
        seeds=integer(
            "holdout.seeds",
            entry.get("seeds", DEFAULT_SEEDS),
            minimum=2,
            fix="give at least 2 seeds, so that the runs have a spread: seeds = 5",
        ),
        confirm=_confirm(entry),
        baseline=baseline,
        name=_name(entry),
        watch=_watch(entry, config or Path("config.toml")),
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


def _watch(entry: Mapping[str, Any], config: Path) -> tuple[Metric, ...]:
    """The entry's ``watch``: the metrics the proxy-overfitting check watches, each a name (minimised, refused where
    it reads like a score) or a table with ``name`` and ``direction``, as ``[metric]`` takes; read when the config is
    loaded, so a score given as a bare name is refused before the search, not after it when the holdout would open.
    ``config``: the config file, whose format the fix is written in."""
    from tunesmith.config import metric_entry

    watch = entry.get("watch", [])
    if not isinstance(watch, list) or not all(isinstance(w, Mapping) or (isinstance(w, str) and w) for w in watch):
        raise ConfigError(f"holdout.watch must be a list of metric names, got holdout.watch={watch!r}: e.g. "
                          'watch = ["val_ece"]')  # fmt: skip
    return tuple(metric_entry(w, "a holdout.watch entry", config) for w in watch)


def watched_names(plan: HoldoutPlan) -> tuple[str, ...]:
    """The names of the metrics ``plan`` watches, sorted, as the opening records them."""
    return tuple(sorted({m.name for m in plan.watch}))


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


def before_search(study: Study, cfg: StudyConfig, objective: Callable[[Trial], Any], *, workers: int | None = None,
                  executor: str | Mapping[str, Any] | None = None) -> None:  # fmt: skip
    """Evaluate the config's baseline across seeds before the search (no-op without a holdout or baseline), each run
    under the config's ``trial_timeout`` and ``memory_limit``, as the search's trials, ``workers`` at once on
    ``executor``'s GPUs (`_limits`: the search's, where ``tunesmith run --workers`` overrides the config's)."""
    if "holdout" not in cfg.extra:
        return
    plan = holdout_plan(cfg.extra["holdout"], cfg.path.parent, cfg.path)
    if plan.baseline is not None:
        study.declare_baseline(plan.baseline, plan.seeds)
        current = read_attr(study.attrs, BaselineAttr)
        if current is None or not current.runs:
            evaluate_baseline(study, objective, plan.baseline, plan.seeds, **_limits(cfg, workers, executor))


@dataclass(frozen=True)
class SearchLeft:
    """The budget a study's search has left after a run that a per-call limit (``--trials``, ``n_trials``) ended
    before the study's own budget was spent, or the trials other workers still run once it is (``running``): the
    re-runs and the holdout wait until it is spent and they end."""

    budget: Budget
    usage: BudgetUsage
    running: tuple[int, ...] = ()

    def note(self) -> str:
        """One line for people: what is left, when the holdout opens, and how to go on."""
        if self.running:
            named = ", ".join(f"#{n}" for n in self.running)
            return (
                f"the budget is spent, but trial{'s' * (len(self.running) != 1)} {named} of other workers still "
                "run: the holdout opens once they end, so that the verdict judges the whole search (opened now, it "
                "would be stale when they end, and the holdout spent); run again then to re-run the top candidates "
                "and open it"
            )
        budget, usage = self.budget, self.usage
        left = []
        if budget.trials is not None:
            left.append(f"{budget.trials - usage.trials} of {budget.trials} trials")
        if budget.wall_seconds is not None:
            left.append(f"{budget.wall_seconds - usage.elapsed:.0f}s of {budget.wall_seconds:.0f}s of wall time")
        if budget.compute_seconds is not None:
            left.append(f"{budget.compute_seconds - usage.compute:.0f}s of {budget.compute_seconds:.0f}s of compute")
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
    if budget.is_unbounded() or (search is not None and (search.space_used_up or search.converged)):
        return None
    if budget.until_converged and read_attr(study.attrs, ConvergenceAttr) is not None:
        return None  # converged in an earlier run: no run goes on
    history = study.trials
    now = time.time()
    usage = Budget.usage(history, now)
    spent = spent_beyond_trials(budget, history, now, scheduler=study.scheduler)
    if budget.exhausted_limit(usage) is not None or spent is not None:
        gone = study.gone_trials()  # a dead worker's trial ends as nothing: it holds no verdict back
        running = tuple(r.number for r in history if r.state is TrialState.RUNNING and r.number not in gone)
        return SearchLeft(budget, usage, running) if running else None
    return SearchLeft(budget, usage)


@dataclass(frozen=True)
class RecordedVerdict:
    """The verdict `finalize` stored when the study's holdout was opened, read back by `after_search` instead of a
    second opening: nothing was re-run or recomputed. ``opening`` is the opening it judged (`_verdict_opening`),
    ``openings`` how many openings count (forced ones included; voided ones judged nothing). ``stored`` is the
    attribute as written: its headline and readiness are printed as recorded (`summary`, `ready`), as `tunesmith
    status` prints them, since the rules that make a headline of the checks may have changed since."""

    verdict: Verdict
    study: str
    opening: HoldoutOpeningAttr
    openings: int
    stored: VerdictAttr

    @property
    def ready(self) -> bool:
        return self.verdict.ready if self.stored.ready is None else self.stored.ready

    @property
    def failed(self) -> bool:
        """Whether the recorded verdict failed on decided evidence (stored status "fail")."""
        return self.stored.status == "fail"

    def summary(self) -> str:
        """The recorded headline, then one line per recorded check."""
        lines = self.verdict.summary().splitlines()
        return "\n".join([self.stored.summary or lines[0], *lines[1:]])

    def note(self) -> str:
        """One line for people, above the verdict: that it is the recorded one, when the holdout was opened and for
        which trial, and that nothing was recomputed."""
        trial = self.opening.trial if self.opening.trial is not None else self.verdict.trial
        scored = "" if trial is None else f" for trial #{trial}"
        times = "" if self.openings == 1 else f" {self.openings} times, this verdict's opening"
        return (f"the recorded verdict, read back from storage, not recomputed: the holdout of study {self.study!r} "
                f"was opened{times}{scored} at {_utc(self.opening.at)} and is not opened again (a holdout is scored "
                "once)")  # fmt: skip


def after_search(
    study: Study, cfg: StudyConfig, objective: Callable[[Trial], Any], search: StudyResult | None = None, *,
    workers: int | None = None, executor: str | Mapping[str, Any] | None = None,
) -> Verdict | RecordedVerdict | SearchLeft | None:  # fmt: skip
    """Re-run the top candidates across seeds, open the holdout once, return the verdict (``None`` without a holdout).

    A study whose holdout was opened already gets the recorded verdict back (`RecordedVerdict`; ``None`` when that
    opening recorded none) instead of a second opening; an opening voided for its scale (`holdout.voided`) judged
    nothing, so the holdout is opened again. While the study's budget is not spent (`search_left`; ``search`` is
    the run that just ended, if any), nothing is re-run or opened, and what is left comes back instead: a verdict on
    part of the search would be stale once the rest runs, and the holdout would be spent. What the config's limits,
    shifted evaluation and watched metrics were for the opening is recorded (`holdout_edits` names a later edit).
    The re-runs honour the config's ``trial_timeout`` and ``memory_limit`` as the search's trials do: a re-run past the
    timeout is killed and recorded FAILED of kind TIMEOUT. They run ``workers`` at once, each holding the GPUs a
    search trial held on ``executor`` (`_limits`; by default the config's). The holdout evaluations run unbounded.
    """
    if "holdout" not in cfg.extra:
        return None
    plan = holdout_plan(cfg.extra["holdout"], cfg.path.parent, cfg.path)
    if counted := counted_openings(study.attrs):  # a voided opening judged nothing
        stored, opening = read_attr(study.attrs, VerdictAttr), _verdict_opening(study)
        verdict = _stored_verdict(stored)
        if verdict is None or opening is None or stored is None:
            return None
        return RecordedVerdict(verdict, study.name, opening, len(counted), stored)
    if (left := search_left(study, search)) is not None:
        return left
    # with several objectives the one candidate is the configuration the config's choose rule picked
    validate_top(study, objective, k=None if cfg.metrics else plan.top, seeds=plan.seeds, confirm=plan.confirm,
                 **_limits(cfg, workers, executor))  # fmt: skip
    # The holdout evaluation is no trial (it may refit on more data than a trial trains on): a trial_timeout that a
    # slow but sound evaluation ran past would spend the opening, so it runs unbounded (finalize takes limits).
    verdict = finalize(study, plan.evaluate, shifted=plan.shifted, thresholds=plan.thresholds, holdout=plan.name,
                       watch=plan.watch)  # fmt: skip
    if (opening := _verdict_opening(study)) is not None:
        write_attr(study, _JudgedUnderAttr(
            opened=opening.at, seed_cv=plan.thresholds.seed_cv, slice=plan.thresholds.slice,
            shift=plan.thresholds.shift, shifted=_shifted_name(plan, cfg), watch=watched_names(plan),
        ))  # fmt: skip
    return verdict


def _limits(cfg: StudyConfig, workers: int | None = None, executor: str | Mapping[str, Any] | None = None,
            ) -> dict[str, Any]:  # fmt: skip
    """The config's per-trial limits, which its re-runs and holdout evaluations honour as its search trials do, and
    how the re-runs share the machines: as many at once as the search ran (``workers``, else the config's), where
    it ran (``executor``, else the config's: this machine's processes, each run holding the GPUs a search trial held,
    or the search's Ray cluster with its options)."""
    executor = cfg.executor if executor is None else executor
    name = executor if isinstance(executor, str) else str(executor.get("name", ""))
    return {"trial_timeout": cfg.trial_timeout, "memory_limit": cfg.memory_limit,
            "workers": cfg.workers if workers is None else workers,
            "executor": executor if name in ("processes", "ray") else None}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class _JudgedUnderAttr(JsonObject):
    """``holdout_plan``: what `after_search` handed `finalize` for the opening at ``opened`` that the attributes
    ``holdout`` (the gap's limit, its ``threshold``) and ``seed_stability`` (the re-runs' seeds and candidates) do
    not record: the other limits, the shifted evaluation's name (``None``: none) and the watched metrics, sorted.
    Only `holdout_edits` reads it, and only while that opening's verdict is the recorded one (a later
    ``finalize(force=True)`` judges under what it was given)."""

    KEY: ClassVar[str] = "holdout_plan"
    ALWAYS = frozenset({"shifted", "watch"})
    opened: float
    seed_cv: float
    slice: float
    shift: float
    shifted: str | None = None
    watch: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Any, where: str | None = None) -> _JudgedUnderAttr:
        r = Fields(value, where or cls.KEY)
        return cls(opened=r.number("opened", required=True), seed_cv=r.number("seed_cv", required=True),
                   slice=r.number("slice", required=True), shift=r.number("shift", required=True),
                   shifted=r.text("shifted"), watch=r.items("watch", is_text, "metric names") or (),
                   **r.rest())  # fmt: skip


def _shifted_name(plan: HoldoutPlan, cfg: StudyConfig) -> str | None:
    """The shifted evaluation's name: its ``module:qualname`` (the same function reads the same data however the
    config refers to it), else the config's reference; ``None`` when there is none."""
    if plan.shifted is None:
        return None
    return _holdout_name(plan.shifted, None) or str(cfg.extra["holdout"]["shifted"])


def _verdict_opening(study: Study) -> HoldoutOpeningAttr | None:
    """The opening of the holdout the recorded verdict judged: the last one not voided whose scores were read, for
    the trial the verdict names (an opening whose evaluation failed recorded no verdict); ``None`` when the holdout
    was not opened, else the last opening not voided when none matches (a verdict stored before openings kept their
    scores)."""
    counted = counted_openings(study.attrs)
    if not counted:
        return None
    stored = read_attr(study.attrs, VerdictAttr)
    trial = None if stored is None else stored.trial
    read = [o for o in counted if o.scores is not None and (trial is None or o.trial is None or o.trial == trial)]
    return read[-1] if read else counted[-1]


def config_choice(study: Study, cfg: StudyConfig, search: StudyResult | None = None) -> None:
    """Record the pick of the config's ``choose`` rule (`Study.choose`) once the study's budget is spent (`search_left`;
    ``search`` is the run that just ended): a pick from part of the search would be stale once the rest runs. No-op
    without a rule, and once the holdout was opened: the choice it judged stands (`after_search`).

    Raises:
        ConfigError: no complete feasible trial, or none on the front meets the rule's bounds (`Study.choose`).
    """
    if cfg.choose is None or search_left(study, search) is not None:
        return
    if counted_openings(study.attrs):
        return
    study.choose(cfg.choose)


class _Apply(Enum):
    """What applying an edited key of the holdout plan takes once the study's holdout was opened."""

    NEW_STUDY = "new study"  # another holdout set or baseline: what the verdict read is another's
    RERUN = "re-run"  # the re-runs' counts: re-run the candidates, then open the holdout again
    REOPEN = "reopen"  # what finalize judges under: open the holdout again


@dataclass(frozen=True)
class _Edit:
    """One key the config's holdout now declares differently: ``said`` for people, with what was used."""

    key: str
    said: str
    apply: _Apply


def holdout_edits(study: Study, cfg: StudyConfig) -> str | None:
    """What the config's holdout now declares differently from what the recorded re-runs and the opening of the
    holdout that the recorded verdict judged used, key by key (the holdout set's name, the limits, the baseline, the
    re-runs' top, seeds and confirm, the shifted evaluation, the watched metrics), with the fact that the recorded
    verdict stands and what applying each takes; ``None`` when nothing differs or the holdout was not opened
    (openings voided for their scale judged nothing and do not count). A key whose edit changes nothing the re-runs
    or the verdict would do (a top beyond the configurations there are, a confirm where no pick needs confirming)
    is not named; the seed_cv, slice and shift limits and the watched metrics are compared only for an opening
    ``tunesmith run`` made (the attributes `finalize` writes do not record them)."""
    if "holdout" not in cfg.extra:
        return None
    opening = _verdict_opening(study)
    if opening is None:
        return None
    plan = holdout_plan(cfg.extra["holdout"], cfg.path.parent, cfg.path)
    edits = _set_and_gap_edits(study, plan, opening) + _baseline_edits(study, plan) + _rerun_edits(study, cfg, plan)
    edits += _judging_edits(study, cfg, plan, opening)
    if not edits:
        return None
    said = (f"{cfg.path.name} now declares {'; '.join(e.said for e in edits)}: the recorded verdict stands, since the "
            "holdout is opened once; a new holdout needs a new study (--name NEW_NAME, or another name in "
            f"{cfg.path.name})")  # fmt: skip
    return said + _how_to_apply(cfg, plan, edits)


def _set_and_gap_edits(study: Study, plan: HoldoutPlan, opening: HoldoutOpeningAttr) -> list[_Edit]:
    """The holdout set's name against the opening's, the gap limit against the verdict's."""
    edits = []
    opened_name, name = holdout_name(opening), _holdout_name(plan.evaluate, plan.name)
    if opened_name is not None and name is not None and name != opened_name:  # unnamed: nothing to compare
        edits.append(_Edit("name", f"holdout set {name!r} (the opening read {opened_name!r})", _Apply.NEW_STUDY))
    recorded = read_attr(study.attrs, HoldoutAttr)
    if recorded is not None and recorded.threshold is not None and plan.thresholds.gap != recorded.threshold:
        edits.append(_Edit("gap", f"gap limit {plan.thresholds.gap:g} (the verdict used {recorded.threshold:g})",
                           _Apply.REOPEN))  # fmt: skip
    return edits


def _baseline_edits(study: Study, plan: HoldoutPlan) -> list[_Edit]:
    baseline = read_attr(study.attrs, BaselineAttr)
    judged = None if baseline is None or not baseline.runs else baseline.params
    declared = None if plan.baseline is None else dict(plan.baseline)
    if judged is None or declared == judged:
        return []
    said = f"baseline {_params_text(declared)} (the verdict compared with {_params_text(judged)})"
    return [_Edit("baseline", said, _Apply.NEW_STUDY)]


def _rerun_edits(study: Study, cfg: StudyConfig, plan: HoldoutPlan) -> list[_Edit]:
    """The re-runs' top, seeds and confirm against what ``seed_stability`` records they ran."""
    stability = read_attr(study.attrs, SeedStabilityAttr)
    if stability is None:
        return []
    edits = []
    ran = [c for c in stability.candidates or () if not c.baseline]
    # With several objectives the one candidate is the choose rule's pick: top is not used (`validate_top`'s k).
    if ran and not cfg.metrics:
        # What re-running would take now: a top beyond the configurations there are re-runs no more of them.
        would = len(top_configurations(study.trials, study.metric, plan.top))
        if would != len(ran):
            now = "" if would == plan.top else f"; {would} would run now"
            edits.append(_Edit("top", f"top {plan.top} (the re-runs ran {len(ran)} candidates{now})", _Apply.RERUN))
    if stability.seeds is not None and plan.seeds != len(stability.seeds):
        edits.append(_Edit("seeds", f"seeds {plan.seeds} (the re-runs ran {len(stability.seeds)})", _Apply.RERUN))
    eligible = sum(1 for c in ran if c.eligible)
    # A winner is re-run on fresh seeds only when the rule that picked it read a spread the pick flatters.
    if stability.winner is not None and spread_flattered(stability.rule, eligible):
        confirmed = len(stability.confirm_seeds or ())
        declared = plan.seeds if plan.confirm is None else plan.confirm
        if declared != confirmed:
            count = f"confirm {declared}" + (", as many as seeds" if plan.confirm is None else "")
            fresh = f"on {confirmed} fresh seeds" if confirmed else "on no fresh seeds"
            edits.append(_Edit("confirm", f"{count} (the winner re-ran {fresh} after the pick)", _Apply.RERUN))
    return edits


def _judging_edits(study: Study, cfg: StudyConfig, plan: HoldoutPlan, opening: HoldoutOpeningAttr) -> list[_Edit]:
    """The seed_cv, slice and shift limits, the shifted evaluation and the watched metrics against what the opening
    was judged under: as `after_search` recorded them for it, else only whether a shifted evaluation was read."""
    stored = read_attr(study.attrs, _JudgedUnderAttr)
    used = stored if stored is not None and stored.opened == opening.at else None
    edits = []
    if used is not None:
        for key, old in (("seed_cv", used.seed_cv), ("slice", used.slice), ("shift", used.shift)):
            new = getattr(plan.thresholds, key)
            if new != old:
                edits.append(_Edit(key, f"{key} limit {new:g} (the verdict used {old:g})", _Apply.REOPEN))
    name = _shifted_name(plan, cfg)
    if used is not None:
        read: str | None = used.shifted
        said = f"{read!r}"
    else:
        recorded = read_attr(study.attrs, HoldoutAttr)
        scores = {} if recorded is None or recorded.scores is None else recorded.scores
        read = "one" if any(key.startswith(SHIFTED) for key in scores) else None
        said = "one"
    if name is None and read is not None:
        edits.append(_Edit("shifted", f"no shifted evaluation (the verdict read {said})", _Apply.REOPEN))
    elif name is not None and read is None:
        edits.append(_Edit("shifted", f"shifted evaluation {name!r} (the verdict read none)", _Apply.REOPEN))
    elif name is not None and used is not None and name != read:
        edits.append(_Edit("shifted", f"shifted evaluation {name!r} (the verdict read {said})", _Apply.REOPEN))
    watch = watched_names(plan)
    if used is not None and watch != used.watch:
        watched = ", ".join(used.watch) if used.watch else "none"
        edits.append(_Edit("watch", f"watch {', '.join(watch) or 'none'} (the verdict watched {watched})",
                           _Apply.REOPEN))  # fmt: skip
    return edits


def _how_to_apply(cfg: StudyConfig, plan: HoldoutPlan, edits: list[_Edit]) -> str:
    """What judging this study under the edited re-run counts and judging keys takes (empty: none was edited): the
    calls, with every value of the config's holdout, since `finalize` and `validate_top` default the rest."""
    keys = [e.key for e in edits if e.apply is not _Apply.NEW_STUDY]
    if not keys:
        return ""
    limits = {k: getattr(plan.thresholds, k) for k in ("gap", "seed_cv", "slice", "shift")
              if getattr(plan.thresholds, k) != getattr(Thresholds(), k)}  # fmt: skip
    args = ["force=True"]
    if limits:
        args.append(f"thresholds=ts.discipline.Thresholds({', '.join(f'{k}={v:g}' for k, v in limits.items())})")
    if plan.shifted is not None:
        args.append("shifted=shifted")
    if plan.watch:
        watched = [repr(m.name) if m.direction == "min" else f"ts.Metric({m.name!r}, {m.direction!r})"
                   for m in plan.watch]  # fmt: skip
        args.append(f"watch=[{', '.join(watched)}]")
    if plan.name is not None:
        args.append(f"holdout={plan.name!r}")
    reopen = f"open its holdout again, ts.finalize(study, evaluate, {', '.join(args)})"
    functions = "evaluate and shifted: the functions" if plan.shifted is not None else "evaluate: the function"
    steps = f"{reopen} ({functions} the config's holdout names)"
    if any(e.apply is _Apply.RERUN for e in edits):
        counts = ([] if cfg.metrics else [f"k={plan.top}"]) + [f"seeds={plan.seeds}"]
        counts += [] if plan.confirm is None else [f"confirm={plan.confirm}"]
        steps = f"re-run its candidates, ts.validate_top(study, objective, {', '.join(counts)}), then {steps}"
    said = keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}"
    return (f". To judge this study under {said} instead, {steps}: a forced opening fails the verdict's \"holdout "
            "opened once\" check")  # fmt: skip


def _params_text(params: Mapping[str, Any] | None) -> str:
    """``x=0.9, y=0.5`` (``none`` for no parameters)."""
    return "none" if params is None else ", ".join(f"{name}={value!r}" for name, value in params.items())


def recorded_verdict(study: Study) -> Verdict | None:
    """The verdict stored with the study by `finalize` (``None`` when there is none)."""
    return _stored_verdict(read_attr(study.attrs, VerdictAttr))


def _stored_verdict(stored: VerdictAttr | None) -> Verdict | None:
    """The `Verdict` of a stored verdict attribute's checks (``None`` without one, or one that stored none)."""
    from tunesmith.discipline.verdict import Check

    if stored is None or stored.checks is None:
        return None
    return Verdict([Check(c.name, c.passed, c.detail, c.checked, c.decided, c.leans) for c in stored.checks],
                   trial=stored.trial)  # fmt: skip


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


def demo_verdict(study: Study, *, top: int = 3, seeds: int = 3, workers: int = 1) -> tuple[SeedReport, Verdict]:
    """The demo's Test step: baseline across seeds, top candidates across seeds (``workers`` runs at once, as the
    search ran), the holdout once, the verdict. The proxy check watches ``val_loss``, the validation log loss, which
    the demo's trials report beside the accuracy the search maximises: the accuracy a run gains while its predicted
    probabilities grow overconfident is the guide's proxy overfitting, and no calibration word names that loss."""
    from tunesmith import demo

    current = read_attr(study.attrs, BaselineAttr)
    if current is None or not current.runs:
        evaluate_baseline(study, demo.objective, DEMO_BASELINE, seeds, workers=workers)
    report = validate_top(study, demo.objective, k=top, seeds=seeds, workers=workers)
    return report, finalize(study, demo.evaluate_holdout, watch=["val_loss"])
