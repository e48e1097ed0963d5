"""The planner: from a space, a budget and what a trial costs, the search method and scheduler to use.

`plan` follows the guide's method table (grid for tiny spaces; random search first; Bayesian
optimisation when trials are expensive; ASHA/Hyperband when there is an early signal; PBT for
long runs that can adapt), estimates how many configurations the budget buys under each
option, and says why. Its sampler part is `Auto.choose` (what ``sampler="auto"`` runs) and its
scheduler part is `choose_scheduler` (what ``scheduler="auto"`` runs), so a plan and a study
created with ``"auto"`` agree; but for the workers, which the plan knows and ``"auto"`` does not (every worker
must resolve it alike): fewer than PBT's population pass PBT over.

A config that names a rung scheduler counts its trial limit in configurations, as the run does; the plan then
states the forecast the run states (`trained_fully`, the scheduler's deck played on the budget).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from tunesmith._validate import duration, integer
from tunesmith.budget import Budget, parse_duration, plain_number
from tunesmith.discipline.priors import DEFAULTS, priority_of
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.samplers import Auto, Grid, Sampler, SearchContext, _tried, make_sampler
from tunesmith.schedulers import ASHA, FIFO, Hyperband, Scheduler, make_scheduler
from tunesmith.schedulers._deck import MAX_PLAYED, DeckRun, _group_sizes, _played, _promoted, simulate
from tunesmith.schedulers.auto import PBT_MIN_ROUNDS, AutoScheduler, choose_scheduler
from tunesmith.schedulers.pbt import PBT
from tunesmith.schedulers.successive_halving import bracket_sizes, most_aggressive_bracket, rung_levels
from tunesmith.space import Space
from tunesmith.study import MIN_FULLY_TRAINED
from tunesmith.study._limits import _promote_deck, _smaller_eta, _spread, trained_fully

if TYPE_CHECKING:
    from tunesmith.config import StudyConfig

__all__ = ["PER_PARAMETER", "Fidelity", "Method", "Plan", "PlanOption", "plan", "plan_for_config"]

# Configurations per parameter below which the plan names the parameters to leave at their defaults: a
# model-based search wants about ten per parameter (the rule of thumb behind a 10 d initial design).
PER_PARAMETER = 10


class Method(Enum):
    """The search methods of the guide's table."""

    GRID = "grid"
    RANDOM = "random"
    BAYES = "bayesian optimisation"
    ASHA = "asha"
    HYPERBAND = "hyperband"
    PBT = "pbt"


@dataclass(frozen=True)
class Fidelity:
    """The resource axis of a trial (epochs, iterations, samples).

    Attributes:
        max_resource: the full training length.
        min_resource: the first resource at which trials can be compared.
        eta: the halving rate for successive halving.
        early_signal: ``True`` when early rankings predict final ones, ``None`` when unsure, ``False`` when not.
        adaptive: whether training can continue from a checkpoint with new hyperparameters (PBT).
        signal_read: where ``early_signal`` was read (``"read from study 'pilot'"``: `EarlySignal.stated`);
            ``None`` when it is stated, an assumption.
    """

    max_resource: float
    min_resource: float = 1
    eta: float = 3
    early_signal: bool | None = True
    adaptive: bool = False
    signal_read: str | None = None

    def __post_init__(self) -> None:
        rung_levels(self.min_resource, self.max_resource, self.eta)

    def to_json(self) -> dict[str, Any]:
        return {
            "max_resource": self.max_resource,
            "min_resource": self.min_resource,
            "eta": self.eta,
            "early_signal": self.early_signal,
            "adaptive": self.adaptive,
            **({} if self.signal_read is None else {"signal_read": self.signal_read}),
        }


