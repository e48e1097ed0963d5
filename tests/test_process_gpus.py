"""Per-trial GPUs for the processes executor: each running trial's ``CUDA_VISIBLE_DEVICES`` names the GPUs it holds.

No GPU is needed: the driver's ``CUDA_VISIBLE_DEVICES`` lists the GPUs the executor hands out, and each trial reports
what its own process was given.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.budget import devices_held
from tunesmith.cli import cli
from tunesmith.config import load_config
from tunesmith.decision import Decision
from tunesmith.errors import ConfigError
from tunesmith.executors import ProcessExecutor, make_executor
from tunesmith.executors._gpus import listed_by_nvidia_smi
from tunesmith.executors.base import TrialJob, TrialOutcome
from tunesmith.trial import TrialKind

FOUR_GPUS = "0,1,2,3"


def seen_gpus(trial: ts.Trial) -> tuple[float, float, str]:
    """When the trial ran (start, end) and the GPUs its process was given; ``how`` ends it otherwise."""
    start = time.monotonic()
    how = trial.params.get("how", "done")
    if how == "crash":
        os._exit(3)
    if how == "exception":
        raise RuntimeError("failed on purpose")
    if "meet" in trial.params:
        meet_the_others(Path(trial.params["meet"]), trial.number)
    time.sleep(30 if how == "hang" else 0.15)
    return start, time.monotonic(), os.environ["CUDA_VISIBLE_DEVICES"]


def meet_the_others(folder: Path, number: int, count: int = 4, patience: float = 20.0) -> None:
    """Wait until ``count`` trials are running at once (each leaves a file in ``folder``), or ``patience`` passes.

    A trial that waits in vain means fewer than ``count`` GPUs were free; the caller sees it in which GPUs were used.
    """
    (folder / str(number)).touch()
    deadline = time.monotonic() + patience
    while len(list(folder.iterdir())) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def run_trials(executor: ProcessExecutor, jobs: list[dict[str, Any]]) -> list[TrialOutcome]:
    """Run one trial per entry of ``jobs`` (its params), keeping the executor full, as the study's loop does."""
    executor.start(seen_gpus, lambda number, step, metrics: Decision.CONTINUE)
    outcomes: list[TrialOutcome] = []
    try:
        queued = list(enumerate(jobs))
        while queued or executor.busy():
            while queued and executor.busy() < executor.capacity:
                number, params = queued.pop(0)
                executor.submit(TrialJob(number, params, seed=number))
            outcomes.extend(executor.wait(timeout=10))
    finally:
        executor.shutdown(kill=True)
    return sorted(outcomes, key=lambda outcome: outcome.number)


def overlapping(outcomes: list[TrialOutcome]) -> list[tuple[TrialOutcome, TrialOutcome]]:
    """The pairs of trials whose objectives ran at the same time."""
    return [(a, b) for a, b in combinations(outcomes, 2) if a.result[0] < b.result[1] and b.result[0] < a.result[1]]


def held(outcome: TrialOutcome) -> set[str]:
    return set(outcome.result[2].split(","))


@pytest.fixture
def four_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", FOUR_GPUS)


@pytest.mark.usefixtures("four_gpus")
def test_trials_running_at_the_same_time_never_share_a_gpu() -> None:
    outcomes = run_trials(ProcessExecutor(workers=4, gpus_per_trial=1), [{}] * 12)
    assert all(not outcome.failed for outcome in outcomes)
    assert all(len(held(outcome)) == 1 and held(outcome) <= set(FOUR_GPUS.split(",")) for outcome in outcomes)
    pairs = overlapping(outcomes)
    assert pairs, "no two trials ran at the same time: the test checks nothing"
    assert [(a.number, b.number) for a, b in pairs if held(a) & held(b)] == []


@pytest.mark.usefixtures("four_gpus")
def test_a_trial_asking_for_two_gpus_holds_two_no_other_running_trial_holds() -> None:
    outcomes = run_trials(ProcessExecutor(workers=2, gpus_per_trial=2), [{}] * 4)
    assert [len(held(outcome)) for outcome in outcomes] == [2, 2, 2, 2]
    pairs = overlapping(outcomes)
    assert pairs
    assert [(a.number, b.number) for a, b in pairs if held(a) & held(b)] == []


@pytest.mark.usefixtures("four_gpus")
def test_half_a_gpu_per_trial_puts_exactly_two_running_trials_on_each_gpu() -> None:
    """Eight workers: all eight trials are submitted before any has ended, so all eight hold their share at once."""
    outcomes = run_trials(ProcessExecutor(workers=8, gpus_per_trial=0.5), [{}] * 8)
    assert Counter(outcome.result[2] for outcome in outcomes) == {"0": 2, "1": 2, "2": 2, "3": 2}


