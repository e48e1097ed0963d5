"""What listings print: a guarded metric on the side of its bound it is on, the same figure in every view; no
partial value of a FAILED trial in a value column beside results; no silent empty listing of a storage that can
hold no study; a hint that pastes back."""

from __future__ import annotations

import csv
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.analysis._common import format_value
from tunesmith.cli import cli
from tunesmith.report import write_csv
from tunesmith.report._data import metrics_text
from tunesmith.trial import TrialState

BOUND = 0.1
# trial -> (val_loss, latency): #2 is the best feasible trial, a hair under the bound #1 breaches by equalling it
TABLE = {0: (0.5, 0.09996), 1: (0.4, BOUND), 2: (0.4567, 0.099996)}
ODD_NAME = "my study; echo hi"  # a shell splits it, and runs its second half, when pasted unquoted


def _invoke(*args: str, width: int = 1000) -> Result:
    """The command's result on a terminal ``width`` columns wide (by default, its lines as wide as they run)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": str(width)})


def _guarded_objective(trial: ts.Trial) -> dict[str, float]:
    loss, latency = TABLE[trial.params["i"]]
    return {"val_loss": loss, "latency": latency}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ts.Study]:
    """A stored study under ``latency < 0.1`` whose best is just inside the bound and whose #1 sits on it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('guarded') / 'g.db'}"
    study = ts.Study(ts.Space({"i": ts.Int(0, 2)}), metric=ts.Metric("val_loss", "min"), budget=ts.Budget(trials=3),
                     guardrails=[ts.Guardrail("latency", "<", BOUND)], storage=url, name="round", seed=0)  # fmt: skip
    for i in TABLE:
        study.enqueue({"i": i})
    study.optimize(_guarded_objective, progress=False)
    return url, study


def _shown(url: str, number: int) -> dict[str, str]:
    """`show`'s metrics line as name -> printed text."""
    output = _invoke("show", "round", str(number), "--storage", url).output
    line = next(line for line in output.splitlines() if line.strip().startswith("metrics "))
    return dict(pair.split("=", 1) for pair in line.split(None, 1)[1].split(", "))


def _best_metrics(url: str, names: set[str]) -> dict[str, str]:
    """`best`'s ``name = text`` lines for the metrics ``names``."""
    lines = _invoke("best", "round", "--storage", url).output.splitlines()
    found = (re.match(r"^\s+(\S+) = (.+)$", line) for line in lines)
    return {m.group(1): m.group(2).strip() for m in found if m is not None and m.group(1) in names}


def _side(value: float) -> int:
    return (value > BOUND) - (value < BOUND)


@pytest.mark.parametrize("value", [0.0999996, 0.099996, 0.09996, 0.100004, 0.1000004])
def test_a_guarded_value_prints_on_the_side_of_its_bound_it_is_on(value: float) -> None:
    printed = format_value(value, bounds=[BOUND])

    assert _side(float(printed)) == _side(value)


def test_a_value_no_bound_is_near_keeps_its_three_digits() -> None:
    assert format_value(0.456789, bounds=[BOUND]) == format_value(0.456789)


def test_a_value_from_a_thousand_to_a_million_prints_without_an_exponent() -> None:
    """A guardrail bound of 5000 read ``n_params <= 5e+03``, a latency of 1000 ms ``1e+03`` and a size of 1950.46
    ``1.95e+03`` beside its bound of 1500."""
    assert [format_value(v) for v in (1000.0, 5000.0, -250.0, 999999.0)] == ["1000", "5000", "-250", "999999"]
    assert [format_value(v) for v in (1950.46, 999.96, 123456.7)] == ["1950", "1000", "123457"]
    assert format_value(1950.46, bounds=[1950.3]) == "1950.5"  # the digits that keep it on its side of the bound
    assert [format_value(v) for v in (1e8, 0.000123)] == ["1e+08", "0.000123"]  # a million on: g's form
    assert ts.Guardrail("n_params", "<=", 5000).describe() == "n_params <= 5000"


def test_show_prints_a_feasible_guarded_value_below_the_bound_its_breach_equals(guarded: tuple[str, ts.Study]) -> None:
    url, _ = guarded

    feasible, breached = float(_shown(url, 2)["latency"]), float(_shown(url, 1)["latency"])

    assert (feasible < BOUND, breached == BOUND) == (True, True)


def test_best_prints_its_feasible_guarded_value_below_the_bound(guarded: tuple[str, ts.Study]) -> None:
    url, _ = guarded

    assert float(_best_metrics(url, {"latency"})["latency"]) < BOUND


def test_the_status_headline_prints_its_feasible_guarded_value_below_the_bound(guarded: tuple[str, ts.Study]) -> None:
    url, _ = guarded

    headline = next(line for line in _invoke("status", "round", "--storage", url).output.splitlines()
                    if line.startswith("Best: trial 2"))  # fmt: skip

    latency = re.search(r"latency=([0-9.e-]+)", headline)
    assert latency is not None and float(latency.group(1)) < BOUND, headline


def test_show_prints_every_metric_as_the_status_headline_does(guarded: tuple[str, ts.Study]) -> None:
    url, study = guarded
    expected = {r.number: metrics_text(r.metrics, objectives=(study.metric,), guardrails=study.guardrails)
                for r in study.trials}  # fmt: skip

    shown = {r.number: ", ".join(f"{k}={v}" for k, v in _shown(url, r.number).items()) for r in study.trials}

    assert shown == expected


