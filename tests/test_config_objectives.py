"""A config file of several objectives: ``[[metrics]]``, ``reference_point`` and ``[choose]``, run by `tunesmith run`.

Before, a config tuned one metric: a study of several objectives could only be made in Python. And a GP study of
several objectives stored and printed its settings as ``acquisition='logei'`` while it ran expected hypervolume
improvement.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.attributes import VerdictAttr, read_attr
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.errors import ConfigError

MODULE = "config_objectives_module"

OBJECTIVES = """
def objective(trial):
    x = trial.params["x"]
    return {"error": x, "latency_ms": 100 * (1 - x) ** 2}


def evaluate(params, seed):
    x = params["x"]
    return {"error": x + 0.01, "latency_ms": 100 * (1 - x) ** 2}
"""

TOML = f"""
name = "tradeoff"
objective = "{MODULE}:objective"
seed = 0

[[metrics]]
name = "error"
direction = "min"

[[metrics]]
name = "latency_ms"
direction = "min"

[reference_point]
error = 1.0
latency_ms = 100

[budget]
trials = 6

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
"""

YAML = f"""
name: tradeoff-yaml
objective: {MODULE}:objective
seed: 0
metrics:
  - {{name: error, direction: min}}
  - {{name: latency_ms, direction: min}}
reference_point: {{error: 1.0, latency_ms: 100}}
budget: {{trials: 6}}
space:
  x: {{type: float, low: 0.0, high: 1.0}}
