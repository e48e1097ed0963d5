"""No sampler proposes a configuration its space forbids (`ts.Forbidden`).

Random and Sobol draw again where a draw is forbidden, TPE and the GP leave forbidden candidates out of their
acquisition search, the grid skips forbidden points, and `Auto` hands the space to one of them. The objective
below is best inside the forbidden region, so a model that ignored the clauses would be drawn into it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.errors import SearchSpaceExhausted
from tunesmith.samplers import CMAES, GP, NSGA2, TPE, Auto, Grid, Random, Sampler, Sobol
from tunesmith.testing.samplers import CONTEXT
from tunesmith.trial import TrialRecord, TrialState

MIXED = ts.Space(
    {
        "kernel": ts.Choice(["linear", "rbf", "poly"]),
        "degree": ts.Int(1, 5),
        "x": ts.Float(0.0, 1.0),
        "y": ts.Float(0.0, 1.0),
    },
    forbidden=[ts.Forbidden({"kernel": "linear", "degree": ts.Above(1)}), ts.Forbidden("x + y > 1")],
)  # about 36% of the space is allowed
KERNELS = ts.Space(
    {"kernel": ts.Choice(["linear", "rbf", "poly"]), "degree": ts.Int(1, 5)},
    forbidden=[ts.Forbidden({"kernel": "linear", "degree": ts.Above(1)})],
)  # 11 of 15 configurations allowed


def _loss(params: Mapping[str, Any]) -> float:
    """Best at x = y = 0.9, degree 5, the linear kernel: every part of that pulls into a forbidden region."""
    loss = (params["x"] - 0.9) ** 2 + (params["y"] - 0.9) ** 2 if "x" in params else 0.0
    return float(loss + 0.1 * (params["degree"] - 5) ** 2 + (params["kernel"] != "linear"))


def _run(sampler: Sampler, space: ts.Space, trials: int, seed: int = 0) -> list[dict[str, Any]]:
    """``trials`` suggestions, each evaluated before the next, as a study makes them (no validation on the way)."""
    records: list[TrialRecord] = []
    for number in range(trials):
        params = sampler.suggest(space, list(records), np.random.default_rng([seed, number]), CONTEXT)
        records.append(TrialRecord(number=number, params=params, seed=number, state=TrialState.COMPLETE,
                                   metrics={"loss": _loss(params)}))  # fmt: skip
    return [record.params for record in records]


SAMPLERS: dict[str, Callable[[], Sampler]] = {
    "random": Random,
    "sobol": Sobol,
    "tpe": TPE,
    "tpe-univariate": lambda: TPE(multivariate=False),
    "gp": lambda: GP(n_startup=5, n_candidates=128, n_restarts=2),
    "cmaes": lambda: CMAES(n_startup=5),
    "nsga2": lambda: NSGA2(population_size=6),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_thirty_trials_of_a_sampler_never_propose_a_forbidden_configuration(name: str) -> None:
    proposed = _run(SAMPLERS[name](), MIXED, 30)

    assert [params for params in proposed if MIXED.forbids(params) is not None] == []


@pytest.mark.slow
def test_thirty_trials_of_the_auto_sampler_never_propose_a_forbidden_configuration() -> None:
    proposed = _run(Auto(), MIXED, 30)

    assert [params for params in proposed if MIXED.forbids(params) is not None] == []


def test_the_auto_sampler_on_a_tiny_space_runs_the_grid_of_allowed_configurations() -> None:
    proposed = _run(Auto(), KERNELS, 11)

    assert len({json.dumps(p, sort_keys=True) for p in proposed}) == 11
    assert all(KERNELS.forbids(params) is None for params in proposed)


def test_the_grid_visits_each_allowed_configuration_once_then_ends() -> None:
    proposed = _run(Grid(), KERNELS, 11)

    with pytest.raises(SearchSpaceExhausted, match="all 11 grid points have been evaluated"):
        _run(Grid(), KERNELS, 12)
    assert sorted(json.dumps(p, sort_keys=True) for p in proposed) == sorted(
        json.dumps(p, sort_keys=True) for p in KERNELS.grid()
    )



def test_the_grid_tests_the_clauses_once_per_space_not_at_every_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ask listed the grid again, testing every combination against the clauses: 0.23 s a suggestion on a
    5,488-point grid. A changed space (another clause) is listed afresh."""
    listed: list[int] = []
    grid = ts.Space.grid
    monkeypatch.setattr(ts.Space, "grid", lambda space, points=5: listed.append(points) or grid(space, points))
    sampler = Grid()

    proposed = _run(sampler, KERNELS, 11)
    assert len(listed) == 2  # grid_size lists it to count the allowed points, then the sampler keeps it
    narrower = ts.Space(dict(KERNELS.items()), forbidden=[*KERNELS.forbidden, ts.Forbidden({"kernel": "poly"})])
    again = sampler.suggest(narrower, [], np.random.default_rng(0), CONTEXT)

    assert len(listed) == 4 and narrower.forbids(again) is None
    assert len({json.dumps(p, sort_keys=True) for p in proposed}) == 11

def test_sobol_replaces_a_forbidden_point_without_running_a_configuration_twice() -> None:
    proposed = _run(Sobol(), MIXED, 30)

    assert len({json.dumps(p, sort_keys=True) for p in proposed}) == 30


@pytest.mark.parametrize("name", ["tpe", "gp"])
def test_a_model_exhausts_the_allowed_configurations_of_a_finite_space_and_says_so(name: str) -> None:
    sampler = SAMPLERS[name]()

    proposed = _run(sampler, KERNELS, 11)

    assert len({json.dumps(p, sort_keys=True) for p in proposed}) == 11
    with pytest.raises(SearchSpaceExhausted, match="the combinations its forbidden clauses rule out left out"):
        _run(sampler, KERNELS, 12)


def test_a_finite_space_every_configuration_of_which_is_forbidden_is_refused_before_any_sampler_runs() -> None:
    with pytest.raises(ts.SpaceError, match="so no configuration of the space is allowed"):
        ts.Space({"kernel": ts.Choice(["linear", "rbf"]), "degree": ts.Int(1, 3)},
                 forbidden=[ts.Forbidden({"kernel": "linear"}), ts.Forbidden({"kernel": "rbf"})])  # fmt: skip


def test_random_search_on_a_stored_space_almost_all_forbidden_stops_with_the_share_left() -> None:
    """A stored space is read unchecked (an older version stored it so): its draws tell, once."""
    space = ts.Space.from_json({"x": {"type": "float", "low": 0.0, "high": 1.0},
                                "y": {"type": "float", "low": 0.0, "high": 1.0},
                                "forbidden": ["x + y > 1e-6"]}, stored=True)  # fmt: skip

    with pytest.raises(ts.SpaceError, match=r"so the allowed share is below 0\.03% \(95% upper bound\)"):
        _run(Random(), space, 1)
