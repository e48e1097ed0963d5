"""``python -m benchmarks.wall_time_rule``: how often the wall-time budget's rule for new trials is wrong.

A wall-time budget starts no new trial that would train to the end in the time left less often than
`FINISH_CHANCE` (5%), judged from the times of the trials that trained to the end, from `MIN_TIMED` of them on
(`tunesmith.study._time_left.too_late_to_finish`). Each run here builds a FIFO study's history of ``n`` trials that
trained to the end one after another, their times drawn from a law, leaves ``left`` (a share of the law's median)
of the budget, asks the rule (`spent_beyond_trials`, as `Study.ask` does) and draws the time the new trial would
have taken. It prints, per law, ``n`` and share:

* **refused**: runs in which the rule refused the new trial;
* **wrong refusals**: runs in which it refused one that would have finished (the error `FINISH_CHANCE` bounds when
  the times are log-normal), and the same with the count gate left out (the predictive rule alone, from two
  trainings on), which shows why the gate is there;
* **started, cut**: runs in which the trial started and the budget would cut it (what the rule saves).

The laws: log-normal times with a spread of 0.05 (training of fixed length), 0.3 and 1.0 (times that vary with the
configuration), log-uniform over ten times, and two groups: a configuration ten times faster one time in 5 or in 10
(a small model beside a large one), the law that breaks the log-normal model most.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

import tunesmith as ts
from tunesmith.schedulers import FIFO
from tunesmith.study._limits import spent_beyond_trials
from tunesmith.study._time_left import FINISH_CHANCE, MIN_TIMED, finish_chance
from tunesmith.trial import TrialRecord, TrialState

Law = Callable[[np.random.Generator, int], np.ndarray]


def _lognormal(spread: float) -> Law:
    return lambda rng, size: 100.0 * np.exp(spread * rng.standard_normal(size))


def _two_groups(fast: float) -> Law:
    def draw(rng: np.random.Generator, size: int) -> np.ndarray:
        return np.where(rng.random(size) < fast, 60.0, 600.0) * np.exp(0.05 * rng.standard_normal(size))

    return draw


def _log_uniform(rng: np.random.Generator, size: int) -> np.ndarray:
    return 60.0 * np.exp(math.log(10.0) * rng.random(size))


LAWS: dict[str, Law] = {
    "log-normal spread 0.05": _lognormal(0.05),
    "log-normal spread 0.3": _lognormal(0.3),
    "log-normal spread 1.0": _lognormal(1.0),
    "log-uniform 60s to 600s": _log_uniform,
    "1 in 5 ten times faster": _two_groups(0.2),
    "1 in 10 ten times faster": _two_groups(0.1),
}


def _history(took: np.ndarray) -> list[TrialRecord]:
    history, start = [], 1000.0
    for number, seconds in enumerate(took):
        history.append(TrialRecord(number, {"x": 0.5}, seed=number, state=TrialState.COMPLETE, metrics={"loss": 1.0},
                                   started_at=start, finished_at=start + float(seconds)))  # fmt: skip
        start += float(seconds)
    return history


def _row(law: Law, n: int, share: float, runs: int, rng: np.random.Generator) -> tuple[float, float, float, float]:
    median = float(np.median(law(rng, 200_000)))
    left = share * median
    refused = wrong = wrong_ungated = cut = 0
    for _ in range(runs):
        took = law(rng, n)
        new = float(law(rng, 1)[0])
        budget = ts.Budget(wall_time=float(took.sum()) + left)
        stop = spent_beyond_trials(budget, _history(took), now=1e12, scheduler=FIFO()) is not None
        ungated = left < took.min() and finish_chance(list(took), left) < FINISH_CHANCE
        refused += stop
        wrong += stop and new <= left
        wrong_ungated += ungated and new <= left
        cut += (not stop) and new > left
    return refused / runs, wrong / runs, wrong_ungated / runs, cut / runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4000, help="runs per row")
    parser.add_argument("--trainings", default="2,4,6,7,8,12", help="trials trained to the end before the ask")
    parser.add_argument("--left", default="0.5,0.9", help="the time left, as shares of the law's median")
    parser.add_argument("--laws", default=",".join(LAWS), help="comma-separated, of: " + ", ".join(LAWS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    print(f"rule: refuse below a {FINISH_CHANCE:.0%} chance to finish, from {MIN_TIMED} trainings on; "
          f"{args.runs} runs per row")  # fmt: skip
    print("| times | trained to the end | time left (x median) | refused | wrong refusals | without the count gate "
          "| started, cut |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.laws.split(","):
        for n in (int(v) for v in args.trainings.split(",")):
            for share in (float(v) for v in args.left.split(",")):
                refused, wrong, ungated, cut = _row(LAWS[name], n, share, args.runs, rng)
                print(f"| {name} | {n} | {share:g} | {refused:.1%} | {wrong:.2%} | {ungated:.2%} | {cut:.1%} |")
    print(f"({time.monotonic() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
