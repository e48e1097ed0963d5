"""Running out of memory is a property of a configuration (a batch too large for the device), not of the code: a
region of the space that does so does not stop the study as a broken objective after three trials, and one where
every configuration does stops it at the larger count of failures of any kind, saying so. The three-trial stop for
identical code failures says how to tell configurations that raise on purpose from a bug."""

from __future__ import annotations

import pytest

import tunesmith as ts
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


class OutOfMemoryError(RuntimeError):
    """As torch names its error for a device's memory (``torch.OutOfMemoryError``)."""


class ResourceExhaustedError(Exception):
    """As TensorFlow names its error for a device's memory."""


OUT_OF_MEMORY = {
    "cuda-runtime-error": RuntimeError("CUDA error: out of memory"),
    "torch-type-alone": OutOfMemoryError("Tried to allocate 2.00 GiB; GPU 0 has a total capacity of 79.10 GiB"),
    "tensorflow-oom": ResourceExhaustedError("OOM when allocating tensor with shape[4096,4096]"),
    "xla-resource-exhausted": RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB."),
}


def _region_study(trials: int) -> ts.Study:
    """A study whose first three trials lie above x = 0.5 and whose fourth below."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(trials=trials))
    for x in (0.9, 0.8, 0.7, 0.1):
        study.enqueue({"x": x})
    return study


@pytest.mark.parametrize("error", OUT_OF_MEMORY.values(), ids=OUT_OF_MEMORY.keys())
def test_out_of_memory_in_part_of_the_space_does_not_stop_the_study_at_the_third_trial(error: Exception) -> None:
    def too_large_above_half(trial: ts.Trial) -> float:
        if trial.params["x"] > 0.5:
            raise error
        return float(trial.params["x"])

    study = _region_study(trials=6)
    study.optimize(too_large_above_half)
    assert len(study.trials) == 6 and study.best is not None


def test_out_of_memory_on_every_configuration_stops_the_study_at_the_tenth_trial_saying_so() -> None:
    def never_fits(trial: ts.Trial) -> float:
        raise RuntimeError("CUDA error: out of memory")

    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50))
    with pytest.raises(ObjectiveError, match=r"\(10 out_of_memory; .*Every configuration tried ran out of memory"):
        study.optimize(never_fits)
    assert len(study.trials) == 10


def test_the_three_trial_stop_says_how_to_tell_configurations_that_raise_on_purpose_from_a_bug() -> None:
    def refuses_above_half(trial: ts.Trial) -> float:
        if trial.params["x"] > 0.5:
            raise ValueError("this model cannot take x above 0.5")
        return float(trial.params["x"])

    study = _region_study(trials=50)
    with pytest.raises(ObjectiveError) as caught:
        study.optimize(refuses_above_half)
    advice = str(caught.value).splitlines()[1]
    assert "3 different configurations (x 0.7 to 0.9)" in advice
    assert "leave that region out of the space" in advice and "ts.Infeasible(reason)" in advice
    assert "larger fail_fast" in advice