@dataclass(frozen=True)
class PlanOption:
    """One method of the table: whether it fits this search and how many configurations the budget buys.

    Attributes:
        method: the method.
        fits: whether the method applies here at all (ASHA needs a resource axis, grid a finite space...).
        configurations: configurations the budget evaluates under it (``None`` when unknown or unfit).
        note: why it fits or not, in words.
    """

    method: Method
    fits: bool
    configurations: int | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method.value, "fits": self.fits, "configurations": self.configurations,
                "note": self.note}  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What `plan` recommends.

    Attributes:
        sampler: a sampler name for ``ts.Study(sampler=...)``.
        scheduler: a scheduler table for ``ts.Study(scheduler=...)`` (``{"name": "fifo"}`` without early stopping).
        full_trials: the compute the budget pays for, in full-length trials (``None`` when unbounded).
        configurations: configurations the recommendation evaluates (``None`` when unbounded).
        budget: a study budget that spends the same compute with the recommended scheduler (a trial
            budget becomes the resource of that many full-length trials; a config's budget under the rung
            scheduler it names, when the plan keeps that scheduler, stays as it is).
        options: every method of the table with its count and note.
        reasons: why this sampler and this scheduler, in words.
        trained_fully: how many configurations ``budget`` trains to the full resource under the
            scheduler in 9 runs of 10 (the figure `Study.optimize` states and warns on; ``None`` without early
            stopping).
        trained_average: those configurations on average over the runs (``None`` without early stopping).
        trained_range: the counts 8 runs of 10 stay within, as the run states them (``None`` where the run
            states an average alone: promote mode under a trial budget).
    """

    sampler: str
    scheduler: dict[str, Any]
    full_trials: float | None
    configurations: int | None
    budget: Budget
    options: tuple[PlanOption, ...]
    reasons: tuple[str, ...]
    trained_fully: float | None = None
    trained_average: float | None = None
    trained_range: tuple[int, int] | None = None

    def make_sampler(self) -> Sampler:
        """The recommended sampler."""
        return make_sampler(self.sampler)

    def make_scheduler(self) -> Scheduler:
        """The recommended scheduler."""
        return make_scheduler(dict(self.scheduler))

    def summary(self) -> str:
        """The plan in a few lines of text."""
        lines = [f"sampler: {self.sampler}; scheduler: {self.scheduler['name']}"]
        lines += [f"  why: {reason}" for reason in self.reasons]
        settings = ", ".join(
            f"{key}={plain_number(value) if isinstance(value, float) else value}"
            for key, value in self.scheduler.items()
            if key != "name"
        )
        lines.append(f"scheduler settings assumed: {self.scheduler['name']}" + (f" ({settings})" if settings else ""))
        # Under early stopping the trial limit counts configurations, however far each trains: say so, since a
        # trial limit given to `plan` counted full-length trials.
        counted = "; a trial counts one configuration, however far it trains" if self.make_scheduler().rungs() else ""
        lines.append(f"budget assumed: {self.budget.describe()}{counted}")
        if self.full_trials is not None:
            lines.append(f"the budget pays for about {self.full_trials:.4g} full-length trials")
        if self.budget.until_converged:
            lines.append(
                "until_converged may end the search sooner: once what is left to find is below the standard error "
                "of a score (the objective must return per-example values or folds)"
            )
        if self.trained_fully is not None:
            lines.append(self._trained_line(self.trained_fully))
        lines.append("configurations the budget buys under each method:")
        for option in self.options:
            count = "-" if option.configurations is None else str(option.configurations)
            lines.append(
                f"  {option.method.value:<22} {count:>8}  {'' if option.fits else '(does not fit) '}{option.note}"
            )
        return "\n".join(lines)

    def _trained_line(self, floor: float) -> str:
        if self.trained_average is None or self.trained_range is None:
            return (
                f"about {floor:.3g} configurations train to the full resource (on average: the share that goes "
                "through every rung)"
            )
        low, high = self.trained_range
        run = DeckRun(trained=self.trained_average, low=low, high=high, none=0.0)
        return (
            f"configurations trained to the full resource: {_spread(run)}; at least {floor:.3g} configurations "
            "train to the full resource in 9 runs of 10 (the run's own forecast: its scheduler's deck played one "
            "trial at a time)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "sampler": self.sampler,
            "scheduler": self.scheduler,
            "full_trials": self.full_trials,
            "configurations": self.configurations,
            "trained_fully": self.trained_fully,
            "trained_average": self.trained_average,
            "trained_range": None if self.trained_range is None else list(self.trained_range),
            "budget": self.budget.to_json(),
            "options": [o.to_json() for o in self.options],
            "reasons": list(self.reasons),
        }


def _resource_per_config(min_resource: float, max_resource: float, eta: float) -> float:
    """Expected resource one configuration uses under successive halving in stop mode."""
    levels = [*rung_levels(min_resource, max_resource, eta), float(max_resource)]
    spent = levels[0]
    for k in range(len(levels) - 1):
        spent += eta ** -(k + 1) * (levels[k + 1] - levels[k])
    return spent


def _hyperband_resource_per_config(fidelity: Fidelity) -> float:
    """Expected resource per configuration when trials are dealt to Hyperband's brackets (as the scheduler
    deals them: `bracket_sizes`)."""
    total = weight = 0.0
    for s, size in bracket_sizes(fidelity.min_resource, fidelity.max_resource, fidelity.eta).items():
        start = fidelity.max_resource / fidelity.eta**s
        cost = fidelity.max_resource if s == 0 else _resource_per_config(start, fidelity.max_resource, fidelity.eta)
        total += size * cost
        weight += size
    return total / weight


def _spend(scheduler: Scheduler, configurations: int) -> float:
    """The resource ``configurations`` trials spend under a rung ``scheduler`` on average, its deck played one trial
    at a time as `trained_fully` plays it: the first trials go on among few peers, so they cost more than the
    steady share (30 trials of ASHA over 27 steps: 134 units, where the steady share says 90)."""
    deck = scheduler.deck()
    promoted = deck is None
    if deck is None:
        deck = _promote_deck(scheduler)
    assert deck is not None, "a rung scheduler plays a deck, in stop mode or by promotion"
    if deck.group is not None:
        _, per_group = _group_sizes(deck)
        return configurations * per_group / deck.group
    plays = _promoted(deck) if promoted else _played(deck)
    if configurations < MAX_PLAYED:
        return float(plays.before[:, configurations].mean())
    return float(plays.spent.mean()) + (configurations - MAX_PLAYED) * plays.steady_cost


def _bought(scheduler: Scheduler, resource: float, steady: int) -> int:
    """How many configurations ``resource`` units pay for under a rung ``scheduler``, its deck played as `_spend`
    plays it (the first trials go on among few peers and cost more): the plan's count, which the run then meets. The
    steady share (``steady``: the resource over the steady cost per configuration) overstated it: 900 for ASHA on
    2,700 units of 27, where the run evaluated 808."""
    low, high = 0, max(0, steady)
    while low < high:
        middle = (low + high + 1) // 2
        if _spend(scheduler, middle) <= resource:
            low = middle
        else:
            high = middle - 1
    return low


def _full_trials(
    budget: Budget, trial_cost: float | None, workers: int, fidelity: Fidelity | None, spent: float | None
) -> float | None:
    """The compute ``budget`` pays for, in full-length trials; ``spent``: the resource its trial limit pays for
    where that limit counts configurations (under a rung scheduler, as the run counts them)."""
    limits: list[float] = []
    if spent is not None and fidelity is not None:
        limits.append(spent / fidelity.max_resource)
    elif budget.trials is not None:
        limits.append(float(budget.trials))
    if budget.wall_seconds is not None and trial_cost is not None:
        limits.append(budget.wall_seconds * workers / trial_cost)
    if budget.compute_seconds is not None and trial_cost is not None:  # each trial spends it, whatever the workers
        limits.append(budget.compute_seconds / trial_cost)
    if budget.resource is not None and fidelity is not None:
        limits.append(budget.resource / fidelity.max_resource)
    return min(limits) if limits else None


def _trial_cost(value: object) -> float | None:
    """``trial_cost`` in seconds: a number of seconds, or a duration string as `Budget`'s ``wall_time`` reads it."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ConfigError as exc:  # its message names wall_time
            raise ConfigError(
                f"trial_cost must be seconds or a duration such as '90s', '30m', '2h' or '1h30m', got "
                f"trial_cost={value!r}: write a number followed by s, m, h or d, e.g. trial_cost='10m', or seconds"
            ) from exc
    return duration(
        "trial_cost", value, allow_none=True, fix="pass the seconds one full trial takes, e.g. trial_cost=60 or '1m'"
    )


