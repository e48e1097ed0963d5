"""Run the benchmark: every method on every problem for several seeds, then summarise.

Scores (per problem): the mean best loss over seeds; a normalised score, 100 for the best loss
any method found and 0 for the mean loss of a random configuration (estimated from the random
method's trials); the rank of each method per (problem, seed), averaged; and win rates of each
tunesmith method against each peer (per problem by mean best, and per run).

Example:
    python -m benchmarks --quick                 # a smoke run, well under a minute
    python -m benchmarks                         # the full suite (about 20-30 minutes on 2 cores)
    python -m benchmarks --problems branin,mixed --methods tunesmith-auto,optuna-tpe --seeds 3
    python -m benchmarks --batch 4               # 4 suggestions asked before any is told (4 workers)
    python -m benchmarks --noise 0.1 --problems branin,hartmann6   # noisy evaluations (synthetic problems)

With ``--noise F`` every evaluation a method is told is the loss plus Gaussian noise of standard deviation F times
the problem's spread (`spread`: the robust standard deviation of its loss over 256 random configurations), drawn
from the run's seed; a run is then scored by the true loss of the trial it would report as best (its least
observed value), as a user of it would get, and the random floor by the true losses.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.overhead import measure
from benchmarks.peers import METHODS, OURS, PEERS, available, run
from benchmarks.problems import Problem, get_problems

__all__ = ["main", "summarise", "to_markdown"]

QUICK_PROBLEMS = ["branin", "mixed"]
QUICK_METHODS = ["tunesmith-auto", "tunesmith-tpe", "random", "optuna-tpe", "hyperopt-tpe"]


# Random configurations whose losses give a problem's spread, and the seed that draws them.
_SPREAD_CONFIGS, _SPREAD_SEED = 256, 10_000


@functools.cache
def spread(problem_name: str) -> float:
    """The robust standard deviation (interquartile range / 1.349) of ``problem_name``'s loss over random
    configurations: the unit of ``--noise``, robust so that a heavy tail (rosenbrock4's) does not drown the optimum."""
    losses = run("random", get_problems([problem_name])[0], _SPREAD_CONFIGS, _SPREAD_SEED)
    q1, q3 = np.percentile(losses, [25, 75])
    return float(q3 - q1) / 1.349


def _noisy(problem: Problem, noise: float, seed: int) -> tuple[Problem, dict[float, float]]:
    """``problem`` with Gaussian noise of ``noise`` times its `spread` added to every evaluation, and the true loss of
    each observed value (filled as the method evaluates)."""
    draws, truth = np.random.default_rng([seed, 7]), {}
    sd = noise * spread(problem.name)

    def observed(params: Any) -> float:
        true = problem.loss(params)
        value = true + float(draws.normal(0.0, sd))
        truth[value] = true
        return value

    return dataclasses.replace(problem, loss=observed), truth


def _job(args: tuple[str, str, int, int, int, float]) -> dict[str, Any]:
    method, problem_name, budget, seed, batch, noise = args
    problem = get_problems([problem_name])[0]
    start = time.perf_counter()
    noisy: dict[str, Any] = {}
    if noise <= 0:
        losses = run(method, problem, budget, seed, batch)
        best = float(np.min(losses))
    else:
        told, truth = _noisy(problem, noise, seed)
        seen = run(method, told, budget, seed, batch)
        losses = [truth[v] for v in seen]  # the true losses, for the random floor
        best = losses[int(np.argmin(seen))]  # the trial the method reports as best, at its true loss
        noisy = {"observed": seen}
    return {
        "method": method,
        "problem": problem_name,
        "seed": seed,
        "losses": losses,
        "best": best,
        **noisy,
        "seconds": time.perf_counter() - start,
    }


def _ranks(values: list[float]) -> list[float]:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1, dtype=float)
    for v in set(values):  # ties share the mean rank
        idx = [i for i, x in enumerate(values) if x == v]
        ranks[idx] = np.mean(ranks[idx])
    return [float(r) for r in ranks]


