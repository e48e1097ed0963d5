"""A wall-time budget starts no new trial that would not train to the end in the time left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.executors import SimulatedExecutor
from tunesmith.schedulers import ASHA, FIFO, PBT, MedianStop
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.trial import TrialRecord, TrialState


def _done(number: int, start: float, seconds: float, resource: int = 10, state: TrialState = TrialState.COMPLETE,
          **attrs: object) -> TrialRecord:  # fmt: skip
    reports = {step: {"loss": 1.0 / step} for step in range(1, resource + 1)}
    return TrialRecord(number, {"x": 0.5}, seed=number, state=state, intermediate=reports, resource=float(resource),
                       started_at=start, finished_at=start + seconds, attrs=dict(attrs))  # fmt: skip


def _one_after_another(seconds: list[float]) -> list[TrialRecord]:
    history, start = [], 1000.0
    for number, each in enumerate(seconds):
        history.append(_done(number, start, each))
        start += each
    return history


def test_a_new_trial_that_would_not_finish_in_the_time_left_does_not_start() -> None:
    # Four trials of about 100 s ran 402 s of a 450 s budget: 48 s left, well under any of them.
    history = _one_after_another([98.0, 101.0, 100.0, 103.0])
    budget = ts.Budget(wall_time=450)
    spent = spent_beyond_trials(budget, history, now=5000.0, scheduler=FIFO())
    assert spent is not None and spent.limit == "wall_time"
    assert spent.message == (
        "wall-time budget spent for new trials (402s/450s): the 48s left would not train one to the end: the 4 "
        "trials that did took 1m 38s to 1m 43s each, and one more like them finishes in 48s under 0.1% of the time "
        "(under 5%); raise the wall-time budget to go on (tunesmith extend --wall-time)"
    )
    # A trial still running goes on: the rule is for new trials.
    history.append(_done(4, 1402.0, 10.0, resource=2, state=TrialState.RUNNING))
    assert spent_beyond_trials(budget, history, now=1412.0, step_for=4, scheduler=FIFO()) is None
    # Time left for the fastest of them: it starts.
    assert spent_beyond_trials(ts.Budget(wall_time=500), history[:4], now=5000.0, scheduler=FIFO()) is None


def test_a_wide_spread_of_training_times_or_too_few_of_them_starts_the_trial() -> None:
    # Trials of 10 s to 5 min: 9 s left is short of all, yet one more like them takes that little often enough.
    spread = _one_after_another([300.0, 12.0, 150.0, 40.0])
    left_9 = ts.Budget(wall_time=sum([300.0, 12.0, 150.0, 40.0]) + 9)
    assert spent_beyond_trials(left_9, spread, now=5000.0, scheduler=FIFO()) is None
    # One full training shows no spread to judge by.
    single = _one_after_another([100.0])
    assert spent_beyond_trials(ts.Budget(wall_time=101), single, now=5000.0, scheduler=FIFO()) is None
    # Two alike do.
    two = _one_after_another([100.0, 100.5])
    spent = spent_beyond_trials(ts.Budget(wall_time=201), two, now=5000.0, scheduler=FIFO())
    assert spent is not None and "the 2 trials that did took 1m 40s each" in spent.message


def test_under_asha_only_the_trials_trained_to_the_end_say_how_long_a_new_one_needs() -> None:
    # Stopped at the first rung in 4 s each, trained to 27 in 100 s: 60 s left trains the first rung, never the end.
    history = [_done(n, 1000.0 + 4 * n, 4.0, resource=1, state=TrialState.STOPPED) for n in range(20)]
    start = 1080.0
    for number, each in zip(range(20, 23), [99.0, 100.0, 102.0], strict=True):
        history.append(_done(number, start, each, resource=27))
        start += each
    elapsed = 80.0 + 301.0
    spent = spent_beyond_trials(ts.Budget(wall_time=elapsed + 60), history, now=5000.0, scheduler=ASHA(1, 27, 3))
    assert spent is not None and "the 3 trials that did took 1m 39s to 1m 42s each" in spent.message
    # Before any trial trained to the end, nothing says how long it takes: the trial starts.
    assert spent_beyond_trials(ts.Budget(wall_time=81), history[:20], now=5000.0, scheduler=ASHA(1, 27, 3)) is None
    # In promote mode a paused trial may go on later, and under PBT a new trial continues another: no rule.
    budget = ts.Budget(wall_time=elapsed + 60)
    assert spent_beyond_trials(budget, history, now=5000.0, scheduler=ASHA(1, 27, 3, mode="promote")) is None
    assert spent_beyond_trials(budget, history, now=5000.0, scheduler=PBT(perturbation_interval=3)) is None


def test_under_median_stopping_the_trials_it_let_finish_say_how_long_a_new_one_needs() -> None:
    # A trial stopped early cannot be the best: a new one needs a whole training, as the COMPLETE ones took.
    history = [_done(n, 1000.0 + 30 * n, 30.0, resource=3, state=TrialState.STOPPED) for n in range(4)]
    start = 1120.0
    for number, each in zip(range(4, 7), [99.0, 100.0, 102.0], strict=True):
        history.append(_done(number, start, each))
        start += each
    budget = ts.Budget(wall_time=120 + 301 + 60)
    spent = spent_beyond_trials(budget, history, now=5000.0, scheduler=MedianStop())
    assert spent is not None and "the 3 trials that did took 1m 39s to 1m 42s each" in spent.message


def _ten_seconds(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    x = trial.params["x"]
    for step in range(trial.step + 1, 11):
        yield 1.0, {"loss": (x - 0.3) ** 2 + 1.0 / step}


def test_a_run_ends_when_too_little_time_is_left_to_train_a_new_trial_rather_than_cut_one_short() -> None:
    # Trials of 10 s on a 35 s budget: the fourth started with 5 s left and was cut at its fifth step, its work lost.
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(wall_time=35), seed=0,
                     storage="memory", sampler="random")  # fmt: skip
    result = study.optimize(_ten_seconds, executor=SimulatedExecutor(workers=1, start_time=0), progress=False)
    records = study.trials
    assert [r.state for r in records] == [TrialState.COMPLETE] * 3, [(r.number, r.state, r.resource) for r in records]
    assert result.stop_reason.startswith("wall-time budget spent for new trials (30s/35s): the 5.0s left would not "
                                         "train one to the end: the 3 trials that did took 10s each")  # fmt: skip
    assert study.usage().elapsed == 30.0


def test_status_says_a_run_on_starts_no_trial_and_extending_the_wall_time_lets_one_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'left.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name="left", metric="loss", budget=ts.Budget(wall_time=35),
                     seed=0, storage=url, sampler="random")  # fmt: skip
    study.optimize(_ten_seconds, executor=SimulatedExecutor(workers=1, start_time=0), progress=False)
    shown = CliRunner().invoke(cli, ["status", "left", "--storage", url])
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert "budget: wall time 30s/35s counted while trials ran (86% spent)" in said
    assert ("a run on starts no trial: wall-time budget spent for new trials (30s/35s): the 5.0s left would not train "
            "one to the end") in said  # fmt: skip
    extended = CliRunner().invoke(cli, ["extend", "left", "--storage", url, "--wall-time", "45"])
    assert extended.exit_code == 0, extended.output
    again = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name="left", metric="loss", storage=url, sampler="random")
    again.optimize(_ten_seconds, executor=SimulatedExecutor(workers=1, start_time=100), progress=False)
    assert [r.state for r in again.trials] == [TrialState.COMPLETE] * 4
