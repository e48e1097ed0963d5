"""The GP with pending trials, on integer lattices, and at a lower cost: believer, lattice search, refit schedule."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from scipy.stats import yeojohnson

from tunesmith.samplers import GP
from tunesmith.samplers._gp_model import GPModel, Hyper, _yeo_johnson, _yeo_johnson_lambda
from tunesmith.samplers._gp_search import DiscreteAxes, local_search
from tunesmith.samplers._history import categorical_dims
from tunesmith.samplers.gp import refit_size
from tunesmith.space import Choice, Float, Int, Space
from tunesmith.testing.samplers import CONTEXT, run_history
from tunesmith.trial import TrialRecord, TrialState

TREE = Space(
    {
        "depth": Int(1, 30),
        "leaf": Int(1, 50),
        "split": Int(2, 50),
        "fraction": Float(0.1, 1.0),
        "kind": Choice(["a", "b"]),
    }
)


def tree_like(p: Mapping[str, Any]) -> float:
    return (
        0.01 * (p["depth"] - 9) ** 2
        + 0.004 * (p["leaf"] - 4) ** 2
        + 0.002 * (p["split"] - 20) ** 2
        + (p["fraction"] - 0.6) ** 2
        + (0.0 if p["kind"] == "a" else 0.3)
    )


def test_the_pending_trials_model_keeps_the_pessimistic_prior_mean() -> None:
    rng = np.random.default_rng(0)
    xc = rng.random((12, 2)) * 0.3  # all data in one corner of the cube
    y = rng.normal(size=12)
    hyper = Hyper(np.array([0.2, 0.2]), 1.0, 1e-4)
    model = GPModel(xc, np.empty((12, 0)), y, hyper, mean=2.0)
    pending = np.array([[0.2, 0.25]])
    believer, believed = model.believe(y, pending, np.empty((1, 0)))
    far = np.array([[0.95, 0.95]])
    assert abs(float(model.predict(far, np.empty((1, 0)))[0][0]) - 2.0) < 0.05
    assert abs(float(believer.predict(far, np.empty((1, 0)))[0][0]) - 2.0) < 0.05
    mu, var, _, _ = believer.predict(pending, np.empty((1, 0)))
    assert abs(float(mu[0] - believed[0])) < 1e-3 and float(var[0]) < 1e-3


def test_a_batch_of_suggestions_on_an_integer_space_is_distinct_and_spread() -> None:
    history = run_history(GP(), TREE, tree_like, 16, seed=0)
    pending: list[TrialRecord] = []
    for i in range(4):
        params = GP().suggest(TREE, history + pending, np.random.default_rng(7), CONTEXT)
        pending.append(TrialRecord(number=16 + i, params=params, seed=0, state=TrialState.RUNNING))
    configs = {tuple(sorted(p.params.items())) for p in pending}
    assert len(configs) == 4
    points = np.array([TREE.encode(p.params) for p in pending])
    gaps = [float(np.max(np.abs(points[i] - points[j]))) for i in range(4) for j in range(i)]
    assert min(gaps) >= 1.0 / 50  # at least one lattice step apart on some axis


def _batched_best(seed: int, trials: int = 32, batch: int = 4) -> float:
    """The best ``tree_like`` value a GP finds when it is asked ``batch`` suggestions before any is told."""
    gp = GP()
    history: list[TrialRecord] = []
    while len(history) < trials:
        pending: list[TrialRecord] = []
        for _ in range(batch):
            params = gp.suggest(TREE, history + pending, np.random.default_rng([seed, len(history) + len(pending)]),
                                CONTEXT)  # fmt: skip
            pending.append(TrialRecord(number=len(history) + len(pending), params=params, seed=0,
                                       state=TrialState.RUNNING))  # fmt: skip
        history += [r.evolve(state=TrialState.COMPLETE, metrics={"loss": tree_like(r.params)}) for r in pending]
    return min(r.metrics["loss"] for r in history)


@pytest.mark.slow
def test_a_batch_of_four_finds_the_optimum_of_an_integer_heavy_space() -> None:
    # The believer's values count as results for the incumbent too: a pending trial predicted to beat
    # the best left its own neighbourhood's expected improvement intact, so the rest of a batch piled up
    # beside it (3 of 4 alike on the tree benchmark). Without that, 2 of these 6 seeds got within 0.01.
    found = [_batched_best(seed) for seed in range(6)]
    assert sum(best < 0.01 for best in found) >= 4, found


def test_a_wide_integer_takes_the_better_neighbour_not_the_nearer_one() -> None:
    # The acquisition peaks 0.7 of the way from 40 to 41 but falls 10x faster to the right:
    # rounding the continuous optimum gives 41, while 40 scores higher.
    space = Space({"n": Int(0, 99)})
    peak = (40 + 0.5 + 0.7) / 100

    def acq(x: np.ndarray, grad: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        gap = x[:, 0] - peak
        slope = np.where(gap > 0, 10.0, 1.0)
        return -slope * gap**2, (-2.0 * slope * gap)[:, None] if grad else None

    found = local_search(acq, np.array([[0.2], [0.6]]), DiscreteAxes.of(space))
    assert {space.decode(row)["n"] for row in found} == {40}


def test_the_hyperparameters_are_refitted_at_fixed_history_sizes() -> None:
    assert [refit_size(n) for n in (10, 32, 33, 34, 35, 64, 67, 300, 303, 304)] == [
        10,
        32,
        32,
        34,
        34,
        64,
        64,
        288,
        288,
        304,
    ]
    space = Space({f"x{i}": Float(0.0, 1.0) for i in range(3)})
    rng = np.random.default_rng(1)
    x = rng.random((70, 3))
    loss = np.sum((x - 0.3) ** 2, axis=1)
    cat, sizes = categorical_dims(space)
    # 65 and 67 observations share the fit on the first 64 (two fresh samplers, nothing shared).
    a, b = GP().hyper(x[:65], loss[:65], cat, sizes), GP().hyper(x[:67], loss[:67], cat, sizes)
    c = GP().hyper(x[:68], loss[:68], cat, sizes)
    assert np.array_equal(a.lengthscale, b.lengthscale) and a.noise == b.noise
    assert not np.array_equal(a.lengthscale, c.lengthscale)


def test_a_sampler_with_a_warm_cache_suggests_what_a_fresh_one_does() -> None:
    space = Space({f"x{i}": Float(0.0, 1.0) for i in range(3)})
    history = run_history(GP(), space, lambda p: sum((v - 0.3) ** 2 for v in p.values()), 38, seed=2)
    warm = GP()
    for n in range(34, 38):  # fills the hyperparameter and encoding caches on growing prefixes
        warm.suggest(space, history[:n], np.random.default_rng(n), CONTEXT)
    for n in (37, 38):
        ours = warm.suggest(space, history[:n], np.random.default_rng(99), CONTEXT)
        fresh = GP().suggest(space, history[:n], np.random.default_rng(99), CONTEXT)
        assert ours == fresh


def test_the_power_transform_matches_scipys_maximum_likelihood_fit() -> None:
    rng = np.random.default_rng(3)
    draws = rng.standard_cauchy(200)
    z = np.sign(draws) * np.log1p(np.abs(draws))
    expected, lmbda = yeojohnson(z)
    ours = _yeo_johnson_lambda(z)
    assert math.isclose(ours, lmbda, abs_tol=1e-4)
    assert np.allclose(_yeo_johnson(z, ours), expected, atol=1e-4)
