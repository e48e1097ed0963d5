"""The terminal summary of a study: best configuration, top-k trials, importance bars, diagnosis.

The CLI calls `summary` at the end of ``run`` and for ``status``/``best``. It needs nothing but
the study (analyses are run here unless passed in) and prints with rich. Names, values and notes are
user data: they go through `terminal_safe`, never into markup as they are.

What a summary says of the best is shared with the HTML report, the dashboard and ``tunesmith best``
(`tunesmith.report._shown`), so that none of them contradicts storage or another.

Example:
    >>> from tunesmith.report.terminal import summary
    >>> summary(study)
"""

from __future__ import annotations

import shlex
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tunesmith._console import WholeLinesConsole
from tunesmith._text import terminal_safe
from tunesmith.analysis import ImportanceResult
from tunesmith.analysis._advice import LEAD_CONFIDENCE, _lead
from tunesmith.analysis._common import format_value, telling_digits
from tunesmith.objective import Metric
from tunesmith.report._data import (
    Findings,
    ReportData,
    analyse,
    environment_note,
    metrics_text,
    objective_digits,
    report_data,
    value_text,
)
from tunesmith.report._shown import (
    choice_off_front,
    few_trained_note,
    near_front_note,
    shown_best,
)
from tunesmith.space import Space
from tunesmith.study import Study
from tunesmith.study._optimize import failed_some_note, no_feasible_note
from tunesmith.study._search_progress import listing_arguments
from tunesmith.study._validation_set import mixed_examples_note
from tunesmith.trial import TrialRecord

__all__ = ["front_table", "importance_bars", "summary"]

BAR_WIDTH = 30


# How many of the best trials the terminal summary lists (the ties with the best are read among every trial).
TOP_K = 5


def summary(
    source: Any,
    *,
    console: Console | None = None,
    top_k: int = TOP_K,
    findings: Findings | None = None,
    space: Space | None = None,
    metric: Metric | str | None = None,
    analyses: bool = True,
    why_no_result_below: bool = False,
) -> None:
    """Print the summary of a study.

    Args:
        source: a `Study`, a `ReportData`, or a list of `TrialRecord` (then pass ``space`` and ``metric``).
        console: where to print (default: a new rich console on stdout).
        top_k: how many of the best trials to list.
        findings: analyses already computed; computed here when omitted and ``analyses`` is true.
        space, metric: the space and metric when ``source`` is bare records.
        analyses: whether to run importance and diagnosis (off: best configuration and top-k only).
        why_no_result_below: the caller says why the study has no result after the summary (`tunesmith run`, in
            the error it exits 1 with), so the summary says only that it has none and that the reason follows,
            rather than the reason a second time.

    Why a study has no result is `no_feasible_note`'s word, as every view says it; of a `Study` it gives the commands
    that read and re-queue its failures with its name and storage (`listing_arguments`), as ``tunesmith run`` does,
    where a `ReportData` or bare records leave ``STUDY`` to fill in.
    """
    out = console or WholeLinesConsole(emoji=False)
    data = report_data(source, space=space, metric=metric)
    where = listing_arguments(source.name, source.storage.url) if isinstance(source, Study) else None
    counts = ", ".join(f"{n} {state}" for state, n in sorted(data.state_counts().items())) or "no trials"
    aims = ", ".join(f"{m.name} ({m.direction})" for m in (data.objectives or (data.metric,)))
    heading = terminal_safe(f"{aims}, {counts}")
    out.rule(f"[bold]{terminal_safe(data.name)}[/bold]: {heading}")
    if failed := failed_some_note(data.records, where):
        out.print(Text(_plain(failed), style="yellow"))
    shown = shown_best(data)
    # Before the top-k table, whose parameter columns are chosen by importance when the width cannot hold them all.
    found = findings if findings is not None else (analyse(data) if analyses else None)
    if data.several:
        _print_front(data, out, why_no_result_below, where)
    elif shown is None:
        _print_no_best(data, out, "No trial has completed with a finite metric yet.", why_no_result_below, where)
    else:
        best = shown.record
        measured = metrics_text(best.metrics, objectives=(data.metric,), guardrails=data.guardrails)
        headline = f"Best: trial {best.number} (seed {best.seed}){shown.label}: {measured}"
        out.print(Text(_plain(headline), style="bold green"))
        for line in shown.lines:
            out.print(Text(f"  {_plain(line)}", style="green" if shown.settled else "yellow"))
        out.print(_best_table(best))
        table, hidden = _top_table(data, top_k, out.width, None if found is None else found.importance)
        out.print(table)
        if hidden:
            named = shlex.quote(data.name)
            more = f"+{hidden} parameter{'s' * (hidden != 1)} not shown: tunesmith show {named} N lists them all"
            out.print(Text(_plain(f"{more} for trial N")), soft_wrap=True)  # a command to paste
        for caveat in shown.caveats:  # as every view says them (`shown_best`): ties, few trained fully
            out.print(Text(_plain(caveat), style="yellow"))
    for record in data.invalidated:  # listed for the audit; out of best, top-k and the analyses
        out.print(Text(f"invalidated: trial {record.number}: {_plain(record.invalidated or '')}", style="yellow"))
    if several := environment_note(data):  # trials run under other code or packages may not compare
        out.print(Text(_plain(several), style="yellow"))
    if found is None:
        return
    if found.importance is not None:
        out.print(importance_bars(found.importance))
        if found.importance_note:
            out.print(Text(f"  ({_plain(found.importance_note)})", style="dim"))
    elif found.importance_note:
        out.print(Text(f"importance: {_plain(found.importance_note)}", style="yellow"))
    out.print(Text("Diagnosis", style="bold"))
    for line in found.diagnosis_lines():  # beside the importance note above
        out.print(Text(f"  • {_plain(line)}"))
    signal = found.early_signal
    if signal is not None and signal.kept_by is None:  # under early stopping it is not read: the report says why
        out.print(Text("Early signal", style="bold"))
        for line in signal.lines():
            out.print(Text(f"  • {_plain(line)}"))


