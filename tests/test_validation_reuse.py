"""A validation set tuned on by several studies: the guide's "repeated use of the same validation set". A study
designed after another's scores were seen (the space tweaked, a new study name) was chosen among both studies'
configurations, so `finalize` counts the earlier studies' in the optimism it takes back, and `tunesmith status`
says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import tunesmith as ts
from tunesmith.attributes import OptimismAttr, ValidationSetAttr, read_attr
from tunesmith.cli import cli
from tunesmith.discipline.optimism import estimate_optimism
from tunesmith.errors import ConfigError
from tunesmith.study._validation_set import earlier_studies

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})
METRIC = ts.Metric("acc", "max")


def objective(trial: ts.Trial) -> dict[str, Any]:
    """Every configuration is as good as any other: 300 examples right with probability 0.8."""
    rng = np.random.default_rng([int(trial.params["x"] * 1e9), trial.seed])
    return {"acc": rng.random(300) < 0.8}


def other_objective(trial: ts.Trial) -> dict[str, Any]:
    return objective(trial)


def holdout(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {"holdout_acc": np.random.default_rng([7, seed]).random(300) < 0.8}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def tuned(url: str, name: str, trials: int, run: Any = objective, **options: Any) -> ts.Study:
    study = ts.Study(SPACE, metric=options.pop("metric", METRIC), budget=ts.Budget(trials=trials), storage=url,
                     name=name, seed=len(name), sampler="random", **options)  # fmt: skip
    study.optimize(run, progress=False)
    return study


def optimism_of(study: ts.Study) -> OptimismAttr:
    stored = read_attr(study.attrs, OptimismAttr)
    assert stored is not None
    return stored


def test_a_second_study_on_the_same_set_reports_the_optimism_counting_the_first_ones_configurations(url: str) -> None:
    tuned(url, "first", 30)  # looked at, never finalized: the space is tweaked and searched again
    second = tuned(url, "second", 10)
    verdict = ts.finalize(second, holdout, progress=False)
    stored = optimism_of(second)
    assert stored.compared == 10 and stored.earlier == {"first": 30}
    assert stored.validation_set == f"{__name__}:objective"
    alone = estimate_optimism(second.trials, METRIC)
    assert alone is not None and stored.estimate == pytest.approx(alone.estimate)  # what the gap takes back
    # The best of 40 equal configurations flatters more than the best of 10 (about 2.2 against 1.5 noise widths).
    assert stored.across is not None and stored.across > 1.2 * alone.estimate, (stored.across, alone.estimate)
    detail = verdict.check("optimism").detail
    said = ("10 configurations compared on the same validation data, and 30 more by 1 earlier study on this "
            "storage that tuned on validation set")  # fmt: skip
    assert said in detail and "('first': 30)" in detail, detail
    assert f"the best of the 40 is optimistic by about {stored.across:.3g}, against {alone.estimate:.3g}" in detail


def test_studies_on_other_sets_other_metrics_or_created_later_are_not_counted(url: str) -> None:
    tuned(url, "set-a", 12, validation_set="split-a")
    tuned(url, "percent", 12, metric=ts.Metric("acc", "max", scale=100.0), validation_set="split-b")  # another scale
    judged = tuned(url, "set-b", 8, validation_set="split-b")
    tuned(url, "later", 12, validation_set="split-b")  # created after: the judged search knew nothing of it
    ts.finalize(judged, holdout, progress=False)
    stored = optimism_of(judged)
    assert stored.compared == 8 and stored.earlier == {} and stored.across is None
    assert stored.validation_set == "split-b"


EXAMPLES = {"read": 300}  # how many examples `sized` reads: another set on another day, under one function's name


def sized(trial: ts.Trial) -> dict[str, Any]:
    rng = np.random.default_rng([int(trial.params["x"] * 1e9), trial.seed])
    return {"acc": rng.random(EXAMPLES["read"]) < 0.8}


def test_one_functions_studies_read_from_different_numbers_of_examples_are_not_one_set(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(EXAMPLES, "read", 150)
    tuned(url, "small", 12, run=sized)
    monkeypatch.setitem(EXAMPLES, "read", 300)
    tuned(url, "same", 12, run=sized)
    judged = tuned(url, "large", 8, run=sized)
    assert [e.name for e in earlier_studies(judged)] == ["same"]  # "small" read 150 examples: another set
    given = tuned(url, "given-large", 8, run=sized, validation_set=f"{__name__}:sized")
    assert [e.name for e in earlier_studies(given)] == ["small", "same", "large"]  # the name given stands


def test_invalidated_trials_of_an_earlier_study_are_not_counted(url: str) -> None:
    first = tuned(url, "first", 12)
    for number in (0, 1, 2):
        first.invalidate(number, "a bug in the data loader")
    second = tuned(url, "second", 6)
    assert [(e.name, len(e.records)) for e in earlier_studies(second)] == [("first", 9)]


def test_an_unnamed_set_is_said_with_the_fix_and_a_given_name_counts_the_earlier_study(url: str) -> None:
    def closure(trial: ts.Trial) -> dict[str, Any]:
        return objective(trial)

    tuned(url, "first", 10, run=closure)
    second = tuned(url, "second", 6, run=closure)
    assert read_attr(second.attrs, ValidationSetAttr) is None
    detail = ts.finalize(second, holdout, progress=False, holdout="h1").check("optimism").detail
    assert "the validation set has no name" in detail and "validation_set='<name of the set>'" in detail, detail
    assert optimism_of(second).compared == 6
    named = tuned(url, "named-1", 10, run=closure, validation_set="churn-val")
    again = tuned(url, "named-2", 6, run=closure, validation_set="churn-val")
    ts.finalize(again, holdout, progress=False, holdout="h2")
    assert optimism_of(again).earlier == {named.name: 10}


def test_a_given_name_replaces_the_objectives_and_another_given_name_is_refused(url: str) -> None:
    study = tuned(url, "s", 4)
    assert read_attr(study.attrs, ValidationSetAttr) == ValidationSetAttr(name=f"{__name__}:objective",
                                                                          source="objective")  # fmt: skip
    reopened = ts.Study(SPACE, metric=METRIC, storage=url, name="s", validation_set="churn-val")
    reopened.optimize(other_objective, n_trials=1, progress=False)  # another objective names nothing over a given name
    assert read_attr(reopened.attrs, ValidationSetAttr) == ValidationSetAttr(name="churn-val", source="given")
    with pytest.raises(ConfigError, match=r"records validation_set='churn-val' and this names validation_set='x'"):
        ts.Study(SPACE, metric=METRIC, storage=url, name="s", validation_set="x")


@pytest.mark.parametrize("bad", ["", "  ", "val\x1b[31m", 3])
def test_a_name_that_is_no_printable_text_is_refused_before_anything_is_stored(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ConfigError, match="validation_set must name the validation set"):
        ts.Study(SPACE, metric=METRIC, storage=f"sqlite:///{tmp_path / 'new.db'}", name="s", validation_set=bad)
    assert not (tmp_path / "new.db").exists()


def test_status_says_which_earlier_studies_tuned_on_the_set(url: str) -> None:
    tuned(url, "first", 7)
    tuned(url, "second", 3)
    shown = CliRunner(env={"COLUMNS": "400"}).invoke(cli, ["status", "second", "--storage", url])
    assert shown.exit_code == 0, shown.output
    line = f"validation set '{__name__}:objective' (named after the objective): 1 earlier study on this storage tuned "
    assert line in shown.output and "('first': 7 configurations)" in shown.output, shown.output
    as_json = CliRunner().invoke(cli, ["status", "second", "--storage", url, "--json"])
    assert json.loads(as_json.output)["validation_set"] == {"name": f"{__name__}:objective", "source": "objective",
                                                            "earlier": {"first": 7}}  # fmt: skip
    first = CliRunner(env={"COLUMNS": "400"}).invoke(cli, ["status", "first", "--storage", url])
    assert "validation set" not in first.output, first.output


def test_a_config_names_its_set(tmp_path: Path, url: str) -> None:
    (tmp_path / "objectives_vs.py").write_text(
        "import numpy as np\n\ndef objective(trial):\n    return {'loss': float(trial.params['x']) ** 2}\n"
    )
    (tmp_path / "study.toml").write_text(
        'name = "configured"\nobjective = "objectives_vs:objective"\nvalidation_set = "churn-val"\nseed = 1\n'
        '[metric]\nname = "loss"\n[budget]\ntrials = 3\n[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    ran = CliRunner().invoke(cli, ["run", str(tmp_path / "study.toml"), "--storage", url, "--no-progress",
                                   "--no-report"])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    study = ts.Study.load("configured", url)
    assert read_attr(study.attrs, ValidationSetAttr) == ValidationSetAttr(name="churn-val", source="given")
    command = [
        "run",
        str(tmp_path / "study.toml"),
        "--storage",
        url,
        "--name",
        "tweaked",
        "--no-progress",
        "--no-report",
    ]
    again = CliRunner(env={"COLUMNS": "400"}).invoke(cli, command)
    assert again.exit_code == 0, again.output
    assert "validation set 'churn-val' (given): 1 earlier study on this storage tuned on it ('configured': 3" in (
        again.output
    ), again.output


def test_two_scikit_learn_searches_on_the_same_data_splits_and_scorer_share_their_set(url: str) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tunesmith.integrations.sklearn import TunesmithSearchCV

    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    space = {"logisticregression__C": ts.Float(1e-3, 1e2, log=True)}

    def search(name: str, scoring: str, rows: int = len(y)) -> ts.Study:
        TunesmithSearchCV(model, space, n_iter=4, cv=3, scoring=scoring, random_state=0, storage=url,
                          study_name=name).fit(X[:rows], y[:rows])  # fmt: skip
        return ts.Study.load(name, url)

    search("first", "accuracy")
    search("other-scorer", "roc_auc")
    search("other-rows", "accuracy", rows=400)
    third = search("third", "accuracy")
    assert [(e.name, len(e.records)) for e in earlier_studies(third)] == [("first", 4)]
    named = read_attr(third.attrs, ValidationSetAttr)
    assert named is not None and named.source == "data" and named.scoring == "'accuracy'"


def test_a_reused_sets_winner_is_flattered_between_its_own_searchs_optimism_and_the_pooled_one() -> None:
    """`benchmarks.discipline`'s reuse part on 30 repetitions: a second search steered to the first's top is
    flattered about as the pooled optimism says, an unrelated one about as its own."""
    from benchmarks.discipline import _reuse_one

    mean = {}
    for steered in (True, False):
        runs = [_reuse_one(rep, steered) for rep in range(30)]
        mean[steered] = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
    for case in mean.values():
        assert case["own"] < case["across"] - 0.01, mean
    assert mean[True]["realised"] > mean[True]["own"] + 0.01 and mean[False]["realised"] < mean[False]["across"] - 0.01
    assert (
        abs(mean[True]["realised"] - mean[True]["across"]) < 0.01
        and abs(mean[False]["realised"] - mean[False]["own"]) < 0.01
    ), mean
