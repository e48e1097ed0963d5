"""A study's declared trial cost is part of its stored spec: ``sampler="auto"`` chooses by it, so a worker that
loads the study (`Study.load`, the ``tunesmith worker`` path) must choose as the process that created it did."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.storage import open_storage

# Cheap trials and a budget a GP could afford: the cost alone tells Auto to take TPE instead (gp without it).
SPACE = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0), "k": ts.Int(1, 50)})


def _study(url: str, **kwargs: object) -> ts.Study:
    options: dict[str, object] = {"metric": "loss", "budget": ts.Budget(trials=60), "storage": url, "name": "cheap"}
    options.update(kwargs)
    return ts.Study(SPACE, seed=0, **options)  # type: ignore[arg-type]


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cost.db'}"


def test_a_loaded_study_has_the_trial_cost_it_was_created_with(url: str) -> None:
    _study(url, trial_cost=0.2)

    assert ts.Study.load("cheap", url).trial_cost == 0.2


def test_a_loaded_study_runs_the_sampler_auto_recorded_at_creation(url: str) -> None:
    created = _study(url, trial_cost=0.2)
    recorded = created.attrs["sampler_choice"]["sampler"]["name"]

    loaded = ts.Study.load("cheap", url)

    assert loaded.sampler.choose(loaded.space, loaded.context)[0].name == recorded


def test_trial_cost_is_stored_only_when_declared(url: str) -> None:
    declared = _study(url, trial_cost=0.2, name="declared")
    undeclared = _study(url, name="undeclared")

    assert declared.info.spec["trial_cost"] == 0.2
    assert "trial_cost" not in undeclared.info.spec


def test_reopening_with_another_trial_cost_is_refused_naming_both(url: str) -> None:
    _study(url, trial_cost=0.2)

    with pytest.raises(ConfigError, match=r"trial_cost=0\.2, not trial_cost=30: drop trial_cost"):
        _study(url, trial_cost=30)


def test_a_cost_declared_to_a_study_stored_without_one_is_recorded_for_its_workers(url: str) -> None:
    _study(url)

    reopened = _study(url, trial_cost=0.2)
    loaded = ts.Study.load("cheap", url)

    assert open_storage(url).load_study("cheap").spec["trial_cost"] == 0.2
    assert loaded.trial_cost == 0.2
    recorded = reopened.attrs["sampler_choice"]["sampler"]["name"]
    assert loaded.sampler.choose(loaded.space, loaded.context)[0].name == recorded
