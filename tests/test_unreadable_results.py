"""A result that ``float()`` cannot read, whatever it raises, fails its trial as a bad result: it never escapes
`optimize` and never leaves the trial running in storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


class _FailingTensor:
    """Stands in for a device tensor whose conversion raises the framework's own error."""

    def __float__(self) -> float:
        raise RuntimeError("device-side assert triggered")


@pytest.mark.parametrize(
    ("result", "raised"),
    [({"loss": 10**400}, "OverflowError"), ({"loss": _FailingTensor()}, "RuntimeError"), (10**400, "OverflowError"),
     ({"loss": [1.0, 10**400]}, "OverflowError")],
    ids=["huge-int", "tensor-error", "bare-huge-int", "per-example-huge-int"],
)  # fmt: skip
def test_a_result_float_cannot_read_fails_the_trial_and_fail_fast_stops(
    result: Any, raised: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=6), storage=url, name="s", seed=0)
    with pytest.raises(ObjectiveError, match=f"float\\(\\)[^:]*:? ?(raised )?{raised}"):
        study.optimize(lambda trial: result)
    stored = ts.Study.load("s", storage=url).trials
    assert [(r.state, r.kind) for r in stored] == [(ts.TrialState.FAILED, ts.TrialKind.BAD_RESULT)] * 3
