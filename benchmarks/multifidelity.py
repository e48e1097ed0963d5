"""Multi-fidelity benchmark: tunesmith's early stopping against random search at full budget and against peers.

Every method gets the same total resource (training steps summed over all trials) on the same
problems and seeds. For each, we report the configurations it evaluated, the winner's final loss
(the best loss of a trial trained to ``max_resource``), and the resource it had spent when a fully
trained trial first matched random search's final best ("reach", a fraction of the total). Seed by seed,
tunesmith's default is then set against each other method (`paired`): on how many seeds it reached sooner and ended
lower, with a sign test, since a median over a few seeds, some never reaching, moves a lot with one seed.

Methods: random search (every trial trained fully), tunesmith's default multi-fidelity setting
(``scheduler={"name": "auto", "max_resource": 81}`` with the default sampler and divergence check),
ASHA (stop and promote mode) and Hyperband under a random sampler, ASHA and Hyperband with TPE (BOHB-like), and, when
named, ``oracle-asha`` and ``oracle-default``: the same with a perfect early signal (`ORACLES`), a bound; peers:
Optuna's SuccessiveHalving, Hyperband and Wilcoxon pruners (under its default TPE sampler),
Syne Tune's ASHA and BOHB, DEHB and SMAC3's multi-fidelity facade (see
`benchmarks.multifidelity_peers`). Problems: see `benchmarks.multifidelity_problems`. Trials run
on a simulated clock (one step = one second) with ``--workers`` trainers at once, so resource
accounting is exact and the runs are reproducible.

Example:
    python -m benchmarks.multifidelity --quick
    python -m benchmarks.multifidelity --seeds 5 --workers 1,4 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tunesmith as ts
from benchmarks.multifidelity_peers import PEERS, Meter, Trace, available, drive, make_peer
from benchmarks.multifidelity_problems import PROBLEMS, CurveCache, CurveProblem

__all__ = ["METHODS", "PROBLEMS", "main", "paired", "run_method"]

OURS = ["random", "default", "default-raw", "asha", "asha-promote", "hyperband", "asha-tpe", "hyperband-tpe"]
# Bounds, not methods: ASHA (random sampler) and the default as they would do with a perfect early signal, every
# report the run's final loss (its value at max_resource), so that each rung ranks configurations as the end will.
# What they reach is what no early-stopping rule, however good its prediction of the final value, can beat with
# the same rungs and sampler. Run only when named.
ORACLES = ["oracle-asha", "oracle-default"]
METHODS = OURS + PEERS + ORACLES
DEFAULT_PROBLEMS = ["curves", "late-bloomers", "divergence", "sgd-digits", "mlp-digits"]
# Random search (the target) runs on seeds of its own: with the methods' seeds, tunesmith's samplers would share
# its first configurations, and a method would "reach" its target by drawing the same lucky configuration.
TARGET_SEED = 1000


def _study(method: str, problem: CurveProblem, resource: int, seed: int) -> ts.Study:
    top = problem.max_resource
    options: dict[str, Any] = {"sampler": "random", "divergence_factor": None}
    if method == "default":  # what a user gets by naming the resource axis and nothing else
        options = {"scheduler": {"name": "auto", "max_resource": top}}
    elif method == "default-raw":  # the default, ranking rungs by raw values (no prediction of the final one)
        options = {"scheduler": ts.ASHA(min_resource=1, max_resource=top, eta=3, predict_final=False)}
    elif method in ("asha", "asha-tpe"):
        options["scheduler"] = ts.ASHA(min_resource=1, max_resource=top, eta=3)
        options["sampler"] = "tpe" if method == "asha-tpe" else "random"
    elif method == "asha-promote":
        options["scheduler"] = ts.ASHA(min_resource=1, max_resource=top, eta=3, mode="promote")
    elif method in ("hyperband", "hyperband-tpe"):
        options["scheduler"] = ts.Hyperband(min_resource=1, max_resource=top, eta=3)
        options["sampler"] = "tpe" if method == "hyperband-tpe" else "random"
    elif method != "random":
        raise KeyError(f"unknown method {method!r}: one of {METHODS}")
    return ts.Study(problem.space, metric="loss", budget=ts.Budget(resource=resource), storage="memory",
                    seed=seed, **options)  # fmt: skip


def _run_tunesmith(method: str, problem: CurveProblem, resource: int, seed: int, workers: int) -> Trace:
    cache = CurveCache(problem)
    meter = Meter(problem.max_resource)
    oracle = method in ORACLES

    def objective(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
        # The executor asks for a step when it starts; the step is charged then, and continues the trial's run.
        for step in range(trial.step + 1, problem.max_resource + 1):
            loss = cache.loss(trial.number, trial.params, trial.seed, problem.max_resource if oracle else step)
            meter.charge(step, loss)
            yield 1.0, {"loss": loss}

    study = _study(method.removeprefix("oracle-") if oracle else method, problem, resource, seed)
    study.optimize(objective, executor=ts.SimulatedExecutor(workers=workers))
    return Trace(meter.events, len(study.trials), meter.spent)


def run_method(method: str, problem: CurveProblem, resource: int, seed: int, workers: int = 1) -> Trace:
    """One run of ``method`` on ``problem`` with ``resource`` steps in all."""
    if method in PEERS:
        return drive(make_peer(method, problem, seed, resource), resource, workers)
    return _run_tunesmith(method, problem, resource, seed, workers)


def _reach(trace: Trace, target: float) -> float | None:
    """Resource spent when a fully trained trial first matched ``target`` (``None``: never)."""
    for spent, loss in trace.events:
        if loss <= target + 1e-12:
            return spent
    return None


def _best(trace: Trace) -> float:
    return min((loss for _, loss in trace.events), default=math.inf)


# The run -----------------------------------------------------------------------------------------------------


def evaluate(problems: Sequence[str], methods: Sequence[str], seeds: int, random_configs: int,
             workers: Sequence[int] = (1,)) -> dict[str, Any]:  # fmt: skip
    results: dict[str, Any] = {}
    for count in workers:
        for name in problems:
            problem = PROBLEMS[name]
            resource = random_configs * problem.max_resource
            rows: dict[str, dict[str, list[float]]] = {m: {"configs": [], "best": [], "reach": [], "sec": []}
                                                       for m in ["random", *methods]}  # fmt: skip
            for seed in range(seeds):
                start = time.perf_counter()
                baseline = run_method("random", problem, resource, TARGET_SEED + seed, count)
                target = _best(baseline)
                for method in rows:
                    trace = baseline if method == "random" else run_method(method, problem, resource, seed, count)
                    reach = _reach(trace, target)
                    rows[method]["configs"].append(trace.configurations)
                    rows[method]["best"].append(_best(trace))
                    rows[method]["reach"].append(math.nan if reach is None else reach / resource)
                    rows[method]["sec"].append(time.perf_counter() - start)
                    start = time.perf_counter()
            results[name if count == 1 else f"{name} ({count} workers)"] = {
                "problem": name,
                "workers": count,
                "resource": resource,
                "methods": {m: _summary(v, rows["random"]["configs"]) for m, v in rows.items()},
            }
    return results


def _summary(row: dict[str, list[float]], random_configs: list[float]) -> dict[str, Any]:
    reach = np.array(row["reach"])
    seeds = {"reach": [None if math.isnan(r) else r for r in row["reach"]], "best_final": list(row["best"])}
    # A seed that never reached the target counts as needing more than the whole budget (median over all seeds).
    median = float(np.median(np.where(np.isnan(reach), np.inf, reach)))
    return {
        "configurations": float(np.mean(row["configs"])),
        "configs_vs_random": float(np.mean(row["configs"]) / np.mean(random_configs)),
        "best_final": float(np.mean(row["best"])),
        "reach_fraction_median": median if math.isfinite(median) else math.nan,
        "reached_in": int(np.sum(~np.isnan(reach))),
        "seconds": float(np.mean(row["sec"])),
        "per_seed": seeds,
    }


def paired(ours: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``ours`` against ``other`` (two `_summary` rows of one problem), seed by seed: on how many seeds each reached
    random search's best sooner (a seed it never reached on counts as later than any it did; neither reaching is a
    tie) and ended lower, with a two-sided sign test's p-value over the seeds that differ. A median over few seeds
    with some never reaching moves a lot with one seed; the pairs say whether a difference is more than that."""
    from scipy.stats import binomtest

    def count(mine: list[float], theirs: list[float]) -> dict[str, Any]:
        better = sum(a < b for a, b in zip(mine, theirs, strict=True))
        worse = sum(a > b for a, b in zip(mine, theirs, strict=True))
        p = binomtest(better, better + worse).pvalue if better + worse else 1.0
        return {"better": better, "worse": worse, "tied": len(mine) - better - worse, "p": float(p)}

    def never_last(values: list[float | None]) -> list[float]:
        return [math.inf if v is None else v for v in values]

    return {
        "reach": count(never_last(ours["per_seed"]["reach"]), never_last(other["per_seed"]["reach"])),
        "best_final": count(ours["per_seed"]["best_final"], other["per_seed"]["best_final"]),
    }


