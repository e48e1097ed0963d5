"""Define-by-run in the study: the space learned from what trials ask for, and each trial's answers recorded.

A study's space is the one given up front (or none) extended by every parameter a trial asked for by name
(`Trial.suggest_float`, `suggest_int`, `suggest_categorical`). The parameters outside the given space live in
the study attribute ``learned_space`` (`LearnedSpaceAttr`), merged atomically (`Storage.update_study_attr`) by
whichever worker tells a trial that asked for a new one, so other workers, `Study.load` and resumed runs
propose them too. The first definition stored is the study's: a later trial asking with another one fails
with both definitions in its error, a `DefinitionError` (which stops `Study.optimize`: the objective asks the
same way in every later trial).

When a trial is told, its stored ``params`` become what it ran with: the given space's parameters (as
proposed) and every parameter it asked for; a learned parameter it did not ask for (a branch not taken) is
left out, so the samplers read it as inactive (``NaN`` in the encoding), as for a conditional `Space`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tunesmith.attributes import LearnedSpaceAttr, SamplerChoiceAttr, WarmStartAttr, read_attr, write_attr
from tunesmith.samplers import Auto
from tunesmith.space import Param, Space
from tunesmith.space._define_by_run import ONE_DEFINITION, DefinitionError, describe, failure_line, same_definition
from tunesmith.study._known import unasked_enqueued, warn_unasked
from tunesmith.trial import Trial

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = ["CONFLICT", "DefinedSpace", "learned_space", "record", "record_sampler_choice", "told"]

# The reason of a trial that asked for a parameter with a definition other than the study's.
CONFLICT = "parameter defined otherwise"


def learned_space(given: Space | None, attrs: Mapping[str, Any]) -> Space:
    """``given`` (or `Space.empty`) extended by the ``learned_space`` attribute in ``attrs``."""
    stored = read_attr(attrs, LearnedSpaceAttr)
    base = Space.empty() if given is None else given
    if stored is None:
        return base
    return base.extended({n: Param.from_json(j, stored=True) for n, j in stored.definitions().items() if n not in base})


class DefinedSpace:
    """A study's space as this study object knows it: rebuilt only when the learned parameters change,
    so the samplers' caches (keyed by the space object) stay valid from one trial to the next."""

    def __init__(self, given: Space | None, attrs: Mapping[str, Any]) -> None:
        self.given = given
        self.current: Space = Space.empty() if given is None else given
        self._learned: dict[str, Any] = {}
        # The handles `Study.ask` gave out, so that ``tell(number)`` finds what a trial asked for.
        self._handed: weakref.WeakValueDictionary[int, Trial] = weakref.WeakValueDictionary()
        self.refresh(attrs)

    @property
    def learned(self) -> tuple[str, ...]:
        """The parameters of `current` that trials asked for by name (outside the space given up front): a trial
        holds one in its ``params`` only once its objective asks for it (`Trial`'s ``learned``)."""
        given = self.given
        return tuple(name for name in self.current if given is None or name not in given)

    def hand_out(self, trial: Trial) -> Trial:
        """``trial``, remembered (weakly) until it is told."""
        self._handed[trial.number] = trial
        return trial

    def refresh(self, attrs: Mapping[str, Any]) -> Space:
        """The space with the learned parameters stored in ``attrs`` (a study's attributes, just read)."""
        stored = read_attr(attrs, LearnedSpaceAttr)
        learned = {} if stored is None else stored.definitions()
        if learned != self._learned:
            self.current = learned_space(self.given, attrs)
            self._learned = dict(learned)
        return self.current


def told(study: Study, trial: Trial | int) -> str | None:
    """`record` what ``trial`` asked for (given by number: the handle `Study.ask` gave out for it)."""
    number = trial.number if isinstance(trial, Trial) else int(trial)
    handle = study._defined._handed.pop(number, None)
    handle = trial if isinstance(trial, Trial) else handle
    return record(study, number, None if handle is None else handle.defined_by_run())


