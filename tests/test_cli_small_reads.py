"""Small things new users read wrong: the HTML report said nothing of the scheduler that `tunesmith status` names,
status named the sampler only when ``auto`` chose it, ``--json`` commands ended in plain text on an error, and the
commands a hint offers to paste broke on a study name with spaces or shell characters."""

from __future__ import annotations

import html
import json
import math
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.report import write_report
from tunesmith.report._shown import scheduler_stops

# A name a shell splits, and would run the second half of, when pasted unquoted.
ODD_NAME = "my study; echo hi"


def _invoke(*args: str) -> Result:
    """The command's result, its lines as wide as they run (no wrap inside a command to paste)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "1000"})


def _said(result: Result) -> str:
    """What a command printed, its lines joined (rich wraps them at the terminal's width)."""
    return " ".join(result.output.split())


def _header(page: str) -> str:
    """The text of the HTML report's header, tags dropped, whitespace collapsed."""
    found = re.search(r"<header>(.*?)</header>", page, re.S)
    assert found is not None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def _curve(trial: ts.Trial) -> dict[str, float]:
    value = math.inf
    for step in trial.steps(9):
        value = trial.params["q"] + math.exp(-0.2 * (step + 1))
        trial.report(val_loss=value)
    return {"val_loss": value}


@pytest.fixture(scope="module")
def hyperband(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ts.Study]:
    """A stored Hyperband study (1 to 9, eta 3) whose 20-trial budget trains fewer than 5 configurations fully."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hb') / 'hb.db'}"
    study = ts.Study(ts.Space({"q": ts.Float(0.0, 1.0)}), metric="val_loss", budget=ts.Budget(trials=20),
                     scheduler=ts.Hyperband(min_resource=1, max_resource=9, eta=3), storage=url, name="hb", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(_curve)
    return url, study


def _scheduler_lines(study: ts.Study) -> list[str]:
    """What status says of the scheduler; that few trained fully is said beside the best, in status and the report
    alike (`test_best_views_agree`), not again in the header."""
    stops = scheduler_stops(study)
    assert stops is not None and stops.few_trained is not None
    return stops.lines()


# 1. The report's header says what status says of the scheduler -------------------------------------------------
def test_the_report_command_heads_the_page_with_the_scheduler_lines_status_prints(
    hyperband: tuple[str, ts.Study], tmp_path: Path
) -> None:
    url, study = hyperband
    page = tmp_path / "report.html"
    status = _said(_invoke("status", "hb", "--storage", url))
    assert _invoke("report", "hb", "--storage", url, "-o", str(page)).exit_code == 0

    header = _header(page.read_text(encoding="utf-8"))

    for line in _scheduler_lines(study):
        assert line in status
        assert line in header


def test_write_report_of_a_study_heads_the_page_with_its_scheduler_lines(
    hyperband: tuple[str, ts.Study], tmp_path: Path
) -> None:
    study = ts.Study.load("hb", hyperband[0])

    header = _header(write_report(study, tmp_path / "report.html").read_text(encoding="utf-8"))

    assert "scheduler: hyperband(min_resource=1, max_resource=9, eta=3" in header
    for line in _scheduler_lines(study):
        assert line in header


def test_the_run_command_s_report_heads_the_page_with_the_scheduler_lines(
    hyperband: tuple[str, ts.Study], tmp_path: Path
) -> None:
    from tunesmith.cli._run import _write_report

    study = ts.Study.load("hb", hyperband[0])
    _write_report(study, str(tmp_path / "run.html"))
    header = _header((tmp_path / "run.html").read_text(encoding="utf-8"))
    for line in _scheduler_lines(study):
        assert line in header


# 2. status names a sampler chosen by name -----------------------------------------------------------------------
def _quadratic(trial: ts.Trial) -> dict[str, float]:
    return {"loss": (trial.params["x"] - 0.3) ** 2}


def _stored(url: str, name: str = "s", **kwargs: Any) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name=name, seed=0, **kwargs)


def _sampler_lines(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if line.startswith("sampler:")]


def test_status_names_a_sampler_given_by_name_with_its_stored_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    with pytest.warns(ts.samplers.SparseGridWarning):  # 2 trials of a float's 5 grid values
        _stored(url, sampler="grid", budget=ts.Budget(trials=2)).optimize(_quadratic)

    assert _sampler_lines(_invoke("status", "s", "--storage", url)) == ["sampler: grid(points=5, shuffle=None)"]


def test_status_after_a_switch_names_the_new_sampler_with_its_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _stored(url, sampler="random", budget=ts.Budget(trials=2)).optimize(_quadratic)
    _stored(url, sampler="sobol").extend_budget(trials=3)

    lines = _sampler_lines(_invoke("status", "s", "--storage", url))

    assert lines == ["sampler: sobol(seed=None), switched from random after 2 trials"]


# 3. With --json every outcome is JSON ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command",
    [("best", "empty"), ("status", "missing"), ("trials", "missing"), ("show", "hb", "999")],
    ids=["best of a study without a trial", "status of no such study", "trials of no such study", "no such trial"],
)
def test_a_json_command_that_fails_prints_its_error_as_a_json_object(
    command: tuple[str, ...], hyperband: tuple[str, ts.Study]
) -> None:
    url = hyperband[0]
    _stored(url, name="empty", budget=ts.Budget(trials=1))
    text = _invoke(*command, "--storage", url)

    result = _invoke(*command, "--storage", url, "--json")

    assert result.exit_code == text.exit_code == 1
    assert json.loads(result.stdout) == {"error": text.output.strip().removeprefix("Error: ")}


# 4. Commands to paste quote the study's name --------------------------------------------------------------------
def _pasted(said: str, start: str, end: str) -> list[str]:
    """The words a shell reads from the command that begins with ``start`` in ``said``, up to ``end``."""
    found = re.search(re.escape(start) + r".*?(?=" + re.escape(end) + ")", said)
    assert found is not None, said
    return shlex.split(found.group(0))


def _failing(trial: ts.Trial) -> dict[str, float]:
    raise RuntimeError("boom")


def test_the_failed_trials_title_quotes_the_study_name_in_its_show_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _stored(url, name=ODD_NAME, budget=ts.Budget(trials=1)).optimize(_failing, fail_fast=None)

    said = _said(_invoke("trials", ODD_NAME, "--failed", "--storage", url))

    assert _pasted(said, "tunesmith show ", " N") == ["tunesmith", "show", ODD_NAME, "--storage", url]


def test_the_retry_hint_quotes_the_study_name_in_its_worker_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    _stored(url, name=ODD_NAME, budget=ts.Budget(trials=1)).optimize(_failing, fail_fast=None)

    said = _said(_invoke("retry", ODD_NAME, "--storage", url))

    assert _pasted(said, "tunesmith worker ", "` runs") == ["tunesmith", "worker", ODD_NAME, "--storage", url]


CONFIG = """
name = {name}
objective = "small_reads_objective:objective"
seed = 0
sampler = "random"
[metric]
name = "loss"
direction = "min"
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the objective the config names."""
    (tmp_path / "small_reads_objective.py").write_text(
        "def objective(trial):\n    return {'loss': (trial.params['x'] - 0.3) ** 2}\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run(folder: Path) -> Result:
    """`tunesmith run` of a config that gives study `ODD_NAME` no budget."""
    (folder / "c.toml").write_text(CONFIG.format(name=json.dumps(ODD_NAME)))
    url = f"sqlite:///{folder}/s.db"
    return _invoke("run", str(folder / "c.toml"), "--no-progress", "--no-report", "--storage", url)


def test_the_refusal_of_an_unbounded_study_quotes_the_name_in_its_extend_command(folder: Path) -> None:
    _stored(f"sqlite:///{folder}/s.db", name=ODD_NAME)  # no budget
    result = _run(folder)
    assert result.exit_code == 1

    said = _said(result)

    assert _pasted(said, "tunesmith extend ", " --trials N") == ["tunesmith", "extend", ODD_NAME]


def test_the_optuna_import_quotes_the_name_and_the_storage_in_its_resume_command(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    source = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(study_name="legacy", storage=source)
    between: dict[str, Any] = {"x": optuna.distributions.FloatDistribution(0.0, 1.0)}
    for x in (0.1, 0.7):
        study.add_trial(optuna.trial.create_trial(params={"x": x}, distributions=between, value=x))
    (tmp_path / "my dir").mkdir()
    target = f"sqlite:///{tmp_path}/my dir/t.db"

    result = _invoke("import-optuna", "--from", source, "--study", "legacy", "--storage", target, "--as", ODD_NAME)
    assert result.exit_code == 0, result.output

    words = _pasted(_said(result), "tunesmith worker ", " --objective")
    assert words == ["tunesmith", "worker", ODD_NAME, "--storage", target]


def test_status_says_a_budget_of_fractional_seconds_as_given(tmp_path: Path) -> None:
    """A 5.5 s wall-time budget read "5s/6s"."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="w",
                     budget=ts.Budget(wall_time=5.5, trials=1))  # fmt: skip
    study.optimize(lambda trial: trial.params["x"])
    said = _said(_invoke("status", "w", "--storage", url))
    assert re.search(r"wall time \d+\.\ds/5\.5s counted while trials ran", said), said


