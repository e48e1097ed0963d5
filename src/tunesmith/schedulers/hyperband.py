"""Hyperband: brackets of asynchronous successive halving that start at different resources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._validate import integer
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.schedulers._deck import Deck
from tunesmith.schedulers.base import FinishLine, Promotion, Scheduler
from tunesmith.schedulers.successive_halving import (
    ASHA,
    FewPeers,
    Mode,
    RungPromotion,
    _check_options,
    bracket_sizes,
    most_aggressive_bracket,
)
from tunesmith.trial import TrialKind, TrialRecord

__all__ = ["Hyperband", "most_aggressive_bracket"]


class Hyperband(Scheduler):
    """Hyperband: brackets of successive halving that start at different resources.

    Bracket ``s`` starts its rungs at ``max_resource / eta**s``; bracket 0 trains every trial to
    ``max_resource`` (plain random search), the most aggressive bracket (``s_max``, the largest ``s`` with
    ``max_resource / eta**s >= min_resource``) starts at ``min_resource`` when ``max_resource / min_resource``
    is a power of ``eta``, else at the lowest such level above it (1, 12, eta 3: 1.33, 4, 12), so no trial is
    judged below ``min_resource``. Trials are dealt to brackets in proportion to ``eta**s`` (`bracket_sizes`),
    by trial number, so the assignment needs no state. Within a bracket, ASHA rules apply.

    Hyperband's own sizes, ``(s_max + 1) / (s + 1) * eta**s``, give each bracket the same resource
    when every rung is filled synchronously; in stop mode a configuration of bracket ``s`` costs
    about ``max_resource / eta**s * (1 + s * (1 - 1/eta))``, so those sizes would spend most of the
    resource on the conservative brackets and evaluate only ~6x the configurations of random search
    (81 steps, eta 3). Dealt by ``eta**s``, the most aggressive bracket still gets under a third of the
    resource and bracket 0 (random search) about a tenth, and ~10x the configurations are evaluated.

    Args:
        min_resource, max_resource, eta: as for `ASHA`.
        brackets: how many brackets, most aggressive first (default: all).
        mode: ``"stop"`` or ``"promote"`` within each bracket.
        few_peers: as for `ASHA`, within each bracket (default ``"vouched"``: with five brackets,
            each bracket's first trials would otherwise train to the end on the word of one peer).
        predict_final: as for `ASHA`, within each bracket.
    """

    name = "hyperband"

    def __init__(self, min_resource: float = 1, max_resource: float = 81, eta: float = 3, brackets: int | None = None,
                 mode: Mode = "stop", few_peers: FewPeers = "vouched",
                 predict_final: bool = True) -> None:  # fmt: skip
        s_max = most_aggressive_bracket(min_resource, max_resource, eta)
        if s_max == 0:  # bracket 0 alone: every trial trains to max_resource, a plain random search
            raise ConfigError(
                f"Hyperband's brackets start their rungs at max_resource / eta**s, each at least min_resource, but "
                f"max_resource / min_resource = {max_resource / min_resource:g} is below eta={eta:g}: its only bracket "
                "trains every trial to max_resource and stops none; pass a smaller eta (at most "
                f"{max_resource / min_resource:g}) or min_resource (at most {max_resource / eta:g}), or use ASHA, "
                "whose rungs start at min_resource"
            )
        if brackets is None:
            brackets = s_max + 1
        integer("brackets", brackets, minimum=1, maximum=s_max + 1)
        _check_options(mode, few_peers, predict_final)
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.eta = eta
        self.brackets = brackets
        self.mode = mode
        self.few_peers = few_peers
        self.predict_final = predict_final
        self.pauses = mode == "promote"
        self._bracket_ids = list(range(s_max, s_max - brackets, -1))
        self._asha = {
            s: ASHA(max_resource / eta**s, max_resource, eta, mode, few_peers, predict_final) if s > 0 else None
            for s in self._bracket_ids
        }
        sizes = bracket_sizes(min_resource, max_resource, eta)
        deck = [s for s in self._bracket_ids for _ in range(sizes[s])]
        self._deck = [deck[i] for i in np.random.default_rng(0).permutation(len(deck))]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "min_resource": self.min_resource, "max_resource": self.max_resource,
                "eta": self.eta, "brackets": self.brackets, "mode": self.mode, "few_peers": self.few_peers,
                "predict_final": self.predict_final}  # fmt: skip

    def predicts_final(self) -> bool:
        return self.predict_final

    def rungs(self) -> tuple[float, ...]:
        """Every bracket's rungs, once each: brackets compute the same level apart (``100 / 3**4`` and
        ``100 / 3**5 * 3``), so levels equal to a relative ``1e-9`` are one rung."""
        levels: list[float] = []
        for level in sorted({float(self.max_resource)}.union(*(a.rungs() for a in self._asha.values() if a))):
            if not levels or level > levels[-1] * (1 + 1e-9):
                levels.append(level)
        return tuple(levels)

    def full_resource_share(self) -> float:
        """The brackets' shares, weighted by how often trials are dealt to each (bracket 0 trains fully)."""
        shares = [1.0 if (asha := self._asha[s]) is None else asha.full_resource_share() for s in self._deck]
        return sum(shares) / len(shares)

    def deck(self) -> Deck | None:
        """The brackets' rungs and the order trials are dealt to them, in stop mode (``None`` in promote mode)."""
        if self.mode != "stop":
            return None
        brackets = tuple(self._bracket_ids)
        levels = tuple(() if (asha := self._asha[s]) is None else tuple(asha.rungs()[:-1]) for s in brackets)
        order = tuple(brackets.index(s) for s in self._deck)
        return Deck(levels, order, float(self.max_resource), float(self.eta), self.few_peers == "vouched")

    def finish_line(self, number: int) -> FinishLine | None:
        """Within the trial's bracket, as `ASHA.finish_line` (bracket 0 stops none: from the start), in stop mode."""
        if self.mode != "stop":
            return None
        asha = self._asha[self.bracket_of(number)]
        return FinishLine(0.0, float(self.max_resource)) if asha is None else asha.finish_line(number)

    def bracket_of(self, number: int) -> int:
        """The bracket (``s``) of trial ``number``."""
        return self._deck[number % len(self._deck)]

    def _members(self, bracket: int, history: Sequence[TrialRecord]) -> list[TrialRecord]:
        return [r for r in history if self.bracket_of(r.number) == bracket]

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        bracket = self.bracket_of(trial.number)
        asha = self._asha[bracket]
        if asha is None:
            return Decision.CONTINUE
        return asha.decide(trial, self._members(bracket, history), context)

    def explain(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> str | None:
        """Why `decide` stopped ``trial``: as `ASHA.explain` says it, within the trial's bracket, which it names."""
        bracket = self.bracket_of(trial.number)
        asha = self._asha[bracket]
        if asha is None:
            return None
        return asha.explain_in(trial, self._members(bracket, history), context, where=f" of bracket {bracket}")

    def promote(self, history: Sequence[TrialRecord], context: SearchContext, *, final: bool) -> Promotion:
        """The first bracket's promotion; in final mode, also the retirements of every bracket with none left to
        make (no new trial will join it) and every bracket's `RungPromotion.outranked`."""
        if not self.pauses:
            return Promotion()
        resume: int | None = None
        retire: list[int] = []
        outranked: dict[int, str] = {}
        for bracket, asha in self._asha.items():
            if asha is None:
                continue
            members = self._members(bracket, history)
            promotion = asha.promote_in(members, context, final=final, where=f" of bracket {bracket}")
            outranked.update(promotion.outranked)
            retire.extend(promotion.retire)  # in final mode only: the trial budget ran out under them
            if resume is None:
                resume = promotion.resume
            if resume is not None and not final:
                break
        reason = "not promoted before the trial budget ran out"
        return RungPromotion(resume=resume, retire=tuple(retire), reason=reason, kind=TrialKind.BUDGET,
                             outranked=outranked)  # fmt: skip
