"""The wall-time and resource limits, checked before each new trial and each reported step."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith._text import times
from tunesmith.attributes import HoldoutLogAttr, read_attr
from tunesmith.budget import (
    Budget,
    BudgetUsage,
    compute_time,
    counts_toward_budget,
    plain_number,
    running_time,
    seconds_of,
    spent_resource,
)
from tunesmith.errors import BudgetLimit, ConfigError
from tunesmith.schedulers import FinishLine, Scheduler, make_scheduler
from tunesmith.schedulers._deck import REPLICATES, Deck, DeckRun, resource_for, shown_short, simulate, trials_for
from tunesmith.study._time_left import MIN_TIMED, full_trainings, running_need, too_late_to_finish
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = [
    "AXIS_WATCH",
    "MIN_FULLY_TRAINED",
    "AxisWatch",
    "PausedTrialsWarning",
    "PopulationWarning",
    "ResourceAxisWarning",
    "ShortTrainingWarning",
    "Spent",
    "UnspentResource",
    "first_report_interval",
    "none_trained_note",
    "overrun_note",
    "paused_note",
    "population_note",
    "report_interval",
    "short_training_note",
    "spent_beyond_trials",
    "starts_no_trial",
    "trained_fully",
]

# Fewer configurations trained to the full resource cannot tell a winner from noise.
MIN_FULLY_TRAINED = 5



class ShortTrainingWarning(UserWarning):
    """The budget trains too few configurations to the full resource under early stopping."""


def overrun_note(budget: Budget, elapsed: float, finished: Sequence[TrialRecord]) -> str | None:
    """Why a wall-time budget ran well past its limit, when it did: a running trial is stopped only when it
    reports a step, so one that reports none (or takes long steps) runs on to its end."""
    wall = budget.wall_seconds
    if wall is None or elapsed <= 1.1 * wall + 1.0:
        return None
    silent = [f"#{r.number}" for r in finished if not r.intermediate]
    who = f" ({', '.join(silent[:5])}{', ...' if len(silent) > 5 else ''} reported none)" if silent else ""
    return (
        f"the wall-time budget ran to {seconds_of(elapsed, wall)}: a running trial is stopped only "
        f"when it reports a step{who}; report each step (trial.report, or yield from the objective) so that "
        "the budget can stop it, or cap every trial with trial_timeout= (a trial cut off loses its work)"
    )


def none_trained_note(records: Sequence[TrialRecord], scheduler: Scheduler, budget: Budget | None = None) -> str | None:
    """What to say when early stopping stopped every finished trial, so that none trained to the full resource and
    the study has no best (``None`` when one completed, or none was stopped). The fix depends on ``budget``: more
    resource for a resource budget that ran out, else more trials, or a resource budget when none is set; the
    budgets it names are the deck's (`trials_for`, `resource_for`), as `trained_fully` advises them."""
    stopped = [r for r in records if r.state is TrialState.STOPPED and r.kind is TrialKind.SCHEDULER]
    if not stopped or any(r.state is TrialState.COMPLETE for r in records):
        return None
    full = scheduler.rungs()[-1] if scheduler.rungs() else None
    to = "" if full is None else f" ({full:g})"
    said = f"no trial trained to the full resource{to}: {scheduler.name} stopped all {len(stopped)} at a rung"
    deck = scheduler.deck()
    if budget is not None and budget.resource is not None and (budget.trials is None or len(records) < budget.trials):
        more = ""
        if deck is not None:
            trials, enough = _resource_advice(deck, budget.trials)
            if enough > budget.resource:
                with_trials = "" if trials == budget.trials else f" with a trial budget of {trials}"
                more = (
                    f": about {plain_number(enough)}{with_trials} trains {MIN_FULLY_TRAINED} configurations fully in 9 "
                    "runs of 10 with its deck played one trial at a time (parallel workers need more)"
                )
        return (
            f"{said} and the resource budget ({plain_number(budget.resource)}) is spent, so the study has no best; "
            f"raise the resource budget (study.extend_budget(resource=...), tunesmith extend --resource){more}"
        )
    more = why = ""
    tried = len(records) if budget is None or budget.trials is None else budget.trials
    resource = None if budget is None else budget.resource
    one = None if deck is None else trials_for(deck, 1, resource=resource)
    if deck is not None and one is not None and one > tried:
        none = simulate(deck, trials=tried, resource=resource).none
        why = f": with {tried} trials its deck trains none fully in {none:.0%} of runs ({_first_trials(deck)})"
        five_need = trials_for(deck, MIN_FULLY_TRAINED, resource=resource)
        five = "" if five_need is None else f", about {five_need} let {MIN_FULLY_TRAINED} finish"
        more = f": about {one} trials let one finish in 9 runs of 10{five}"
    resource_fix = (
        ""
        if budget is not None and budget.resource is not None
        else "; or give a resource budget (ts.Budget(resource=...)), which keeps starting configurations until the "
        "compute is spent"
    )
    return (
        f"{said}, so the study has no best{why}; raise the trial budget (study.extend_budget(trials=...), tunesmith "
        f"extend --trials){more}{resource_fix}"
    )


class PopulationWarning(UserWarning):
    """`optimize` runs fewer workers than its scheduler needs training at once (PBT's ``min_population``)."""


def population_note(scheduler: Scheduler, workers: int) -> str | None:
    """What to say when ``workers`` trials at once are fewer than ``scheduler`` needs to act at all."""
    needed = scheduler.min_concurrent()
    if workers >= needed:
        return None
    return (
        f"{scheduler.name} needs {needed} trials training at the same time to compare them (min_population), but "
        f"this optimize() runs {workers} at once: unless other processes train this study's trials beside it, no "
        f"trial will be exploited and the search is plain random search; pass workers={needed} or more"
    )


class PausedTrialsWarning(UserWarning):
    """`optimize` returned with trials paused at their rungs: no trial budget had the last promotions made."""


