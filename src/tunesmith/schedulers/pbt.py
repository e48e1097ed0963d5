"""Population Based Training: the bottom of the population continues from the top, perturbed.

At every ``perturbation_interval`` steps, a member in the bottom ``quantile`` of the population is stopped
(exploited) when it trails the weakest member of the top ``quantile`` by more than the noise explains: the
difference of the two means, in standard errors, must exceed the one-sided ``level`` quantile it reaches among
identical members, the standard error allowing for reports that wander rather than scatter independently (`PBT`,
`tunesmith.schedulers._noise.window_noise`). Members are
compared at a comparable point of training: the steps of the member's last ``perturbation_interval`` reports. Each
trial training now that trained through the first of them is ranked by the mean of its values at those it reported:
a trial further on by what it reported then, not by where it is now, and one less than an interval behind on the
steps it reached; the gap to the donor is measured at the steps both reported. A continuation that started past
them, or a trial an interval or more behind, is not compared; when fewer than ``min_population`` members reached
its latest round's steps (members drift apart on shared cores), the member is judged at its latest earlier round
that enough members have reached since, so a member ahead is compared at the same steps once its peers catch up;
with none, it goes on. The next trial the study starts is its replacement: a `Continuation` of a member from the
top ``quantile`` of the members training (the stopped one not counted) with steps left (`known_length`), whose
checkpoint files the study copies into the new trial's directory and whose hyperparameters are perturbed or
resampled (explored). When every member of the top ``quantile`` reached the step a finished trial ended at (and may
have no step left to hand on), the best member above the bottom ``quantile`` with steps left donates instead, and
the replacement says so in its ``donor_note``; with none, the study starts a trial from its sampler and the stopped
member waits for a donor. Before any trial finished, no member is taken to be at its last step.
The replacement records its parent, the trial it replaces and its whole lineage. The objective saves its state as
it trains (``trial.save_checkpoint``) and loads it when ``trial.resumed``: a study none of whose trials saved a
checkpoint stops at its first replacement (`tunesmith.study.CheckpointMissing`), since every replacement would train
from scratch under the steps it borrowed.
A member whose worker was lost while it trained (a crash, a kill, a lost heartbeat: FAILED, of kind
`TrialKind.INTERRUPTED` or `TrialKind.LOST_WORKER`) is continued from its own checkpoint before the study starts any
other trial (`PBT.resumption`), so that the population keeps the training it had.
A perturbed parameter on a grid of values (a stepped or log-scale `Int`, powers of a base, a stepped `Float`)
moves at least one value along it in the factor's direction, unless it sits at that end of its range already.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.budget import RETRY_REQUESTED
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.schedulers._noise import (
    MIN_REPORTS,
    WindowNoise,
    losses,
    step_noise,
    study_noise,
    window_noise,
)
from tunesmith.schedulers.base import Continuation, Scheduler, known_length
from tunesmith.space import Choice, Fixed, Float, Int, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["EXPLORER", "PBT", "RESUMES", "RoundWatch"]

# A resumption's attribute (`PBT.resumption`): the member, lost while it trained, whose training it continues.
RESUMES = "resumes"
# A `PB2` replacement's attribute: how its parameters were chosen (the model, or PBT's perturbation and why).
EXPLORER = "explorer"
# Explorations of a donor's configuration tried before its own is kept: each one that the space's forbidden clauses
# rule out is explored again (`PBT._explore`).
_EXPLORE_TRIES = 100


@dataclass(frozen=True)
class _Standing:
    """A member's standing at a round: the mean loss (``sign * value``) of its last reports, and how many."""

    mean: float
    reports: int
    record: TrialRecord


@dataclass(frozen=True)
class _Round:
    """A member and the trials training now at a comparable point, at a round (`PBT._round`)."""

    steps: tuple[int, ...]  # the steps of the member's last ``perturbation_interval`` reports
    standings: tuple[_Standing, ...]  # best first, by the mean of each one's values at ``steps``
    values: dict[int, dict[int, float]]  # trial number -> its losses at the ``steps`` it reported
    running: int  # the trials training now, the member among them
    curves: dict[int, dict[int, float]]  # trial number -> its losses by step (a peer further on: past ``steps`` too)


