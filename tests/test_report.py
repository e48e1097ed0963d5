"""The HTML report, its figures in a real headless Chromium, the terminal summary and the export."""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import json
import math
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

import tunesmith as ts
from tests.browser import chromium
from tunesmith.cli import cli
from tunesmith.errors import ConfigError, MissingExtra
from tunesmith.report import ReportData, analyse, log_to_mlflow, summary, trial_rows, write_csv, write_report
from tunesmith.trial import Trial, TrialRecord, TrialState

SPACE = ts.Space(
    {
        "lr": ts.Float(1e-5, 1e-1, log=True),
        "batch_size": ts.Int(32, 4096, base=2),
        "weight_decay": ts.Float(1e-5, 1e-1, log=True),
        "optimizer": ts.Choice(["adam", "sgd"]),
        "momentum": ts.Float(0.8, 0.99, when={"optimizer": "sgd"}),
    }
)


def _objective(trial: Trial) -> dict[str, float]:
    """High learning rates diverge, low ones underfit, tiny weight decay overfits late."""
    lr, wd = trial.params["lr"], trial.params["weight_decay"]
    rng = np.random.default_rng(trial.seed)
    floor = 0.1 + 0.15 * (math.log10(lr) + 2.5) ** 2
    loss = 2.3
    for step in trial.steps(15):
        if lr > 0.04:
            loss = loss * 1.8 if step < 6 else math.nan
        else:
            loss = floor + (loss - floor) * (1 - 0.5 * min(1.0, lr * 300)) + 0.005 * rng.normal()
            loss += 0.03 * max(0, step - 7) if wd < 1e-4 else 0.0
        trial.report(val_loss=loss)
    return {"val_loss": loss, "latency_ms": 5.0 + trial.params["batch_size"] / 200.0}


def _study(storage: str = "memory", name: str = "planted") -> ts.Study:
    study = ts.Study(
        SPACE,
        metric=ts.Metric("val_loss", "min"),
        guardrails=[ts.Guardrail("latency_ms", "<=", 20.0)],
        sampler="random",
        budget=ts.Budget(trials=120, resource=3000),
        storage=storage,
        name=name,
        seed=5,
    )
    study.optimize(_objective)
    return study


@pytest.fixture(scope="module")
def study() -> ts.Study:
    planted = _study()
    planted.set_attr(
        "verdict", {"status": "warn", "summary": "stable, holdout slightly worse", "reasons": ["seed spread 0.004"]}
    )
    planted.set_attr(
        "seed_stability",
        {
            "metric": "val_loss",
            "candidates": [{"label": "#3", "values": [0.1, 0.11]}, {"label": "#9", "values": [0.2, 0.25]}],
        },
    )
    planted.set_attr("holdout", {"trial": 3, "val_loss": 0.1, "holdout_loss": 0.12, "opened": 1})
    return planted