def paused_note(
    records: Sequence[TrialRecord], finished_any: bool, budget: Budget, spent: Spent | None = None
) -> str | None:
    """What to say when ``optimize`` ends with PAUSED trials, or ``None`` when none is paused: what the next call
    does with them. ``spent`` is the wall-time or resource limit that is spent (`spent_beyond_trials`), if one is.

    With the study's budget spent, `optimize` goes on past ``n_trials`` to deal with them, so they are left only by a
    ``timeout`` or a stop; the next call then finishes that: the last promotions of a spent trial budget, or the end
    of every one of them under a spent wall-time or resource budget. Otherwise a rung promotes only its top share of
    the trials that reached it, so the next call resumes a trial once its rung ranks it there, which may take more
    trials reaching the rung, and one never ranked there waits for the budget's end (successive halving's settled
    group ends it sooner)
    """
    paused = [r.number for r in records if r.state is TrialState.PAUSED]
    if not paused:
        return None
    shown = ", ".join(f"#{n}" for n in paused[:5]) + (", ..." if len(paused) > 5 else "")
    used = sum(1 for r in records if counts_toward_budget(r))
    if spent is not None:
        said = (
            f"{len(paused)} trials are paused at their rungs ({shown}) and the study's "
            f"{spent.limit.replace('_', '-')} budget is spent: the next optimize() call ends them STOPPED where they "
            "paused, as no promotion can train them further; extend the budget first (study.extend_budget) to have "
            "them promoted"
        )
    elif budget.trials is not None and used >= budget.trials:
        said = (
            f"{len(paused)} trials are paused at their rungs ({shown}) and the study's trial budget is spent "
            f"({used}/{budget.trials}): the next optimize() call starts no trial and makes the last promotions, "
            "training on each paused trial its rung ranks in its top share and ending the others STOPPED where they "
            "paused; extend the trial budget first (study.extend_budget(trials=N)) to have them wait for new trials"
        )
    else:
        if budget.trials is not None:
            last = "the study's trial budget makes the last promotions, and ends those never promoted, before it ends"
        elif budget.wall_time is not None or budget.resource is not None:
            last = (
                "those still paused when the study's wall-time or resource budget is spent end STOPPED there; a trial "
                "budget (Budget(trials=...)) would make the last promotions before it ends"
            )
        else:
            last = (
                "one never promoted may stay paused: give the study a trial budget (Budget(trials=...)) so that its "
                "last promotions are made before it ends"
            )
        said = (
            f"{len(paused)} trials are paused at their rungs waiting for promotion ({shown}): a rung promotes its top "
            "share of the trials that reached it, so the next optimize() call resumes each one its rung ranks there "
            "and ends STOPPED each one its rung can no longer rank there, and the others wait for more trials to "
            f"reach their rungs; {last}"
        )
    return said + ("" if finished_any else "; no trial has finished yet, so there is no best")


class HoldoutSpentWarning(UserWarning):
    """`optimize` runs trials after the study's holdout was opened (`finalize`): the recorded verdict judged the
    study before them."""


def holdout_spent_note(attrs: Mapping[str, Any]) -> str | None:
    """What to say when ``optimize`` starts on a study whose holdout was opened (``None``: it was not, or only by
    openings voided for their scale, which judged nothing: `tunesmith.discipline.holdout.voided`)."""
    log = read_attr(attrs, HoldoutLogAttr)
    counted = [] if log is None else [o for o in log.openings if "voided" not in o.extra]
    if not counted:
        return None
    trial = counted[-1].trial
    judged = "" if trial is None else f" for trial #{trial}"
    return (
        f"the holdout of this study was opened {times(len(counted))} already{judged}: a trial that finishes "
        "now comes after it, and from then on the recorded verdict no longer judges the study as it stands (it is "
        "shown as stale); a new verdict needs a forced opening (finalize(..., force=True)), which it records; a "
        "search that goes on after seeing the holdout makes it one more validation set"
    )


# Completed trials to see before judging whether the scheduler's resource axis is the trials' own.
AXIS_WATCH = 3


class ResourceAxisWarning(UserWarning):
    """The first completed trials reported no step, or none reached the scheduler's ``max_resource`` (`AxisWatch`)."""


class AxisWatch:
    """Says once when the first completed trials show that the scheduler misses the trials' resource axis.

    After `AXIS_WATCH` COMPLETE trials, either none reported a step (an early-stopping scheduler then had
    nothing to compare and stopped none), none reached a scheduler's first decision (`Scheduler.first_decision`:
    median stopping's warm-up, PBT's first round), all trained past the full resource (the rungs then sit in
    the first part of training and the rest is never compared), or none reached the full resource (the last of
    ``scheduler.rungs()``: the rungs past where they end never compared them, and nothing counts as
    trained to the end: neither the final-value prediction nor the samplers' view at the full resource).
    One trial ending short proves nothing (training may stop itself early); the first few all doing so
    is a ``max_resource`` that is not the trials' length.
    """

    def __init__(self, scheduler: Scheduler, history: Sequence[TrialRecord]) -> None:
        self.scheduler = scheduler
        self.completed = [r for r in history if r.state is TrialState.COMPLETE]
        self.settled = not scheduler.reads_history or self._fine()

    def see(self, record: TrialRecord) -> str | None:
        """The warning the trials completed so far call for, once; ``None`` otherwise."""
        if self.settled or record.state is not TrialState.COMPLETE:
            return None
        self.completed.append(record)
        if self._fine():
            self.settled = True
            return None
        message = self._message()
        self.settled = message is not None
        return message

    def _fine(self) -> bool:
        levels = self.scheduler.rungs()
        first = (self.scheduler.first_decision() or (0.0, ""))[0]
        top = max(levels) if levels else None  # trained to the full resource, neither short of it nor past it
        return any(
            r.intermediate and (top is None or r.resource == top) and r.resource >= first for r in self.completed
        )

    def _message(self) -> str | None:
        """What the completed trials show, once `AXIS_WATCH` of them are in (none of them `_fine`)."""
        if len(self.completed) < AXIS_WATCH:
            return None
        name, count = self.scheduler.name, len(self.completed)
        if not any(r.intermediate for r in self.completed):
            return (
                f"the first {count} completed trials reported no step, so {name} could stop none of them: it compares "
                "trials by what trial.report() records at each step; report the metric as training goes (for epoch "
                "in trial.steps(n): ... trial.report(val_loss=...)), or leave the scheduler out"
            )
        levels = sorted(self.scheduler.rungs())
        longest = max(r.resource for r in self.completed)
        shortest = min(r.resource for r in self.completed)
        if levels and shortest > levels[-1]:
            return (
                f"the first {count} completed trials trained to step {shortest:g} or more, past {name}'s max_resource "
                f"{levels[-1]:g}, so its rungs ({', '.join(f'{lv:g}' for lv in levels[:-1])}) sit in the first "
                f"{levels[-1] / shortest:.0%} of training and nothing later is compared: if a full run is {longest:g} "
                f"steps, set max_resource={longest:g}"
            )
        first = self.scheduler.first_decision()
        if not levels and first is not None and longest < first[0]:
            step, setting = first
            return (
                f"the first {count} completed trials ended by step {longest:g}, before {name} makes its first decision "
                f"at step {step:g} ({setting}), so it could stop none of them: set {setting} below {longest:g}"
            )
        skipped = [f"{level:g}" for level in levels[:-1] if level > longest]
        plural = "s" if len(skipped) > 1 else ""
        rungs = f"; the rung{plural} at {', '.join(skipped)} compared none of them" if skipped else ""
        return (
            f"the first {count} completed trials ended by step {longest:g}, short of {name}'s max_resource "
            f"{levels[-1]:g}, so none counts as trained to the end{rungs}: if a full run is {longest:g} steps, set "
            f"max_resource={longest:g} (if your training stops itself early, this is expected)"
        )