"""

NO_ENVIRONMENT: dict[str, str | None] = {"TUNESMITH_STORAGE": None, "TUNESMITH_STORAGE_FILE": None}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The working directory, holding the objective's module next to the configs."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(OBJECTIVES))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop(MODULE, None)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def run(config: Path, storage: str) -> Result:
    return CliRunner().invoke(
        cli, ["run", str(config), "--storage", storage, "--no-progress", "--no-report"], env=NO_ENVIRONMENT
    )


@pytest.mark.parametrize(("file", "text", "name"), [("t.toml", TOML, "tradeoff"), ("t.yaml", YAML, "tradeoff-yaml")])
def test_a_config_with_two_objectives_runs_through_the_cli_and_stores_both(
    folder: Path, file: str, text: str, name: str
) -> None:
    storage = f"sqlite:///{folder / 'runs.db'}"
    result = run(write(folder, file, text), storage)
    assert result.exit_code == 0, result.output
    assert "trial budget spent (6/6)" in result.output
    study = ts.Study.load(name, storage)
    assert study.objectives == (ts.Metric("error", "min"), ts.Metric("latency_ms", "min"))
    assert study.reference_point == {"error": 1.0, "latency_ms": 100.0}
    assert len(study.pareto_front) >= 1


def test_a_config_choose_rule_is_recorded_once_the_search_budget_is_spent(folder: Path) -> None:
    storage = f"sqlite:///{folder / 'runs.db'}"
    rule = "choose: {rule: best, metric: error, bounds: [{metric: latency_ms, op: '<=', bound: 50}]}\n"
    result = run(write(folder, "t.yaml", YAML + rule), storage)
    assert result.exit_code == 0, result.output
    study = ts.Study.load("tradeoff-yaml", storage)
    allowed = [r for r in study.pareto_front if r.metrics["latency_ms"] <= 50]
    assert study.chosen is not None
    assert study.chosen.number == min(allowed, key=lambda r: r.metrics["error"]).number
    assert f"chosen: trial {study.chosen.number} (best error under latency_ms <= 50" in " ".join(result.output.split())


def test_a_config_with_two_objectives_and_a_holdout_judges_the_chosen_trial(folder: Path) -> None:
    storage = f"sqlite:///{folder / 'runs.db'}"
    discipline = f'\n[choose]\nrule = "knee"\n\n[holdout]\nevaluate = "{MODULE}:evaluate"\nseeds = 2\nconfirm = 0\n'
    result = run(write(folder, "t.toml", TOML + discipline), storage)
    assert result.exit_code == 0, result.output
    study = ts.Study.load("tradeoff", storage)
    verdict = read_attr(study.attrs, VerdictAttr)
    assert study.chosen is not None and verdict is not None
    assert verdict.trial == study.chosen.number


def run_reporting(config: Path, storage: str, report: Path) -> Result:
    return CliRunner().invoke(
        cli, ["run", str(config), "--storage", storage, "--no-progress", "--report", str(report)], env=NO_ENVIRONMENT
    )


# every trial's latency_ms is 100 * (1 - x) ** 2 >= 0, so none meets this guardrail
NONE_FEASIBLE = '\n[[guardrails]]\nmetric = "latency_ms"\nop = "<"\nbound = 0\n\n[choose]\nrule = "knee"\n'
# the front's latency_ms is >= 0, so its best, when the front runs to x = 1, is 0 and the closest to the bound
UNMET = '\n[choose]\nrule = "best"\nmetric = "error"\nbounds = [{ metric = "latency_ms", op = "<", bound = 0 }]\n'


def test_a_choose_rule_with_no_feasible_trial_keeps_the_summary_and_the_report(folder: Path) -> None:
    """The choice was made before the summary and the report, and its refusal ended the run without either."""
    report = folder / "tradeoff.html"
    result = run_reporting(write(folder, "t.toml", TOML + NONE_FEASIBLE), f"sqlite:///{folder / 'runs.db'}", report)
    assert result.exit_code == 1
    assert "tradeoff: error (min), latency_ms (min), 6 infeasible" in result.output, result.output
    assert report.is_file()


def test_a_choose_rule_with_no_feasible_trial_says_no_trial_is_feasible_and_which_bound_they_broke(
    folder: Path,
) -> None:
    """It said "no COMPLETE, feasible trial with every objective: run trials before study.choose(...)", although
    every trial had run."""
    result = run(write(folder, "t.toml", TOML + NONE_FEASIBLE), f"sqlite:///{folder / 'runs.db'}")
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "Error: the budget is spent and the study has no result: no feasible trial" in said, said
    assert "latency_ms < 0 broken by 6 of 6" in said and "study.choose" not in said


def test_a_choose_bound_no_front_trial_meets_keeps_the_summary_and_the_report(folder: Path) -> None:
    report = folder / "tradeoff.html"
    result = run_reporting(write(folder, "t.toml", TOML + UNMET), f"sqlite:///{folder / 'runs.db'}", report)
    assert result.exit_code == 1
    assert "Pareto front:" in result.output, result.output
    assert report.is_file()


def test_a_choose_bound_no_front_trial_meets_is_refused_with_the_bound_the_closest_trial_and_the_fix(
    folder: Path,
) -> None:
    storage = f"sqlite:///{folder / 'runs.db'}"
    result = run(write(folder, "t.toml", TOML + UNMET), storage)
    front = ts.Study.load("tradeoff", storage).pareto_front
    closest = min(front, key=lambda r: r.metrics["latency_ms"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    values = f"error {closest.metrics['error']:.4g}, latency_ms {closest.metrics['latency_ms']:.4g}"
    assert (f"Error: the budget is spent and [choose] in t.toml picks nothing: no trial on the Pareto front meets "
            f"latency_ms < 0 (closest: #{closest.number} with {values}): loosen the bound in [choose] and run the "
            "same command again") in said, said  # fmt: skip


def test_a_choose_rule_whose_every_trial_failed_says_there_is_nothing_to_pick_and_where_the_errors_are(
    folder: Path,
) -> None:
    failing = TOML.replace(f"{MODULE}:objective", f"{MODULE}:fails").replace("seed = 0", "seed = 0\nfail_fast = false")
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(OBJECTIVES) + "\n\ndef fails(trial):\n    raise ValueError\n")
    result = run(write(folder, "t.toml", failing + '\n[choose]\nrule = "knee"\n'), f"sqlite:///{folder / 'runs.db'}")
    said = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "all 6 trials that finished failed" in said and "`tunesmith show tradeoff --storage" in said, said


def test_metric_and_metrics_together_are_refused_with_the_fix(folder: Path) -> None:
    both = TOML.replace("[[metrics]]", '[metric]\nname = "error"\n\n[[metrics]]', 1)
    with pytest.raises(ConfigError, match="declares both 'metric' and 'metrics'") as refused:
        load_config(write(folder, "t.toml", both))
    assert "drop [metric] and list that metric first in [[metrics]]" in str(refused.value)


def test_metric_and_metrics_together_are_refused_before_the_database_is_created(folder: Path) -> None:
    database = folder / "runs.db"
    both = YAML.replace("metrics:", "metric: error\nmetrics:", 1)
    result = run(write(folder, "t.yaml", both), f"sqlite:///{database}")
    assert result.exit_code == 1 and "declares both 'metric' and 'metrics'" in result.output
    assert not database.exists()


def test_an_unknown_key_in_a_metrics_entry_is_refused_with_the_closest_key(folder: Path) -> None:
    misspelt = TOML.replace('name = "latency_ms"\ndirection', 'name = "latency_ms"\ndirecton', 1)
    with pytest.raises(ConfigError, match=r"metrics entry 2 of 2: metric has unknown key.*did you mean 'direction'"):
        load_config(write(folder, "t.toml", misspelt))


def test_a_reference_point_naming_no_objective_is_refused_with_the_closest_name(folder: Path) -> None:
    misspelt = YAML.replace("latency_ms: 100}", "latency: 100}")
    with pytest.raises(ConfigError, match="got 'latency': did you mean 'latency_ms'"):
        load_config(write(folder, "t.yaml", misspelt))


def test_a_reference_point_with_one_metric_is_refused(folder: Path) -> None:
    one = TOML.replace('[[metrics]]\nname = "latency_ms"\ndirection = "min"\n', "")
    with pytest.raises(ConfigError, match="reference_point bounds the hypervolume of several objectives"):
        load_config(write(folder, "t.toml", one))


def test_a_choose_rule_naming_no_objective_is_refused_before_the_search(folder: Path) -> None:
    rule = '\n[choose]\nrule = "best"\nmetric = "eror"\n'
    with pytest.raises(ConfigError, match=r"choose\.metric .* got 'eror': did you mean 'error'"):
        load_config(write(folder, "t.toml", TOML + rule))


def test_a_holdout_with_several_objectives_needs_a_choose_rule(folder: Path) -> None:
    holdout = f'\n[holdout]\nevaluate = "{MODULE}:evaluate"\n'
    with pytest.raises(ConfigError, match=r"declares a holdout and 2 objectives .* but no choose rule") as refused:
        load_config(write(folder, "t.toml", TOML + holdout))
    assert '[choose] rule = "knee"' in str(refused.value)


def test_a_holdout_top_is_refused_with_several_objectives(folder: Path) -> None:
    holdout = f'\n[choose]\nrule = "knee"\n\n[holdout]\nevaluate = "{MODULE}:evaluate"\ntop = 3\n'
    with pytest.raises(ConfigError, match=r"got holdout.top=3 with 2 objectives, .*: drop top"):
        load_config(write(folder, "t.toml", TOML + holdout))


def test_a_sampler_of_one_objective_is_refused_for_several_before_the_database_is_created(folder: Path) -> None:
    database = folder / "runs.db"
    result = run(write(folder, "t.toml", 'sampler = "cmaes"\n' + TOML), f"sqlite:///{database}")
    assert result.exit_code == 1 and "sampler 'cmaes' optimises one objective" in result.output
    assert not database.exists()


def test_a_gp_study_of_several_objectives_prints_the_acquisition_it_runs(folder: Path) -> None:
    storage = f"sqlite:///{folder / 'runs.db'}"
    result = run(write(folder, "t.toml", 'sampler = "gp"\n' + TOML), storage)
    assert result.exit_code == 0, result.output
    status = CliRunner().invoke(cli, ["status", "tradeoff", "--storage", storage], env=NO_ENVIRONMENT)
    said = " ".join(status.output.split())
    assert "(with 2 objectives: log expected hypervolume improvement; acquisition and beta unused)" in said, said
