"""Heartbeats, lost workers and retries, on every storage, for ask/tell as for optimize."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tunesmith as ts
from tests.pg import PostgresServer
from tunesmith.storage import MemoryStorage, SQLStorage, Storage

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
FAST = {"heartbeat_interval": 0.1, "grace": 0.6}


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def shared_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Storage]]:
    """Opens the same storage again, as another worker would (memory: the same object).

    Closing one while a study's heartbeat thread still beats is safe: `SQLStorage.close` waits for it.
    """
    opened: list[Storage] = []
    if request.param == "memory":
        memory = MemoryStorage()
        yield lambda: memory
        return
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database("hb")
    else:
        url = f"sqlite:///{tmp_path}/hb.db"

    def open_() -> Storage:
        opened.append(SQLStorage(url))
        return opened[-1]

    yield open_
    for storage in opened:
        storage.close()


def _study(storage: Storage, **kwargs: object) -> ts.Study:
    options: dict[str, object] = {"metric": "loss", "sampler": "random", "seed": 5, "name": "hb", **FAST}
    options.update(kwargs)
    return ts.Study(SPACE, storage=storage, **options)  # type: ignore[arg-type]


def _vanish(storage: Storage, **kwargs: object) -> ts.Trial:
    """A worker that asks for a trial and vanishes without a word (its heartbeat thread ends with it).

    Returns a detached copy of the trial it held.
    """
    study = _study(storage, **kwargs)
    trial = study.ask()
    copy = ts.Trial(trial.number, dict(trial.params), trial.seed, None)
    del study, trial
    gc.collect()
    return copy


def test_ask_tell_trials_are_beaten_in_the_background(shared_storage: Callable[[], Storage]) -> None:
    study = _study(shared_storage())
    trial = study.ask()
    first = study.storage.get_trial(study.info.id, trial.number).heartbeat_at
    time.sleep(0.45)
    later = study.storage.get_trial(study.info.id, trial.number).heartbeat_at
    assert first is not None and later is not None and later - first >= 0.2


def test_a_live_ask_tell_trial_outlasting_grace_is_never_reaped(shared_storage: Callable[[], Storage]) -> None:
    owner = _study(shared_storage())
    trial = owner.ask()
    other = _study(shared_storage())
    time.sleep(1.0)  # longer than grace: only the heartbeat keeps the trial alive
    assert other.reap_lost_trials() == []
    record = owner.tell(trial, {"loss": 0.5})
    assert record.state is ts.TrialState.COMPLETE


def test_a_silent_worker_s_trial_becomes_failed_lost_worker_and_is_retried(
    shared_storage: Callable[[], Storage],
) -> None:
    trial = _vanish(shared_storage(), retries=1, budget=ts.Budget(trials=3))
    lost_number, lost_params, lost_seed = trial.number, trial.params, trial.seed
    survivor = _study(shared_storage(), budget=ts.Budget(trials=3))
    assert survivor.retries == 1, "retries come from the stored study"
    time.sleep(0.9)
    retry = survivor.ask()
    lost = survivor.storage.get_trial(survivor.info.id, lost_number)
    assert lost.state is ts.TrialState.FAILED and lost.reason == "lost worker"
    assert "no heartbeat" in (lost.error or "")
    assert retry.number == lost_number + 1 and retry.params == lost_params and retry.seed == lost_seed
    attrs = survivor.storage.get_trial(survivor.info.id, retry.number).attrs
    assert attrs["retry_of"] == lost_number and attrs["retries"] == 1
    survivor.tell(retry, {"loss": 0.1})
    survivor.optimize(lambda t: {"loss": t.params["x"]})
    counted = [r for r in survivor.trials if r.reason != "lost worker"]
    assert len(counted) == 3 and all(r.state is ts.TrialState.COMPLETE for r in counted), "the budget ends exact"


def test_retries_stop_at_the_study_s_limit(shared_storage: Callable[[], Storage]) -> None:
    _vanish(shared_storage(), retries=1)
    time.sleep(0.9)
    retry = _vanish(shared_storage())  # the retry of trial 0 ...
    assert retry.number == 1  # ... is lost as well
    third = _study(shared_storage())
    time.sleep(0.9)
    fresh = third.ask()
    record = third.storage.get_trial(third.info.id, fresh.number)
    assert "retry_of" not in record.attrs, "one retry was allowed, so the sampler proposes anew"
    assert [r.reason for r in third.trials[:2]] == ["lost worker", "lost worker"]
    assert third.trials[1].attrs["retry_of"] == 0 and third.trials[1].attrs["retries"] == 1


def test_without_retries_a_lost_trial_is_replaced_by_a_new_proposal(shared_storage: Callable[[], Storage]) -> None:
    _vanish(shared_storage(), budget=ts.Budget(trials=2))
    survivor = _study(shared_storage(), budget=ts.Budget(trials=2))
    time.sleep(0.9)
    result = survivor.optimize(lambda t: {"loss": t.params["x"]})
    assert [r.state for r in survivor.trials] == [ts.TrialState.FAILED] + [ts.TrialState.COMPLETE] * 2
    assert result.trials_run == 2 and all("retry_of" not in r.attrs for r in survivor.trials)


def test_an_explicit_heartbeat_keeps_a_trial_worked_on_elsewhere_alive(shared_storage: Callable[[], Storage]) -> None:
    number = _vanish(shared_storage()).number
    keeper = _study(shared_storage())  # e.g. the remote job that holds only the trial number
    reaper = _study(shared_storage())
    for _ in range(8):
        keeper.heartbeat(number)
        time.sleep(0.12)
    assert reaper.reap_lost_trials() == []
    time.sleep(0.8)
    assert reaper.reap_lost_trials() == [number]


def test_a_dead_local_process_s_trial_is_interrupted_at_once_and_retried(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/dead.db"
    ts.Study(SPACE, metric="loss", storage=url, name="dead", sampler="random", seed=1, retries=2).storage.close()
    script = textwrap.dedent(
        f"""
        import os, tunesmith as ts
        study = ts.Study.load("dead", {url!r})
        trial = study.ask()
        print(trial.number, flush=True)
        os._exit(0)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    number = int(out.stdout.split()[0])
    survivor = ts.Study.load("dead", url)  # default grace of 300 s: the pid check alone finds it
    retry = survivor.ask()
    lost = survivor.storage.get_trial(survivor.info.id, number)
    assert lost.state is ts.TrialState.FAILED and lost.reason == "interrupted"
    assert survivor.storage.get_trial(survivor.info.id, retry.number).attrs["retry_of"] == number


