"""Which validation set a study tunes on, and which studies on the same storage tuned on it before.

Every configuration compared on one validation set makes the best score on it more optimistic, and a person who
looks at one search's scores, tweaks the space and searches again under a new study name has compared the
configurations of both searches on that set: the second search was designed knowing the first one's scores, and may
have been steered to where the set happens to flatter. The optimism `finalize` reports counted one study's
configurations; it gives the optimism of the best of the earlier studies' and its own beside it once it knows they
scored the same set. So each study records the set it tunes on (`ValidationSetAttr`):

* a name the user gives (``Study(validation_set="churn-2024-val")``, a config's ``validation_set``), which
  replaces a name derived as below; another name given for a study that recorded one is refused;
* else the objective's ``module:qualname`` (`stable_name`), recorded by `optimize`: the same function scores the
  same set. A lambda, a closure or a function of an interactive session has none, and the verdict then says to
  name the set;
* a `TunesmithSearchCV` records a hash of the rows, splits and fit parameters it scored on, with its scorer.

`earlier_studies` finds, in one read of the storage's studies, the ones created before this one that record the
same set, the same metric (name, direction and scale) and the same scoring, and reads their trials.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunesmith._text import controls_in, terminal_safe
from tunesmith.attributes import CopiesAttr, ValidationSetAttr, read_attr, write_attr
from tunesmith.errors import ConfigError
from tunesmith.objective import COUNT, Metric
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.storage import StudyInfo
    from tunesmith.study._study import Study

__all__ = [
    "GIVEN",
    "UNNAMED",
    "EarlierStudy",
    "ExampleCountWatch",
    "ExampleCountWarning",
    "checked_name",
    "compared_text",
    "earlier_studies",
    "mixed_examples_note",
    "record_validation_set",
    "reuse_line",
    "validation_set",
]

GIVEN = "given"  # a name the user gave, which a derived one never replaces
_COMPARED = (TrialState.COMPLETE, TrialState.INFEASIBLE)  # what the optimism estimate compares


@dataclass(frozen=True)
class EarlierStudy:
    """A study on the same storage, created before this one, that tuned on the same validation set.

    Attributes:
        name: its name.
        records: its trials the optimism estimate compares: finished (complete or infeasible), not invalidated,
            with a value of the metric.
    """

    name: str
    records: tuple[TrialRecord, ...]


def checked_name(value: object) -> str | None:
    """``value`` as a validation set's name (``None`` stays ``None``).

    Raises:
        ConfigError: not a non-empty string, or one with control characters (the terminal would run them).
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or controls_in(value):
        raise ConfigError(
            f"validation_set must name the validation set, a non-empty string of printable characters, got "
            f"validation_set={terminal_safe(repr(value), markup=False)}: pass the same name wherever that set "
            "scores a search (validation_set='churn-2024-val'), or leave it out to name it after the objective's "
            "module:qualname"
        )
    return value


def validation_set(study: Study) -> ValidationSetAttr | None:
    """The validation set the study records (``None``: none named)."""
    return read_attr(study.attrs, ValidationSetAttr)


def record_validation_set(study: Study, name: str, source: str, scoring: str | None = None) -> None:
    """Record that ``study`` tunes on the validation set ``name`` (``source``: `GIVEN`, ``"objective"`` or
    ``"data"``; ``scoring``: what its metric measures, when its name does not say).

    A name given replaces a derived one; a derived name never replaces a recorded one (the first objective or data
    a study ran on named its set).

    Raises:
        ConfigError: a name given for a study that recorded another given name: its scores so far were measured on
            that set.
    """
    stored = validation_set(study)
    if stored is not None and (stored.name, stored.scoring) == (name, scoring):
        if source == GIVEN and stored.source != GIVEN:
            write_attr(study, ValidationSetAttr(name=name, source=source, scoring=scoring))
        return
    if stored is not None and source == GIVEN and stored.source == GIVEN:
        raise ConfigError(
            f"a study tunes on one validation set, but study {study.name!r} records validation_set="
            f"{stored.name!r} and this names validation_set={name!r}: its scores so far were measured on "
            f"{stored.name!r}. Pass validation_set={stored.name!r} to go on with it, or a new study name for a "
            f"search on {name!r}"
        )
    if stored is None or source == GIVEN:
        write_attr(study, ValidationSetAttr(name=name, source=source, scoring=scoring))


