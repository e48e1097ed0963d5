"""`tunesmith studies`: each study of the storage on a line, with what a user picks one by (to read, copy or delete
it): its trials by state, when it was created and last active, and its best."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.analysis._common import format_value
from tunesmith.cli import cli
from tunesmith.storage import open_storage

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _flat(text: str) -> str:
    """``text`` without white space: the console wraps a long line anywhere."""
    return "".join(text.split())


def _study(url: str, name: str = "s", trials: int = 3) -> ts.Study:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage=url, name=name, seed=0)
    study.optimize(lambda trial: trial.params["x"])
    return study


def test_studies_lists_each_study_with_its_states_times_and_best(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = _study(url, trials=4)
    leaked = study.best
    assert leaked is not None
    study.invalidate(leaked.number, "a leak found later")
    best = study.best
    assert best is not None and best.number != leaked.number
    ts.Study(SPACE, metric="loss", storage=url, name="empty")
    result = CliRunner().invoke(cli, ["studies", "--storage", url, "--json"])
    assert result.exit_code == 0, result.output
    listed = [json.loads(line) for line in result.output.splitlines()]
    assert [entry["name"] for entry in listed] == ["s", "empty"]
    first, empty = listed
    assert first["states"] == {"complete": 4} and first["trials"] == 4
    assert first["best"] == {"trial": best.number, "metric": "loss", "value": best.value("loss"), "rerun_pick": False}
    assert first["last_active"] == max(t.finished_at or 0.0 for t in study.trials)
    assert empty == {"name": "empty", "trials": 0, "created_at": empty["created_at"], "states": {}, "last_active": None,
                     "best": None}  # fmt: skip
    text = CliRunner().invoke(cli, ["studies", "--storage", url])
    assert _flat("s 4 trials (4 complete); created") in _flat(text.output)
    assert _flat(f"best loss {format_value(best.value('loss'))} (#{best.number})") in _flat(text.output)


def test_studies_names_the_seed_re_runs_pick_as_status_and_best_do(tmp_path: Path) -> None:
    """After `validate_top` picked another trial than the search's best, `studies` names that pick, as `status`,
    `best` and the report do (it named the search's best, which they say the re-runs passed over)."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=6), storage=url, name="s", seed=0,
                     sampler="random")  # fmt: skip

    study.optimize(lambda trial: trial.params["x"])
    search_best = study.best
    assert search_best is not None

    def rerun(trial: ts.Trial) -> float:  # the search's best is the worst on the re-runs' seeds
        x = trial.params["x"]
        return x + (10.0 if x == search_best.params["x"] else 0.0)

    ts.validate_top(study, rerun, k=3, seeds=2)
    shown = CliRunner().invoke(cli, ["best", "s", "--storage", url, "--json"])
    pick = json.loads(shown.output)["number"]
    assert pick != search_best.number
    result = CliRunner().invoke(cli, ["studies", "--storage", url, "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["best"]["trial"] == pick and listed["best"]["rerun_pick"] is True
    text = CliRunner().invoke(cli, ["studies", "--storage", url])
    assert _flat(f"(#{pick}, the re-runs' pick)") in _flat(text.output)


def test_a_feasible_best_on_a_guardrails_bound_reads_as_every_view_prints_it_never_as_the_bound(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    study = ts.Study(SPACE, metric="loss", guardrails=[ts.Guardrail("loss", "<", 0.1)], storage=url, name="g", seed=0)
    trial = study.ask()
    study.tell(trial, {"loss": 0.09999996})
    listed = CliRunner().invoke(cli, ["studies", "--storage", url])
    status = CliRunner().invoke(cli, ["status", "g", "--storage", url])
    assert listed.exit_code == 0 and status.exit_code == 0, listed.output + status.output
    assert "best loss 0.09999996" in " ".join(listed.output.split()), listed.output
    assert "0.1 " not in status.output and status.output.count("0.09999996") >= 2, status.output  # best and top 5


def test_studies_on_a_storage_without_any_says_so_on_stderr_and_lists_none(tmp_path: Path) -> None:
    # It printed nothing at all, which reads as a command that did not run.
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_storage(url, create=True).close()
    result = CliRunner().invoke(cli, ["studies", "--storage", url])
    assert result.exit_code == 0 and result.stdout == "", result.output
    assert _flat(f"no studies in {url} yet") in _flat(result.stderr), result.stderr
    assert CliRunner().invoke(cli, ["studies", "--storage", url, "--json"]).output == ""  # JSON lines: none
