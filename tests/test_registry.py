"""One way to build plug-ins: the `Registry` behind make_sampler, make_scheduler, make_executor and open_storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith._registry import Registry
from tunesmith.errors import ConfigError, StorageError
from tunesmith.executors import ProcessExecutor, SimulatedExecutor, make_executor
from tunesmith.samplers import SAMPLERS, TPE, Auto, Grid, Random, Sampler, make_sampler
from tunesmith.storage import MemoryStorage, SQLStorage, open_storage


def test_a_plugin_is_built_from_a_name_a_table_an_instance_or_none() -> None:
    assert isinstance(make_sampler("random"), Random)
    assert make_sampler({"name": "tpe", "gamma": 0.2}).describe() == TPE(gamma=0.2).describe()
    grid = Grid()
    assert make_sampler(grid) is grid
    assert isinstance(make_sampler(None), Auto)


def test_names_are_case_insensitive() -> None:
    assert isinstance(make_sampler("TPE"), TPE)
    assert "Grid" in SAMPLERS


def test_an_unknown_name_lists_the_known_ones_and_suggests_a_close_one() -> None:
    known = r"sampler must be 'auto', 'cmaes', 'gp', 'grid', 'nsga2', 'random', 'sobol' or 'tpe'"
    with pytest.raises(ConfigError, match=rf"unknown sampler 'tpee': {known}: did you mean 'tpe'\?"):
        make_sampler("tpee")


def test_options_the_factory_refuses_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid options for sampler 'random'"):
        make_sampler({"name": "random", "bogus": 1})


def test_a_spec_of_no_accepted_form_is_refused_with_the_forms() -> None:
    with pytest.raises(ConfigError, match="sampler must be a name or a table with 'name', got 3"):
        make_sampler(3)  # type: ignore[arg-type]


def test_a_table_that_names_its_kind_with_type_is_told_to_write_name() -> None:
    """A space's parameters say ``type = "float"``, so a config's scheduler table written the same way read as no
    accepted form, listing the schedulers without saying which key was wrong."""
    from tunesmith.schedulers import make_scheduler

    with pytest.raises(ConfigError, match=r"scheduler names its kind with 'name', not 'type' \(the key a space's "
                                          r"parameter takes\), got .*: write name = 'asha', beside eta = 3$"):
        make_scheduler({"type": "asha", "eta": 3})
    with pytest.raises(ConfigError, match=r"write name = 'tpe'$"):
        make_sampler({"type": "tpe"})


def test_a_registered_plugin_is_built_by_name() -> None:
    registry: Registry[Sampler] = Registry("sampler", Sampler, {"random": Random})
    registry["mine"] = Grid
    assert isinstance(registry.build("mine"), Grid) and registry.names() == ["mine", "random"]


def test_a_registry_without_a_default_refuses_none() -> None:
    with pytest.raises(ConfigError, match="sampler must be a name, got None"):
        Registry("sampler", Sampler, {"random": Random}).build(None)


def test_executors_are_built_by_name_or_table() -> None:
    assert isinstance(make_executor("simulated", 3), SimulatedExecutor)
    executor = make_executor({"name": "processes", "threads_per_trial": None}, 2)
    assert isinstance(executor, ProcessExecutor) and executor.capacity == 2 and executor.threads_per_trial is None


def test_storage_is_opened_by_the_urls_scheme(tmp_path: Path) -> None:
    assert isinstance(open_storage("memory"), MemoryStorage)
    storage = open_storage(f"sqlite+pysqlite:///{tmp_path}/a.db")
    assert isinstance(storage, SQLStorage)
    storage.close()


def test_an_unknown_storage_scheme_suggests_the_close_one() -> None:
    with pytest.raises(StorageError, match=r"unknown storage 'postgres': .*did you mean 'postgresql'"):
        open_storage("postgres://user@localhost/db")
