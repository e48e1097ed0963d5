"""Forbidden clauses, the defects a probe found: what a space, an enqueue and a reopened study do about them.

An enqueued partial configuration that no allowed configuration completes is refused (one queued before is marked
refused when its turn comes); the share of the space the clauses allow is read over every draw made, so a space
that produced allowed configurations never stops on a bound meant for one that never did; a space whose clauses
leave little allowed says so once, and costs a sampler one batch of draws, not one rejection loop per candidate; a
space whose clauses forbid everything is refused when it is built, and a study with no trial takes a fixed space;
a clause that provably never holds is warned of; expressions take names in backticks, and a mapping both bounds.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.attributes import EnqueuedAttr, WarmStartAttr, read_attr
from tunesmith.config import load_config
from tunesmith.samplers._tried import Tried, untried
from tunesmith.study._known import QueuedConfigurationRefusedWarning
from tunesmith.study._warm_start import WarmStartWarning

# Every configuration with a='x' is forbidden: b takes 1 and 2 only.
BLOCKING = ts.Space({"a": ts.Choice(["x", "y"]), "b": ts.Int(1, 2), "c": ts.Float(0.0, 1.0)},
                    forbidden=[ts.Forbidden("a == 'x' and b >= 1")])  # fmt: skip
CUBE = {"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0), "c": ts.Float(0.0, 1.0)}


def _loss(trial: ts.Trial) -> dict[str, float]:
    return {"loss": float(sum(value for value in trial.params.values() if isinstance(value, float)))}


def _quiet(space: ts.Space) -> ts.Space:
    """``space``, its slowness said already: a test of something else must not stop on that `SpaceWarning`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.SpaceWarning)
        space.samples(np.random.default_rng(0), 1, draws=10_000)
    return space


# 1. An enqueued configuration no allowed configuration completes --------------------------------------------------
def test_a_partial_entry_every_completion_of_which_is_forbidden_is_refused_at_enqueue() -> None:
    study = ts.Study(BLOCKING, metric="loss", storage="memory", seed=0)

    with pytest.raises(ts.SpaceError) as refused:
        study.enqueue({"a": "x"})

    assert (
        "enqueue: a partial configuration must have a completion the forbidden clauses allow, but all 2 combinations "
        "of the values of b that the clauses read are forbidden (\"a == 'x' and b >= 1\" 2 times), so no completion "
        "of a='x' is allowed: change a, or loosen the clause"
    ) in str(refused.value)


def test_a_partial_entry_whose_rest_is_too_wide_to_list_is_refused_by_draws_with_the_bound() -> None:
    space = ts.Space(
        {"a": ts.Choice(["x", "y"]), "c": ts.Float(0.0, 1.0)}, forbidden=[ts.Forbidden("a == 'x' and c >= 0")]
    )
    study = ts.Study(space, metric="loss", storage="memory", seed=0)

    with pytest.raises(ts.SpaceError, match=r"none of 10,000 draws from the priors \(each a completion of a='x'\) is "
                       r"allowed .*, so the allowed share is below 0\.03% \(95% upper bound\)"):  # fmt: skip
        study.enqueue({"a": "x"})


def test_an_entry_queued_before_that_no_allowed_configuration_completes_is_refused_when_its_turn_comes() -> None:
    """An entry stored without enqueue's check (an older version queued it) blocked every later run for good."""
    study = ts.Study(BLOCKING, metric="loss", budget=ts.Budget(trials=2), storage="memory", seed=0)
    study.set_attr(
        EnqueuedAttr.KEY, EnqueuedAttr(configs=({"id": "blocked", "params": {"a": "x"}, "at": 0.0},)).to_json()
    )

    with pytest.warns(QueuedConfigurationRefusedWarning, match=r"so no completion of a='x' is allowed; it is skipped "
                      r"\(marked refused in the queue\) and the queue goes on: enqueue it again with values the "
                      "forbidden clauses allow a completion of, or loosen the clause"):  # fmt: skip
        study.optimize(_loss, progress=False)

    assert len(study.trials) == 2 and all(trial.params["a"] == "y" for trial in study.trials)
    stored = read_attr(study.attrs, EnqueuedAttr)
    assert stored is not None and "no completion of a='x' is allowed" in stored.configs[0]["refused"]


