"""A promote-mode run killed while a promoted trial trains on goes on with that trial when it is run again: the
trial waits PAUSED at its rung (its readings there stand, its checkpoint is kept) and, promoted anew, trains on
from the checkpoint at its last report. Ended FAILED, it dropped out of every rung, its checkpoint was pruned, and
the configuration the rungs had promoted never trained to the end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.trial import TrialKind, TrialState

KILLED_AT = 6  # the resource the promoted trial had reported when its process died (between the rungs 3 and 9)
SCHEDULERS = {
    "asha": "ts.ASHA(1, 9, 3, mode='promote')",
    "hyperband": "ts.Hyperband(1, 9, 3, mode='promote')",
}


def _objective(die_at: int | None, unsaved: int | None = None) -> str:
    """An objective that saves ``{"trained": steps}`` at each step but the one that reaches resource ``unsaved``
    and, with ``die_at``, kills its process once a resumed trial reported that resource (steps count from 0, each
    one unit of resource)."""
    return textwrap.dedent(
        f"""
        import os, tunesmith as ts

        def objective(trial):
            state = trial.load_checkpoint() or {{"trained": 0}}
            loss = None
            for step in trial.steps(9):
                state["trained"] += 1
                loss = trial.params["x"] + 1.0 / (step + 1)
                if step + 1 != {unsaved!r}:
                    trial.save_checkpoint(state)
                trial.report(loss=loss)
                if {die_at!r} is not None and trial.resumed and step + 1 == {die_at!r}:
                    os._exit(1)
            return {{"loss": loss, "trained": state["trained"]}}
        """
    )


def _killed_while_promoted(tmp_path: Path, scheduler: str, unsaved: int | None = None) -> str:
    """The storage URL of study ``p``, whose process died while a trial it had promoted trained on from a rung."""
    url = f"sqlite:///{tmp_path}/p.db"
    script = _objective(KILLED_AT, unsaved) + textwrap.dedent(
        f"""
        study = ts.Study(ts.Space({{"x": ts.Float(0.0, 1.0)}}), metric="loss", name="p", seed=0, sampler="random",
                         scheduler={scheduler}, budget=ts.Budget(trials=12), storage={url!r},
                         checkpoint_dir={str(tmp_path / "ckpt")!r})
        study.optimize(objective)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    return url


def _run_on(url: str) -> ts.Study:
    namespace: dict[str, object] = {}
    exec(_objective(None), namespace)  # the same objective, without the crash
    study = ts.Study.load("p", url)
    study.optimize(namespace["objective"])  # type: ignore[arg-type]
    return study


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_a_promoted_trial_lost_in_a_crash_waits_at_its_rung_and_trains_on_from_its_checkpoint(
    tmp_path: Path, scheduler: str
) -> None:
    url = _killed_while_promoted(tmp_path, SCHEDULERS[scheduler])
    before = ts.Study.load("p", url)
    (lost,) = [t for t in before.trials if t.state is TrialState.RUNNING]
    assert lost.resource == KILLED_AT and lost.paused, "the crash came while a promoted trial trained on"
    assert "PAUSED again" in before.gone_trials()[lost.number], "status says what the next worker will do"

    study = _run_on(url)
    record = study.trials[lost.number]
    assert (record.state, record.resource) == (TrialState.COMPLETE, 9.0)
    assert record.metrics["trained"] == 9, "it went on from its checkpoint, neither from scratch nor past a step"
    assert sorted(record.intermediate) == list(range(1, 10)), "each step reported once"
    assert len(record.paused) == len(lost.paused) + 1, "its rungs' waits and the wait since its worker died"
    assert not [t for t in study.trials if t.state is TrialState.FAILED]


def test_a_promoted_trial_whose_checkpoint_is_behind_its_last_report_ends_failed_as_before(tmp_path: Path) -> None:
    url = _killed_while_promoted(tmp_path, SCHEDULERS["asha"], unsaved=KILLED_AT)  # saved at 5, reported 6
    number = next(t.number for t in ts.Study.load("p", url).trials if t.state is TrialState.RUNNING)
    study = ts.Study.load("p", url)
    assert "FAILED (interrupted)" in study.gone_trials()[number]
    study.reap_lost_trials()
    record = study.trials[number]
    assert (record.state, record.kind) == (TrialState.FAILED, TrialKind.INTERRUPTED)
