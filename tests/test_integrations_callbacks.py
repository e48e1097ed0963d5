"""Training-library callbacks: each reports every epoch or boosting round of a real training run to a
real study, and a trial the scheduler stops ends its training run early while the others run to the end."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

import tunesmith as ts
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.errors import MissingExtra, require
from tunesmith.integrations._callbacks import MetricNotReported
from tunesmith.schedulers import Scheduler
from tunesmith.trial import Trial, TrialKind, TrialRecord, TrialState

# Keras reads its backend once, at its first import: PyTorch's, as no TensorFlow is installed.
os.environ["KERAS_BACKEND"] = "torch"

STOP_AT = 2
# Each library comes with its extra, all of them in the test install (make test); elsewhere they skip.
SKIP_REASON = "the training-library extras are part of the test install (make test)"


class StopEvenTrials(Scheduler):
    """Stops every even-numbered trial once it has reported `STOP_AT` steps; odd ones run to the end."""

    name = "stop_even_trials"
    reads_history = False

    def decide(self, trial: TrialRecord, history: Sequence[TrialRecord], context: SearchContext) -> Decision:
        if trial.number % 2 == 0 and max(trial.intermediate) >= STOP_AT:
            return Decision.STOP
        return Decision.CONTINUE


def run_study(metric: str, objective: Callable[[Trial], dict[str, float]], scheduler: Any = None,
              n_trials: int = 2) -> list[TrialRecord]:  # fmt: skip
    study = ts.Study(
        ts.Space({"lr": ts.Float(0.01, 0.1, log=True)}), metric=metric, sampler="random",
        scheduler=scheduler or StopEvenTrials(), storage="memory", seed=0, divergence_factor=None,
    )  # fmt: skip
    study.optimize(objective, n_trials=n_trials)
    return sorted(study.trials, key=lambda record: record.number)


def assert_stopped_early_and_finished(records: list[TrialRecord], metric: str, planned: int) -> None:
    """Trial 0 was stopped at `STOP_AT` and its run trained no further; trial 1 trained to the end."""
    stopped, finished = records
    assert (stopped.state, stopped.kind) == (TrialState.STOPPED, TrialKind.SCHEDULER)
    assert stopped.metrics["trained"] == STOP_AT < planned  # counted by the library, not the callback
    assert [step for step, _ in stopped.curve(metric)] == list(range(1, STOP_AT + 1))
    assert finished.state is TrialState.COMPLETE
    assert finished.metrics["trained"] == planned
    assert [step for step, _ in finished.curve(metric)] == list(range(1, planned + 1))
    assert all(np.isfinite(value) for _, value in finished.curve(metric))


def digits(n: int = 240) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    x = (x[: 2 * n] / 16.0).astype(np.float32)
    y = y[: 2 * n].astype(np.int64)
    return x[:n], y[:n], x[n:], y[n:]


def breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = x[order], y[order]
    return x[:400], y[:400], x[400:], y[400:]


# Lazy imports ------------------------------------------------------------------------------------

LIBRARIES = {
    "lightning": "lightning.pytorch",
    "keras": "keras",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "transformers": "transformers",
}


@pytest.mark.parametrize("extra", sorted(LIBRARIES))
def test_a_missing_library_names_the_extra_to_install(extra: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, LIBRARIES[extra], None)  # None in sys.modules: the import fails
    monkeypatch.delitem(sys.modules, f"tunesmith.integrations.{extra}", raising=False)
    with pytest.raises(MissingExtra, match=rf"pip install 'tunesmith\[{extra}\]'"):
        importlib.import_module(f"tunesmith.integrations.{extra}")


def test_an_installed_library_that_fails_on_what_it_imports_names_that_not_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Keras 3 without TensorFlow, its default backend: installing tunesmith[keras] again would change nothing.
    (tmp_path / "needs_backend").mkdir()
    (tmp_path / "needs_backend" / "__init__.py").write_text("import backend_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtra) as raised:
        require("needs_backend", "keras", when_broken="set KERAS_BACKEND=torch")
    assert str(raised.value) == ("'needs_backend' is installed, but importing it failed: No module named "
                                 "'backend_not_installed' (a module needs_backend imports): set KERAS_BACKEND=torch")
    assert "pip install" not in str(raised.value)


def test_integrations_are_reached_from_the_package_without_an_import(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("xgboost", reason=SKIP_REASON)
    monkeypatch.delattr(ts.integrations, "xgboost", raising=False)  # as if no test had imported it yet
    monkeypatch.delitem(sys.modules, "tunesmith.integrations.xgboost", raising=False)
    callback = ts.integrations.xgboost.TunesmithCallback(Trial(0, {}, 0), monitor="validation_0-logloss")
    assert callback.monitor == "validation_0-logloss"


# PyTorch Lightning -------------------------------------------------------------------------------


def lightning_fit(trial: Trial, epochs: int, tmp_path: Path, monitor: str = "val_loss",
                  validate: bool = True, min_epochs: int | None = None) -> dict[str, float]:  # fmt: skip
    pytest.importorskip("lightning.pytorch", reason=SKIP_REASON)
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from tunesmith.integrations.lightning import TunesmithCallback

    class Classifier(pl.LightningModule):
        def __init__(self, lr: float) -> None:
            super().__init__()
            self.net = torch.nn.Linear(64, 10)
            self.lr = lr
            self.epochs_started = 0

        def on_train_epoch_start(self) -> None:
            self.epochs_started += 1

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self.net(x), y))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    x, y, xv, yv = digits()
    train = DataLoader(TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=60)
    valid = DataLoader(TensorDataset(torch.from_numpy(xv), torch.from_numpy(yv)), batch_size=240)
    torch.manual_seed(trial.seed % 2**31)
    model = Classifier(trial.params["lr"])
    trainer = pl.Trainer(
        max_epochs=epochs, min_epochs=min_epochs, callbacks=[TunesmithCallback(trial, monitor=monitor)],
        accelerator="cpu",
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(model, train, valid if validate else None)
    return {monitor: float(trainer.callback_metrics[monitor]), "trained": model.epochs_started}


# Lightning warns that a 4-batch loader is small and that the loaders have no worker processes, and
# (2.6 beside torch 2.13) uses a torch pytree class that torch deprecated.
lightning_noise = pytest.mark.filterwarnings(
    r"ignore:The '(train|val)_dataloader' does not have many workers:UserWarning",
    r"ignore:The number of training batches \(\d+\) is smaller:UserWarning",
    r"ignore:`isinstance\(treespec, LeafSpec\)` is deprecated:FutureWarning:lightning.pytorch.utilities._pytree",
)


@lightning_noise
def test_lightning_callback_stops_the_fit_of_a_stopped_trial_and_lets_the_others_finish(tmp_path: Path) -> None:
    records = run_study("val_loss", lambda trial: lightning_fit(trial, 5, tmp_path))
    assert_stopped_early_and_finished(records, "val_loss", planned=5)


@lightning_noise
@pytest.mark.filterwarnings(r"ignore:You defined a `validation_step` but have no `val_dataloader`:UserWarning")
def test_lightning_callback_reports_training_epochs_when_the_fit_does_not_validate(tmp_path: Path) -> None:
    records = run_study("train_loss", lambda trial: lightning_fit(trial, 5, tmp_path, "train_loss", validate=False))
    assert_stopped_early_and_finished(records, "train_loss", planned=5)
    assert "val_loss" not in records[1].intermediate[5]


@lightning_noise
def test_lightning_training_on_past_a_stop_fails_the_trial_naming_min_epochs(tmp_path: Path) -> None:
    """Trainer(min_epochs=5) outranks should_stop: the stopped trial trained all 5 epochs while its record said
    it stopped at epoch 2, with the fifth epoch's value as its result."""
    records = run_study("val_loss", lambda trial: lightning_fit(trial, 5, tmp_path, min_epochs=5))
    stopped = records[0]
    assert stopped.state is TrialState.FAILED and "TrainingWentOn" in (stopped.error or "")
    assert f"after tunesmith asked it to stop at epoch {STOP_AT}" in (stopped.error or "")
    assert "Trainer(min_epochs=5" in (stopped.error or "")
    assert records[1].state is TrialState.COMPLETE, "a trial never stopped trains its min_epochs as planned"


