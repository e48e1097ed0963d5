"""Schedules that cycle: cyclical learning rates, cosine with warm restarts, and the one-cycle policy.

Private to `tunesmith.lr`: import these from `tunesmith.lr` or `tunesmith.lr.schedules`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from tunesmith.errors import ConfigError
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

__all__ = ["CosineWarmRestarts", "Cyclical", "CyclicalMode", "CyclicalShape", "OneCycle"]


CyclicalMode = Literal["triangular", "triangular2", "exp_range"]
CyclicalShape = Literal["triangle", "cosine"]


@dataclass(frozen=True)
class Cyclical(Schedule):
    """Cyclical learning rates (Smith, 2017): PyTorch's ``CyclicLR``.

    The rate climbs linearly from ``base_lr`` to ``max_lr`` over ``step_size_up`` steps and falls
    back over ``step_size_down`` (default: the same). ``mode="triangular"`` keeps the amplitude,
    ``"triangular2"`` halves it every cycle, ``"exp_range"`` scales it by ``gamma ** step``.
    ``shape="cosine"`` swings between the bounds along half cosines instead of straight lines (the
    rate lingers near each bound and turns smoothly there); the default ``"triangle"`` is ``CyclicLR``.
    """

    kind: ClassVar[str] = "cyclical"
    base_lr: float
    max_lr: float
    step_size_up: int = 2000
    step_size_down: int | None = None
    mode: CyclicalMode = "triangular"
    gamma: float = 1.0
    shape: CyclicalShape = "triangle"

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_lr", _positive("Cyclical", "base_lr", self.base_lr))
        object.__setattr__(self, "max_lr", _positive("Cyclical", "max_lr", self.max_lr))
        _below("Cyclical", "base_lr", self.base_lr, "max_lr", self.max_lr)
        object.__setattr__(self, "step_size_up", _positive_int("Cyclical", "step_size_up", self.step_size_up))
        if self.step_size_down is not None:
            down = _positive_int("Cyclical", "step_size_down", self.step_size_down)
            object.__setattr__(self, "step_size_down", down)
        if self.mode not in ("triangular", "triangular2", "exp_range"):
            raise ConfigError(
                f"Cyclical: mode must be 'triangular', 'triangular2' or 'exp_range', got mode={self.mode!r}: "
                "pick one of them"
            )
        gamma = _positive("Cyclical", "gamma", self.gamma)
        if gamma > 1:
            raise ConfigError(
                f"Cyclical: gamma must lie in (0, 1] so the amplitude never grows, got gamma={self.gamma!r}: "
                "pass e.g. gamma=0.999"
            )
        object.__setattr__(self, "gamma", gamma)
        if self.shape not in ("triangle", "cosine"):
            raise ConfigError(
                f"Cyclical: shape must be 'triangle' or 'cosine', got shape={self.shape!r}: 'cosine' swings along "
                "half cosines, 'triangle' along straight lines (PyTorch's CyclicLR)"
            )

    @property
    def cycle_steps(self) -> int:
        """Steps in one full cycle (up and down)."""
        return self.step_size_up + (self.step_size_up if self.step_size_down is None else self.step_size_down)

    def _lr(self, t: np.ndarray) -> np.ndarray:
        total = float(self.cycle_steps)
        ratio = self.step_size_up / total
        cycle = np.floor(1.0 + t / total)
        x = 1.0 + t / total - cycle
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        if self.shape == "cosine":
            scale = (1.0 - np.cos(math.pi * scale)) / 2.0
        height = (self.max_lr - self.base_lr) * scale
        if self.mode == "triangular":
            amplitude = np.ones(t.shape)
        elif self.mode == "triangular2":
            amplitude = 1.0 / 2.0 ** (cycle - 1.0)
        else:
            amplitude = self.gamma**t
        return self.base_lr + height * amplitude

    @property
    def peak(self) -> float:
        if self.mode == "exp_range":  # the amplitude has already shrunk by the first peak
            return self.base_lr + (self.max_lr - self.base_lr) * self.gamma**self.step_size_up
        return self.max_lr


@dataclass(frozen=True)
class CosineWarmRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR): PyTorch's ``CosineAnnealingWarmRestarts``.

    Each cycle anneals from ``lr`` to ``min_lr`` with a half cosine and restarts at ``lr``; the first
    cycle lasts ``cycle_steps`` and each next one ``cycle_mult`` times longer.
    """

    kind: ClassVar[str] = "cosine_restarts"
    lr: float
    cycle_steps: int
    cycle_mult: int = 1
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _positive("CosineWarmRestarts", "lr", self.lr))
        object.__setattr__(self, "cycle_steps", _positive_int("CosineWarmRestarts", "cycle_steps", self.cycle_steps))
        object.__setattr__(self, "cycle_mult", _positive_int("CosineWarmRestarts", "cycle_mult", self.cycle_mult))
        object.__setattr__(self, "min_lr", _non_negative("CosineWarmRestarts", "min_lr", self.min_lr))
        _below("CosineWarmRestarts", "min_lr", self.min_lr, "lr", self.lr)

    def _lr(self, t: np.ndarray) -> np.ndarray:
        if self.cycle_mult == 1:
            length = np.full(t.shape, float(self.cycle_steps))
            into = np.mod(t, self.cycle_steps)
        else:
            # Cycle starts computed exactly in integers, so a restart never lands one step off.
            last = float(np.max(t)) if t.size else 0.0
            starts = [0]
            lengths = [self.cycle_steps]
            while starts[-1] + lengths[-1] <= last:
                starts.append(starts[-1] + lengths[-1])
                lengths.append(lengths[-1] * self.cycle_mult)
            index = np.searchsorted(np.asarray(starts, dtype=float), t, side="right") - 1
            length = np.asarray(lengths, dtype=float)[index]
            into = t - np.asarray(starts, dtype=float)[index]
        return _cosine(self.lr, self.min_lr, into / length)

    @property
    def peak(self) -> float:
        return self.lr


