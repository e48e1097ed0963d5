"""What plain output says of a per-example metric: its estimate with its noise, as the report says it; and a report
or export path that cannot be written ends the command with one line that names it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import tunesmith as ts
from tunesmith.analysis._common import format_value
from tunesmith.cli import cli
from tunesmith.discipline import fold_metrics
from tunesmith.discipline.gap import noise_of
from tunesmith.report import write_report
from tunesmith.report._data import value_text

# 274 of 300 examples right: val_acc 0.9133, its standard error 0.01627.
RIGHT, EXAMPLES = 274, 300

CONFIG = """
name = "quad"
objective = "objectives:quadratic"
seed = 2
sampler = "random"

[metric]
name = "loss"
direction = "min"

[budget]
trials = 3

[space]
x = { type = "float", low = 0.0, high = 1.0 }
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def per_example(tmp_path: Path) -> str:
    """A stored study of two trials whose objective returns one accuracy per example; trial 0 is the best."""
    url = f"sqlite:///{tmp_path}/noise.db"
    study = ts.Study(ts.Space({"k": ts.Int(1, 2)}), metric=ts.Metric("val_acc", "max"), storage=url, name="pe",
                     seed=0, sampler="random", budget=ts.Budget(trials=2))  # fmt: skip
    study.optimize(lambda t: {"val_acc": [1.0] * (RIGHT - t.number) + [0.0] * (EXAMPLES - RIGHT + t.number)})
    return url


@pytest.fixture
def all_right(tmp_path: Path) -> str:
    """A stored study of one trial that got all of its 50 examples right."""
    url = f"sqlite:///{tmp_path}/perfect.db"
    study = ts.Study(ts.Space({"k": ts.Int(1, 2)}), metric=ts.Metric("acc", "max"), storage=url, name="z",
                     seed=0, sampler="random", budget=ts.Budget(trials=1))  # fmt: skip
    study.optimize(lambda t: {"acc": [1.0] * 50})
    return url


@pytest.fixture
def file_in_the_way(tmp_path: Path) -> Path:
    """A file named ``notadir`` where a report's folder would be."""
    blocker = tmp_path / "notadir"
    blocker.write_text("")
    return blocker


def test_best_shows_a_per_example_metric_as_its_estimate_with_its_error_and_count(per_example: str) -> None:
    result = invoke("best", "pe", "--storage", per_example)
    assert result.exit_code == 0, result.output
    assert "val_acc = 0.913 ± 0.0163 (n=300)" in result.output
    assert "stderr:" not in result.output and "count:" not in result.output


def test_show_folds_the_standard_error_and_count_into_the_metric(per_example: str) -> None:
    result = invoke("show", "pe", "0", "--storage", per_example)
    assert result.exit_code == 0, result.output
    assert "metrics    val_acc=0.913 ± 0.0163 (n=300)\n" in result.output


def test_trials_table_shows_a_per_example_metric_with_its_error_and_count(per_example: str) -> None:
    result = invoke("trials", "pe", "--storage", per_example)
    assert result.exit_code == 0, result.output
    assert "0.913 ± 0.0163 (n=300)" in result.output


def test_an_all_alike_proportion_shows_the_standard_error_the_verdict_reads() -> None:
    metrics = {"acc": 1.0, "count:acc": 50.0, "stderr:acc": 0.0}
    noise = noise_of(metrics, "acc")
    assert noise is not None and noise.stderr > 0
    assert value_text(metrics, "acc") == f"1 ± {format_value(noise.stderr)} (n=50, all alike)"


def test_an_all_alike_proportion_reads_its_noise_on_the_metric_s_declared_scale() -> None:
    metrics = {"acc": 100.0, "count:acc": 50.0, "stderr:acc": 0.0}
    assert value_text(metrics, "acc", scale=100) == "100 ± 1.94 (n=50, all alike)"


def test_an_all_alike_value_that_is_no_proportion_says_its_noise_is_unknown() -> None:
    assert value_text({"loss": 0.25, "count:loss": 50.0, "stderr:loss": 0.0}, "loss") == (
        "0.25 (n=50, all alike, noise unknown)"
    )


def test_best_does_not_show_a_perfect_per_example_score_as_certain(all_right: str) -> None:
    result = invoke("best", "z", "--storage", all_right)
    assert result.exit_code == 0, result.output
    assert "acc = 1 ± 0.0194 (n=50, all alike)" in result.output