@lightning_noise
def test_lightning_callback_names_a_metric_that_was_not_logged(tmp_path: Path) -> None:
    with pytest.raises(MetricNotReported, match=r"'val_acc' is not in trainer.callback_metrics.*'val_loss'"):
        lightning_fit(Trial(0, {"lr": 0.05}, 0), 2, tmp_path, monitor="val_acc")


# Keras -------------------------------------------------------------------------------------------


def keras_fit(trial: Trial, epochs: int, monitor: str = "val_loss") -> dict[str, float]:
    pytest.importorskip("keras", reason=SKIP_REASON)
    import keras

    from tunesmith.integrations.keras import TunesmithCallback

    assert keras.backend.backend() == "torch"
    keras.utils.set_random_seed(trial.seed % 2**31)
    x, y, xv, yv = digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(trial.params["lr"]), loss="sparse_categorical_crossentropy")
    history = model.fit(
        x, y, validation_data=(xv, yv), epochs=epochs, batch_size=60, verbose=0,
        callbacks=[TunesmithCallback(trial, monitor=monitor)],
    )  # fmt: skip
    return {"val_loss": history.history["val_loss"][-1], "trained": len(history.history["loss"])}


def test_keras_callback_stops_the_fit_of_a_stopped_trial_and_lets_the_others_finish() -> None:
    records = run_study("val_loss", lambda trial: keras_fit(trial, 5))
    assert_stopped_early_and_finished(records, "val_loss", planned=5)


