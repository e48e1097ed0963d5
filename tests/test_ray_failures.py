"""The Ray executor when Ray's own machinery fails or is misplaced: the report hub dying, trials queued in Ray, a
cluster that does not answer, a cluster found on the machine that the executor was not told to join."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tests.ray_env import RAY_WARNINGS  # sets Ray's environment before Ray is imported
from tunesmith.budget import counts_toward_budget
from tunesmith.errors import ConfigError, TunesmithError

ray = pytest.importorskip("ray", reason="the ray extra is part of the test install (make test)")
from ray.cluster_utils import Cluster  # noqa: E402

from tunesmith.executors.ray import RayExecutor  # noqa: E402

pytestmark = [*RAY_WARNINGS]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A two-CPU cluster, as `ray start --head --num-cpus=2` makes one: it records its address where ``ray.init()``
    looks for a cluster to join."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "object_store_memory": 80 * 1024**2, "include_dashboard": False,
                        "node_ip_address": "127.0.0.1"},
    )  # fmt: skip
    cluster.wait_for_nodes()
    try:
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture(autouse=True)
def disconnected() -> Iterator[None]:
    """Each test's executor connects this process to Ray itself (or fails to)."""
    ray.shutdown()
    yield
    ray.shutdown()


def _study(trials: int, **kwargs: Any) -> ts.Study:
    return ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", sampler="random", seed=3, storage="memory",
                    budget=ts.Budget(trials=trials), **kwargs)  # fmt: skip


def _stepped(trial: ts.Trial) -> dict[str, float]:
    """About 1.2 s of six reports: a trial still runs for a second after its first report."""
    for step in trial.steps(6):
        time.sleep(0.2)
        trial.report(loss=trial.params["x"] + 1.0 / (step + 1))
    return {"loss": trial.params["x"]}


@pytest.mark.slow
def test_a_report_hub_killed_mid_study_loses_the_trials_in_flight_and_the_study_goes_on(cluster: Cluster) -> None:
    study = _study(trials=4, retries=1)
    executor = RayExecutor(workers=2, address=cluster.address)
    killed: list[int] = []

    def kill_the_hub_once_a_trial_reported() -> None:  # SIGKILL of the Ray worker process the hub actor lives in
        deadline = time.monotonic() + 90
        while not any(r.intermediate for r in study.trials if r.state is ts.TrialState.RUNNING):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        pid = ray.get(executor._hub.__ray_call__.remote(lambda hub: os.getpid()))
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_the_hub_once_a_trial_reported)
    killer.start()
    try:
        result = study.optimize(_stepped, executor=executor)
    finally:
        killer.join()
    records = study.trials
    lost = [r for r in records if r.kind is ts.TrialKind.LOST_WORKER]
    assert killed and lost, [(r.number, r.state, r.kind) for r in records]
    assert all(r.reason == "lost worker" and "report hub died" in (r.error or "") for r in lost), lost[0].error
    again = {r.attrs["retry_of"]: r for r in records if "retry_of" in r.attrs}
    assert all(again[r.number].params == r.params for r in lost), "each lost trial ran again"
    counted = [r for r in records if counts_toward_budget(r)]
    assert len(counted) == 4 and all(r.state is ts.TrialState.COMPLETE for r in counted)
    assert result.stop_reason.startswith("trial budget spent")


def test_a_report_hub_that_cannot_start_stops_the_run_with_one_message(cluster: Cluster) -> None:
    # A runtime environment the node cannot build: Ray cannot start the hub actor, the first thing the executor needs.
    executor = RayExecutor(address=cluster.address, init_options={"runtime_env": {"conda": "tunesmith-no-such-env"}})
    study = _study(trials=2)
    with pytest.raises(TunesmithError, match="Ray cannot start tunesmith's report hub") as raised:
        study.optimize(lambda t: t.params["x"], executor=executor)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__, "Ray's traceback is not shown"
    assert "RuntimeEnvSetupError" in str(raised.value) and "RAY_AUTH_MODE" in str(raised.value)
    assert study.trials == [], "no trial was started without a hub"


@pytest.mark.slow
def test_trial_timeout_counts_a_trials_run_not_its_wait_in_rays_queue(cluster: Cluster) -> None:
    def objective(trial: ts.Trial) -> dict[str, float]:
        if trial.number == 0:
            time.sleep(60)  # runs past the timeout
        return _stepped(trial)  # about 1.2 s, well within the timeout even on a loaded machine

    # Four trials at once, each holding both CPUs: the last waits in Ray's queue some 6 s before it runs.
    study = _study(trials=4)
    executor = RayExecutor(workers=4, num_cpus=2, address=cluster.address, trial_timeout=4.0)
    study.optimize(objective, executor=executor)
    outcomes = {r.number: (r.state, r.kind) for r in study.trials}
    assert outcomes.pop(0) == (ts.TrialState.FAILED, ts.TrialKind.TIMEOUT)
    assert set(outcomes.values()) == {(ts.TrialState.COMPLETE, None)}, outcomes


