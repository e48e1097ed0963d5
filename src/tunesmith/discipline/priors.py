"""Domain priors: parameters with the ranges the field knows, ready to put in a `Space`.

Each function returns a parameter whose bounds follow the guide's importance table; every
setting can be overridden, and any other keyword (``when=...``) goes to the parameter::

    space = ts.Space({
        "lr": ts.priors.learning_rate(),                 # 1e-5 .. 1e-1, log scale
        "batch_size": ts.priors.batch_size(high=512),    # 32 .. 512, powers of two
        "weight_decay": ts.priors.weight_decay(),
        "layers": ts.priors.depth(),
    })

`PRIORITY` orders them by their usual impact, so that the budget goes to the first ones first.
"""

from __future__ import annotations

from typing import Any

from tunesmith.space import Float, Int

__all__ = [
    "PRIORITY",
    "adam_beta1",
    "adam_beta2",
    "adam_eps",
    "batch_size",
    "depth",
    "dropout",
    "learning_rate",
    "momentum",
    "weight_decay",
    "width",
]

#: The guide's hierarchy, most impactful first: (prior, priority, why it matters).
PRIORITY: tuple[tuple[str, str, str], ...] = (
    ("learning_rate", "critical", "largest single factor; controls the optimisation trajectory"),
    ("batch_size", "high", "sets the gradient noise scale and so generalisation"),
    ("weight_decay", "high", "regularisation: the bias-variance trade-off"),
    ("dropout", "high", "regularisation: the bias-variance trade-off"),
    ("depth", "medium", "capacity, with diminishing returns past a threshold"),
    ("width", "medium", "capacity, with diminishing returns past a threshold"),
    ("adam_beta1", "low", "rarely worth tuning; Adam's default is usually optimal"),
    ("adam_beta2", "low", "rarely worth tuning; Adam's default is usually optimal"),
    ("adam_eps", "low", "rarely worth tuning; Adam's default is usually optimal"),
    ("momentum", "low", "SGD momentum; 0.9 is the usual default"),
)


def learning_rate(low: float = 1e-5, high: float = 1e-1, *, log: bool = True, **options: Any) -> Float:
    """Learning rate: 1e-5 to 1e-1 on a log scale (a 10x change often matters)."""
    return Float(low, high, log=log, **options)


def batch_size(low: int = 32, high: int = 4096, *, base: int | None = 2, **options: Any) -> Int:
    """Batch size: 32 to 4096, powers of two."""
    return Int(low, high, base=base, **options)


def weight_decay(low: float = 1e-5, high: float = 1e-1, *, log: bool = True, **options: Any) -> Float:
    """L2 strength (weight decay): 1e-5 to 1e-1 on a log scale."""
    return Float(low, high, log=log, **options)


def dropout(low: float = 1e-5, high: float = 1e-1, *, log: bool = True, **options: Any) -> Float:
    """Dropout rate: 1e-5 to 1e-1 on a log scale, the guide's regularisation range.

    Small networks on small data often want more: ``dropout(0.0, 0.5, log=False)``.
    """
    return Float(low, high, log=log, **options)


def depth(low: int = 2, high: int = 6, **options: Any) -> Int:
    """Number of layers: 2 to 6."""
    return Int(low, high, **options)


def width(low: int = 64, high: int = 1024, *, base: int | None = 2, **options: Any) -> Int:
    """Units per layer: 64 to 1024, powers of two."""
    return Int(low, high, base=base, **options)


def adam_beta1(low: float = 0.85, high: float = 0.95, **options: Any) -> Float:
    """Adam's beta1 near its default 0.9."""
    return Float(low, high, **options)


def adam_beta2(low: float = 0.99, high: float = 0.9999, **options: Any) -> Float:
    """Adam's beta2 near its default 0.999."""
    return Float(low, high, **options)


def adam_eps(low: float = 1e-10, high: float = 1e-6, *, log: bool = True, **options: Any) -> Float:
    """Adam's epsilon near its default 1e-8, on a log scale."""
    return Float(low, high, log=log, **options)


def momentum(low: float = 0.8, high: float = 0.99, **options: Any) -> Float:
    """SGD momentum near its usual 0.9."""
    return Float(low, high, **options)
