"""The HTML report: one self-contained file that opens offline in any browser.

plotly.js is embedded once, in the page's head; every figure after it is a ``<div>`` and the
call that draws it. A small script records script errors and, once every figure has been
drawn, writes what it saw into the ``#ts-status`` element (``data-expected``,
``data-rendered``, ``data-errors``), which is what the headless-browser test reads.

Example:
    >>> from tunesmith.report import write_report
    >>> write_report(study, "report.html")
"""

from __future__ import annotations

import functools
import html
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tunesmith._attribute_json import json_safe
from tunesmith.analysis._common import format_value, telling_digits
from tunesmith.attributes import (
    BaselineAttr,
    EnvironmentAttr,
    HoldoutAttr,
    HoldoutLogAttr,
    HoldoutOpeningAttr,
    OptimismAttr,
    SeedStabilityAttr,
    StudyAttribute,
    VerdictAttr,
    read_attr,
)
from tunesmith.budget import BudgetUsage
from tunesmith.discipline.holdout import voided
from tunesmith.objective import Metric
from tunesmith.report import plots
from tunesmith.report._data import (
    Findings,
    ReportData,
    analyse,
    differing_packages,
    environment_note,
    metrics_text,
    objective_digits,
    report_data,
    trial_runs_text,
    value_text,
)
from tunesmith.report._plots_timeline import caption as timeline_caption
from tunesmith.report._plots_timeline import lanes as timeline_lanes
from tunesmith.report._shown import (
    SchedulerStops,
    best_is_shown,
    choice_off_front,
    few_trained_note,
    near_front_note,
    no_feasible_note,
    scheduler_stops,
    shown_best,
)
from tunesmith.report.export import not_written
from tunesmith.report.terminal import _standing_out
from tunesmith.space import Space
from tunesmith.study._convergence import recorded_text
from tunesmith.study._optimize import failed_some_note
from tunesmith.study._validation_set import compared_text, mixed_examples_note
from tunesmith.trial import TrialRecord, TrialState

__all__ = ["render_report", "write_report"]

TOP_K = 10
_A = TypeVar("_A", bound=StudyAttribute)


@dataclass(frozen=True)
class _Section:
    title: str
    body: str
    figure: Any | None = None


def write_report(
    source: Any,
    path: str | Path,
    *,
    space: Space | None = None,
    metric: Metric | str | None = None,
    title: str | None = None,
    findings: Findings | None = None,
    scheduler: SchedulerStops | None = None,
) -> Path:
    """Write the HTML report of a study to ``path`` and return the path.

    Args:
        source: a `Study`, a `ReportData`, or a list of `TrialRecord` (then pass ``space`` and ``metric``).
        path: where to write the file (parent folders are created).
        space, metric: the space and metric when ``source`` is bare records.
        title: the page title (default: the study's name).
        findings: analyses already computed (see `tunesmith.report.analyse`); computed when omitted.
        scheduler: what the study's scheduler did (`scheduler_stops`), said in the header as ``tunesmith status``
            says it; read from the study when ``source`` is a `Study` and this is omitted (a `ReportData` or records
            carry no scheduler).

    Raises:
        FileNotWritten: the file or its folder cannot be written; the message names the path, the system's reason
            and the fix.
    """
    text = render_report(source, space=space, metric=metric, title=title, findings=findings, scheduler=scheduler)
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise not_written("the HTML report", target, exc) from exc
    return target


def render_report(
    source: Any,
    *,
    space: Space | None = None,
    metric: Metric | str | None = None,
    title: str | None = None,
    findings: Findings | None = None,
    scheduler: SchedulerStops | None = None,
) -> str:
    """The HTML report as text (see `write_report`)."""
    from tunesmith.study import Study

    data = report_data(source, space=space, metric=metric)
    found = findings or analyse(data)
    if scheduler is None and isinstance(source, Study):  # counted on the snapshot the rest of the page shows
        scheduler = scheduler_stops(source, data.records, _usage(data))
    sections = _sections(data, found)
    return _page(data, found, sections, title or f"tunesmith report: {data.name}", scheduler)


