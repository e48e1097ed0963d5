"""The locked final holdout: scored once, after the search, with the verdict.

`finalize` scores the chosen configuration (the seed-stability winner when `validate_top` ran,
else `Study.best`) on the holdout through ``evaluate(params, seed) -> dict``, which the search
never calls. The opening is recorded in the study attribute ``holdout_log`` before the holdout is
read; a second opening is refused unless ``force=True``, and a forced one is recorded as such. A holdout scored on
another scale than validation (a percentage against fractions) is refused (`HoldoutScaleMismatch`) before anything
is judged on it, and its opening is recorded as voided, which the next opening needs no force for.

The lock is per holdout set, not per study: each opening records the set's name (``finalize(holdout=...)``, else
``evaluate``'s ``module:qualname``), and an opening of a set that another study on the same storage opened before
is let through (another study is another search) but fails the "holdout opened once" check, and records the
openings it followed: a new study on a holdout already read is how a holdout leaks ("tweak the space and try again").

What ``evaluate`` returns: the primary metric under ``holdout_<base>`` (``val_loss`` ->
``holdout_loss``), ``holdout_<metric>`` or the metric's own name (see `holdout_key`); optionally
guardrail metrics (under the names read for the primary metric: ``holdout_<base>``,
``holdout_<name>`` or the name itself), ``slice:<name>:<key>`` per slice and
``shifted:<key>`` on a shifted or time-split set (or pass ``shifted=`` a second evaluation). On a study with
several objectives, each further objective under the same names as its own (``holdout_cost`` or ``cost``): the gap
check judges every objective returned, the first with the optimism of choosing taken back, each further one read
by the choice rule against the mean of the chosen configuration's runs after the pick, else with the allowance of the
luckiest of the configurations compared taken back, undecided within it (`_objective_gap`).

With a shifted set and a baseline (declared or evaluated), the baseline configuration is scored too, with the
same evaluations and seed, so that the shifted-data check judges the tuned gain over it under the shift rather
than the winner's own drop, which a shift that every model suffers would blame on the tuning. With slices on the
holdout and a baseline, it is scored on the holdout in the same opening, so that the worst-slice check judges each
slice by the winner's change against the baseline on it rather than against the slices' average, which failed a
hard slice every model shares and passed a slice the tuning broke.
"""

from __future__ import annotations

import inspect
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from tunesmith._caller import outside_stacklevel
from tunesmith._noise import metric_noise
from tunesmith._progress import Progress, check_progress
from tunesmith._stable_name import callable_with, stable_name
from tunesmith._text import excerpt, times
from tunesmith._validate import real
from tunesmith.attributes import (
    BaselineAttr,
    ChoiceAttr,
    HoldoutAttr,
    HoldoutLogAttr,
    HoldoutOpeningAttr,
    HoldoutRowAttr,
    SeedCandidateAttr,
    SeedStabilityAttr,
    read_attr,
    write_attr,
)
from tunesmith.choose import Best, Weights, from_json
from tunesmith.discipline._drops import BaselineShift, BaselineSlices, shifted_check, slice_check
from tunesmith.discipline._front import chosen_from_front, front_check, several_objectives
from tunesmith.discipline._guard_checks import WatchedMetrics, guardrail_check, proxy_check, proxy_watch
from tunesmith.discipline._margin import baseline_check
from tunesmith.discipline._reruns import (
    BASELINE_NUMBER,
    LIMIT_KINDS,
    SEED_BLIND_WHY,
    RunFailed,
    RunLimits,
    SeedRun,
    completed,
    mean_and_sd,
    run_bounded,
    seed_blind,
)
from tunesmith.discipline.conventions import SHIFTED, SLICE, holdout_key, holdout_keys, slices_of
from tunesmith.discipline.gap import (
    Z_ONE_SIDED_95,
    GapTest,
    Noise,
    gap_test,
    near_zero,
    noise_of,
    point_range,
    point_unit,
    range_text,
    read_relative,
    scored_in_points,
)
from tunesmith.discipline.optimism import Optimism, chosen_flattery, estimate_optimism, expected_max_normal
from tunesmith.discipline.seeds import Contest, Rule, across_seeds, lineage_of, recorded_contest, spread_flattered
from tunesmith.discipline.verdict import Check, Verdict, evidence_of
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.executors import TrialJob
from tunesmith.integrations._sklearn_space import estimator_params, internal_names
from tunesmith.objective import ANNOTATIONS, DIGEST, Metric, example_numbers, is_per_example, summarise, unread_key
from tunesmith.study import ObjectiveError
from tunesmith.study._validation_set import (
    UNNAMED,
    EarlierStudy,
    compared_text,
    earlier_studies,
    mixed_examples_note,
    validation_set,
)
from tunesmith.trial import Trial, TrialRecord

if TYPE_CHECKING:
    from tunesmith.study import Study

__all__ = [
    "Evaluate",
    "HoldoutEvaluationFailed",
    "HoldoutKeyMissing",
    "HoldoutResultUnreadable",
    "HoldoutOpened",
    "HoldoutScaleMismatch",
    "Thresholds",
    "VoidedOpening",
    "counted_openings",
    "finalize",
    "holdout_name",
    "refuse_reopening",
    "voided",
]

Evaluate = Callable[[dict[str, Any], int], Mapping[str, Any]]  # numbers, or one value per example (a sequence)

_BASELINE = "baseline:"  # the baseline's scores in the holdout log, beside the winner's


class HoldoutOpened(TunesmithError, RuntimeError):
    """The holdout was opened already; reading it again would leak it into decisions."""


class HoldoutEvaluationFailed(TunesmithError, RuntimeError):
    """``evaluate`` (or ``shifted``) raised after the opening was recorded: the holdout stays locked, since the
    evaluation may have read it, and the error says so and how to open it again (the cause is chained)."""


class HoldoutScaleMismatch(TunesmithError, ValueError):
    """The holdout was scored on another scale than validation (a percentage where validation gave fractions):
    its gap would read the slip as overfitting or as a leak. Its opening is recorded as voided (`VoidedOpening`)."""


class HoldoutKeyMissing(ConfigError):
    """The holdout evaluation returned no score under any name the study's metric is read by (`holdout_keys`), or a
    key in a form the checks read (``slice:<slice>:<metric>``, ``shifted:<metric>``) that names no metric it returns
    (`unread_key`): a typo in ``evaluate``'s keys. Its opening is recorded as voided (`VoidedOpening`): no check read
    anything."""


class HoldoutResultUnreadable(ConfigError):
    """An evaluation returned something other than a dict of numbers and per-example sequences of numbers. The
    winner's evaluations (the holdout's, then the shifted set's) come before any check, so its opening is recorded as
    voided (`VoidedOpening`); for the baseline's, after them, the opening counts, as for its missing key."""


class StaleChoiceWarning(UserWarning):
    """`finalize` opens the holdout on a choice from the Pareto front that trials run since may have overtaken: the
    verdict's front check cannot show it is what its rule picks now (within noise, or noise not recorded)."""


class VoidedOpening(Enum):
    """Why an opening of the holdout judged nothing, stored as ``voided`` in its ``holdout_log`` entry: a voided
    opening does not make the next one need ``force``."""

    SCALE = "scale"  # scored on another scale than validation (`HoldoutScaleMismatch`)
    UNREADABLE = "unreadable"  # returned a value that is no number nor one per example (`HoldoutResultUnreadable`)
    KEY = "key"  # returned without the study's metric under any name it is read by, or a key naming no metric it
    # returns (`HoldoutKeyMissing`)

    @property
    def words(self) -> str:
        """Why an opening voided so judged nothing, in a check's words."""
        if self is VoidedOpening.UNREADABLE:
            return "returned a value that is no number nor one number per example, refused before any check read it"
        if self is VoidedOpening.KEY:
            return ("returned without the study's metric, or with a key naming no metric it returns, refused before "
                    "any check read it")
        return "the holdout scored on another scale than validation, refused before any check read it"


def voided(opening: HoldoutOpeningAttr) -> VoidedOpening | None:
    """Why ``opening`` was voided (``None``: it was not, or by a reason this version does not know, which then
    counts as an opening)."""
    kind = opening.extra.get("voided")
    return next((v for v in VoidedOpening if v.value == kind), None)


_NAME = "holdout_name"  # the holdout set an opening read, in its `holdout_log` entry
_FOLLOWED = "followed"  # the openings of that set by other studies before it, in its entry


def holdout_name(opening: HoldoutOpeningAttr) -> str | None:
    """The name of the holdout set ``opening`` read (``None``: unnamed, or recorded before openings were named)."""
    name = opening.extra.get(_NAME)
    return name if isinstance(name, str) else None


@dataclass(frozen=True)
class _EarlierOpening:
    """An opening of the same holdout set by another study on the storage, stored in the ``followed`` list of the
    entry of an opening that came after it."""

    study: str
    at: float
    trial: int | None

    def to_json(self) -> dict[str, Any]:
        return {"study": self.study, "at": self.at, "trial": self.trial}

    def __str__(self) -> str:
        trial = "" if self.trial is None else f"trial #{self.trial}, "
        return f"study {self.study!r} ({trial}{_utc(self.at)})"


def _utc(at: float) -> str:
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(at))} UTC"


def _holdout_name(evaluate: Evaluate, given: str | None) -> str | None:
    """The name the openings of this holdout set are recorded and found under: ``given``, else ``evaluate``'s
    `stable_name` (its ``module:qualname``). ``None`` when neither names it: a lambda, a closure, a bound method, a
    callable object or a function of an interactive session has no identity that is stable across runs and
    programs."""
    if given is not None:
        if not isinstance(given, str) or not given.strip():
            raise ConfigError(
                f"holdout must name the holdout set, a non-empty string, got holdout={given!r}: pass the same "
                "name wherever that set is read (holdout='churn-2024-holdout'), or leave it out to name it after "
                "evaluate's module:qualname"
            )
        return given
    return stable_name(evaluate)


def _earlier_openings(study: Study, study_id: int, name: str) -> tuple[_EarlierOpening, ...]:
    """The openings of the holdout set ``name`` by the storage's other studies (not voided: those judged nothing),
    oldest first. One read of the studies' attributes (`Storage.list_studies`), no trials."""
    found = []
    for info in study.storage.list_studies():
        stored = info.attrs.get(HoldoutLogAttr.KEY)
        if info.id == study_id or stored is None:
            continue
        log = HoldoutLogAttr.from_json(stored, f"{HoldoutLogAttr.KEY} of study {info.name!r}")
        found += [_EarlierOpening(info.name, o.at, o.trial) for o in log.openings
                  if holdout_name(o) == name and voided(o) is None]  # fmt: skip
    return tuple(sorted(found, key=lambda o: o.at))


@dataclass(frozen=True)
class Thresholds:
    """When the verdict's checks fail (relative values: 0.02 is 2%).

    Attributes:
        gap: validation-vs-holdout gap (the guide: "a gap > 2% signals overfitting to the validation split").
        seed_cv: the winner's seed spread, as standard deviation over |mean|.
        slice: how far a slice may fall below the average of the slices (with a baseline scored on the holdout:
            below the baseline's score on that slice).
        shift: how far the shifted-data score may fall below the holdout score (without a baseline; with one,
            the check judges the gain over the baseline, and a drop beyond this that both share is the shift's).
    """

    gap: float = 0.02
    seed_cv: float = 0.05
    slice: float = 0.10
    shift: float = 0.05

    def __post_init__(self) -> None:
        for name in ("gap", "seed_cv", "slice", "shift"):
            # A limit above 1 is a percentage written as one (gap=2 for 2%): read as a fraction it is 200%, and a
            # leak of 35 points passed "within the limit".
            real(name, getattr(self, name), minimum=0, maximum=1, context="Thresholds", fix=_fraction_fix(self, name))


def _fraction_fix(thresholds: Thresholds, name: str) -> str:
    """The fix for a threshold outside [0, 1]: above 1, the fraction a percentage written as one means."""
    value = getattr(thresholds, name)
    default = f"(the default is {name}={getattr(Thresholds, name)})"
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 1:
        return f"thresholds are fractions (0.02 is 2%): for {value:g}% pass {name}={value / 100:g} {default}"
    return f"pass a fraction such as {name}={getattr(Thresholds, name)} {default}"


