"""Every view marks the one result the summaries state: after the seed re-runs picked one of two exactly tied trials,
the tie note, the slices' star and the learning curves named the earliest; a study with several objectives had a
"best" drawn from its first objective and a header naming that objective alone; plain `tunesmith best` left out
the verdict `status` and `best --json` carry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import VerdictAttr, read_attr
from tunesmith.cli import cli

SPACE = ts.Space({"act": ts.Choice(["relu", "tanh"]), "lr": ts.Float(1e-4, 1.0, log=True)})


def _said(runner: CliRunner, *args: str) -> str:
    """What a command prints, its lines joined (rich wraps them at the terminal's width)."""
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _section(page: str, heading: str) -> str:
    """The HTML of the report's section under ``heading``."""
    start = page.index(f"<h2>{heading}</h2>")
    return page[start : page.index("</section>", start)]


def _report(url: str, name: str, path: Path) -> str:
    _said(CliRunner(), "report", name, "-o", str(path), "--storage", url)
    return path.read_text(encoding="utf-8")


def _act_alone(trial: ts.Trial) -> dict[str, float]:
    """A learning curve whose end depends on ``act`` alone: every relu trial ties exactly with the others."""
    final = {"relu": 0.25, "tanh": 0.5}[trial.params["act"]]
    for step in (1, 2, 3):
        trial.report(step, loss=final + 0.1 / step)
    return {"loss": final}


@pytest.fixture(scope="module")
def tied_then_rerun(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int, str]:
    """A stored study whose two best trials tie exactly, the seed re-runs then picking the later of them: the
    storage URL, the earliest tied trial, the re-runs' pick and the HTML report."""
    folder = tmp_path_factory.mktemp("tied")
    url = f"sqlite:///{folder / 'tied.db'}"
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=12), storage=url, name="tied", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(_act_alone)
    earliest, later = [r for r in study.trials if r.metrics.get("loss") == 0.25][:2]

    def rerun(trial: ts.Trial) -> dict[str, float]:  # across seeds the later configuration is the better one
        noise = 0.001 * float(np.random.default_rng(trial.seed).normal())
        return {"loss": (0.1 if trial.params == later.params else 0.3) + noise}

    report = ts.validate_top(study, rerun, k=2, seeds=3)
    assert report.winner is not None and report.winner.trial == later.number
    return url, earliest.number, later.number, _report(url, "tied", folder / "tied.html")


def test_status_says_the_re_runs_pick_is_shown_among_exact_ties_not_the_earliest(
    tied_then_rerun: tuple[str, int, int, str],
) -> None:
    url, earliest, pick, _ = tied_then_rerun
    said = _said(CliRunner(), "status", "tied", "--storage", url)
    assert f"Best: trial {pick} " in said
    assert f"#{pick} is shown as best, the seed re-runs' pick" in said
    assert f"the earliest, #{earliest}, is shown as best" not in said


def test_the_report_stars_the_re_runs_pick_among_exact_ties_on_the_slices(
    tied_then_rerun: tuple[str, int, int, str],
) -> None:
    *_, pick, page = tied_then_rerun
    assert set(re.findall(r"best: trial (\d+)", _section(page, "Slices"))) == {str(pick)}


def test_the_report_draws_the_re_runs_pick_among_exact_ties_as_the_best_curve(
    tied_then_rerun: tuple[str, int, int, str],
) -> None:
    *_, pick, page = tied_then_rerun
    assert set(re.findall(r"best \(trial (\d+)\)", _section(page, "Learning curves"))) == {str(pick)}


def _error_and_latency(trial: ts.Trial) -> dict[str, float]:
    """Error falls as latency rises: a front of trade-offs, with a learning curve of the error."""
    x = trial.params["lr"]
    for step in (1, 2, 3):
        trial.report(step, error=x + 0.1 / step)
    return {"error": x, "latency_ms": 10 * (1 - x**0.5) + (trial.params["act"] == "tanh")}


@pytest.fixture(scope="module")
def front_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[int], int, str, str]:
    """A stored study of two objectives: its front, the trial chosen from it, and its HTML report before and after
    the choice."""
    folder = tmp_path_factory.mktemp("front")
    url = f"sqlite:///{folder / 'front.db'}"
    objectives = [ts.Metric("error", "min"), ts.Metric("latency_ms", "min")]
    study = ts.Study(SPACE, metrics=objectives, budget=ts.Budget(trials=16), storage=url, name="front", seed=0,
                     sampler="random")  # fmt: skip
    study.optimize(_error_and_latency)
    front = sorted(r.number for r in study.pareto_front)
    unchosen = _report(url, "front", folder / "unchosen.html")
    chosen = study.choose(ts.choose.knee()).number
    assert len(front) >= 3 and chosen in front
    return front, chosen, unchosen, _report(url, "front", folder / "chosen.html")


