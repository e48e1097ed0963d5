"""A Study is a handle on its storage: pickling one says how to open it in the other process instead."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

import tunesmith as ts
from tunesmith.errors import TunesmithError
from tunesmith.study._pickling import StudyNotPicklable

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def test_pickling_a_study_names_the_load_call_that_opens_it_elsewhere(tmp_path: Path) -> None:
    """pickle.dumps(study) raised "TypeError: cannot pickle '_thread.RLock' object"."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    study = ts.Study(SPACE, metric="loss", storage=url, name="shared", seed=0)
    study.tell(study.ask(), 0.25)
    with pytest.raises(StudyNotPicklable) as info:
        pickle.dumps(study)
    assert isinstance(info.value, TypeError) and isinstance(info.value, TunesmithError)
    message = str(info.value)
    call = f"ts.Study.load('shared', storage='{url}')"
    assert "a Study is a handle on its storage" in message and call in message
    reopened = eval(call, {"ts": ts})  # the call the message gives opens the same study
    assert [r.metrics for r in reopened.trials] == [{"loss": 0.25}]
    reopened.storage.close()
    study.storage.close()


def test_pickling_an_in_memory_study_says_to_keep_it_in_a_file_first() -> None:
    study = ts.Study(SPACE, metric="loss", storage="memory", name="here")
    with pytest.raises(TypeError, match=r"storage is 'memory', which only this process can see: create the study "
                       r"with storage='sqlite:///study\.db'.*ts\.Study\.load\(name, storage=url\)"):  # fmt: skip
        pickle.dumps(study)
    with pytest.raises(StudyNotPicklable):
        copy.deepcopy(study)
    assert repr(study) == "Study(name='here', storage='memory')"
