"""Training-library callbacks under the report rules: a callback's refusal stops the run as a refused report does,
and an evaluation over several datasets is recorded whole, wherever the study stops the trial."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunesmith as ts
from tests.test_integrations_callbacks import keras_fit
from tests.test_integrations_report_steps import StopAtFirstStep, study, train
from tunesmith.decision import Decision
from tunesmith.study import ObjectiveError
from tunesmith.trial import Trial, TrialKind, TrialState

# A resumed Keras fit without initial_epoch --------------------------------------------------------------------


def _keeps_weights_but_fits_from_epoch_1(trial: Trial) -> dict[str, float]:
    """Keeps a file in its checkpoint folder (as its weights), so promote mode resumes it; fits from epoch 1 anyway."""
    (trial.checkpoint_dir / "weights").write_text(f"trial {trial.number}")
    return keras_fit(trial, 9)


def test_a_resumed_keras_fit_without_initial_epoch_fails_its_trial_and_stops_the_run(tmp_path: Path) -> None:
    # The ConfigError failed each resumed trial and the run went on: every promotion failed the same way.
    promoting = ts.Study(
        ts.Space({"lr": ts.Float(0.01, 0.1, log=True)}), metric="val_loss", sampler="random",
        scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3, mode="promote"), budget=ts.Budget(trials=9),
        storage="memory", seed=0, checkpoint_dir=str(tmp_path / "checkpoints"), divergence_factor=None,
    )  # fmt: skip
    with pytest.raises(ObjectiveError, match=r"trial \d broke the report rules and is recorded FAILED: a training run "
                       r"must count on from .* pass model\.fit\(\.\.\., initial_epoch=trial\.step\)"):  # fmt: skip
        promoting.optimize(_keeps_weights_but_fits_from_epoch_1, progress=False)
    [failed] = [record for record in promoting.trials if record.state is TrialState.FAILED]
    assert failed.kind is TrialKind.EXCEPTION and failed.error is not None and "ConfigError" in failed.error
    assert sorted(failed.intermediate) == [1], "its curve is what it reported before the pause"


# An evaluation over several datasets ---------------------------------------------------------------------------


@pytest.mark.parametrize("monitor", ["eval_a_loss", "eval_b_loss"])
def test_a_trial_stopped_at_an_evaluation_over_datasets_records_the_datasets_evaluated_after_the_monitored_one(
    monitor: str, tmp_path: Path
) -> None:
    # The round was reported when the monitored dataset came: the study stopped the trial there, and the datasets
    # the Trainer evaluated after it could not be reported (nothing is, after a stop).
    searched = study(monitor, scheduler=StopAtFirstStep())
    searched.optimize(lambda trial: train(trial, tmp_path, monitor=monitor, datasets=("a", "b", "c")), n_trials=1)
    (record,) = searched.trials
    assert record.state is TrialState.STOPPED
    assert {"eval_a_loss", "eval_b_loss", "eval_c_loss"} <= set(record.intermediate[1])
    assert record.metrics["optimizer_steps"] == 4  # one epoch: the stop came at its evaluation


def test_the_study_decides_on_an_evaluation_over_datasets_once_with_every_dataset_s_metrics(tmp_path: Path) -> None:
    # The study decided on the monitored dataset's metrics alone, before the other datasets were in.
    reports: list[tuple[int, set[str]]] = []

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports.append((step, set(values)))
        return Decision.CONTINUE

    train(Trial(0, {"lr": 0.005}, 0, reporter=reporter), tmp_path, monitor="eval_a_loss", datasets=("a", "b"))
    assert [step for step, _ in reports] == [1, 2]
    assert all({"eval_a_loss", "eval_b_loss"} <= names for _, names in reports)