@pytest.mark.parametrize("how", ["hang", "crash", "exception"])
@pytest.mark.usefixtures("four_gpus")
def test_a_trial_gives_its_gpu_back_however_it_ends(how: str, tmp_path: Path) -> None:
    """Four trials that time out (hang), die (crash) or raise, then four that wait for each other: on every GPU."""
    executor = ProcessExecutor(workers=4, gpus_per_trial=1, trial_timeout=6.0 if how == "hang" else 30.0)
    outcomes = run_trials(executor, [{"how": how}] * 4 + [{"meet": str(tmp_path)}] * 4)
    ended, later = outcomes[:4], outcomes[4:]
    kind = {"hang": TrialKind.TIMEOUT, "crash": TrialKind.CRASH, "exception": TrialKind.EXCEPTION}[how]
    assert [outcome.kind for outcome in ended] == [kind] * 4
    assert sorted(outcome.extra["gpus"][0] for outcome in ended) == ["0", "1", "2", "3"]
    assert sorted(outcome.result[2] for outcome in later) == ["0", "1", "2", "3"]


@pytest.mark.usefixtures("four_gpus")
def test_each_outcome_names_the_gpus_its_process_was_given() -> None:
    outcomes = run_trials(ProcessExecutor(workers=4, gpus_per_trial=1), [{}] * 4)
    assert [outcome.extra["gpus"] for outcome in outcomes] == [[outcome.result[2]] for outcome in outcomes]


@pytest.mark.usefixtures("four_gpus")
def test_without_gpus_per_trial_each_trial_sees_every_gpu_of_the_driver() -> None:
    outcomes = run_trials(ProcessExecutor(workers=2), [{}] * 2)
    assert [outcome.result[2] for outcome in outcomes] == [FOUR_GPUS, FOUR_GPUS]
    assert all("gpus" not in outcome.extra for outcome in outcomes)


def test_gpus_listed_by_uuid_are_handed_out_by_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1f2e,GPU-9a8b")
    outcomes = run_trials(ProcessExecutor(workers=2, gpus_per_trial=1), [{}] * 2)
    assert sorted(outcome.result[2] for outcome in outcomes) == ["GPU-1f2e", "GPU-9a8b"]


# What the study keeps -----------------------------------------------------------------------------------------------


def gpu_as_metric(trial: ts.Trial) -> dict[str, float]:
    time.sleep(0.05)
    return {"value": trial.params["x"], "gpu": float(os.environ["CUDA_VISIBLE_DEVICES"])}


@pytest.mark.usefixtures("four_gpus")
def test_the_study_records_in_each_trial_the_gpu_its_process_was_given() -> None:
    study = ts.Study(
        ts.Space({"x": ts.Float(0.0, 1.0)}), metric="value", storage="memory", budget=ts.Budget(trials=6), seed=0
    )
    study.optimize(gpu_as_metric, executor=ProcessExecutor(workers=4, gpus_per_trial=1))
    assert len(study.trials) == 6
    assert [r.attrs["gpus"] for r in study.trials] == [[str(int(r.metrics["gpu"]))] for r in study.trials]


def report_then_end(trial: ts.Trial) -> float:
    time.sleep(0.2)
    trial.report(value=trial.params["x"])
    return trial.params["x"]


