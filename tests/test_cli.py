"""The command line: run, trials, best, status, studies, demo, and clear errors for bad configs."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tests.conftest import BIN
from tunesmith.cli import cli
from tunesmith.config import load_config

CONFIG = """
name = "quad"
objective = "objectives:quadratic"
seed = 2
sampler = "random"

[metric]
name = "loss"
direction = "min"

[[guardrails]]
metric = "loss"
op = "<="
bound = 0.2

[budget]
trials = 12

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


@pytest.fixture
def config(objectives_dir: Path) -> Path:
    path = objectives_dir / "quad.toml"
    path.write_text(CONFIG.format())
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_run_then_read_back_with_trials_best_and_status(config: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    report = tmp_path / "quad.html"
    result = invoke("run", str(config), "--storage", url, "--no-progress", "--report", str(report))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "trial budget spent (12/12)" in result.output and "Best: trial" in result.output  # type: ignore[attr-defined]
    assert report.is_file() and "plotly" in report.read_text()[:200_000]

    listed = invoke("trials", "--storage", url, "--json")
    rows = [json.loads(line) for line in listed.output.splitlines()]  # type: ignore[attr-defined]
    assert [r["number"] for r in rows] == list(range(12))
    assert set(rows[0]) >= {"number", "state", "params", "metrics", "reason"}
    assert {r["state"] for r in rows} <= {"complete", "infeasible"}

    best = json.loads(invoke("best", "quad", "--storage", url, "--json").output)  # type: ignore[attr-defined]
    assert best["state"] == "complete" and best["metrics"]["loss"] == min(
        r["metrics"]["loss"] for r in rows if r["state"] == "complete"
    )
    status = invoke("status", "--storage", url)
    assert "trials 12/12" in status.output and "100% spent" in status.output  # type: ignore[attr-defined]


def test_storage_comes_from_the_environment(config: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/env.db"
    result = invoke("run", str(config), "--no-progress", "--no-report", env={"TUNESMITH_STORAGE": url})
    assert result.exit_code == 0  # type: ignore[attr-defined]
    listed = invoke("studies", "--json", env={"TUNESMITH_STORAGE": url})
    assert json.loads(listed.output)["name"] == "quad"  # type: ignore[attr-defined]


def test_yaml_configs_work(objectives_dir: Path, tmp_path: Path) -> None:
    path = objectives_dir / "quad.yaml"
    path.write_text(
        "objective: objectives:quadratic\nmetric: loss\nbudget: {trials: 3}\n"
        "space:\n  x: {type: float, low: 0.0, high: 1.0}\n"
    )
    result = invoke("run", str(path), "--storage", f"sqlite:///{tmp_path}/y.db", "--no-progress", "--no-report")
    assert result.exit_code == 0 and "trial budget spent (3/3)" in result.output  # type: ignore[attr-defined]


YAML = ("objective: objectives:quadratic\nmetric: loss\nbudget: {trials: 3}\n"
        "space:\n  x: {type: float, low: 0.0, high: 1.0}\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (YAML + "budget: {trials: 30}\n", "cannot parse quad.yaml: key 'budget' is given twice (first at line 3): keep "
         "one (at line 6, column 1)"),
        (YAML.replace("{trials: 3}", "{trials: 3, trials: 5}"), "key 'trials' is given twice (first at line 3)"),
        ("name: 00123\n" + YAML, "a study name must be a non-empty string, got name=83 (int): quote it"),
        ("name: yes\n" + YAML, "got name=True (bool)"),
        ('name: ""\n' + YAML, 'got name="" (str): write a name, or leave name out for the file\'s, \'quad\''),
        ("space: [a\n" + YAML, "cannot parse quad.yaml: while parsing a flow sequence: expected ',' or ']'"),
    ],
)
def test_a_yaml_config_is_refused_where_yaml_would_read_it_otherwise_than_written(
    objectives_dir: Path, tmp_path: Path, text: str, message: str
) -> None:
    """YAML kept the last of a key given twice (TOML refuses it), and read an unquoted name 00123 as 83 and yes as
    true, each a study of its own; a parse error quoted the text over several lines."""
    path = objectives_dir / "quad.yaml"
    path.write_text(text)
    result = invoke("run", str(path), "--storage", f"sqlite:///{tmp_path}/y.db", "--no-progress", "--no-report")
    assert result.exit_code == 1 and message in result.output, result.output  # type: ignore[attr-defined]
    assert len(result.output.strip().splitlines()) == 1, result.output  # type: ignore[attr-defined]
    assert not (tmp_path / "y.db").exists()


