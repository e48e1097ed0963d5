"""A study's constructor arguments, checked once: every rule with the value received and the fix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith._validate import integer, real
from tunesmith.budget import Budget
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric
from tunesmith.space import Space

__all__ = ["DEFAULT_GRACE", "DEFAULT_HEARTBEAT_INTERVAL", "Settings", "check_grace"]

DEFAULT_HEARTBEAT_INTERVAL = 10.0
DEFAULT_GRACE = 300.0


@dataclass(frozen=True)
class Settings:
    """The checked arguments of `Study`. The ``given_*`` fields keep what the caller passed (``None``
    when omitted), so that reopening a stored study can tell a contradiction from an omission;
    ``guardrails`` and ``budget`` are what a new study is created with."""

    space: Space
    metric: Metric
    guardrails: tuple[Guardrail, ...]
    budget: Budget
    divergence_factor: float | None
    trial_cost: float | None
    keep_checkpoints: int
    given_seed: int | None
    given_retries: int | None
    given_interval: float | None
    given_grace: float | None
    given_guardrails: tuple[Guardrail, ...] | None = None
    given_budget: Budget | None = None

    @property
    def heartbeat_interval(self) -> float:
        return DEFAULT_HEARTBEAT_INTERVAL if self.given_interval is None else self.given_interval

    @property
    def grace(self) -> float:
        return DEFAULT_GRACE if self.given_grace is None else self.given_grace

    @classmethod
    def check(
        cls,
        *,
        space: Any,
        metric: Any,
        guardrails: Sequence[Any] | None,
        budget: Any,
        seed: Any,
        heartbeat_interval: Any,
        grace: Any,
        retries: Any,
        keep_checkpoints: Any,
        divergence_factor: Any,
        trial_cost: Any,
    ) -> Settings:
        """Check every argument; raise `ConfigError` naming the rule, the value and the fix."""
        if not isinstance(space, Space):
            raise ConfigError(f"space must be a tunesmith.Space, got {type(space).__name__}: wrap the dict in ts.Space")
        checked_metric = Metric(metric) if isinstance(metric, str) else metric
        if not isinstance(checked_metric, Metric):
            raise ConfigError(f"metric must be a name or ts.Metric, got {metric!r}")
        if guardrails is not None and not isinstance(guardrails, Sequence):
            raise ConfigError(f"guardrails must be a list of ts.Guardrail, got {guardrails!r}: wrap it in a list")
        given_guardrails = None if guardrails is None else tuple(guardrails)
        for guardrail in given_guardrails or ():
            if not isinstance(guardrail, Guardrail):
                raise ConfigError(f"guardrails must be ts.Guardrail objects, got {guardrail!r}")
        checked_budget = budget or Budget()
        if not isinstance(checked_budget, Budget):
            raise ConfigError(f"budget must be a ts.Budget, got {budget!r}")
        if divergence_factor is not None and not (
            isinstance(divergence_factor, int | float) and divergence_factor > 1 and math.isfinite(divergence_factor)
        ):
            raise ConfigError(
                f"divergence_factor must be > 1 or None, got {divergence_factor!r}: use 10 to stop a loss that "
                "grows tenfold over its first value, or None to disable"
            )
        settings = cls(
            space=space,
            metric=checked_metric,
            guardrails=given_guardrails or (),
            budget=checked_budget,
            given_guardrails=given_guardrails,
            given_budget=None if budget is None else checked_budget,
            divergence_factor=divergence_factor,
            trial_cost=real("trial_cost", trial_cost, exclusive_minimum=0, allow_none=True),
            keep_checkpoints=integer("keep_checkpoints", keep_checkpoints, minimum=0),
            given_seed=integer("seed", seed, minimum=0, allow_none=True),
            given_retries=integer("retries", retries, minimum=0, allow_none=True),
            given_interval=real(
                "heartbeat_interval", heartbeat_interval, exclusive_minimum=0, allow_none=True,
                fix="pass the seconds between heartbeats, e.g. 10",
            ),
            given_grace=real(
                "grace", grace, exclusive_minimum=0, allow_none=True,
                fix="pass the seconds of silence after which a trial counts as lost, e.g. 300",
            ),
        )  # fmt: skip
        check_grace(settings.heartbeat_interval, settings.grace)
        return settings


def check_grace(interval: float, grace: float) -> None:
    """Refuse a grace period a live worker's heartbeats could not keep within."""
    if grace <= interval:
        raise ConfigError(
            f"grace must exceed heartbeat_interval, got grace={grace!r} <= heartbeat_interval={interval!r}: "
            "a live worker would be taken for lost; use grace of several intervals"
        )