def test_keras_callback_names_a_metric_that_is_not_in_the_logs() -> None:
    with pytest.raises(MetricNotReported, match=r"'val_accuracy' is not in Keras's logs.*'loss', 'val_loss'"):
        keras_fit(Trial(0, {"lr": 0.05}, 0), 2, monitor="val_accuracy")


# XGBoost -----------------------------------------------------------------------------------------

XGB_ROUNDS = 8


def xgboost_fit(trial: Trial, monitor: str = "validation_0-logloss",
                early_stopping_rounds: int | None = None) -> dict[str, float]:  # fmt: skip
    pytest.importorskip("xgboost", reason=SKIP_REASON)
    import xgboost

    from tunesmith.integrations.xgboost import TunesmithCallback

    x, y, xv, yv = breast_cancer()
    model = xgboost.XGBClassifier(
        n_estimators=XGB_ROUNDS, learning_rate=trial.params["lr"] * 5, max_depth=2, n_jobs=1,
        eval_metric="logloss", early_stopping_rounds=early_stopping_rounds,
        callbacks=[TunesmithCallback(trial, monitor=monitor)],
    )  # fmt: skip
    model.fit(x, y, eval_set=[(xv, yv)], verbose=False)
    history = model.evals_result()["validation_0"]["logloss"]
    found = {"validation_0-logloss": history[-1], "trained": model.get_booster().num_boosted_rounds()}
    if early_stopping_rounds is not None:  # the round EarlyStopping kept, and the one it should have
        found |= {"best_iteration": model.best_iteration, "best_trained": int(np.argmin(history))}
    return found


XGB_PARAMS = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 2, "nthread": 1}