class _RunningDevices:
    """Reads, at each report, what storage holds of the reporting trial, still running: the devices a compute
    budget counts for it."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, object, float]] = []

    def on_report(self, study: ts.Study, number: int, step: int, metrics: Any, decision: Decision) -> None:
        record = next(r for r in study.trials if r.number == number)
        assert record.state is ts.TrialState.RUNNING
        self.seen.append((record.attrs.get("gpus"), record.attrs.get("gpu_share"), devices_held(record)))


@pytest.mark.parametrize(("per_trial", "devices"), [(2, 2.0), (0.5, 0.5)])
@pytest.mark.usefixtures("four_gpus")
def test_a_running_trial_counts_its_gpus_from_its_start(per_trial: float, devices: float) -> None:
    """The GPUs were recorded when the trial ended, so a running trial of two GPUs counted as one device against a
    compute budget (and one of half a GPU as a whole one) until it finished."""
    study = ts.Study(
        ts.Space({"x": ts.Float(0.0, 1.0)}), metric="value", storage="memory", budget=ts.Budget(trials=2), seed=0
    )
    watch = _RunningDevices()
    study.optimize(report_then_end, executor=ProcessExecutor(workers=2, gpus_per_trial=per_trial), callbacks=[watch])
    assert len(watch.seen) == 2
    for gpus, share, held in watch.seen:
        assert isinstance(gpus, list) and len(gpus) == max(1, int(per_trial))
        assert share == (per_trial if per_trial < 1 else None) and held == devices
    assert all(devices_held(r) == devices for r in study.trials)


# Refusals, at construction ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (0, "gpus_per_trial must be a finite number > 0, got gpus_per_trial=0"),
        (-1, "got gpus_per_trial=-1"),
        ("1", "got gpus_per_trial='1'"),
        (True, "got gpus_per_trial=True"),
        (0.3, "gpus_per_trial below 1 must divide one GPU evenly (1/2, 1/3, 1/4...), got gpus_per_trial=0.3"),
        (1.5, "gpus_per_trial above 1 must be a whole number of GPUs, got gpus_per_trial=1.5: pass 1 or 2"),
    ],
    ids=["zero", "negative", "string", "bool", "fraction-not-dividing-one", "fraction-above-one"],
)
@pytest.mark.usefixtures("four_gpus")
def test_a_gpus_per_trial_that_is_not_a_whole_number_or_a_share_of_one_gpu_is_refused(value: object, said: str) -> None:
    with pytest.raises(ConfigError, match="pass") as refused:
        ProcessExecutor(workers=1, gpus_per_trial=value)  # type: ignore[arg-type]
    assert said in str(refused.value)


def test_a_fraction_not_dividing_one_gpu_is_answered_with_the_two_nearest_that_do() -> None:
    with pytest.raises(ConfigError) as refused:
        ProcessExecutor(workers=1, gpus_per_trial=0.3)
    assert "pass gpus_per_trial=0.333 (3 trials a GPU) or 0.25 (4 a GPU)" in str(refused.value)


def test_gpus_per_trial_with_cuda_visible_devices_listing_none_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    with pytest.raises(ConfigError) as refused:
        ProcessExecutor(workers=1, gpus_per_trial=1)
    message = str(refused.value)
    assert "gpus_per_trial=1 needs a GPU, but none was found: CUDA_VISIBLE_DEVICES='-1'" in message
    assert "drop gpus_per_trial to run trials without GPUs" in message


def test_gpus_per_trial_with_no_gpu_and_no_nvidia_smi_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no nvidia-smi on the path
    with pytest.raises(ConfigError) as refused:
        ProcessExecutor(workers=1, gpus_per_trial=1)
    assert "none was found: CUDA_VISIBLE_DEVICES is not set, and nvidia-smi is not installed" in str(refused.value)


@pytest.mark.parametrize(
    ("workers", "per_trial", "fit"),
    [(5, 1, 4), (3, 2, 2), (9, 0.5, 8)],
    ids=["one-each", "two-each", "half-each"],
)
@pytest.mark.usefixtures("four_gpus")
def test_more_workers_than_the_gpus_found_hold_is_refused_saying_how_many_fit(
    workers: int, per_trial: float, fit: int
) -> None:
    with pytest.raises(ConfigError) as refused:
        ProcessExecutor(workers=workers, gpus_per_trial=per_trial)
    message = str(refused.value)
    assert f"got workers={workers} x gpus_per_trial={per_trial}" in message
    assert "with 4 GPUs found (0, 1, 2, 3; from CUDA_VISIBLE_DEVICES='0,1,2,3')" in message
    assert f"pass workers={fit} or fewer" in message


def test_cuda_visible_devices_is_read_up_to_its_first_entry_that_names_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """As CUDA reads it: ``0,1,-1,3`` makes two GPUs visible."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,-1,3")
    ProcessExecutor(workers=2, gpus_per_trial=1)
    with pytest.raises(ConfigError, match=r"with 2 GPUs found \(0, 1; .*pass workers=2 or fewer"):
        ProcessExecutor(workers=3, gpus_per_trial=1)


def test_a_gpu_split_into_mig_instances_is_handed_out_by_instance() -> None:
    text = textwrap.dedent("""\
        GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77)
          MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
          MIG 3g.20gb     Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)
        GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-7a3c2b1e-0f9d-4c8b-a6e5-3d2c1b0a9f8e)
        """)
    assert listed_by_nvidia_smi(text) == (
        "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f",
        "MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb",
        "1",
    )


@pytest.mark.usefixtures("four_gpus")
def test_gpus_per_trial_given_to_the_ray_executor_is_refused_with_rays_name_for_it() -> None:
    with pytest.raises(ConfigError, match="Ray's is num_gpus"):
        make_executor({"name": "ray", "gpus_per_trial": 1}, 2)


# Configs and `tunesmith run` ----------------------------------------------------------------------------------------

MODULE = "gpu_objectives"

