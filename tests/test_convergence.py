"""``Budget(until_converged=True)``: a search stops once what is left to find is below the noise of a score, says
so, records it for every worker and command, and never stops on a metric whose noise it cannot read."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import ConvergenceAttr, read_attr
from tunesmith.budget import Budget
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.discipline.gap import noise_of
from tunesmith.discipline.sequence import search_left
from tunesmith.errors import ConfigError
from tunesmith.study._convergence import MIN_TRIALS, trial_noise
from tunesmith.trial import TrialRecord, TrialState

SPACE = ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)})


def bowl(params: dict[str, Any]) -> float:
    """The true loss: 0 at (0.3, 0.6), 0.65 at the farthest corner."""
    return float((params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2)


def noisy_bowl(noise: float, seed: int, report_noise: bool = True) -> Callable[[ts.Trial], dict[str, float]]:
    """The bowl measured with Gaussian noise of standard deviation ``noise``, reported as the standard error."""
    draws = np.random.default_rng(seed)

    def objective(trial: ts.Trial) -> dict[str, float]:
        measured = {"loss": bowl(trial.params) + float(draws.normal(0.0, noise))}
        return {**measured, "stderr:loss": noise} if report_noise else measured

    return objective


def test_a_search_within_noise_of_the_optimum_stops_records_why_and_stays_stopped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    budget = ts.Budget(trials=80, until_converged=True)
    study = ts.Study(SPACE, metric="loss", budget=budget, storage=url, name="bowl", seed=1)
    result = study.optimize(noisy_bowl(0.05, seed=1), progress=False)
    assert result.converged and MIN_TRIALS <= result.trials_run < 80, result
    assert result.stop_reason.startswith(f"the search converged after {result.trials_run} complete trials: at most ")
    recorded = read_attr(study.attrs, ConvergenceAttr)
    assert recorded is not None and recorded.trials == result.trials_run and recorded.best == study.best.number
    assert 0.0 <= recorded.bound < recorded.noise == 0.05
    assert bowl(study.best.params) < 0.05  # the best found is within the noise of the optimum (0)
    # Every later ask, from any Study object or worker, reads the record and stops at once.
    again = ts.Study.load("bowl", storage=url)
    second = again.optimize(noisy_bowl(0.05, seed=2), progress=False)
    assert second.trials_run == 0 and second.converged and second.stop_reason == result.stop_reason
    assert search_left(again) is None  # the search is over: `tunesmith run` opens a holdout now
    with pytest.raises(ts.SearchConverged, match="the search converged"):
        again.ask()


def test_status_says_when_and_why_it_stopped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=80, until_converged=True), storage=url,
                     name="bowl", seed=1)  # fmt: skip
    result = study.optimize(noisy_bowl(0.05, seed=1), progress=False)
    shown = CliRunner().invoke(cli, ["status", "bowl", "--storage", url])
    assert shown.exit_code == 0, shown.output
    assert f"budget: trials {result.trials_run}/80, or until converged" in shown.output
    assert f"the search converged after {result.trials_run} complete trials" in " ".join(shown.output.split())
    as_json = json.loads(CliRunner().invoke(cli, ["status", "bowl", "--storage", url, "--json"]).output)
    assert as_json["budget"]["until_converged"] is True
    assert as_json["converged"] == read_attr(study.attrs, ConvergenceAttr).to_json()  # type: ignore[union-attr]
    page = snapshot(study.info, study.trials, SnapshotCache())  # the live dashboard says it in the same words
    assert page["budget"]["until_converged"] is True
    assert " ".join(page["converged"].split()) in " ".join(shown.output.split())


def test_a_metric_without_a_standard_error_never_stops_it_and_the_run_says_why() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=30, until_converged=True), storage="memory",
                     seed=1)  # fmt: skip
    result = study.optimize(noisy_bowl(0.05, seed=1, report_noise=False), progress=False)
    assert not result.converged and result.trials_run == 30
    assert read_attr(study.attrs, ConvergenceAttr) is None
    said = [n for n in result.notes if n.startswith("until_converged")]
    assert said and "loss carries no standard error (0 of the 20 best trials measured one)" in said[0], result.notes
    assert "fold_metrics('loss', scores)" in said[0]


def test_too_few_trials_are_not_judged_and_the_run_says_so() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=12, until_converged=True), storage="memory",
                     seed=1)  # fmt: skip
    result = study.optimize(noisy_bowl(0.05, seed=1), progress=False)
    assert not result.converged and result.trials_run == 12
    assert f"until_converged: not judged, 12 complete trials of the {MIN_TRIALS}" in " ".join(result.notes)


def test_a_search_that_can_still_improve_beyond_the_noise_goes_on() -> None:
    # Measured almost exactly, the bowl still has far more to give than the noise after 40 trials.
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=40, until_converged=True), storage="memory",
                     seed=1)  # fmt: skip
    result = study.optimize(noisy_bowl(1e-5, seed=1), progress=False)
    assert not result.converged and result.trials_run == 40
    assert not [n for n in result.notes if n.startswith("until_converged")]  # judged: no note


def test_the_noise_is_the_stored_standard_error_else_the_folds_spread() -> None:
    metric = ts.Metric("acc", "max")
    folds = ts.discipline.fold_metrics("acc", [0.90, 0.94, 0.92, 0.96])
    record = TrialRecord(0, {"x": 0.5}, 1, TrialState.COMPLETE, metrics={"acc": 0.93, **folds})
    assert trial_noise(record, metric) == pytest.approx(np.std([0.90, 0.94, 0.92, 0.96], ddof=1) / 2)
    stored = TrialRecord(1, {"x": 0.5}, 1, TrialState.COMPLETE, metrics={"acc": 0.93, "stderr:acc": 0.01, **folds})
    assert trial_noise(stored, metric) == 0.01
    assert trial_noise(TrialRecord(2, {"x": 0.5}, 1, TrialState.COMPLETE, metrics={"acc": 0.93}), metric) is None
    one_fold = TrialRecord(3, {"x": 0.5}, 1, TrialState.COMPLETE, metrics={"acc": 0.93, "fold:0:acc": 0.93})
    assert trial_noise(one_fold, metric) is None


def test_a_perfect_score_in_percent_reads_the_noise_the_verdict_reads_on_its_scale() -> None:
    """100 of 100 right, recorded in percent: the noise is the adjusted share's on that scale, as
    `discipline.gap.noise_of` reads it (it read 0, a measurement without noise, since 100 is no share of 1)."""
    metric = ts.Metric("acc", "max", scale=100)
    metrics = {"acc": 100.0, "stderr:acc": 0.0, "count:acc": 100.0}
    record = TrialRecord(0, {"x": 0.5}, 1, TrialState.COMPLETE, metrics=metrics)
    read = noise_of(metrics, "acc", 100.0)
    assert read is not None and trial_noise(record, metric) == pytest.approx(read.stderr) and read.stderr > 0.9



def test_a_perfect_score_on_counted_examples_carries_the_noise_best_shows_and_an_exact_one_reads_without_crashing(
    tmp_path: Path,
) -> None:
    """100 of 100 examples right stores a standard error of 0: status and tunesmith run divided the bound by it
    (ZeroDivisionError), where best showed 0.00985 from the share with one success and one failure added."""
    from tunesmith.samplers._gp_regret import RegretBound
    from tunesmith.study._convergence import Convergence, room_text

    metric = ts.Metric("acc", "max")
    perfect = TrialRecord(0, {"x": 0.5}, 1, TrialState.COMPLETE,
                          metrics={"acc": 1.0, "stderr:acc": 0.0, "count:acc": 100.0})  # fmt: skip
    assert trial_noise(perfect, metric) == pytest.approx(math.sqrt((101 / 102) * (1 / 102) / 100))
    bound = RegretBound(bound=0.02, best_upper=0.0, space_lower=-0.02, fitted=30, beta=4.0)
    said = room_text(Convergence(trials=30, bound=bound, noise=0.0, best=0), metric)
    assert said is not None and "recorded without noise, so no bound is within it" in said

def test_fold_scores_stop_a_cross_validated_search() -> None:
    draws = np.random.default_rng(3)

    def cross_validated(trial: ts.Trial) -> dict[str, float]:
        scores = 1.0 - bowl(trial.params) + draws.normal(0.0, 0.1, size=5)  # five folds, each off by about 0.1
        return {"acc": float(np.mean(scores)), **ts.discipline.fold_metrics("acc", scores)}

    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=80, until_converged=True),
                     storage="memory", seed=1)  # fmt: skip
    result = study.optimize(cross_validated, progress=False)
    recorded = read_attr(study.attrs, ConvergenceAttr)
    assert result.converged and recorded is not None and math.isclose(recorded.noise, 0.1 / math.sqrt(5), rel_tol=0.5)


def test_the_budget_stores_it_only_when_set_and_refuses_it_alone_or_on_several_objectives(tmp_path: Path) -> None:
    assert "until_converged" not in Budget(trials=5).to_json()  # studies stored without it keep their stored form
    budget = Budget.from_json({"trials": 50, "until_converged": True}, stored=True)
    assert budget.until_converged and budget.describe() == "trials=50, until_converged=True"
    assert Budget.from_json(budget.to_json()) == budget
    with pytest.raises(ConfigError, match=r"until_converged needs a limit beside it, got until_converged=True alone"):
        Budget(until_converged=True)
    with pytest.raises(ConfigError, match=r"until_converged must be True or False, got until_converged='yes'"):
        Budget(trials=5, until_converged="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"until_converged reads one metric, got a study with 2 objectives"):
        ts.Study(SPACE, metrics=["loss", ts.Metric("latency", "min")], budget=budget, storage="memory")
    config = tmp_path / "study.toml"
    config.write_text('name = "c"\nobjective = "m:f"\nmetric = "loss"\n[space]\nx = {type = "float", low = 0, high = 1}'
                      "\n[budget]\ntrials = 40\nuntil_converged = true\n")  # fmt: skip
    assert load_config(config).budget == Budget(trials=40, until_converged=True)


def test_extend_past_convergence_lets_the_search_go_on_and_is_refused_without_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=40, until_converged=True), storage=url,
                     name="bowl", seed=1)  # fmt: skip
    first = study.optimize(noisy_bowl(0.05, seed=1), progress=False)
    assert first.converged
    extended = CliRunner().invoke(cli, ["extend", "bowl", "--storage", url, "--past-convergence"])
    assert extended.exit_code == 0, extended.output
    assert "trials=40, until_converged=True -> trials=40" in extended.output
    again = ts.Study.load("bowl", storage=url)
    second = again.optimize(noisy_bowl(0.05, seed=2), progress=False)
    assert not second.converged and len(again.trials) == 40  # it ran on to its trial budget
    shown = " ".join(CliRunner().invoke(cli, ["status", "bowl", "--storage", url]).output.split())
    assert "until_converged was turned off since, and the search goes on" in shown
    with pytest.raises(ConfigError, match=r"does not stop at convergence \(its budget is trials=40\), got until_conv"):
        again.extend_budget(until_converged=False)
    with pytest.raises(ConfigError, match=r"extend_budget takes until_converged=False only"):
        again.extend_budget(trials=50, until_converged=True)


def test_the_html_report_says_it_beside_the_budget(tmp_path: Path) -> None:
    from tunesmith.report import write_report

    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=80, until_converged=True), storage="memory",
                     seed=1)  # fmt: skip
    result = study.optimize(noisy_bowl(0.05, seed=1), progress=False)
    page = write_report(study, tmp_path / "r.html").read_text()
    assert f"the search converged after {result.trials_run} complete trials: at most" in page


def test_a_scikit_learn_search_stops_on_its_folds_spread(tmp_path: Path) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = load_breast_cancer(return_X_y=True)
    search = ts.TunesmithSearchCV(
        make_pipeline(StandardScaler(), SVC()),
        {"svc__C": ts.Float(1e-2, 1e3, log=True), "svc__gamma": ts.Float(1e-4, 1.0, log=True)},
        n_iter=60, cv=5, random_state=0, until_converged=True, storage=f"sqlite:///{tmp_path / 's.db'}",
    )  # fmt: skip
    search.fit(x, y)
    assert MIN_TRIALS <= len(search.trials_) < 60 and len(search.cv_results_["params"]) == len(search.trials_)
    recorded = read_attr(ts.Study.load(search.study_name_, storage=search.storage).attrs, ConvergenceAttr)
    assert recorded is not None and recorded.trials == len(search.trials_) and recorded.bound < recorded.noise


RUN_MODULE = """
import random


