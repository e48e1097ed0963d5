"""A bug in the objective stops the study at once, with its traceback, instead of burning the budget."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study import ObjectiveError, PopulationWarning, ShortTrainingWarning

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def broken(trial: ts.Trial) -> float:
    return undefined_name * trial.params["x"]  # type: ignore[name-defined]  # noqa: F821


def test_three_identical_failures_before_any_success_stop_the_study_with_the_traceback() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50))
    with pytest.raises(ObjectiveError, match="NameError: name 'undefined_name' is not defined") as caught:
        study.optimize(broken)
    assert len(study.trials) == 3, "three trials spent, not fifty"
    assert (
        caught.value.error is not None and "Traceback" in caught.value.error and "undefined_name" in caught.value.error
    )
    assert all(r.error and "Traceback" in r.error for r in study.trials), "every failure keeps its traceback"


def test_a_misspelt_metric_is_caught_after_three_trials() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50))
    with pytest.raises(ObjectiveError, match="no 'loss'"):
        study.optimize(lambda t: {"los": t.params["x"]})
    assert len(study.trials) == 3


def test_failures_that_depend_on_the_configuration_do_not_stop_the_study() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(trials=20))

    def fragile(trial: ts.Trial) -> float:
        if trial.params["x"] > 0.3:
            raise ValueError("diverged for large x")
        return trial.params["x"]

    study.optimize(fragile)
    assert len(study.trials) == 20, "a configuration that works shows the objective is sound"


def test_fail_fast_none_keeps_going() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=6))
    result = study.optimize(broken, fail_fast=None)
    assert result.trials_run == 6 and len(result.failures) == 6


def _run_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str, trials: int, settings: str = ""
) -> Result:
    """``tunesmith run`` on a study of one float, whose objective (module ``name``) returns ``body``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{name}.py").write_text(f"def objective(trial):\n    return {body}\n")
    (tmp_path / "study.toml").write_text(
        f'name = "{name}"\nobjective = "{name}:objective"\nseed = 1\n{settings}\n[metric]\nname = "loss"\n'
        f'[budget]\ntrials = {trials}\n[space]\nx = {{ type = "float", low = 0.0, high = 1.0 }}\n'
    )
    return CliRunner().invoke(cli, ["run", "study.toml", "--storage", f"sqlite:///{tmp_path / 's.db'}",
                                    "--no-progress", "--no-report"])  # fmt: skip


def test_the_cli_exits_non_zero_with_the_exception_when_the_objective_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run_config(tmp_path, monkeypatch, "bug", "undefined_name", trials=40)
    assert result.exit_code != 0, result.output
    assert "NameError" in result.output and "undefined_name" in result.output


