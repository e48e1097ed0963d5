"""A result that lacks the study's metric is refused with a bounded message that names the close keys."""

from __future__ import annotations

import pytest

import tunesmith as ts
from tunesmith.objective import MissingMetric, normalise_result

METRIC = ts.Metric("val_acc", "max")


def test_a_result_of_thousands_of_keys_is_named_in_a_bounded_message() -> None:
    result = {f"feature_importance_{i:05d}_{'x' * 200}": 0.1 for i in range(5_000)}
    with pytest.raises(MissingMetric) as raised:
        normalise_result(result, METRIC)
    message = str(raised.value)
    assert len(message) < 3_000 and "it has 5000 keys" in message and "and 4980 more" in message


def test_a_close_key_is_suggested() -> None:
    with pytest.raises(MissingMetric, match=r"did you mean 'val_accuracy'\? it has 2 keys"):
        normalise_result({"val_accuracy": 0.9, "loss": 0.3}, METRIC)

