"""Warm starts: earlier results, from another study, a CSV file or records, as the samplers' prior knowledge.

``Study(warm_start=source)`` reads the source once, when the study records it: each result becomes a point
``{"params", "value"}`` of the study attribute ``warm_start`` (`WarmStartAttr`; a study with several
objectives adds ``"values"``, every objective's, since a result without them reads as a failure to the
samplers), together with the source
in words. Every worker then reads the points from there (`tunesmith.study._known.read_known`), so a resumed
study or a ``tunesmith worker`` needs no access to the source. A parameter the space lacks is refused
(the results would describe another search); a result outside the space's bounds, without a finite
value of the metric, or that `Space.validate` would refuse (a parameter the space makes active left out, one
its conditions switch off given, or a combination its forbidden clauses rule out) is dropped, and a
`WarmStartWarning` says how many. Only a parameter defined by
run (one the study, or the source study, learned from what its trials asked for by name, or one the source study's
own trials ran without although its space makes it active: an imported Optuna study's optional parameters) may be
missing from some results and given by others: the trials that took another branch never asked for it.

Staged tuning (the learning rate first, then the next parameters in order of importance) warm-starts each stage
from the one before, whose results lack the parameters added since. Such results are refused, naming what they
lack, unless ``warm_start=WarmStart(earlier, fill={...})`` gives the value the earlier runs used for each: it is
filled into every result that lacks it (where the parameter is active), checked against the space, and kept in
the attribute's ``fill`` with the source.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from tunesmith._caller import outside_stacklevel
from tunesmith._text import excerpt
from tunesmith.attributes import WarmStartAttr, read_attr, write_attr
from tunesmith.errors import ConfigError, SpaceError
from tunesmith.objective import Guardrail, Metric
from tunesmith.space import Choice, Fixed, Float, Int, Space
from tunesmith.space._scalars import is_json_scalar
from tunesmith.space._scalars import plain as unwrapped
from tunesmith.study._known import from_text, plain
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = [
    "EarlierResults", "WarmStart", "WarmStartSource", "WarmStartWarning", "record_warm_start", "refit_to_space",
]  # fmt: skip

EarlierResults: TypeAlias = "Study | str | os.PathLike[str] | Sequence[TrialRecord | Mapping[str, Any]]"
WarmStartSource: TypeAlias = "WarmStart | EarlierResults"

# One result as read: its parameters (values as the source holds them) and each objective's value, by name.
_Row = tuple[dict[str, Any], dict[str, Any]]


class WarmStartWarning(UserWarning):
    """Some earlier results were dropped from a warm start: outside the space's bounds, not the parameters the space
    makes active, or without a value."""


@dataclass(frozen=True)
class WarmStart:
    """Earlier results with the values they ran at for parameters they lack: ``Study(warm_start=...)``.

    A stage of staged tuning adds parameters the stage before did not tune; its runs used one value for each
    (the objective's default), which ``fill`` gives. It is filled into every result that lacks the parameter
    where the parameter is active; a result that gives its own value keeps it.

    Example:
        >>> stage2 = ts.Study(space, metric="loss", warm_start=ts.WarmStart(stage1, fill={"dropout": 0.1}))

    Args:
        source: the earlier results: a `Study`, a CSV file's path or a list of records.
        fill: parameter name -> the value the earlier runs used; each must lie in this study's space.

    Raises:
        ConfigError: a source that is itself a `WarmStart`, or a fill that is not names and single values.
    """

    source: EarlierResults
    fill: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.source, WarmStart):
            raise ConfigError(
                "WarmStart takes the earlier results, got another WarmStart: pass its source, with one fill "
                "holding every value, WarmStart(source, fill={...})"
            )
        if not isinstance(self.fill, Mapping) or not all(isinstance(name, str) for name in self.fill):
            raise ConfigError(
                f"WarmStart's fill maps parameter names to values, got {self.fill!r}: pass e.g. fill={{'dropout': 0.1}}"
            )
        fill = {name: unwrapped(value) for name, value in self.fill.items()}
        odd = {name: value for name, value in fill.items() if not is_json_scalar(value)}
        if odd:
            raise ConfigError(
                f"WarmStart's fill gives each parameter the one value the earlier runs used (a number, a string, "
                f"a bool or None), got {odd!r}: give a single value per parameter"
            )
        object.__setattr__(self, "fill", fill)


def record_warm_start(study: Study, source: WarmStartSource | None) -> None:
    """Read ``source`` and store its results as ``study``'s ``warm_start`` attribute (``None``: nothing to do).

    A study records one warm start: the same source and fill given again (a resumed script) is a no-op, another
    one is refused.

    Raises:
        ConfigError: an unreadable source, a metric it lacks, results lacking a parameter the fill does not give,
            no usable result, or a second source.
        SpaceError: a parameter the space lacks, in the results or the fill, or a fill value outside its range.
    """
    if source is None:
        return
    given = source if isinstance(source, WarmStart) else WarmStart(source)
    described = _describe(study, given.source)
    fill = _checked_fill(study.space, given.fill, described)
    stored = read_attr(study.attrs, WarmStartAttr)
    if stored is not None:
        if stored.source == described and stored.fill == fill:
            return
        raise ConfigError(
            f"study {study.name!r} was warm-started from {stored.source}{_filled_text(stored.fill)}, got "
            f"warm_start={described}{_filled_text(fill)}: a study has one warm start; omit warm_start to resume "
            "this study, or start a new one"
        )
    rows = _rows(study, given.source)
    text = _is_csv(given.source)
    named = {name for params, _ in rows for name, value in params.items() if not (text and value == "")}
    unknown = sorted(named - set(study.space))
    if unknown:
        # Define-by-run: a parameter no trial has asked for has no range yet, so its results could be neither
        # checked nor encoded for the samplers; the study's space must know it before the warm start is read.
        raise SpaceError(
            f"warm start from {described}: {unknown} are not parameters of this study's space "
            f"({', '.join(study.space) or 'none yet'}): results of another search would mislead the sampler, "
            "and a parameter the objective asks for by name is known only once a trial asked for it; drop those "
            "parameters from the source, or give them in the space (ts.Study(space=...), which define-by-run "
            "objectives may still extend)"
        )
    rows = [(_filled(study.space, _typed(study.space, params, text=text), fill), values) for params, values in rows]
    _refuse_lacking(study.space, rows, described)
    rows, breaching, unguarded = _guarded_rows(rows, study.guardrails)
    points, dropped = _points(study.space, rows, _objectives(study), _by_run(study, given.source))
    dropped = replace(dropped, breaching=breaching)
    causes = dropped.causes(_names(study))
    if not points:
        raise ConfigError(
            f"warm start from {described}: none of its {dropped.total} results is usable ({causes}): give results of "
            "this search (declare a parameter only some branches use with when={...}, so results of the other "
            "branches may leave it out)"
        )
    if dropped.total or unguarded:
        untested = (f"; {unguarded} of those kept never measured {', '.join(sorted(_guarded(study)))}, so they are "
                   "taken as feasible" if unguarded else "")  # fmt: skip
        warnings.warn(
            f"warm start from {described}: {dropped.total} of {len(rows) + breaching} results dropped ({causes}); "
            f"{len(points)} inform the sampler{untested}",
            WarmStartWarning,
            stacklevel=outside_stacklevel(),
        )
    attr = WarmStartAttr(source=described, metric=study.metric.name, points=tuple(points), dropped=dropped.total,
                         at=study._clock(), fill=dict(fill))  # fmt: skip
    write_attr(study, attr)


def refit_to_space(study: Study) -> None:
    """Check a stored warm start's points again against ``study``'s space, which replaced the one they were read on
    (`_spec.replace_space`, before any trial): a point the new space does not hold (a value outside a narrower range,
    an option taken out, a combination it forbids, a parameter it switches off or lacks) no longer informs the
    samplers, which would learn where to go from a configuration they may never propose. It is counted among the
    dropped, as status says, and a `WarmStartWarning` says how many."""
    stored = read_attr(study.attrs, WarmStartAttr)
    if stored is None or not stored.points:
        return
    given = [frozenset(point["params"]) for point in stored.points]
    branching = frozenset().union(*given) - frozenset.intersection(*given)  # a branch some results did not take
    kept: list[dict[str, Any]] = []
    for point in stored.points:
        try:
            params = _checked(study.space, dict(point["params"]), branching)
        except (_Unfit, SpaceError):
            continue
        if study.space.forbids(params) is None:
            kept.append({**point, "params": params})
    lost = len(stored.points) - len(kept)
    if not lost:
        return
    write_attr(study, replace(stored, points=tuple(kept), dropped=stored.dropped + lost))
    left = f"{len(kept)} still inform the sampler" if kept else "none informs the sampler now"
    warnings.warn(
        f"warm start from {stored.source}: the study's new space does not hold {lost} of its {len(stored.points)} "
        f"results (outside a range, an option or a branch it no longer has, or a combination it forbids); they are "
        f"dropped and {left}: warm-start a new study from the same source to read it against the new space",
        WarmStartWarning,
        stacklevel=outside_stacklevel(),
    )


@dataclass(frozen=True)
class _Dropped:
    """How many earlier results a warm start dropped, by cause."""

    outside: int = 0  # a value outside its parameter's range or options
    # Text where a number goes (a CSV cell "abc" or "n/a" for a learning rate), with the first such (name, text): it
    # was counted outside the bounds, and a reader looked for a value beyond a range.
    unread: int = 0
    first_unread: tuple[str, str] | None = None
    unfit: int = 0  # `_UNFIT`
    no_value: int = 0  # without a finite value of an objective
    breaching: int = 0  # breaching this study's guardrails
    forbidden: int = 0  # a combination the space's clauses forbid

    @property
    def total(self) -> int:
        return self.outside + self.unread + self.unfit + self.no_value + self.breaching + self.forbidden

    def causes(self, names: str) -> str:
        """Each cause's count, for the messages (``names``: the objectives a value is needed for); the forbidden
        clauses only when they dropped some."""
        forbidden = f", {self.forbidden} forbidden by the space's clauses" if self.forbidden else ""
        unread = ""
        if self.first_unread is not None:
            name, text = self.first_unread
            unread = (f", {self.unread} giving text where a number goes ({excerpt(repr(text), 40)} for "
                      f"{excerpt(repr(name), 40)}{' and more' if self.unread > 1 else ''})")  # fmt: skip
        return (f"{self.outside} outside the space's bounds{unread}, {self.unfit} {_UNFIT}, {self.no_value} without a "
                f"finite {names}, {self.breaching} breaching this study's guardrails{forbidden}")  # fmt: skip


def _checked_fill(space: Space, fill: Mapping[str, Any], described: str) -> dict[str, Any]:
    """``fill``'s values as the space holds them, each checked against its parameter's range."""
    unknown = sorted(set(fill) - set(space))
    if unknown:
        raise SpaceError(
            f"warm start from {described}: the fill names {unknown}, which are not parameters of this study's "
            f"space ({', '.join(space) or 'none yet'}): fill only parameters the space has, or add them to it"
        )
    checked = {name: plain(space[name], value) for name, value in fill.items()}
    for name, value in checked.items():
        if not space[name].contains(value):
            raise SpaceError(
                f"warm start from {described}: a fill value must lie in its parameter's range, got {name}={value!r} "
                f"for {space[name].to_json()}: give the value the earlier runs used, and if it lies outside, "
                "widen the range or warm-start without those results"
            )
    return checked


def _filled_text(fill: Mapping[str, Any]) -> str:
    return f" with fill={dict(fill)!r}" if fill else ""


def _typed(space: Space, params: Mapping[str, Any], *, text: bool) -> dict[str, Any]:
    """A result's parameters as the values the space holds (a CSV cell read as its parameter's type)."""
    if not text:
        return {k: plain(space[k], v) for k, v in params.items()}
    out = {k: from_text(space[k], v) for k, v in params.items() if v != ""}  # an empty cell: inactive, else below
    for name in space:  # parents first: an empty option may be what switches a child on
        if params.get(name) == "" and _offers_empty(space[name]) and space.is_active(name, out):
            out[name] = ""
    return out


def _offers_empty(param: Any) -> bool:
    """Whether an empty CSV cell may be ``param``'s value (``Choice(["", ...])``) rather than an inactive one."""
    return isinstance(param, Choice | Fixed) and "" in (param.options if isinstance(param, Choice) else (param.value,))


