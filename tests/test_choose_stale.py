"""A recorded choice goes stale as trials run after it: the verdict's front check re-applies the recorded rule to the
current front, fails when it now picks another trial beyond the noise of the chosen one, is undecided when within
it, and leans when that noise is not recorded; `reapply_choice` offers the same reading to other callers."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.attributes import HoldoutLogAttr, read_attr
from tunesmith.discipline import StaleChoiceWarning
from tunesmith.discipline._front import front_check as verdict_front_check

OBJECTIVES = [ts.Metric("error"), ts.Metric("latency_ms")]
RULE = ts.choose.best("error", bounds={"latency_ms": ("<=", 30.0)})
EXAMPLES = 400


def measured(mean: float, stderr: float) -> np.ndarray:
    """Per-example values whose mean is ``mean`` and whose standard error is ``stderr``."""
    signs = np.resize([-1.0, 1.0], EXAMPLES)
    return mean + signs * stderr * np.sqrt(EXAMPLES - 1.0)


def chosen_then(first: Mapping[str, object], later: Sequence[Mapping[str, object]]) -> ts.Study:
    """A study of one trial (``first``), chosen by `RULE`, then the ``later`` trials, the chosen one on the front."""
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=OBJECTIVES, sampler="random", storage="memory",
                     budget=ts.Budget(trials=1 + len(later)), seed=0)  # fmt: skip
    study.tell(study.ask(), first)
    study.choose(RULE)
    for result in later:
        study.tell(study.ask(), result)
    assert study.chosen is not None and study.chosen.number in {r.number for r in study.pareto_front}
    return study


def front_check(study: ts.Study) -> ts.Check:
    """The verdict's front check; `finalize` warns before opening the holdout when it cannot decide."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check = ts.finalize(study, lambda params, seed: {"holdout_error": 0.2}).check("Pareto front")
    warned = [w for w in caught if issubclass(w.category, StaleChoiceWarning)]
    assert len(warned) == (not check.decided), [str(w.message) for w in caught]
    if warned:
        said = str(warned[0].message)  # nothing was opened yet: its fix needs no force
        assert said.endswith(check.detail.replace(" (force=True)", "")) and "force" not in said
    return check


def test_a_choice_its_rule_now_passes_over_beyond_the_noise_fails_the_front_check_naming_both_trials() -> None:
    """Trial #1, run since the choice, is 0.1 better on error (7 standard errors) and meets the bound on latency; the
    chosen #0 stays on the front, faster, and the check said "of 2 on the front"."""
    chosen = {"error": measured(0.3, 0.01), "latency_ms": measured(10.0, 0.1)}
    better = {"error": measured(0.2, 0.01), "latency_ms": measured(20.0, 0.1)}
    study = chosen_then(chosen, [better])
    check = verdict_front_check(study, study.chosen, opened=False)
    assert not check.passed and check.decided
    assert "now picks #1 (error 0.2, latency_ms 20)" in check.detail and "#0 lies 7.1 standard errors" in check.detail
    assert "study.choose(ts.choose.best('error', bounds={'latency_ms': ('<=', 30)}))" in check.detail
    # No holdout score could make it ready: finalize refuses before opening, so the holdout is not spent on it.
    with pytest.raises(ts.ConfigError) as refused:
        ts.finalize(study, lambda params, seed: {"holdout_error": 0.2})
    assert str(refused.value).endswith(f"the holdout was not opened: {check.detail}")
    assert read_attr(study.attrs, HoldoutLogAttr) is None


def test_a_choice_its_rule_now_passes_over_within_the_noise_is_undecided_and_says_so() -> None:
    chosen = {"error": measured(0.3, 0.01), "latency_ms": measured(10.0, 0.1)}
    level = {"error": measured(0.29, 0.01), "latency_ms": measured(20.0, 0.1)}  # 0.7 standard errors better
    check = front_check(chosen_then(chosen, [level]))
    assert check.passed and not check.decided and not check.leans
    assert "now picks #1" in check.detail and "within the noise" in check.detail


def test_a_choice_its_rule_now_passes_over_with_its_noise_unrecorded_leans() -> None:
    """Single values (repro_6): the rule re-applied picked #22 over the chosen #0, and the check said nothing."""
    check = front_check(chosen_then({"error": 0.3, "latency_ms": 10.0}, [{"error": 0.2, "latency_ms": 20.0}]))
    assert check.passed and not check.decided and check.leans
    assert "now picks #1" in check.detail and "no standard errors were recorded for error" in check.detail


def test_reapply_choice_names_the_trial_the_recorded_rule_picks_now_and_how_it_stands() -> None:
    from tunesmith.discipline._front import Staleness, reapply_choice

    chosen = {"error": measured(0.3, 0.01), "latency_ms": measured(10.0, 0.1)}
    study = chosen_then(chosen, [{"error": measured(0.2, 0.01), "latency_ms": measured(20.0, 0.1)}])
    again = reapply_choice(study)
    assert again is not None and again.staleness is Staleness.STALE
    assert (again.chosen.number, again.picked.number) == (0, 1)
