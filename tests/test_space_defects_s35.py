"""Spaces as written from arrays and read back from storage: NumPy float bounds are numbers, a condition is a set
of values (its order is no part of the space), and a conditional grid is counted branch by branch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.storage import open_storage


def test_float_takes_numpy_float_bounds_and_step_as_python_floats() -> None:
    param = ts.Float(np.float32(0.25), np.float64(1.0), step=np.float16(0.25))

    assert (param.low, param.high, param.step) == (0.25, 1.0, 0.25)
    assert all(type(value) is float for value in (param.low, param.high, param.step))
    assert json.loads(json.dumps(param.to_json())) == param.to_json()


def test_suggest_float_with_float32_bounds_draws_within_them() -> None:
    low, high = np.float32(0.1), np.float32(0.9)
    study = ts.Study(metric="loss", storage="memory", budget=ts.Budget(trials=3), seed=0)

    study.optimize(lambda trial: {"loss": trial.suggest_float("x", low, high)})

    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE] * 3
    assert all(float(low) <= r.params["x"] <= float(high) for r in study.trials)


def _optimizer_space(order: list[str]) -> ts.Space:
    return ts.Space({"o": ts.Choice(["sgd", "rms", "adam"]), "m": ts.Float(0.0, 1.0, when={"o": order})})


def test_a_condition_names_one_space_whatever_the_order_of_its_values() -> None:
    first, second = _optimizer_space(["sgd", "rms"]), _optimizer_space(["rms", "sgd"])

    assert first == second
    assert first.to_json() == second.to_json()
    assert hash(first) == hash(second)


def test_a_condition_on_an_int_parent_is_the_same_whatever_the_order_of_its_values() -> None:
    def space(order: list[int]) -> ts.Space:
        return ts.Space({"k": ts.Int(0, 9), "m": ts.Float(0.0, 1.0, when={"k": order})})

    assert space([7, 2, 5]) == space([2, 5, 7]) == space([5, 7, 2, 7])


def test_a_study_stored_with_its_condition_in_another_order_reopens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'order.db'}"
    ts.Study(_optimizer_space(["sgd", "rms"]), metric="loss", storage=url, name="e", seed=0)
    # As a version that kept the order as written stored it: ["rms", "sgd"], against the choice's own order.
    storage = open_storage(url)
    info = storage.load_study("e")
    space = dict(info.spec["space"])
    space["m"] = {**space["m"], "when": {"o": ["rms", "sgd"]}}
    storage.update_study_spec(info.id, {**info.spec, "space": space})

    reopened = ts.Study(_optimizer_space(["sgd", "rms"]), metric="loss", storage=url, name="e", seed=0)

    assert reopened.space == _optimizer_space(["rms", "sgd"])


def _model_branches(models: int, per_model: int) -> ts.Space:
    """A choice of ``models`` models, each switching on two integers of ``per_model`` values."""
    params: dict[str, ts.Param] = {"model": ts.Choice([f"m{i}" for i in range(models)])}
    for i in range(models):
        for j in range(2):
            params[f"m{i}_p{j}"] = ts.Int(0, per_model - 1, when={"model": f"m{i}"})
    return ts.Space(params)


def test_grid_size_counts_a_large_conditional_space_by_its_branches() -> None:
    space = _model_branches(models=6, per_model=10)  # every parameter at once: 6 * 10**12

    assert space.grid_size() == 6 * 10 * 10


def test_the_grid_sampler_runs_a_conditional_grid_whose_branches_are_small() -> None:
    study = ts.Study(
        _model_branches(models=6, per_model=10), metric="loss", sampler="grid", budget=ts.Budget(trials=4),
        storage="memory", seed=0,
    )  # fmt: skip

    study.optimize(lambda trial: {"loss": 1.0})

    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE] * 4


def _nested() -> ts.Space:
    """Optimiser -> its variant -> two integers per variant, beside a float every configuration has."""
    params: dict[str, ts.Param] = {"o": ts.Choice(["sgd", "adam", "rms"]), "lr": ts.Float(1e-4, 1e-1, log=True)}
    for o in ("sgd", "adam", "rms"):
        params[f"{o}_variant"] = ts.Choice(["p", "q"], when={"o": o})
        for variant in ("p", "q"):
            for j in range(2):
                params[f"{o}_{variant}{j}"] = ts.Int(0, 9, when={f"{o}_variant": variant})
    return ts.Space(params)


def _two_parents() -> ts.Space:
    """An integer per (choice, int) pair, another under two values of each, and a constant under a grandchild."""
    params: dict[str, ts.Param] = {"a": ts.Choice(["x", "y", "z"]), "k": ts.Int(1, 4)}
    for a in ("x", "y", "z"):
        for k in range(1, 5):
            params[f"w_{a}{k}"] = ts.Int(0, 9, when={"a": a, "k": k})
    params["u"] = ts.Int(0, 4, when={"a": ["z", "x"], "k": [4, 2]})
    params["v"] = ts.Fixed(1, when={"w_x1": [5, 0]})
    return ts.Space(params)


def _int_and_fixed_parents() -> ts.Space:
    """A constant switching on an int, which switches on a power of two, which switches on the rest."""
    params: dict[str, ts.Param] = {
        "f": ts.Fixed("on"),
        "layers": ts.Int(1, 3, when={"f": "on"}),
        "width": ts.Int(8, 64, base=2, when={"layers": [3, 2]}),
        "gate": ts.Choice([True, False], when={"width": [64, 8]}),
    }
    for width in (8, 16, 32, 64):
        for j in range(2):
            params[f"drop{width}_{j}"] = ts.Int(0, 9, when={"width": width})
    return ts.Space(params)


# Each far larger taken all at once than its grid, so the count is checked where listing would be the wrong answer.
SMALL_CONDITIONAL_SPACES = {
    "branches": lambda: _model_branches(models=4, per_model=10),
    "nested": _nested,
    "two parents": _two_parents,
    "int and fixed parents": _int_and_fixed_parents,
}


@pytest.mark.parametrize("points", [3, 5])
@pytest.mark.parametrize("kind", sorted(SMALL_CONDITIONAL_SPACES))
def test_grid_size_is_the_number_of_grid_configurations(kind: str, points: int) -> None:
    space = SMALL_CONDITIONAL_SPACES[kind]()
    configurations = space.grid(points)
    every_parameter_at_once = int(np.prod([len(space[n].grid_values(points)) for n in space], dtype=object))

    assert space.grid_size(points) == len(configurations) < every_parameter_at_once
