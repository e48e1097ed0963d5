"""Sobol, TPE and GP: bounds, reproducibility, and finding the optimum of easy functions with a margin over random."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric
from tunesmith.samplers import GP, TPE, Random, Sampler, SearchContext, Sobol, make_sampler
from tunesmith.samplers._gp_model import GPModel, Hyper, fit_hyper, transform_outputs
from tunesmith.samplers._history import categorical_dims, observe
from tunesmith.samplers.gp import _Acquisition, _log_h
from tunesmith.space import Choice, Float, Int, Space
from tunesmith.testing.samplers import CONTEXT, run_history
from tunesmith.trial import TrialRecord, TrialState

BRANIN_MIN = 0.397887


def branin(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


BRANIN = Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)})
QUADRATIC = Space({f"x{i}": Float(0.0, 1.0) for i in range(4)})
MIXED = Space(
    {
        "x": Float(-2.0, 2.0),
        "n": Int(1, 20),
        "kind": Choice(["a", "b", "c", "d"]),
    }
)


def quadratic(p: Mapping[str, Any]) -> float:
    return sum((p[f"x{i}"] - 0.2 - 0.15 * i) ** 2 for i in range(4))


def mixed(p: Mapping[str, Any]) -> float:
    return (p["x"] - 0.5) ** 2 + 0.05 * (p["n"] - 13) ** 2 + {"a": 1.0, "b": 0.0, "c": 0.7, "d": 1.5}[p["kind"]]


def best_of(records: list[TrialRecord]) -> float:
    return min(r.metrics["loss"] for r in records)


def mean_best(make: Callable[[], Sampler], space: Space, f: Callable[..., float], trials: int, seeds: int) -> float:
    return float(np.mean([best_of(run_history(make(), space, f, trials, seed=s)) for s in range(seeds)]))


# Sobol ------------------------------------------------------------------------------------------
def test_sobol_points_are_inside_the_bounds_and_valid() -> None:
    space = Space({"lr": Float(1e-5, 1e-1, log=True), "b": Int(32, 4096, base=2), "c": Choice(["x", "y"])})
    for record in run_history(Sobol(), space, lambda p: 0.0, 40):
        assert 1e-5 <= record.params["lr"] <= 1e-1
        assert record.params["b"] in [2**k for k in range(5, 13)]


def test_sobol_spreads_points_more_evenly_than_random() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})

    def discrepancy(sampler: Sampler, seed: int) -> float:
        from scipy.stats import qmc

        pts = np.array([[r.params["x"], r.params["y"]] for r in run_history(sampler, space, lambda p: 0.0, 64, seed)])
        return float(qmc.discrepancy(pts))

    sobol = np.mean([discrepancy(Sobol(), s) for s in range(3)])
    random = np.mean([discrepancy(Random(), s) for s in range(3)])
    assert sobol < random / 3


def test_sobol_covers_every_category_before_repeating() -> None:
    space = Space({"c": Choice(["a", "b", "c", "d"]), "x": Float(0.0, 1.0)})
    first = [r.params["c"] for r in run_history(Sobol(), space, lambda p: 0.0, 4, seed=3)]
    assert sorted(first) == ["a", "b", "c", "d"]


def test_sobol_parallel_workers_take_distinct_points() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    history: list[TrialRecord] = []
    for n in range(8):
        params = Sobol().suggest(space, history, np.random.default_rng([0, n]), CONTEXT)
        history.append(TrialRecord(number=n, params=params, seed=n, state=TrialState.RUNNING))
    xs = sorted(r.params["x"] for r in history)
    assert min(np.diff(xs)) > 0.05  # eight running points, one per eighth of the axis


def test_sobol_exhausts_a_small_discrete_space_without_repeats() -> None:
    space = Space({"a": Choice([1, 2, 3]), "b": Choice(["x", "y"])})
    keys = [tuple(r.params.values()) for r in run_history(Sobol(), space, lambda p: 0.0, 6, seed=1)]
    assert len(set(keys)) == 6


def test_sobol_rejects_a_negative_seed() -> None:
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        Sobol(seed=-1)


# TPE --------------------------------------------------------------------------------------------
def test_tpe_beats_random_on_a_quadratic() -> None:
    tpe = mean_best(lambda: TPE(n_startup=10), QUADRATIC, quadratic, 60, seeds=4)
    rnd = mean_best(Random, QUADRATIC, quadratic, 60, seeds=4)
    assert tpe < rnd / 2, (tpe, rnd)


def test_tpe_finds_the_best_category_and_integer() -> None:
    records = run_history(TPE(), MIXED, mixed, 60, seed=2)
    tail = records[-20:]
    assert sum(r.params["kind"] == "b" for r in tail) >= 10
    assert best_of(records) < 0.3


def test_tpe_avoids_a_region_that_fails() -> None:
    space = Space({"x": Float(0.0, 1.0)})
    records: list[TrialRecord] = []
    for n in range(40):
        params = TPE(n_startup=8).suggest(space, records, np.random.default_rng([1, n]), CONTEXT)
        failed = params["x"] > 0.6  # diverges: no metric
        records.append(
            TrialRecord(
                number=n,
                params=params,
                seed=n,
                state=TrialState.FAILED if failed else TrialState.COMPLETE,
                metrics={} if failed else {"loss": -params["x"]},  # best just below the cliff
                reason="exception" if failed else None,
            )
        )
    late = [r.params["x"] for r in records[20:]]
    assert sum(x > 0.6 for x in late) <= 8, late  # failures rank last: the region is sampled less, not ignored


def test_tpe_constant_liar_spreads_parallel_suggestions() -> None:
    history = run_history(TPE(n_startup=10), QUADRATIC, quadratic, 20, seed=0)
    pending: list[TrialRecord] = []
    for i in range(4):
        params = TPE().suggest(QUADRATIC, history + pending, np.random.default_rng(99), CONTEXT)
        pending.append(TrialRecord(number=20 + i, params=params, seed=0, state=TrialState.RUNNING))
    assert len({tuple(p.params.values()) for p in pending}) == 4


@pytest.mark.parametrize("options", [{"gamma": 1.5}, {"n_candidates": 0}, {"prior_weight": -1}])
def test_tpe_rejects_invalid_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="must be"):
        TPE(**options)


# GP ---------------------------------------------------------------------------------------------
def test_gp_finds_the_branin_optimum_in_25_trials() -> None:
    gp = mean_best(GP, BRANIN, branin, 25, seeds=2) - BRANIN_MIN
    rnd = mean_best(Random, BRANIN, branin, 25, seeds=2) - BRANIN_MIN
    assert gp < 0.05, gp
    assert gp < rnd / 5, (gp, rnd)


def test_gp_ucb_beats_random() -> None:
    ucb = mean_best(lambda: GP(acquisition="ucb"), QUADRATIC, quadratic, 25, seeds=2)
    rnd = mean_best(Random, QUADRATIC, quadratic, 25, seeds=2)
    assert ucb < rnd / 3, (ucb, rnd)


def test_gp_handles_integers_and_categories() -> None:
    best = mean_best(GP, MIXED, mixed, 30, seeds=2)
    rnd = mean_best(Random, MIXED, mixed, 30, seeds=2)
    assert best < 0.1 and best < rnd / 3, (best, rnd)


def test_gp_learns_to_avoid_an_infeasible_region() -> None:
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    context = SearchContext(metric=Metric("loss", "min"), guardrails=(Guardrail("latency", "<=", 1.0),))
    records: list[TrialRecord] = []
    for n in range(24):
        params = GP().suggest(space, records, np.random.default_rng([4, n]), context)
        breach = params["x"] + params["y"] < 0.8  # the unconstrained optimum (0, 0) is infeasible
        loss = params["x"] ** 2 + params["y"] ** 2
        records.append(
            TrialRecord(
                number=n,
                params=params,
                seed=n,
                state=TrialState.INFEASIBLE if breach else TrialState.COMPLETE,
                metrics={"loss": loss, "latency": 2.0 if breach else 0.5},
            )
        )
    # The constrained optimum lies on the boundary, so breaches just across it are expected;
    # the sampler must stop returning deep into the infeasible corner, where the loss looks best.
    deep = [r for r in records[12:] if r.params["x"] + r.params["y"] < 0.6]
    assert len(deep) <= 2, [r.params for r in deep]
    feasible = [r.metrics["loss"] for r in records if r.state is TrialState.COMPLETE]
    assert min(feasible) < 0.32 + 0.03  # the constrained optimum is 0.32 at (0.4, 0.4)


def test_gp_kriging_believer_spreads_parallel_suggestions() -> None:
    history = run_history(GP(), BRANIN, branin, 12, seed=0)
    pending: list[TrialRecord] = []
    for i in range(3):
        params = GP().suggest(BRANIN, history + pending, np.random.default_rng(5), CONTEXT)
        pending.append(TrialRecord(number=12 + i, params=params, seed=0, state=TrialState.RUNNING))
    pts = np.array([BRANIN.encode(p.params) for p in pending])
    dists = [np.linalg.norm(pts[i] - pts[j]) for i in range(3) for j in range(i)]
    assert min(dists) > 1e-3


def test_gp_acquisition_tells_the_options_of_a_choice_apart() -> None:
    space = Space({"x": Float(0.0, 1.0), "kind": Choice(["good", "bad"])})
    rng = np.random.default_rng(0)
    records = [
        TrialRecord(number=n, params=(p := {"x": float(rng.random()), "kind": ["good", "bad"][n % 2]}), seed=n,
                    state=TrialState.COMPLETE, metrics={"loss": p["x"] + (0.0 if p["kind"] == "good" else 3.0)})
        for n in range(12)
    ]  # fmt: skip
    gp = GP()
    obs = observe(space, records, CONTEXT)
    cat, sizes = categorical_dims(space)
    y = transform_outputs(obs.loss)
    codes = GP._codes(obs.x, cat, sizes)
    model = GPModel(obs.x[:, ~cat], codes, y, fit_hyper(obs.x[:, ~cat], codes, y))
    acq = _Acquisition(model, float(y.min()), gp.acquisition, gp.beta, None, ~cat, sizes)
    good, bad = space.encode({"x": 0.3, "kind": "good"}), space.encode({"x": 0.3, "kind": "bad"})
    values, _ = acq(np.vstack([good, bad]))
    assert values[0] > values[1] + 1.0, values


def test_gp_never_proposes_a_point_it_already_tried() -> None:
    records = run_history(GP(), BRANIN, branin, 25, seed=1)
    points = {tuple(r.params.values()) for r in records}
    assert len(points) == len(records)


def test_log_h_matches_the_direct_formula_and_stays_finite() -> None:
    from scipy.stats import norm

    z = np.array([-30.0, -8.0, -2.0, -0.5, 0.0, 1.0, 4.0])
    direct = z * norm.cdf(z) + norm.pdf(z)
    values, ratio = _log_h(z)
    mask = direct > 1e-300
    assert np.allclose(values[mask], np.log(direct[mask]), rtol=1e-6)
    assert np.allclose(ratio[mask], norm.cdf(z[mask]) / direct[mask], rtol=1e-5)
    assert np.all(np.isfinite(_log_h(np.array([-1e4, -1e8]))[0]))


@pytest.mark.parametrize("kind", ["logei", "ucb"])
def test_acquisition_gradient_matches_finite_differences(kind: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((15, 3))
    y = transform_outputs(np.sin(5 * x[:, 0]) + x[:, 1] ** 2)
    codes = np.zeros((15, 0))
    hyper = Hyper(np.array([0.3, 0.5, 0.8]), 1.2, 1e-4)
    model = GPModel(x, codes, y, hyper)
    feasibility = GPModel(x, codes, np.where(x[:, 2] > 0.5, 1.0, -1.0), Hyper(hyper.lengthscale, 1.0, 0.1))
    acq = _Acquisition(model, float(y.min()), kind, 4.0, feasibility, np.ones(3, dtype=bool))
    pts = rng.random((4, 3))
    _, grad = acq(pts, grad=True)
    assert grad is not None
    eps = 1e-6
    for j in range(3):
        step = np.zeros(3)
        step[j] = eps
        numeric = (acq(pts + step)[0] - acq(pts - step)[0]) / (2 * eps)
        assert np.allclose(grad[:, j], numeric, rtol=1e-3, atol=1e-5)


def test_output_transform_tames_a_heavy_tail() -> None:
    y = np.array([0.1, 0.12, 0.11, 0.13, 0.09, 1e6])
    z = transform_outputs(y)
    assert np.isclose(np.mean(z), 0.0) and np.isclose(np.std(z), 1.0)
    assert np.ptp(z[:5]) > 0.05  # the small values stay distinguishable


@pytest.mark.parametrize("options", [{"acquisition": "pi"}, {"beta": 0}, {"n_restarts": 0}])
def test_gp_rejects_invalid_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="must be"):
        GP(**options)


# Through a study ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sobol", "tpe", "gp"])
def test_study_with_the_same_seed_repeats_its_suggestions(name: str) -> None:
    def run() -> list[dict[str, Any]]:
        study = ts.Study(BRANIN, metric="loss", sampler=name, budget=ts.Budget(trials=14), storage="memory", seed=11)
        study.optimize(lambda t: branin(t.params))
        return [r.params for r in study.trials]

    assert run() == run()


def test_make_sampler_builds_the_new_samplers_by_name() -> None:
    assert isinstance(make_sampler("sobol"), Sobol)
    assert isinstance(make_sampler({"name": "tpe", "gamma": 0.2}), TPE)
    assert isinstance(make_sampler({"name": "gp", "acquisition": "ucb"}), GP)


def test_the_encoding_memo_serves_the_copies_a_multifidelity_view_makes_of_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `rung_view` hands samplers a copy of each record on every ask (its value at the rung): keyed by the record, the
    # memo missed them all and the whole history was encoded again each time.
    from tunesmith.samplers._history import EncodingCache

    space = Space({"x": Float(0.0, 1.0), "c": Choice(["a", "b"])})
    calls: list[dict[str, Any]] = []
    real = Space.encode

    def counting(self: Space, params: Mapping[str, Any], **options: Any) -> np.ndarray:
        calls.append(dict(params))
        return real(self, params, **options)

    monkeypatch.setattr(Space, "encode", counting)
    cache = EncodingCache()
    stopped = TrialRecord(0, {"x": 0.25, "c": "b"}, 0, TrialState.STOPPED, metrics={"loss": 1.0})
    first = cache.encode(space, stopped)
    seen = stopped.evolve(state=TrialState.COMPLETE, metrics={"loss": 0.5})  # as the rung view sees it
    assert cache.encode(space, seen) is first
    assert len(calls) == 1, calls
    other = TrialRecord(1, {"x": 0.75, "c": "a"}, 0, TrialState.COMPLETE, metrics={"loss": 1.0})
    assert not np.array_equal(cache.encode(space, other), first) and len(calls) == 2