def test_settle_waits_for_other_workers_and_returns_what_it_reaped(shared_storage: Callable[[], Storage]) -> None:
    number = _vanish(shared_storage(), retries=1).number
    survivor = _study(shared_storage())
    started = time.monotonic()
    assert survivor.settle(poll=0.05, timeout=10) == [number]
    assert time.monotonic() - started < 5
    lost = survivor.storage.get_trial(survivor.info.id, number)
    # It waited for the grace period to pass since the vanished worker's last beat, however long
    # setting up the survivor took.
    assert lost.reason == "lost worker" and lost.finished_at is not None and lost.heartbeat_at is not None
    assert lost.finished_at - lost.heartbeat_at > FAST["grace"]
    assert survivor.settle(poll=0.05, timeout=10) == [], "nothing else is running"


def test_retries_are_stored_with_the_study_and_must_match(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/spec.db"
    _study(SQLStorage(url), retries=3)
    assert ts.Study.load("hb", url).retries == 3
    assert _study(SQLStorage(url)).retries == 3
    with pytest.raises(ts.ConfigError, match="retries=3, not retries=1"):
        _study(SQLStorage(url), retries=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"retries": -1}, "retries must be a non-negative integer"),
        ({"grace": 0.05}, "grace must exceed heartbeat_interval"),
        ({"heartbeat_interval": 0}, "heartbeat_interval must be a finite number > 0 .*seconds between heartbeats"),
        ({"grace": True}, "grace must be a finite number > 0"),
    ],
)
def test_bad_recovery_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ts.ConfigError, match=message):
        _study(MemoryStorage(), **kwargs)