def test_a_partial_entry_whose_one_allowed_completion_draws_rarely_hit_runs_it() -> None:
    """Only b = c = 7 completes a='x' (1 in 19,881): past the draws, the listed allowed values are taken."""
    space = ts.Space({"a": ts.Choice(["x", "y"]), "b": ts.Int(1, 141), "c": ts.Int(1, 141)},
                     forbidden=[ts.Forbidden("a == 'x' and (b != 7 or c != 7)")])  # fmt: skip
    study = ts.Study(space, metric="loss", sampler="random", budget=ts.Budget(trials=1), storage="memory", seed=1)
    study.enqueue({"a": "x"})

    study.optimize(lambda trial: {"loss": 0.0}, progress=False)

    assert study.trials[0].params == {"a": "x", "b": 7, "c": 7}


# 2. The allowed share is read over every draw made on the space ------------------------------------------------------
@pytest.mark.parametrize(("sampler", "trials"), [("random", 40), ("cmaes", 15)])
def test_a_search_of_a_space_with_a_small_allowed_share_never_stops_on_a_bound_its_draws_disprove(
    sampler: str, trials: int
) -> None:
    """0.05% of the cube is allowed (a + b + c <= 0.1442), above the 0.03% bound that stopped random search after 20
    trials and CMA-ES after 10: each call to `Space.sample` applied the bound afresh, to draws of its own."""
    space = ts.Space(CUBE, forbidden=[ts.Forbidden("a + b + c > 0.1442")])
    study = ts.Study(space, metric="loss", sampler=sampler, budget=ts.Budget(trials=trials), storage="memory", seed=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ts.SpaceWarning)  # that the share is small: said, and not what is tested here
        study.optimize(_loss, progress=False)

    assert len(study.trials) == trials
    assert all(space.forbids(trial.params) is None for trial in study.trials)


# 3. A space mostly forbidden: said once, and cheap for a sampler --------------------------------------------------
def test_a_space_mostly_forbidden_warns_with_the_share_its_interval_the_cost_and_the_fix() -> None:
    space = ts.Space(CUBE, forbidden=[ts.Forbidden("a + b + c > 0.1817")])  # 99.9% forbidden

    with pytest.warns(ts.SpaceWarning) as said:
        space.samples(np.random.default_rng(0), 3)

    (message,) = [str(warning.message) for warning in said]
    assert re.match(r"the forbidden clauses allow 0\.\d\d% \(95% interval 0\.\d\d% to 0\.\d\d%, over [\d,]+ draws\) of "
                    r"the space, below 2%: each allowed configuration costs about [\d,]+ draws from the priors \(",
                    message)  # fmt: skip
    assert "narrow the parameters' ranges so that the clauses cut less, or state the constraint as a condition " \
           "(when=) or a reparametrisation" in message  # fmt: skip


def test_a_space_mostly_forbidden_warns_once() -> None:
    space = ts.Space(CUBE, forbidden=[ts.Forbidden("a + b + c > 0.1817")])
    with pytest.warns(ts.SpaceWarning):
        space.samples(np.random.default_rng(0), 3)

    space.samples(np.random.default_rng(1), 3)  # warnings are errors here: a second one would fail


def test_a_space_a_third_of_which_is_allowed_draws_no_warning() -> None:
    space = ts.Space(CUBE, forbidden=[ts.Forbidden("a + b > 0.8")])

    drawn = space.samples(np.random.default_rng(0), 2000)

    assert len(drawn) == 2000


