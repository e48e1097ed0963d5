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

A condition switches a parameter off; a forbidden clause rules out a combination of values that must never run
(`Forbidden`: a mapping of parameter to test, or an expression). Clauses are stored with the space, so a reopened
study keeps them; samplers never propose a forbidden configuration, and an enqueued one is refused:

    >>> space = Space(
    ...     {"kernel": Choice(["linear", "rbf"]), "degree": Int(1, 5),
    ...      "batch_size": Int(32, 4096, base=2), "grad_accum": Int(1, 8)},
    ...     forbidden=[
    ...         Forbidden({"kernel": "linear", "degree": Above(1)}),
    ...         Forbidden("batch_size * grad_accum > 4096"),
    ...     ],
    ... )

The parameter classes live in `tunesmith.space._params`, `Space` in `tunesmith.space._space`, the clauses in
`tunesmith.space._forbidden`; import them from here.
"""

from __future__ import annotations

from tunesmith.space._forbidden import Above, Below, Forbidden
from tunesmith.space._params import Choice, Fixed, Float, Int, Param
from tunesmith.space._params import JsonScalar as JsonScalar
from tunesmith.space._space import Space, SpaceWarning

__all__ = ["Above", "Below", "Choice", "Fixed", "Float", "Forbidden", "Int", "Param", "Space", "SpaceWarning"]