@dataclass(frozen=True)
class _Trail:
    """How far a bottom member trails the weakest donor at the steps both reported, against the noise."""

    gap: float
    noise: WindowNoise  # the gap's standard error and the bar it must clear
    donor: int
    members: int
    window: tuple[int, ...]  # the steps members were ranked at
    steps: tuple[int, ...]  # the steps the gap is measured at
    span: tuple[int, ...]  # the steps the noise is measured at; empty: the curves' second differences


class PBT(Scheduler):
    """Population Based Training.

    Budget a PBT study by resource or wall time: each exploit starts a new trial.

    Args:
        perturbation_interval: steps between exploit/explore rounds.
        quantile: the fraction at the bottom that is replaced, and at the top that donates.
        resample_probability: chance that a parameter is redrawn from its prior instead of perturbed.
        perturb_factors: multipliers applied to a numeric parameter (one drawn at random).
        min_population: members at a comparable point (the member among them) a round needs to exploit anyone.
        level: the chance, at one round, of exploiting a member that trails the donors by noise alone
            (one-sided; default 0.05), whether its reports scatter independently or wander (lag-1 correlation up
            to 0.9).

    A member's loss often wanders from report to report rather than scattering independently (SGD's does: each step
    moves the weights a little from where the last left them), and the mean of a few such reports is far noisier
    than their step-to-step scatter says: measured as if independent, identical members were exploited in most
    rounds. The standard error of a gap is measured on the reports the members compared share up to the round (a
    few intervals' worth, `_span`), allowing for the correlation of their noise up to the upper 95% bound those
    reports leave, and the bar is what the same statistic reaches among identical members with such noise
    (`tunesmith.schedulers._noise.window_noise`). Share of rounds in which some member of 8 identical ones was
    exploited (2 bottom members tested a round), and in which one 3 noise sd worse at every step was, before and
    after, 500 populations each (`interval=4`, the scheduler called directly; the best a test knowing the noise's
    law could do, for the worse member: 99.8%, 89%, 72% at correlations 0, 0.5, 0.8)::

        lag-1 correlation of the noise          0          0.5         0.8
        identical, round at step 8        10% ->  5%  79% ->  5%  99% ->  6%
        identical, round at step 16        9% ->  8%  78% ->  5%  99% ->  3%
        3 sd worse, round at step 8       98% -> 88%  99% -> 25%  98% -> 12%
        3 sd worse, round at step 16      99% -> 99%  99% -> 70%  99% -> 26%

    SGD members with the same learning rate, differing by seed (round at step 32): 70% -> 2%; one with a learning
    rate 10x too small is exploited in every round, its first included. At a member's first round, where its
    window is all it reported, its own level takes all the evidence on how far its noise wanders: only a member
    trailing by far more than its reports scatter is exploited there (3 sd: 96% -> 0%), the others at the next
    round. Noise wandering slower than a lag-1 correlation of 0.9 cannot be told from a real difference in a few
    intervals' reports, and is taken for one. Where no 3 consecutive reports are shared by half the members (the
    first round of an interval of 1 or 2, a population of fresh continuations), how far the noise wanders cannot be
    measured: its step-to-step noise is read from second differences as independent, as before, and the reason says
    so. Before, the worse member's share at correlated noise was as much noise as deficit.
    """

    name = "pbt"
    resumes_lost = True

    def __init__(
        self,
        perturbation_interval: int = 4,
        quantile: float = 0.25,
        resample_probability: float = 0.25,
        perturb_factors: Sequence[float] = (0.8, 1.2),
        min_population: int = 4,
        level: float = 0.05,
    ) -> None:
        self.perturbation_interval = integer("perturbation_interval", perturbation_interval, minimum=1)
        self.quantile = real("quantile", quantile, exclusive_minimum=0, maximum=0.5, fix="pass a number such as 0.25")
        self.resample_probability = real("resample_probability", resample_probability, minimum=0, maximum=1)
        self.perturb_factors = _factors(perturb_factors)
        self.min_population = integer("min_population", min_population, minimum=2)
        self.level = real("level", level, exclusive_minimum=0, exclusive_maximum=0.5, fix="pass e.g. level=0.05")

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "perturbation_interval": self.perturbation_interval,
            "quantile": self.quantile,
            "resample_probability": self.resample_probability,
            "perturb_factors": list(self.perturb_factors),
            "min_population": self.min_population,
            "level": self.level,
        }

    def first_decision(self) -> tuple[float, str]:
        """The first exploit round: ``perturbation_interval``."""
        return float(self.perturbation_interval), "perturbation_interval"

    def min_concurrent(self) -> int:
        """``min_population``: the population is the trials training now, and none is exploited with fewer."""
        return self.min_population

    def _standings(self, members: Sequence[TrialRecord], context: SearchContext) -> list[_Standing]:
        """Members best first, by the mean of their last ``perturbation_interval`` reports (ties broken by trial
        number); a member with no finite report has no standing."""
        sign, name = context.metric.sign(), context.metric.name
        standings = [
            _Standing(float(np.mean(last)), len(last), r)
            for r in members
            if (last := losses(r, name, sign)[-self.perturbation_interval :])
        ]
        return sorted(standings, key=lambda s: (s.mean, s.record.number))

    def _ranked(self, members: Sequence[TrialRecord], context: SearchContext) -> list[TrialRecord]:
        return [s.record for s in self._standings(members, context)]

    def _cut(self, size: int) -> int:
        return max(1, math.floor(size * self.quantile))

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        trail = self._trail(trial, history, context)
        stop = isinstance(trail, _Trail) and trail.gap > trail.noise.bar * trail.noise.stderr
        return Decision.STOP if stop else Decision.CONTINUE

    def explain(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> str | None:
        """Why `decide` stopped ``trial``; also, at a round where too few members are at a comparable point to
        rank it, why it goes on (the study reads this only for a stop)."""
        trail = self._trail(trial, history, context)
        if trail is None:
            return None
        if isinstance(trail, _Round):
            return (
                f"goes on: only {len(trail.standings)} of the {trail.running} trials training now are at a comparable "
                f"point (trained through step {trail.steps[0]} and reported at {_steps(trail.steps)}; the others "
                f"started past step {trail.steps[0]}, as continuations, or are an interval or more behind), fewer "
                f"than min_population={self.min_population}: it is ranked against none this round"
            )
        trails = (
            f"in the bottom {self.quantile:g} of the {trail.members} trials training now ranked at "
            f"{_steps(trail.window)}, its mean {context.metric.name} trails #{trail.donor}, the weakest of the top "
            f"{self.quantile:g}, by {trail.gap:.3g} at the same {_steps(trail.steps)}"
        )
        noise = trail.noise
        if not trail.span:
            source = (
                f"of their curves, read from second differences as independent: no {MIN_REPORTS} consecutive steps "
                "up to there were reported by half the members, so how far it wanders cannot be measured"
            )
        else:
            trend = ", less each one's own trend," if noise.trend else ""
            source = f"of {noise.members} members' {_steps(trail.span)} about their median{trend} "
            source += f"allowing a lag-1 correlation up to {noise.rho:.2f}"
        size = f"{trail.gap / noise.stderr:.1f} standard errors" if noise.stderr > 0 else "noiseless curves"
        return (
            f"{trails} (standard error {noise.stderr:.3g} from the step-to-step noise {noise.sd:.3g} {source}: "
            f"{size}, where noise alone reaches {noise.bar:.2f} between these ranks of {trail.members} members at "
            f"one-sided {self.level:g})"
        )

    def _trail(
        self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext
    ) -> _Trail | _Round | None:
        """How far ``trial`` trails the weakest donor at a round, when it is in the bottom quantile there, measured
        at the steps both reported; the round itself when too few members are compared to rank it; ``None``
        between rounds and above the bottom."""
        compared = self._round(trial, history, context)
        if compared is None:
            return None
        ranked = compared.standings
        if len(ranked) < self.min_population:
            return compared
        cut = self._cut(len(ranked))
        position = next(i for i, s in enumerate(ranked) if s.record.number == trial.number)
        if position < len(ranked) - cut:
            return None
        donor = ranked[cut - 1].record.number
        mine, theirs = compared.values[trial.number], compared.values[donor]
        steps = tuple(sorted(theirs))  # a subset of ``mine``'s: a peer behind lacks the latest steps
        gap = float(np.mean([mine[s] - theirs[s] for s in steps]))
        span, measured = self._span(compared)
        if span:
            curves = np.array([[compared.curves[number][s] for s in span] for number in measured])
            noise = window_noise(curves, len(steps), len(ranked), position, cut - 1, self.level)
        else:
            noise = _independent_noise(compared, len(steps), position, cut - 1, self.level)
        return _Trail(gap, noise, donor, len(ranked), compared.steps, steps, span)

    def _span(self, compared: _Round) -> tuple[tuple[int, ...], list[int]]:
        """The steps and members the noise of a mean is measured on: consecutive steps up to the round (of those any
        member compared reported), at most 4 intervals of them (8 at least, 32 at most unless 2 intervals are more),
        that at least half of the members compared (2 at least) reported each of, and those members; ``((), [])``
        when no `MIN_REPORTS` steps are so shared.

        Members drift apart (a peer behind lacks the latest steps) and join late (a continuation lacks the early
        ones), so the span is the one shared that holds the most evidence on the noise: (members - 1) x (steps - 1),
        the later one on a tie, as the noise shrinks while training goes on. The longer it is, the better the
        correlation of the noise is measured, and the more a curve's shape departs from a line over it."""
        interval = self.perturbation_interval
        limit = max(8, 2 * interval, min(4 * interval, 32))
        last = compared.steps[-1]
        curves = {n: {s: v for s, v in c.items() if s <= last} for n, c in compared.curves.items()}
        needed = max(2, math.ceil(len(curves) / 2))
        grid = sorted({s for curve in curves.values() for s in curve})
        best: tuple[int, int, int] = (0, 0, 0)  # (evidence, end, reports)
        for end in range(len(grid) - 1, max(-1, len(grid) - 1 - limit), -1):
            runs = [_run(curve, grid, end, limit) for curve in curves.values()]
            for reports in range(MIN_REPORTS, min(limit, end + 1) + 1):
                members = sum(run >= reports for run in runs)
                if members >= needed and (members - 1) * (reports - 1) > best[0]:
                    best = ((members - 1) * (reports - 1), end, reports)
        evidence, end, reports = best
        if not evidence:
            return (), []
        span = tuple(grid[end - reports + 1 : end + 1])
        return span, [n for n, curve in curves.items() if _run(curve, grid, end, reports) >= reports]

    def _round(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> _Round | None:
        """The round ``trial`` is judged at, when its latest report starts a round (``None`` otherwise, or with no
        finite report): its latest round that ``min_population`` members reached, else its latest round, where too
        few did.

        A round's steps are those of its last ``perturbation_interval`` reports up to the report that started it:
        a peer is ranked by the mean of its values at those steps, if it trained through the first of them (a
        continuation that started later did not) and reported at least one (a peer an interval or more behind did
        not). A peer further on is ranked by what it reported then, not by where it is now; a peer behind, on the
        steps it reached. Members that drift an interval or more apart (workers sharing cores) never share their
        latest steps: a member ahead is then judged at an earlier round of its own that its peers have reached
        since, so it is compared at the same steps, once a round, however far the others trail.
        """
        starts = self._round_starts(trial)
        if not starts or starts[-1] != max(trial.intermediate):
            return None
        sign, name = context.metric.sign(), context.metric.name
        mine = _curve(trial, name, sign)
        peers = [
            (r, _curve(r, name, sign)) for r in history if r.state is TrialState.RUNNING and r.number != trial.number
        ]
        reach = [(min(c), max(c)) for _, c in peers if c]
        latest: _Round | None = None
        for start in reversed(starts):
            window = tuple([s for s in sorted(mine) if s <= start][-self.perturbation_interval :])
            if not window:
                break
            if latest is not None and sum(lo <= window[0] <= hi for lo, hi in reach) + 1 < self.min_population:
                if all(lo > window[0] for lo, _ in reach):
                    break  # no peer trained through an earlier round either
                continue  # too few peers reached these steps to compare it here
            compared = self._compared(trial, mine, window, peers)
            latest = latest or compared
            if len(compared.standings) >= self.min_population:
                return compared
        return latest

    def _round_starts(self, trial: TrialRecord) -> list[int]:
        """The steps of ``trial``'s reports that started a round: the first at or past each multiple of
        ``perturbation_interval``."""
        starts, previous = [], int(trial.attrs.get("start_step", 0))
        for step in sorted(trial.intermediate):
            if step // self.perturbation_interval != previous // self.perturbation_interval:
                starts.append(step)
            previous = step
        return starts

    def _compared(
        self,
        trial: TrialRecord,
        mine: dict[int, float],
        window: tuple[int, ...],
        peers: Sequence[tuple[TrialRecord, dict[int, float]]],
    ) -> _Round:
        """``trial`` and the ``peers`` at a comparable point at the steps of ``window`` (`_round`)."""
        members = [(trial, mine)] + [(r, c) for r, c in peers if c and min(c) <= window[0] and c.keys() & set(window)]
        values = {r.number: {s: c[s] for s in window if s in c} for r, c in members}
        standings = sorted(
            (_Standing(float(np.mean(list(values[r.number].values()))), len(values[r.number]), r) for r, _ in members),
            key=lambda s: (s.mean, s.record.number),
        )
        return _Round(window, tuple(standings), values, 1 + len(peers), {r.number: c for r, c in members})

    def propose(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> Continuation | None:
        replaced = {r.attrs.get("replaces") for r in history}
        victims = [
            r
            for r in history
            if r.state is TrialState.STOPPED and r.kind is TrialKind.SCHEDULER and r.number not in replaced
        ]
        if not victims:
            return None
        victim = victims[0]
        ranked = self._ranked([r for r in history if r.state is TrialState.RUNNING], context)
        found = self._donors(ranked, known_length(history))
        if found is None:
            return None
        donors, note = found
        donor = donors[int(rng.integers(len(donors)))]
        params, changes, how = self._explore_for(space, donor, history, rng, context)
        lineage = [*donor.attrs.get("lineage", []), donor.number]
        attrs: dict[str, Any] = {"replaces": victim.number, "lineage": lineage, "explored": changes}
        if how is not None:
            attrs[EXPLORER] = how
        if note is not None:
            attrs["donor_note"] = note
        return Continuation(params=params, parent=donor.number, start_step=int(donor.resource), attrs=attrs)

    def resumption(self, history: Sequence[TrialRecord]) -> Continuation | None:
        """The continuation of the oldest member lost while it trained (FAILED, of kind `TrialKind.INTERRUPTED` or
        `TrialKind.LOST_WORKER`) that nothing reran yet: its own parameters, from the furthest step it reached (its
        last report, or the step it started at), so the study copies its checkpoint into the new trial, moves
        ``start_step`` to the step that checkpoint was saved at, and the population keeps its training through a
        crash. The study hands it out before a retry, a queued configuration or an exploit; it runs under the
        member's seed. ``None`` when no member is owed one.

        Its attributes link it as an exploit's are: ``parent`` (the study's) and ``lineage`` name the member, and
        ``resumes`` (`RESUMES`) says the member is rerun, so it is resumed once. A member is passed over when it
        trained no step (there is no training to keep: the sampler or a retry runs its place), when it reached the
        step a finished trial ended at (`known_length`: it may have reported its last step, and a continuation would
        train nothing), when a retry of it exists or was asked for (``tunesmith retry``: a rerun from scratch), or
        when a trial resumes it already. Read from ``history`` alone, the choice is the same on every worker and after
        any number of restarts, and the storage's lock makes the trial that resumes a member one.
        """
        rerun = {r.attrs.get(RESUMES) for r in history} | {r.attrs.get("retry_of") for r in history}
        length = known_length(history)
        for record in history:
            reached = max(record.resource, float(record.attrs.get("start_step", 0)))
            if (
                record.state is not TrialState.FAILED
                or record.kind is None
                or not record.kind.is_interruption
                or record.number in rerun
                or record.attrs.get(RETRY_REQUESTED)
                or not 0 < reached < length
            ):
                continue
            lineage = [*record.attrs.get("lineage", []), record.number]
            attrs: dict[str, Any] = {RESUMES: record.number, "lineage": lineage}
            return Continuation(params=dict(record.params), parent=record.number, start_step=int(reached), attrs=attrs)
        return None

    def _donors(self, ranked: Sequence[TrialRecord], length: float) -> tuple[list[TrialRecord], str | None] | None:
        """The members a replacement may continue (``ranked``: the members training, best first) and, when they are
        not the top ``quantile``, why; ``None`` when no member above the bottom ``quantile`` has steps left.

        The population is the members training, the stopped member not among them: the top ``quantile`` of it
        donates. A donor needs steps left to hand on: it is below ``length`` (`known_length`); a member that
        reached the step a finished trial ended at may have reported its last step, so it is passed over. When
        that leaves none of the top ``quantile``, the best member above the bottom one with steps left donates,
        rather than the victim waiting while the sampler starts a fresh trial.
        """
        cut = self._cut(len(ranked))
        top = [r for r in ranked[:cut] if r.resource < length]
        if top:
            return top, None
        above_bottom = ranked[: len(ranked) - cut]
        rank, donor = next(((i, r) for i, r in enumerate(above_bottom, 1) if r.resource < length), (0, None))
        if donor is None:
            return None
        leaders = ", ".join(f"#{r.number}" for r in ranked[:cut])
        note = (
            f"the top {self.quantile:g} of the members training ({leaders}) reached step {length:g}, where a "
            f"finished trial ended, so may have no step left to hand on: #{donor.number}, ranked {rank} of the "
            f"{len(ranked)} training and the best with steps left, donates"
        )
        return [donor], note

    def _explore_for(
        self,
        space: Space,
        donor: TrialRecord,
        history: Sequence[TrialRecord],
        rng: np.random.Generator,
        context: SearchContext,
    ) -> tuple[dict[str, Any], dict, str | None]:
        """The replacement's parameters, explored from ``donor``'s, a label per parameter it changed, and how they
        were chosen when a subclass says (its `EXPLORER` attribute): PBT perturbs at random (`_explore`); `PB2`
        chooses by a model of the ``history``."""
        return (*self._explore(space, donor.params, rng), None)

    def _explore(self, space: Space, params: dict[str, Any], rng: np.random.Generator) -> tuple[dict[str, Any], dict]:
        """Perturb numeric parameters by a random factor, or resample any parameter from its prior; explored again
        while that makes a combination the space forbids (`Space.forbids`), and after `_EXPLORE_TRIES` the donor's own
        configuration, which it was allowed to run, unchanged."""
        for _ in range(_EXPLORE_TRIES):
            out, changes = self._explored(space, params, rng)
            if space.forbids(out) is None:
                return space.validate(out), changes
        return space.validate(params), {}

    def _explored(self, space: Space, params: dict[str, Any], rng: np.random.Generator) -> tuple[dict[str, Any], dict]:
        """One exploration of ``params`` (`_explore`), forbidden or not."""
        out: dict[str, Any] = {}
        changes: dict[str, str] = {}
        for name, param in space.items():
            if not space.is_active(name, out):
                continue
            current = params.get(name)
            resample = rng.random() < self.resample_probability
            factor = self.perturb_factors[int(rng.integers(len(self.perturb_factors)))]
            if isinstance(param, Fixed):
                value: Any = param.value
            elif current is None or resample or isinstance(param, Choice):
                value = param.sample(rng) if (current is None or resample) else current
                if value != current:
                    changes[name] = "resampled"
            elif isinstance(param, Float | Int):
                value = self._perturb(param, current, factor)
                if value != current:
                    changes[name] = _change(param, current, value, factor)
            else:  # pragma: no cover - every Param kind is handled above
                value = current
            out[name] = value
        return out, changes

    @staticmethod
    def _perturb(param: Float | Int, value: float, factor: float) -> Any:
        """``value`` moved by ``factor`` (`_target`), within the range; on a grid of values, to the value nearest
        the target on the grid's own scale, and at least to the next value the factor's way: x1.2 of a power of two
        rounds back to the same power, and of a small integer (2 x 1.2 = 2.4) to the same integer."""
        target = min(param.high, max(param.low, _target(param, value, factor)))
        size = _grid_size(param)
        if size is None:
            return param.decode(param.encode(target))
        here, there = _grid_position(param, value), _grid_position(param, target)
        index = round(there)
        if index == round(here) and there != here:
            index += 1 if there > here else -1
        return _grid_value(param, min(size - 1, max(0, index)))


class RoundWatch:
    """Whether PBT ranked any member against a population during a run of `Study.optimize`, fed each report.

    PBT's population is the trials training at a comparable point: with members far apart (workers sharing
    cores) or ending before the others catch up, every round can have fewer than ``min_population``, and the run
    exploits none without a word. Only a report that starts a round reads the history, and none once a round
    compared members.
    """

    def __init__(self, scheduler: Scheduler, context: SearchContext) -> None:
        chosen = getattr(scheduler, "chosen", scheduler)  # an `AutoScheduler` acts through the one it chose
        self._pbt = chosen if isinstance(chosen, PBT) else None
        self._context = context
        self._last: dict[int, int] = {}
        self.rounds = 0  # reports that started a round
        self.compared = False

    def see(self, number: int, step: int, history: Callable[[], Sequence[TrialRecord]]) -> None:
        """Note trial ``number``'s report at ``step``; ``history`` reads the trials, the reported one among them."""
        pbt = self._pbt
        if pbt is None or self.compared:
            return
        previous, self._last[number] = self._last.get(number), step
        if previous is not None and previous // pbt.perturbation_interval == step // pbt.perturbation_interval:
            return
        records = history()
        record = next((r for r in records if r.number == number), None)
        judged = None if record is None else pbt._round(record, records, self._context)
        if judged is not None:
            self.rounds += 1
            self.compared = len(judged.standings) >= pbt.min_population

    def note(self) -> str | None:
        """What to say when trials reached rounds and none compared ``min_population`` members."""
        pbt = self._pbt
        if pbt is None or self.compared or not self.rounds:
            return None
        needed = pbt.min_population
        return (
            f"pbt compared no members in this run: at each of the {self.rounds} rounds trials reached, fewer than "
            f"min_population={needed} trials training then had reported at its steps (members an interval or more "
            "apart, as when workers share cores, are compared only once the ones behind reach those steps, and "
            "trials that end first never are), so no trial was exploited and the search was plain random search; "
            f"run {needed} or more workers that train at the same pace (no more workers than cores), or lower "
            "min_population"
        )


def _curve(record: TrialRecord, metric: str, sign: float) -> dict[int, float]:
    """The finite values of ``metric`` that ``record`` reported, by step, as losses (``sign * value``)."""
    return {s: sign * v for s, v in record.curve(metric) if math.isfinite(v)}


def _steps(steps: Sequence[int]) -> str:
    """``step 5`` or ``steps 1-5``: the steps a member was compared at."""
    return f"step {steps[0]}" if len(steps) == 1 else f"steps {steps[0]}-{steps[-1]}"


@functools.lru_cache(maxsize=256)
def _noise_bar(members: int, position: int, donor: int, level: float) -> float:
    """The ``1 - level`` quantile of the gap between the members ranked ``position`` and ``donor`` (0 the best), in
    standard errors of a difference, when ``members`` means differ by independent noise of known size.

    The bottom and the top of a population are its extremes: among 8 equal members the worst trails the second
    best by 1.6 standard errors of a difference on average, so a one-pair test would exploit on noise in about a
    round of three. The quantile is drawn once (20,000 populations, a fixed seed), so decisions stay pure.
    """
    draws = np.sort(np.random.default_rng(0).standard_normal((20_000, members)), axis=1)
    return float(np.quantile((draws[:, position] - draws[:, donor]) / math.sqrt(2.0), 1.0 - level))


def _run(curve: dict[int, float], grid: Sequence[int], end: int, limit: int) -> int:
    """How many consecutive steps of ``grid`` up to ``grid[end]`` ``curve`` reported, at most ``limit``."""
    run = 0
    while run < limit and run <= end and grid[end - run] in curve:
        run += 1
    return run


def _independent_noise(compared: _Round, window: int, position: int, donor: int, level: float) -> WindowNoise:
    """The noise of a mean of ``window`` reports when the members share too few reports to measure it on: the
    step-to-step noise of their curves up to the round from second differences (`study_noise`; their whole curves
    when none of those has 4 points; none when no curve has), taken as independent, against the quantile of the gap
    between these ranks among identical members (`_noise_bar`)."""
    last = compared.steps[-1]
    early = [[v for s, v in sorted(c.items()) if s <= last] for c in compared.curves.values()]
    whole = [[v for _, v in sorted(c.items())] for c in compared.curves.values()]
    noise = study_noise(early if any(step_noise(e) is not None for e in early) else whole)
    bar = _noise_bar(len(compared.standings), position, donor, level)
    return WindowNoise(noise * math.sqrt(2.0 / window), bar, noise, 0.0, 0, len(early), False)


def _factors(perturb_factors: object) -> tuple[float, ...]:
    """``perturb_factors`` checked: a non-empty list of positive, finite numbers."""
    fix = "pass a list of positive numbers, e.g. perturb_factors=[0.8, 1.2]"
    if isinstance(perturb_factors, str | bytes) or not isinstance(perturb_factors, Sequence) or not perturb_factors:
        raise ConfigError(
            f"perturb_factors must be a non-empty list of positive numbers, got perturb_factors={perturb_factors!r}: "
            f"{fix}"
        )
    return tuple(real("perturb_factors", f, exclusive_minimum=0, numpy=True, fix=fix) for f in perturb_factors)


def _target(param: Float | Int, value: float, factor: float) -> float:
    """Where ``factor`` sends ``value``, before the range's bounds and grid: positive values are multiplied; a
    linear range through zero is moved by a share of its width instead."""
    if param.log or param.low > 0:
        return value * factor
    return value + (factor - 1.0) * (param.high - param.low)


def _grid_size(param: Float | Int) -> int | None:
    """How many values ``param`` takes on its grid; ``None`` for a continuous float."""
    if isinstance(param, Float):
        return None if param.step is None else int(param.cardinality())
    values = param.values()
    return (param.high - param.low) // param.step + 1 if values is None else len(values)  # exact, however wide


def _grid_position(param: Float | Int, value: float) -> float:
    """Where ``value`` lies on ``param``'s grid, in values from ``low`` (a fraction between two), on the scale the
    grid is even on: the exponent for powers of a base, else the value itself (a log-scale `Int` takes every
    integer)."""
    if isinstance(param, Int) and param.base is not None:
        return math.log(value, param.base) - math.log(param.low, param.base)
    step = param.step if param.step is not None else 1
    return (value - param.low) / step


def _grid_value(param: Float | Int, index: int) -> Any:
    """The ``index``-th value of ``param``'s grid (0 is ``low``)."""
    if isinstance(param, Float):
        assert param.step is not None
        return param.decode(param.encode(param.low + index * param.step))  # exact on the decimal grid
    if param.base is not None:
        return param.low * param.base**index
    return param.low + index * param.step


def _change(param: Float | Int, before: float, after: float, factor: float) -> str:
    """How a perturbation moved a value, as it moved it: ``x0.8`` when multiplied (and not stopped by a bound),
    else the move itself (``+0.2 of the range``, ``-1``, ``64 -> 128`` to the next value of a grid, ``to the bound
    1`` when the factor sent it past one)."""
    target = _target(param, before, factor)
    if after in (param.low, param.high) and not param.low <= target <= param.high:
        return f"to the bound {after:g}"
    if param.log or param.low > 0:
        return f"x{factor:g}" if math.isclose(after, before * factor, rel_tol=1e-9) else f"{before:g} -> {after:g}"
    return f"{after - before:+g}"