def xgboost_boost(trial: Trial, rounds: int = XGB_ROUNDS, model: Any = None, log: dict[str, Any] | None = None) -> Any:
    """The booster ``xgboost.train`` returns after ``rounds`` more rounds (continuing ``model``), its
    evaluations in ``log``."""
    pytest.importorskip("xgboost", reason=SKIP_REASON)
    import xgboost

    from tunesmith.integrations.xgboost import TunesmithCallback

    x, y, xv, yv = breast_cancer()
    return xgboost.train(
        {**XGB_PARAMS, "eta": trial.params["lr"] * 5}, xgboost.DMatrix(x, label=y), rounds,
        evals=[(xgboost.DMatrix(xv, label=yv), "valid")], evals_result=log, verbose_eval=False, xgb_model=model,
        callbacks=[TunesmithCallback(trial, monitor="valid-logloss")],
    )  # fmt: skip


def xgboost_train(trial: Trial) -> dict[str, float]:
    log: dict[str, Any] = {}
    booster = xgboost_boost(trial, log=log)
    return {"valid-logloss": log["valid"]["logloss"][-1], "trained": booster.num_boosted_rounds()}


def xgboost_cv(trial: Trial) -> dict[str, float]:
    pytest.importorskip("xgboost", reason=SKIP_REASON)
    import xgboost

    from tunesmith.integrations.xgboost import TunesmithCallback

    x, y, _, _ = breast_cancer()
    results = xgboost.cv(
        {**XGB_PARAMS, "eta": trial.params["lr"] * 5}, xgboost.DMatrix(x, label=y), XGB_ROUNDS, nfold=3,
        seed=0, as_pandas=False, callbacks=[TunesmithCallback(trial, monitor="test-logloss")],
    )  # fmt: skip
    return {"test-logloss": results["test-logloss-mean"][-1], "trained": len(results["test-logloss-mean"])}


def test_xgboost_callback_stops_the_boosting_of_a_stopped_trial_and_lets_the_others_finish() -> None:
    records = run_study("validation_0-logloss", xgboost_fit)
    assert_stopped_early_and_finished(records, "validation_0-logloss", planned=XGB_ROUNDS)


def test_xgboost_callback_under_asha_stops_only_the_trials_asha_stops() -> None:
    asha = ts.ASHA(min_resource=2, max_resource=XGB_ROUNDS, eta=2)
    records = run_study("validation_0-logloss", xgboost_fit, scheduler=asha, n_trials=6)
    stopped = [r for r in records if r.state is TrialState.STOPPED]
    assert stopped, "ASHA stopped no trial: the test shows nothing"
    for record in records:  # the booster trained exactly the rounds the study heard of
        assert record.metrics["trained"] == record.resource == len(record.curve("validation_0-logloss"))
    assert all(r.resource < XGB_ROUNDS for r in stopped)
    assert all(r.resource == XGB_ROUNDS for r in records if r.state is TrialState.COMPLETE)


def test_xgboost_cv_callback_stops_the_folds_of_a_stopped_trial_and_lets_the_others_finish() -> None:
    # A stop from after_iteration made xgboost.cv cut its results at a best_iteration only EarlyStopping
    # sets: int(None), and every stopped trial FAILED.
    records = run_study("test-logloss", xgboost_cv)
    assert_stopped_early_and_finished(records, "test-logloss", planned=XGB_ROUNDS)


def test_xgboost_callback_stop_leaves_early_stopping_the_last_round_trained() -> None:
    # XGBoost stops calling after_iteration at the first callback that returns True: EarlyStopping, after
    # the tunesmith callback, missed the last round, and best_iteration was a round stale.
    stopped, finished = run_study("validation_0-logloss", lambda trial: xgboost_fit(trial, early_stopping_rounds=3))
    assert stopped.state is TrialState.STOPPED and stopped.metrics["trained"] == STOP_AT
    for record in (stopped, finished):
        assert record.metrics["best_iteration"] == record.metrics["best_trained"]
    assert stopped.metrics["best_iteration"] == STOP_AT - 1, "the last round did not improve: the test shows nothing"