def _check(budget: Budget | int, trial_cost: float | str | None, workers: int) -> tuple[Budget, float | None]:
    if isinstance(budget, int) and not isinstance(budget, bool):
        budget = Budget(trials=budget)
    if not isinstance(budget, Budget):
        raise ConfigError(f"budget must be a ts.Budget or a number of trials, got budget={budget!r}")
    seconds = _trial_cost(trial_cost)
    integer("workers", workers, minimum=1)
    timed = budget.wall_seconds is not None or budget.compute_seconds is not None
    if timed and budget.trials is None and seconds is None:
        which = "a wall-time" if budget.wall_seconds is not None else "a compute"
        raise ConfigError(
            f"{which} budget needs trial_cost (seconds per full trial) to say how many trials it buys: "
            "pass trial_cost=..., or a trial budget"
        )
    return budget, seconds


def _fidelity(fidelity: Fidelity | float | Mapping[str, Any] | None) -> Fidelity | None:
    if fidelity is None or isinstance(fidelity, Fidelity):
        return fidelity
    return Fidelity(**fidelity) if isinstance(fidelity, Mapping) else Fidelity(max_resource=fidelity)


def plan(
    space: Space,
    budget: Budget | int,
    *,
    trial_cost: float | str | None = None,
    workers: int = 1,
    fidelity: Fidelity | float | Mapping[str, Any] | None = None,
) -> Plan:
    """Recommend a sampler and a scheduler for searching ``space`` with ``budget``.

    Args:
        space: the search space.
        budget: a `Budget` or a number of trials. A trial limit counts full-length trials: with
            early stopping the same compute evaluates more configurations (see `Plan.budget`).
        trial_cost: seconds one full-length trial takes, or a duration as `Budget`'s ``wall_time`` takes it
            (``"10m"``, ``"1h30m"``); ``None``: unknown, treated as expensive.
        workers: trials run at once.
        fidelity: the trials' resource axis: a `Fidelity`, its fields as a table, or just the full
            training length (``fidelity=50`` epochs); ``None`` when trials cannot be cut early.

    Returns:
        A `Plan`; ``print(plan.summary())`` shows it.

    Raises:
        ConfigError: a budget the plan cannot count in trials: wall time without ``trial_cost``, or a resource
            budget without ``fidelity`` (its units are the resource axis).

    Example:
        >>> p = ts.plan(space, ts.Budget(trials=100), trial_cost=600, workers=4, fidelity=50)
        >>> study = ts.Study(space, sampler=p.sampler, scheduler=p.scheduler, ...)
    """
    if not isinstance(space, Space):
        raise ConfigError(f"space must be a tunesmith.Space, got {type(space).__name__}")
    budget, trial_cost = _check(budget, trial_cost, workers)
    fidelity = _fidelity(fidelity)
    if budget.resource is not None and fidelity is None:
        raise ConfigError(
            "a resource budget counts the trials' resource units (epochs, steps), so it needs their full length to "
            f"say how many trials it buys, but Budget({budget.describe()}) came without a fidelity: pass "
            "fidelity=... (the full training length in the same units, e.g. fidelity=50), or a trial budget"
        )
    return _plan(space, budget, trial_cost, workers, fidelity, None)


