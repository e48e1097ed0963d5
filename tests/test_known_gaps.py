"""Known configurations meet the rest of tunesmith: invalidated trials are out of every analysis, figure that
ranks and checkpoint slot, yet listed (marked) wherever trials are listed; a define-by-run study takes enqueued
values of parameters it has not learned yet; the public names are exported."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

import tunesmith as ts
from tunesmith.analysis import classify_curves, diagnose, importance
from tunesmith.attributes import EnqueuedAttr, LearnedSpaceAttr, OptimismAttr, WarmStartAttr, read_attr
from tunesmith.cli import cli
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.errors import SpaceError
from tunesmith.report import ReportData, analyse, plots, render_report, summary, trial_rows, write_csv
from tunesmith.trial import Trial, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)})
REASON = "scored on the training split"


def _loss(params: dict[str, Any]) -> float:
    """x decides the loss; y has no effect at all."""
    return 10.0 * params["x"] ** 2 + 0.1


def _study(n: int, *, storage: str = "memory", name: str = "gaps", **kwargs: Any) -> ts.Study:
    """``n`` trials of `_loss`, each reporting a short learning curve that settles at its final loss."""
    study = ts.Study(SPACE, metric="loss", storage=storage, name=name, sampler="random", seed=7, **kwargs)
    for _ in range(n):
        _tell(study, study.ask(), _loss)
    return study


def _tell(study: ts.Study, trial: Trial, loss: Callable[[dict[str, Any]], float]) -> None:
    final = loss(trial.params)
    for step in range(1, 6):
        trial.report(step, loss=final + 1.0 / step)
    study.tell(trial, {"loss": final})


def _with_invalidated_best(n: int, **kwargs: Any) -> tuple[ts.Study, int]:
    """A study whose best trial (x=0, y=0.987: far better than any other) is invalidated."""
    study = _study(n, **kwargs)
    study.enqueue({"x": 0.0, "y": 0.987})
    _tell(study, study.ask(), _loss)
    planted = study.trials[-1].number
    study.invalidate(planted, REASON)
    assert study.best is not None and study.best.number != planted
    return study, planted


# The analyses ----------------------------------------------------------------------------------------
def test_importance_is_measured_without_invalidated_trials() -> None:
    study, _ = _with_invalidated_best(12)
    assert importance(study.trials, SPACE, "loss").n_trials == 12


def test_curves_are_judged_without_invalidated_trials() -> None:
    study, planted = _with_invalidated_best(8)
    judged = classify_curves(study.trials, "loss")
    assert planted not in judged and len(judged) == 8
    assert planted not in diagnose(study.trials, SPACE, "loss").curves


def test_advice_to_fix_a_parameter_takes_its_value_from_the_best_valid_trial() -> None:
    study, _ = _with_invalidated_best(40)
    found = diagnose(study.trials, SPACE, "loss", importance=importance(study.trials, SPACE, "loss"))
    advice = " ".join(s.text for s in found.suggestions)
    best = study.best
    assert best is not None and "y has little effect" in advice, advice
    assert f"fix it at {best.params['y']:.3g}" in advice and "0.987" not in advice


# The report ------------------------------------------------------------------------------------------
def test_the_report_lists_an_invalidated_trial_with_its_reason_but_never_ranks_it() -> None:
    study, planted = _with_invalidated_best(12)
    data = ReportData.from_study(study)
    assert planted not in [r.number for r in data.ranked()]
    text = render_report(data)
    section = text[text.index("<h2>Invalidated trials</h2>") :]
    assert re.search(rf"<td>{planted}</td><td>complete</td><td>[^<]+</td><td>{REASON}</td>", section)
    top = text[text.index("<h2>Top 10 trials</h2>") : text.index("<h2>Invalidated trials</h2>")]
    assert f"<td>{planted}</td>" not in top
    analysis = json.loads(re.search(r'id="ts-analysis">(.*?)</script>', text, re.S).group(1))  # type: ignore[union-attr]
    assert analysis["importance"]["n_trials"] == 12
    assert "(1 invalidated)" in text


def test_the_history_marks_invalidated_trials_and_never_counts_them_as_best_so_far() -> None:
    study, planted = _with_invalidated_best(12)
    data = ReportData.from_study(study)
    traces = {trace.name: trace for trace in plots.history(data).data}
    assert list(traces["invalidated"].x) == [planted] and list(traces["invalidated"].customdata) == [REASON]
    assert planted not in traces["complete"].x
    best = study.best
    assert best is not None and min(traces["best so far"].y) == pytest.approx(best.value("loss"))


def test_figures_that_rank_or_learn_leave_invalidated_trials_out() -> None:
    study, planted = _with_invalidated_best(12)
    data = ReportData.from_study(study)
    found = analyse(data)
    assert "(12 evaluated trials)" in plots.parallel_coordinates(data).layout.title.text
    numbers = {n for trace in plots.slices(data).data for n in (trace.customdata or ())}
    assert planted not in numbers and len(numbers) == 12
    curves = {n for trace in plots.learning_curves(data, found.diagnosis).data for n in (trace.customdata or ())}
    assert planted not in curves and len(curves - {None}) == 12


def test_the_terminal_summary_lists_the_invalidated_trial_outside_the_top_k() -> None:
    study, planted = _with_invalidated_best(12)
    out = io.StringIO()
    summary(study, console=Console(file=out, width=200, color_system=None), top_k=20, analyses=False)
    text = out.getvalue()
    assert f"invalidated: trial {planted}: {REASON}" in text
    ranked = len(ReportData.from_study(study).ranked())
    assert ranked < 20
    top = text[text.index(f"Top {ranked} ") : text.index("invalidated:")]  # the rows it lists, not the 20 asked
    assert not re.search(rf"^\s*{planted}\s", top, re.M)


# Export ----------------------------------------------------------------------------------------------
def test_the_export_keeps_an_invalidated_trial_with_its_reason(tmp_path: Path) -> None:
    study, planted = _with_invalidated_best(5)
    columns, rows = trial_rows(study)
    assert "invalidated" in columns and len(rows) == 6
    assert {row["number"]: row["invalidated"] for row in rows} == {
        n: REASON if n == planted else None for n in range(6)
    }
    with write_csv(study, tmp_path / "trials.csv").open(newline="") as fh:
        read = {int(row["number"]): row["invalidated"] for row in csv.DictReader(fh)}
    assert read[planted] == REASON and read[0] == ""


def test_a_warm_start_from_an_exported_file_leaves_its_invalidated_trials_out(tmp_path: Path) -> None:
    study, _ = _with_invalidated_best(5)
    path = write_csv(study, tmp_path / "trials.csv")
    warm = ts.Study(SPACE, metric="loss", storage="memory", name="warm", sampler="random", warm_start=str(path))
    points = read_attr(warm.attrs, WarmStartAttr)
    assert points is not None and len(points.points) == 5
    assert {"x": 0.0, "y": 0.987} not in [p["params"] for p in points.points]


# The dashboard ---------------------------------------------------------------------------------------
def test_the_dashboard_marks_an_invalidated_row_and_redraws_once_a_trial_is_invalidated() -> None:
    study = _study(6)
    best = study.best
    assert best is not None
    cache = SnapshotCache()
    info = study.storage.load_study(study.name)
    before = snapshot(info, study.trials, cache)
    assert not any(t.get("name") == "invalidated" for t in before["figures"]["history"]["data"])
    study.invalidate(best.number, REASON)
    after = snapshot(info, study.trials, cache)
    rows = {row["number"]: row for row in after["latest"]}
    assert rows[best.number]["invalidated"] == REASON and rows[best.number]["state"] == "complete"
    assert all(row["invalidated"] is None for n, row in rows.items() if n != best.number)
    assert after["best"]["number"] != best.number
    marked = [t for t in after["figures"]["history"]["data"] if t.get("name") == "invalidated"]
    assert marked and marked[0]["x"] == [best.number], "the figures were rebuilt, not served from the cache"


# Checkpoints -----------------------------------------------------------------------------------------
def test_an_invalidated_trial_never_holds_a_kept_checkpoint(tmp_path: Path) -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", sampler="random", seed=1, keep_checkpoints=1,
                     checkpoint_dir=tmp_path)  # fmt: skip

    def run(loss: float) -> int:
        trial = study.ask()
        trial.save_checkpoint({"loss": loss})
        study.tell(trial, {"loss": loss})
        return trial.number

    first = run(0.1)
    study.invalidate(first, REASON)
    second = run(0.5)
    assert study.trial_checkpoint_dir(second).is_dir(), "the best valid trial keeps its checkpoint"
    assert not study.trial_checkpoint_dir(first).exists()


# Define-by-run and enqueue ---------------------------------------------------------------------------
def _by_name(trial: Trial) -> float:
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 6)
    return lr * layers


def test_a_define_by_run_study_runs_an_enqueued_parameter_it_has_not_learned_yet() -> None:
    study = ts.Study(storage="memory", sampler="random", seed=2)
    study.enqueue({"lr": 0.01, "layers": 3.0})
    result = study.optimize(_by_name, n_trials=3)
    first = study.trials[0]
    assert result.states == {"complete": 3}
    assert first.params == {"lr": 0.01, "layers": 3} and isinstance(first.params["layers"], int)
    assert first.attrs["enqueued"] is True and first.metrics["value"] == pytest.approx(0.03)
    learned = read_attr(study.attrs, LearnedSpaceAttr)
    assert learned is not None and list(learned.definitions()) == ["lr", "layers"]
    with pytest.raises(SpaceError, match=r"lr=5.0 is outside the parameter's range"):
        study.enqueue({"lr": 5.0})  # learned now: checked at once


def test_an_enqueued_value_outside_the_range_asked_for_fails_that_trial_only() -> None:
    study = ts.Study(storage="memory", sampler="random", seed=2)
    study.enqueue({"lr": 0.01})
    study.enqueue({"lr": 5.0})  # lr is not learned yet: the trial that asks for it checks it
    study.optimize(_by_name, n_trials=3, fail_fast=None)
    states = [r.state for r in study.trials]
    assert states == [TrialState.COMPLETE, TrialState.FAILED, TrialState.COMPLETE]
    assert "trial 1 was given lr=5.0 by study.enqueue, which suggest_float('lr', 0.0001, 0.1, log=True) cannot " \
           "take: enqueue a value inside the range asked for" in (study.trials[1].error or "")  # fmt: skip


def test_a_study_with_a_space_takes_an_enqueued_parameter_its_objective_asks_for_by_name() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", sampler="random", seed=4)
    study.enqueue({"x": 0.5, "depth": 4})

    def objective(trial: Trial) -> float:
        return trial.params["x"] + trial.suggest_int("depth", 1, 8)

    study.optimize(objective, n_trials=2)
    first = study.trials[0]
    assert first.params["x"] == 0.5 and first.params["depth"] == 4 and first.metrics["loss"] == 4.5
    assert first.attrs["drawn"] == ["y"]
    assert "depth" in study.space


def test_an_unknown_name_close_to_a_known_one_is_refused_as_a_typo() -> None:
    study = ts.Study(storage="memory", sampler="random", seed=2)
    study.optimize(_by_name, n_trials=1)
    with pytest.raises(SpaceError, match=r"did you mean 'layers'\?.*enqueue it once a trial has asked for it"):
        study.enqueue({"layer": 3})
    with pytest.raises(SpaceError, match=r"not a value a parameter asked for by name can take"):
        study.enqueue({"width": [64, 128]})
    assert read_attr(study.attrs, EnqueuedAttr) is None


def test_the_cli_enqueues_a_parameter_the_study_has_not_learned_as_a_number(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/dbr.db"
    ts.Study(storage=url, name="dbr", sampler="random")
    result = CliRunner().invoke(cli, ["enqueue", "--study", "dbr", "--storage", url, "lr=1e-3", "optimizer=adam"])
    assert result.exit_code == 0, result.output
    queue = read_attr(ts.Study.load("dbr", url).attrs, EnqueuedAttr)
    assert queue is not None and queue.configs[0]["params"] == {"lr": 0.001, "optimizer": "adam"}


def test_a_warm_start_of_parameters_a_define_by_run_study_has_not_learned_is_refused_clearly() -> None:
    with pytest.raises(SpaceError, match=r"\['lr'\] are not parameters of this study's space \(none yet\).*"
                                         r"known only once a trial asked for it.*give them in the space"):  # fmt: skip
        ts.Study(storage="memory", warm_start=[{"lr": 0.01, "value": 0.5}])


# Public names ----------------------------------------------------------------------------------------
def test_cmaes_and_the_warm_start_warning_are_public() -> None:
    from tunesmith.samplers import CMAES
    from tunesmith.study import WarmStartWarning

    assert ts.CMAES is CMAES and ts.WarmStartWarning is WarmStartWarning
    assert {"CMAES", "WarmStartWarning"} <= set(ts.__all__)


def test_the_planner_warns_about_few_rounds_for_cma_es_too() -> None:
    space = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0), "c": ts.Int(1, 100)})
    plan = ts.plan(space, ts.Budget(trials=400), workers=128)
    assert plan.sampler == "cmaes"
    assert any("fewer than 4 rounds" in reason for reason in plan.reasons)


def test_the_holdout_checks_judge_without_invalidated_trials() -> None:
    study, _planted = _with_invalidated_best(12)
    valid = [r for r in study.trials if r.invalidated is None]
    verdict = ts.finalize(study, lambda params, seed: {"loss": _loss(params)})
    optimism = read_attr(study.attrs, OptimismAttr)
    assert verdict.trial == study.best.number  # type: ignore[union-attr]
    assert optimism is not None and optimism.compared == len(valid)  # the planted trial is not a rival
