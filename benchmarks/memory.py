"""A worker's resident memory across a long study, next to Optuna's (issue 8's memory benchmark).

Each tuner runs in a fresh process: ask/tell with a trivial objective on a SQLite file, its
resident set size (VmRSS) sampled every ``--every`` trials. The growth from the first sample (after
warm-up) to the peak is what a long-lived worker accumulates.

Example:
    python -m benchmarks.memory --trials 20000
    python -m benchmarks.memory --trials 5000 --optuna
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _run_tunesmith(url: str, trials: int, every: int) -> list[tuple[int, float]]:
    import tunesmith as ts

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0), "y": ts.Float(0.0, 1.0)}), metric="loss", storage=url,
                     sampler="random", seed=0, name="memory")  # fmt: skip
    samples: list[tuple[int, float]] = []
    for n in range(1, trials + 1):
        trial = study.ask()
        study.tell(trial, (trial.params["x"] - 0.3) ** 2 + trial.params["y"])
        if n % every == 0:
            samples.append((n, _rss_mb()))
    return samples


def _run_optuna(url: str, trials: int, every: int) -> list[tuple[int, float]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=url, sampler=optuna.samplers.RandomSampler(seed=0), study_name="memory")
    samples: list[tuple[int, float]] = []
    for n in range(1, trials + 1):
        trial = study.ask()
        x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
        study.tell(trial, (x - 0.3) ** 2 + y)
        if n % every == 0:
            samples.append((n, _rss_mb()))
    return samples


def _child(tuner: str, url: str, trials: int, every: int) -> None:
    started = time.perf_counter()
    samples = (_run_tunesmith if tuner == "tunesmith" else _run_optuna)(url, trials, every)
    print(json.dumps({"samples": samples, "seconds": time.perf_counter() - started}))


def measure(tuner: str, trials: int, every: int) -> dict[str, float]:
    """Run ``tuner`` in a fresh process and summarise its memory samples."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'memory.db'}"
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "--child", tuner, "--url", url, "--trials", str(trials),
             "--every", str(every)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    data = json.loads(out.stdout.strip().splitlines()[-1])
    rss = [mb for _, mb in data["samples"]]
    return {
        "trials": trials,
        "first_mb": rss[0],
        "peak_mb": max(rss),
        "growth_mb": max(rss) - rss[0],
        "seconds": data["seconds"],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--optuna", action="store_true", help="also measure Optuna (slow: its tell grows with n)")
    parser.add_argument("--child", choices=["tunesmith", "optuna"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.url, args.trials, args.every)
        return 0
    rows = {"tunesmith": measure("tunesmith", args.trials, args.every)}
    if args.optuna:
        rows["optuna"] = measure("optuna", args.trials, args.every)
    print("| tuner | trials | RSS after first samples (MB) | peak (MB) | growth (MB) | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for tuner, row in rows.items():
        print(f"| {tuner} | {row['trials']:.0f} | {row['first_mb']:.0f} | {row['peak_mb']:.0f} | "
              f"{row['growth_mb']:.0f} | {row['seconds']:.0f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