def test_a_model_ranks_candidates_from_one_batch_of_draws_however_few_are_allowed() -> None:
    """CMA-ES and TPE rank untried candidates when their own are forbidden: 256 of them, each drawn by a rejection
    loop of its own, made 256,000 draws an ask at 0.1% allowed (73 s for 25 trials of CMA-ES)."""
    space = _quiet(ts.Space(CUBE, forbidden=[ts.Forbidden("a + b + c > 0.1817")]))
    before = space._tally.draws

    config = untried(space, Tried(space, []), np.random.default_rng(0), lambda x: -x.sum(axis=1))

    assert config is not None and space.forbids(config) is None
    assert space._tally.draws - before < 10_000


# 4. A space that allows nothing, and a study with no trial ---------------------------------------------------------
def test_a_clause_forbidding_every_value_it_reads_is_refused_exactly_though_another_parameter_is_continuous() -> None:
    with pytest.raises(ts.SpaceError) as refused:
        ts.Space({"kernel": ts.Choice(["linear", "rbf"]), "c": ts.Float(0.01, 100.0, log=True)},
                 forbidden=[ts.Forbidden("kernel == 'linear' or kernel == 'rbf'")])  # fmt: skip

    assert "all 2 combinations of the values of kernel that the clauses read are forbidden" in str(refused.value)


def test_a_study_with_no_trial_takes_a_changed_space_on_reopen_and_says_what_was_replaced(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fixed.db'}"
    ts.Study(ts.Space(CUBE, forbidden=[ts.Forbidden("a > b")]), metric="loss", storage=url, name="s", seed=0)
    fixed = ts.Space(CUBE, forbidden=[ts.Forbidden("a > b + c")])

    with pytest.warns(ts.SpaceWarning, match=r"study 's' .* has no trial yet, so the space given replaces the stored "
                      r"one: changed forbidden \(stored \[\"a > b\"\], given \[\"a > b \+ c\"\]\)"):  # fmt: skip
        ts.Study(fixed, metric="loss", storage=url, name="s")

    assert ts.Study.load("s", url).space == fixed


def test_a_process_that_opened_the_study_before_its_space_was_replaced_refuses_to_draw_from_the_old_one(
    tmp_path: Path,
) -> None:
    """A worker opened the study, another process replaced its space before any trial: the worker's first ask drew
    from the old space (x up to 1.0) beside trials of the new one (x up to 0.5), warned of only in the other process."""
    url = f"sqlite:///{tmp_path / 'stale.db'}"
    early = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="s", seed=0)
    with pytest.warns(ts.SpaceWarning, match="replaces the stored one"):
        late = ts.Study(ts.Space({"x": ts.Float(0.0, 0.5)}), metric="loss", storage=url, name="s", seed=0)

    with pytest.raises(ts.SpaceError, match=re.escape(
        "study 's' in " + url + " had its space replaced since this process opened it (another process reopened it, "
        "before any trial, with a new space, as its warning said: changed x (stored {high = 1.0, low = 0.0, type = "
        "\"float\"}, given {high = 0.5, low = 0.0, type = \"float\"})), so this process would draw from the old one"
    )):  # fmt: skip
        early.ask()
    assert early.trials == [], "refused before anything was drawn"

    late.optimize(lambda trial: trial.params["x"], n_trials=2, progress=False)  # the new space's own process asks
    reopened = ts.Study.load("s", url)
    assert reopened.ask().params["x"] <= 0.5 and all(t.params["x"] <= 0.5 for t in late.trials)


