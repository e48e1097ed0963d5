"""``scheduler="auto"``: pick the early-stopping scheduler from the trial's fidelity, as the planner does.

The rules follow the guide's method table and depend only on what the user states about the
resource axis, never on the number of workers, so every worker and a resumed study resolve
``"auto"`` to the same scheduler:

* no resource axis, or no meaningful early signal: `FIFO` (every trial trains to the end);
* training that can take new hyperparameters from a checkpoint and is long enough for several
  rounds (``adaptive=True``): `PBT`;
* an early signal whose onset is uncertain (``early_signal=None``): `Hyperband`, which hedges
  over where the first rung should sit;
* otherwise `ASHA` (stop mode: needs no checkpoints, keeps every worker busy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.schedulers._deck import Deck
from tunesmith.schedulers.base import Continuation, FinishLine, Promotion, Scheduler
from tunesmith.schedulers.fifo import FIFO
from tunesmith.schedulers.hyperband import Hyperband
from tunesmith.schedulers.pbt import PBT
from tunesmith.schedulers.successive_halving import ASHA, most_aggressive_bracket, rung_levels
from tunesmith.space import Space
from tunesmith.trial import TrialRecord

__all__ = ["PBT_MIN_ROUNDS", "AutoScheduler", "choose_scheduler"]

PBT_MIN_ROUNDS = 4  # PBT needs several exploit/explore rounds within one run to adapt anything


def choose_scheduler(
    max_resource: float | None,
    *,
    min_resource: float = 1,
    eta: float = 3,
    early_signal: bool | None = True,
    adaptive: bool = False,
    workers: int | None = None,
    signal_read: str | None = None,
) -> tuple[Scheduler, str]:
    """The scheduler for a trial whose resource axis is described by the arguments, and why.

    Args:
        max_resource: the full training length in resource units (epochs, iterations); ``None``
            when trials have no resource axis.
        min_resource: the first resource at which trials can be compared.
        eta: the halving rate of successive halving.
        early_signal: ``True`` when rankings at ``min_resource`` already predict the final ones,
            ``None`` when unsure, ``False`` when they do not.
        adaptive: whether training can continue from a checkpoint with new hyperparameters (PBT).
        workers: trials that train at once (``None``: unknown, as for ``scheduler="auto"``, which every worker
            and a resumed study must resolve alike). Fewer than PBT's ``min_population`` pass PBT over for the
            next rule: its population would never train together, so no member would be exploited.
        signal_read: where ``early_signal`` was read (a pilot study's curves), said in the reason; ``None``: stated.
    """
    if max_resource is None:
        return FIFO(), "fifo: trials declare no resource axis, so there is nothing to cut early"
    rung_levels(min_resource, max_resource, eta)  # validates the resource arguments
    passed_over = ""
    if adaptive:
        interval = max(1, math.floor(max_resource / (2 * PBT_MIN_ROUNDS)))
        if max_resource / interval >= PBT_MIN_ROUNDS:
            pbt = PBT(perturbation_interval=interval)
            if workers is None or workers >= pbt.min_population:
                return pbt, (
                    f"pbt: training of {max_resource:g} units can take new hyperparameters from a checkpoint, "
                    f"so a population adapts them every {interval} units instead of a separate tuning phase "
                    "(scheduler='pb2' chooses each replacement's hyperparameters by a model of the members' "
                    "progress instead of at random)"
                )
            passed_over = (
                f"; not pbt, although training can take new hyperparameters from a checkpoint: pbt needs "
                f"{pbt.min_population} trials training at once (min_population) and workers={workers} would "
                f"exploit none, a plain random search - pass workers={pbt.min_population} or more for pbt"
            )
    read = "" if signal_read is None else f" ({signal_read})"
    if early_signal is False:
        return FIFO(), (
            f"fifo: early results do not predict final ones{read}, so stopping early would kill late bloomers"
            f"{passed_over}"
        )
    if early_signal is None and most_aggressive_bracket(min_resource, max_resource, eta) == 0:
        return ASHA(min_resource, max_resource, eta), (
            f"asha: an early signal whose onset is uncertain{read}, but {min_resource:g} to {max_resource:g} units "
            f"span less than one halving (eta={eta:g}), too short for Hyperband's hedging brackets: one rung at "
            f"{min_resource:g}{passed_over}"
        )
    if early_signal is None:
        return Hyperband(min_resource, max_resource, eta), (
            f"hyperband: an early signal whose onset is uncertain{read} - brackets start at {min_resource:g} to "
            f"{max_resource:g} units and hedge against cutting too early{passed_over}"
        )
    stated = (
        "early_signal, an assumption: say 'unsure' or 'no' if a slow start can still win"
        if signal_read is None
        else f"early_signal, {signal_read}"
    )
    return ASHA(min_resource, max_resource, eta), (
        f"asha: taking rankings to stabilise early ({stated}), trials are compared from {min_resource:g} units and "
        f"only the top 1/{eta:g} go on to {max_resource:g}; asynchronous, so no worker waits for a rung to fill"
        f"{passed_over}"
    )


class AutoScheduler(Scheduler):
    """Delegates to the scheduler `choose_scheduler` picks from these settings (see the module docstring).

    Args:
        max_resource, min_resource, eta, early_signal, adaptive: as for `choose_scheduler`.
    """

    name = "auto"

    def __init__(
        self,
        max_resource: float | None = None,
        min_resource: float = 1,
        eta: float = 3,
        early_signal: bool | None = True,
        adaptive: bool = False,
    ) -> None:
        if early_signal not in (True, False, None):
            raise ConfigError(f"early_signal must be true, false or null (unsure), got early_signal={early_signal!r}")
        if not isinstance(adaptive, bool):
            raise ConfigError(f"adaptive must be true or false, got adaptive={adaptive!r}")
        self.max_resource = max_resource
        self.min_resource = min_resource
        self.eta = eta
        self.early_signal = early_signal
        self.adaptive = adaptive
        self.chosen, self.why = choose_scheduler(
            max_resource, min_resource=min_resource, eta=eta, early_signal=early_signal, adaptive=adaptive
        )
        for flag in Scheduler.FLAGS:  # the study reads them off this scheduler, not off the chosen one
            setattr(self, flag, getattr(self.chosen, flag))

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        return self.chosen.decide(trial, history, context)

    def promote(self, history: Sequence[TrialRecord], context: SearchContext, *, final: bool) -> Promotion:
        return self.chosen.promote(history, context, final=final)

    def propose(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> Continuation | None:
        return self.chosen.propose(space, history, rng, context)

    def resumption(self, history: Sequence[TrialRecord]) -> Continuation | None:
        return self.chosen.resumption(history)

    def rungs(self) -> tuple[float, ...]:
        return self.chosen.rungs()

    def predicts_final(self) -> bool:
        return self.chosen.predicts_final()

    def full_resource_share(self) -> float | None:
        return self.chosen.full_resource_share()

    def deck(self) -> Deck | None:
        return self.chosen.deck()

    def explain(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> str | None:
        return self.chosen.explain(trial, history, context)

    def min_concurrent(self) -> int:
        return self.chosen.min_concurrent()

    def first_decision(self) -> tuple[float, str] | None:
        return self.chosen.first_decision()

    def finish_line(self, number: int) -> FinishLine | None:
        return self.chosen.finish_line(number)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "max_resource": self.max_resource,
            "min_resource": self.min_resource,
            "eta": self.eta,
            "early_signal": self.early_signal,
            "adaptive": self.adaptive,
        }