def refit_pick(study: Study) -> TrialRecord | None:
    """The trial whose configuration the last `TunesmithSearchCV` fit on ``study`` handed back as ``best_params_``
    (its ``refit``'s choice, recorded as ``best_params_trial`` of ``sklearn_scoring``); ``None`` for a study no search
    fitted, or one whose fit chose none (``refit=False`` with several metrics).

    Raises:
        AttributeShapeError: ``sklearn_scoring`` not in the shape tunesmith writes.
    """
    attrs = study.attrs
    # The key of `integrations.sklearn._ScoringAttr`, looked up before that module is imported: it imports
    # scikit-learn's model selection, a second that `status` and `best` on a study no search stored need not pay.
    if "sklearn_scoring" not in attrs:
        return None
    from tunesmith.integrations.sklearn import _ScoringAttr

    stored = read_attr(attrs, _ScoringAttr)
    if stored is None or stored.best_params_trial is None:
        return None
    return next((r for r in study.trials if r.number == stored.best_params_trial), None)


def _chosen(study: Study) -> tuple[TrialRecord, str, SeedCandidateAttr | None]:
    """The configuration to test, how it was chosen, and its seed-stability entry.

    After `validate_top` it is the re-run winner; when re-runs exist but no candidate was eligible it
    is the search's best, and the seed-stability check fails. Without a winner, a `TunesmithSearchCV` study's is
    the configuration its last fit handed back (`refit_pick`: a ``refit`` callable's choice), else the best.
    """
    stability = read_attr(study.attrs, SeedStabilityAttr)
    records = {r.number: r for r in study.trials if r.invalidated is None}  # a winner invalidated since is not chosen
    front_choice = chosen_from_front(study, "finalize") if several_objectives(study) else None
    if front_choice is not None and (stability is None or stability.winner != front_choice.number):
        entry = _own_reruns(stability, front_choice.number)  # re-run before, though not as the winner
        return front_choice, "chosen from the Pareto front", entry
    if stability is not None and stability.winner is not None and stability.winner in records:
        entry = stability.candidate(stability.winner)
        if entry is not None and entry.mean is not None and math.isfinite(entry.mean):
            rule = "lcb" if stability.rule is None else stability.rule
            how = f"seed-stability winner ({rule})" if front_choice is None else "chosen from the Pareto front, re-run"
            return records[stability.winner], how, entry
    if front_choice is not None:
        return front_choice, "chosen from the Pareto front", None
    best = study.best
    if best is None:
        raise TunesmithError(f"study {study.name!r} has no COMPLETE trial: nothing to score on the holdout")
    pick = refit_pick(study)
    if pick is not None and pick.number != best.number and pick.number in records:
        # The model a TunesmithSearchCV fit handed back (best_estimator_), which a refit callable (the one-standard-
        # error rule) picks below the top score: the verdict judged the top score's, a model the user does not ship.
        how = f"best_params_, the refit's pick over the top score's #{best.number}"
        return records[pick.number], how, _own_reruns(stability, pick.number)
    entry = _own_reruns(stability, best.number)  # e.g. the re-run winner was invalidated since
    return best, "best validation score" + (", re-run" if entry is not None else ""), entry


def _judge_choice_before_opening(study: Study, record: TrialRecord) -> None:
    """Read the verdict's Pareto front check on a study of several objectives before the holdout opens: refuse a
    choice it fails on decided evidence (trials run since dominate it, or its rule now picks another, beyond the
    noise), which no holdout score could make ready, so the holdout is not spent on it; warn
    (`StaleChoiceWarning`) when it cannot decide. `best`, `status` and the report say the same beforehand."""
    if not several_objectives(study):
        return
    check = front_check(study, record, opened=False)
    if check.decided and not check.passed:
        raise ConfigError(
            f"finalize would judge trial #{record.number}, the recorded choice, and the verdict's Pareto front check "
            f"fails on it whatever the holdout scores; the holdout was not opened: {check.detail}"
        )
    if not check.decided:
        warnings.warn(
            f"finalize opens the holdout on trial #{record.number}, the recorded choice, which the verdict's Pareto "
            f"front check cannot show current: {check.detail}",
            StaleChoiceWarning,
            stacklevel=outside_stacklevel(),
        )


def _refuse_broken_reruns(study: Study) -> None:
    """Refuse to open the holdout after a `validate_top` that stopped on a broken objective: no winner, and every
    run of its candidates failed, none at a per-run limit (`seeds._stop_if_broken`). The verdict would fail seed
    stability on a bug in the setup, not on the configuration, and spend the holdout on it; fixed and run again,
    `validate_top` replaces them. Runs that ended at ``trial_timeout`` or ``memory_limit`` say something of the
    configurations (they hang or grow on other seeds), which the verdict judges.

    Raises:
        ObjectiveError: the re-runs say the objective given to `validate_top` is broken.
    """
    stability = read_attr(study.attrs, SeedStabilityAttr)
    if stability is None or stability.winner is not None:
        return
    runs = [SeedRun.from_json(run) for run in stability.runs or ()]
    tried = [run for run in runs if run.candidate != BASELINE_NUMBER]
    if not tried or any(run.state != "failed" or run.kind in LIMIT_KINDS for run in tried):
        return
    first = next((run.reason for run in tried if run.reason), None) or "no reason recorded"
    raise ObjectiveError(
        f"validate_top stopped: all {len(tried)} re-runs of its candidates failed, though their configurations worked "
        f"in the search (the first: {first.splitlines()[0]}), so the objective given to it is broken. A verdict now "
        "would fail seed stability on that bug and spend the holdout for good: fix the objective and run "
        "ts.validate_top(study, objective) again, then finalize. The holdout was not opened",
        first,
    )


def _own_reruns(stability: SeedStabilityAttr | None, trial: int) -> SeedCandidateAttr | None:
    """``trial``'s own entry in the seed re-runs when it was re-run and eligible (``None`` otherwise)."""
    entry = None if stability is None else stability.candidate(trial)
    if entry is None or not entry.eligible or entry.mean is None or not math.isfinite(entry.mean):
        return None
    return entry


def _open(study: Study, force: bool, trial: int, name: str | None = None,
          followed: Sequence[_EarlierOpening] = ()) -> HoldoutOpeningAttr:  # fmt: skip
    """Record an opening of the holdout for ``trial`` before it is read, so that a crash still counts, and return
    it, with the holdout set's ``name`` and the openings of that set by other studies it ``followed``. The log is
    appended atomically (`Storage.update_study_attr`): two openings at once, from two processes, both land, and
    the second is refused unless ``force``."""
    at = time.time()
    extra: dict[str, Any] = {} if name is None else {_NAME: name}
    if followed:
        extra[_FOLLOWED] = [o.to_json() for o in followed]

    def append(current: Any) -> list[dict[str, Any]]:
        openings = () if current is None else HoldoutLogAttr.from_json(current).openings
        counted = [o for o in openings if voided(o) is None]  # a voided opening judged nothing
        if counted and not force:
            raise _opened_before(study.name, counted)
        opening = HoldoutOpeningAttr(at=at, forced=bool(counted) and force, trial=trial, extra=extra)
        return HoldoutLogAttr((*openings, opening)).to_json()

    stored = HoldoutLogAttr.from_json(study.storage.update_study_attr(study.info.id, HoldoutLogAttr.KEY, append))
    return next(o for o in reversed(stored.openings) if o.at == at and o.trial == trial)


def counted_openings(attrs: Mapping[str, Any]) -> list[HoldoutOpeningAttr]:
    """The openings of the holdout a study's ``attrs`` record that count: those that judged a winner (a voided one,
    `voided`, judged nothing), in their order."""
    log = read_attr(attrs, HoldoutLogAttr)
    return [] if log is None else [o for o in log.openings if voided(o) is None]


def refuse_reopening(study: Study, force: bool) -> None:
    """Refuse, before work that only the opening would use (`tunesmith finalize --rerun-top`'s re-runs), what
    `finalize` refuses at the opening: a holdout opened before, without ``force``.

    Raises:
        HoldoutOpened: the holdout was opened (an opening voided for what it read judged nothing, so not counted).
    """
    counted = counted_openings(study.attrs)
    if counted and not force:
        raise _opened_before(study.name, counted)


def _opened_before(name: str, counted: Sequence[HoldoutOpeningAttr]) -> HoldoutOpened:
    """The refusal to open study ``name``'s holdout again without ``force``, after the openings ``counted``."""
    first = counted[0]
    return HoldoutOpened(
        f"the holdout of study {name!r} was opened {times(len(counted))} already (first for trial "
        f"#{first.trial} at {_utc(first.at)}): "
        "a holdout is scored once, or it becomes another validation set; pass force=True (tunesmith "
        "finalize --force) to open it again (the forcing is recorded and shown in the verdict)"
    )


def _record_read(study: Study, opening: HoldoutOpeningAttr, read: dict[str, float], how: str,
                 void: VoidedOpening | None = None) -> HoldoutLogAttr:  # fmt: skip
    """Fill in what ``opening`` read (and, when it judged nothing, why: ``void``), atomically, in the log as it is
    now (another opening may have been recorded since, by another process: a copy taken at the opening would
    erase it), and return that log."""

    def filled(entry: HoldoutOpeningAttr) -> HoldoutOpeningAttr:
        extra = entry.extra if void is None else {**entry.extra, "voided": void.value}
        return replace(entry, scores=read, how=how, extra=extra)

    def fill(current: Any) -> list[dict[str, Any]]:
        openings = () if current is None else HoldoutLogAttr.from_json(current).openings
        mine = [o for o in openings if o.at == opening.at and o.trial == opening.trial]
        if not mine:  # the log was removed or rewritten by hand since the opening: it is recorded again
            openings = (*openings, opening)
        return HoldoutLogAttr(tuple(filled(o) if o.at == opening.at and o.trial == opening.trial else o
                                    for o in openings)).to_json()  # fmt: skip

    return HoldoutLogAttr.from_json(study.storage.update_study_attr(study.info.id, HoldoutLogAttr.KEY, fill))


def refuse_uncallable(evaluate: Any, what: str) -> None:
    """Refuse an ``evaluate`` (``what``: ``"evaluate"`` or ``"shifted"``) that cannot be called as
    ``what(params, seed)``, before the holdout opens (and, from a config, before the search): inside the opening the
    call would raise and spend it, and the forced opening the fix then needs would stay in the verdict. A function
    of one argument, most likely the search's objective of a trial, is told what `finalize` passes instead.

    Raises:
        ConfigError: ``evaluate`` is no function, or cannot take ``(params, seed)``.
    """
    try:
        inspect.signature(evaluate).bind(None)
        of_one = True
    except (TypeError, ValueError):
        of_one = False
    fix = (f"finalize calls {what}(params, seed) with the chosen configuration's params (a dict) and the seed of "
           "its search run, not with a trial, so the search's objective does not fit here: define "
           f"def {what}(params, seed) that trains with those params and that seed and returns the metrics it scores "
           "on the holdout")  # fmt: skip
    callable_with(evaluate, what, f"{what}(params, seed)", 2, fix=fix if of_one else None)


