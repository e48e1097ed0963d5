"""validate_top re-runs distinct results, not only distinct configurations: a trial whose per-example values are a
better-ranked trial's (their fingerprints agree) gave the same result example by example, so it is not re-run beside it.

A tree's depth past the depth it grows to changes nothing: a logistic regression's C over a plateau tied 28 of 40
trials on 120 examples, each with the same per-example values. validate_top re-ran three of those identical models,
which tied on every seed and told nothing, and the summary advised ``k=39`` to reach the 11 trials within noise
behind them; the tie note never said that the ties were the same result example by example.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from rich.console import Console

import tunesmith as ts
from tunesmith.discipline import seeds
from tunesmith.report._data import ReportData, tie_note
from tunesmith.report.terminal import summary

EXAMPLES = 200
SPACE = ts.Space({"depth": ts.Choice([6, 5, 4, 3, 2, 1])})  # the grid runs them in this order
GROWN = 4  # the depth every tree grows to: a deeper limit changes nothing


def tree(trial: ts.Trial) -> dict[str, Any]:
    """Right on 150 examples plus 5 for each level of depth up to `GROWN`, whatever the seed."""
    correct = np.zeros(EXAMPLES)
    correct[: 150 + 5 * min(trial.params["depth"], GROWN)] = 1.0
    return {"acc": correct}


def searched() -> ts.Study:
    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=6),
                     storage="memory", name="trees", seed=0)  # fmt: skip
    study.optimize(tree)
    return study


def test_trials_with_the_best_per_example_values_are_not_re_run_beside_it() -> None:
    study = searched()
    depth = {r.number: r.params["depth"] for r in study.trials}
    report = ts.validate_top(study, tree, seeds=3, confirm=0)
    # Depths 6, 5 and 4 grew the same tree: the earliest stands for them, then depths 3 and 2.
    assert [depth[c.trial] for c in report.candidates] == [6, 3, 2]
    contest = report.contest
    assert contest is not None and report.winner is not None and report.winner.trial == 0
    rival = contest.rival(3)
    assert rival is not None and not rival.identical and abs(rival.gain - 5 / EXAMPLES) < 1e-12
    assert "not re-run: #1, #2 gave #0's per-example values in the search" in report.summary(), report.summary()
    assert [depth[r.number] for r in seeds.top_configurations(study.trials, study.metric, 3)] == [6, 3, 2]
    assert seeds.same_result_as(study.trials, study.metric) == {1: 0, 2: 0}


def test_the_tie_note_says_the_ties_made_the_same_predictions_and_counts_k_without_them() -> None:
    study = searched()
    data = ReportData(name="trees", space=SPACE, metric=study.metric, records=tuple(study.trials))
    note = " ".join((tie_note(data) or "").split())
    assert note.startswith("3 trials tie exactly at the best's acc = 0.85 (#0, #1, #2)"), note
    assert ("the 2 others (#1, #2) gave #0's value on every validation example (their per-example fingerprints "
            "agree): the same result example by example") in note  # fmt: skip
    # Depths 3 to 1 (#3 to #5) lie within two standard errors of 0.85: validate_top reaches them at k=4, where
    # counting configurations alone took k=6, every trial.
    assert "#3, #4, #5 lie within two standard errors" in note and "k=4)" in note, note
    out = io.StringIO()
    summary(study, console=Console(file=out, width=400), analyses=False)
    assert "gave #0's value on every validation example" in out.getvalue()


def test_ties_whose_per_example_values_differ_are_re_run_apart() -> None:
    """Two models level on the mean that err on other examples are other models: both are re-run."""

    def shifted(trial: ts.Trial) -> dict[str, Any]:
        """Depths 6 and 5 right on 170 examples each, 10 apart; the rest on 100 plus 10 a level."""
        depth = trial.params["depth"]
        correct = np.zeros(EXAMPLES)
        if depth >= 5:
            correct[10 * (6 - depth) : 10 * (6 - depth) + 170] = 1.0
        else:
            correct[: 100 + 10 * depth] = 1.0
        return {"acc": correct}

    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=6),
                     storage="memory", name="shifted", seed=0)  # fmt: skip
    study.optimize(shifted)
    assert seeds.same_result_as(study.trials, study.metric) == {}
    assert [r.params["depth"] for r in seeds.top_configurations(study.trials, study.metric, 2)] == [6, 5]


def test_a_near_tie_whose_values_a_re_run_candidate_gave_is_not_called_not_re_run() -> None:
    """Depth 2 grows depth 3's tree: once #3 re-ran, the tie note lists #4 among neither the ties left out nor the
    advice's k."""
    levels = {6: 4, 5: 4, 4: 4, 3: 3, 2: 3, 1: 1}
    first = seeds.seed_list(0, 2)[0]

    def stunted(trial: ts.Trial) -> dict[str, Any]:
        correct = np.zeros(EXAMPLES)
        correct[: 150 + 5 * levels[trial.params["depth"]]] = 1.0
        correct[-1] = float(trial.seed == first)  # the re-runs' seeds move one example: the seed is read
        return {"acc": correct}

    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), sampler="grid", budget=ts.Budget(trials=6),
                     storage="memory", name="stunted", seed=0)  # fmt: skip
    study.optimize(stunted)
    assert seeds.same_result_as(study.trials, study.metric) == {1: 0, 2: 0, 4: 3}
    report = ts.validate_top(study, stunted, k=2, seeds=2, confirm=0)
    assert [c.trial for c in report.candidates] == [0, 3]
    data = ReportData(name="stunted", space=SPACE, metric=study.metric, records=tuple(study.trials),
                      attrs=study.attrs)  # fmt: skip
    note = " ".join((tie_note(data) or "").split())
    assert "the seed re-runs of #0, #3 picked #0" in note, note
    assert "across 2 seeds; #5 were not re-run: ts.validate_top(study, objective, k=3)" in note, note