@dataclass(frozen=True)
class OneCycle(Schedule):
    """The one-cycle policy (Smith & Topin, 2019): PyTorch's ``OneCycleLR``.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over ``pct_start`` of the run, then
    anneals to ``max_lr / div_factor / final_div_factor`` at the last step (``total_steps - 1``).
    With ``three_phase=True`` it first comes back down to the initial rate symmetrically, then
    anneals to the minimum. ``anneal`` is ``"cos"`` or ``"linear"``.
    """

    kind: ClassVar[str] = "one_cycle"
    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    anneal: Literal["cos", "linear"] = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_lr", _positive("OneCycle", "max_lr", self.max_lr))
        object.__setattr__(self, "total_steps", _positive_int("OneCycle", "total_steps", self.total_steps))
        object.__setattr__(self, "pct_start", _fraction("OneCycle", "pct_start", self.pct_start))
        object.__setattr__(self, "div_factor", _positive("OneCycle", "div_factor", self.div_factor))
        object.__setattr__(self, "final_div_factor", _positive("OneCycle", "final_div_factor", self.final_div_factor))
        if self.anneal not in ("cos", "linear"):
            raise ConfigError(f"OneCycle: anneal must be 'cos' or 'linear', got anneal={self.anneal!r}: pick one")
        if not isinstance(self.three_phase, bool):
            raise ConfigError(f"OneCycle: three_phase must be a bool, got three_phase={self.three_phase!r}")
        ends = [end for end, _, _ in self._phases()]
        if self.total_steps < 2 or any(b <= a for a, b in zip([0.0, *ends], ends, strict=False)):
            raise ConfigError(
                f"OneCycle: every phase needs at least one step, got total_steps={self.total_steps}, "
                f"pct_start={self.pct_start}, three_phase={self.three_phase}: use more steps or a pct_start "
                "further from 0 (and below 0.5 with three_phase)"
            )

    @property
    def initial_lr(self) -> float:
        """The rate at step 0: ``max_lr / div_factor``."""
        return self.max_lr / self.div_factor

    @property
    def min_lr(self) -> float:
        """The rate at the last step: ``initial_lr / final_div_factor``."""
        return self.initial_lr / self.final_div_factor

    def _phases(self) -> list[tuple[float, float, float]]:
        """``(end_step, start_lr, end_lr)`` of each phase, with PyTorch's phase boundaries."""
        up_end = float(self.pct_start * self.total_steps) - 1
        last = float(self.total_steps - 1)
        if self.three_phase:
            down_end = float(2 * self.pct_start * self.total_steps) - 2
            return [
                (up_end, self.initial_lr, self.max_lr),
                (down_end, self.max_lr, self.initial_lr),
                (last, self.initial_lr, self.min_lr),
            ]
        return [(up_end, self.initial_lr, self.max_lr), (last, self.max_lr, self.min_lr)]

    def _lr(self, t: np.ndarray) -> np.ndarray:
        t = np.minimum(t, self.total_steps - 1)
        anneal = _cosine if self.anneal == "cos" else _linear
        phases = self._phases()
        out = np.empty(t.shape)
        start = 0.0
        done = np.zeros(t.shape, dtype=bool)
        for i, (end, lr_from, lr_to) in enumerate(phases):
            here = ~done if i == len(phases) - 1 else ~done & (t <= end)
            pct = (t - start) / (end - start)
            out = np.where(here, anneal(lr_from, lr_to, pct), out)
            done |= here
            start = end
        return out

    @property
    def peak(self) -> float:
        return self.max_lr