def test_xgboost_callback_counts_the_rounds_of_the_model_training_continues_from() -> None:
    steps: list[int] = []

    def reporter(step: int, values: dict[str, float]) -> Decision:
        steps.append(step)
        return Decision.CONTINUE

    trial = Trial(0, {"lr": 0.05}, 0, reporter=reporter)
    checkpoint = xgboost_boost(trial, rounds=3)
    resumed = xgboost_boost(trial, rounds=2, model=checkpoint)
    assert resumed.num_boosted_rounds() == 5
    assert steps == [1, 2, 3, 4, 5]  # the resumed rounds were reported as 1 and 2 again


def test_xgboost_callback_names_an_evaluation_that_did_not_run() -> None:
    with pytest.raises(MetricNotReported, match=r"'validation_0-auc' is not in .*'validation_0-logloss'"):
        xgboost_fit(Trial(0, {"lr": 0.05}, 0), monitor="validation_0-auc")


# LightGBM ----------------------------------------------------------------------------------------

LGB_ROUNDS = 8


def lightgbm_fit(trial: Trial, monitor: str = "valid-binary_logloss") -> dict[str, float]:
    pytest.importorskip("lightgbm", reason=SKIP_REASON)
    import lightgbm

    from tunesmith.integrations.lightgbm import tunesmith_callback

    x, y, xv, yv = breast_cancer()
    params = {"objective": "binary", "learning_rate": trial.params["lr"] * 5, "num_leaves": 4,
              "verbosity": -1, "num_threads": 1, "seed": trial.seed % 2**31}  # fmt: skip
    train = lightgbm.Dataset(x, y)
    booster = lightgbm.train(
        params, train, num_boost_round=LGB_ROUNDS, valid_sets=[lightgbm.Dataset(xv, yv, reference=train)],
        valid_names=["valid"], callbacks=[tunesmith_callback(trial, monitor=monitor)],
    )  # fmt: skip
    return {"valid-binary_logloss": booster.best_score["valid"]["binary_logloss"],
            "trained": booster.current_iteration()}  # fmt: skip


def test_lightgbm_callback_stops_the_boosting_of_a_stopped_trial_and_lets_the_others_finish() -> None:
    records = run_study("valid-binary_logloss", lightgbm_fit)
    assert_stopped_early_and_finished(records, "valid-binary_logloss", planned=LGB_ROUNDS)


def test_lightgbm_callback_names_an_evaluation_that_did_not_run() -> None:
    with pytest.raises(MetricNotReported, match=r"'valid_0-binary_logloss' is not in .*'valid-binary_logloss'"):
        lightgbm_fit(Trial(0, {"lr": 0.05}, 0), monitor="valid_0-binary_logloss")


# Hugging Face Transformers -----------------------------------------------------------------------


def transformers_train(trial: Trial, epochs: int, tmp_path: Path, monitor: str = "eval_loss",
                       eval_strategy: str = "epoch", test: bool = False) -> dict[str, float]:  # fmt: skip
    pytest.importorskip("transformers", reason=SKIP_REASON)
    import torch
    import transformers

    from tunesmith.integrations.transformers import TunesmithCallback

    transformers.set_seed(trial.seed % 2**31)
    config = transformers.BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2,
    )  # fmt: skip
    model = transformers.BertForSequenceClassification(config)
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(rng.integers(1, 32, size=(96, 8)))
    labels = (tokens < 16).sum(dim=1) > 4  # a sequence of mostly small tokens is class 1
    examples = [{"input_ids": t, "attention_mask": torch.ones(8, dtype=torch.long), "labels": int(lab)}
                for t, lab in zip(tokens, labels, strict=True)]  # fmt: skip
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / f"trial-{trial.number}"), eval_strategy=eval_strategy, num_train_epochs=epochs,
        learning_rate=trial.params["lr"], per_device_train_batch_size=32, per_device_eval_batch_size=32,
        save_strategy="no", logging_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True,
        seed=trial.seed % 2**31,
    )  # fmt: skip
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=examples[:64], eval_dataset=examples[64:],
        callbacks=[TunesmithCallback(trial, monitor=monitor)],
    )  # fmt: skip
    trainer.train()
    found = {"eval_loss": trainer.evaluate()["eval_loss"], "trained": round(trainer.state.epoch)}
    if test:  # the training examples stand in for a test set: an evaluation unlike the validation's
        found["test_loss"] = trainer.evaluate(eval_dataset=examples[:32])["eval_loss"]
    return found


