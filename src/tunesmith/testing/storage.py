"""The storage conformance suite: every `Storage` implementation must pass each check.

Example:
    >>> from tunesmith.testing.storage import check_storage
    >>> from tunesmith.storage import MemoryStorage
    >>> check_storage(MemoryStorage)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from tunesmith._report_rules import ReportRefused
from tunesmith.errors import StorageError, StudyInUse, StudyNotFound, TrialNotRunning
from tunesmith.storage.base import Proposal, Storage
from tunesmith.trial import TrialKind, TrialState

__all__ = ["STORAGE_CHECKS", "check_storage"]

MakeStorage = Callable[[], Storage]
SPEC: dict[str, Any] = {"space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}, "seed": 7}


def _propose(number: int, history: Any) -> Proposal:
    return Proposal(params={"x": number / 100.0}, seed=1000 + number, attrs={"note": f"trial {number}"})


def check_create_and_load_study(make: MakeStorage) -> None:
    storage = make()
    info, created = storage.get_or_create_study("alpha", SPEC, now=1.0)
    assert created and info.name == "alpha" and info.spec == SPEC
    again, created_again = storage.get_or_create_study("alpha", {"other": True}, now=2.0)
    assert not created_again and again.id == info.id and again.spec == SPEC, "an existing study keeps its spec"
    assert storage.load_study("alpha").id == info.id
    assert [s.name for s in storage.list_studies()] == ["alpha"]


def check_missing_study_raises(make: MakeStorage) -> None:
    storage = make()
    try:
        storage.load_study("nope")
    except StudyNotFound as exc:
        assert "nope" in str(exc)
        assert isinstance(exc, KeyError)
    else:
        raise AssertionError("load_study of a missing name must raise StudyNotFound")


def check_study_attrs_round_trip(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("attrs", SPEC, now=1.0)
    storage.set_study_attr(info.id, "environment", {"python": "3.11", "packages": {"numpy": "2"}})
    storage.set_study_attr(info.id, "note", [1, 2.5, None, "x"])
    attrs = storage.load_study("attrs").attrs
    assert attrs == {"environment": {"python": "3.11", "packages": {"numpy": "2"}}, "note": [1, 2.5, None, "x"]}


def check_study_spec_update(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("spec", SPEC, now=1.0)
    other, _ = storage.get_or_create_study("other", SPEC, now=1.0)
    storage.set_study_attr(info.id, "note", "kept")
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=2.0)
    extended = {**SPEC, "budget": {"trials": 10, "wall_time": None, "resource": None}}
    storage.update_study_spec(info.id, extended)
    loaded = storage.load_study("spec")
    assert loaded.spec == extended and loaded.id == info.id, "the new spec replaces the stored one"
    assert loaded.attrs == {"note": "kept"} and len(storage.get_trials(info.id)) == 1, "attributes and trials stay"
    assert storage.load_study("other").spec == SPEC, "another study's spec is untouched"
    assert {s.name: s.spec for s in storage.list_studies()}["spec"] == extended
    again, created = storage.get_or_create_study("spec", SPEC, now=3.0)
    assert not created and again.spec == extended, "reopening reads the updated spec"
    try:
        storage.update_study_spec(other.id + info.id + 100, SPEC)
    except StudyNotFound:
        pass
    else:
        raise AssertionError("update_study_spec of a missing study must raise StudyNotFound")


def check_trials_numbered_from_zero(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("numbers", SPEC, now=1.0)
    records = [storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=10.0 + i) for i in range(5)]
    assert [r.number for r in records if r is not None] == [0, 1, 2, 3, 4]
    stored = storage.get_trials(info.id)
    assert [r.number for r in stored] == [0, 1, 2, 3, 4]
    first = stored[0]
    assert first.state is TrialState.RUNNING and first.params == {"x": 0.0} and first.seed == 1000
    assert first.attrs == {"note": "trial 0"} and first.worker == "h:1" and first.started_at == 10.0


def check_proposer_sees_history(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("history", SPEC, now=1.0)
    seen: list[list[int]] = []

    def propose(number: int, history: Any) -> Proposal:
        seen.append([r.number for r in history])
        return _propose(number, history)

    for _ in range(3):
        storage.create_trial(info.id, propose, max_trials=None, worker="h:1", now=1.0)
    assert seen == [[], [0], [0, 1]]


def check_trial_budget_is_exact(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("budget", SPEC, now=1.0)
    made = [storage.create_trial(info.id, _propose, max_trials=3, worker="h:1", now=1.0) for _ in range(5)]
    assert [m is not None for m in made] == [True, True, True, False, False]
    storage.finish_trial(info.id, 1, TrialState.FAILED, metrics={}, reason="interrupted", error=None, now=2.0,
                         kind=TrialKind.INTERRUPTED)  # fmt: skip
    replacement = storage.create_trial(info.id, _propose, max_trials=3, worker="h:1", now=3.0)
    assert replacement is not None and replacement.number == 3, "an interrupted trial does not spend the budget"


def check_the_budget_reads_the_kind_not_the_reason(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("budget-kind", SPEC, now=1.0)
    for _ in range(3):
        storage.create_trial(info.id, _propose, max_trials=3, worker="h:1", now=1.0)
    # Worded like a lost trial, but an exception: it spends the budget.
    storage.finish_trial(info.id, 0, TrialState.FAILED, metrics={}, reason="lost worker", error=None, now=2.0,
                         kind=TrialKind.EXCEPTION)  # fmt: skip
    assert storage.create_trial(info.id, _propose, max_trials=3, worker="h:1", now=3.0) is None
    # Worded as anything, but lost with its worker: it does not.
    storage.finish_trial(info.id, 1, TrialState.FAILED, metrics={}, reason="no heartbeat", error=None, now=4.0,
                         kind=TrialKind.LOST_WORKER)  # fmt: skip
    replacement = storage.create_trial(info.id, _propose, max_trials=3, worker="h:1", now=5.0)
    assert replacement is not None and replacement.number == 3, "a trial lost with its worker does not spend the budget"


def check_reports_and_resource(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("reports", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.add_report(info.id, 0, 1, {"loss": 0.9}, now=2.0)
    storage.add_report(info.id, 0, 2, {"loss": 0.5, "acc": 0.7}, now=3.0)
    storage.add_report(info.id, 0, 2, {"extra": 1.0}, now=3.5)
    record = storage.get_trial(info.id, 0)
    assert record.intermediate == {1: {"loss": 0.9}, 2: {"loss": 0.5, "acc": 0.7, "extra": 1.0}}
    assert record.resource == 2.0 and record.heartbeat_at == 3.5
    assert record.curve("loss") == [(1, 0.9), (2, 0.5)]


def check_reports_go_forward(make: MakeStorage) -> None:
    """A step at or below the last one stored, or a metric stored at a step again, is refused unwritten (the
    report rules hold on the stored curve, whichever process reports)."""
    storage = make()
    info, _ = storage.get_or_create_study("forward", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.add_report(info.id, 0, 1, {"loss": 0.9}, now=2.0)
    storage.add_report(info.id, 0, 3, {"loss": 0.5}, now=3.0)
    for step, metrics in ((2, {"loss": 0.1}), (3, {"loss": 0.1}), (1, {"acc": 0.1})):
        try:
            storage.add_report(info.id, 0, step, metrics, now=4.0)
        except ReportRefused:
            pass
        else:
            raise AssertionError(f"a report of {metrics} at step {step} after step 3 was accepted instead of refused")
    record = storage.get_trial(info.id, 0)
    assert record.intermediate == {1: {"loss": 0.9}, 3: {"loss": 0.5}}, "a refused report wrote something"
    assert record.resource == 3.0 and record.heartbeat_at == 3.0


def check_finish_is_final(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("finish", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    assert storage.finish_trial(info.id, 0, TrialState.COMPLETE, metrics={"loss": 0.25}, reason=None, error=None,
                                now=5.0)
    overwritten = storage.finish_trial(info.id, 0, TrialState.FAILED, metrics={}, reason="interrupted", error="late",
                                       now=6.0, kind=TrialKind.INTERRUPTED)  # fmt: skip
    assert not overwritten, "a recorded result is never overwritten"
    record = storage.get_trial(info.id, 0)
    assert record.state is TrialState.COMPLETE and record.metrics == {"loss": 0.25} and record.finished_at == 5.0
    assert record.reason is None and record.kind is None
    assert record.duration == 4.0
    try:
        storage.add_report(info.id, 0, 1, {"loss": 7.0}, now=7.0)
    except TrialNotRunning as exc:
        assert "trial #0 is complete, not running" in str(exc)
    else:
        raise AssertionError("a report to a finished trial rewrote its curve instead of raising TrialNotRunning")
    after = storage.get_trial(info.id, 0)
    assert after.intermediate == {} and after.resource == record.resource and after.heartbeat_at == record.heartbeat_at


def check_kind_is_stored_beside_the_reason(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("kinds", SPEC, now=1.0)
    kinds = list(TrialKind)
    for _ in range(len(kinds) + 2):
        storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    for number, kind in enumerate(kinds):
        state = TrialState.STOPPED if number % 2 else TrialState.FAILED
        storage.finish_trial(info.id, number, state, metrics={}, reason=f"why {number}", error=None, now=2.0,
                             kind=kind)  # fmt: skip
    complete = len(kinds)
    storage.finish_trial(info.id, complete, TrialState.COMPLETE, metrics={"loss": 0.1}, reason=None, error=None,
                         now=2.0)  # fmt: skip
    read = storage.get_trials(info.id)
    assert [r.kind for r in read] == [*kinds, None, None], "every kind reads back; COMPLETE and RUNNING have none"
    assert [r.reason for r in read[:complete]] == [f"why {n}" for n in range(complete)], "the reason stays beside it"
    assert [storage.get_trial(info.id, n).kind for n in range(len(read))] == [r.kind for r in read]
    assert storage.get_trial(info.id, complete + 1).state is TrialState.RUNNING


def check_update_and_heartbeat(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("update", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.update_trial(info.id, 0, attrs={"retry": 1})
    storage.update_trial(info.id, 0, params={"x": 0.25, "asked": "later"})  # what a define-by-run trial asked
    storage.update_trial(info.id, 0, state=TrialState.PAUSED)
    storage.heartbeat(info.id, [0], now=9.0)
    record = storage.get_trial(info.id, 0)
    assert record.attrs == {"note": "trial 0", "retry": 1} and record.state is TrialState.PAUSED
    assert record.params == {"x": 0.25, "asked": "later"}
    storage.update_trial(info.id, 0, state=TrialState.RUNNING)
    storage.heartbeat(info.id, [0], now=12.0)
    assert storage.get_trial(info.id, 0).heartbeat_at == 12.0


def check_a_resumed_trial_drops_its_pause_reason(make: MakeStorage) -> None:
    """A PAUSED trial moved back to RUNNING no longer carries the pause's reason: it was listed running with
    "pause by asha at step 1"."""
    storage = make()
    info, _ = storage.get_or_create_study("resumed", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.update_trial(info.id, 0, state=TrialState.PAUSED, reason="pause by asha at step 1",
                         kind=TrialKind.SCHEDULER)  # fmt: skip
    resumed = storage.resume_trial(info.id, lambda history: 0, worker="h:2", now=5.0)
    assert resumed is not None and resumed.state is TrialState.RUNNING and resumed.worker == "h:2"
    assert (resumed.reason, resumed.kind) == (None, None)


def check_a_lost_trial_pauses_only_while_its_gone_worker_holds_it(make: MakeStorage) -> None:
    """`Storage.pause_lost_trial` moves a trial back to PAUSED only while it is RUNNING for the worker found gone:
    a second reaper, or one that read it before another worker resumed it, changes nothing."""
    storage = make()
    info, _ = storage.get_or_create_study("lost", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    assert storage.pause_lost_trial(info.id, 0, worker="h:1", reason="paused again")
    record = storage.get_trial(info.id, 0)
    assert (record.state, record.reason, record.kind) == (TrialState.PAUSED, "paused again", None)
    assert not storage.pause_lost_trial(info.id, 0, worker="h:1", reason="twice"), "a second reaper"
    storage.resume_trial(info.id, lambda history: 0, worker="h:2", now=5.0)
    assert not storage.pause_lost_trial(info.id, 0, worker="h:1", reason="stale"), "resumed by another worker"
    record = storage.get_trial(info.id, 0)
    assert (record.state, record.worker, record.reason) == (TrialState.RUNNING, "h:2", None)


def check_records_are_json(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("json", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.add_report(info.id, 0, 1, {"loss": 0.5}, now=2.0)
    storage.finish_trial(info.id, 0, TrialState.COMPLETE, metrics={"loss": 0.5}, reason=None, error=None, now=3.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=4.0)
    storage.finish_trial(info.id, 1, TrialState.STOPPED, metrics={"loss": 9.0}, reason="diverged", error="grew",
                         now=5.0, kind=TrialKind.DIVERGED)  # fmt: skip
    for record in storage.get_trials(info.id):
        text = json.dumps(record.to_json())
        assert type(record).from_json(json.loads(text)) == record


def check_concurrent_creation(make: MakeStorage) -> None:
    storage = make()
    info, _ = storage.get_or_create_study("threads", SPEC, now=1.0)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while storage.create_trial(info.id, _propose, max_trials=40, worker="h:1", now=1.0) is not None:
                pass
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert [r.number for r in storage.get_trials(info.id)] == list(range(40))


def check_studies_are_isolated(make: MakeStorage) -> None:
    storage = make()
    a, _ = storage.get_or_create_study("a", SPEC, now=1.0)
    b, _ = storage.get_or_create_study("b", SPEC, now=1.0)
    storage.create_trial(a.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.create_trial(a.id, _propose, max_trials=None, worker="h:1", now=1.0)
    record = storage.create_trial(b.id, _propose, max_trials=None, worker="h:1", now=1.0)
    assert record is not None and record.number == 0
    assert len(storage.get_trials(a.id)) == 2 and len(storage.get_trials(b.id)) == 1


def _must_be_gone(action: Callable[[], object], what: str) -> None:
    try:
        action()
    except StudyNotFound:
        return
    raise AssertionError(f"{what} of a deleted study must raise StudyNotFound")


def check_delete_study(make: MakeStorage) -> None:
    """A deleted study is gone with its trials and reports, the others stay whole, and its id is never given to a
    study created later (one of the same name included), so an object still holding it fails."""
    storage = make()
    kept, _ = storage.get_or_create_study("kept", SPEC, now=1.0)
    gone, _ = storage.get_or_create_study("gone", SPEC, now=2.0)
    for study in (kept, gone):
        storage.create_trial(study.id, _propose, max_trials=None, worker="h:1", now=3.0)
        storage.add_report(study.id, 0, 1, {"loss": 0.5}, now=4.0)
        storage.finish_trial(study.id, 0, TrialState.COMPLETE, metrics={"loss": 0.5}, reason=None, error=None, now=5.0)
    storage.set_study_attr(gone.id, "note", "x")
    storage.delete_study(gone.id)
    assert [s.name for s in storage.list_studies()] == ["kept"]
    _must_be_gone(lambda: storage.load_study("gone"), "load_study")
    _must_be_gone(lambda: storage.get_trials(gone.id), "get_trials")
    _must_be_gone(lambda: storage.set_study_attr(gone.id, "note", "y"), "set_study_attr")
    _must_be_gone(lambda: storage.delete_study(gone.id), "delete_study")
    kept_trials = storage.get_trials(kept.id)
    assert len(kept_trials) == 1 and kept_trials[0].intermediate == {1: {"loss": 0.5}}, "the other study stays whole"
    again, created = storage.get_or_create_study("gone", SPEC, now=6.0)
    assert created and again.id > gone.id, f"a new study took id {again.id}, a deleted study's ({gone.id}) or lower"
    assert again.attrs == {} and storage.get_trials(again.id) == []
    assert storage.create_trial(again.id, _propose, max_trials=None, worker="h:1", now=7.0) is not None


def check_delete_refuses_a_study_with_running_trials(make: MakeStorage) -> None:
    """A study with a RUNNING trial is deleted only when asked to delete it anyway: its worker writes on."""
    storage = make()
    info, _ = storage.get_or_create_study("busy", SPEC, now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=1.0)
    storage.finish_trial(info.id, 0, TrialState.COMPLETE, metrics={"loss": 0.5}, reason=None, error=None, now=2.0)
    try:
        storage.delete_study(info.id)
    except StudyInUse as exc:
        assert exc.running == (1,), exc.running
    else:
        raise AssertionError("delete_study of a study with a RUNNING trial must raise StudyInUse")
    assert len(storage.get_trials(info.id)) == 2, "a refused deletion deletes nothing"
    storage.delete_study(info.id, running=True)
    assert storage.list_studies() == []


def check_insert_study_keeps_every_record(make: MakeStorage) -> None:
    """A study inserted whole reads back as it was given: every trial with its state, curve, times, worker, kind
    and attributes, the study's attributes and creation time; numbering goes on after its last trial, and a name
    that exists is refused with nothing written."""
    source = make()
    info, _ = source.get_or_create_study("source", SPEC, now=1.0)
    for _ in range(4):
        source.create_trial(info.id, _propose, max_trials=None, worker="h:1", now=2.0)
    source.add_report(info.id, 0, 1, {"loss": 0.9, "acc": 0.5}, now=2.5)
    source.add_report(info.id, 0, 3, {"loss": 0.4}, now=2.7)
    source.finish_trial(info.id, 0, TrialState.COMPLETE, metrics={"loss": 0.4}, reason=None, error=None, now=3.0)
    source.finish_trial(info.id, 1, TrialState.FAILED, metrics={}, reason="exception: ValueError",
                        error="Traceback ...", now=4.0, kind=TrialKind.EXCEPTION)  # fmt: skip
    source.add_report(info.id, 2, 2, {"loss": 0.7}, now=4.5)
    source.update_trial(info.id, 2, state=TrialState.PAUSED, attrs={"checkpointed": True})
    source.finish_trial(info.id, 3, TrialState.STOPPED, metrics={"loss": 0.8}, reason="asha", error=None, now=5.0,
                        kind=TrialKind.SCHEDULER)  # fmt: skip
    source.set_study_attr(info.id, "note", {"kept": [1, 2]})
    records = source.get_trials(info.id)
    records.append(records[1].evolve(number=4, state=TrialState.COMPLETE, metrics={"loss": 0.3}, reason=None,
                                      kind=None, error=None, attrs={"retry_of": 1}))  # fmt: skip
    target = make()
    target.get_or_create_study("other", SPEC, now=0.5)
    copy = target.insert_study("copy", SPEC, attrs=source.load_study("source").attrs, created_at=1.0, trials=records)
    assert (copy.name, copy.spec, copy.attrs, copy.created_at) == ("copy", SPEC, {"note": {"kept": [1, 2]}}, 1.0)
    assert target.get_trials(copy.id) == records, "an inserted study reads back as it was given"
    assert target.load_study("copy").id == copy.id
    created = target.create_trial(copy.id, _propose, max_trials=None, worker="h:2", now=6.0)
    assert created is not None and created.number == 5
    try:
        target.insert_study("copy", SPEC, attrs={}, created_at=7.0, trials=records[:1])
    except StorageError:
        pass
    else:
        raise AssertionError("insert_study of a name that exists must raise StorageError")
    assert len(target.get_trials(copy.id)) == 6 and [s.name for s in target.list_studies()] == ["other", "copy"]


def _appending(entry: list[int]) -> Callable[[Any], Any]:
    return lambda old: [*(old or []), entry]


def check_attribute_updates_are_atomic(make: MakeStorage) -> None:
    """`Storage.update_study_attr` from several threads at once: every update lands (a queue, say)."""
    storage = make()
    info, _ = storage.get_or_create_study("queue", SPEC, now=1.0)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(10):
                storage.update_study_attr(info.id, "queue", _appending([worker, i]))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    queue = storage.load_study("queue").attrs["queue"]
    assert sorted(map(tuple, queue)) == [(w, i) for w in range(4) for i in range(10)]
    assert storage.update_study_attr(info.id, "other", lambda old: old) is None, "an absent key reads None"


STORAGE_CHECKS: list[Callable[[MakeStorage], None]] = [
    check_a_resumed_trial_drops_its_pause_reason,
    check_a_lost_trial_pauses_only_while_its_gone_worker_holds_it,
    check_create_and_load_study,
    check_missing_study_raises,
    check_study_attrs_round_trip,
    check_study_spec_update,
    check_trials_numbered_from_zero,
    check_proposer_sees_history,
    check_trial_budget_is_exact,
    check_the_budget_reads_the_kind_not_the_reason,
    check_reports_and_resource,
    check_reports_go_forward,
    check_finish_is_final,
    check_kind_is_stored_beside_the_reason,
    check_update_and_heartbeat,
    check_records_are_json,
    check_concurrent_creation,
    check_attribute_updates_are_atomic,
    check_studies_are_isolated,
    check_delete_study,
    check_delete_refuses_a_study_with_running_trials,
    check_insert_study_keeps_every_record,
]


def check_storage(make: MakeStorage) -> None:
    """Run every check against fresh storages made by ``make``; raises `AssertionError` on the first failure."""
    for check in STORAGE_CHECKS:
        check(make)
