"""Learning-rate schedules: pure, vectorised functions of the optimisation step.

Every schedule is an immutable object called with a step (an ``int``/``float`` or a numpy
array of steps, counted from 0) that returns the learning rate at that step:

    >>> import numpy as np
    >>> from tunesmith.lr import OneCycle
    >>> lrs = OneCycle(max_lr=0.1, total_steps=1000)(np.arange(1000))
    >>> round(float(lrs.max()), 6)
    0.1

Schedules with a fixed length (`CosineAnnealing`, `WarmupCosine`, `WarmupLinear`, `OneCycle`)
hold their final value for steps past the end. Those that mirror a PyTorch scheduler
(`StepDecay`/``StepLR``, `Exponential`/``ExponentialLR``, `CosineAnnealing`/``CosineAnnealingLR``,
`Cyclical`/``CyclicLR``, `CosineWarmRestarts`/``CosineAnnealingWarmRestarts``,
`OneCycle`/``OneCycleLR``) give the same value at every step of a run, so ``.torch(optimizer)``
is a drop-in replacement: param groups at different rates keep their ratio to the schedule, `OneCycle`
and `Cyclical` cycle momentum (or Adam's ``beta1``) as PyTorch does, and the scheduler's state reads
back with ``torch.load(weights_only=True)`` (see `tunesmith.lr.pytorch.ScheduleLR`).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from tunesmith.errors import ConfigError
from tunesmith.lr._cyclic import CosineWarmRestarts, Cyclical, OneCycle
from tunesmith.lr._cyclic import CyclicalMode as CyclicalMode
from tunesmith.lr._cyclic import CyclicalShape as CyclicalShape
from tunesmith.lr._schedule_base import (
    Schedule,
    _below,
    _cosine,
    _fraction,
    _linear,
    _non_negative,
    _positive,
    _positive_int,
)

__all__ = [
    "SCHEDULES",
    "Constant",
    "CosineAnnealing",
    "CosineWarmRestarts",
    "Cyclical",
    "Exponential",
    "OneCycle",
    "Schedule",
    "StepDecay",
    "WarmupCosine",
    "WarmupLinear",
]


@dataclass(frozen=True)
class Constant(Schedule):
    """The same learning rate at every step."""

    kind: ClassVar[str] = "constant"
    lr: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _positive("Constant", "lr", self.lr))

    def _lr(self, t: np.ndarray) -> np.ndarray:
        return np.full(t.shape, self.lr)

    @property
    def peak(self) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay(Schedule):
    """``lr * gamma ** floor(step / step_size)``: PyTorch's ``StepLR``."""

    kind: ClassVar[str] = "step_decay"
    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _positive("StepDecay", "lr", self.lr))
        object.__setattr__(self, "step_size", _positive_int("StepDecay", "step_size", self.step_size))
        object.__setattr__(self, "gamma", _positive("StepDecay", "gamma", self.gamma))

    def _lr(self, t: np.ndarray) -> np.ndarray:
        return self.lr * self.gamma ** np.floor(t / self.step_size)

    @property
    def peak(self) -> float:
        return self.lr if self.gamma <= 1 else math.inf


@dataclass(frozen=True)
class Exponential(Schedule):
    """``lr * gamma ** step``: PyTorch's ``ExponentialLR``."""

    kind: ClassVar[str] = "exponential"
    lr: float
    gamma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _positive("Exponential", "lr", self.lr))
        object.__setattr__(self, "gamma", _positive("Exponential", "gamma", self.gamma))

    def _lr(self, t: np.ndarray) -> np.ndarray:
        return self.lr * self.gamma**t

    @property
    def peak(self) -> float:
        return self.lr if self.gamma <= 1 else math.inf


@dataclass(frozen=True)
class CosineAnnealing(Schedule):
    """Half a cosine from ``lr`` at step 0 to ``min_lr`` at ``total_steps``: PyTorch's ``CosineAnnealingLR``.

    Steps past ``total_steps`` hold ``min_lr`` (PyTorch's scheduler would climb back up).
    """

    kind: ClassVar[str] = "cosine"
    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _positive("CosineAnnealing", "lr", self.lr))
        object.__setattr__(self, "total_steps", _positive_int("CosineAnnealing", "total_steps", self.total_steps))
        object.__setattr__(self, "min_lr", _non_negative("CosineAnnealing", "min_lr", self.min_lr))
        _below("CosineAnnealing", "min_lr", self.min_lr, "lr", self.lr)

    def _lr(self, t: np.ndarray) -> np.ndarray:
        pct = np.minimum(t, self.total_steps) / self.total_steps
        return _cosine(self.lr, self.min_lr, pct)

    @property
    def peak(self) -> float:
        return self.lr


