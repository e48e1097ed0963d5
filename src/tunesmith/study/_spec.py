"""The stored spec: what a study is, written once when it is created and checked on every reopening."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunesmith.budget import Budget
from tunesmith.errors import ConfigError
from tunesmith.objective import Guardrail, Metric
from tunesmith.space import Space

if TYPE_CHECKING:
    from tunesmith.study._settings import Settings

__all__ = ["SPEC_VERSION", "StudySpec"]

SPEC_VERSION = 1


@dataclass(frozen=True)
class StudySpec:
    """A study's definition as stored with it (JSON in the storage's ``spec`` column).

    ``sampler`` and ``scheduler`` are their ``describe()`` forms, which `make_sampler` and
    `make_scheduler` rebuild. ``retries``, ``heartbeat_interval`` and ``grace`` are ``None`` in
    studies stored before they were recorded.
    """

    space: Space
    metric: Metric
    seed: int
    guardrails: tuple[Guardrail, ...] = ()
    budget: Budget = field(default_factory=Budget)
    sampler: Any = None
    scheduler: Any = None
    retries: int | None = None
    heartbeat_interval: float | None = None
    grace: float | None = None
    version: int = SPEC_VERSION

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "space": self.space.to_json(),
            "metric": self.metric.to_json(),
            "guardrails": [g.to_json() for g in self.guardrails],
            "budget": self.budget.to_json(),
            "sampler": self.sampler,
            "scheduler": self.scheduler,
            "seed": self.seed,
        }
        if self.retries is not None:
            data["retries"] = self.retries
        if self.heartbeat_interval is not None:
            data["heartbeat_interval"] = self.heartbeat_interval
        if self.grace is not None:
            data["grace"] = self.grace
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StudySpec:
        """Read a stored spec (older specs lack ``retries``, ``heartbeat_interval`` and ``grace``)."""
        return cls(
            space=Space.from_json(data["space"]),
            metric=Metric.from_json(data["metric"]),
            seed=int(data["seed"]),
            guardrails=tuple(Guardrail.from_json(g) for g in data.get("guardrails", [])),
            budget=Budget.from_json(data.get("budget")),
            sampler=data.get("sampler"),
            scheduler=data.get("scheduler"),
            retries=None if data.get("retries") is None else int(data["retries"]),
            heartbeat_interval=_seconds_or_none(data.get("heartbeat_interval")),
            grace=_seconds_or_none(data.get("grace")),
            version=int(data.get("version", SPEC_VERSION)),
        )

    def check_reopened(self, name: str, where: str, settings: Settings) -> None:
        """Refuse to reopen study ``name`` (stored as ``self``) with settings that contradict it.

        Raises:
            ConfigError: naming the setting that differs and how to resume instead.
        """
        if self.space != settings.space:
            raise ConfigError(
                f"study {name!r} already exists in {where} with a different space: "
                "use a new name, or ts.Study.load(name, storage) to resume it as stored"
            )
        if self.metric != settings.metric:
            raise ConfigError(
                f"study {name!r} exists with metric {self.metric.to_json()}, not {settings.metric.to_json()}: "
                "use a new name for a different metric"
            )
        if settings.given_seed is not None and self.seed != settings.given_seed:
            raise ConfigError(
                f"study {name!r} exists with seed={self.seed}, not seed={settings.given_seed}: "
                "drop the seed to resume, or use a new name"
            )
        if settings.given_retries is not None and self.retries is not None and self.retries != settings.given_retries:
            raise ConfigError(
                f"study {name!r} exists with retries={self.retries}, not retries={settings.given_retries}: "
                "drop retries to resume (every worker must re-queue alike), or use a new name"
            )
        if settings.given_grace is not None and self.grace is not None and self.grace != settings.given_grace:
            raise ConfigError(
                f"study {name!r} exists with grace={self.grace:g}, not grace={settings.given_grace:g}: drop grace "
                "to resume with the stored value (every worker must judge lost trials alike), or use a new name"
            )


def _seconds_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
