"""`tunesmith choose`: pick one trial of a study's Pareto front by a stated rule, as `Study.choose` does."""

from __future__ import annotations

import re

import click

from tunesmith.choose import Rule
from tunesmith.choose import best as best_rule
from tunesmith.choose import knee as knee_rule
from tunesmith.choose import weights as weights_rule
from tunesmith.cli._common import (
    CliError,
    _confirm_stored,
    _friendly_errors,
    _resolve_study,
    json_option,
    storage_option,
)

__all__ = ["choose"]

# ``latency_ms<=30``: an objective, an operator and a number (spaces allowed around the operator)
_BOUND = re.compile(r"^\s*(?P<name>.+?)\s*(?P<op><=|>=|<|>)\s*(?P<value>\S+)\s*$")


@click.command()
@click.argument("study_name", required=False)
@storage_option
@click.option("--knee", is_flag=True, help="The knee of the front: the trial farthest below the line between its "
                                           "extremes.")  # fmt: skip
@click.option("--best", "best_metric", default=None, metavar="OBJECTIVE",
              help="The best OBJECTIVE among the front's trials that meet every --bound.")  # fmt: skip
@click.option("--bound", "bounds", multiple=True, metavar="EXPR",
              help="With --best: a bound another objective must meet, as NAME<=VALUE (or <, >=, >); repeatable.")
@click.option("--weight", "weights", multiple=True, metavar="NAME=W",
              help="The smallest weighted sum of the objectives scaled to [0, 1] over the front; one per "
                   "objective weighed, W >= 0; repeatable.")  # fmt: skip
@json_option
def choose(
    study_name: str | None, storage: str, knee: bool, best_metric: str | None, bounds: tuple[str, ...],
    weights: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Pick the trial of STUDY_NAME's Pareto front that `finalize` judges, by one rule: --knee, --best OBJECTIVE
    (with --bound), or --weight NAME=W. It records the choice, as study.choose(...) does, and prints the front with
    the chosen trial marked; choosing again replaces it.
    """
    from tunesmith.cli._inspect import _print_front

    rule = _rule(knee, best_metric, bounds, weights)
    study = _resolve_study(storage, study_name)
    with _friendly_errors():
        study.choose(rule)
    _print_front(study, as_json)
    _confirm_stored(study)  # the choice is recorded only if the database is still there


def _rule(knee: bool, best_metric: str | None, bounds: tuple[str, ...], weights: tuple[str, ...]) -> Rule:
    """The rule the options state, refused unless exactly one is given (a bound only with --best)."""
    given = [name for name, used in (("--knee", knee), ("--best", best_metric is not None),
                                     ("--weight", bool(weights))) if used]  # fmt: skip
    if len(given) != 1:
        said = f"got {' and '.join(given)}" if given else "got none"
        raise CliError(f"choose takes one rule, {said}: pass --knee, --best OBJECTIVE (with --bound NAME<=VALUE), or "
                       "--weight NAME=W for each objective weighed")  # fmt: skip
    if bounds and best_metric is None:
        raise CliError(f"--bound limits the trials --best ranks, got --bound {bounds[0]} with {given[0]}: add --best "
                       "OBJECTIVE, or drop --bound")  # fmt: skip
    with _friendly_errors():
        if knee:
            return knee_rule()
        if best_metric is not None:
            return best_rule(best_metric, dict(_bound(text) for text in bounds))
        return weights_rule(dict(_weight(text) for text in weights))


def _bound(text: str) -> tuple[str, tuple[str, float]]:
    """``NAME<=VALUE`` as `choose.best` takes a bound: ``(name, (op, value))``."""
    found = _BOUND.match(text)
    value = None if found is None else _number(found["value"])
    if found is None or value is None:
        raise CliError(f"a bound is NAME<=VALUE (or <, >=, >) with a number, got --bound {text!r}: e.g. --bound "
                       "'latency_ms<=30' (quoted, as the shell reads < and >)")  # fmt: skip
    return found["name"], (found["op"], value)


def _weight(text: str) -> tuple[str, float]:
    """``NAME=W`` as `choose.weights` takes it."""
    name, sign, given = text.rpartition("=")
    value = _number(given) if sign else None
    if not name or value is None:
        raise CliError(f"a weight is NAME=W with a number, got --weight {text!r}: e.g. --weight error=0.7")
    return name, value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
