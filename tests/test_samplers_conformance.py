"""Every sampler passes the conformance suite in `tunesmith.testing.samplers`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tunesmith.samplers import CMAES, GP, TPE, Auto, Grid, Random, Sampler, Sobol
from tunesmith.testing.samplers import SAMPLER_CHECKS, check_sampler

SAMPLERS: dict[str, Callable[[], Sampler]] = {
    "random": Random,
    "grid": lambda: Grid(shuffle=True),
    "sobol": Sobol,
    "tpe": lambda: TPE(n_startup=6),
    "gp": lambda: GP(n_startup=5, n_candidates=256),
    "cmaes": lambda: CMAES(n_startup=6),
    "auto": Auto,
}


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("check", SAMPLER_CHECKS, ids=lambda c: c.__name__)
def test_sampler_conformance(name: str, check: Callable[..., None]) -> None:
    check(SAMPLERS[name])


def test_check_sampler_runs_every_check() -> None:
    check_sampler(Sobol)


def test_check_sampler_rejects_a_sampler_that_ignores_its_rng() -> None:
    class Constant(Random):
        def suggest(self, space, history, rng, context):  # type: ignore[no-untyped-def]
            return space.decode([0.5] * len(space.dimensions))

    with pytest.raises(AssertionError):
        check_sampler(Constant)
