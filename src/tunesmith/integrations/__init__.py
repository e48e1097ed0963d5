"""Integrations with other libraries (imported lazily: each needs its library installed).

``tunesmith.integrations.<name>`` imports the module on first use, so ``ts.integrations.keras`` works
without an import of its own; a missing library raises `tunesmith.MissingExtra` naming the extra.

- ``sklearn``: `TunesmithSearchCV`; ``optuna``, ``ray_tune`` (`TunesmithSearch`, a Ray Tune search algorithm),
  ``mlflow``, ``wandb``, ``tensorboard``: see their modules.
- ``lightning``, ``keras``, ``xgboost``, ``transformers``: ``TunesmithCallback(trial, monitor=...)``;
  ``lightgbm``: ``tunesmith_callback(trial, monitor=...)``. Each reports every epoch or boosting round
  to the trial and stops the training run when the study stops the trial.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = frozenset({"keras", "lightgbm", "lightning", "mlflow", "optuna", "ray_tune", "sklearn", "tensorboard",
                      "transformers", "wandb", "xgboost"})  # fmt: skip


def __getattr__(name: str) -> ModuleType:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
