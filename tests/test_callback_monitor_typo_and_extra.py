"""Training-library callbacks: a misspelt ``monitor=`` fails its trial and stops the run at once, as the callbacks'
other systematic errors do (it would fail every trial the same way), and ``extra=`` adds metrics the library does
not log (a second objective, a guardrail) to every report."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunesmith as ts
from tests.test_integrations_callbacks import (
    SKIP_REASON,
    breast_cancer,
    digits,
    keras_fit,
    lightgbm_fit,
    lightning_fit,
    lightning_noise,
    transformers_train,
    xgboost_fit,
)
from tunesmith.decision import Decision
from tunesmith.errors import ArgumentError
from tunesmith.integrations._callbacks import MetricNotReported
from tunesmith.study import ObjectiveError
from tunesmith.trial import Trial, TrialState

# The module each library's integration needs, and its callback's name there.
LIBRARIES = {
    "xgboost": ("xgboost", "TunesmithCallback"),
    "lightgbm": ("lightgbm", "tunesmith_callback"),
    "keras": ("keras", "TunesmithCallback"),
    "lightning": ("lightning.pytorch", "TunesmithCallback"),
    "transformers": ("transformers", "TunesmithCallback"),
}
SIZE = {"size": 4.0}  # a second objective the library does not log
# Lightning warns that a one-batch loader has no worker processes.
lightning_workers = pytest.mark.filterwarnings(r"ignore:The 'val_dataloader' does not have many workers:UserWarning")


def recording_trial() -> tuple[Trial, dict[int, dict[str, float]]]:
    """A trial whose reports land in the returned dict (step -> metrics)."""
    reports: dict[int, dict[str, float]] = {}

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports[step] = dict(values)
        return Decision.CONTINUE

    return Trial(0, {"lr": 0.05}, 0, reporter=reporter), reports


def callback_factory(library: str) -> Callable[..., Any]:
    module, name = LIBRARIES[library]
    pytest.importorskip(module, reason=SKIP_REASON)
    factory: Callable[..., Any] = getattr(importlib.import_module(f"tunesmith.integrations.{library}"), name)
    return factory


# Fits whose callback takes extra= -------------------------------------------------------------------------------


def xgboost_rounds(trial: Trial, monitor: str, eval_metric: Any = "logloss", **callback: Any) -> None:
    pytest.importorskip("xgboost", reason=SKIP_REASON)
    import xgboost

    from tunesmith.integrations.xgboost import TunesmithCallback

    x, y, xv, yv = breast_cancer()
    params = {"objective": "binary:logistic", "eval_metric": eval_metric, "max_depth": 2, "nthread": 1}
    xgboost.train(params, xgboost.DMatrix(x, label=y), 3, evals=[(xgboost.DMatrix(xv, label=yv), "valid")],
                  verbose_eval=False, callbacks=[TunesmithCallback(trial, monitor, **callback)])  # fmt: skip


def lightgbm_rounds(trial: Trial, monitor: str, rounds: int = 3, **callback: Any) -> Any:
    pytest.importorskip("lightgbm", reason=SKIP_REASON)
    import lightgbm

    from tunesmith.integrations.lightgbm import tunesmith_callback

    x, y, xv, yv = breast_cancer()
    params = {"objective": "binary", "num_leaves": int(trial.params.get("num_leaves", 4)), "verbosity": -1,
              "num_threads": 1, "learning_rate": trial.params["lr"]}  # fmt: skip
    train = lightgbm.Dataset(x, y)
    valid = lightgbm.Dataset(xv, yv, reference=train)
    return lightgbm.train(params, train, rounds, valid_sets=[valid], valid_names=["valid"],
                          callbacks=[tunesmith_callback(trial, monitor, **callback)])  # fmt: skip


def keras_epochs(trial: Trial, monitor: str, validation_freq: int, **callback: Any) -> None:
    pytest.importorskip("keras", reason=SKIP_REASON)
    import keras

    from tunesmith.integrations.keras import TunesmithCallback

    x, y, xv, yv = digits(60)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    model.fit(x, y, validation_data=(xv, yv), validation_freq=validation_freq, epochs=4, batch_size=60, verbose=0,
              callbacks=[TunesmithCallback(trial, monitor=monitor, **callback)])  # fmt: skip


def lightning_epochs(trial: Trial, monitor: str, every: int, tmp_path: Path, **callback: Any) -> None:
    """A fit of 4 epochs validating every ``every``, of a module that logs train_loss and val_loss."""
    pytest.importorskip("lightning.pytorch", reason=SKIP_REASON)
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from tunesmith.integrations.lightning import TunesmithCallback

    class Logs(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(2, 1)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.log("train_loss", float(self.current_epoch), on_step=False, on_epoch=True)
            return self.net(batch[0]).pow(2).mean()

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val_loss", self.current_epoch + 0.5)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    data = DataLoader(TensorDataset(torch.zeros(8, 2)), batch_size=8)
    trainer = pl.Trainer(
        max_epochs=4, callbacks=[TunesmithCallback(trial, monitor=monitor, **callback)], accelerator="cpu",
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path, num_sanity_val_steps=0, check_val_every_n_epoch=every,
    )  # fmt: skip
    trainer.fit(Logs(), data, data)


def transformers_steps(trial: Trial, monitor: str, tmp_path: Path, **callback: Any) -> None:
    """4 optimizer steps of a tiny BERT, evaluated every 2 (eval_steps)."""
    pytest.importorskip("transformers", reason=SKIP_REASON)
    import torch
    import transformers

    from tunesmith.integrations.transformers import TunesmithCallback

    transformers.set_seed(0)
    config = transformers.BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                     intermediate_size=8, max_position_embeddings=8, num_labels=2)  # fmt: skip
    tokens = torch.from_numpy(np.random.default_rng(0).integers(1, 32, size=(24, 4)))
    examples = [{"input_ids": t, "attention_mask": torch.ones(4, dtype=torch.long), "labels": int(t[0] < 16)}
                for t in tokens]  # fmt: skip
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "trainer"), eval_strategy="steps", eval_steps=2, max_steps=4,
        per_device_train_batch_size=4, per_device_eval_batch_size=8, save_strategy="no", logging_strategy="no",
        report_to="none", use_cpu=True, disable_tqdm=True,
    )  # fmt: skip
    transformers.Trainer(
        model=transformers.BertForSequenceClassification(config), args=args, train_dataset=examples[:16],
        eval_dataset=examples[16:], callbacks=[TunesmithCallback(trial, monitor=monitor, **callback)],
    ).train()  # fmt: skip


# (a) A misspelt monitor ----------------------------------------------------------------------------------------


def test_a_misspelt_monitor_fails_its_trial_and_stops_the_run_at_once() -> None:
    # MetricNotReported failed the trial without refusing it: only fail_fast stopped the run, after three trials
    # had each trained a round to fail the same way.
    study = ts.Study(ts.Space({"lr": ts.Float(0.01, 0.5, log=True)}), metric="value", budget=ts.Budget(trials=6),
                     storage="memory", seed=0)  # fmt: skip

    def objective(trial: Trial) -> float:
        xgboost_rounds(trial, "valid-auc")
        return 0.0

    with pytest.raises(ObjectiveError, match=r"trial 0 broke the report rules.*'valid-auc' is not in XGBoost's"):
        study.optimize(objective, progress=False)
    assert [record.state for record in study.trials] == [TrialState.FAILED]


@lightning_noise
@pytest.mark.filterwarnings(r"ignore:The 'train_dataloader' does not have many workers:UserWarning")
@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_a_monitor_missing_from_the_first_evaluation_marks_the_trial_refused(library: str, tmp_path: Path) -> None:
    trial = Trial(0, {"lr": 0.05}, 0)
    fits: dict[str, Callable[[], object]] = {
        "xgboost": lambda: xgboost_fit(trial, monitor="validation_0-los"),
        "lightgbm": lambda: lightgbm_fit(trial, monitor="valid-binary_los"),
        "keras": lambda: keras_fit(trial, 2, monitor="val_los"),
        "lightning": lambda: lightning_fit(trial, 2, tmp_path, monitor="val_los"),
        "transformers": lambda: transformers_train(trial, 2, tmp_path, monitor="eval_los"),
    }
    with pytest.raises(MetricNotReported, match=r"los' is not in"):
        fits[library]()
    assert trial.refused is not None and "los' is not in" in trial.refused, "caught, the error would pass unseen"


def test_a_keras_monitor_misspelt_is_refused_at_the_first_epoch_that_validates_not_before() -> None:
    trial, reports = recording_trial()
    with pytest.raises(MetricNotReported, match=r"'val_los' is not in Keras's logs at epoch 2"):
        keras_epochs(trial, "val_los", validation_freq=2)
    assert list(reports) == [1], "epoch 1 did not validate: its training metrics were reported without val_los"
    assert trial.refused is not None and "'val_los'" in trial.refused


@lightning_noise
@lightning_workers
def test_a_lightning_monitor_misspelt_is_refused_at_the_first_epoch_that_validates_not_before(tmp_path: Path) -> None:
    trial, reports = recording_trial()
    with pytest.raises(MetricNotReported, match=r"'train_los' is not in .* training epoch and its validation 2"):
        lightning_epochs(trial, "train_los", every=2, tmp_path=tmp_path)
    assert reports == {1: {"train_loss": 0.0}}, "epoch 1 did not validate: it could not tell train_los was missing"
    assert trial.refused is not None and "'train_los'" in trial.refused


# (b) extra= -----------------------------------------------------------------------------------------------------


@lightning_noise
@lightning_workers
@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_extra_metrics_join_every_report_even_of_steps_that_did_not_validate(library: str, tmp_path: Path) -> None:
    trial, reports = recording_trial()
    fits: dict[str, Callable[[], object]] = {
        "xgboost": lambda: xgboost_rounds(trial, "valid-logloss", extra=SIZE),
        "lightgbm": lambda: lightgbm_rounds(trial, "valid-binary_logloss", extra=SIZE),
        "keras": lambda: keras_epochs(trial, "val_loss", extra=SIZE, validation_freq=2),
        "lightning": lambda: lightning_epochs(trial, "val_loss", extra=SIZE, every=2, tmp_path=tmp_path),
        "transformers": lambda: transformers_steps(trial, "eval_loss", extra=SIZE, tmp_path=tmp_path),
    }
    fits[library]()
    steps = {"xgboost": [1, 2, 3], "lightgbm": [1, 2, 3], "keras": [1, 2, 3, 4], "lightning": [1, 2, 3, 4],
             "transformers": [2, 4]}[library]  # fmt: skip
    assert sorted(reports) == steps
    assert all(values["size"] == SIZE["size"] for values in reports.values())


def test_a_callable_extra_is_read_anew_at_each_report() -> None:
    trial, reports = recording_trial()
    calls = itertools.count(1)
    lightgbm_rounds(trial, "valid-binary_logloss", extra=lambda: {"calls": float(next(calls))}, rounds=4)
    assert [reports[step]["calls"] for step in sorted(reports)] == [1.0, 2.0, 3.0, 4.0]


def test_a_second_objective_given_through_extra_lets_asha_rank_every_trial() -> None:
    # The callback could report only what LightGBM evaluated: ASHA, ranking by 'size' at its rungs, failed every
    # trial with advice ('report size at every step') a callback's user could not follow.
    study = ts.Study(
        ts.Space({"lr": ts.Float(0.01, 0.5, log=True), "num_leaves": ts.Int(4, 64, base=2)}),
        metrics=[ts.Metric("valid-binary_logloss"), ts.Metric("size")], scheduler=ts.ASHA(min_resource=1,
        max_resource=9, eta=3), budget=ts.Budget(trials=6), storage="memory", seed=0,
    )  # fmt: skip

    def objective(trial: Trial) -> dict[str, float]:
        size = {"size": float(trial.params["num_leaves"])}
        booster = lightgbm_rounds(trial, "valid-binary_logloss", extra=size, rounds=9)
        return {"valid-binary_logloss": booster.best_score["valid"]["binary_logloss"], **size}

    study.optimize(objective, progress=False)
    assert {record.state for record in study.trials} <= {TrialState.COMPLETE, TrialState.STOPPED}
    assert any(record.state is TrialState.STOPPED for record in study.trials), "ASHA stopped none: nothing shown"


def test_without_extra_the_missing_second_objective_s_failure_names_extra_as_the_fix() -> None:
    study = ts.Study(
        ts.Space({"lr": ts.Float(0.01, 0.5, log=True)}), metrics=[ts.Metric("valid-binary_logloss"), ts.Metric("size")],
        scheduler=ts.ASHA(min_resource=1, max_resource=9, eta=3), budget=ts.Budget(trials=3), storage="memory", seed=0,
    )  # fmt: skip

    def objective(trial: Trial) -> dict[str, float]:
        booster = lightgbm_rounds(trial, "valid-binary_logloss", rounds=9)
        return {"valid-binary_logloss": booster.best_score["valid"]["binary_logloss"], "size": 4.0}

    study.optimize(objective, progress=False, fail_fast=None)
    failed = [record for record in study.trials if record.state is TrialState.FAILED]
    assert failed and "the callback's extra= (extra={'size': ...}" in (failed[0].error or ""), failed[0].error


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_an_extra_metric_named_as_the_monitor_is_refused_naming_both(library: str) -> None:
    make = callback_factory(library)
    trial = Trial(0, {}, 0)
    with pytest.raises(ts.ConfigError, match=r"extra= has 'val_loss', which is also monitor='val_loss'.*rename"):
        make(trial, monitor="val_loss", extra={"val_loss": 0.1})
    assert trial.refused is not None, "every trial would build its callback the same way: the run stops"


def test_an_extra_metric_named_as_one_the_library_logs_is_refused_at_the_first_report() -> None:
    trial, reports = recording_trial()
    with pytest.raises(ts.ConfigError, match=r"extra= gives 'valid-error', which XGBoost's evaluations after round 1"):
        xgboost_rounds(trial, "valid-logloss", extra={"valid-error": 0.5}, eval_metric=["logloss", "error"])
    assert reports == {} and trial.refused is not None


def test_an_extra_that_is_neither_a_mapping_nor_a_callable_is_refused_with_the_fix() -> None:
    make = callback_factory("xgboost")
    with pytest.raises(ArgumentError, match=r"must be a mapping .* but got 4.0 \(float\): pass extra=\{'size'"):
        make(Trial(0, {}, 0), "valid-logloss", extra=4.0)


def test_a_callable_extra_that_returns_no_mapping_is_refused_at_the_first_report() -> None:
    trial, reports = recording_trial()
    with pytest.raises(ts.ConfigError, match=r"callable must return a mapping .* returned 4.0 \(float\) at"):
        lightgbm_rounds(trial, "valid-binary_logloss", extra=lambda: 4.0)
    assert reports == {} and trial.refused is not None
