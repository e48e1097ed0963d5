"""Each trial records the environment it ran under (git commit, package versions), not only the study's creation.

The repositories are real git repositories made in a temporary folder; a "process" is a real run of the
installed ``tunesmith`` command, or this process in another working directory (a worker in another checkout).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tests.conftest import BIN
from tunesmith.attributes import EnvironmentAttr, read_attr
from tunesmith.cli import cli
from tunesmith.report import render_report
from tunesmith.storage import Proposal
from tunesmith.trial import TrialState

OBJECTIVE = 'def quadratic(trial):\n    return {"loss": (trial.params["x"] - 0.3) ** 2}\n'
CONFIG = """
name = "env"
objective = "objectives:quadratic"
seed = 0
sampler = "random"

[metric]
name = "loss"
direction = "min"

[budget]
trials = 6

[space]
x = { type = "float", low = 0.0, high = 1.0 }
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=a@b", "-c", "user.name=a", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def repository(path: Path) -> Path:
    """A git repository holding the objective and the config, committed."""
    path.mkdir()
    git(path, "init", "-q")
    (path / "objectives.py").write_text(OBJECTIVE)
    (path / "quad.toml").write_text(CONFIG)
    git(path, "add", ".")
    git(path, "commit", "-qm", "A")
    return path


def change_objective(repo: Path) -> str:
    """Commit a changed objective; returns the new commit."""
    (repo / "objectives.py").write_text(OBJECTIVE.replace("0.3", "0.7"))
    git(repo, "commit", "-qam", "B")
    return git(repo, "rev-parse", "HEAD")


def tunesmith(repo: Path, *args: str) -> str:
    """The installed command run in ``repo``, a process of its own; returns what it printed."""
    env = {**os.environ, "PYTHONPATH": str(repo), "COLUMNS": "400"}
    env.pop("TUNESMITH_STORAGE", None)
    done = subprocess.run([str(BIN / "tunesmith"), *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def study(url: str) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="env", seed=0)


def run_trials(opened: ts.Study, count: int) -> None:
    for _ in range(count):
        trial = opened.ask()
        opened.tell(trial, {"loss": (trial.params["x"] - 0.3) ** 2})


def one_line(text: str) -> str:
    """``text`` with rich's wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reviewer's case: 3 trials run at commit A, the objective changed and committed (B), then 3 more run;
    the study's SQLite file sits, untracked, in the repository."""
    repo = repository(tmp_path_factory.mktemp("two-commits") / "repo")
    url = f"sqlite:///{repo / 'study.db'}"
    first = git(repo, "rev-parse", "HEAD")
    tunesmith(repo, "run", "quad.toml", "--storage", url, "--trials", "3", "--no-progress", "--no-report")
    second = change_objective(repo)
    output = tunesmith(repo, "run", "quad.toml", "--storage", url, "--no-progress", "--no-report")
    return {"repo": repo, "url": url, "commits": (first, second), "output": output}


@pytest.mark.slow
def test_trials_run_after_a_new_commit_record_another_environment(two_commits: dict[str, Any]) -> None:
    trials = ts.Study.load("env", two_commits["url"]).trials
    marks = [record.attrs.get("environment") for record in trials]
    assert len(set(marks[:3])) == 1 and len(set(marks[3:])) == 1 and marks[0] != marks[3], marks


def test_each_trial_environment_is_stored_with_the_study_under_its_fingerprint(two_commits: dict[str, Any]) -> None:
    loaded = ts.Study.load("env", two_commits["url"])
    stored = read_attr(loaded.attrs, EnvironmentAttr)
    assert stored is not None
    commits = [stored.environments[record.attrs["environment"]].git_commit for record in loaded.trials]
    first, second = two_commits["commits"]
    assert commits == [first] * 3 + [second] * 3  # the untracked study.db in the repository is no "+dirty"
    assert stored.git_commit == first and stored.fingerprint == loaded.trials[0].attrs["environment"]


def test_the_run_summary_names_the_trials_of_each_commit(two_commits: dict[str, Any]) -> None:
    first, second = two_commits["commits"]
    said = one_line(two_commits["output"])
    assert f"trials ran under 2 environments (git commit, package versions): #0-#2 under commit {first[:7]}; " \
           f"#3-#5 under commit {second[:7]}" in said, said  # fmt: skip


def test_status_names_the_trials_of_each_commit(two_commits: dict[str, Any]) -> None:
    first, second = two_commits["commits"]
    result = CliRunner().invoke(cli, ["status", "env", "--storage", two_commits["url"]], catch_exceptions=False)
    said = one_line(result.output)
    assert result.exit_code == 0, said
    assert f"#0-#2 under commit {first[:7]}; #3-#5 under commit {second[:7]}" in said, said


def test_the_html_report_lists_each_environment_with_its_trials(two_commits: dict[str, Any]) -> None:
    first, second = two_commits["commits"]
    page = render_report(ts.Study.load("env", two_commits["url"]))
    assert "<h2>Environments</h2>" in page and "trials ran under 2 environments" in page
    assert f"<td>#0-#2</td><td>commit {first[:7]}</td>" in page
    assert f"<td>#3-#5</td><td>commit {second[:7]}</td>" in page


def test_untracked_files_leave_the_commit_clean_and_a_modified_tracked_file_marks_it_dirty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = repository(tmp_path / "clean")
    (clean / "notes.txt").write_text("not committed")
    monkeypatch.chdir(clean)
    created = study(f"sqlite:///{clean / 'study.db'}")  # the database itself is untracked, in the repository
    assert created.attrs["environment"]["git_commit"] == git(clean, "rev-parse", "HEAD")

    edited = repository(tmp_path / "edited")
    (edited / "objectives.py").write_text(OBJECTIVE + "# edited\n")
    monkeypatch.chdir(edited)
    created = study(f"sqlite:///{edited / 'study.db'}")
    assert created.attrs["environment"]["git_commit"] == git(edited, "rev-parse", "HEAD") + "+dirty"


def test_git_runs_once_per_process_not_per_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = repository(tmp_path / "repo")
    monkeypatch.chdir(repo)
    opened = study(f"sqlite:///{tmp_path / 'study.db'}")
    run_trials(opened, 1)
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))  # git run again would find no commit
    run_trials(opened, 3)
    marks = {record.attrs["environment"] for record in opened.trials}
    stored = read_attr(opened.attrs, EnvironmentAttr)
    assert stored is not None and len(marks) == 1 and list(stored.environments) == list(marks)


