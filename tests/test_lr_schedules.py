"""Schedules agree with PyTorch's schedulers step by step, and with their closed forms elsewhere."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tunesmith.errors import ConfigError
from tunesmith.lr import (
    SCHEDULES,
    Constant,
    CosineAnnealing,
    CosineWarmRestarts,
    Cyclical,
    Exponential,
    OneCycle,
    Schedule,
    StepDecay,
    WarmupCosine,
    WarmupLinear,
)

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

TOLERANCE = 1e-9


def torch_lrs(make: Callable[[Any], Any], steps: int, lr: float = 0.1) -> np.ndarray:
    """The rate PyTorch's scheduler sets before each of ``steps`` optimiser steps."""
    param = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([param], lr=lr, momentum=0.9)
    scheduler = make(optimizer)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.asarray(out, dtype=float)


def max_deviation(schedule: Schedule, reference: np.ndarray) -> float:
    ours = schedule(np.arange(len(reference)))
    return float(np.max(np.abs(ours - reference)))


ONE_CYCLE_CASES = [
    {"max_lr": 0.1, "total_steps": 1000},
    {"max_lr": 0.1, "total_steps": 1000, "anneal": "linear"},
    {"max_lr": 0.1, "total_steps": 1000, "three_phase": True},
    {"max_lr": 0.1, "total_steps": 1000, "three_phase": True, "anneal": "linear"},
    {"max_lr": 2.5, "total_steps": 997, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0},
    {"max_lr": 0.03, "total_steps": 333, "pct_start": 0.45, "three_phase": True, "anneal": "linear"},
]


@pytest.mark.parametrize("case", ONE_CYCLE_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_one_cycle_matches_torch_one_cycle_lr_at_every_step(case: dict[str, Any]) -> None:
    schedule = OneCycle(**case)
    reference = torch_lrs(
        lambda opt: lr_scheduler.OneCycleLR(
            opt,
            max_lr=case["max_lr"],
            total_steps=case["total_steps"],
            pct_start=case.get("pct_start", 0.3),
            anneal_strategy=case.get("anneal", "cos"),
            div_factor=case.get("div_factor", 25.0),
            final_div_factor=case.get("final_div_factor", 1e4),
            three_phase=case.get("three_phase", False),
            cycle_momentum=False,
        ),
        case["total_steps"],
    )
    assert max_deviation(schedule, reference) < TOLERANCE


def test_one_cycle_defaults_are_the_ones_users_know() -> None:
    schedule = OneCycle(max_lr=0.1, total_steps=1000)
    assert (schedule.pct_start, schedule.div_factor, schedule.final_div_factor) == (0.3, 25.0, 1e4)
    assert schedule(0) == pytest.approx(0.1 / 25)
    assert schedule(299) == pytest.approx(0.1)
    assert schedule(999) == pytest.approx(0.1 / 25 / 1e4)
    assert schedule(5000) == schedule(999)  # holds the final value past the end


CYCLIC_CASES = [
    {"mode": "triangular"},
    {"mode": "triangular", "step_size_down": 30},
    {"mode": "triangular2"},
    {"mode": "triangular2", "step_size_down": 80},
    {"mode": "exp_range", "gamma": 0.995},
    {"mode": "exp_range", "gamma": 0.999, "step_size_down": 20},
]


@pytest.mark.parametrize("case", CYCLIC_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_cyclical_matches_torch_cyclic_lr_at_every_step(case: dict[str, Any]) -> None:
    schedule = Cyclical(1e-3, 0.1, step_size_up=50, **case)
    reference = torch_lrs(
        lambda opt: lr_scheduler.CyclicLR(
            opt,
            base_lr=1e-3,
            max_lr=0.1,
            step_size_up=50,
            step_size_down=case.get("step_size_down"),
            mode=case["mode"],
            gamma=case.get("gamma", 1.0),
            cycle_momentum=False,
        ),
        1500,
    )
    assert max_deviation(schedule, reference) < TOLERANCE


@pytest.mark.parametrize("case", CYCLIC_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_a_cosine_cycle_swings_along_half_cosines_between_the_triangles_bounds(case: dict[str, Any]) -> None:
    steps = np.arange(1500)
    triangle = Cyclical(1e-3, 0.1, step_size_up=50, **case)
    cosine = Cyclical(1e-3, 0.1, step_size_up=50, shape="cosine", **case)
    # Where the triangle has climbed a share s of its current height, the cosine has climbed (1 - cos(pi s)) / 2.
    down = case.get("step_size_down") or 50
    into = steps % (50 + down)
    share = np.where(into <= 50, into / 50, 1.0 - (into - 50) / down)
    height = (triangle(steps) - 1e-3) / np.where(share > 0, share, 1.0)
    expected = 1e-3 + height * (1.0 - np.cos(np.pi * share)) / 2.0
    assert float(np.max(np.abs(cosine(steps) - expected))) < TOLERANCE
    assert cosine(0) == pytest.approx(1e-3) and cosine(50) == pytest.approx(triangle(50))
    assert cosine(25) == pytest.approx(triangle(25))  # halfway up: where the line is
    assert cosine(5) < triangle(5) and cosine(45) > triangle(45)  # lingers near each bound
    assert cosine.peak == triangle.peak


@pytest.mark.parametrize(("total", "floor"), [(500, 0.0), (500, 1e-4), (37, 0.01)])
def test_cosine_annealing_matches_torch_cosine_annealing_lr_over_the_whole_run(total: int, floor: float) -> None:
    reference = torch_lrs(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=floor), total + 1)
    assert max_deviation(CosineAnnealing(0.1, total, min_lr=floor), reference) < TOLERANCE


@pytest.mark.parametrize(("cycle", "mult"), [(50, 1), (50, 2), (7, 3), (1, 2)])
def test_cosine_warm_restarts_matches_torch_at_every_step(cycle: int, mult: int) -> None:
    reference = torch_lrs(
        lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=cycle, T_mult=mult, eta_min=1e-3), 1500
    )
    assert max_deviation(CosineWarmRestarts(0.1, cycle, cycle_mult=mult, min_lr=1e-3), reference) < TOLERANCE


def test_step_decay_and_exponential_match_torch_step_lr_and_exponential_lr() -> None:
    steps = torch_lrs(lambda opt: lr_scheduler.StepLR(opt, step_size=30, gamma=0.5), 400)
    exponential = torch_lrs(lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.99), 400)
    assert max_deviation(StepDecay(0.1, 30, gamma=0.5), steps) < TOLERANCE
    assert max_deviation(Exponential(0.1, 0.99), exponential) < TOLERANCE


