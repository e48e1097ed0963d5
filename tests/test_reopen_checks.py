"""Reopening a stored study: a changed sampler, scheduler or space is refused with the stored and the given
values and the fix; the stored ones run when none is given, so storage always says what ran."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study import StudySpec
from tunesmith.study._settings import Settings
from tunesmith.trial import TrialState

CURVE = """
def objective(trial):
    x = trial.params["x"]
    for step in trial.steps(9):
        trial.report(loss=(x - 1) ** 2 + 1.0 / (step + 1))
    return {"loss": (x - 1) ** 2}
"""

CONFIG = """
name = "sc"
objective = "reopen_curve:objective"
seed = 0
{plugins}
[metric]
name = "loss"
direction = "min"
[budget]
trials = {trials}
[space]
x = {{ type = "float", low = -3, high = 3 }}
{extra}
"""

ASHA = 'scheduler = { name = "asha", min_resource = 1, max_resource = 9, eta = 3 }'


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "reopen_curve.py").write_text(CURVE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(folder: Path, plugins: str, *, trials: int = 4, extra: str = "", name: str = "c") -> Result:
    """`tunesmith run` of a config with ``plugins`` (sampler and scheduler lines) in ``folder``'s sc.db."""
    config = folder / f"{name}.toml"
    config.write_text(CONFIG.format(plugins=plugins, trials=trials, extra=extra))
    args = ["run", str(config), "--storage", f"sqlite:///{folder}/sc.db", "--no-progress", "--no-report"]
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_resuming_with_another_scheduler_is_refused_and_runs_nothing(folder: Path) -> None:
    """A study created with random search and no scheduler, resumed from a config with TPE and ASHA, ran ASHA
    while its spec (so `Study.load` and every worker) still said FIFO."""
    assert run(folder, 'sampler = "random"').exit_code == 0
    url = f"sqlite:///{folder}/sc.db"
    ts.Study.load("sc", url).extend_budget(trials=12)

    result = run(folder, f'sampler = "tpe"\n{ASHA}', trials=12, name="changed")

    assert result.exit_code == 1
    assert "with scheduler 'fifo', not 'asha'" in result.output
    assert "drop the scheduler" in result.output and "--name NEW" in result.output
    loaded = ts.Study.load("sc", url)
    assert len(loaded.trials) == 4 and all(r.state is TrialState.COMPLETE for r in loaded.trials)
    assert (loaded.sampler.describe(), loaded.scheduler.describe()) == ({"name": "random"}, {"name": "fifo"})


def test_resuming_with_another_sampler_switches_to_it_and_the_spec_and_its_log_say_so(folder: Path) -> None:
    """A search may begin at random and go on with a model: the switch is stored, so storage says what runs."""
    assert run(folder, 'sampler = "random"').exit_code == 0
    url = f"sqlite:///{folder}/sc.db"
    ts.Study.load("sc", url).extend_budget(trials=6)

    result = run(folder, 'sampler = "tpe"', trials=6, name="switched")

    assert result.exit_code == 0, result.output
    loaded = ts.Study.load("sc", url)
    assert len(loaded.trials) == 6 and loaded.sampler.describe()["name"] == "tpe"
    (entry,) = loaded.attrs["sampler_log"]
    assert (entry["old"], entry["new"]["name"], entry["after"]) == ({"name": "random"}, "tpe", 4)


def test_resuming_with_another_scheduler_is_refused_with_both(folder: Path) -> None:
    assert run(folder, 'sampler = "random"').exit_code == 0

    result = run(folder, f'sampler = "random"\n{ASHA}', name="changed")

    assert result.exit_code == 1
    assert "with scheduler 'fifo', not 'asha'" in result.output
    assert '(scheduler = "fifo")' in result.output  # the stored one, as a config writes it


def test_a_config_without_sampler_or_scheduler_resumes_with_the_stored_ones(folder: Path) -> None:
    assert run(folder, f'sampler = "random"\n{ASHA}').exit_code == 0
    ts.Study.load("sc", f"sqlite:///{folder}/sc.db").extend_budget(trials=8)

    result = run(folder, "", trials=8, name="bare")

    assert result.exit_code == 0, result.output
    assert "asha trains 2.2 on average" in result.output  # the stored scheduler runs, not FIFO
    study = ts.Study.load("sc", f"sqlite:///{folder}/sc.db")
    assert len(study.trials) == 8 and any(r.state is TrialState.STOPPED for r in study.trials[4:])


def test_the_same_scheduler_written_another_way_resumes(folder: Path) -> None:
    assert run(folder, f'sampler = "random"\n{ASHA}').exit_code == 0
    url = f"sqlite:///{folder}/sc.db"
    ts.Study.load("sc", url).extend_budget(trials=6)
    table = ('scheduler = { name = "asha", min_resource = 1, max_resource = 9, eta = 3, mode = "stop", '
             'few_peers = "best", predict_final = true }')  # fmt: skip

    result = run(folder, f'sampler = {{ name = "random" }}\n{table}', trials=6, name="spelled")

    assert result.exit_code == 0, result.output
    assert len(ts.Study.load("sc", url).trials) == 6


def test_extend_and_a_worker_resume_a_study_with_its_stored_sampler_and_scheduler(folder: Path) -> None:
    assert run(folder, f'sampler = "tpe"\n{ASHA}').exit_code == 0
    url = f"sqlite:///{folder}/sc.db"
    runner = CliRunner()

    extended = runner.invoke(cli, ["extend", "sc", "--storage", url, "--trials", "6"], catch_exceptions=False)
    worker = runner.invoke(cli, ["worker", "sc", "--storage", url, "--no-wait"], catch_exceptions=False)

    assert extended.exit_code == 0, extended.output
    assert worker.exit_code == 0 and "worker ran 2 trials" in worker.output, worker.output
    loaded = ts.Study.load("sc", url)
    assert loaded.sampler.describe()["name"] == "tpe" and loaded.scheduler.describe()["max_resource"] == 9


