"""A PBT continuation of a donor that had reported its last step trains nothing (its `steps` loop is empty), yet
its objective returns the donor's final score: it is recorded STOPPED by the scheduler, saying why, never COMPLETE
with a score its own hyperparameters did not earn."""

from __future__ import annotations

from pathlib import Path

import tunesmith as ts
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
STEPS = 6


def _objective(trial: ts.Trial, losses: list[float]) -> float:
    """A `steps` loop over ``losses`` that saves each step's state (``{"loss": ...}``), then returns the loss of the
    state it holds, as a final evaluation of the model would: a continuation starts from the state it was given."""
    state = trial.load_checkpoint() or {"loss": 1.0}
    for step in trial.steps(STEPS):
        state = {"loss": losses[step]}
        trial.report(loss=losses[step])
        trial.save_checkpoint(state)
    return float(state["loss"])


def _train_and_stop_the_bottom(study: ts.Study, members: dict[ts.Trial, list[float]], victim: ts.Trial) -> None:
    """Each of ``members`` reports its losses, saving each step's state; ``victim`` reports 0.9 twice, is stopped by
    PBT at its round (checked) and told."""
    for member, losses in members.items():
        for loss in losses:
            member.report(loss=loss)
            member.save_checkpoint({"loss": loss})
    victim.report(loss=0.9)
    victim.report(loss=0.9)
    assert victim.should_stop(), "PBT stops the bottom member at its round"
    study.tell(victim)


def _continuation_of_a_donor_at_its_last_step(tmp_path: Path) -> tuple[ts.Study, ts.Trial, ts.Trial, float]:
    """Four members, none finished: the donor, the best, ran its loop to its last step and its objective has not
    returned yet; two reported step 4; the worst is stopped at step 2. The continuation that replaces it (checked:
    of the donor, from step 6) has run its objective and returned the donor's score (checked). Returns the study,
    the donor, the continuation (untold) and what its objective returned."""
    study = ts.Study(
        SPACE,
        metric="loss",
        scheduler=ts.PBT(perturbation_interval=2, min_population=4),
        storage=f"sqlite:///{tmp_path / 'study.db'}",
        seed=0,
        checkpoint_dir=tmp_path / "ckpt",
    )
    donor, second, third, victim = (study.ask() for _ in range(4))
    _objective(donor, [0.2 - 0.01 * k for k in range(STEPS)])
    _train_and_stop_the_bottom(study, {second: [0.6, 0.59, 0.58, 0.57], third: [0.61, 0.6, 0.59, 0.58]}, victim)
    child = study.ask()
    assert (study.trials[child.number].attrs.get("parent"), child.start_step) == (donor.number, STEPS)
    returned = _objective(child, [9.0] * STEPS)
    assert returned == study.trials[donor.number].intermediate[STEPS]["loss"]
    return study, donor, child, returned


def test_a_continuation_that_reported_no_step_of_its_own_is_recorded_stopped_with_nothing_left_to_train(
    tmp_path: Path,
) -> None:
    study, donor, child, returned = _continuation_of_a_donor_at_its_last_step(tmp_path)
    record = study.tell(child, returned)
    assert (record.state, record.kind, record.metrics) == (TrialState.STOPPED, TrialKind.SCHEDULER, {}), record
    assert record.reason is not None and record.reason.startswith("nothing left to train"), record.reason
    assert f"continued #{donor.number} from step {STEPS}" in record.reason, record.reason


def test_a_continuation_that_trained_nothing_is_never_the_best_trial(tmp_path: Path) -> None:
    study, _, child, returned = _continuation_of_a_donor_at_its_last_step(tmp_path)
    study.tell(child, returned)
    assert study.best is None, study.best  # the donor, which earned the score, has not returned yet


def test_the_donor_s_end_it_showed_is_known_so_the_next_replacement_does_not_continue_it_again(tmp_path: Path) -> None:
    """Recorded STOPPED, the idle continuation is a member waiting for a replacement: without its step known as the
    end of training, PBT continued the same donor from the same step again and again until its objective returned."""
    study, donor, child, returned = _continuation_of_a_donor_at_its_last_step(tmp_path)
    study.tell(child, returned)
    for _ in range(3):
        trial = study.ask()
        record = study.trials[trial.number]
        assert (record.attrs.get("parent"), trial.start_step) != (donor.number, STEPS), record.attrs
        study.tell(trial, 0.5)


def test_a_donor_whose_checkpoint_holds_the_last_step_is_not_continued(tmp_path: Path) -> None:
    """A loop that saves in `Trial.steps` before it reports stamps the step it trains: a donor in its last iteration
    showed a step left by its reports while its checkpoint held the last one. Its continuation trained nothing, was
    itself replaced from the same donor, and so on, until the run stopped on trials that spent nothing."""
    study = ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=2, min_population=3),
                     storage=f"sqlite:///{tmp_path / 'study.db'}", seed=0,
                     checkpoint_dir=tmp_path / "ckpt")  # fmt: skip
    finished, donor, third, victim = (study.ask() for _ in range(4))
    for step in range(1, STEPS + 1):  # one member trained to the end: where training ends is known
        finished.report(loss=0.1 - 0.001 * step)
    study.tell(finished, 0.1 - 0.001 * STEPS)
    for step in range(1, STEPS):
        donor.report(loss=0.2 - 0.01 * step)
    donor.save_checkpoint({"loss": 0.1}, step=STEPS)  # saved in its last iteration, before that step's report
    _train_and_stop_the_bottom(study, {third: [0.6, 0.59, 0.58, 0.57]}, victim)
    number = study.ask().number
    child = study.trials[number]
    assert child.attrs.get("parent") != donor.number, child.attrs
