"""TensorBoard: a run per trial, read back with TensorBoard's own reader (`EventAccumulator`): every reported value at
its step, the final values last, the HParams session with the trial's parameters and state, pruned, failed,
infeasible and diverged trials as storage records them, and folders that never leave the log folder."""

from __future__ import annotations

import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.trial import TrialKind, TrialRecord, TrialState

pytest.importorskip("tensorboard", reason="the tensorboard extra is part of the test install (make test)")

from tunesmith.integrations.tensorboard import (  # after the skip: the module needs tensorboard
    STUDY_FILE,
    TensorBoardCallback,
    folder_name,
)
from tunesmith.report import log_to_tensorboard

SPACE = ts.Space({"lr": ts.Float(1e-3, 1.0, log=True), "opt": ts.Choice(["adam", "sgd", None])})
STEPS = 3


# Reading runs back with TensorBoard's reader ------------------------------------------------------------


def _accumulator(run_dir: Path) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(run_dir), size_guidance={"tensors": 0}).Reload()  # 0: keep every event


def _scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """``(step, value)`` of each point of ``tag``, in the order written."""
    from tensorboard.util import tensor_util

    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in _accumulator(run_dir).Tensors(tag)]


def _session(run_dir: Path) -> tuple[dict[str, Any], str]:
    """The HParams session of a run: its hyperparameters and its status's name (``STATUS_SUCCESS``)."""
    from tensorboard.plugins.hparams import api_pb2, metadata

    content = _accumulator(run_dir).PluginTagToContent(metadata.PLUGIN_NAME)
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    hparams = {name: getattr(value, value.WhichOneof("kind")) for name, value in start.hparams.items()}
    return hparams, api_pb2.Status.Name(end.status)


def _state(run_dir: Path) -> tuple[str, str, str]:
    """The trial's state and kind as its session's hyperparameters say them, and the session's status."""
    hparams, status = _session(run_dir)
    return hparams["tunesmith.state"], hparams["tunesmith.kind"], status


def _has_session(run_dir: Path) -> bool:
    try:
        return bool(_accumulator(run_dir).PluginTagToContent("hparams"))
    except KeyError:  # no event of the plugin at all
        return False


def _text(run_dir: Path, tag: str) -> list[str]:
    from tensorboard.util import tensor_util

    return [tensor_util.make_ndarray(e.tensor_proto).item().decode() for e in _accumulator(run_dir).Tensors(tag)]


def _float32(value: float) -> float:
    import numpy as np

    return float(np.float32(value))


# Planted trials, as storage records them ------------------------------------------------------------------


def _records() -> list[TrialRecord]:
    """A complete trial, a pruned one, a failed one, a diverged one and an infeasible one."""
    return [
        TrialRecord(0, {"lr": 0.1, "opt": "adam"}, seed=11, state=TrialState.COMPLETE, metrics={"loss": 0.2},
                    intermediate={1: {"loss": 0.5, "acc": 0.6}, 2: {"loss": 0.3, "acc": 0.7}, 3: {"loss": 0.25}},
                    started_at=100.0, finished_at=160.0),
        TrialRecord(1, {"lr": 0.5, "opt": "sgd"}, seed=12, state=TrialState.STOPPED, kind=TrialKind.SCHEDULER,
                    reason="stopped at rung 1: worse than 2 of 3", metrics={"loss": 0.9},
                    intermediate={1: {"loss": 0.9}}),
        TrialRecord(2, {"lr": 0.01, "opt": None}, seed=13, state=TrialState.FAILED, kind=TrialKind.EXCEPTION,
                    reason="exception: ValueError", error="Traceback (most recent call last):\nValueError: boom",
                    intermediate={1: {"loss": 0.6}}),
        TrialRecord(3, {"lr": 0.9, "opt": "adam"}, seed=14, state=TrialState.STOPPED, kind=TrialKind.DIVERGED,
                    reason="diverged", metrics={"loss": math.inf},
                    intermediate={1: {"loss": 0.4}, 2: {"loss": math.inf}}),
        TrialRecord(4, {"lr": 0.05, "opt": "sgd"}, seed=15, state=TrialState.INFEASIBLE, kind=TrialKind.GUARDRAIL,
                    reason="guardrail latency <= 10 breached: 50", metrics={"loss": 0.1, "latency": 50.0},
                    intermediate={1: {"loss": 0.1}}),
    ]  # fmt: skip


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    """The planted trials exported as the study ``planted``; the study's folder."""
    return log_to_tensorboard(_records(), tmp_path / "tb", space=SPACE, metric="loss")