# Trials that end spending no resource before any was spent: a budget of resource alone then cannot end the run.
UNSPENT_FIRST = 3
# Infeasible or failed trials in a row that stop the run before any resource was spent: each ended before its first
# report and cost little, and so many draws in a row all miss a runnable part of a twentieth of the space 0.6% of
# the time, of a tenth 0.003%.
UNSPENT_FIRST_INFEASIBLE = 100
# The fewest in a row, after some was spent, and how unlikely such a streak must be at the rate seen before it.
UNSPENT_IN_A_ROW = 10
UNSPENT_CHANCE = 1e-3


class UnspentResource:
    """Stops a run that only the resource budget could end once its trials keep ending without spending any.

    A trial spends the furthest step it reports (`tunesmith.budget.spent_resource`), so an objective that returns
    without calling ``trial.report`` spends nothing, nor does one that fails or raises `ts.Infeasible` before its first
    report, and with no trial or wall-time limit, no ``n_trials`` and no ``timeout``, the run went on for ever.
    Watched only then: any other limit ends the run by itself.

    Counted are the finished trials that spent nothing, of three kinds: those that ended without a report, those
    that raised `ts.Infeasible` (kind DECLARED: fail-fast passes over them whatever it is set to), and FAILED ones
    when fail-fast is off (``fail_fast=None``). With fail-fast on, a FAILED trial is left to it: it stops trials that
    keep failing with the failure's own message and traceback, which say more than this class can, so such a trial
    neither counts nor ends a streak. An interrupted trial, or one lost with its worker, says nothing of the
    objective and is passed over too. A trial stopped by a scheduler spent at least its rung (ASHA's
    ``min_resource``) and a resumed trial its steps before the pause, so neither counts; a trial that spent some
    ends any streak.

    Before any resource was spent, `UNSPENT_FIRST` trials that ended without a report stop the run (as `AXIS_WATCH`
    completed trials without a step warn): nothing yet says the objective reports at all, and each further trial may
    be a full training run. The price is an objective whose branches differ (a tree that returns at once, a network
    that reports epochs): if a fraction p of the draws takes a branch that never reports, the first three all take it
    with chance p**3 (12% at p = 1/2); the error names the fix, a trial limit.

    Infeasible and failed trials are not held to that: the first three draws land in a region holding half the space
    12% of the time, and such a trial, ended before its first report, costs little. Before any resource was spent,
    `UNSPENT_FIRST_INFEASIBLE` (100) trials in a row stop the run (or, among them, `UNSPENT_FIRST` that ended without
    a report): a space where nothing runs cannot be told from one whose runnable part is small, and 100 draws in a
    row all miss a twentieth of the space 0.6% of the time, a tenth 0.003%; the message says so, and that a trial or
    wall-time limit lets such a study go on.

    After some was spent, a streak must be at least `UNSPENT_IN_A_ROW` long and unlikely at the rate of counted trials
    that spent nothing before it, ``n`` the trials counted since the first and ``k`` the streak. A streak of trials that
    only ended without a report is judged at that rate with one added to each side, ``p = (zero + 1) / (counted + 2)``:
    ``n * p**k < UNSPENT_CHANCE``. An objective that reported in its first trial and in none since stops at 10 in a row;
    one whose trials before spent none in half of 40 goes on to 16. A streak that holds an infeasible or failed trial,
    which a study with a runnable part draws by chance, is judged over the rate's uncertainty:
    ``n * E[p**k] < UNSPENT_CHANCE``, ``p`` a Beta(zero + 1, counted - zero + 1) rate, so a rate read from few trials
    stops only a long streak. A run that became all infeasible after 20 feasible trials stops at 10 in a row, after 5 at
    12, after 3 at 27, after 2 at 76, after 1 at 100: `UNSPENT_FIRST_INFEASIBLE` in a row stop the run whatever the
    chance (one feasible trial leaves any rate possible, and the chance alone went on to 1,999); one whose trials
    before spent none in half of 40 at 21. Random search over a space a quarter, a half, three quarters, nine tenths
    infeasible (2 units a feasible trial, resource=40) was stopped in none of 300 seeded studies each (at most 1.2%
    each, 95%); on the same records in 20,000 runs each, 0, 2, 3 and 10 times (at most 0.02%, 0.04%, 0.04%, 0.09%, 95%),
    where the point estimate ``p**k`` stopped 0%, 0.4%, 6.5% and 35% of 2,000. The message names the rate, the chance
    the rule used and the trial limit that lets such a study go on.

    The study's earlier trials count, in number order, as fail-fast's do; the run stops only when a trial of its own
    ends the streak, so an objective fixed since then goes on.
    """

    def __init__(
        self, budget: Budget, history: Sequence[TrialRecord], *, run_limited: bool, fail_fast_on: bool, where: str = ""
    ) -> None:
        only_resource = budget.trials is None and budget.wall_time is None and not run_limited
        self.resource = budget.resource if only_resource else None
        self.fail_fast_on = fail_fast_on
        self.where = where  # the study's name and storage as `tunesmith trials` takes them ("": in memory)
        self.streak = 0  # counted trials in a row that spent nothing (before any spent: all of them)
        self.unreported = 0  # those of the streak that ended without a report, neither failed nor infeasible
        self.infeasible = 0  # those of the streak that raised ts.Infeasible
        self.failed = 0  # those of the streak that failed (counted with fail-fast off only)
        self.counted = 0  # counted trials before the streak, from the first
        self.zero = 0  # those of them that spent nothing
        for record in sorted(history, key=lambda r: r.number):
            if record.state.is_finished:
                self._count(record)

    def see(self, record: TrialRecord) -> None:
        """Count ``record``, a trial this run finished; raise `ConfigError` when the trials so far could not end it."""
        if self.resource is None:
            return
        self._count(record)
        if self._endless():
            raise ConfigError(self._message(self.resource))

    def _count(self, record: TrialRecord) -> None:
        if spent_resource(record) > 0:
            self.counted += self.streak + 1
            self.zero += self.streak
            self.streak = self.unreported = self.infeasible = self.failed = 0
        elif record.state is TrialState.FAILED:
            if not self.fail_fast_on and not (record.kind is not None and record.kind.is_interruption):
                self.streak += 1
                self.failed += 1
        elif record.kind is TrialKind.DECLARED:
            self.streak += 1
            self.infeasible += 1
        else:
            self.streak += 1
            self.unreported += 1

    def _endless(self) -> bool:
        if self.counted == 0:  # nothing spent yet
            return self.unreported >= UNSPENT_FIRST or self.streak >= UNSPENT_FIRST_INFEASIBLE
        # The cap: one trial that spent leaves every rate possible, and the chance alone went on to 1,999 in a row.
        capped = self.streak >= UNSPENT_FIRST_INFEASIBLE
        return self.streak >= UNSPENT_IN_A_ROW and (capped or self._chance() < UNSPENT_CHANCE)

    def _uncertain(self) -> bool:
        """Whether the streak is judged at a rate whose uncertainty is accounted for: it holds a trial that raised
        ts.Infeasible or failed, which a study with a runnable part also draws."""
        return self.infeasible > 0 or self.failed > 0

    def _chance(self) -> float:
        """About how likely a streak this long is among the trials counted: ``n * p**k`` at the rate before it when
        the streak only ended without a report, else ``n * E[p**k]`` over that rate's uncertainty."""
        n, k = self.counted + self.streak, self.streak
        if not self._uncertain():
            return n * ((self.zero + 1) / (self.counted + 2)) ** k
        # E[p**k] under Beta(a, b) is prod_{i<k} (a + i) / (a + b + i), taken in logs so that long streaks do not
        # underflow.
        a, b = self.zero + 1, self.counted - self.zero + 1
        log_mean = math.lgamma(a + k) - math.lgamma(a) + math.lgamma(a + b) - math.lgamma(a + b + k)
        return n * math.exp(log_mean)

    def _message(self, resource: float) -> str:
        if self.counted == 0:
            seen = f"the first {self.streak} trials that ended spent 0"
        else:
            seen = (
                f"the last {self.streak} trials that ended in a row spent 0 (of the {self.counted} before them, "
                f"{self.counted - self.zero} spent some)"
            )
        kinds = [
            f"{count} {what}"
            for count, what in (
                (self.unreported, "ended without a report"),
                (self.infeasible, "raised ts.Infeasible before their first report"),
                (self.failed, "failed before their first report while fail_fast=None"),
            )
            if count
        ]
        did = "" if kinds == [f"{self.unreported} ended without a report"] else f" ({', '.join(kinds)})"
        judged, unsure = self._judged()
        fixes = []
        if self.unreported:
            fixes.append(
                "report steps as training goes (for epoch in trial.steps(n): ... trial.report(val_loss=...), or "
                "trial.report(step, val_loss=...))"
            )
        if self.infeasible:
            fixes.append(
                "narrow the space to configurations that can run, or fix the check that raises ts.Infeasible if "
                "they should run"
            )
        if self.failed:
            listed = f"`tunesmith trials {self.where} --failed`" if self.where else "study.trials"
            fixes.append(
                f"fix what fails ({listed} lists the failures with their tracebacks), or turn "
                "fail-fast back on (fail_fast=3, the default; in a config file fail_fast = 3), which stops trials "
                "that keep failing with the failure's own message"
            )
        return (
            "a resource budget is spent by the steps trials report (each trial spends the furthest step it passes to "
            f"trial.report), but {seen} of resource={plain_number(resource)}{did}{judged}, and with no trial or "
            f"wall-time limit, n_trials or timeout nothing else would end the run: {', or '.join(fixes)}, or give a "
            "trial or wall-time limit: n_trials=N or timeout=SECONDS for this run (tunesmith run CONFIG --trials N), "
            f"or a new study with ts.Budget(trials=N) or ts.Budget(wall_time='2h'){unsure}. The trials so far stay "
            "recorded"
        )

    def _judged(self) -> tuple[str, str]:
        """The rule that stopped the run, as the message says it: what the streak shows (the rate and the chance the
        rule used), and, where chance could give such a streak, what lets a study with a runnable part go on."""
        k, n = self.streak, self.counted + self.streak
        if self.counted == 0 and self.unreported >= UNSPENT_FIRST:
            return "", ""  # the objective never reported: the fixes say it all
        if self.counted == 0 or self._chance() >= UNSPENT_CHANCE:  # the start rule, or the cap after it
            judged = (
                f"; {k} in a row {'with nothing spent ' if self.counted == 0 else ''}stop the run: that many draws all "
                f"miss a runnable part of a twentieth of the space {0.95**k * 100:.1g}% of the time, of a tenth "
                f"{0.9**k * 100:.1g}%"
            )
            read = (
                "Nothing has spent resource yet"
                if self.counted == 0
                else f"Only {self.counted - self.zero} of the {self.counted} trials before them spent resource"
            )
            unsure = (
                f". {read}, so this cannot tell a space where no configuration runs from one whose runnable part is "
                "that small: if some configurations do run, a trial or wall-time limit lets the search go on"
            )
            return judged, unsure
        if not self._uncertain():
            return (
                f"; at a rate of {(self.zero + 1) / (self.counted + 2):.2g} of trials spending 0 ({self.zero} of the "
                f"{self.counted} before them, one added to each side), {k} in a row among {n} trials come about "
                f"{self._chance():.1g} of the time, under {UNSPENT_CHANCE:g}",
                "",
            )
        judged = (
            f"; averaged over the rates of trials spending 0 that {self.zero} of the {self.counted} before them leave "
            f"possible (Beta({self.zero + 1}, {self.counted - self.zero + 1}), mean "
            f"{(self.zero + 1) / (self.counted + 2):.2g}), {k} in a row among {n} trials come about "
            f"{self._chance():.1g} of the time, under {UNSPENT_CHANCE:g}"
        )
        unsure = (
            f". The rate was read from {self.counted} trials: if only a part of the space cannot run and this streak "
            "is chance, a trial or wall-time limit lets the search go on"
        )
        return judged, unsure


