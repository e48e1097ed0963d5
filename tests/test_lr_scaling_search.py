"""Batch-size scaling of the learning rate, and schedules as search dimensions of a Space."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.lr import (
    CosineWarmRestarts,
    Cyclical,
    OneCycle,
    WarmupCosine,
    WarmupLinear,
    linear_scaling,
    scale_lr,
    schedule_from_params,
    schedule_params,
    tie_lr_to_batch,
)
from tunesmith.lr.scaling import CHECKED_FACTOR, LargeBatchScalingWarning


def test_linear_rule_doubles_the_rate_when_the_batch_doubles() -> None:
    assert scale_lr(0.1, base_batch=256, batch=512) == pytest.approx(0.2)
    with pytest.warns(LargeBatchScalingWarning):  # Goyal et al.'s k = 32, past the checked 8x
        assert scale_lr(0.1, base_batch=256, batch=8192) == pytest.approx(3.2)
    assert scale_lr(0.1, base_batch=256, batch=64) == pytest.approx(0.025)


def test_square_root_rule_for_adam_scales_by_the_root_of_the_batch_ratio() -> None:
    assert scale_lr(1e-3, base_batch=64, batch=256, rule="sqrt") == pytest.approx(2e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0.1, 256, 0), r"batch must be a finite number > 0, got batch=0"),
        ((-0.1, 256, 512), r"base_lr must be a finite number > 0, got base_lr=-0.1"),
        ((0.1, 256, 512, "cubic"), r"rule must be 'linear' or 'sqrt', got rule='cubic'"),
    ],
)
def test_scale_lr_refuses_invalid_inputs(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scale_lr(*args)  # type: ignore[arg-type]


def test_a_larger_batch_calls_for_five_epochs_of_warmup_from_the_base_rate() -> None:
    with pytest.warns(LargeBatchScalingWarning):  # Goyal et al.'s k = 32, past the checked 8x
        plan = linear_scaling(0.1, base_batch=256, batch=8192)
    assert plan.lr == pytest.approx(3.2) and plan.factor == pytest.approx(32)
    assert plan.warmup_epochs == 5.0 and plan.warmup_steps(steps_per_epoch=100) == 500
    schedule = plan.schedule(total_steps=9000, steps_per_epoch=100)
    assert isinstance(schedule, WarmupCosine) and schedule.warmup_steps == 500
    assert schedule(0) == pytest.approx(0.1)  # gradual warmup starts at the base rate
    assert schedule(250) == pytest.approx(1.65)
    assert schedule(500) == pytest.approx(3.2)
    assert isinstance(plan.schedule(9000, 100, decay="linear"), WarmupLinear)


SCALERS: dict[str, Callable[[int], object]] = {
    "scale_lr": lambda batch: scale_lr(0.1, base_batch=32, batch=batch),
    "linear_scaling": lambda batch: linear_scaling(0.1, base_batch=32, batch=batch),
    "tie_lr_to_batch": lambda batch: tie_lr_to_batch({"lr": 0.1, "batch_size": batch}, base_batch=32),
}


@pytest.mark.parametrize("name", list(SCALERS))
def test_a_batch_grown_past_eight_times_the_base_warns_with_the_range_test_as_the_fix(name: str) -> None:
    # Linear scaling at 32x collapsed an MLP on digits (validation accuracy 0.10-0.36 against 0.92): 128x said nothing.
    scale = SCALERS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scale(32 * int(CHECKED_FACTOR))  # 8x: within the checked range, no warning
    with pytest.warns(LargeBatchScalingWarning) as record:
        scale(4096)
    message = " ".join(str(record[0].message).split())
    assert "validated from batch 256 to 8192 (up to 32x)" in message  # the rule and where it holds
    assert "got batch=4096 over base_batch=32, 128x (lr 0.1 -> 12.8)" in message  # the value received
    assert "re-run the range test at batch 4096 (ts.lr.range_test" in message  # the fix


@pytest.mark.parametrize("name", list(SCALERS))
def test_the_scaling_warning_points_at_the_callers_line(name: str) -> None:
    with pytest.warns(LargeBatchScalingWarning) as record:
        SCALERS[name](4096)
    assert record[0].filename == __file__


@pytest.mark.parametrize(("rule", "source"), [("linear", "Goyal et al., 2017"), ("sqrt", "Malladi et al., 2022")])
def test_linear_scaling_states_the_range_the_rule_was_validated_in(rule: str, source: str) -> None:
    plan = linear_scaling(0.1, base_batch=32, batch=128, rule=rule)  # type: ignore[arg-type]
    assert source in plan.validated and "critical batch size" in plan.validated
    assert plan.batch_factor == 4.0 and not plan.beyond_checked_range
    with pytest.warns(LargeBatchScalingWarning):
        far = linear_scaling(0.1, base_batch=32, batch=1024, rule=rule)  # type: ignore[arg-type]
    assert far.batch_factor == 32.0 and far.beyond_checked_range


def test_a_smaller_batch_needs_no_warmup() -> None:
    plan = linear_scaling(0.1, base_batch=256, batch=128)
    assert plan.warmup_epochs == 0.0 and plan.schedule(1000, 10)(0) == pytest.approx(0.05)


def test_a_warmup_longer_than_the_run_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"warmup of 5 epochs \(500 steps\) must be shorter than the run"):
        linear_scaling(0.1, 256, 1024).schedule(total_steps=400, steps_per_epoch=100)


def test_tie_lr_to_batch_scales_the_searched_rate_to_each_trials_batch() -> None:
    space = ts.Space({"lr": ts.Float(1e-3, 1.0, log=True), "batch_size": ts.Int(32, 1024, base=2)})
    rng = np.random.default_rng(0)
    for _ in range(20):
        params = space.sample(rng)
        tied = tie_lr_to_batch(params, base_batch=256)
        assert tied["batch_size"] == params["batch_size"]
        assert tied["lr"] == pytest.approx(params["lr"] * params["batch_size"] / 256)
    assert tie_lr_to_batch({"lr": 0.1, "bs": 1024}, 256, batch="bs", rule="sqrt")["lr"] == pytest.approx(0.2)
    with pytest.raises(ConfigError, match=r"needs the parameters 'lr' and 'batch_size'.*\['batch_size'\] are missing"):
        tie_lr_to_batch({"lr": 0.1}, base_batch=256)


# Schedules as search dimensions ---------------------------------------------------------------------
def test_schedule_params_make_a_conditional_space_and_every_sample_builds_its_schedule() -> None:
    kinds = ["constant", "cosine", "warmup_cosine", "warmup_linear", "one_cycle", "cyclical", "cyclical_cosine",
             "cosine_restarts"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        space = ts.Space({**schedule_params(1000, kinds=kinds, peak_lr=(1e-4, 1e-1)), "wd": ts.Float(1e-5, 1e-1)})
    assert isinstance(space["schedule"], ts.Choice) and space["peak_lr"].log
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(200):
        params = space.sample(rng)
        assert ("warmup" in params) == (params["schedule"] in ("warmup_cosine", "warmup_linear"))
        assert ("cycle_steps" in params) == (params["schedule"] in ("cyclical", "cyclical_cosine", "cosine_restarts"))
        schedule = schedule_from_params(params, total_steps=1000)
        seen.add(params["schedule"])
        assert schedule.peak == pytest.approx(params["peak_lr"])
        lrs = schedule(np.arange(1000))
        assert np.all(lrs > 0) or schedule.kind in ("cosine", "warmup_cosine", "warmup_linear")
        assert np.max(lrs) <= params["peak_lr"] * (1 + 1e-12)
    assert seen == set(kinds)


def test_a_trial_tunes_warmup_cosine_with_peak_and_warmup_as_one_configuration() -> None:
    params = {"schedule": "warmup_cosine", "peak_lr": 3e-3, "warmup": 0.06, "min_lr_ratio": 0.01}
    schedule = schedule_from_params(params, total_steps=1000)
    assert schedule == WarmupCosine(3e-3, 1000, warmup=0.06, min_lr=3e-5)
    cycle = schedule_from_params({"schedule": "cyclical", "peak_lr": 0.1, "cycle_steps": 200}, total_steps=1000)
    assert cycle == Cyclical(0.01, 0.1, step_size_up=100)
    smooth = schedule_from_params({"schedule": "cyclical_cosine", "peak_lr": 0.1, "cycle_steps": 200}, 1000)
    assert smooth == Cyclical(0.01, 0.1, step_size_up=100, shape="cosine")
    restarts = schedule_from_params({"schedule": "cosine_restarts", "peak_lr": 0.1, "cycle_steps": 90}, 1000)
    assert restarts == CosineWarmRestarts(0.1, 90)


def test_one_kind_is_recorded_as_fixed_and_bounds_from_a_range_test_can_be_used() -> None:
    params = schedule_params(500, kinds=["one_cycle"], peak_lr=ts.Float(1e-3, 0.3, log=True), prefix="head_")
    assert set(params) == {"head_schedule", "head_peak_lr", "head_min_lr_ratio"}
    assert isinstance(params["head_schedule"], ts.Fixed)
    space = ts.Space(params)
    sample = space.sample(np.random.default_rng(0))
    assert schedule_from_params(sample, 500, prefix="head_") == OneCycle(sample["head_peak_lr"], 500)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"kinds": ["warmup_cosine", "sine"]},
            r"kinds must be distinct names among .*got kinds=\['warmup_cosine', 'sine'\]",
        ),
        ({"kinds": "one_cycle"}, "kinds must be a non-empty list"),
        ({"peak_lr": (0.1, 0.01)}, r"peak_lr needs 0 < low < high, got peak_lr=\(0.1, 0.01\)"),
        ({"peak_lr": ts.Float(0.001, 0.1)}, "peak_lr must be searched on a log scale"),
        ({"warmup": (0.0, 1.5)}, r"warmup needs 0 <= low < high < 1"),
        ({"kinds": ["cyclical"], "cycle_steps": (50, 20)}, r"cycle_steps needs 2 <= low < high, got \(50, 20\)"),
        ({"min_lr_ratio": 1.0}, r"min_lr_ratio must be a number in \[0, 1\), got min_lr_ratio=1.0"),
    ],
)
def test_schedule_params_refuse_invalid_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        schedule_params(1000, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("total", "kwargs", "message"),
    [
        (10, {"kinds": ["warmup_cosine"], "warmup": (0.0, 0.99)}, r"offers 'warmup_cosine' at warmup=0.99, which "
                                                                  r"cannot run total_steps=10"),
        (3, {"kinds": ["constant", "one_cycle"]}, r"offers 'one_cycle', which cannot run total_steps=3 .*leave "
                                                  r"'one_cycle' out of kinds"),
    ],
)
def test_a_kind_that_cannot_run_the_steps_at_an_end_of_its_ranges_is_refused_when_the_space_is_built(
    total: int, kwargs: dict[str, object], message: str
) -> None:
    # Accepted, every trial of one_cycle over 3 steps failed, and 5 in 200 of a warmup drawn up to 0.99 of 10 steps.
    with pytest.raises(ConfigError, match=message):
        schedule_params(total, **kwargs)  # type: ignore[arg-type]


def test_building_from_params_missing_a_needed_parameter_names_it() -> None:
    with pytest.raises(ConfigError, match=r"parameter 'warmup' is missing"):
        schedule_from_params({"schedule": "warmup_cosine", "peak_lr": 0.1}, 100)
    with pytest.raises(ConfigError, match=r"schedule='sine' is not a searchable schedule kind"):
        schedule_from_params({"schedule": "sine", "peak_lr": 0.1}, 100)


def test_a_study_tunes_the_schedule_on_a_quadratic() -> None:
    # Minimise f(x) = x^2 / 2 * 40 with 60 SGD steps under the trial's schedule: the stable peak rates win.
    space = ts.Space(schedule_params(60, kinds=["warmup_cosine", "one_cycle"], peak_lr=(1e-3, 0.2)))
    study = ts.Study(space, metric="loss", sampler="random", storage="memory", seed=0, budget=ts.Budget(trials=12))

    def objective(trial: ts.Trial) -> float:
        lrs = schedule_from_params(trial.params, total_steps=60)(np.arange(60))
        x = 1.0
        for lr in lrs:
            x -= lr * 40 * x
        return 20 * x * x if math.isfinite(x) else float("inf")

    result = study.optimize(objective)
    assert result.best is not None and result.best.params["peak_lr"] < 2 / 40
    assert result.best.metrics["loss"] < 1e-6


def test_schedules_need_no_torch_until_torch_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from tunesmith.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    monkeypatch.delitem(sys.modules, "tunesmith.lr.pytorch", raising=False)
    assert OneCycle(0.1, 100)(50) > 0  # the schedules themselves are numpy only
    with pytest.raises(MissingExtra, match=r"pip install 'tunesmith\[torch\]'"):
        OneCycle(0.1, 100).torch(object())