def test_a_config_space_past_what_its_names_mean_warns_as_python_does_in_one_line_each(
    objectives_dir: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """A dropout up to 1.5 or a negative learning rate drew a `SpaceWarning` in Python and nothing from a config;
    the command line says each warning on one line, without the library's file and line."""
    path = objectives_dir / "quad.toml"
    path.write_text(
        'objective = "objectives:quadratic"\nmetric = "loss"\n[budget]\ntrials = 2\n[space]\n'
        'x = { type = "float", low = 0.0, high = 1.0 }\ndropout = { type = "float", low = 0.0, high = 1.5 }\n'
    )
    with pytest.warns(ts.SpaceWarning, match=r"'dropout' spans \[0.0, 1.5\], outside \[0, 1\]"):
        load_config(path)
    command = [str(BIN / "tunesmith"), "run", str(path), "--storage", f"sqlite:///{tmp_path}/w.db", "--no-report",
               "--no-progress"]  # fmt: skip
    ran = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert "warning (SpaceWarning): 'dropout' spans [0.0, 1.5], outside [0, 1]" in ran.stderr
    assert ".py:" not in ran.stderr, ran.stderr


def test_yaml_anchors_and_merge_keys_still_read(objectives_dir: Path, tmp_path: Path) -> None:
    path = objectives_dir / "quad.yaml"
    path.write_text(
        "objective: objectives:quadratic\nmetric: loss\nbudget: {trials: 3}\n"
        "space:\n  x: &unit {type: float, low: 0.0, high: 1.0}\n  y:\n    <<: *unit\n    high: 2.0\n"
    )
    config = load_config(path)
    assert config.space["y"] == ts.Float(0.0, 2.0) and config.space["x"] == ts.Float(0.0, 1.0)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.replace('low = 0.0', 'low = 2.0'), "low < high must hold"),
        (lambda c: c.replace('objectives:quadratic', 'objectives:nope'), "has no 'nope'"),
        (lambda c: c.replace('objectives:quadratic', 'no_such_module:f'), "cannot import module"),
        (lambda c: c.replace('direction = "min"', 'direction = "down"'), "direction must be 'min' or 'max'"),
        (lambda c: c.replace('trials = 12', 'trials = -1'), "trials must be a positive integer"),
        (lambda c: "bogus = 1\n" + c, "unknown key 'bogus' in "),
        (lambda c: c + "\nbogus = 1\n", "parameter 'bogus': must be a table with a 'type' key"),
        (lambda c: c.replace('op = "<="', 'op = "=~"'), "guardrail op must be one of"),
        (lambda c: c.replace('[metric]', '[metrc]'), "did you mean 'metrc' -> 'metric'"),
        (lambda c: c.replace('[metric]', '[[metrics]]\nname = "loss"\n\n[metric]'),
         "declares both 'metric' and 'metrics'"),
        (lambda c: c.replace('[metric]\nname = "loss"\ndirection = "min"', '[metric]\nname = "loss"\ndirecton = "min"'),
         "did you mean 'direction'"),
        (lambda c: c.replace('[metric]\nname = "loss"\ndirection = "min"', ''), "needs a 'metric' entry"),
        (lambda c: c.replace('x = {', 'x = {{'), "cannot parse"),
        (lambda c: 'metric = "accuracy"\n' + c.replace('[metric]\nname = "loss"\ndirection = "min"', ''),
         'write metric = { name = "accuracy", direction = "max" } (or direction min'),
    ],
)
def test_bad_configs_give_one_clear_error_not_a_traceback(objectives_dir: Path, tmp_path: Path, mutate: object,
                                                          message: str) -> None:
    path = objectives_dir / "bad.toml"
    path.write_text(mutate(CONFIG.format()))  # type: ignore[operator]
    result = CliRunner().invoke(cli, ["run", str(path), "--storage", f"sqlite:///{tmp_path}/bad.db"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and message in result.output, result.output
    assert result.output.startswith("Error:")


def test_unknown_study_lists_the_known_ones(config: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/known.db"
    invoke("run", str(config), "--storage", url, "--no-progress", "--no-report")
    result = CliRunner().invoke(cli, ["best", "other", "--storage", url])
    assert result.exit_code == 1 and "no study named 'other'" in result.output and "quad" in result.output


def test_empty_storage_says_how_to_start(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--storage", f"sqlite:///{tmp_path}/empty.db"])
    assert result.exit_code == 1 and "tunesmith run CONFIG" in result.output


def test_the_password_of_a_storage_url_is_never_printed(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--storage", "postgresql://bob:hunter2@127.0.0.1:1/none?reconnect_for=0"])
    assert result.exit_code == 1 and "hunter2" not in result.output


@pytest.mark.slow
def test_demo_prints_validation_and_holdout_and_best_reads_it_back(tmp_path: Path, cli_env: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    demo = subprocess.run(
        [str(BIN / "tunesmith"), "demo", "--trials", "6", "--storage", url, "--no-progress"],
        env=cli_env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "val_accuracy: validation" in demo.stdout and ", holdout " in demo.stdout
    assert "ready" in demo.stdout and "holdout gap" in demo.stdout  # the verdict, with its checks
    assert (tmp_path / "tunesmith-demo-report.html").is_file()
    best = subprocess.run(
        [str(BIN / "tunesmith"), "best", "--storage", url, "--json"], env=cli_env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert best.returncode == 0, best.stderr
    record = json.loads(best.stdout)
    assert record["study"].startswith("digits-mlp-") and set(record["params"]) == {
        "learning_rate", "batch_size", "alpha", "depth", "width", "beta_1", "beta_2",
    }  # fmt: skip


def rerun_pick_without_runs(config: Path, tmp_path: Path) -> tuple[str, int]:
    """A run whose recorded re-runs picked another trial than the search's best, without their runs (as results
    stored before the runs were kept): the storage URL and the pick."""
    import tunesmith as ts

    url = f"sqlite:///{tmp_path}/validated.db"
    invoke("run", str(config), "--storage", url, "--no-progress", "--no-report")
    study = ts.Study.load("quad", url)
    other = next(r.number for r in study.trials if study.best and r.number != study.best.number
                 and r.state is ts.TrialState.COMPLETE)  # fmt: skip
    study.set_attr("seed_stability", {"winner": other, "seeds": [1, 2, 3], "rule": "lcb"})
    return url, other


def test_best_names_the_seed_reruns_pick_when_it_differs(config: Path, tmp_path: Path) -> None:
    url, other = rerun_pick_without_runs(config, tmp_path)
    text = invoke("best", "--storage", url).output  # type: ignore[attr-defined]
    assert f"best trial #{other} (seed " in text  # as status shows it
    assert json.loads(invoke("best", "--storage", url, "--json").output)["rerun_pick"] == other  # type: ignore[attr-defined]


def test_best_does_not_call_a_reruns_pick_validated_when_their_runs_are_not_recorded_to_judge_it(
    config: Path, tmp_path: Path
) -> None:
    url, _ = rerun_pick_without_runs(config, tmp_path)
    text = " ".join(invoke("best", "--storage", url).output.split())  # type: ignore[attr-defined]
    assert "the re-runs' pick, not judged beyond noise" in text and "validated winner" not in text
    best = json.loads(invoke("best", "--storage", url, "--json").output)  # type: ignore[attr-defined]
    assert best["validated"] is False and best["validated_winner"] is None and best["separated"] is None


def test_json_output_holds_no_nan_or_infinity(tmp_path: Path) -> None:
    # json.dumps wrote NaN and Infinity: JavaScript's JSON.parse refuses them, jq 1.6 reads Infinity as 1.8e308.
    url = f"sqlite:///{tmp_path / 'nan.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="nan", seed=0)
    study.tell(study.ask(), {"loss": 0.5, "grad_norm": math.inf})
    study.tell(study.ask(), float("nan"))  # FAILED, its metric kept as NaN

    def strict(text: str) -> Any:
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))

    lines = invoke("trials", "nan", "--storage", url, "--json").output.splitlines()  # type: ignore[attr-defined]
    assert [strict(line)["metrics"].get("loss") for line in lines] == [0.5, None]  # one trial per line
    best = strict(invoke("best", "nan", "--storage", url, "--json").output)  # type: ignore[attr-defined]
    assert best["metrics"]["grad_norm"] is None


def test_python_dash_m_tunesmith_runs_the_same_command_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    # Where the console script is not on the PATH (a venv not activated, a notebook's kernel).
    url = f"sqlite:///{tmp_path}/one.db"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="listed")
    out = subprocess.run([sys.executable, "-m", "tunesmith", "studies", "--storage", url], env=cli_env,
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    script = subprocess.run([str(BIN / "tunesmith"), "studies", "--storage", url], env=cli_env,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0 and "listed" in out.stdout, out.stderr
    assert (out.returncode, out.stdout) == (script.returncode, script.stdout)
    usage = subprocess.run([sys.executable, "-m", "tunesmith", "--help"], env=cli_env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert usage.returncode == 0 and "Usage: tunesmith" in usage.stdout, usage.stderr


def test_a_demo_on_a_storage_whose_earlier_demos_opened_the_holdout_says_its_verdict_will_fail(tmp_path: Path) -> None:
    """A second `tunesmith demo` (`make demo` twice) ended "not ready: holdout opened once" with nothing said before:
    it read as a broken demo. It says so before its search now, and how to get a fresh one."""
    import tunesmith as ts
    from tunesmith.cli._run import _earlier_demos

    url = f"sqlite:///{tmp_path}/demo.db"
    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    first = ts.Study(space, metric="loss", storage=url, name="digits-mlp-20260101-000000")
    now = ts.Study(space, metric="loss", storage=url, name="digits-mlp-20260101-000100")
    assert _earlier_demos(now) is None  # the first demo opened nothing yet
    first.set_attr("holdout_log", [{"at": 1.0, "trial": 0, "scores": None, "voided": "key"}])
    assert _earlier_demos(now) is None  # an opening voided (no metric returned) judged nothing, and counts for nothing
    first.set_attr("holdout_log", [{"at": 1.0, "trial": 0, "scores": {"holdout_loss": 0.1}}])
    said = _earlier_demos(now)
    assert said is not None and said.startswith(f"note: {url} holds 1 earlier demo (digits-mlp-20260101-000000) "
                                                "whose verdict opened the holdout set this demo opens too")  # fmt: skip
    assert said.endswith(f"for a fresh demo, remove {tmp_path}/demo.db or pass --storage sqlite:///another.db")
