"""Peer multi-fidelity tuners behind one small interface, run on the benchmark's simulated clock.

Each peer is an adapter with three methods: `Peer.ask` (a configuration to train, from which step
to which), `Peer.step` (one step's loss: go on?) and `Peer.end` (the run ended: at its target,
stopped by the peer, or cut by the budget). `drive` runs a peer with ``workers`` trainers in
lock-step on a simulated clock (one step = one second on every busy worker), charges one unit of
resource per step, and stops when the budget is spent, exactly as the tunesmith study does.

Fair to every peer:

* the same resource units (a step of training) and the same total;
* a configuration evaluated again at a higher fidelity (DEHB's and SMAC's promotions) continues
  from where it stopped, as from a checkpoint, and is charged only the new steps: more generous
  than their documented default (train from scratch at each fidelity);
* each peer with its documented defaults: Optuna's default sampler (TPE) under each pruner;
  Syne Tune's ``ASHA`` and ``BOHB`` baselines; DEHB's and SMAC's multi-fidelity facade's own
  settings, with ``min_fidelity``/``min_budget`` 1, ``max`` 81 and eta 3 where they ask for them.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import shutil
import tempfile
import warnings
from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tunesmith as ts
from benchmarks.multifidelity_problems import CurveCache, CurveProblem

__all__ = ["PEERS", "Job", "Meter", "Peer", "Trace", "available", "drive", "make_peer"]


@dataclass
class Trace:
    """What a run did: (resource spent so far, final loss) each time a trial finished its full training."""

    events: list[tuple[float, float]]
    configurations: int
    spent: int


@dataclass
class Meter:
    """Counts resource as steps are taken and notes each full training's final loss."""

    max_resource: int
    spent: int = 0
    events: list[tuple[float, float]] = field(default_factory=list)

    def charge(self, step: int, loss: float) -> None:
        self.spent += 1
        if step == self.max_resource:
            self.events.append((float(self.spent), loss))


@dataclass
class Job:
    """A stretch of training: configuration ``key`` from step ``start`` (already trained) to ``stop``."""

    key: Hashable
    params: dict[str, Any]
    start: int
    stop: int
    handle: Any = None


class Peer(ABC):
    """A tuner driven step by step (see the module docstring)."""

    def __init__(self, problem: CurveProblem, seed: int) -> None:
        self.problem = problem
        self.seed = seed
        self.trained: dict[Hashable, int] = {}  # steps each configuration has been trained for
        self.seeds: dict[Hashable, int] = {}

    def seed_of(self, key: Hashable) -> int:
        """The training seed of a configuration: fixed at its first run, so that later runs continue it."""
        if key not in self.seeds:
            self.seeds[key] = int(np.random.SeedSequence([self.seed, len(self.seeds)]).generate_state(1)[0])
        return self.seeds[key]

    @abstractmethod
    def ask(self) -> Job | None:
        """The next stretch of training (``None``: nothing to start until a running job ends)."""

    def step(self, job: Job, step: int, loss: float) -> bool:
        """The loss after ``step``; whether training goes on (stretches of a fixed length: always)."""
        return True

    def end(self, job: Job, step: int, loss: float, *, cut: bool) -> None:  # noqa: B027 - optional hook
        """The job ended at ``step`` (``cut``: the budget ran out under it)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the peer holds (its output folder)."""


class _OutputFolder:
    """A folder for a peer that insists on writing files, removed by `Peer.close`."""

    def __init__(self, prefix: str) -> None:
        self.name = tempfile.mkdtemp(prefix=prefix)

    def remove(self) -> None:
        shutil.rmtree(self.name, ignore_errors=True)


def drive(peer: Peer, resource: int, workers: int = 1) -> Trace:
    """Run ``peer`` until ``resource`` steps are spent, ``workers`` jobs at a time on a simulated clock."""
    try:
        with warnings.catch_warnings():  # deprecation notices from the peers' own dependencies
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            return _drive(peer, resource, workers)
    finally:
        peer.close()