def _filled(space: Space, params: dict[str, Any], fill: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with each ``fill`` value it lacks, where the parameter is active (parents first, in the space's
    order, so a filled parent switches its children on)."""
    out = dict(params)
    for name in space:
        if name in fill and name not in out and space.is_active(name, out):
            out[name] = fill[name]
    return out


def _refuse_lacking(space: Space, rows: list[_Row], described: str) -> None:
    """Refuse results that lack an active parameter no result gives: the earlier search did not tune it, so
    nothing says the value they ran at (a `Fixed` one the space fills itself)."""
    given = frozenset().union(*(params for params, _ in rows))
    absent = [name for name in space if name not in given and not isinstance(space[name], Fixed)]
    lacking = {name: sum(space.is_active(name, params) for params, _ in rows) for name in absent}
    lacking = {name: count for name, count in lacking.items() if count}
    if not lacking:
        return
    affected = sum(any(space.is_active(name, params) for name in lacking) for params, _ in rows)
    unusable = (f"none of its {len(rows)} results is usable" if affected == len(rows)
                else f"{affected} of its {len(rows)} results are unusable")  # fmt: skip
    what = ", ".join(f"{name!r} ({count} of {len(rows)} results lack it)" for name, count in lacking.items())
    it, its = ("it", "the value") if len(lacking) == 1 else ("them", "the values")
    example = ", ".join(f"{name!r}: <value>" for name in lacking)
    raise ConfigError(
        f"warm start from {described}: {unusable}: every result must give each active parameter of this study's "
        f"space, and none gives {what}: the earlier search did not tune {it}, so {its} its runs used must be "
        f"given: warm_start=ts.WarmStart(earlier, fill={{{example}}}), or declare {it} ts.Fixed(value) in the "
        "earlier study's space"
    )


def _guarded(study: Study) -> list[str]:
    """The metrics this study's guardrails read that are not objectives."""
    objectives = {m.name for m in _objectives(study)}
    return list(dict.fromkeys(g.metric for g in study.guardrails if g.metric not in objectives))


def _guarded_rows(rows: list[_Row], guardrails: Sequence[Guardrail]) -> tuple[list[_Row], int, int]:
    """The rows that meet this study's guardrails where they measured them (a breach would be INFEASIBLE here,
    never a result for the samplers to learn from), how many breached, and how many kept measured none."""
    kept, breaching, unguarded = [], 0, 0
    for params, values in rows:
        measured = [(g, _value(values[g.metric])) for g in guardrails if values.get(g.metric) is not None]
        if any(v is None or not g.holds(v) for g, v in measured):
            breaching += 1
            continue
        unguarded += bool(guardrails) and not measured
        kept.append((params, values))
    return kept, breaching, unguarded


def _objectives(study: Study) -> tuple[Metric, ...]:
    """What each result must carry: every objective of a study with several, else the metric."""
    return study.objectives or (study.metric,)


def _names(study: Study) -> str:
    return " and ".join(repr(m.name) for m in _objectives(study))


def _is_csv(source: object) -> bool:
    return isinstance(source, str | os.PathLike)


def _as_study(source: object) -> Study | None:
    from tunesmith.study._study import Study  # at run time only: the face imports this module

    return source if isinstance(source, Study) else None


def _describe(study: Study, source: EarlierResults) -> str:
    other = _as_study(source)
    if other is not None:
        return f"study {other.name!r} in {other.storage.url}"
    if isinstance(source, str | os.PathLike):
        return f"CSV file {Path(source).resolve()}"
    if isinstance(source, Sequence):
        return f"{len(source)} records"
    raise ConfigError(
        f"warm_start takes a Study, a CSV file's path, a list of records or a WarmStart of one, got "
        f"{type(source).__name__}: pass e.g. warm_start=ts.Study.load('earlier', storage) or "
        "warm_start='results.csv'"
    )


def _rows(study: Study, source: Any) -> list[_Row]:
    objectives = _objectives(study)
    guarded = _guarded(study)
    names = {m.name for m in objectives} | set(guarded)
    other = _as_study(source)
    if other is not None:
        if other.name == study.name and other.storage.url == study.storage.url:
            raise ConfigError(f"study {study.name!r} cannot warm-start from itself: give an earlier study")
        for metric in objectives:
            _same_metric(metric, _objectives(other), f"study {other.name!r}")
        return _record_rows(other.trials, objectives, guarded)
    if _is_csv(source):
        return _csv_rows(Path(source), objectives, guarded)
    records = [r for r in source if isinstance(r, TrialRecord)]
    rows = _record_rows(records, objectives, guarded)
    for item in source:
        if isinstance(item, TrialRecord):
            continue
        if not isinstance(item, Mapping):
            example = ", ".join(f"{m.name!r}: 0.5" for m in objectives)
            raise ConfigError(
                f"warm_start records are TrialRecords or mappings of parameters and {_names(study)}, got "
                f"{type(item).__name__} {item!r}: pass e.g. {{'x': 0.1, {example}}}"
            )
        values = {m.name: item.get(m.name) for m in objectives} | {g: item[g] for g in guarded if g in item}
        rows.append(({k: v for k, v in item.items() if k not in names}, values))
    return rows


def _same_metric(metric: Metric, others: Sequence[Metric], where: str) -> None:
    """Refuse a source that does not measure ``metric`` the same way (one of its objectives, same direction)."""
    other = next((m for m in others if m.name == metric.name), None)
    if other is None or other.direction != metric.direction:
        measures = ", ".join(f"{m.name!r} ({m.direction})" for m in others)
        raise ConfigError(
            f"warm start from {where}: it measures {measures}, this study {metric.name!r} ({metric.direction}): "
            "warm-start from a study of the same metrics"
        )


def _record_rows(records: Iterable[TrialRecord], objectives: Sequence[Metric], guarded: Sequence[str]) -> list[_Row]:
    """COMPLETE, valid trials: the results a search would have learned from (with the guardrail metrics they
    measured, for this study's guardrails)."""
    rows: list[_Row] = []
    for r in records:
        if r.state is TrialState.COMPLETE and r.invalidated is None:
            values = {m.name: r.metrics.get(m.name) for m in objectives}
            rows.append((dict(r.params), values | {g: r.metrics[g] for g in guarded if g in r.metrics}))
    return rows


def _csv_rows(path: Path, objectives: Sequence[Metric], guarded: Sequence[str]) -> list[_Row]:
    """One row per result: a column per parameter and the metric's column (an empty cell: an inactive parameter, or
    the empty option of an active `Choice`, as `_typed` decides); or the file ``tunesmith export`` writes
    (``params.<name>``, ``metrics.<name>``, ``state``;
    its invalidated trials, with an ``invalidated`` reason, are left out)."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            table = list(reader)
            columns = list(reader.fieldnames or [])
    except OSError as exc:
        raise ConfigError(
            f"cannot read the warm-start CSV file {path}: {exc.strerror or exc}: give a readable file"
        ) from None
    if any(c.startswith("params.") for c in columns):  # `tunesmith export`'s columns
        value_columns = {m.name: f"metrics.{m.name}" for m in objectives}
        guard_columns = {g: f"metrics.{g}" for g in guarded if f"metrics.{g}" in columns}
        params_of = {c: c.removeprefix("params.") for c in columns if c.startswith("params.")}
        table = [
            row
            for row in table
            if row.get("state", "complete") == TrialState.COMPLETE.value and not row.get("invalidated")
        ]
    else:
        value_columns = {m.name: m.name for m in objectives}
        guard_columns = {g: g for g in guarded if g in columns}
        params_of = {c: c for c in columns if c not in value_columns and c not in guard_columns}
    for column in value_columns.values():
        if column not in columns:
            raise ConfigError(
                f"the warm-start CSV file {path} has no column {column!r} (its columns: {', '.join(columns)}): "
                f"add the metric's values, one column per parameter plus {column!r}"
            )
    return [
        (
            {name: row[c] for c, name in params_of.items() if row.get(c) is not None},  # "": `_typed` reads it
            {name: row.get(column) for name, column in value_columns.items()}
            | {g: row[c] for g, c in guard_columns.items() if row.get(c) not in (None, "")},
        )
        for row in table
    ]


def _value(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and not isinstance(raw, bool) else None


# How the warning and the error name the results `_checked` finds unfit.
_UNFIT = "lacking a parameter the space makes active or giving one it switches off"


class _Unfit(SpaceError):
    """A result that lacks a parameter the space makes active, or gives one the space's conditions switch off."""


def _by_run(study: Study, source: EarlierResults) -> frozenset[str]:
    """The parameters defined by run: learned by ``study`` from what its trials asked for by name, or by the source
    study (whose space, given to this study, declares them, though its trials asked for them on some branches only),
    or that the source study's own trials ran without (`_ran_without`)."""
    learned = frozenset(study.space) - frozenset(study._defined.given or ())
    other = _as_study(source)
    if other is None:
        return learned
    return learned | (frozenset(other.space) - frozenset(other._defined.given or ())) | _ran_without(other)


def _ran_without(source: Study) -> frozenset[str]:
    """The parameters ``source``'s space makes active that one of its complete trials ran without.

    Its own proposals give every active parameter, so such a trial was not proposed from that space: it was imported
    from Optuna, whose objective asked for the parameter on branches no other parameter's value explains (`when=`
    cannot say "only when x > 0.5"), so the import keeps it unconditional (`InferredSpace.optional`). The trial ran
    with the parameter inactive, as ``source``'s samplers read it; a parameter the space switches off where a trial
    lacks it is not one of these, so a space that drops a branch's condition still refuses that branch's results.
    """
    space = source.space
    lacked: set[str] = set()
    for record in source.trials:
        if record.state is TrialState.COMPLETE and record.invalidated is None:
            lacked.update(
                name
                for name, param in space.items()
                if name not in record.params and not isinstance(param, Fixed) and space.is_active(name, record.params)
            )
    return frozenset(lacked)


def _points(
    space: Space, rows: list[_Row], objectives: Sequence[Metric], by_run: frozenset[str]
) -> tuple[list[dict[str, Any]], _Dropped]:
    """The usable results (``rows`` typed and filled) as ``{"params", "value"}``, and how many were outside the
    space's bounds, did not give the parameters the space makes active (`_Unfit`), had no value, or ran a combination
    the space forbids (`Space.forbids`: a sampler would learn where to go from a configuration it may never propose)
    (`_Dropped`, its guardrails' count left to the caller).

    A parameter defined by run (``by_run``) that some results give and others lack is one their objective asked
    for on some branches only: a result without it keeps it inactive, as the study's own trials do, instead of
    being dropped. A declared parameter is missing only where the space's conditions switch it off.
    """
    given = [frozenset(params) for params, _ in rows]
    branching = (frozenset().union(*given) - frozenset.intersection(*given) if given else frozenset()) & by_run
    points: list[dict[str, Any]] = []
    outside = unread = unfit = no_value = forbidden = 0
    first_unread: tuple[str, str] | None = None
    for params, raw in rows:
        values = {name: _value(v) for name, v in raw.items()}
        if any(v is None for v in values.values()):
            no_value += 1
            continue
        text = [(name, v) for name, v in params.items()
                if isinstance(v, str) and isinstance(space.get(name), Float | Int)]  # fmt: skip
        if text:
            unread += 1
            first_unread = first_unread or text[0]
            continue
        try:
            point: dict[str, Any] = {"params": _checked(space, params, branching), "value": values[objectives[0].name]}
        except _Unfit:
            unfit += 1
            continue
        except SpaceError:
            outside += 1
            continue
        if space.forbids(point["params"]) is not None:
            forbidden += 1
            continue
        if len(objectives) > 1:
            point["values"] = values
        points.append(point)
    return points, _Dropped(outside=outside, unread=unread, first_unread=first_unread, unfit=unfit, no_value=no_value,
                            forbidden=forbidden)  # fmt: skip


def _checked(space: Space, params: dict[str, Any], branching: frozenset[str]) -> dict[str, Any]:
    """``params`` as `Space.validate` takes a configuration (each active parameter given, inside its range; a
    `Fixed` one filled), except that a parameter in ``branching`` may be missing (a branch not taken); one the
    space's conditions switch off is refused, as `Study.enqueue` refuses it: the configuration it names never ran.

    Raises:
        _Unfit: an active parameter missing, or an inactive one given.
        SpaceError: a value outside its parameter's range.
    """
    checked: dict[str, Any] = {}
    for name, param in space.items():  # parents before children: the space keeps its parameters in that order
        if not space.is_active(name, checked):
            continue
        if name in params:
            if not param.contains(params[name]):
                raise SpaceError(f"{name}={params[name]!r} is outside its range {param.to_json()}")
            checked[name] = params[name]
        elif isinstance(param, Fixed):
            checked[name] = param.value
        elif name not in branching:
            raise _Unfit(f"parameter {name!r} is active but missing from {params!r}")
    switched_off = sorted(set(params) - set(checked))
    if switched_off:
        raise _Unfit(f"{switched_off} are given in {params!r}, where the space's conditions switch them off")
    return checked
