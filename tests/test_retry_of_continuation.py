"""A retried PBT continuation trains from scratch and is recorded as what it is: no continuation's attributes, and
one that says which continuation it runs from step 0."""

from __future__ import annotations

import numpy as np

import tunesmith as ts
from tunesmith.study._recovery import CONTINUATION, RETRIED_FROM_SCRATCH
from tunesmith.trial import TrialRecord


def _retry_of_a_failed_continuation() -> tuple[TrialRecord, TrialRecord]:
    """Four members, the worst stopped at step 2; its replacement (a continuation of the best) fails on a bug and is
    re-queued with `retry_failed`: the continuation's record and its retry's."""
    study = ts.Study(ts.Space({"lr": ts.Float(0.01, 1.0, log=True)}), metric="loss",
                     scheduler=ts.PBT(perturbation_interval=2, min_population=4), budget=ts.Budget(resource=200),
                     storage="memory", seed=0, sampler="random")  # fmt: skip
    rng = np.random.default_rng(0)
    members = [study.ask() for _ in range(4)]
    quality = dict(zip((t.number for t in members), (0.1, 1.0, 2.0, 9.0), strict=True))
    for step in (1, 2):
        for member in members:
            member.report(step, loss=quality[member.number] + 0.05 * rng.normal())
            member.save_checkpoint({"w": step})
    study.tell(members[3])
    continuation = study.ask()
    continuation.report(3, loss=0.5)
    study.tell(continuation, error="RuntimeError: CUDA device-side assert")
    study.retry_failed()
    retry = study.ask()
    return study.trials[continuation.number], study.trials[retry.number]


def test_a_retry_of_a_continuation_keeps_none_of_the_continuation_attributes() -> None:
    continuation, retry = _retry_of_a_failed_continuation()
    assert {"parent", "lineage", "replaces", "explored", "start_step"} <= set(continuation.attrs)
    assert continuation.attrs["sampler"] == "pbt"
    assert retry.attrs["retry_of"] == continuation.number and retry.params == continuation.params
    assert not set(retry.attrs) & CONTINUATION, retry.attrs


def test_a_retry_of_a_continuation_says_which_continuation_it_runs_from_scratch() -> None:
    continuation, retry = _retry_of_a_failed_continuation()
    assert retry.attrs[RETRIED_FROM_SCRATCH] == {
        "parent": continuation.attrs["parent"],
        "start_step": continuation.attrs["start_step"],
    }