def _print_no_best(
    data: ReportData, out: Console, none_yet: str, why_below: bool = False, where: str | None = None
) -> None:
    """Why there is no best (or front): every finished trial broke a guardrail or failed (only that it has none, and
    that the reason follows, when the caller says it below: ``why_below``), else none has finished yet. ``where``:
    the study's `listing_arguments`, which the commands in the reason name (``None``: not known)."""
    infeasible = no_feasible_note(data.records, data.metric, data.objectives, data.guardrails, where)
    if infeasible is None:
        out.print(none_yet)
    elif why_below:
        out.print(Text("No result: no trial is feasible; why, and what to do, are said at the end.", style="yellow"))
    else:
        out.print(Text(_plain(infeasible), style="yellow"))


def _print_front(data: ReportData, out: Console, why_no_result_below: bool = False, where: str | None = None) -> None:
    """Several objectives: the Pareto front (by the primary objective), its hypervolume and the recorded choice."""
    front = sorted(data.front, key=lambda r: (data.metric.sign() * r.metrics[data.metric.name], r.number))
    if not front:
        none_yet = "No trial has completed with every objective finite yet."
        _print_no_best(data, out, none_yet, why_no_result_below, where)
        return
    choice = data.choice
    out.print(Text(f"Pareto front: {len(front)} trials", style="bold green"))
    out.print(front_table(data, front, None if choice is None else choice.trial))
    for caveat in (mixed_examples_note(data.records, data.metric), few_trained_note(data), near_front_note(data)):
        if caveat is not None:
            out.print(Text(_plain(caveat), style="yellow"))
    out.print(_plain(data.hypervolume_line()))
    if data.void_choice is not None:
        out.print(Text(_plain(data.void_choice), style="yellow"))
    elif choice is None:
        out.print(_plain(f"no choice recorded: study.choose(ts.choose.knee()) (tunesmith choose "
                         f"{shlex.quote(data.name)} --knee) picks one for the discipline"), soft_wrap=True)
    else:
        out.print(_plain(f"chosen: trial {choice.trial} ({choice.why})"))
        if left := choice_off_front(data):
            out.print(Text(_plain(left), style="yellow"))


def front_table(data: ReportData, front: list[TrialRecord], chosen: int | None = None) -> Table:
    """The front's trials: a column per objective (a per-example metric with its standard error, as the trials
    table shows it: the front's members are told apart by it), then the parameters; the chosen trial marked with *."""
    names = list(data.space.dimensions)
    table = Table(show_edge=False)
    table.add_column("trial", justify="right")
    for metric in data.objectives:
        table.add_column(terminal_safe(f"{metric.name} ({metric.direction})"), justify="right", style="bold")
    for name in names:
        table.add_column(terminal_safe(name), justify="right")
    digits = objective_digits(front, data.objectives)
    for record in front:
        cells = [terminal_safe(format_value(record.params[n])) if n in record.params else "-" for n in names]
        mark = "*" if record.number == chosen else ""
        values = [
            terminal_safe(value_text(record.metrics, m.name, scale=m.scale, guardrails=data.guardrails,
                                     digits=digits[m.name]))
            for m in data.objectives
        ]  # fmt: skip
        table.add_row(f"{mark}{record.number}", *values, *cells)
    return table


