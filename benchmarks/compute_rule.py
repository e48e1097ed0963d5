"""``python -m benchmarks.compute_rule``: what a compute budget's last trials cost, with and without keeping what the
trials still running are expected to spend.

A compute budget (device-seconds) starts no new trial that would train to the end in what is left less often than
`FINISH_CHANCE` (5%), from `MIN_TIMED` full trainings on (`tunesmith.study._time_left.too_late_to_finish`); what is
left is counted after the trials still running have spent what they are expected to (`running_need`): each trains
to the end with the share of the finished trials that got as far, and spends the log-normal's expected rest. Without
that reservation, 8 workers with 4.5 trainings' worth left started 8 trials and the budget cut every one halfway.

Each run here is a study on the simulated clock: trials of 27 steps, each step lasting the trial's own draw from 0.5
s to 1.5 s, a random sampler, under FIFO, median stopping or ASHA(1, 27, 3), on 1, 4 or 8 workers and a compute
budget. It prints, summed over the seeds, the trials the budget cut (STOPPED of kind BUDGET), the trials trained to
the end (27 steps, COMPLETE) and the mean device-seconds spent, with the reservation ("kept") and without it (the
rule as it was: the new trial's own need against what is left).
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
from collections.abc import Iterator
from unittest import mock

import tunesmith as ts
from tunesmith.executors import SimulatedExecutor
from tunesmith.schedulers import ASHA, FIFO, MedianStop, Scheduler
from tunesmith.study import _limits
from tunesmith.study._time_left import Running
from tunesmith.trial import TrialKind, TrialState

STEPS = 27


def _steps(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """27 steps of the trial's own length (0.5 s to 1.5 s, drawn from its seed)."""
    each = random.Random(trial.seed).uniform(0.5, 1.5)
    for step in range(trial.step + 1, STEPS + 1):
        yield each, {"loss": (trial.params["x"] - 0.3) ** 2 + 1.0 / step}


def _scheduler(name: str) -> Scheduler:
    return {"fifo": FIFO, "median": MedianStop, "asha": lambda: ASHA(1, STEPS, 3)}[name]()


def _run(scheduler: str, workers: int, compute: float, seed: int) -> tuple[int, int, float]:
    """One study: the trials the budget cut, those trained to the end, and the device-seconds spent."""
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(compute=compute),
                     seed=seed, storage="memory", sampler="random", scheduler=_scheduler(scheduler))  # fmt: skip
    with warnings.catch_warnings():  # the runs' notes (few trained fully under ASHA): the figures say it here
        warnings.simplefilter("ignore")
        study.optimize(_steps, executor=SimulatedExecutor(workers=workers, start_time=0), progress=False)
    records = study.trials
    cut = sum(1 for r in records if r.kind is TrialKind.BUDGET)
    trained = sum(1 for r in records if r.state is TrialState.COMPLETE and r.resource >= STEPS)
    return cut, trained, study.usage().compute


def _row(scheduler: str, workers: int, compute: float, seeds: int, kept: bool) -> tuple[int, int, float]:
    if kept:
        runs = [_run(scheduler, workers, compute, seed) for seed in range(seeds)]
    else:
        # The rule as it was: nothing kept for the trials still running.
        with mock.patch.object(_limits, "running_need", lambda *args: Running(0.0, ())):
            runs = [_run(scheduler, workers, compute, seed) for seed in range(seeds)]
    return sum(r[0] for r in runs), sum(r[1] for r in runs), sum(r[2] for r in runs) / seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--schedulers", default="fifo,median,asha", help="comma-separated, of: fifo, median, asha")
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--budgets", default="400,1000", help="compute budgets, device-seconds")
    args = parser.parse_args(argv)
    started = time.monotonic()
    print(f"trials of {STEPS} steps of 0.5 s to 1.5 s; {args.seeds} seeds per row, summed (device-seconds: the mean)")
    print("| scheduler | workers | compute budget | cut by the budget: kept / not | trained to the end: kept / not "
          "| device-seconds spent: kept / not |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for scheduler in args.schedulers.split(","):
        for workers in (int(v) for v in args.workers.split(",")):
            for compute in (float(v) for v in args.budgets.split(",")):
                cut, trained, spent = _row(scheduler, workers, compute, args.seeds, kept=True)
                was_cut, was_trained, was_spent = _row(scheduler, workers, compute, args.seeds, kept=False)
                print(f"| {scheduler} | {workers} | {compute:g} | {cut} / {was_cut} | {trained} / {was_trained} | "
                      f"{spent:.0f} / {was_spent:.0f} |")  # fmt: skip
    print(f"({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
