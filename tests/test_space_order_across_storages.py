"""A space samples its parameters in their order, so a seeded search is the same in every storage: SQL storage
keeps the order of the stored space's parameters (it once stored them sorted by name, and drew another search
than memory storage for a space not written in alphabetical order), and a study stored that way goes on
drawing in its stored order."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tests.pg import PostgresServer
from tunesmith.storage import MemoryStorage, Storage

GAMMA = ts.Float(1e-4, 1.0, log=True)
C = ts.Float(1e-2, 1e3, log=True)


def given_order() -> ts.Space:
    return ts.Space({"gamma": GAMMA, "C": C})  # not alphabetical: sorting would put C first


def alphabetical_order() -> ts.Space:
    return ts.Space({"C": C, "gamma": GAMMA})


def loss(trial: ts.Trial) -> float:
    return float(trial.params["gamma"] * trial.params["C"])


def search(storage: str | Storage, space: ts.Space, trials: int = 4) -> ts.Study:
    """A random search with seed 0 and a budget of ``trials`` trials (resumed when ``storage`` holds it)."""
    return ts.Study(space, metric="loss", sampler="random", seed=0, storage=storage, name="s",
                    budget=ts.Budget(trials=trials))  # fmt: skip


def drawn(storage: str | Storage, space: ts.Space, trials: int = 4) -> list[dict[str, Any]]:
    """The configurations the search of ``trials`` trials draws, run at once."""
    study = search(storage, space, trials)
    study.optimize(loss, progress=False)
    return [record.params for record in study.trials]


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.create_database("order")
    return f"sqlite:///{tmp_path}/order.db"


def test_a_seeded_search_draws_the_same_configurations_in_sql_storage_as_in_memory(sql_url: str) -> None:
    assert drawn(sql_url, given_order()) == drawn(MemoryStorage(), given_order())


def test_a_study_resumed_after_a_budget_extension_draws_what_one_uninterrupted_run_draws(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/resumed.db"
    drawn(url, given_order(), 2)
    ts.Study.load("s", url).extend_budget(trials=4)  # rewrites the stored spec

    resumed = ts.Study.load("s", url)
    resumed.optimize(loss, progress=False)

    assert [r.params for r in resumed.trials] == drawn(MemoryStorage(), given_order())


def test_a_study_stored_with_its_space_sorted_by_name_goes_on_drawing_in_that_order(tmp_path: Path) -> None:
    # Guards what the fix must keep: a study an older tunesmith stored (its spec's keys sorted) opens with its
    # space given in another order and draws as it did, in the stored order.
    url = f"sqlite:///{tmp_path}/older.db"
    search(url, given_order()).optimize(loss, n_trials=2, progress=False)
    with closing(sqlite3.connect(tmp_path / "older.db")) as conn, conn:
        (text,) = conn.execute("SELECT spec FROM studies").fetchone()
        conn.execute("UPDATE studies SET spec = ?", (json.dumps(json.loads(text), sort_keys=True),))

    resumed = drawn(url, given_order())

    assert resumed[2:] == drawn(MemoryStorage(), alphabetical_order())[2:]