def _curve(trial: ts.Trial) -> dict[str, float]:
    loss = 1.0
    for step in trial.steps(STEPS):
        loss = loss * 0.5 + trial.params["lr"] / (step + 1)
        trial.report(loss=loss, acc=1.0 - loss)
    if trial.number == 2:
        raise ValueError("the third trial fails")
    return {"loss": loss}


def _study(name: str, **options: Any) -> ts.Study:
    options.setdefault("storage", "memory")
    return ts.Study(SPACE, metric="loss", name=name, seed=5, sampler="random", **options)


# The export ------------------------------------------------------------------------------------------------


def test_each_trial_has_its_reports_at_their_steps_then_its_final_value_at_the_last_step(exported: Path) -> None:
    assert _scalars(exported / "trial-0", "loss") == [(1, 0.5), (2, _float32(0.3)), (3, 0.25), (3, _float32(0.2))]
    assert _scalars(exported / "trial-0", "acc") == [(1, _float32(0.6)), (2, _float32(0.7))]


def test_each_trial_has_an_hparams_session_with_its_parameters_number_seed_and_state(exported: Path) -> None:
    hparams, status = _session(exported / "trial-0")
    assert hparams == {"lr": 0.1, "opt": "adam", "tunesmith.trial": 0.0, "tunesmith.seed": 11.0,
                       "tunesmith.state": "complete", "tunesmith.kind": "", "tunesmith.invalidated": ""}  # fmt: skip
    assert status == "STATUS_SUCCESS"


def test_a_choice_valued_none_is_a_hyperparameter_written_null_as_the_csv_writes_it(exported: Path) -> None:
    assert _session(exported / "trial-2")[0]["opt"] == "null"


def test_a_pruned_trial_says_stopped_and_its_status_is_not_success(exported: Path) -> None:
    assert _state(exported / "trial-1") == ("stopped", "scheduler", "STATUS_UNKNOWN")
    assert _text(exported / "trial-1", "tunesmith/reason") == ["stopped at rung 1: worse than 2 of 3"]


def test_a_failed_trial_is_a_failure_with_its_traceback_as_text(exported: Path) -> None:
    assert _state(exported / "trial-2") == ("failed", "exception", "STATUS_FAILURE")
    (error,) = _text(exported / "trial-2", "tunesmith/error")
    assert "ValueError: boom" in error


def test_an_infeasible_trial_says_so_and_its_status_is_not_success(exported: Path) -> None:
    assert _state(exported / "trial-4") == ("infeasible", "guardrail", "STATUS_UNKNOWN")
    assert _scalars(exported / "trial-4", "latency") == [(1, 50.0)]


def test_a_diverged_value_is_nan_never_left_out_so_its_last_value_is_not_a_finite_one(exported: Path) -> None:
    points = _scalars(exported / "trial-3", "loss")
    assert [step for step, _ in points] == [1, 2, 2]
    assert points[0][1] == _float32(0.4)
    assert all(math.isnan(value) for _, value in points[1:])


def test_a_finite_value_past_32_bit_floats_is_nan_not_the_infinity_tensorboard_would_read() -> None:
    from tunesmith.integrations.tensorboard import logged_floats

    logged = logged_floats({"loss": 1e39, "acc": 0.5, "digest:loss": 7.0})
    assert math.isnan(logged["loss"]) and logged == {"loss": logged["loss"], "acc": 0.5}


