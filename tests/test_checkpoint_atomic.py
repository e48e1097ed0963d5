"""`Trial.save_checkpoint` / `load_checkpoint`: atomic with arrays, keys kept as saved, old checkpoints still read;
and PBT saying when a continuation's donor left no checkpoint to continue from."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.executors.simulated import SimulatedExecutor
from tunesmith.study import CheckpointWarning


def test_a_save_that_fails_before_its_state_is_written_leaves_the_previous_checkpoint_whole(tmp_path: Path) -> None:
    """The arrays file was replaced before the state: a save that died between the two loaded epoch 5's state with
    epoch 6's weights."""
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path, start_step=5)
    trial.save_checkpoint({"epoch": 5, "w": np.full(3, 5.0)})
    (tmp_path / "tunesmith-state.json.tmp").mkdir()  # the state's write fails, as on a full disk
    with pytest.raises(OSError):
        trial.save_checkpoint({"epoch": 6, "w": np.full(3, 6.0)})
    loaded = trial.load_checkpoint()
    assert loaded is not None and loaded["epoch"] == 5 and loaded["w"].tolist() == [5.0, 5.0, 5.0]
    assert len(list(tmp_path.glob("tunesmith-arrays*.npz"))) == 1, "the failed save's arrays are not left behind"


def test_saving_again_keeps_one_arrays_file_the_state_names(tmp_path: Path) -> None:
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path)
    for epoch in range(3):
        trial.save_checkpoint({"epoch": epoch, "w": np.arange(3) * epoch})
    saved = json.loads((tmp_path / "tunesmith-state.json").read_text())
    assert [p.name for p in tmp_path.glob("tunesmith-arrays*.npz")] == [saved["arrays_file"]]
    loaded = trial.load_checkpoint()
    assert loaded is not None and loaded["epoch"] == 2 and loaded["w"].tolist() == [0, 2, 4]
    trial.save_checkpoint({"epoch": 3})  # no arrays any more: none left behind
    assert not list(tmp_path.glob("tunesmith-arrays*.npz")) and trial.load_checkpoint() == {"epoch": 3}


def test_a_checkpoint_written_the_old_way_still_loads_and_is_replaced_cleanly(tmp_path: Path) -> None:
    np.savez(tmp_path / "tunesmith-arrays.npz", w=np.array([1.5, 2.5]))
    (tmp_path / "tunesmith-state.json").write_text(json.dumps({"step": 4, "state": {"lr": 0.1}, "arrays": ["w"]}))
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path, start_step=4)
    old = trial.load_checkpoint()
    assert old is not None and old["lr"] == 0.1 and old["w"].tolist() == [1.5, 2.5]
    trial.save_checkpoint({"lr": 0.2, "w": np.array([3.0])})
    assert not (tmp_path / "tunesmith-arrays.npz").exists()
    new = trial.load_checkpoint()
    assert new is not None and new["lr"] == 0.2 and new["w"].tolist() == [3.0]


@pytest.mark.parametrize(
    ("state", "where"),
    [({1: 2}, r"got key 1 \(int\) in the state"), ({"opt": {0: [1.0]}}, r"got key 0 \(int\) in the state\['opt'\]")],
)
def test_a_key_that_is_not_a_string_is_refused_and_the_previous_checkpoint_kept(
    tmp_path: Path, state: dict[object, object], where: str
) -> None:
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path)
    trial.save_checkpoint({"epoch": 1})
    with pytest.raises(
        ts.TunesmithError, match=rf"save_checkpoint takes string keys only .*{where}: .*use string keys"
    ):
        trial.save_checkpoint(state)  # type: ignore[arg-type]
    assert trial.load_checkpoint() == {"epoch": 1}


def test_any_array_name_round_trips(tmp_path: Path) -> None:
    """numpy.savez takes its own first argument's name, ``file``, as a keyword: an array saved as "file" failed."""
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path)
    trial.save_checkpoint({"file": np.arange(2), "allow_pickle": np.ones(1)})
    loaded = trial.load_checkpoint()
    assert loaded is not None and loaded["file"].tolist() == [0, 1] and loaded["allow_pickle"].tolist() == [1.0]


def test_a_damaged_checkpoint_is_reported_with_its_file_and_the_fix(tmp_path: Path) -> None:
    trial = ts.Trial(0, {}, 0, checkpoint_dir=tmp_path)
    trial.save_checkpoint({"w": np.arange(3)})
    for arrays in tmp_path.glob("tunesmith-arrays*.npz"):
        arrays.unlink()
    with pytest.raises(ts.TunesmithError, match=r"names arrays \['w'\] in tunesmith-arrays-\w+\.npz, which cannot be"):
        trial.load_checkpoint()
    (tmp_path / "tunesmith-state.json").write_text('{"step": 3, "state": {"a"')  # cut short by a full disk
    with pytest.raises(ts.TunesmithError, match=r"tunesmith-state.json cannot be read .*delete it"):
        trial.load_checkpoint()


# PBT: a continuation whose donor saved nothing -------------------------------------------------------------------

SPACE = ts.Space({"lr": ts.Float(1e-3, 1e-1, log=True)})


def _pbt_study(tmp_path: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=4), budget=ts.Budget(trials=24),
                    storage="memory", seed=0, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _trains(saves: bool):  # type: ignore[no-untyped-def]
    def train(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        state = trial.load_checkpoint()
        weight = 0.0 if state is None else float(state["w"])
        for _ in range(trial.step, 32):
            weight += trial.params["lr"]
            if saves:
                trial.save_checkpoint({"w": weight})
            yield 1.0, {"loss": 1 / (1 + weight)}

    return train


def test_pbt_warns_once_when_continuations_borrow_steps_from_a_donor_without_a_checkpoint(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saving = _pbt_study(tmp_path / "saving")
        saving.optimize(_trains(saves=True), progress=False, executor=SimulatedExecutor(workers=6, start_time=0))
    assert [r for r in saving.trials if "parent" in r.attrs]
    assert not [w for w in caught if issubclass(w.category, CheckpointWarning)], "donors that save say nothing"
    study = _pbt_study(tmp_path / "not-saving")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(_trains(saves=False), progress=False, executor=SimulatedExecutor(workers=6, start_time=0))
    assert len([r for r in study.trials if "parent" in r.attrs]) > 1
    said = [str(w.message) for w in caught if issubclass(w.category, CheckpointWarning)]
    assert len(said) == 1, said
    assert "saved no checkpoint" in said[0] and "trains from scratch under borrowed steps" in said[0]
    assert "trial.save_checkpoint" in said[0] and "trial.load_checkpoint()" in said[0]