def test_the_cli_says_how_to_keep_going_in_a_config_and_fail_fast_false_there_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message said "pass fail_fast=None", which no option or config key of `tunesmith run` could do."""
    stopped = _run_config(tmp_path, monkeypatch, "typo", '{"los": 1.0}', trials=6)
    assert stopped.exit_code == 1 and "(in a config file: fail_fast = false) to keep going" in stopped.output
    kept = _run_config(tmp_path, monkeypatch, "typo2", '{"los": 1.0}', trials=6, settings="fail_fast = false")
    assert "this run: 6 trials" in kept.output, kept.output
    assert kept.exit_code == 1, "kept going to the end of the budget, which gave no result"


def test_a_trial_timeout_holds_with_the_default_executor() -> None:
    import time

    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=1))

    def hangs(trial: ts.Trial) -> float:
        time.sleep(60)
        return 0.0

    started = time.monotonic()
    result = study.optimize(hangs, trial_timeout=1.0, fail_fast=None)  # a budget of one failed trial raises
    assert time.monotonic() - started < 30
    assert study.trials[0].kind is ts.TrialKind.TIMEOUT
    assert any("child processes" in note and "trial_timeout" in note for note in result.notes)


def test_the_inline_executor_refuses_limits_it_cannot_enforce() -> None:
    from tunesmith.executors import make_executor

    with pytest.raises(ts.ConfigError, match="cannot enforce trial_timeout"):
        make_executor("inline", 1, trial_timeout=5.0)


def _reports(key: str, every: int = 1):  # type: ignore[no-untyped-def]
    """An objective reporting ``key`` every ``every`` steps (a spare metric at the others) and returning 'loss'."""

    def objective(trial: ts.Trial) -> dict[str, float]:
        for epoch in trial.steps(9):  # reported as steps 1 to 9
            step = epoch + 1
            trial.report(**{key if step % every == 0 else "train_loss": trial.params["x"] + 1.0 / step})
            trial.save_checkpoint({"step": step})  # the curve's state is its step: a promotion resumes from it
        return {"loss": trial.params["x"]}

    return objective


def test_reports_without_the_metric_under_early_stopping_stop_the_study_at_the_last_rung() -> None:
    # ASHA ranks by 'loss' at steps 1 and 3; reports carrying 'los' leave it blind, and every trial would
    # train to the end while the study claimed early stopping.
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50),
                     scheduler=ts.ASHA(1, 9, 3))  # fmt: skip
    with pytest.raises(ObjectiveError, match=r"asha ranks trials by 'loss' at its rungs \(1, 3\), but the reports up "
                       r"to step 3 carry only \['los'\]"):  # fmt: skip
        study.optimize(_reports("los"))
    assert len(study.trials) == 3
    assert all(r.state is ts.TrialState.FAILED and r.kind is ts.TrialKind.MISSING_METRIC for r in study.trials)
    assert all(r.resource == 3 for r in study.trials), "each stopped at the rung that showed it, not at the end"


def test_a_trial_that_never_reports_the_metric_under_promotion_fails_at_the_last_rung() -> None:
    """A rung pauses a trial at its first report of the metric at or past it, so one that reports it every few
    steps is paused past the rung; one that never does is failed once it crossed the last rung (3 of 1, 3, 9)."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50),
                     scheduler=ts.ASHA(1, 9, 3, mode="promote"))  # fmt: skip
    with pytest.raises(ObjectiveError, match="could never be promoted from its rung"):
        study.optimize(_reports("los"))
    assert all(r.resource == 3 for r in study.trials)