def test_the_study_run_names_the_best_trial_with_its_value(exported: Path) -> None:
    (text,) = _text(exported, "tunesmith/best")
    assert "best trial: #0" in text and "loss = 0.2 (min)" in text
    assert "1 complete, 1 failed, 1 infeasible, 2 stopped" in text


def test_the_export_draws_the_best_so_far_at_each_count_of_trials_ended_in_the_order_they_ended(
    tmp_path: Path,
) -> None:
    ended = [  # trial 0 ends last: in trial order its 0.2 would be the best from the first point on
        TrialRecord(0, {"lr": 0.1, "opt": "adam"}, seed=1, state=TrialState.COMPLETE, metrics={"loss": 0.2},
                    started_at=0.0, finished_at=30.0),
        TrialRecord(1, {"lr": 0.2, "opt": "sgd"}, seed=2, state=TrialState.COMPLETE, metrics={"loss": 0.5},
                    started_at=0.0, finished_at=10.0),
        TrialRecord(2, {"lr": 0.3, "opt": "sgd"}, seed=3, state=TrialState.FAILED, kind=TrialKind.EXCEPTION,
                    started_at=0.0, finished_at=20.0),
        TrialRecord(3, {"lr": 0.4, "opt": "sgd"}, seed=4, started_at=0.0),  # still running: not ended
    ]  # fmt: skip
    folder = log_to_tensorboard(ended, tmp_path / "tb", space=SPACE, metric="loss")
    assert _scalars(folder, "best_loss") == [(1, 0.5), (2, 0.5), (3, _float32(0.2))]


def test_the_export_draws_the_study_run_the_live_callback_drew_over_two_runs(tmp_path: Path) -> None:
    board = TensorBoardCallback(tmp_path / "live")
    study = _study("twice")
    study.optimize(_curve, n_trials=3, callbacks=[board], fail_fast=None)
    study.optimize(_curve, n_trials=2, callbacks=[board], fail_fast=None)  # run again: the curve goes on
    exported = log_to_tensorboard(study, tmp_path / "export")
    live = _scalars(tmp_path / "live" / "twice", "best_loss")
    assert [step for step, _ in live] == [1, 2, 3, 4, 5]
    assert live == _scalars(exported, "best_loss")


def test_the_export_of_several_objectives_names_the_pareto_front_as_the_live_run_does_and_draws_no_best(
    tmp_path: Path,
) -> None:
    from tunesmith.report.export import best_text

    board = TensorBoardCallback(tmp_path / "live", best_text=best_text)
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=[ts.Metric("error"), ts.Metric("latency_ms")],
                     sampler="random", storage="memory", name="front", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"error": trial.params["x"], "latency_ms": 1.0 - trial.params["x"]}, n_trials=3,
                   callbacks=[board])  # fmt: skip
    exported = log_to_tensorboard(study, tmp_path / "export")
    (said,) = _text(exported, "tunesmith/best")
    assert "Pareto front: #0, #1, #2 (several objectives have no single best)" in said
    (result,) = _text(tmp_path / "live" / "front", "tunesmith/result")
    assert result.endswith(said)
    assert not any(tag.startswith("best_") for tag in _accumulator(exported).Tags()["tensors"])