def test_an_address_where_nothing_listens_fails_within_seconds_naming_it_and_the_fix() -> None:
    started = time.monotonic()
    refused = (
        r"cannot connect to the Ray cluster at '127.0.0.1:1' \(address\): nothing accepts a TCP connection at "
        r"127.0.0.1 port 1 \(ConnectionRefusedError.*ray start --head"
    )
    with pytest.raises(ConfigError, match=refused):
        _study(trials=1).optimize(lambda t: t.params["x"], executor=RayExecutor(address="127.0.0.1:1"))
    assert time.monotonic() - started < 10  # not one attempt of Ray's, about 40 s
    assert not ray.is_initialized(), "refused before ray.init"


def test_a_host_name_that_does_not_resolve_fails_within_seconds_naming_who_named_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "tunesmith-no-such-host.invalid:6379")  # .invalid never resolves (RFC 6761)
    started = time.monotonic()
    unresolved = (
        r"cluster at 'tunesmith-no-such-host.invalid:6379' \(the RAY_ADDRESS environment variable\): the host name "
        r"'tunesmith-no-such-host.invalid' cannot be resolved .*leave address unset \(and RAY_ADDRESS empty\)"
    )
    with pytest.raises(ConfigError, match=unresolved):
        _study(trials=1).optimize(lambda t: t.params["x"], executor=RayExecutor())
    assert time.monotonic() - started < 10


ADDRESSES = [
    ("127.0.0.1:6379", ("127.0.0.1", 6379)),
    ("head.example:6379", ("head.example", 6379)),
    ("[::1]:6379", ("::1", 6379)),
    ("ray://head.example:10001", ("head.example", 10001)),
    ("ray://[fe80::1%eth0]:10001", ("fe80::1%eth0", 10001)),
    ("auto", None),
    ("local", None),
    ("head.example", None),  # no port: Ray refuses it itself
    ("::1:6379", None),  # an IPv6 address without brackets, which Ray refuses too
    ("head.example:port", None),
    ("head.example:70000", None),
    ("anyscale://cluster:1", None),
]


@pytest.mark.parametrize(("address", "probed"), ADDRESSES, ids=[row[0] for row in ADDRESSES])
def test_only_a_host_and_port_that_ray_would_connect_to_is_probed_before_ray_init(
    address: str, probed: tuple[str, int] | None
) -> None:
    from tunesmith.executors.ray import _host_and_port

    assert _host_and_port(address) == probed


PROBED_THEN_RAY = """
import tunesmith as ts
from tunesmith.executors.ray import RayExecutor

study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", storage="memory", budget=ts.Budget(trials=1))
study.optimize(lambda t: t.params["x"], executor=RayExecutor(address="127.0.0.1:%d"))
"""


@pytest.mark.slow
def test_an_address_that_accepts_a_connection_but_is_no_cluster_fails_after_rays_one_attempt() -> None:
    with socket.create_server(("", 0)) as silent:  # all interfaces: Ray dials this machine's routed address
        port = silent.getsockname()[1]
        # Ray's connect and cluster-id timeouts (5 s and 30 s), read when Ray is imported: shortened in a process
        # of its own, since this one imported Ray already.
        env = {**os.environ, "RAY_gcs_rpc_server_connect_timeout_s": "1", "RAY_py_gcs_connect_timeout_s": "1"}
        driver = subprocess.run([sys.executable, "-c", PROBED_THEN_RAY % port], env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
    assert driver.returncode == 1, driver.stderr[-2000:]
    assert re.search(
        rf"ConfigError: cannot connect to the Ray cluster at '127.0.0.1:{port}' \(address\): Ray gave up after one "
        r"attempt \(ConnectionError: .*ray start --head",
        driver.stderr,
    ), driver.stderr[-2000:]


def test_without_an_address_the_executor_starts_its_own_cluster_not_the_one_found_on_the_machine(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    joined = tmp_path / "gcs_address"

    def objective(trial: ts.Trial) -> float:
        import ray as remote_ray

        joined.write_text(remote_ray.get_runtime_context().gcs_address)
        return trial.params["x"]

    # num_cpus sizes the private cluster: joining the one found, Ray would refuse it.
    result = _study(trials=1).optimize(objective, executor=RayExecutor(workers=1, init_options={"num_cpus": 1}))
    assert result.states == {"complete": 1}
    assert joined.read_text() != cluster.address
    assert not ray.is_initialized(), "the executor shut its own cluster down"


def test_options_that_size_a_cluster_are_refused_with_the_fix_when_joining_one(cluster: Cluster) -> None:
    executor = RayExecutor(address=cluster.address, init_options={"num_cpus": 2})
    with pytest.raises(ConfigError, match=r"init_options num_cpus size a cluster .* joins the running cluster at '"):
        _study(trials=1).optimize(lambda t: t.params["x"], executor=executor)
    assert not ray.is_initialized(), "refused before connecting"
