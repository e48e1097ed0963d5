"""What `Study.optimize` shows while it runs, and what it says when it is interrupted.

The bar follows whichever limit ends the run first: the trial budget or ``n_trials`` (counted in
finished trials, the time left from the rate this run finishes them), the wall-time budget or
``timeout`` (seconds), or the resource budget. Trials stored before the run started count as done;
trials other workers finish meanwhile are not seen (the bar reads storage once, at the start).

Beside it, the best value so far; with several objectives, which have no single best, the size of the Pareto
front instead, and its hypervolume once the study has a reference point (given, or stored after its first
complete trials; until then each finished trial looks for the stored one, as each `Study.ask` does).
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith._progress import REFRESH_PER_SECOND, Progress, pulsed, shown
from tunesmith.budget import Budget, compute_time, counts_toward_budget
from tunesmith.pareto import hypervolume, loss_matrix, pareto_front
from tunesmith.study._multi import sampler_reference
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = ["SearchProgress", "resume_hint"]


@dataclass
class _Limit:
    unit: str
    done: float
    total: float
    timed: bool  # its units are seconds: the time left is what remains of them
    base: float = 0.0  # done when this run started (not part of the observed rate)

    def seconds_left(self, elapsed: float, per_unit: float | None) -> float | None:
        remaining = max(0.0, self.total - self.done)
        if self.timed:
            return remaining
        counted = self.done - self.base
        if counted > 0:
            return elapsed / counted * remaining
        return None if per_unit is None else per_unit * remaining


class SearchProgress:
    """The search's progress; every method is a no-op when it is neither shown nor pulsed (`tunesmith._progress`:
    storage is then never read)."""

    def __init__(
        self, study: Study, *, n_trials: int | None, timeout: float | None, show: bool | None, workers: int
    ) -> None:
        self.study = study
        self.bar: Progress | None = None
        if not shown(show) and not pulsed(show):
            return
        records = study.trials
        self.started = time.monotonic()
        self.clock_start = study._clock()
        self.counted = {r.number for r in records if r.state.is_finished and counts_toward_budget(r)}
        self.finished_here = 0
        self.failed = 0
        self.several = len(study.objectives) > 1  # no single best: the front is shown instead
        self.best = None if self.several else study.best_of(records)
        self.front: list[TrialRecord] = pareto_front(records, study.objectives) if self.several else []
        self.hypervolume = self._hypervolume() if self.several else None
        usage = Budget.usage(records, self.clock_start)
        self.elapsed0, self.resource, self.compute = usage.elapsed, usage.resource, usage.compute
        budget = study.budget
        self.limits: dict[str, _Limit] = {}
        if budget.trials is not None:
            self.limits["trials"] = _Limit("trials", len(self.counted), budget.trials, False, len(self.counted))
        if n_trials is not None:
            self.limits["n_trials"] = _Limit("trials", 0, n_trials, False)
        if budget.wall_seconds is not None:
            self.limits["wall_time"] = _Limit("s of budget", usage.elapsed, budget.wall_seconds, True, usage.elapsed)
        if timeout is not None:
            self.limits["timeout"] = _Limit("s", 0, timeout, True)
        if budget.resource is not None:
            self.limits["resource"] = _Limit("resource", usage.resource, budget.resource, False, usage.resource)
        if budget.compute_seconds is not None:  # counted as trials finish, as resource is
            self.limits["compute"] = _Limit("s of compute", usage.compute, budget.compute_seconds, False, usage.compute)
        # Before the first trial ends, a declared trial cost is the only honest guess.
        self.per_unit = None if study.trial_cost is None else study.trial_cost / max(1, workers)
        self.next_draw = 0.0
        done, total, unit, eta, detail = self._state()
        self.bar = Progress(f"search {study.name}", total, unit=unit, done=done, show=True if shown(show) else None)
        self.bar.update(eta=eta, detail=detail)

    def finished(self, record: TrialRecord) -> None:
        """Count a trial this run told."""
        if self.bar is None:
            return
        self.finished_here += 1
        if counts_toward_budget(record) and record.state is not TrialState.PAUSED:
            self.counted.add(record.number)
        self.resource += record.resource if record.state.is_finished else 0.0
        self.compute += compute_time([record], self.study._clock()) if record.state.is_finished else 0.0
        self.failed += record.state is TrialState.FAILED
        if self.several:
            self.front = pareto_front([*self.front, record], self.study.objectives)  # the front of all trials seen
            self.hypervolume = self._hypervolume()
        else:
            best = self.study.best_of([record, *([self.best] if self.best else [])])
            self.best = best
        self._draw(force=self.finished_here == 1)  # the first trial told brings the first estimate: never skip it

    def tick(self) -> None:
        """Redraw the time-based limits (the loop calls this on every pass; drawing is throttled)."""
        if self.bar is not None:
            self._draw()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.bar is None or (not force and now < self.next_draw):
            return
        self.next_draw = now + 1.0 / REFRESH_PER_SECOND
        done, total, unit, eta, detail = self._state()
        self.bar.update(done, total=total, unit=unit, eta=eta, detail=detail)

    def _state(self) -> tuple[float, float, str, float | None, str]:
        """Done, total and unit of the limit that ends the run first, the seconds left, and the detail."""
        elapsed = time.monotonic() - self.started
        for name, limit in self.limits.items():
            limit.done = {
                "trials": float(len(self.counted)),
                "n_trials": float(self.finished_here),
                "wall_time": self.elapsed0 + (self.study._clock() - self.clock_start),
                "timeout": elapsed,
                "resource": self.resource,
                "compute": self.compute,
            }[name]
        estimates = {name: limit.seconds_left(elapsed, self.per_unit) for name, limit in self.limits.items()}
        known = [name for name, left in estimates.items() if left is not None]
        if known:
            binding = min(known, key=lambda name: estimates[name] or 0.0)
        else:
            binding = max(self.limits, key=lambda name: self.limits[name].done / max(self.limits[name].total, 1e-9))
        limit = self.limits[binding]
        if self.several:
            best = self._front_text()
        else:
            metric = self.study.metric.name
            best = "" if self.best is None else f"best {metric} {self.best.value(metric):.4g}"
        detail = " · ".join(part for part in (best, f"{self.failed} failed" if self.failed else "") if part)
        return limit.done, limit.total, limit.unit, estimates[binding], detail

    def _front_text(self) -> str:
        """The Pareto front's size and hypervolume (several objectives), empty before any trial is on it."""
        if not self.front:
            return ""
        size = f"Pareto front {len(self.front)} trial{'' if len(self.front) == 1 else 's'}"
        return size if self.hypervolume is None else f"{size} · hypervolume {self.hypervolume:.4g}"

    def _hypervolume(self) -> float | None:
        """The front's hypervolume against the study's reference point, as `Study.hypervolume` measures it
        (``None`` while the study has none)."""
        reference = sampler_reference(self.study)
        if not reference:
            return None
        _, losses = loss_matrix(self.front, self.study.objectives)
        return hypervolume(losses, reference)

    def close(self, error: BaseException | None) -> None:
        """End the bar: done, or interrupted (with how to resume), or stopped by an error."""
        if self.bar is None:
            return
        self._draw(force=True)
        if isinstance(error, KeyboardInterrupt):
            self.bar.close("interrupted")
        else:
            self.bar.close("done" if error is None else "stopped")


def resume_hint(study: Study) -> str:
    """How to carry on after Ctrl-C, in Python (the CLI prints its own command)."""
    url = study.storage.url
    if url == "memory":
        return (
            f"interrupted: study {study.name!r} lives in memory; its trials so far are kept in this object "
            "(the running one recorded as interrupted): call study.optimize(objective) again to continue"
        )
    return (
        f"interrupted: the trials of study {study.name!r} are kept in {url} (the running one recorded as "
        f"interrupted, so it does not spend the budget); resume with "
        f"ts.Study.load({study.name!r}, storage={url!r}).optimize(objective)"
        + ("" if "***" not in url else " (put the password back into the storage URL)")
    )


def command_arguments(name: str, url: str) -> str:
    """``NAME --storage URL`` as a command pasted back takes them (`listing_arguments`); the quoted name alone for a
    study in memory."""
    return listing_arguments(name, url) or shlex.quote(name)


def listing_arguments(name: str, url: str) -> str:
    """``NAME --storage URL`` as a shell reads them (quoted where needed), for a command that lists a study's trials;
    ``""`` for a study in memory, which no command can read. A password in the URL shows as ``***``."""
    if url == "memory":
        return ""
    return f"{shlex.quote(name)} --storage {shlex.quote(url)}"