def test_transformers_callback_stops_the_training_of_a_stopped_trial_and_lets_the_others_finish(
    tmp_path: Path,
) -> None:
    records = run_study("eval_loss", lambda trial: transformers_train(trial, 4, tmp_path))
    assert_stopped_early_and_finished(records, "eval_loss", planned=4)


def test_transformers_callback_does_not_report_evaluations_after_training(tmp_path: Path) -> None:
    # trainer.evaluate() after trainer.train(), of the final model or on a test set, was reported at the last
    # epoch and overwrote its value: the record's curve ended on the test set's loss.
    reports: list[tuple[int, float]] = []

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports.append((step, values["eval_loss"]))
        return Decision.CONTINUE

    result = transformers_train(Trial(0, {"lr": 0.05}, 0, reporter=reporter), 2, tmp_path, test=True)
    assert [step for step, _ in reports] == [1, 2]
    assert reports[-1][1] == result["eval_loss"] != result["test_loss"]


def test_transformers_callback_names_a_metric_the_evaluation_did_not_return(tmp_path: Path) -> None:
    with pytest.raises(MetricNotReported, match=r"'eval_accuracy' is not in .*'eval_loss'"):
        transformers_train(Trial(0, {"lr": 0.05}, 0), 2, tmp_path, monitor="eval_accuracy")


def test_transformers_callback_refuses_a_trainer_that_never_evaluates(tmp_path: Path) -> None:
    with pytest.raises(ts.ConfigError, match="eval_strategy='no': pass eval_strategy='epoch'"):
        transformers_train(Trial(0, {"lr": 0.05}, 0), 2, tmp_path, eval_strategy="no")


# A budget that runs out at the last planned step cuts nothing short ----------------------------------


def run_on_a_resource_budget(metric: str, objective: Callable[[Trial], dict[str, float]], resource: int) -> TrialRecord:
    study = ts.Study(
        ts.Space({"lr": ts.Float(0.01, 0.1, log=True)}), metric=metric, sampler="random", storage="memory", seed=0,
        budget=ts.Budget(resource=resource), divergence_factor=None,
    )  # fmt: skip
    study.optimize(objective, n_trials=1)
    (record,) = study.trials
    return record


def test_a_stop_at_the_last_round_the_library_planned_records_the_trial_complete() -> None:
    record = run_on_a_resource_budget("valid-binary_logloss", lightgbm_fit, resource=LGB_ROUNDS)
    assert record.metrics["trained"] == LGB_ROUNDS  # the budget's STOP came at the last round
    assert record.state is TrialState.COMPLETE, record.reason


@pytest.mark.parametrize(
    ("metric", "objective"),
    [("validation_0-logloss", xgboost_fit), ("valid-logloss", xgboost_train), ("test-logloss", xgboost_cv)],
    ids=["scikit-learn API", "xgboost.train", "xgboost.cv"],
)
def test_a_stop_at_the_last_round_xgboost_planned_records_the_trial_complete(
    metric: str, objective: Callable[[Trial], dict[str, float]]
) -> None:
    record = run_on_a_resource_budget(metric, objective, resource=XGB_ROUNDS)
    assert record.metrics["trained"] == XGB_ROUNDS
    assert record.state is TrialState.COMPLETE, record.reason