OBJECTIVES = """
import os


def objective(trial):
    return {"loss": trial.params["x"], "gpu": float(os.environ["CUDA_VISIBLE_DEVICES"])}


def where(trial):
    return {"loss": trial.params["x"], "pid": float(os.getpid())}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / f"{MODULE}.py").write_text(OBJECTIVES)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop(MODULE, None)


def write_config(folder: Path, executor: str, workers: int = 2) -> Path:
    path = folder / "g.toml"
    path.write_text(
        f'name = "g"\nobjective = "{MODULE}:objective"\nseed = 0\nworkers = {workers}\nexecutor = {executor}\n'
        '[metric]\nname = "loss"\n[budget]\ntrials = 4\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    return path


def cli_run(*args: str) -> Result:
    environment = {"TUNESMITH_STORAGE": None, "TUNESMITH_STORAGE_FILE": None}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


TABLE = '{ name = "processes", gpus_per_trial = 1 }'


def test_a_config_takes_gpus_per_trial_in_its_executor_table(folder: Path) -> None:
    assert load_config(write_config(folder, TABLE)).executor == {"name": "processes", "gpus_per_trial": 1}


def test_a_config_with_gpus_per_trial_is_read_where_no_gpu_is(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tunesmith plan` on a laptop, a worker with fewer GPUs: the GPUs are the machine's, not the config's."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert load_config(write_config(folder, TABLE)).executor == {"name": "processes", "gpus_per_trial": 1}


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('{ name = "processes", gpus_per_trial = 0.3 }', "gpus_per_trial below 1 must divide one GPU evenly"),
        ('{ name = "inline", gpus_per_trial = 1 }', "the inline executor cannot enforce gpus_per_trial"),
        ('{ name = "processes", workers = 2 }', "write workers = ... at the top level of the config"),
    ],
    ids=["fraction", "inline", "workers-in-the-table"],
)
def test_a_config_executor_table_it_cannot_run_is_refused(folder: Path, table: str, said: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(write_config(folder, table))
    assert str(refused.value).startswith("g.toml: ") and said in str(refused.value)


@pytest.mark.usefixtures("four_gpus")
def test_tunesmith_run_records_the_gpu_of_each_trial_and_show_prints_it(folder: Path) -> None:
    storage = f"sqlite:///{folder / 'g.db'}"
    ran = cli_run("run", str(write_config(folder, TABLE)), "--storage", storage, "--no-progress", "--no-report")
    assert ran.exit_code == 0, ran.output
    trials = ts.Study.load("g", storage).trials
    assert len(trials) == 4
    assert [r.attrs["gpus"] for r in trials] == [[str(int(r.metrics["gpu"]))] for r in trials]
    shown = cli_run("show", "g", "0", "--storage", storage)
    assert f"gpus={trials[0].attrs['gpus']}" in shown.output


def test_tunesmith_run_refuses_more_workers_than_gpus_before_it_stores_anything(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    database = folder / "g.db"
    ran = cli_run("run", str(write_config(folder, TABLE)), "--storage", f"sqlite:///{database}", "--no-report")
    assert ran.exit_code == 1
    assert "got workers=2 x gpus_per_trial=1 = 2 GPUs with 1 GPU found" in ran.output
    assert "pass workers=1 or fewer" in ran.output
    assert not database.exists()


@pytest.mark.usefixtures("four_gpus")
def test_a_workers_option_keeps_the_configs_gpus_per_trial(folder: Path) -> None:
    storage = f"sqlite:///{folder / 'g.db'}"
    config = str(write_config(folder, TABLE))
    ran = cli_run("run", config, "--storage", storage, "--workers", "3", "--no-progress", "--no-report")
    assert ran.exit_code == 0, ran.output
    assert all(r.attrs["gpus"] == [str(int(r.metrics["gpu"]))] for r in ts.Study.load("g", storage).trials)


@pytest.mark.parametrize("workers", ["1", "3"])
def test_a_workers_option_keeps_the_executor_the_config_names(folder: Path, workers: str) -> None:
    """``--workers`` changes how many trials run at once, not where: a config naming ``processes`` still runs each
    trial in its own process (``--workers 1`` ran them inline, so a crash meant to fail one trial killed the CLI)."""
    config = write_config(folder, '"processes"', workers=2)
    config.write_text(config.read_text().replace(":objective", ":where"))
    storage = f"sqlite:///{folder / 'g.db'}"
    ran = cli_run("run", str(config), "--storage", storage, "--workers", workers, "--no-progress", "--no-report")
    assert ran.exit_code == 0, ran.output
    pids = {r.metrics["pid"] for r in ts.Study.load("g", storage).trials}
    assert len(pids) >= 1 and os.getpid() not in pids
