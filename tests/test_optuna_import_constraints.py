"""`import_study` / ``tunesmith import-optuna`` with Optuna constraints: a trial Optuna records as violating a
constraint (a value above 0) comes across INFEASIBLE, as a breached guardrail does, so it is never best nor on
the front; the constraint values are kept as metrics, and the summary counts the infeasible trials."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tunesmith.cli import cli
from tunesmith.trial import TrialKind, TrialState

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.CRITICAL)

from tunesmith.integrations.optuna import ImportResult, import_study  # noqa: E402 - needs optuna

_X = optuna.distributions.FloatDistribution(0.0, 1.0)


def _size_limited(path: Path) -> tuple[str, Any]:
    """The two-objective study of the report: NSGA-II with ``size_mb <= 60`` (constraint ``size_mb - 60``)."""

    def objective(trial: Any) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        trial.set_user_attr("size_mb", 100 * (1 - x))
        return x, 1 - x**0.5

    url = f"sqlite:///{path}"
    sampler = optuna.samplers.NSGAIISampler(seed=0, constraints_func=lambda t: [t.user_attrs["size_mb"] - 60])
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler, study_name="c", storage=url)
    study.optimize(objective, n_trials=20)
    return url, study


def _single(path: Path, trials: list[tuple[float, dict[str, Any]]]) -> str:
    """A minimised single-objective study of COMPLETE trials ``(value, system_attrs)``, parameter x = value."""
    url = f"sqlite:///{path}"
    study = optuna.create_study(study_name="s", storage=url)
    for value, system_attrs in trials:
        study.add_trial(optuna.trial.create_trial(params={"x": value}, distributions={"x": _X}, value=value,
                                                  system_attrs=system_attrs))  # fmt: skip
    return url


def _import(source: str, path: Path, study_name: str) -> ImportResult:
    return import_study(source, study_name, storage=f"sqlite:///{path}")


# ``constraints_func`` (the report's setup, and the only way before Optuna 5) is deprecated from Optuna 5.
@pytest.mark.filterwarnings("ignore:`constraints_func` has been deprecated:FutureWarning")
def test_trials_violating_an_optuna_constraint_are_not_on_the_imported_pareto_front(tmp_path: Path) -> None:
    source, optuna_study = _size_limited(tmp_path / "optuna.db")
    study = _import(source, tmp_path / "ts.db", "c").study
    assert any(t.user_attrs["size_mb"] > 60 for t in optuna_study.trials)  # the study does break the constraint
    assert [t.number for t in study.pareto_front] == sorted(t.number for t in optuna_study.best_trials)


def test_a_trial_violating_an_optuna_constraint_is_infeasible_with_a_reason_naming_the_constraint(
    tmp_path: Path,
) -> None:
    source = _single(tmp_path / "optuna.db", [(0.5, {"constraints": [-1.0, 12.5]})])
    (record,) = _import(source, tmp_path / "ts.db", "s").study.trials
    assert (record.state, record.kind) == (TrialState.INFEASIBLE, TrialKind.GUARDRAIL)
    assert record.reason is not None and "constraint 1 = 12.5 > 0" in record.reason
    assert "constraint 0" not in record.reason  # -1 is met


def test_the_best_of_a_single_objective_import_is_the_best_trial_meeting_the_constraints(tmp_path: Path) -> None:
    source = _single(tmp_path / "optuna.db", [(0.1, {"constraints": [3.0]}), (0.4, {"constraints": [0.0]}),
                                              (0.7, {"constraints": [-2.0]})])  # fmt: skip
    study = _import(source, tmp_path / "ts.db", "s").study
    assert study.best is not None and study.best.number == 1  # 0.1 breaks its constraint; 0 is feasible


def test_optuna_constraint_values_are_kept_as_constraint_metrics(tmp_path: Path) -> None:
    source = _single(tmp_path / "optuna.db", [(0.5, {"constraints": [-1.0, 12.5]}), (0.6, {"constraints:size": 2.0})])
    first, second = _import(source, tmp_path / "ts.db", "s").study.trials
    assert first.metrics == {"value": 0.5, "constraint_0": -1.0, "constraint_1": 12.5}
    assert second.metrics == {"value": 0.6, "constraint_size": 2.0}  # a named one (Trial.set_constraint, Optuna 5)


def test_a_pruned_trial_violating_a_constraint_stays_stopped_with_its_last_value_and_the_constraint(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna_study = optuna.create_study(study_name="p", storage=url)
    optuna_study.add_trial(optuna.trial.create_trial(
        params={"x": 0.5}, distributions={"x": _X}, state=optuna.trial.TrialState.PRUNED,
        intermediate_values={1: 0.9, 2: 0.7}, system_attrs={"constraints": [4.0]},
    ))  # fmt: skip
    (record,) = _import(url, tmp_path / "ts.db", "p").study.trials
    assert record.state is TrialState.STOPPED  # constraints, like guardrails, judge finished results only
    assert record.metrics == {"value": 0.7, "constraint_0": 4.0}


def test_the_import_result_names_the_trials_that_came_across_infeasible(tmp_path: Path) -> None:
    source = _single(tmp_path / "optuna.db", [(0.1, {"constraints": [3.0]}), (0.4, {"constraints": [-1.0]})])
    result = _import(source, tmp_path / "ts.db", "s")
    assert result.states == {"infeasible": 1, "complete": 1}
    assert list(result.infeasible) == [0] and "constraint 0 = 3 > 0" in result.infeasible[0]


def test_the_cli_summary_counts_the_trials_that_came_across_infeasible(tmp_path: Path) -> None:
    source = _single(tmp_path / "optuna.db", [(0.1, {"constraints": [3.0]}), (0.4, {"constraints": [-1.0]})])
    target = f"sqlite:///{tmp_path / 'ts.db'}"
    out = CliRunner().invoke(cli, ["import-optuna", "--from", source, "--study", "s", "--storage", target])
    assert out.exit_code == 0, out.output
    assert "1 complete, 1 infeasible" in " ".join(out.output.split())  # wrapped where the long path ends
