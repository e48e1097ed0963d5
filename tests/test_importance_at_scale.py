"""Importance of thousands of trials costs seconds and decides as the full computation would. `tunesmith status` on
10,000 trials took 10 s: 45 random forests, every tree fitted on all the trials, four refits of 64 trees for the
"little effect" check, and all 39 deals of the permutation test even once two of them had settled it."""

from __future__ import annotations

import importlib
import time

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.analysis.importance import ALPHA, MAX_TREE_TRIALS, PERMUTATIONS, importance
from tunesmith.errors import ConfigError
from tunesmith.trial import TrialRecord, TrialState

# The module, not the function `tunesmith.analysis` exports under its name.
importance_module = importlib.import_module("tunesmith.analysis.importance")

SPACE = ts.Space(
    {
        "lr": ts.Float(1e-5, 1e-1, log=True),
        "dropout": ts.Float(0.0, 0.5),
        "width": ts.Int(16, 1024, log=True),
        "optimizer": ts.Choice(["adam", "sgd"]),
    }
)


def _records(trials: int, effect: float, seed: int = 0) -> list[TrialRecord]:
    """Random configurations whose loss is ``effect`` times a planted function (lr first, dropout second) plus
    noise of standard deviation 0.05."""
    rng = np.random.default_rng(seed)
    records = []
    for number in range(trials):
        params = SPACE.sample(rng)
        planted = (np.log10(params["lr"]) + 3) ** 2 + 0.4 * params["dropout"]
        loss = effect * planted + 0.05 * float(rng.normal())
        records.append(TrialRecord(number, params, number, TrialState.COMPLETE, {"loss": loss}))
    return records


@pytest.mark.slow
def test_shares_from_bootstraps_of_4000_trials_are_those_of_a_forest_on_all_10000_at_the_shown_resolution() -> None:
    """Shares are shown in whole percentage points; bootstraps of 4,000 trials move them by a tenth of one at most
    (0.12 points on lr; hundredths of one before the forest was fitted on the ranks)."""
    records = _records(10_000, effect=1.0)
    capped = importance(records, SPACE, "loss", pairs=False)
    full = importance(records, SPACE, "loss", pairs=False, max_tree_trials=None)
    assert MAX_TREE_TRIALS == 4000
    for name in ("lr", "dropout", "width", "optimizer"):
        ours, theirs = capped.of(name), full.of(name)
        assert abs(ours.mean - theirs.mean) < 0.0025, (name, ours, theirs)
    assert capped.ranking()[:2] == full.ranking()[:2] == ["lr", "dropout"]


def test_checking_a_little_effect_on_10000_trials_costs_a_fraction_of_the_importance() -> None:
    """The refit without a parameter had 64 trees on every trial and cost a third of the importance itself per
    parameter checked (status checks four on a study of five). It now has 32 trees on bootstraps of 4,000 trials:
    a tenth."""
    records = _records(10_000, effect=1.0)
    started = time.process_time()
    result = importance(records, SPACE, "loss", pairs=False)
    measured = time.process_time() - started
    started = time.process_time()
    lost = result.dropped("width")
    checked = time.process_time() - started
    assert lost is not None and lost[0] + 1.645 * lost[1] < 0.05, lost
    assert checked < 0.2 * measured, f"the check took {checked:.2f}s of CPU, the importance {measured:.2f}s"


def test_a_permutation_test_stops_once_a_deal_reaches_the_trials_own_fit() -> None:
    """An effect too weak for 40 trials to show: the forest predicts 4% of the ranks out of bag, and deals reach
    that."""
    result = importance(_records(40, effect=0.03, seed=4), SPACE, "loss")
    assert not result.shown and result.explained is not None and result.explained > 0.0
    assert result.deals < PERMUTATIONS and result.chance is not None and result.chance > ALPHA, result
    assert f"by forests fitted on {result.deals} random deals" in (result.explained_note() or "")


def test_a_shown_effect_is_measured_against_every_deal() -> None:
    result = importance(_records(40, effect=1.0), SPACE, "loss")
    assert result.shown
    assert result.deals == PERMUTATIONS and result.chance == 1 / (PERMUTATIONS + 1)
    assert f"by forests fitted on {PERMUTATIONS} random deals" in (result.explained_note() or "")


@pytest.mark.slow
def test_stopping_the_permutation_test_early_decides_as_the_full_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Studies of 12 trials with a weak effect, shown in some and not in others: the same decision either way, and
    the same p-value wherever all the deals were fitted."""
    sequential = [importance(_records(12, effect=0.3, seed=seed), SPACE, "loss", seed=seed) for seed in range(8)]
    monkeypatch.setattr(importance_module, "_FEWEST_DEALS", PERMUTATIONS)  # never stops before the last deal
    full = [importance(_records(12, effect=0.3, seed=seed), SPACE, "loss", seed=seed) for seed in range(8)]
    assert [r.shown for r in sequential] == [r.shown for r in full]
    assert any(r.shown for r in full) and any(r.deals < PERMUTATIONS for r in sequential)
    for early, whole in zip(sequential, full, strict=True):
        assert early.deals < PERMUTATIONS or early.chance == whole.chance


def test_a_bootstrap_of_fewer_than_4_trials_is_refused_with_the_fix() -> None:
    refused = r"max_tree_trials must be an integer >= 4 or None, got max_tree_trials=2: use the default 4000"
    with pytest.raises(ConfigError, match=refused):
        importance(_records(20, effect=1.0), SPACE, "loss", max_tree_trials=2)