def test_an_entry_queued_before_the_space_was_replaced_with_a_narrower_range_is_refused_not_run(tmp_path: Path) -> None:
    """x=0.9 was queued under x in [0, 1]; the space was replaced by x in [0, 0.5] before any trial, and the entry ran
    as given, a trial outside the space."""
    url = f"sqlite:///{tmp_path / 'narrowed.db'}"
    wide = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="s", seed=0)
    wide.enqueue({"x": 0.9})
    wide.enqueue({"x": 0.2})
    with pytest.warns(ts.SpaceWarning, match="replaces the stored one"):
        narrow = ts.Study(ts.Space({"x": ts.Float(0.0, 0.5)}), metric="loss", storage=url, name="s", seed=0)

    with pytest.warns(QueuedConfigurationRefusedWarning, match=re.escape(
        "x=0.9 is outside its range {type = \"float\", low = 0.0, high = 0.5} (the space was replaced after it was "
        "queued); it is skipped (marked refused in the queue) and the queue goes on: enqueue it again with a value "
        "inside the range, or without the parameter (the sampler draws it)"
    )):  # fmt: skip
        narrow.optimize(lambda trial: trial.params["x"], n_trials=2, progress=False)

    assert narrow.trials[0].params == {"x": 0.2}
    assert all(0.0 <= trial.params["x"] <= 0.5 for trial in narrow.trials)
    stored = read_attr(narrow.attrs, EnqueuedAttr)
    assert stored is not None and "x=0.9 is outside its range" in stored.configs[0]["refused"]


def test_warm_start_points_the_replaced_space_does_not_hold_stop_informing_the_sampler(tmp_path: Path) -> None:
    """Results read under x in [0, 1] stayed the sampler's priors after the space was narrowed to [0, 0.5]."""
    url = f"sqlite:///{tmp_path / 'warm.db'}"
    wide = ts.Space({"x": ts.Float(0.0, 1.0)})
    before = ts.Study(wide, metric="loss", storage=url, name="before", seed=0, sampler="random")
    for x in (0.1, 0.3, 0.7, 0.9):
        before.enqueue({"x": x})
    before.optimize(lambda trial: trial.params["x"], n_trials=4, progress=False)
    ts.Study(wide, metric="loss", storage=url, name="after", seed=0, warm_start=before)

    with (
        pytest.warns(ts.SpaceWarning, match="replaces the stored one"),
        pytest.warns(WarmStartWarning, match=r"the study's new space does not hold 2 of its 4 results .* dropped "
                     r"and 2 still inform the sampler: warm-start a new study"),
    ):  # fmt: skip
        narrow = ts.Study(ts.Space({"x": ts.Float(0.0, 0.5)}), metric="loss", storage=url, name="after", seed=0,
                          warm_start=before)  # fmt: skip

    stored = read_attr(narrow.attrs, WarmStartAttr)
    assert stored is not None and stored.dropped == 2
    assert sorted(point["params"]["x"] for point in stored.points) == [0.1, 0.3]


def test_a_study_stored_with_a_clause_forbidding_everything_runs_once_reopened_with_the_fixed_space(
    tmp_path: Path,
) -> None:
    """An older version stored such a space (it was refused only at the first ask), and the reopen check refused the
    fixed one: "its trials were drawn from the stored space", though it had none."""
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    fixed = ts.Space(CUBE, forbidden=[ts.Forbidden("a > b")])
    study = ts.Study(fixed, metric="loss", budget=ts.Budget(trials=3), storage=url, name="s", seed=0)
    broken = {**fixed.to_json(), "forbidden": ["a >= 0"]}
    study.storage.update_study_spec(study.info.id, {**study.storage.load_study("s").spec, "space": broken})

    with pytest.warns(ts.SpaceWarning, match=r"changed forbidden \(stored \[\"a >= 0\"\], given \[\"a > b\"\]\)"):
        reopened = ts.Study(fixed, metric="loss", storage=url, name="s")
    reopened.optimize(_loss, progress=False)

    assert len(reopened.trials) == 3 and all(fixed.forbids(trial.params) is None for trial in reopened.trials)


def _never_holding(clause: ts.Forbidden, params: dict[str, ts.Param]) -> str:
    with pytest.warns(ts.SpaceWarning) as said:
        ts.Space(params, forbidden=[clause])
    (message,) = [str(warning.message) for warning in said]
    return message