_SCHEDULED = {"asha": Method.ASHA, "hyperband": Method.HYPERBAND, "pbt": Method.PBT}


def _method(scheduler: Scheduler) -> Method | None:
    """The table's method a scheduler runs (``None``: no early stopping); ``"auto"`` runs the one it resolved to."""
    resolved = scheduler.chosen if isinstance(scheduler, AutoScheduler) else scheduler
    return _SCHEDULED.get(resolved.name)


def _plan(
    space: Space,
    budget: Budget,
    trial_cost: float | None,
    workers: int,
    fidelity: Fidelity | None,
    named: Scheduler | None,
) -> Plan:
    """`plan`; ``named``: the rung scheduler a config names, under which its trial limit counts configurations."""
    # The resource the trial limit pays for where it counts configurations (None: it counts full-length trials).
    spent = None if named is None or budget.trials is None else _spend(named, budget.trials)
    full = _full_trials(budget, trial_cost, workers, fidelity, spent)
    scheduler, scheduler_why = (
        choose_scheduler(None)
        if fidelity is None
        else choose_scheduler(
            fidelity.max_resource,
            min_resource=fidelity.min_resource,
            eta=fidelity.eta,
            early_signal=fidelity.early_signal,
            adaptive=fidelity.adaptive,
            workers=workers,
            signal_read=fidelity.signal_read,
        )
    )
    options = _options(space, full, workers, fidelity)
    # The config's own scheduler when the rule picks its method on its rungs: its settings (mode, few_peers) and
    # its budget as they stand, so that the plan's figures are the run's.
    kept = named is not None and _method(named) is _method(scheduler) and named.rungs() == scheduler.rungs()
    if kept and named is not None:
        scheduler = named
        scheduler_why += " (the config's scheduler table, as the run uses it)"
        if budget.trials is not None and spent is not None:
            note = (
                f"the config's {budget.trials} configurations, about {spent / budget.trials:.3g} units each (the "
                "first ones go on among few peers, so they cost more than the rungs' steady share)"
            )
            options = [PlanOption(o.method, o.fits, budget.trials, note) if o.method is _method(named) else o
                       for o in options]  # fmt: skip
    by_method = {o.method: o for o in options}
    scheduled = _method(scheduler)
    configurations = by_method[scheduled or Method.RANDOM].configurations
    full_length = by_method[Method.RANDOM].configurations  # what the compute trains without early stopping

    def without_early_stopping() -> Budget:
        if spent is None or full_length is None:
            return budget
        # The config's trial limit counted configurations under its rung scheduler: trained fully, fewer fit.
        return replace(budget, trials=max(1, full_length))  # its other limits (and until_converged) kept

    study_budget = budget if kept else without_early_stopping()
    if not kept and scheduled is not None and fidelity is not None and full is not None:
        # the trial limit now counts configurations; the compute is capped as resource units
        # Rounded: a product of floats (986.5499999999998) is no budget a person types.
        resource = budget.resource or round(full * fidelity.max_resource, 6)
        study_budget = replace(budget, trials=configurations, resource=resource)
    distinct = distinct_configurations(space)
    covered = distinct is not None and full_length is not None and full_length >= distinct
    if covered and scheduled is not None:
        # Every configuration trains fully on this compute: early stopping would only cut some short on early
        # readings (72 configurations under ASHA: 5 trained fully, 236 of 2,700 units spent, the rest unused).
        scheduler_why = (
            f"fifo: the space holds {distinct} configurations and this compute trains {full_length} to the full "
            f"resource, so every one trains fully without early stopping ({scheduler.name} would cut most of them "
            "short on early readings, and leave the compute unspent)"
        )
        scheduler, scheduled, configurations = FIFO(), None, distinct
        study_budget = without_early_stopping()
    if distinct is not None and configurations is not None and configurations > distinct:
        configurations = distinct  # the search ends once every configuration ran (SearchSpaceExhausted)

    # The run's own estimate (its scheduler's deck played on this budget), so that the plan and the run agree.
    stated = trained_fully(study_budget, scheduler)
    run = _deck_run(study_budget, scheduler)
    trials_for_sampler = None if configurations is None else max(1, configurations)
    context = SearchContext(
        metric=Metric("value"), budget=Budget(trials=trials_for_sampler), workers=workers, trial_cost=trial_cost,
        rungs=scheduler.rungs(),  # as a study with this scheduler gives `auto`: early stopping changes its choice
    )  # fmt: skip
    chosen, sampler_why = Auto().choose(space, context)
    sampler = chosen.name
    reasons = [sampler_why]
    if covered and scheduled is None:
        sampler = "grid"
        reasons = [
            f"grid: the budget trains every one of the space's {distinct} configurations fully, so a grid runs each "
            "once; a model would only choose their order, and may draw one twice"
        ]
    startup = getattr(chosen, "startup_trials", None)
    if not isinstance(chosen, Grid) and callable(startup) and configurations is not None:
        first = int(startup(space))
        if configurations <= first:
            sampler = "sobol"
            reasons = [
                f"sobol: the budget buys {configurations} configurations, no more than the {first} quasi-random "
                f"trials a model would start with - random search is the whole search (sampler='auto' runs the same)"
            ]
    model_based = ("gp", "tpe", "cmaes")  # they learn between rounds: fewer than 4 rounds leaves them little
    if workers > 1 and sampler in model_based and configurations is not None and configurations < 4 * workers:
        reasons.append(
            f"note: {configurations} configurations over {workers} workers are fewer than 4 rounds - a model "
            "learns little between rounds, random search ('sobol') would do as well"
        )
    low = _low_priority_note(space, configurations)
    if low is not None:
        reasons.append(low)
    reasons.append(scheduler_why)
    if stated is not None and stated[0] < MIN_FULLY_TRAINED:
        spread = f"about {stated[0]:.3g}" if run is None else _spread(run)
        eta = _smaller_eta(scheduler, study_budget)
        fifo = ""
        if full_length is not None and full_length < MIN_FULLY_TRAINED:
            fifo = f"; without early stopping the same compute trains {full_length}, fewer than {MIN_FULLY_TRAINED} too"
        elif full_length is not None and configurations is not None and full_length < configurations:
            # Measured (docs/benchmarks.md, "A small budget"): the rungs' few beat as many blind full trainings.
            fifo = (
                f"; without early stopping the same compute trains {full_length} fully, but blind: {scheduler.name}'s "
                f"few are the best of {configurations} at its rungs, and on the benchmark's curves ended lower on most "
                "seeds"
            )
        reasons.append(
            f"warning: {scheduler.name} trains {spread} of {configurations} configurations to the full resource, fewer "
            f"than {MIN_FULLY_TRAINED} in more than 1 run of 10 (too few to tell a winner from noise): the run will "
            f"warn; a larger budget{'' if eta is None else f' or {eta}'} helps{fifo}"
        )
    return Plan(
        trained_fully=None if stated is None else stated[0],
        trained_average=None if stated is None else (stated[0] if run is None else run.trained),
        trained_range=None if run is None else (run.low, run.high),
        sampler=sampler,
        scheduler=scheduler.describe(),
        full_trials=full,
        configurations=configurations,
        budget=study_budget,
        options=tuple(options),
        reasons=tuple(reasons),
    )


