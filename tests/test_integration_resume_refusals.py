"""Training-library callbacks on a resumed trial: a run that starts over instead of continuing from the trial's
checkpoint is refused before it trains, with the library's way to continue, and a run that continues is accepted.

Each test trains a trial planned for `PLANNED` steps that the study pauses at `PAUSED_AT`, as a promoting
scheduler's rung does, and resumes it as `Study.ask` does: a `Trial` of the same number, ``start_step=PAUSED_AT``
and the same checkpoint directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tests.test_integrations_callbacks import SKIP_REASON, breast_cancer, digits, lightning_noise
from tunesmith.decision import Decision
from tunesmith.trial import Trial

PAUSED_AT = 2
PLANNED = 4
LR = 0.05


class PausedTrial:
    """One trial's training runs: the first, which the study pauses at `PAUSED_AT`, and its resumptions."""

    def __init__(self, checkpoints: Path) -> None:
        self.checkpoints = checkpoints
        self.steps: list[int] = []  # every step the trial reported, over all its runs

    def _reporter(self, step: int, values: dict[str, float]) -> Decision:
        self.steps.append(step)
        return Decision.PAUSE if step == PAUSED_AT else Decision.CONTINUE

    def first(self) -> Trial:
        return Trial(0, {"lr": LR}, 0, reporter=self._reporter, checkpoint_dir=self.checkpoints)

    def resumed(self) -> Trial:
        return Trial(0, {"lr": LR}, 0, reporter=self._reporter, start_step=PAUSED_AT, checkpoint_dir=self.checkpoints)


def starting_over(unit: str, fix: str) -> str:
    """The refusal of a resumed run that starts at step 1 (``unit`` 1), with ``fix`` in it."""
    return (
        rf"trial 0 resumed after {unit} {PAUSED_AT} and this run starts at {unit} 1 \(.*=0\), so its reports would "
        rf"go back over {unit}s the scheduler judged: .*{fix}"
    )


# XGBoost -------------------------------------------------------------------------------------------------------


def xgboost_train(trial: Trial, rounds: int, trained: list[int], model: Path | None = None) -> None:
    """Boosts ``rounds`` rounds (more, continuing the saved ``model``) and saves the booster; ``trained`` gets
    each round trained."""
    pytest.importorskip("xgboost", reason=SKIP_REASON)
    import xgboost

    from tunesmith.integrations.xgboost import TunesmithCallback

    class RoundsTrained(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            trained.append(epoch)
            return False

    x, y, xv, yv = breast_cancer()
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 2, "nthread": 1, "eta": LR}
    booster = xgboost.train(
        params, xgboost.DMatrix(x, label=y), rounds, evals=[(xgboost.DMatrix(xv, label=yv), "valid")],
        verbose_eval=False, xgb_model=None if model is None else str(model),
        callbacks=[TunesmithCallback(trial, monitor="valid-logloss"), RoundsTrained()],
    )  # fmt: skip
    booster.save_model(trial.checkpoint_dir / "booster.json")


def test_a_resumed_xgboost_training_is_refused_before_its_first_round_unless_it_continues_the_saved_booster(
    tmp_path: Path,
) -> None:
    # The new booster trained its first round, reported it as round 1 and got the generic ReportRefused.
    paused = PausedTrial(tmp_path)
    xgboost_train(paused.first(), PLANNED, [])
    restarted = paused.resumed()
    trained: list[int] = []
    with pytest.raises(ts.ConfigError, match=starting_over("round", r"xgboost\.train\(\.\.\., xgb_model=")):
        xgboost_train(restarted, PLANNED, trained)
    assert trained == [] and paused.steps == [1, 2]
    assert restarted.refused is not None, "the trial fails even if the objective catches the error"
    continued = paused.resumed()
    xgboost_train(continued, PLANNED - PAUSED_AT, trained, model=tmp_path / "booster.json")
    assert continued.refused is None and paused.steps == [1, 2, 3, 4]


# LightGBM ------------------------------------------------------------------------------------------------------


def lightgbm_train(trial: Trial, rounds: int, log: dict[str, Any], model: Path | None = None) -> None:
    """Boosts ``rounds`` rounds (more, continuing the saved ``model``) and saves the booster; ``log`` gets
    LightGBM's record of each round's evaluation."""
    pytest.importorskip("lightgbm", reason=SKIP_REASON)
    import lightgbm

    from tunesmith.integrations.lightgbm import tunesmith_callback

    x, y, xv, yv = breast_cancer()
    params = {"objective": "binary", "learning_rate": LR, "num_leaves": 4, "verbosity": -1, "num_threads": 1}
    train = lightgbm.Dataset(x, y)
    booster = lightgbm.train(
        params, train, num_boost_round=rounds, valid_sets=[lightgbm.Dataset(xv, yv, reference=train)],
        valid_names=["valid"], init_model=model,
        callbacks=[lightgbm.record_evaluation(log), tunesmith_callback(trial, monitor="valid-binary_logloss")],
    )  # fmt: skip
    booster.save_model(trial.checkpoint_dir / "booster.txt")


