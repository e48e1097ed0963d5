"""Openings of the locked holdout from two handles at once are all recorded: the log is appended and filled in
atomically, never rewritten from a copy taken at the opening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline.holdout import HoldoutOpened

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def objective(trial: ts.Trial) -> dict[str, Any]:
    rng = np.random.default_rng([int(trial.params["x"] * 1e9), trial.seed])
    return {"val_acc": rng.random(300) < 0.8}


def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": np.random.default_rng([7, seed]).random(300) < 0.8}


def tuned(tmp_path: Path) -> tuple[ts.Study, str]:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = ts.Study(SPACE, metric=ts.Metric("val_acc", "max"), budget=ts.Budget(trials=4), storage=url, name="s",
                     seed=0)  # fmt: skip
    study.optimize(objective, progress=False)
    return study, url


def test_a_forced_opening_while_the_first_is_being_scored_stays_in_the_log_and_fails_both_verdicts(
    tmp_path: Path,
) -> None:
    study, url = tuned(tmp_path)
    colleague: list[ts.discipline.Verdict] = []

    def slow(params: dict[str, Any], seed: int) -> dict[str, Any]:  # meanwhile, `tunesmith finalize --force`
        colleague.append(ts.finalize(ts.Study.load("s", storage=url), holdout, force=True, progress=False))
        return holdout(params, seed)

    verdict = ts.finalize(study, slow, progress=False)
    log = ts.Study.load("s", storage=url).attrs["holdout_log"]
    assert [entry["forced"] for entry in log] == [False, True]
    assert all(entry["scores"] is not None for entry in log), "each opening keeps what it read"
    assert not colleague[0].ready and not verdict.ready
    assert "opened 2 times (1 forced)" in verdict.check("holdout opened once").detail


def test_an_unforced_opening_while_the_first_is_being_scored_is_refused_and_the_log_keeps_one(tmp_path: Path) -> None:
    study, url = tuned(tmp_path)
    refused: list[BaseException] = []

    def slow(params: dict[str, Any], seed: int) -> dict[str, Any]:
        with pytest.raises(HoldoutOpened) as raised:
            ts.finalize(ts.Study.load("s", storage=url), holdout, progress=False)
        refused.append(raised.value)
        return holdout(params, seed)

    ts.finalize(study, slow, progress=False)
    assert refused and "opened once already" in str(refused[0])
    (entry,) = ts.Study.load("s", storage=url).attrs["holdout_log"]
    assert entry["forced"] is False and entry["scores"] is not None