def test_the_diagnosis_does_not_say_no_trial_finished_beside_trials_complete_without_a_curve(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'curves.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("score", "max"), storage=url, name="c",
                     seed=0)  # fmt: skip
    study.optimize(lambda trial: trial.params["x"], n_trials=3)  # results without curves
    running = study.ask()
    study.report(running.number, 1, {"score": 0.5})
    result = CliRunner().invoke(cli, ["status", "c", "--storage", url])
    text = " ".join(result.output.split())
    assert "no finished trial" not in text, text
    assert ("no curve to diagnose yet: the 3 finished trials reported no curve of 'score', and 1 trial reported "
            "'score' and is still running") in text, text


def test_status_says_why_it_cannot_read_what_is_left_to_find(tmp_path: Path) -> None:
    # The quick start: "whatever the budget, tunesmith status says what is left to find". Plain scores said nothing.
    url = f"sqlite:///{tmp_path / 'left.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="left", seed=0)
    study.optimize(lambda trial: trial.params["x"], n_trials=3)
    text = " ".join(CliRunner().invoke(cli, ["status", "left", "--storage", url]).output.split())
    assert "left to find: not read yet, 3 complete trials of the 20 the bound needs" in text, text
    study.optimize(lambda trial: trial.params["x"], n_trials=20)
    text = " ".join(CliRunner().invoke(cli, ["status", "left", "--storage", url]).output.split())
    assert "left to find: not read, since loss carries no standard error (0 of the 20 best" in text, text
    said = json.loads(CliRunner().invoke(cli, ["status", "left", "--storage", url, "--json"]).output)
    assert said["left_to_find"] is None and "carries no standard error" in said["left_to_find_unread"]


