"""Domain priors: parameters with the ranges the field knows, ready to put in a `Space`.

Each function returns a parameter whose bounds follow the guide's importance table; every
setting can be overridden, and any other keyword (``when=...``) goes to the parameter::

    space = ts.Space({
        "lr": ts.priors.learning_rate(),                 # 1e-5 .. 1e-1, log scale
        "batch_size": ts.priors.batch_size(high=512),    # 32 .. 512, powers of two
        "weight_decay": ts.priors.weight_decay(),
        "layers": ts.priors.depth(),
    })

`PRIORITY` orders them by their usual impact, so that the budget goes to the first ones first;
`priority_of` reads a parameter's place in it from its name (the planner uses it to say which
parameters a small budget should leave at their defaults).
"""

from __future__ import annotations

from typing import Any

from tunesmith.space import Float, Int
from tunesmith.space._names import kind_of

__all__ = [
    "DEFAULTS",
    "PRIORITY",
    "adam_beta1",
    "adam_beta2",
    "adam_eps",
    "batch_size",
    "priority_of",
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

#: The default a low-priority parameter is left at when it is not tuned.
DEFAULTS: dict[str, str] = {"adam_beta1": "0.9", "adam_beta2": "0.999", "adam_eps": "1e-8", "momentum": "0.9"}


def priority_of(name: str) -> tuple[str, str, str] | None:
    """The `PRIORITY` entry ``(prior, priority, why)`` a parameter's name points to, or ``None``.

    The name is read word by word (`tunesmith.space._names.kind_of`), so common spellings from PyTorch, Keras,
    scikit-learn and Hugging Face configs are recognised: ``learning_rate_init``, ``lr_peak``,
    ``per_device_train_batch_size``, ``hidden_dropout_prob``, ``hidden_layer_sizes``, ``beta_2``.

    Example: ``priority_of("optimizer.beta2")`` is ``("adam_beta2", "low", ...)``.
    """
    kind = kind_of(name)
    return None if kind is None else next(entry for entry in PRIORITY if entry[0] == kind)


def learning_rate(low: float = 1e-5, high: float = 1e-1, *, log: bool = True, **options: Any) -> Float:
    """Learning rate: 1e-5 to 1e-1 on a log scale (a 10x change often matters)."""
    return Float(low, high, log=log, **options)


def batch_size(low: int = 32, high: int = 4096, *, base: int | None = 2, **options: Any) -> Int:
    """Batch size: 32 to 4096, powers of two."""
    return Int(low, high, base=base, **options)


def weight_decay(low: float = 1e-5, high: float = 1e-1, *, log: bool = True, **options: Any) -> Float:
    """L2 strength (weight decay): 1e-5 to 1e-1 on a log scale."""
    return Float(low, high, log=log, **options)


def dropout(low: float = 0.0, high: float = 0.5, *, log: bool = False, **options: Any) -> Float:
    """Dropout rate: 0.0 to 0.5, uniform.

    Dropout is a probability: its useful values differ by tenths, not by factors of ten, and 0
    (no dropout) is a fair candidate, so it is searched uniformly rather than on a log scale.
    Past 0.5 a layer drops most of its units; large over-parameterised layers sometimes still
    gain there: ``dropout(high=0.6)``.
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
