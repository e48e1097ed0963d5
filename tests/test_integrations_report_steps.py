"""The steps training-library callbacks report follow the report rules in the runs users write: a partial last
epoch of a Hugging Face Trainer, an evaluation over a dict of datasets, a Keras fit of a resumed trial."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

import tunesmith as ts
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.integrations._callbacks import MetricNotReported
from tunesmith.schedulers import Scheduler
from tunesmith.trial import Trial, TrialRecord, TrialState

# Keras reads its backend once, at its first import: PyTorch's, as no TensorFlow is installed.
os.environ["KERAS_BACKEND"] = "torch"

SKIP_REASON = "the training-library extras are part of the test install (make test)"
EXAMPLES_PER_EPOCH = 96  # four optimizer steps of 24 per epoch


class StopAtFirstStep(Scheduler):
    """Stops every trial at its first report."""

    name = "stop_at_first_step"
    reads_history = False

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        return Decision.STOP


def study(metric: str, scheduler: Scheduler | None = None) -> ts.Study:
    return ts.Study(
        ts.Space({"lr": ts.Float(1e-3, 1e-2, log=True)}), metric=metric, sampler="random", scheduler=scheduler,
        storage="memory", seed=0, divergence_factor=None,
    )  # fmt: skip


def train(trial: Trial, tmp_path: Path, monitor: str = "eval_loss", datasets: Sequence[str] = (),
          **arguments: Any) -> dict[str, float]:  # fmt: skip
    """A tiny BERT trained with eval_strategy="epoch" on made-up tokens, evaluated on one dataset, or on a dict of
    ``datasets``; ``arguments`` go to TrainingArguments (num_train_epochs=2 unless given)."""
    pytest.importorskip("transformers", reason=SKIP_REASON)
    import torch
    import transformers

    from tunesmith.integrations.transformers import TunesmithCallback

    transformers.set_seed(trial.seed % 2**31)
    config = transformers.BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2,
    )  # fmt: skip
    tokens = torch.from_numpy(np.random.default_rng(0).integers(1, 32, size=(EXAMPLES_PER_EPOCH + 32, 8)))
    examples = [{"input_ids": t, "attention_mask": torch.ones(8, dtype=torch.long), "labels": int(t[0] < 16)}
                for t in tokens]  # fmt: skip
    held_out = examples[EXAMPLES_PER_EPOCH:]
    evaluation = {name: held_out[i::2] for i, name in enumerate(datasets)} if datasets else held_out
    args = transformers.TrainingArguments(**{
        "output_dir": str(tmp_path / f"trial-{trial.number}"), "eval_strategy": "epoch", "num_train_epochs": 2,
        "learning_rate": trial.params["lr"], "per_device_train_batch_size": 24, "save_strategy": "no",
        "logging_strategy": "no", "report_to": "none", "use_cpu": True, "disable_tqdm": True, **arguments,
    })  # fmt: skip
    trainer = transformers.Trainer(
        model=transformers.BertForSequenceClassification(config), args=args,
        train_dataset=examples[:EXAMPLES_PER_EPOCH], eval_dataset=evaluation,
        callbacks=[TunesmithCallback(trial, monitor=monitor)],
    )  # fmt: skip
    trainer.train()
    return {monitor: trainer.evaluate()[monitor], "optimizer_steps": trainer.state.global_step}


# A partial last epoch -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments", [{"max_steps": 9}, {"num_train_epochs": 2.3}, {"num_train_epochs": 2.5}],
    ids=["max_steps", "2.3 epochs", "2.5 epochs"],
)  # fmt: skip
def test_a_partial_last_epoch_is_reported_as_the_next_epoch_and_the_trial_completes(
    arguments: dict[str, Any], tmp_path: Path
) -> None:
    # The evaluation at epoch 2.25 (or 2.5) was reported at round(2.25) = 2, which epoch 2 had reported: the
    # report rules refused it and the study stopped with ObjectiveError.
    searched = study("eval_loss")
    searched.optimize(lambda trial: train(trial, tmp_path, **arguments), n_trials=1)
    (record,) = searched.trials
    assert record.state is TrialState.COMPLETE, record.error
    assert sorted(record.intermediate) == [1, 2, 3]
    assert record.metrics["optimizer_steps"] > 8  # it trained into a third epoch, which step 3 stands for


# An evaluation over a dict of datasets ------------------------------------------------------------


@pytest.mark.parametrize("monitor", ["eval_a_loss", "eval_b_loss"])
def test_every_dataset_of_an_evaluation_is_recorded_at_its_step_whichever_is_monitored(
    monitor: str, tmp_path: Path
) -> None:
    # The Trainer calls on_evaluate once per dataset: the call for the other dataset lacked the monitor and
    # raised MetricNotReported, whichever dataset it named.
    searched = study(monitor)
    searched.optimize(lambda trial: train(trial, tmp_path, monitor=monitor, datasets=("a", "b")), n_trials=1)
    (record,) = searched.trials
    assert record.state is TrialState.COMPLETE, record.error
    assert sorted(record.intermediate) == [1, 2]
    for metrics in record.intermediate.values():
        assert {"eval_a_loss", "eval_b_loss"} <= set(metrics)


def test_a_trial_stopped_at_an_evaluation_over_datasets_trains_no_further(tmp_path: Path) -> None:
    searched = study("eval_b_loss", scheduler=StopAtFirstStep())
    searched.optimize(lambda trial: train(trial, tmp_path, monitor="eval_b_loss", datasets=("a", "b")), n_trials=1)
    (record,) = searched.trials
    assert record.state is TrialState.STOPPED
    assert record.metrics["optimizer_steps"] == 4  # one epoch: the stop came at its evaluation
    assert {"eval_a_loss", "eval_b_loss"} <= set(record.intermediate[1])


def test_a_monitor_in_no_dataset_of_an_evaluation_is_named_with_every_dataset_s_metrics(tmp_path: Path) -> None:
    with pytest.raises(MetricNotReported, match=r"'eval_c_loss' is not in the Trainer's evaluation metrics at epoch "
                       r"1 \(available: 'eval_a_loss', .*'eval_b_loss'"):  # fmt: skip
        train(Trial(0, {"lr": 0.005}, 0), tmp_path, monitor="eval_c_loss", datasets=("a", "b"))


# A resumed Keras fit ------------------------------------------------------------------------------


def resumed_fit(initial_epoch: int | None) -> list[int]:
    """Fit epochs 3 and 4 of a trial resumed after epoch 2; returns the steps it reported."""
    pytest.importorskip("keras", reason=SKIP_REASON)
    import keras

    from tunesmith.integrations.keras import TunesmithCallback

    reported: list[int] = []

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reported.append(step)
        return Decision.CONTINUE

    trial = Trial(0, {}, 0, reporter=reporter, start_step=2)
    x, y = load_digits(return_X_y=True)
    x = (x[:240] / 16.0).astype(np.float32)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    start = {} if initial_epoch is None else {"initial_epoch": initial_epoch}
    model.fit(x[:180], y[:180], validation_data=(x[180:], y[:240][180:]), epochs=4, batch_size=60, verbose=0,
              callbacks=[TunesmithCallback(trial, monitor="val_loss")], **start)  # fmt: skip
    return reported


def test_a_resumed_keras_fit_without_initial_epoch_is_told_to_pass_it() -> None:
    # It was refused at its first report with the report rules' generic fixes (trial.steps, load_checkpoint),
    # none of which a Keras user writes.
    with pytest.raises(ts.ConfigError, match=r"trial 0 resumed after epoch 2 and this run starts at epoch 1 "
                       r"\(initial_epoch=0\).*model\.fit\(\.\.\., initial_epoch=trial\.step\)"):  # fmt: skip
        resumed_fit(initial_epoch=None)
    assert resumed_fit(initial_epoch=2) == [3, 4]
