"""The permutation test behind `diagnose`: how often chance alone explains a signature as well, counting the
search over parameters, cuts and every signature tested.

Each shuffle deals the judged trials' signatures to their configurations at random (one permutation shared by
every signature, so a trial keeps one signature). For each signature, the statistic is the best F1 of a rule
on one parameter, over every parameter and every cut between observed values. Signatures differ in base rate,
so their F1s are not compared directly: each is turned into its own permutation p-value, and a signature's
p-value is then the share of shuffles whose smallest p-value over the signatures is at least as small
(Westfall and Young's min-P). A study where no parameter matters then blames one in at most ``alpha`` of cases
however many signatures it shows; testing each signature at ``alpha`` blamed one in about 10% of such studies
of 30 trials with three failure signatures.

A "signature" here is any label of a trial's failure: a curve's signature, or a failure no curve shows (a crash by
its cause, a metric not finite; `curves.Failure`), all in one family. Where failures of every kind were dealt at
random (2,000 seeded studies each), a rule was kept in 3.2% of studies of 40 trials without curves (NaN results, two
crash types, a NaN second objective; 95% interval 2.5-4.1%) and in 3.8% of studies of 30 trials with curves and two
crash types (3.0-4.7%).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np

from tunesmith.space import Choice, Float, Int, Space
from tunesmith.trial import TrialRecord

__all__ = ["PERMUTATIONS", "f1", "family_p_values"]

# The shuffles of the permutation test (seeded: the same trials give the same diagnosis).
PERMUTATIONS = 199

K = TypeVar("K")

# Scores closer than this are equal (the same F1 reached through different sums).
_TOLERANCE = 1e-12


def f1(matched: np.ndarray, covered: np.ndarray, total: int | np.ndarray) -> np.ndarray:
    """The F1 score of a rule covering ``covered`` trials, ``matched`` of the ``total`` with the signature."""
    return 2.0 * matched / np.maximum(covered + total, 1)


def family_p_values(judged: Sequence[TrialRecord], positives: Mapping[K, np.ndarray], space: Space) -> dict[K, float]:
    """The p-value of the best rule for each signature (``positives``: which judged trials have it), adjusted
    for every signature tested: the share of shuffles (the unshuffled labels counted as one) whose smallest
    per-signature p-value is at most this signature's."""
    if not positives:
        return {}
    rng = np.random.default_rng(0)
    # Row 0 keeps the trials' own signatures; the other rows are the shuffles.
    orders = np.array([np.arange(len(judged))] + [rng.permutation(len(judged)) for _ in range(PERMUTATIONS)])
    rules = _RuleSearch(judged, space)
    single = {key: _own_p_values(rules.best_scores(positive, orders)) for key, positive in positives.items()}
    smallest = np.min(np.array(list(single.values())), axis=0)
    rows = PERMUTATIONS + 1
    return {key: int((smallest <= p[0] + _TOLERANCE).sum()) / rows for key, p in single.items()}


def _own_p_values(scores: np.ndarray) -> np.ndarray:
    """Each row's p-value within the rows' own distribution: the share of rows scoring at least as well."""
    ranked = np.sort(scores)
    at_least = len(scores) - np.searchsorted(ranked, scores - _TOLERANCE, side="left")
    return at_least / len(scores)


class _RuleSearch:
    """Every rule `diagnose` considers, laid out once so the best F1 of many labellings is found together:
    each option of a categorical parameter (``= option``), each cut of a numeric one (``>`` and ``<``)."""

    def __init__(self, judged: Sequence[TrialRecord], space: Space) -> None:
        self._insides: list[np.ndarray] = []  # trials holding each option
        self._cuts: list[tuple[np.ndarray, np.ndarray]] = []  # per numeric parameter: trial order, cut sizes
        for name in space.dimensions:
            param = space[name]
            if isinstance(param, Choice) and len(param.options) > 1:
                keys = [json.dumps(r.params[name]) if name in r.params else None for r in judged]
                for option in param.options:
                    inside = np.array([k == json.dumps(option) for k in keys], dtype=bool)
                    if inside.any():
                        self._insides.append(inside)
            elif isinstance(param, Float | Int):
                values = np.array(
                    [float(r.params[name]) if isinstance(r.params.get(name), int | float) else math.nan for r in judged]
                )
                active = np.flatnonzero(np.isfinite(values))
                order = active[np.argsort(values[active], kind="stable")]
                distinct, first = np.unique(values[order], return_index=True)
                if len(distinct) >= 2:
                    self._cuts.append((order, first[1:]))

    def best_scores(self, positive: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """The best rule's F1 for the signature ``positive`` dealt by each row of ``orders`` (trial ``j`` takes the
        signature of trial ``orders[i, j]``); 0 where no rule exists."""
        deals = positive[orders]
        # Every deal gives the signature to as many trials, so an F1's denominator (covered + total) is the same
        # for every deal: 2 / (covered + total) is computed once per rule.
        total = int(positive.sum())
        best = np.zeros(len(deals))
        for inside in self._insides:
            best = np.maximum(best, deals[:, inside].sum(axis=1) * (2.0 / max(int(inside.sum()) + total, 1)))
        for order, below_n in self._cuts:
            cumulative = np.cumsum(deals[:, order], axis=1, dtype=np.int32)
            below_pos = cumulative[:, below_n - 1]
            above_pos = cumulative[:, -1:] - below_pos
            f1_below = below_pos * (2.0 / np.maximum(below_n + total, 1))
            f1_above = above_pos * (2.0 / np.maximum(len(order) - below_n + total, 1))
            best = np.maximum(best, np.maximum(f1_below.max(axis=1), f1_above.max(axis=1)))
        return best