def summarise(runs: list[dict[str, Any]], methods: list[str], problems: list[str]) -> dict[str, Any]:
    """Per-problem mean best and normalised score, mean rank and win rates from raw runs."""
    best: dict[tuple[str, str], dict[int, float]] = {}
    for r in runs:
        best.setdefault((r["problem"], r["method"]), {})[r["seed"]] = r["best"]
    per_problem: dict[str, Any] = {}
    ranks: dict[str, list[float]] = {m: [] for m in methods}
    for problem in problems:
        random_trials = [v for r in runs if r["problem"] == problem and r["method"] == "random" for v in r["losses"]]
        floor = float(np.mean(random_trials)) if random_trials else float("nan")
        top = min(v for m in methods for v in best.get((problem, m), {}).values())
        rows = {}
        for m in methods:
            vals = list(best.get((problem, m), {}).values())
            mean = float(np.mean(vals))
            score = 100.0 * (floor - mean) / (floor - top) if floor > top else 100.0
            rows[m] = {"mean_best": mean, "std_best": float(np.std(vals)), "score": score}
        seeds = sorted({s for m in methods for s in best.get((problem, m), {})})
        for s in seeds:
            if all(s in best.get((problem, m), {}) for m in methods):
                for m, rank in zip(methods, _ranks([best[(problem, m)][s] for m in methods]), strict=True):
                    ranks[m].append(rank)
        per_problem[problem] = {"random_mean": floor, "best_found": top, "methods": rows}
    overall = {
        m: {
            "mean_score": float(np.mean([per_problem[p]["methods"][m]["score"] for p in problems])),
            "mean_rank": float(np.mean(ranks[m])) if ranks[m] else float("nan"),
        }
        for m in methods
    }
    wins: dict[str, dict[str, dict[str, float]]] = {}
    for ours in [m for m in methods if m in OURS]:
        wins[ours] = {}
        for peer in [m for m in methods if m in PEERS]:
            by_problem = [
                1.0
                if per_problem[p]["methods"][ours]["mean_best"] < per_problem[p]["methods"][peer]["mean_best"]
                else 0.5
                if per_problem[p]["methods"][ours]["mean_best"] == per_problem[p]["methods"][peer]["mean_best"]
                else 0.0
                for p in problems
            ]
            by_run = []
            for (p, m), seeds_best in best.items():
                if m != ours:
                    continue
                for s, v in seeds_best.items():
                    other = best.get((p, peer), {}).get(s)
                    if other is not None:
                        by_run.append(1.0 if v < other else 0.5 if v == other else 0.0)
            wins[ours][peer] = {"problems": float(np.mean(by_problem)), "runs": float(np.mean(by_run))}
    return {"problems": per_problem, "overall": overall, "wins": wins}


