"""A newcomer's argument mistakes get one message with the rule, the value received and the fix, never a raw
Python error; a mistake with one obvious meaning (a single callback where a list goes) is simply accepted."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

import tunesmith as ts
from tests.pg import PostgresServer
from tunesmith.objective import normalise_result
from tunesmith.storage import SQLStorage, Storage
from tunesmith.storage.base import TrialNotFound
from tunesmith.study import ObjectiveError

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _x(trial: ts.Trial) -> float:
    return float(trial.params["x"])


def test_one_callback_given_alone_is_called_after_each_trial() -> None:
    seen: list[int] = []
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory")
    study.optimize(_x, callbacks=lambda study, record: seen.append(record.number))  # type: ignore[arg-type]
    assert seen == [0, 1]


def test_one_observer_given_alone_hears_its_hooks() -> None:
    class Starts(ts.Observer):
        def __init__(self) -> None:
            self.started: list[int] = []

        def on_trial_start(self, study: ts.Study, trial: ts.Trial) -> None:
            self.started.append(trial.number)

    observer = Starts()
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory")
    study.optimize(_x, callbacks=observer)  # type: ignore[arg-type]
    assert observer.started == [0, 1]


def test_callbacks_that_are_neither_a_list_nor_a_callback_are_refused_with_the_fix() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=2), storage="memory")
    with pytest.raises(ts.ConfigError, match=r"callbacks must be a list .* got str 'log': pass a list, e\.g\."):
        study.optimize(_x, callbacks="log")  # type: ignore[arg-type]
    assert study.trials == [], "nothing ran"


def test_a_metric_name_where_the_space_goes_says_the_metric_goes_in_metric() -> None:
    with pytest.raises(ts.ConfigError) as raised:
        ts.Study("loss", storage="memory")  # type: ignore[arg-type]
    message = str(raised.value)
    assert "the first argument of ts.Study is the search space" in message
    assert "got 'loss' (str): the metric goes in metric=, e.g. ts.Study(space, metric='loss')" in message
    assert "wrap the dict" not in message, "no dict was given"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Storage | str]:
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")  # a real server, started once per session
        return lambda: SQLStorage(server.create_database())
    url = "memory" if request.param == "memory" else f"sqlite:///{tmp_path}/study.db"
    return lambda: url


def test_telling_a_trial_the_study_lacks_names_the_study_its_trials_and_the_fix(
    storage: Callable[[], Storage | str],
) -> None:
    study = ts.Study(SPACE, metric="loss", storage=storage(), name="demo")
    for _ in range(3):
        study.ask()
    with pytest.raises(TrialNotFound) as raised:
        study.tell(99, 0.1)
    assert isinstance(raised.value, KeyError), "callers that caught the KeyError still catch it"
    assert str(raised.value) == (
        "study 'demo' has no trial #99: its trials are #0 to #2; pass the number of one of its trials: trial.number "
        "of a trial that study.ask() handed out, or a record's number in study.trials"
    )


def test_a_sequence_returned_to_several_objectives_is_told_to_return_a_dict_of_every_objective() -> None:
    err, lat = ts.Metric("err", "min"), ts.Metric("lat", "min")
    with pytest.raises(ValueError) as raised:
        normalise_result((0.3, 0.7), err, objectives=[err, lat])
    message = str(raised.value)
    assert "the study has 2 objectives ('err', 'lat')" in message
    assert "return a dict with every objective, {'err': ..., 'lat': ...}" in message
    assert "dict(zip(['err', 'lat'], values))" in message
    assert "return a float" not in message, "one number is never two objectives"


def test_a_sequence_returned_to_one_objective_says_how_many_values_and_both_readings_of_them() -> None:
    loss = ts.Metric("loss", "min")
    with pytest.raises(ValueError) as raised:
        normalise_result((0.3, 0.7), loss)
    message = str(raised.value)
    assert "the objective returned 2 values (tuple), but the study has one objective, 'loss'" in message
    assert "declare them (metrics=[...])" in message and "{'loss': values}" in message


def test_a_multi_objective_study_whose_objective_returns_a_tuple_stops_with_the_dict_to_return() -> None:
    study = ts.Study(SPACE, metrics=[ts.Metric("err", "min"), ts.Metric("lat", "min")], storage="memory", seed=0,
                     budget=ts.Budget(trials=6))  # fmt: skip
    with pytest.raises(ObjectiveError, match=r"return a dict with every objective, \{'err': \.\.\., 'lat'"):
        study.optimize(lambda trial: (0.3, 0.7))
    assert len(study.trials) == 3, "the same message in each trial: fail-fast stops at three"


@pytest.mark.parametrize("value", [Fraction(1, 3), Decimal("0.25")])
def test_a_bare_real_number_of_any_type_is_the_metric_as_it_is_inside_a_dict(value: Fraction | Decimal) -> None:
    loss = ts.Metric("loss", "min")
    assert normalise_result(value, loss) == normalise_result({"loss": value}, loss) == {"loss": float(value)}
