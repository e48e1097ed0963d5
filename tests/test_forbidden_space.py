"""Forbidden combinations in a space: stated declaratively, checked when the space is built, stored as JSON.

A clause (`ts.Forbidden`) is a mapping of parameter to test or an expression; it holds only when every parameter
it names is active. `Space.sample` and `Space.grid` leave forbidden configurations out, `Space.validate` refuses
them, and a config file's ``[space]`` table lists the clauses under ``forbidden``.
"""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.config import load_config
from tunesmith.space._space import FORBIDDEN_DRAWS

PARAMS = {
    "kernel": ts.Choice(["linear", "rbf", "poly"]),
    "degree": ts.Int(1, 5),
    "batch_size": ts.Int(32, 4096, base=2),
    "grad_accum": ts.Int(1, 8),
}
LINEAR_HAS_NO_DEGREE = ts.Forbidden({"kernel": "linear", "degree": ts.Above(1)})
TOO_LARGE = ts.Forbidden("batch_size * grad_accum > 4096")
SPACE = ts.Space(PARAMS, forbidden=[LINEAR_HAS_NO_DEGREE, TOO_LARGE])


def _refusal(*clauses: ts.Forbidden) -> str:
    with pytest.raises(ts.SpaceError) as refused:
        ts.Space(PARAMS, forbidden=list(clauses))
    return str(refused.value)


# What a clause forbids ----------------------------------------------------------------------------------------
def test_a_mapping_clause_forbids_the_combination_where_every_test_holds() -> None:
    assert SPACE.forbids({"kernel": "linear", "degree": 3, "batch_size": 32, "grad_accum": 1}) == LINEAR_HAS_NO_DEGREE


def test_a_mapping_clause_allows_a_configuration_where_one_test_fails() -> None:
    assert SPACE.forbids({"kernel": "linear", "degree": 1, "batch_size": 32, "grad_accum": 1}) is None


def test_an_expression_clause_forbids_what_its_arithmetic_rules_out() -> None:
    assert SPACE.forbids({"kernel": "rbf", "degree": 2, "batch_size": 1024, "grad_accum": 8}) == TOO_LARGE


def test_an_expression_clause_allows_the_bound_itself() -> None:
    assert SPACE.forbids({"kernel": "rbf", "degree": 2, "batch_size": 1024, "grad_accum": 4}) is None


def test_a_clause_on_a_parameter_its_condition_switches_off_forbids_nothing() -> None:
    space = ts.Space(
        {"optimizer": ts.Choice(["adam", "sgd"]), "momentum": ts.Float(0.0, 0.99, when={"optimizer": "sgd"})},
        forbidden=[ts.Forbidden("not momentum < 0.5")],
    )

    assert space.forbids({"optimizer": "adam"}) is None


def test_a_list_of_values_forbids_each_of_them() -> None:
    space = ts.Space(PARAMS, forbidden=[ts.Forbidden({"kernel": ["rbf", "poly"], "degree": ts.Below(2)})])

    assert space.forbids({"kernel": "poly", "degree": 1}) is not None


def test_values_are_told_apart_as_the_space_tells_them_true_is_not_one() -> None:
    space = ts.Space({"flag": ts.Choice([True, 1])}, forbidden=[ts.Forbidden("flag == 1")])

    assert space.forbids({"flag": True}) is None


# Checked when the space is built -------------------------------------------------------------------------------
def test_an_unknown_parameter_is_refused_with_the_closest_name() -> None:
    message = _refusal(ts.Forbidden({"kernal": "linear"}))

    assert "'kernal', which is not a parameter of the space: did you mean 'kernel'?" in message


def test_a_value_the_parameter_never_takes_is_refused_with_its_values() -> None:
    message = _refusal(ts.Forbidden({"kernel": "lineer", "degree": ts.Above(1)}))

    assert "kernel never takes 'lineer', since kernel takes one of ['linear', 'rbf', 'poly']" in message


def test_a_bound_beyond_the_range_is_refused_as_never_holding() -> None:
    message = _refusal(ts.Forbidden("degree > 5"))

    assert "degree > 5 never holds, since degree takes integers in [1, 5]: use a bound inside that range" in message


def test_a_constant_on_the_left_is_read_as_the_flipped_comparison() -> None:
    message = _refusal(ts.Forbidden("1 > degree"))

    assert "degree < 1 never holds" in message


def test_arithmetic_on_a_choice_of_strings_is_refused() -> None:
    message = _refusal(ts.Forbidden("kernel * 2 > 3"))

    assert "'kernel' must be a number where it is computed or ordered, but kernel takes one of" in message