def test_a_resumed_lightgbm_training_is_refused_at_its_first_round_unless_it_continues_the_saved_booster(
    tmp_path: Path,
) -> None:
    # LightGBM calls a callback before a round without its evaluations, or after it, never before training alone:
    # the refusal comes after the first round is trained, before it is reported.
    paused = PausedTrial(tmp_path)
    lightgbm_train(paused.first(), PLANNED, {})
    restarted = paused.resumed()
    log: dict[str, Any] = {}
    with pytest.raises(ts.ConfigError, match=starting_over("round", r"lightgbm\.train\(\.\.\., init_model=")):
        lightgbm_train(restarted, PLANNED, log)
    assert len(log["valid"]["binary_logloss"]) == 1 and paused.steps == [1, 2]
    assert restarted.refused is not None, "the trial fails even if the objective catches the error"
    continued = paused.resumed()
    lightgbm_train(continued, PLANNED - PAUSED_AT, {}, model=tmp_path / "booster.txt")
    assert continued.refused is None and paused.steps == [1, 2, 3, 4]


# PyTorch Lightning ---------------------------------------------------------------------------------------------


def lightning_fit(trial: Trial, batches: list[int], checkpoint: Path | None = None) -> None:
    """Fits a linear classifier for `PLANNED` epochs (on from ``checkpoint``, when given) and saves the trainer's
    checkpoint; ``batches`` gets each training batch."""
    pytest.importorskip("lightning.pytorch", reason=SKIP_REASON)
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from tunesmith.integrations.lightning import TunesmithCallback

    class Classifier(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(64, 10)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            batches.append(batch_idx)
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self.net(x), y))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=LR)

    x, y, xv, yv = digits()
    trainer = pl.Trainer(
        max_epochs=PLANNED, callbacks=[TunesmithCallback(trial, monitor="val_loss")], accelerator="cpu",
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=trial.checkpoint_dir, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(
        Classifier(), DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=60),
        DataLoader(TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)), batch_size=240), ckpt_path=checkpoint,
    )  # fmt: skip
    trainer.save_checkpoint(trial.checkpoint_dir / "last.ckpt")


@lightning_noise
def test_a_resumed_lightning_fit_is_refused_before_its_first_epoch_unless_it_continues_from_the_checkpoint(
    tmp_path: Path,
) -> None:
    # The new fit trained its first epoch, reported it as epoch 1 and got the generic ReportRefused.
    paused = PausedTrial(tmp_path)
    lightning_fit(paused.first(), [])
    restarted = paused.resumed()
    batches: list[int] = []
    with pytest.raises(ts.ConfigError, match=starting_over("epoch", r"trainer\.fit\(model, \.\.\., ckpt_path=")):
        lightning_fit(restarted, batches)
    assert batches == [] and paused.steps == [1, 2]
    assert restarted.refused is not None, "the trial fails even if the objective catches the error"
    continued = paused.resumed()
    lightning_fit(continued, batches, checkpoint=tmp_path / "last.ckpt")
    assert continued.refused is None and paused.steps == [1, 2, 3, 4]


# Hugging Face Transformers -------------------------------------------------------------------------------------


def transformers_trainer(trial: Trial) -> Any:
    """A ``Trainer`` of a tiny BERT on made-up tokens for `PLANNED` epochs, evaluating and saving a checkpoint
    under ``trial.checkpoint_dir`` at the end of each."""
    pytest.importorskip("transformers", reason=SKIP_REASON)
    import torch
    import transformers

    from tunesmith.integrations.transformers import TunesmithCallback

    transformers.set_seed(0)
    config = transformers.BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2,
    )  # fmt: skip
    tokens = torch.from_numpy(np.random.default_rng(0).integers(1, 32, size=(96, 8)))
    examples = [{"input_ids": t, "attention_mask": torch.ones(8, dtype=torch.long), "labels": int(t[0] < 16)}
                for t in tokens]  # fmt: skip
    args = transformers.TrainingArguments(
        output_dir=str(trial.checkpoint_dir), eval_strategy="epoch", save_strategy="epoch", num_train_epochs=PLANNED,
        learning_rate=LR, per_device_train_batch_size=32, logging_strategy="no", report_to="none", use_cpu=True,
        disable_tqdm=True,
    )  # fmt: skip
    return transformers.Trainer(
        model=transformers.BertForSequenceClassification(config), args=args, train_dataset=examples[:64],
        eval_dataset=examples[64:], callbacks=[TunesmithCallback(trial, monitor="eval_loss")],
    )  # fmt: skip


def test_a_resumed_transformers_training_is_refused_before_its_first_epoch_unless_it_resumes_from_the_checkpoint(
    tmp_path: Path,
) -> None:
    # The new training ran its first epoch, reported it as epoch 1 and got the generic ReportRefused.
    paused = PausedTrial(tmp_path)
    transformers_trainer(paused.first()).train()
    restarted = paused.resumed()
    trainer = transformers_trainer(restarted)
    with pytest.raises(ts.ConfigError, match=starting_over("epoch", r"trainer\.train\(resume_from_checkpoint=")):
        trainer.train()
    assert trainer.state.global_step == 0 and paused.steps == [1, 2]
    assert restarted.refused is not None, "the trial fails even if the objective catches the error"
    continued = paused.resumed()
    transformers_trainer(continued).train(resume_from_checkpoint=True)
    assert continued.refused is None and paused.steps == [1, 2, 3, 4]