@pytest.fixture(scope="module")
def report_path(study: ts.Study, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(study, tmp_path_factory.mktemp("report") / "report.html")


def test_the_report_is_one_offline_file_with_plotly_embedded_once(report_path: Path) -> None:
    text = report_path.read_text(encoding="utf-8")
    assert text.count("plotly.js v") == 1  # the library's banner, present once
    assert not re.search(r"<script[^>]+src=", text)
    markup = re.sub(r"<script>.*?</script>", "", text, flags=re.S)  # the page without its inline scripts
    assert not re.search(r'(src|href)="https?:', markup)
    assert len(re.findall(r'class="ts-figure"', text)) == 9
    for heading in ("Verdict", "Learning curves", "Parallel coordinates", "Guardrails", "Seed stability"):
        assert f"<h2>{heading}</h2>" in text
    assert "Validation vs holdout (trial 3)" in text
    analysis = json.loads(re.search(r'<script type="application/json" id="ts-analysis">(.*?)</script>', text, re.S)[1])
    assert analysis["importance"]["main"][0]["params"] == ["lr"]


def test_a_malformed_study_attribute_becomes_a_note_not_a_crash(study: ts.Study, tmp_path: Path) -> None:
    data = ReportData.from_study(study)
    broken = ReportData(
        data.name, data.space, data.metric, data.records, data.guardrails, data.budget, {"seed_stability": [1, 2]}
    )
    text = write_report(broken, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "is not in the shape the report reads" in text


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return chromium("--virtual-time-budget=15000", *args, profile=profile, timeout=120)


@pytest.mark.slow
def test_the_report_renders_every_figure_in_headless_chromium(report_path: Path, tmp_path: Path) -> None:
    done = _chromium("--dump-dom", report_path.as_uri(), profile=tmp_path / "profile")
    status = re.search(r'<p id="ts-status"([^>]*)>', done.stdout)
    assert status is not None, f"no status in the page; chromium said: {done.stderr[-2000:]}"
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', status[1]))
    assert attrs["data-done"] == "1"
    errors = json.loads(attrs["data-errors"].replace("&quot;", '"'))
    print(f"chromium: {attrs['data-rendered']} of {attrs['data-expected']} figures drawn, errors {errors}")
    assert errors == []
    assert attrs["data-expected"] == "9"
    assert attrs["data-rendered"] == attrs["data-expected"]
    screenshot = tmp_path / "report.png"
    _chromium(
        f"--screenshot={screenshot}", "--window-size=1300,1800", report_path.as_uri(), profile=tmp_path / "profile"
    )
    assert screenshot.stat().st_size > 20_000


def _synthetic(n: int, steps: int = 20, seed: int = 0) -> ReportData:
    """``n`` trials written as storage would hold them, with a learning curve each."""
    rng = np.random.default_rng(seed)
    records = []
    for number in range(n):
        params = SPACE.sample(rng)
        lr = params["lr"]
        floor = 0.1 + 0.15 * (math.log10(lr) + 2.5) ** 2
        loss, curve = 2.3, {}
        state, reason = TrialState.COMPLETE, None
        for step in range(1, steps + 1):
            if lr > 0.04:
                loss = loss * 1.7 if step < 8 else math.nan
            else:
                loss = floor + (loss - floor) * (1 - 0.5 * min(1.0, lr * 300)) + 0.005 * rng.normal()
            curve[step] = {"val_loss": loss}
            if math.isnan(loss):
                state, reason = TrialState.STOPPED, "diverged"
                break
        records.append(
            TrialRecord(
                number=number,
                params=params,
                seed=number,
                state=state,
                metrics={"val_loss": loss},
                intermediate=curve,
                resource=float(max(curve)),
                started_at=1.7e9 + number * 3.0,
                finished_at=1.7e9 + number * 3.0 + 2.5,
                reason=reason,
            )
        )
    return ReportData("synthetic", SPACE, ts.Metric("val_loss", "min"), tuple(records), budget=ts.Budget(trials=n))


@pytest.mark.slow
def test_a_report_of_ten_thousand_trials_takes_under_twenty_seconds(tmp_path: Path) -> None:
    data = _synthetic(10_000)
    started = time.perf_counter()
    path = write_report(data, tmp_path / "big.html")
    elapsed = time.perf_counter() - started
    print(f"report of 10,000 trials: {elapsed:.1f}s, {path.stat().st_size / 1e6:.1f} MB")
    assert elapsed < 20.0
    assert "showing 600 of 10000" in path.read_text(encoding="utf-8")


def test_bare_records_need_a_space_and_a_metric(study: ts.Study, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="space= and metric="):
        write_report(study.trials, tmp_path / "r.html")
    path = write_report(study.trials, tmp_path / "r.html", space=SPACE, metric="val_loss")
    assert path.stat().st_size > 1_000_000


def test_the_terminal_summary_shows_best_importance_and_diagnosis(study: ts.Study) -> None:
    buffer = io.StringIO()
    summary(study, console=Console(file=buffer, width=140, color_system=None), top_k=3)
    text = buffer.getvalue()
    best = study.best
    assert best is not None
    assert f"Best: trial {best.number}" in text
    assert "Top 3" in text
    assert re.search(r"lr\s+│\s+█+", text)
    assert "diverged trials have lr >" in text
    assert "narrow lr to at most" in text


def test_trial_rows_flatten_params_and_metrics(study: ts.Study, tmp_path: Path) -> None:
    columns, rows = trial_rows(study)
    assert len(rows) == len(study.trials)
    assert columns[:6] == ["number", "state", "kind", "reason", "seed", "value"]
    assert {"params.lr", "params.momentum", "metrics.val_loss", "metrics.latency_ms"} <= set(columns)
    assert all(set(row) == set(columns) for row in rows)
    assert {row["kind"] for row in rows if row["reason"] == "diverged"} == {"diverged"}, "the kind beside the reason"
    adam = next(row for row in rows if row["params.optimizer"] == "adam")
    assert adam["params.momentum"] is None
    path = write_csv(study, tmp_path / "trials.csv")
    with path.open(newline="") as fh:
        read = list(csv.DictReader(fh))
    assert [int(r["number"]) for r in read] == [r.number for r in study.trials]
    first = study.trials[0]
    assert float(read[0]["params.lr"]) == pytest.approx(first.params["lr"])
    assert read[0]["state"] == first.state.value


def test_mlflow_export_logs_nested_runs_or_names_the_extra(
    study: ts.Study, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec("mlflow") is None:
        with pytest.raises(MissingExtra, match=r"tunesmith\[mlflow\]"):
            log_to_mlflow(study, tracking_uri=tmp_path.as_uri())
        return
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_id = log_to_mlflow(study, tracking_uri=tmp_path.as_uri(), experiment="planted")
    client = MlflowClient(tracking_uri=tmp_path.as_uri())
    experiment = client.get_experiment_by_name("planted")
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'", max_results=1000)
    assert len(children) == len(study.trials)
    first = study.trials[0]
    child = next(c for c in children if c.info.run_name == f"trial-{first.number}")
    history = client.get_metric_history(child.info.run_id, "val_loss")
    assert {m.step for m in history} == set(first.intermediate)


def test_the_cli_writes_the_report_and_exports_csv(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    _study(storage, name="cli-planted")
    runner = CliRunner()
    done = runner.invoke(cli, ["report", "cli-planted", "--storage", storage, "-o", str(tmp_path / "r.html")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "r.html").stat().st_size > 1_000_000
    assert "report written to" in done.output
    done = runner.invoke(cli, ["export", "--storage", storage])
    assert done.exit_code == 0, done.output
    lines = done.output.strip().splitlines()
    assert lines[0].startswith("number,state,kind,reason,seed,value")
    assert len(lines) == 1 + 120
    done = runner.invoke(cli, ["report", "missing", "--storage", storage])
    assert done.exit_code == 1
    assert "no study named 'missing'" in done.output


def test_analyse_notes_why_a_tiny_study_has_no_importance() -> None:
    records = _synthetic(3).records
    found = analyse(ReportData("tiny", SPACE, ts.Metric("val_loss", "min"), records))
    assert found.importance is None
    assert found.importance_note is not None and "at least 4" in found.importance_note


def test_per_example_results_are_shown_with_their_error_and_a_top_within_noise_is_said() -> None:
    """val_acc from 171 examples was shown as three unrelated numbers (val_acc, stderr:val_acc, count:val_acc),
    and the best named without a word that the next trials are within its noise."""
    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric=ts.Metric("acc", "max"), sampler="random", storage="memory", seed=0,
                     budget=ts.Budget(trials=6))  # fmt: skip
    study.optimize(lambda t: {"acc": np.random.default_rng(t.seed).random(171) < 0.9 + 0.02 * t.params["x"]})
    out = io.StringIO()
    summary(study, console=Console(file=out, width=200), analyses=False)
    text = out.getvalue()
    best = study.best
    assert best is not None
    error = best.metrics["stderr:acc"]
    assert f"acc={best.metrics['acc']:.3g} ± {error:.3g} (n=171)" in text and "stderr:acc=" not in text
    assert "lie within two standard errors of the best's acc" in text and "ts.validate_top" in text
    assert "lie within two standard errors" in ts.report.render_report(study)
    stability = ts.validate_top(study, lambda t: {"acc": np.random.default_rng(t.seed).random(171) < 0.9}, k=2,
                                seeds=2)  # fmt: skip
    assert stability.winner is not None
    out = io.StringIO()
    summary(study, console=Console(file=out, width=200), analyses=False)
    after = " ".join(out.getvalue().split())
    rerun = ", ".join(f"#{c.trial}" for c in stability.candidates)
    assert f"the seed re-runs of {rerun} picked #{stability.winner.trial} across 2 seeds" in after, "not: run it"
    assert "ts.validate_top(study, objective) re-runs them" not in after


def test_the_html_importance_section_carries_its_caveat_beside_the_figure(tmp_path: Path) -> None:
    """The caveat that the shares divide noise sat under "Diagnosis", while the importance section claimed
    shares of the metric's variance without it."""
    space = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0)})
    # Seed 0 drew one of the 5% of pure-noise studies in which b's main effect reads beyond chance (p = 0.008).
    study = ts.Study(space, metric="loss", storage="memory", seed=1, sampler="random", budget=ts.Budget(trials=14))
    study.optimize(lambda t: float(np.random.default_rng(t.seed).normal()))  # no parameter matters
    page = write_report(study, tmp_path / "noise.html").read_text()
    section = page.split("<h2>Hyperparameter importance</h2>", 1)[1].split("<h2>", 1)[0]
    assert "the shares divide noise, not effects" in section
    diagnosis = page.split("<h2>Diagnosis</h2>", 1)[1].split("<h2>", 1)[0] if "<h2>Diagnosis</h2>" in page else ""
    assert "the shares divide noise" not in diagnosis



def test_a_study_whose_trials_report_no_steps_gets_a_line_for_its_learning_curves_not_an_empty_figure(
    tmp_path: Path,
) -> None:
    space = ts.Space({"a": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric="loss", storage="memory", seed=1, sampler="random", budget=ts.Budget(trials=5))
    study.optimize(lambda t: t.params["a"])  # a result, no step
    page = write_report(study, tmp_path / "flat.html").read_text()
    section = page.split("<h2>Learning curves</h2>", 1)[1].split("<h2>", 1)[0]
    assert "No trial reported &#x27;loss&#x27; at a step: report it in the training loop" in section, section
    assert 'class="ts-figure"' not in section  # the figure drew empty axes


AB = ts.Space({"a": ts.Float(0.0, 1.0), "b": ts.Float(0.0, 1.0)})


def _parameter_figures(effect_a: float, effect_b: float) -> tuple[ts.report.Findings, dict[str, str]]:
    """The analyses of 30 random trials whose loss is ``effect_a * a + effect_b * b`` plus noise of sd 0.3, and the
    parallel-coordinates and slices sections of their report, as HTML."""
    rng = np.random.default_rng(0)
    records = []
    for number in range(30):
        params = AB.sample(rng)
        loss = effect_a * params["a"] + effect_b * params["b"] + float(rng.normal(0.0, 0.3))
        records.append(TrialRecord(number, params, number, TrialState.COMPLETE, {"loss": loss}))
    data = ReportData("ab", AB, ts.Metric("loss"), tuple(records))
    found = analyse(data)
    page = html.unescape(ts.report.render_report(data, findings=found))
    return found, {title: page.split(f"<h2>{title}</h2>", 1)[1].split("<h2>", 1)[0]
                   for title in ("Parallel coordinates", "Slices")}  # fmt: skip


def _axes(section: str) -> list[str]:
    """The parameters of a parallel-coordinates or slices section, in the order its figure draws them."""
    return re.findall(r'"(?:label|text)":"([ab])"', section)


def test_the_parameter_figures_keep_the_spaces_order_when_no_parameter_stands_out() -> None:
    """Ordered by the shares' point ranking (b, then a), the figures presented noise as a ranking while the summary
    said that no parameter stands out."""
    found, sections = _parameter_figures(1.0, 1.0)
    assert found.importance is not None and found.importance.ranking() == ["b", "a"]
    assert any(s.text.startswith("no parameter stands out") for s in found.diagnosis.suggestions)
    for section in sections.values():
        assert _axes(section) == ["a", "b"]
        assert "Parameters in the space's order: no parameter's importance stands out" in section


def test_a_parameter_whose_importance_stands_out_leads_the_parameter_figures_and_the_caption_says_so() -> None:
    found, sections = _parameter_figures(0.0, 2.0)
    assert found.importance is not None
    for section in sections.values():
        assert _axes(section) == ["b", "a"]
        assert "Parameters in order of importance where it stands out: b first" in section


def test_the_tie_note_names_the_tied_trials_the_seed_re_runs_did_not_cover() -> None:
    """It said "the seed re-runs picked #16" of ten tied trials when only #16 and #19 were re-run."""
    from tunesmith.report._data import tie_note

    def told(number: int, acc: float) -> TrialRecord:
        return TrialRecord(number, {"x": number / 10}, number, TrialState.COMPLETE,
                           {"acc": acc, "stderr:acc": 0.02, "count:acc": 200.0})  # fmt: skip

    records = tuple(told(n, 0.90 - 0.001 * n) for n in range(5))
    stability = {"metric": "acc", "direction": "max", "rule": "lcb", "seeds": [1, 2, 3], "winner": 1,
                 "winner_params": {"x": 0.1},
                 "candidates": [{"label": "#0", "trial": 0, "values": [0.9] * 3, "original": 0.9},
                                {"label": "#1", "trial": 1, "values": [0.91] * 3, "original": 0.899}]}  # fmt: skip
    data = ReportData(name="s", space=ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("acc", "max"),
                      records=records, attrs={"seed_stability": stability})  # fmt: skip
    note = tie_note(data)
    assert note is not None and "the seed re-runs of #0, #1 picked #1 across 3 seeds" in note
    assert "#2, #3, #4 were not re-run: ts.validate_top(study, objective, k=5)" in note


def test_the_html_top_table_and_the_dashboards_best_show_a_per_example_metric_with_its_error(
    tmp_path: Path,
) -> None:
    """The terminal said 0.975 ± 0.0111 (n=200); the HTML top table and the dashboard said 0.975."""
    from tunesmith.dashboard._data import SnapshotCache, snapshot

    space = ts.Space({"x": ts.Float(0.0, 1.0)})
    study = ts.Study(space, metric=ts.Metric("acc", "max"), sampler="random", storage="memory", seed=0,
                     budget=ts.Budget(trials=4))  # fmt: skip
    study.optimize(lambda t: {"acc": np.random.default_rng(t.seed).random(200) < 0.9})
    best = study.best
    assert best is not None
    shown = f"{best.metrics['acc']:.3g} ± {best.metrics['stderr:acc']:.3g} (n=200)"
    top = write_report(study, tmp_path / "r.html").read_text().split("<h2>Top 4 trials</h2>", 1)[1].split("<h2>")[0]
    assert shown in top
    assert snapshot(study.info, study.trials, SnapshotCache())["best"]["text"] == shown


def test_mlflow_export_logs_a_diverged_value_as_nan_and_renames_names_mlflow_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export left a non-finite value out, so a diverged trial's run showed its last finite loss and sorted
    first; and a metric named as XGBoost names one (``error@0.7``) made MLflow refuse the whole export."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from tunesmith.integrations.mlflow import MetricRenamedWarning, logged_name

    def objective(trial: ts.Trial) -> dict[str, float]:
        trial.report(step=1, loss=1.0)
        return {"loss": math.inf if trial.number == 1 else 0.5, "error@0.7": 0.25}

    study = ts.Study(ts.Space({"x": ts.Float(0.0, 1.0)}), metric=ts.Metric("loss", "min"), sampler="random",
                     storage="memory", seed=0, budget=ts.Budget(trials=2))  # fmt: skip
    study.optimize(objective)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    # Every call in one millisecond, as on a fast machine: the final value must still be the one MLflow shows (a
    # tie with the report at the same step showed the report, and failed a CI run on 2026-12-03).
    frozen = time.time()
    monkeypatch.setattr(time, "time", lambda: frozen)
    with pytest.warns(MetricRenamedWarning, match="error@0.7"):
        run_id = log_to_mlflow(study, tracking_uri=tmp_path.as_uri(), experiment="diverged")
    monkeypatch.undo()
    client = MlflowClient(tracking_uri=tmp_path.as_uri())
    experiment = client.get_experiment_by_name("diverged")
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    diverged = next(c for c in children if c.info.run_name == "trial-1")
    assert math.isnan(diverged.data.metrics["loss"])
    assert diverged.data.metrics[logged_name("error@0.7")] == 0.25
