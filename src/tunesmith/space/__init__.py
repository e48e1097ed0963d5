"""Search spaces: parameters with priors, conditions, and the unit-cube encoding samplers work in.

Every parameter that can vary is one dimension of the unit cube ``[0, 1]^d``. Floats map
linearly or logarithmically; integers and choices map to equal-width bins, so a sampler that
proposes any point of the cube always decodes to a valid value. A parameter switched off by
its condition encodes as ``NaN``.

Example:
    >>> space = Space({
    ...     "lr": Float(1e-5, 1e-1, log=True),
    ...     "batch_size": Int(32, 4096, base=2),
    ...     "optimizer": Choice(["adam", "sgd"]),
    ...     "momentum": Float(0.8, 0.99, when={"optimizer": "sgd"}),
    ... })

The parameter classes live in `tunesmith.space._params`, `Space` in `tunesmith.space._space`;
import them from here.
"""

from __future__ import annotations

from tunesmith.space._params import Choice, Fixed, Float, Int, Param
from tunesmith.space._params import JsonScalar as JsonScalar
from tunesmith.space._space import Space, SpaceWarning

__all__ = ["Choice", "Fixed", "Float", "Int", "Param", "Space", "SpaceWarning"]
