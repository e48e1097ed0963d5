"""Advice and notes that read the noise the trials carry: per-example standard errors stored with each result, and the
sampling noise of the trials behind a lead of one parameter over another."""

from __future__ import annotations

import numpy as np

import tunesmith as ts
from tunesmith.analysis import importance
from tunesmith.analysis._advice import budget_advice
from tunesmith.analysis.importance import SpreadBeyondNoise


def _per_example_study(spread: float) -> ts.Study:
    """12 trials whose accuracy on 400 examples is drawn per trial around 0.8 with ``spread``, whatever the
    parameters: the configurations differ (for ``spread`` > 0), but nothing in them predicts how."""
    space = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0)})

    def objective(trial: ts.Trial) -> dict[str, object]:
        rng = np.random.default_rng(trial.seed)
        rate = float(np.clip(0.8 + spread * rng.normal(), 0.05, 0.95))
        return {"acc": (rng.random(400) < rate).astype(float)}

    study = ts.Study(space, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=12), storage="memory", seed=1,
                     sampler="random")  # fmt: skip
    study.optimize(objective)
    return study


def test_configurations_differing_beyond_their_stored_noise_are_not_said_to_have_too_small_effects() -> None:
    study = _per_example_study(spread=0.1)
    result = importance(study.trials, study.space, study.metric, seed=0)
    assert result.explains_nothing  # the path that asserted "too small"
    note = result.explained_note()
    assert note is not None
    assert "the configurations do differ beyond their noise" in note, note
    assert "cannot yet attribute the differences to parameters" in note
    assert "too small" not in note
    assert "divide noise" not in note


def test_values_within_their_stored_noise_are_not_read_as_differing() -> None:
    study = _per_example_study(spread=0.0)
    kept = [r for r in study.trials if r.value("acc") is not None]
    test = SpreadBeyondNoise.of(kept, np.array([r.value("acc") for r in kept]), "acc")
    assert test is not None and test.trials == 12
    assert not test.exceeded, test


def _tie(trials: int, seed: int) -> list[str]:
    """The budget advice on two parameters with exactly equal effects (and one without any)."""
    space = ts.Space({"strong": ts.Float(0, 1), "none": ts.Float(0, 1), "weak": ts.Float(0, 1)})

    def objective(trial: ts.Trial) -> float:
        noise = 0.05 * np.random.default_rng(trial.seed).normal()
        return float(trial.params["strong"] + trial.params["weak"] + noise)

    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=trials), storage="memory", seed=seed,
                     sampler="random")  # fmt: skip
    study.optimize(objective)
    result = importance(study.trials, space, study.metric, seed=0)
    return [s.text for s in budget_advice(result, study.trials, study.metric)]


def test_a_tie_that_most_trees_break_one_way_is_not_called_a_lead() -> None:
    """97% of the trees read weak ahead of strong: a lead of 1.5 standard deviations of the trees' paired shares."""
    texts = _tie(80, seed=3)
    assert not any(t.startswith("tune ") for t in texts), texts
    assert any(t.startswith("no parameter stands out yet") for t in texts), texts


def test_the_trials_that_would_tell_a_lead_are_promised_only_if_the_lead_is_real() -> None:
    texts = _tie(60, seed=2)
    told = [t for t in texts if t.startswith("no parameter stands out yet") and "more trials" in t]
    assert told, texts
    assert told[0].endswith("would show a lead as large as the one seen, if it is real"), told