def _evaluate(evaluate: Evaluate, params: dict[str, Any], seed: int, what: str,
              opened: str) -> tuple[dict[str, float], dict[str, np.ndarray]]:  # fmt: skip
    """The scores ``evaluate`` returned, and the per-example values behind them (kept only for this call, to pair
    the winner's with the baseline's on the same examples; never stored).

    Raises:
        HoldoutEvaluationFailed: ``evaluate`` raised; ``opened`` (`_opened_text`) says which opening it spent.
    """
    try:
        result = evaluate(dict(params), seed)
    except Exception as exc:
        said = " ".join(str(exc).split()) or "no message"
        head = (f"the {what} evaluation for params {dict(params)!r}, seed {seed}, {said}" if isinstance(exc, RunFailed)
                else f"the {what} evaluation raised {type(exc).__name__} ({said}) for params {dict(params)!r}, "
                f"seed {seed}")  # fmt: skip
        raise HoldoutEvaluationFailed(
            f"{head}. {opened}, and it stays locked, since the evaluation may have read it: fix the evaluation, then "
            "open the holdout again with ts.finalize(study, evaluate, force=True) (tunesmith finalize --force), which "
            "the verdict records as a forced opening"
        ) from exc
    # The opening's first evaluation (the winner's holdout) is voided when refused: no check read anything yet.
    then = ("No check read any of its scores, so this opening judged nothing and is recorded in holdout_log as voided "
            "for its result: fix the evaluation and finalize again, with no force" if what in ("holdout", "shifted")
            else
            "The winner's holdout score was read, so this opening is recorded: after the fix, finalize again with "
            "force=True (tunesmith finalize --force), which the verdict records")  # fmt: skip
    if not isinstance(result, Mapping):
        raise HoldoutResultUnreadable(f"the {what} evaluation must return a dict of metrics, got "
                                      f"{type(result).__name__}. {then}")  # fmt: skip
    values: Mapping[str, Any] = result  # per-example sequences too, though `Evaluate` says numbers
    scores: dict[str, float] = {}
    examples: dict[str, np.ndarray] = {}
    for key, value in values.items():
        try:
            if is_per_example(value):
                numbers = example_numbers(str(key), value)
                scores.update(summarise(str(key), numbers))  # per-example values: mean, count, standard error
                examples[str(key)] = np.array(numbers)
            elif isinstance(value, str | bytes):  # float() would read "0.5" as 0.5: text where a number was meant
                raise TypeError(value)
            else:
                scores[str(key)] = float(value)
        except (TypeError, ValueError, OverflowError) as exc:  # names the key and the type, no holdout score
            said = (str(exc) if is_per_example(value)
                    else f"metric {excerpt(repr(key))} is no number ({type(value).__name__})")
            raise HoldoutResultUnreadable(f"the {what} evaluation returned a result that cannot be read: {said}; "
                                          f"return a number, or one number per example. {then}") from None
    return scores, examples


@dataclass(frozen=True)
class _Evaluation:
    """An evaluation as the objective of a job: ``evaluate(params, seed)`` on the trial's (picklable when
    ``evaluate`` is, for an executor that spawns its processes)."""

    evaluate: Evaluate

    def __call__(self, trial: Trial) -> Mapping[str, float]:
        return self.evaluate(dict(trial.params), trial.seed)


def _bounded(evaluate: Evaluate, limits: RunLimits, number: int) -> Evaluate:
    """``evaluate`` run under ``limits`` as a search trial runs under them (`run_bounded`: a child process of the
    processes executor, killed past ``trial_timeout``, capped at ``memory_limit``), a failure there raised as
    `RunFailed`; ``evaluate`` itself without limits: one call in this process, unbounded. ``number``: the scored
    trial's, which the executor's log lines name."""
    if not limits.bounded:
        return evaluate

    def bounded(params: dict[str, Any], seed: int) -> Mapping[str, float]:
        outcome = run_bounded(_Evaluation(evaluate), TrialJob(number, dict(params), seed), limits)
        if outcome.failed:
            raise RunFailed(outcome, limits)
        return cast(Mapping[str, float], outcome.result)

    return bounded


def _metric_key(metric: Metric, scores: Mapping[str, float], what: str, *, first: bool = True) -> str:
    """Where the ``what`` evaluation's result keeps the study's metric; refused when it has none. ``first``: it is
    one of the winner's evaluations (the holdout's, or the shifted set's after it), read before any check, so the
    caller records the opening as voided (`HoldoutKeyMissing`); after them (the baseline's, in the same opening), the
    winner's scores were read and the opening counts (`ConfigError`). A shifted set's result without the metric was
    read as no shifted set at all: "no shifted or time-split test set given"."""
    key = holdout_key(metric, scores)
    if key is None:
        names = " or ".join(repr(k) for k in holdout_keys(metric))
        returned = sorted(k for k in scores if not k.startswith(ANNOTATIONS))  # not the count: and stderr: beside them
        wrong = (f"the {what} evaluation returned {returned}, without the study's metric: return it as {names} "
                 "('holdout_<metric>')")  # fmt: skip
        if not first:
            raise ConfigError(f"{wrong}. The winner's holdout score was read, so this opening is recorded: after the "
                              "fix, finalize again with force=True (tunesmith finalize --force), which the verdict "
                              "records")  # fmt: skip
        raise HoldoutKeyMissing(
            f"{wrong} and finalize again. No check read any of its scores, so this opening judged nothing and is "
            "recorded in holdout_log as voided for its keys: the next one needs no force"
        )
    return key


def _refuse_unread_keys(study: Study, scores: Mapping[str, float]) -> None:
    """Refuse the winner's holdout result when a key of it in a form the checks read (``slice:<slice>:<metric>``,
    ``shifted:<metric>``) names no metric it returns nor one of the study's (`unread_key`): the check it was
    written for would say "not checked" and the verdict could read ready. No check read a score yet, so the
    opening is voided as for a missing key (`HoldoutKeyMissing`)."""
    names = [name for m in study.objectives for name in holdout_keys(m)]
    unread = unread_key(scores, names, holdout_key(study.metric, scores) or study.metric.name)
    if unread is not None:
        raise HoldoutKeyMissing(
            f"the holdout evaluation: {unread}. Fix the key and finalize again: no check read any of its scores, so "
            "this opening judged nothing and is recorded in holdout_log as voided for its keys: the next one needs "
            "no force"
        )


@dataclass(frozen=True)
class _Shift:
    """A configuration's shifted score, its noise and per-example values (``None``: absent or unknown)."""

    value: float | None
    noise: Noise | None = None
    examples: np.ndarray | None = None


def _shift_of(metric: Metric, key: str, scores: Mapping[str, float], examples: Mapping[str, np.ndarray],
              shifted: tuple[dict[str, float], dict[str, np.ndarray]] | None) -> _Shift:  # fmt: skip
    """The shifted score: the study's metric in the ``shifted`` evaluation when there is one, else the holdout
    result's ``shifted:<key>`` (or ``shifted:<metric>``)."""
    if shifted is not None:
        shifted_scores, shifted_examples = shifted
        found = holdout_key(metric, shifted_scores)
        if found is None:
            return _Shift(None)
        return _Shift(shifted_scores[found], noise_of(shifted_scores, found, point_unit(metric)),
                      shifted_examples.get(found))  # fmt: skip
    for name in (f"{SHIFTED}{key}", f"{SHIFTED}{metric.name}"):
        if name in scores:
            return _Shift(scores[name], noise_of(scores, name, point_unit(metric)), examples.get(name))
    return _Shift(None)


@dataclass(frozen=True)
class _BaselineScored:
    """The baseline's evaluations in `finalize`: its holdout scores (with ``shifted:<key>`` from the shifted
    evaluation), what the shifted-data check reads (``None``: the winner has no shifted score) and what the
    worst-slice check reads."""

    scores: dict[str, float]
    shift: BaselineShift | None
    slices: BaselineSlices


def _score_baseline(metric: Metric, params: dict[str, Any], seed: int, evaluate: Evaluate, shifted: Evaluate | None,
                    winner: tuple[str, Mapping[str, np.ndarray], _Shift], bar: Progress,
                    opened: str) -> _BaselineScored:  # fmt: skip
    """Score the baseline with the winner's evaluations and seed; ``winner`` (its holdout key, per-example values
    and shifted score) pairs the two on the same examples. ``shifted`` is evaluated, and the shift read, only when
    the winner has a shifted score; the baseline is scored for its slices alone otherwise."""
    scores, examples = _evaluate(evaluate, params, seed, "baseline's holdout", opened)
    bar.update(advance=1)
    key = _metric_key(metric, scores, "baseline's holdout", first=False)
    winner_key, winner_examples, winner_shift = winner
    slices = BaselineSlices(dict(scores), {
        name: noise for name, values in winner_examples.items()
        if name.startswith(SLICE) and (noise := _paired(values, examples.get(name))) is not None})  # fmt: skip
    if winner_shift.value is None:
        return _BaselineScored(scores, None, slices)
    shifted_result = None
    if shifted is not None:
        shifted_result = _evaluate(shifted, params, seed, "baseline's shifted", opened)
        bar.update(advance=1)
        scores.update({f"{SHIFTED}{k}": v for k, v in shifted_result[0].items()})
    shift = _shift_of(metric, key, scores, examples, shifted_result)
    if shift.value is None or not math.isfinite(shift.value) or not math.isfinite(scores[key]):
        raise ConfigError(
            f"the baseline's evaluations (params {params!r}) returned holdout {key}={scores[key]} and shifted "
            f"{'no score of the metric' if shift.value is None else shift.value}: the shifted-data check needs finite "
            "scores of the study's metric on both sets, as the winner's gave: return them for every configuration. "
            "The holdout was read, so this opening is recorded: after the fix, finalize again with force=True "
            "(tunesmith finalize --force)"
        )
    return _BaselineScored(scores, BaselineShift(
        holdout=scores[key], holdout_noise=noise_of(scores, key, point_unit(metric)), shifted=shift.value,
        shifted_noise=shift.noise, holdout_paired=_paired(winner_examples.get(winner_key), examples.get(key)),
        shifted_paired=_paired(winner_shift.examples, shift.examples)), slices)  # fmt: skip


def _paired(winner: np.ndarray | None, baseline: np.ndarray | None) -> Noise | None:
    """The noise of the winner-minus-baseline mean from their per-example values on the same examples (the same
    evaluation, the same seed): the standard error of the differences, free of what the examples share.
    ``None`` without both, or when their counts differ (not the same examples)."""
    if winner is None or baseline is None or len(winner) != len(baseline) or len(winner) < 2:
        return None
    differences = winner - baseline
    stderr = float(np.std(differences, ddof=1)) / math.sqrt(len(differences))
    return Noise(stderr, f"paired over {len(differences)} examples", len(differences))


def _overturned(stability: SeedStabilityAttr, contest: Contest | None) -> str:
    """The seed-stability line's word on the search's best when the re-runs' winner is another: overturned only when
    the winner beats it beyond noise (or it was not eligible), as `SeedReport.summary` words it."""
    if not stability.overturned:
        return ""
    searched = next((c.trial for c in stability.candidates or () if not c.baseline), None)
    rival = None if contest is None or searched is None else contest.rival(searched)
    if rival is None or rival.beaten:
        return "; it overturned the search's best"
    if rival.identical:
        return f"; it ties the search's best #{searched}, ranked first in the search"
    return f"; the rule prefers it to the search's best #{searched}, but not beyond noise"


def _seed_check(study: Study, record: TrialRecord, how: str, entry: SeedCandidateAttr | None,
                thresholds: Thresholds) -> Check:  # fmt: skip
    """The seed-stability check of the judged ``record`` on its re-runs (``entry``; `_reruns_check`).

    When ``record`` is a PBT continuation whose lineage changed a parameter (`lineage_of`), its search score came
    from a schedule its re-runs do not train: they train its final configuration from scratch, since the objective
    is given that configuration and a seed, nothing of the lineage. They are no seed repeats of that score, so a
    pass on them is undecided (it leans when their spread lies beyond the limit); a failure stands, since they show
    the configuration the holdout scores depending on the seed. The detail names the lineage.
    """
    check = _reruns_check(study, record, how, entry, thresholds)
    lineage = None if entry is None or not check.checked else lineage_of(record, study.trials)
    if lineage is None:
        return check
    score = record.value(study.metric.name)
    scored = "" if score is None else f" that scored {score:.4g}"
    said = f"{lineage.describe()}, not seed repeats of the run{scored} in the search"
    if not check.passed:
        return replace(check, detail=f"{said}; {check.detail}")
    return replace(check, decided=False, detail=(
        f"{said}, so they cannot show that run stable across seeds: re-runs that replay the schedule on fresh seeds "
        f"would decide, and validate_top gives the objective the final parameters alone; {check.detail}"))  # fmt: skip