@dataclass(frozen=True)
class Spent:
    """A limit that is spent: which one, and a sentence for people."""

    limit: BudgetLimit
    message: str


def spent_beyond_trials(
    budget: Budget,
    history: Sequence[TrialRecord],
    now: float,
    step_for: int | None = None,
    scheduler: Scheduler | None = None,
) -> Spent | None:
    """The wall-time, compute or resource limit if it is spent, else ``None`` (storage enforces the trial limit).

    The resource budget is kept exact: a trial can be stopped only when it reports, and the units up to
    its next report are trained before the study hears of them, so a report (of trial ``step_for``) is
    answered CONTINUE, and a new trial started, only if the next report still fits after the next report
    of every other running trial. Each trial's next report is as far on as its last one was
    (`report_interval`: every 5 epochs, every 50 steps); a trial that has not reported yet, as far in as
    the trials so far first reported (`first_report_interval`). A report farther on than that (the first
    report of a study, or an interval that grew) cannot be foreseen: it is recorded, since its units were
    trained, and the message says by how much it passed the budget and which report did.

    Under a ``scheduler`` that names a `FinishLine` (ASHA and Hyperband in stop mode), only a trial trained to
    the end can be the best, so the resource budget also keeps what the trials past the line still need
    (`_kept_to_finish`): a new trial starts only if it could train to the end too, a trial short of the line
    goes on only if its next report fits besides, and one past it only if the rest of its training fits beside
    those nearer the end (else it stops now: it could not finish). Without it, trials past the last rung were cut
    by the budget while new ones spent it on their first rungs: with 4 workers and 3 full trainings' worth, every
    seed of a test cut 19 to 45 units past the last rung and trained none fully. One worker leaves unspent what
    could not train another configuration to the end.

    A wall-time or compute budget, likewise, starts no new trial that would not train to the end in the time left,
    judged from how long the trials that did took (`too_late_to_finish`); the running trials go on to its end, and a
    compute budget keeps for them what they are expected to spend first (`running_need`).
    """
    if budget.wall_time is None and budget.resource is None and budget.compute is None:
        return None  # nothing to add up: this is on every ask and report
    # Only what a limit reads: the running times are the costly part, on every ask and report.
    usage = BudgetUsage(
        trials=0,
        resource=sum(spent_resource(r) for r in history),
        elapsed=0.0 if budget.wall_time is None else running_time(history, now),
        compute=0.0 if budget.compute is None else compute_time(history, now),
    )
    no_trials = Budget(wall_time=budget.wall_time, resource=budget.resource, compute=budget.compute)
    limit = no_trials.exhausted_limit(usage)
    if limit == "resource" and budget.resource is not None and usage.resource > budget.resource:
        return Spent(limit, _overrun_message(budget.resource, usage.resource, history, step_for))
    if limit is not None:
        return Spent(limit, no_trials.exhausted_by(usage) or limit)
    reporting = next((r for r in history if r.number == step_for), None)
    if reporting is None and scheduler is not None and (budget.wall_time is not None or budget.compute is not None):
        trained = full_trainings(history, scheduler)  # read once for both limits: this is on every ask
        timed: tuple[tuple[BudgetLimit, float | None, float], ...] = (
            ("wall_time", budget.wall_seconds, usage.elapsed),
            ("compute", budget.compute_seconds, usage.compute),
        )
        for name, cap, spent in timed:
            if cap is None:
                continue
            took = [each.seconds * (each.devices if name == "compute" else 1) for each in trained]
            # Trials running side by side share the wall time, but each spends its own compute.
            running = running_need(history, trained, now) if name == "compute" and len(took) >= MIN_TIMED else None
            if (late := too_late_to_finish(name, cap, spent, took, running)) is not None:
                return Spent(name, late)
    if budget.resource is None:
        return None
    first = first_report_interval(history)
    if scheduler is not None:
        number = 1 + max((r.number for r in history), default=-1) if reporting is None else reporting.number
        if (line := scheduler.finish_line(number)) is not None:
            return _kept_to_finish(budget.resource, usage.resource, history, reporting, number, first, scheduler, line)
    in_flight = sum(_next_interval(r, first) for r in history if r.state is TrialState.RUNNING and r.number != step_for)
    own = first if reporting is None else _next_interval(reporting, first)
    if usage.resource + in_flight + own <= budget.resource:
        return None
    message = f"resource budget spent ({usage.resource:g} used, {in_flight:g} steps in flight, of {budget.resource:g})"
    if own > 1 and reporting is not None:
        message += f": the trial reports every {own:g} steps, so its next report would pass it"
    elif own > 1:
        message += f": a new trial first reports {own:g} steps in, as the trials so far did, so it would pass it"
    return Spent("resource", message)