def _plain(text: str) -> str:
    """User data for a `Text`, which takes no markup: only the control characters need escaping."""
    return terminal_safe(text, markup=False)


def _best_table(best: TrialRecord) -> Table:
    table = Table(show_edge=False)
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for name, value in best.params.items():
        table.add_row(terminal_safe(name), terminal_safe(format_value(value)))
    return table


def _top_table(data: ReportData, top_k: int, width: int, importance: ImportanceResult | None) -> tuple[Table, int]:
    """The best ``top_k`` trials in a table at most ``width`` cells wide, and how many parameters it leaves out.

    The trial and metric columns always show in full. The parameters take the width left, each at its full width,
    the most important first when importance is known (`Findings.importance`, set only beyond chance; see
    `_by_importance`), else in the space's order, until the next one does not fit; those shown keep the space's
    order. Left to itself, rich would shrink every column to fit, and with dozens of parameters none is legible.
    """
    records = data.ranked()[:top_k]
    numbers = [str(record.number) for record in records]
    metric_ = data.metric
    digits = telling_digits(r.metrics.get(metric_.name) for r in records)  # distinct values never read as a tie
    values = [value_text(r.metrics, metric_.name, scale=metric_.scale, guardrails=data.guardrails, digits=digits)
              for r in records]  # fmt: skip
    metric = terminal_safe(data.metric.name)
    names = list(data.space.dimensions)
    cells = {n: [terminal_safe(format_value(r.params[n])) if n in r.params else "-" for r in records] for n in names}
    room = width - _column_width("trial", numbers) - 1 - _column_width(metric, values)  # 1: the rule between
    chosen: set[str] = set()
    for name in _by_importance(names, importance):
        needed = 1 + _column_width(terminal_safe(name), cells[name])
        if needed > room:
            break
        chosen.add(name)
        room -= needed
    shown = [name for name in names if name in chosen]
    table = Table(title=f"Top {len(records)}", title_justify="left", show_edge=False)  # "Top 5" over 3 rows misled
    table.add_column("trial", justify="right", no_wrap=True)
    table.add_column(metric, justify="right", style="bold", no_wrap=True)
    for name in shown:
        table.add_column(terminal_safe(name), justify="right")
    for i, number in enumerate(numbers):
        table.add_row(number, values[i], *(cells[name][i] for name in shown))
    return table, len(names) - len(shown)


def _column_width(header: str, cells: list[str]) -> int:
    """The cells a table column takes to show ``header`` and ``cells`` (rich markup) on one line each, its padding
    of one cell on either side included."""
    return 2 + max(Text.from_markup(text).cell_len for text in [header, *cells])


def _by_importance(names: list[str], importance: ImportanceResult | None) -> list[str]:
    """``names`` with the parameters the trials show to matter most first (`_standing_out`), then the rest as given:
    shares within noise of each other are not ranked, so such parameters keep the space's order."""
    leaders = _standing_out(names, importance)
    return leaders + [name for name in names if name not in leaders]


def _standing_out(names: list[str], importance: ImportanceResult | None) -> list[str]:
    """The parameters of ``names`` whose importance stands out of the rest, by their share: the fewest leading main
    effects that each explain more than the next one in `LEAD_CONFIDENCE` of the trees, as the advice asks before it
    names a parameter to tune first. Empty when none does, or importance is not shown (`Findings.importance`, set
    only beyond chance). The HTML report orders its parameter figures by the same rule."""
    main = [] if importance is None else [item for item in importance.main if item.name in names]
    for k in range(1, len(main)):
        if all(_lead(item, main[k]) >= LEAD_CONFIDENCE for item in main[:k]):
            return [item.name for item in main[:k]]
    return []


def importance_bars(result: ImportanceResult, width: int = BAR_WIDTH) -> Table:
    """A table of main effects drawn as bars, with mean ± standard deviation over trees."""
    table = Table(
        title=f"Importance (fANOVA, {result.n_trials} trials, {result.n_trees} trees)",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("parameter")
    table.add_column("share of variance")
    table.add_column("", justify="right")
    for item in result.main:
        filled = round(max(0.0, min(1.0, item.mean)) * width)
        bar = Text("█" * filled, style="cyan") + Text("·" * (width - filled), style="dim")
        table.add_row(terminal_safe(item.name), bar, f"{item.mean:.0%} ± {item.std:.0%}")
    for pair in result.pairs[:3]:
        if pair.mean >= 0.01:
            filled = round(max(0.0, min(1.0, pair.mean)) * width)
            bar = Text("█" * filled, style="magenta") + Text("·" * (width - filled), style="dim")
            table.add_row(terminal_safe(pair.name), bar, f"{pair.mean:.0%} ± {pair.std:.0%}")
    return table
