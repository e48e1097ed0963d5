"""PyTorch glue for the learning-rate toolkit: a scheduler adapter and the range test on a model.

Importing this module needs the ``torch`` extra (``pip install 'tunesmith[torch]'``); the rest of
`tunesmith.lr` does not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Iterable
from typing import Any

from tunesmith.errors import ConfigError, require

require("torch", "torch")  # raises MissingExtra naming the extra when torch is absent

import torch  # noqa: E402
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

from tunesmith.lr.range_test import RangeTestResult, range_test  # noqa: E402
from tunesmith.lr.schedules import Schedule  # noqa: E402

__all__ = ["ScheduleLR", "range_test_torch"]


class ScheduleLR(LRScheduler):
    """A PyTorch LR scheduler driven by a tunesmith `Schedule`.

    After ``n`` calls of ``step()`` every param group's ``lr`` is ``schedule(n)``; at construction it
    is ``schedule(0)``, exactly as PyTorch's own schedulers behave. The schedule is immutable and
    is saved with ``state_dict()``.

    Example:
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)              # doctest: +SKIP
        >>> sched = ts.lr.OneCycle(0.1, total_steps=1000).torch(opt)      # doctest: +SKIP
        >>> for batch in loader:                                           # doctest: +SKIP
        ...     train_step(batch); opt.step(); sched.step()
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Schedule, last_epoch: int = -1) -> None:
        if not isinstance(schedule, Schedule):
            raise ConfigError(
                f"ScheduleLR needs a tunesmith.lr schedule, got {type(schedule).__name__}: "
                "pass e.g. ts.lr.WarmupCosine(3e-3, total_steps=1000)"
            )
        self.schedule = schedule  # set before super().__init__, which takes the first step
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        """The rate of every param group at the current step (``last_epoch``)."""
        lr = self.schedule(max(self.last_epoch, 0))
        return [lr for _ in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float | torch.Tensor]:
        return self.get_lr()


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
