"""Sampler overhead: seconds per ask+tell as the number of finished trials grows, tunesmith vs Optuna.

Both sides get a history of ``n`` finished random trials on the same 5-dimensional problem, then
time a few ask+tell pairs of the model-based sampler, in the same process. tunesmith's GP refits its
kernel hyperparameters only at fixed history sizes (about n/16 apart), so its figure is the mean over
a whole refit cycle (the refit included), not the median of a few cheap asks.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

import tunesmith as ts
from tunesmith.storage.memory import MemoryStorage

__all__ = ["measure"]

_SPACE = ts.Space({f"x{i}": ts.Float(0.0, 1.0) for i in range(5)})


def _loss(values: list[float]) -> float:
    return float(sum((v - 0.2 - 0.1 * i) ** 2 for i, v in enumerate(values)))


def _ours(sampler: str, n: int, repeats: int, mean: bool = False) -> float:
    storage = MemoryStorage()
    warm = ts.Study(_SPACE, metric="loss", sampler="random", storage=storage, name="overhead", seed=0)
    for _ in range(n):
        trial = warm.ask()
        warm.tell(trial, _loss([trial.params[f"x{i}"] for i in range(5)]))
    study = ts.Study(_SPACE, metric="loss", sampler=sampler, storage=storage, name="overhead", seed=0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trial = study.ask()
        study.tell(trial, _loss([trial.params[f"x{i}"] for i in range(5)]))
        times.append(time.perf_counter() - start)
    return float(np.mean(times) if mean else np.median(times))


def _optuna(kind: str, n: int, repeats: int) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(5)}
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler: Any = (
            optuna.samplers.TPESampler(seed=0, multivariate=True)
            if kind == "tpe"
            else optuna.samplers.GPSampler(seed=0)
        )
        study = optuna.create_study(sampler=sampler)
        trials = []
        for _ in range(n):
            values = rng.random(5)
            params = {f"x{i}": float(v) for i, v in enumerate(values)}
            trials.append(optuna.trial.create_trial(params=params, distributions=dists, value=_loss(list(values))))
        study.add_trials(trials)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            trial = study.ask(dists)
            study.tell(trial, _loss([trial.params[f"x{i}"] for i in range(5)]))
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(sizes: list[int], gp_sizes: list[int], repeats: int = 5) -> list[dict[str, Any]]:
    """Rows of ``{"sampler", "trials", "tunesmith_s", "optuna_s", "ratio"}``."""
    rows = []
    for kind, ns in (("tpe", sizes), ("gp", gp_sizes)):
        for n in ns:
            reps = repeats if kind == "tpe" else max(2, repeats // 2)
            # A GP refit cycle at n trials is 2 ** (floor(log2 n) - 4) asks (`tunesmith.samplers.gp.refit_size`).
            cycle = max(reps, 2 ** max(0, int(np.log2(n)) - 4)) if kind == "gp" else reps
            ours = _ours(kind, n, cycle, mean=kind == "gp")
            peer = _optuna(kind, n, reps)
            rows.append({"sampler": kind, "trials": n, "tunesmith_s": ours, "optuna_s": peer, "ratio": ours / peer})
            print(
                f"overhead {kind} @ {n}: tunesmith {ours * 1000:.1f} ms, optuna {peer * 1000:.1f} ms, "
                f"ratio {ours / peer:.3f}",
                flush=True,
            )
    return rows
