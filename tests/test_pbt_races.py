"""PBT's continuations against donors that train on: a continuation records the step of the checkpoint it copies,
and no continuation is made from a donor that may have reported its last step, the step a finished trial ended at."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import tunesmith as ts
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _study(tmp_path: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=2, min_population=4),
                    storage=f"sqlite:///{tmp_path / 'study.db'}", seed=0, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _train(trial: ts.Trial, losses: list[float], *, saved: int | None = None) -> None:
    """Report ``losses`` one step each, saving the state after each report (``{"trained": steps}``), except
    after the reports past ``saved``: the trial is still writing that checkpoint."""
    for loss in losses:
        trial.report(loss=loss)
        if saved is None or trial.step <= saved:
            trial.save_checkpoint({"trained": trial.step})


def _stop_the_worst(study: ts.Study, victim: ts.Trial) -> None:
    _train(victim, [0.9, 0.9])
    assert victim.should_stop(), "PBT stops the bottom member at its round"
    study.tell(victim)
    assert study.trials[victim.number].state is TrialState.STOPPED


def _continued(tmp_path: Path, train_donor: Callable[[ts.Trial], None]) -> tuple[ts.Study, ts.Trial]:
    """Four members; the donor, trained by ``train_donor``, is the best; one member reported step 6, one is
    stopped as the worst: the next trial is a continuation of the donor (checked), returned with the study."""
    study = _study(tmp_path)
    donor, ahead, behind, victim = (study.ask() for _ in range(4))
    train_donor(donor)
    _train(ahead, [0.6 - 0.01 * k for k in range(6)])
    _train(behind, [0.61, 0.6, 0.59, 0.58])
    _stop_the_worst(study, victim)
    child = study.ask()
    assert study.trials[child.number].attrs["parent"] == donor.number
    return study, child


def test_a_continuation_starts_at_the_step_of_the_checkpoint_it_copies(tmp_path: Path) -> None:
    # The donor, the best member, has reported step 5 and is still saving its state for it: its checkpoint
    # holds 4 steps. No trial has finished, so nothing says it has no step left.
    study, child = _continued(tmp_path, lambda donor: _train(donor, [0.2 - 0.01 * k for k in range(5)], saved=4))
    state = child.load_checkpoint()
    assert state is not None and state["trained"] == child.start_step == 4, (state, child.start_step)
    assert study.trials[child.number].attrs["start_step"] == 4


def test_a_donor_at_the_step_a_finished_trial_ended_at_is_not_continued(tmp_path: Path) -> None:
    study = _study(tmp_path)
    finished = study.ask()
    _train(finished, [0.5 - 0.01 * k for k in range(6)])
    assert study.tell(finished, 0.45).state is TrialState.COMPLETE  # training is known to end at step 6
    donor, mid_a, mid_b, victim = (study.ask() for _ in range(4))
    # The donor reported step 6, where the finished trial ended: it may be its last (the objective then runs a
    # final evaluation, RUNNING all the while).
    _train(donor, [0.2 - 0.01 * k for k in range(6)])
    _train(mid_a, [0.6, 0.59, 0.58, 0.57])
    _train(mid_b, [0.61, 0.6, 0.59, 0.58])
    _stop_the_worst(study, victim)
    replacement = study.ask()
    attrs = study.trials[replacement.number].attrs
    assert attrs.get("parent") != donor.number and "donor_note" in attrs, attrs  # the next member with steps left


def _train_saving_first(trial: ts.Trial, losses: list[float]) -> None:
    """A `steps` loop that saves each step's state before it reports the step (``{"trained": steps}``)."""
    for step in trial.steps(len(losses)):
        trial.save_checkpoint({"trained": step + 1})
        trial.report(loss=losses[step])


def test_a_state_saved_before_its_report_in_a_steps_loop_hands_on_the_step_it_holds(tmp_path: Path) -> None:
    _, child = _continued(tmp_path, lambda donor: _train_saving_first(donor, [0.2 - 0.01 * k for k in range(4)]))
    state = child.load_checkpoint()
    assert state is not None and state["trained"] == child.start_step == 4, (state, child.start_step)
