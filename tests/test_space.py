"""Search spaces: validation messages, priors, encoding, conditions, JSON, and properties."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tunesmith as ts
from tunesmith import Choice, Fixed, Float, Int, Space, SpaceError, SpaceWarning, TunesmithError


def test_log_float_with_zero_low_names_rule_value_and_fix() -> None:
    with pytest.raises(SpaceError) as info:
        Float(0.0, 1.0, log=True)
    message = str(info.value)
    assert "low must be > 0 when log=True" in message and "low=0.0" in message and "log=False" in message


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Float(1.0, 1.0), "low < high must hold"),
        (lambda: Float(0.0, math.inf), "finite number"),
        (lambda: Float(0.0, 1.0, step=0.0), "step must be > 0"),
        (lambda: Int(1, 10, base=2), "power of base=2"),
        (lambda: Int(0, 10, log=True), "low must be >= 1 when log=True"),
        (lambda: Int(1.5, 3), "low must be an integer"),  # type: ignore[arg-type]
        (lambda: Choice([]), "options must not be empty"),
        (lambda: Choice(["a", "a"]), "options must be unique"),
        (lambda: Choice([object()]), "JSON scalars"),
        (lambda: Space({"m": Float(0.1, 0.9, when={"opt": "sgd"})}), "not in the space"),
        (lambda: Space({"opt": Choice(["adam"]), "m": Float(0.1, 0.9, when={"opt": "sgd"})}), "can never take"),
        (lambda: Space({"x": 3}), "wrap constants as Fixed(3)"),  # type: ignore[dict-item]
        (lambda: Space({}), "at least one parameter"),
    ],
)
def test_invalid_spaces_raise_space_errors(make: object, fragment: str) -> None:
    with pytest.raises(SpaceError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        make()  # type: ignore[operator]


def test_condition_cycle_is_reported() -> None:
    with pytest.raises(SpaceError, match="cycle"):
        Space({"a": Choice([1, 2], when={"b": 1}), "b": Choice([1, 2], when={"a": 1})})


def test_powers_of_two_are_sampled_evenly() -> None:
    param = Int(32, 4096, base=2)
    rng = np.random.default_rng(0)
    draws = [param.sample(rng) for _ in range(7000)]
    assert set(draws) == {32, 64, 128, 256, 512, 1024, 2048, 4096}
    counts = np.bincount([int(math.log2(d)) - 5 for d in draws])
    assert counts.min() > 700, counts


def test_log_float_prior_is_log_uniform() -> None:
    param = Float(1e-5, 1e-1, log=True)
    rng = np.random.default_rng(1)
    exponents = np.log10([param.sample(rng) for _ in range(4000)])
    assert abs(np.mean(exponents) - (-3.0)) < 0.1
    assert np.mean(exponents < -4) == pytest.approx(0.25, abs=0.03)


def test_conditional_parameter_only_when_parent_matches() -> None:
    space = Space({"optimizer": Choice(["adam", "sgd"]), "momentum": Float(0.8, 0.99, when={"optimizer": "sgd"})})
    rng = np.random.default_rng(2)
    for _ in range(200):
        params = space.sample(rng)
        assert ("momentum" in params) == (params["optimizer"] == "sgd")
    encoded = space.encode({"optimizer": "adam"})
    assert np.isnan(encoded[space.dimensions.index("momentum")])


def test_children_follow_parents_regardless_of_declaration_order() -> None:
    space = Space({"momentum": Float(0.8, 0.99, when={"optimizer": "sgd"}), "optimizer": Choice(["adam", "sgd"])})
    assert list(space) == ["optimizer", "momentum"]


def test_grid_respects_conditions() -> None:
    space = Space(
        {
            "optimizer": Choice(["adam", "sgd"]),
            "momentum": Choice([0.9, 0.99], when={"optimizer": "sgd"}),
            "layers": Int(2, 3),
        }
    )
    grid = space.grid()
    assert len(grid) == 2 + 4  # adam x 2 layers, sgd x 2 momenta x 2 layers
    assert all(("momentum" in g) == (g["optimizer"] == "sgd") for g in grid)


def test_validate_fills_fixed_and_rejects_strays() -> None:
    space = Space({"x": Float(0, 1), "tag": Fixed("v1")})
    assert space.validate({"x": 0.5}) == {"x": 0.5, "tag": "v1"}
    with pytest.raises(SpaceError, match="unknown parameters"):
        space.validate({"x": 0.5, "y": 1})
    with pytest.raises(SpaceError, match="outside its range"):
        space.validate({"x": 2.0})


@pytest.mark.parametrize(
    ("name", "param", "rule"),
    [
        ("dropout", Float(0.0, 1.5), r"outside \[0, 1\]"),
        ("lr", Float(1e-3, 50.0, log=True), r"outside \[0, 10\]"),
        ("beta_1", Float(0.5, 1.2), "Adam beta"),
        # Spellings other than the plain ones: camelCase, XGBoost's eta, a head's own rate.
        ("learningRate", Float(0.0, 100.0), "learning rate"),
        ("eta", Float(0.0, 50.0), "learning rate"),
        ("head_lr", Float(-0.1, 0.1), "learning rate"),
        ("weight_decay", Float(-1.0, 1.0), "reaching below 0: an L2 strength"),
        ("l2", Float(-0.1, 0.1), "L2 strength"),
        ("batch_size", Int(0, 10), "reaching below 1: a batch holds at least one example"),
        ("per_device_train_batch_size", Float(0.5, 64.0), "at least one example"),
        ("n_layers", Int(-1, 3), "depth"),
        ("adam_epsilon", Float(-1e-3, 1e-3), "epsilon"),
    ],
)
def test_physically_meaningless_bounds_warn(name: str, param: Float | Int, rule: str) -> None:
    with pytest.warns(SpaceWarning, match=rf"^'{name}' spans \[.*{rule}.*narrow the bounds"):
        Space({name: param})


def test_meaningful_bounds_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Space({"dropout": Float(0.0, 0.5), "learning_rate": Float(1e-5, 1e-1, log=True)})
        # Names that only look like a rate (an F-beta's beta, a scheduler's decay factor), ranges that fit:
        # a Ridge alpha over decades, a batch size from 1, a depth from 0 (no hidden layer).
        Space(
            {
                "beta": Float(0.5, 2.0),
                "lr_scheduler_gamma": Float(0.1, 20.0),
                "alpha": Float(1e-4, 100.0, log=True),
                "batch_size": Int(1, 512),
                "n_layers": Int(0, 4),
                "head_lr": Int(-5, -1),  # an exponent: a rate drawn as an Int is not read as one
            }
        )


def test_json_round_trip_of_a_full_space() -> None:
    space = Space(
        {
            "lr": Float(1e-5, 1e-1, log=True),
            "batch_size": Int(32, 4096, base=2),
            "wd": Float(0.0, 0.1, step=0.01),
            "optimizer": Choice(["adam", "sgd"]),
            "momentum": Float(0.8, 0.99, when={"optimizer": "sgd"}),
            "layers": Int(2, 6),
            "tag": Fixed("v1"),
        }
    )
    text = json.dumps(space.to_json())
    assert Space.from_json(json.loads(text)) == space


# Property-based tests ------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def float_params(draw: st.DrawFn) -> Float:
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(min_value=1e-8, max_value=1e3))
        high = low * draw(st.floats(min_value=1.01, max_value=1e6))
        return Float(low, high, log=True)
    low = draw(finite)
    high = low + draw(st.floats(min_value=1e-3, max_value=1e6))
    step = draw(st.one_of(st.none(), st.integers(1, 1000).map(lambda n: (high - low) / n)))  # a whole number of steps
    return Float(low, high, step=step)


@st.composite
def int_params(draw: st.DrawFn) -> Int:
    kind = draw(st.sampled_from(["linear", "log", "base"]))
    if kind == "base":
        base = draw(st.integers(2, 4))
        lo = draw(st.integers(0, 5))
        hi = lo + draw(st.integers(1, 5))
        return Int(base**lo, base**hi, base=base)
    low = draw(st.integers(1 if kind == "log" else -1000, 1000))
    high = low + draw(st.integers(1, 10_000))
    if kind == "log":
        return Int(low, high, log=True)
    step = draw(st.integers(1, high - low))
    return Int(low, low + step * ((high - low) // step), step=step)  # a whole number of steps


choices = st.lists(st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans()), min_size=1, max_size=6).filter(
    lambda xs: len({json.dumps(x) for x in xs}) == len(xs)
    # options that differ as text, as Choice requires (1 and "1" would be one CSV cell)
    and len({form for x in xs for form in Choice.text_forms(x)}) == sum(len(Choice.text_forms(x)) for x in xs)
)
params_strategy = st.one_of(float_params(), int_params(), choices.map(Choice), st.integers().map(Fixed))
spaces = st.dictionaries(st.text(alphabet="abcdefgh", min_size=1, max_size=4), params_strategy, min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(spaces, st.integers(0, 2**32 - 1))
def test_valid_spaces_sample_inside_bounds_and_round_trip(params: dict, seed: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpaceWarning)
        space = Space(params)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        config = space.sample(rng)
        assert space.validate(config) == config
        u = space.encode(config)
        assert np.all((u >= 0) & (u <= 1))
        decoded = space.decode(u)
        for name, value in config.items():
            if isinstance(space[name], Float) and space[name].step is None:  # type: ignore[union-attr]
                assert decoded[name] == pytest.approx(value, rel=1e-9, abs=1e-9)
            else:
                assert decoded[name] == value
    assert Space.from_json(json.loads(json.dumps(space.to_json()))) == space


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["float", "int", "choice", "fixed", "bogus"]),
    st.dictionaries(
        st.sampled_from(["low", "high", "log", "step", "base", "options", "value", "when", "junk"]),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-5, 5),
            finite,
            st.text(max_size=3),
            st.lists(st.integers(-2, 2), max_size=3),
        ),
    ),
)
def test_invalid_params_raise_tunesmith_errors_not_crashes(kind: str, fields: dict) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpaceWarning)
            Space.from_json({"p": {"type": kind, **fields}})
    except TunesmithError as exc:
        assert str(exc)


@settings(max_examples=100, deadline=None)
@given(spaces, st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=6, max_size=6))
def test_any_point_of_the_cube_decodes_to_a_valid_config(params: dict, point: list[float]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpaceWarning)
        space = Space(params)
    config = space.decode(point[: len(space.dimensions)])
    assert space.validate(config) == config


def test_integer_parameters_named_like_rates_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Space({"lr_cycle_steps": Int(100, 5000), "dropout_layers": Int(0, 3)})


def test_numpy_options_are_stored_as_the_python_values_they_hold() -> None:
    """Choice(list(np.arange(1, 4))) was refused ("name the option with a string") while Int took NumPy integers,
    and np.float64 options stayed np.float64."""
    ints = Choice(list(np.arange(1, 4)))
    assert ints.options == (1, 2, 3) and all(type(o) is int for o in ints.options)
    floats = Choice(list(np.array([0.1, 0.2])))
    assert floats.options == (0.1, 0.2) and all(type(o) is float for o in floats.options)
    mixed = Choice([np.str_("adam"), np.bool_(True), None])
    assert [type(o) for o in mixed.options] == [str, bool, type(None)]
    assert Choice(np.array([16, 32, 64])).options == (16, 32, 64)
    assert ints.contains(np.int64(2)) and ints.index(np.int64(3)) == 2
    assert json.loads(json.dumps(ints.to_json())) == {"type": "choice", "options": [1, 2, 3]}
    fixed = Fixed(np.int64(7))
    assert type(fixed.value) is int and fixed.contains(np.int64(7))
    assert Float(0.0, 1.0, when={"n": np.int64(2)}).to_json()["when"] == {"n": [2]}


def test_a_numpy_option_that_is_not_a_json_scalar_is_still_refused() -> None:
    with pytest.raises(SpaceError, match="options must be JSON scalars"):
        Choice([np.float64("nan"), 1.0])
    with pytest.raises(SpaceError, match="options must be unique, got 1 twice"):
        Choice([np.int64(1), 1])


@pytest.mark.parametrize("steps", [2, 7])
def test_a_stepped_range_far_from_zero_that_float_accepts_is_stored_and_read_back_unchanged(
    steps: int, tmp_path: Path
) -> None:
    # Read back with a fixed slack, 1000000.1 + 2 * 0.1 read as one step short (Study refused it) and + 7 * 0.1 lost
    # its top value (the grid never tried it, enqueue refused it).
    space = ts.Space({"x": ts.Float(1000000.1, 1000000.1 + steps * 0.1, step=0.1)})
    url = f"sqlite:///{tmp_path / 'far.db'}"
    study = ts.Study(space, metric="value", storage=url, name="far", seed=0, sampler="grid")
    assert study.space == space and ts.Study.load("far", storage=url).space == space
    study.optimize(lambda trial: -trial.params["x"], n_trials=20, progress=False)  # ends once the grid is used up
    assert len(study.trials) == steps + 1


def test_a_condition_reads_a_numpy_scalar_parent_as_its_value() -> None:
    space = Space({"c": Choice([1, 2]), "n": Int(0, 10, when={"c": 1})})
    assert space.validate({"c": np.int64(1), "n": np.int64(4)}) == {"c": 1, "n": 4}
    assert not space.is_active("n", {"c": np.int64(2)})


def test_a_float_grid_holds_its_ends_as_given_and_clean_points_between() -> None:
    """Decoded, 1e-4 came out as 0.00010000000000000009 and 0.3 as 0.30000000000000004: a configuration enqueued with
    the clean value was not known as the grid's and ran again (19 trials for 18 grid points)."""
    assert ts.Float(0.1, 0.9).grid_values(5) == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert ts.Float(1e-4, 1e-1, log=True).grid_values(4) == [1e-4, 1e-3, 1e-2, 1e-1]
    space = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True), "x": ts.Float(0.1, 0.9), "c": ts.Choice(["a", "b"])})
    study = ts.Study(space, metric="loss", storage="memory", seed=0, sampler={"name": "grid", "points": 3})
    study.enqueue({"lr": 1e-4, "x": 0.1, "c": "a"})
    study.optimize(lambda t: t.params["lr"] + t.params["x"], n_trials=40)
    assert len(study.trials) == len(space.grid(points=3)) == 18


@pytest.mark.parametrize("name", ["log_lr", "log10_lr", "log_learning_rate", "exp_lr"])
def test_a_learning_rate_named_as_its_exponent_draws_no_warning_on_negative_bounds(name: str) -> None:
    """``10 ** log_lr`` over [-6, -1] drew "a learning rate is positive": the name says it is the rate's exponent."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ts.SpaceWarning)
        ts.Space({name: ts.Float(-6.0, -1.0)})
    with pytest.warns(ts.SpaceWarning, match="a learning rate is positive"):
        ts.Space({"lr": ts.Float(-6.0, -1.0)})