def _sections(data: ReportData, found: Findings) -> list[_Section]:
    out: list[_Section] = []
    verdict = _optional(data.attrs, VerdictAttr, _verdict_html)
    if verdict is not None:
        from tunesmith.discipline.verdict import stale_note

        stale = stale_note(data.attrs, data.records)
        warning = "" if stale is None else f'<p class="verdict bad"><b>STALE</b> {html.escape(stale)}</p>'
        out.append(_Section("Verdict", warning + verdict))
    if data.several:  # no single best: the front, its history, and the choice made from it
        out.append(_Section("Pareto front", _front_html(data), plots.pareto_front(data)))
        out.append(_Section("Hypervolume", "", plots.hypervolume_history(data)))
    else:
        out.append(_Section("Best configuration", _best_html(data)))
    ranked_by = f" by {data.metric.name}, the first objective" if data.several else ""
    top = data.ranked()[:TOP_K]
    out.append(_Section(f"Top {len(top) or TOP_K} trials{ranked_by}", _top_html(data, top)))  # "Top 10" over 9 misled
    if failed := failed_some_note(data.records, None):  # as the terminal summary says it, under its heading
        out.append(_Section("Failed trials", f"<p>{html.escape(failed)}</p>"))
    if data.invalidated:
        out.append(_Section("Invalidated trials", _invalidated_html(data)))
    environments = _environments_section(data)
    several = environment_note(data) is not None
    if environments is not None and several:  # results of other code may not compare: said before any figure
        out.append(environments)
    out.append(_Section("Diagnosis", _diagnosis_html(found)))
    if found.early_signal is not None:
        lines = found.early_signal.lines()
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines[1:])
        out.append(_Section("Early signal", f"<p>{html.escape(lines[0])}</p>" + (f"<ul>{items}</ul>" if items else "")))
    out.append(_Section("Optimisation history", "", plots.history(data)))
    if any(record.curve(data.metric.name) for record in data.valid):
        out.append(
            _Section(
                "Learning curves",
                "<p>Colour shows each trial's failure signature; the buttons switch to its state.</p>",
                plots.learning_curves(data, found.diagnosis),
            )
        )
    else:  # an empty figure's axes said nothing the diagnosis does not say in words
        out.append(_Section("Learning curves", f"<p>No trial reported {html.escape(repr(data.metric.name))} at a "
                                               "step: report it in the training loop (trial.report) to see its "
                                               "curves and their failure signatures.</p>"))  # fmt: skip
    out.append(
        _Section(
            "Hyperparameter importance",
            "<p>Share of the variance of the metric's ranks (each trial's rank among the trials, best first) "
            "explained by each parameter (main effect) and by each pair beyond their main effects (interaction), "
            "from a random forest; error bars show one standard deviation over its trees.</p>"
            + (f'<p class="warn">{html.escape(found.importance_note)}</p>' if found.importance_note else ""),
            plots.importance(found.importance, found.importance_note),
        )
    )
    order, caption = _parameter_order(data, found)
    out.append(_Section("Parallel coordinates", caption, plots.parallel_coordinates(data, order)))
    out.append(_Section("Slices", caption, plots.slices(data, order)))
    out.append(_Section("Budget", _budget_html(data), plots.budget_burn(data)))
    laid = timeline_lanes(data.records, time.time(), data.gone)
    if laid is not None and laid.rows > 1:  # one trial at a time: the history and the budget figure say it all
        out.append(_Section("Timeline", f"<p>{html.escape(timeline_caption(laid))}</p>", plots.timeline(data, laid)))
    guard = plots.guardrails(data)
    if guard is not None:
        out.append(_Section("Guardrails", "", guard))
    for section in (
        _figure_section("Seed stability", data.attrs, SeedStabilityAttr, plots.seed_stability),
        _figure_section("Validation vs holdout", data.attrs, HoldoutAttr, plots.holdout),
    ):
        if section is not None:
            out.append(section)
    for heading, body in (
        ("Baseline", _optional(data.attrs, BaselineAttr, _baseline_html)),
        ("Optimism of the best validation score", _optional(
            data.attrs, OptimismAttr,
            functools.partial(_optimism_html, mixed=mixed_examples_note(data.records, data.metric) is not None),
        )),
        ("Holdout openings", _optional(data.attrs, HoldoutLogAttr, _holdout_log_html)),
    ):
        if body is not None:
            out.append(_Section(heading, body))
    if environments is not None and not several:
        out.append(environments)
    return out