def _deck_run(budget: Budget, scheduler: Scheduler) -> DeckRun | None:
    """The simulated runs behind `trained_fully`'s figure, for their average and spread (``None`` where it states
    an average alone, or nothing)."""
    share = scheduler.full_resource_share()
    if share is None or share >= 1.0 or (budget.trials is None and budget.resource is None):
        return None
    deck = scheduler.deck()
    if deck is not None:
        return simulate(deck, trials=budget.trials, resource=budget.resource)
    promoted = _promote_deck(scheduler)
    if budget.trials is None and promoted is not None:
        return simulate(promoted, resource=budget.resource, promoted=True)
    return None


def _low_priority_note(space: Space, configurations: int | None) -> str | None:
    """Which parameters a small budget should leave at their defaults, by the guide's importance hierarchy:
    named like ones it ranks low, when the budget buys fewer than `PER_PARAMETER` configurations per parameter."""
    d = len(space.dimensions)
    if configurations is None or configurations >= PER_PARAMETER * d:
        return None
    low = [(name, entry[0]) for name in space.dimensions if (entry := priority_of(name)) and entry[1] == "low"]
    if not low or len(low) == d:
        return None
    names = ", ".join(f"{name} (default {DEFAULTS[prior]})" for name, prior in low)
    return (
        f"note: the budget buys {configurations} configurations for {d} parameters, fewer than {PER_PARAMETER} "
        f"per parameter; {names} {'is' if len(low) == 1 else 'are'} named like optimizer details the guide ranks "
        "low (rarely worth tuning, the default is usually optimal): fix them at their defaults and spend the "
        "budget on the rest (as ts.Fixed(default), each result keeps the value, so a later study that tunes them "
        "can warm-start from this one)"
    )


