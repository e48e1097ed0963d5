"""Importance under early stopping reads the highest rung enough trials reached whose values there spread beyond
their per-example noise: the survivors of a rung's cut were selected for their values below it, and where they no
longer differ beyond the noise of the validation examples, nothing is left there for the parameters to explain.

An SGD study on digits (92 trials under ASHA, 44 at 3 epochs) read importance at 3 epochs, where the survivors' errors
spread 0.9 times as much as their standard errors allow, and said no parameter mattered ("at least 44 more trials
would be needed") while at 1 epoch the 92 trials showed the learning rate taking 45% of the variation.
"""

from __future__ import annotations

import math

import numpy as np

import tunesmith as ts
from tunesmith.report._data import ReportData, analyse

EXAMPLES = 300


def objective(trial: ts.Trial) -> dict[str, np.ndarray]:
    """An error rate set by the learning rate alone: 10% on a plateau a decade and a half wide, worse outside it; the
    same at every step, so the configurations that survive a cut all sit on the plateau."""
    distance = abs(math.log10(trial.params["lr"]) + 2.0)
    rate = 0.1 + 0.3 * max(0.0, distance - 0.7)
    rng = np.random.default_rng(trial.seed)
    wrong = np.zeros(EXAMPLES)
    for _ in trial.steps(27):
        wrong = (rng.random(EXAMPLES) < rate).astype(float)
        trial.report(error=float(wrong.mean()))
    return {"error": wrong}


def study() -> ts.Study:
    space = ts.Space({"lr": ts.Float(1e-4, 1.0, log=True), "width": ts.Float(0.0, 1.0)})
    made = ts.Study(space, metric="error", scheduler=ts.ASHA(min_resource=1, max_resource=27, eta=3),
                    budget=ts.Budget(resource=27 * 20), sampler="random", storage="memory", name="plateau", seed=0)
    made.optimize(objective)
    return made


def test_importance_steps_down_to_a_rung_whose_values_spread_beyond_their_noise_and_finds_the_learning_rate() -> None:
    findings = analyse(ReportData.from_study(study()))
    found = findings.importance
    assert found is not None and found.shown, findings.importance_note
    assert found.main[0].params == ("lr",), found.main
    note = findings.importance_note or ""
    assert "importance measured at resource 1 over the" in note, note
    assert "not at the higher rung" in note and "do not spread beyond their per-example noise" in note, note
    assert "chosen on the values alone, never on the parameters" in note, note
