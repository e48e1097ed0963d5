"""Coming from Optuna: `tunesmith import-optuna` / `import_study`, and `TunesmithSampler` inside Optuna code.

Every test runs the real Optuna: studies are created in a SQLite file with Optuna's own API.
"""

from __future__ import annotations

import itertools
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.errors import ConfigError, StorageUnavailable, StudyNotFound
from tunesmith.trial import TrialKind, TrialState

optuna = pytest.importorskip("optuna")
from tunesmith.integrations.optuna import TunesmithSampler, import_study  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)

# What each Optuna state must become in tunesmith.
STATES = {
    "COMPLETE": (TrialState.COMPLETE, None),
    "PRUNED": (TrialState.STOPPED, TrialKind.SCHEDULER),
    "FAIL": (TrialState.FAILED, TrialKind.EXCEPTION),
    "RUNNING": (TrialState.FAILED, TrialKind.INTERRUPTED),
    "WAITING": (TrialState.FAILED, TrialKind.INTERRUPTED),
}
ENQUEUED = {"lr": 0.01, "dropout": 0.2, "width": 32, "optimizer": "adam"}


def legacy_objective(trial: Any) -> float:
    """An Optuna objective with every kind of parameter, a conditional one, a curve, pruning and failures."""
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    trial.suggest_int("layers", 1, 4)
    trial.suggest_int("width", 16, 128, step=16)
    if trial.suggest_categorical("optimizer", ["adam", "sgd"]) == "sgd":
        trial.suggest_float("momentum", 0.0, 0.9)
    trial.set_user_attr("note", f"run {trial.number}")
    for step in range(3):  # Optuna counts steps from 0
        trial.report(lr * (3 - step) + dropout, step)
        if trial.number % 5 == 3 and step == 1:
            raise optuna.TrialPruned()
    if trial.number % 7 == 6:
        raise ValueError("diverged")
    return lr + dropout


