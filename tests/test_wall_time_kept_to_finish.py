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
    # Seven trials of about 100 s ran 703 s of a 750 s budget: 47 s left, well under any of them.
    history = _one_after_another([98.0, 101.0, 100.0, 103.0, 99.0, 102.0, 100.0])
    budget = ts.Budget(wall_time=750)
    spent = spent_beyond_trials(budget, history, now=5000.0, scheduler=FIFO())
    assert spent is not None and spent.limit == "wall_time"
    assert spent.message == (
        "wall-time budget spent for new trials (703s/750s): the 47s left would not train one to the end: the 7 "
        "trials that did took 1m 38s to 1m 43s each, and one more like them finishes in 47s under 0.1% of the time "
        "(under 5%); raise the wall-time budget to go on (tunesmith extend --wall-time)"
    )
    # A trial still running goes on: the rule is for new trials.
    history.append(_done(7, 1703.0, 10.0, resource=2, state=TrialState.RUNNING))
    assert spent_beyond_trials(budget, history, now=1713.0, step_for=7, scheduler=FIFO()) is None
    # Time left for the fastest of them: it starts.
    assert spent_beyond_trials(ts.Budget(wall_time=802), history[:7], now=5000.0, scheduler=FIFO()) is None


def test_a_wide_spread_of_training_times_or_too_few_of_them_starts_the_trial() -> None:
    # Trials of 12 s to 5 min: 9 s left is short of all, yet one more like them takes that little often enough.
    times = [300.0, 12.0, 150.0, 40.0, 90.0, 25.0, 60.0]
    assert spent_beyond_trials(ts.Budget(wall_time=sum(times) + 9), _one_after_another(times), now=5000.0,
                               scheduler=FIFO()) is None  # fmt: skip
    # Six alike may all come from the slow group of times that fall in two: they do not decide.
    alike = [100.0, 100.5, 100.2, 99.8, 100.1, 99.9]
    assert spent_beyond_trials(ts.Budget(wall_time=sum(alike) + 50), _one_after_another(alike), now=5000.0,
                               scheduler=FIFO()) is None  # fmt: skip
    # Seven do.
    alike.append(100.3)
    spent = spent_beyond_trials(ts.Budget(wall_time=sum(alike) + 50), _one_after_another(alike), now=5000.0,
                                scheduler=FIFO())  # fmt: skip
    assert spent is not None and "the 7 trials that did took 1m 40s each" in spent.message


def test_under_asha_only_the_trials_trained_to_the_end_say_how_long_a_new_one_needs() -> None:
    # Stopped at the first rung in 4 s each, trained to 27 in 100 s: 60 s left trains the first rung, never the end.
    history = [_done(n, 1000.0 + 4 * n, 4.0, resource=1, state=TrialState.STOPPED) for n in range(20)]
    start = 1080.0
    times = [99.0, 100.0, 102.0, 101.0, 100.0, 99.5, 100.5]
    for number, each in enumerate(times, start=20):
        history.append(_done(number, start, each, resource=27))
        start += each
    elapsed = 80.0 + sum(times)
    spent = spent_beyond_trials(ts.Budget(wall_time=elapsed + 60), history, now=5000.0, scheduler=ASHA(1, 27, 3))
    assert spent is not None and "the 7 trials that did took 1m 39s to 1m 42s each" in spent.message
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
    times = [99.0, 100.0, 102.0, 101.0, 100.0, 99.5, 100.5]
    for number, each in enumerate(times, start=4):
        history.append(_done(number, start, each))
        start += each
    budget = ts.Budget(wall_time=120 + sum(times) + 60)
    spent = spent_beyond_trials(budget, history, now=5000.0, scheduler=MedianStop())
    assert spent is not None and "the 7 trials that did took 1m 39s to 1m 42s each" in spent.message


def _ten_seconds(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    x = trial.params["x"]
    for step in range(trial.step + 1, 11):
        yield 1.0, {"loss": (x - 0.3) ** 2 + 1.0 / step}


def test_a_run_ends_when_too_little_time_is_left_to_train_a_new_trial_rather_than_cut_one_short() -> None:
    # Trials of 10 s on a 75 s budget: the eighth started with 5 s left and was cut at its fifth step, its work lost.
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(wall_time=75), seed=0,
                     storage="memory", sampler="random")  # fmt: skip
    result = study.optimize(_ten_seconds, executor=SimulatedExecutor(workers=1, start_time=0), progress=False)
    records = study.trials
    assert [r.state for r in records] == [TrialState.COMPLETE] * 7, [(r.number, r.state, r.resource) for r in records]
    assert result.stop_reason.startswith("wall-time budget spent for new trials (70s/75s): the 5.0s left would not "
                                         "train one to the end: the 7 trials that did took 10s each")  # fmt: skip
    assert study.usage().elapsed == 70.0


