"""A training call after the study stopped its trial (an objective's second phase: fine-tuning after the head, a
continued booster) trains nothing more with Keras, Lightning and XGBoost, where it trained an epoch or a round the
study never counted (Lightning's then failed the trial blaming min_epochs); a trainer.validate() before the fit is
no epoch of the fit; and Keras's per-process numbering of metric names is named as what breaks the monitor."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_integrations_callbacks import SKIP_REASON, breast_cancer, lightning_noise, xgboost_boost
from tunesmith.decision import Decision
from tunesmith.integrations._callbacks import MetricNotReported
from tunesmith.trial import Trial

os.environ["KERAS_BACKEND"] = "torch"  # Keras reads its backend at its first import: no TensorFlow is installed


def stopping_trial(at: int, number: int = 0) -> tuple[Trial, dict[int, dict[str, float]]]:
    """A trial the study stops at step ``at``, and what it was reported."""
    reports: dict[int, dict[str, float]] = {}

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports[step] = values
        return Decision.STOP if step >= at else Decision.CONTINUE

    return Trial(number, {"lr": 0.02}, number, reporter=reporter), reports


def test_a_keras_fit_of_a_stopped_trial_trains_no_epoch_and_the_model_s_next_fit_starts_as_told() -> None:
    keras = pytest.importorskip("keras", reason=SKIP_REASON)
    from tunesmith.integrations.keras import TunesmithCallback

    x, y, xv, yv = breast_cancer()
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")
    started: list[int] = []
    counter = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: started.append(epoch + 1))
    trial, reports = stopping_trial(at=2)
    callback = TunesmithCallback(trial, "val_loss")
    data = {"x": x, "y": y, "validation_data": (xv, yv), "batch_size": 64, "verbose": 0}

    model.fit(epochs=2, callbacks=[counter, callback], **data)  # the head: stopped at its end
    tuned = model.fit(epochs=6, initial_epoch=2, callbacks=[counter, callback], **data)  # fine-tuning

    assert started == [1, 2] and sorted(reports) == [1, 2] and tuned.history == {}
    fresh, _ = stopping_trial(at=99, number=1)
    model.fit(epochs=3, initial_epoch=1, callbacks=[counter, TunesmithCallback(fresh, "val_loss")], **data)
    assert started == [1, 2, 2, 3]  # the skip did not leave the model starting at the skipped fit's end


def test_keras_numbering_a_metric_per_process_is_named_with_the_fix_and_stops_the_run() -> None:
    """Keras names a metric object built without name= after its class, numbered (auc_1, auc_2) once one of that
    name was built in the process: trial 1's logs held val_auc_1, and the callback blamed a misspelt monitor,
    suggesting monitor='val_auc_1', which trial 2 would lack."""
    keras = pytest.importorskip("keras", reason=SKIP_REASON)
    from tunesmith.integrations.keras import TunesmithCallback

    x, y, xv, yv = breast_cancer()
    keras.metrics.AUC()  # an earlier trial's model built one
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy", metrics=[keras.metrics.AUC()])
    trial, _ = stopping_trial(at=99)

    with pytest.raises(MetricNotReported) as raised:
        model.fit(x, y, validation_data=(xv, yv), epochs=1, verbose=0, callbacks=[TunesmithCallback(trial, "val_auc")])

    said = str(raised.value)
    assert "'val_auc' is not in Keras's logs at epoch 1, which hold 'val_auc_" in said
    assert "give the metric a fixed name where it is built (name='auc'), or call keras.backend.clear_session()" in said
    assert trial.refused == said  # every later trial would fail alike: the run stops


def test_an_xgboost_training_continuing_a_stopped_trial_s_booster_adds_no_round() -> None:
    trial, reports = stopping_trial(at=3)
    booster = xgboost_boost(trial, rounds=3)
    assert booster.num_boosted_rounds() == 3 and trial.should_stop()

    continued = xgboost_boost(trial, rounds=6, model=booster)

    assert continued.num_boosted_rounds() == 3 and sorted(reports) == [1, 2, 3]


@lightning_noise
def test_a_lightning_fit_of_a_stopped_trial_trains_no_epoch_and_fails_nothing(tmp_path: Path) -> None:
    """The second fit trained an epoch, then failed the trial with TrainingWentOn blaming Trainer(min_epochs=0)."""
    pl = pytest.importorskip("lightning.pytorch", reason=SKIP_REASON)
    from tests.test_lightning_epoch_end import EpochLogger
    from tunesmith.integrations.lightning import TunesmithCallback

    trial, reports = stopping_trial(at=2)
    callback = TunesmithCallback(trial, monitor="val_loss")
    module = EpochLogger()
    data = loader()
    first = trainer(pl, callback, 2, tmp_path)
    first.fit(module, data, data)
    first.save_checkpoint(tmp_path / "head.ckpt")

    trainer(pl, callback, 6, tmp_path).fit(module, data, data, ckpt_path=tmp_path / "head.ckpt")

    assert module.epochs_started == 2 and sorted(reports) == [1, 2]


@lightning_noise
def test_a_trainer_validate_before_the_fit_is_no_validation_of_the_fit_s_first_epoch(tmp_path: Path) -> None:
    """Its on_validation_end marked epoch 0 validated, so the fit's first epoch, which does not validate under
    check_val_every_n_epoch=2, was refused as lacking val_loss and the study stopped."""
    pl = pytest.importorskip("lightning.pytorch", reason=SKIP_REASON)
    from tests.test_lightning_epoch_end import EpochLogger
    from tunesmith.integrations.lightning import TunesmithCallback

    trial, reports = stopping_trial(at=99)
    run = trainer(pl, TunesmithCallback(trial, monitor="val_loss"), 4, tmp_path, check_val_every_n_epoch=2)
    module, data = EpochLogger(), loader()

    run.validate(module, data, verbose=False)
    run.fit(module, data, data)

    assert sorted(reports) == [1, 2, 3, 4] and trial.refused is None
    assert [step for step, values in sorted(reports.items()) if "val_loss" in values] == [2, 4]


def loader() -> Any:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(torch.zeros(8, 2)), batch_size=8)


def trainer(pl: Any, callback: Any, epochs: int, tmp_path: Path, **options: Any) -> Any:
    return pl.Trainer(
        max_epochs=epochs, callbacks=[callback], accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0,
        **options,
    )  # fmt: skip


def test_a_hugging_face_training_of_a_stopped_trial_ends_after_one_optimizer_step(tmp_path: Path) -> None:
    """The Trainer checks its stop after each step, not before the first: one step, where it trained every epoch
    the second call asked for (the study never counted them)."""
    pytest.importorskip("transformers", reason=SKIP_REASON)
    import torch
    import transformers

    from tunesmith.integrations.transformers import TunesmithCallback

    trial, reports = stopping_trial(at=1)
    config = transformers.BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=16, num_labels=2)  # fmt: skip
    model = transformers.BertForSequenceClassification(config)
    tokens = torch.from_numpy(np.random.default_rng(0).integers(1, 32, size=(96, 8)))
    examples = [{"input_ids": t, "attention_mask": torch.ones(8, dtype=torch.long), "labels": int(t[0] < 16)}
                for t in tokens]  # fmt: skip
    callback = TunesmithCallback(trial, monitor="eval_loss")

    def train(epochs: int) -> int:
        args = transformers.TrainingArguments(
            output_dir=str(tmp_path / f"run-{epochs}"), eval_strategy="epoch", num_train_epochs=epochs,
            per_device_train_batch_size=32, per_device_eval_batch_size=32, save_strategy="no", logging_strategy="no",
            report_to="none", use_cpu=True, disable_tqdm=True,
        )  # fmt: skip
        trainer = transformers.Trainer(model=model, args=args, train_dataset=examples[:64],
                                       eval_dataset=examples[64:], callbacks=[callback])  # fmt: skip
        trainer.train()
        return int(trainer.state.global_step)

    assert train(3) == 2 and sorted(reports) == [1]  # 2 steps an epoch: stopped at the end of the first
    assert train(3) == 1 and sorted(reports) == [1]