def _parameter_order(data: ReportData, found: Findings) -> tuple[list[str], str]:
    """The order of the parameter figures' axes and panels, and the caption that says why: the parameters whose
    importance stands out first (`terminal._standing_out`, the rule the terminal's top table follows), the rest in
    the space's order. Ordered by the shares alone, the figures ranked noise where the summary said that no
    parameter stands out."""
    names = list(data.space.dimensions)
    leaders = _standing_out(names, found.importance)
    if len(names) < 2:
        return names, ""
    if leaders:
        first = ", ".join(leaders)
        said = (f"Parameters in order of importance where it stands out: {first} first (by share), each ahead of the "
                "rest beyond the spread of the forest's trees; the others in the space's order, their importance "
                "within noise of each other.")  # fmt: skip
    elif found.importance is not None:
        said = ("Parameters in the space's order: no parameter's importance stands out of the others' beyond the "
                "spread of the forest's trees, so an order by share would rank noise.")  # fmt: skip
    else:
        said = "Parameters in the space's order: the forest's shares are not yet shown beyond chance."
    return leaders + [name for name in names if name not in leaders], f"<p>{html.escape(said)}</p>"


def _environments_section(data: ReportData) -> _Section | None:
    """The environments the trials ran under (git commit, interpreter, packages), each with its trials, and a
    warning when there were several; ``None`` when no trial recorded its environment."""
    groups = data.environment_groups()
    malformed = _optional(data.attrs, EnvironmentAttr, lambda _: "") or ""  # a note when not in its shape
    if not malformed and all(g.fingerprint is None for g in groups):
        return None  # no trial recorded its environment (none ran yet, or an older tunesmith ran them)
    packages = differing_packages(groups)
    rows = [
        [
            trial_runs_text(g.trials),
            g.label(packages),
            g.fingerprint or "-",
            "-" if g.environment is None else g.environment.python,
            "-" if g.environment is None else ", ".join(f"{k} {v}" for k, v in sorted(g.environment.packages.items())),
        ]
        for g in groups
    ]
    note = environment_note(data)
    warning = "" if note is None else f'<p class="warn">{html.escape(note)}</p>'
    heading = "Environments" if len(groups) > 1 else "Environment"
    table = _table(["trials", "ran under", "fingerprint", "python", "packages"], rows)
    return _Section(heading, warning + malformed + table)


def _baseline_html(baseline: BaselineAttr) -> str:
    params = ", ".join(f"{k}={format_value(v)}" for k, v in (baseline.params or {}).items())
    if baseline.mean is None and baseline.runs:  # run, and every run failed: say so, not that it was never run
        first = next((str(run.get("reason")) for run in baseline.runs if run.get("reason")), "no reason recorded")
        return (
            f"<p>The model's defaults ({html.escape(params)}) were run on {len(baseline.runs)} seeds and every run "
            f"failed (the first: {html.escape(first)}), so the winner was compared with nothing and the verdict's "
            "baseline margin fails: fix the objective for these parameters and run "
            "<code>ts.evaluate_baseline(study, objective)</code> again.</p>"
        )
    if baseline.mean is None:
        raise baseline.missing("mean")
    failed = len(baseline.runs) - len(baseline.values or ())
    spread = "" if baseline.std is None else f" ± {format_value(baseline.std)} (standard deviation over seeds)"
    return (
        f"<p>The model's defaults ({html.escape(params)}), run across {len(baseline.runs)} seeds"
        f"{f' ({failed} failed)' if failed > 0 else ''}: mean {html.escape(format_value(baseline.mean))}"
        f"{html.escape(spread)}. The "
        "dashed line in the optimisation history marks it; the verdict asks the winner to beat it by more than the "
        "noise of seeds and of the validation sample.</p>"
    )


def _optimism_html(optimism: OptimismAttr, *, mixed: bool = False) -> str:
    """The optimism section (``mixed``: the trials' scores were read from validation sets of different sizes)."""
    compared = html.escape(compared_text(int(optimism.compared), optimism.earlier, optimism.validation_set,
                                         optimism.across, optimism.estimate, mixed=mixed))  # fmt: skip
    if optimism.estimate is None or optimism.corrected is None:  # the noise is unknown: the detail says why
        return f"<p>{compared}.</p><p>{html.escape(optimism.detail or '')}</p>"
    return (
        f"<p>{compared}.</p><p>The best validation score {html.escape(format_value(optimism.best))} is optimistic "
        f"({html.escape(optimism.method or '')}) by about "
        f"{html.escape(format_value(optimism.estimate))}; corrected "
        f"{html.escape(format_value(optimism.corrected))}.</p><p>{html.escape(optimism.detail or '')}</p>"
    )


