"""Trial records: the kind of a stopped or failed trial, beside its reason."""

from __future__ import annotations

import json

import pytest

from tunesmith.trial import TrialKind, TrialRecord, TrialState


@pytest.mark.parametrize("kind", list(TrialKind))
def test_a_record_keeps_its_kind_through_json(kind: TrialKind) -> None:
    record = TrialRecord(number=3, params={"x": 1}, seed=7, state=TrialState.FAILED, reason="why", kind=kind)
    data = json.loads(json.dumps(record.to_json()))
    assert data["kind"] == kind.value and data["reason"] == "why"
    assert TrialRecord.from_json(data) == record


def test_a_record_written_before_kinds_reads_back_without_one() -> None:
    record = TrialRecord(number=0, params={}, seed=0, state=TrialState.FAILED, reason="interrupted")
    data = record.to_json()
    del data["kind"]
    assert TrialRecord.from_json(data).kind is None


def test_a_complete_record_has_no_kind() -> None:
    record = TrialRecord(number=0, params={}, seed=0, state=TrialState.COMPLETE)
    assert record.kind is None and record.to_json()["kind"] is None


def test_only_interrupted_and_lost_worker_are_interruptions() -> None:
    assert {k for k in TrialKind if k.is_interruption} == {TrialKind.INTERRUPTED, TrialKind.LOST_WORKER}


def test_kind_values_are_stable_column_values() -> None:
    assert all(k.value == k.name.lower() and len(k.value) <= 32 for k in TrialKind)
