"""Every invalid constructor input is a `TunesmithError` that states the rule, the value received and
the fix, never another exception: misspelt keywords get a did-you-mean, and numbers the samplers
cannot hold are refused when the parameter is defined. Hypothesis fuzzes the arguments."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunesmith as ts
from tunesmith.errors import ArgumentError, SpaceArgumentError
from tunesmith.space import Param

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Numbers at and around every edge the checks guard: int64, float64, zero, NaN and the infinities.
EDGES = [0, 1, -1, 2, 2**53 + 1, 2**62, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**400, 0.5, -0.0,
         1e-300, 5e-324, 1e308, -1e308, float("inf"), float("-inf"), float("nan")]  # fmt: skip
NUMBER = st.one_of(st.sampled_from(EDGES), st.integers(), st.floats(), st.integers(-(2**70), 2**70))
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    NUMBER,
    st.text(max_size=6),
    st.lists(st.one_of(st.integers(-3, 3), st.text(max_size=2), st.floats()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.one_of(st.integers(-3, 3), st.text(max_size=2)), max_size=2),
)
VALUE = st.one_of(NUMBER, ANYTHING)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, st.text(max_size=4))
WHEN = st.one_of(st.none(), ANYTHING, st.dictionaries(st.text(max_size=3), st.one_of(SCALAR, ANYTHING), max_size=2))
RULE = re.compile(r"\bmust\b|\bcannot\b")
FIX = re.compile(r"got .*: \S", re.DOTALL)


def _forms(value: Any) -> set[str]:
    """How a message may show ``value``: its repr or str, an integral float as the int it became, and
    for a container, any of its items."""
    forms = {repr(value), str(value)}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    if isinstance(value, list | tuple):
        for item in value:
            forms |= _forms(item)
    if isinstance(value, Mapping):
        for key, item in value.items():
            forms |= _forms(item) | {repr(key)}
    return forms


def build(make: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """``make(**arguments)``, or ``None`` once its error is checked: a `TunesmithError` that states the
    rule, one of the values received and the fix. Any other exception fails the test as it is."""
    try:
        return make(**arguments)
    except ts.TunesmithError as exc:
        message = str(exc)
        assert RULE.search(message), f"no rule in {message!r}"
        shown = [name for name, value in arguments.items() if any(form in message for form in _forms(value))]
        assert shown, f"none of the values received {arguments!r} is in {message!r}"
        assert FIX.search(message), f"no fix after the value in {message!r}"
        return None


def exercise(param: Param) -> None:
    """A parameter that was accepted works: every sampler primitive and its JSON form."""
    rng = np.random.default_rng(0)
    for u in (0.0, 0.25, 0.5, 1.0):
        value = param.decode(u)
        assert param.contains(value), (param, u, value)
        assert 0.0 <= param.encode(value) <= 1.0
    assert param.contains(param.sample(rng))
    assert param.grid_values(3) and param.cardinality() >= 1
    assert Param.from_json(param.to_json()) == param


# Parameters ---------------------------------------------------------------------------------------
@FUZZ
@given(low=VALUE, high=VALUE, log=st.one_of(st.booleans(), ANYTHING), step=st.one_of(st.none(), VALUE), when=WHEN)
def test_every_invalid_float_is_explained_and_every_valid_one_works(
    low: Any, high: Any, log: Any, step: Any, when: Any
) -> None:
    param = build(ts.Float, {"low": low, "high": high, "log": log, "step": step, "when": when})
    if param is not None:
        exercise(param)


@FUZZ
@given(
    low=VALUE,
    high=VALUE,
    log=st.one_of(st.booleans(), ANYTHING),
    base=st.one_of(st.none(), st.sampled_from([2, 3, 10]), VALUE),
    step=st.one_of(st.just(1), VALUE),
    when=WHEN,
)
def test_every_invalid_int_is_explained_and_every_valid_one_works(
    low: Any, high: Any, log: Any, base: Any, step: Any, when: Any
) -> None:
    param = build(ts.Int, {"low": low, "high": high, "log": log, "base": base, "step": step, "when": when})
    if param is not None:
        exercise(param)


@FUZZ
@given(
    low=st.integers(-(2**64), 2**64),
    high=st.integers(-(2**64), 2**64),
    log=st.booleans(),
    step=st.integers(1, 2**64),
)
def test_every_int_near_the_int64_limits_is_refused_or_works(low: int, high: int, log: bool, step: int) -> None:
    param = build(ts.Int, {"low": low, "high": high, "log": log, "step": step})
    if param is not None:
        exercise(param)


@FUZZ
@given(options=st.one_of(ANYTHING, st.lists(SCALAR, max_size=4), st.lists(ANYTHING, max_size=3)), when=WHEN)
def test_every_invalid_choice_is_explained_and_every_valid_one_works(options: Any, when: Any) -> None:
    param = build(ts.Choice, {"options": options, "when": when})
    if param is not None:
        exercise(param)


@FUZZ
@given(value=st.one_of(SCALAR, ANYTHING), when=WHEN)
def test_every_invalid_fixed_is_explained_and_every_valid_one_works(value: Any, when: Any) -> None:
    param = build(ts.Fixed, {"value": value, "when": when})
    if param is not None:
        exercise(param)


@FUZZ
@given(
    kind=st.sampled_from(["float", "int", "choice", "fixed"]),
    fields=st.dictionaries(
        st.sampled_from(["low", "high", "log", "step", "base", "options", "value", "when"]), VALUE, max_size=4
    ),
)
def test_every_invalid_parameter_table_of_a_config_is_a_space_error(kind: str, fields: dict[str, Any]) -> None:
    try:
        param = Param.from_json({"type": kind, **fields})
    except ts.SpaceError as exc:
        assert RULE.search(str(exc)) or "argument" in str(exc), str(exc)
    else:
        exercise(param)


# Budget, metric, guardrail ------------------------------------------------------------------------
DURATION = st.one_of(VALUE, st.from_regex(r"\A\s?\d{1,3}(\.\d)?\s?[smhdxyz]{0,3}(\d{1,2}[smh])?\Z"))


@FUZZ
@given(
    trials=st.one_of(st.none(), VALUE), wall_time=st.one_of(st.none(), DURATION), resource=st.one_of(st.none(), VALUE)
)
def test_every_invalid_budget_is_explained_and_every_valid_one_round_trips(
    trials: Any, wall_time: Any, resource: Any
) -> None:
    budget = build(ts.Budget, {"trials": trials, "wall_time": wall_time, "resource": resource})
    if budget is not None:
        assert ts.Budget.from_json(budget.to_json()) == budget and budget.describe()


@FUZZ
@given(name=st.one_of(st.text(max_size=5), ANYTHING), direction=st.one_of(st.sampled_from(["min", "max"]), ANYTHING))
def test_every_invalid_metric_is_explained_and_every_valid_one_round_trips(name: Any, direction: Any) -> None:
    metric = build(ts.Metric, {"name": name, "direction": direction})
    if metric is not None:
        assert ts.Metric.from_json(metric.to_json()) == metric


@FUZZ
@given(
    metric=st.one_of(st.text(max_size=5), ANYTHING),
    op=st.one_of(st.sampled_from(["<=", "<", ">=", ">"]), ANYTHING),
    bound=VALUE,
)
def test_every_invalid_guardrail_is_explained_and_every_valid_one_round_trips(metric: Any, op: Any, bound: Any) -> None:
    guardrail = build(ts.Guardrail, {"metric": metric, "op": op, "bound": bound})
    if guardrail is not None:
        assert ts.Guardrail.from_json(guardrail.to_json()) == guardrail
        assert guardrail.describe() and isinstance(guardrail.holds(0.0), bool)


# Misspelt keyword arguments -----------------------------------------------------------------------
SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
CLASSES: list[tuple[Callable[..., Any], dict[str, Any]]] = [
    (ts.Float, {"low": 0.0, "high": 1.0}),
    (ts.Int, {"low": 0, "high": 9}),
    (ts.Choice, {"options": ["a", "b"]}),
    (ts.Fixed, {"value": 3}),
    (ts.Budget, {}),
    (ts.Metric, {"name": "loss"}),
    (ts.Guardrail, {"metric": "latency_ms", "op": "<=", "bound": 20.0}),
    (ts.Study, {"space": SPACE, "storage": "memory"}),
    (ts.ASHA, {}),
    (ts.Hyperband, {}),
    (ts.SuccessiveHalving, {}),
    (ts.MedianStop, {}),
    (ts.PBT, {}),
    (ts.FIFO, {}),
    (ts.Random, {}),
    (ts.TPE, {}),
    (ts.GP, {}),
    (ts.Grid, {}),
    (ts.Sobol, {}),
    (ts.Auto, {}),
]


@pytest.mark.parametrize(
    ("make", "arguments", "expected"),
    [
        (
            ts.Float,
            {"low": 0, "high": 1, "lwo": 0.1},
            "Float got an unexpected argument 'lwo': did you mean 'low'? It takes low, high, log, step, when",
        ),
        (ts.Int, {"low": 0, "hihg": 9}, "did you mean 'high'?"),
        (ts.Choice, {"optoins": ["a"]}, "did you mean 'options'?"),
        (ts.Fixed, {"vlaue": 3}, "did you mean 'value'?"),
        (ts.Budget, {"trails": 3}, "Budget got an unexpected argument 'trails': did you mean 'trials'?"),
        (ts.Metric, {"name": "loss", "direktion": "max"}, "did you mean 'direction'?"),
        (ts.Guardrail, {"metric": "m", "op": "<=", "bund": 2}, "did you mean 'bound'?"),
        (ts.Study, {"space": SPACE, "storage": "memory", "budjet": None}, "did you mean 'budget'?"),
        (ts.ASHA, {"max_resouce": 27}, "ASHA got an unexpected argument 'max_resouce': did you mean 'max_resource'?"),
        (ts.Hyperband, {"min_resouce": 1}, "did you mean 'min_resource'?"),
        (ts.SuccessiveHalving, {"populaton": 9}, "did you mean 'population'?"),
        (ts.MedianStop, {"warmup_step": 2}, "did you mean 'warmup_steps'?"),
        (ts.PBT, {"quantil": 0.2}, "did you mean 'quantile'?"),
        (ts.TPE, {"gama": 0.2}, "did you mean 'gamma'?"),
        (ts.GP, {"acquisiton": "ucb"}, "did you mean 'acquisition'?"),
        (ts.Grid, {"pionts": 3}, "did you mean 'points'?"),
        (ts.Sobol, {"sed": 3}, "did you mean 'seed'?"),
        (ts.Random, {"seed": 3}, "Random got an unexpected argument 'seed': it takes no arguments"),
    ],
)
def test_a_misspelt_keyword_names_the_closest_argument(
    make: Callable[..., Any], arguments: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ts.TunesmithError) as caught:
        make(**arguments)
    assert expected in str(caught.value)
    assert isinstance(caught.value, TypeError), "still the TypeError Python raises for the same mistake"
    expected_kind = SpaceArgumentError if make in (ts.Float, ts.Int, ts.Choice, ts.Fixed) else ArgumentError
    assert isinstance(caught.value, expected_kind)


@FUZZ
@given(case=st.sampled_from(CLASSES), name=st.from_regex(r"\A[a-z_][a-z0-9_]{0,12}\Z"), value=ANYTHING)
def test_any_unknown_keyword_is_an_argument_error_naming_it(
    case: tuple[Callable[..., Any], dict[str, Any]], name: str, value: Any
) -> None:
    make, arguments = case
    if name in inspect.signature(make).parameters:
        return
    with pytest.raises(ts.TunesmithError) as caught:
        make(**arguments, **{name: value})
    assert isinstance(caught.value, TypeError)
    assert f"unexpected argument {name!r}" in str(caught.value) and "takes" in str(caught.value)


def test_a_wrong_call_shows_how_to_call() -> None:
    with pytest.raises(
        SpaceArgumentError,
        match=r"Int: too many positional arguments; call it as "
        r"Int\(low, high, log=False, base=None, step=1, \*, when=None\)",
    ):
        ts.Int(0, 9, False, None, 1, "extra")  # type: ignore[call-arg]
    with pytest.raises(ArgumentError, match=r"Guardrail: missing a required argument: 'bound'"):
        ts.Guardrail("latency_ms", "<=")  # type: ignore[call-arg]


def test_a_misspelt_option_in_a_config_s_scheduler_table_gets_a_did_you_mean() -> None:
    with pytest.raises(ts.ConfigError, match=r"invalid options for scheduler 'asha': .*did you mean 'max_resource'"):
        ts.Study(SPACE, storage="memory", scheduler={"name": "asha", "max_resouce": 27})


def test_a_misspelt_field_in_a_config_s_parameter_table_gets_a_did_you_mean() -> None:
    with pytest.raises(ts.SpaceError, match=r"did you mean 'low'"):
        Param.from_json({"type": "float", "lwo": 0.0, "high": 1.0})


# Numbers the samplers cannot hold -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ts.Int(3, 2**64), r"high must fit in a 64-bit integer .*, got high=18446744073709551616: .*Float"),
        (lambda: ts.Int(-(2**64), 3), r"low must fit in a 64-bit integer .*, got low=-18446744073709551616"),
        (lambda: ts.Int(0.0, 1e20), r"high must fit in a 64-bit integer .*, got high=100000000000000000000"),
        (lambda: ts.Int(-(2**63), 2**63 - 1), r"high - low must be below 2\*\*63 - 1 .*: narrow the range"),
        (lambda: ts.Float(-1e308, 1e308), r"high - low must be a finite float64, got low=-1e\+308, high=1e\+308"),
        (lambda: ts.Float(0.0, 1.0, step=1e-300), r"step must leave fewer than 2\*\*63 values .*got step=1e-300"),
        (lambda: ts.Float(0.0, 1.0, log="yes"), r"log must be True or False, got log='yes'"),
    ],
)
def test_numbers_that_overflow_the_samplers_are_refused_at_definition(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ts.SpaceError, match=message):
        make()


@pytest.mark.parametrize("sampler", ["random", "tpe", "gp", "sobol", "grid"])
def test_the_widest_integer_range_allowed_works_in_every_sampler(sampler: str) -> None:
    wide = ts.Int(-(2**62) + 1, 2**62 - 1)  # a list of its values would not fit in memory
    study = ts.Study(ts.Space({"n": wide}), sampler=sampler, storage="memory", budget=ts.Budget(trials=5), seed=1)
    study.optimize(lambda trial: float(abs(trial.params["n"])) / 2**62)
    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE] * 5  # a grid of 5 points, too
    assert all(wide.contains(r.params["n"]) for r in study.trials)


def test_a_guardrail_bound_that_is_not_a_number_in_a_config_is_a_config_error() -> None:
    with pytest.raises(ts.ConfigError, match=r"bound must be a finite number, got bound='fifty': pass the limit"):
        ts.Guardrail.from_json({"metric": "latency_ms", "op": "<=", "bound": "fifty"})


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        # The closest name said "did you mean 'trial_cost'?": seconds a trial takes, not a count of trials.
        ({"n_trials": 30}, "got an unexpected argument 'n_trials': write budget=ts.Budget(trials=N) (or"),
        ({"direction": "maximize"}, "write metric=ts.Metric(name, 'max') (a bare metric name is minimised)"),
        ({"directions": ["maximize", "minimize"]}, "write metrics=[ts.Metric(name, 'max'), ts.Metric(other, 'min')]"),
        ({"study_name": "lr"}, "write name= instead"),
        ({"pruner": None}, "write scheduler= (ts.ASHA(...)"),
        ({"load_if_exists": True}, "creating a study whose name the storage holds resumes it"),
    ],
)
def test_a_keyword_another_tuners_study_takes_says_what_to_write_instead(arguments: dict[str, Any],
                                                                          expected: str) -> None:  # fmt: skip
    with pytest.raises(ArgumentError) as caught:
        ts.Study(SPACE, storage="memory", **arguments)
    assert expected in str(caught.value) and "did you mean" not in str(caught.value), str(caught.value)


def test_a_keyword_another_tuners_optimize_takes_says_what_to_write_instead() -> None:
    study = ts.Study(SPACE, storage="memory", budget=ts.Budget(trials=1))
    with pytest.raises(ArgumentError, match=r"Study.optimize got an unexpected argument 'n_jobs': write workers=N"):
        study.optimize(lambda trial: 0.0, n_jobs=2)  # type: ignore[call-arg]
    with pytest.raises(ArgumentError, match=r"'worker': did you mean 'workers'\? It takes objective, n_trials"):
        study.optimize(lambda trial: 0.0, worker=2)  # type: ignore[call-arg]
    assert study.trials == []  # refused before any trial
    assert list(inspect.signature(ts.Study.optimize).parameters)[:3] == ["self", "objective", "n_trials"]