def _holdout_log_html(log: HoldoutLogAttr) -> str:
    rows = "".join(
        f"<tr><td>{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(entry.at)))}</td>"
        f"<td>#{html.escape(str(entry.trial))}</td><td>{html.escape(entry.how or '')}</td>"
        f"<td>{_opening_kind(entry)}</td></tr>"
        for entry in log.openings
    )
    return (
        "<p>Every time the locked holdout was opened (a second opening needs force, and is recorded):</p>"
        f"<table><tr><th>when</th><th>trial</th><th>chosen as</th><th></th></tr>{rows}</table>"
    )


def _opening_kind(entry: HoldoutOpeningAttr) -> str:
    """How an opening of the holdout counts: forced, voided (refused before any check read it: it judged nothing),
    or first."""
    if entry.forced:
        return "forced"
    kind = voided(entry)
    return "first opening" if kind is None else f"voided: {kind.words}"


def _optional(attrs: Mapping[str, Any], kind: type[_A], render: Callable[[_A], str]) -> str | None:
    """The attribute ``kind`` rendered, ``None`` when absent, or a note when it is not in its shape."""
    try:
        value = read_attr(attrs, kind)
        return None if value is None else render(value)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # AttributeShapeError is a ValueError
        return _malformed(kind.KEY, exc)


def _figure_section(heading: str, attrs: Mapping[str, Any], kind: type[_A], figure_of: Callable[[_A], Any]
                    ) -> _Section | None:  # fmt: skip
    """A section with the attribute's figure, ``None`` when absent, or a note when it is not in its shape."""
    try:
        value = read_attr(attrs, kind)
        return None if value is None else _Section(heading, "", figure_of(value))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return _Section(heading, _malformed(kind.KEY, exc))


def _malformed(key: str, exc: Exception) -> str:
    return (
        f'<p class="warn">The study attribute <code>{html.escape(key)}</code> is not in the shape the report reads '
        f"({html.escape(type(exc).__name__)}: {html.escape(str(exc))}); see docs/architecture.md, “Report”.</p>"
    )


def _verdict_html(verdict: VerdictAttr) -> str:
    status = verdict.status.lower()
    css = {"pass": "ok", "warn": "warn", "fail": "bad"}.get(status, "warn")
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in verdict.reasons or ())
    summary = html.escape(verdict.summary or "")
    return f'<p class="verdict {css}"><b>{html.escape(status.upper())}</b> {summary}</p><ul>{reasons}</ul>'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _best_html(data: ReportData) -> str:
    shown = shown_best(data)
    if shown is None:
        infeasible = no_feasible_note(data)
        if infeasible is not None:
            return f'<p class="warn">{html.escape(infeasible)}</p>'
        return "<p>No trial has completed with a finite metric yet.</p>"
    best = shown.record
    rows = [[name, format_value(value)] for name, value in best.params.items()]
    table = _table(["parameter", "value"], rows)
    said = "".join(f'<p class="{"ok" if shown.settled else "warn"}">{html.escape(line)}</p>' for line in shown.lines)
    note = "".join(f'<p class="warn">{html.escape(caveat)}</p>' for caveat in shown.caveats)  # as every view says
    measured = metrics_text(best.metrics, objectives=(data.metric,), guardrails=data.guardrails)
    headline = f"Trial {best.number} (seed {best.seed}){shown.label}: {measured}"
    return f"<p>{html.escape(headline)}</p>{said}{table}{note}"


def _front_html(data: ReportData) -> str:
    front = sorted(data.front, key=lambda r: (data.metric.sign() * r.metrics[data.metric.name], r.number))
    if not front:
        infeasible = no_feasible_note(data)
        if infeasible is not None:
            return f'<p class="warn">{html.escape(infeasible)}</p>'
        return "<p>No trial has completed with every objective finite yet.</p>"
    choice = data.choice
    names = list(data.space.dimensions)
    digits = objective_digits(front, data.objectives)  # as status
    rows = [
        [("* " if choice is not None and r.number == choice.trial else "") + str(r.number)]
        + [value_text(r.metrics, m.name, scale=m.scale, guardrails=data.guardrails, digits=digits[m.name])
           for m in data.objectives]
        + [format_value(r.params[n]) if n in r.params else "-" for n in names]
        for r in front
    ]
    lines = [f"{len(front)} non-dominated feasible trials", data.hypervolume_line()]
    lines.append(
        data.void_choice
        or (
            "no choice recorded: study.choose(ts.choose.knee()) picks one for the discipline"
            if choice is None
            else f"* chosen: trial {choice.trial} ({choice.why})"
        )
    )
    text = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    if left := choice_off_front(data):
        text += f'<p class="warn">{html.escape(left)}</p>'
    for caveat in (mixed_examples_note(data.records, data.metric), few_trained_note(data), near_front_note(data)):
        if caveat is not None:
            text += f'<p class="warn">{html.escape(caveat)}</p>'
    return text + _table(["trial", *(f"{m.name} ({m.direction})" for m in data.objectives), *names], rows)


