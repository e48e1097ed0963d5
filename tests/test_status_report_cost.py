"""What `tunesmith status` and `tunesmith report` fit: no random forest twice within one call.

Within one importance, two forests were the first trees of another forest fitted on the same inputs, seed and
bootstrap size (scikit-learn draws each tree's seed, and so its bootstrap, in turn): the permutation test's forest on
the trials (the importance forest's first 16 trees) and, for each parameter the advice checks for little effect, the
planted test's forest without it (the first 16 trees of `ImportanceResult.dropped`'s refit without it). Each is now
fitted once, as the first trees of the larger forest, which grows on from it. Fits are counted through a spy on
scikit-learn's own ``fit``, which still fits every forest.
"""

from __future__ import annotations

import hashlib
import importlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.ensemble import RandomForestRegressor

import tunesmith as ts
from tunesmith.analysis import importance
from tunesmith.cli import cli
from tunesmith.trial import Trial, TrialRecord, TrialState

# The module, not the function `tunesmith.analysis` exports under its name.
importance_module = importlib.import_module("tunesmith.analysis.importance")

SPACE = ts.Space(
    {
        "lr": ts.Float(1e-5, 1e-1, log=True),
        "batch_size": ts.Int(32, 4096, base=2),
        "weight_decay": ts.Float(1e-5, 1e-1, log=True),
        "dropout": ts.Float(0.0, 0.5),
        "optimizer": ts.Choice(["adam", "sgd"]),
        "momentum": ts.Float(0.8, 0.99, when={"optimizer": "sgd"}),
    }
)


def _objective(trial: Trial) -> dict[str, float]:
    """lr's bowl (high rates diverge), tiny weight decay overfits late, the other parameters do next to nothing."""
    lr, wd = trial.params["lr"], trial.params["weight_decay"]
    rng = np.random.default_rng(trial.seed)
    floor = 0.1 + 0.15 * (math.log10(lr) + 2.5) ** 2
    loss = 2.3
    for step in trial.steps(12):
        if lr > 0.04:
            loss = loss * 1.8 if step < 5 else math.nan
        else:
            loss = floor + (loss - floor) * (1 - 0.5 * min(1.0, lr * 300)) + 0.01 * rng.normal()
            loss += 0.03 * max(0, step - 6) if wd < 1e-4 else 0.0
        trial.report(val_loss=loss)
    return {"val_loss": loss}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A stored study of 80 trials whose status and report run importance, its permutation test, the failure
    signatures and the little-effect advice (planted test included): its storage URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cost') / 'cost.db'}"
    study = ts.Study(SPACE, metric=ts.Metric("val_loss", "min"), sampler="random", budget=ts.Budget(trials=80),
                     storage=url, name="cost", seed=3)  # fmt: skip
    study.optimize(_objective)
    return url


def _digest(array: Any) -> str:
    return hashlib.sha1(np.ascontiguousarray(array, dtype=float).tobytes()).hexdigest()


@pytest.fixture
def fitted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[object, ...]]]:
    """Every forest fitted from its first tree on (one grown on with ``warm_start`` counts once): what makes it, its
    inputs, seed and bootstrap size; a forest fitted again on the same ones holds the first trees of the other."""
    made: list[tuple[object, ...]] = []
    fit = RandomForestRegressor.fit

    def counted(self: Any, x: Any, y: Any, sample_weight: Any = None) -> Any:
        if not (self.warm_start and getattr(self, "estimators_", None)):
            made.append((_digest(x), _digest(y), self.random_state, self.max_samples, self.min_samples_leaf))
        return fit(self, x, y, sample_weight)

    monkeypatch.setattr(RandomForestRegressor, "fit", counted)
    yield made


def _fitted_twice(made: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return [key for key in dict.fromkeys(made) if made.count(key) > 1]


def test_status_fits_each_random_forest_once(stored: str, fitted: list[tuple[object, ...]]) -> None:
    result = CliRunner().invoke(cli, ["status", "cost", "--storage", stored], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps the advice wherever its width falls
    assert "have little effect" in said or "has little effect" in said  # the planted test ran
    assert fitted, "status fitted no forest: nothing was counted"
    assert _fitted_twice(fitted) == [], f"{len(fitted)} forests fitted, of {len(set(fitted))} distinct inputs"


def test_report_fits_each_random_forest_once(stored: str, fitted: list[tuple[object, ...]], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "cost", "--storage", stored, "-o", str(page)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert page.stat().st_size > 0
    assert fitted, "report fitted no forest: nothing was counted"
    assert _fitted_twice(fitted) == [], f"{len(fitted)} forests fitted, of {len(set(fitted))} distinct inputs"


def _records(trials: int) -> list[TrialRecord]:
    rng = np.random.default_rng(0)
    out = []
    for number in range(trials):
        params = SPACE.sample(rng)
        loss = (math.log10(params["lr"]) + 3) ** 2 + 0.3 * params["dropout"] + 0.05 * float(rng.normal())
        out.append(TrialRecord(number, params, number, TrialState.COMPLETE, {"loss": loss}))
    return out


def test_the_forest_a_refit_hands_the_planted_test_reads_as_one_fitted_on_its_own() -> None:
    """Its trees, out-of-bag prediction and predictions are those of the planted test's forest fitted apart."""
    result = importance(_records(120), SPACE, "loss")
    fit = result._fit
    assert fit is not None
    result.dropped("batch_size")
    handed = fit.heads["batch_size"]
    kept = [k for k, name in enumerate(fit.names) if name != "batch_size"]
    apart = importance_module._fit_forest(fit.test.x[:, kept], fit.test.y, importance_module._TEST_TREES, fit.seed,
                                          max_samples=importance_module._TEST_SAMPLES)  # fmt: skip
    points = np.random.default_rng(1).random((256, len(kept)))
    assert len(handed.estimators_) == len(apart.estimators_) == importance_module._TEST_TREES
    assert np.array_equal(handed.oob_prediction_, apart.oob_prediction_)
    assert np.array_equal(handed.predict(points), apart.predict(points))
