"""Advice and notes that read the noise the trials carry: per-example standard errors stored with each result, and the
sampling noise of the trials behind a lead of one parameter over another."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from rich.console import Console

import tunesmith as ts
from tunesmith.analysis import importance
from tunesmith.analysis._advice import budget_advice
from tunesmith.analysis.importance import SpreadBeyondNoise, seed_noise_of
from tunesmith.report.terminal import summary


def _objective(spread: float, by: str) -> Callable[[ts.Trial], dict[str, object]]:
    """Accuracy on 400 examples drawn around 0.8 with ``spread``, whatever the parameters: around a rate drawn from
    the trial's seed (``by="seed"``: training's seed moves it) or from its configuration (``by="params"``: the
    configurations differ, and the seed draws only which examples come out right)."""

    def objective(trial: ts.Trial) -> dict[str, object]:
        drawn = trial.seed if by == "seed" else int(1e9 * trial.params["a"])
        rate = float(np.clip(0.8 + spread * np.random.default_rng(drawn).normal(), 0.05, 0.95))
        return {"acc": (np.random.default_rng(trial.seed).random(400) < rate).astype(float)}

    return objective


def _per_example_study(spread: float, by: str = "seed") -> ts.Study:
    """12 trials of `_objective`: nothing in the parameters predicts how their values differ."""
    space = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=12), storage="memory", seed=1,
                     sampler="random")  # fmt: skip
    study.optimize(_objective(spread, by))
    return study


def test_values_differing_beyond_their_per_example_noise_are_not_said_to_have_too_small_effects() -> None:
    study = _per_example_study(spread=0.1)
    result = importance(study.trials, study.space, study.metric, seed=0)
    assert result.explains_nothing  # the path that asserted "too small"
    note = result.explained_note()
    assert note is not None
    assert "the values differ beyond their per-example noise" in note, note
    assert "cannot yet attribute the differences to parameters" in note
    assert "too small" not in note
    assert "divide noise" not in note


def test_a_spread_beyond_per_example_noise_is_not_said_to_be_the_configurations_while_the_seeds_noise_is_unknown() -> (
    None
):
    # The seed alone draws each trial's rate here: more trials would never attribute it to parameters.
    note = importance(*_study_parts(_per_example_study(spread=0.1)), seed=0).explained_note()
    assert note is not None
    assert "the configurations do differ" not in note, note
    assert "leaves out how much training's seed moves them" in note and "ts.validate_top" in note, note


def _study_parts(study: ts.Study) -> tuple[list[ts.TrialRecord], ts.Space, ts.Metric]:
    return list(study.trials), study.space, study.metric


@pytest.mark.parametrize("by", ["seed", "params"])
def test_the_seed_noise_re_runs_measured_decides_whether_the_configurations_differ(by: str) -> None:
    study = _per_example_study(spread=0.1, by=by)
    ts.validate_top(study, _objective(0.1, by), k=2, seeds=5)
    seeds = seed_noise_of(study.info.attrs, "acc", primary=True)
    # The two candidates' 5 runs each, the winner's 5 confirmation runs pooled with its own.
    assert seeds is not None and seeds.configurations == 2 and seeds.dof == 4 + 9, seeds
    result = importance(*_study_parts(study), seed=0, seed_noise=seeds)
    assert result.noise is not None and result.noise.seed is seeds
    buffer = io.StringIO()
    summary(study, console=Console(file=buffer, width=400, color_system=None))
    page = buffer.getvalue()
    if by == "seed":  # the seed's spread, about 0.1, explains the trials'
        assert not result.noise.exceeded, result.noise
        assert "differ beyond" not in page
    else:  # re-runs of one configuration spread by the examples' draw alone: the configurations do differ
        assert result.noise.exceeded, result.noise
        assert "the configurations do differ beyond their noise" in " ".join(page.split()), page
        assert "by an F test of heterogeneity" in " ".join(page.split()), page


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