def test_a_stop_at_the_last_epoch_keras_planned_records_the_trial_complete() -> None:
    record = run_on_a_resource_budget("val_loss", lambda trial: keras_fit(trial, epochs=3), resource=3)
    assert record.metrics["trained"] == 3
    assert record.state is TrialState.COMPLETE, record.reason


def _lightning_reports(monitor: str, every: int, tmp_path: Path) -> dict[int, dict[str, float]]:
    """What the callback reports for a module that logs its epoch as train_loss and epoch + 0.5 as val_loss,
    validating every ``every`` epochs."""
    pytest.importorskip("lightning.pytorch", reason=SKIP_REASON)
    import lightning.pytorch as pl
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from tunesmith.decision import Decision
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

    reports: dict[int, dict[str, float]] = {}

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports[step] = values
        return Decision.CONTINUE

    data = DataLoader(TensorDataset(torch.zeros(8, 2)), batch_size=8)
    trainer = pl.Trainer(
        max_epochs=4, callbacks=[TunesmithCallback(Trial(0, {}, 0, reporter=reporter), monitor=monitor)],
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0, check_val_every_n_epoch=every,
    )  # fmt: skip
    trainer.fit(Logs(), data, data)
    return reports


@lightning_noise
@pytest.mark.filterwarnings(r"ignore:The 'val_dataloader' does not have many workers:UserWarning")
def test_lightning_reports_each_epoch_s_own_training_metrics_beside_its_validation(tmp_path: Path) -> None:
    # Reported at the end of a validation, train_loss was the previous epoch's (and missing at the first).
    reports = _lightning_reports("train_loss", every=1, tmp_path=tmp_path)
    assert reports == {e + 1: {"train_loss": float(e), "val_loss": e + 0.5} for e in range(4)}


@lightning_noise
@pytest.mark.filterwarnings(r"ignore:The 'val_dataloader' does not have many workers:UserWarning")
def test_lightning_leaves_out_validation_metrics_of_an_epoch_that_did_not_validate(tmp_path: Path) -> None:
    # Validating every 2 epochs (epochs 2 and 4): no error for the epochs between, and no stale val_loss.
    reports = _lightning_reports("val_loss", every=2, tmp_path=tmp_path)
    assert reports == {1: {"train_loss": 0.0}, 2: {"train_loss": 1.0, "val_loss": 1.5}, 3: {"train_loss": 2.0},
                       4: {"train_loss": 3.0, "val_loss": 3.5}}  # fmt: skip


def _keras_reports(validation: dict[str, Any], epochs: int = 4) -> dict[int, dict[str, float]]:
    pytest.importorskip("keras", reason=SKIP_REASON)
    import keras

    from tunesmith.decision import Decision
    from tunesmith.integrations.keras import TunesmithCallback

    reports: dict[int, dict[str, float]] = {}

    def reporter(step: int, values: dict[str, float]) -> Decision:
        reports[step] = values
        return Decision.CONTINUE

    x, y, xv, yv = digits()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    callback = TunesmithCallback(Trial(0, {}, 0, reporter=reporter), monitor="val_loss")
    model.fit(x, y, epochs=epochs, batch_size=60, verbose=0, callbacks=[callback],
              **({"validation_data": (xv, yv)} if validation else {}), **validation)  # fmt: skip
    return reports


def test_keras_with_validation_every_other_epoch_reports_val_loss_where_it_exists() -> None:
    # Validating at epochs 2 and 4: the callback failed at epoch 1, telling to pass the validation_data it had.
    reports = _keras_reports({"validation_freq": 2})
    assert sorted(reports) == [1, 2, 3, 4]
    assert [("val_loss" in reports[step]) for step in (1, 2, 3, 4)] == [False, True, False, True]


def test_keras_without_validation_data_names_it() -> None:
    with pytest.raises(MetricNotReported, match=r"'val_loss' was in none of Keras's logs.*pass validation_data="):
        _keras_reports({}, epochs=2)