def _copied_here(info: StudyInfo, url: str) -> tuple[str, int] | None:
    """The study of this storage (at ``url``) that ``info`` was last copied from, with how many trials the copy took
    (`CopiesAttr`); ``None`` for a study not copied here."""
    copies = read_attr(info.attrs, CopiesAttr)
    if copies is None or not copies.copies or copies.copies[-1].source != url:
        return None
    last = copies.copies[-1]
    return last.study, last.trials


def earlier_studies(study: Study) -> tuple[EarlierStudy, ...]:
    """The studies on ``study``'s storage created before it that tuned on its validation set, with the same metric
    (name, direction and scale) and scoring, oldest first, each with the trials it compared (none listed that
    compared none). Empty when ``study`` records no validation set. One read of the studies' attributes (this
    study's among them), then the trials of the matching ones."""
    studies = sorted(study.storage.list_studies(), key=lambda i: (i.created_at, i.id))
    this = next(info for info in studies if info.name == study.name)
    mine = read_attr(this.attrs, ValidationSetAttr)
    if mine is None:
        return ()
    metric = study.metric.name
    found = []
    before = studies[: studies.index(this)]  # created before it
    sizes: set[int] | None = None  # this study's numbers of examples: read once an earlier study matches by name
    named = {info.name for info in before} | {this.name}
    this_copied = _copied_here(this, study.storage.url)
    for info in before:
        if ValidationSetAttr.KEY not in info.attrs:
            continue
        other = ValidationSetAttr.from_json(info.attrs[ValidationSetAttr.KEY],
                                            f"{ValidationSetAttr.KEY} of study {info.name!r}")  # fmt: skip
        stored = info.spec.get("metric")
        if (other.name, other.scoring) != (mine.name, mine.scoring) or not isinstance(stored, dict):
            continue
        if Metric.from_json(stored) != study.metric:
            continue
        # A copy on this storage holds its source's trials, numbered as they were: counted once, with the source
        # (or as this study's own, when this study is the copy), where 'A' and 'A-backup' counted them twice.
        shared = 0
        if (theirs := _copied_here(info, study.storage.url)) is not None and theirs[0] in named:
            shared = theirs[1]
        elif this_copied is not None and this_copied[0] == info.name:
            shared = this_copied[1]
        records = tuple(r for r in study.storage.get_trials(info.id)
                        if r.state in _COMPARED and r.invalidated is None and r.value(metric) is not None
                        and r.number >= shared)  # fmt: skip
        if not records:
            continue
        # A name derived from the objective is the function's, which may read another set on another day: where both
        # studies' per-example results say how many examples they were read from, and no count is shared, the sets
        # differ (a name the user gave stands: they said it is one set).
        if mine.source != GIVEN:
            sizes = set(example_counts(study.trials, study.metric)) if sizes is None else sizes
            their_sizes = set(example_counts(records, study.metric))
            if sizes and their_sizes and sizes.isdisjoint(their_sizes):
                continue
        found.append(EarlierStudy(info.name, records))
    return tuple(found)


UNNAMED = (
    "the validation set has no name (the objective is a lambda, a closure, a callable object or a function of an "
    "interactive session, and no validation_set was given), so studies that tuned on it before cannot be counted: "
    "pass ts.Study(..., validation_set='<name of the set>'), the same name wherever that set scores a search"
)


def compared_text(
    compared: int, earlier: Mapping[str, int], name: str | None, across: float | None = None, own: float | None = None,
    *, mixed: bool = False,
) -> str:  # fmt: skip
    """``"40 configurations compared on the same validation data"`` (``mixed``: their scores were read from
    validation sets of different sizes, `mixed_examples_note`, which says which), and, when studies created before
    this one compared more on it (``earlier``: how many, by study), how many, by which, on which set (``name``), with
    the optimism of the best of them all (``across``) beside this study's own (``own``), when both are known."""
    data = "validation sets of different sizes" if mixed else "the same validation data"
    said = f"{compared} configurations compared on {data}"
    if not earlier:
        return said
    more = sum(earlier.values())
    said += (f", and {more} more by {_studies(earlier)} on this storage that tuned on validation set {name!r} "
             f"({_by_study(earlier)}): "
             "a search designed after another's scores were seen may have been steered to where this set "
             "flatters")  # fmt: skip
    if across is None or own is None or not math.isfinite(own):
        return said
    return (f"{said}; counting them, the best of the {compared + more} is optimistic by about {across:.3g}, against "
            f"{own:.3g} for this study's best of {compared}; the holdout gap takes back this study's part alone, so "
            "whatever reusing the set added shows there")  # fmt: skip


_NAMED_BY = {GIVEN: "given", "objective": "named after the objective", "data": "the data and splits scored on"}


