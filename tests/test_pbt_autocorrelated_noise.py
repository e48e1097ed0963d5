"""PBT exploits a member only when it trails beyond the noise of a mean of its reports, and a loss that wanders from
report to report (SGD's does) makes that mean far noisier than its step-to-step scatter says: identical members are
exploited at about the level whatever the correlation of their noise, and the stop reason says what it allowed for."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import tunesmith as ts
from tunesmith.context import SearchContext
from tunesmith.decision import Decision
from tunesmith.trial import TrialRecord, TrialState

CONTEXT = SearchContext(metric=ts.Metric("loss", "min"))
NOISE = 0.05


def _member(number: int, curve: np.ndarray) -> TrialRecord:
    """A running trial that reported ``curve`` from step 1."""
    return TrialRecord(number=number, params={"lr": 0.05}, seed=number, state=TrialState.RUNNING,
                       intermediate={s: {"loss": float(v)} for s, v in enumerate(curve, 1)},
                       resource=float(len(curve)))  # fmt: skip


def _wandering(rng: np.random.Generator, members: int, steps: int, rho: float) -> np.ndarray:
    """Curves of identical members: a shared decay plus noise of sd ``NOISE`` with lag-1 correlation ``rho``."""
    noise = rng.normal(0.0, NOISE, (members, steps))
    for step in range(1, steps):
        noise[:, step] = rho * noise[:, step - 1] + np.sqrt(1.0 - rho**2) * noise[:, step]
    return 2.0 * np.exp(-np.arange(1, steps + 1) / 5) + 0.3 + noise


def _sgd(rng: np.random.Generator, members: int, steps: int) -> np.ndarray:
    """The loss ``w**2`` of SGD on ``w**2`` from 5 with gradient noise, learning rate 0.05 for all: the members differ
    by their seeds alone."""
    w, curves = np.full(members, 5.0), np.empty((members, steps))
    for step in range(steps):
        w = w - 0.05 * (2.0 * w + rng.normal(0.0, 1.0, members))
        curves[:, step] = w * w
    return curves


def _rounds_with_an_exploit(populations: Callable[[np.random.Generator], list[TrialRecord]], rounds: int) -> int:
    pbt, rng = ts.PBT(perturbation_interval=4), np.random.default_rng(0)
    exploited = 0
    for _ in range(rounds):
        population = populations(rng)
        exploited += any(pbt.decide(r, population, CONTEXT) is Decision.STOP for r in population)
    return exploited


def test_identical_members_whose_loss_wanders_from_report_to_report_are_exploited_in_few_rounds() -> None:
    def population(rng: np.random.Generator) -> list[TrialRecord]:
        return [_member(n, c) for n, c in enumerate(_wandering(rng, 8, 8, rho=0.8))]

    # Two bottom members are tested at level 0.05 a round: about 6 rounds of 100 (99 before, as if independent).
    assert _rounds_with_an_exploit(population, 100) <= 15


def test_identical_sgd_members_differing_by_their_seeds_alone_are_exploited_in_few_rounds() -> None:
    def population(rng: np.random.Generator) -> list[TrialRecord]:
        return [_member(n, c) for n, c in enumerate(_sgd(rng, 8, 32))]

    # About 1 round of 60 (42 before).
    assert _rounds_with_an_exploit(population, 60) <= 9


def test_identical_wandering_members_a_step_apart_are_judged_on_the_steps_they_share_and_exploited_in_few_rounds() -> (
    None
):
    def population(rng: np.random.Generator) -> list[TrialRecord]:
        curves = _wandering(rng, 8, 12, rho=0.8)
        # Half the members reached step 12, a round; the others lag a step behind (workers drifting apart).
        return [_member(n, c if n % 2 == 0 else c[:11]) for n, c in enumerate(curves)]

    assert _rounds_with_an_exploit(population, 100) <= 15


def test_the_stop_reason_says_what_the_noise_was_measured_on_and_the_correlation_it_allowed_for() -> None:
    curves = _wandering(np.random.default_rng(1), 8, 8, rho=0.8)
    curves[-1] += 20 * NOISE  # far behind the others at every step
    population = [_member(n, c) for n, c in enumerate(curves)]
    pbt = ts.PBT(perturbation_interval=4)
    assert pbt.decide(population[-1], population, CONTEXT) is Decision.STOP
    why = pbt.explain(population[-1], population, CONTEXT) or ""
    assert "of 8 members' steps 1-8" in why, why
    assert "allowing a lag-1 correlation up to" in why, why
