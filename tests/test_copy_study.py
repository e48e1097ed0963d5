"""`ts.copy_study` and `tunesmith copy`: a study moved whole to another storage (SQLite to PostgreSQL to scale out,
to a file to archive it), every trial as recorded, the discipline's records with it; the source unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import CopiesAttr, read_attr
from tunesmith.cli import cli

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _flat(text: str) -> str:
    """``text`` without white space: the console wraps a long line anywhere, inside a path too."""
    return "".join(text.split())


def objective(trial: ts.Trial) -> float:
    if trial.number == 1:
        raise ValueError("a failure kept with its traceback")
    return trial.params["x"]


def _study(url: str, name: str = "s", **options: Any) -> ts.Study:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=4), storage=url, name=name, seed=0, **options)
    study.optimize(objective, fail_fast=None)
    return study


def test_a_copy_holds_every_trial_as_recorded_and_goes_on_as_a_study_of_its_own(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    study = _study(source)
    copied = ts.copy_study("s", source, target)
    assert copied.lines()[0] == f"copied study 's' from {source} to {target} (3 complete, 1 failed)"
    copy = ts.Study.load("s", target)
    assert copy.trials == study.trials
    assert copy.trials[1].error is not None and "a failure kept with its traceback" in copy.trials[1].error
    assert copy.info.created_at == study.info.created_at
    entries = read_attr(copy.attrs, CopiesAttr)
    assert entries is not None and [(e.source, e.study, e.trials) for e in entries.copies] == [(source, "s", 4)]
    copy.extend_budget(trials=6)
    copy.optimize(objective, fail_fast=None)
    assert [t.number for t in copy.trials] == [0, 1, 2, 3, 4, 5]
    assert len(ts.Study.load("s", source).trials) == 4, "the source is unchanged"


def test_a_study_moves_from_sqlite_to_postgresql_and_workers_go_on_there(tmp_path: Path, postgres: Any) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.db'}", postgres.create_database()
    study = _study(source)
    ts.copy_study("s", source, target, to_name="s-pg")
    moved = ts.Study.load("s-pg", target)
    assert moved.trials == study.trials
    moved.extend_budget(trials=6)
    moved.optimize(objective, workers=2, executor="processes")
    assert sorted(t.number for t in ts.Study.load("s-pg", target).trials) == [0, 1, 2, 3, 4, 5]


def test_the_discipline_reads_a_copied_study_as_it_did_at_home(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    study = _study(source, validation_set="val")
    ts.finalize(study, lambda params, seed: {"holdout_loss": params["x"]}, holdout="hold")
    ts.copy_study("s", source, target)
    later = _study(target, name="later", validation_set="val")
    verdict = ts.finalize(later, lambda params, seed: {"holdout_loss": params["x"]}, holdout="hold")
    checks = {check.name: check for check in verdict.checks}
    assert not checks["holdout opened once"].passed, "the copy's opening of the set travelled with it"
    assert "by 1 earlier study on this storage that tuned on validation set 'val' ('s': 3)" in checks["optimism"].detail


def test_a_copy_on_the_same_storage_counts_its_source_s_configurations_once(tmp_path: Path) -> None:
    """``tunesmith copy --as`` on one storage: a later study on the same validation set counted the source's
    configurations twice, once as the copy's ('s': 3, 'backup': 3); the copy's own later trials still count."""
    from tunesmith.study._validation_set import earlier_studies

    url = f"sqlite:///{tmp_path / 'a.db'}"
    _study(url, validation_set="val")
    ts.copy_study("s", url, url, to_name="backup")
    later = _study(url, name="later", validation_set="val")
    assert {e.name: len(e.records) for e in earlier_studies(later)} == {"s": 3}
    backup = ts.Study.load("backup", url)
    backup.extend_budget(trials=6)
    backup.optimize(objective, fail_fast=None)
    again = _study(url, name="again", validation_set="val")
    assert {e.name: len(e.records) for e in earlier_studies(again)} == {"s": 3, "backup": 2, "later": 3}


def test_a_study_with_running_trials_is_not_copied(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    study = _study(source)
    study.extend_budget(trials=5)
    study.ask()
    with pytest.raises(ts.StudyInUse, match=r"1 running trial \(#4\), so it is not copied: a copy is a snapshot"):
        ts.copy_study("s", source, target)
    assert ts.Study.names(target) == []


def test_a_trial_whose_worker_is_gone_does_not_block_the_copy(tmp_path: Path) -> None:
    """A trial recorded RUNNING by a worker that died writes nothing more: it blocked every copy for good (copy said
    to wait until it ends, which it never does without a run that spends budget). It is copied as recorded, and the
    next worker of the copy records it FAILED."""
    from tests.test_gone_workers import _killed_mid_trial

    url, number = _killed_mid_trial(tmp_path)
    target = f"sqlite:///{tmp_path / 'b.db'}"
    copied = ts.copy_study("gone", url, target)
    assert copied.gone == (number,)
    assert _flat(f"trial #{number}, recorded running by a worker that is gone, copied as recorded") in _flat(
        " ".join(copied.lines())
    )
    copy = ts.Study.load("gone", target)
    assert [r.state for r in copy.trials] == [ts.TrialState.RUNNING]
    copy.reap_lost_trials()
    assert [r.state for r in copy.trials] == [ts.TrialState.FAILED]
    assert [r.state for r in ts.Study.load("gone", url).trials] == [ts.TrialState.RUNNING], "the source is unchanged"


def test_a_copy_is_never_merged_and_a_copy_of_a_copy_remembers_both(tmp_path: Path) -> None:
    a, b, c = (f"sqlite:///{tmp_path / f'{n}.db'}" for n in "abc")
    _study(a)
    _study(b)
    with pytest.raises(ts.ConfigError, match="holds a study named 's' already, and a copy is never merged"):
        ts.copy_study("s", a, b)
    assert len(ts.Study.load("s", b).trials) == 4
    ts.copy_study("s", a, b, to_name="s-from-a")
    ts.copy_study("s-from-a", b, c)
    entries = read_attr(ts.Study.load("s-from-a", c).attrs, CopiesAttr)
    assert entries is not None and [(e.source, e.study) for e in entries.copies] == [(a, "s"), (b, "s-from-a")]


def test_the_command_copies_and_says_where(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    _study(source)
    result = CliRunner().invoke(cli, ["copy", "s", "--storage", source, "--to", target, "--as", "archived"])
    assert result.exit_code == 0, result.output
    assert _flat(f"copied study 's' from {source} to {target} as 'archived' (3 complete, 1 failed)") in _flat(
        result.output
    )
    assert ts.Study.names(target) == ["archived"]
    status = CliRunner().invoke(cli, ["status", "archived", "--storage", target])
    assert status.exit_code == 0, status.output
    assert _flat(f"from study 's' of {source} with 4 trials") in _flat(status.output)
    again = CliRunner().invoke(cli, ["copy", "s", "--storage", source, "--to", target, "--as", "archived"])
    assert again.exit_code == 1 and "Traceback" not in again.output and "never merged" in again.output


def test_the_command_refuses_a_copy_into_memory_which_would_end_with_it(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    _study(source)
    result = CliRunner().invoke(cli, ["copy", "s", "--storage", source, "--to", "memory"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "--to memory keeps the copy only inside this command's process" in " ".join(result.output.split())


def _saving(trial: ts.Trial) -> float:
    """Keeps a checkpoint file that names its trial's ``x``: what a resumption would train on."""
    folder = Path(trial.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.txt").write_text(repr(trial.params["x"]))
    return trial.params["x"]


def test_a_copy_keeps_its_checkpoints_in_a_folder_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy shared the source's checkpoint folder: going on, it pruned folders of trials not among its own best,
    the source's best among them. It now gets a folder of its own, with the source's files copied in."""
    monkeypatch.chdir(tmp_path)
    source, target = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage=source, name="s", seed=0,
                     keep_checkpoints=1)  # fmt: skip
    study.optimize(_saving)
    kept = sorted(p.name for p in study.checkpoint_root.iterdir())
    copied = ts.copy_study("s", source, target)
    copy = ts.Study.load("s", target, keep_checkpoints=1)
    assert copy.checkpoint_root != study.checkpoint_root
    assert str(copy.checkpoint_root) == copied.checkpoint_folder and copied.checkpoints_copied == len(kept)
    assert sorted(p.name for p in copy.checkpoint_root.iterdir()) == kept
    assert _flat(f"copied to {copied.checkpoint_folder}, the copy's own") in _flat(" ".join(copied.lines()))
    # the source goes on and finds a new best; the copy goes on and finds worse trials than the source's new best
    study.extend_budget(trials=4)
    study.enqueue({"x": 0.0})
    study.optimize(_saving)
    best = study.best
    assert best is not None and best.number == 3
    copy.extend_budget(trials=4)
    copy.enqueue({"x": 1.0})
    copy.optimize(_saving)
    assert (study.checkpoint_root / "trial-000003" / "model.txt").read_text() == "0.0", "the copy pruned none of it"
    assert not (copy.checkpoint_root / "trial-000003" / "model.txt").exists(), "the copy pruned its own worse trial"