def test_status_s_top_trials_do_not_show_a_perfect_per_example_score_as_certain(all_right: str) -> None:
    result = invoke("status", "z", "--storage", all_right)
    assert result.exit_code == 0, result.output
    assert "± 0.0194" in result.output and "1 ± 0 " not in result.output


def test_report_to_a_path_under_a_file_is_one_error_line_naming_it(per_example: str, file_in_the_way: Path) -> None:
    result = invoke("report", "pe", "--storage", per_example, "-o", str(file_in_the_way / "r.html"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: cannot write the HTML report to {file_in_the_way / 'r.html'}: File exists: {file_in_the_way} is a "
        "file where a folder should be: move it away or choose another path"
    )


def test_export_to_a_path_under_a_file_is_one_error_line_naming_it(per_example: str, file_in_the_way: Path) -> None:
    result = invoke("export", "pe", "--storage", per_example, "-o", str(file_in_the_way / "t.csv"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: cannot write the trials' CSV to {file_in_the_way / 't.csv'}: File exists: {file_in_the_way} is a "
        "file where a folder should be: move it away or choose another path"
    )


def test_run_with_a_report_path_under_a_file_ends_with_one_error_line(
    objectives_dir: Path, file_in_the_way: Path
) -> None:
    config = objectives_dir / "quad.toml"
    config.write_text(CONFIG)
    url = f"sqlite:///{objectives_dir}/run.db"
    result = invoke("run", str(config), "--storage", url, "--no-progress", "--report", str(file_in_the_way / "r.html"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith(f"Error: cannot write the HTML report to {file_in_the_way}")


def test_a_report_that_cannot_be_written_is_still_the_oserror_a_caller_catches(
    per_example: str, file_in_the_way: Path
) -> None:
    study = ts.Study.load("pe", per_example)
    with pytest.raises(OSError, match=f"cannot write the HTML report to {file_in_the_way / 'r.html'}") as raised:
        write_report(study, file_in_the_way / "r.html")
    assert isinstance(raised.value, ts.TunesmithError) and raised.value.filename == str(file_in_the_way)


def test_a_trial_within_a_perfect_best_s_noise_is_said_to_be_within_it() -> None:
    """200 of 200 right against 196 of 200: the perfect best's noise read as 0 called the other beyond it."""
    from tunesmith.report._data import ReportData, within_noise_of_best

    study = ts.Study(ts.Space({"k": ts.Int(1, 2)}), metric=ts.Metric("acc", "max"), storage="memory", seed=0,
                     sampler="grid", budget=ts.Budget(trials=2))  # fmt: skip
    study.optimize(lambda t: {"acc": [1.0] * 200 if t.params["k"] == 1 else [1.0] * 196 + [0.0] * 4})
    assert [r.params["k"] for r in within_noise_of_best(ReportData.from_study(study), 5)] == [2]


def test_trials_within_the_best_s_fold_noise_are_said_to_be_within_it() -> None:
    """Per-fold results (`fold_metrics`, as `TunesmithSearchCV` records them) carry their noise in the folds'
    spread, which `status` reads to say the search cannot tell them apart: the tie note named no trial, since it read
    only a per-example standard error."""
    from tunesmith.report._data import ReportData, tie_note, within_noise_of_best

    folds = {1: [0.80, 0.86, 0.83, 0.78, 0.88], 2: [0.79, 0.85, 0.82, 0.77, 0.87], 3: [0.50, 0.52, 0.51, 0.49, 0.53]}
    study = ts.Study(ts.Space({"k": ts.Int(1, 3)}), metric=ts.Metric("acc", "max"), storage="memory", seed=0,
                     sampler="grid", budget=ts.Budget(trials=3))  # fmt: skip
    study.optimize(lambda t: {"acc": sum(folds[t.params["k"]]) / 5, **fold_metrics("acc", folds[t.params["k"]])})
    data = ReportData.from_study(study)
    assert [r.params["k"] for r in within_noise_of_best(data)] == [2], "k=3 trails by 16 times the noise"
    note = tie_note(data)
    assert note is not None and "within two standard errors of the best's acc (noise of the folds' spread;" in note