def _drive(peer: Peer, resource: int, workers: int) -> Trace:
    problem = peer.problem
    cache = CurveCache(problem)
    meter = Meter(problem.max_resource)
    running: list[tuple[Job, int] | None] = [None] * workers  # (job, last step done) per worker
    while meter.spent < resource:
        for w in range(workers):
            if running[w] is None and (job := peer.ask()) is not None:
                running[w] = (job, job.start)
        if all(r is None for r in running):
            raise RuntimeError(f"{type(peer).__name__} offered no job while none was running")
        for w, current in enumerate(running):
            if current is None or meter.spent >= resource:
                continue
            job, done = current
            if done >= problem.max_resource:  # a configuration asked again at a fidelity it has already trained to
                peer.end(job, done, cache.loss(job.key, job.params, peer.seed_of(job.key), done), cut=False)
                running[w] = None
                continue
            step = done + 1
            loss = cache.loss(job.key, job.params, peer.seed_of(job.key), step)
            meter.charge(step, loss)
            peer.trained[job.key] = max(peer.trained.get(job.key, 0), step)
            if not peer.step(job, step, loss) or step >= job.stop:
                peer.end(job, step, loss, cut=False)
                running[w] = None
            else:
                running[w] = (job, step)
    for current in running:
        if current is not None:
            peer.end(current[0], current[1], math.nan, cut=True)
    return Trace(meter.events, len(peer.seeds), meter.spent)


# Optuna: TPE (the default sampler) under each pruner, through ask and tell -------------------------------


class OptunaPeer(Peer):
    def __init__(self, problem: CurveProblem, seed: int, pruner: str) -> None:
        super().__init__(problem, seed)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        pruners = {
            "sha": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
            "hyperband": lambda: optuna.pruners.HyperbandPruner(
                min_resource=1, max_resource=problem.max_resource, reduction_factor=3
            ),
            "wilcoxon": lambda: optuna.pruners.WilcoxonPruner(),
        }
        # A fixed study name: the Hyperband pruner deals trials to brackets by a hash of the study's name, which is
        # random by default, so its results would move from one run of the benchmark to the next.
        self.study = optuna.create_study(study_name=f"benchmark-{problem.name}-{seed}",
                                         sampler=optuna.samplers.TPESampler(seed=seed),
                                         pruner=pruners[pruner]())  # fmt: skip

    def ask(self) -> Job:
        trial = self.study.ask()
        params: dict[str, Any] = {}
        for name, param in self.problem.space.items():
            if isinstance(param, ts.Float):
                params[name] = trial.suggest_float(name, param.low, param.high, log=param.log)
            elif isinstance(param, ts.Int):
                params[name] = trial.suggest_int(name, param.low, param.high, log=param.log)
            elif isinstance(param, ts.Choice):
                params[name] = trial.suggest_categorical(name, list(param.options))
        return Job(("optuna", trial.number), params, 0, self.problem.max_resource, trial)

    def step(self, job: Job, step: int, loss: float) -> bool:
        job.handle.report(loss, step)
        return step >= job.stop or not job.handle.should_prune()

    def end(self, job: Job, step: int, loss: float, *, cut: bool) -> None:
        if cut:
            return
        if step >= job.stop:
            self.study.tell(job.handle, loss)
        else:
            self.study.tell(job.handle, state=self.optuna.trial.TrialState.PRUNED)


# Syne Tune: its ASHA and BOHB baselines (stopping type, one bracket), driven as its Tuner drives them ------


class SyneTunePeer(Peer):
    def __init__(self, problem: CurveProblem, seed: int, method: str) -> None:
        super().__init__(problem, seed)
        from syne_tune import config_space as cs
        from syne_tune.optimizer import baselines

        space: dict[str, Any] = {}
        for name, param in problem.space.items():
            if isinstance(param, ts.Float):
                space[name] = (cs.loguniform if param.log else cs.uniform)(param.low, param.high)
            elif isinstance(param, ts.Int):
                space[name] = (cs.lograndint if param.log else cs.randint)(param.low, param.high)
            elif isinstance(param, ts.Choice):
                space[name] = cs.choice(list(param.options))
        space["epochs"] = problem.max_resource
        logging.getLogger("syne_tune").setLevel(logging.ERROR)
        np.random.seed(seed % 2**32)  # Syne Tune deals trials to brackets with numpy's global generator
        kind = baselines.ASHA if method == "asha" else baselines.BOHB
        self.scheduler = kind(space, metric="loss", time_attr="epoch", max_t=problem.max_resource,
                              random_seed=seed % 2**31)  # fmt: skip
        self.count = 0

    def ask(self) -> Job | None:
        import datetime

        from syne_tune.backend.trial_status import Trial

        suggestion = self.scheduler.suggest()
        if suggestion is None:
            return None
        trial = Trial(trial_id=self.count, config=suggestion.config, creation_time=datetime.datetime.now())
        self.count += 1
        self.scheduler.on_trial_add(trial)
        params = {k: v for k, v in suggestion.config.items() if k != "epochs"}
        return Job(("syne", trial.trial_id), params, 0, self.problem.max_resource, trial)

    def step(self, job: Job, step: int, loss: float) -> bool:
        from syne_tune.optimizer.scheduler import SchedulerDecision

        decision = self.scheduler.on_trial_result(job.handle, {"loss": loss, "epoch": step})
        return decision == SchedulerDecision.CONTINUE

    def end(self, job: Job, step: int, loss: float, *, cut: bool) -> None:
        if not cut:
            self.scheduler.on_trial_remove(job.handle)