def test_warmup_linear_without_warmup_matches_torch_linear_lr() -> None:
    reference = torch_lrs(lambda opt: lr_scheduler.LinearLR(opt, 1.0, 0.01, total_iters=300), 400)
    assert max_deviation(WarmupLinear(0.1, 300, warmup=0.0, min_lr=0.001), reference) < TOLERANCE


def test_warmup_cosine_without_warmup_matches_torch_cosine_annealing_lr() -> None:
    reference = torch_lrs(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=300, eta_min=0.002), 301)
    assert max_deviation(WarmupCosine(0.1, 300, warmup=0.0, min_lr=0.002), reference) < TOLERANCE


def test_warmup_cosine_closed_form_at_landmark_steps() -> None:
    schedule = WarmupCosine(1.0, total_steps=100, warmup=0.1, min_lr=0.1)
    assert schedule.warmup_steps == 10
    assert schedule(0) == 0.0
    assert schedule(5) == pytest.approx(0.5)  # halfway up the linear ramp
    assert schedule(10) == pytest.approx(1.0)  # the peak, where warmup ends
    assert schedule(55) == pytest.approx(0.55)  # halfway down: cos(pi/2) = 0 -> (peak + floor) / 2
    assert schedule(100) == pytest.approx(0.1)
    assert schedule(250) == pytest.approx(0.1)
    lrs = schedule(np.arange(101))
    assert np.all(np.diff(lrs[:11]) > 0) and np.all(np.diff(lrs[10:]) < 0)


def test_warmup_linear_closed_form_with_a_start_rate() -> None:
    schedule = WarmupLinear(1.0, total_steps=200, warmup=0.25, start_lr=0.2)
    assert schedule(0) == pytest.approx(0.2)
    assert schedule(25) == pytest.approx(0.6)
    assert schedule(50) == pytest.approx(1.0)
    assert schedule(125) == pytest.approx(0.5)
    assert schedule(200) == 0.0


def test_warmup_ramp_matches_torch_linear_lr_warmup() -> None:
    # LinearLR(start_factor=s, end_factor=1, total_iters=W) is PyTorch's own linear warmup.
    reference = torch_lrs(lambda opt: lr_scheduler.LinearLR(opt, 0.1, 1.0, total_iters=50), 51, lr=0.4)
    ours = WarmupCosine(0.4, 500, warmup=0.1, start_lr=0.04)(np.arange(51))
    assert float(np.max(np.abs(ours - reference))) < TOLERANCE


def test_a_scalar_step_gives_a_float_and_an_array_gives_an_array_of_the_same_shape() -> None:
    schedule = OneCycle(0.1, 100)
    grid = np.arange(12).reshape(3, 4)
    out = schedule(grid)
    assert isinstance(schedule(7), float) and isinstance(schedule(np.int64(7)), float)
    assert out.shape == (3, 4) and out[1, 3] == schedule(7)
    assert schedule([0, 1]).tolist() == [schedule(0), schedule(1)]