def make_legacy_study(path: Path) -> str:
    """A real Optuna SQLite study: 14 finished trials (complete, pruned, failed), one RUNNING, one WAITING."""
    url = f"sqlite:///{path}"
    study = optuna.create_study(study_name="legacy", storage=url, sampler=optuna.samplers.RandomSampler(seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["loss"])
    study.optimize(legacy_objective, n_trials=14, catch=(ValueError,))
    study.enqueue_trial({"lr": 0.05})
    study.ask()  # the enqueued trial is RUNNING
    study.enqueue_trial(ENQUEUED)  # WAITING
    return url


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def legacy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The legacy Optuna study, built once (Optuna on SQLite takes seconds); each test works on a copy."""
    path = tmp_path_factory.mktemp("optuna") / "legacy.db"
    make_legacy_study(path)
    return path


@pytest.fixture
def legacy(legacy_file: Path, tmp_path: Path) -> str:
    """The URL of this test's copy of the legacy Optuna study."""
    copy = tmp_path / "optuna.db"
    shutil.copyfile(legacy_file, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def imported(legacy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The legacy study imported with the CLI: (optuna URL, tunesmith URL)."""
    monkeypatch.chdir(tmp_path)
    target = f"sqlite:///{tmp_path}/tunesmith.db"
    result = invoke("import-optuna", "--from", legacy, "--study", "legacy", "--storage", target, "--trials", "20")
    assert result.exit_code == 0, result.output
    assert "imported 16 trials of Optuna study 'legacy'" in result.output
    return legacy, target


def test_import_optuna_copies_every_trial_param_value_state_curve_attr_and_time(imported: tuple[str, str]) -> None:
    source, target = imported
    originals = optuna.load_study(study_name="legacy", storage=source).get_trials(deepcopy=False)
    study = ts.Study.load("legacy", target)
    assert study.metric == ts.Metric("loss", "min")
    records = study.trials
    assert [r.number for r in records] == [t.number for t in originals]
    assert {t.state.name for t in originals} == set(STATES)
    for original, record in zip(originals, records, strict=True):
        assert (record.state, record.kind) == STATES[original.state.name], original.number
        assert record.attrs["optuna"] == {"number": original.number, "state": original.state.name}
        assert record.attrs.get("user_attrs", {}) == original.user_attrs
        if original.state.name != "WAITING":
            assert record.params == original.params
        if original.value is not None:  # COMPLETE, and PRUNED with its last intermediate value
            assert record.metrics == {"loss": original.value}
        else:
            assert record.metrics == {}
        # Optuna counts steps from 0, tunesmith from 1 (resource units done).
        assert record.curve("loss") == [(step + 1, v) for step, v in sorted(original.intermediate_values.items())]
        if original.datetime_start is not None:
            assert record.started_at == pytest.approx(original.datetime_start.timestamp(), abs=1e-6)
        if original.datetime_complete is not None:
            assert record.finished_at == pytest.approx(original.datetime_complete.timestamp(), abs=1e-6)
    best = min((t for t in originals if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert study.best is not None and study.best.number == best.number


def test_import_turns_distributions_into_a_space_with_the_conditional_parameter(imported: tuple[str, str]) -> None:
    study = ts.Study.load("legacy", imported[1])
    assert study.space == ts.Space(
        {
            "lr": ts.Float(1e-4, 1e-1, log=True),
            "dropout": ts.Float(0.0, 0.5, step=0.1),
            "layers": ts.Int(1, 4),
            "width": ts.Int(16, 128, step=16),
            "optimizer": ts.Choice(["adam", "sgd"]),
            "momentum": ts.Float(0.0, 0.9, when={"optimizer": "sgd"}),
        }
    )
    for record in study.trials:
        if record.params:
            assert study.space.validate(record.params) == record.params


def test_an_imported_study_resumes_waiting_trial_first_within_the_budget(imported: tuple[str, str]) -> None:
    study = ts.Study.load("legacy", imported[1])
    before = study.trials
    waiting = next(r for r in before if r.attrs["optuna"]["state"] == "WAITING")

    def objective(trial: ts.Trial) -> dict[str, float]:
        return {"loss": trial.params["lr"] + trial.params["dropout"]}

    result = study.optimize(objective)
    assert result.stop_reason == "trial budget spent (20/20)"
    new = study.trials[len(before) :]
    # It runs first, with its enqueued parameters; Optuna would have sampled the one not enqueued.
    assert new[0].attrs["retry_of"] == waiting.number and new[0].state is TrialState.COMPLETE
    assert new[0].params == {**ENQUEUED, "layers": new[0].params["layers"]}
    assert new[0].attrs["drawn_from_prior"] == ["layers"]
    # RUNNING and WAITING trials in Optuna were never evaluated: they spend none of the 20 trials.
    budgeted = sum(1 for r in before if r.attrs["optuna"]["state"] not in ("RUNNING", "WAITING"))
    assert len(new) == 20 - budgeted
    assert all(study.space.validate(r.params) == r.params for r in new)


def test_a_resumed_sampler_continues_from_the_imported_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = optuna.storages.InMemoryStorage()  # a storage object works as well as a URL
    legacy = optuna.create_study(study_name="q", storage=source, sampler=optuna.samplers.RandomSampler(seed=1))
    legacy.optimize(lambda t: (t.suggest_float("x", -5.0, 5.0) - 1.3) ** 2, n_trials=30)

    def objective(trial: ts.Trial) -> float:
        return float((trial.params["x"] - 1.3) ** 2)

    resumed = import_study(source, "q", storage="memory", sampler="gp", seed=0).study
    resumed.optimize(objective, n_trials=3)
    fresh = ts.Study(ts.Space({"x": ts.Float(-5.0, 5.0)}), sampler="gp", storage="memory", seed=0)
    fresh.optimize(objective, n_trials=3)
    # With 30 observations the GP proposes at the optimum; without them it would still be in its Sobol start.
    near = [abs(r.params["x"] - 1.3) for r in resumed.trials[30:]]
    spread = [abs(r.params["x"] - 1.3) for r in fresh.trials]
    assert max(near) < 0.1 < max(spread)


def test_parameters_asked_with_other_bounds_or_in_unexplained_trials_import_as_a_union(tmp_path: Path) -> None:
    source = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="dyn", storage=source, direction="maximize")
    dist = optuna.distributions
    for i in range(6):
        params: dict[str, Any] = {"x": 0.2 * i, "n": 4 + 2 * i if i < 3 else 8 + 4 * (i - 3)}
        distributions: dict[str, Any] = {
            "x": dist.FloatDistribution(0.0, 1.0) if i < 3 else dist.FloatDistribution(0.5, 2.0),
            "n": dist.IntDistribution(4, 10, step=2) if i < 3 else dist.IntDistribution(8, 16, step=4),
        }
        if i in (0, 3, 4):  # no other parameter tells when "extra" is asked
            params["extra"], distributions["extra"] = "on", dist.CategoricalDistribution(["on", "off"])
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=float(i)))
    # A failed trial that never asked for "n" says nothing about when "n" is asked.
    failed = optuna.trial.create_trial(
        params={"x": 0.1}, distributions={"x": dist.FloatDistribution(0.0, 1.0)}, state=optuna.trial.TrialState.FAIL
    )
    study.add_trial(failed)
    result = import_study(source, "dyn", storage="memory")
    assert result.study.metric == ts.Metric("value", "max")
    assert result.optional == ("extra",)
    assert result.study.space == ts.Space(
        {"x": ts.Float(0.0, 2.0), "n": ts.Int(4, 16, step=2), "extra": ts.Choice(["on", "off"])}
    )
    records = result.study.trials
    assert [sorted(r.params) for r in records] == [sorted(t.params) for t in study.trials]
    assert [r.params for r in records] == [t.params for t in study.trials]


def test_importing_twice_is_refused_and_a_new_name_is_not(imported: tuple[str, str]) -> None:
    source, target = imported
    again = CliRunner().invoke(cli, ["import-optuna", "--from", source, "--study", "legacy", "--storage", target])
    assert again.exit_code == 1
    assert "'legacy' was already imported from Optuna study 'legacy' (16 trials)" in again.output
    assert "--as NEW_NAME" in again.output
    assert len(ts.Study.load("legacy", target).trials) == 16
    renamed = invoke("import-optuna", "--from", source, "--study", "legacy", "--storage", target, "--as", "legacy-2")
    assert renamed.exit_code == 0, renamed.output
    assert len(ts.Study.load("legacy-2", target).trials) == 16


def test_a_multi_objective_study_is_imported_with_its_objectives_and_refused_by_the_sampler(tmp_path: Path) -> None:
    source = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="mo", storage=source, directions=["minimize", "maximize"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(["error", "speed"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=6)
    imported = import_study(source, "mo", storage="memory").study
    assert list(imported.objectives) == [ts.Metric("error", "min"), ts.Metric("speed", "max")]
    for theirs, ours in zip(study.trials, imported.trials, strict=True):
        assert ours.metrics == {"error": theirs.values[0], "speed": theirs.values[1]}
    front = {t.number for t in study.best_trials}
    assert {r.number for r in imported.pareto_front} == front, "the same Pareto front"
    with pytest.raises(ConfigError, match=r"has 2 objectives, but metric='loss' names one: leave it out"):
        import_study(source, "mo", storage="memory", metric="loss")
    sampled = optuna.create_study(directions=["minimize", "maximize"], sampler=TunesmithSampler())
    with pytest.raises(ConfigError, match="optimises one objective"):
        sampled.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)


def test_a_missing_optuna_file_study_or_too_small_budget_is_an_error_naming_the_fix(
    legacy: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(StorageUnavailable, match="does not exist"):
        import_study(f"sqlite:///{missing}", "legacy", storage="memory")
    assert not missing.exists()
    url = legacy
    with pytest.raises(StudyNotFound, match=r"no Optuna study named 'legcy'.*studies: legacy"):
        import_study(url, "legcy", storage="memory")
    with pytest.raises(ConfigError, match=r"spend 14 trials of the budget.*at least 15"):
        import_study(url, "legacy", storage="memory", budget=ts.Budget(trials=10))


def quadratic(trial: Any) -> float:
    return float((trial.suggest_float("x", -5.0, 5.0) - 1.3) ** 2 + (trial.suggest_float("y", -5.0, 5.0) + 0.7) ** 2)


def test_tunesmith_sampler_beats_random_sampling_at_equal_budget() -> None:
    ours, random = [], []
    for seed in range(3):
        study = optuna.create_study(sampler=TunesmithSampler("gp", seed=seed))
        study.optimize(quadratic, n_trials=16)
        ours.append(study.best_value)
        baseline = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        baseline.optimize(quadratic, n_trials=16)
        random.append(baseline.best_value)
    assert all(a < b for a, b in zip(ours, random, strict=True)), (ours, random)


def test_tunesmith_sampler_maximizes_with_pruned_trials_and_dynamic_parameters() -> None:
    def objective(trial: Any) -> float:
        score = -quadratic(trial)
        if trial.suggest_categorical("bonus", ["no", "yes"]) == "yes":
            score += 0.01 * trial.suggest_int("amount", 1, 3)
        for step in range(3):
            trial.report(score - (2 - step), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return score

    study = optuna.create_study(
        direction="maximize",
        sampler=TunesmithSampler("tpe", seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    study.optimize(objective, n_trials=40)
    states = {t.state.name for t in study.trials}
    assert "PRUNED" in states and "COMPLETE" in states
    assert study.best_value > -0.5  # the maximum is 0.03; a sampler minimising would end near -50
    for trial in study.trials:
        assert ("amount" in trial.params) == (trial.params["bonus"] == "yes")


def test_import_optuna_prints_the_space_as_a_config_writes_it(legacy: str, tmp_path: Path) -> None:
    """The space was printed as Python dicts (``x={'type': 'float', ..., 'step': None}``), which no config takes; the
    lines printed now, under ``[space]``, load as the imported space, the conditional ``momentum`` included."""
    import tomllib

    target = f"sqlite:///{tmp_path}/tunesmith.db"
    result = invoke("import-optuna", "--from", legacy, "--study", "legacy", "--storage", target)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index("space, as a config's [space] table writes it:") + 1
    table = [line.strip() for line in itertools.takewhile(lambda line: line.startswith("  "), lines[start:])]
    assert any(line.startswith("momentum = {") and "when = {optimizer = " in line for line in table), table
    loaded = ts.Space.from_json(tomllib.loads("\n".join(table)))
    assert loaded.to_json() == ts.Study.load("legacy", target).space.to_json()
