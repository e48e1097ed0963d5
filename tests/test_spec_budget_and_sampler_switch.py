"""A stored study without a budget is no dead end: before its first trial it may gain a limit (`tunesmith extend`),
and once it has trials the refusals say how a config user goes on. After a sampler switch, the summary names
the sampler storage holds, not the choice ``auto`` recorded when the study was created."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.attributes import BudgetLogAttr, read_attr
from tunesmith.cli import cli
from tunesmith.storage import MemoryStorage, Storage

CONFIG = """
name = "s"
objective = "budget_objective:objective"
seed = 0
{sampler}
[metric]
name = "loss"
direction = "min"
[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def open_study(storage: str | Storage, **kwargs: object) -> ts.Study:
    options: dict[str, object] = {"metric": "loss", "storage": storage, "name": "s", "seed": 0}
    options.update(kwargs)
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), **options)  # type: ignore[arg-type]


def loss(trial: ts.Trial) -> dict[str, float]:
    return {"loss": (trial.params["x"] - 0.3) ** 2}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "budget_objective.py").write_text(
        "def objective(trial):\n    return {'loss': (trial.params['x'] - 0.3) ** 2}\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tunesmith(folder: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--storage", f"sqlite:///{folder}/s.db"], catch_exceptions=False)


def run_config(folder: Path, budget: str = "", sampler: str = "") -> Result:
    """`tunesmith run` of study ``s`` with ``budget`` (a ``[budget]`` table) and ``sampler`` (a line) in the config."""
    (folder / "c.toml").write_text(CONFIG.format(sampler=sampler) + budget)
    return tunesmith(folder, "run", str(folder / "c.toml"), "--no-progress", "--no-report")


# A budget gained before the first trial ------------------------------------------------------------
def test_a_config_without_a_budget_is_refused_and_records_nothing(folder: Path) -> None:
    refused = run_config(folder)
    assert refused.exit_code == 1 and "[budget]" in refused.output and "--trials" in refused.output
    assert not (folder / "s.db").exists(), "a refused config records nothing"


def test_a_stored_study_without_a_budget_runs_once_tunesmith_extend_gives_it_one(folder: Path) -> None:
    open_study(f"sqlite:///{folder}/s.db").storage.close()  # made in Python, unbounded, no trials
    assert run_config(folder).exit_code == 1, "no budget and no --trials: refused"

    extended = tunesmith(folder, "extend", "s", "--trials", "3")
    resumed = run_config(folder, "[budget]\ntrials = 3\n")

    assert extended.exit_code == 0, extended.output
    assert "unbounded -> trials=3" in extended.output
    assert resumed.exit_code == 0, resumed.output
    assert len(ts.Study.load("s", f"sqlite:///{folder}/s.db").trials) == 3


def test_extending_an_unbounded_study_before_its_first_trial_adds_the_limit_and_logs_it() -> None:
    storage = MemoryStorage()
    open_study(storage)  # stored unbounded, no trials

    study = open_study(storage)
    assert study.extend_budget(trials=3) == ts.Budget(trials=3)
    study.optimize(loss)

    assert len(study.trials) == 3, "the added limit ends the run"
    log = read_attr(study.attrs, BudgetLogAttr)
    assert log is not None and [ts.Budget.from_json(c.old) for c in log.changes] == [ts.Budget()]


def test_a_study_with_a_trial_budget_and_no_trials_may_gain_a_wall_time_limit() -> None:
    storage = MemoryStorage()
    study = open_study(storage, budget=ts.Budget(trials=3))
    assert study.extend_budget(wall_time="1h") == ts.Budget(trials=3, wall_time=3600)


def test_reopening_an_unbounded_study_with_a_trial_limit_points_to_tunesmith_extend() -> None:
    storage = MemoryStorage()
    open_study(storage)

    with pytest.raises(ts.ConfigError) as caught:
        open_study(storage, budget=ts.Budget(trials=5))

    message = str(caught.value)
    assert "with budget unbounded, not trials=5" in message, "the stored and the given values"
    assert "added only before its first trial (`tunesmith extend s --trials 5`, or study.extend_budget(trials=5))" in (
        message
    )
    assert "added only before its first trial" in message
    assert "leave trials out of the config's [budget]" in message and "tunesmith run CONFIG --name NEW" in message


# A limit refused once the study has trials -------------------------------------------------------------
def test_extend_refuses_a_new_limit_once_the_study_has_trials_and_says_how_a_config_user_goes_on() -> None:
    storage = MemoryStorage()
    open_study(storage).optimize(loss, n_trials=2)
    study = open_study(storage)

    with pytest.raises(ts.ConfigError) as caught:
        study.extend_budget(trials=5)

    message = str(caught.value)
    assert "has no trials limit to extend (its budget is unbounded), got trials=5, and it has 2 trials" in message
    assert "leave trials out of the config's [budget] to resume 's' as stored" in message
    assert "`tunesmith run CONFIG --trials N` bounds one run" in message
    assert "tunesmith run CONFIG --name NEW" in message
    assert study.budget == ts.Budget() and "budget_log" not in study.attrs, "nothing changed"


def test_reopening_with_a_smaller_budget_names_the_stored_budget_as_a_config_writes_it() -> None:
    storage = MemoryStorage()
    open_study(storage, budget=ts.Budget(trials=5, wall_time="2h"))

    with pytest.raises(ts.ConfigError) as caught:
        open_study(storage, budget=ts.Budget(trials=2))

    message = str(caught.value)
    assert "never shrinks: give the stored one to resume ([budget] trials = 5, wall_time = 7200 in" in message
    assert "tunesmith run CONFIG --name NEW" in message


# The summary's sampler after a switch ------------------------------------------------------------
def auto_study_switched_to_random(folder: Path) -> str:
    """A study run 3 trials under ``auto``, then reopened with ``sampler="random"``; what ``auto`` had chosen."""
    url = f"sqlite:///{folder}/s.db"
    open_study(url, budget=ts.Budget(trials=3)).optimize(loss)
    chosen = str(ts.Study.load("s", url).attrs["sampler_choice"]["sampler"]["name"])
    open_study(url, sampler="random").extend_budget(trials=4)
    return chosen


def test_status_after_a_switch_names_the_stored_sampler_not_autos_old_choice(folder: Path) -> None:
    chosen = auto_study_switched_to_random(folder)

    result = tunesmith(folder, "status", "s")

    assert result.exit_code == 0, result.output
    sampler_lines = [line for line in result.output.splitlines() if line.startswith("sampler:")]
    assert sampler_lines == [f"sampler: random, switched from auto ({chosen}) after 3 trials"]


def test_the_run_summary_after_a_config_switches_the_sampler_names_the_new_one(folder: Path) -> None:
    assert run_config(folder, "[budget]\ntrials = 3\n").exit_code == 0
    chosen = ts.Study.load("s", f"sqlite:///{folder}/s.db").attrs["sampler_choice"]["sampler"]["name"]
    assert tunesmith(folder, "extend", "s", "--trials", "4").exit_code == 0

    result = run_config(folder, "[budget]\ntrials = 4\n", sampler='sampler = "random"')

    assert result.exit_code == 0, result.output
    sampler_lines = [line for line in result.output.splitlines() if line.startswith("sampler:")]
    assert sampler_lines == [f"sampler: random, switched from auto ({chosen}) after 3 trials"]
