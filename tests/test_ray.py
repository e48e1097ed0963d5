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
from tests.ray_env import RAY_WARNINGS  # sets Ray's environment before Ray is imported
from tunesmith.budget import compute_time, counts_toward_budget
from tunesmith.errors import ConfigError
from tunesmith.study import ObjectiveError

ray = pytest.importorskip("ray", reason="the ray extra is part of the test install (make test)")
from ray.cluster_utils import Cluster  # noqa: E402

from tunesmith.executors.ray import RayExecutor  # noqa: E402

pytestmark = [*RAY_WARNINGS]

NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024**2}
# How soon the GCS declares a removed node dead: Ray's default health check (5 failures 3 s apart) leaves the tasks
# placed on it waiting some 15 s. A live node answers each check well within Ray's 10-s timeout, however loaded.
HEALTH_CHECK = {"health_check_period_ms": 500, "health_check_failure_threshold": 3}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head without CPUs for trials (it hosts the drivers' report hubs) and two one-CPU nodes, one with a GPU."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "object_store_memory": 80 * 1024**2, "include_dashboard": False,
                        "node_ip_address": "127.0.0.1", "_system_config": HEALTH_CHECK},
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
    # Each held half of it: a compute budget counts half its time (it counted every Ray trial as one device).
    for record in study.trials:
        assert (record.attrs.get("gpus"), record.attrs.get("gpu_share")) == (["0"], 0.5), record.attrs
        took = (record.finished_at or 0.0) - (record.started_at or 0.0)
        assert compute_time([record], now=0.0) == pytest.approx(0.5 * took)


def test_seed_re_runs_go_to_the_search_s_ray_cluster_and_record_what_local_re_runs_record(cluster: Cluster) -> None:
    driver = os.getpid()

    def objective(trial: ts.Trial) -> dict[str, float]:
        import ray as remote_ray

        on_gpu = float(bool(remote_ray.get_gpu_ids())) if remote_ray.is_initialized() else 0.0
        return {"loss": (trial.params["x"] - 0.3) ** 2 + trial.seed % 7 / 1000, "shown": float(trial.number),
                "remote": float(os.getpid() != driver), "gpu": on_gpu}  # fmt: skip

    def searched() -> ts.Study:
        study = _study("memory", trials=4)
        study.optimize(lambda trial: {"loss": (trial.params["x"] - 0.3) ** 2, "shown": 0.0, "remote": 0.0,
                                      "gpu": 0.0})  # fmt: skip
        return study

    here, there = searched(), searched()
    ts.validate_top(here, objective, k=2, seeds=2, confirm=0)
    ts.validate_top(there, objective, k=2, seeds=2, confirm=0, workers=2,
                    executor={"name": "ray", "num_cpus": 0.5, "num_gpus": 0.5})  # fmt: skip
    local = [r["metrics"] for r in here.attrs["seed_stability"]["runs"]]
    remote = [r["metrics"] for r in there.attrs["seed_stability"]["runs"]]
    assert [m["loss"] for m in remote] == [m["loss"] for m in local]
    assert [m["shown"] for m in remote] == [m["shown"] for m in local], "each run is shown its candidate's number"
    assert all(m["remote"] == 1.0 and m["gpu"] == 1.0 for m in remote), "Ray tasks on the cluster's GPU node"
    assert all(m["remote"] == 0.0 for m in local)


@pytest.mark.slow
def test_a_node_removed_mid_study_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        for step in trial.steps(4):
            time.sleep(0.5)  # long enough that both nodes run a trial at once on a loaded machine (0.2 s missed it)
            trial.report(loss=trial.params["x"] + 1.0 / (step + 1))
        return {"loss": trial.params["x"]}

    study = _study(f"sqlite:///{tmp_path}/node.db", trials=4, retries=1)
    without_gpu = {n["NodeID"] for n in ray.nodes() if n["Alive"] and "GPU" not in n["Resources"]}
    doomed = next(node for node in cluster.worker_nodes if node.node_id in without_gpu)

    crashed: list[object] = []

    def crash_when_busy() -> None:  # a crash while both nodes run a trial: one dies with the node
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            running = [r for r in study.trials if r.state is ts.TrialState.RUNNING]
            if len(running) == 2 and all(r.intermediate for r in running):
                cluster.remove_node(doomed, allow_graceful=False)
                crashed.append(doomed)
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
    assert crashed, "both nodes never ran a trial at once: the node was not removed"
    assert [r.number for r in records] == list(range(len(records)))
    assert all(r.state.is_finished for r in records)
    lost = [r for r in records if r.reason == "lost worker"]
    assert lost, [(r.number, r.state, r.reason, r.error) for r in records if r.reason]
    retries = {r.attrs["retry_of"]: r for r in records if "retry_of" in r.attrs}
    for record in lost:
        assert retries[record.number].params == record.params
    counted = [r for r in records if counts_toward_budget(r)]
    assert len(counted) == 4 and all(r.state is ts.TrialState.COMPLETE for r in counted)
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


def _runaway_guard(limit: int) -> Any:
    """A callback that ends a study recording more than ``limit`` trials: a runaway fails fast, not at the timeout."""

    def guard(study: ts.Study, record: ts.TrialRecord) -> None:
        if record.number >= limit:
            raise AssertionError(f"trial #{record.number} recorded: the study ran past its budget")

    return guard


def test_a_trial_whose_process_dies_is_a_crash_that_spends_the_budget(cluster: Cluster) -> None:
    def objective(trial: ts.Trial) -> float:
        os._exit(3)  # what a segfault in native training code does to the task's worker

    study = _study("memory", trials=3)
    with pytest.raises(ObjectiveError, match="all 3 trials of this run failed and none worked"):
        study.optimize(objective, executor=RayExecutor(workers=1), callbacks=[_runaway_guard(6)])
    records = study.trials
    assert len(records) == 3
    assert all(r.kind is ts.TrialKind.CRASH and r.reason == "trial process died" for r in records), [
        (r.number, r.kind, r.reason) for r in records
    ]
    assert "WorkerCrashedError" in (records[0].error or "")
    assert all(counts_toward_budget(r) for r in records)


