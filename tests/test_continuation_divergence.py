"""Divergence is measured from where a trial's training started: a PBT continuation's first report is of a model
its lineage already trained, so the reference is its lineage root's first report; a trial ASHA resumed after a
pause keeps its own reports from before the pause, so the reference is its own first report."""

from __future__ import annotations

from pathlib import Path

import tunesmith as ts
from tunesmith.schedulers import ASHA
from tunesmith.trial import TrialKind, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
STEPS = 12
ROOT_START = 1.0  # the lineage root's first report: where training started


def _report(trial: ts.Trial, losses: list[float]) -> None:
    for loss in losses:
        trial.report(loss=loss)
        trial.save_checkpoint({"loss": loss})


def _pbt_study(tmp_path: Path) -> ts.Study:
    return ts.Study(SPACE, metric="loss", scheduler=ts.PBT(perturbation_interval=2, min_population=4),
                    storage=f"sqlite:///{tmp_path / 'study.db'}", name="pbt", seed=0,
                    checkpoint_dir=tmp_path / "ckpt")  # fmt: skip


def _continuation_of_a_trained_root(study: ts.Study) -> tuple[ts.Trial, ts.Trial, list[ts.Trial]]:
    """A root trained from ``ROOT_START`` down to 0.002 by step 6, a member PBT stopped at step 2, and the
    continuation of the root that replaces it, at step 6. Returns the root, the continuation and the two
    members in the middle of the population."""
    ended, root, mid_a, mid_b, victim = (study.ask() for _ in range(5))
    _report(ended, [0.5 - 0.01 * k for k in range(STEPS)])  # tells PBT how many steps training runs
    study.tell(ended, 0.39)
    _report(root, [ROOT_START, 0.3, 0.1, 0.03, 0.01, 0.002])
    _report(mid_a, [0.6, 0.59, 0.58, 0.57])
    _report(mid_b, [0.61, 0.6, 0.59, 0.58])
    _report(victim, [0.9, 0.9])
    assert victim.should_stop(), "PBT stops the bottom member at its round"
    study.tell(victim)
    child = study.ask()
    assert study.trials[child.number].attrs["parent"] == root.number and child.start_step == 6
    return root, child, [mid_a, mid_b]


def test_a_noise_bump_in_a_continuation_s_trained_loss_is_not_divergence(tmp_path: Path) -> None:
    study = _pbt_study(tmp_path)
    _, child, _ = _continuation_of_a_trained_root(study)
    # 20x its own first report, a hundredth of where its lineage's training started.
    _report(child, [0.0005, 0.01])
    assert not child.should_stop()
    record = study.tell(child, 0.01)
    assert (record.state, record.kind) == (TrialState.COMPLETE, None), record.error


def test_a_continuation_of_a_continuation_is_measured_from_its_lineage_root(tmp_path: Path) -> None:
    study = _pbt_study(tmp_path)
    root, child, (mid_a, mid_b) = _continuation_of_a_trained_root(study)
    extra = study.ask()  # nothing left to replace: a fresh member keeps the population at four
    _report(extra, [0.6, 0.59, 0.58, 0.57, 0.56, 0.55])  # a fresh member trained up to the others' round
    _report(child, [0.001, 0.0009])  # now the best member, the only donor
    _report(mid_a, [0.56, 0.55])
    _report(mid_b, [3.0, 3.1])
    assert mid_b.should_stop(), "PBT stops the new bottom member at its round"
    study.tell(mid_b)
    grandchild = study.ask()
    assert study.trials[grandchild.number].attrs["lineage"] == [root.number, child.number]
    # 50x the parent's first report and the grandchild's own, a twentieth of the root's.
    _report(grandchild, [0.0008, 0.05])
    assert not grandchild.should_stop()


def test_a_continuation_that_blows_up_past_its_lineage_start_is_stopped_naming_that_start(tmp_path: Path) -> None:
    study = _pbt_study(tmp_path)
    root, child, _ = _continuation_of_a_trained_root(study)
    _report(child, [0.0005, 15 * ROOT_START])
    assert child.should_stop()
    record = study.tell(child)
    assert (record.state, record.kind) == (TrialState.STOPPED, TrialKind.DIVERGED)
    assert (
        f"grew from {ROOT_START:g} (step 1 of trial {root.number}, where its lineage's training started) "
        f"to {15 * ROOT_START:g} (step 8)"
    ) in (record.error or "")


def test_a_trial_resumed_after_a_pause_is_measured_from_its_own_first_report_before_the_pause(
    tmp_path: Path,
) -> None:
    study = ts.Study(SPACE, metric="loss", scheduler=ASHA(1, 9, 3, mode="promote"),
                     storage=f"sqlite:///{tmp_path / 'study.db'}", name="asha", seed=0,
                     checkpoint_dir=tmp_path / "ckpt")  # fmt: skip
    for first in (2.0, 3.0, 4.0):  # three trials at the first rung: ASHA promotes the best of them
        trial = study.ask()
        _report(trial, [first])
        assert study.tell(trial).state is TrialState.PAUSED
    resumed = study.ask()
    assert (resumed.number, resumed.start_step) == (0, 1)
    _report(resumed, [0.1, 25.0])
    assert resumed.should_stop()
    record = study.tell(resumed)
    assert record.kind is TrialKind.DIVERGED
    assert "grew from 2 (its first report, step 1) to 25 (step 3)" in (record.error or "")