def test_a_retry_records_the_environment_it_runs_under(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed trial re-run after a fix, by a worker in a checkout of the fixed code."""
    repo = repository(tmp_path / "repo")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.chdir(repo)
    opened = study(url)
    failed = opened.ask()
    opened.tell(failed, error="ValueError: the objective had a bug")
    opened.retry_failed()
    fixed = tmp_path / "fixed"
    git(tmp_path, "clone", "-q", str(repo), str(fixed))
    commit = change_objective(fixed)
    monkeypatch.chdir(fixed)
    worker = study(url)
    run_trials(worker, 1)
    retry = worker.trials[-1]
    stored = read_attr(worker.attrs, EnvironmentAttr)
    assert retry.attrs["retry_of"] == failed.number and stored is not None
    assert stored.environments[retry.attrs["environment"]].git_commit == commit


def test_a_study_stored_before_trials_recorded_environments_loads_and_records_its_new_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = repository(tmp_path / "repo")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.chdir(repo)
    older = study(url)
    old_shape = {"python": "3.11.4", "implementation": "CPython", "platform": "Linux", "packages": {"numpy": "1.26"},
                 "git_commit": "0" * 40}  # fmt: skip
    older.set_attr("environment", old_shape)
    info = older.info
    for number in range(2):  # trials as an older tunesmith stored them: no environment of their own
        older.storage.create_trial(info.id, lambda n, h: Proposal(params={"x": 0.5}, seed=n), max_trials=None,
                                   worker="old", now=time.time())  # fmt: skip
        older.storage.finish_trial(info.id, number, TrialState.COMPLETE, metrics={"loss": 0.04}, reason=None,
                                   error=None, now=time.time())  # fmt: skip
    reopened = ts.Study.load("env", url)
    run_trials(reopened, 1)
    stored = read_attr(reopened.attrs, EnvironmentAttr)
    assert stored is not None and stored.to_json() | old_shape == stored.to_json()  # its own environment kept
    assert list(stored.environments) == [reopened.trials[-1].attrs["environment"]]
    said = one_line(CliRunner().invoke(cli, ["status", "env", "--storage", url], catch_exceptions=False).output)
    assert "#0-#1 under no recorded environment (run by an older tunesmith, or imported); #2 under commit" in said
