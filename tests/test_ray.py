"""The Ray executor on a real several-node cluster on this machine (`ray.cluster_utils.Cluster`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.budget import counts_toward_budget
from tunesmith.errors import ConfigError

# Loopback only: Ray would otherwise turn 127.0.0.1 into this machine's routed address. Read at import.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
ray = pytest.importorskip("ray", reason="the ray extra is part of the test install (make test)")
from ray.cluster_utils import Cluster  # noqa: E402

from tunesmith.executors.ray import RayExecutor  # noqa: E402

pytestmark = [
    # Ray's own modules raise these on import and shutdown; none comes from tunesmith.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024**2}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head without CPUs for trials (it hosts the drivers' report hubs) and two one-CPU nodes, one with a GPU."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": 80 * 1024**2, "include_dashboard": False,
                        "node_ip_address": "127.0.0.1"},
    )  # fmt: skip
    cluster.add_node(**NODE, node_ip_address="127.0.0.1")
    cluster.add_node(**NODE, node_ip_address="127.0.0.1", num_gpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def _study(storage: str, trials: int, **kwargs: Any) -> ts.Study:
    options: dict[str, Any] = {"metric": "loss", "sampler": "random", "seed": 3, "name": "ray"}
    options.update(kwargs)
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), storage=storage, budget=ts.Budget(trials=trials), **options)


def test_reports_stream_back_and_the_scheduler_decides_on_the_driver(cluster: Cluster, tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        for step in trial.steps(3):
            trial.report(loss=trial.params["x"] + 1.0 / (step + 1))
        return {"loss": trial.params["x"]}

    study = _study(f"sqlite:///{tmp_path}/r.db", trials=4)
    result = study.optimize(objective, executor=RayExecutor(workers=2))
    assert result.states == {"complete": 4}
    for record in study.trials:
        assert sorted(record.intermediate) == [1, 2, 3] and record.resource == 3.0


def test_a_fractional_gpu_request_puts_two_trials_on_one_gpu(cluster: Cluster) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        import ray as remote_ray

        started = time.time()
        time.sleep(4.0)  # long enough to overlap even when a Ray worker starts slowly on a busy machine
        return {"loss": trial.params["x"], "gpu": float(remote_ray.get_gpu_ids()[0]), "start": started,
                "end": time.time()}  # fmt: skip

    study = _study("memory", trials=2)
    study.optimize(objective, executor=RayExecutor(workers=2, num_cpus=0.5, num_gpus=0.5))
    first, second = (r.metrics for r in study.trials)
    assert first["gpu"] == second["gpu"] == 0.0, "both trials saw the one GPU"
    assert first["start"] < second["end"] and second["start"] < first["end"], "they shared it at the same time"


@pytest.mark.slow
def test_a_node_removed_mid_study_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        for step in trial.steps(4):
            time.sleep(0.2)
            trial.report(loss=trial.params["x"] + 1.0 / (step + 1))
        return {"loss": trial.params["x"]}

    study = _study(f"sqlite:///{tmp_path}/node.db", trials=8, retries=1)
    without_gpu = {n["NodeID"] for n in ray.nodes() if n["Alive"] and "GPU" not in n["Resources"]}
    doomed = next(node for node in cluster.worker_nodes if node.node_id in without_gpu)

    def crash_when_busy() -> None:  # a crash while both nodes run a trial: one dies with the node
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            running = [r for r in study.trials if r.state is ts.TrialState.RUNNING]
            if len(running) == 2 and all(r.intermediate for r in running):
                cluster.remove_node(doomed, allow_graceful=False)
                return

    crasher = threading.Thread(target=crash_when_busy)
    crasher.start()
    try:
        result = study.optimize(objective, executor=RayExecutor(workers=2))
    finally:
        crasher.join()
        if doomed not in cluster.worker_nodes:
            cluster.add_node(**NODE, node_ip_address="127.0.0.1")
    records = study.trials
    assert [r.number for r in records] == list(range(len(records)))
    assert all(r.state.is_finished for r in records)
    lost = [r for r in records if r.reason == "lost worker"]
    assert lost, [(r.number, r.state, r.reason, r.error) for r in records if r.reason]
    retries = {r.attrs["retry_of"]: r for r in records if "retry_of" in r.attrs}
    for record in lost:
        assert retries[record.number].params == record.params
    counted = [r for r in records if counts_toward_budget(r)]
    assert len(counted) == 8 and all(r.state is ts.TrialState.COMPLETE for r in counted)
    assert result.stop_reason.startswith("trial budget spent")


DRIVER = textwrap.dedent(
    """
    import sys, time
    import tunesmith as ts
    from tunesmith.executors.ray import RayExecutor

    def objective(trial):
        time.sleep(0.4)
        return {"loss": (trial.params["x"] - 2) ** 2 + trial.params["y"]}

    study = ts.Study(ts.Space({"x": ts.Int(0, 3), "y": ts.Choice([0, 1, 2])}), metric="loss", sampler="grid",
                     budget=ts.Budget(trials=12), storage=sys.argv[1], name="grid", seed=0, retries=1)
    study.optimize(objective, executor=RayExecutor(workers=2, address=sys.argv[2]))
    """
)


def _states(db: Path) -> dict[int, str]:
    try:
        with closing(sqlite3.connect(db)) as conn, conn:  # sqlite3's own context commits but never closes
            return dict(conn.execute("SELECT number, state FROM trials").fetchall())
    except sqlite3.OperationalError:
        return {}


@pytest.mark.slow
def test_kill_9_of_the_driver_then_resume_loses_no_trial_and_the_grid_continues(
    cluster: Cluster, tmp_path: Path
) -> None:
    db = tmp_path / "driver.db"
    url = f"sqlite:///{db}"
    env = dict(os.environ)
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, url, cluster.address], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.1)
        states = _states(db)
        if sum(s == "complete" for s in states.values()) >= 3 and "running" in states.values():
            break
    else:
        driver.kill()
        pytest.fail("the driver never got 3 trials done")
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    before = _states(db)
    done_before = {n for n, s in before.items() if s == "complete"}

    study = ts.Study.load("grid", url)
    assert study.retries == 1
    study.optimize(lambda t: {"loss": (t.params["x"] - 2) ** 2 + t.params["y"]}, executor=RayExecutor(workers=2))
    records = study.trials
    assert done_before <= {r.number for r in records if r.state is ts.TrialState.COMPLETE}, "a COMPLETE trial was lost"
    assert [r.number for r in records] == list(range(len(records)))
    complete = [r for r in records if r.state is ts.TrialState.COMPLETE]
    points = [(r.params["x"], r.params["y"]) for r in complete]
    assert len(points) == 12 and len(set(points)) == 12, "the grid went on from history: every point once"
    interrupted = [r for r in records if r.reason == "interrupted"]
    assert interrupted and all(r.number in {c.attrs.get("retry_of") for c in complete} for r in interrupted)


def test_memory_limit_is_refused_for_ray_with_the_alternative() -> None:
    with pytest.raises(ConfigError, match="memory_limit is enforced by executor='processes' only"):
        _study("memory", trials=1).optimize(lambda t: 0.0, executor="ray", memory_limit=10**9)
    with pytest.raises(ConfigError, match="num_gpus must be a finite number >= 0, got num_gpus=-1"):
        RayExecutor(num_gpus=-1)
