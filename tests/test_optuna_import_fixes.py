"""`import_study` / ``tunesmith import-optuna``: the budget an import asks for suffices, a partial import says what
to do with it, non-finite COMPLETE trials are named, and the Optuna study's own user attributes come across."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import write_attr
from tunesmith.cli import cli
from tunesmith.errors import ConfigError


def _silence(optuna_module: object) -> None:
    logging = optuna_module.logging  # type: ignore[attr-defined]
    logging.set_verbosity(logging.CRITICAL)


def _with_running_and_waiting(path: Path) -> str:
    """An Optuna study of 5 COMPLETE trials, then one RUNNING (a live worker) and one WAITING (enqueued)."""
    optuna = pytest.importorskip("optuna")
    _silence(optuna)
    url = f"sqlite:///{path}"
    study = optuna.create_study(study_name="live", storage=url, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    study.ask().suggest_float("x", 0, 1)
    study.enqueue_trial({"x": 0.25})
    return url


def test_the_trial_budget_an_import_asks_for_is_enough_to_write_every_trial(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from tunesmith.integrations.optuna import OptunaImportAttr, import_study

    source = _with_running_and_waiting(tmp_path / "optuna.db")
    target = f"sqlite:///{tmp_path / 'ts.db'}"
    with pytest.raises(ConfigError) as refused:
        import_study(source, "live", storage=target, budget=ts.Budget(trials=4), seed=0)
    match = re.search(r"at least (\d+) trials", str(refused.value))
    assert match is not None, str(refused.value)

    result = import_study(source, "live", storage=target, budget=ts.Budget(trials=int(match[1])), seed=0)

    assert result.trials == 7
    attr = OptunaImportAttr.from_json(result.study.attrs[OptunaImportAttr.KEY])
    assert attr.complete


def test_importing_again_into_a_partial_import_says_it_cannot_be_finished_and_to_import_under_a_new_name(
    tmp_path: Path,
) -> None:
    pytest.importorskip("optuna")
    from tunesmith.integrations.optuna import OptunaImportAttr, import_study

    source = _with_running_and_waiting(tmp_path / "optuna.db")
    target = f"sqlite:///{tmp_path / 'ts.db'}"
    imported = import_study(source, "live", storage=target, seed=0).study
    # as an import that stopped after its fifth trial leaves it
    write_attr(imported, OptunaImportAttr(source=source, study="live", trials=5, complete=False))

    with pytest.raises(ConfigError) as refused:
        import_study(source, "live", storage=target, seed=0)

    message = str(refused.value)
    assert "cannot be finished" in message
    assert "Study.load" not in message  # resuming a partial copy would judge an incomplete history
    assert "--as NEW_NAME" in message


def test_complete_optuna_trials_with_an_infinite_value_are_named_in_the_import_result(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from tunesmith.integrations.optuna import import_study

    _silence(optuna)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="inf", storage=url, direction="maximize")
    for x in (0.2, 0.0, 0.7):
        study.enqueue_trial({"x": x})
    study.optimize(lambda t: float("inf") if t.suggest_float("x", 0, 1) == 0.0 else t.params["x"], n_trials=3)

    result = import_study(url, "inf", storage=f"sqlite:///{tmp_path / 'ts.db'}", seed=0)

    assert result.non_finite == {1: "value is inf (Optuna)"}


def test_the_cli_summary_says_which_complete_trials_became_failed_and_why(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    _silence(optuna)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="inf", storage=url)
    study.enqueue_trial({"x": 0.0})
    study.enqueue_trial({"x": 0.5})
    study.optimize(lambda t: float("-inf") if t.suggest_float("x", 0, 1) == 0.0 else 1.0, n_trials=2)

    out = CliRunner().invoke(
        cli,
        ["import-optuna", "--from", url, "--study", "inf", "--storage", f"sqlite:///{tmp_path / 'ts.db'}"],
    )

    assert out.exit_code == 0, out.output
    flat = " ".join(out.output.split())
    assert "1 trial COMPLETE in Optuna imported as failed" in flat
    assert "#0: value is -inf (Optuna)" in flat


def test_the_optuna_study_user_attributes_are_kept_in_the_import_attribute(tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    from tunesmith.integrations.optuna import OptunaImportAttr, import_study

    _silence(optuna)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="attrs", storage=url)
    study.set_user_attr("dataset", "cifar10-v2")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)

    result = import_study(url, "attrs", storage=f"sqlite:///{tmp_path / 'ts.db'}", seed=0)

    stored = ts.Study.load("attrs", storage=f"sqlite:///{tmp_path / 'ts.db'}")
    assert OptunaImportAttr.from_json(stored.attrs[OptunaImportAttr.KEY]).user_attrs == {"dataset": "cifar10-v2"}
    assert result.user_attrs == {"dataset": "cifar10-v2"}


def test_status_says_a_partial_import_is_no_copy_of_the_optuna_study(tmp_path: Path) -> None:
    """status showed a part-written import as a normal study (5/5 spent) with no word."""
    pytest.importorskip("optuna")
    from click.testing import CliRunner

    from tunesmith.cli import cli
    from tunesmith.integrations.optuna import OptunaImportAttr, import_study

    source = _with_running_and_waiting(tmp_path / "optuna.db")
    target = f"sqlite:///{tmp_path / 'ts.db'}"
    imported = import_study(source, "live", storage=target, seed=0).study
    write_attr(imported, OptunaImportAttr(source=source, study="live", trials=5, complete=False))
    said = " ".join(CliRunner().invoke(cli, ["status", "live", "--storage", target]).output.split())
    assert "incomplete Optuna import: 5 trials of Optuna study 'live' written" in said
    assert "--as NEW_NAME" in said