def test_given_best_text_the_live_result_says_what_the_export_and_tunesmith_best_say_of_the_best(
    tmp_path: Path,
) -> None:
    from tunesmith.report import report_data
    from tunesmith.report._shown import shown_best
    from tunesmith.report.export import best_text

    board = TensorBoardCallback(tmp_path / "live", best_text=best_text)
    study = _study("few", budget=ts.Budget(trials=8), scheduler=ts.ASHA(max_resource=9))

    def nine_steps(trial: ts.Trial) -> dict[str, float]:
        loss = 1.0
        for step in trial.steps(9):
            loss = loss * 0.5 + trial.params["lr"] / (step + 1)
            trial.report(loss=loss)
            if trial.should_stop():
                break
        return {"loss": loss}

    study.optimize(nine_steps, callbacks=[board])
    shown = shown_best(report_data(study))  # what `tunesmith best` prints beside the best
    assert shown is not None and shown.few_trained is not None and "trained fully" in shown.few_trained
    (result,) = _text(tmp_path / "live" / "few", "tunesmith/result")
    (said,) = _text(log_to_tensorboard(study, tmp_path / "export"), "tunesmith/best")
    assert result.startswith("stopped: ") and result.endswith(said)
    assert f"best trial: #{shown.record.number}" in result and shown.few_trained in result


def test_without_best_text_the_live_result_names_the_search_best_and_says_what_it_leaves_unjudged(
    tmp_path: Path,
) -> None:
    study = _study("plain")
    study.optimize(_curve, n_trials=2, callbacks=[TensorBoardCallback(tmp_path / "tb")])
    (result,) = _text(tmp_path / "tb" / "plain", "tunesmith/result")
    assert f"best trial: #{study.best.number}, the search's best on its own seed" in result
    assert "not judged here: pass TensorBoardCallback(log_dir, best_text=tunesmith.report.export.best_text)" in result


def test_a_best_text_that_is_not_a_function_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ts.ConfigError, match=r"best_text must be a function .* got str .*best_text=tunesmith\.report"):
        TensorBoardCallback(tmp_path / "tb", best_text="best trial: #3")  # type: ignore[arg-type]


def test_a_second_export_into_the_same_folder_is_refused_with_the_fix(exported: Path) -> None:
    with pytest.raises(ts.ConfigError, match=r"already holds runs .* export into another log_dir, or remove"):
        log_to_tensorboard(_records(), exported.parent, space=SPACE, metric="loss")


# Folder names -----------------------------------------------------------------------------------------------


def test_a_safe_study_name_is_its_own_folder() -> None:
    assert folder_name("mnist-lr_sweep.v2") == "mnist-lr_sweep.v2"


@pytest.mark.parametrize(
    "name", ["../../escape", "/etc/passwd", "..", ".", "", "a/../../b", "C:\\x", "NUL", "é", "x" * 300]
)
def test_no_study_name_writes_outside_the_log_folder(tmp_path: Path, name: str) -> None:
    from tunesmith.objective import metric_named
    from tunesmith.report import ReportData

    root = (tmp_path / "tb").resolve()
    data = ReportData(name=name, space=SPACE, metric=metric_named("loss"), records=tuple(_records()[:1]))
    folder = log_to_tensorboard(data, root)
    assert folder.parent == root and folder.name not in ("", ".", "..") and len(folder.name) <= 100
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in folder.name)
    assert all(p.resolve().is_relative_to(root) for p in tmp_path.rglob("*"))
    assert json.loads((folder / STUDY_FILE).read_text())["study"] == name


def test_the_examples_in_the_folder_name_docstring_are_what_it_returns() -> None:
    import doctest

    (examples,) = doctest.DocTestFinder().find(folder_name, "folder_name", globs={"folder_name": folder_name})
    outcome = doctest.DocTestRunner().run(examples)
    assert outcome.attempted >= 2 and outcome.failed == 0


def test_two_names_alike_once_cleaned_keep_apart() -> None:
    assert folder_name("a_b") == "a_b"
    assert folder_name("a b").startswith("a_b-") and folder_name("a b") != folder_name("a?b")


