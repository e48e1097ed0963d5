"""The worked example runs end to end (reduced size) and its config drives ``tunesmith lr-find``."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.study import ShortTrainingWarning

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lr_digits_torch_example", EXAMPLES / "lr_digits_torch.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_goes_from_range_test_to_a_tuned_schedule_and_a_verdict_on_the_holdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import torch

    example = load_example()
    threads = torch.get_num_threads()
    try:
        outcome = example.main(["--quick"])
    finally:
        torch.set_num_threads(threads)  # the example pins one thread; leave the session as it was
    low, high = outcome["bounds"]
    assert low < outcome["suggested_lr"] < high
    assert low <= outcome["best"]["peak_lr"] <= high
    assert outcome["best"]["schedule"] == "warmup_cosine"
    assert outcome["holdout"]["holdout_accuracy"] > 0.85  # digits is easy: a broken pipeline scores ~0.1
    assert outcome["holdout"]["stderr:holdout_accuracy"] > 0  # per-example results: the verdict knows the noise
    assert outcome["verdict"].check("holdout gap").checked
    assert outcome["elapsed"] < 60
    printed = capsys.readouterr().out
    assert "range test:" in printed and outcome["verdict"].summary() in printed


def test_the_default_study_is_sized_to_train_enough_configurations_fully() -> None:
    """The library forecasts at the start of `optimize` how many configurations the budget trains to the end
    under ASHA, and warns when fewer than can tell a winner from noise: the example's defaults must not draw it."""
    import torch

    example = load_example()
    args = example.parse_args([])
    space = example.make_space(ts.Float(0.01, 0.5, log=True), args.epochs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one trial of the tiny model: threads cost more than they give
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ShortTrainingWarning)
            example.make_study(space, args).optimize(example.make_objective(args.epochs), n_trials=1)
    finally:
        torch.set_num_threads(threads)


def test_the_example_config_supports_lr_find(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        result = CliRunner().invoke(cli, ["lr-find", str(EXAMPLES / "lr_digits.toml"), "--json", "--num-steps", "60"])
    finally:
        sys.modules.pop("lr_digits_torch", None)  # imported from examples/ by the config
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["param"] == "peak_lr" and data["stop_reason"] == "diverged"
    assert 1e-3 < data["suggestions"]["suggested"] < 1.0


def test_the_example_probe_builds_its_model_and_batches_from_the_seed_it_is_handed() -> None:
    """``lr-find --seed N`` reaches the probe as params["seed"]; a probe that fixed its own seed ignored it."""

    def losses(seed: int) -> list[float]:
        step = load_example().lr_probe({"weight_decay": 0.0, "seed": seed})
        return [step(0.01) for _ in range(3)]

    assert losses(1) == losses(1)
    assert losses(1) != losses(2)
