"""Coming from Optuna: copy a study into tunesmith (`import_study`), or use tunesmith's samplers in Optuna code.

Needs the ``optuna`` extra (``pip install 'tunesmith[optuna]'``); importing this module without Optuna
raises `MissingExtra`.

Unchanged Optuna code with a tunesmith sampler::

    import optuna
    from tunesmith.integrations.optuna import TunesmithSampler

    study = optuna.create_study(sampler=TunesmithSampler("gp", seed=0))
    study.optimize(objective, n_trials=50)   # objective calls trial.suggest_float(...) as before

An Optuna study continued under tunesmith (CLI: ``tunesmith import-optuna --from sqlite:///optuna.db --study NAME``)::

    result = import_study("sqlite:///optuna.db", "NAME", storage="sqlite:///tunesmith.db")
    result.study.optimize(objective, n_trials=20)   # the sampler continues from the imported trials
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunesmith.context import SearchContext
from tunesmith.errors import ConfigError, SearchSpaceExhausted, require
from tunesmith.integrations._optuna_convert import InferredSpace, infer_space, param_of, record_of
from tunesmith.integrations._optuna_import import ImportResult, OptunaImportAttr, import_study
from tunesmith.objective import Direction, Metric
from tunesmith.samplers import Sampler, make_sampler
from tunesmith.space import Space, SpaceWarning
from tunesmith.trial import TrialRecord

require("optuna", "optuna")

import optuna  # noqa: E402 - after the check that names the extra
from optuna.distributions import BaseDistribution  # noqa: E402
from optuna.search_space import IntersectionSearchSpace  # noqa: E402
from optuna.study import StudyDirection  # noqa: E402
from optuna.trial import FrozenTrial  # noqa: E402
from optuna.trial import TrialState as OptunaState  # noqa: E402

__all__ = ["ImportResult", "InferredSpace", "OptunaImportAttr", "TunesmithSampler", "import_study", "infer_space"]

# The metric name tunesmith's samplers see; Optuna's value is a bare number.
_METRIC = "value"


class TunesmithSampler(optuna.samplers.BaseSampler):
    """An Optuna sampler that asks a tunesmith sampler (``"auto"``, ``"gp"``, ``"tpe"``, ``"sobol"``, ...).

    Optuna's relative search space is the intersection of the distributions of its COMPLETE trials
    (``optuna.search_space.IntersectionSearchSpace``), as for Optuna's own GP sampler; ``sample_relative``
    turns it into a `Space` and every Optuna trial into a tunesmith record (PRUNED: stopped with its last
    intermediate value; FAIL: failed; RUNNING: pending), and returns the tunesmith sampler's proposal.
    A parameter outside that space (the first trial's, or one asked only sometimes) is drawn from its prior
    by ``sample_independent``. Works for minimised and maximised single-objective studies.

    Args:
        sampler: a tunesmith sampler: a name, a table (``{"name": "tpe", "gamma": 0.2}``) or a `Sampler`.
        seed: seeds every draw, from the seed and the trial's number (and the parameter's name for an independent
            draw), so a study with the same history gets the same proposals, resumed or not.

    Raises:
        ConfigError: an unknown sampler (at construction), or a multi-objective study (at its first trial).
    """

    def __init__(self, sampler: str | Mapping[str, Any] | Sampler | None = "auto", seed: int | None = None) -> None:
        self._sampler = make_sampler(sampler)
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._search_space = IntersectionSearchSpace()

    def __repr__(self) -> str:
        return f"TunesmithSampler(sampler={self._sampler!r}, seed={self._seed!r})"

    def reseed_rng(self) -> None:
        self._rng = np.random.default_rng()

    def _rng_for(self, trial: FrozenTrial, name: str = "") -> np.random.Generator:
        """The draws' generator: seeded by the seed, the trial's number and ``name`` (one stateful generator gave a
        resumed study other proposals than an uninterrupted one with the same history); unseeded without a seed."""
        if self._seed is None:
            return self._rng
        return np.random.default_rng([self._seed, trial.number, zlib.crc32(name.encode("utf-8"))])

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if len(study.directions) != 1:
            raise ConfigError(
                f"TunesmithSampler optimises one objective, got a study with {len(study.directions)} "
                f"({', '.join(d.name.lower() for d in study.directions)}): use it with a single-objective study"
            )
        return {n: d for n, d in self._search_space.calculate(study).items() if not d.single()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        space = _space(search_space)
        history = _history(study.get_trials(deepcopy=False), space, exclude=trial.number)
        direction: Direction = "max" if study.direction is StudyDirection.MAXIMIZE else "min"
        context = SearchContext(metric=Metric(_METRIC, direction))
        try:
            return self._sampler.suggest(space, history, self._rng_for(trial), context)
        except SearchSpaceExhausted:  # a grid has run out: Optuna draws the rest independently
            return {}

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpaceWarning)
            return param_of(param_name, param_distribution).sample(self._rng_for(trial, param_name))


def _space(search_space: Mapping[str, BaseDistribution]) -> Space:
    # The bounds are the user's own Optuna code: tunesmith's advice on meaningful ranges would repeat every trial.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpaceWarning)
        return Space({name: param_of(name, d) for name, d in search_space.items()})


def _history(trials: Sequence[FrozenTrial], space: Space, *, exclude: int) -> list[TrialRecord]:
    """Optuna's trials as the records a tunesmith sampler reads, restricted to ``space``: a value the space
    does not hold (asked with other bounds) is left out, so the sampler reads it as inactive."""
    history = []
    for trial in trials:
        if trial.number == exclude or trial.state is OptunaState.WAITING:
            continue
        record = record_of(trial, _METRIC, live=True)
        params = {k: v for k, v in record.params.items() if k in space and space[k].contains(v)}
        history.append(record.evolve(params=params))
    return history
