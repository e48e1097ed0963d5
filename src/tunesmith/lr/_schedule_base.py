"""The `Schedule` base class and the helpers every schedule shares: field validation and anneals.

Private to `tunesmith.lr`: import `Schedule` from `tunesmith.lr` or `tunesmith.lr.schedules`.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, overload

import numpy as np

from tunesmith._validate import integer, real
from tunesmith.errors import ConfigError

if TYPE_CHECKING:
    from tunesmith.lr.pytorch import ScheduleLR

__all__ = ["Schedule"]


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

    def torch(
        self,
        optimizer: Any,
        last_epoch: int = -1,
        *,
        cycle_momentum: bool | None = None,
        base_momentum: float | None = None,
        max_momentum: float | None = None,
    ) -> ScheduleLR:
        """A PyTorch LR scheduler following this schedule, a drop-in for the PyTorch scheduler it mirrors.

        Call ``scheduler.step()`` after each ``optimizer.step()``, as with PyTorch's own schedulers.
        Param groups at different rates keep their ratio to the schedule, and `OneCycle` and `Cyclical`
        cycle momentum (or Adam's ``beta1``) as PyTorch does by default; `ScheduleLR` says how, and what
        ``cycle_momentum``, ``base_momentum`` and ``max_momentum`` do. Needs the ``torch`` extra.
        """
        from tunesmith.lr.pytorch import ScheduleLR

        return ScheduleLR(
            optimizer,
            self,
            last_epoch=last_epoch,
            cycle_momentum=cycle_momentum,
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable description that `Schedule.from_json` restores."""
        assert dataclasses.is_dataclass(self)
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Schedule:
        """Restore a schedule written by `to_json`."""
        from tunesmith.lr.schedules import SCHEDULES  # the registry of every kind lives with the schedules

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
