"""``tunesmith finalize --rerun-top K``: the seed re-runs before the opening, from the command line.

The CLI's finalize opened the holdout on the search's best with seed stability "not checked", and its advice was
Python's (``ts.validate_top(study, objective)``): a study run from a config without ``[holdout]`` had no command
that re-ran its top configurations across seeds before the holdout was spent.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli

OBJECTIVES = """
import numpy as np


def objective(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    noise = np.random.default_rng(trial.seed).normal(0.0, 0.05)
    return {"loss": 1.0 + (x - 1.0) ** 2 + noise}


def holdout(params, seed):
    return {"loss": 1.0 + (params["x"] - 1.0) ** 2}
"""


@pytest.fixture
def project(tmp_path: Path, user_module: Callable[[str, str], str]) -> tuple[Path, str]:
    """A config run to its budget from the command line, its objective in a module under a unique name."""
    module = user_module("rerun_cli", OBJECTIVES)
    (tmp_path / "study.toml").write_text(textwrap.dedent(f"""
        name = "s"
        objective = "{module}:objective"
        storage = "sqlite:///s.db"
        seed = 0

        [metric]
        name = "loss"
        direction = "min"

        [budget]
        trials = 10
    """))  # fmt: skip
    ran = CliRunner().invoke(cli, ["run", "study.toml", "--no-report"])
    assert ran.exit_code == 0, ran.output
    return tmp_path, module


def finalize(module: str, *extra: str) -> Result:
    return CliRunner().invoke(cli, ["finalize", "s", "--storage", "sqlite:///s.db", "--evaluate",
                                    f"{module}:holdout", *extra])  # fmt: skip


def test_rerun_top_re_runs_the_top_configurations_with_the_recorded_objective_before_the_opening(
    project: tuple[Path, str],
) -> None:
    _, module = project

    result = finalize(module, "--rerun-top", "3", "--seeds", "3")

    assert result.exit_code == 0, result.output
    assert "3 candidates x 3 seeds" in result.output
    study = ts.Study.load("s", "sqlite:///s.db")
    stability = study.attrs["seed_stability"]
    assert len(stability["candidates"]) == 3 and stability["seeds"] and len(stability["seeds"]) == 3
    verdict = study.attrs["verdict"]
    seed_line = next(r for r in verdict["reasons"] if r.startswith("seed stability"))
    assert "[not checked]" not in seed_line, seed_line
    assert study.attrs["holdout_log"][0]["trial"] == stability["winner"]


def test_without_rerun_top_the_unchecked_seed_stability_names_the_option(project: tuple[Path, str]) -> None:
    _, module = project

    result = finalize(module)

    assert result.exit_code == 0, result.output
    assert "tunesmith finalize --rerun-top K" in result.output
    assert "tunesmith finalize --rerun-top K --baseline NAME=VALUE" in result.output


def test_a_holdout_opened_before_is_refused_before_any_re_run(project: tuple[Path, str]) -> None:
    _, module = project
    assert finalize(module).exit_code == 0

    again = finalize(module, "--rerun-top", "2")

    assert again.exit_code == 1
    assert "was opened once already" in again.output and "--force" in again.output
    assert "seed_stability" not in ts.Study.load("s", "sqlite:///s.db").attrs


@pytest.mark.parametrize("option", [["--seeds", "3"], ["--objective", "m:f"]])
def test_a_re_run_setting_without_rerun_top_is_refused_and_nothing_is_opened(
    project: tuple[Path, str], option: list[str]
) -> None:
    _, module = project

    result = finalize(module, *option)

    assert result.exit_code != 0
    assert "only --rerun-top K asks for" in result.output
    assert "holdout_log" not in ts.Study.load("s", "sqlite:///s.db").attrs


def test_another_objective_than_the_recorded_one_is_refused(project: tuple[Path, str]) -> None:
    _, module = project

    result = finalize(module, "--rerun-top", "2", "--objective", f"{module}:holdout")

    assert result.exit_code != 0
    assert "not the objective of study 's'" in result.output
    assert "seed_stability" not in ts.Study.load("s", "sqlite:///s.db").attrs


def test_on_a_study_of_several_objectives_rerun_top_re_runs_the_recorded_choice_and_says_so(
    tmp_path: Path, user_module: Callable[[str, str], str]
) -> None:
    module = user_module("rerun_cli_mo", """
        import numpy as np


        def objective(trial):
            x = trial.suggest_float("x", 0.0, 1.0)
            noise = np.random.default_rng(trial.seed).normal(0.0, 0.01)
            return {"error": 0.2 + 0.5 * x + noise, "latency": 2.0 - x}


        def holdout(params, seed):
            return {"error": 0.2 + 0.5 * params["x"], "latency": 2.0 - params["x"]}
    """)  # fmt: skip
    (tmp_path / "mo.toml").write_text(textwrap.dedent(f"""
        name = "s"
        objective = "{module}:objective"
        storage = "sqlite:///s.db"
        seed = 0

        [[metrics]]
        name = "error"
        direction = "min"

        [[metrics]]
        name = "latency"
        direction = "min"

        [choose]
        rule = "knee"

        [budget]
        trials = 10
    """))  # fmt: skip
    assert CliRunner().invoke(cli, ["run", "mo.toml", "--no-report"]).exit_code == 0

    result = finalize(module, "--rerun-top", "3", "--seeds", "2")

    assert result.exit_code == 0, result.output
    assert "--rerun-top 3: study 's' has several objectives" in result.output
    study = ts.Study.load("s", "sqlite:///s.db")
    chosen = study.attrs["choice"]["trial"]
    assert [c["trial"] for c in study.attrs["seed_stability"]["candidates"]] == [chosen]


def test_a_baseline_given_runs_on_the_re_runs_seeds_and_the_verdict_reads_the_margin_on_it(
    project: tuple[Path, str],
) -> None:
    _, module = project

    result = finalize(module, "--rerun-top", "2", "--seeds", "3", "--baseline", "x=-2.5")

    assert result.exit_code == 0, result.output
    study = ts.Study.load("s", "sqlite:///s.db")
    baseline = study.attrs["baseline"]
    assert baseline["params"] == {"x": -2.5} and len(baseline["runs"]) >= 3
    margin = next(r for r in study.attrs["verdict"]["reasons"] if r.startswith("baseline margin"))
    # plain floats carry no validation noise, so the margin is read but left undecided: its figures are the baseline's
    assert "vs baseline 13.2" in margin and "on the same seeds" in margin, margin


def test_a_baseline_is_refused_without_rerun_top_and_beside_another_evaluated_one(project: tuple[Path, str]) -> None:
    _, module = project
    alone = finalize(module, "--baseline", "x=0")
    assert alone.exit_code != 0 and "--baseline sets the seed re-runs" in alone.output
    assert finalize(module, "--rerun-top", "2", "--seeds", "2", "--baseline", "x=0").exit_code == 0

    other = finalize(module, "--rerun-top", "2", "--force", "--baseline", "x=1")

    assert other.exit_code == 1
    assert "evaluated its baseline {'x': 0.0} already" in other.output, other.output
    assert ts.Study.load("s", "sqlite:///s.db").attrs["baseline"]["params"] == {"x": 0.0}


SCRIPT = """
import tunesmith as ts

from {module} import objective


def local_objective(trial):
    return objective(trial)


if __name__ == "__main__":
    study = ts.Study(metric="loss", storage="sqlite:///script.db", name="script", seed=0, budget=ts.Budget(trials=6))
    study.optimize(local_objective)
"""


def test_a_study_run_from_a_script_is_told_which_objective_to_name(
    tmp_path: Path, user_module: Callable[[str, str], str]
) -> None:
    """A study run by ``python tune.py`` records no objective to import; the refusal named only the option's form.
    It now names the script's function as --objective takes it, and the folder to run from."""
    import os
    import subprocess
    import sys

    from tunesmith.discipline.holdout import counted_openings

    module = user_module("rerun_script", OBJECTIVES)
    (tmp_path / "tune.py").write_text(textwrap.dedent(SCRIPT.format(module=module)))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TUNESMITH_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [".", *sys.path]))
    done = subprocess.run([sys.executable, "tune.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=environment)  # fmt: skip
    assert done.returncode == 0, done.stderr
    base = ["finalize", "script", "--storage", "sqlite:///script.db", "--evaluate", f"{module}:holdout"]
    refused = CliRunner().invoke(cli, [*base, "--rerun-top", "2", "--seeds", "2"])
    assert refused.exit_code == 1
    assert (f"study 'script' records no objective (attribute 'objective' or 'config'): pass --objective "
            f"module:function: it ran local_objective of the script {tmp_path.resolve() / 'tune.py'} from Python, so "
            f"pass --objective tune:local_objective from {tmp_path.resolve()}, once that script starts no search when "
            "imported (keep its study.optimize under if __name__ == '__main__')") in " ".join(refused.output.split())
    assert counted_openings(ts.Study.load("script", storage="sqlite:///script.db").attrs) == []
    told = CliRunner().invoke(cli, [*base, "--rerun-top", "2", "--seeds", "2", "--objective", "tune:local_objective"])
    assert told.exit_code == 0, told.output
    assert "2 candidates x 2 seeds" in told.output
    assert len(counted_openings(ts.Study.load("script", storage="sqlite:///script.db").attrs)) == 1
