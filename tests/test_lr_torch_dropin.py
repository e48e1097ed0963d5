"""`Schedule.torch(optimizer)` is a drop-in for the PyTorch scheduler it mirrors: rates per param group,
momentum or beta1, the weights it trains, and a checkpoint that resumes from ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")
import torch
from torch.optim import lr_scheduler

from tunesmith.errors import ConfigError
from tunesmith.lr import (
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

STEPS = 300
BASE_LR = 0.05
Optimizer = Callable[[list[dict[str, Any]]], Any]
OPTIMIZERS: dict[str, Optimizer] = {
    "sgd": lambda groups: torch.optim.SGD(groups, lr=BASE_LR, momentum=0.9),
    "adam": lambda groups: torch.optim.Adam(groups, lr=BASE_LR),
}


def tiny_model() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def groups_at(model: torch.nn.Sequential, lrs: tuple[float, float]) -> list[dict[str, Any]]:
    """The first layer at ``lrs[0]``, the last at ``lrs[1]``."""
    return [{"params": model[0].parameters(), "lr": lrs[0]}, {"params": model[2].parameters(), "lr": lrs[1]}]


def train(
    make_optimizer: Optimizer, make_scheduler: Callable[[Any], Any], lrs: tuple[float, float] = (BASE_LR, BASE_LR / 10)
) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """Train the tiny model for ``STEPS`` steps: the lr and momentum (or beta1) of each group before each step,
    and the final weights."""
    model = tiny_model()
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(64, 4, generator=generator)
    targets = torch.sin(inputs.sum(dim=1, keepdim=True))
    optimizer = make_optimizer(groups_at(model, lrs))
    scheduler = make_scheduler(optimizer)
    rates, momenta = [], []
    for _ in range(STEPS):
        rates.append([group["lr"] for group in optimizer.param_groups])
        momenta.append([group.get("momentum", group.get("betas", (None,))[0]) for group in optimizer.param_groups])
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()
        scheduler.step()
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return np.asarray(rates, dtype=float), np.asarray(momenta, dtype=float), weights


def assert_trains_alike(ours: tuple[np.ndarray, np.ndarray, torch.Tensor], reference: Any) -> None:
    np.testing.assert_allclose(ours[0], reference[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours[1], reference[1], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours[2], reference[2], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize(
    ("schedule", "reference"),
    [
        (StepDecay(BASE_LR, step_size=40, gamma=0.5), lambda o: lr_scheduler.StepLR(o, step_size=40, gamma=0.5)),
        (Exponential(BASE_LR, gamma=0.99), lambda o: lr_scheduler.ExponentialLR(o, gamma=0.99)),
        (
            CosineAnnealing(BASE_LR, STEPS, min_lr=1e-3),
            lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-3),
        ),
        (
            CosineWarmRestarts(BASE_LR, cycle_steps=50, cycle_mult=2, min_lr=1e-3),
            lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=50, T_mult=2, eta_min=1e-3),
        ),
    ],
    ids=["step_decay", "exponential", "cosine", "cosine_restarts"],
)
def test_param_groups_at_different_rates_train_as_under_the_torch_scheduler_mirrored(
    schedule: Schedule, reference: Callable[[Any], Any], optimizer: str
) -> None:
    ours = train(OPTIMIZERS[optimizer], schedule.torch)
    assert_trains_alike(ours, train(OPTIMIZERS[optimizer], reference))


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize(
    "schedule",
    [WarmupCosine(BASE_LR, STEPS, warmup=0.1, start_lr=5e-3, min_lr=1e-3), WarmupLinear(BASE_LR, STEPS, warmup=0.2)],
    ids=lambda s: s.kind,
)
def test_warmup_schedules_scale_each_group_as_lambda_lr_does(schedule: Schedule, optimizer: str) -> None:
    factor = lambda step: schedule(step) / BASE_LR  # noqa: E731
    ours = train(OPTIMIZERS[optimizer], schedule.torch)
    assert_trains_alike(ours, train(OPTIMIZERS[optimizer], lambda o: lr_scheduler.LambdaLR(o, factor)))


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize(
    ("schedule", "options", "reference"),
    [
        (OneCycle(0.1, STEPS), {}, lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=STEPS)),
        (
            OneCycle(0.1, STEPS, pct_start=0.25, anneal="linear", three_phase=True),
            {"base_momentum": 0.7, "max_momentum": 0.99},
            lambda o: lr_scheduler.OneCycleLR(
                o,
                0.1,
                total_steps=STEPS,
                pct_start=0.25,
                anneal_strategy="linear",
                three_phase=True,
                base_momentum=0.7,
                max_momentum=0.99,
            ),
        ),
        (
            OneCycle(0.1, STEPS),
            {"cycle_momentum": False},
            lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=STEPS, cycle_momentum=False),
        ),
        (
            Cyclical(0.005, 0.05, step_size_up=40, step_size_down=60, mode="triangular2"),
            {},
            lambda o: lr_scheduler.CyclicLR(o, 0.005, 0.05, step_size_up=40, step_size_down=60, mode="triangular2"),
        ),
        (
            Cyclical(0.005, 0.05, step_size_up=30, mode="exp_range", gamma=0.995),
            {"base_momentum": 0.85, "max_momentum": 0.95},
            lambda o: lr_scheduler.CyclicLR(
                o, 0.005, 0.05, step_size_up=30, mode="exp_range", gamma=0.995, base_momentum=0.85, max_momentum=0.95
            ),
        ),
    ],
    ids=["one_cycle", "one_cycle_three_phase_linear", "one_cycle_no_momentum", "cyclical", "cyclical_exp_range"],
)
def test_one_cycle_and_cyclical_cycle_momentum_or_beta1_as_torch_does(
    schedule: Schedule, options: dict[str, Any], reference: Callable[[Any], Any], optimizer: str
) -> None:
    ours = train(OPTIMIZERS[optimizer], lambda o: schedule.torch(o, **options))
    assert_trains_alike(ours, train(OPTIMIZERS[optimizer], reference))


def test_groups_at_different_rates_none_at_the_schedules_base_rate_are_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=r"one group must start at the schedule's base rate.*got group lrs "
        r"\[0\.02, 0\.002\] and a base rate of 0\.05.*build the optimizer with lr=0\.05",
    ):
        train(OPTIMIZERS["sgd"], StepDecay(BASE_LR, step_size=40).torch, lrs=(0.02, 0.002))


def test_momentum_options_for_a_schedule_without_a_momentum_cycle_are_refused() -> None:
    optimizer = OPTIMIZERS["sgd"](groups_at(tiny_model(), (BASE_LR, BASE_LR)))
    with pytest.raises(
        ConfigError,
        match=r"only OneCycle and Cyclical cycle momentum.*max_momentum=0\.9 for "
        r"StepDecay: drop these options",
    ):
        StepDecay(BASE_LR, step_size=40).torch(optimizer, max_momentum=0.9)


def test_cycling_momentum_with_an_optimizer_that_has_none_is_refused() -> None:
    optimizer = torch.optim.Adagrad(tiny_model().parameters(), lr=0.1)
    with pytest.raises(
        ConfigError,
        match=r"cycle_momentum=True needs an optimizer with momentum or betas, got "
        r"Adagrad: pass cycle_momentum=False",
    ):
        OneCycle(0.1, STEPS).torch(optimizer, cycle_momentum=True)


def checkpoint(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` through ``torch.save`` and back with ``torch.load(weights_only=True)``."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_a_scheduler_state_reads_back_with_torch_load_weights_only() -> None:
    schedule = WarmupCosine(BASE_LR, total_steps=1000, warmup=0.1)
    optimizer = OPTIMIZERS["sgd"](groups_at(tiny_model(), (BASE_LR, BASE_LR)))
    scheduler = schedule.torch(optimizer)
    loaded = checkpoint(scheduler.state_dict())
    assert loaded["schedule"] == schedule.to_json()


def test_a_run_resumed_from_a_weights_only_checkpoint_equals_the_uninterrupted_run() -> None:
    schedule = OneCycle(0.1, STEPS, three_phase=True)
    uninterrupted = train(OPTIMIZERS["adam"], schedule.torch)

    model = tiny_model()
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(64, 4, generator=generator)
    targets = torch.sin(inputs.sum(dim=1, keepdim=True))
    optimizer = OPTIMIZERS["adam"](groups_at(model, (BASE_LR, BASE_LR / 10)))
    scheduler = schedule.torch(optimizer)
    rates, momenta = [], []

    def step() -> None:
        rates.append([group["lr"] for group in optimizer.param_groups])
        momenta.append([group["betas"][0] for group in optimizer.param_groups])
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()
        optimizer.step()
        scheduler.step()

    for _ in range(120):
        step()
    saved = checkpoint(
        {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    )
    model = tiny_model()  # a fresh process: rebuild everything, then load the checkpoint
    optimizer = OPTIMIZERS["adam"](groups_at(model, (BASE_LR, BASE_LR / 10)))
    scheduler = schedule.torch(optimizer)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    for _ in range(STEPS - 120):
        step()

    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert np.array_equal(np.asarray(rates), uninterrupted[0])
    assert np.array_equal(np.asarray(momenta), uninterrupted[1])
    assert torch.equal(weights, uninterrupted[2])


@pytest.mark.parametrize(
    ("schedule", "mirror"),
    [
        (Exponential(0.1, gamma=0.9), lambda optimizer, last: lr_scheduler.ExponentialLR(optimizer, 0.9, last)),
        (OneCycle(0.1, 40), None),
        (CosineAnnealing(0.1, 20, min_lr=0.01), None),
    ],
)
def test_a_scheduler_built_with_the_saved_last_epoch_goes_on_as_the_uninterrupted_run(
    schedule: Schedule, mirror: Callable[[Any, int], Any] | None
) -> None:
    """The resume idiom: the optimizer's state loaded, the scheduler built with the steps taken. The rate ran one
    step ahead (PyTorch's constructor counts a step, which a closed-form schedule read as one more step taken)."""

    def rates(make: Callable[[Any, int], Any]) -> tuple[list[float], list[float]]:
        """The rates at steps 5-9 of an uninterrupted run, and of one resumed from its state after step 5."""
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        scheduler = make(optimizer, -1)
        seen = []
        for step in range(10):
            if step == 5:
                saved, last = copy.deepcopy(optimizer.state_dict()), scheduler.last_epoch
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        again = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
        again.load_state_dict(saved)
        resumed_scheduler = make(again, last)
        resumed = []
        for _ in range(5):
            resumed.append(again.param_groups[0]["lr"])
            again.step()
            resumed_scheduler.step()
        return seen[5:], resumed

    uninterrupted, resumed = rates(lambda optimizer, last: schedule.torch(optimizer, last_epoch=last))
    assert resumed == pytest.approx(uninterrupted, rel=1e-12)
    if mirror is not None:  # and PyTorch's own scheduler resumes the same way
        assert rates(mirror)[1] == pytest.approx(resumed, rel=1e-12)


def test_a_state_saved_for_another_schedule_is_refused() -> None:
    optimizer = OPTIMIZERS["sgd"](groups_at(tiny_model(), (BASE_LR, BASE_LR)))
    saved = checkpoint(WarmupCosine(BASE_LR, total_steps=1000).torch(optimizer).state_dict())
    other = WarmupCosine(BASE_LR, total_steps=2000).torch(optimizer)
    with pytest.raises(
        ConfigError,
        match=r"resumes only the schedule it was saved for, got a state saved for "
        r"\{'kind': 'warmup_cosine', 'peak_lr': 0\.05, 'total_steps': 1000.*Schedule\.from_json",
    ):
        other.load_state_dict(saved)