def reuse_line(named: ValidationSetAttr, earlier: Sequence[EarlierStudy]) -> str | None:
    """What the CLI summary (`run`, `status`) says when studies created before this one tuned on its validation set
    (``None``: none did)."""
    if not earlier:
        return None
    counts = {e.name: len(e.records) for e in earlier}
    count = sum(counts.values())
    return (f"validation set {named.name!r} ({_NAMED_BY.get(named.source, named.source)}): {_studies(counts)} on "
            f"this storage tuned on it ({_by_study(counts)} configurations); "
            f"finalize gives the optimism of the best of those {count} and this study's together beside its own: "
            "a search designed after their scores were seen may have been steered to where the set "
            "flatters")  # fmt: skip


def _studies(counts: Mapping[str, int]) -> str:
    """``"1 earlier study"``, ``"3 earlier studies"``."""
    return f"{len(counts)} earlier stud{'y' if len(counts) == 1 else 'ies'}"


def _by_study(counts: Mapping[str, int], shown: int = 5) -> str:
    """``"'v1': 40, 'v2': 10"``: the first ``shown`` studies' counts, then how many more."""
    listed = ", ".join(f"{study!r}: {count}" for study, count in list(counts.items())[:shown])
    return listed + (f", and {len(counts) - shown} more" if len(counts) > shown else "")


class ExampleCountWarning(UserWarning):
    """A trial's metric was scored on another number of validation examples than the study's earlier trials'
    (`ExampleCountWatch`): another validation set, whose scores do not compare with theirs."""


# What ranking across sets does, and the fix: said by the run's warning and by every view of the best.
_MIXED_WHY = ("scores on different validation sets do not compare (a set's difficulty moves every score on it), so "
              "ranking them together can pick a trial for an easier set; score every trial of a study on one set, "
              "and tune on a changed set in a new study (name it with validation_set=)")


def example_counts(records: Sequence[TrialRecord], metric: Metric) -> dict[int, list[int]]:
    """The numbers of validation examples (or folds) the COMPLETE trials' ``metric`` was read from (its
    ``count:<name>``, which per-example results carry), each with its trials' numbers; trials without one are left
    out."""
    counts: dict[int, list[int]] = {}
    for record in records:
        count = record.metrics.get(f"{COUNT}{metric.name}")
        if record.state is TrialState.COMPLETE and count is not None and math.isfinite(count):
            counts.setdefault(int(count), []).append(record.number)
    return counts


def mixed_examples_note(records: Sequence[TrialRecord], metric: Metric) -> str | None:
    """What to say when the complete trials' ``metric`` was read from different numbers of validation examples
    (``None``: one number, or none recorded)."""
    counts = example_counts(records, metric)
    if len(counts) < 2:
        return None
    parts = ", ".join(f"{count} for {_trials(numbers)}" for count, numbers in sorted(counts.items()))
    return f"the trials' {metric.name} was read from different numbers of validation examples ({parts}): {_MIXED_WHY}"


def _trials(numbers: Sequence[int], shown: int = 3) -> str:
    """``trial #4`` or ``12 trials (#0, #1, #2 and 9 more)``."""
    if len(numbers) == 1:
        return f"trial #{numbers[0]}"
    named = ", ".join(f"#{n}" for n in numbers[:shown])
    more = f" and {len(numbers) - shown} more" if len(numbers) > shown else ""
    return f"{len(numbers)} trials ({named}{more})"


class ExampleCountWatch:
    """Says once when a trial finishes whose metric was read from another number of validation examples than the
    study's earlier complete trials: the data changed under the study (a resumed study on a new split), or the
    objective scores each trial on a subset of its own; either way the trials' scores stop comparing."""

    def __init__(self, metric: Metric, history: Sequence[TrialRecord]) -> None:
        self.metric = metric
        self.counts = example_counts(history, metric)
        self.said = False

    def see(self, record: TrialRecord) -> str | None:
        """The warning ``record`` calls for, once a run; ``None`` otherwise."""
        count = example_counts([record], self.metric)
        if not count:
            return None
        ((examples, _),) = count.items()
        earlier = sorted(self.counts)
        self.counts.setdefault(examples, []).append(record.number)
        if self.said or not earlier or examples in earlier:
            return None
        self.said = True
        before = " or ".join(str(c) for c in earlier)
        return (f"trial #{record.number}'s {self.metric.name} was read from {examples} validation examples, the "
                f"study's earlier trials' from {before}: {_MIXED_WHY}")
