"""`TunesmithSearch` under a real Ray Tune run on a local Ray: the study proposes, Ray Tune runs and stops, and the
study records every trial as Ray Tune saw it."""

from __future__ import annotations

import gc
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tests.ray_env import RAY_WARNINGS  # sets Ray's environment before Ray is imported
from tunesmith.errors import ConfigError
from tunesmith.trial import TrialKind, TrialState

ray = pytest.importorskip("ray", reason="the ray extra is part of the test install (make test)")
from ray import tune  # noqa: E402
from ray.tune.schedulers import ASHAScheduler  # noqa: E402

from tunesmith.integrations.ray_tune import ResumedTrialWarning, TrainedOnWarning, TunesmithSearch  # noqa: E402

pytestmark = [
    *RAY_WARNINGS,
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # Ray Tune's, at its start
]

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


@pytest.fixture(autouse=True)
def _collected() -> Iterator[None]:
    """The garbage a test leaves collected in its own teardown, under this module's warning filters. Ray Tune's
    driver can leave trials' progress.csv and result.json open (a driver that crashed mid-experiment never closed its
    loggers' files), and a later test of the same pytest-xdist worker that ran the garbage collector (a Hugging Face
    Trainer's accelerate does) failed on their ResourceWarning as if it were its own."""
    yield
    gc.collect()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # A Ray of its own: another test file's cluster may run on this machine at the same time (pytest-xdist).
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=80 * 1024**2)  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()


def train(config: dict[str, Any]) -> None:
    """Nine iterations of a loss that falls towards (x - 0.3)^2; x above 0.9 raises."""
    if config["x"] > 0.9:
        raise ValueError(f"x={config['x']} is out of the trainable's range")
    for i in range(9):
        tune.report({"loss": (config["x"] - 0.3) ** 2 + 1.0 / (i + 1), "lr_seen": config["x"] / 10})


def fitted(tmp_path: Path, study: ts.Study, max_t: int | None = None, **tune_config: Any) -> tune.ResultGrid:
    tuner = tune.Tuner(
        train,
        tune_config=tune.TuneConfig(search_alg=TunesmithSearch(study, max_t), num_samples=-1, max_concurrent_trials=2,
                                    **tune_config),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray-results"), verbose=0),
    )  # fmt: skip
    return tuner.fit()


def new_study(tmp_path: Path, trials: int, **options: Any) -> ts.Study:
    return ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=trials), storage=f"sqlite:///{tmp_path / 's.db'}",
                    name="tuned", seed=3, sampler="random", **options)  # fmt: skip


def test_every_ray_tune_trial_is_recorded_with_its_curve_and_result(local_ray: None, tmp_path: Path) -> None:
    study = new_study(tmp_path, 8)
    grid = fitted(tmp_path, study)
    records = ts.Study.load("tuned", f"sqlite:///{tmp_path / 's.db'}").trials
    assert len(records) == 8 == len(grid)  # the study's budget ended the run (num_samples=-1)
    by_x = {round(r.params["x"], 12): r for r in records}
    for result in grid:
        record = by_x[round(result.config["x"], 12)]
        if result.error is not None:
            assert record.state is TrialState.FAILED and record.kind is TrialKind.EXCEPTION, record
            continue
        assert record.state is TrialState.COMPLETE, record
        assert record.metrics["loss"] == pytest.approx(result.metrics["loss"])
        assert sorted(record.intermediate) == list(range(1, 10))
        assert record.intermediate[9]["lr_seen"] == pytest.approx(result.config["x"] / 10)
        assert "time_total_s" not in record.metrics and "training_iteration" not in record.metrics
        # Ray Tune hands the searcher its results flattened: the configuration comes as config/x, no metric.
        assert set(record.metrics) == set(record.intermediate[9]) == {"loss", "lr_seen"}, record
    best = grid.get_best_result(metric="loss", mode="min")
    assert study.best.params["x"] == pytest.approx(best.config["x"])
    failed = [r for r in records if r.state is TrialState.FAILED]
    assert len(failed) == len(grid.errors) and all(r.params["x"] > 0.9 for r in failed)


def test_trials_ray_tunes_scheduler_cut_short_are_recorded_stopped(local_ray: None, tmp_path: Path) -> None:
    study = new_study(tmp_path, 9)
    # ASHA stops a trial at max_t too: that one trained to the end.
    asha = ASHAScheduler(metric="loss", mode="min", max_t=9, grace_period=1, reduction_factor=3)
    grid = fitted(tmp_path, study, 9, scheduler=asha)
    by_x = {round(r.params["x"], 12): r for r in study.trials}
    ran = [r for r in grid if r.error is None]
    cut = [r for r in ran if r.metrics["training_iteration"] < 9]
    assert cut, "ASHA stopped none: the test needs trials cut short"
    for result in ran:
        record = by_x[round(result.config["x"], 12)]
        if result.metrics["training_iteration"] < 9:
            assert record.state is TrialState.STOPPED and record.kind is TrialKind.SCHEDULER, record
            assert max(record.intermediate) == result.metrics["training_iteration"]
            assert record.metrics["loss"] == pytest.approx(result.metrics["loss"])
        else:
            assert record.state is TrialState.COMPLETE, record