def _reruns_check(study: Study, record: TrialRecord, how: str, entry: SeedCandidateAttr | None,
                  thresholds: Thresholds) -> Check:  # fmt: skip
    """The seed-stability check read on the re-runs as seed repeats of ``record``'s configuration."""
    name = "seed stability"
    stability = read_attr(study.attrs, SeedStabilityAttr)
    if stability is None:
        return Check(name, True, "the top candidates were not re-run across seeds before the holdout was opened: "
                     "ts.validate_top(study, objective) re-runs them (tunesmith finalize --rerun-top K)",
                     checked=False)  # fmt: skip
    own = stability.candidate(record.number)
    if entry is None and own is None and stability.winner is not None:  # the re-runs judged other trials
        rerun = ", ".join(f"#{c.trial}" for c in stability.candidates or () if c.trial is not None)
        return Check(name, True, (
            f"the judged trial #{record.number} ({how}) was not re-run: the re-runs are of {rerun}, before it was "
            "chosen; run ts.validate_top(study, objective) again to re-run it"), checked=False)  # fmt: skip
    if entry is None:  # re-runs exist and none of them may win: the evidence says not ready
        notes = [f"{'the baseline' if c.baseline or c.trial == BASELINE_NUMBER else f'#{c.trial}'}: {c.note}"
                 for c in stability.candidates or () if c.trial is not None and c.note]  # fmt: skip
        return Check(
            name,
            False,
            f"no re-run candidate was eligible across {len(stability.seeds or ())} seeds"
            + (f" ({'; '.join(notes)})" if notes else "")
            + f"; the holdout scored trial #{record.number} ({how}), which the re-runs did not confirm",
        )
    contest = recorded_contest(stability, study.metric)  # whether the re-runs told the winner apart
    compared = sum(1 for c in stability.candidates or ()
                   if not c.baseline and c.trial != BASELINE_NUMBER and c.eligible is not False)  # fmt: skip
    changes = across_seeds(stability.per_seed_winners or (), stability.winner,
                           () if contest is None else contest.tied, compared=compared)  # fmt: skip
    overturned = _overturned(stability, contest)
    # A lone candidate compared nothing: no sentence on which candidate was best on each seed (`across_seeds`).
    beside = f"; {changes}{overturned}" if changes else overturned
    if entry.confirm_values is not None:  # re-run on fresh seeds after the pick: judged on those runs alone
        ran = len(stability.confirm_runs or entry.confirm_values)
        if len(entry.confirm_values) < ran:  # a failed run on a fresh seed, as a failed one bars a candidate
            return Check(name, False, (
                f"re-run on {ran} fresh seeds after the pick, the winner failed: {entry.confirm_note}; a configuration "
                f"that fails on a fresh seed is not stable across seeds{beside}"))  # fmt: skip
        if entry.confirm_mean is None or entry.confirm_std is None:
            raise entry.missing("confirm_mean" if entry.confirm_mean is None else "confirm_std",
                                f"{stability.KEY}.candidates")  # fmt: skip
        mean, std, values = float(entry.confirm_mean), float(entry.confirm_std), entry.confirm_values
        seeds = (f"over {len(values)} fresh seeds run after the pick, not the {len(entry.values)} that picked it "
                 f"(+- {float(entry.std or 0.0):.2g} on those, which the pick can flatter)")  # fmt: skip
        caveat = f"; {entry.confirm_note}" if entry.confirm_note else ""
    else:
        if entry.mean is None or entry.std is None:
            raise entry.missing("mean" if entry.mean is None else "std", f"{stability.KEY}.candidates")
        mean, std, values = float(entry.mean), float(entry.std), entry.values
        seeds, caveat = f"over {len(values)} seeds", _picked_on_these_runs(stability, record)
    primary = _spread_reading(study.metric, mean, std, [float(v) for v in values], thresholds.seed_cv)
    repeats = [*completed(stability.runs, record.number), *completed(stability.confirm_runs, record.number)]
    blind = seed_blind(repeats, study.metric.name)
    # Passed all the same: a deterministic training is stable; an objective blind to the seed is said with its fix.
    alike = "" if blind is None else (
        f"; its {len(repeats)} runs gave the same {study.metric.name}{blind.examples} on every seed: "
        f"{SEED_BLIND_WHY}, so this spread measures no seed noise")  # fmt: skip
    head = f"{primary.words(seeds)}{beside}{caveat}{primary.relative}{alike}"
    if not several_objectives(study):
        return Check(name, primary.passed, head, decided=primary.decided, leans=primary.leans)
    runs = (stability.confirm_runs if entry.confirm_values is not None else stability.runs) or ()
    return _every_objective(study, record.number, primary, runs, len(values), head, thresholds.seed_cv)


@dataclass(frozen=True)
class _Spread:
    """One objective's spread across the seeds, read as the seed-stability check reads it (`_spread_reading`):
    ``value`` its mean and spread, ``spread`` the relative spread and what it decides, ``relative`` why a bounded
    score reads relative to its value (`read_relative`)."""

    metric: str
    passed: bool
    decided: bool
    leans: bool
    value: str
    spread: str
    relative: str

    def words(self, seeds: str) -> str:
        """``error 0.12 +- 0.005 over 5 seeds (spread 0.5%, limit 5%; ...)``, ``seeds`` saying which runs."""
        return f"{self.value} {seeds} {self.spread}"


def _spread_reading(metric: Metric, mean: float, std: float, values: Sequence[float], limit: float) -> _Spread:
    """How ``metric``'s spread over the seed re-runs ``values`` (their ``mean`` and ``std``) reads against
    ``limit``: its relative spread with one-sided 95% chi-square bounds, undecided near zero."""
    # A bounded score (accuracy, an error rate; a correlation, R^2) is measured against the larger of itself and its
    # complement to 1, so that 0.95 accuracy and 0.05 error, the same model, have the same spread; as a share of its
    # scale, so that 95% accuracy reads as 0.95 does.
    bounded = scored_in_points(metric, values)
    unit = point_unit(metric) if bounded else 1.0
    cv = (std / unit) / max(abs(mean / unit), 1.0 - mean / unit if bounded else 0.0, 1e-12)
    # A spread measured on a few seeds is itself uncertain (chi-square on n - 1 degrees of freedom), and the burden
    # of proof lies on a failure: it fails only when even its one-sided 95% lower bound is beyond the limit, and
    # passes as decided only when its one-sided 95% upper bound is within it; in between it passes, undecided.
    runs = len(values)
    lower, upper = _spread_bounds(cv, runs)
    passed, decided = lower <= limit, lower > limit or upper <= limit
    # Relative to a mean near zero (within noise of it, or runs on both sides of it) the spread over |mean| has no
    # finite bound and says nothing of how much the seed matters: undecided, with the scale to declare.
    known = runs >= 2  # one run measures no noise of its mean
    stderr, dof = (std / math.sqrt(runs), runs - 1) if known else (None, None)
    near = "" if bounded else near_zero(metric, mean, stderr, values, "mean", dof=dof)
    if near:
        passed, decided = True, False
        verdict = f"; {near}"
    elif not passed:
        verdict = f"; even its 95% lower bound {lower:.1%} is beyond the limit: results depend on the seed"
    elif decided:
        verdict = f"; its 95% upper bound {upper:.1%} is within the limit"
    else:
        side, bound = ("above", f"lower bound {lower:.1%}") if cv > limit else ("within", f"upper bound {upper:.1%}")
        verdict = (f"; {side} the limit, but {runs} seeds cannot tell (95% {bound}): "
                   f"{_seeds_that_decide(cv, runs, limit)} at this spread")  # fmt: skip
    return _Spread(metric.name, passed, decided, not decided and cv > limit, f"{metric.name} {mean:.4g} +- {std:.2g}",
                   f"(spread {cv:.1%}, limit {limit:.0%}{verdict})", read_relative(metric, values))  # fmt: skip


def _every_objective(study: Study, trial: int, primary: _Spread, runs: Sequence[Mapping[str, Any]], seeds: int,
                     head: str, limit: float) -> Check:  # fmt: skip
    """The seed-stability check of a multi-objective study: every objective judged on the re-runs of ``trial``
    (``runs``, the ones the primary objective was read on: ``seeds`` of them), each on its own spread, so that a
    choice made for its latency is not called stable on its error alone. It fails when any objective fails and is
    undecided when any is, naming them; ``head`` is the primary objective's reading."""
    readings = [primary]
    missing: list[str] = []
    measured = completed(runs, trial)
    for metric in study.objectives[1:]:
        values = [float(run.metrics[metric.name]) for run in measured if metric.name in run.metrics]
        if len(values) < seeds:
            missing.append(f"{metric.name} ({len(values)} of {seeds} re-runs returned it)")
            continue
        mean, std = mean_and_sd(values)
        readings.append(_spread_reading(metric, mean, std, values, limit))
    others = "; ".join(r.words(f"over the same {seeds} seeds") + r.relative for r in readings[1:])
    detail = head + (f"; {others}" if others else "")
    failed = [r.metric for r in readings if not r.passed]
    undecided = [r.metric for r in readings if r.passed and not r.decided]
    if missing:
        return Check("seed stability", False, (
            f"objective {', '.join(missing)} was not measured on every re-run, so its stability is unknown: return "
            f"every objective ({', '.join(m.name for m in study.objectives)}) from the objective and run "
            f"ts.validate_top(study, objective) again; {detail}"))  # fmt: skip
    if failed:
        return Check("seed stability", False, f"{', '.join(failed)} depends on the seed, every objective judged: "
                     f"{detail}")  # fmt: skip
    if undecided:
        leans = any(r.leans for r in readings)
        return Check("seed stability", True, f"{', '.join(undecided)} undecided, every objective judged: {detail}",
                     decided=False, leans=leans)  # fmt: skip
    return Check("seed stability", True, f"every objective within the limit: {detail}")


def _seeds_that_decide(cv: float, runs: int, limit: float) -> str:
    """How many seeds would decide a spread ``cv`` measured on ``runs`` seeds, were it the true one: enough that
    the bound on the limit's side (the lower one above the limit, the upper one within it) clears the limit."""
    if cv > limit:
        needed = next((n for n in range(runs + 1, 101) if _spread_bounds(cv, n)[0] > limit), None)
    else:
        needed = next((n for n in range(runs + 1, 101) if _spread_bounds(cv, n)[1] <= limit), None)
    return "more seeds would hardly decide" if needed is None else f"about {needed} seeds would decide"


def _picked_on_these_runs(stability: SeedStabilityAttr, record: TrialRecord) -> str:
    """What the seed check says when it reads the winner's spread on the very runs a rule that reads the spread
    picked it on (``""``: it did not): those runs flatter it (`seeds.spread_flattered`)."""
    competing = sum(1 for c in stability.candidates or () if not c.baseline and c.eligible is not False)
    if record.number != stability.winner or not spread_flattered(stability.rule, competing):
        return ""
    rule = stability.rule or Rule.LCB.value
    return (f"; the spread was read on the runs that picked it from {competing} candidates by {rule}, which "
            "favours runs that happen to agree: run ts.validate_top(study, objective) again without confirm=0 to "
            "re-run the winner on fresh seeds after the pick")  # fmt: skip


def _spread_bounds(spread: float, seeds: int) -> tuple[float, float]:
    """The one-sided 95% lower and upper bounds of a spread measured on ``seeds`` runs (chi-square on ``seeds - 1``
    degrees of freedom: the sample variance times ``n - 1`` over the true one); one run bounds nothing."""
    from scipy.stats import chi2

    if seeds < 2:
        return 0.0, math.inf
    degrees = seeds - 1
    return (spread * math.sqrt(degrees / float(chi2.ppf(0.95, degrees))),
            spread * math.sqrt(degrees / float(chi2.ppf(0.05, degrees))))  # fmt: skip


