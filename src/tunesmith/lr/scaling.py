"""Scale the learning rate with the batch size: the linear rule (Goyal et al., 2017) and its square root.

A batch ``k`` times larger averages the gradient over ``k`` times more examples, so one step
covers the ground of ``k`` small ones: the linear rule multiplies the rate by ``k`` (for SGD), the
square-root rule by ``sqrt(k)`` (for Adam and other adaptive optimisers, whose update size does not
grow with the gradient's). A scaled-up rate is reached through a warmup: Goyal et al. ramp linearly
from the base rate to the scaled one over the first 5 epochs.

Example:
    >>> scale_lr(0.1, base_batch=256, batch=1024)
    0.4
    >>> plan = linear_scaling(0.1, base_batch=256, batch=8192)
    >>> plan.lr, plan.warmup_epochs
    (3.2, 5.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tunesmith._validate import integer, real
from tunesmith.errors import ConfigError
from tunesmith.lr.schedules import WarmupCosine, WarmupLinear

__all__ = ["ScaledLR", "linear_scaling", "scale_lr", "tie_lr_to_batch"]

Rule = Literal["linear", "sqrt"]


def scale_lr(base_lr: float, base_batch: int, batch: int, rule: Rule = "linear") -> float:
    """The learning rate for ``batch`` given one tuned at ``base_batch``.

    Args:
        base_lr: the rate that works at ``base_batch``.
        base_batch: the batch size ``base_lr`` was tuned for.
        batch: the batch size to train with.
        rule: ``"linear"`` (``base_lr * batch / base_batch``, for SGD) or ``"sqrt"``
            (``base_lr * sqrt(batch / base_batch)``, for Adam).

    Raises:
        ConfigError: a non-positive rate or batch size, or an unknown rule.
    """
    lr = real("base_lr", base_lr, exclusive_minimum=0, fix="pass e.g. base_lr=0.1")
    new_batch = real("batch", batch, exclusive_minimum=0, fix="pass e.g. batch=256")
    factor = new_batch / real("base_batch", base_batch, exclusive_minimum=0, fix="pass e.g. base_batch=256")
    if rule == "linear":
        return lr * factor
    if rule == "sqrt":
        return lr * math.sqrt(factor)
    raise ConfigError(f"rule must be 'linear' or 'sqrt', got rule={rule!r}: use 'linear' for SGD, 'sqrt' for Adam")


@dataclass(frozen=True)
class ScaledLR:
    """A scaled learning rate and the warmup that goes with it.

    Attributes:
        lr: the scaled rate.
        base_lr: the rate at the base batch size (where the warmup starts).
        factor: ``lr / base_lr``.
        warmup_epochs: epochs of linear warmup from ``base_lr`` to ``lr`` (0 when the rate does not grow).
    """

    lr: float
    base_lr: float
    factor: float
    warmup_epochs: float

    def warmup_steps(self, steps_per_epoch: int) -> int:
        """The warmup in optimiser steps."""
        integer("steps_per_epoch", steps_per_epoch, minimum=1, fix="use len(train_loader)")
        return round(self.warmup_epochs * steps_per_epoch)

    def schedule(
        self, total_steps: int, steps_per_epoch: int, decay: Literal["cosine", "linear"] = "cosine", min_lr: float = 0.0
    ) -> WarmupCosine | WarmupLinear:
        """A warmup schedule from ``base_lr`` up to ``lr``, then a decay to ``min_lr`` at ``total_steps``.

        Raises:
            ConfigError: the warmup would take the whole run (train longer or warm up less).
        """
        if decay not in ("cosine", "linear"):
            raise ConfigError(f"decay must be 'cosine' or 'linear', got decay={decay!r}: pick one")
        integer("total_steps", total_steps, minimum=1)
        warm = self.warmup_steps(steps_per_epoch)
        if warm >= total_steps:
            raise ConfigError(
                f"the warmup of {self.warmup_epochs:g} epochs ({warm} steps) must be shorter than the run, got "
                f"total_steps={total_steps}: train for more steps or pass a smaller warmup_epochs"
            )
        cls = WarmupCosine if decay == "cosine" else WarmupLinear
        start = min(self.base_lr, self.lr)
        return cls(self.lr, total_steps, warmup=warm / total_steps, min_lr=min_lr, start_lr=start)


def linear_scaling(
    base_lr: float, base_batch: int, batch: int, rule: Rule = "linear", warmup_epochs: float = 5.0
) -> ScaledLR:
    """Scale ``base_lr`` to ``batch`` and say how long to warm up to it.

    The warmup follows Goyal et al.: ``warmup_epochs`` (5) of linear ramp from the base rate to the
    scaled one whenever the batch grows; none when it does not (the rate only falls).
    """
    lr = scale_lr(base_lr, base_batch, batch, rule)
    real("warmup_epochs", warmup_epochs, minimum=0, finite=False, fix="use 5.0")
    factor = lr / float(base_lr)
    return ScaledLR(
        lr=lr, base_lr=float(base_lr), factor=factor, warmup_epochs=float(warmup_epochs) if factor > 1 else 0.0
    )


def tie_lr_to_batch(
    params: Mapping[str, Any],
    base_batch: int,
    *,
    lr: str = "lr",
    batch: str = "batch_size",
    rule: Rule = "linear",
) -> dict[str, Any]:
    """Read a trial's ``lr`` as the rate at ``base_batch`` and scale it to the trial's batch size.

    Searching the rate per example rather than per batch decouples the two: the sampler learns one
    good ``lr`` that holds at every batch size instead of a ridge along ``lr ∝ batch``.

    Example:
        >>> tie_lr_to_batch({"lr": 0.1, "batch_size": 512}, base_batch=256)
        {'lr': 0.2, 'batch_size': 512}

    Args:
        params: a trial's parameters (``trial.params``).
        base_batch: the batch size the searched ``lr`` refers to.
        lr, batch: the parameter names.
        rule: ``"linear"`` or ``"sqrt"``.

    Returns:
        a copy of ``params`` with ``params[lr]`` scaled.
    """
    missing = [name for name in (lr, batch) if name not in params]
    if missing:
        raise ConfigError(
            f"tie_lr_to_batch needs the parameters {lr!r} and {batch!r}, but {missing} are missing from "
            f"{sorted(params)}: add them to the space or pass lr=/batch= with their names"
        )
    out = dict(params)
    out[lr] = scale_lr(params[lr], base_batch, params[batch], rule)
    return out
