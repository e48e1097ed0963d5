"""A stale verdict vouches for nothing: after the judged winner is invalidated (a label leak), every ``--json`` view
read ``"ready": true`` beside the stale note, and `status` led with "verdict: ready", so a script gating on ``ready``
would ship the leaked model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli


def _accuracy(trial: ts.Trial) -> dict[str, Any]:
    rng = np.random.default_rng(trial.seed)
    return {"val_acc": rng.random(300) < 0.8 + 0.1 * trial.params["a"]}


def _holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": np.random.default_rng(seed + 1).random(300) < 0.8 + 0.1 * params["a"]}


def _finalized(url: str) -> int:
    study = ts.Study(ts.Space({"a": ts.Float(0.0, 1.0)}), metric=ts.Metric("val_acc", "max"), storage=url,
                     name="stale", seed=0, sampler="random", budget=ts.Budget(trials=8))  # fmt: skip
    study.optimize(_accuracy, progress=False)
    verdict = ts.finalize(study, _holdout, progress=False)
    assert verdict.ready, verdict
    study.storage.close()
    return verdict.trial


def test_a_verdict_on_a_trial_invalidated_since_is_not_ready_in_json_and_status_leads_with_stale(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/stale.db"
    judged = _finalized(url)
    runner = CliRunner()
    invalidated = runner.invoke(cli, ["invalidate", "--study", "stale", str(judged), "--reason", "label leak",
                                      "--storage", url])  # fmt: skip
    assert invalidated.exit_code == 0, invalidated.output

    for command in ("status", "best"):
        said = runner.invoke(cli, [command, "stale", "--storage", url, "--json"])
        assert said.exit_code == 0, said.output
        verdict = json.loads(said.output)["verdict"]
        assert verdict["ready"] is False and verdict["recorded_ready"] is True, (command, verdict)
        assert verdict["stale"].startswith(f"stale: the judged trial #{judged} was invalidated since (label leak)")
    text = " ".join(runner.invoke(cli, ["status", "stale", "--storage", url]).output.split())
    assert "verdict: ready" not in text.replace("recorded verdict: ready", ""), text
    assert text.index("verdict stale: the judged trial") < text.index("recorded verdict: ready"), text


def test_the_trackers_log_a_verdict_on_a_trial_invalidated_since_as_not_ready(tmp_path: Path) -> None:
    from tunesmith.integrations._tracking import verdict_json

    url = f"sqlite:///{tmp_path}/stale.db"
    judged = _finalized(url)
    study = ts.Study.load("stale", url)
    study.invalidate(judged, reason="label leak")

    logged = verdict_json(study)
    assert logged["ready"] is False and logged["recorded_ready"] is True
    assert logged["stale"].startswith(f"stale: the judged trial #{judged} was invalidated since (label leak)")