def _top_html(data: ReportData, ranked: list[TrialRecord]) -> str:
    """The table of ``ranked``, the best `TOP_K` ranked trials."""
    if not ranked:
        if any(r.state is TrialState.COMPLETE and r.invalidated is not None for r in data.records):
            return "<p>No trial ranks: every one that completed is invalidated (said above).</p>"
        return "<p>No completed trials yet.</p>"
    names = list(data.space.dimensions)
    metric = data.metric
    digits = telling_digits(r.metrics.get(metric.name) for r in ranked)  # distinct values never read as a tie
    shown = {r.number: value_text(r.metrics, metric.name, scale=metric.scale, guardrails=data.guardrails,
                                  digits=digits) for r in ranked}  # fmt: skip
    rows = [
        [str(r.number), shown[r.number]] + [format_value(r.params[n]) if n in r.params else "-" for n in names]
        for r in ranked
    ]
    return _table(["trial", metric.name, *names], rows)


def _invalidated_html(data: ReportData) -> str:
    """The trials taken out of the search, each with its reason: listed for the audit, in no figure that ranks."""
    rows = [
        [str(r.number), r.state.value, format_value(r.value(data.metric.name)), r.invalidated or "", _when(r)]
        for r in data.invalidated
    ]
    return (
        "<p>These trials were invalidated (<code>study.invalidate</code>): they are out of the best configuration, "
        "the top trials, the analyses and every figure but the optimisation history, where they are crosses. "
        "They still spent their budget.</p>"
        + _table(["trial", "state", data.metric.name, "reason", "invalidated at"], rows)
    )


def _when(record: TrialRecord) -> str:
    at = record.attrs.get("invalidated_at")
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(at))) if isinstance(at, int | float) else "-"


def _diagnosis_html(found: Findings) -> str:
    diagnosis = found.diagnosis
    lines = found.diagnosis_lines()  # beside the importance section's note
    counts = "".join(
        f'<span class="chip" style="border-color:{plots.SIGNATURE_COLOURS[s]}">{s.value}: {n}</span>'
        for s, n in diagnosis.counts.items()
    )
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines[1:]) or "<li>no failure pattern to report</li>"
    head = html.escape(lines[0]) if lines else ""
    return f"<p>{head}</p><p>{counts}</p><ul>{items}</ul>"


def _usage(data: ReportData) -> BudgetUsage:
    """The budget ``data``'s trials spent, as `tunesmith status` counts it."""
    return data.budget.usage(data.records, time.time(), gone=data.gone)


def _budget_html(data: ReportData) -> str:
    usage = _usage(data)
    limits = data.budget.to_json()
    spent = [f"{usage.trials} trials", f"{usage.resource:g} resource units"]
    stated = ", ".join(f"{k} = {v}" for k, v in limits.items() if v is not None) or "no budget set"
    said = f"<p>Spent {', '.join(spent)}; budget: {html.escape(stated)}.</p>"
    if (converged := recorded_text(data.attrs, data.budget, data.metric)) is not None:  # as `tunesmith status` says
        said += f"<p>{html.escape(converged)}.</p>"
    return said


def _scheduler_html(scheduler: SchedulerStops | None, best_below: bool) -> str:
    """The scheduler, where it stopped trials and how many trained fully, in `tunesmith status`'s words (empty when
    it stops none by design, or is not known); that too few trained fully only when no best section below says it
    (``best_below``: `best_is_shown`), as `status` says it once."""
    if scheduler is None:
        return ""
    said = "".join(f"<p>{html.escape(line)}</p>" for line in scheduler.lines())
    few = None if best_below else scheduler.few_trained
    return said + ("" if few is None else f'<p class="warn">{html.escape(few)}</p>')


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #111827;
       background: #f9fafb; }