def test_a_trial_that_pauses_after_reporting_past_a_rung_is_ranked_by_that_report() -> None:
    """Evaluated every 8 epochs under promote-mode ASHA (rungs 1, 3, 9): the step-8 report crosses rungs 1 and 3,
    and the rung reads the trial there by that report; every trial was failed MISSING_METRIC, 'the reports up
    to step 3 carry only nothing'."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=12),
                     scheduler=ts.ASHA(1, 27, 3, mode="promote"))  # fmt: skip

    def every_eighth(trial: ts.Trial) -> float:
        for epoch in trial.steps(27):
            if (epoch + 1) % 8 == 0 or epoch + 1 == 27:
                trial.report(loss=trial.params["x"] + 1.0 / (epoch + 1))
            trial.save_checkpoint({"epoch": epoch})  # the curve's state is its epoch: a promotion resumes from it
        return float(trial.params["x"])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShortTrainingWarning)  # 12 trials train few to the end, and it says so
        study.optimize(every_eighth)
    assert not [r for r in study.trials if r.state is ts.TrialState.FAILED]
    assert any(r.resource == 27 for r in study.trials), "a trial was promoted from its rung"


def test_a_metric_reported_every_other_step_is_enough_for_the_rungs() -> None:
    # Evaluated at even steps only: rung 1 has no value, but rung 3 reads the one of step 2.
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=12),
                     scheduler=ts.ASHA(1, 9, 3))  # fmt: skip
    study.optimize(_reports("loss", every=2))
    assert len(study.trials) == 12 and not [r for r in study.trials if r.state is ts.TrialState.FAILED]
    assert any(r.state is ts.TrialState.STOPPED for r in study.trials), "the rungs compared the trials"


def test_a_multi_objective_study_needs_every_objective_in_the_reports() -> None:
    study = ts.Study(SPACE, metrics=[ts.Metric("loss"), ts.Metric("latency")], storage="memory", seed=0,
                     budget=ts.Budget(trials=50), scheduler=ts.ASHA(1, 9, 3))  # fmt: skip

    def objective(trial: ts.Trial) -> dict[str, float]:
        for epoch in trial.steps(9):
            trial.report(loss=trial.params["x"] + 1.0 / (epoch + 1))
        return {"loss": trial.params["x"], "latency": 1.0 - trial.params["x"]}

    with pytest.raises(ObjectiveError, match=r"ranks trials by 'latency'"):
        study.optimize(objective)


@pytest.mark.parametrize(
    ("scheduler", "budget"),
    [(ts.MedianStop(warmup_steps=1, min_trials=2), ts.Budget(trials=20)),
     (ts.PBT(perturbation_interval=3, min_population=2), ts.Budget(resource=400))],
    ids=["median", "pbt"],
)  # fmt: skip
def test_schedulers_without_rungs_stop_the_study_when_no_report_carried_the_metric(
    scheduler: ts.schedulers.Scheduler, budget: ts.Budget
) -> None:
    # Median stopping and PBT read the latest value whenever it came, so the trial's end is where a misspelt
    # key shows for certain: nothing could compare the trial, and every trial trained to the end unnoticed.
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=budget, scheduler=scheduler)
    with (
        warnings.catch_warnings(),  # one worker: PBT could not exploit anyway, and says so
        pytest.raises(ObjectiveError, match=rf"{scheduler.name} compares trials by 'loss' as they report, but the "
                      r"trial's reports carry only \['los', 'train_loss'\]"),
    ):  # fmt: skip
        warnings.simplefilter("ignore", PopulationWarning)
        study.optimize(_reports("los", every=3))
    assert len(study.trials) == 3
    for record in study.trials:
        assert record.state is ts.TrialState.FAILED and record.kind is ts.TrialKind.MISSING_METRIC
        assert record.metrics == {"loss": record.params["x"]}, "the result it returned is kept"


def test_schedulers_without_rungs_accept_a_metric_reported_every_few_steps() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=12),
                     scheduler=ts.MedianStop(warmup_steps=1, min_trials=2))  # fmt: skip
    study.optimize(_reports("loss", every=3))
    assert not [r for r in study.trials if r.state is ts.TrialState.FAILED]
    assert any(r.state is ts.TrialState.STOPPED for r in study.trials), "median stopping compared the trials"


def test_a_trial_ending_before_the_last_rung_without_the_metric_fails_at_its_end() -> None:
    # Two steps under rungs at 1 and 3: the last rung never comes, but rung 1 could not compare the trial either.
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=20),
                     scheduler=ts.ASHA(1, 9, 3))  # fmt: skip

    def short(trial: ts.Trial) -> float:
        for step in (1, 2):
            trial.report(step=step, los=trial.params["x"])
        return trial.params["x"]

    with pytest.raises(ObjectiveError, match=r"asha compares trials by 'loss' as they report"):
        study.optimize(short)
    assert all(r.resource == 2 and r.kind is ts.TrialKind.MISSING_METRIC for r in study.trials)


def test_without_early_stopping_reports_may_carry_anything() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=4), scheduler="fifo")
    study.optimize(_reports("los"))
    assert [r.state for r in study.trials] == [ts.TrialState.COMPLETE] * 4


def test_under_hyperband_a_metric_reported_every_third_step_is_read_past_the_first_rung() -> None:
    # The metric comes at steps 3, 6 and 9: the bracket whose first rung is step 1 reads its trials there by their
    # step-3 report, as the stop mode does (they once failed MISSING_METRIC); none fails.
    hyperband = ts.Hyperband(1, 9, 3, mode="promote")
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=20),
                     scheduler=hyperband)  # fmt: skip
    study.optimize(_reports("loss", every=3), fail_fast=None)
    assert not [r for r in study.trials if r.state is ts.TrialState.FAILED]
    first = [r for r in study.trials if hyperband.bracket_of(r.number) == 2]
    assert first and all(r.resource >= 3 for r in first)


def test_an_objective_that_calls_sys_exit_fails_its_trial_and_stops_the_study_like_any_bug() -> None:
    """A training script's main() that calls sys.exit(0) (or argparse's exit) must not end the study
    quietly with exit code 0: inline as in a trial process, it is the trial's failure, with the traceback."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50))

    def exits(trial: ts.Trial) -> float:
        raise SystemExit(0)

    with pytest.raises(ObjectiveError, match="failed the same way and none worked: SystemExit: 0"):
        study.optimize(exits)
    assert len(study.trials) == 3
    record = study.trials[0]
    assert record.state is ts.TrialState.FAILED and record.kind is ts.TrialKind.EXCEPTION
    assert record.reason == "the objective called sys.exit(0)" and "SystemExit" in (record.error or "")


