"""``tunesmith choose``: the Pareto front's pick from the command line, as `Study.choose` records it.

A study of several objectives run from a config without ``[choose]`` ended with "pick with study.choose(...) in
Python": the command line could show the front (`tunesmith best`) and open the holdout (`tunesmith finalize`), but
not record the pick between them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli


@pytest.fixture
def storage(tmp_path: Path) -> str:
    """A study of two objectives whose front runs from low error and high latency to the reverse."""
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=[ts.Metric("error", "min"),
                     ts.Metric("latency_ms", "min")], storage=url, name="mo", seed=0,
                     budget=ts.Budget(trials=12))  # fmt: skip
    study.optimize(lambda trial: {"error": 0.1 + 0.4 * trial.params["x"] ** 2,
                                  "latency_ms": 50.0 - 40.0 * trial.params["x"]})  # fmt: skip
    return url


def choose(storage: str, *options: str) -> Result:
    return CliRunner().invoke(cli, ["choose", "mo", "--storage", storage, *options])


def test_best_under_a_bound_records_the_lowest_error_that_meets_it(storage: str) -> None:
    result = choose(storage, "--best", "error", "--bound", "latency_ms<=30")

    assert result.exit_code == 0, result.output
    study = ts.Study.load("mo", storage)
    meeting = [r for r in study.pareto_front if r.metrics["latency_ms"] <= 30]
    expected = min(meeting, key=lambda r: r.metrics["error"])
    assert study.attrs["choice"]["trial"] == expected.number
    assert f"* chosen: trial #{expected.number}" in result.output


def test_knee_and_weights_record_their_rule_and_choosing_again_replaces_the_choice(storage: str) -> None:
    assert choose(storage, "--knee").exit_code == 0
    assert ts.Study.load("mo", storage).attrs["choice"]["rule"]["rule"] == "knee"

    weighted = choose(storage, "--weight", "error=1", "--weight", "latency_ms=0", "--json")

    assert weighted.exit_code == 0, weighted.output
    study = ts.Study.load("mo", storage)
    lowest_error = min(study.pareto_front, key=lambda r: r.metrics["error"])
    assert study.attrs["choice"]["rule"]["rule"] == "weights"
    assert study.attrs["choice"]["trial"] == lowest_error.number == json.loads(weighted.output)["chosen"]


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ([], "choose takes one rule, got none"),
        (["--knee", "--best", "error"], "got --knee and --best"),
        (["--knee", "--bound", "latency_ms<=30"], "--bound limits the trials --best ranks"),
        (["--best", "error", "--bound", "latency_ms=30"], "a bound is NAME<=VALUE"),
        (["--weight", "error"], "a weight is NAME=W"),
        (["--best", "eror"], "must name one of the study's objectives ['error', 'latency_ms'], got 'eror'"),
    ],
)
def test_a_rule_stated_wrongly_is_refused_and_nothing_is_recorded(
    storage: str, options: list[str], refusal: str
) -> None:
    result = choose(storage, *options)

    assert result.exit_code != 0
    assert refusal in result.output, result.output
    assert "choice" not in ts.Study.load("mo", storage).attrs


def test_best_and_finalize_without_a_choice_name_the_command_that_records_one(
    storage: str, user_module: Callable[[str, str], str]
) -> None:
    module = user_module("mo_holdout", "def evaluate(params, seed):\n    return {'error': 0.2, 'latency_ms': 30.0}\n")

    shown = CliRunner().invoke(cli, ["best", "mo", "--storage", storage])
    refused = CliRunner().invoke(cli, ["finalize", "mo", "--storage", storage, "--evaluate", f"{module}:evaluate"])

    assert shown.exit_code == 0, shown.output
    assert "no choice recorded: tunesmith choose mo --knee" in shown.output
    assert refused.exit_code == 1
    assert "tunesmith choose mo --knee (or --best, --weight)" in refused.output


def test_the_run_summary_of_a_front_without_a_choice_names_the_command_beside_python(storage: str) -> None:
    from io import StringIO

    from rich.console import Console

    from tunesmith.report.terminal import summary

    out = StringIO()
    summary(ts.Study.load("mo", storage), console=Console(file=out, width=200), analyses=False)

    assert "study.choose(ts.choose.knee()) (tunesmith choose mo --knee) picks one" in out.getvalue()
