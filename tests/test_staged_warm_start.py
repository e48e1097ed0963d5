"""Staged tuning: each stage adds parameters and warm-starts from the stage before, whose results lack them.

Those results are refused, naming what they lack, unless the warm start gives the value the earlier runs used
(``ts.WarmStart(earlier, fill={...})``); the fill is checked against the space and kept with the warm start.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError, SpaceError
from tunesmith.report import write_csv

LR = ts.Space({"lr": ts.priors.learning_rate()})
LR_AND_DROPOUT = ts.Space({"lr": ts.priors.learning_rate(), "dropout": ts.priors.dropout()})


def _loss(trial: ts.Trial) -> dict[str, float]:
    return {"loss": (math.log10(trial.params["lr"]) + 2.5) ** 2 + (trial.params.get("dropout", 0.1) - 0.2) ** 2}


def _stage1(storage: str = "memory", space: ts.Space = LR) -> ts.Study:
    study = ts.Study(space, metric="loss", budget=ts.Budget(trials=6), storage=storage, seed=0, name="stage1")
    study.optimize(_loss)
    return study


def _stage2(warm_start: Any, storage: str = "memory", space: ts.Space = LR_AND_DROPOUT) -> ts.Study:
    return ts.Study(space, metric="loss", budget=ts.Budget(trials=4), storage=storage, seed=1, name="stage2",
                    warm_start=warm_start)  # fmt: skip


def test_results_lacking_a_parameter_of_the_new_space_are_refused_naming_it_the_results_and_the_fill() -> None:
    # They were called "outside the space", which they are not: they lack a parameter, and nothing said which.
    with pytest.raises(
        ConfigError,
        match=r"none of its 6 results is usable: .*none gives 'dropout' \(6 of 6 results lack it\): the earlier "
        r"search did not tune it.*warm_start=ts\.WarmStart\(earlier, fill=\{'dropout': <value>\}\)",
    ):
        _stage2(_stage1())


def test_the_fill_gives_every_result_the_value_it_ran_at_for_a_parameter_it_lacks() -> None:
    stage1 = _stage1()
    stage2 = _stage2(ts.WarmStart(stage1, fill={"dropout": 0.1}))
    points = stage2.attrs["warm_start"]["points"]
    assert [p["params"] for p in points] == [{"lr": r.params["lr"], "dropout": 0.1} for r in stage1.trials]
    assert [p["value"] for p in points] == [r.metrics["loss"] for r in stage1.trials]
    stage2.optimize(_loss)
    assert len(stage2.trials) == 4


def test_the_fill_is_kept_with_the_warm_start_and_read_back_from_storage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/staged.db"
    _stage2(ts.WarmStart(_stage1(url), fill={"dropout": 0.1}), url).storage.close()
    stored = ts.Study.load("stage2", url).attrs["warm_start"]
    assert stored["fill"] == {"dropout": 0.1} and stored["source"] == f"study 'stage1' in {url}"


def test_a_fill_value_outside_the_parameters_range_is_refused_with_the_rule_and_the_value() -> None:
    with pytest.raises(SpaceError, match=r"a fill value must lie in its parameter's range, got dropout=0\.9 for "):
        _stage2(ts.WarmStart(_stage1(), fill={"dropout": 0.9}))


def test_a_fill_for_a_parameter_the_space_lacks_is_refused() -> None:
    with pytest.raises(SpaceError, match=r"the fill names \['dropuot'\], which are not parameters"):
        _stage2(ts.WarmStart(_stage1(), fill={"dropout": 0.1, "dropuot": 0.1}))


def test_a_fill_of_something_other_than_a_single_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"one value the earlier runs used.*got \{'dropout': \[0\.1, 0\.2\]\}"):
        ts.WarmStart([], fill={"dropout": [0.1, 0.2]})


def test_both_kinds_of_csv_file_take_the_fill(tmp_path: Path) -> None:
    stage1 = _stage1()
    exported = write_csv(stage1, tmp_path / "exported.csv")
    plain = tmp_path / "plain.csv"
    with plain.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lr", "loss"])
        writer.writerows([r.params["lr"], r.metrics["loss"]] for r in stage1.trials)
    for path in (exported, plain):
        points = _stage2(ts.WarmStart(str(path), fill={"dropout": 0.1})).attrs["warm_start"]["points"]
        assert [p["params"]["dropout"] for p in points] == [0.1] * 6, path.name


def test_results_keep_the_fixed_value_they_ran_at_and_take_the_fill_only_for_what_they_lack() -> None:
    stage1 = _stage1(space=ts.Space({"lr": ts.priors.learning_rate(), "dropout": ts.Fixed(0.1)}))
    stage3 = ts.Space({**{name: LR_AND_DROPOUT[name] for name in LR_AND_DROPOUT}, "wd": ts.priors.weight_decay()})
    warm = ts.WarmStart(stage1, fill={"dropout": 0.3, "wd": 1e-4})
    points = _stage2(warm, space=stage3).attrs["warm_start"]["points"]
    assert [(p["params"]["dropout"], p["params"]["wd"]) for p in points] == [(0.1, 1e-4)] * 6


def test_the_fill_goes_only_where_its_parameter_is_active() -> None:
    space = ts.Space({"opt": ts.Choice(["sgd", "adam"]), "beta1": ts.Float(0.5, 0.99, when={"opt": "adam"})})
    earlier = [{"opt": "sgd", "loss": 0.4}, {"opt": "adam", "loss": 0.3}]
    with pytest.raises(ConfigError, match=r"1 of its 2 results are unusable: .*'beta1' \(1 of 2 results lack it\)"):
        ts.Study(space, metric="loss", storage="memory", warm_start=earlier)
    filled = ts.Study(space, metric="loss", storage="memory", warm_start=ts.WarmStart(earlier, fill={"beta1": 0.9}))
    assert [p["params"] for p in filled.attrs["warm_start"]["points"]] == [
        {"opt": "sgd"},
        {"opt": "adam", "beta1": 0.9},
    ]


def test_a_resumed_study_given_another_fill_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/resumed.db"
    stage1 = _stage1(url)
    _stage2(ts.WarmStart(stage1, fill={"dropout": 0.1}), url)
    _stage2(ts.WarmStart(stage1, fill={"dropout": 0.1}), url)  # the script run again: nothing changes
    with pytest.raises(ConfigError, match=r"with fill=\{'dropout': 0\.1\}, got .* with fill=\{'dropout': 0\.2\}"):
        _stage2(ts.WarmStart(stage1, fill={"dropout": 0.2}), url)