def to_markdown(summary: dict[str, Any], methods: list[str], config: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    short = {m: m.replace("tunesmith-", "ts-") for m in methods}
    lines = [
        f"Budget {config['budget']} trials, {config['seeds']} seeds per problem, "
        + (f"{config['batch']} suggestions asked at a time. " if config.get("batch", 1) > 1 else "one at a time. ")
        + (f"Every evaluation told with Gaussian noise of {config['noise']:g} x the problem's spread; a run's best is "
           "the true loss of the trial it reports best. " if config.get("noise", 0) > 0 else "")
        + "Cell: mean best loss (normalised score: 100 = best value any method found, 0 = mean random configuration).",
        "",
        "| problem | " + " | ".join(short[m] for m in methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for problem, data in summary["problems"].items():
        cells = [f"{data['methods'][m]['mean_best']:.4g} ({data['methods'][m]['score']:.0f})" for m in methods]
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    overall = summary["overall"]
    lines.append("| **mean score** | " + " | ".join(f"**{overall[m]['mean_score']:.1f}**" for m in methods) + " |")
    lines.append("| **mean rank** | " + " | ".join(f"{overall[m]['mean_rank']:.2f}" for m in methods) + " |")
    if summary["wins"]:
        peers = [m for m in methods if m in PEERS]
        lines += [
            "",
            "Win rate against each peer (problems won by mean best / runs won, same seed):",
            "",
            "| tunesmith | " + " | ".join(peers) + " |",
            "|---|" + "---|" * len(peers),
        ]
        for ours, row in summary["wins"].items():
            cells = [f"{row[p]['problems']:.0%} / {row[p]['runs']:.0%}" for p in peers]
            lines.append(f"| {short[ours]} | " + " | ".join(cells) + " |")
    if config.get("overhead"):
        lines += [
            "",
            "Overhead, seconds per ask+tell after n finished trials (5-d problem, same process):",
            "",
            "| sampler | trials | tunesmith | Optuna | ratio |",
            "|---|---|---|---|---|",
        ]
        for row in config["overhead"]:
            lines.append(
                f"| {row['sampler']} | {row['trials']} | {row['tunesmith_s'] * 1000:.1f} ms | "
                f"{row['optuna_s'] * 1000:.1f} ms | {row['ratio']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 problems, 8 trials, 1 seed")
    parser.add_argument("--budget", type=int, default=None, help="trials per run (default 30; quick 8)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per problem (default 5; quick 1)")
    parser.add_argument("--problems", default=None, help="comma-separated problem names (default all)")
    parser.add_argument("--methods", default=None, help="comma-separated methods (default all installed)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--batch", type=int, default=1, help="suggestions asked before any is told, as parallel workers do (default 1)"
    )
    parser.add_argument(
        "--noise", type=float, default=0.0,
        help="Gaussian noise on every evaluation, in units of the problem's spread (synthetic problems; default 0)",
    )  # fmt: skip
    parser.add_argument("--out", default="benchmarks/results", help="folder for results.json and results.md")
    parser.add_argument("--overhead-sizes", default=None, help="finished-trial counts (default 100,300,1000,3000)")
    parser.add_argument("--gp-overhead-sizes", default=None, help="for the GP (default 100,300)")
    parser.add_argument("--no-overhead", action="store_true", help="skip the overhead benchmark")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    budget = args.budget or (8 if args.quick else 30)
    seeds = args.seeds or (1 if args.quick else 5)
    problem_names = args.problems.split(",") if args.problems else (QUICK_PROBLEMS if args.quick else None)
    problems = [p.name for p in get_problems(problem_names)]
    wanted = args.methods.split(",") if args.methods else (QUICK_METHODS if args.quick else METHODS)
    unknown = [m for m in wanted if m not in METHODS]
    if unknown:
        print(f"unknown methods {unknown}: choose from {METHODS}", file=sys.stderr)
        return 2
    missing = [m for m in wanted if not available(m)]
    if missing:
        print(f"skipping {missing}: install the bench extra (pip install 'tunesmith[bench]')", file=sys.stderr)
    methods = [m for m in wanted if m not in missing]
    if "random" not in methods:
        methods.append("random")  # the normalised score needs the random baseline
    if args.batch < 1:
        print(f"--batch must be >= 1, got --batch {args.batch}: use 1 for sequential runs", file=sys.stderr)
        return 2
    if args.noise < 0:
        print(f"--noise must be >= 0, got --noise {args.noise}: use 0 for exact evaluations", file=sys.stderr)
        return 2
    exact = [p.name for p in get_problems(problems) if p.kind != "synthetic"]
    if args.noise > 0 and exact:
        print(f"--noise applies to synthetic problems only, got {exact} (their losses are cross-validated scores, "
              "whose spread would cost hundreds of fits to measure): leave them out with --problems", file=sys.stderr)
        return 2
    jobs = [(m, p, budget, s, args.batch, args.noise) for p in problems for s in range(seeds) for m in methods]
    start = time.perf_counter()
    runs: list[dict[str, Any]] = []

    def progress(r: dict[str, Any]) -> None:
        print(
            f"[{len(runs)}/{len(jobs)}] {r['problem']:>14} {r['method']:>16} seed {r['seed']}: "
            f"best {r['best']:.5g} ({r['seconds']:.1f}s)",
            flush=True,
        )

    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            for result in pool.map(_job, jobs):
                runs.append(result)
                progress(result)
    else:
        for job in jobs:
            runs.append(_job(job))
            progress(runs[-1])
    summary = summarise(runs, methods, problems)
    overhead: list[dict[str, Any]] = []
    if not args.no_overhead and available("optuna-tpe"):
        sizes = [int(n) for n in (args.overhead_sizes or ("100,300" if args.quick else "100,300,1000,3000")).split(",")]
        gp_sizes = [int(n) for n in (args.gp_overhead_sizes or ("100" if args.quick else "100,300")).split(",")]
        overhead = measure(sizes, gp_sizes, repeats=3 if args.quick else 5)
    config = {
        "budget": budget,
        "seeds": seeds,
        "batch": args.batch,
        "noise": args.noise,
        "problems": problems,
        "methods": methods,
        "overhead": overhead,
        "seconds": time.perf_counter() - start,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    table = to_markdown(summary, methods, config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"config": config, "summary": summary, "runs": runs}, indent=1))
    (out / "results.md").write_text(table)
    print(table)
    print(f"wrote {out / 'results.json'} and {out / 'results.md'} in {config['seconds']:.0f}s")
    return 0
