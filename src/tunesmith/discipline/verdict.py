"""The verdict: is the chosen configuration ready for production, and if not, why not."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.attributes import (
    BaselineAttr,
    CheckAttr,
    ChoiceAttr,
    HoldoutLogAttr,
    SeedStabilityAttr,
    VerdictAttr,
    read_attr,
)
from tunesmith.study import HoldoutSpentWarning
from tunesmith.trial import TrialRecord

__all__ = ["Check", "Verdict", "evidence_of", "stale_note", "warn_if_judged"]


def stale_note(attrs: Mapping[str, Any], records: Sequence[TrialRecord]) -> str | None:
    """Why the recorded verdict no longer judges the study as it stands (``None``: it does, or there is none):
    trials finished after the holdout was last opened, the re-runs or the recorded choice now pick another trial
    than the one judged, it was invalidated, or the re-runs or baseline runs it read changed since. The holdout
    is spent by then, so only a forced opening can judge again, and the verdict says so."""
    verdict = read_attr(attrs, VerdictAttr)
    log = read_attr(attrs, HoldoutLogAttr)
    if verdict is None or log is None or not log.openings:
        return None
    opened = log.openings[-1].at
    later = [r for r in records if r.state.is_finished and r.finished_at is not None and r.finished_at > opened]
    stability = read_attr(attrs, SeedStabilityAttr)
    # A verdict that recorded its evidence goes stale when the re-runs change (below); an older one, when the
    # re-runs pick another trial than the one it judged.
    moved = (verdict.evidence is None and stability is not None and stability.winner is not None
             and verdict.trial is not None and stability.winner != verdict.trial)  # fmt: skip
    judged = next((r for r in records if r.number == verdict.trial), None)
    void = judged is not None and judged.invalidated is not None
    choice = read_attr(attrs, ChoiceAttr)
    chosen = choice is not None and verdict.trial is not None and choice.trial != verdict.trial
    changed = _changed_evidence(verdict.evidence, evidence_of(attrs))
    if not later and not moved and not void and not chosen and not changed:
        return None
    reasons = []
    if later:
        reasons.append(f"{len(later)} trials finished after the holdout was opened")
    if moved and stability is not None:
        reasons.append(f"the seed re-runs now pick trial #{stability.winner}, not the judged #{verdict.trial}")
    if chosen and choice is not None:
        reasons.append(f"the recorded choice is now trial #{choice.trial}, not the judged #{verdict.trial}")
    if void and judged is not None:
        reasons.append(f"the judged trial #{judged.number} was invalidated since ({judged.invalidated})")
    reasons += [f"the {what} it judged changed since" for what in changed]
    return (
        f"stale: {' and '.join(reasons)}; the holdout is spent, so a new verdict needs a forced opening "
        "(ts.finalize(..., force=True), tunesmith finalize --force), which the verdict records"
    )


# The attributes a verdict reads besides the trials, each with its name in words.
_EVIDENCE = {SeedStabilityAttr.KEY: "seed re-runs (validate_top)", BaselineAttr.KEY: "baseline runs"}


def evidence_of(attrs: Mapping[str, Any]) -> dict[str, str]:
    """A digest of each attribute the verdict reads besides the trials (the seed re-runs, the baseline), to tell
    later whether a verdict still judges them (`stale_note`)."""
    return {key: hashlib.sha256(json.dumps(attrs.get(key), sort_keys=True, default=str).encode()).hexdigest()[:16]
            for key in _EVIDENCE}  # fmt: skip


def warn_if_judged(attrs: Mapping[str, Any], what: str) -> None:
    """Warn (`HoldoutSpentWarning`) when ``what`` ran after a verdict was recorded: it changed evidence the verdict
    read, so the verdict is stale, and only a forced opening of the holdout can judge again."""
    if read_attr(attrs, VerdictAttr) is None:
        return
    warnings.warn(
        f"{what} ran after the study's verdict was recorded: the verdict judged the earlier evidence and is now "
        "stale (status and the report say so); a new verdict needs a forced opening of the holdout "
        "(ts.finalize(..., force=True), tunesmith finalize --force), which it records",
        HoldoutSpentWarning,
        stacklevel=3,
    )


def _changed_evidence(recorded: Mapping[str, Any] | None, now: Mapping[str, str]) -> list[str]:
    if not recorded:
        return []  # a verdict recorded before its evidence was: nothing to compare
    return [_EVIDENCE[key] for key in _EVIDENCE if recorded.get(key) != now.get(key)]


@dataclass(frozen=True)
class Check:
    """One check of the verdict.

    Attributes:
        name: what was checked ("holdout gap", "seed stability", ...).
        passed: whether the configuration passed it (a check that could not run counts as passed).
        detail: the figures behind the outcome, in words.
        checked: ``False`` when the check could not run (what is missing is in ``detail``).
        decided: ``False`` when it ran but the evidence could not decide (what would is in ``detail``):
            passed when the burden of proof lies on a failure (the holdout gap, seed spread, slices,
            shifted data), failed when it lies on the configuration (guardrails, the baseline margin).
    """

    name: str
    passed: bool
    detail: str
    checked: bool = True
    decided: bool = True

    def __post_init__(self) -> None:
        if not self.checked and not self.passed:
            raise ValueError(f"check {self.name!r} could not run, so it cannot fail: pass checked=True or passed=True")

    @property
    def status(self) -> str:
        """``"ok"``, ``"FAILED"``, ``"undecided"`` (passed, the evidence could not decide), ``"FAILED,
        undecided"`` (failed for want of evidence) or ``"not checked"``."""
        if not self.checked:
            return "not checked"
        if not self.decided:
            return "undecided" if self.passed else "FAILED, undecided"
        return "ok" if self.passed else "FAILED"

    def to_json(self) -> dict[str, Any]:
        return self.attribute().to_json()

    def attribute(self) -> CheckAttr:
        """Its entry in the study attribute ``verdict``."""
        return CheckAttr(name=self.name, passed=self.passed, checked=self.checked, decided=self.decided,
                         detail=self.detail)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """Whether a configuration is ready, with every check that decided it.

    ``ready`` is true when no check failed; checks that could not run, and passed checks whose evidence
    could not decide, are listed in the headline but do not block.
    """

    checks: tuple[Check, ...]
    trial: int | None = None

    def __init__(self, checks: Sequence[Check], trial: int | None = None) -> None:
        object.__setattr__(self, "checks", tuple(checks))
        object.__setattr__(self, "trial", trial)

    @property
    def ready(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def check(self, name: str) -> Check:
        """The check called ``name``."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}: the checks are {[c.name for c in self.checks]}")

    @property
    def unchecked(self) -> tuple[Check, ...]:
        """The checks that could not run (what each lacks is in its detail)."""
        return tuple(c for c in self.checks if not c.checked)

    @property
    def undecided(self) -> tuple[Check, ...]:
        """The checks that ran but whose evidence could not decide (what would decide each is in its detail)."""
        return tuple(c for c in self.checks if c.checked and not c.decided)

    @property
    def headline(self) -> str:
        """"ready", qualified by the checks whose evidence could not decide and those that could not run (it
        rests on the others), or "not ready" with every failed check's reason; printed and stored alike."""
        if self.ready:
            qualifiers = [f"{what}: {', '.join(c.name for c in checks)}"
                          for what, checks in (("undecided", self.undecided), ("not checked", self.unchecked))
                          if checks]  # fmt: skip
            return "ready" + (f" ({'; '.join(qualifiers)})" if qualifiers else "")
        return "not ready: " + "; ".join(f"{c.name} - {c.detail}" for c in self.failed)

    def summary(self) -> str:
        """One line that says "ready" or "not ready" with the failed reasons, then one line per check."""
        lines = [self.headline]
        lines += [f"  [{c.status}] {c.name}: {c.detail}" for c in self.checks]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_attr(self) -> dict[str, Any]:
        """The JSON of `attribute`."""
        return self.attribute().to_json()

    def attribute(self) -> VerdictAttr:
        """The study attribute ``verdict`` the HTML report shows (see `tunesmith.attributes`)."""
        status = "fail" if not self.ready else ("warn" if self.unchecked or self.undecided else "pass")
        return VerdictAttr(
            status=status,
            ready=self.ready,
            summary=self.headline,
            reasons=tuple(f"{c.name} [{c.status}]: {c.detail}" for c in self.checks),
            checks=tuple(c.attribute() for c in self.checks),
            trial=self.trial,
        )
