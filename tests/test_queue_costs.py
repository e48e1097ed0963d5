"""What an ask and an enqueue cost does not grow with the queue, the trials or the warm start: each entry is checked
and keyed once per study handle, each trial keyed once, the warm start parsed once, while what another handle (another
process) writes to the same storage is still read. Work is counted in calls, never timed."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tunesmith as ts
import tunesmith.study._known as known
from tunesmith.attributes import WarmStartAttr
from tunesmith.study._known import QueuedConfigurationRepeatWarning

SPACE = ts.Space({"lr": ts.Float(1e-5, 1e-1, log=True), "layers": ts.Int(1, 8), "opt": ts.Choice(["adam", "sgd"])})
WAITING = 40  # entries queued before the call counted: the counts below must not depend on it


class Counted:
    """Counts the calls of ``module.name`` while the test runs; the real function still does the work."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
        real: Callable[..., Any] = getattr(module, name)
        self.calls = 0

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)

    def since(self, action: Callable[[], object]) -> int:
        """The calls ``action`` made."""
        before = self.calls
        action()
        return self.calls - before


def _study(tmp_path: Path, **options: Any) -> ts.Study:
    return ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=500), storage=f"sqlite:///{tmp_path / 's.db'}",
                    name="costs", seed=0, sampler="random", **options)  # fmt: skip


def _other_handle(tmp_path: Path) -> ts.Study:
    """The same study opened again, as another process would: its own storage object and caches."""
    return ts.Study.load("costs", storage=f"sqlite:///{tmp_path / 's.db'}")


def _config(i: int) -> dict[str, Any]:
    return {"lr": 10 ** (-5 + 4 * i / 1000), "layers": 1 + i % 8, "opt": "adam"}


def _loss(trial: ts.Trial) -> float:
    return math.log10(trial.params["lr"]) ** 2


def _fill(study: ts.Study, entries: int) -> None:
    for i in range(entries):
        study.enqueue(_config(i))


def _ask_and_tell(study: ts.Study) -> None:
    trial = study.ask()
    study.tell(trial, _loss(trial))


def test_an_enqueue_keys_only_its_own_configuration_however_many_entries_and_trials_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every trial and every entry was keyed twice per enqueue: 0.6 s per enqueue at 10,000 trials."""
    study = _study(tmp_path)
    study.optimize(_loss, n_trials=20)
    _fill(study, WAITING)
    keys = Counted(monkeypatch, known, "config_key")
    assert keys.since(lambda: study.enqueue(_config(WAITING))) == 1


def test_an_enqueue_keys_the_entries_another_handle_queued_once_and_still_refuses_their_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(tmp_path)
    _fill(study, WAITING)
    _other_handle(tmp_path).enqueue(_config(WAITING))
    keys = Counted(monkeypatch, known, "config_key")
    with pytest.warns(QueuedConfigurationRepeatWarning, match=f"repeats entry {WAITING + 1} of the queue"):
        assert keys.since(lambda: study.enqueue(_config(WAITING))) == 2  # its own, and the other handle's entry


def test_an_enqueue_keys_the_trials_another_handle_ran_once_and_still_refuses_their_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(tmp_path)
    study.optimize(_loss, n_trials=20)
    study.enqueue(_config(0))  # keys the 20 trials
    other = _other_handle(tmp_path)
    other.optimize(_loss, n_trials=2)  # runs the entry, then one sampled trial
    keys = Counted(monkeypatch, known, "config_key")
    with pytest.warns(QueuedConfigurationRepeatWarning, match=r"repeats trial #20 \(complete\)"):
        assert keys.since(lambda: study.enqueue(_config(0))) == 3  # its own, and the two new trials


def test_an_ask_checks_no_waiting_entry_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every waiting entry was checked against the space at every ask: 37-50 ms per queued trial with 800 waiting."""
    study = _study(tmp_path)
    _fill(study, WAITING)
    checks = Counted(monkeypatch, known, "_checked_given")
    for _ in range(3):
        assert checks.since(lambda: _ask_and_tell(study)) <= 2  # the entry it hands out, completed
    assert [t.params for t in study.trials] == [_config(i) for i in range(3)]


def test_an_ask_checks_the_entries_another_handle_queued_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(_study(tmp_path), WAITING)
    asking = _other_handle(tmp_path)
    checks = Counted(monkeypatch, known, "_checked_given")
    assert checks.since(lambda: _ask_and_tell(asking)) <= WAITING + 2  # each entry once, then the one handed out
    assert checks.since(lambda: _ask_and_tell(asking)) <= 2


def test_a_warm_start_is_parsed_once_per_study_handle_not_at_every_ask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ask read the attributes twice and validated every warm-start point: 244 ms per random trial with 20,000
    points, where the docs say the warm start is read once and stored."""
    source = tmp_path / "earlier.csv"
    with source.open("w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["lr", "layers", "opt", "loss"])
        rows.writerows([*_config(i).values(), float(i)] for i in range(200))
    study = _study(tmp_path, warm_start=str(source))
    parses = Counted(monkeypatch, WarmStartAttr, "from_json")
    reads = Counted(monkeypatch, study.storage, "load_study")
    for _ in range(4):
        _ask_and_tell(study)
    assert parses.calls == 1
    assert reads.calls == 4  # the attributes, once per ask