def test_what_would_record_other_configurations_than_ray_tune_runs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Ray Tune runs and stops the trials"):
        TunesmithSearch(new_study(tmp_path, 4, scheduler="asha"))
    search = TunesmithSearch(ts.Study(SPACE, metric="loss", storage="memory", name="m"))
    with pytest.raises(ConfigError, match=r"metric='acc', mode='max', but study 'm' optimises 'loss' \(min\)"):
        search.set_search_properties("acc", "max", {})
    with pytest.raises(ConfigError, match=r"param_space holds search domains \(model.x\)"):
        search.set_search_properties(None, None, {"model": {"x": tune.uniform(0, 1)}, "epochs": 3})
    assert search.set_search_properties("loss", "min", {"epochs": 3}) is True


def test_the_searcher_pickles_as_its_study_and_reopens_it(tmp_path: Path) -> None:
    study = new_study(tmp_path, 4)
    again = pickle.loads(pickle.dumps(TunesmithSearch(study, max_t=9)))
    assert again.study.name == "tuned" and again.study.storage.url == study.storage.url and again._max_t == 9


def test_a_trial_told_stopped_by_an_outside_scheduler_is_recorded_so_unless_it_diverged() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", name="told")
    cut, blown = study.ask(), study.ask()
    cut.report(1, loss=0.5)
    record = study.tell(cut, stopped="stopped by Ray Tune's scheduler")
    assert (record.state, record.kind, record.reason) == (TrialState.STOPPED, TrialKind.SCHEDULER,
                                                          "stopped by Ray Tune's scheduler")  # fmt: skip
    assert record.metrics == {"loss": 0.5}
    blown.report(1, loss=0.5)
    blown.report(2, loss=float("nan"))
    assert study.tell(blown, stopped="stopped by Ray Tune's scheduler").kind is TrialKind.DIVERGED


def _resource_study(tmp_path: Path) -> ts.Study:
    """A study whose resource budget (12 steps) ends inside the second of its nine-iteration trials."""
    return ts.Study(SPACE, metric="loss", budget=ts.Budget(resource=12), storage=f"sqlite:///{tmp_path / 's.db'}",
                    name="tuned", seed=3, sampler="random")  # fmt: skip


def _one_at_a_time(tmp_path: Path, search: TunesmithSearch, **run: Any) -> tune.ResultGrid:
    tuner = tune.Tuner(
        train,
        tune_config=tune.TuneConfig(search_alg=search, num_samples=-1, max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray-results"), verbose=0, **run),
    )
    return tuner.fit()


def test_the_searchers_stopper_stops_a_trial_where_the_study_stopped_it(local_ray: None, tmp_path: Path) -> None:
    study = _resource_study(tmp_path)
    search = TunesmithSearch(study)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainedOnWarning)
        grid = _one_at_a_time(tmp_path, search, stop=search.stopper)
    records = ts.Study.load("tuned", f"sqlite:///{tmp_path / 's.db'}").trials
    trained = {round(r.config["x"], 12): r.metrics["training_iteration"] for r in grid if r.error is None}
    assert any(r.kind is TrialKind.BUDGET for r in records), records
    for record in records:
        if record.state is not TrialState.FAILED:
            assert trained[round(record.params["x"], 12)] == max(record.intermediate), "Ray trained past the stop"
    assert sum(max(r.intermediate, default=0) for r in records) == 12, "the budget counts what Ray Tune trained"


def test_a_trial_ray_tune_trains_on_after_the_study_stopped_it_is_warned_of(local_ray: None, tmp_path: Path) -> None:
    with pytest.warns(TrainedOnWarning, match=r"tune.RunConfig\(stop=search.stopper\)"):
        _one_at_a_time(tmp_path, TunesmithSearch(_resource_study(tmp_path)))


def checkpointed(config: dict[str, Any]) -> None:
    """Six iterations, each saving a checkpoint Ray Tune resumes from."""
    import json
    import tempfile

    checkpoint = tune.get_checkpoint()
    start = 0
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            start = json.loads((Path(folder) / "state.json").read_text())["done"]
    for i in range(start, 6):
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.json").write_text(json.dumps({"done": i + 1}))
            tune.report({"loss": (config["x"] - 0.3) ** 2 + 1.0 / (i + 1)},
                        checkpoint=tune.Checkpoint.from_directory(folder))  # fmt: skip


