"""A PBT continuation trains the steps it is recorded with: a retried one starts from scratch, and none is made
from a donor that has reported its last step (it would train nothing and be recorded COMPLETE as its donor)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import tunesmith as ts
from tunesmith.executors import SimulatedExecutor
from tunesmith.trial import TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
STEPS = 12


def _pbt_study(tmp_path: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=2, min_population=4, quantile=0.25),
                    budget=ts.Budget(trials=12), storage="memory", seed=0, sampler="random",
                    checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _training(broken: list[bool]):  # type: ignore[no-untyped-def]
    """Each step multiplies the loss by ``0.7 + 0.3 x``; the steps trained are kept in the checkpoint."""

    def train(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        state = trial.load_checkpoint() if trial.resumed else None
        loss, trained = (1.0, 0) if state is None else (float(state["loss"]), int(state["trained"]))
        if trial.resumed and broken[0]:
            raise RuntimeError("bug in the resume path")
        for _ in range(trial.step, STEPS):
            loss *= 0.7 + 0.3 * trial.params["x"]
            trained += 1
            trial.save_checkpoint({"loss": loss, "trained": trained})
            yield 1.0, {"loss": loss, "trained": float(trained)}

    return train


def test_a_retried_continuation_trains_from_scratch_every_step_it_records(tmp_path: Path) -> None:
    broken = [True]
    study = _pbt_study(tmp_path)
    executor = SimulatedExecutor(workers=4, start_time=0)
    study.optimize(_training(broken), progress=False, fail_fast=None, executor=executor)
    failed = [r for r in study.trials if r.state is TrialState.FAILED and "parent" in r.attrs]
    assert failed, "the continuations fail on the broken resume path"
    broken[0] = False
    assert study.retry_failed() == [r.number for r in failed]
    study.optimize(_training(broken), progress=False, executor=SimulatedExecutor(workers=4, start_time=0))
    retries = [r for r in study.trials if "retry_of" in r.attrs]
    assert len(retries) == len(failed)
    for retry in retries:
        last = max(retry.intermediate)
        # The checkpoint counts the steps this trial's state went through: exactly those it reported.
        assert retry.intermediate[last]["trained"] == retry.resource == last
        assert min(retry.intermediate) == 1, "a retry starts at step 0, not at its donor's old step"
        assert "parent" not in retry.attrs and "start_step" not in retry.attrs and "lineage" not in retry.attrs


def _report(study: ts.Study, trial: ts.Trial, losses: list[float]) -> None:
    for loss in losses:
        trial.report(loss=loss)
        trial.save_checkpoint({"loss": loss})


def _population_with_a_victim(tmp_path: Path, donor_steps: int) -> tuple[ts.Study, ts.Trial]:
    """One trial trained all 12 steps; the best running one (the donor) reported ``donor_steps``; the worst
    was stopped at step 2 and waits for its replacement."""
    study = ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=2, min_population=4),
                     storage="memory", seed=0, checkpoint_dir=tmp_path / "ckpt")  # fmt: skip
    ended, donor, mid_a, mid_b, victim = (study.ask() for _ in range(5))
    _report(study, ended, [0.5 - 0.01 * k for k in range(STEPS)])
    study.tell(ended, 0.39)
    _report(study, donor, [0.2 - 0.01 * k for k in range(donor_steps)])
    _report(study, mid_a, [0.6, 0.59, 0.58, 0.57])
    _report(study, mid_b, [0.61, 0.6, 0.59, 0.58])
    _report(study, victim, [0.9, 0.9])
    assert victim.should_stop(), "PBT stops the bottom member at its round"
    study.tell(victim)
    assert study.trials[victim.number].state is TrialState.STOPPED
    return study, donor


def test_no_continuation_is_made_from_a_donor_that_reported_its_last_step(tmp_path: Path) -> None:
    study, donor = _population_with_a_victim(tmp_path / "at-the-end", donor_steps=STEPS)
    replacement = study.ask()
    record = study.trials[replacement.number]
    assert record.attrs.get("parent") != donor.number, record.attrs
    # One step before its end, the same donor is continued from its step with its checkpoint.
    study, donor = _population_with_a_victim(tmp_path / "one-step-left", donor_steps=STEPS - 1)
    child = study.ask()
    record = study.trials[child.number]
    assert record.attrs["parent"] == donor.number and child.start_step == STEPS - 1
    assert child.resumed and child.load_checkpoint() == {"loss": 0.2 - 0.01 * (STEPS - 2)}