def record(study: Study, number: int, asked: Mapping[str, Any] | None) -> str | None:
    """Store what trial ``number`` asked for by name (``Trial.defined_by_run()``): learn its new parameters
    and write its ``params``. Returns the error when it asked with a definition other than the study's
    (a race between workers, or an executor's stale view), for the trial to be recorded FAILED: a
    `DefinitionError`'s exception line, without the trial's number, which stops `Study.optimize` as the same
    error raised in the objective does.

    A name an enqueued configuration gave that the study's space lacks and the trial did not ask for is left out
    of its ``params``, with an `EnqueuedParameterUnusedWarning` (`tunesmith.study._known.unasked_enqueued`), unless
    an ask refused its enqueued value (``refused``): the trial failed there, its error naming the value, and the
    names after it were never reached, so neither they nor it were left unused."""
    stored = study.storage.get_trial(study._info.id, number)
    if stored.state.is_finished:
        return None  # a finished record never changes (a trial told twice, or reaped as lost meanwhile)
    refused = asked.get("refused", ()) if asked else ()
    unasked = unasked_enqueued(study._defined.current, stored, [*(asked["definitions"] if asked else ()), *refused])
    if unasked and not refused:  # an ask that refused its enqueued value stopped the objective before the rest
        warn_unasked(study.name, number, unasked)
    if not asked:
        if unasked:
            kept = {n: v for n, v in stored.params.items() if n not in unasked}
            study.storage.update_trial(study._info.id, number, params=kept)
        return None
    definitions = {name: Param.from_json(spec) for name, spec in asked["definitions"].items()}
    defined = study._defined
    kept = {n: v for n, v in asked["params"].items() if n in definitions or (defined.given and n in defined.given)}
    study.storage.update_trial(study._info.id, number, params=kept)
    conflicts = [
        f"{name!r} was asked for as {describe(name, param)}, but the study defines it as "
        f"{describe(name, defined.current[name])}"
        for name, param in definitions.items()
        if name in defined.current and not same_definition(defined.current[name], param)
    ]
    new = {n: p for n, p in definitions.items() if n not in defined.current}
    if new:

        def merge(current: Any) -> Any:  # runs with the study locked: the first definition stored wins
            stored = LearnedSpaceAttr() if current is None else LearnedSpaceAttr.from_json(current)
            added = [{"name": n, **p.to_json()} for n, p in new.items() if n not in stored.definitions()]
            return replace(stored, params=(*stored.params, *added)).to_json()

        stored = study.storage.update_study_attr(study._info.id, LearnedSpaceAttr.KEY, merge)
        first = LearnedSpaceAttr.from_json(stored).definitions()
        conflicts += [
            f"{name!r} was asked for as {describe(name, param)}, but another trial defined it first as "
            f"{describe(name, Param.from_json(first[name], stored=True))}"
            for name, param in new.items()
            if not same_definition(Param.from_json(first[name], stored=True), param)
        ]
        record_sampler_choice(study, defined.refresh({LearnedSpaceAttr.KEY: stored}))
    if not conflicts:
        return None
    return failure_line(DefinitionError("; ".join(conflicts) + f": {ONE_DEFINITION}"))


def record_sampler_choice(study: Study, space: Space) -> None:
    """For ``sampler="auto"``, store the sampler it chooses for ``space`` and why (not before the space has
    a parameter: a define-by-run study's choice is recorded once its first trial asked for one)."""
    if isinstance(study.sampler, Auto) and space.dimensions:
        warm = read_attr(study.attrs, WarmStartAttr)  # its points stand in for quasi-random trials
        chosen, why = study.sampler.choose(space, study.context, warm_points=0 if warm is None else len(warm.points))
        write_attr(study, SamplerChoiceAttr(sampler=chosen.describe(), why=why))
