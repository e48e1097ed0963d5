"""A PBT continuation whose donor wrote its checkpoint files itself (they carry no step) records that its start
step may be short: a loop that saves each epoch before a slower evaluation reports it hands on files a step ahead
of the donor's last report, and the continuation's curve and resource budget silently missed that step."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

import tunesmith as ts
from tunesmith.study._checkpoints import START_STEP_UNSURE

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
MODEL = "model.npz"  # the objective's own checkpoint: its weights and the epochs they trained


def _study(tmp_path: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=2, min_population=4),
                    storage="memory", seed=0, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _train(trial: ts.Trial, losses: list[float]) -> None:
    for loss in losses:
        trial.report(loss=loss)
        trial.save_checkpoint({"trained": trial.step})


def _epochs_in(folder: Path) -> int:
    with np.load(folder / MODEL) as saved:
        return int(saved["epochs"])


def _continued(tmp_path: Path, train_donor: Callable[[ts.Trial], object]) -> tuple[ts.Study, ts.Trial, ts.Trial]:
    """Four members; the donor, trained by ``train_donor`` (the best), then one that reported step 6, one at step
    4, and one stopped as the worst: the next trial asked for is the donor's continuation (checked)."""
    study = _study(tmp_path)
    donor, ahead, behind, victim = (study.ask() for _ in range(4))
    left_in = train_donor(donor)  # a `steps` loop left in an iteration: alive until the continuation is made
    _train(ahead, [0.6 - 0.01 * k for k in range(6)])
    _train(behind, [0.61, 0.6, 0.59, 0.58])
    _train(victim, [0.9, 0.9])
    assert victim.should_stop(), "PBT stops the bottom member at its round"
    study.tell(victim)
    child = study.ask()
    assert study.trials[child.number].attrs["parent"] == donor.number
    del left_in
    return study, donor, child


def _write_model(trial: ts.Trial, epochs: int) -> None:
    np.savez(trial.checkpoint_dir / MODEL, w=np.full(3, float(epochs)), epochs=epochs)


def _saves_its_model_before_each_report(donor: ts.Trial) -> Iterator[int]:
    """A `steps` loop that trains an epoch, writes its model, then evaluates and reports: after four epochs reported,
    it is evaluating the fifth, whose model is written (the loop is returned, left in that iteration)."""
    loop = donor.steps(12)
    for step in loop:
        _write_model(donor, step + 1)
        if step == 4:
            return loop
        donor.report(loss=0.2 - 0.01 * step)
    raise AssertionError("the loop ends mid-iteration")


def test_a_continuation_of_files_its_donor_wrote_itself_records_that_its_start_step_may_be_short(
    tmp_path: Path,
) -> None:
    study, donor, child = _continued(tmp_path, _saves_its_model_before_each_report)
    assert study.trials[donor.number].resource == 4 and _epochs_in(child.checkpoint_dir) == 5
    attrs = study.trials[child.number].attrs
    assert child.start_step == attrs["start_step"] == 4
    unsure = attrs[START_STEP_UNSURE]
    assert f"copied from #{donor.number} carry no step" in unsure and "start_step 4 is its last report's" in unsure
    assert "trial.save_checkpoint(state) inside trial.steps(...)" in unsure


def test_a_continuation_of_states_saved_through_the_trial_starts_at_their_step_and_is_sure(tmp_path: Path) -> None:
    study, _, child = _continued(tmp_path, lambda donor: _train(donor, [0.2 - 0.01 * k for k in range(4)]))
    assert child.start_step == 4 and START_STEP_UNSURE not in study.trials[child.number].attrs
