"""A metric given as the tensor the training computed, which requires grad: read as its value, with no warning.

PyTorch warns once in a process when ``float()`` converts a tensor that requires grad ("Converting a tensor with
requires_grad=True to a scalar"), and the warning pointed at tunesmith's line. Since it is given once per process,
each case runs in a fresh interpreter with warnings as errors: a warning there fails the trial it is raised in.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")

SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import torch
    import tunesmith as ts

    warnings.simplefilter("error")
    target = torch.linspace(0.0, 1.0, 50)

    def objective(trial):
        w = torch.tensor(trial.params["x"], requires_grad=True)
        for _ in trial.steps(3):
            trial.report(loss=(w - 0.5) ** 2)  # the loss tensor itself, as a training loop has it
        per_example = (w - target) ** 2  # reduction="none": one loss per example, still in the graph
        listed = [(w - t) ** 2 for t in target[:5]]  # a list of loss tensors, each in the graph
        return {"loss": (w - 0.5) ** 2, "per_example": per_example, "listed": listed}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3),
                     storage="memory", seed=0)
    study.optimize(objective, fail_fast=None)
    print(json.dumps([
        {"state": r.state.value, "reason": r.reason, "loss": r.metrics.get("loss"), "x": r.params["x"],
         "per_example": r.metrics.get("per_example"), "count": r.metrics.get("count:per_example"),
         "listed": r.metrics.get("count:listed"),
         "curve": [value for _, value in r.curve("loss")]}
        for r in study.trials
    ]))
    """
)


def test_a_loss_tensor_that_requires_grad_is_read_without_a_warning() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    trials = json.loads(done.stdout.strip().splitlines()[-1])
    assert [t["state"] for t in trials] == ["complete"] * 3, [t["reason"] for t in trials]
    for t in trials:
        expected = (t["x"] - 0.5) ** 2
        assert t["loss"] == pytest.approx(expected, rel=1e-5)
        assert t["curve"] == pytest.approx([expected] * 3, rel=1e-5)
        assert t["count"] == 50 and t["listed"] == 5
        assert t["per_example"] == pytest.approx(sum((t["x"] - i / 49) ** 2 for i in range(50)) / 50, rel=1e-4)
    assert "requires_grad" not in done.stderr