# DEHB and SMAC: a configuration and a fidelity per job --------------------------------------------------


def _configspace(space: ts.Space, seed: int) -> Any:
    from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer

    cs = ConfigurationSpace(seed=seed % 2**31)
    for name, param in space.items():
        if isinstance(param, ts.Float):
            cs.add(Float(name, (param.low, param.high), log=param.log))
        elif isinstance(param, ts.Int):
            cs.add(Integer(name, (param.low, param.high), log=param.log))
        elif isinstance(param, ts.Choice):
            cs.add(Categorical(name, list(param.options)))
    return cs


def _key(params: dict[str, Any]) -> Hashable:
    return tuple(sorted((k, float(v) if isinstance(v, int | float) else v) for k, v in params.items()))


class DEHBPeer(Peer):
    def __init__(self, problem: CurveProblem, seed: int) -> None:
        super().__init__(problem, seed)
        from dehb import DEHB

        self.output = _OutputFolder("dehb-")
        logging.getLogger("distributed").setLevel(logging.ERROR)
        self.dehb = DEHB(cs=_configspace(problem.space, seed), min_fidelity=1, max_fidelity=problem.max_resource,
                         eta=3, n_workers=1, seed=seed % 2**31, output_path=self.output.name,
                         save_freq=None)  # fmt: skip
        from loguru import logger

        logger.remove()  # DEHB logs every bracket through loguru

    def ask(self) -> Job:
        info = self.dehb.ask()
        params = dict(info["config"])
        key = _key(params)
        return Job(key, params, self.trained.get(key, 0), round(info["fidelity"]), info)

    def end(self, job: Job, step: int, loss: float, *, cut: bool) -> None:
        if not cut:
            self.dehb.tell(job.handle, {"fitness": loss, "cost": step - job.start})

    def close(self) -> None:
        self.output.remove()


class SMACPeer(Peer):
    def __init__(self, problem: CurveProblem, seed: int, resource: int) -> None:
        super().__init__(problem, seed)
        from smac import MultiFidelityFacade, Scenario

        self.output = _OutputFolder("smac-")
        scenario = Scenario(_configspace(problem.space, seed), deterministic=True, n_trials=resource,
                            min_budget=1, max_budget=problem.max_resource, seed=seed % 2**31,
                            output_directory=self.output.name)  # fmt: skip

        def never_called(config: Any, seed: int = 0, budget: float = 0.0) -> float:
            raise RuntimeError("trials run through ask and tell")

        self.smac = MultiFidelityFacade(scenario, never_called, overwrite=True, logging_level=40)

    def ask(self) -> Job:
        info = self.smac.ask()
        params = dict(info.config)
        key = _key(params)
        return Job(key, params, self.trained.get(key, 0), round(info.budget), info)

    def end(self, job: Job, step: int, loss: float, *, cut: bool) -> None:
        from smac.runhistory.dataclasses import TrialValue

        if not cut:
            self.smac.tell(job.handle, TrialValue(cost=loss), save=False)

    def close(self) -> None:
        self.output.remove()


PEERS = ["optuna-sha", "optuna-hyperband", "optuna-wilcoxon", "synetune-asha", "synetune-bohb", "dehb", "smac-mf"]
_MODULES = {"optuna": "optuna", "synetune": "syne_tune", "dehb": "dehb", "smac": "smac"}


def available(method: str) -> bool:
    """Whether the package behind peer ``method`` is installed (``pip install 'tunesmith[bench]'``)."""
    module = _MODULES[method.split("-")[0]]
    return importlib.util.find_spec(module) is not None


def make_peer(method: str, problem: CurveProblem, seed: int, resource: int) -> Peer:
    family, _, variant = method.partition("-")
    with warnings.catch_warnings():  # deprecation notices from the peers' own dependencies
        warnings.simplefilter("ignore")
        if family == "optuna":
            return OptunaPeer(problem, seed, variant)
        if family == "synetune":
            return SyneTunePeer(problem, seed, variant)
        if family == "dehb":
            return DEHBPeer(problem, seed)
        if family == "smac":
            return SMACPeer(problem, seed, resource)
    raise KeyError(f"unknown peer {method!r}: one of {PEERS}")
