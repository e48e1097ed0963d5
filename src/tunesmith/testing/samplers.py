"""The sampler conformance suite: every `Sampler` must pass each check.

Example:
    >>> from tunesmith.testing.samplers import check_sampler
    >>> check_sampler(lambda: MySampler())   # raises AssertionError on the first failure

Each check takes a zero-argument factory so that it gets a fresh sampler; the checks build
histories directly from `TrialRecord` objects (no study, no storage), so the suite runs in
about a second for a model-based sampler.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.objective import Guardrail, Metric
from tunesmith.samplers import make_sampler
from tunesmith.samplers.base import Sampler
from tunesmith.space import Choice, Fixed, Float, Int, Space
from tunesmith.trial import TrialKind, TrialRecord, TrialState

__all__ = [
    "CONTEXT",
    "SAMPLER_CHECKS",
    "check_sampler",
    "mixed_space",
    "mixed_value",
    "run_history",
]

MakeSampler = Callable[[], Sampler]
Objective = Callable[[Mapping[str, Any]], float]
CONTEXT = SearchContext(metric=Metric("loss", "min"))


def mixed_space() -> Space:
    """Every kind of parameter: log float, powers of two, stepped int, choice, a conditional float, a constant."""
    return Space(
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "batch": Int(16, 256, base=2),
            "layers": Int(1, 6),
            "optimizer": Choice(["adam", "sgd", "rmsprop"]),
            "momentum": Float(0.5, 0.99, when={"optimizer": "sgd"}),
            "seed_offset": Fixed(3),
        }
    )


def mixed_value(params: Mapping[str, Any]) -> float:
    """A smooth objective over `mixed_space` with its optimum at lr=1e-2, batch=64, layers=3, adam."""
    loss = (math.log10(params["lr"]) + 2.0) ** 2
    loss += 0.3 * (math.log2(params["batch"]) - 6.0) ** 2
    loss += 0.2 * (params["layers"] - 3) ** 2
    loss += {"adam": 0.0, "sgd": 0.5, "rmsprop": 1.0}[params["optimizer"]]
    if params["optimizer"] == "sgd":
        loss -= 0.4 * params["momentum"]
    return float(loss)


def run_history(
    sampler: Sampler,
    space: Space,
    objective: Objective,
    trials: int,
    seed: int = 0,
    context: SearchContext = CONTEXT,
    history: list[TrialRecord] | None = None,
) -> list[TrialRecord]:
    """Run ``trials`` sequential suggest-evaluate steps as a study would, without storage.

    The rng of trial ``n`` is ``default_rng([seed, n])``, as in `Study`. Every suggestion is
    checked with ``space.validate``.
    """
    records = list(history or [])
    for _ in range(trials):
        number = len(records)
        params = sampler.suggest(space, list(records), np.random.default_rng([seed, number]), context)
        params = space.validate(params)
        value = objective(params)
        records.append(
            TrialRecord(
                number=number,
                params=params,
                seed=number,
                state=TrialState.COMPLETE,
                metrics={context.metric.name: value},
            )
        )
    return records


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True)


def check_valid_configurations(make: MakeSampler) -> None:
    """Every suggestion is a valid configuration of a mixed, conditional space."""
    space = mixed_space()
    records = run_history(make(), space, mixed_value, 24, seed=1)
    for record in records:
        assert space.validate(record.params) == record.params, f"invalid suggestion {record.params}"


def check_reproducible(make: MakeSampler) -> None:
    """The same seed gives the same sequence of suggestions (the study's single-worker guarantee)."""
    space = mixed_space()
    first = [_key(r.params) for r in run_history(make(), space, mixed_value, 16, seed=7)]
    again = [_key(r.params) for r in run_history(make(), space, mixed_value, 16, seed=7)]
    assert first == again, "the same seed gave different suggestions"


def check_does_not_mutate_history(make: MakeSampler) -> None:
    """``suggest`` treats the history as read-only."""
    space = mixed_space()
    history = run_history(make(), space, mixed_value, 14, seed=2)
    before = [json.dumps(r.to_json(), sort_keys=True) for r in history]
    snapshot = list(history)
    make().suggest(space, history, np.random.default_rng(0), CONTEXT)
    assert history == snapshot, "suggest changed the history list"
    assert [json.dumps(r.to_json(), sort_keys=True) for r in history] == before, "suggest changed a record"


def _mixed_states(space: Space) -> list[TrialRecord]:
    """A history holding every trial state, interrupted trials and infeasible ones."""
    records = run_history(make_sampler("random"), space, mixed_value, 16, seed=3)
    states = [
        (TrialState.FAILED, "exception", TrialKind.EXCEPTION, {}),
        (TrialState.FAILED, "interrupted", TrialKind.INTERRUPTED, {}),
        (TrialState.INFEASIBLE, "guardrail breached", TrialKind.GUARDRAIL, None),
        (TrialState.STOPPED, "diverged", TrialKind.DIVERGED, {"loss": math.inf}),
        (TrialState.STOPPED, "stopped by asha at step 3", TrialKind.SCHEDULER, None),
        (TrialState.PAUSED, None, None, None),
        (TrialState.RUNNING, None, None, {}),
    ]
    for i, (state, reason, kind, metrics) in enumerate(states):
        record = records[2 * i + 1]
        records[2 * i + 1] = record.evolve(
            state=state, reason=reason, kind=kind, metrics=record.metrics if metrics is None else metrics
        )
    return records


def check_learns_from_every_state(make: MakeSampler) -> None:
    """FAILED, INFEASIBLE, STOPPED, PAUSED and RUNNING trials never break a suggestion."""
    space = mixed_space()
    history = _mixed_states(space)
    context = SearchContext(metric=Metric("loss", "min"), guardrails=(Guardrail("latency", "<=", 1.0),))
    for seed in range(3):
        params = make().suggest(space, history, np.random.default_rng(seed), context)
        space.validate(params)


def check_maximisation(make: MakeSampler) -> None:
    """A metric to maximise is handled (``sign() * value`` is the loss)."""
    space = mixed_space()
    context = SearchContext(metric=Metric("score", "max"))
    records = run_history(make(), space, lambda p: -mixed_value(p), 14, seed=4, context=context)
    for record in records:
        space.validate(record.params)


def check_avoids_running_configurations(make: MakeSampler) -> None:
    """A suggestion differs from every RUNNING trial's configuration (parallel workers spread out)."""
    space = Space({"x": Float(0.0, 1.0), "y": Float(0.0, 1.0)})
    history = run_history(make(), space, lambda p: (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2, 14, seed=5)
    for _ in range(3):
        number = len(history)
        params = make().suggest(space, history, np.random.default_rng([5, number]), CONTEXT)
        running = {_key(r.params) for r in history if r.state is TrialState.RUNNING}
        assert _key(params) not in running, f"suggested {params}, which is already running"
        history.append(TrialRecord(number=number, params=params, seed=number, state=TrialState.RUNNING))


def check_small_spaces(make: MakeSampler) -> None:
    """One float, or one choice, still gives valid suggestions."""
    for space in (Space({"x": Float(-1.0, 1.0)}), Space({"c": Choice(["a", "b", "c"])})):
        records = run_history(make(), space, lambda p: 0.0 if p.get("c", "a") == "a" else 1.0, 3, seed=6)
        assert all(space.validate(r.params) == r.params for r in records)


def check_describe_round_trips(make: MakeSampler) -> None:
    """``describe()`` is JSON and rebuilds an equivalent sampler through `make_sampler`."""
    sampler = make()
    description = sampler.describe()
    assert json.loads(json.dumps(description)) == description, "describe() is not JSON-serialisable"
    rebuilt = make_sampler(description)
    assert type(rebuilt) is type(sampler), f"make_sampler({description}) built {type(rebuilt).__name__}"
    assert rebuilt.describe() == description, "the rebuilt sampler describes itself differently"


SAMPLER_CHECKS: list[Callable[[MakeSampler], None]] = [
    check_valid_configurations,
    check_reproducible,
    check_does_not_mutate_history,
    check_learns_from_every_state,
    check_maximisation,
    check_avoids_running_configurations,
    check_small_spaces,
    check_describe_round_trips,
]


def check_sampler(make: MakeSampler) -> None:
    """Run every check; raises `AssertionError` on the first failure."""
    for check in SAMPLER_CHECKS:
        check(make)