def starts_no_trial(
    budget: Budget, history: Sequence[TrialRecord], scheduler: Scheduler, now: float | None = None
) -> Spent | None:
    """The resource, wall-time or compute limit of ``budget`` that leaves too little for `Study.ask` to start a trial
    (`spent_beyond_trials`: one that could train to the end, under ASHA or Hyperband for the resource, under those,
    FIFO and median stopping for the time), reached or not, and why; ``None`` when neither does. What `status`
    and the few-trained note say a run on would do. ``now`` (default: the time now) ends the running trials' time."""
    if budget.resource is not None:
        spent = spent_beyond_trials(Budget(resource=budget.resource), history, 0.0, scheduler=scheduler)
        if spent is not None:
            return spent
    if budget.wall_time is None and budget.compute is None:
        return None
    moment = time.time() if now is None else now
    return spent_beyond_trials(Budget(wall_time=budget.wall_time, compute=budget.compute), history, moment,
                               scheduler=scheduler)  # fmt: skip


def _kept_to_finish(
    limit: float, used: float, history: Sequence[TrialRecord], reporting: TrialRecord | None, number: int,
    first: float, scheduler: Scheduler, line: FinishLine,
) -> Spent | None:  # fmt: skip
    """`spent_beyond_trials`'s rule under a scheduler with a `FinishLine` (``line``: that of trial ``number``, the
    reporting one or a new one): ``None`` when the trial's next step fits, else why it does not. A trial at the end
    of its training needs nothing more, so the budget never stops it there."""

    def to_finish(record: TrialRecord) -> float | None:
        """What ``record`` still needs to train to the end, once past its finish line (``None`` before it, and
        beyond the end, where an objective that trains on is counted as any other: by its next report)."""
        mark = scheduler.finish_line(record.number)
        if mark is None or not mark.past - 1e-9 <= record.resource <= mark.end + 1e-9:
            return None
        return max(0.0, mark.end - record.resource)

    # A new trial needs its whole training; a running one its next report, or, past the line, the rest.
    own_rest: float | None
    if reporting is None:
        own = own_rest = line.end
    else:
        own_rest = to_finish(reporting)
        own = _next_interval(reporting, first) if own_rest is None else own_rest
        if own_rest == 0.0:
            return None  # trained to the end: nothing more to fit
    kept, in_flight, finishing = 0.0, 0.0, []
    for other in history:
        if other.state is not TrialState.RUNNING or (reporting is not None and other.number == reporting.number):
            continue
        rest = to_finish(other)
        # Kept in full for a trial past its line, unless this one is past its own and nearer the end (ties: the
        # earlier trial first); else what it trains up to its next report, which is under way.
        if rest is not None and (own_rest is None or (rest, other.number) < (own_rest, number)):
            kept += rest
            finishing.append(other.number)
        else:
            in_flight += _next_interval(other, first)
    if used + kept + in_flight + own <= limit + 1e-9:
        return None
    held = "" if not finishing else f", {kept:g} kept for {_trials(finishing)} to finish"
    flying = "" if not in_flight else f", {in_flight:g} in flight"
    what = "a new trial" if reporting is None else f"trial {number}"
    reach = "to the end" if own_rest is not None else "to its next report"
    return Spent("resource", f"resource budget spent ({used:g} used of {limit:g}{held}{flying}): too little left "
                             f"to train {what} {reach} ({own:g} more)")  # fmt: skip


