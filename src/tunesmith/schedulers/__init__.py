"""Schedulers: decide after each report whether a trial continues, stops or pauses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunesmith._registry import Registry
from tunesmith.decision import Decision
from tunesmith.schedulers.auto import AutoScheduler
from tunesmith.schedulers.base import Continuation, FinishLine, Promotion, Scheduler
from tunesmith.schedulers.fifo import FIFO
from tunesmith.schedulers.hyperband import Hyperband
from tunesmith.schedulers.median import MedianStop
from tunesmith.schedulers.pb2 import PB2
from tunesmith.schedulers.pbt import PBT
from tunesmith.schedulers.successive_halving import ASHA, SuccessiveHalving

__all__ = [
    "ASHA",
    "FIFO",
    "AutoScheduler",
    "PB2",
    "PBT",
    "SCHEDULERS",
    "Continuation",
    "Decision",
    "FinishLine",
    "Hyperband",
    "MedianStop",
    "Promotion",
    "Scheduler",
    "SuccessiveHalving",
    "make_scheduler",
]

SCHEDULERS: Registry[Scheduler] = Registry(
    "scheduler",
    Scheduler,
    {
        "fifo": FIFO,
        "asha": ASHA,
        "successive_halving": SuccessiveHalving,
        "hyperband": Hyperband,
        "median": MedianStop,
        "pbt": PBT,
        "pb2": PB2,
        "auto": AutoScheduler,
    },
    default=FIFO,
)


def make_scheduler(spec: str | Mapping[str, Any] | Scheduler | None) -> Scheduler:
    """A scheduler from an instance, ``None`` (FIFO), a name or a table with ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the known ones), or options the scheduler refuses.
    """
    return SCHEDULERS.build(spec)