def test_a_clause_comparing_a_value_with_itself_strictly_is_warned_of_as_never_holding() -> None:
    message = _never_holding(ts.Forbidden("alpha > alpha"), {"alpha": ts.Float(0.0, 1.0)})

    assert message == (
        "forbidden clause 'alpha > alpha' never holds (alpha > alpha compares a value with itself), so it forbids "
        "nothing: fix it (a typo?), or drop it"
    )


def test_a_clause_asking_one_parameter_for_two_values_at_once_is_warned_of_as_never_holding() -> None:
    message = _never_holding(ts.Forbidden("kernel == 'rbf' and kernel == 'linear'"),
                             {"kernel": ts.Choice(["linear", "rbf"])})  # fmt: skip

    assert "never holds (no value of kernel meets kernel == 'rbf' and kernel == 'linear')" in message


def test_a_mapping_naming_a_parameter_its_own_values_switch_off_is_warned_of_as_never_holding() -> None:
    params: dict[str, ts.Param] = {
        "optimizer": ts.Choice(["adam", "sgd"]), "momentum": ts.Float(0.0, 0.99, when={"optimizer": "sgd"}),
    }  # fmt: skip

    message = _never_holding(ts.Forbidden({"optimizer": "adam", "momentum": ts.Above(0.5)}), params)

    assert "no value of optimizer meets optimizer in ['sgd'] (for momentum to be on) and optimizer == 'adam'" in message


def test_a_clause_one_alternative_of_which_can_hold_is_not_warned_of() -> None:
    space = ts.Space({"alpha": ts.Float(0.0, 1.0)}, forbidden=[ts.Forbidden("alpha > alpha or alpha > 0.5")])

    assert space.forbids({"alpha": 0.7}) is not None