@pytest.mark.parametrize("bad", [-1, float("nan"), [0, -3]])
def test_a_negative_or_non_finite_step_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigError, match="steps count from 0"):
        Constant(0.1)(bad)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: OneCycle(0.1, 1000, pct_start=1.5), r"pct_start must be a number in \[0, 1\), got pct_start=1.5"),
        (lambda: OneCycle(0.1, 1000, pct_start=0.6, three_phase=True), "every phase needs at least one step"),
        (lambda: OneCycle(0.1, 1000, anneal="cosine"), "anneal must be 'cos' or 'linear'"),  # type: ignore[arg-type]
        (lambda: Cyclical(0.1, 0.01), r"base_lr <= max_lr must hold, got base_lr=0.1, max_lr=0.01"),
        (lambda: Cyclical(0.01, 0.1, mode="sine"), "mode must be"),  # type: ignore[arg-type]
        (lambda: Cyclical(0.01, 0.1, shape="sine"), "shape must be 'triangle' or 'cosine'"),  # type: ignore[arg-type]
        (lambda: WarmupCosine(0.1, 100, warmup=1.0), r"warmup must be a number in \[0, 1\).*a fraction of the run"),
        (lambda: WarmupCosine(-0.1, 100), r"peak_lr must be a finite number > 0, got peak_lr=-0.1"),
        (lambda: CosineAnnealing(0.1, 0), r"total_steps must be a positive integer, got total_steps=0"),
        (lambda: CosineWarmRestarts(0.1, 10, cycle_mult=1.5), "cycle_mult must be a positive integer"),  # type: ignore[arg-type]
        (lambda: StepDecay(0.1, 10, gamma=0.0), r"gamma must be a finite number > 0"),
    ],
)
def test_invalid_arguments_raise_a_config_error_naming_the_rule_and_value(
    make: Callable[[], Schedule], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


@pytest.mark.parametrize(
    "schedule",
    [
        Constant(0.1),
        StepDecay(0.1, 30),
        Exponential(0.1, 0.99),
        CosineAnnealing(0.1, 100, min_lr=1e-3),
        WarmupCosine(0.1, 100, warmup=0.05),
        WarmupLinear(0.1, 100, warmup=0.1, start_lr=0.01),
        Cyclical(0.01, 0.1, 20, mode="exp_range", gamma=0.99),
        Cyclical(0.01, 0.1, 20, mode="triangular2", shape="cosine"),
        CosineWarmRestarts(0.1, 10, cycle_mult=2),
        OneCycle(0.1, 100, three_phase=True),
    ],
    ids=lambda s: s.kind,
)
def test_every_schedule_round_trips_through_json_and_drives_torch_through_its_adapter(schedule: Schedule) -> None:
    restored = Schedule.from_json(schedule.to_json())
    assert restored == schedule and set(SCHEDULES) >= {schedule.kind}
    reference = schedule(np.arange(150))
    adapted = torch_lrs(schedule.torch, 150)
    assert float(np.max(np.abs(adapted - reference))) < TOLERANCE
    assert schedule.peak == pytest.approx(float(np.max(reference)))


def test_the_adapter_sets_every_param_group_and_resumes_from_its_state_dict() -> None:
    first, second = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1)
    schedule = OneCycle(0.01, 100)
    scheduler = schedule.torch(optimizer)
    for _ in range(40):
        optimizer.step()
        scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == [schedule(40), schedule(40)]
    saved = scheduler.state_dict()

    resumed_optimizer = torch.optim.Adam([{"params": [first]}, {"params": [second], "lr": 0.5}], lr=0.1)
    resumed = schedule.torch(resumed_optimizer)
    resumed.load_state_dict(saved)
    resumed_optimizer.step()
    resumed.step()
    assert resumed_optimizer.param_groups[0]["lr"] == pytest.approx(schedule(41), abs=1e-15)


def test_the_adapter_refuses_what_is_not_a_schedule() -> None:
    from tunesmith.lr.pytorch import ScheduleLR

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ConfigError, match=r"needs a tunesmith\.lr schedule, got function"):
        ScheduleLR(optimizer, lambda step: 0.1)  # type: ignore[arg-type]


def test_cosine_restart_cycles_grow_by_the_multiplier() -> None:
    schedule = CosineWarmRestarts(1.0, cycle_steps=10, cycle_mult=2)
    restarts = [t for t in range(1, 80) if schedule(t) == 1.0]
    assert restarts == [10, 30, 70]
    assert math.isclose(schedule(20), 0.5)  # halfway through the 20-step second cycle