def test_an_expression_dividing_by_zero_at_a_value_of_the_range_is_refused() -> None:
    message = _refusal(ts.Forbidden("batch_size / (grad_accum - 1) > 512"))

    assert "cannot be computed for {'batch_size': 32, 'grad_accum': 1}: 32 / 0 divides by zero" in message


def test_an_expression_dividing_by_zero_inside_an_integer_range_is_refused_when_the_space_is_built() -> None:
    """b = 1 lies inside Int(0, 4), neither an end nor the middle: the space was built, a sampler met b = 1 and the
    study stopped part-way, and the stored study refused the fixed clause as another space."""
    with pytest.raises(ts.SpaceError, match=r"cannot be computed for \{'a': 0, 'b': 1\}: 0 / 0 divides by zero"):
        ts.Space({"a": ts.Int(0, 3), "b": ts.Int(0, 4)}, forbidden=[ts.Forbidden("a / (b - 1) > 1")])
    with pytest.raises(ts.SpaceError, match=r"divides by zero"):  # 1.0 lies inside a float range
        ts.Space({"a": ts.Float(0.5, 3.0), "b": ts.Float(0.0, 4.0)}, forbidden=[ts.Forbidden("a / (b - 1) > 1")])


def test_a_clause_of_too_many_combinations_to_probe_is_still_computed_at_its_ends_and_middles() -> None:
    """Five float ranges give 5**5 combinations of telling values, past `_PROBED`: the clause is computed at the
    parameters' lowest, middle and highest values together, as before the probes."""
    params = {name: ts.Float(-2.0, 2.0) for name in "abcde"}
    with pytest.raises(ts.SpaceError, match="divides by zero"):  # every middle is 0
        ts.Space(params, forbidden=[ts.Forbidden("a / (b + c + d + e) > 1")])


def test_a_function_call_is_refused_as_not_allowed() -> None:
    with pytest.raises(ts.SpaceError, match=r"'max\(degree, 2\)' calls a function, which is not allowed"):
        ts.Forbidden("max(degree, 2) > 3")


def test_an_expression_that_does_not_parse_is_refused_with_an_example() -> None:
    with pytest.raises(ts.SpaceError, match=r'which does not parse .*write e.g. "batch_size \* grad_accum > 4096"'):
        ts.Forbidden("degree >")


def test_a_python_function_is_refused_as_not_storable() -> None:
    with pytest.raises(ts.SpaceError, match="a function cannot be stored with the study"):
        ts.Forbidden(lambda config: config["degree"] > 1)  # type: ignore[arg-type]


def test_a_test_of_another_kind_is_refused_with_the_forms_it_takes() -> None:
    with pytest.raises(ts.SpaceError, match=r"must be a value, a non-empty list of values, Above\(x\), Below\(x\) or"):
        ts.Forbidden({"degree": {"more_than": 1}})


def test_a_clause_not_wrapped_in_forbidden_is_refused_with_the_fix() -> None:
    with pytest.raises(ts.SpaceError, match=r"wrap it, Forbidden\('degree > 1'\)"):
        ts.Space(PARAMS, forbidden=["degree > 1"])  # type: ignore[list-item]


def test_a_parameter_named_forbidden_beside_clauses_is_refused() -> None:
    with pytest.raises(ts.SpaceError, match="a parameter named 'forbidden' cannot sit beside forbidden clauses"):
        ts.Space({"forbidden": ts.Int(1, 3)}, forbidden=[ts.Forbidden("forbidden > 2")])


# Sampling, grids and validation ---------------------------------------------------------------------------------
def test_sample_never_draws_a_forbidden_configuration() -> None:
    rng = np.random.default_rng(0)

    drawn = [SPACE.sample(rng) for _ in range(300)]

    assert [config for config in drawn if SPACE.forbids(config) is not None] == []


def test_a_space_almost_all_forbidden_is_refused_when_built_saying_how_many_draws_were_refused_and_the_share() -> None:
    with pytest.raises(ts.SpaceError) as refused:
        ts.Space({"x": ts.Float(0.0, 1.0)}, forbidden=[ts.Forbidden("x > 1e-9")])

    message = str(refused.value)
    assert f"none of {FORBIDDEN_DRAWS:,} draws from the priors (each a configuration of the space)" in message
    assert f"('x > 1e-9' {FORBIDDEN_DRAWS} times), so the allowed share is below 0.03% (95% upper bound)" in message


def test_the_grid_leaves_forbidden_configurations_out() -> None:
    space = ts.Space({"kernel": PARAMS["kernel"], "degree": PARAMS["degree"]}, forbidden=[LINEAR_HAS_NO_DEGREE])

    grid = space.grid()

    assert len(grid) == 11 and space.grid_size() == 11
    assert {"kernel": "linear", "degree": 1} in grid


