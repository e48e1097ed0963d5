"""The learning-rate toolkit: schedules, the LR range test, and batch-size scaling.

Example:
    >>> import numpy as np
    >>> import tunesmith as ts
    >>> lrs = ts.lr.WarmupCosine(3e-3, total_steps=1000, warmup=0.06)(np.arange(1000))
    >>> result = ts.lr.range_test(step)                                     # doctest: +SKIP
    >>> space = ts.Space({"lr": result.bounds()})                            # doctest: +SKIP

The PyTorch pieces (`range_test_torch`, ``Schedule.torch(optimizer)``) load ``torch`` only when used.
"""

from __future__ import annotations

from typing import Any

from tunesmith.lr.range_test import RangeTestError, RangeTestResult, StepReturnError, range_test
from tunesmith.lr.scaling import LargeBatchScalingWarning, ScaledLR, linear_scaling, scale_lr, tie_lr_to_batch
from tunesmith.lr.schedules import (
    SCHEDULES,
    Constant,
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
from tunesmith.lr.search import SEARCHABLE_KINDS, schedule_from_params, schedule_params

__all__ = [
    "SCHEDULES",
    "SEARCHABLE_KINDS",
    "Constant",
    "CosineAnnealing",
    "CosineWarmRestarts",
    "Cyclical",
    "Exponential",
    "LargeBatchScalingWarning",
    "OneCycle",
    "RangeTestError",
    "RangeTestResult",
    "ScaledLR",
    "Schedule",
    "StepDecay",
    "StepReturnError",
    "WarmupCosine",
    "WarmupLinear",
    "linear_scaling",
    "range_test",
    "range_test_torch",
    "scale_lr",
    "schedule_from_params",
    "schedule_params",
    "tie_lr_to_batch",
]


def range_test_torch(*args: Any, **kwargs: Any) -> RangeTestResult:
    """`tunesmith.lr.pytorch.range_test_torch`, imported on first use (needs the ``torch`` extra)."""
    from tunesmith.lr.pytorch import range_test_torch as run

    return run(*args, **kwargs)
