"""The study's Sobol sequence (``sampler="sobol"``, and the quasi-random start of TPE, GP and CMA-ES) goes by trial
number, which never steps back.

A trial's point is the one at its number: invalidating a trial takes it out of the history the sampler reads but
leaves every later trial's point where it was (the sequence went by the history's length, so the next trial ran
the last one's configuration again). A warm start's points are an earlier study's results, not points of this
sequence: they take no index, so a warm-started study's quasi-random trials are those it runs without them.
"""

from __future__ import annotations

import pytest

import tunesmith as ts

SPACE = ts.Space({"x": ts.Float(0, 1), "y": ts.Float(-5, 5)})


def _objective(trial: ts.Trial) -> dict[str, float]:
    return {"loss": trial.params["x"] + trial.params["y"] ** 2}


def _study(sampler: str, **given: object) -> ts.Study:
    return ts.Study(SPACE, metric="loss", sampler=sampler, budget=ts.Budget(trials=7), storage="memory", seed=0,
                    **given)  # fmt: skip


def _with_trial_invalidated(sampler: str, number: int) -> ts.Study:
    study = _study(sampler)
    study.optimize(_objective, n_trials=6, progress=False)
    study.invalidate(number, reason="evaluated on the wrong split")
    study.optimize(_objective, n_trials=1, progress=False)
    return study


def _uninterrupted(sampler: str) -> list[dict[str, object]]:
    study = _study(sampler)
    study.optimize(_objective, progress=False)
    return [t.params for t in study.trials]


@pytest.mark.parametrize("sampler", ["sobol", "tpe"])  # TPE's first 10 trials are Sobol's
def test_invalidating_a_trial_leaves_the_next_trial_the_point_it_had(sampler: str) -> None:
    study = _with_trial_invalidated(sampler, 2)

    assert study.trials[6].params == _uninterrupted(sampler)[6]
    assert study.trials[6].params not in [t.params for t in study.trials[:6]]


def test_invalidating_the_first_trial_leaves_the_sequence_it_set_going() -> None:
    # Without a fixed seed the first trial's point sets the sequence's random shift; it is read back from the
    # earliest trial the sampler still sees, at that trial's own index.
    study = _with_trial_invalidated("sobol", 0)

    assert study.trials[6].params == _uninterrupted("sobol")[6]


def test_warm_start_points_take_no_place_in_a_studys_sobol_sequence() -> None:
    earlier = ts.Study(SPACE, metric="loss", sampler="random", budget=ts.Budget(trials=4), storage="memory", seed=3)
    earlier.optimize(_objective, progress=False)

    warm = _study("sobol", warm_start=earlier)
    warm.optimize(_objective, progress=False)

    assert [t.params for t in warm.trials] == _uninterrupted("sobol")