@pytest.mark.slow
def test_crashes_in_a_row_stop_the_study_through_fail_fast(cluster: Cluster) -> None:
    def objective(trial: ts.Trial) -> float:
        os._exit(3)

    study = _study("memory", trials=30)
    with pytest.raises(ObjectiveError, match="the first 10 trials all failed and none worked"):
        study.optimize(objective, executor=RayExecutor(workers=2), callbacks=[_runaway_guard(14)])
    crashed = [r for r in study.trials if r.kind is ts.TrialKind.CRASH]
    assert len(crashed) == 10 and len(study.trials) <= 11, [(r.number, r.kind) for r in study.trials]


def test_an_objective_the_ray_workers_cannot_import_stops_the_study_with_the_import_error(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The driver can import the objective's module, the cluster's workers cannot: its pickle names the module.
    (tmp_path / "driver_only_objective.py").write_text("def objective(trial):\n    return trial.params['x']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from driver_only_objective import objective  # type: ignore[import-not-found]

    study = _study("memory", trials=5)
    with pytest.raises(ObjectiveError, match="No module named 'driver_only_objective'"):
        study.optimize(objective, executor=RayExecutor(workers=1), callbacks=[_runaway_guard(8)])
    records = study.trials
    assert len(records) == 3, [(r.number, r.kind, r.reason) for r in records]
    assert all(r.kind is ts.TrialKind.EXCEPTION and counts_toward_budget(r) for r in records)


def test_define_by_run_parameters_come_back_from_the_ray_task(cluster: Cluster) -> None:
    def objective(trial: ts.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        return lr + trial.suggest_int("layers", 1, 4) * 0.01

    study = ts.Study(metric="value", budget=ts.Budget(trials=2), storage="memory", name="dbr", seed=0)
    result = study.optimize(objective, executor=RayExecutor(workers=1))
    assert result.states == {"complete": 2}
    for record in study.trials:
        assert sorted(record.params) == ["layers", "lr"], record.params
        assert record.metrics["value"] == pytest.approx(record.params["lr"] + record.params["layers"] * 0.01)
    assert sorted(study.space) == ["layers", "lr"]


SLEEPER = textwrap.dedent(
    """
    import time

    def objective(trial):
        time.sleep(60)
        return trial.params["x"]
    """
)


def test_sigterm_to_a_cli_worker_on_ray_records_the_trial_and_exits_143(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    db = tmp_path / "term.db"
    _study(f"sqlite:///{db}", trials=2, name="term")
    tunesmith = Path(sys.executable).with_name("tunesmith")
    env = {**os.environ, "RAY_ADDRESS": cluster.address}  # join this cluster instead of starting one
    worker = subprocess.Popen(
        [str(tunesmith), "worker", "term", "--storage", f"sqlite:///{db}", "--objective", "sleeper:objective",
         "--executor", "ray"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "running" not in _states(db).values():
            assert worker.poll() is None and time.monotonic() < deadline, "no trial started"
            time.sleep(0.2)
        time.sleep(1.0)  # past ray.init: the trial's task is submitted
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 143, err[-2000:]
    said = " ".join(err.split())
    assert "terminated (SIGTERM)" in err, err[-2000:]
    assert "Carry on with: tunesmith worker term --storage sqlite:///" in said, err[-2000:]
    assert set(_states(db).values()) == {"failed"}, "the running trial was recorded interrupted"


def test_ray_executor_is_exported_lazily_from_tunesmith_executors() -> None:
    from tunesmith import executors
    from tunesmith.executors import RayExecutor as exported

    assert exported is RayExecutor and "RayExecutor" in executors.__all__
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, tunesmith, tunesmith.executors; "
         "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'tunesmith.executors.ray'))))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert imported.stdout.strip() == "[]", "importing tunesmith imported the Ray executor or Ray"


CRASH, EXCEPTION, LOST = ts.TrialKind.CRASH, ts.TrialKind.EXCEPTION, ts.TrialKind.LOST_WORKER


FAILURES = [
    ("WorkerCrashedError", (), CRASH, "trial process died"),
    ("OutOfMemoryError", ("the node ran short",), ts.TrialKind.OUT_OF_MEMORY, "out of memory"),
    ("RaySystemError", ("No module named 'm'",), EXCEPTION, "exception in trial task"),
    ("RuntimeEnvSetupError", ("pip failed",), EXCEPTION, "exception in trial task"),
    ("NodeDiedError", ("node gone",), LOST, "lost worker"),
    ("LocalRayletDiedError", (), LOST, "lost worker"),
    ("OwnerDiedError", ("ab", "", ""), LOST, "lost worker"),
    ("ActorDiedError", (), LOST, "lost worker"),
    ("TaskCancelledError", (), LOST, "lost worker"),
]


@pytest.mark.parametrize(("name", "args", "kind", "reason"), FAILURES, ids=[row[0] for row in FAILURES])
def test_each_ray_failure_is_recorded_as_what_failed(
    name: str, args: tuple[Any, ...], kind: ts.TrialKind, reason: str
) -> None:
    from tunesmith.executors.ray import _failure

    exc = getattr(ray.exceptions, name)(*args)
    outcome = _failure(4, exc, ts.Decision.CONTINUE)
    assert (outcome.number, outcome.kind, outcome.reason) == (4, kind, reason)
    assert outcome.error == f"{name}: {exc}"
