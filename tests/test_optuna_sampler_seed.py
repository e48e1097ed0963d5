"""`TunesmithSampler(seed=)` gives a study with the same history the same proposals, resumed or not."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["tpe", "gp"])
def test_the_same_history_and_seed_give_the_same_next_trial_resumed_or_not(name: str) -> None:
    """One stateful generator gave a study resumed from 10 trials another 11th point than the uninterrupted run."""
    optuna = pytest.importorskip("optuna")
    from tunesmith.integrations.optuna import TunesmithSampler

    optuna.logging.set_verbosity(optuna.logging.CRITICAL)

    def objective(trial: optuna.Trial) -> float:
        return (trial.suggest_float("x", -5, 5) - 1) ** 2 + trial.suggest_float("y", -5, 5) ** 2

    whole = optuna.create_study(sampler=TunesmithSampler(name, seed=0))
    whole.optimize(objective, n_trials=11)
    resumed = optuna.create_study(sampler=TunesmithSampler(name, seed=0))
    resumed.add_trials(whole.trials[:10])
    resumed.optimize(objective, n_trials=1)
    assert resumed.trials[10].params == whole.trials[10].params
