"""`Study`'s face for several objectives: the Pareto front, the hypervolume and choosing from the front.

A study with ``metrics=[...]`` has no single best trial: `Study.best` is refused, `pareto_front` gives the
non-dominated feasible trials, and `choose` records the one the discipline then validates (the ``choice``
attribute). The hypervolume is measured against a reference point that never moves: the one given with the
study, or one derived from its first complete trials and stored the first time it is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from tunesmith.attributes import ChoiceAttr, ReferencePointAttr, VerdictAttr, read_attr
from tunesmith.choose import Rule, neighbours
from tunesmith.errors import ConfigError
from tunesmith.objective import Metric
from tunesmith.pareto import hypervolume_history, loss_matrix, pareto_front, reference_losses, study_reference
from tunesmith.study._verdict_state import warn_if_judged
from tunesmith.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunesmith.study._study import Study

__all__ = ["MultiObjective", "after_tell", "refuse_best"]


def no_single_best(study: Study) -> str | None:
    """Why a study with several objectives has no single best trial (``None`` with one objective)."""
    if len(study.objectives) <= 1:
        return None
    names = ", ".join(m.name for m in study.objectives)
    return (
        f"study {study.name!r} has several objectives ({names}), so no single best trial: read "
        "study.pareto_front (the non-dominated trials), or pick one with study.choose(ts.choose.knee()) "
        "(or ts.choose.best(...), ts.choose.weights(...)) and read study.chosen"
    )


def refuse_best(study: Study) -> None:
    """Raise for `Study.best` on a study with several objectives (there is no single best)."""
    if why := no_single_best(study):
        raise ConfigError(why)


def after_tell(study: Study, state: TrialState) -> None:
    """Store a derived reference point as soon as enough trials have completed (then it never moves)."""
    if len(study.objectives) > 1 and state is TrialState.COMPLETE and ReferencePointAttr.KEY not in study.attrs:
        study._reference(study.trials)


def sampler_reference(study: Study) -> tuple[float, ...]:
    """The study's reference point in losses space, for the samplers (empty while there is none).

    The given one, else the derived one once stored (`after_tell`); either never moves, so it is
    kept on the study object after the first read.
    """
    if len(study.objectives) < 2:
        return ()
    if not study._reference_seen:
        stored = None if study.given_reference is not None else read_attr(study.attrs, ReferencePointAttr)
        found = study_reference((), study.objectives, given=study.given_reference, stored=stored)
        if found is not None:
            study._reference_seen = tuple(float(v) for v in reference_losses(found.values, study.objectives))
    return study._reference_seen


class MultiObjective:
    """`Study`'s methods for several objectives (a base of `Study` only, kept in its own module).

    With one objective they still answer: the front is the best trial(s) and there is no hypervolume.
    """

    @property
    def pareto_front(self) -> list[TrialRecord]:
        """The non-dominated COMPLETE, feasible, valid trials, in trial order (`tunesmith.pareto.pareto_front`)."""
        study = cast("Study", self)
        return pareto_front(study.trials, _objectives(study))

    @property
    def reference_point(self) -> dict[str, float] | None:
        """The hypervolume's reference point in the objectives' units (``None`` for one objective, and while
        fewer than 10 trials have completed when none was given). Stored the first time it is known, in
        the ``reference_point`` attribute, so it never moves."""
        attr = self._reference(cast("Study", self).trials)
        return None if attr is None else dict(attr.values)

    def _reference(self, records: list[TrialRecord]) -> ReferencePointAttr | None:
        study = cast("Study", self)
        if len(study.objectives) < 2:
            return None
        stored = read_attr(study.attrs, ReferencePointAttr)
        found = study_reference(records, study.objectives, given=study.given_reference, stored=stored)
        if found is not None and stored is None:  # the first to store it wins; every later reader gets that one
            new = found.to_json()
            value = study.storage.update_study_attr(
                study._info.id, ReferencePointAttr.KEY, lambda old: new if old is None else old
            )
            found = ReferencePointAttr.from_json(value)
        return found

    def hypervolume(self) -> float | None:
        """The hypervolume of the Pareto front against `reference_point` (moocore's, in losses space:
        each objective as ``sign * value``); ``None`` when there is no reference point yet."""
        history = self.hypervolume_history()
        return None if history is None else (history[-1] if history else 0.0)

    def hypervolume_history(self) -> list[float] | None:
        """The front's hypervolume after each complete, feasible trial in trial order (``None``: no reference)."""
        study = cast("Study", self)
        records = study.trials
        reference = self._reference(records)
        if reference is None:
            return None
        _, losses = loss_matrix(records, study.objectives)
        return hypervolume_history(losses, reference_losses(reference.values, study.objectives))

    def choose(self, rule: Rule) -> TrialRecord:
        """Pick one trial of the Pareto front by ``rule`` (`tunesmith.choose`: ``best``, ``knee``, ``weights``),
        record it in the ``choice`` attribute and return it. The discipline (`tunesmith.validate_top`,
        `tunesmith.finalize`) then works on it. Choosing again replaces the choice.

        Raises:
            ConfigError: no complete feasible trial yet, or a rule the front cannot meet (it says why).
        """
        study = cast("Study", self)
        objectives = _objectives(study)
        front = pareto_front(study.trials, objectives)
        if not front:
            raise ConfigError(
                f"study {study.name!r} has no COMPLETE, feasible trial with every objective: run trials before "
                "study.choose(...)"
            )
        if not callable(getattr(rule, "pick", None)):
            raise ConfigError(
                f"rule must be a ts.choose rule, got {rule!r}: use ts.choose.knee() or ts.choose.best(...)"
            )
        chosen, why = rule.pick(front, objectives)
        primary = objectives[0]
        ordered = sorted(front, key=lambda r: (primary.sign() * r.metrics[primary.name], r.number))
        study.set_attr(ChoiceAttr.KEY, ChoiceAttr(
            rule=rule.to_json(), trial=chosen.number, params=dict(chosen.params),
            values={m.name: float(chosen.metrics[m.name]) for m in objectives}, why=why,
            front=tuple(r.number for r in ordered),
            neighbours=tuple(r.number for r in neighbours(front, chosen, primary)),
            at=study._clock(),
        ).to_json())  # fmt: skip
        verdict = read_attr(study.attrs, VerdictAttr)
        if verdict is not None and verdict.trial != chosen.number:
            warn_if_judged(study.attrs, "study.choose, picking another trial than the one judged,")
        return chosen

    @property
    def chosen(self) -> TrialRecord | None:
        """The trial `choose` recorded (``None`` before a choice, or when it was invalidated since)."""
        study = cast("Study", self)
        choice = read_attr(study.attrs, ChoiceAttr)
        if choice is None:
            return None
        return next((r for r in study.trials if r.number == choice.trial and r.invalidated is None), None)


def _objectives(study: Study) -> tuple[Metric, ...]:
    return study.objectives if study.objectives else (study.metric,)
