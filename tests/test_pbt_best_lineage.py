"""A PBT continuation's score came from a schedule: its ancestors' parameters, each for the steps it trained, then its
own. Every view that shows such a best says the schedule beside its final parameters (`tunesmith best`, ``--json``,
``status``, the HTML report, the dashboard), and importance does not read its final parameters as a configuration
trained from scratch.

Before: ``tunesmith best`` printed the continuation's final ``lr`` and its loss and nothing else, as if ``lr`` alone
had trained it, and importance fitted its forest on the continuations' final parameters beside the fresh trials'."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner

import tunesmith as ts
from tunesmith.cli import cli
from tunesmith.dashboard._data import SnapshotCache, snapshot
from tunesmith.discipline._reruns import seed_list
from tunesmith.discipline.seeds import lineage_of
from tunesmith.executors import SimulatedExecutor
from tunesmith.report import write_report
from tunesmith.report._data import analyse, report_data
from tunesmith.trial import TrialState


def _train(trial: ts.Trial, losses: Sequence[float]) -> None:
    for loss in losses:
        trial.report(loss=loss)
        trial.save_checkpoint({"loss": loss})


def _lineage_study(tmp_path: Path) -> tuple[ts.Study, tuple[int, int, int]]:
    """Four members train 2 steps; PBT stops the worst, and its replacement (the child) continues the best (the root)
    from step 2. At step 4 PBT stops the new worst, and its replacement (the grandchild) continues the child from step
    4 and ends best after step 6: (study, (root, child, grandchild))."""
    study = ts.Study(ts.Space({"x": ts.Float(0.1, 1.0)}), metric="loss",
                     scheduler=ts.PBT(perturbation_interval=2, min_population=4, resample_probability=0.0),
                     storage=f"sqlite:///{tmp_path}/pbt.db", seed=0, sampler="random",
                     checkpoint_dir=tmp_path / "ckpt")  # fmt: skip
    root, middle, low, worst = (study.ask() for _ in range(4))
    for trial, losses in ((root, [0.42, 0.4]), (middle, [0.67, 0.65]), (low, [0.92, 0.91]), (worst, [0.99, 0.99])):
        _train(trial, losses)
    assert worst.should_stop()
    study.tell(worst)
    child = study.ask()
    for trial, losses in ((child, [0.3, 0.2]), (root, [0.38, 0.36]), (middle, [0.64, 0.63]), (low, [0.9, 0.89])):
        _train(trial, losses)
    assert low.should_stop()
    study.tell(low)
    grandchild = study.ask()
    _train(grandchild, [0.1, 0.05])
    for trial, loss in ((root, 0.36), (middle, 0.63), (child, 0.2), (grandchild, 0.05)):
        study.tell(trial, {"loss": loss})
    trials = study.trials
    assert trials[child.number].attrs["parent"] == root.number and trials[child.number].attrs["start_step"] == 2
    assert trials[grandchild.number].attrs["parent"] == child.number
    assert trials[grandchild.number].attrs["start_step"] == 4
    assert study.best is not None and study.best.number == grandchild.number
    return study, (root.number, child.number, grandchild.number)


def _x(study: ts.Study, number: int) -> str:
    return f"{study.trials[number].params['x']:.4g}"


def _schedule(study: ts.Study, lineage: tuple[int, int, int]) -> str:
    """The schedule the fixture trained: the root's x for steps 1-2, the child's for 3-4, the grandchild's for 5-6."""
    root, child, grandchild = lineage
    stretches = [f"x {_x(study, root)} for steps 1-2 (#{root})", f"{_x(study, child)} for steps 3-4 (#{child})",
                 f"{_x(study, grandchild)} for steps 5-6 (#{grandchild})"]  # fmt: skip
    return f"trained as a schedule (a PBT lineage), not from scratch: {', '.join(stretches)}"