def _said(args: list[str]) -> str:
    """What the command line printed for ``args``, its lines joined; it must have exited 0."""
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _out_of_time(tmp_path: Path, name: str) -> str:
    """A stored study of trials of 10 s run on a 75 s budget, which ends after 7 with 5 s left; its storage URL."""
    url = f"sqlite:///{tmp_path / name}.db"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name=name, metric="loss", budget=ts.Budget(wall_time=75),
                     seed=0, storage=url, sampler="random")  # fmt: skip
    study.optimize(_ten_seconds, executor=SimulatedExecutor(workers=1, start_time=0), progress=False)
    return url


def test_status_says_a_run_on_starts_no_trial_and_extending_the_wall_time_lets_one_start(tmp_path: Path) -> None:
    url = _out_of_time(tmp_path, "left")
    said = _said(["status", "left", "--storage", url])
    assert "budget: wall time 70s/75s counted while trials ran (93% spent)" in said
    assert ("a run on starts no trial: wall-time budget spent for new trials (70s/75s): the 5.0s left would not train "
            "one to the end") in said  # fmt: skip
    _said(["extend", "left", "--storage", url, "--wall-time", "85"])
    again = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name="left", metric="loss", storage=url, sampler="random")
    again.optimize(_ten_seconds, executor=SimulatedExecutor(workers=1, start_time=100), progress=False)
    assert [r.state for r in again.trials] == [TrialState.COMPLETE] * 8


def test_a_compute_budget_starts_no_trial_whose_device_seconds_would_not_fit() -> None:
    # Seven trials of 100 s on 2 GPUs spent 1,400 device-seconds of 1,500: a new one needs about 200.
    history = []
    for number in range(7):
        start = 1000.0 + 100.0 * number
        history.append(_done(number, start, 100.0 + number % 3, gpus=[0, 1]))
    used = sum(2 * (100.0 + n % 3) for n in range(7))
    budget = ts.Budget(compute=used + 100)
    spent = spent_beyond_trials(budget, history, now=5000.0, scheduler=FIFO())
    assert spent is not None and spent.limit == "compute"
    assert spent.message.startswith(
        f"compute budget spent for new trials ({used:.0f}s/{used + 100:.0f}s of trial time x devices): the 1m 40s left "
        "would not train one to the end: the 7 trials that did spent 3m 20s to 3m 24s each"
    )
    assert spent.message.endswith("raise the compute budget to go on (tunesmith extend --compute)")
    # The wall time the same trials ran (about 700 s) leaves 100 s for one of about 100 s: not refused on its own.
    assert spent_beyond_trials(ts.Budget(wall_time=used / 2 + 100), history, now=5000.0, scheduler=FIFO()) is None


def test_extend_says_when_a_run_on_would_still_start_no_trial(tmp_path: Path) -> None:
    url = _out_of_time(tmp_path, "still")
    # 70 s spent: 7 s left trains no trial of 10 s to the end. It read as done, and the run on ended at once.
    said = _said(["extend", "still", "--storage", url, "--wall-time", "77"])
    assert "wall_time=75s -> wall_time=77s" in said
    assert ("note: a run on still starts no trial: wall-time budget spent for new trials (70s/77s): the 7.0s left "
            "would not train one to the end") in said  # fmt: skip
    assert "note:" not in _said(["extend", "still", "--storage", url, "--wall-time", "90"])


def test_extend_names_another_limit_that_is_spent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), name="other", metric="loss", seed=0, storage=url,
                     budget=ts.Budget(trials=3, wall_time=100), sampler="random")  # fmt: skip
    study.optimize(_ten_seconds, executor=SimulatedExecutor(workers=1, start_time=0), progress=False)
    said = _said(["extend", "other", "--storage", url, "--wall-time", "200"])
    assert ("note: a run on still starts no trial: trial budget spent (3/3); raise it too (tunesmith extend other "
            "--trials N, a total above the stored one)") in said  # fmt: skip


def test_under_asha_a_trial_that_ended_itself_short_of_the_end_says_nothing_of_a_whole_training() -> None:
    # Seven objectives that returned at step 3 in 12 s each are COMPLETE, yet short of 27: a full training is longer.
    history = [_done(n, 1000.0 + 12 * n, 12.0, resource=3) for n in range(7)]
    budget = ts.Budget(wall_time=7 * 12 + 6)
    assert spent_beyond_trials(budget, history, now=5000.0, scheduler=ASHA(1, 27, 3)) is None
    # Under FIFO they are whole trainings, and 6 s left is too little for one.
    assert spent_beyond_trials(budget, history, now=5000.0, scheduler=FIFO()) is not None


