"""``sampler="auto"``: pick a search method from the space, the budget and the trial cost, and say why."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunesmith._text import counted
from tunesmith.context import SearchContext
from tunesmith.samplers._auto_multiobjective import MO_GP_MAX_TRIALS, choose_multiobjective
from tunesmith.samplers._objectives import is_multiobjective
from tunesmith.samplers._tried import next_number
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.cmaes import CMAES
from tunesmith.samplers.gp import GP
from tunesmith.samplers.grid import Grid
from tunesmith.samplers.nsga2 import NSGA2
from tunesmith.samplers.tpe import TPE
from tunesmith.space import Choice, Space
from tunesmith.trial import TrialRecord

__all__ = ["Auto"]

GRID_MAX_PARAMS = 3
GRID_MAX_VALUES = 5
GP_MAX_DIMS = 12  # past this a GP's lengthscales are hard to learn from a few dozen trials
GP_MAX_TRIALS = 300  # past this the GP's cubic cost outgrows its gain; TPE stays in milliseconds
CHEAP_TRIAL_SECONDS = 1.0  # when a trial is this cheap, the GP's own time would dominate
# CMA-ES takes the budgets past GP_MAX_TRIALS when the space is continuous-dominated: it costs
# O(d^2) per suggestion whatever the history's length, and it keeps converging where the GP's edge
# (sample efficiency in the first hundred or so trials) is spent. 300 trials are also enough for it:
# its population is 4 + 3 ln d (10 to 16 trials for 5 to 50 parameters), so ~20 generations or more
# after the Sobol start. Categorical parameters are sampled independently of the rest, so they may be
# at most a quarter of the parameters, and CMA-ES needs two numeric ones.
CMAES_MIN_TRIALS = GP_MAX_TRIALS
CMAES_MAX_CATEGORICAL_SHARE = 0.25


class Auto(Sampler):
    """Follows the guide's method table.

    * Grid for tiny spaces: at most 3 varying parameters with at most 5 values each.
    * Otherwise a quasi-random (Sobol) start, then a model:

      - GP for low-dimensional searches (at most 12 parameters, not mostly categorical) whose
        trials are expensive or of unknown cost, while the budget is at most 300 trials; an
        unbounded search moves on after 300 trials, to keep each suggestion cheap: to CMA-ES
        (started from the GP's best trials) on a continuous-dominated space, else to TPE;
      - CMA-ES for continuous-dominated spaces (at least two numeric parameters, at most a quarter
        categorical) with a budget of more than 300 trials, whatever their number or cost;
      - TPE for large or mostly categorical spaces, large budgets and cheap trials, and under a
        multi-fidelity scheduler (``context.rungs``) unless the trial budget is at most 300: early
        stopping deals hundreds of configurations, most seen only at a low rung, which TPE reads
        (`tunesmith.fidelity.rung_view`) at milliseconds per suggestion; CMA-ES cannot use them.

    With several objectives (`tunesmith.samplers._auto_multiobjective`): the GP with expected
    hypervolume improvement up to 300 trials, MOTPE for larger budgets (up to 1000), large or mostly
    categorical spaces and cheap trials, NSGA-II past 1000 trials.
    """

    name = "auto"

    def __init__(self) -> None:
        self._gp = GP()
        self._tpe = TPE()
        self._cmaes = CMAES()
        self._nsga2 = NSGA2()
        # After an unbounded GP search: its first 300 trials are CMA-ES's start, the best of them its mean.
        self._handover = CMAES(n_startup=GP_MAX_TRIALS)

    @staticmethod
    def continuous_dominated(space: Space) -> bool:
        """Whether CMA-ES suits ``space``: two or more numeric parameters, at most a quarter categorical."""
        dims = [space[n] for n in space.dimensions]
        n_cat = sum(isinstance(p, Choice) for p in dims)
        return len(dims) - n_cat >= 2 and n_cat <= CMAES_MAX_CATEGORICAL_SHARE * len(dims)

    def choose(self, space: Space, context: SearchContext, *, warm_points: int | None = None) -> tuple[Sampler, str]:
        """The sampler to use and the reason, in words.

        Args:
            space: the space searched.
            context: what the study knows besides its history (its budget above all).
            warm_points: how many warm-start points the samplers learn from (``None``: not known here). Each is
                one more finished trial to a model's quasi-random start, which therefore ends that much sooner;
                the reason counts them, or when they are not known, says what they would change.
        """
        sampler, why = self._choose(space, context)
        startup = getattr(sampler, "startup_trials", None)
        if callable(startup):
            why += _start_shortened(sampler.name, int(startup(space)), context.budget.trials, warm_points)
        elif isinstance(sampler, Grid) and warm_points:
            # The grid's count above is what its own trials visit: a warm start neither shortens nor uses it up.
            plural = "s count" if warm_points > 1 else " counts"
            why += (
                f"; its {warm_points} warm-start point{plural} for none of them: a grid learns nothing from earlier "
                "results and runs each configuration itself"
            )
        return sampler, why

    def _choose(self, space: Space, context: SearchContext) -> tuple[Sampler, str]:
        dims = [space[n] for n in space.dimensions]
        d = len(dims)
        if 0 < d <= GRID_MAX_PARAMS and all(p.cardinality() <= GRID_MAX_VALUES for p in dims):
            size = space.grid_size()
            trials = context.budget.trials
            if trials is not None and trials < size:
                # The budget covers part of the grid: in grid order it would be one corner, all first values.
                return Grid(shuffle=True), (
                    f"grid: {counted(d, 'parameter')} with at most {GRID_MAX_VALUES} values each ({size} "
                    f"configurations), visited in a shuffled order - a budget of {trials} trials covers {trials} of "
                    "them"
                )
            return Grid(), (
                f"grid: {counted(d, 'parameter')} with at most {GRID_MAX_VALUES} values each "
                f"({size} configurations) - a tiny space is covered exhaustively"
            )
        if is_multiobjective(context):
            return choose_multiobjective(space, context, self._gp, self._tpe, self._nsga2)
        n_cat = sum(isinstance(p, Choice) for p in dims)
        trials = context.budget.trials
        cost = context.trial_cost
        if context.rungs and (trials is None or trials > GP_MAX_TRIALS):
            return self._tpe, (
                f"tpe: early stopping at {counted(len(context.rungs) - 1, 'rung')} and "
                + context.budget.trial_words()
                + f" - after {self._tpe.startup_trials(space)} Sobol trials, TPE reads hundreds of trials stopped "
                "at low rungs at milliseconds per suggestion, where a GP's cost grows with them"
            )
        if trials is not None and trials > CMAES_MIN_TRIALS and self.continuous_dominated(space):
            n_num = d - n_cat
            variant = "sep-CMA-ES" if self._cmaes.is_separable(space) else "CMA-ES"
            return self._cmaes, (
                f"cmaes: a budget of {trials} trials (more than {CMAES_MIN_TRIALS}) over {n_num} numeric of {d} "
                f"parameters - past the point where a GP pays for its cost; after "
                f"{self._cmaes.startup_trials(space)} Sobol trials, {variant} keeps converging at O(d^2) per "
                "suggestion" + (" (choices sampled by TPE)" if n_cat else "")
            )
        if d > GP_MAX_DIMS:
            return self._tpe, (
                f"tpe: {d} parameters (more than {GP_MAX_DIMS}) - after {self._tpe.startup_trials(space)} Sobol "
                "trials, TPE scales to large spaces at milliseconds per suggestion"
            )
        if n_cat * 2 > d:
            return self._tpe, (
                f"tpe: {n_cat} of {d} parameters are categorical - after {self._tpe.startup_trials(space)} Sobol "
                "trials, TPE models categories directly"
            )
        if trials is not None and trials > GP_MAX_TRIALS:
            return self._tpe, (
                f"tpe: a budget of {trials} trials (more than {GP_MAX_TRIALS}) - after "
                f"{self._tpe.startup_trials(space)} Sobol trials, TPE stays cheap per suggestion at this scale"
            )
        if cost is not None and cost < CHEAP_TRIAL_SECONDS:
            return self._tpe, (
                f"tpe: trials take about {cost:.2g}s - too cheap for a GP's per-suggestion cost; "
                f"{self._tpe.startup_trials(space)} Sobol trials first"
            )
        successor = "CMA-ES" if self.continuous_dominated(space) else "TPE"
        return self._gp, (
            f"gp: {counted(d, 'parameter')} and {context.budget.trial_words()} - after "
            f"{self._gp.startup_trials(space)} Sobol trials, "
            "Gaussian-process BO is the most sample-efficient for expensive low-dimensional searches"
            + (f" ({successor} takes over after {GP_MAX_TRIALS} trials)" if trials is None else "")
        )

    def suggest(
        self, space: Space, history: Sequence[TrialRecord], rng: np.random.Generator, context: SearchContext
    ) -> dict[str, Any]:
        sampler, _ = self.choose(space, context)
        # The study's own trials, not the history's length: a warm start's points are no trials of the budget the
        # choice read (320 of them made a 20-trial GP search all CMA-ES), and the GP keeps at most `GP.max_points`.
        numbered = next_number(history)
        if sampler is self._gp and is_multiobjective(context) and numbered >= MO_GP_MAX_TRIALS:
            sampler = self._tpe  # an unbounded multi-objective GP search goes on with MOTPE
        elif sampler is self._gp and numbered >= GP_MAX_TRIALS:
            # CMA-ES once the GP's trials have all finished (while some run, TPE bridges the gap).
            ready = self.continuous_dominated(space) and not self._handover.in_startup(space, history)
            sampler = self._handover if ready else self._tpe
        return sampler.suggest(space, history, rng, context)


def _start_shortened(model: str, first: int, trials: int | None, warm_points: int | None) -> str:
    """What the reason adds about a model's quasi-random start of ``first`` Sobol trials: how much of the trial
    budget the model chooses. Warm-start points count towards the start: the samplers read them as finished
    trials ahead of the study's own (`tunesmith.study._known.Known.for_samplers`)."""
    if warm_points is None:  # not known: say what they would change where it changes the conclusion
        if trials is None or trials > first:
            return ""
        some = first - trials + 1
        share = f"with {some} or more, {model} chooses part of the budget, with {first} or more all of it"
        return (
            f"; but a budget of {trials} trials is no more than the {first} Sobol trials it starts with, so without "
            f"a warm start the whole search is quasi-random, as sampler='sobol' would run it (warm-start points count "
            f"among those {first}: " + (share if some < first else f"with {first} or more, {model} chooses it") + ")"
        )
    left = max(0, first - warm_points)
    if left > 0 and trials is not None and trials <= left:
        which = (
            f"left after {warm_points} warm-start points took the place of the rest"
            if warm_points
            else "it starts with"
        )
        return (
            f"; but a budget of {trials} trials is no more than the {left} Sobol trials {which}, so the whole search "
            "is quasi-random, as sampler='sobol' would run it"
        )
    if warm_points == 0:
        return ""
    if left == 0:
        return f"; its {warm_points} warm-start points stand for all {first} Sobol trials: {model} chooses every trial"
    plural = "s" if left > 1 else ""
    return (
        f"; its {warm_points} warm-start points stand for {warm_points} of the {first} Sobol trials: {model} chooses "
        f"after {left} Sobol trial{plural}"
    )