def test_best_prints_every_metric_as_the_status_headline_does(guarded: tuple[str, ts.Study]) -> None:
    url, study = guarded
    best = next(r for r in study.trials if r.number == 2)

    printed = ", ".join(f"{k}={v}" for k, v in _best_metrics(url, set(best.metrics)).items())

    assert printed == metrics_text(best.metrics, objectives=(study.metric,), guardrails=study.guardrails)


def _interrupted_objective(trial: ts.Trial) -> dict[str, float]:
    if trial.number == 1:  # Ctrl-C after a first report: storage keeps that partial report as its metrics
        trial.report(loss=21.0, step=1)
        raise KeyboardInterrupt
    return {"loss": 0.5}


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ts.Study]:
    """A stored study: #0 complete, #1 FAILED (interrupted) holding the loss it reported before Ctrl-C."""
    url = f"sqlite:///{tmp_path_factory.mktemp('interrupted') / 'i.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3), storage=url,
                     name="cut", seed=0)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        study.optimize(_interrupted_objective, progress=False)
    assert [r.state for r in study.trials] == [TrialState.COMPLETE, TrialState.FAILED]
    assert study.trials[1].metrics  # the partial report these views must not show as a value
    return url, study


def test_the_trials_table_leaves_a_failed_trials_value_cell_empty(interrupted: tuple[str, ts.Study]) -> None:
    url, _ = interrupted
    lines = _invoke("trials", "cut", "--storage", url).output.splitlines()
    header = [cell.strip() for cell in next(line for line in lines if "┃ #" in line).split("┃")]
    row = next(line.split("│") for line in lines if re.match(r"^│ +1 │", line))

    assert row[header.index("loss")].strip() == ""


def test_trials_json_gives_a_failed_trial_a_null_value_beside_its_metrics(interrupted: tuple[str, ts.Study]) -> None:
    url, study = interrupted
    rows = [json.loads(line) for line in _invoke("trials", "cut", "--json", "--storage", url).output.splitlines()]

    assert (rows[1]["value"], rows[1]["metrics"]) == (None, study.trials[1].metrics)


def test_trials_json_gives_a_finished_trial_its_metric_as_value(interrupted: tuple[str, ts.Study]) -> None:
    url, study = interrupted
    rows = [json.loads(line) for line in _invoke("trials", "cut", "--json", "--storage", url).output.splitlines()]

    assert rows[0]["value"] == study.trials[0].metrics["loss"]


def test_the_csv_export_leaves_a_failed_trials_value_empty_and_keeps_its_metric(
    interrupted: tuple[str, ts.Study], tmp_path: Path
) -> None:
    _, study = interrupted
    with write_csv(study, tmp_path / "t.csv").open(newline="") as fh:
        failed = next(row for row in csv.DictReader(fh) if row["state"] == "failed")

    assert (failed["value"], float(failed["metrics.loss"])) == ("", study.trials[1].metrics["loss"])


def test_show_labels_what_a_failed_trial_kept_as_last_reported(interrupted: tuple[str, ts.Study]) -> None:
    url, study = interrupted
    output = _invoke("show", "cut", "1", "--storage", url).output
    line = next(line for line in output.splitlines() if line.strip().startswith("metrics "))

    assert line.split(None, 1)[1] == (
        f"loss={format_value(study.trials[1].metrics['loss'])} (last reported before it failed: not a result)"
    )


def test_show_of_a_killed_trial_prints_its_last_report_at_its_step(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    setup = (f"import os, tunesmith as ts\nstudy = ts.Study(ts.Space({{'x': ts.Float(0.0, 1.0)}}), metric='loss', "
             f"storage={url!r}, name='killed', seed=0)\ntrial = study.ask()\ntrial.report(loss=7.0)\n"
             "trial.report(loss=6.0)\nos._exit(0)\n")  # fmt: skip
    subprocess.run([sys.executable, "-c", setup], check=True, timeout=120)  # a worker gone mid-trial
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="killed", seed=0)
    study.optimize(lambda trial: {"loss": 1.0}, n_trials=1, progress=False)  # reaps it: FAILED with no metrics
    killed = study.trials[0]
    assert (killed.state, killed.metrics) == (TrialState.FAILED, {})
    step = max(killed.intermediate)

    output = _invoke("show", "killed", "0", "--storage", url).output
    line = next(line for line in output.splitlines() if line.strip().startswith("metrics "))

    assert line.split(None, 1)[1] == (f"loss={format_value(killed.intermediate[step]['loss'])} (last reported before "
                                      f"it failed, at step {step}: not a result)")  # fmt: skip


def test_studies_on_memory_storage_says_none_can_be_there_and_exits_1() -> None:
    result = CliRunner().invoke(cli, ["studies", "--storage", "memory"])

    assert (result.exit_code, "sqlite:///" in result.output) == (1, True)


def _failing(trial: ts.Trial) -> dict[str, float]:
    raise RuntimeError("boom")


def test_the_failed_trials_hint_pastes_back_whole_with_its_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=1), storage=url,
                     name=ODD_NAME, seed=0)  # fmt: skip
    study.optimize(_failing, fail_fast=None, progress=False)

    lines = _invoke("trials", ODD_NAME, "--failed", "--storage", url, width=60).output.splitlines()  # < the URL
    hint = next(line for line in lines if "tunesmith show " in line)
    pasted = shlex.split(hint[hint.index("tunesmith show ") :])

    assert pasted == ["tunesmith", "show", ODD_NAME, "--storage", url, "N"]
