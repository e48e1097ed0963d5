"""The verdict: is the chosen configuration ready for production, and if not, why not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunesmith.attributes import CheckAttr, VerdictAttr
from tunesmith.study._verdict_state import evidence_of, stale_note, warn_if_judged

__all__ = ["Check", "Verdict", "evidence_of", "stale_note", "warn_if_judged"]

# Checks that judge no property of the configuration: the optimism is information only, and the holdout's
# openings are the procedure's. A "ready" needs some other check to have run.
_ABOUT_THE_PROCEDURE = frozenset({"optimism", "holdout opened once"})


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
        leans: an undecided pass whose estimate lies beyond the check's limit, within noise of it (a seed
            spread; a holdout gap, a slice or a shifted drop only when shown above zero as well, since on the
            estimate's side of the limit alone it is a coin flip), or of unknown noise: not shown to fail, and not
            shown to pass either, so the verdict is "not shown ready" rather than "ready".
    """

    name: str
    passed: bool
    detail: str
    checked: bool = True
    decided: bool = True
    leans: bool = False

    def __post_init__(self) -> None:
        if not self.checked and not self.passed:
            raise ValueError(f"check {self.name!r} could not run, so it cannot fail: pass checked=True or passed=True")
        if self.leans and (self.decided or not self.passed or not self.checked):
            raise ValueError(f"check {self.name!r} leans beyond its limit only as an undecided pass: pass "
                             "decided=False, passed=True and checked=True, or leans=False")  # fmt: skip

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
                         leans=self.leans, detail=self.detail)  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """Whether a configuration is ready, with every check that decided it.

    ``ready`` is true when no check failed and none leans beyond its limit (`Check.leans`); checks that could not
    run, and passed checks whose evidence could not decide but whose estimate lies within their limit, are listed
    in the headline but do not block, as long as one check of the configuration ran (`unsupported`): when none
    could, nothing supports a "ready", and the verdict reads "not shown ready". A check that failed for want of
    evidence (`Check.decided` false) blocks "ready" as a decided failure does, but the verdict then reads "not shown
    ready", never "not ready": the evidence could not tell, and it never fails on a coin flip.
    """

    checks: tuple[Check, ...]
    trial: int | None = None

    def __init__(self, checks: Sequence[Check], trial: int | None = None) -> None:
        object.__setattr__(self, "checks", tuple(checks))
        object.__setattr__(self, "trial", trial)

    @property
    def ready(self) -> bool:
        return all(check.passed and not check.leans for check in self.checks) and not self.unsupported

    @property
    def unsupported(self) -> bool:
        """Whether no check of the configuration could run (the optimism and the holdout's openings judge none):
        plain-float scores with no re-runs and no baseline give every check nothing to read, and a "ready" would
        rest on no evidence at all."""
        return not any(c.checked for c in self.checks if c.name not in _ABOUT_THE_PROCEDURE)

    @property
    def leaning(self) -> tuple[Check, ...]:
        """The undecided checks whose estimate lies beyond their limit: they keep the verdict from "ready"."""
        return tuple(c for c in self.checks if c.leans)

    @property
    def failed(self) -> tuple[Check, ...]:
        """Every failed check, whether its evidence decided or not."""
        return tuple(c for c in self.checks if not c.passed)

    @property
    def failed_decided(self) -> tuple[Check, ...]:
        """The checks the evidence decided failed: only these make the verdict "not ready" (status "fail")."""
        return tuple(c for c in self.failed if c.decided)

    @property
    def unshown(self) -> tuple[Check, ...]:
        """The checks that keep the verdict from "ready" on evidence that could not decide: failed for want of it
        (`Check.decided` false), or leaning beyond their limit (`Check.leans`)."""
        return tuple(c for c in self.checks if not c.decided and (not c.passed or c.leans))

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
        """The verdict in a line, printed and stored alike: "not ready" with every decided failure's reason, then
        those of the checks that failed undecided, marked so; else "not shown ready (the evidence cannot decide)"
        with the reason of every check that failed undecided or leans beyond its limit within noise; else, when no
        check of the configuration could run (`unsupported`), "not shown ready" naming them; else "ready",
        qualified by the checks whose evidence could not decide and those that could not run (it rests on the
        others)."""
        if self.failed_decided:
            undecided = [c for c in self.failed if not c.decided]
            return "not ready: " + "; ".join([f"{c.name} - {c.detail}" for c in self.failed_decided]
                                             + [f"{c.name} (undecided) - {c.detail}" for c in undecided])  # fmt: skip
        if self.unshown:
            return "not shown ready (the evidence cannot decide): " + "; ".join(
                f"{c.name} - {c.detail}" for c in self.unshown
            )
        if self.unsupported:
            names = ", ".join(c.name for c in self.unchecked if c.name not in _ABOUT_THE_PROCEDURE)
            if not names:
                return "not shown ready (no check of the configuration was made)"
            return (f"not shown ready (no check of the configuration could run: {names}; each check says what it "
                    "needs)")  # fmt: skip
        qualifiers = [f"{what}: {', '.join(c.name for c in checks)}"
                      for what, checks in (("undecided", self.undecided), ("not checked", self.unchecked))
                      if checks]  # fmt: skip
        return "ready" + (f" ({'; '.join(qualifiers)})" if qualifiers else "")

    def summary(self) -> str:
        """The headline (`headline`), then one line per check."""
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
        # "fail" only on a decided failure: a check that failed for want of evidence is undecided, so "warn"
        status = "fail" if self.failed_decided else ("warn" if self.unchecked or self.undecided else "pass")
        return VerdictAttr(
            status=status,
            ready=self.ready,
            summary=self.headline,
            reasons=tuple(f"{c.name} [{c.status}]: {c.detail}" for c in self.checks),
            checks=tuple(c.attribute() for c in self.checks),
            trial=self.trial,
        )
