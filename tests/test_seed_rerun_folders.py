"""Seed re-runs (`validate_top`, `evaluate_baseline`) are fresh: each starts in an empty checkpoint folder, never
loading the state an earlier call's run left there, and the folders are deleted once the re-runs end unless
``keep_checkpoints=True``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tunesmith as ts


def _study(tmp_path: Path) -> ts.Study:
    study = ts.Study(ts.Space({"x": ts.Float(-1, 1)}), metric="loss", budget=ts.Budget(trials=4),
                     storage="memory", seed=0, sampler="random", checkpoint_dir=tmp_path)  # fmt: skip
    study.optimize(lambda trial: {"loss": trial.params["x"] ** 2})
    return study


class Checkpointing:
    """An objective that resumes from any checkpoint it finds, noting what a fresh run found."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []

    def __call__(self, trial: ts.Trial) -> dict[str, float]:
        state = trial.load_checkpoint()
        if state is not None and not trial.resumed:
            self.found.append(state)
        for step in trial.steps(3):
            trial.save_checkpoint({"seed": trial.seed, "epoch": step + 1})
            trial.report(loss=trial.params["x"] ** 2)
        return {"loss": trial.params["x"] ** 2 + 0.01 * (trial.seed % 7)}


def _folders(study: ts.Study) -> list[str]:
    seeds = study.checkpoint_root / "seeds"
    return sorted(p.name for p in seeds.iterdir()) if seeds.is_dir() else []


def test_a_second_validate_top_never_loads_the_state_the_first_call_s_reruns_left(tmp_path: Path) -> None:
    study, objective = _study(tmp_path), Checkpointing()
    ts.validate_top(study, objective, k=1, seeds=2, progress=False, keep_checkpoints=True)
    ts.validate_top(study, objective, k=1, seeds=2, progress=False)
    assert objective.found == []


def test_a_second_evaluate_baseline_never_loads_the_state_the_first_call_s_runs_left(tmp_path: Path) -> None:
    study, objective = _study(tmp_path), Checkpointing()
    ts.evaluate_baseline(study, objective, params={"x": 0.5}, seeds=2, progress=False, keep_checkpoints=True)
    ts.evaluate_baseline(study, objective, params={"x": 0.5}, seeds=2, progress=False)
    assert objective.found == []


def test_rerun_checkpoint_folders_are_deleted_once_the_reruns_end(tmp_path: Path) -> None:
    study = _study(tmp_path)
    ts.validate_top(study, Checkpointing(), k=1, seeds=2, progress=False)
    ts.evaluate_baseline(study, Checkpointing(), params={"x": 0.5}, seeds=2, progress=False)
    assert _folders(study) == []


def test_keep_checkpoints_keeps_each_rerun_s_folder_with_its_last_state(tmp_path: Path) -> None:
    study = _study(tmp_path)
    report = ts.validate_top(study, Checkpointing(), k=1, seeds=2, confirm=0, progress=False, keep_checkpoints=True)
    winner = report.candidates[0].trial
    assert _folders(study) == [f"{winner}-0", f"{winner}-1"]
    first_seed = ts.Trial(winner, {}, 0, checkpoint_dir=study.checkpoint_root / "seeds" / f"{winner}-0")
    assert first_seed.load_checkpoint() == {"seed": report.seeds[0], "epoch": 3}
