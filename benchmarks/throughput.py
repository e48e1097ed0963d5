"""Trial throughput with shared storage, and a 10,000-trial study written and read back, next to Optuna.

Each worker is a process of its own (as `tunesmith worker` would be), the objective is trivial, and
both libraries use the same storage URL in the same run: SQLite (a file) and PostgreSQL (a throwaway
server started from the machine's binaries, see tests/pg.py). Optuna samples at random, as tunesmith
does here, so the figures compare the storage paths, not the samplers.

Example:
    python -m benchmarks.throughput                          # 1, 2, 4, 8 workers; 10,000 trials
    python -m benchmarks.throughput --trials 200 --big 2000  # quicker
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _tunesmith_worker(url: str, name: str) -> None:
    import tunesmith as ts

    study = ts.Study.load(name, url)
    study.optimize(lambda trial: {"loss": trial.params["x"] ** 2})


def _optuna_worker(url: str, name: str, n_trials: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=name, storage=url, sampler=optuna.samplers.RandomSampler())
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0) ** 2, n_trials=n_trials)


def _run_processes(target: Callable[..., None], args: tuple[Any, ...], workers: int) -> float:
    context = mp.get_context("spawn")  # fresh interpreters, as separate workers would be
    processes = [context.Process(target=target, args=args) for _ in range(workers)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"a worker exited with {process.exitcode}")
    return time.perf_counter() - started


def _throughput(url: str, optuna_url: str, workers: int, trials: int, tag: str) -> dict[str, float]:
    import optuna

    import tunesmith as ts

    name = f"tp-{tag}-{workers}"
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=trials), storage=url,
             name=name, sampler="random", seed=0).storage.close()  # fmt: skip
    ours = _run_processes(_tunesmith_worker, (url, name), workers)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name=name, storage=optuna_url)
    theirs = _run_processes(_optuna_worker, (optuna_url, name, trials // workers), workers)
    return {"tunesmith": trials / ours, "optuna": trials / theirs}


def _big(url: str, optuna_url: str, trials: int, tag: str) -> dict[str, float]:
    import optuna

    import tunesmith as ts
    from tunesmith.storage import open_storage

    name = f"big-{tag}"
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage=url, name=name, sampler="random",
                     seed=0)  # fmt: skip
    started = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        study.tell(trial, {"loss": trial.params["x"] ** 2})
    ours_write = time.perf_counter() - started
    study.storage.close()
    started = time.perf_counter()
    store = open_storage(url)
    records = ts.Study.load(name, store).trials
    ours_read = time.perf_counter() - started
    started = time.perf_counter()
    again = store.get_trials(store.load_study(name).id)
    ours_reread = time.perf_counter() - started
    assert len(records) == len(again) == trials
    store.close()

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    theirs_study = optuna.create_study(study_name=name, storage=optuna_url, sampler=optuna.samplers.RandomSampler())
    started = time.perf_counter()
    for _ in range(trials):
        trial = theirs_study.ask()
        theirs_study.tell(trial, trial.suggest_float("x", 0.0, 1.0) ** 2)
    theirs_write = time.perf_counter() - started
    started = time.perf_counter()
    loaded = optuna.load_study(study_name=name, storage=optuna_url).trials
    theirs_read = time.perf_counter() - started
    assert len(loaded) == trials
    return {
        "tunesmith_write_s": ours_write,
        "tunesmith_read_s": ours_read,
        "tunesmith_cached_reread_s": ours_reread,
        "optuna_write_s": theirs_write,
        "optuna_read_s": theirs_read,
    }


def _sqlite_urls(directory: str) -> Callable[[str], str]:
    counter = iter(range(1_000_000))
    return lambda prefix: f"sqlite:///{directory}/{prefix}{next(counter)}.db"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4,8", help="comma-separated worker counts")
    parser.add_argument("--trials", type=int, default=400, help="trials per throughput run")
    parser.add_argument("--big", type=int, default=10_000, help="trials in the write/read-back study (0: skip)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--output", default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pg, for the PostgreSQL server
    results: dict[str, Any] = {"throughput": {}, "big": {}}
    with tempfile.TemporaryDirectory(prefix="tunesmith-throughput-") as tmp:
        server = None
        try:
            for backend in args.backends.split(","):
                if backend == "postgresql":
                    from tests.pg import PostgresServer

                    server = PostgresServer().start()
                    make_url = server.create_database
                else:
                    make_url = _sqlite_urls(tmp)
                for workers in (int(w) for w in args.workers.split(",")):
                    # Same engine, a database each: both libraries name their tables "studies" and "trials".
                    figures = _throughput(make_url("tp"), make_url("op"), workers, args.trials, backend)
                    results["throughput"][f"{backend}/{workers}"] = figures
                    print(f"{backend:10s} {workers} workers: tunesmith {figures['tunesmith']:7.1f} trials/s, "
                          f"optuna {figures['optuna']:7.1f} trials/s", flush=True)  # fmt: skip
                if args.big:
                    figures = _big(make_url("big"), make_url("opbig"), args.big, backend)
                    results["big"][backend] = figures
                    print(f"{backend:10s} {args.big} trials: " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()),
                          flush=True)  # fmt: skip
        finally:
            if server is not None:
                server.stop()
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