class CrashOnce(tune.Callback):
    """The driver fails at its fifth result, once (the marker file remembers it across Tuner.restore)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.seen = 0

    def on_trial_result(self, iteration: int, trials: Any, trial: Any, result: Any, **info: Any) -> None:
        self.seen += 1
        if self.seen == 5 and not self.marker.exists():
            self.marker.write_text("crashed")
            raise RuntimeError("the driver crashed")


def test_tuner_restore_resumes_the_trials_in_flight_into_their_study_trials(local_ray: None, tmp_path: Path) -> None:
    """Before, the searcher saved nothing: Ray Tune logged "Searcher unable to find checkpoint", started the
    experiment again from scratch, and (the study's trials in flight still RUNNING) never ended."""
    url = f"sqlite:///{tmp_path / 's.db'}"
    tuner = tune.Tuner(
        checkpointed,
        tune_config=tune.TuneConfig(search_alg=TunesmithSearch(new_study(tmp_path, 4)), num_samples=-1,
                                    max_concurrent_trials=2),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray-results"), name="exp", verbose=0,
                                  callbacks=[CrashOnce(tmp_path / "crashed")]),
    )  # fmt: skip
    with pytest.raises(tune.TuneError, match="the driver crashed"):
        tuner.fit()
    before = ts.Study.load("tuned", url).trials
    in_flight = [r for r in before if r.state is TrialState.RUNNING]
    assert any(0 < r.resource < 6 for r in in_flight), ("the crash left no trial half trained", before)
    grid = tune.Tuner.restore(str(tmp_path / "ray-results" / "exp"), checkpointed, resume_unfinished=True).fit()
    assert not grid.errors
    records = ts.Study.load("tuned", url).trials
    assert [r.state for r in records] == [TrialState.COMPLETE] * 4, records
    for record in records:
        assert sorted(record.intermediate) == list(range(1, 7)), record
    assert {r.number for r in in_flight} <= {r.number for r in records}


def test_restore_attaches_the_trials_still_running_and_warns_of_those_the_study_ended(tmp_path: Path) -> None:
    study = new_study(tmp_path, 4)
    search = TunesmithSearch(study)
    search.suggest("ray-a")
    search.suggest("ray-b")
    search.on_trial_result("ray-a", {"training_iteration": 1, "loss": 0.9})
    search.on_trial_result("ray-b", {"training_iteration": 1, "loss": 0.8})
    search.save(str(tmp_path / "searcher.json"))
    study.tell(1, stopped="reaped, say")  # the study ended Ray Tune's trial "ray-b" while the driver was down
    restored = pickle.loads(pickle.dumps(search))  # as Ray Tune restores it: reopened from storage
    with pytest.warns(ResumedTrialWarning, match=r"1 trial that study 'tuned' already ended: ray-b \(#1, "
                                                 r"stopped\); its further results are not recorded"):  # fmt: skip
        restored.restore(str(tmp_path / "searcher.json"))
    restored.on_trial_result("ray-a", {"training_iteration": 2, "loss": 0.7})
    restored.on_trial_result("ray-b", {"training_iteration": 2, "loss": 0.6})
    restored.on_trial_complete("ray-a", {"training_iteration": 2, "loss": 0.7})
    records = ts.Study.load("tuned", study.storage.url).trials
    assert records[0].state is TrialState.COMPLETE and records[0].intermediate == {1: {"loss": 0.9}, 2: {"loss": 0.7}}
    assert records[1].state is TrialState.STOPPED and sorted(records[1].intermediate) == [1]


def test_restore_refuses_another_studys_checkpoint(tmp_path: Path) -> None:
    search = TunesmithSearch(new_study(tmp_path, 4))
    (tmp_path / "other.json").write_text('{"study": "other", "trials": {}}')
    with pytest.raises(ConfigError, match=r"of study 'other', but this searcher records to study 'tuned'"):
        search.restore(str(tmp_path / "other.json"))


def test_results_of_a_trial_no_study_trial_runs_are_left_out_with_one_warning(tmp_path: Path) -> None:
    """``Tuner.restore(..., resume_errored=True)`` resumes a trial the study recorded FAILED: its results went
    nowhere without a word."""
    study = new_study(tmp_path, 4)
    search = TunesmithSearch(study)
    search.suggest("ray-a")
    search.on_trial_complete("ray-a", error=True)
    with pytest.warns(ResumedTrialWarning, match=r"results of trial ray-a, which no trial of study 'tuned' runs"):
        search.on_trial_result("ray-a", {"training_iteration": 1, "loss": 0.5})
    search.on_trial_result("ray-a", {"training_iteration": 2, "loss": 0.4})  # warned once: filterwarnings=error
    assert study.trials[0].state is TrialState.FAILED and study.trials[0].intermediate == {}
