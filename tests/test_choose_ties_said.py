"""Every choice rule says the trials it picked among by luck, and reads a trial's noise as the verdict does.

`choose.best` and `choose.knee` picked one of two trials within the recorded noise of each other and the reason said
nothing of the other (only `choose.weights` named such ties). And the rules read only ``stderr:<objective>``, and read
a recorded ``stderr:`` of 0 (an exact value, as the verdict takes it) as "no standard errors recorded": a knee on
exact values was "of unknown noise", and the verdict's front check left a stale choice undecided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tunesmith as ts
from tunesmith.attributes import ChoiceAttr, read_attr
from tunesmith.discipline._front import front_check

OBJECTIVES = [ts.Metric("error"), ts.Metric("cost")]
NOISY = {"stderr:error": 0.01, "stderr:cost": 0.01}
EXACT = {"stderr:error": 0.0, "stderr:cost": 0.0}


def study_of(results: Sequence[Mapping[str, float]], budget: int | None = None) -> ts.Study:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=OBJECTIVES, sampler="random", storage="memory",
                     budget=ts.Budget(trials=budget or len(results)), seed=0)  # fmt: skip
    for result in results:
        study.tell(study.ask(), dict(result))
    return study


def why(study: ts.Study) -> str:
    choice = read_attr(study.attrs, ChoiceAttr)
    assert choice is not None
    return choice.why


def with_noise(noise: Mapping[str, float]) -> list[dict[str, float]]:
    """Two extremes and two trials 0.01 apart on each objective near the knee."""
    return [{"error": 0.0, "cost": 1.0, **noise}, {"error": 1.0, "cost": 0.0, **noise},
            {"error": 0.20, "cost": 0.21, **noise}, {"error": 0.21, "cost": 0.20, **noise}]  # fmt: skip


def test_best_names_the_trial_within_noise_of_its_pick() -> None:
    study = study_of(with_noise(NOISY))
    study.choose(ts.choose.best("error", bounds={"cost": ("<=", 0.5)}))
    assert study.chosen is not None and study.chosen.number == 2
    assert "; within noise of it on error (at 5% over the 3 trials ranked): #3 (error 0.21, cost 0.2); which of " \
           "these and #2 is truly best on it this evidence cannot tell" in why(study)  # fmt: skip


def test_knee_names_the_trial_within_noise_of_its_pick() -> None:
    study = study_of(with_noise(NOISY))
    study.choose(ts.choose.knee())
    assert study.chosen is not None and study.chosen.number == 2
    assert "beyond its noise" in why(study)  # the knee is a knee: off the line beyond its noise
    assert "; within noise of it on its distance from the line (at 5% over the 4 trials ranked): #3 (error 0.21, " \
           "cost 0.2)" in why(study)  # fmt: skip


def test_best_says_it_picked_beyond_the_noise_or_that_the_noise_is_unknown() -> None:
    apart = study_of([{"error": 0.1, "cost": 0.3, **NOISY}, {"error": 0.3, "cost": 0.1, **NOISY}])
    apart.choose(ts.choose.best("error"))
    assert why(apart).endswith("; no other trial of the front lies within noise of it on error")
    unknown = study_of([{"error": 0.1, "cost": 0.3}, {"error": 0.3, "cost": 0.1}])
    unknown.choose(ts.choose.best("error"))
    assert why(unknown).endswith("; no standard errors recorded for error: which trials lie within noise of it on "
                                 "error is unknown")  # fmt: skip


def test_an_exact_knee_is_a_knee_and_not_of_unknown_noise() -> None:
    study = study_of(with_noise(EXACT)[:3])
    study.choose(ts.choose.knee())
    assert "no standard errors recorded" not in why(study)
    assert "off the line on values of no noise" in why(study)


def test_a_stale_choice_on_exact_values_fails_the_front_check_decided() -> None:
    rows = [{"error": 0.0, "cost": 1.0, **EXACT}, {"error": 1.0, "cost": 0.0, **EXACT},
            {"error": 0.3, "cost": 0.3, **EXACT}, {"error": 0.1, "cost": 0.45, **EXACT}]  # fmt: skip
    study = study_of(rows[:3], budget=4)
    study.choose(ts.choose.knee())
    study.tell(study.ask(), rows[3])  # a new exact point is now farther from the line: the knee
    check = front_check(study, study.chosen, opened=False)  # type: ignore[arg-type]
    assert (check.passed, check.decided) == (False, True), check.detail
    assert "now picks #3 (error 0.1, cost 0.45), run since the choice" in check.detail
    assert "#2 lies behind it by the rule on values of no noise, so it is no longer what its rule picks" in check.detail


def test_exact_ties_are_said_level_and_broken_by_number() -> None:
    study = study_of([{"error": 0.2, "cost": 0.5, **EXACT}, {"error": 0.5, "cost": 0.2, **EXACT},
                      {"error": 0.2, "cost": 0.5, **EXACT}])  # fmt: skip
    study.choose(ts.choose.best("error"))
    assert why(study).endswith("; level with it on error, on values of no noise: #2 (error 0.2, cost 0.5); the rule "
                               "takes the earliest trial of those level, #0")  # fmt: skip


def test_the_rules_read_per_fold_values_as_noise() -> None:
    """Five folds a trial: the knee judges its distance from the line on their spread, as the verdict reads them."""
    def folds(error: float, cost: float) -> dict[str, float]:
        shifts = (-0.02, -0.01, 0.0, 0.01, 0.02)
        return {"error": error, "cost": cost, **{f"fold:{i}:error": error + d for i, d in enumerate(shifts)},
                **{f"fold:{i}:cost": cost + d for i, d in enumerate(shifts)}}  # fmt: skip

    study = study_of([folds(0.0, 1.0), folds(1.0, 0.0), folds(0.2, 0.21), folds(0.21, 0.2)])
    study.choose(ts.choose.knee())
    assert "no standard errors recorded" not in why(study)
    assert "standard errors from the line, beyond its noise" in why(study)
    assert "within noise of it on its distance from the line" in why(study)
