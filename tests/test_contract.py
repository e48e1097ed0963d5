"""A study's contract is stored: its budget and guardrails hold on every reopening, and a budget
grows only by an explicit, recorded extension (`Study.extend_budget`, ``tunesmith extend``)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import BudgetLogAttr, read_attr
from tunesmith.cli import cli
from tunesmith.storage import MemoryStorage, Storage
from tunesmith.study._optimize import NoFeasibleTrialWarning


def space() -> ts.Space:
    return ts.Space({"x": ts.Float(0.0, 1.0)})


def open_study(storage: str | Storage, **kwargs: object) -> ts.Study:
    options: dict[str, object] = {"metric": "loss", "storage": storage, "name": "contract", "seed": 1}
    options.update(kwargs)
    return ts.Study(space(), **options)  # type: ignore[arg-type]


def loss(trial: ts.Trial) -> dict[str, float]:
    return {"loss": trial.params["x"], "latency_ms": 50.0}


def run_stored(storage: str | Storage, trials: int = 3) -> ts.Study:
    study = open_study(storage, budget=ts.Budget(trials=trials))
    study.optimize(loss)
    return study


# Reopening ---------------------------------------------------------------------------------------
def test_reopening_with_a_larger_budget_is_refused_and_runs_nothing() -> None:
    storage = MemoryStorage()
    run_stored(storage, trials=3)
    with pytest.raises(ts.ConfigError) as caught:
        open_study(storage, budget=ts.Budget(trials=10))
    message = str(caught.value)
    assert "budget trials=3, not trials=10" in message, "the stored and the given values"
    assert "tunesmith extend contract --trials 10" in message and "extend_budget(trials=10)" in message
    assert len(ts.Study.load("contract", storage).trials) == 3


def test_reopening_with_a_smaller_budget_is_refused_and_says_a_budget_never_shrinks() -> None:
    storage = MemoryStorage()
    run_stored(storage, trials=5)
    with pytest.raises(ts.ConfigError, match=r"budget trials=5, not trials=2: a stored budget never shrinks"):
        open_study(storage, budget=ts.Budget(trials=2))


def test_reopening_with_a_limit_the_study_lacks_is_refused() -> None:
    storage = MemoryStorage()
    run_stored(storage, trials=3)
    with pytest.raises(ts.ConfigError, match=r"budget trials=3, not trials=3, wall_time=60s"):
        open_study(storage, budget=ts.Budget(trials=3, wall_time=60))


def test_reopening_with_a_guardrail_the_study_does_not_have_is_refused_and_judges_nothing() -> None:
    storage = MemoryStorage()
    run_stored(storage, trials=3)
    with pytest.raises(ts.ConfigError) as caught:
        open_study(storage, budget=ts.Budget(trials=3), guardrails=[ts.Guardrail("latency_ms", "<=", 20.0)])
    assert "with guardrails none, not [latency_ms <= 20]" in str(caught.value)
    assert "use a new name" in str(caught.value)
    states = {r.state for r in ts.Study.load("contract", storage).trials}
    assert states == {ts.TrialState.COMPLETE}, "no trial was marked INFEASIBLE by a guardrail the study lacks"


def test_reopening_without_the_stored_guardrails_is_refused() -> None:
    storage = MemoryStorage()
    open_study(storage, guardrails=[ts.Guardrail("latency_ms", "<=", 20.0)])
    with pytest.raises(ts.ConfigError, match=r"guardrails \[latency_ms <= 20\], not none"):
        open_study(storage, guardrails=[])


def test_guardrails_in_another_order_are_the_same_guardrails() -> None:
    storage = MemoryStorage()
    first, second = ts.Guardrail("latency_ms", "<=", 20.0), ts.Guardrail("memory_mb", "<", 512)
    open_study(storage, guardrails=[first, second])
    assert set(open_study(storage, guardrails=[second, first]).guardrails) == {first, second}


def test_omitting_budget_and_guardrails_resumes_with_the_stored_ones() -> None:
    storage = MemoryStorage()
    guardrail = ts.Guardrail("latency_ms", "<=", 20.0)
    open_study(storage, budget=ts.Budget(trials=3), guardrails=[guardrail])
    study = open_study(storage)
    assert study.budget == ts.Budget(trials=3) and study.guardrails == (guardrail,)
    with pytest.warns(NoFeasibleTrialWarning):  # every trial breaks the guardrail: the study has no result
        study.optimize(loss)
    assert len(study.trials) == 3, "the stored budget ends the run, not an unbounded one"
    assert {r.state for r in study.trials} == {ts.TrialState.INFEASIBLE}, "the stored guardrail still judges"


def test_study_load_resumes_with_the_stored_budget_and_guardrails() -> None:
    storage = MemoryStorage()
    open_study(storage, budget=ts.Budget(trials=4, wall_time="1h"), guardrails=[ts.Guardrail("latency_ms", "<=", 9)])
    loaded = ts.Study.load("contract", storage)
    assert loaded.budget == ts.Budget(trials=4, wall_time=3600) and len(loaded.guardrails) == 1


def test_study_load_refuses_a_budget_override() -> None:
    storage = MemoryStorage()
    run_stored(storage, trials=3)
    with pytest.raises(ts.ConfigError, match="tunesmith extend contract --trials 6"):
        ts.Study.load("contract", storage, budget=ts.Budget(trials=6))


# Extending ---------------------------------------------------------------------------------------
def test_extend_budget_stores_the_new_budget_and_the_study_runs_to_it() -> None:
    storage = MemoryStorage()
    study = run_stored(storage, trials=3)
    assert study.extend_budget(trials=10) == ts.Budget(trials=10) == study.budget
    assert ts.Study.load("contract", storage).budget == ts.Budget(trials=10), "written into the stored spec"
    study.optimize(loss)
    assert len(study.trials) == 10


def test_extend_budget_records_what_the_auto_sampler_chooses_for_the_new_budget() -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)}), metric="loss",
                     budget=ts.Budget(trials=12), storage="memory")  # fmt: skip
    assert study.attrs["sampler_choice"]["sampler"]["name"] == "gp"
    study.extend_budget(trials=400)
    choice = study.attrs["sampler_choice"]
    assert choice["sampler"]["name"] == "cmaes" and "a budget of 400 trials" in choice["why"]


def test_extend_budget_records_when_and_from_what_to_what_in_budget_log() -> None:
    storage = MemoryStorage()
    study = open_study(storage, budget=ts.Budget(trials=3, wall_time="1h"))
    study._clock = lambda: 1000.0
    study.extend_budget(trials=5)
    study._clock = lambda: 2000.0
    study.extend_budget(trials=8, wall_time="2h")
    log = read_attr(ts.Study.load("contract", storage).attrs, BudgetLogAttr)
    assert log is not None
    limits = [(c.at, ts.Budget.from_json(c.old), ts.Budget.from_json(c.new)) for c in log.changes]
    assert limits == [
        (1000.0, ts.Budget(trials=3, wall_time=3600), ts.Budget(trials=5, wall_time=3600)),
        (2000.0, ts.Budget(trials=5, wall_time=3600), ts.Budget(trials=8, wall_time=7200)),
    ]
    assert log.changes[0].to_json() == {
        "at": 1000.0,
        "old": {"trials": 3, "wall_time": 3600.0, "resource": None},
        "new": {"trials": 5, "wall_time": 3600.0, "resource": None},
    }


def test_extend_budget_keeps_the_limits_not_given() -> None:
    storage = MemoryStorage()
    study = open_study(storage, budget=ts.Budget(trials=3, wall_time=60, resource=100))
    assert study.extend_budget(resource=250) == ts.Budget(trials=3, wall_time=60, resource=250)


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        ({"trials": 3}, r"an extension must raise trials above the stored trials=3, got trials=3: pass more than 3"),
        ({"trials": 2}, r"must raise trials above the stored trials=3, got trials=2"),
        ({"wall_time": 60}, r"has no wall_time limit to extend \(its budget is trials=3\), got wall_time=60"),
        ({}, r"extend_budget needs a limit to raise, got none of trials, wall_time, resource or compute"),
        ({"trials": 0}, r"trials must be a positive integer or None, got trials=0"),
        ({"wall_time": "soon"}, r"wall_time must look like .*, got wall_time='soon'"),
    ],
)
def test_extend_budget_refuses_anything_but_a_raise_of_an_existing_limit(
    extension: dict[str, object], message: str
) -> None:
    study = run_stored(MemoryStorage(), trials=3)
    with pytest.raises(ts.ConfigError, match=message):
        study.extend_budget(**extension)  # type: ignore[arg-type]
    assert study.budget == ts.Budget(trials=3) and "budget_log" not in study.attrs, "nothing changed"


def test_extend_budget_takes_only_the_three_limits() -> None:
    study = run_stored(MemoryStorage(), trials=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'trails'"):
        study.extend_budget(trails=10)  # type: ignore[call-arg]


def test_the_budget_before_a_recorded_extension_still_resumes_the_study_with_the_extended_one() -> None:
    storage = MemoryStorage()
    run_stored(storage, trials=3).extend_budget(trials=6)
    study = open_study(storage, budget=ts.Budget(trials=3))  # the script or config written before the extension
    assert study.budget == ts.Budget(trials=6)
    study.optimize(loss)
    assert len(study.trials) == 6


def test_an_extension_survives_in_sqlite_for_another_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/contract.db"
    run_stored(url, trials=3).extend_budget(trials=5)
    reopened = ts.Study.load("contract", url)  # a fresh storage object reads the database again
    assert reopened.budget == ts.Budget(trials=5)
    log = read_attr(reopened.attrs, BudgetLogAttr)
    assert log is not None and len(log.changes) == 1 and log.changes[0].new["trials"] == 5
    reopened.optimize(loss)
    assert len(reopened.trials) == 5


# The command line --------------------------------------------------------------------------------
CONFIG = """
name = "quad"
objective = "objectives:quadratic"
seed = 2
sampler = "random"
metric = "loss"

