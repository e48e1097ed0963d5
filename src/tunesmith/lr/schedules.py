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
is a drop-in replacement.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.errors import ConfigError

if TYPE_CHECKING:
    from tunesmith.lr.pytorch import ScheduleLR

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


# Validation helpers: the schedule's class name leads each message; NumPy scalars are accepted. -------
def _positive(cls: str, name: str, value: object) -> float:
    return real(name, value, exclusive_minimum=0, numpy=True, context=cls, fix="pass a positive value such as 0.1")


def _non_negative(cls: str, name: str, value: object) -> float:
    return real(name, value, minimum=0, numpy=True, context=cls, fix="pass 0.0 or a positive value")


def _positive_int(cls: str, name: str, value: object) -> int:
    return integer(name, value, minimum=1, numpy=True, context=cls, fix=f"pass e.g. {name}=1000")


def _fraction(cls: str, name: str, value: object, *, upper_open: bool = True) -> float:
    return real(
        name,
        value,
        minimum=0,
        maximum=None if upper_open else 1,
        exclusive_maximum=1 if upper_open else None,
        numpy=True,
        context=cls,
        fix=f"it is a fraction of the run; pass e.g. {name}=0.06 for 6%",
    )


def _below(cls: str, low_name: str, low: float, high_name: str, high: float) -> None:
    if low > high:
        raise ConfigError(
            f"{cls}: {low_name} <= {high_name} must hold, got {low_name}={low!r}, {high_name}={high!r}: "
            f"lower {low_name} or raise {high_name}"
        )


class Schedule(ABC):
    """A learning rate as a pure function of the step.

    Subclasses are frozen dataclasses that validate their fields in ``__post_init__`` and
    implement `_lr` (a vectorised map from a float array of steps ``>= 0`` to rates) and
    `peak_lr`. Instances are immutable, hashable and safe to share across threads and
    processes.
    """

    kind: ClassVar[str] = ""

    @overload
    def __call__(self, step: int | float | np.integer | np.floating) -> float: ...

    @overload
    def __call__(self, step: np.ndarray | Sequence[int] | Sequence[float]) -> np.ndarray: ...

    def __call__(self, step: Any) -> float | np.ndarray:
        """The learning rate at ``step`` (a scalar) or at each element of an array of steps."""
        if isinstance(step, bool):
            raise ConfigError(f"a step must be a number or an array of numbers, got step={step!r}: pass e.g. 0")
        try:
            steps = np.asarray(step, dtype=float)
        except (TypeError, ValueError):
            raise ConfigError(
                f"a step must be a number or an array of numbers, got step={step!r}: pass e.g. 0 or np.arange(100)"
            ) from None
        if steps.size and (not np.all(np.isfinite(steps)) or np.any(steps < 0)):
            bad = steps[~np.isfinite(steps) | (steps < 0)].ravel()[0]
            raise ConfigError(f"steps count from 0 and must be finite, got step={bad!r}: pass steps >= 0")
        lrs = np.asarray(self._lr(steps), dtype=float)
        if steps.ndim == 0:
            return float(lrs)
        return np.broadcast_to(lrs, steps.shape).copy()

    @abstractmethod
    def _lr(self, t: np.ndarray) -> np.ndarray:
        """Vectorised rates at steps ``t`` (a float array, possibly 0-d, all ``>= 0``)."""

    @property
    @abstractmethod
    def peak(self) -> float:
        """The largest learning rate the schedule ever returns (``inf`` when it grows without bound)."""

    def torch(self, optimizer: Any, last_epoch: int = -1) -> ScheduleLR:
        """A PyTorch LR scheduler that sets every param group's ``lr`` to this schedule.

        Call ``scheduler.step()`` after each ``optimizer.step()``, as with PyTorch's own schedulers.
        Needs the ``torch`` extra.
        """
        from tunesmith.lr.pytorch import ScheduleLR

        return ScheduleLR(optimizer, self, last_epoch=last_epoch)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description that `Schedule.from_json` restores."""
        assert dataclasses.is_dataclass(self)
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Schedule:
        """Restore a schedule written by `to_json`."""
        if not isinstance(data, Mapping) or data.get("kind") not in SCHEDULES:
            kind = data.get("kind") if isinstance(data, Mapping) else None
            raise ConfigError(
                f"a schedule needs a 'kind' among {sorted(SCHEDULES)}, got kind={kind!r}: "
                "use a dict written by Schedule.to_json()"
            )
        fields = {k: v for k, v in data.items() if k != "kind"}
        try:
            return SCHEDULES[str(data["kind"])](**fields)
        except TypeError as exc:
            raise ConfigError(f"invalid fields for a {data['kind']!r} schedule {dict(data)!r}: {exc}") from None


def _cosine(start: float, end: float, pct: np.ndarray) -> np.ndarray:
    """Cosine anneal from ``start`` (pct=0) to ``end`` (pct=1)."""
    return end + (start - end) / 2.0 * (np.cos(math.pi * pct) + 1.0)


def _linear(start: float, end: float, pct: np.ndarray) -> np.ndarray:
    """Linear anneal from ``start`` (pct=0) to ``end`` (pct=1)."""
    return (end - start) * pct + start


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

    Example:
        >>> WarmupCosine(3e-3, total_steps=1000, warmup=0.06)(60)
        0.003
    """

    kind: ClassVar[str] = "warmup_cosine"

    def _decay(self, pct: np.ndarray) -> np.ndarray:
        return _cosine(self.peak_lr, self.min_lr, pct)


@dataclass(frozen=True)
class WarmupLinear(_Warmup):
    """Linear warmup over ``warmup`` (a fraction) of ``total_steps``, then a linear decay to ``min_lr``."""

    kind: ClassVar[str] = "warmup_linear"

    def _decay(self, pct: np.ndarray) -> np.ndarray:
        return _linear(self.peak_lr, self.min_lr, pct)


CyclicalMode = Literal["triangular", "triangular2", "exp_range"]


@dataclass(frozen=True)
class Cyclical(Schedule):
    """Cyclical learning rates (Smith, 2017): PyTorch's ``CyclicLR``.

    The rate climbs linearly from ``base_lr`` to ``max_lr`` over ``step_size_up`` steps and falls
    back over ``step_size_down`` (default: the same). ``mode="triangular"`` keeps the amplitude,
    ``"triangular2"`` halves it every cycle, ``"exp_range"`` scales it by ``gamma ** step``.
    """

    kind: ClassVar[str] = "cyclical"
    base_lr: float
    max_lr: float
    step_size_up: int = 2000
    step_size_down: int | None = None
    mode: CyclicalMode = "triangular"
    gamma: float = 1.0

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