def _running(number: int, start: float, resource: int) -> TrialRecord:
    reports = {step: {"loss": 1.0 / step} for step in range(1, resource + 1)}
    return TrialRecord(number, {"x": 0.5}, seed=number, state=TrialState.RUNNING, intermediate=reports,
                       resource=float(resource), started_at=start)  # fmt: skip


def test_a_compute_budget_keeps_what_the_trials_still_running_are_expected_to_spend() -> None:
    # Seven trials of about 100 s spent 700 s of 1,000; three more started 20 s ago and will spend about 240 s more.
    history = _one_after_another([98.0, 101.0, 100.0, 103.0, 99.0, 102.0, 100.0])
    used = sum(r.finished_at - r.started_at for r in history if r.finished_at and r.started_at)
    now = 2000.0
    history += [_running(n, now - 20.0, 2) for n in (7, 8, 9)]
    budget = ts.Budget(compute=used + 60 + 250)  # 250 s left once the three have run their 60 s so far
    spent = spent_beyond_trials(budget, history, now=now, scheduler=FIFO())
    assert spent is not None and spent.limit == "compute", "the running trials' 240 s leave a new one 10 s"
    assert spent.message.startswith(
        "compute budget spent for new trials (763s/1013s of trial time x devices; about 4m 01s more expected of the 3 "
        "trials still running): the 8.7s left beside them would not train one to the end: the 7 trials that did spent "
        "1m 38s to 1m 43s each"
    )
    # Wall time is shared by trials running side by side: the same 250 s left start one.
    assert spent_beyond_trials(ts.Budget(wall_time=used + 20 + 250), history, now=now, scheduler=FIFO()) is None
    # Once they are done, what they spent is counted and what is left trains one more.
    assert spent_beyond_trials(ts.Budget(compute=used + 60 + 250), history[:7], now=now, scheduler=FIFO()) is None


def test_a_running_trial_a_rung_scheduler_likely_stops_keeps_little_of_a_compute_budget() -> None:
    # Under ASHA, 18 of 27 trials stopped at rung 1 and 2 at rung 3; 7 trained to 27 in about 100 s.
    history = [_done(n, 1000.0 + 4 * n, 4.0, resource=1, state=TrialState.STOPPED) for n in range(18)]
    history += [_done(n, 1100.0 + 12 * n, 12.0, resource=3, state=TrialState.STOPPED) for n in range(18, 20)]
    start = 1200.0
    for number, each in enumerate([98.0, 101.0, 100.0, 103.0, 99.0, 102.0, 100.0], start=20):
        history.append(_done(number, start, each, resource=27))
        start += each
    used = sum((r.finished_at or 0.0) - (r.started_at or 0.0) for r in history)
    now = 3000.0
    # At rung 1, where 7 of 27 went on to 27: the three keep about 3 x 7 / 27 x 98 s, 77 s, and 103 s trains one more.
    history += [_running(n, now - 2.0, 1) for n in (27, 28, 29)]
    left = 180.0
    budget = ts.Budget(compute=used + 6.0 + left)
    assert spent_beyond_trials(budget, history, now=now, scheduler=ASHA(1, 27, 3)) is None
    # Past the last rung, each trains to the end: the three keep about 3 x 98 s, and a new trial does not start.
    history[-3:] = [_running(n, now - 2.0, 9) for n in (27, 28, 29)]
    spent = spent_beyond_trials(budget, history, now=now, scheduler=ASHA(1, 27, 3))
    assert spent is not None and "more expected of the 3 trials still running" in spent.message


def test_eight_workers_on_a_compute_budget_start_no_trial_it_would_cut() -> None:
    # Trials of 10 steps of about 1 s: after 16 trained, 45 s is left. All eight workers started a trial, and the
    # budget cut every one halfway; four fit.
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(compute=205), seed=0,
                     storage="memory", sampler="random")  # fmt: skip
    study.optimize(_about_ten_seconds, executor=SimulatedExecutor(workers=8, start_time=0), progress=False)
    states = [(r.number, r.state, r.resource) for r in study.trials]
    assert all(state is TrialState.COMPLETE for _, state, _ in states), states
    assert len(states) == 20
    assert study.usage().compute <= 205


def _about_ten_seconds(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    each = 0.9 + 0.2 * ((trial.number * 7919) % 101) / 100.0  # 0.9 to 1.1 s a step, trial by trial
    for step in range(trial.step + 1, 11):
        yield each, {"loss": (trial.params["x"] - 0.3) ** 2 + 1.0 / step}