def _trials(numbers: Sequence[int]) -> str:
    return f"trial {numbers[0]}" if len(numbers) == 1 else f"trials {', '.join(str(n) for n in numbers)}"


def report_interval(record: TrialRecord) -> float | None:
    """The units ``record`` trained between its last two reports, or up to its first from where it started
    (step 0, or a continuation's ``start_step``); ``None`` before its first report."""
    start = float(record.attrs.get("start_step", 0))
    steps = sorted(float(step) for step in record.intermediate if step > start)
    if not steps:
        return None
    return steps[-1] - (steps[-2] if len(steps) > 1 else start)


def first_report_interval(history: Sequence[TrialRecord]) -> float:
    """The most units a trial of ``history`` trained before its first report (from where it started), the
    study's best guess for a trial that has not reported yet; 1 before any trial reported."""
    firsts = []
    for record in history:
        if not record.intermediate:
            continue
        start = float(record.attrs.get("start_step", 0))
        first = float(min(record.intermediate))  # on every report, over every trial: the filter below only if needed
        if first <= start:
            first = min((float(step) for step in record.intermediate if step > start), default=start)
        if first > start:
            firsts.append(first - start)
    return max(firsts, default=1.0)


def _next_interval(record: TrialRecord, first: float) -> float:
    """How far on ``record``'s next report is expected: as far as its last one was (``first`` before any)."""
    interval = report_interval(record)
    return first if interval is None else interval


def _overrun_message(limit: float, used: float, history: Sequence[TrialRecord], step_for: int | None) -> str:
    """Why the resource budget was passed: the report whose units, trained before the study could stop them,
    went past ``limit`` (or the reports of trials that ran at once), how far, and what the trials still
    running may add before their next reports stop them."""
    over = f"resource budget spent and overrun by {used - limit:g} ({used:g} used of {limit:g})"

    def order(record: TrialRecord) -> tuple[bool, bool, int]:
        # The reporting trial first, then those the budget stopped or still running: the latest reports.
        latest = record.state is TrialState.RUNNING or record.kind is TrialKind.BUDGET
        return record.number != step_for, not latest, -record.number

    recent = sorted((r for r in history if report_interval(r) is not None), key=order)
    crossing = next((r for r in recent if used - (report_interval(r) or 0.0) < limit), None)
    if crossing is not None:  # before this report the budget still held
        interval = report_interval(crossing) or 0.0
        step = max(float(s) for s in crossing.intermediate)
        before = step - interval
        start = float(crossing.attrs.get("start_step", 0))
        after = f"its start (step {before:g})" if before == start else f"its report at step {before:g}"
        why = (
            f"trial #{crossing.number} reported step {step:g}, {interval:g} steps after {after}; a trial can be "
            f"stopped only when it reports, so those {interval:g} steps were trained before the budget could stop it"
        )
    else:
        together = [r for r in recent if r.state is TrialState.RUNNING or r.kind is TrialKind.BUDGET][:5]
        named = ", ".join(f"#{r.number} ({report_interval(r) or 0.0:g} steps)" for r in together)
        why = (
            f"trials that ran at once passed it with their last reports ({named or 'none left running'}: the steps "
            "each trained since its previous report); a running trial can be stopped only when it reports"
        )
    first = first_report_interval(history)
    running = [r for r in history if r.state is TrialState.RUNNING and r.number != step_for]
    if running:
        more = sum(_next_interval(r, first) for r in running)
        names = ", ".join(f"#{r.number}" for r in running[:5]) + (", ..." if len(running) > 5 else "")
        why += f"; trials still running ({names}) stop at their next reports, about {more:g} steps more"
    return (
        f"{over}: {why}; report more often (trial.report at every epoch or step, or a shorter evaluation interval), "
        "or give a resource budget larger by a whole report interval"
    )


def trained_fully(budget: Budget, scheduler: Scheduler) -> tuple[float, str] | None:
    """How many configurations the budget trains to the full resource under ``scheduler`` in 9 runs of 10, and
    a sentence saying so with the average and the spread across runs (``None`` when neither a trial nor a
    resource limit is set, or the scheduler cannot say).

    The count is the one `optimize` warns under (`MIN_FULLY_TRAINED`), so it is the low end of the runs: a budget
    that trains 5 on average trains fewer in half of them. A rung scheduler's deck is played
    (`tunesmith.schedulers._deck`): its first trials are promoted among few peers (ASHA), or stop unless a lower
    rung vouches for them (Hyperband's brackets), and a resource budget is played until it is spent. A scheduler
    in promote mode (no deck of its own) counts ``Scheduler.full_resource_share()`` of a trial budget, and plays
    its rungs by promotion under a resource budget (`simulate(..., promoted=True)`). The budget the sentence
    advises is found on the same runs (`trials_for`, `resource_for`), so that budget asked about in turn trains
    `MIN_FULLY_TRAINED` and draws no advice.
    """
    share = scheduler.full_resource_share()
    deck = scheduler.deck()
    if budget.trials is not None:
        if share is None or share >= 1.0:
            return None
        if deck is None:
            return _by_share(scheduler, budget.trials, share, budget)
        run = simulate(deck, trials=budget.trials, resource=budget.resource)
        sentence = (
            f"{scheduler.name} trains {_spread(run)} of {budget.trials} configurations to the full resource "
            f"({_how(deck, share)}){_no_best(run.none)}"
        )
        low = _judged_low(run, deck, trials=budget.trials, resource=budget.resource)
        if low < MIN_FULLY_TRAINED:
            eta = _smaller_eta(scheduler, budget)
            sentence += (
                f": {_too_few()}; give a resource budget (ts.Budget(resource=...), which keeps starting "
                f"configurations until the compute is spent), {'' if eta is None else f'{eta}, '}or "
                f"{_trials_advice(deck, budget)}"
            )
        return float(low), sentence + _within_noise(run, low)
    if budget.resource is None:
        return None
    if deck is None:
        promoted = _promote_deck(scheduler)
        return None if promoted is None else _promoted_fully(promoted, budget.resource, scheduler.name)
    run = simulate(deck, resource=budget.resource)
    sentence = (
        f"{scheduler.name} trains {_spread(run)} configurations to the full resource "
        f"({plain_number(deck.max_resource)}) with a resource budget of {plain_number(budget.resource)} (its deck "
        f"played one trial at a time; parallel workers spend more on trials cut short){_no_best(run.none)}"
    )
    low = _judged_low(run, deck, resource=budget.resource)
    if low < MIN_FULLY_TRAINED:
        _, enough = _resource_advice(deck, None)
        eta = _smaller_eta(scheduler, budget)
        sentence += (
            f": {_too_few()}; give a resource budget of about {plain_number(enough)}, which trains "
            f"{MIN_FULLY_TRAINED} or more in 9 runs of 10{'' if eta is None else f', or {eta}'}"
        )
    return float(low), sentence + _within_noise(run, low)