[budget]
trials = {trials}

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""


def write_config(folder: Path, trials: int) -> Path:
    path = folder / "quad.toml"
    path.write_text(CONFIG.format(trials=trials))
    return path


def test_run_with_a_changed_budget_in_the_config_says_to_run_tunesmith_extend(
    objectives_dir: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    config = write_config(objectives_dir, trials=3)
    assert CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"]).exit_code == 0
    config = write_config(objectives_dir, trials=6)
    result = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "budget trials=3, not trials=6" in result.output
    fix = "run `tunesmith extend quad --storage " + url + " --trials 6`"  # the storage: the command's default is not it
    assert "".join(fix.split()) in "".join(result.output.split())
    assert len(ts.Study.load("quad", url).trials) == 3


def test_the_extend_command_a_raised_budget_names_runs_as_printed(objectives_dir: Path, tmp_path: Path) -> None:
    """The command pasted back works: the name quoted, the storage named, and only the limit raised (a limit the
    study lacks is refused once it has trials, so it is named apart, as a fix only before the first trial)."""
    url = f"sqlite:///{tmp_path}/cli.db"
    config = write_config(objectives_dir, trials=3)
    config.write_text(config.read_text().replace('name = "quad"', 'name = "my quad"'))
    assert CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"]).exit_code == 0
    config.write_text(config.read_text().replace("trials = 3", 'trials = 6\nwall_time = "1h"'))
    result = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"])
    assert result.exit_code == 1
    printed = " ".join(result.output.split()).split("run `", 1)[1].split("`", 1)[0]
    assert printed == f"tunesmith extend 'my quad' --storage {url} --trials 6"
    extended = CliRunner().invoke(cli, shlex.split(printed)[1:])
    assert extended.exit_code == 0, extended.output
    assert ts.Study.load("my quad", url).budget == ts.Budget(trials=6)


def test_tunesmith_extend_raises_the_budget_and_run_resumes_to_it(objectives_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    config = write_config(objectives_dir, trials=3)
    CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"])
    extended = CliRunner().invoke(cli, ["extend", "quad", "--trials", "6", "--storage", url])
    assert extended.exit_code == 0, extended.output
    assert "extended the budget of quad" in extended.output and "trials=3 -> trials=6" in extended.output
    # The config as it was (trials = 3) resumes the study, which now runs to its extended budget.
    resumed = CliRunner().invoke(cli, ["run", str(config), "--storage", url, "--no-report"])
    assert resumed.exit_code == 0, resumed.output
    assert len(ts.Study.load("quad", url).trials) == 6


def test_tunesmith_extend_refuses_a_lower_budget_in_one_line(objectives_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    CliRunner().invoke(cli, ["run", str(write_config(objectives_dir, trials=3)), "--storage", url, "--no-report"])
    result = CliRunner().invoke(cli, ["extend", "quad", "--trials", "2", "--storage", url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "must raise trials above the stored trials=3, got trials=2" in result.output


def test_tunesmith_extend_names_the_known_studies_for_an_unknown_one(objectives_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    CliRunner().invoke(cli, ["run", str(write_config(objectives_dir, trials=3)), "--storage", url, "--no-report"])
    result = CliRunner().invoke(cli, ["extend", "qaud", "--trials", "9", "--storage", url])
    assert result.exit_code == 1 and "no study named 'qaud'" in result.output and "quad" in result.output
