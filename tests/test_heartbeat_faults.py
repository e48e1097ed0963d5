"""Fault injection: many `tunesmith worker` processes share one study while some are killed with -9.

Each worker names itself as a host of its own (``TUNESMITH_WORKER_HOST``), so no worker can see
another's process: a killed worker's trial is recovered by its heartbeat running out alone, as it
would be across machines. The study allows retries, so every lost trial is run again.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tests.conftest import BIN
from tests.pg import PostgresServer
from tunesmith.budget import counts_toward_budget
from tunesmith.storage import SQLStorage

GRACE = 1.5
BEAT = 0.2


def _run_fault_test(url: str, workers: int, per_worker: int, kills: int, env: dict[str, str]) -> dict[str, int]:
    budget = workers * per_worker
    storage = SQLStorage(url)
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=budget),
                     storage=storage, name="faults", sampler="random", seed=11, retries=2,
                     heartbeat_interval=BEAT, grace=GRACE)  # fmt: skip
    study.set_attr("objective", "objectives:quadratic")  # workers find it there: no --objective needed
    command = [str(BIN / "tunesmith"), "worker", "faults", "--storage", url,
               "--heartbeat-interval", str(BEAT), "--grace", str(GRACE)]  # fmt: skip
    procs = {
        f"node{i}": subprocess.Popen(
            command, env={**env, "TS_TEST_SLEEP": "0.03", "TUNESMITH_WORKER_HOST": f"node{i}"},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(workers)
    }  # fmt: skip
    rng = random.Random(3)
    killed: dict[str, int] = {}  # host -> the trial it was running when killed
    deadline = time.monotonic() + 150
    try:
        while len(killed) < kills and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.2, 0.5))
            running = [r for r in study.trials if r.state is ts.TrialState.RUNNING and r.worker]
            candidates = [r for r in running if r.worker.rpartition(":")[0] not in killed]  # type: ignore[union-attr]
            if len(study.trials) < budget // 10 or not candidates:
                continue
            victim = rng.choice(candidates)
            host = victim.worker.rpartition(":")[0]  # type: ignore[union-attr]
            procs[host].send_signal(signal.SIGKILL)
            killed[host] = victim.number
        outputs = {host: p.communicate(timeout=max(1.0, deadline - time.monotonic())) for host, p in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    for host, proc in procs.items():
        if host in killed:
            assert proc.returncode == -signal.SIGKILL
        else:
            assert proc.returncode == 0, outputs[host][1][-3000:]
            assert "database is locked" not in outputs[host][1]

    records = study.trials
    numbers = [r.number for r in records]
    assert numbers == list(range(len(records))), "0 duplicate numbers, no gap"
    assert not [r.number for r in records if not r.state.is_finished], "nothing left RUNNING"
    counted = [r for r in records if counts_toward_budget(r)]
    assert len(counted) == budget, "the budget is exact"
    assert all(r.state is ts.TrialState.COMPLETE for r in counted), [r.reason for r in counted if r.reason]
    lost = [r for r in records if r.reason == "lost worker"]
    assert len(killed) == kills and lost, "the kills must catch trials in flight"
    assert all(r.worker and r.worker.rpartition(":")[0] in killed for r in lost), "only killed workers lose trials"
    for host, number in killed.items():
        record = records[number]
        assert record.state is ts.TrialState.COMPLETE or record.reason == "lost worker", (host, record)
    retries = {r.attrs["retry_of"]: r for r in records if "retry_of" in r.attrs}
    for record in lost:  # every killed trial recovered by heartbeat, and run again
        assert record.error and "no heartbeat" in record.error
        retry = retries[record.number]
        assert (retry.params, retry.seed) == (record.params, record.seed)
    assert len(retries) == len(lost), "each lost trial is retried exactly once"
    study.storage.close()
    return {"trials": len(records), "counted": len(counted), "lost": len(lost), "killed": len(killed)}


@pytest.mark.slow
def test_10_postgres_workers_killed_at_random_lose_nothing(
    postgres: PostgresServer, objectives_dir: Path, cli_env: dict[str, str]
) -> None:
    figures = _run_fault_test(postgres.create_database("faults"), workers=10, per_worker=30, kills=5, env=cli_env)
    print(f"postgresql: {figures}")


@pytest.mark.slow
def test_6_sqlite_workers_killed_at_random_lose_nothing(
    tmp_path: Path, objectives_dir: Path, cli_env: dict[str, str]
) -> None:
    figures = _run_fault_test(f"sqlite:///{tmp_path}/faults.db", workers=6, per_worker=40, kills=3, env=cli_env)
    print(f"sqlite: {figures}")


@pytest.mark.slow
def test_worker_reads_the_url_from_a_storage_file_and_never_prints_it(
    tmp_path: Path, objectives_dir: Path, cli_env: dict[str, str], postgres: PostgresServer
) -> None:
    url = postgres.create_database("secret")
    postgres.psql("ALTER USER tunesmith PASSWORD 's3cret-pw'")
    with_password = url.replace("tunesmith@", "tunesmith:s3cret-pw@")
    ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=3), storage=with_password,
             name="quiet", sampler="random", seed=2).storage.close()  # fmt: skip
    secret = tmp_path / "storage.url"
    secret.write_text(f"# the study database\n{with_password}\n")
    env = {**cli_env, "TUNESMITH_STORAGE_FILE": str(secret)}
    command = [str(BIN / "tunesmith"), "worker", "quiet", "--objective", "objectives:quadratic"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "worker ran 3 trials of quiet" in done.stdout
    assert "s3cret-pw" not in done.stdout + done.stderr and "***" in done.stdout
    again = subprocess.run(command[:3], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "worker ran 0 trials" in again.stdout, "the objective was recorded"
    missing = subprocess.run([*command[:3], "--storage-file", str(tmp_path / "nope")], env=cli_env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 1 and "cannot read the storage file" in missing.stderr
