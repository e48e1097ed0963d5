"""``sampler="auto"`` for studies with several objectives: GP (EHVI), MOTPE or NSGA-II, and why.

The rule follows where each method pays: the GP with expected hypervolume improvement is the most
sample-efficient while its per-suggestion cost stays small (one GP per objective; up to
`MO_GP_MAX_TRIALS` trials), MOTPE keeps milliseconds per suggestion for mid budgets, large or
mostly categorical spaces and cheap trials, and NSGA-II takes budgets large enough for tens of
generations, where an evolutionary search keeps improving the whole front at no model cost.
"""

from __future__ import annotations

from tunesmith._text import counted
from tunesmith.context import SearchContext
from tunesmith.samplers.base import Sampler
from tunesmith.samplers.gp import GP
from tunesmith.samplers.nsga2 import NSGA2
from tunesmith.samplers.tpe import TPE
from tunesmith.space import Choice, Space

__all__ = ["MO_GP_MAX_DIMS", "MO_GP_MAX_TRIALS", "MO_NSGA2_MIN_TRIALS", "choose_multiobjective"]

MO_GP_MAX_DIMS = 12  # as for one objective: past this, lengthscales are hard to learn from few trials
MO_GP_MAX_TRIALS = 300  # k GPs of up to 300 points stay well under a second per suggestion
# NSGA-II pays once the budget buys 25 generations of its population (40): below that, MOTPE's
# model finds the front with fewer trials.
MO_NSGA2_MIN_TRIALS = 1000
CHEAP_TRIAL_SECONDS = 1.0


def choose_multiobjective(space: Space, context: SearchContext, gp: GP, tpe: TPE, nsga2: NSGA2) -> tuple[Sampler, str]:
    """The sampler for a study with several objectives and the reason, in words."""
    dims = [space[n] for n in space.dimensions]
    d = len(dims)
    k = len(context.objectives)
    n_cat = sum(isinstance(p, Choice) for p in dims)
    trials = context.budget.trials
    cost = context.trial_cost
    if trials is not None and trials > MO_NSGA2_MIN_TRIALS:
        return nsga2, (
            f"nsga2: {k} objectives and a budget of {trials} trials (more than {MO_NSGA2_MIN_TRIALS}) - "
            f"{trials // nsga2.population_size} generations of {nsga2.population_size}: NSGA-II keeps "
            "spreading and advancing the front at no model cost"
        )
    tpe_start = f"after {tpe.startup_trials(space)} Sobol trials, multi-objective TPE (MOTPE)"
    if d > MO_GP_MAX_DIMS:
        return tpe, f"tpe: {k} objectives and {d} parameters (more than {MO_GP_MAX_DIMS}) - {tpe_start} scales"
    if n_cat * 2 > d:
        return tpe, f"tpe: {k} objectives and {n_cat} of {d} parameters categorical - {tpe_start} models categories"
    if trials is not None and trials > MO_GP_MAX_TRIALS:
        return tpe, (
            f"tpe: {k} objectives and a budget of {trials} trials (more than {MO_GP_MAX_TRIALS}) - {tpe_start} "
            "stays cheap per suggestion at this scale"
        )
    if cost is not None and cost < CHEAP_TRIAL_SECONDS:
        return tpe, f"tpe: {k} objectives and trials of about {cost:.2g}s - too cheap for a GP each; {tpe_start}"
    how = "expected hypervolume improvement" if k <= 3 else "ParEGO (random Chebyshev scalarisations)"
    return gp, (
        f"gp: {k} objectives, {counted(d, 'parameter')} and {context.budget.trial_words()} - after "
        f"{gp.startup_trials(space)} Sobol trials, "
        f"one GP per objective with {how} is the most sample-efficient"
        + (f" (MOTPE takes over after {MO_GP_MAX_TRIALS} trials)" if trials is None else "")
    )