def _judged_low(run: DeckRun, deck: Deck, *, trials: int | None = None, resource: float | None = None,
                promoted: bool = False) -> int:  # fmt: skip
    """The count 9 runs in 10 train fully, as the warning judges it: `MIN_FULLY_TRAINED` when the runs' share that
    reach it falls short of 9 in 10 by less than that share's sampling noise (`shown_short`), so that no budget on the
    line draws a warning, nor advice one trial above it, on the simulation's coin flip."""
    if run.low >= MIN_FULLY_TRAINED:
        return run.low
    if shown_short(deck, MIN_FULLY_TRAINED, trials=trials, resource=resource, promoted=promoted):
        return run.low
    return MIN_FULLY_TRAINED


def _within_noise(run: DeckRun, low: int) -> str:
    """What the sentence adds when `_judged_low` found the count within the simulation's noise of the bar."""
    if run.low >= low:
        return ""
    return (f"; about 9 runs in 10 train {MIN_FULLY_TRAINED} or more (within the noise of the {REPLICATES} simulated "
            "runs of that share)")  # fmt: skip


def _spread(run: DeckRun) -> str:
    """The average and the spread across runs: ``3.1 on average (2-5 in 8 runs of 10)``."""
    if run.low == run.high == run.trained:
        return f"{run.low}"
    spread = f"{run.low} in 8 runs of 10 or more" if run.low == run.high else f"{run.low}-{run.high} in 8 runs of 10"
    average = f"{run.trained:.2g}" if run.trained < 10 else f"{run.trained:.0f}"
    return f"{average} on average ({spread})"


def _how(deck: Deck, share: float) -> str:
    """How the deck's first trials differ from the share, and what the model assumes."""
    if deck.group is not None:
        return f"groups of {deck.group}, the last one halved when the budget ends"
    return (
        f"its deck played one trial at a time: {_first_trials(deck)}, and {share:.1%} go through every rung once the "
        "rungs are full; configurations drawn independently, as random search draws them: a sampler that learns "
        "spreads the count wider"
    )


def _first_trials(deck: Deck) -> str:
    if deck.group is not None:
        return f"each group of {deck.group} trains its best fully once it is full or the budget ends"
    if deck.vouched:
        return "the first trials of each bracket stop unless a lower rung vouches for them"
    return "the first trials go on as the best of few peers"


def _too_few() -> str:
    return (
        f"fewer than {MIN_FULLY_TRAINED} train fully in more than 1 run of 10, and so few cannot tell a winner from "
        "noise"
    )


def _trials_advice(deck: Deck, budget: Budget) -> str:
    """The trial budget that trains `MIN_FULLY_TRAINED` in 9 runs of 10 under ``budget``'s resource; when that
    resource is too small for any number of trials, the resource to raise it to (and the trials, if need be)."""
    trials = trials_for(deck, MIN_FULLY_TRAINED, resource=budget.resource)
    if trials is not None:
        return f"about {trials} trials, which train {MIN_FULLY_TRAINED} or more in 9 runs of 10"
    needed, enough = _resource_advice(deck, budget.trials)
    more = "" if needed == budget.trials else f"about {needed} trials and "
    return (
        f"{more}a resource budget of about {plain_number(enough)}, which train {MIN_FULLY_TRAINED} or more in 9 runs "
        f"of 10 (the resource budget of {plain_number(budget.resource or 0.0)} trains fewer in more than 1 run of 10 "
        "whatever the trials)"
    )


def _by_share(scheduler: Scheduler, trials: int, share: float, budget: Budget) -> tuple[float, str]:
    count = trials * share
    sentence = (
        f"{scheduler.name} trains about {count:.3g} of {trials} configurations to the full resource "
        f"({share:.1%} go through every rung once the rungs are full; the first trials, promoted among few "
        "peers, may add a few)"
    )
    if count < MIN_FULLY_TRAINED:
        eta = _smaller_eta(scheduler, budget)
        sentence += (
            f": fewer than {MIN_FULLY_TRAINED} cannot tell a winner from noise; give a resource budget "
            f"(ts.Budget(resource=...), which keeps starting configurations until the compute is spent), "
            f"{'' if eta is None else f'{eta}, '}or at least {math.ceil(MIN_FULLY_TRAINED / share)} trials"
        )
    return count, sentence


# The smallest halving rate the rung schedulers take (`successive_halving._check_resources`).
_SMALLEST_ETA = 2


def _smaller_eta(scheduler: Scheduler, budget: Budget) -> str | None:
    """A smaller eta as advice, when ``scheduler`` at eta=2 trains `MIN_FULLY_TRAINED` in 9 runs of 10 on the same
    ``budget`` (`trained_fully` of its twin: the same simulated runs); ``None`` otherwise, eta being 2 already or
    not a setting. The check is needed: with min_resource and max_resource fixed, a smaller eta adds rungs, so the
    share that trains fully hardly moves, and a trial budget at eta=2 often trains no more than at 3."""
    settings = scheduler.describe()
    eta = settings.get("eta")
    if isinstance(eta, bool) or not isinstance(eta, int | float) or eta <= _SMALLEST_ETA:
        return None
    try:
        twin = make_scheduler({**settings, "eta": _SMALLEST_ETA})
    except ConfigError:
        return None  # settings that do not hold at eta=2 (a plug-in's): nothing to advise
    stated = trained_fully(budget, twin)
    if stated is None or stated[0] < MIN_FULLY_TRAINED:
        return None
    return f"a smaller eta (eta={_SMALLEST_ETA} trains {stated[0]:g} or more in 9 runs of 10 on this budget)"