def _said(*args: str) -> str:
    """What a command prints, whitespace collapsed (rich wraps lines at the terminal's width)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False, terminal_width=400)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.output)
    return parsed


def test_best_says_a_continuation_trained_as_a_schedule_of_its_lineages_parameters(tmp_path: Path) -> None:
    study, lineage = _lineage_study(tmp_path)
    said = _said("best", "--storage", f"sqlite:///{tmp_path}/pbt.db")
    assert _schedule(study, lineage) in said
    grandchild = _x(study, lineage[-1])
    assert f"its loss came from that schedule, not from x {grandchild} alone" in said
    assert f"ts.validate_top(study, objective) re-runs x {grandchild} from scratch across seeds" in said


def test_best_json_lists_a_continuations_lineage_with_the_steps_each_trial_trained(tmp_path: Path) -> None:
    study, (root, child, grandchild) = _lineage_study(tmp_path)
    best = _json("best", "--storage", f"sqlite:///{tmp_path}/pbt.db")
    params = {n: study.trials[n].params for n in (root, child, grandchild)}
    assert best["number"] == grandchild
    assert best["lineage"] == [
        {"trial": root, "params": params[root], "first_step": 1, "last_step": 2},
        {"trial": child, "params": params[child], "first_step": 3, "last_step": 4},
        {"trial": grandchild, "params": params[grandchild], "first_step": 5, "last_step": 6},
    ]
    assert _schedule(study, (root, child, grandchild)) in best["note"]


def test_best_json_lineage_is_null_for_a_best_trained_from_scratch(tmp_path: Path) -> None:
    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric="loss", budget=ts.Budget(trials=6),
                     storage=f"sqlite:///{tmp_path}/s.db", seed=0)  # fmt: skip
    study.optimize(lambda trial: {"loss": (trial.params["x"] - 0.3) ** 2}, progress=False)
    best = _json("best", "--storage", f"sqlite:///{tmp_path}/s.db")
    assert best["lineage"] is None
    assert best["note"] is None or "schedule" not in best["note"]


def test_status_says_a_continuations_schedule_beside_the_best(tmp_path: Path) -> None:
    study, lineage = _lineage_study(tmp_path)
    assert _schedule(study, lineage) in _said("status", "--storage", f"sqlite:///{tmp_path}/pbt.db")


def test_the_html_report_says_a_continuations_schedule_beside_the_best(tmp_path: Path) -> None:
    study, lineage = _lineage_study(tmp_path)
    page = write_report(study, tmp_path / "report.html").read_text(encoding="utf-8")
    words = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", page, flags=re.S))
    assert _schedule(study, lineage) in " ".join(html.unescape(words).split())


def test_the_dashboards_best_note_carries_a_continuations_schedule(tmp_path: Path) -> None:
    study, lineage = _lineage_study(tmp_path)
    best = snapshot(study.info, study.trials, SnapshotCache())["best"]
    assert best["number"] == lineage[-1]
    assert _schedule(study, lineage) in best["note"]


def _reruns(losses: Sequence[float]) -> Callable[[ts.Trial], dict[str, float]]:
    """A re-run objective whose run on the i-th seed of `validate_top` scores ``losses[i]``."""
    seeds = seed_list(0, len(losses))
    return lambda trial: {"loss": losses[seeds.index(trial.seed)]}


def test_a_validated_continuation_says_the_reruns_trained_its_parameters_from_scratch(tmp_path: Path) -> None:
    study, lineage = _lineage_study(tmp_path)
    ts.validate_top(study, _reruns([0.049, 0.05, 0.051]), k=1, seeds=3, progress=False)
    said = _said("best", "--storage", f"sqlite:///{tmp_path}/pbt.db")
    assert _schedule(study, lineage) in said
    assert f"the seed re-runs trained x {_x(study, lineage[-1])} from scratch" in said
    assert "ts.validate_top(study, objective) re-runs" not in said


def _decaying(trial: ts.Trial) -> Iterator[tuple[float, dict[str, float]]]:
    """Each step shrinks w by the rate lr; PBT continuations carry w over in the checkpoint."""
    state = trial.load_checkpoint() if trial.resumed else None
    w = 5.0 if state is None else float(state["w"])
    for _ in range(trial.step, 12):
        w *= 1.0 - trial.params["lr"]
        trial.save_checkpoint({"w": w})
        yield 1.0, {"loss": w * w}


def _pbt_population(tmp_path: Path) -> ts.Study:
    """80 trials of a population whose loss the rate decides: importance shows it beyond chance from the fresh trials
    alone, and about half the trials are continuations."""
    study = ts.Study(ts.Space({"lr": ts.Float(1e-3, 0.5, log=True), "unused": ts.Float(0.0, 1.0)}), metric="loss",
                     scheduler=ts.PBT(perturbation_interval=3, min_population=4), budget=ts.Budget(trials=80),
                     storage="memory", seed=0, sampler="random", checkpoint_dir=tmp_path / "ckpt")  # fmt: skip
    study.optimize(_decaying, progress=False, executor=SimulatedExecutor(workers=4, start_time=0))
    return study


def test_importance_reads_only_trials_trained_from_scratch(tmp_path: Path) -> None:
    study = _pbt_population(tmp_path)
    trials = study.trials
    fresh = [r for r in trials if r.state is TrialState.COMPLETE and lineage_of(r, trials) is None]
    assert len(fresh) < sum(r.state is TrialState.COMPLETE for r in trials), "the population has continuations"
    found = analyse(report_data(study))
    assert found.importance is not None
    assert found.importance.n_trials == len(fresh)


def test_the_importance_note_names_the_continuations_left_out(tmp_path: Path) -> None:
    study = _pbt_population(tmp_path)
    trials = study.trials
    continued = [r.number for r in trials if lineage_of(r, trials) is not None]
    assert len(continued) > 5, "the note names 5 and counts the rest"
    named = ", ".join(f"#{n}" for n in continued[:5])
    found = analyse(report_data(study))
    assert found.importance_note is not None
    assert (f"{len(continued)} PBT continuations ({named} and {len(continued) - 5} more) left out of importance"
            in found.importance_note)  # fmt: skip


def test_too_few_trials_from_scratch_in_a_pbt_population_is_not_answered_with_run_more_trials(tmp_path: Path) -> None:
    """More PBT trials add continuations, not trials trained from scratch: the note said "run more trials first"."""
    study, _ = _lineage_study(tmp_path)
    found = analyse(report_data(study))
    assert found.importance is None and found.importance_note is not None
    assert "importance needs at least 4 finished trials with a finite 'loss', got 2: a PBT population stops most " \
           "members it started and continues the best" in found.importance_note  # fmt: skip
    assert "search without PBT (FIFO, or ASHA to stop poor ones early)" in found.importance_note
    assert "run more trials first" not in found.importance_note
