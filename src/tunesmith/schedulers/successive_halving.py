"""Successive halving in its synchronous (`SuccessiveHalving`) and asynchronous (`ASHA`) forms; over brackets it
is `tunesmith.schedulers.hyperband.Hyperband`.

Rungs sit at ``min_resource * eta**k`` below ``max_resource``. At a rung, a trial is compared with every trial
of its bracket that reported at or past the same rung, each on the reading it had when it crossed the rung,
which is when its own decision there was taken (`value_at_rung`): its report at the rung, else its first
report after it, so a trial that reports every few steps is never ranked by a value from before the rung. A
trial that ended FAILED (a crash, an interruption) is no peer: it takes no place and does not count among the
trials the top ``1/eta`` is taken of, since it can never use a promotion. A trial the divergence check stopped
after the rung did reach it: it counts among those trials, ranked last, since its value there said nothing of
its end, and the place it could not use goes to the next live trial. Dropped, as it once was, it shrank the
count the top share is taken of: where the fastest starters blow up late (the benchmark's divergence problem,
four workers) the rungs kept a third of the few left, and on 2 of 20 seeds only 3 or 4 trials were trained to
the end, the winner ending at 2.86 and 0.38 against about 0.1. The top ``1/eta`` go on, and so does any trial tied
with the last of them (a rung cannot tell tied trials apart, and error rates on a fixed validation set tie
often). With fewer than ``eta`` peers the top one still goes on and the rest stop: a bad trial never runs on
just because few peers have reached its rung. With ``few_peers="vouched"`` (Hyperband's brackets) even the top
one needs more: a lower rung that enough trials reached must rank it in its top ``eta**-(rungs climbed)``, so
that early trials do not train to the end on the word of one or two peers.

All decisions are functions of the history, so one worker or many, and a study resumed from
storage, reach the same ones. With several objectives, trials at a rung are ranked by non-dominated
sorting (MO-ASHA; see `_Rungs.scored`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.fidelity import is_rung_peer
from tunesmith.pareto import front_scores, losses_of
from tunesmith.schedulers._deck import Deck
from tunesmith.schedulers._final_model import predicted_finals
from tunesmith.schedulers.base import FinishLine, Promotion, Scheduler
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = ["ASHA", "RungPromotion", "SuccessiveHalving", "bracket_sizes", "most_aggressive_bracket", "rung_levels"]

Mode = Literal["stop", "promote"]
FewPeers = Literal["best", "vouched"]
#: What a rung ranked its trials by: the value at the rung, the final value `_final_model` predicts from it, or
#: non-dominated fronts (several objectives).
Ranking = Literal["raw", "predicted", "fronts"]


def _check_options(mode: str, few_peers: str, predict_final: object) -> None:
    """The options `ASHA` and `Hyperband` share."""
    if mode not in ("stop", "promote"):
        raise ConfigError(f"mode must be 'stop' or 'promote', got mode={mode!r}")
    if few_peers not in ("best", "vouched"):
        raise ConfigError(
            f"few_peers must be 'best' or 'vouched', got few_peers={few_peers!r}: 'vouched' stops early trials "
            "that only a few peers vouch for"
        )
    if not isinstance(predict_final, bool):
        raise ConfigError(
            f"predict_final must be true or false, got predict_final={predict_final!r}: true ranks trials at a rung "
            "by their predicted final value once trials trained to the end support it"
        )


def _check_resources(min_resource: float, max_resource: float, eta: float) -> None:
    for name, value in (("min_resource", min_resource), ("max_resource", max_resource), ("eta", eta)):
        real(name, value)
    if min_resource <= 0:
        raise ConfigError(f"min_resource must be > 0, got min_resource={min_resource}: use 1 (one epoch)")
    if max_resource <= min_resource:
        raise ConfigError(
            f"max_resource must exceed min_resource, got min_resource={min_resource}, max_resource={max_resource}: "
            "set max_resource to the full training length"
        )
    if eta < 2:
        raise ConfigError(f"eta must be >= 2, got eta={eta}: use 3 (keep the top third) or 2 (the top half)")


def rung_levels(min_resource: float, max_resource: float, eta: float) -> list[float]:
    """The resource levels where trials are compared, below ``max_resource``."""
    _check_resources(min_resource, max_resource, eta)
    levels: list[float] = []
    level = float(min_resource)
    while level < max_resource - 1e-9:
        levels.append(level)
        level *= eta
    return levels


def crossed_level(record: TrialRecord, levels: Sequence[float], metrics: Sequence[str] = ()) -> float | None:
    """The highest rung the trial's latest report crossed (``None`` when it crossed none).

    With ``metrics`` (what the rungs rank by), only the reports that carry all of them count: a rung is crossed,
    and decided, at the first report at or past it that carries them. A report of other metrics first (a train
    loss, then the validation loss in a second call at the same step) or at an epoch that did not validate
    decides nothing: the rung waits for the value it ranks by, which once came from the step before."""
    steps = sorted(step for step, values in record.intermediate.items() if all(m in values for m in metrics))
    if not steps or steps[-1] != max(record.intermediate):
        return None
    latest = steps[-1]
    previous = steps[-2] if len(steps) > 1 else float(record.attrs.get("start_step", 0))
    crossed = [level for level in levels if previous < level <= latest]
    return crossed[-1] if crossed else None


def ranked_by(context: SearchContext) -> tuple[str, ...]:
    """The metrics a rung ranks trials by: every objective of a study with several, else the metric."""
    return tuple(m.name for m in context.objectives) if len(context.objectives) > 1 else (context.metric.name,)


def value_at_rung(record: TrialRecord, metric: str, level: float) -> float | None:
    """The value of ``metric`` a rung at ``level`` judges ``record`` by: its first report of ``metric`` at or past
    ``level`` (`crossed_level` with the metric), which is when its decision there is taken.

    For a trial whose reports carry ``metric`` at every step that is its report at the rung, else its first report
    of it after the rung: a trial that reports (or validates) every few steps is judged, and serves as a peer, on a
    value from the rung or past it, never on one from before it (which once ranked a step-8 value against peers'
    step-9 values, and a value from the step before the rung when the rung's report came in two calls). ``None``
    while the trial has not reported ``metric`` at or past ``level`` (it is no peer there yet), or when that value
    is not finite (divergence is the study's).
    """
    value = _reading_at_rung(record, metric, level)
    return value if value is not None and math.isfinite(value) else None


def _reading_at_rung(record: TrialRecord, metric: str, level: float) -> float | None:
    """`value_at_rung`'s reading, finite or not."""
    crossing = min((step for step, values in record.intermediate.items() if step >= level and metric in values),
                   default=None)  # fmt: skip
    return None if crossing is None else record.intermediate[crossing][metric]


def _not_finite_at_rung(record: TrialRecord, metric: str, level: float) -> bool:
    """Whether the reading of ``metric`` a rung at ``level`` judges ``record`` by (`value_at_rung`'s) is there and
    not finite: a value reported NaN or infinite, where a metric never reported is no reading at all."""
    value = _reading_at_rung(record, metric, level)
    return value is not None and not math.isfinite(value)


def _diverged_after(record: TrialRecord) -> bool:
    """Whether ``record`` was stopped for diverging (the study's divergence check): at a rung it reached with a finite
    value, it still counts, ranked last (`_Rungs.ranked`)."""
    return record.state is TrialState.STOPPED and record.kind is TrialKind.DIVERGED


@dataclass(frozen=True)
class RungPromotion(Promotion):
    """A `Promotion` from successive halving's rungs that, in final mode, also names each PAUSED trial its rung ranks
    outside the top share as the rung stands: no trial is left to start, so nothing would ever promote it. Those in
    ``retire`` end kind SCHEDULER for the reason given here; the rest of ``retire`` end for ``reason``, of ``kind``
    (the trial budget ran out before their turn). `tunesmith.study._ask` reads it, also when a wall-time or resource
    budget retires every PAUSED trial at once. `SuccessiveHalving`, whose settled rungs retire trials in any mode,
    names each trial it retires here in every mode.

    Attributes:
        outranked: trial number -> why its rung does not promote it; in final mode, for every rung, so it may name
            trials that ``retire`` does not hold yet (a promotion is still due at another rung); otherwise
            (`SuccessiveHalving` only) the trials in ``retire``.
    """

    outranked: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Standing:
    """Where a trial stands at one rung: the facts a stop, a vouch or a retirement there is explained by."""

    level: float
    rank: int | None  # 1 for the best (ties broken by trial number); None: it has no value at the rung
    peers: int  # the trials ranked at the rung, itself included
    keep: int  # the top ``keep`` go on, and any tied with the last of them
    kept: bool
    score: float | None  # its loss, or predicted final loss, at the rung (by fronts: its `front_scores` place)
    cutoff: float | None  # the last kept trial's
    ranking: Ranking
    diverged: int = 0  # of the peers, those that diverged after the rung (ranked last)
    not_finite: bool = False  # its value of an objective there is not finite: ranked last with the diverged

    def placing(self, context: SearchContext, where: str) -> str:
        """``ranked 5 of 9 at the rung at resource 3<where>, by its loss there (0.93; the last kept: 0.71)``: the
        values (the trial's and the last kept one's, the best's when the rung keeps one) only for a trial not kept."""
        sign, name = context.metric.sign(), context.metric.name
        if self.ranking == "fronts":
            by = "by non-dominated sorting of " + " and ".join(m.name for m in context.objectives)
        else:
            by = f"by its predicted final {name}" if self.ranking == "predicted" else f"by its {name} there"
            if not self.kept and self.score is not None and self.cutoff is not None:
                last = "the best" if self.keep == 1 else "the last kept"
                mine, theirs = _apart(sign * self.score, sign * self.cutoff)
                by += f" ({mine}; {last}: {theirs})"
        later = f" ({self.diverged} of them diverged after it: ranked last)" if self.diverged else ""
        if self.not_finite:
            by += "; a value of an objective there is not finite, so it ranks after every trial whose values are"
        return f"ranked {self.rank} of {self.peers}{later} at the rung at resource {self.level:g}{where}, {by}"


def _diverged(scored: Sequence[tuple[float | None, TrialRecord]]) -> int:
    """How many of a rung's ranked trials diverged after it (`_Rungs.ranked` puts them last)."""
    return sum(_diverged_after(record) for _, record in scored)


def _apart(value: float, other: float) -> tuple[str, str]:
    """``value`` and ``other`` with four significant digits, or as many more as it takes to print them apart: a trial
    not kept is worse than the last kept (a tie is kept), and "(1; the last kept: 1)" read as a tie."""
    for digits in range(4, 18):
        mine, theirs = f"{value:.{digits}g}", f"{other:.{digits}g}"
        if mine != theirs:
            break
    return mine, theirs


@dataclass(frozen=True)
class _Voucher:
    """What the lower rungs say of a trial at a rung that fewer than eta trials reached (``few_peers="vouched"``)."""

    standing: _Standing | None  # at the highest lower rung with enough trials to judge; None when none has
    share: float  # that rung vouches for its top 1/share
    short: tuple[tuple[float, int, int], ...]  # rungs passed over, nearest first: (level, trials ranked, needed)

    @property
    def kept(self) -> bool:
        return self.standing is not None and self.standing.kept

    def sentence(self) -> str:
        """Why the lower rungs did not vouch for the trial."""
        lower = self.standing
        if lower is not None:
            said = "holds no value of it" if lower.rank is None else f"ranked it {lower.rank} of {lower.peers}"
            return (
                f"the rung at resource {lower.level:g}, the highest below with enough trials, {said}, where only its "
                f"top {lower.keep} vouch ({lower.peers} // {self.share:g}: the share that climbs past this rung)"
            )
        if not self.short:
            return "it is the first rung, with none below"
        counts = ", ".join(f"the rung at resource {lv:g} had {n} of the {need} it needs" for lv, n, need in self.short)
        return f"no lower rung had the trials to judge yet: {counts}"


class _Rungs:
    """The rung arithmetic shared by the three schedulers: levels and rankings at a level.

    With ``full`` (the full resource), one objective is ranked by each trial's predicted final value
    once the trials trained to the end can predict it (`tunesmith.schedulers._final_model`).
    """

    def __init__(self, levels: Sequence[float], eta: float, full: float | None = None) -> None:
        self.levels = list(levels)
        self.eta = eta
        self.full = full

    def scored(
        self, members: Sequence[TrialRecord], level: float, context: SearchContext
    ) -> list[tuple[float | None, TrialRecord]]:
        """Members that are peers at ``level``, best first (ties broken by trial number), each with its score: its
        loss, or predicted final loss, at ``level`` (`ranked` without what it ranked by)."""
        return self.ranked(members, level, context)[0]

    def ranked(
        self, members: Sequence[TrialRecord], level: float, context: SearchContext
    ) -> tuple[list[tuple[float | None, TrialRecord]], Ranking]:
        """Members that are peers at ``level``, best first (ties broken by trial number), each with its score: its
        loss, or predicted final loss, at ``level``; and what they were ranked by.

        A peer is a member that reported at or past ``level`` and did not end FAILED or diverge (`is_rung_peer`); its
        loss at ``level`` is `value_at_rung`'s: the reading it had when it crossed the rung (its report at the
        rung, else its first report after it). Members the divergence check stopped after the rung (with a value
        there) follow the peers, by trial number, with no score: they count among the trials the rung keeps its top
        share of, and never take a place in it.

        With several objectives (``len(context.objectives) > 1``) as MO-ASHA ranks them: by non-dominated
        front, ties inside a front by crowding distance (the more isolated first), then by trial number; the score
        is then `front_scores`' (equal for members nothing tells apart, which `top` keeps together: the extremes of
        a front, identical results), and a member lacking an objective's value at the level is not ranked. A member
        whose value of an objective there is not finite (a NaN or infinite value of an objective the divergence check
        does not watch) follows the peers with the diverged ones: it counts, and never takes a place in the top
        share (it was never ranked, so it went on to the end however bad its other objectives); when no peer has
        finite values there (an objective reported NaN until the end, by every trial), none is ranked.
        """
        # A trial that diverged after the rung reached it, so it counts among the trials the top share is taken of,
        # but last: its value there said nothing of how it ended. One that failed or was declared infeasible keeps
        # no place at all.
        names = ranked_by(context)
        reached = [
            r for r in members if _diverged_after(r) and all(value_at_rung(r, n, level) is not None for n in names)
        ]
        members = [r for r in members if is_rung_peer(r)]
        if len(context.objectives) > 1:
            broken = [r for r in members if any(_not_finite_at_rung(r, n, level) for n in names)]
            fronts = self._ranked_by_fronts([r for r in members if r not in broken], level, context)
            if fronts:  # with no finite peer to rank them after (an objective reported NaN until the end), none is
                reached += broken
            last = [(None, r) for r in sorted(reached, key=lambda r: r.number)]
            return [*fronts, *last], "fronts"
        last = [(None, r) for r in sorted(reached, key=lambda r: r.number)]
        sign = context.metric.sign()
        name = context.metric.name
        scored = [(sign * v, r) for r in members if (v := value_at_rung(r, name, level)) is not None]
        ranking: Ranking = "raw"
        if self.full is not None and level < self.full:
            predicted = predicted_finals(scored, name, sign, self.full)
            if predicted is not None:
                scored = [(p, r) for p, (_, r) in zip(predicted, scored, strict=True)]
                ranking = "predicted"
        ordered: list[tuple[float | None, TrialRecord]] = [
            (score, r) for score, r in sorted(scored, key=lambda item: (item[0], item[1].number))
        ]
        return ordered + last, ranking

    @staticmethod
    def top(scored: Sequence[tuple[float | None, TrialRecord]], keep: int) -> list[TrialRecord]:
        """The first ``keep`` of ``scored`` (best first), and every later one tied with the last of them: a rung
        cannot tell tied trials apart (error rates on a fixed validation set tie often), so it stops none of
        them for the tie."""
        if keep <= 0:
            return []
        cutoff = scored[keep - 1][0] if keep <= len(scored) else None
        return [r for i, (score, r) in enumerate(scored) if i < keep or (cutoff is not None and score == cutoff)]

    @staticmethod
    def _ranked_by_fronts(
        members: Sequence[TrialRecord], level: float, context: SearchContext
    ) -> list[tuple[float | None, TrialRecord]]:
        """The members with every objective's value at ``level``, best first, each with its `front_scores` score."""
        reached: list[TrialRecord] = []
        rows: list[list[float]] = []
        for record in sorted(members, key=lambda r: r.number):
            values = {m.name: value_at_rung(record, m.name, level) for m in context.objectives}
            losses = losses_of({k: v for k, v in values.items() if v is not None}, context.objectives)
            if losses is not None:
                reached.append(record)
                rows.append(losses)
        scores = front_scores(np.asarray(rows, dtype=float).reshape(len(rows), len(context.objectives)))
        ranked = sorted(zip(scores.tolist(), reached, strict=True), key=lambda item: (item[0], item[1].number))
        return [(float(score), record) for score, record in ranked]

    def keep(self, reached: int, at_least_one: bool = True) -> int:
        """How many of ``reached`` trials go on from a rung."""
        count = int(reached // self.eta)
        return max(1, count) if at_least_one else count

    def standing(self, trial: TrialRecord, scored: Sequence[tuple[float | None, TrialRecord]], ranking: Ranking,
                 level: float, keep: int) -> _Standing:  # fmt: skip
        """Where ``trial`` stands in ``scored`` (a `ranked` rung at ``level``) when its top ``keep`` go on."""
        top = {record.number for record in self.top(scored, keep)}
        rank = next((i + 1 for i, (_, record) in enumerate(scored) if record.number == trial.number), None)
        score = None if rank is None else scored[rank - 1][0]
        cutoff = scored[min(keep, len(scored)) - 1][0] if keep >= 1 and scored else None
        not_finite = ranking == "fronts" and rank is not None and score is None and not _diverged_after(trial)
        return _Standing(level, rank, len(scored), keep, trial.number in top, score, cutoff, ranking, _diverged(scored),
                         not_finite)  # fmt: skip

    def standing_at(self, trial: TrialRecord, members: Sequence[TrialRecord], level: float,
                    context: SearchContext) -> _Standing:  # fmt: skip
        """Where ``trial`` stands among ``members`` at ``level`` in stop mode, where the top ``max(1, n // eta)``
        go on."""
        scored, ranking = self.ranked(members, level, context)
        return self.standing(trial, scored, ranking, level, self.keep(len(scored)))

    def continues(self, trial: TrialRecord, members: Sequence[TrialRecord], level: float,
                  context: SearchContext, *, vouched: bool = False) -> bool:  # fmt: skip
        here = self.standing_at(trial, members, level, context)
        if here.rank is None:
            return True  # no finite value at the rung: divergence handling is the study's
        # With fewer than eta peers the rung keeps one: the best (and any tied with it).
        if not here.kept or not vouched or here.peers >= self.eta:
            return here.kept
        return self.voucher(trial, members, level, context).kept

    def voucher(self, trial: TrialRecord, members: Sequence[TrialRecord], level: float,
                context: SearchContext) -> _Voucher:  # fmt: skip
        """How the highest lower rung with enough trials to judge ranks ``trial``: it vouches for its top
        ``eta**-(j + 1)``, ``j`` the rungs between them (the share that reaches ``level``'s next rung)."""
        index = self.levels.index(level)
        short: list[tuple[float, int, int]] = []
        for below in range(index - 1, -1, -1):
            share = self.eta ** (index - below + 1)
            scored, ranking = self.ranked(members, self.levels[below], context)
            keep = int(len(scored) // share)
            if keep >= 1:
                return _Voucher(self.standing(trial, scored, ranking, self.levels[below], keep), share, tuple(short))
            short.append((self.levels[below], len(scored), math.ceil(share)))
        return _Voucher(None, self.eta, tuple(short))

    def why_stopped(self, trial: TrialRecord, members: Sequence[TrialRecord], level: float, context: SearchContext,
                    *, vouched: bool, where: str = "") -> str | None:  # fmt: skip
        """Why `continues` is false for ``trial`` at ``level`` (``where`` follows the rung's name, as
        ``" of bracket 2"``); ``None`` when it is true. Recomputed from the same arguments, so it says what decided."""
        here = self.standing_at(trial, members, level, context)
        if here.rank is None:
            return None
        placing = here.placing(context, where)
        if here.peers >= self.eta:
            if here.kept:
                return None
            return (
                f"{placing}; the rung keeps the top {here.keep} ({here.peers} // eta={self.eta:g}, and any tied with "
                "the last of them)"
            )
        few = (
            f"a decision on few peers: {here.peers} trial{' had' if here.peers == 1 else 's had'} reached the rung, "
            f"fewer than eta={self.eta:g}, so"
        )
        if not here.kept:
            rule = (
                "only the best of them may go on, and only if a lower rung vouches for it (few_peers='vouched')"
                if vouched
                else "only the best of them goes on (few_peers='best')"
            )
            return f"{placing}; {few} {rule}"
        if not vouched:
            return None
        voucher = self.voucher(trial, members, level, context)
        if voucher.kept:
            return None
        return (
            f"{placing}; {few} even the best of them goes on only if a lower rung with enough trials ranked it in its "
            f"top share (few_peers='vouched'), and {voucher.sentence()}"
        )

    def next_level(self, level: float) -> float:
        later = [lv for lv in self.levels if lv > level]
        return later[0] if later else math.inf

    def paused_at(self, record: TrialRecord, level: float) -> bool:
        return record.state is TrialState.PAUSED and level <= record.resource < self.next_level(level)

    def promotion(self, members: Sequence[TrialRecord], context: SearchContext, *, final: bool,
                  where: str = "") -> RungPromotion:  # fmt: skip
        """The best promotable PAUSED member, highest rung first (ASHA's ``get_job``).

        ``final`` (no trial is left to start): the top ``max(1, n // eta)`` of a rung are promoted, and every PAUSED
        member ranked outside that share, as the rung stands, is named in ``outranked`` (``where`` follows each
        rung's name in the reason): no new trial will join the rung to make room for it. With none left to promote,
        every PAUSED member is retired: the outranked ones kind SCHEDULER, any other (one its rung could not rank)
        kind BUDGET.
        """
        resume: int | None = None
        outranked: dict[int, str] = {}
        for level in reversed(self.levels):
            if resume is not None and not final:
                break
            scored, ranking = self.ranked(members, level, context)
            waiting = [r for _, r in scored if self.paused_at(r, level)]
            if not waiting:
                continue
            keep = self.keep(len(scored), at_least_one=final)
            top = {r.number for r in self.top(scored, keep)}
            if resume is None:
                resume = next((r.number for r in waiting if r.number in top), None)
            if final:
                cutoff = scored[min(keep, len(scored)) - 1][0]
                diverged = _diverged(scored)
                for rank, (score, record) in enumerate(scored, 1):
                    if record.number not in top and self.paused_at(record, level):
                        here = _Standing(level, rank, len(scored), keep, False, score, cutoff, ranking, diverged)
                        outranked[record.number] = self._not_promoted(here, context, where)
        if resume is not None or not final:
            return RungPromotion(resume=resume, outranked=outranked)
        paused = tuple(r.number for r in members if r.state is TrialState.PAUSED)
        reason = "not promoted before the trial budget ran out"
        return RungPromotion(retire=paused, reason=reason, kind=TrialKind.BUDGET, outranked=outranked)

    def _not_promoted(self, here: _Standing, context: SearchContext, where: str) -> str:
        return (
            f"not promoted: {here.placing(context, where)}; the rung promotes its top {here.keep} ({here.peers} // "
            f"eta={self.eta:g}, at least the best, and any tied with the last of them), and no new trial may start to "
            "change that"
        )


class ASHA(Scheduler):
    """Asynchronous successive halving.

    Args:
        min_resource: resource (steps) of the first rung.
        max_resource: the full training length; no trial is compared beyond it.
        eta: keep the top ``1/eta`` at each rung.
        mode: ``"stop"`` (default): trials run on and are stopped at a rung when not in the top
            ``1/eta`` of the trials that reached it -- needs no checkpoints. ``"promote"``: trials
            pause at every rung and resume (from ``trial.checkpoint_dir``) when promoted, so the objective
            saves its state at each report (``trial.save_checkpoint``) and loads it when
            ``trial.resumed``; a trial that paused with none saved would train from scratch under its
            old steps, and its resumption stops the study (`study.CheckpointMissing`). Either way a
            trial is read at a rung by its report there, else its first report after it, a FAILED
            trial is no peer, and one that diverged after the rung ranks last there (see the module's docstring).
        few_peers: in stop mode, what a trial needs at a rung that fewer than ``eta`` trials
            reached: ``"best"`` (default) to be the best there; ``"vouched"`` also a lower rung
            that enough trials reached ranking it in its top ``eta**-(rungs climbed)``, else it
            stops (early trials then stop cheaply instead of training to the end).
        predict_final: rank trials at a rung by their final value as predicted from the trials
            trained to the end (their value at the rung and their hyperparameters), once that
            prediction ranks those trials better than the rung's raw value does (default ``True``;
            see `tunesmith.schedulers._final_model`). ``False`` ranks by the raw value always.
    """

    name = "asha"

    def __init__(self, min_resource: float = 1, max_resource: float = 81, eta: float = 3, mode: Mode = "stop",
                 few_peers: FewPeers = "best", predict_final: bool = True) -> None:  # fmt: skip
        _check_options(mode, few_peers, predict_final)
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.eta = eta
        self.mode = mode
        self.few_peers = few_peers
        self.predict_final = predict_final
        self.pauses = mode == "promote"
        full = float(max_resource) if predict_final else None
        self._rungs = _Rungs(rung_levels(min_resource, max_resource, eta), eta, full)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "min_resource": self.min_resource, "max_resource": self.max_resource,
                "eta": self.eta, "mode": self.mode, "few_peers": self.few_peers,
                "predict_final": self.predict_final}  # fmt: skip

    def predicts_final(self) -> bool:
        return self.predict_final

    def rungs(self) -> tuple[float, ...]:
        return (*self._rungs.levels, float(self.max_resource))

    def full_resource_share(self) -> float:
        """``eta ** -(rungs below the full resource)``: the share promoted through every rung."""
        return float(self.eta ** -len(self._rungs.levels))

    def finish_line(self, number: int) -> FinishLine | None:
        """In stop mode, past the last rung below the full resource (``None`` in promote mode: a trial paused at a
        rung may wait and go on later)."""
        if self.mode != "stop":
            return None
        levels = self._rungs.levels
        return FinishLine(float(levels[-1]) if levels else 0.0, float(self.max_resource))

    def deck(self) -> Deck | None:
        """One bracket, in stop mode (``None`` in promote mode: promotions wait on the trials started meanwhile)."""
        if self.mode != "stop":
            return None
        levels = tuple(self._rungs.levels)
        return Deck((levels,), (0,), float(self.max_resource), float(self.eta), self.few_peers == "vouched")

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        level = crossed_level(trial, self._rungs.levels, ranked_by(context))
        if level is None:
            return Decision.CONTINUE
        if self.mode == "promote":
            return Decision.PAUSE
        goes_on = self._rungs.continues(trial, history, level, context, vouched=self.few_peers == "vouched")
        return Decision.CONTINUE if goes_on else Decision.STOP

    def explain(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> str | None:
        """Why `decide` stopped ``trial``: the rung, its rank among the peers there and how many the rung keeps,
        what it ranked by, and with fewer than ``eta`` peers the ``few_peers`` rule that stopped it. ``None`` for a
        pause (promote mode), which waits for a promotion."""
        return self.explain_in(trial, history, context, where="")

    def explain_in(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext, *,
                   where: str) -> str | None:  # fmt: skip
        """`explain`, with ``where`` after the rung's name (Hyperband's ``" of bracket 2"``)."""
        level = crossed_level(trial, self._rungs.levels, ranked_by(context))
        if level is None or self.mode == "promote":
            return None
        return self._rungs.why_stopped(trial, history, level, context, vouched=self.few_peers == "vouched", where=where)

    def promote(self, history: Sequence[TrialRecord], context: SearchContext, *, final: bool) -> Promotion:
        """A `RungPromotion`: in final mode it also names the PAUSED trials their rungs rank outside the top share."""
        return self.promote_in(history, context, final=final, where="")

    def promote_in(self, history: Sequence[TrialRecord], context: SearchContext, *, final: bool,
                   where: str) -> RungPromotion:  # fmt: skip
        """`promote`, with ``where`` after each rung's name in the reasons (Hyperband's ``" of bracket 2"``)."""
        if not self.pauses:
            return RungPromotion()
        return self._rungs.promotion(history, context, final=final, where=where)


class SuccessiveHalving(Scheduler):
    """Synchronous successive halving: groups of ``population`` trials climb the rungs together.

    Every trial pauses at each rung; once every member of its group has reached the rung (or
    ended), the top ``1/eta`` resume from their checkpoints and the rest are stopped.

    Args:
        min_resource, max_resource, eta: as for `ASHA`.
        population: trials per group (default ``eta ** number_of_rungs``, so one trial of each
            group trains to ``max_resource``).
    """

    name = "successive_halving"
    pauses = True

    def __init__(self, min_resource: float = 1, max_resource: float = 81, eta: float = 3,
                 population: int | None = None) -> None:  # fmt: skip
        levels = rung_levels(min_resource, max_resource, eta)
        if population is None:
            population = round(eta ** len(levels))
        integer("population", population, minimum=2)
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.eta = eta
        self.population = population
        self._rungs = _Rungs(levels, eta)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "min_resource": self.min_resource, "max_resource": self.max_resource,
                "eta": self.eta, "population": self.population}  # fmt: skip

    def rungs(self) -> tuple[float, ...]:
        return (*self._rungs.levels, float(self.max_resource))

    def full_resource_share(self) -> float:
        """``eta ** -(rungs below the full resource)``: the share promoted through every rung."""
        return float(self.eta ** -len(self._rungs.levels))

    def deck(self) -> Deck:
        """Groups of ``population``, each training its top ``population * eta**-rungs`` fully."""
        levels = tuple(self._rungs.levels)
        return Deck((levels,), (0,), float(self.max_resource), float(self.eta), group=self.population)

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        crossed = crossed_level(trial, self._rungs.levels, ranked_by(context))
        return Decision.PAUSE if crossed is not None else Decision.CONTINUE

    def promote(self, history: Sequence[TrialRecord], context: SearchContext, *, final: bool) -> RungPromotion:
        """The first PAUSED trial in the top share of its rung, once the rung is settled: every member of its group has
        reached the rung or ended (in ``final`` mode, with no trial left to start, a group short of ``population`` is
        judged as it stands). Each trial its settled rung ranks outside that share before then is retired, and named
        in ``outranked`` with its rank, its group and the values that decided; in ``final`` mode ``outranked`` also
        names those past the first promotion, whose retirement is still to come."""
        resume: int | None = None
        retire: list[int] = []
        outranked: dict[int, str] = {}
        for group, members in self._groups(history).items():
            full = len(members) >= self.population or final
            for level in self._rungs.levels:
                on_the_way = any(r.state is TrialState.RUNNING and r.resource < level for r in members)
                if not full or on_the_way:
                    break  # this rung is not settled; higher rungs cannot be either
                scored, ranking = self._rungs.ranked(members, level, context)
                keep = self._rungs.keep(len(scored))
                top = {r.number for r in self._rungs.top(scored, keep)}
                cutoff = scored[min(keep, len(scored)) - 1][0] if scored else None
                diverged = _diverged(scored)
                for rank, (score, record) in enumerate(scored, 1):
                    if not self._rungs.paused_at(record, level):
                        continue
                    if record.number in top:
                        resume = record.number if resume is None else resume
                        if not final:
                            return RungPromotion(resume=resume, retire=tuple(retire), outranked=outranked)
                        continue
                    here = _Standing(level, rank, len(scored), keep, False, score, cutoff, ranking, diverged)
                    outranked[record.number] = self._not_promoted(here, context, group, members)
                    if resume is None:
                        retire.append(record.number)
        return RungPromotion(resume=resume, retire=tuple(retire), outranked=outranked)

    def _groups(self, history: Sequence[TrialRecord]) -> dict[int, list[TrialRecord]]:
        """The trials of ``history`` by group: trial numbers ``g * population`` to ``(g + 1) * population - 1``."""
        groups: dict[int, list[TrialRecord]] = {}
        for record in history:
            groups.setdefault(record.number // self.population, []).append(record)
        return groups

    def _not_promoted(self, here: _Standing, context: SearchContext, group: int,
                      members: Sequence[TrialRecord]) -> str:  # fmt: skip
        """``not promoted: ranked 5 of 9 at the rung at resource 1 of group 0 (its 9 trials, #0-#8), by its loss there
        (0.93; the last kept: 0.71); the rung promotes its top 3 (...)``."""
        first = group * self.population
        last = max(r.number for r in members)
        size = len(members)
        if size >= self.population:
            trials = f"its {size} trials, #{first}-#{last}"
        else:
            trials = f"{size} of its {self.population} trials, #{first}-#{last}: no new trial may start to fill it"
        return (
            f"not promoted: {here.placing(context, f' of group {group} ({trials})')}; the rung promotes its top "
            f"{here.keep} ({here.peers} // eta={self.eta:g}, at least the best, and any tied with the last of them) "
            "once every trial of the group has reached it or ended"
        )


def most_aggressive_bracket(min_resource: float, max_resource: float, eta: float) -> int:
    """``s_max``: the largest ``s`` whose first rung, ``max_resource / eta**s``, is not below ``min_resource``
    (``floor(log_eta(max_resource / min_resource))``, counted so that an exact power of ``eta`` computed with a
    rounding error still counts: 1 to 81 by 3 gives 4, 1 to 12 gives 2)."""
    rung_levels(min_resource, max_resource, eta)  # validates the resource arguments
    s = 0
    while max_resource / eta ** (s + 1) >= min_resource * (1 - 1e-9):
        s += 1
    return s


def bracket_sizes(min_resource: float, max_resource: float, eta: float) -> dict[int, int]:
    """Trials dealt to bracket ``s`` in each round of Hyperband's deck: ``round(eta**s)`` (see `Hyperband` for why),
    for every bracket Hyperband plays (none starts below ``min_resource``)."""
    s_max = most_aggressive_bracket(min_resource, max_resource, eta)
    return {s: round(eta**s) for s in range(s_max, -1, -1)}
