"""The locked holdout is opened once per holdout set, not per study: another study on the same storage that
finalizes on a set already opened ("tweak the space, new study name, finalize again") fails the verdict."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.discipline.holdout import HoldoutOpened, HoldoutScaleMismatch
from tunesmith.errors import ConfigError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def objective(trial: ts.Trial) -> dict[str, Any]:
    rng = np.random.default_rng([int(trial.params["x"] * 1e9), trial.seed])
    return {"acc": rng.random(300) < 0.8}


def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": np.random.default_rng([7, seed]).random(300) < 0.8}


def holdout_in_percent(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": 100.0 * (np.random.default_rng([7, seed]).random(300) < 0.8)}


def tuned(url: str, name: str) -> ts.Study:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=4), storage=url, name=name,
                     seed=0)  # fmt: skip
    study.optimize(objective, progress=False)
    return study


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def test_a_second_study_finalized_with_the_same_evaluate_fails_the_opened_once_check(url: str) -> None:
    first = ts.finalize(tuned(url, "A"), holdout, progress=False)
    second_study = tuned(url, "B")
    second = ts.finalize(second_study, holdout, progress=False)  # let through: another study is another search
    assert "holdout opened once" not in [c.name for c in first.checks]
    check = second.check("holdout opened once")
    assert not check.passed and check.decided and not second.ready
    assert "'A'" in check.detail and "new, untouched holdout set" in check.detail, check.detail
    entry = second_study.attrs["holdout_log"][0]
    assert entry["holdout_name"] == f"{holdout.__module__}:{holdout.__qualname__}"
    assert [e["study"] for e in entry["followed"]] == ["A"]


def test_a_holdout_named_differently_in_another_study_passes(url: str) -> None:
    ts.finalize(tuned(url, "A"), holdout, progress=False, holdout="split-2023")
    verdict = ts.finalize(tuned(url, "B"), holdout, progress=False, holdout="split-2024")
    assert "holdout opened once" not in [c.name for c in verdict.checks]


def test_a_lambda_without_a_name_is_not_checked_and_the_detail_says_to_name_it(url: str) -> None:
    evaluate = lambda params, seed: holdout(params, seed)  # noqa: E731 - no stable identity, as in a script
    ts.finalize(tuned(url, "A"), evaluate, progress=False)
    verdict = ts.finalize(tuned(url, "B"), evaluate, progress=False)
    check = verdict.check("holdout opened once")
    # It could not look: "not checked", never the decided pass ("ok") it read while its detail said so.
    assert check.passed and not check.checked and check.status == "not checked"
    assert "has no name" in check.detail and "holdout='<name of the set>'" in check.detail, check.detail


def test_a_voided_opening_of_the_same_holdout_in_another_study_does_not_count(url: str) -> None:
    with pytest.raises(HoldoutScaleMismatch):
        ts.finalize(tuned(url, "A"), holdout_in_percent, progress=False, holdout="split")
    verdict = ts.finalize(tuned(url, "B"), holdout, progress=False, holdout="split")
    assert "holdout opened once" not in [c.name for c in verdict.checks]


def test_a_study_whose_holdout_was_opened_is_refused_again_whatever_name_is_given(url: str) -> None:
    study = tuned(url, "A")
    ts.finalize(study, holdout, progress=False)
    with pytest.raises(HoldoutOpened, match="force=True"):
        ts.finalize(study, holdout, progress=False, holdout="another name")
    assert len(study.attrs["holdout_log"]) == 1


def test_an_empty_holdout_name_is_refused_with_the_fix(url: str) -> None:
    study = tuned(url, "A")
    with pytest.raises(ConfigError, match=r"non-empty string, got holdout=' ': pass the same name"):
        ts.finalize(study, holdout, progress=False, holdout=" ")
    assert "holdout_log" not in study.attrs


def test_two_scripts_evaluate_functions_get_different_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each script's functions live in ``__main__``: by module and name alone, two scripts over different holdout
    sets would have read as one set and failed the check."""
    from tunesmith.discipline.holdout import _holdout_name

    def evaluate(params: dict[str, Any], seed: int) -> dict[str, float]:
        return {"holdout_loss": 0.0}

    evaluate.__module__, evaluate.__qualname__ = "__main__", "evaluate"
    names = []
    for script in ("tune_churn.py", "tune_fraud.py"):
        monkeypatch.setattr(sys.modules["__main__"], "__file__", str(tmp_path / script), raising=False)
        names.append(_holdout_name(evaluate, None))
    assert names == [f"{tmp_path / 'tune_churn.py'}:evaluate", f"{tmp_path / 'tune_fraud.py'}:evaluate"]


def test_the_cli_names_the_holdout_set_and_the_metrics_to_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from tunesmith.cli import cli

    (tmp_path / "cli_holdouts.py").write_text(
        "import numpy as np\n\n"
        "def evaluate(params, seed):\n"
        "    return {'holdout_acc': (np.random.default_rng(seed).random(500) < 0.85).astype(float)}\n"
    )
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'cli.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"), storage=storage, name="c",
                     seed=1, budget=ts.Budget(trials=4))  # fmt: skip
    study.optimize(lambda trial: {"acc": (np.random.default_rng(trial.seed).random(500) < 0.85).astype(float)})
    refused = CliRunner().invoke(cli, ["finalize", "c", "--storage", storage, "--evaluate", "cli_holdouts:evaluate",
                                       "--watch", "val_ecee"])  # fmt: skip
    assert refused.exit_code == 1 and "val_ecee" in refused.output, refused.output
    named = CliRunner().invoke(cli, ["finalize", "c", "--storage", storage, "--evaluate", "cli_holdouts:evaluate",
                                     "--holdout-name", "acc-holdout-v1", "--json"])  # fmt: skip
    assert named.exit_code == 0, named.output
    assert json.loads(named.output)["status"] in ("ok", "warn", "fail")
    openings = ts.Study.load("c", storage).attrs["holdout_log"]
    assert openings[-1]["holdout_name"] == "acc-holdout-v1"