@dataclass(frozen=True)
class _Warmup(Schedule):
    """Linear warmup from ``start_lr`` to ``peak_lr`` over ``warmup`` of the run, then a decay to ``min_lr``."""

    peak_lr: float
    total_steps: int
    warmup: float = 0.06
    min_lr: float = 0.0
    start_lr: float = 0.0

    def __post_init__(self) -> None:
        cls = type(self).__name__
        object.__setattr__(self, "peak_lr", _positive(cls, "peak_lr", self.peak_lr))
        object.__setattr__(self, "total_steps", _positive_int(cls, "total_steps", self.total_steps))
        object.__setattr__(self, "warmup", _fraction(cls, "warmup", self.warmup))
        object.__setattr__(self, "min_lr", _non_negative(cls, "min_lr", self.min_lr))
        object.__setattr__(self, "start_lr", _non_negative(cls, "start_lr", self.start_lr))
        _below(cls, "min_lr", self.min_lr, "peak_lr", self.peak_lr)
        _below(cls, "start_lr", self.start_lr, "peak_lr", self.peak_lr)
        if self.warmup_steps >= self.total_steps:
            # No step would be left to decay over: the rate would never reach the peak, and the decay's
            # 0/0 would make it NaN from the last step on (PyTorch's LinearLR + CosineAnnealingLR raise there).
            # Flooring to 4 decimals keeps the suggested fraction at or below (total_steps - 1) / total_steps.
            fits = math.floor((self.total_steps - 1) / self.total_steps * 1e4) / 1e4
            raise ConfigError(
                f"{cls}: the warmup must end before the run does (round(warmup * total_steps) < total_steps), "
                f"got warmup={self.warmup!r}, total_steps={self.total_steps} ({self.warmup_steps} warmup steps): "
                f"pass a smaller warmup such as warmup={fits:g}, or more total_steps"
            )

    @property
    def peak(self) -> float:
        return self.peak_lr

    @property
    def warmup_steps(self) -> int:
        """Steps of linear warmup: ``round(warmup * total_steps)``."""
        return round(self.warmup * self.total_steps)

    @abstractmethod
    def _decay(self, pct: np.ndarray) -> np.ndarray: ...

    def _lr(self, t: np.ndarray) -> np.ndarray:
        t = np.minimum(t, self.total_steps)
        warm = self.warmup_steps
        rising = _linear(self.start_lr, self.peak_lr, t / warm) if warm else np.zeros(t.shape)
        pct = np.clip((t - warm) / (self.total_steps - warm), 0.0, 1.0)
        return np.where(t < warm, rising, self._decay(pct))


@dataclass(frozen=True)
class WarmupCosine(_Warmup):
    """Linear warmup over ``warmup`` (a fraction) of ``total_steps``, then a cosine decay to ``min_lr``.

    The rate rises from ``start_lr`` at step 0 to ``peak_lr`` at step ``warmup_steps`` and reaches
    ``min_lr`` at ``total_steps``, the shape used to train BERT, GPT and ViT.

    Raises:
        ConfigError: besides a field out of range, a ``warmup`` that rounds to the whole run
            (``warmup_steps == total_steps``), which would leave no step to decay over.

    Example:
        >>> WarmupCosine(3e-3, total_steps=1000, warmup=0.06)(60)
        0.003
    """

    kind: ClassVar[str] = "warmup_cosine"

    def _decay(self, pct: np.ndarray) -> np.ndarray:
        return _cosine(self.peak_lr, self.min_lr, pct)


@dataclass(frozen=True)
class WarmupLinear(_Warmup):
    """Linear warmup over ``warmup`` (a fraction) of ``total_steps``, then a linear decay to ``min_lr``.

    Refuses a ``warmup`` that rounds to the whole run, as `WarmupCosine` does.
    """

    kind: ClassVar[str] = "warmup_linear"

    def _decay(self, pct: np.ndarray) -> np.ndarray:
        return _linear(self.peak_lr, self.min_lr, pct)


SCHEDULES: dict[str, type[Schedule]] = {
    cls.kind: cls
    for cls in (
        Constant,
        StepDecay,
        Exponential,
        CosineAnnealing,
        WarmupCosine,
        WarmupLinear,
        Cyclical,
        CosineWarmRestarts,
        OneCycle,
    )
}
