"""The discipline's re-runs share the machine as the search's trials did: ``workers`` at once, each in its own process
holding its GPUs (``gpus_per_trial``), and record exactly what runs one after another record."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.seeds import SeedRun, top_configurations
from tunesmith.errors import ConfigError
from tunesmith.study import ObjectiveError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the processes executor forks its runs")

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def quick(trial: ts.Trial) -> dict[str, float]:
    """Done at once; the loss depends on the seed, and the run says which trial number it was shown."""
    return {"loss": (trial.params["x"] - 0.3) ** 2 + (trial.seed % 7) / 1000.0, "shown": float(trial.number)}


def searched(trials: int = 6, seed: int = 0, baseline: bool = True) -> ts.Study:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage="memory", seed=seed,
                     sampler="random", baseline={"x": 0.5} if baseline else None)  # fmt: skip
    study.optimize(quick)
    return study


def stored_runs(study: ts.Study, key: str = "seed_stability") -> list[SeedRun]:
    return [SeedRun.from_json(run) for run in study.attrs[key]["runs"]]


def test_re_runs_at_once_record_what_re_runs_one_after_another_record() -> None:
    alone, together = searched(), searched()
    one = ts.validate_top(alone, quick, k=3, seeds=3)
    several = ts.validate_top(together, quick, k=3, seeds=3, workers=3)
    assert together.attrs["seed_stability"] == alone.attrs["seed_stability"]
    assert together.attrs["baseline"] == alone.attrs["baseline"], "the baseline's runs, and on the fresh seeds"
    assert several.summary() == one.summary()
    runs = stored_runs(together)
    assert len(runs) == 9 and all(run.metrics["shown"] == run.candidate for run in runs), (
        "each run's objective is shown its configuration's trial number, as one after another"
    )
    assert all(run.metrics["shown"] == -1 for run in stored_runs(together, "baseline"))


def _timed(trial: ts.Trial) -> dict[str, float]:
    """Sleeps, and writes when it ran to the folder the test names."""
    started = time.time()
    time.sleep(1.5)  # long enough to overlap however slowly a loaded machine starts the next run
    folder = Path(os.environ["TUNESMITH_TEST_SPANS"])
    (folder / f"{os.getpid()}-{trial.seed}").write_text(f"{started} {time.time()}")
    return {"loss": trial.params["x"] + trial.seed / 1e6}


def _most_at_once(folder: Path) -> int:
    spans = [tuple(map(float, path.read_text().split())) for path in folder.iterdir()]
    return max(sum(1 for a, b in spans if a <= start < b) for start, _ in spans)


def test_workers_run_that_many_re_runs_at_once_and_no_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESMITH_TEST_SPANS", str(tmp_path))
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage="memory", seed=1, sampler="random")
    study.optimize(lambda trial: {"loss": trial.params["x"]})
    ts.validate_top(study, _timed, k=2, seeds=4, workers=3, confirm=0)
    assert len(list(tmp_path.iterdir())) == 8
    assert _most_at_once(tmp_path) == 3, "3 workers: three runs overlap, never a fourth"
    assert len({path.name.split("-")[0] for path in tmp_path.iterdir()}) == 8, "each run in a process of its own"


def broken(trial: ts.Trial) -> dict[str, float]:
    first, seed = _FIRST
    if trial.number == first and trial.seed == seed:
        time.sleep(1.0)  # the first run ends last of its candidate's: the runs end out of their order
    elif trial.number != first:
        time.sleep(30)  # still running when the first candidate's runs have all failed: killed, not waited for
    raise ValueError("validate_top got the wrong objective")


_FIRST = [-2, -2]  # the first candidate's trial number and first seed


def test_a_broken_objective_stops_re_runs_at_once_and_records_the_runs_in_their_order() -> None:
    study = searched(baseline=False)
    _FIRST[:] = [top_configurations(study.trials, study.metric, 1)[0].number, seed_list(study.seed, 5)[0]]
    # Children an earlier test left in this process (joblib's reusable loky workers, after scikit-learn with n_jobs)
    # are not validate_top's: only the ones it started must be gone.
    before = set(multiprocessing.active_children())
    started = time.monotonic()
    with pytest.raises(ObjectiveError, match="re-runs of validate_top all failed") as raised:
        ts.validate_top(study, broken, k=3, seeds=5, workers=2)
    assert time.monotonic() - started < 20, "a run still going when the lot stopped is killed"
    assert not set(multiprocessing.active_children()) - before, "no run outlives validate_top"
    runs = stored_runs(study)
    assert len(runs) == 5, f"stopped once the first candidate's runs, in order, had all failed: {len(runs)}"
    assert all(run.state == "failed" and "wrong objective" in (run.reason or "") for run in runs)
    first = [(run.candidate, run.seed) for run in runs]
    seeds = study.attrs["seed_stability"]["seeds"]
    assert first[:3] == [(first[0][0], seed) for seed in seeds[:3]], "the first candidate's runs, by seed"
    assert "wrong objective" in str(raised.value)


def _visible(trial: ts.Trial) -> dict[str, float]:
    """The GPUs this run was given, as its loss's digits: 1e-3 x the GPU's index + 1."""
    gpus = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    assert "," not in gpus, f"one GPU a run, got {gpus!r}"
    time.sleep(0.3)
    return {"loss": trial.params["x"], "gpu": float(gpus)}


def test_each_re_run_holds_its_own_gpus_as_a_search_trial_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage="memory", seed=1, sampler="random")
    study.optimize(lambda trial: {"loss": trial.params["x"], "gpu": 0.0})
    ts.validate_top(study, _visible, k=2, seeds=3, workers=2, gpus_per_trial=1, confirm=0)
    runs = stored_runs(study)
    assert [run.state for run in runs] == ["complete"] * 6, [run.reason for run in runs]
    assert {run.metrics["gpu"] for run in runs} == {0.0, 1.0}, "two at once: one on each GPU"


def test_more_gpus_than_the_machine_has_are_refused_before_any_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    study = searched()
    with pytest.raises(ConfigError, match="workers x gpus_per_trial must not exceed the GPUs found"):
        # One seed: the baseline's one run fits the one GPU, so only a check before any run keeps it from running.
        ts.validate_top(study, quick, seeds=1, workers=2, gpus_per_trial=1)
    assert "seed_stability" not in study.attrs and not study.attrs.get("baseline", {}).get("runs")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"workers": 0}, "workers"), ({"gpus_per_trial": 0.3}, "gpus_per_trial below 1 must divide one GPU")],
)
def test_re_run_workers_and_gpus_out_of_range_are_refused(kwargs: dict[str, float], message: str) -> None:
    study = searched()
    with pytest.raises(ConfigError, match=message):
        ts.validate_top(study, quick, **kwargs)  # type: ignore[arg-type]


MODULE = """
import os, time
from pathlib import Path


