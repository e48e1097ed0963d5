"""``tunesmith import-optuna``: copy an Optuna study into tunesmith storage, to resume it or judge it there."""

from __future__ import annotations

import shlex

import click

from tunesmith._text import terminal_safe
from tunesmith.budget import Budget
from tunesmith.cli._common import _confirm_stored, _friendly_errors, console, storage_option
from tunesmith.storage import redact_url
from tunesmith.study._spec import config_entry


@click.command("import-optuna")
@click.option("--from", "source", required=True, help="The Optuna storage URL, read only: sqlite:///optuna.db.")
@click.option("--study", "study_name", required=True, help="The Optuna study's name.")
@storage_option
@click.option("--as", "new_name", default=None, help="The tunesmith study's name (default: the Optuna study's).")
@click.option("--metric", default=None, help="The metric's name (default: Optuna's metric name, else 'value').")
@click.option("--sampler", default="auto", show_default=True, help="The sampler the study resumes with.")
@click.option("--trials", type=click.IntRange(min=1), default=None,
              help="A trial budget counting the imported trials (default: none).")  # fmt: skip
@click.option("--seed", type=int, default=None, help="The study seed (default: a random one).")
def import_optuna(
    source: str, study_name: str, storage: str, new_name: str | None, metric: str | None, sampler: str,
    trials: int | None, seed: int | None,
) -> None:  # fmt: skip
    """Copy the Optuna study --study from --from into tunesmith storage as a new study.

    Parameters become a search space (one asked only in some trials is conditional when another
    parameter's value explains it, else optional), and every trial keeps its number, parameters,
    value, state (PRUNED: stopped; FAIL: failed; RUNNING and WAITING: interrupted, and WAITING ones run
    first on resume), intermediate values, user attributes and times. A study of the target name that
    exists already is refused. --from is only read: a database that is not Optuna's (a tunesmith one, from
    --from and --storage swapped) is refused untouched, and --storage is created only once --from was read.
    Needs the optuna extra.
    """
    with _friendly_errors():
        from tunesmith.integrations.optuna import import_study

        # The target is opened (created when missing) inside, only once the source has been read: a refused
        # import leaves no new database behind.
        result = import_study(
            source, study_name, storage=storage, name=new_name, metric=metric, sampler=sampler,
            budget=None if trials is None else Budget(trials=trials), seed=seed,
        )  # fmt: skip
    study = result.study
    counts = ", ".join(f"{n} {state}" for state, n in sorted(result.states.items()))
    where = f"{study.name} in {redact_url(storage)}"
    console.print(
        terminal_safe(f"imported {result.trials} trials of Optuna study {study_name!r} into {where}: {counts}")
    )
    console.print("space, as a config's [space] table writes it:", markup=False)
    for name, param in study.space.items():
        console.print(terminal_safe(f"  {config_entry(name, param.to_json())}"), soft_wrap=True)
    if any(None in getattr(param, "options", ()) for param in study.space.values()):
        console.print("(TOML has no null: a choice of None is written in a YAML config)")
    if result.non_finite:
        which = "; ".join(f"#{number}: {why}" for number, why in sorted(result.non_finite.items()))
        count = len(result.non_finite)
        console.print(terminal_safe(
            f"{count} trial{'s' if count != 1 else ''} COMPLETE in Optuna imported as failed, the value not finite "
            f"(tunesmith records a NaN or infinite result as a failure, so none can be best here): {which}"
        ))  # fmt: skip
    if result.user_attrs:
        console.print(terminal_safe(f"the Optuna study's user attributes ({', '.join(result.user_attrs)}) are kept "
                                    "in the study attribute optuna_import, under user_attrs"))  # fmt: skip
    if result.step_offset:
        console.print(terminal_safe(f"steps shifted by {result.step_offset}: tunesmith counts steps from 1"))
    if result.optional:
        console.print(terminal_safe(f"asked in only some trials, for no reason the others explain: "
                                    f"{', '.join(result.optional)} (kept unconditional)"))  # fmt: skip
    if result.queued:
        console.print(terminal_safe(f"waiting in Optuna, queued to run first: trials {list(result.queued)}"))
    for number, why in sorted(result.not_queued.items()):
        console.print(terminal_safe(f"waiting trial {number} not queued: {why}"))
    console.print(terminal_safe(f"resume: tunesmith worker {shlex.quote(study.name)} --storage "
                                f"{shlex.quote(redact_url(storage))} "
                                "--objective module:function"), soft_wrap=True)  # fmt: skip
    _confirm_stored(study)
