"""The summary's top-k table on a terminal too narrow for every parameter: the trial and metric columns show in
full, the parameters fill the width left (the most important first when importance is known, else in the space's
order), and one line under the table counts those left out."""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

import tunesmith as ts
from tunesmith.report.terminal import summary
from tunesmith.storage import MemoryStorage

WIDE = [f"encoder_layer_{i:02d}_dropout" for i in range(60)]


def _wide_study(trials: int = 20) -> ts.Study:
    """61 parameters (60 long-named floats and a choice), the loss read off the first."""
    space = ts.Space({name: ts.Float(0.0, 1.0) for name in WIDE} | {"mode": ts.Choice(["a", "b"])})
    study = ts.Study(
        space,
        metric="loss",
        budget=ts.Budget(trials=trials),
        seed=0,
        sampler="random",
        name="wide",
        storage=MemoryStorage(),
    )
    study.optimize(lambda t: {"loss": t.params[WIDE[0]]})
    return study


def _top_lines(study: ts.Study, width: int, *, analyses: bool = False) -> list[str]:
    """The lines of the summary from the top-k table's title to the line after its last row."""
    out = io.StringIO()
    summary(study, console=Console(file=out, width=width, color_system=None), analyses=analyses)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("Top 5"))
    return lines[start : start + 9]  # title, header, rule, 5 rows, the line under the table


def _header(lines: list[str]) -> list[str]:
    return [cell.strip() for cell in lines[1].split("┃")]


@pytest.mark.parametrize("width", [80, 200])
def test_a_narrow_terminal_shows_every_top_trial_and_metric_in_full(width: int) -> None:
    study = _wide_study()
    lines = _top_lines(study, width)
    assert all(cell_len(line) <= width for line in lines), "\n".join(lines)
    rows = [[cell.strip() for cell in line.split("│")] for line in lines[3:8]]
    ranked = sorted((r for r in study.trials if r.state is ts.TrialState.COMPLETE), key=lambda r: r.metrics["loss"])
    assert [row[0] for row in rows] == [str(r.number) for r in ranked[:5]]
    assert all(re.fullmatch(r"0\.\d+|0|1", row[1]) for row in rows), rows
    assert _header(lines)[:2] == ["trial", "loss"]


@pytest.mark.parametrize("width", [80, 200])
def test_the_parameters_left_out_are_counted_in_one_line_under_the_table(width: int) -> None:
    lines = _top_lines(_wide_study(), width)
    shown = _header(lines)[2:]
    assert shown and shown == [*WIDE, "mode"][: len(shown)], "without importance: the space's order"
    assert lines[8] == f"+{61 - len(shown)} parameters not shown: tunesmith show wide N lists them all for trial N"


def test_a_wider_terminal_shows_more_parameters() -> None:
    study = _wide_study()
    assert len(_header(_top_lines(study, 200))) > len(_header(_top_lines(study, 80))) > 2


@pytest.mark.slow
def test_the_most_important_parameters_take_the_width_when_importance_is_known() -> None:
    space = ts.Space({name: ts.Float(0.0, 1.0) for name in WIDE[:8]})
    study = ts.Study(
        space,
        metric="loss",
        budget=ts.Budget(trials=60),
        seed=0,
        sampler="random",
        name="wide",
        storage=MemoryStorage(),
    )
    study.optimize(lambda t: {"loss": t.params[WIDE[7]]})  # the last in the space's order is the one that matters
    lines = _top_lines(study, 80, analyses=True)
    assert _header(lines)[2:] == [WIDE[0], WIDE[7]], "the one that matters, then the space's order: " + "\n".join(lines)


def test_three_parameters_that_fit_print_the_table_as_before() -> None:
    space = ts.Space({"learning_rate": ts.Float(1e-4, 1e-1, log=True), "depth": ts.Int(2, 12),
                      "optimizer": ts.Choice(["adam", "sgd"])})  # fmt: skip
    study = ts.Study(
        space,
        metric="loss",
        budget=ts.Budget(trials=8),
        seed=0,
        sampler="random",
        name="three",
        storage=MemoryStorage(),
    )
    study.optimize(lambda t: {"loss": round(t.params["learning_rate"] * t.params["depth"], 6)})
    assert _top_lines(study, 80)[:8] == [
        "Top 5",
        " trial ┃    loss ┃ learning_rate ┃ depth ┃ optimizer",
        "━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━",
        "     2 │ 0.00105 │      0.000175 │     6 │       sgd",
        "     7 │ 0.00131 │      0.000131 │    10 │       sgd",
        "     6 │ 0.00689 │       0.00172 │     4 │       sgd",
        "     5 │  0.0112 │        0.0014 │     8 │      adam",
        "     0 │  0.0326 │       0.00814 │     4 │      adam",
    ]