def distinct_configurations(space: Space) -> int | None:
    """How many configurations a finite space holds, conditions and forbidden combinations respected
    (`samplers._tried.configurations`); ``None`` for a continuous space, or one too large to list."""
    bound = space.cardinality()
    if not math.isfinite(bound) or bound > _tried.ENUMERATION_LIMIT:
        return None
    return len(_tried.configurations(space))


def _options(space: Space, full: float | None, workers: int, fidelity: Fidelity | None) -> list[PlanOption]:
    options = _uncapped_options(space, full, workers, fidelity)
    distinct = distinct_configurations(space)
    if distinct is None:
        return options
    # No method evaluates more configurations than the space holds: the search ends once each ran.
    capped = [replace(o, configurations=min(o.configurations, distinct)) if o.configurations is not None else o
              for o in options]  # fmt: skip
    if full is not None and math.floor(full) >= distinct:
        note = f"{distinct} configurations, each trained fully on this compute: a grid covers the space"
        capped = [replace(o, fits=True, note=note) if o.method is Method.GRID else o for o in capped]
    return capped


def _uncapped_options(space: Space, full: float | None, workers: int, fidelity: Fidelity | None) -> list[PlanOption]:
    n = None if full is None else max(0, math.floor(full))
    dims = [space[name] for name in space.dimensions]
    grid = space.grid_size()
    tiny = 0 < len(dims) <= 3 and all(p.cardinality() <= 5 for p in dims)
    options = [
        PlanOption(
            Method.GRID,
            tiny,
            grid if n is None else min(grid, n),
            f"{grid} grid points"
            + ("; a tiny space is covered exhaustively" if tiny else "; wastes budget on unimportant dimensions"),
        ),
        PlanOption(Method.RANDOM, True, n, "the default first strategy: every trial a new value of each parameter"),
        PlanOption(
            Method.BAYES,
            True,
            n,
            "same count, chosen by a model of the history: best when trials are expensive"
            + ("; slower in parallel" if workers > 1 else ""),
        ),
    ]
    if fidelity is None:
        why = "needs a resource axis to cut runs early (ts.plan(fidelity=...); tunesmith plan --max-resource N)"
        options += [PlanOption(m, False, None, why) for m in (Method.ASHA, Method.HYPERBAND, Method.PBT)]
        return options
    resource = None if full is None else full * fidelity.max_resource
    per_asha = _resource_per_config(fidelity.min_resource, fidelity.max_resource, fidelity.eta)
    per_hyperband = _hyperband_resource_per_config(fidelity)
    signal = fidelity.early_signal is not False
    asha = ASHA(min_resource=fidelity.min_resource, max_resource=fidelity.max_resource, eta=fidelity.eta)
    options.append(
        PlanOption(
            Method.ASHA,
            signal,
            None if resource is None else _bought(asha, resource, math.floor(resource / per_asha)),
            f"about {per_asha:.3g} of {fidelity.max_resource:g} units per configuration once the rungs fill (the "
            "first ones, among few peers, cost more)" + ("" if signal else "; early results do not predict final ones"),
        )
    )
    hedges = most_aggressive_bracket(fidelity.min_resource, fidelity.max_resource, fidelity.eta) > 0
    hyperband = (Hyperband(min_resource=fidelity.min_resource, max_resource=fidelity.max_resource, eta=fidelity.eta)
                 if hedges else None)  # fmt: skip
    options.append(
        PlanOption(
            Method.HYPERBAND,
            signal and hedges,
            None if resource is None else (math.floor(resource / per_hyperband) if hyperband is None else
                                           _bought(hyperband, resource, math.floor(resource / per_hyperband))),
            f"about {per_hyperband:.3g} units per configuration over its brackets"
            if hedges
            else f"{fidelity.min_resource:g} to {fidelity.max_resource:g} units span less than one halving "
            f"(eta={fidelity.eta:g}): a single bracket that stops nothing",
        )
    )
    interval = max(1, math.floor(fidelity.max_resource / (2 * PBT_MIN_ROUNDS)))
    population = max(4, workers) if n is None else max(2, min(n, max(4, workers)))
    rounds = math.floor(fidelity.max_resource / interval)
    replaced = math.ceil(PBT().quantile * population)
    generations = None if n is None else max(1, n // population)
    together = PBT().min_population
    options.append(
        PlanOption(
            Method.PBT,
            fidelity.adaptive and workers >= together,
            None if generations is None else generations * (population + rounds * replaced),
            f"a population of {population} adapting every {interval} units"
            + ("" if fidelity.adaptive else "; needs training that takes new hyperparameters mid-run (adaptive=True)")
            + (
                f"; needs {together} workers training at once (min_population): with {workers} none is exploited"
                if fidelity.adaptive and workers < together
                else ""
            ),
        )
    )
    return options


def plan_for_config(
    cfg: StudyConfig,
    *,
    trial_cost: float | None = None,
    max_resource: float | None = None,
    min_resource: float | None = None,
    early_signal: bool | None = True,
    adaptive: bool = False,
    workers: int | None = None,
    trials: int | None = None,
    signal_read: str | None = None,
    space: Space | None = None,
) -> Plan:
    """`plan` for a config file's space, budget and workers (``tunesmith plan CONFIG``).

    ``space`` stands in for a config without ``[space]``, whose study learns its parameters as trials ask for them
    (the stored study's); without either the planner has no dimensions to count, and says so.

    The resource axis comes from the arguments, else from the config's scheduler table
    (``max_resource``/``min_resource``/``eta``, with the scheduler's defaults); without either the plan has no
    early stopping. Where the table names a rung scheduler (ASHA, Hyperband, successive halving, or ``auto`` that
    resolves to one), the config's trial limit counts configurations, as the run counts them: the plan pays for
    the compute they spend, and keeps that scheduler and budget when its rule picks the same method.
    """
    named = _rung_scheduler(cfg.scheduler)
    table = named.describe() if named is not None else cfg.scheduler if isinstance(cfg.scheduler, Mapping) else {}
    high = max_resource if max_resource is not None else table.get("max_resource")
    if high is None and min_resource is not None:
        raise ConfigError(
            f"min_resource={min_resource:g} needs a resource axis, but neither max_resource nor the config's "
            "scheduler table gives its full length: pass max_resource too (--max-resource), the full training "
            "length in the same units"
        )
    fidelity = None
    if high is not None:
        low = min_resource if min_resource is not None else table.get("min_resource", 1)
        fidelity = Fidelity(
            max_resource=float(high),
            min_resource=float(low),
            eta=float(table.get("eta", 3)),
            early_signal=early_signal,
            adaptive=adaptive,
            signal_read=signal_read,
        )
    budget = cfg.budget if trials is None else replace(cfg.budget, trials=trials, resource=None)
    if budget.is_unbounded() or (budget.trials is None and budget.resource is None and trial_cost is None):
        raise ConfigError(
            f"{cfg.path.name} has no budget the planner can count in trials: add [budget] trials = N, "
            "or pass --trials N (or --trial-cost SECONDS with a wall_time or compute budget)"
        )
    if budget.resource is not None and fidelity is None:
        raise ConfigError(
            f"{cfg.path.name} has a resource budget (resource={plain_number(budget.resource)}), counted in the "
            "trials' resource units, but no resource axis to say how many trials it buys: pass --max-resource (the "
            "full training length in the same units), or give [scheduler] a max_resource, or pass --trials N"
        )
    workers = workers or cfg.workers
    budget, seconds = _check(budget, trial_cost, workers)
    space = space if space is not None else cfg.space
    if not space:
        raise ConfigError(
            f"{cfg.path.name} has no [space]: its study learns the parameters from what trials ask for, and no "
            f"stored trial of study {cfg.name!r} has asked for one yet, so the planner has no dimensions to count; "
            f"run a few trials first (tunesmith run {cfg.path.name} --trials 3) and plan again, or add a [space] "
            "table"
        )
    return _plan(space, budget, seconds, workers, fidelity, named if fidelity is not None else None)


def _rung_scheduler(spec: Any) -> Scheduler | None:
    """The scheduler a config's table names when it stops or pauses trials at rungs it can play as a deck (the
    run then counts a trial limit in configurations), else ``None``."""
    if spec is None:
        return None
    try:
        scheduler = make_scheduler(spec)
    except ConfigError:
        return None  # `load_config` refuses a table that makes none: nothing here to plan on
    share = scheduler.full_resource_share()
    if not scheduler.rungs() or share is None or share >= 1.0:
        return None
    return scheduler if scheduler.deck() is not None or _promote_deck(scheduler) is not None else None