def test_distinct_values_in_a_ranking_print_distinctly() -> None:
    # 1.0039, 1.0029 and 1.0010 printed "1" three times in status's top table, a ranking that read as a tie.
    import io

    from rich.console import Console

    from tunesmith.analysis._common import telling_digits
    from tunesmith.report import summary

    assert telling_digits([1.0039, 1.0029, 1.0010, 0.5]) == 4
    assert telling_digits([0.25, 0.5, 0.25]) == 3
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"), storage="memory", seed=0)
    for value in (1.0039, 1.0029, 1.0010, 0.5):
        study.tell(study.ask(), {"acc": value})
    out = io.StringIO()
    summary(study, console=Console(file=out, width=120), analyses=False)
    assert all(figure in out.getvalue() for figure in ("1.004", "1.003", "1.001")), out.getvalue()


def test_best_prints_a_parameter_as_status_and_the_report_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digits.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="d", seed=0)
    study.enqueue({"x": 0.53241})
    study.optimize(lambda trial: trial.params["x"], n_trials=1)
    best = " ".join(CliRunner().invoke(cli, ["best", "d", "--storage", url]).output.split())
    status = " ".join(CliRunner().invoke(cli, ["status", "d", "--storage", url]).output.split())
    assert "x = 0.532" in best and "0.5324" not in best and "0.532" in status, best
