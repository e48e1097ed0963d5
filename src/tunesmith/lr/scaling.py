"""Scale the learning rate with the batch size: the linear rule (Goyal et al., 2017) and its square root.

A batch ``k`` times larger averages the gradient over ``k`` times more examples, so one step
covers the ground of ``k`` small ones: the linear rule multiplies the rate by ``k`` (for SGD), the
square-root rule by ``sqrt(k)`` (for Adam and other adaptive optimisers, whose update size does not
grow with the gradient's). A scaled-up rate is reached through a warmup: Goyal et al. ramp linearly
from the base rate to the scaled one over the first 5 epochs.

Where the rules hold. Goyal et al. validated the linear rule from batch 256 to 8192 (up to 32x) for
ResNet-50 on ImageNet; beyond a task's critical batch size (McCandlish et al., 2018) a larger batch
stops standing in for more small steps and the scaled rate diverges, and a small data set reaches that
size far sooner. The square-root rule comes from an approximation of Adam and RMSprop (Malladi et al.,
2022) that holds only below that size too. So a batch more than `CHECKED_FACTOR` (8) times the base
warns with `LargeBatchScalingWarning`: re-run the range test (`tunesmith.lr.range_test`) at the
target batch instead of trusting the rule. An MLP on scikit-learn's digits (SGD with momentum, 5
warmup epochs, 4 seeds) kept its validation accuracy at 8x (0.914, sd 0.006, against 0.924 at the
base batch) and lost it at 16x (0.54 to 0.89) and 32x (0.10 to 0.36).

Example:
    >>> scale_lr(0.1, base_batch=256, batch=1024)
    0.4
    >>> plan = linear_scaling(0.1, base_batch=256, batch=2048)
    >>> plan.lr, plan.warmup_epochs
    (0.8, 5.0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tunesmith._caller import outside_stacklevel
from tunesmith._validate import integer, real
from tunesmith.errors import ConfigError
from tunesmith.lr.schedules import WarmupCosine, WarmupLinear

__all__ = [
    "CHECKED_FACTOR",
    "VALIDATED_RANGE",
    "LargeBatchScalingWarning",
    "ScaledLR",
    "linear_scaling",
    "scale_lr",
    "tie_lr_to_batch",
]

Rule = Literal["linear", "sqrt"]

# Goyal et al.'s 32x held on ImageNet's 1.28M images; the critical batch size shrinks with the data set and the
# task, and on digits the linear rule broke at 16x (see the module docstring), so 8x is where a check starts.
CHECKED_FACTOR = 8.0

VALIDATED_RANGE: dict[str, str] = {
    "linear": (
        "validated from batch 256 to 8192 (up to 32x) for ResNet-50 on ImageNet with 5 warmup epochs "
        "(Goyal et al., 2017); it breaks beyond a task's critical batch size, which a smaller data set reaches sooner"
    ),
    "sqrt": (
        "derived for Adam and RMSprop from an approximation that holds only below a task's critical batch size "
        "(Malladi et al., 2022); no range is established across tasks"
    ),
}


class LargeBatchScalingWarning(UserWarning):
    """The batch grew more than `CHECKED_FACTOR` times: the scaled rate is past where the rule can be trusted."""


def _checked_factor(base_batch: int, batch: int) -> float:
    new_batch = real("batch", batch, exclusive_minimum=0, fix="pass e.g. batch=256")
    return new_batch / real("base_batch", base_batch, exclusive_minimum=0, fix="pass e.g. base_batch=256")


def _scaled(base_lr: float, batch_factor: float, rule: Rule) -> float:
    lr = real("base_lr", base_lr, exclusive_minimum=0, fix="pass e.g. base_lr=0.1")
    if rule == "linear":
        return lr * batch_factor
    if rule == "sqrt":
        return lr * math.sqrt(batch_factor)
    raise ConfigError(f"rule must be 'linear' or 'sqrt', got rule={rule!r}: use 'linear' for SGD, 'sqrt' for Adam")


def _warn_beyond_checked(rule: Rule, base_lr: float, lr: float, base_batch: int, batch: int, factor: float) -> None:
    if factor <= CHECKED_FACTOR:
        return
    warnings.warn(
        LargeBatchScalingWarning(
            f"the batch must grow at most {CHECKED_FACTOR:g}x for a scaled rate to be trusted without a check (the "
            f"{rule} rule is {VALIDATED_RANGE[rule]}), got batch={batch} over base_batch={base_batch}, {factor:g}x "
            f"(lr {base_lr:g} -> {lr:g}): re-run the range test at batch {batch} (ts.lr.range_test, or tunesmith "
            f"lr-find with the probe at that batch) and train at its suggestion, or grow the batch at most "
            f"{CHECKED_FACTOR:g}x"
        ),
        stacklevel=outside_stacklevel(),  # the caller of the public function, not this helper
    )


def scale_lr(base_lr: float, base_batch: int, batch: int, rule: Rule = "linear") -> float:
    """The learning rate for ``batch`` given one tuned at ``base_batch``.

    The rule is a starting point that holds up to a task's critical batch size: a ``batch`` more than
    `CHECKED_FACTOR` (8) times ``base_batch`` warns, and the rate to train at is the range test's
    (`tunesmith.lr.range_test`) at that batch. `linear_scaling` says where each rule was validated.

    Args:
        base_lr: the rate that works at ``base_batch``.
        base_batch: the batch size ``base_lr`` was tuned for.
        batch: the batch size to train with.
        rule: ``"linear"`` (``base_lr * batch / base_batch``, for SGD) or ``"sqrt"``
            (``base_lr * sqrt(batch / base_batch)``, for Adam).

    Raises:
        ConfigError: a non-positive rate or batch size, or an unknown rule.

    Warns:
        LargeBatchScalingWarning: ``batch`` is more than `CHECKED_FACTOR` times ``base_batch``.
    """
    factor = _checked_factor(base_batch, batch)
    lr = _scaled(base_lr, factor, rule)
    _warn_beyond_checked(rule, base_lr, lr, base_batch, batch, factor)
    return lr


@dataclass(frozen=True)
class ScaledLR:
    """A scaled learning rate and the warmup that goes with it.

    Attributes:
        lr: the scaled rate.
        base_lr: the rate at the base batch size (where the warmup starts).
        factor: ``lr / base_lr``.
        warmup_epochs: epochs of linear warmup from ``base_lr`` to ``lr`` (0 when the rate does not grow).
        batch_factor: ``batch / base_batch``.
        validated: where the rule was shown to hold (`VALIDATED_RANGE`), and where it breaks.
    """

    lr: float
    base_lr: float
    factor: float
    warmup_epochs: float
    batch_factor: float
    validated: str

    @property
    def beyond_checked_range(self) -> bool:
        """Whether the batch grew more than `CHECKED_FACTOR` times: then check ``lr`` with a range test."""
        return self.batch_factor > CHECKED_FACTOR

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

    The result's ``validated`` says where the rule was shown to hold: the linear rule up to 32x
    (batch 256 to 8192 on ImageNet), and it breaks beyond a task's critical batch size, which a small
    data set reaches far sooner (on digits, 16x). A batch more than `CHECKED_FACTOR` (8) times the
    base warns with `LargeBatchScalingWarning`: re-run the range test (`tunesmith.lr.range_test`) at
    the target batch and train at its suggestion rather than at ``lr``.

    Warns:
        LargeBatchScalingWarning: ``batch`` is more than `CHECKED_FACTOR` times ``base_batch``.
    """
    batch_factor = _checked_factor(base_batch, batch)
    lr = _scaled(base_lr, batch_factor, rule)
    real("warmup_epochs", warmup_epochs, minimum=0, finite=False, fix="use 5.0")
    _warn_beyond_checked(rule, base_lr, lr, base_batch, batch, batch_factor)
    factor = lr / float(base_lr)
    return ScaledLR(
        lr=lr,
        base_lr=float(base_lr),
        factor=factor,
        warmup_epochs=float(warmup_epochs) if factor > 1 else 0.0,
        batch_factor=batch_factor,
        validated=VALIDATED_RANGE[rule],
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

    Warns:
        LargeBatchScalingWarning: a trial's batch is more than `CHECKED_FACTOR` times ``base_batch``
            (keep the searched batch sizes within 8x of it, or check the rate at the largest with a range test).
    """
    missing = [name for name in (lr, batch) if name not in params]
    if missing:
        raise ConfigError(
            f"tie_lr_to_batch needs the parameters {lr!r} and {batch!r}, but {missing} are missing from "
            f"{sorted(params)}: add them to the space or pass lr=/batch= with their names"
        )
    out = dict(params)
    factor = _checked_factor(base_batch, params[batch])
    out[lr] = _scaled(params[lr], factor, rule)
    _warn_beyond_checked(rule, params[lr], out[lr], base_batch, params[batch], factor)
    return out
