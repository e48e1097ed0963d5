"""PyTorch glue for the learning-rate toolkit: a scheduler adapter and the range test on a model.

Importing this module needs the ``torch`` extra (``pip install 'tunesmith[torch]'``); the rest of
`tunesmith.lr` does not.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Generator, Iterable
from typing import Any

from tunesmith._validate import real
from tunesmith.errors import ConfigError, require

require("torch", "torch")  # raises MissingExtra naming the extra when torch is absent

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

from tunesmith.lr._schedule_base import _cosine, _linear  # noqa: E402
from tunesmith.lr.range_test import RangeTestResult, range_test  # noqa: E402
from tunesmith.lr.schedules import CosineAnnealing, CosineWarmRestarts, Cyclical, OneCycle, Schedule  # noqa: E402

__all__ = ["ScheduleLR", "range_test_torch"]


# PyTorch's defaults (base_momentum, max_momentum) for the schedulers that cycle momentum.
_MOMENTUM_DEFAULTS: dict[type[Schedule], tuple[float, float]] = {OneCycle: (0.85, 0.95), Cyclical: (0.8, 0.9)}

# Schedules whose min_lr stays absolute for every param group, as CosineAnnealingLR's eta_min does.
_FLOORED = (CosineAnnealing, CosineWarmRestarts)

# A group's lr counts as the schedule's base rate within this relative tolerance (an lr written as 3e-4 * 2).
_SAME_RATE = 1e-9


class ScheduleLR(LRScheduler):
    """A PyTorch LR scheduler driven by a tunesmith `Schedule`, a drop-in for the PyTorch scheduler it mirrors.

    After ``n`` calls of ``step()`` the param groups' ``lr`` follow ``schedule(n)``; at construction it is
    ``schedule(0)``, exactly as PyTorch's own schedulers behave. With several param groups:

    - `OneCycle` and `Cyclical` set every group to ``schedule(n)``, as ``OneCycleLR`` and ``CyclicLR`` do
      with a single ``max_lr``;
    - groups that all start at one lr each follow ``schedule(n)``;
    - otherwise one group must start at the schedule's base rate (its `peak`, or its rate at step 0 when
      that is unbounded): it follows ``schedule(n)`` and every other group keeps its ratio to it, as
      ``StepLR``, ``ExponentialLR`` and ``LambdaLR`` scale each group's own lr; `CosineAnnealing` and
      `CosineWarmRestarts` keep ``min_lr`` absolute, as ``eta_min`` is in ``CosineAnnealingLR``.

    `OneCycle` and `Cyclical` also cycle the momentum (Adam's ``beta1`` when the optimizer has ``betas``)
    inversely to the rate, between ``base_momentum`` and ``max_momentum``, as PyTorch does by default.

    ``state_dict()`` holds plain data (the schedule as its `Schedule.to_json`), so a checkpoint reads back
    with ``torch.load(weights_only=True)``; a state saved for another schedule is refused.

    Args:
        optimizer: the optimizer whose param groups to drive.
        schedule: the tunesmith schedule to follow.
        last_epoch: ``-1`` starts a run; a resumed run passes the steps it took (the saved scheduler's
            ``last_epoch``, its optimizer's state loaded first, as PyTorch asks): the rate is then the schedule's
            at that step, and each `step` goes on as the uninterrupted run did. (PyTorch's constructor counts one
            step more; a closed-form schedule set from that count ran a step ahead. `load_state_dict` resumes
            alike.)
        cycle_momentum: cycle momentum / ``beta1`` (`OneCycle` and `Cyclical` only). Default: when the
            optimizer has either (PyTorch's default is ``True`` and refuses an optimizer with neither).
        base_momentum, max_momentum: the bounds of that cycle; default PyTorch's, 0.85 and 0.95 for
            `OneCycle` (``OneCycleLR``), 0.8 and 0.9 for `Cyclical` (``CyclicLR``).

    Raises:
        ConfigError: ``schedule`` is not a tunesmith schedule; momentum options for a schedule that
            does not cycle momentum, or out of ``0 <= base_momentum <= max_momentum < 1``;
            ``cycle_momentum=True`` with an optimizer that has neither momentum nor betas; param groups
            at different rates, none of them at the schedule's base rate.

    Example:
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # doctest: +SKIP
        >>> sched = ts.lr.OneCycle(0.1, total_steps=1000).torch(opt)        # doctest: +SKIP
        >>> for batch in loader:                                             # doctest: +SKIP
        ...     train_step(batch); opt.step(); sched.step()
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule,
        last_epoch: int = -1,
        *,
        cycle_momentum: bool | None = None,
        base_momentum: float | None = None,
        max_momentum: float | None = None,
    ) -> None:
        if not isinstance(schedule, Schedule):
            raise ConfigError(
                f"ScheduleLR needs a tunesmith.lr schedule, got {type(schedule).__name__}: "
                "pass e.g. ts.lr.WarmupCosine(3e-3, total_steps=1000)"
            )
        # Set before super().__init__, which takes the first step. Every attribute but the optimizer lands in
        # state_dict(), so each one is plain data that torch.load(weights_only=True) reads back.
        self.schedule = schedule
        self.cycle_momentum, self.base_momentum, self.max_momentum = _momentum_cycle(
            schedule, optimizer, cycle_momentum, base_momentum, max_momentum
        )
        defaults = getattr(optimizer, "defaults", {})
        self.momentum_key = "betas" if "betas" in defaults else "momentum"  # PyTorch's choice, beta1 first
        # PyTorch's constructor takes one step (`last_epoch + 1`), keeping a resumed optimizer's loaded rate where
        # its schedulers chain from it; this one computes the rate at the step it counts, so it starts one short.
        super().__init__(optimizer, last_epoch - 1 if last_epoch > 0 else last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        """The rate of every param group at the current step (``last_epoch``); also sets the momentum."""
        step = max(self.last_epoch, 0)
        if self.cycle_momentum:
            momentum = _cycled_momentum(self.schedule, step, self.base_momentum, self.max_momentum)
            for group in self.optimizer.param_groups:
                if self.momentum_key == "betas":
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return list(self._group_rates(step))

    def _get_closed_form_lr(self) -> list[float | torch.Tensor]:
        return self.get_lr()

    def _group_rates(self, step: int) -> list[float]:
        rate = self.schedule(step)
        initial = [float(lr) for lr in self.base_lrs]
        if isinstance(self.schedule, OneCycle | Cyclical) or len(set(initial)) == 1:
            return [rate] * len(initial)
        base = _base_rate(self.schedule)
        if not any(math.isclose(lr, base, rel_tol=_SAME_RATE) for lr in initial):
            raise ConfigError(
                "ScheduleLR: with param groups at different learning rates, one group must start at the "
                f"schedule's base rate, which it follows while the others keep their ratio to it; got group "
                f"lrs {initial} and a base rate of {base!r} for {self.schedule!r}: build the optimizer with "
                f"lr={base!r} for the group the schedule describes, or give every group the same lr"
            )
        return [self._group_rate(step, rate, base, lr) for lr in initial]

    def _group_rate(self, step: int, rate: float, base: float, initial: float) -> float:
        if math.isclose(initial, base, rel_tol=_SAME_RATE):
            return rate
        if isinstance(self.schedule, _FLOORED):
            # PyTorch's min_lr + (group lr - min_lr) * the cosine factor, read off the same schedule from 1 to 0.
            factor = dataclasses.replace(self.schedule, lr=1.0, min_lr=0.0)(step)
            return self.schedule.min_lr + (initial - self.schedule.min_lr) * factor
        return initial * (rate / base)  # LambdaLR's group lr * factor

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state as plain data: ``torch.load(weights_only=True)`` reads it back."""
        state = super().state_dict()
        state["schedule"] = self.schedule.to_json()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from a `state_dict` saved for the same schedule.

        Raises:
            ConfigError: the state was saved for another schedule, or not by a `ScheduleLR`.
        """
        saved = state_dict.get("schedule")
        if isinstance(saved, Schedule):  # written before states held plain data (load with weights_only=False)
            saved = saved.to_json()
        if not isinstance(saved, dict):
            raise ConfigError(
                f"ScheduleLR: a state to resume must name its schedule, got a state with keys {sorted(state_dict)}: "
                "load a state written by ScheduleLR.state_dict()"
            )
        if not _same_schedule(saved, self.schedule):
            raise ConfigError(
                "ScheduleLR: a state resumes only the schedule it was saved for, got a state saved for "
                f"{saved!r} while this scheduler follows {self.schedule.to_json()!r}: build the scheduler "
                "from the saved one, ts.lr.Schedule.from_json(state['schedule']).torch(optimizer)"
            )
        super().load_state_dict({key: value for key, value in state_dict.items() if key != "schedule"})


def _same_schedule(saved: dict[str, Any], schedule: Schedule) -> bool:
    try:
        return Schedule.from_json(saved) == schedule
    except ConfigError:  # not a schedule at all: certainly not this one
        return False


def _base_rate(schedule: Schedule) -> float:
    """The rate a param group starts at to follow ``schedule`` itself: its peak, or its step-0 rate if unbounded."""
    return schedule.peak if math.isfinite(schedule.peak) else schedule(0)


def _momentum_cycle(
    schedule: Schedule,
    optimizer: Any,
    cycle: bool | None,
    base: float | None,
    top: float | None,
) -> tuple[bool, float | None, float | None]:
    """``(cycle_momentum, base_momentum, max_momentum)`` checked, with PyTorch's defaults filled in."""
    defaults = next((bounds for kind, bounds in _MOMENTUM_DEFAULTS.items() if isinstance(schedule, kind)), None)
    if defaults is None:
        if cycle or base is not None or top is not None:
            raise ConfigError(
                "ScheduleLR: only OneCycle and Cyclical cycle momentum (as PyTorch's OneCycleLR and CyclicLR do), "
                f"got cycle_momentum={cycle!r}, base_momentum={base!r}, max_momentum={top!r} for "
                f"{type(schedule).__name__}: drop these options"
            )
        return False, None, None
    rule: dict[str, Any] = {"minimum": 0, "exclusive_maximum": 1, "context": "ScheduleLR", "fix": "pass e.g. 0.9"}
    base = real("base_momentum", defaults[0] if base is None else base, **rule)
    top = real("max_momentum", defaults[1] if top is None else top, **rule)
    if base > top:
        raise ConfigError(
            f"ScheduleLR: base_momentum <= max_momentum must hold, got base_momentum={base!r}, "
            f"max_momentum={top!r}: swap them"
        )
    defaults_of_optimizer = getattr(optimizer, "defaults", {})
    has_momentum = "momentum" in defaults_of_optimizer or "betas" in defaults_of_optimizer
    if cycle and not has_momentum:
        raise ConfigError(
            "ScheduleLR: cycle_momentum=True needs an optimizer with momentum or betas, got "
            f"{type(optimizer).__name__}: pass cycle_momentum=False, or use e.g. SGD(momentum=0.9) or Adam"
        )
    return (has_momentum if cycle is None else cycle), base, top


def _cycled_momentum(schedule: Schedule, step: int, base: float | None, top: float | None) -> float:
    """PyTorch's momentum at ``step``: it falls from ``top`` to ``base`` as the rate rises, and back."""
    assert base is not None and top is not None
    if isinstance(schedule, Cyclical):
        # The fraction of the cycle's height reached: the same cycle between 1 and 2, less 1.
        height = dataclasses.replace(schedule, base_lr=1.0, max_lr=2.0)(step) - 1.0
        return top - (top - base) * height
    assert isinstance(schedule, OneCycle)
    ends = [end for end, _, _ in schedule._phases()]
    # Down over the climb, up over the fall; a third phase (three_phase=True) holds max_momentum.
    bounds = [(top, base), (base, top), (top, top)][: len(ends)]
    anneal = _cosine if schedule.anneal == "cos" else _linear
    step = min(step, schedule.total_steps - 1)
    start = 0.0
    for i, (end, (first, last)) in enumerate(zip(ends, bounds, strict=True)):
        if step <= end or i == len(ends) - 1:
            return float(anneal(first, last, np.asarray((step - start) / (end - start))))
        start = end
    raise AssertionError("unreachable: the last phase takes every step")


def _batches(loader: Iterable[Any]) -> Generator[Any, None, None]:
    """Cycle over ``loader`` without end, re-iterating it (so shuffling loaders reshuffle)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ConfigError("range_test_torch: the loader yielded no batch: pass a loader with data")


def _default_unpack(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, list | tuple) and len(batch) == 2:
        return batch[0], batch[1]
    raise ConfigError(
        f"range_test_torch: a batch must be an (inputs, targets) pair, got {type(batch).__name__}: "
        "pass unpack=lambda batch: (inputs, targets)"
    )


def range_test_torch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[Any, Any], torch.Tensor],
    loader: Iterable[Any],
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    *,
    device: str | torch.device | None = None,
    unpack: Callable[[Any], tuple[Any, Any]] = _default_unpack,
    **options: Any,
) -> RangeTestResult:
    """Run `range_test` on a PyTorch model, then put the model and optimizer back as they were.

    Each step draws the next batch (cycling over ``loader``), sets every param group's ``lr``,
    and takes ``zero_grad``, forward, ``loss_fn(outputs, targets)``, ``backward``, ``optimizer.step``.
    Afterwards the model's parameters and buffers, its train/eval mode, and the optimizer's state
    (momentum buffers, step counts, learning rates) are restored, so training starts from scratch.

    Args:
        model, optimizer, loss_fn: what training uses.
        loader: an iterable of batches, e.g. a ``DataLoader``.
        min_lr, max_lr, num_steps: as in `range_test`.
        device: move inputs and targets there (default: leave them where they are).
        unpack: ``unpack(batch) -> (inputs, targets)``; default takes a 2-tuple.
        **options: passed to `range_test` (``smoothing``, ``diverge_factor``, ``window``, ``margin``).

    Returns:
        the `RangeTestResult`.
    """
    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    batches = _batches(loader)

    def step(lr: float) -> float:
        inputs, targets = unpack(next(batches))
        if device is not None:
            inputs, targets = inputs.to(device), targets.to(device)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return float(loss.detach().item())

    try:
        model.train()
        return range_test(step, min_lr, max_lr, num_steps, **options)
    finally:
        with torch.no_grad():
            model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        optimizer.zero_grad()
        model.train(was_training)
        batches.close()