def finalize(
    study: Study,
    evaluate: Evaluate,
    *,
    force: bool = False,
    shifted: Evaluate | None = None,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    holdout: str | None = None,
    watch: WatchedMetrics = (),
    trial_timeout: float | None = None,
    memory_limit: int | str | None = None,
) -> Verdict:
    """Score the chosen configuration once on the locked holdout and return the verdict.

    ``evaluate`` (and ``shifted``) is one call in this process, unbounded, unless ``trial_timeout`` or
    ``memory_limit`` is given: then each call runs under them as a search trial does (a child process of the
    processes executor), and one past its timeout is killed and raises `HoldoutEvaluationFailed`, the opening spent
    as for any evaluation that failed. ``tunesmith run`` passes its config's limits, ``tunesmith finalize`` those of
    the config the study records.

    Args:
        study: the tuned study.
        evaluate: ``evaluate(params, seed) -> dict`` of holdout metrics (see the module docstring). With slices
            (``slice:<name>:<key>``) and a baseline, it scores the baseline too, with the winner's seed, in the same
            opening, and the worst-slice check judges each slice against the baseline's score on it.
        force: open the holdout again although it was opened before (recorded as forced); an opening voided for
            its scale (`HoldoutScaleMismatch`) does not count.
        shifted: ``shifted(params, seed) -> dict`` on a shifted or time-split test set, same keys. With a
            baseline (declared or evaluated), the baseline is scored too, by ``evaluate`` and ``shifted`` with the
            winner's seed, and the check judges the winner's gain over it under the shift.
        thresholds: when checks fail (default `Thresholds()`: gap 2%, seed spread 5%, slice 10%, shift 5%).
        progress: show the evaluations and the time left on stderr (``None``: when stderr is a terminal); the
            time left is first guessed from how long the chosen trial took in the search.
        holdout: the name of the holdout set ``evaluate`` reads (``None``: ``evaluate``'s ``module:qualname``,
            when it is a function defined at a module's top level; a lambda or a closure is then unnamed, and the
            verdict says to name it). Another study on the same storage that opened a set of this name before
            fails the "holdout opened once" check, as a forced opening does.
        watch: metrics the proxy-overfitting check also watches (beside the guardrails and the metrics whose
            names read as calibration), as ``ts.Metric`` or names (minimised; a name that reads like a score is
            refused: pass ``ts.Metric(name, "max")``). Checked before the holdout opens: a name no finished trial
            reported, an objective, or a direction against a guardrail on it raises `ConfigError`.
        trial_timeout: seconds each evaluation may take before it is killed (``None``: no limit, a call in this
            process).
        memory_limit: bytes, or a size such as ``"4GB"``, each evaluation may map beyond what its process starts
            with (``None``: no limit).

    Returns:
        The `Verdict`, also stored as the study attribute ``verdict``; the holdout scores are in
        ``holdout`` (the baseline's, when it was scored, in ``baseline_scores``), the optimism estimate in
        ``optimism``.

    Raises:
        HoldoutOpened: when the holdout was opened before and ``force`` is false.
        HoldoutScaleMismatch: when the holdout scored an objective on another scale than validation (see
            `_refuse_other_scale`); that opening is recorded as voided, and the next one needs no ``force``.
        HoldoutEvaluationFailed: ``evaluate`` or ``shifted`` raised, or ran past a limit; the opening is recorded.
        ConfigError: when ``evaluate`` or ``shifted`` cannot be called as ``(params, seed)``, ``holdout`` is not a
            non-empty string, or a limit is no number of seconds or size; before the holdout opens.
    """
    check_progress(progress)
    refuse_uncallable(evaluate, "evaluate")
    if shifted is not None:
        refuse_uncallable(shifted, "shifted")
    run_limits = RunLimits.checked(trial_timeout, memory_limit)
    watched = proxy_watch(study, _valid(study), watch)
    named = _holdout_name(evaluate, holdout)
    limits = thresholds or Thresholds()
    _refuse_broken_reruns(study)
    record, how, entry = _chosen(study)
    _judge_choice_before_opening(study, record)
    evaluate = _bounded(evaluate, run_limits, record.number)  # named above: the set's name is the function's
    shifted = None if shifted is None else _bounded(shifted, run_limits, record.number)
    validation = float(record.metrics[study.metric.name])  # the score that selected it: the bias lives there
    rerun = None if entry is None or entry.mean is None else float(entry.mean)
    followed = () if named is None else _earlier_openings(study, study.info.id, named)
    tuned_on = validation_set(study)  # the set and the studies that tuned on it before, read before the opening:
    earlier = earlier_studies(study)  # a malformed attribute then spends nothing
    params = _handed_params(study, record.number, record.params)
    declared = read_attr(study.attrs, BaselineAttr)
    baseline_params = None if declared is None or declared.params is None else dict(declared.params)
    handed_baseline = None if baseline_params is None else _handed_params(study, None, baseline_params)
    opening = _open(study, force, record.number, named, followed)
    opened = _opened_text(study, opening)
    per_configuration = 1 + (shifted is not None)
    bar = Progress(f"holdout of {study.name}: trial #{record.number}",
                   per_configuration * (1 + (baseline_params is not None and shifted is not None)),
                   unit="evaluations", per_unit=record.duration, show=progress)  # fmt: skip
    with bar:
        try:
            scores, examples = _evaluate(evaluate, params, record.seed, "holdout", opened)
        except HoldoutResultUnreadable:
            _record_read(study, opening, {}, how, void=VoidedOpening.UNREADABLE)
            raise
        bar.update(advance=1)
        try:
            key = _metric_key(study.metric, scores, "holdout")
            _refuse_unread_keys(study, scores)
        except HoldoutKeyMissing:
            _record_read(study, opening, dict(scores), how, void=VoidedOpening.KEY)
            raise
        try:  # the winner's shifted score, read before any check too: a result without the metric voids the opening
            shifted_result = None if shifted is None else _evaluate(shifted, params, record.seed, "shifted", opened)
            if shifted_result is not None:
                _metric_key(study.metric, shifted_result[0], "shifted")
        except (HoldoutKeyMissing, HoldoutResultUnreadable) as refused:
            void = VoidedOpening.KEY if isinstance(refused, HoldoutKeyMissing) else VoidedOpening.UNREADABLE
            _record_read(study, opening, dict(scores), how, void=void)
            raise
        bar.update(advance=shifted is not None)
        shifted_scores = None if shifted_result is None else shifted_result[0]
        objective_keys = [k for m in study.objectives[1:] if (k := holdout_key(m, scores)) is not None]
        _refuse_non_finite(scores, key, shifted_scores, study.metric, objective_keys)
        _refuse_other_scale(study, opening, how, scores, key, shifted_scores)
        winner_shift = _shift_of(study.metric, key, scores, examples, shifted_result)
        baseline_scored = None
        # The gain under the shift and each slice's change against the baseline read it, in this same opening.
        for_shift, for_slices = winner_shift.value is not None, bool(slices_of(scores, [key, study.metric.name]))
        if handed_baseline is not None and (for_shift or for_slices):
            wanted = " and ".join(why for why, needed in (("the gain under the shift", for_shift),
                                                          ("its slices", for_slices)) if needed)  # fmt: skip
            evaluations = 1 + (shifted is not None and for_shift)
            bar.update(total=per_configuration + evaluations, detail=f"the baseline, for {wanted}")
            baseline_scored = _score_baseline(study.metric, handed_baseline, record.seed, evaluate, shifted,
                                              (key, examples, winner_shift), bar, opened)  # fmt: skip
    holdout_score = scores[key]
    own = _valid(study)
    optimism = _optimism(study, entry, own)
    across = _across_studies(study, entry, own, optimism, earlier)
    selection = _selection(study, validation, optimism)
    unit = point_unit(study.metric)
    seen = [holdout_score, *_validation_scores(study)]
    holdout_noise = noise_of(scores, key, unit)
    gap = gap_test(
        study.metric, validation, holdout_score,
        validation_noise=_validation_noise(record, study.metric, _run_spread(entry), selection, holdout_noise),
        holdout_noise=holdout_noise,
        threshold=limits.gap, points=scored_in_points(study.metric, seen),
        selection=selection, compared=optimism.compared if optimism else 1,
        estimate=optimism.estimate if optimism is not None and optimism.measured else None,
        holdout_values=examples[key].tolist() if key in examples else None,
        validation_digest=record.metrics.get(f"{DIGEST}{study.metric.name}"),
    )  # fmt: skip
    beside = "" if rerun is None else f"; re-run mean {rerun:.4g}"
    checks = [baseline_check(study, record, entry, optimism)]
    first = (f"validation {study.metric.name} {validation:.4g} ({how}, trial #{record.number}{beside}) "
             f"vs holdout {holdout_score:.4g}: {gap.detail}{read_relative(study.metric, seen)}")  # fmt: skip
    checks.append(_gap_check(study, record, entry, scores, gap, first, limits.gap))
    checks.append(_seed_check(study, record, how, entry, limits))
    checks.append(guardrail_check(study, record, scores))
    checks.append(proxy_check(study, _valid(study), watched))
    if several_objectives(study):
        checks.append(front_check(study, record))
    stability = read_attr(study.attrs, SeedStabilityAttr)
    runs = completed(stability.runs if stability is not None else None, record.number if entry else None)
    slices_check, slices = slice_check(study.metric, scores, key, runs, entry.slices if entry else None, limits.slice,
                                       None if baseline_scored is None else baseline_scored.slices)  # fmt: skip
    checks.append(slices_check)
    if shifted_scores is not None:
        scores.update({f"{SHIFTED}{k}": v for k, v in shifted_scores.items()})
    checks.append(shifted_check(study.metric, holdout_score, noise_of(scores, key, unit), winner_shift.value,
                                winner_shift.noise, limits.shift,
                                None if baseline_scored is None else baseline_scored.shift))  # fmt: skip
    set_name = None if tuned_on is None else tuned_on.name
    counted = {e.name: len(e.records) for e in earlier}
    if optimism is not None:  # an estimate of NaN (noise unknown) measured nothing: not checked, as the detail says
        caveats = "" if tuned_on is not None else f"; {UNNAMED}"
        # Configurations read from different sets were not compared on the same data, whatever this estimate says.
        mixed = mixed_examples_note(own, study.metric)
        caveats += "" if mixed is None else f"; {mixed}"
        compared = compared_text(optimism.compared, counted, set_name, across, optimism.estimate, mixed=bool(mixed))
        checks.append(Check("optimism", True, f"{compared}; {optimism.detail}{caveats}",
                            checked=math.isfinite(optimism.estimate)))  # fmt: skip
    read = dict(scores)
    if baseline_scored is not None:
        read.update({f"{_BASELINE}{k}": v for k, v in baseline_scored.scores.items()})
    log = _record_read(study, opening, read, how)
    forced = [e for e in log.openings if e.forced]
    opened_check = _opened_across_studies(_opened_check(log, record.number), named, followed)
    if opened_check is not None:
        checks.append(opened_check)
    verdict = Verdict(checks, trial=record.number)
    write_attr(
        study,
        HoldoutAttr(
            rows=(
                HoldoutRowAttr(label=study.metric.name, validation=validation, holdout=holdout_score),
                *_other_rows(study, record, scores, key),
            ),
            trial=record.number,
            params=record.params,
            chosen_by=how,
            gap=gap.gap,
            gap_units=gap.units,
            gap_stderr=gap.stderr,
            gap_expected=gap.expected,
            threshold=limits.gap,
            flagged=gap.flagged,
            opened=len(log.openings),
            forced=len(forced),
            scores=scores,
            slices=slices,
            baseline_params=None if baseline_scored is None else baseline_params,
            baseline_scores=None if baseline_scored is None else baseline_scored.scores,
        ),
    )
    if optimism is not None:
        write_attr(study, replace(optimism.attribute(), validation_set=set_name, earlier=counted, across=across))
    write_attr(study, replace(verdict.attribute(), evidence=evidence_of(study.attrs)))
    return verdict


