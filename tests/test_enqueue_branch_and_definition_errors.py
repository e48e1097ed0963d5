"""An enqueued parent value runs with the children its branch needs; a `suggest_*` definition no value can
satisfy stops the run at its first trial, while a `SpaceError` the objective raises for one configuration does not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import EnqueuedAttr, read_attr
from tunesmith.cli import cli
from tunesmith.errors import SpaceError
from tunesmith.study import ObjectiveError
from tunesmith.study._known import QueuedConfigurationRefusedWarning

SPACE = ts.Space({
    "optimizer": ts.Choice(["adam", "sgd"]),
    "momentum": ts.Float(0.5, 0.99, when={"optimizer": "sgd"}),
    "lr": ts.Float(1e-5, 1e-1, log=True),
})  # fmt: skip


def test_an_enqueued_parent_runs_with_the_children_its_branch_switches_on_whatever_branch_the_sampler_drew() -> None:
    """The sampler draws a whole configuration on its own branch; with optimizer=adam drawn, an entry giving
    optimizer=sgd lacked momentum, and optimize() raised "momentum is active but missing" with nothing recorded."""
    from_prior = []
    for seed in range(6):  # the sampler draws adam for about half the seeds
        study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory", seed=seed)
        study.enqueue({"optimizer": "sgd"})
        study.optimize(lambda t: t.params["lr"])
        first = study.trials[0]
        assert first.state is ts.TrialState.COMPLETE and first.attrs["enqueued"] is True
        assert first.params["optimizer"] == "sgd" and 0.5 <= first.params["momentum"] <= 0.99
        assert set(first.params) == {"optimizer", "momentum", "lr"} and len(study.trials) == 2
        from_prior += first.attrs.get("drawn_from_prior", [])
    assert "momentum" in from_prior, "some seed's sampler drew adam, so momentum came from its prior"


def test_an_enqueued_entry_switching_its_own_value_off_is_refused_once_and_the_queue_goes_on() -> None:
    """An entry stored without enqueue's checks (by hand, or an older version) that cannot be completed is marked
    refused, said once, and skipped: the entry after it runs first, and later runs never meet it again."""
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=4), storage="memory", seed=0)
    entries = ({"id": "bad", "params": {"optimizer": "adam", "momentum": 0.9}, "at": 0.0},
               {"id": "good", "params": {"optimizer": "adam", "lr": 0.01}, "at": 0.0})  # fmt: skip
    study.set_attr(EnqueuedAttr.KEY, EnqueuedAttr(configs=entries).to_json())
    with pytest.warns(QueuedConfigurationRefusedWarning, match=r"momentum=0.9 applies only when optimizer in "
                      r"\['sgd'\], got optimizer='adam'; it is skipped"):  # fmt: skip
        study.optimize(lambda t: t.params["lr"], n_trials=2)
    assert study.trials[0].attrs["enqueue_id"] == "good" and study.trials[0].params["lr"] == 0.01
    assert not any(r.attrs.get("enqueue_id") == "bad" for r in study.trials)
    stored = read_attr(study.attrs, EnqueuedAttr)
    assert stored is not None
    assert stored.configs[0]["refused"].startswith("momentum=0.9 applies only when")
    study.optimize(lambda t: t.params["lr"])  # no second warning: warnings are errors here
    assert len(study.trials) == 4


def test_a_suggest_definition_no_value_satisfies_stops_the_run_at_the_first_trial() -> None:
    study = ts.Study(metric="loss", budget=ts.Budget(trials=20), storage="memory", seed=0)
    with pytest.raises(
        ObjectiveError,
        match=r"trial 0 asked for a parameter with a definition no value can satisfy: "
        r"suggest_float\('lr', 0.0, 0.1, log=True, step=None\): low must be > 0 when log=True",
    ):
        study.optimize(lambda t: t.suggest_float("lr", 0.0, 0.1, log=True))
    assert [r.state for r in study.trials] == [ts.TrialState.FAILED]


def test_a_definition_error_in_a_trial_process_stops_the_run_at_the_first_trial_too() -> None:
    study = ts.Study(metric="loss", budget=ts.Budget(trials=20), storage="memory", seed=0)
    with pytest.raises(ObjectiveError, match=r"trial 0 asked for a parameter with a definition no value can satisfy"):
        study.optimize(_reversed_bounds, executor="processes")
    assert len(study.trials) == 1


def _reversed_bounds(trial: ts.Trial) -> float:
    return float(trial.suggest_int("layers", 8, 2))


def test_a_space_error_the_objective_raises_for_some_configurations_does_not_stop_the_run() -> None:
    """A guard on the rule above: only suggest_*'s definition error stops the run at once."""

    def objective(trial: ts.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        if x > 0.5:
            raise SpaceError(f"x={x} is outside what this model takes: keep x <= 0.5")
        return x

    study = ts.Study(metric="loss", budget=ts.Budget(trials=12), storage="memory", seed=0, sampler="random")
    study.optimize(objective)
    states = [r.state for r in study.trials]
    assert len(states) == 12 and ts.TrialState.FAILED in states and ts.TrialState.COMPLETE in states


def test_tunesmith_run_exits_non_zero_at_the_first_trial_of_a_definition_error(tmp_path: Path) -> None:
    (tmp_path / "broken_definition.py").write_text(
        textwrap.dedent("""
        def objective(trial):
            return trial.params["x"] + trial.suggest_float("lr", 0.0, 0.1, log=True)
    """)
    )
    config = tmp_path / "broken.toml"
    config.write_text(
        textwrap.dedent("""
        name = "broken"
        objective = "broken_definition:objective"
        metric = "loss"
        [budget]
        trials = 10
        [space]
        x = { type = "float", low = 0.0, high = 1.0 }
    """)
    )
    url = f"sqlite:///{tmp_path}/broken.db"
    result = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-progress", "--no-report"])
    assert result.exit_code == 1, result.output
    assert "definition no value can satisfy" in " ".join(result.output.split()), result.output
    assert len(ts.Study.load("broken", url).trials) == 1
