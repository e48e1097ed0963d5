"""The note a reader shows for a trial whose worker is gone says how to run it again as `tunesmith retry` will
accept it: a gone trial never counts towards the trial budget, so its retry needs a trial of the budget, and
when none is left (or the running workers are spending what is left) the note asks for `tunesmith extend` first.

The gone trial is real: a RUNNING trial of a worker whose process has exited, on this host.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import tunesmith as ts
from tunesmith.errors import ConfigError
from tunesmith.storage import MemoryStorage, Proposal
from tunesmith.study import gone_notes
from tunesmith.study._recovery import worker_id
from tunesmith.trial import TrialKind, TrialRecord

SPACE = ts.Space({"x": ts.Float(0.0, 1.0)})


def _dead_worker() -> str:
    """The worker id of a process of this host that has exited."""
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=60, check=True
    )
    return f"{worker_id().rsplit(':', 1)[0]}:{int(out.stdout)}"


def _start_trial(study: ts.Study, worker: str) -> int:
    """A trial RUNNING for ``worker``, created as that worker's `Study.ask` creates it (under the budget)."""
    record = study.storage.create_trial(
        study.storage.load_study(study.name).id,
        lambda number, _: Proposal(params={"x": 0.5}, seed=number),
        max_trials=study.budget.trials, worker=worker, now=time.time(),
    )  # fmt: skip
    assert record is not None, "the budget has room for it"
    return record.number


def _note(study: ts.Study, history: list[TrialRecord]) -> str:
    notes = gone_notes(
        history, study=study.name, grace=study.grace, retries=study.retries, now=time.time(), trials=study.budget.trials
    )
    (note,) = notes.values()
    return note


def test_a_retry_the_budget_left_cannot_take_is_preceded_by_extend() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=4), storage=MemoryStorage(), name="r", seed=0)
    study.optimize(lambda t: {"loss": t.params["x"]}, n_trials=1, progress=False)
    _start_trial(study, _dead_worker())
    study.reap_lost_trials()  # #1 interrupted: owed a retry, and no longer counted
    study.optimize(lambda t: {"loss": t.params["x"]}, n_trials=2, progress=False)
    gone = _start_trial(study, _dead_worker())  # the budget's last trial: 3 counted, and #1 owed a retry

    note = _note(study, study.trials)

    assert "tunesmith extend r --trials 5, then tunesmith retry r --kind interrupted" in note
    assert "no room for a retry (1 of its 4 trials is left, and retrying 2 interrupted trials takes 2)" in note
    study.reap_lost_trials()
    with pytest.raises(ConfigError, match="--trials 5"):  # what `tunesmith retry` alone would answer
        study.retry_failed([TrialKind.INTERRUPTED])
    study.extend_budget(trials=5)
    assert study.retry_failed([TrialKind.INTERRUPTED]) == [1, gone]


def test_a_retry_while_other_workers_spend_the_budget_says_to_extend_once_they_have() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=6), storage=MemoryStorage(), name="r5", seed=0)
    study.ask()  # a live worker's trial: this process runs it
    _start_trial(study, _dead_worker())

    note = _note(study, study.trials)

    assert "tunesmith retry r5 --kind interrupted re-queues it while the trial budget has room" in note
    assert "5 of its 6 trials are left, which the running workers go on spending" in note
    assert "once they have spent it, raise it first: tunesmith extend r5 --trials 7, then tunesmith retry" in note


def test_a_retry_the_budget_left_can_take_is_the_retry_alone() -> None:
    study = ts.Study(SPACE, metric="loss", budget=ts.Budget(trials=3), storage=MemoryStorage(), name="r", seed=0)
    study.optimize(lambda t: {"loss": t.params["x"]}, n_trials=1, progress=False)
    _start_trial(study, _dead_worker())

    note = _note(study, study.trials)

    assert note.endswith("(retries=0; tunesmith retry r --kind interrupted re-queues it (2 of its 3 trials are left))")
    study.reap_lost_trials()
    assert study.retry_failed([TrialKind.INTERRUPTED]) == [1]
