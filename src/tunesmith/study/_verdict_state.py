"""Whether a recorded verdict still judges its study: the evidence it read (`evidence_of`), why it went stale
(`stale_note`), and the warning when a step of the discipline makes it so (`warn_if_judged`). Pure functions of
the study's attributes and trials, so that every layer that shows a verdict (the report, the CLI, the tracking
integrations) can say it is stale; `tunesmith.discipline.verdict` re-exports them."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from tunesmith._caller import outside_stacklevel
from tunesmith.attributes import (
    BaselineAttr,
    ChoiceAttr,
    HoldoutLogAttr,
    SeedStabilityAttr,
    VerdictAttr,
    read_attr,
)
from tunesmith.study._limits import HoldoutSpentWarning
from tunesmith.trial import TrialRecord

__all__ = ["evidence_of", "stale_note", "standing", "warn_if_judged"]


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


def standing(attrs: Mapping[str, Any], records: Sequence[TrialRecord]) -> dict[str, Any] | None:
    """What every view that carries the recorded verdict says of it now (``None`` before `finalize`): ``ready``,
    ``recorded_ready`` (what `finalize` recorded) and ``stale`` (`stale_note`). A stale verdict vouches for nothing,
    so its ``ready`` is false whatever was recorded: a script that gates on ``ready`` never ships a winner
    invalidated since (a label leak read ``"ready": true`` beside its stale note)."""
    verdict = read_attr(attrs, VerdictAttr)
    if verdict is None:
        return None
    stale = stale_note(attrs, records)
    return {"ready": verdict.ready and stale is None, "recorded_ready": verdict.ready, "stale": stale}


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
        stacklevel=outside_stacklevel(),
    )


def _changed_evidence(recorded: Mapping[str, Any] | None, now: Mapping[str, str]) -> list[str]:
    if not recorded:
        return []  # a verdict recorded before its evidence was: nothing to compare
    return [_EVIDENCE[key] for key in _EVIDENCE if recorded.get(key) != now.get(key)]
