"""A result that ``float()`` cannot read, whatever it raises, fails its trial as a bad result: it never escapes
`optimize` and never leaves the trial running in storage. So does one that gives a metric's noise twice, as
per-example values and as its own ``stderr:``/``count:`` key (which of the two was stored depended on the keys'
order); beside one number, that key is the objective's own noise, and is stored. A `digest:` key is
tunesmith's own (the fingerprint of per-example values the holdout check reads) and is refused from an objective."""

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


@pytest.mark.parametrize(
    ("result", "key"),
    [({"loss": [0.2, 0.4, 0.3], "stderr:loss": 0.01}, "stderr:loss"),
     ({"stderr:loss": 0.01, "loss": [0.2, 0.4, 0.3]}, "stderr:loss"),
     ({"loss": [0.2, 0.4, 0.3], "count:loss": 500}, "count:loss")],
    ids=["stderr-after-values", "stderr-before-values", "count-beside-values"],
)  # fmt: skip
def test_per_example_values_with_their_own_noise_key_fail_the_trial_naming_the_key(
    result: dict[str, Any], key: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=6), storage=url, name="s", seed=0)
    with pytest.raises(ObjectiveError, match=f"per-example values.*also returns '{key}'=.*values alone"):
        study.optimize(lambda trial: result)
    stored = ts.Study.load("s", storage=url).trials
    assert [(r.state, r.kind) for r in stored] == [(ts.TrialState.FAILED, ts.TrialKind.BAD_RESULT)] * 3


def test_a_number_returned_with_its_own_stderr_key_is_stored_with_that_stderr(tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        x = trial.params["x"]
        return {"loss": x, "stderr:loss": x / 10}  # e.g. a bootstrap standard error the objective computed

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage=f"sqlite:///{tmp_path}/s.db", seed=0)
    study.optimize(objective)
    stored = [(r.state, r.metrics["stderr:loss"]) for r in study.trials]
    assert stored == [(ts.TrialState.COMPLETE, r.params["x"] / 10) for r in study.trials]


@pytest.mark.parametrize(
    "result",
    [{"loss": 0.3, "digest:loss": 12345.0}, {"loss": [0.2, 0.4, 0.3], "digest:loss": 12345.0}],
    ids=["beside-a-number", "beside-values"],
)
def test_a_digest_key_the_objective_returns_itself_fails_the_trial(result: dict[str, Any], tmp_path: Path) -> None:
    # The holdout check reads digest:<m> as the fingerprint of the validation examples: one written by the objective
    # could hide a holdout that is the validation set.
    url = f"sqlite:///{tmp_path}/s.db"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=6), storage=url, name="s", seed=0)
    with pytest.raises(ObjectiveError, match=r"returns 'digest:loss', but 'digest:' keys are tunesmith's own"):
        study.optimize(lambda trial: result)
    stored = ts.Study.load("s", storage=url).trials
    assert [(r.state, r.kind) for r in stored] == [(ts.TrialState.FAILED, ts.TrialKind.BAD_RESULT)] * 3