def to_markdown(results: dict[str, Any], seeds: int) -> str:
    first = next(iter(results.values()))
    lines = [
        f"Same total resource per problem (random search's {first['resource'] // 81} configurations x 81 steps), "
        f"{seeds} seeds. *reach* = resource spent (fraction of the total) when a fully trained trial first matched "
        "random search's final best: the median over all seeds, a seed that never got there counting as more than "
        "the budget (`-`: most never did). *best final loss*: the winner's, the mean over seeds.",
        "",
        "| problem | method | configurations | x random | best final loss | reach | reached | s/run |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for problem, data in results.items():
        for method, row in data["methods"].items():
            reach = "-" if math.isnan(row["reach_fraction_median"]) else f"{row['reach_fraction_median']:.3f}"
            lines.append(
                f"| {problem} | {method} | {row['configurations']:.0f} | {row['configs_vs_random']:.1f} | "
                f"{row['best_final']:.4f} | {reach} | {row['reached_in']}/{seeds} | {row['seconds']:.1f} |"
            )
    return "\n".join(lines + _paired_markdown(results))


def _paired_markdown(results: dict[str, Any], ours: str = "default") -> list[str]:
    """The table of `paired`: ``ours`` against every other method, problem by problem (random search runs on seeds
    of its own, so its pairs are independent draws: the sign test still asks which tends to end lower)."""
    lines = [
        "",
        f"Seed by seed, {ours} against each method (`paired`): *reach* sooner / later / tied (neither reached), "
        "*final loss* lower / higher / tied, each with a two-sided sign test's p over the seeds that differ.",
        "",
        "| problem | against | reach: sooner / later / tied | p | final loss: lower / higher / tied | p |",
        "|---|---|---|---:|---|---:|",
    ]
    for problem, data in results.items():
        rows = data["methods"]
        if ours not in rows:
            continue
        for method, row in rows.items():
            if method == ours:
                continue
            pair = paired(rows[ours], row)
            reach, final = pair["reach"], pair["best_final"]
            lines.append(
                f"| {problem} | {method} | {reach['better']} / {reach['worse']} / {reach['tied']} | {reach['p']:.2g} | "
                f"{final['better']} / {final['worse']} / {final['tied']} | {final['p']:.2g} |"
            )
    return lines if len(lines) > 5 else []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.multifidelity", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="two problems, two seeds, tunesmith methods only")
    parser.add_argument("--problems", default=",".join(DEFAULT_PROBLEMS), help=f"of {', '.join(PROBLEMS)}")
    parser.add_argument("--methods", default=",".join([*OURS[1:], *PEERS]),
                        help=f"random search always runs (the target); the bounds {', '.join(ORACLES)} when named")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--random-configs", type=int, default=60, help="configurations random search trains fully")
    parser.add_argument("--workers", default="1,4", help="trainers at once on the simulated clock, comma-separated")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    problems = args.problems.split(",")
    methods = [m for m in args.methods.split(",") if m != "random"]
    workers = [int(w) for w in args.workers.split(",")]
    if args.quick:
        problems, methods, args.seeds, args.random_configs, workers = ["curves", "sgd-digits"], OURS[1:], 2, 10, [1]
    missing = [m for m in methods if m in PEERS and not available(m)]
    if missing:
        print(f"not installed (pip install 'tunesmith[bench]'), left out: {', '.join(missing)}")
        methods = [m for m in methods if m not in missing]
    results = evaluate(problems, methods, args.seeds, args.random_configs, workers)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "multifidelity.json").write_text(json.dumps(results, indent=2))
    table = to_markdown(results, args.seeds)
    (out / "multifidelity.md").write_text(table + "\n")
    print(table)
    return 0


def _with_fixed_hash_seed() -> None:
    """Run again under ``PYTHONHASHSEED=0`` unless already: SMAC3's multi-fidelity facade draws differently in each
    process otherwise (late bloomers, seed 0: a winner of 0.1192, 0.1227 and 0.1500 in three processes; under a fixed
    hash seed the same in each), so its rows moved from run to run. No other method's results depend on it."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks.multifidelity", *sys.argv[1:]])


if __name__ == "__main__":
    _with_fixed_hash_seed()
    raise SystemExit(main())
