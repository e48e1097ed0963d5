"""A PBT run killed while its members train goes on where they were when it is run again: each member lost with
the crash is continued from its own checkpoint (its own parameters, from the step that checkpoint holds) before any
new member is drawn, its checkpoint is kept until then, and the steps it trained are charged once."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.study._checkpoints import CheckpointMissing
from tunesmith.trial import TrialKind

MEMBERS = 4
TRAINED = 6  # the step every member had reported, its checkpoint saved with it, when the run was killed


def _killed_while_training(tmp_path: Path, retries: int = 0) -> str:
    """The storage URL of PBT study ``pop``, whose process asked for four members, trained each to step `TRAINED`
    (saving its state, ``w = 100 * member + step``, at each step) and died without a word, its members RUNNING."""
    url = f"sqlite:///{tmp_path}/pop.db"
    script = textwrap.dedent(
        f"""
        import os, tunesmith as ts
        study = ts.Study(ts.Space({{"lr": ts.Float(1e-3, 1.0, log=True)}}), metric="loss", name="pop", seed=0,
                         scheduler=ts.PBT(perturbation_interval=10), storage={url!r}, retries={retries},
                         checkpoint_dir={str(tmp_path / "ckpt")!r})
        members = [study.ask() for _ in range({MEMBERS})]
        for step in range(1, {TRAINED} + 1):
            for member in members:
                member.report(loss=1.0 / step + 0.01 * member.number)
                member.save_checkpoint({{"w": 100 * member.number + step}})
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return url


def test_each_member_lost_in_a_crash_is_continued_from_its_checkpoint_once_before_a_new_member(tmp_path: Path) -> None:
    url = _killed_while_training(tmp_path)
    workers = [ts.Study.load("pop", url), ts.Study.load("pop", url)]
    handed = [workers[k % 2].ask() for k in range(MEMBERS + 1)]  # two workers asking in turn
    trials = workers[0].trials
    assert all(trials[m].kind is TrialKind.INTERRUPTED for m in range(MEMBERS))
    for member, trial in zip(range(MEMBERS), handed, strict=False):
        attrs = trials[trial.number].attrs
        assert (attrs["parent"], attrs["resumes"], attrs["lineage"]) == (member, member, [member])
        assert (trial.params, trial.seed) == (trials[member].params, trials[member].seed)
        assert trial.start_step == TRAINED
        assert trial.load_checkpoint() == {"w": 100 * member + TRAINED}
    fresh = trials[handed[-1].number]
    assert "parent" not in fresh.attrs and handed[-1].start_step == 0, "a new member only once all are resumed"


def test_a_lost_members_checkpoint_is_kept_until_a_trial_resuming_it_holds_a_copy(tmp_path: Path) -> None:
    url = _killed_while_training(tmp_path)
    study = ts.Study.load("pop", url)
    first = study.ask()  # the first member's resumption: the other members wait for theirs
    study.tell(first)  # a finished trial: the study prunes the checkpoints nobody can use
    waiting = [m for m in range(MEMBERS) if m != study.trials[first.number].attrs.get("resumes")]
    for member in waiting:
        folder = study.trial_checkpoint_dir(member)
        assert folder.is_dir() and any(folder.iterdir()), f"member #{member}'s checkpoint was deleted"


def test_with_retries_a_resumed_member_is_not_also_retried_from_scratch(tmp_path: Path) -> None:
    url = _killed_while_training(tmp_path, retries=1)
    study = ts.Study.load("pop", url)
    handed = [study.ask() for _ in range(MEMBERS + 1)]
    trials = study.trials
    assert [trials[t.number].attrs.get("resumes") for t in handed[:MEMBERS]] == list(range(MEMBERS))
    assert not any("retry_of" in trials[t.number].attrs for t in handed)


def test_the_steps_a_lost_member_trained_are_charged_once(tmp_path: Path) -> None:
    url = _killed_while_training(tmp_path)
    study = ts.Study.load("pop", url)
    trial = study.ask()
    for _ in trial.steps(TRAINED + 2):
        trial.report(loss=0.1)
    study.tell(trial, {"loss": 0.1})
    assert study.usage().resource == MEMBERS * TRAINED + 2, "the resumption charges only the steps it trained"


def test_a_lost_member_whose_checkpoint_is_gone_stops_the_study_rather_than_train_from_nothing(tmp_path: Path) -> None:
    url = _killed_while_training(tmp_path)
    study = ts.Study.load("pop", url)
    assert study.reap_lost_trials() == list(range(MEMBERS)), "reaped where the checkpoints are"
    shutil.rmtree(tmp_path / "ckpt" / "trial-000000")  # as on a machine that does not share the checkpoint folder
    with pytest.raises(CheckpointMissing, match="its parent trial 0 left"):
        study.ask()


def test_a_resumed_member_is_not_requeued_by_a_later_retry_of_interrupted_trials(tmp_path: Path) -> None:
    url = _killed_while_training(tmp_path)
    study = ts.Study.load("pop", url)
    resumed = [study.ask() for _ in range(MEMBERS)]  # every lost member goes on training in its resumption
    assert sorted(study.trials[t.number].attrs["resumes"] for t in resumed) == list(range(MEMBERS))
    assert study.retry_failed(kinds=[TrialKind.INTERRUPTED]) == [], "a retry would train each a second time"