def _handed_params(study: Study, trial: int | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as ``evaluate`` takes them (`estimator_params`: a scikit-learn search's trial parameters as its
    estimator's), checked before the holdout opens.

    Raises:
        ConfigError: names only a search over a list of dicts uses are left (a study no search recorded its
            translation in), or a chosen option cannot be rebuilt: ``evaluate`` could not use them.
    """
    handed = estimator_params(study, params)
    internal = internal_names(handed)
    if internal:
        which = "the baseline's" if trial is None else f"trial #{trial}'s"
        raise ConfigError(
            f"{which} parameters {dict(params)!r} hold names a scikit-learn search over a list of dicts uses "
            f"internally ({', '.join(map(repr, internal))}), which no estimator takes, and study {study.name!r} "
            "records no translation to the estimator's (its sklearn_params attribute: the search ran under an "
            "older tunesmith): the holdout was not opened. Fit the search again with this version, which records it"
        )
    return handed


def _opened_text(study: Study, opening: HoldoutOpeningAttr) -> str:
    """How an error after ``opening`` says what it spent."""
    return (f"The holdout of study {study.name!r} was opened for trial #{opening.trial} at {_utc(opening.at)} "
            "(recorded before it is read, so that a crash still counts)")  # fmt: skip


def _opened_check(log: HoldoutLogAttr, judged: int) -> Check | None:
    """The "holdout opened once" check (``None``: the holdout was opened once, the check has nothing to say).

    A forced opening fails it: a holdout that informed a decision is no longer an untouched estimate. Openings
    voided (`VoidedOpening`: a unit mismatch, or a result without the study's metric) alone pass it, when each
    scored the configuration judged now. That is honest because such an opening was refused before any check read
    its scores: nothing was judged or chosen on it, and the configuration it scored had been chosen on validation
    alone, as this one was; the holdout then informed no choice, and its score is as untouched by the selection as
    a first opening's. What the error showed (the holdout's scores, which the unit slip is seen in) can still inform
    a person: when the
    configuration judged now is another than a voided opening scored, the choice moved after those scores were
    seen, and whether they moved it cannot be told, so the check is undecided (a pass that leans beyond its limit:
    the verdict is not shown ready)."""
    name = "holdout opened once"
    forced = [e for e in log.openings if e.forced]
    void = [e for e in log.openings if voided(e) is not None]
    opened = len(log.openings)
    if forced:
        also = f", {len(void)} voided" if void else ""
        return Check(name, False, f"the holdout was opened {opened} times ({len(forced)} forced{also}): its score is "
                     "no longer an untouched estimate")  # fmt: skip
    if not void:
        return None
    why = "; ".join(sorted({kind.words for e in void if (kind := voided(e)) is not None}))
    opened_as = f"the holdout was opened {opened} times, {len(void)} of them voided ({why})"
    others = sorted({e.trial for e in void if e.trial is not None and e.trial != judged})
    if not others:
        return Check(name, True, f"{opened_as}, which picked nothing: trial #{judged} was chosen on validation "
                     "before it and is the one judged now, so this holdout informed no choice")  # fmt: skip
    scored = ", ".join(f"#{t}" for t in others)
    return Check(name, True, (
        f"{opened_as}; the voided {'opening' if len(void) == 1 else 'openings'} scored trial {scored}, but trial "
        f"#{judged} is judged now: the choice "
        "moved after the holdout's scores were seen (the error that voided the opening shows them), and whether "
        "they moved it cannot be told, so the holdout cannot be called untouched, nor shown to have been used"),
        decided=False, leans=True)  # fmt: skip


def _opened_across_studies(within: Check | None, name: str | None,
                           followed: Sequence[_EarlierOpening]) -> Check | None:  # fmt: skip
    """The "holdout opened once" check across the storage's studies, on top of ``within`` (`_opened_check`, this
    study's own log). An opening of a set that other studies opened before (``followed``) fails it, decided: the
    new study was searched with that holdout's verdicts known, so its score is no longer an untouched estimate,
    whatever this study's log says. An unnamed set (``name`` ``None``) cannot be looked for, which the detail
    says, with how to name it: the check is then "not checked" where this study's log has nothing to say (it read
    "ok", a decided pass, while its detail said other studies' openings could not be found), and undecided where
    this study's log passed it."""
    if followed:
        studies = sorted({o.study for o in followed})
        shown = "; ".join(str(o) for o in followed[:5]) + (f"; and {len(followed) - 5} more" if len(followed) > 5
                                                            else "")  # fmt: skip
        detail = (
            f"a holdout set is opened once, across every study it judges, but the holdout {name!r} was opened "
            f"{times(len(followed))} before by {len(studies)} other stud{'y' if len(studies) == 1 else 'ies'} on "
            f"this storage: {shown}. What one search's holdout score showed informs the next (a tweaked space, a new "
            "study name), so this score is no longer an untouched estimate: split off a new, untouched holdout set "
            "and finalize on it; pass another holdout= name only if this truly is another set"
        )
        return Check(within.name if within else "holdout opened once", False,
                     detail if within is None else f"{within.detail}; {detail}")  # fmt: skip
    if name is not None:
        return within
    unnamed = ("the holdout set has no name (evaluate is a lambda, a closure or a callable object, whose identity "
               "is not stable across runs), so openings of it by other studies on this storage cannot be found: "
               "pass finalize(..., holdout='<name of the set>'), the same name wherever that set is read")  # fmt: skip
    if within is None:
        return Check("holdout opened once", True, unnamed, checked=False)
    return replace(within, detail=f"{within.detail}; {unnamed}", decided=within.decided and not within.passed)


def _refuse_other_scale(study: Study, opening: HoldoutOpeningAttr, how: str, scores: Mapping[str, float], key: str,
                        shifted: Mapping[str, float] | None) -> None:  # fmt: skip
    """Refuse a holdout scored on another scale than validation, before any check reads it: an objective reads in
    points (`scored_in_points`: a declared scale, or, without one, a bounded name whose every validation score lies
    in its range) and a score of it the verdict reads on the holdout lies outside that range (`point_range`:
    [0, scale], or the name's: [0, 1], a correlation's [-1, 1], R^2's (-inf, 1], where a holdout below zero is a
    score, not a slip). For the first objective that is the metric, its slices and the shifted score (a mean of
    per-example values, as stored); for each further objective of a study with several, its holdout score under
    any name `holdout_keys` gives it, which the gap check judges (`_objective_gap`). Judged, such a score read as a
    gap of thousands of percent, a holdout "better than validation beyond noise", and blamed the split. The opening
    is recorded as voided (`VoidedOpening.SCALE`), with what it read, so that the next `finalize` needs no force
    (`_opened_check`). A holdout scored on the inverse sense (an error rate where validation was an accuracy) lies
    in range: no range tells it."""
    metric = study.metric
    read = {key: scores[key], **{f"slice {k}": v for k, v in slices_of(scores, [key, metric.name]).items()}}
    read |= {k: scores[k] for k in (f"{SHIFTED}{key}", f"{SHIFTED}{metric.name}") if k in scores}
    if shifted is not None:
        read |= {f"shifted {k}": v for k, v in shifted.items() if k in holdout_keys(metric)}
    read_of = [(metric, read)]
    for other in study.objectives[1:]:
        if (other_key := holdout_key(other, scores)) is not None:
            read_of.append((other, {other_key: scores[other_key]}))
    slips = [slip for objective, scores_read in read_of if (slip := _off_scale(study, objective, scores_read))]
    if not slips:
        return
    _record_read(study, opening, dict(scores), how, void=VoidedOpening.SCALE)
    raise HoldoutScaleMismatch(
        f"the holdout must be scored as validation was, on the same scale: {'; '.join(slips)}: return the "
        "holdout's scores on validation's scale and finalize again. This opening judged nothing and is recorded in "
        "holdout_log as voided for its scale, so the next one needs no force"
    )


def _off_scale(study: Study, metric: Metric, read: Mapping[str, float]) -> str:
    """How the holdout scores ``read`` of ``metric`` (by the name each was read under) lie off the range it reads
    in points of, with the fix (`_refuse_other_scale`); ``""`` when it does not read in points, or they lie in it."""
    validation = _validation_scores(study, metric)
    if not scored_in_points(metric, validation):
        return ""
    unit = point_unit(metric)
    low, high = bounds = point_range(metric)  # [0, scale], or a name's: a correlation's [-1, 1], R^2's (-inf, 1]
    outside = {k: v for k, v in read.items() if not low <= v <= high}
    if not outside:
        return ""
    why = (f"its declared scale, ts.Metric({metric.name!r}, {metric.direction!r}, scale={unit:g})"
           if metric.scale is not None else
           f"no scale is declared, and all {len(validation)} validation scores lie in {range_text(bounds)}, "
           f"{min(validation):.4g} to {max(validation):.4g}")  # fmt: skip
    fix = "divide a percentage by 100" if unit == 1 else f"return it as a share of {unit:g}"
    return (f"{metric.name} reads in points of {range_text(bounds)} ({why}), but the holdout evaluation returned "
            f"{', '.join(f'{k}={v:.6g}' for k, v in outside.items())} ({fix})")  # fmt: skip


def _refuse_non_finite(scores: Mapping[str, float], key: str, shifted: Mapping[str, float] | None,
                       metric: Metric, objectives: Sequence[str] = ()) -> None:  # fmt: skip
    """Refuse a holdout (or shifted) score the verdict reads that is not a finite number: NaN compares as
    neither better nor worse, so a NaN gap would read as within the limit. ``objectives``: the keys of the further
    objectives of a study with several, whose gaps the verdict reads too (`_gap_check`)."""
    read = {key: scores[key], **{f"slice {k}": v for k, v in slices_of(scores, [key, metric.name]).items()}}
    read |= {k: scores[k] for k in objectives}
    read |= {k: v for k, v in scores.items() if k.startswith("shifted:")}
    if shifted is not None:
        read |= {f"shifted {k}": v for k, v in shifted.items() if k in holdout_keys(metric)}
    bad = {k: v for k, v in read.items() if not math.isfinite(v)}
    if bad:
        raise ConfigError(
            f"the holdout evaluation returned {', '.join(f'{k}={v}' for k, v in bad.items())}: the verdict needs "
            "finite scores (a NaN usually means an empty set or a failed prediction; per-example values must all "
            "be numbers). The holdout was read, so this opening is recorded: after the fix, finalize again with "
            "force=True (tunesmith finalize --force), which the verdict records"
        )


def _valid(study: Study) -> list[TrialRecord]:
    """The study's trials less the invalidated ones: nothing the checks judge by may rest on them."""
    return [r for r in study.trials if r.invalidated is None]


def _validation_scores(study: Study, metric: Metric | None = None) -> list[float]:
    """Every value of ``metric`` (``None``: the primary metric) the search saw (its finished trials, less the
    invalidated ones)."""
    name = (metric or study.metric).name
    return [v for r in _valid(study) if r.state.is_finished and (v := r.value(name)) is not None]


def _other_rows(study: Study, record: TrialRecord, scores: Mapping[str, float], key: str) -> list[HoldoutRowAttr]:
    """Validation-vs-holdout rows for the other metrics both sides have (``val_x``/``x`` in the search,
    ``holdout_x`` on the holdout), and for each further objective the holdout returned under any of its names
    (`holdout_keys`), for the report; the gap check judges the objectives alone (`_gap_check`)."""
    rows = []
    for name, value in scores.items():
        if not name.startswith("holdout_") or name == key:
            continue
        base = name[len("holdout_") :]
        for searched in (f"val_{base}", base):
            validation = record.value(searched)
            if searched != study.metric.name and validation is not None:
                rows.append(HoldoutRowAttr(label=searched, validation=validation, holdout=value))
                break
    labelled = {row.label for row in rows}
    for metric in study.objectives[1:]:
        found, validation = holdout_key(metric, scores), record.value(metric.name)
        if found is not None and validation is not None and metric.name not in labelled:
            rows.append(HoldoutRowAttr(label=metric.name, validation=validation, holdout=scores[found]))
    return rows


def _validation_noise(record: TrialRecord, metric: Metric, spread: tuple[float, int, str] | None,
                      selection: float, holdout: Noise | None) -> Noise | None:  # fmt: skip
    """The noise of ``metric``'s validation score of ``record``: its per-example or per-fold standard error, else,
    when it was re-run across seeds, the spread of one run (``spread``: `_run_spread`, `_objective_spread`; the
    search scored it once, on one seed), widened by `_few_runs_widening` for the few runs it was read on and for
    ``selection`` (the optimism `gap_test` is given to take back, in the metric's units), which was read at the
    same spread, together with the validation set's sampling noise taken as ``holdout``'s (`_with_set_noise`)."""
    noise = metric_noise(record.metrics, metric)
    if noise is not None or spread is None:
        return noise
    std, runs, source = spread
    if std == 0:  # runs that all gave the same value measured no noise: the seeds do not move this score
        return None
    shift = selection / (math.sqrt(2.0) * std)
    widening = _few_runs_widening(runs, shift)
    why = (f"{runs} runs measure it loosely, and the optimism taken back was read at it (noncentral Student's t, "
           f"{runs - 1} degrees of freedom)") if shift > 0 else (
           f"{runs} runs measure it loosely (Student's t, {runs - 1} degrees of freedom)")  # fmt: skip
    return _with_set_noise(Noise(std * widening, f"one run's spread over {source}, x{widening:.2f}: {why}", floor=std),
                           holdout)  # fmt: skip


def _with_set_noise(validation: Noise | None, holdout: Noise | None) -> Noise | None:
    """``validation``, a noise read from seed re-runs alone (``floor``: the seed spread), with the validation set's own
    sampling noise, unmeasured, taken as the holdout's (sets of similar size, as `gap_test` takes an unmeasured side):
    re-runs on the same validation examples do not move which examples they are, yet an easier validation set moves
    the gap as a harder holdout does. Without it the holdout gap read the search's single run of a 200-example
    validation set at its seed spread alone and failed the search as overfitted in 6% of studies with nothing to
    find, 10% with a gap at the limit (`benchmarks.discipline --part floats`). A per-example or per-fold noise has
    it already (its callers read one first), and a validation noise unknown `gap_test` takes as the holdout's."""
    if validation is None or holdout is None or validation.floor <= 0 or not holdout.stderr > 0:
        return validation
    return Noise(
        math.hypot(validation.stderr, holdout.stderr),
        f"{validation.source}; and the validation set's sampling noise, which re-runs on its examples cannot "
        "measure, taken as the holdout's",
        floor=validation.floor,
    )  # fmt: skip


def _run_spread(entry: SeedCandidateAttr | None) -> tuple[float, int, str] | None:
    """The standard deviation of one run of the chosen configuration across seeds, how many runs measured it and
    which, in words (``None``: fewer than two). The confirmation runs on fresh seeds after the pick when there are
    two or more: they exist only when the rule that picked it read the spread (`seeds.spread_flattered`), which
    favours candidates whose runs happen to agree, so the selection runs are not pooled with them; else the
    selection runs (picked on their mean, which does not flatter the spread of normal runs)."""
    if entry is None:
        return None
    confirmed = entry.confirm_values or ()
    if len(confirmed) >= 2 and entry.confirm_std is not None:
        std, runs, source = float(entry.confirm_std), len(confirmed), f"{len(confirmed)} fresh seeds run after the pick"
    elif entry.std is None or len(entry.values) < 2:
        return None
    else:
        std, runs, source = float(entry.std), len(entry.values), f"{len(entry.values)} seeds"
    # Runs that all gave the same value up to rounding (1e-16 of a mean of floats) measured no spread: 0.
    return (0.0 if std <= 1e-9 * max(1.0, abs(float(entry.mean or 0.0))) else std), runs, source


def _few_runs_widening(runs: int, shift: float) -> float:
    """The factor taking one run's spread, measured on ``runs`` runs, to the standard error `gap_test` tests the
    validation side at, so that its normal quantile (`Z_ONE_SIDED_95`) and the optimism it takes back together
    keep the one-sided 5% level.

    Without a leak, the gap is the optimism ``a`` plus the difference of two runs' noise: ``sigma * (a + sqrt(2) *
    Z)`` when the holdout is noisy alike. The spread ``s`` of a few runs is itself uncertain, and the optimism is
    read at that same spread (``s`` times the expected maximum of the compared scores' noise), so a spread that
    happens to read low shrinks both the noise and the optimism allowed for. The gap over ``sqrt(2) * s`` is then a
    noncentral Student's t on ``runs - 1`` degrees of freedom, its noncentrality ``shift``, the optimism over
    ``sqrt(2) * s``: the gap is beyond noise when above its 95% quantile. With no optimism this is Student's t; a
    normal quantile there failed 20% of searches among 20 equally good configurations on 3 seeds, 15% on 5."""
    from scipy.stats import nct, t

    degrees = runs - 1
    quantile = float(t.ppf(0.95, degrees)) if shift <= 0 else float(nct.ppf(0.95, degrees, shift))
    return (quantile - max(shift, 0.0)) / Z_ONE_SIDED_95


def _gap_check(study: Study, record: TrialRecord, entry: SeedCandidateAttr | None, scores: Mapping[str, float],
               first: GapTest, detail: str, threshold: float) -> Check:  # fmt: skip
    """The holdout-gap check of the judged ``record``: ``first``, the first objective's `gap_test`, in words
    (``detail``), and on a study with several objectives every further objective the holdout returned, judged by
    `_objective_gap`, so that a trade-off chosen for its cost is not called generalising on its error alone.
    As the seed-stability check reads several objectives, it is one check: it fails when any objective's gap is
    flagged, is undecided when any is (leaning when one leans beyond the limit), and names them; an objective the
    holdout did not return is named as not judged and decides nothing."""
    if not several_objectives(study):
        return Check("holdout gap", not first.flagged, detail, checked=first.checked, decided=first.decided,
                     leans=first.leans)  # fmt: skip
    judged: list[tuple[str, GapTest]] = [(study.metric.name, first)]
    parts, missing = [detail], []
    for metric in study.objectives[1:]:
        test, words = _objective_gap(study, record, entry, scores, metric, threshold)
        parts.append(words)
        if test is None:
            missing.append(metric.name)
        else:
            judged.append((metric.name, test))
    body = "; ".join(parts)
    every = "every objective judged" if not missing else "every objective the holdout returned judged"
    failed = [name for name, test in judged if test.flagged]
    if failed:
        verb = "fails" if len(failed) == 1 else "fail"
        return Check("holdout gap", False, f"{', '.join(failed)} {verb} the holdout gap, {every}: {body}")
    undecided = [name for name, test in judged if not test.decided]
    if undecided:
        return Check("holdout gap", True, f"{', '.join(undecided)} undecided, {every}: {body}", decided=False,
                     leans=any(test.leans for _, test in judged))  # fmt: skip
    unchecked = [name for name, test in judged if not test.checked]
    if len(unchecked) == len(judged):
        return Check("holdout gap", True, f"no objective's noise is known, {every}: {body}", checked=False)
    if unchecked:
        return Check("holdout gap", True, f"{', '.join(unchecked)} of unknown noise, the others within the limit, "
                     f"{every}: {body}")  # fmt: skip
    within = "every objective within the limit" if not missing else "every objective the holdout returned within it"
    return Check("holdout gap", True, f"{within}: {body}")


def _objective_gap(study: Study, record: TrialRecord, entry: SeedCandidateAttr | None, scores: Mapping[str, float],
                   metric: Metric, threshold: float) -> tuple[GapTest | None, str]:  # fmt: skip
    """The holdout gap of ``record`` on ``metric``, a further objective of the study, and the words for it
    (``None`` and why, when the holdout did not return it or either side is not a number).

    It is judged as the first objective is (`gap_test`): in points or relative by the same rule, against the
    holdout's noise from its values. What it is compared with depends on what the choice saw. The choice from the
    front read the search's single run of each trial, and a rule that reads ``metric`` (`_choice_read`: best on
    it, a bound on it, weights on it, the knee) favours a trial whose run happened to read well on it, by an amount
    no estimate here measures (the optimism estimate is the first objective's best of N, and a bound or the knee
    lean on it only in part). Read against that run, a gap beyond the limit was failed as overfitting on that
    luck alone: with every configuration and the holdout alike, 20% of studies choosing ts.choose.best on it, 9% of
    those bounding it. So:

    * when the chosen configuration was re-run on seeds after the pick, the holdout is compared with the mean of
      those runs, which no choice read, at their noise (`_unseen_runs`), and the search's run decides nothing;
    * else, when the rule read ``metric``, the search's run is judged with its noise per example or per fold, else
      the spread of one run over the seed re-runs (`_objective_spread`), widened for their few runs; a gap
      flagged beyond the limit there fails only when it stays beyond the limit beyond noise were that run the
      luckiest of every configuration compared (`_beyond_the_luckiest`), and is otherwise undecided, leaning,
      naming the re-runs that would decide;
    * else the search's run is judged as above, nothing taken back: the rule did not read ``metric``."""
    key = holdout_key(metric, scores)
    if key is None:
        names = " or ".join(repr(k) for k in holdout_keys(metric))
        return None, (f"{metric.name} not judged: the holdout returned no {names}; return it from evaluate to judge "
                      f"the chosen trade-off's {metric.name} on the holdout")  # fmt: skip
    validation, holdout = record.value(metric.name), scores[key]
    if validation is None or not math.isfinite(validation):
        return None, f"{metric.name} not judged: trial #{record.number} has no finite validation {metric.name}"
    read = _choice_read(study, record, metric)
    holdout_noise = noise_of(scores, key, point_unit(metric))
    if (same := _model_property(study, record, scores, metric, (validation, holdout, holdout_noise), threshold)):
        return same
    unseen = _unseen_runs(study, record, entry, metric)
    if unseen is not None:
        seen = [holdout, unseen.mean, *_validation_scores(study, metric)]
        validation_noise = unseen.noise if unseen.sampled else _with_set_noise(unseen.noise, holdout_noise)
        test = gap_test(metric, unseen.mean, holdout, validation_noise=validation_noise, holdout_noise=holdout_noise,
                        threshold=threshold, points=scored_in_points(metric, seen))  # fmt: skip
        searched = (f"the search's run, {validation:.4g}, which the choice read ({read}), is not compared" if read
                    else f"not the search's run, {validation:.4g}")  # fmt: skip
        return test, (f"validation {metric.name} {unseen.mean:.4g} (the mean of {unseen.source}, which no choice "
                      f"saw; {searched}) vs holdout {holdout:.4g}: "
                      f"{test.detail}{read_relative(metric, seen)}")  # fmt: skip
    seen = [holdout, *_validation_scores(study, metric)]
    spread = _objective_spread(study, record, entry, metric)
    noise = _validation_noise(record, metric, None if spread is None else spread[1:], 0.0, holdout_noise)
    points = scored_in_points(metric, seen)
    test = gap_test(metric, validation, holdout, validation_noise=noise, holdout_noise=holdout_noise,
                    threshold=threshold, points=points)  # fmt: skip
    rerun = "" if spread is None else f"re-run mean {spread[0]:.4g}; "
    if read:
        test = _beyond_the_luckiest(study, metric, test, (validation, noise), (holdout, holdout_noise), points, read)
        taken = (f"the search's single run, which the choice read ({read}): nothing taken back for that unless the "
                 "gap fails")  # fmt: skip
    else:
        taken = (f"nothing taken back for choosing: the choice did not read {metric.name}, and the optimism "
                 f"estimate, the best of the configurations compared, is {study.metric.name}'s")  # fmt: skip
    return test, (f"validation {metric.name} {validation:.4g} ({rerun}{taken}) vs holdout {holdout:.4g}: "
                  f"{test.detail}{read_relative(metric, seen)}")  # fmt: skip


def _model_property(
    study: Study, record: TrialRecord, scores: Mapping[str, float], metric: Metric,
    read: tuple[float, float, Noise | None], threshold: float,
) -> tuple[GapTest, str] | None:  # fmt: skip
    """The gap of a further objective that the holdout gave exactly as the search's run of ``record`` did, on
    neither side a mean of per-example values (no noise, or recorded exact), while the first objective's holdout
    score differs from its search score (so the holdout is other data): the holdout's model was trained with that
    run's seed, and a value that other data leaves unchanged to every digit is a property of the trained model (its
    size, a count of its parameters), not of the data it is scored on, so there is no gap to judge (``None``: not
    so). Compared with the mean of re-runs on other seeds, such a value read their seed-to-seed spread as a gap, and
    the check asked for per-example holdout values of a model's size. ``read``: ``metric``'s search value, its
    holdout value and the holdout's noise, as `_objective_gap` read them."""
    validation, holdout, holdout_noise = read
    first_key, first = holdout_key(study.metric, scores), record.value(study.metric.name)
    if first_key is None or first is None or holdout != validation:
        return None
    # No noise, or recorded exact (a stderr of 0 the objective gave, no per-example values behind it), on each side.
    if not all(noise is None or (noise.stderr == 0.0 and noise.examples is None)
               for noise in (holdout_noise, metric_noise(record.metrics, metric))):  # fmt: skip
        return None
    if scores[first_key] == first:  # the holdout may be the validation data itself: the first objective's check says
        return None
    detail = (f"{metric.name} {holdout:.6g} on the holdout, the same to every digit as in the search's run of "
              f"#{record.number}, whose seed trained the holdout's model, while {study.metric.name} differs "
              f"({first:.4g} against {scores[first_key]:.4g}): a property of the trained model, not of the data it is "
              "scored on, so there is no gap to judge")  # fmt: skip
    return GapTest(0.0, "relative", None, threshold, False, True, detail), detail


def _choice_read(study: Study, record: TrialRecord, metric: Metric) -> str:
    """The rule `Study.choose` recorded for ``record``, as its call, when it read ``metric`` to pick it: best on
    it, a bound on it, a weight on it, or the knee, which reads every objective; ``""`` when it did not (or chose
    another trial). A rule this version cannot read counts as reading it."""
    choice = read_attr(study.attrs, ChoiceAttr)
    if choice is None or choice.trial != record.number:
        return ""
    try:
        rule = from_json(choice.rule)
    except ConfigError:
        return f"the recorded rule {choice.rule.get('rule')!r}"
    if isinstance(rule, Best):
        reads = rule.metric == metric.name or any(bound.metric == metric.name for bound in rule.bounds)
    elif isinstance(rule, Weights):
        reads = dict(rule.weights).get(metric.name, 0.0) > 0
    else:
        reads = True
    return rule.describe() if reads else ""


@dataclass(frozen=True)
class _Unseen:
    """A further objective's mean over the chosen configuration's runs on seeds after the pick, the noise it is
    compared with the holdout at, and which runs, in words."""

    mean: float
    noise: Noise | None
    source: str
    sampled: bool = True  # whether ``noise`` holds the validation set's sampling noise (the runs' own, per example)


def _unseen_runs(study: Study, record: TrialRecord, entry: SeedCandidateAttr | None,
                 metric: Metric) -> _Unseen | None:  # fmt: skip
    """``metric`` over the runs of ``record`` on seeds after the pick, which no choice read (``None``: fewer than
    two measured it): the confirmation runs after `validate_top`'s pick when there are two or more, else its runs
    when it was the one configuration re-run (as `validate_top` re-runs the choice from the front), which picked
    nothing. Runs that picked it from several candidates are not: the pick favours them.

    The holdout is scored once, on the search's seed, and these runs on others, so the gap's noise on this side
    holds their mean's seed noise (their spread over the square root of their number), the holdout run's own seed
    draw (their spread again), and, when the runs give per-example or per-fold noise, their typical standard
    error, counted once: every run scores the same validation examples when the objective holds its split fixed.
    When it draws them anew with the seed, the spread holds that noise already and the sum errs on the side of not
    failing. Its degrees of freedom are those of the sum (Welch-Satterthwaite; a spread over n runs has n - 1)."""
    stability = read_attr(study.attrs, SeedStabilityAttr)
    if entry is None or stability is None:
        return None
    if len(entry.confirm_values or ()) >= 2:
        runs, after = completed(stability.confirm_runs, record.number), "fresh seeds run after the pick"
    elif [c.trial for c in stability.candidates or ()
          if not c.baseline and c.trial != BASELINE_NUMBER] == [record.number]:  # fmt: skip
        runs, after = completed(stability.runs, record.number), "seeds re-run after the choice"
    else:
        return None
    measured = [run for run in runs if metric.name in run.metrics]
    values = [float(run.metrics[metric.name]) for run in measured]
    if len(values) < 2 or not all(math.isfinite(v) for v in values):
        return None
    (mean, std), count = mean_and_sd(values), len(values)
    if std <= 1e-9 * max(1.0, abs(mean)):  # runs that agree up to rounding measured no spread
        std = 0.0
    seeds = std * math.sqrt(1.0 + 1.0 / count)  # the mean's seed noise and the holdout run's own seed draw
    within = [n for run in measured if (n := metric_noise(run.metrics, metric)) is not None]
    typical = float(np.mean([n.stderr for n in within])) if within else 0.0
    source = f"{count} runs on {after}"
    if seeds == 0 and typical == 0:
        return _Unseen(mean, None, source)
    parts = [(seeds**2, count - 1.0)] if seeds > 0 else []
    freedoms = [d for n in within if (d := n.dof if n.dof is not None or n.examples is None else n.examples - 1.0)
                is not None]  # fmt: skip
    if typical > 0 and freedoms:
        parts.append((typical**2, min(freedoms)))
    denominator = sum(variance**2 / dof for variance, dof in parts if dof > 0)
    dof = None if denominator == 0 else (seeds**2 + typical**2) ** 2 / denominator
    said = f"{within[0].source} a run" if within else "no per-example noise"
    noise = Noise(math.hypot(seeds, typical), f"{count} runs' spread {std:.3g} (over their mean and the holdout's "
                  f"one seed) and {said}", floor=seeds, dof=dof)  # fmt: skip
    return _Unseen(mean, noise, source, sampled=typical > 0)


def _beyond_the_luckiest(study: Study, metric: Metric, test: GapTest, validation: tuple[float, Noise | None],
                         holdout: tuple[float, Noise | None], points: bool, read: str) -> GapTest:  # fmt: skip
    """``test``, a gap of ``metric`` read against the search's run that the choice read (``read``), when it is not
    flagged as overfitting; else whether it stays so were that run the luckiest of the configurations compared.

    Whatever the rule, the chosen run's luck, in units of its own noise, is at most the largest of the compared
    runs' (each a standard normal without real differences), so taking back its noise times the expected best of
    their number (`expected_max_normal`) and testing at the two sides' noise bounds what choosing can make of
    noise (the spread of that best is below one noise's). Its noise is the larger of its own standard error and
    the compared runs' typical one, since a choice that favours a low reading favours a low spread with it on a
    skewed score: with the chosen run's own, 5% of studies choosing under a bound on a skewed latency (40 values
    a run) still failed with nothing to find. A gap still flagged then fails; one that is not is undecided,
    leaning beyond the limit: the choice may explain it, and the runs after the pick would decide."""
    if not test.flagged or test.gap <= test.threshold:  # within the limit, or the holdout better: not the choice's
        return test
    value, noise = validation
    score, holdout_noise = holdout
    compared = sum(1 for v in _validation_scores(study, metric) if math.isfinite(v))
    own = noise or holdout_noise or Noise(0.0, "")  # an unknown side is taken as the known one's
    # The choice favours a run whose noise reads low as well (the low mean of a skewed score comes with a low
    # spread): its own standard error understates its noise, the compared runs' typical one does not.
    errors = [n.stderr for r in _valid(study) if (n := metric_noise(r.metrics, metric))]
    typical = math.sqrt(float(np.mean(np.square(errors)))) if errors else 0.0
    if typical > own.stderr:
        freedom = own.dof if own.dof is not None or own.examples is None else own.examples - 1.0
        noise = Noise(typical, f"the {len(errors)} compared runs' typical {own.source}", dof=freedom)
    sigma = max(typical, own.stderr)
    luck = sigma * expected_max_normal(compared)
    bounded = gap_test(metric, value, score, validation_noise=noise, holdout_noise=holdout_noise,
                       threshold=test.threshold, points=points, selection=luck, compared=compared)  # fmt: skip
    luckiest = (f"even were the chosen run the luckiest of the {compared} configurations compared ({read} read "
                f"{metric.name}; its noise {sigma:.3g} times {expected_max_normal(compared):.2f}, the expected best "
                f"of {compared} standard normals, taken back)")  # fmt: skip
    if bounded.flagged:
        return replace(bounded, detail=f"{luckiest}: {bounded.detail}")
    detail = (f"gap {_in_units(test.gap, test.units)} +- {_in_units(test.stderr or 0.0, test.units).lstrip('+')} "
              f"(limit {_in_units(test.threshold, test.units).lstrip('+')}): beyond the limit on the noise of one run, "
              f"but not beyond what choosing can make of noise: the choice read {metric.name} ({read}) on this run "
              f"among {compared} configurations, and were it the luckiest of them the gap beyond that luck, "
              f"{_in_units(bounded.gap - bounded.expected, bounded.units)}, is not beyond the limit beyond noise; "
              f"not evidence of overfitting, nor of its absence: re-running the chosen configuration on seeds after "
              f"the pick (ts.validate_top(study, objective), whose runs no choice reads) would decide, the gap then "
              f"read on their mean")  # fmt: skip
    return replace(test, flagged=False, decided=False, leans=True, detail=detail)


def _in_units(value: float, units: str) -> str:
    """A gap in `GapTest` units, as its detail shows it: points of the scale, or relative."""
    return f"{value * 100:+.1f} points" if units == "points" else f"{value:+.1%}"


def _objective_spread(study: Study, record: TrialRecord, entry: SeedCandidateAttr | None,
                      metric: Metric) -> tuple[float, float, int, str] | None:  # fmt: skip
    """``metric``'s mean over the seed re-runs of ``record``, then as `_run_spread` reads the first objective's:
    the standard deviation of one run, how many runs measured it and which, in words (``None``: fewer than two
    measured it). The runs are those the first objective's spread is read on: the fresh seeds after the pick when
    there are two or more, else the selection runs."""
    stability = read_attr(study.attrs, SeedStabilityAttr)
    if entry is None or stability is None:
        return None
    confirmed = len(entry.confirm_values or ()) >= 2
    runs = completed(stability.confirm_runs if confirmed else stability.runs, record.number)
    values = [float(run.metrics[metric.name]) for run in runs if metric.name in run.metrics]
    if len(values) < 2:
        return None
    mean, std = mean_and_sd(values)
    source = f"{len(values)} fresh seeds run after the pick" if confirmed else f"{len(values)} seeds"
    # Runs that all gave the same value up to rounding (1e-16 of a mean of floats) measured no spread: 0.
    return mean, (0.0 if std <= 1e-9 * max(1.0, abs(mean)) else std), len(values), source


def _selection(study: Study, validation: float, optimism: Optimism | None) -> float:
    """How much choosing among the study's configurations flatters ``validation``, the chosen one's score
    (`chosen_flattery` over the study's valid scores)."""
    return chosen_flattery(optimism, validation, _validation_scores(study), study.metric.sign())


def _across_studies(study: Study, entry: SeedCandidateAttr | None, own: Sequence[TrialRecord],
                    optimism: Optimism | None, earlier: Sequence[EarlierStudy]) -> float | None:  # fmt: skip
    """The optimism of the best of the configurations of this study (``own``: its valid trials, whose optimism is
    ``optimism``) and of the ``earlier`` ones (`earlier_studies`:
    created before it on the same storage, tuned on its validation set with the same metric) together (``None``: no
    earlier study, no estimate of this study's own, or a noise the pool cannot tell either).

    A search designed after another's scores were seen may have been steered to where that set happened to
    flatter, so its winner's score is flattered by between its own selection (`optimism`, which the gap check and
    the baseline margin take back: an unrelated earlier search added nothing) and the selection over every
    configuration compared on the set (a configuration an earlier study found, run again, carries that selection
    whole). The second is reported beside the first; what reusing the set cost shows in the holdout gap."""
    if not earlier or optimism is None:
        return None
    # A configuration run again with the same score is one measurement, not a second draw of the noise: counted
    # twice, the pool read as more draws than were made (0.0620 against 0.0610 across, steered, in the benchmark).
    seen = {_draw(r, study.metric) for r in own}
    pooled = _optimism(
        study, entry, [*own, *(r for e in earlier for r in e.records if _draw(r, study.metric) not in seen)]
    )
    return None if pooled is None or not math.isfinite(pooled.estimate) else pooled.estimate


def _draw(record: TrialRecord, metric: Metric) -> tuple[str, float | None]:
    """A trial's configuration and score: two trials alike in both measured the same thing once."""
    return json.dumps(record.params, sort_keys=True, default=repr), record.value(metric.name)


def _optimism(study: Study, entry: SeedCandidateAttr | None, compared: Sequence[TrialRecord]) -> Optimism | None:
    """The optimism of the best of the ``compared`` scores, read with the seed noise the winner's re-runs (else the
    baseline's runs) measured."""
    noise = None
    runs = None  # how many runs the seed noise was read from: the estimate reads it as a sample's, not as exact
    baseline = read_attr(study.attrs, BaselineAttr)
    spread = _run_spread(entry)
    if spread is not None and spread[0] > 0:
        noise, runs = spread[0], spread[1]
    elif baseline is not None and baseline.std and baseline.std > 1e-9 * max(1.0, abs(float(baseline.mean or 0.0))):
        noise = float(baseline.std)  # a spread of rounding (runs that all agreed) is none
        runs = len(baseline.values) if baseline.values and len(baseline.values) >= 2 else None
    return estimate_optimism(compared, study.metric, noise=noise, runs=runs)