def test_a_config_file_clause_that_never_holds_is_warned_of(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(
        textwrap.dedent("""
        objective = "objectives:quadratic"
        metric = "loss"

        [space]
        alpha = {type = "float", low = 0.0, high = 1.0}
        forbidden = ["alpha > alpha"]
    """)
    )

    with pytest.warns(ts.SpaceWarning, match=r"forbidden clause 'alpha > alpha' never holds"):
        load_config(path)


# 5. Names Python does not read, values unquoted, numbers by value, both bounds ---------------------------------------
XGB: dict[str, ts.Param] = {
    "lambda": ts.Float(0.0, 10.0), "max-depth": ts.Int(1, 12), "booster": ts.Choice(["gbtree", "dart"]),
}  # fmt: skip


def _refused(clause: str, params: dict[str, ts.Param]) -> str:
    with pytest.raises(ts.SpaceError) as refused:
        ts.Space(params, forbidden=[ts.Forbidden(clause)])
    return str(refused.value)


def test_an_expression_names_a_keyword_and_a_hyphenated_parameter_in_backticks() -> None:
    space = ts.Space(XGB, forbidden=[ts.Forbidden("`lambda` > 5 and `max-depth` > 8")])

    assert space.forbids({"lambda": 6.0, "max-depth": 10, "booster": "dart"}) is not None
    assert space.forbids({"lambda": 6.0, "max-depth": 4, "booster": "dart"}) is None


def test_a_keyword_written_without_backticks_is_refused_saying_to_write_it_in_backticks() -> None:
    with pytest.raises(
        ts.SpaceError,
        match=r"does not parse .*; a parameter whose name is a Python keyword or holds "
        r"other characters than letters, digits and _ is written in backticks, e\.g\. `lambda` > 1",
    ):
        ts.Forbidden("lambda > 5")


def test_a_hyphenated_name_written_without_backticks_is_refused_naming_the_parameter_to_quote() -> None:
    message = _refused("max-depth > 8", XGB)

    assert "names 'max', which is not a parameter of the space: write max-depth in backticks, `max-depth`" in message


def test_a_choice_value_written_unquoted_is_refused_saying_to_quote_it() -> None:
    message = _refused("booster == dart", XGB)

    assert "names 'dart', which is not a parameter of the space: 'dart' is a value of booster, so quote it to " \
           "compare with the value, booster == 'dart'" in message  # fmt: skip


def test_a_float_equal_to_an_integer_value_is_taken_as_that_value() -> None:
    space = ts.Space({"degree": ts.Int(1, 5)}, forbidden=[ts.Forbidden("degree in [1, 2.0]")])

    assert [space.forbids({"degree": d}) is not None for d in (1, 2, 3)] == [True, True, False]


def test_a_mapping_test_between_two_bounds_forbids_the_values_strictly_between_them() -> None:
    space = ts.Space({"degree": ts.Int(1, 5)}, forbidden=[ts.Forbidden({"degree": ts.Above(1) & ts.Below(4)})])

    assert [d for d in range(1, 6) if space.forbids({"degree": d}) is not None] == [2, 3]
    assert space.to_json()["forbidden"] == [{"degree": {"above": 1, "below": 4}}]
    assert ts.Space.from_json(space.to_json()) == space


def test_a_config_file_states_both_bounds_in_one_table(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(
        textwrap.dedent("""
        objective = "objectives:quadratic"
        metric = "loss"

        [space]
        degree = {type = "int", low = 1, high = 5}
        forbidden = [{degree = {above = 1, below = 4}}]
    """)
    )

    expected = ts.Space({"degree": ts.Int(1, 5)}, forbidden=[ts.Forbidden({"degree": ts.Above(1) & ts.Below(4)})])
    assert load_config(path).space == expected


@pytest.mark.parametrize(
    ("test", "refusal"),
    [
        (lambda: ts.Above(4) & ts.Below(1), r"so x < y must hold, got Above\(4\) & Below\(1\), which no value meets"),
        (lambda: ts.Above(1) & ts.Above(2), r"a test combines an Above with a Below .*, got Above\(1\) & Above\(2\)"),
    ],
)
def test_bounds_that_cannot_combine_are_refused(test: Any, refusal: str) -> None:
    with pytest.raises(ts.SpaceError, match=refusal):
        test()


def test_both_bounds_with_no_value_between_them_are_refused_as_never_holding() -> None:
    with pytest.raises(ts.SpaceError, match=r"1 < degree < 2 never holds, since degree takes integers in \[1, 5\]"):
        ts.Space({"degree": ts.Int(1, 5)}, forbidden=[ts.Forbidden({"degree": ts.Above(1) & ts.Below(2)})])


def _product_space(clause: str) -> ts.Space:
    return ts.Space({"batch": ts.Int(32, 4096, base=2), "accum": ts.Int(1, 8)}, forbidden=[ts.Forbidden(clause)])


def test_a_stored_clause_reopens_written_with_other_spacing_or_parentheses(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/spaced.db"
    study = ts.Study(_product_space("batch * accum > 4096"), metric="loss", storage=url, name="spaced", seed=0)
    study.optimize(_loss, n_trials=2)
    for text in ("batch*accum > 4096", "(batch * accum) > 4096", "batch * accum>4096"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nor is the stored space replaced: it has trials, and it is the same
            reopened = ts.Study(_product_space(text), metric="loss", storage=url, name="spaced")
        assert [clause.to_json() for clause in reopened.space.forbidden] == ["batch * accum > 4096"], "as stored"
    assert _product_space("batch*accum > 4096") == _product_space("batch * accum > 4096")
    assert hash(_product_space("batch*accum > 4096")) == hash(_product_space("batch * accum > 4096"))
    with pytest.raises(ts.ConfigError, match="changed forbidden"):  # another clause is another space
        ts.Study(_product_space("batch * accum > 2048"), metric="loss", storage=url, name="spaced")