def objective(trial):
    x, y = trial.params["x"], trial.params["y"]
    rng = random.Random(42)  # one validation set: 200 examples, each loss off by about 0.7
    return {"loss": [(x - 0.3) ** 2 + (y - 0.6) ** 2 + rng.gauss(0.0, 0.7) for _ in range(200)]}


def evaluate(params, seed):
    rng = random.Random(7)
    return {"holdout_loss": [(params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2 + rng.gauss(0.0, 0.7)
                             for _ in range(200)]}
"""


def test_tunesmith_run_stops_at_convergence_and_opens_the_holdout(tmp_path: Path) -> None:
    (tmp_path / "convmod.py").write_text(RUN_MODULE)
    config = tmp_path / "study.toml"
    config.write_text(
        'name = "conv"\nobjective = "convmod:objective"\nseed = 1\n[metric]\nname = "loss"\n'
        "[budget]\ntrials = 60\nuntil_converged = true\n"
        '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\ny = { type = "float", low = 0.0, high = 1.0 }\n'
        '[holdout]\nevaluate = "convmod:evaluate"\ntop = 2\nseeds = 2\n'
    )
    url = f"sqlite:///{tmp_path / 'c.db'}"
    ran = CliRunner(env={"COLUMNS": "300"}).invoke(cli, ["run", str(config), "--storage", url])
    assert ran.exit_code == 0, ran.output
    said = " ".join(ran.output.split())
    assert "stopped: the search converged after" in said, said
    study = ts.Study.load("conv", storage=url)
    recorded = read_attr(study.attrs, ConvergenceAttr)
    assert recorded is not None and len(study.trials) == recorded.trials < 60
    assert "verdict" in study.attrs  # the search was over, so the holdout was opened


def test_status_says_what_is_left_to_find_whatever_the_budget(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    precise = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=30), storage=url, name="precise", seed=1)
    precise.optimize(noisy_bowl(1e-5, seed=1), progress=False)
    unmeasured = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=30), storage=url, name="plain", seed=1)
    unmeasured.optimize(noisy_bowl(0.05, seed=1, report_noise=False), progress=False)
    shown = " ".join(CliRunner().invoke(cli, ["status", "precise", "--storage", url]).output.split())
    assert "left to find: at most " in shown and "(a Gaussian process's bound at 90%, 30 complete trials), " in shown
    assert "times the standard error of a score (1e-05): more trials may find better" in shown
    said = " ".join(CliRunner().invoke(cli, ["status", "plain", "--storage", url]).output.split())
    assert "left to find: not read, since loss carries no standard error" in said, said  # not a bound: why not
    left = json.loads(CliRunner().invoke(cli, ["status", "precise", "--storage", url, "--json"]).output)["left_to_find"]
    assert left["noise"] == 1e-05 and left["bound"] > left["noise"] and left["trials"] == 30 and not left["converged"]
    assert f"at most {left['bound']:.3g} of loss better than the best (#{left['best']})" in shown
    plain = json.loads(CliRunner().invoke(cli, ["status", "plain", "--storage", url, "--json"]).output)
    assert plain["left_to_find"] is None


def test_the_planner_keeps_it_in_the_budget_it_recommends_and_says_so() -> None:
    space = ts.Space({"lr": ts.Float(1e-4, 1e-1, log=True)})
    plan = ts.discipline.plan(space, Budget(trials=60, until_converged=True), fidelity=27)
    assert plan.budget.until_converged, plan.budget  # the trial limit became a resource budget under early stopping
    assert "until_converged may end the search sooner" in plan.summary()


def test_per_example_values_returned_under_another_name_than_the_metric_are_named_with_the_fix() -> None:
    """``{"acc": 0.9, "example:acc": hits}``: the noise sits beside the metric, under a name nothing reads as its
    noise, and "return per-example values" alone left the user sure they had."""

    def objective(trial: ts.Trial) -> dict[str, Any]:
        hits = np.random.default_rng(trial.seed).random(200) < 0.7 + 0.2 * trial.params["x"]
        return {"acc": float(hits.mean()), "example:acc": hits}

    study = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=22, until_converged=True),
                     storage="memory", seed=1)  # fmt: skip
    result = study.optimize(objective, progress=False)
    said = [n for n in result.notes if n.startswith("until_converged")]
    assert said and "'example:acc' holds per-example values whose mean is acc in every trial: return them as acc " \
        "itself ({'acc': values})" in said[0], result.notes
    plain = ts.Study(SPACE, metric=ts.Metric("acc", "max"), budget=ts.Budget(trials=22, until_converged=True),
                     storage="memory", seed=1)  # fmt: skip
    notes = plain.optimize(lambda trial: {"acc": 0.7 + 0.2 * trial.params["x"]}, progress=False).notes
    assert not any("holds per-example values" in n for n in notes), notes