def test_a_report_of_several_objectives_heads_with_every_objective(
    front_reports: tuple[list[int], int, str, str],
) -> None:
    page = front_reports[2]
    assert "objectives error (min), latency_ms (min) · 16 trials" in page


def test_a_report_of_several_objectives_marks_no_single_best(front_reports: tuple[list[int], int, str, str]) -> None:
    for page in front_reports[2:]:
        assert re.findall(r"best: trial \d+|best \(trial \d+\)|best so far", page) == []


def test_a_report_of_several_objectives_stars_the_whole_front_when_nothing_is_chosen(
    front_reports: tuple[list[int], int, str, str],
) -> None:
    front, _, page, _ = front_reports
    starred = {int(n) for n in re.findall(r"Pareto front: trial (\d+)", _section(page, "Slices"))}
    assert starred == set(front)


def test_a_report_of_several_objectives_marks_the_chosen_point_alone_once_one_is_chosen(
    front_reports: tuple[list[int], int, str, str],
) -> None:
    _, chosen, _, page = front_reports
    assert set(re.findall(r"chosen: trial (\d+)", _section(page, "Slices"))) == {str(chosen)}
    assert set(re.findall(r"chosen \(trial (\d+)\)", _section(page, "Learning curves"))) == {str(chosen)}
    assert "Pareto front: trial" not in _section(page, "Slices")


def _accuracy(params: dict[str, float], seed: int, n: int = 300) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < params["p"]).astype(float)


def test_plain_best_prints_the_recorded_verdict_as_status_does(tmp_path: Path) -> None:
    """After a finalize whose holdout gap fails, `best` printed the winner alone."""
    url = f"sqlite:///{tmp_path / 'judged.db'}"
    study = ts.Study(ts.Space({"p": ts.Float(0.5, 0.95)}), metric=ts.Metric("val_acc", "max"),
                     budget=ts.Budget(trials=8), storage=url, name="judged", seed=0, sampler="random")  # fmt: skip
    study.optimize(lambda t: {"val_acc": _accuracy(t.params, t.seed)})
    ts.finalize(study, lambda params, seed: {"holdout_acc": _accuracy(params, seed + 1, 400) * 0.8})
    verdict = read_attr(ts.Study.load("judged", url).attrs, VerdictAttr)
    assert verdict is not None and verdict.summary is not None and verdict.summary.startswith("not ready")
    line = " ".join(f"verdict: {verdict.summary}".split())
    runner = CliRunner()
    assert line in _said(runner, "status", "judged", "--storage", url)
    assert line in _said(runner, "best", "judged", "--storage", url)


def test_plain_best_of_several_objectives_prints_the_recorded_verdict_after_the_front(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'judged_front.db'}"
    objectives = [ts.Metric("error", "min"), ts.Metric("latency_ms", "min")]
    study = ts.Study(SPACE, metrics=objectives, budget=ts.Budget(trials=12), storage=url, name="judged_front",
                     seed=0, sampler="random")  # fmt: skip
    study.optimize(_error_and_latency)
    study.choose(ts.choose.knee())
    ts.finalize(study, lambda params, seed: {"error": 2 * params["lr"], "latency_ms": 10.0})
    verdict = read_attr(ts.Study.load("judged_front", url).attrs, VerdictAttr)
    assert verdict is not None and verdict.summary is not None
    said = _said(CliRunner(), "best", "judged_front", "--storage", url)
    assert said.index("Pareto front") < said.index(" ".join(f"verdict: {verdict.summary}".split()))


def test_the_mlflow_export_logs_the_re_runs_pick_as_the_study_s_best(
    tied_then_rerun: tuple[str, int, int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from tunesmith.report import log_to_mlflow

    url, _, pick, _ = tied_then_rerun
    study = ts.Study.load("tied", url)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run_id = log_to_mlflow(study, tracking_uri=tmp_path.as_uri(), experiment="tied")
    logged = MlflowClient(tracking_uri=tmp_path.as_uri()).get_run(run_id).data.params
    picked = next(r for r in study.trials if r.number == pick)
    assert {k.removeprefix("best."): v for k, v in logged.items()} == {k: str(v) for k, v in picked.params.items()}
    client = MlflowClient(tracking_uri=tmp_path.as_uri())
    assert client.get_run(run_id).data.tags["tunesmith.best_trial"] == str(pick)
    from tunesmith.report.export import best_text

    said = Path(client.download_artifacts(run_id, "best.txt", str(tmp_path))).read_text()
    assert said == best_text(study) and f"#{pick}" in said