def test_a_grid_every_configuration_of_which_is_forbidden_is_refused() -> None:
    space = ts.Space({"x": ts.Float(0.0, 1.0)}, forbidden=[ts.Forbidden("x < 0.3 or x > 0.45")])  # 0.25 and 0.5 out

    with pytest.raises(ts.SpaceError, match="all 5 grid configurations are forbidden"):
        space.grid()


def test_validate_refuses_a_forbidden_configuration_naming_the_clause() -> None:
    config = {"kernel": "linear", "degree": 4, "batch_size": 32, "grad_accum": 1}

    with pytest.raises(ts.SpaceError) as refused:
        SPACE.validate(config)

    assert "got kernel='linear', degree=4, which clause \"kernel == 'linear' and degree > 1\" forbids" in str(
        refused.value
    )



def test_a_mapping_clause_is_named_in_the_expression_form_it_is_read_back_as() -> None:
    """A name that is no Python name, or a keyword, was named bare ("max-depth > 3 and lambda == 2"), which the
    expression form cannot parse: the text a message names must work as a clause."""
    clause = ts.Forbidden({"max-depth": ts.Above(3), "lambda": 2, "act": ["relu", "gelu"]})
    space = ts.Space(
        {"max-depth": ts.Int(1, 10), "lambda": ts.Int(1, 3), "act": ts.Choice(["relu", "gelu", "tanh"])},
        forbidden=[clause],
    )

    text = ast.literal_eval(str(clause))  # str() quotes the clause as a Python string
    assert text == "`max-depth` > 3 and `lambda` == 2 and act in ['gelu', 'relu']"
    again = ts.Forbidden(text)
    for config in ({"max-depth": 5, "lambda": 2, "act": "relu"}, {"max-depth": 3, "lambda": 2, "act": "gelu"}):
        assert (space.forbids(config) is not None) == again.holds(config)

# Stored as JSON ------------------------------------------------------------------------------------------------------
def test_the_clauses_round_trip_through_json_text() -> None:
    text = json.dumps(SPACE.to_json())

    assert ts.Space.from_json(json.loads(text)) == SPACE


def test_the_json_lists_the_clauses_under_forbidden_after_the_parameters() -> None:
    data = SPACE.to_json()

    assert list(data)[-1] == "forbidden"
    assert data["forbidden"] == ["batch_size * grad_accum > 4096", {"kernel": "linear", "degree": {"above": 1}}]


def test_a_space_without_clauses_is_written_as_before() -> None:
    assert "forbidden" not in ts.Space(PARAMS).to_json()


def test_spaces_differing_only_in_their_clauses_differ() -> None:
    assert ts.Space(PARAMS, forbidden=[TOO_LARGE]) != ts.Space(PARAMS, forbidden=[LINEAR_HAS_NO_DEGREE])


def test_the_clauses_are_a_set_their_order_does_not_make_another_space() -> None:
    assert ts.Space(PARAMS, forbidden=[TOO_LARGE, LINEAR_HAS_NO_DEGREE]) == SPACE


def test_a_parameter_named_forbidden_in_a_space_without_clauses_still_round_trips() -> None:
    space = ts.Space({"forbidden": ts.Int(1, 3)})

    assert ts.Space.from_json(space.to_json()) == space


def test_an_extended_space_keeps_its_clauses() -> None:
    assert SPACE.extended({"dropout": ts.Float(0.0, 0.5)}).forbidden == SPACE.forbidden


# Config files --------------------------------------------------------------------------------------------------------
CONFIG = """
objective = "objectives:quadratic"
metric = "loss"

[space]
kernel = {type = "choice", options = ["linear", "rbf", "poly"]}
degree = {type = "int", low = 1, high = 5}
batch_size = {type = "int", low = 32, high = 4096, base = 2}
grad_accum = {type = "int", low = 1, high = 8}
forbidden = [
    {kernel = "linear", degree = {above = 1}},
    "batch_size * grad_accum > 4096",
]
"""


def test_a_config_file_states_the_same_clauses_as_python(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(CONFIG))

    assert load_config(path).space == SPACE


def test_a_config_file_clause_naming_no_parameter_is_refused_with_the_file_and_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(CONFIG).replace("{kernel = ", "{kernels = "))

    with pytest.raises(ts.ConfigError, match=r"study.toml: forbidden clause .* names 'kernels', which is not a param"):
        load_config(path)


def test_a_config_file_forbidden_entry_that_is_not_a_list_is_refused_with_an_example(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(CONFIG).split("forbidden = [")[0] + 'forbidden = "degree > 1"\n')

    with pytest.raises(ts.ConfigError, match="forbidden must be a list of clauses, got forbidden='degree > 1'"):
        load_config(path)