def _no_best(none: float) -> str:
    if none < 0.05:
        return ""
    return f"; in about {none:.0%} of runs none does, and the study ends with no best"


def _resource_advice(deck: Deck, trials: int | None) -> tuple[int | None, float]:
    """The resource budget that trains `MIN_FULLY_TRAINED` in 9 runs of 10 within ``trials`` (``None``: no trial
    limit), with the trial budget it needs when ``trials`` are too few for it."""
    enough = resource_for(deck, MIN_FULLY_TRAINED, trials=trials)
    if enough is not None:
        return trials, enough
    needed = trials_for(deck, MIN_FULLY_TRAINED)
    enough = resource_for(deck, MIN_FULLY_TRAINED, trials=needed)
    assert needed is not None and enough is not None, "with no resource limit, enough trials always train them"
    return needed, enough


def _promote_deck(scheduler: Scheduler) -> Deck | None:
    """The rungs and brackets a scheduler in promote mode deals trials to (``None`` for any other scheduler).

    ASHA and Hyperband deal a trial to the same bracket and rungs in either mode, so the deck is that of the same
    settings in stop mode (`Scheduler.describe`, built again by `make_scheduler`); only the rule that plays it
    differs (`simulate(..., promoted=True)`). Its ``vouched`` does not apply: promotions ask no lower rung.
    """
    settings = scheduler.describe()
    if not scheduler.pauses or settings.get("mode") != "promote":
        return None
    try:
        twin = make_scheduler({**settings, "mode": "stop"})
    except ConfigError:
        return None  # a scheduler of a plug-in that takes no stop mode
    return twin.deck() if twin.rungs() == scheduler.rungs() else None


def _promoted_fully(deck: Deck, resource: float, name: str) -> tuple[float, str]:
    """`trained_fully` for a scheduler in promote mode under a resource budget alone: its deck played by promotion."""
    run = simulate(deck, resource=resource, promoted=True)
    sentence = (
        f"{name} in promote mode trains {_spread(run)} configurations to the full resource "
        f"({plain_number(deck.max_resource)}) with a resource budget of {plain_number(resource)} (its rungs played "
        f"one trial at a time, a paused trial promoted once it ranks in the top 1/{deck.eta:g} of its rung; parallel "
        f"workers train a few fewer){_no_best(run.none)}"
    )
    low = _judged_low(run, deck, resource=resource, promoted=True)
    if low < MIN_FULLY_TRAINED:
        enough = resource_for(deck, MIN_FULLY_TRAINED, promoted=True)
        assert enough is not None, "with no trial limit, enough resource always trains them"
        sentence += (
            f": {_too_few()}; give a resource budget of about {plain_number(enough)}, which trains "
            f"{MIN_FULLY_TRAINED} or more in 9 runs of 10, or a smaller max_resource (a configuration trained fully "
            "then costs less)"
        )
    return float(low), sentence + _within_noise(run, low)


def short_training_note(
    records: Sequence[TrialRecord], scheduler: Scheduler, budget: Budget, limit: BudgetLimit
) -> str | None:
    """What to say when a run that ended on the study's ``limit`` trained fewer than `MIN_FULLY_TRAINED`
    configurations to the full resource under a scheduler that stops or pauses trials at rungs (``None`` when
    enough did, or the scheduler has no rungs).

    The count is the COMPLETE trials that reached the last of ``scheduler.rungs()``, whatever the mode: a
    forecast (`trained_fully`) speaks of runs played one trial at a time, and a run with parallel workers, or one
    of the runs in 10 the forecast allows, or a budget no forecast covers (wall time) may train fewer. When trials
    completed and none reached the full resource, the trials' length is not ``max_resource`` (`AxisWatch` says
    so) and a larger budget would not help: nothing is said here.
    """
    levels = scheduler.rungs()
    share = scheduler.full_resource_share()
    if not levels or share is None or share >= 1.0:
        return None
    complete = [r for r in records if r.state is TrialState.COMPLETE]
    trained = sum(1 for r in complete if r.resource >= levels[-1] * (1.0 - 1e-9))
    if trained >= MIN_FULLY_TRAINED or (complete and not trained):
        return None
    no_best = ", so the study has no best" if not complete else ""
    return (
        f"{scheduler.name} trained {trained} of {len(records)} configurations to the full resource "
        f"({plain_number(levels[-1])}) before the {_LIMIT_NAMES[limit]} budget ran out ({budget.describe()}): fewer "
        f"than {MIN_FULLY_TRAINED} trained fully cannot tell a winner from noise{no_best}; raise the "
        f"{_LIMIT_NAMES[limit]} budget (study.extend_budget({limit}=...), tunesmith extend "
        f"--{limit.replace('_', '-')}){_enough(limit, scheduler, budget)}, or use a smaller max_resource (a "
        "configuration trained fully then costs less)"
    )


_LIMIT_NAMES: dict[BudgetLimit, str] = {"trials": "trial", "wall_time": "wall-time", "compute": "compute",
                                        "resource": "resource"}  # fmt: skip


def _enough(limit: BudgetLimit, scheduler: Scheduler, budget: Budget) -> str:
    """The trial or resource budget that trains `MIN_FULLY_TRAINED` in 9 runs of 10 played one trial at a time,
    where a deck can say and it is above ``budget``'s (``""`` otherwise: no deck covers wall time, nor a trial
    budget in promote mode, whose share is an average; and a run with parallel workers may train fewer than a
    budget that suffices one trial at a time)."""
    deck = scheduler.deck()
    promoted = _promote_deck(scheduler) if deck is None else None
    enough: float | None = None
    if limit == "trials" and deck is not None:
        enough = trials_for(deck, MIN_FULLY_TRAINED, resource=budget.resource)
    elif limit == "resource" and deck is not None:
        enough = resource_for(deck, MIN_FULLY_TRAINED, trials=budget.trials)
    elif limit == "resource" and promoted is not None:
        enough = resource_for(promoted, MIN_FULLY_TRAINED, trials=budget.trials, promoted=True)
    now = budget.trials if limit == "trials" else budget.resource
    if enough is None or now is None or enough <= now:
        return ""
    return (
        f" to about {plain_number(enough)}, which trains {MIN_FULLY_TRAINED} or more in 9 runs of 10 with trials run "
        "one at a time"
    )
