"""`tunesmith trials --json` says when and where each trial ran, as `show` and the export do: it gave a duration
alone, so a user reading the lines with jq could not tell which worker ran which trial, or order them in time."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli


def test_each_line_carries_its_start_its_end_and_its_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/when.db"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3), storage=url,
                     name="when", seed=0)  # fmt: skip
    study.optimize(lambda trial: trial.params["x"])
    output = CliRunner().invoke(cli, ["trials", "when", "--storage", url, "--json"], catch_exceptions=False).output
    rows = [json.loads(line) for line in output.splitlines()]
    records = {r.number: r for r in study.trials}
    assert len(rows) == 3
    for row in rows:
        record = records[row["number"]]
        assert (row["started_at"], row["finished_at"], row["worker"]) == (record.started_at, record.finished_at,
                                                                          record.worker)  # fmt: skip
        assert row["started_at"] <= row["finished_at"] and row["worker"]