class _FailingReports(ts.storage.MemoryStorage):
    """A storage whose writes of reports fail from the third on, as a locked or lost database does."""

    def __init__(self) -> None:
        super().__init__()
        self.reports = 0

    def add_report(self, *args: object, **kwargs: object) -> None:
        self.reports += 1
        if self.reports >= 3:
            raise ts.errors.StorageUnavailable("the database is locked (injected)")
        super().add_report(*args, **kwargs)  # type: ignore[arg-type]


def test_a_storage_failure_while_the_objective_reports_stops_the_study_instead_of_failing_the_trial() -> None:
    study = ts.Study(SPACE, metric="loss", storage=_FailingReports(), seed=0, budget=ts.Budget(trials=5))

    def reporting(trial: ts.Trial) -> float:
        for step in trial.steps(4):
            trial.report(loss=trial.params["x"] / (step + 1))
        return trial.params["x"]

    with pytest.raises(ts.errors.StorageUnavailable, match="injected"):
        study.optimize(reporting)
    assert not any(r.kind is ts.TrialKind.EXCEPTION for r in study.trials), "the objective is not to blame"


def test_ten_trials_that_all_fail_in_any_way_with_none_working_stop_the_study() -> None:
    """NaN results, crashes, out of memory and timeouts may come from one configuration, so three of them
    do not stop a study; but when the first ten all failed and none worked, every configuration fails."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=40))
    with pytest.raises(ObjectiveError, match=r"the first 10 trials all failed and none worked \(10 non_finite"):
        study.optimize(lambda trial: math.nan)
    assert len(study.trials) == 10, "ten trials spent, not forty"


def test_a_run_that_ends_with_every_trial_failed_raises_however_small_its_budget() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=4))
    with pytest.raises(ObjectiveError, match=r"all 4 trials of this run failed and none worked \(4 non_finite"):
        study.optimize(lambda trial: math.inf)


def test_failures_of_many_configurations_do_not_stop_a_study_once_one_worked() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, sampler="random", budget=ts.Budget(trials=30))
    study.optimize(lambda trial: trial.params["x"] if trial.number == 4 else math.nan)
    assert len(study.trials) == 30 and study.best is not None and study.best.number == 4


def test_the_cli_exits_non_zero_when_every_trial_returned_nan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run_config(tmp_path, monkeypatch, "nan", "float('nan')", trials=6)
    assert result.exit_code != 0, result.output
    assert "all 6 trials of this run failed and none worked (6 non_finite" in " ".join(result.output.split())


def test_reports_in_other_units_than_the_rungs_stop_the_study_naming_the_units() -> None:
    """Epochs reported at optimizer steps 100, 200, ... under ASHA over 27 epochs: the first report is past every
    rung, so no rung compares any trial; the message said the reports 'carry only nothing'."""
    study = ts.Study(SPACE, metric="val_loss", scheduler=ts.ASHA(min_resource=1, max_resource=27), seed=0,
                     storage="memory", budget=ts.Budget(trials=10))  # fmt: skip

    def optimizer_steps(trial: ts.Trial) -> dict[str, float]:
        value = 1.0
        for epoch in trial.steps(27):
            value = (trial.params["x"] - 0.3) ** 2 + 1.0 / (epoch + 1)
            trial.report((epoch + 1) * 100, val_loss=value)
        return {"val_loss": value}

    with pytest.raises(ObjectiveError, match=r"first report came at step 100, past every rung.*other units"):
        study.optimize(optimizer_steps)


def test_a_broken_objective_run_a_trial_or_two_at_a_time_stops_at_the_third_identical_failure() -> None:
    """`tunesmith run --trials 1`, then 2, then 1 on a misspelt metric exited 0 each time: every run counted only
    its own failures, and a run ending under three failures raised nothing."""
    study = ts.Study(SPACE, metric="loss", storage="memory", seed=0, budget=ts.Budget(trials=50))
    misspelt = lambda t: {"los": t.params["x"]}  # noqa: E731
    with pytest.raises(ObjectiveError, match=r"all 1 trials of this run failed and none worked .*The study has no re"):
        study.optimize(misspelt, n_trials=1)
    with pytest.raises(ObjectiveError, match=r"the first 3 trials \(#0, #1, #2\) failed the same way"):
        study.optimize(misspelt, n_trials=2)
    with pytest.raises(ObjectiveError, match=r"the first 4 trials \(#0, #1, #2, #3\) failed the same way"):
        study.optimize(misspelt, n_trials=1)
    with pytest.raises(ObjectiveError, match=r"all 1 trials of this run failed, as did 4 before it, and none worked"):
        study.optimize(lambda t: math.nan, n_trials=1)
    study.optimize(lambda t: t.params["x"], n_trials=1)
    study.optimize(misspelt, n_trials=3)  # once one worked, failures belong to configurations: no stop
    assert len(study.trials) == 9


def test_ten_trials_in_a_row_lost_with_their_worker_stop_the_run_even_after_others_worked() -> None:
    """A lost trial spends no budget: under Ray, a worker environment that lost every trial ran 2,659 trials
    against a budget of 5 and never stopped."""
    from tunesmith.study._optimize import _SystematicFailure
    from tunesmith.trial import TrialKind, TrialRecord, TrialState

    worked = TrialRecord(0, {"x": 0.5}, 0, TrialState.COMPLETE, {"loss": 0.5})
    watch = _SystematicFailure(3, [worked])

    def lost(number: int) -> TrialRecord:
        return TrialRecord(number, {"x": 0.5}, number, TrialState.FAILED, reason="lost worker",
                           kind=TrialKind.LOST_WORKER, error="WorkerCrashedError: the worker died")  # fmt: skip

    for number in range(1, 10):
        watch.see(lost(number))
    watch.see(TrialRecord(10, {"x": 0.1}, 10, TrialState.COMPLETE, {"loss": 0.1}))  # one that worked breaks the row
    for number in range(11, 20):
        watch.see(lost(number))
    with pytest.raises(ObjectiveError, match=r"the last 10 trials of this run all lost their worker .*run for ever"):
        watch.see(lost(20))


def test_the_command_that_lists_the_failures_names_the_study_and_its_storage(tmp_path: Path) -> None:
    """It said `tunesmith trials --failed`, which reads the default ./tunesmith.db: run beside a config that names
    another storage, it failed with "no database at .../tunesmith.db"."""
    errors = [ValueError, KeyError, TypeError, RuntimeError]

    def varied(trial: ts.Trial) -> float:
        raise errors[trial.number % len(errors)]("bad")

    url = f"sqlite:///{tmp_path}/mine.db"
    study = ts.Study(SPACE, metric="loss", storage=url, name="my study", seed=0, budget=ts.Budget(trials=50))
    with pytest.raises(ObjectiveError) as caught:
        study.optimize(varied)
    command = f"tunesmith trials 'my study' --storage {url} --failed"
    assert f"`{command}` lists them" in str(caught.value)
    listed = CliRunner().invoke(cli, ["trials", "my study", "--storage", url, "--failed"])
    assert listed.exit_code == 0, listed.output
    assert "KeyError" in listed.output


_WORKER = """
import sys, time
import tunesmith as ts

def broken(trial):
    time.sleep(0.4)  # the workers' trials overlap
    raise ValueError("broken objective")

study = ts.Study.load("ff", sys.argv[1])
try:
    study.optimize(broken)
except ts.study.ObjectiveError as exc:
    print(str(exc).splitlines()[0])
"""


@pytest.mark.slow  # three worker processes
def test_workers_of_one_study_count_each_others_failures_towards_fail_fast(tmp_path: Path) -> None:
    """Each worker counted only its own failures: three workers of a broken objective ran nine failing trials (three
    each, every one calling its own "the first 3 trials") before all stopped. The study's failures count, whichever
    worker ran them."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'ff.db'}"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name="ff", budget=ts.Budget(trials=30))
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    workers = [subprocess.Popen([sys.executable, str(script), url], stdout=subprocess.PIPE, text=True)
               for _ in range(3)]  # fmt: skip
    said = [worker.communicate(timeout=120)[0] for worker in workers]
    failed = len(ts.Study.load("ff", url).trials)
    assert failed <= 6, (failed, said)  # the first three failures, and what each worker had running then
    assert all("failed the same way and none worked" in line for line in said), said