def test_a_study_named_to_escape_is_exported_inside_the_log_folder(tmp_path: Path) -> None:
    study = _study("../../escape")
    study.optimize(_curve, n_trials=1)
    folder = log_to_tensorboard(study, tmp_path / "tb")
    assert folder.parent == tmp_path / "tb" and folder.name.startswith("_.._escape-")
    written = [p.resolve() for p in tmp_path.rglob("*")]
    assert written and all(p.is_relative_to((tmp_path / "tb").resolve()) for p in written)
    assert json.loads((folder / STUDY_FILE).read_text())["study"] == "../../escape"


# The live callback ---------------------------------------------------------------------------------------------


def test_each_report_is_on_disk_while_the_trial_still_runs(tmp_path: Path) -> None:
    seen: list[list[tuple[int, float]]] = []
    board = TensorBoardCallback(tmp_path / "tb")

    def objective(trial: ts.Trial) -> float:
        for step in trial.steps(2):
            trial.report(loss=1.0 / (step + 1))
            seen.append(_scalars(board.run_dirs[("live", trial.number)], "loss"))
        return 0.5

    _study("live").optimize(objective, n_trials=1, callbacks=[board])
    assert seen == [[(1, 1.0)], [(1, 1.0), (2, 0.5)]]


def test_the_live_runs_hold_what_the_export_writes(tmp_path: Path) -> None:
    board = TensorBoardCallback(tmp_path / "live")
    study = _study("same")
    study.optimize(_curve, n_trials=3, callbacks=[board], fail_fast=None)
    exported = log_to_tensorboard(study, tmp_path / "export")
    for record in study.trials:
        live_run, export_run = board.run_dirs[("same", record.number)], exported / f"trial-{record.number}"
        assert live_run == tmp_path / "live" / "same" / f"trial-{record.number}"
        for tag in ("loss", "acc"):
            assert _scalars(live_run, tag) == _scalars(export_run, tag)
        assert _session(live_run) == _session(export_run)
    assert [_session(board.run_dirs[("same", n)])[1] for n in range(3)] == ["STATUS_SUCCESS"] * 2 + ["STATUS_FAILURE"]


def test_the_study_run_follows_the_best_value_and_says_why_the_run_stopped(tmp_path: Path) -> None:
    board = TensorBoardCallback(tmp_path / "tb")
    study = _study("best")
    study.optimize(_curve, n_trials=4, callbacks=[board], fail_fast=None)
    best = _scalars(tmp_path / "tb" / "best", "best_loss")
    assert [step for step, _ in best] == [1, 2, 3, 4]  # one point per trial ended
    assert best[-1][1] == _float32(study.best.metrics["loss"])
    assert all(later <= earlier for (_, earlier), (_, later) in itertools.pairwise(best))
    (result,) = _text(tmp_path / "tb" / "best", "tunesmith/result")
    assert f"best trial: #{study.best.number}" in result


def test_several_objectives_get_no_best_curve_and_the_study_run_names_the_pareto_front(tmp_path: Path) -> None:
    board = TensorBoardCallback(tmp_path / "tb")
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metrics=[ts.Metric("error"), ts.Metric("latency_ms")],
                     sampler="random", storage="memory", name="front", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"error": trial.params["x"], "latency_ms": 1.0 - trial.params["x"]}, n_trials=3,
                   callbacks=[board])  # fmt: skip
    assert "best_error" not in _accumulator(tmp_path / "tb" / "front").Tags()["tensors"]
    (result,) = _text(tmp_path / "tb" / "front", "tunesmith/result")
    assert "Pareto front: #0, #1, #2 (several objectives have no single best)" in result and "best trial" not in result


