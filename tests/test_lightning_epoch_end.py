"""Lightning's TunesmithCallback at the end of a training epoch: metrics the LightningModule logs in its own
``on_train_epoch_end`` belong to that epoch, and a fit whose validation can never run is refused at its first epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.test_integrations_callbacks import SKIP_REASON, lightning_noise
from tunesmith.decision import Decision
from tunesmith.integrations._callbacks import MetricNotReported
from tunesmith.trial import Trial

pytest.importorskip("lightning.pytorch", reason=SKIP_REASON)

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from tunesmith.integrations.lightning import TunesmithCallback

no_val_loader = pytest.mark.filterwarnings(
    r"ignore:You defined a `validation_step` but have no `val_dataloader`:UserWarning"
)


class EpochLogger(pl.LightningModule):
    """Logs its epoch counted from 1 as ``train_acc`` in its own on_train_epoch_end (where torchmetrics are
    computed), and ``val_loss`` in validation."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(2, 1)
        self.epochs_started = 0

    def on_train_epoch_start(self) -> None:
        self.epochs_started += 1

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.net(batch[0]).pow(2).mean()

    def on_train_epoch_end(self) -> None:
        self.log("train_acc", float(self.current_epoch + 1))

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self.current_epoch + 0.5)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def fit(
    monitor: str, tmp_path: Path, stop_at: int | None = None, validate: bool = True, **trainer: Any
) -> tuple[dict[int, dict[str, float]], EpochLogger]:
    """The reports of a 4-epoch fit of `EpochLogger`, and the module; the study stops the trial at ``stop_at``."""
    reports: dict[int, dict[str, float]] = {}

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports[step] = values
        return Decision.STOP if step == stop_at else Decision.CONTINUE

    data = DataLoader(TensorDataset(torch.zeros(8, 2)), batch_size=8)
    module = EpochLogger()
    pl.Trainer(
        max_epochs=4, callbacks=[TunesmithCallback(Trial(0, {}, 0, reporter=reporter), monitor=monitor)],
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0, **trainer,
    ).fit(module, data, data if validate else None)  # fmt: skip
    return reports, module


@lightning_noise
@pytest.mark.filterwarnings(r"ignore:The 'val_dataloader' does not have many workers:UserWarning")
def test_a_metric_logged_in_the_module_s_on_train_epoch_end_is_reported_at_its_own_epoch(tmp_path: Path) -> None:
    reports, _ = fit("train_acc", tmp_path)
    assert {step: values["train_acc"] for step, values in reports.items()} == {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0}


@lightning_noise
@pytest.mark.filterwarnings(r"ignore:The 'val_dataloader' does not have many workers:UserWarning")
def test_a_stop_on_a_metric_logged_in_the_module_s_on_train_epoch_end_ends_the_fit_before_the_next_epoch(
    tmp_path: Path,
) -> None:
    reports, module = fit("train_acc", tmp_path, stop_at=2)
    assert sorted(reports) == [1, 2]
    assert module.epochs_started == 2


@lightning_noise
@pytest.mark.filterwarnings(r"ignore:The 'val_dataloader' does not have many workers:UserWarning")
def test_a_fit_whose_check_val_every_n_epoch_is_beyond_max_epochs_is_refused_at_its_first_epoch(
    tmp_path: Path,
) -> None:
    with pytest.raises(MetricNotReported, match=r"'val_loss'.*check_val_every_n_epoch=10\) validates none of its "
                       r"epochs 1 to 4 \(max_epochs=4\).*pass a check_val_every_n_epoch that validates"):  # fmt: skip
        fit("val_loss", tmp_path, check_val_every_n_epoch=10)


@lightning_noise
def test_a_fit_with_limit_val_batches_0_is_refused_naming_limit_val_batches(tmp_path: Path) -> None:
    with pytest.raises(MetricNotReported, match=r"'val_loss'.*limit_val_batches=0\) runs none.*drop limit_val_batches"):
        fit("val_loss", tmp_path, limit_val_batches=0)


@lightning_noise
@no_val_loader
def test_a_fit_without_a_validation_loader_is_refused_naming_the_loader(tmp_path: Path) -> None:
    with pytest.raises(MetricNotReported, match=r"'val_loss'.*no validation loader.*give fit a validation loader"):
        fit("val_loss", tmp_path, validate=False)