def test_a_changed_scheduler_setting_is_named_with_its_stored_and_given_value() -> None:
    spec = StudySpec(space=None, metric=ts.Metric("loss"), seed=0,
                     scheduler={"name": "asha", "min_resource": 1, "max_resource": 9, "eta": 3})  # fmt: skip

    with pytest.raises(ts.ConfigError) as refused:
        spec.check_plugins("sc", "sqlite:///sc.db", scheduler={"name": "asha", "max_resource": 81})

    assert "with scheduler 'asha' (max_resource=9), not 'asha' (max_resource=81)" in str(refused.value)


def test_check_plugins_refuses_a_given_sampler_and_accepts_none_or_auto() -> None:
    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric="loss", sampler="random", storage="memory", name="s", seed=0)
    spec = StudySpec.from_json(study.storage.load_study("s").spec)
    settings = Settings.check(
        space=space, metric="loss", guardrails=None, budget=None, seed=None, heartbeat_interval=None, grace=None,
        retries=None, keep_checkpoints=3, divergence_factor=None, trial_cost=None,
    )  # fmt: skip

    for omitted in (None, "auto"):
        spec.check_reopened("s", "memory", settings, sampler=omitted)
    with pytest.raises(ts.ConfigError, match="with sampler 'random', not 'tpe'"):
        spec.check_plugins("s", "memory", sampler="tpe")


def test_a_changed_space_names_each_parameter_with_its_stored_and_given_definition(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/space.db"
    stored = ts.Space({"x": ts.Float(-3.0, 3.0), "y": ts.Float(-3.0, 3.0), "w": ts.Int(1, 8)})
    ts.Study(stored, metric="loss", storage=url, name="quad", seed=0).optimize(lambda t: 0.0, n_trials=1)
    given = ts.Space({"x": ts.Float(-3.0, 3.0), "y": ts.Float(-3.0, 5.0), "z": ts.Choice(["a", "b"])})

    with pytest.raises(ts.ConfigError) as refused:
        ts.Study(given, metric="loss", storage=url, name="quad")

    message = str(refused.value)
    assert 'changed y (stored {type = "float", low = -3.0, high = 3.0}, given {type = "float", low = -3.0, ' \
           'high = 5.0})' in message  # fmt: skip
    assert 'removed w (stored {type = "int", low = 1, high = 8})' in message
    assert 'added z (given {type = "choice", options = ["a", "b"]})' in message
    assert " x " not in message, "an unchanged parameter is not listed"


def test_a_changed_space_in_a_config_gives_the_command_line_fixes(folder: Path) -> None:
    assert run(folder, 'sampler = "random"').exit_code == 0
    wider = CONFIG.replace("high = 3 }", "high = 5 }")
    (folder / "wide.toml").write_text(wider.format(plugins='sampler = "random"', trials=4, extra=""))

    result = CliRunner().invoke(cli, ["run", str(folder / "wide.toml"), "--storage", f"sqlite:///{folder}/sc.db",
                                      "--no-progress", "--no-report"], catch_exceptions=False)  # fmt: skip

    assert result.exit_code == 1
    assert "changed x (stored" in result.output and "high = 5.0}" in result.output
    assert "[space]" in result.output and "tunesmith run --name NEW" in result.output
    # Widening a range, as the diagnosis may advise, keeps what the first study learned when the fix is followed.
    said = " ".join(result.output.split())
    assert ("warm-started from this study so that its results still inform the search (a config's [warm_start] "
            "table with study = \"sc\"; in Python warm_start=ts.Study.load('sc', storage=...))") in said
    (folder / "wide.toml").write_text(wider.replace('name = "sc"', 'name = "sc-wide"').format(
        plugins='sampler = "random"', trials=4, extra='[warm_start]\nstudy = "sc"'))  # fmt: skip
    again = CliRunner().invoke(cli, ["run", str(folder / "wide.toml"), "--storage", f"sqlite:///{folder}/sc.db",
                                     "--no-progress", "--no-report"], catch_exceptions=False)  # fmt: skip
    assert again.exit_code == 0, again.output
    warm = ts.Study.load("sc-wide", storage=f"sqlite:///{folder}/sc.db").attrs["warm_start"]
    assert warm["source"].startswith("study 'sc'") and len(warm["points"]) == 4


def test_a_study_reopened_in_python_keeps_its_sampler_and_scheduler_or_records_a_switch(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'py.db'}"
    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    ts.Study(space, metric="loss", storage=url, name="py", sampler="random", scheduler="median", seed=0)
    resumed = ts.Study(space, metric="loss", storage=url, name="py", seed=0)  # sampler and scheduler not given
    assert resumed.sampler.describe()["name"] == "random" and resumed.scheduler.describe()["name"] == "median"
    assert "sampler_log" not in resumed.attrs, "resumed as stored: no switch"
    with pytest.raises(ts.errors.ConfigError, match=r"exists in .* with scheduler 'median', not 'asha'"):
        ts.Study(space, metric="loss", storage=url, name="py", scheduler="asha", seed=0)
    switched = ts.Study(space, metric="loss", storage=url, name="py", sampler="tpe", seed=0)
    assert ts.Study.load("py", url).sampler.describe()["name"] == switched.sampler.describe()["name"] == "tpe"
    assert len(switched.attrs["sampler_log"]) == 1