def test_a_trial_left_without_its_session_is_ended_as_storage_records_it_when_the_study_runs_again(
    tmp_path: Path,
) -> None:
    study = _study("resumed", storage=f"sqlite:///{tmp_path / 's.db'}")

    def interrupted(trial: ts.Trial) -> float:
        trial.report(loss=0.5)
        raise KeyboardInterrupt

    class Deaf(TensorBoardCallback):
        """A callback that never hears the trial end, as one whose process was killed mid-trial."""

        def on_trial_end(self, study: ts.Study, record: TrialRecord) -> None:
            pass

    with pytest.raises(KeyboardInterrupt):
        study.optimize(interrupted, n_trials=1, callbacks=[Deaf(tmp_path / "tb")])
    run = tmp_path / "tb" / "resumed" / "trial-0"
    assert _scalars(run, "loss") == [(1, 0.5)] and not _has_session(run)
    study.optimize(lambda trial: 0.25, n_trials=1, callbacks=[TensorBoardCallback(tmp_path / "tb")])
    assert _state(run) == ("failed", "interrupted", "STATUS_FAILURE")


def test_a_folder_holding_another_studys_runs_is_refused_before_any_trial(tmp_path: Path) -> None:
    study = _study("Mnist")
    folder = tmp_path / "tb" / "Mnist"
    folder.mkdir(parents=True)
    (folder / STUDY_FILE).write_text(json.dumps({"study": "mnist"}))  # what a disk that ignores case makes of it
    with pytest.raises(ts.ConfigError, match=r"holds the runs of study 'mnist', not of 'Mnist'.*another log_dir"):
        study.optimize(_curve, n_trials=1, callbacks=[TensorBoardCallback(tmp_path / "tb")])
    assert study.trials == []


def test_a_log_dir_that_is_a_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    with pytest.raises(ts.ConfigError, match=r"log_dir must be a folder, got .*taken.*which is a file"):
        TensorBoardCallback(tmp_path / "taken")


def test_a_missing_tensorboard_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)  # as if not installed
    study = _study("no-extra")
    with pytest.raises(ts.MissingExtra, match=r"pip install 'tunesmith\[tensorboard\]'"):
        study.optimize(_curve, n_trials=1, callbacks=[TensorBoardCallback(tmp_path / "tb")])
    assert study.trials == []  # refused before any trial ran
    with pytest.raises(ts.MissingExtra, match=r"pip install 'tunesmith\[tensorboard\]'"):
        log_to_tensorboard(_records(), tmp_path / "tb", space=SPACE, metric="loss")


def test_the_verdict_is_written_into_the_study_run(tmp_path: Path) -> None:
    from tunesmith.discipline import finalize

    board = TensorBoardCallback(tmp_path / "tb")
    study = _study("judged")
    study.optimize(_curve, n_trials=2, callbacks=[board])
    with pytest.raises(ts.ConfigError, match=r"has no verdict yet"):
        board.log_verdict(study)
    verdict = finalize(study, lambda params, seed: {"loss": 0.3})
    assert board.log_verdict(study) == tmp_path / "tb" / "judged"
    (text,) = _text(tmp_path / "tb" / "judged", "tunesmith/verdict")
    assert text.startswith(f"verdict: {verdict.attribute().status}")


def test_the_integration_is_reached_from_the_package_without_an_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(ts.integrations, "tensorboard", raising=False)  # as if nothing had imported it yet
    monkeypatch.delitem(sys.modules, "tunesmith.integrations.tensorboard", raising=False)
    assert ts.integrations.tensorboard.folder_name("a b").startswith("a_b-")


# The command line -------------------------------------------------------------------------------------------------


def test_the_cli_export_writes_tensorboard_runs_and_refuses_a_second_time(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    _study("cli", storage=storage).optimize(_curve, n_trials=2)
    runner = CliRunner()
    done = runner.invoke(cli, ["export", "cli", "--storage", storage, "--tensorboard", str(tmp_path / "tb")])
    assert done.exit_code == 0, done.output
    assert "written to TensorBoard" in done.output and "number,state" not in done.output  # no CSV on stdout
    assert _session(tmp_path / "tb" / "cli" / "trial-1")[0]["tunesmith.state"] == "complete"
    again = runner.invoke(cli, ["export", "cli", "--storage", storage, "--tensorboard", str(tmp_path / "tb")])
    assert again.exit_code == 1 and "already holds runs" in again.output