def objective(trial):
    return {"loss": (trial.params["x"] - 0.3) ** 2}


def timed(trial):
    started = time.time()
    time.sleep(1.5)  # long enough to overlap however slowly a loaded machine starts the next run
    (Path(os.environ["TUNESMITH_TEST_SPANS"]) / f"{os.getpid()}-{trial.seed}").write_text(f"{started} {time.time()}")
    return objective(trial)


def evaluate(params, seed):
    return {"loss": (params["x"] - 0.3) ** 2 + 0.001}
"""


def test_the_config_s_re_runs_run_as_many_at_once_as_its_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunesmith.config import load_config
    from tunesmith.discipline.sequence import after_search

    (tmp_path / "parmod.py").write_text(MODULE)
    config = tmp_path / "study.toml"
    config.write_text(
        'name = "par"\nobjective = "parmod:objective"\nseed = 1\nstorage = "memory"\nsampler = "random"\n'
        'workers = 2\n[metric]\nname = "loss"\n[budget]\ntrials = 4\n'
        '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
        '[holdout]\nevaluate = "parmod:evaluate"\ntop = 2\nseeds = 3\nconfirm = 0\n'
    )
    spans = tmp_path / "spans"
    spans.mkdir()
    monkeypatch.setenv("TUNESMITH_TEST_SPANS", str(spans))
    cfg = load_config(config)
    study = ts.Study(cfg.space, metric=cfg.metric, sampler=cfg.sampler, budget=cfg.budget, storage="memory",
                     seed=cfg.seed)  # fmt: skip
    study.optimize(cfg.load_objective())
    timed = cfg.load_objective().__globals__["timed"]
    after_search(study, cfg, timed)
    assert len(list(spans.iterdir())) == 6
    assert _most_at_once(spans) == 2, "the config's two workers"
    limits = ts.discipline.sequence._limits  # what `tunesmith run` hands the re-runs: where and how many the search ran
    assert limits(cfg)["workers"] == 2
    gpus = {"name": "processes", "gpus_per_trial": 0.5}
    assert limits(cfg, workers=3, executor=gpus) == {
        "trial_timeout": None, "memory_limit": None, "workers": 3, "executor": gpus}  # fmt: skip
    assert limits(cfg, executor={"name": "ray", "num_gpus": 1})["executor"] == {"name": "ray", "num_gpus": 1}


def test_where_re_runs_go_is_checked_before_any_run() -> None:
    from tunesmith.discipline._reruns import RunLimits

    table = RunLimits.checked(workers=2, executor={"name": "processes", "gpus_per_trial": 0.5})
    assert (table.gpus_per_trial, table.ray) == (0.5, None), "the processes table's GPUs are the runs'"
    on_ray = RunLimits.checked(workers=2, executor={"name": "ray", "num_gpus": 1})
    assert on_ray.ray == {"num_gpus": 1} and on_ray.gpus_per_trial is None
    with pytest.raises(ConfigError, match="memory_limit is enforced by executor='processes' only"):
        RunLimits.checked(memory_limit="1GB", executor="ray")
    with pytest.raises(ConfigError, match="Ray's is num_gpus"):
        RunLimits.checked(gpus_per_trial=1, executor="ray")
    with pytest.raises(ConfigError, match="re-runs go to the processes executor or to Ray, got executor='dask'"):
        RunLimits.checked(executor="dask")
    with pytest.raises(ConfigError, match="gpus_per_trial given twice"):
        RunLimits.checked(gpus_per_trial=1, executor={"name": "processes", "gpus_per_trial": 0.5})
