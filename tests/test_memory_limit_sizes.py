"""`memory_limit` is a memory size: whole bytes or a number with its unit, checked before any trial runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith._validate import memory_size
from tunesmith.config import load_config
from tunesmith.errors import ConfigError


def _study() -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0, 1)}), metric="loss", storage="memory", budget=ts.Budget(trials=5))


def _objective(trial: ts.Trial) -> dict[str, float]:
    return {"loss": float(trial.params["x"])}


@pytest.mark.parametrize(
    ("given", "bytes_"),
    [("500MB", 500 * 10**6), ("2GiB", 2 * 2**30), ("4G", 4 * 2**30), ("1.5 gb", 1_500_000_000), (2**30, 2**30),
     (4e9, 4_000_000_000)],
)  # fmt: skip
def test_a_size_with_its_unit_reads_as_bytes(given: object, bytes_: int) -> None:
    assert memory_size("memory_limit", given) == bytes_


@pytest.mark.parametrize("given", ["500 parsecs", "lots", True, 0.5, [1]])
def test_what_is_no_memory_size_is_refused_naming_the_rule_the_value_and_the_fix(given: object) -> None:
    with pytest.raises(ConfigError, match=r"memory_limit must be a memory size.*got memory_limit=.*'4GB'"):
        memory_size("memory_limit", given)


@pytest.mark.parametrize("given", [500, -1, 0])
def test_a_size_under_a_mebibyte_is_refused_as_a_size_meant_in_another_unit(given: int) -> None:
    with pytest.raises(ConfigError, match=r"memory_limit is in bytes and must be at least 1048576"):
        memory_size("memory_limit", given)


def test_optimize_refuses_a_bad_memory_limit_before_any_trial_runs() -> None:
    """`memory_limit="500 parsecs"` failed every trial with a TypeError blamed on the objective or the
    configurations; 100 (bytes, meant as megabytes) was accepted."""
    study = _study()
    for given in ("500 parsecs", 100):
        with pytest.raises(ConfigError, match="memory_limit"):
            study.optimize(_objective, memory_limit=given, n_trials=1, progress=False)
    assert study.trials == []


def test_optimize_runs_under_a_memory_limit_given_as_a_size() -> None:
    study = _study()
    result = study.optimize(_objective, memory_limit="2GB", n_trials=2, progress=False)
    assert result.states == {"complete": 2}


def test_a_config_reads_its_memory_limit_as_a_size(tmp_path: Path) -> None:
    config = tmp_path / "study.toml"
    config.write_text(
        'name = "m"\nmetric = "loss"\nobjective = "objective:f"\nmemory_limit = "512MiB"\n'
        "[space]\nx = {type = \"float\", low = 0, high = 1}\n"
    )
    assert load_config(config).memory_limit == 512 * 2**20
