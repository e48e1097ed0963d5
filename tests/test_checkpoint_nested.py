"""`Trial.save_checkpoint` with numpy arrays below the top level: a ``state_dict`` under a key, arrays in lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith._checkpoint_file import whole


def test_a_state_dict_of_arrays_under_a_key_loads_back_in_the_same_structure(tmp_path: Path) -> None:
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path)
    weights = {"0.weight": np.arange(4.0).reshape(2, 2), "0.bias": np.array([0.5, -0.5], dtype=np.float32)}
    trial.save_checkpoint({"model": weights, "epoch": 1})
    loaded = trial.load_checkpoint()
    assert loaded is not None and loaded["epoch"] == 1 and set(loaded["model"]) == {"0.weight", "0.bias"}
    for name, array in weights.items():
        assert loaded["model"][name].dtype == array.dtype and np.array_equal(loaded["model"][name], array)


def test_arrays_in_lists_and_deeper_dicts_come_back_at_their_place_beside_plain_values(tmp_path: Path) -> None:
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path)
    state: dict[str, Any] = {
        "optimizer": {"state": {"0": {"momentum": np.ones(3), "step": 7}}, "groups": [{"lr": 0.1}]},
        "history": [np.zeros(2), 1.5, None],
        "w": np.full(2, 3.0),
    }
    trial.save_checkpoint(state)
    loaded = trial.load_checkpoint()
    assert loaded is not None
    assert loaded["optimizer"]["state"]["0"]["momentum"].tolist() == [1.0, 1.0, 1.0]
    assert loaded["optimizer"]["state"]["0"]["step"] == 7 and loaded["optimizer"]["groups"] == [{"lr": 0.1}]
    assert loaded["history"][0].tolist() == [0.0, 0.0] and loaded["history"][1:] == [1.5, None]
    assert loaded["w"].tolist() == [3.0, 3.0]
    assert isinstance(state["history"][0], np.ndarray), "the caller's state is not changed"


def test_a_top_level_key_spelt_like_a_nested_arrays_name_keeps_both_arrays(tmp_path: Path) -> None:
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path)
    trial.save_checkpoint({"nested-0": np.array([1.0]), "model": {"w": np.array([2.0])}})
    loaded = trial.load_checkpoint()
    assert loaded is not None and loaded["nested-0"].tolist() == [1.0] and loaded["model"]["w"].tolist() == [2.0]


def test_a_checkpoint_whose_only_arrays_are_nested_is_not_whole_without_its_arrays_file(tmp_path: Path) -> None:
    """A copy taken mid-save may hold the new state without its arrays: it must not be taken for a checkpoint."""
    ts.Trial(0, {}, 0, checkpoint_dir=tmp_path).save_checkpoint({"model": {"w": np.ones(2)}})
    assert whole(tmp_path)
    for arrays_file in tmp_path.glob("tunesmith-arrays*.npz"):
        arrays_file.unlink()
    assert not whole(tmp_path)
