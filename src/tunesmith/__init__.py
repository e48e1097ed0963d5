"""tunesmith: budget-aware hyperparameter tuning with the discipline built in.

Example:
    >>> import tunesmith as ts
    >>> space = ts.Space({"lr": ts.Float(1e-5, 1e-1, log=True)})
    >>> study = ts.Study(space, metric=ts.Metric("loss", "min"), budget=ts.Budget(trials=20), storage="memory")
"""

from typing import Any

from tunesmith import choose, discipline, integrations, lr, pareto
from tunesmith._study_admin import CopiedStudy, DeletedStudy, copy_study, delete_study
from tunesmith.budget import Budget
from tunesmith.decision import Decision
from tunesmith.discipline import Fidelity, Plan, Verdict, evaluate_baseline, finalize, plan, priors, validate_top
from tunesmith.errors import (
    BudgetExhausted,
    ConfigError,
    DeletionRefused,
    Infeasible,
    MissingExtra,
    SearchConverged,
    SearchSpaceExhausted,
    SpaceError,
    StorageError,
    StorageLost,
    StorageUnavailable,
    StudyInUse,
    StudyNotFound,
    TunesmithError,
)
from tunesmith.executors import SimulatedExecutor
from tunesmith.objective import Guardrail, Metric
from tunesmith.samplers import CMAES, GP, TPE, Auto, Grid, Random, Sampler, SearchContext, Sobol
from tunesmith.schedulers import ASHA, FIFO, PB2, PBT, Hyperband, MedianStop, Scheduler, SuccessiveHalving
from tunesmith.space import Above, Below, Choice, Fixed, Float, Forbidden, Int, Param, Space, SpaceWarning
from tunesmith.study import Observer, Study, StudyResult, WarmStart, WarmStartWarning
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``TunesmithSearchCV`` is imported on first use (it loads scikit-learn's model selection)."""
    if name == "TunesmithSearchCV":
        from tunesmith.integrations.sklearn import TunesmithSearchCV

        return TunesmithSearchCV
    raise AttributeError(f"module 'tunesmith' has no attribute {name!r}")


__all__ = [
    "ASHA",
    "PBT",
    "PB2",
    "Hyperband",
    "MedianStop",
    "SimulatedExecutor",
    "SuccessiveHalving",
    "FIFO",
    "Fidelity",
    "Plan",
    "TunesmithSearchCV",
    "Verdict",
    "choose",
    "discipline",
    "integrations",
    "pareto",
    "evaluate_baseline",
    "finalize",
    "validate_top",
    "plan",
    "priors",
    "CMAES",
    "GP",
    "TPE",
    "Auto",
    "Budget",
    "BudgetExhausted",
    "Choice",
    "ConfigError",
    "CopiedStudy",
    "Decision",
    "DeletedStudy",
    "DeletionRefused",
    "Fixed",
    "Float",
    "Grid",
    "Guardrail",
    "Infeasible",
    "Int",
    "Metric",
    "MissingExtra",
    "Observer",
    "Param",
    "Random",
    "Sampler",
    "Scheduler",
    "SearchContext",
    "SearchConverged",
    "SearchSpaceExhausted",
    "Sobol",
    "Space",
    "SpaceError",
    "SpaceWarning",
    "Forbidden",
    "Above",
    "Below",
    "StorageError",
    "StorageLost",
    "StorageUnavailable",
    "Study",
    "StudyInUse",
    "StudyNotFound",
    "StudyResult",
    "WarmStart",
    "WarmStartWarning",
    "Trial",
    "TrialKind",
    "TrialRecord",
    "TrialState",
    "TunesmithError",
    "__version__",
    "lr",
    "copy_study",
    "delete_study",
]