header { background: #111827; color: #f9fafb; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #d1d5db; }
header .warn { color: #fcd34d; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 32px 48px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 18px; margin: 16px 0; }
section h2 { font-size: 17px; margin: 4px 0 8px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 4px 10px; text-align: left; }
th { background: #f3f4f6; }
.chip { display: inline-block; border: 2px solid; border-radius: 12px; padding: 1px 9px; margin: 0 6px 4px 0;
        font-size: 12px; }
.warn { color: #92400e; } .ok { color: #166534; } .bad { color: #991b1b; }
.verdict { font-size: 16px; }
"""

# Installed before plotly.js so that any error, even while plotly loads, is recorded.
_ERROR_HOOK = """
window.__tsErrors = [];
window.addEventListener("error", function (e) { window.__tsErrors.push(String(e.message || e)); });
window.addEventListener("unhandledrejection", function (e) { window.__tsErrors.push("unhandled: " + e.reason); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__tsErrors.push(Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
})();
"""

# After plotly.js: remember every drawing promise.
_PLOT_HOOK = """
window.__tsPlots = [];
(function () {
  var newPlot = Plotly.newPlot;
  Plotly.newPlot = function () {
    var drawing = newPlot.apply(this, arguments);
    window.__tsPlots.push(drawing);
    return drawing;
  };
})();
"""

_STATUS = """
window.addEventListener("load", function () {
  Promise.allSettled(window.__tsPlots).then(function (results) {
    results.forEach(function (r) { if (r.status === "rejected") { window.__tsErrors.push("plot: " + r.reason); } });
    var figures = document.querySelectorAll(".ts-figure");
    var rendered = 0;
    figures.forEach(function (f) {
      var plot = f.querySelector(".js-plotly-plot");
      if (plot && plot.querySelector(".main-svg") && plot._fullData) { rendered += 1; }
    });
    var status = document.getElementById("ts-status");
    status.setAttribute("data-expected", String(figures.length));
    status.setAttribute("data-rendered", String(rendered));
    status.setAttribute("data-errors", JSON.stringify(window.__tsErrors));
    status.setAttribute("data-done", "1");
    status.textContent = rendered + " of " + figures.length + " figures drawn, " + window.__tsErrors.length + " errors";
  });
});
"""


def _page(
    data: ReportData, found: Findings, sections: list[_Section], title: str, scheduler: SchedulerStops | None = None
) -> str:
    from plotly.offline import get_plotlyjs

    counts = ", ".join(f"{n} {state}" for state, n in sorted(data.state_counts().items()))
    if data.invalidated:
        counts += f" ({len(data.invalidated)} invalidated)"
    parts: list[str] = []
    figure_index = 0
    for section in sections:
        body = section.body
        if section.figure is not None:
            div = section.figure.to_html(
                full_html=False,
                include_plotlyjs=False,
                div_id=f"ts-figure-{figure_index}",
                config={"displaylogo": False, "responsive": True},
            )
            body += f'<div class="ts-figure">{div}</div>'
            figure_index += 1
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>{body}</section>")
    analysis = {
        "importance": found.importance.to_json() if found.importance else None,
        "diagnosis": found.diagnosis.to_json(),
        "early_signal": found.early_signal.to_json() if found.early_signal else None,
    }
    analysis_json = json.dumps(json_safe(analysis), allow_nan=False, default=str).replace("</", "<\\/")
    # Every objective, as `tunesmith status` heads its summary: a study with several is judged on all of them.
    aims = ", ".join(f"{m.name} ({m.direction})" for m in (data.objectives if data.several else (data.metric,)))
    subtitle = (
        f"{'objectives' if data.several else 'metric'} {aims} · {len(data.records)} trials"
        + (f": {counts}" if counts else "")
        + f" · written {time.strftime('%Y-%m-%d %H:%M')}"
    )
    summary = f"<p>{html.escape(subtitle)}</p>" + _scheduler_html(scheduler, best_is_shown(data))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_STYLE}</style>
<script>{_ERROR_HOOK}</script>
<script>{get_plotlyjs()}</script>
<script>{_PLOT_HOOK}</script>
</head>
<body>
<header><h1>{html.escape(title)}</h1>{summary}</header>
<main>
{"".join(parts)}
<p id="ts-status" class="warn" data-done="0">figures not drawn: is JavaScript on?</p>
</main>
<script type="application/json" id="ts-analysis">{analysis_json}</script>
<script>{_STATUS}</script>
</body>
</html>
"""
