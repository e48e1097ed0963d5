"""peak_memory: the memory a call adds to the process at its peak, wherever the call allocates it."""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np
import pytest

from tunesmith.discipline.guardrails import PeakMemory, peak_memory

MIB = 2**20


def test_a_torch_forward_pass_is_measured_by_the_activations_it_holds_at_once() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    hidden, batch = 8192, 2048
    model = torch.nn.Sequential(torch.nn.Linear(1024, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    x = torch.randn(batch, 1024)
    # The linear layer's output and the ReLU's are alive together; tracemalloc sees neither.
    activations_mib = 2 * batch * hidden * 4 / MIB
    with torch.no_grad():
        model(x)  # the first call also allocates the math libraries' buffers, kept for the next
        _, peak = peak_memory(model, x)
    assert 0.9 * activations_mib <= peak <= 1.1 * activations_mib
    assert peak.traced_mib < 1, peak.detail


def test_a_numpy_array_is_measured_whole_by_tracemalloc() -> None:
    size_mib = 64
    _, peak = peak_memory(lambda: np.ones(size_mib * MIB // 8).sum())
    assert peak.traced_mib == pytest.approx(size_mib, rel=0.01)
    assert peak == pytest.approx(size_mib, rel=0.02), peak.detail


def test_tracemalloc_records_of_many_python_objects_are_not_counted_as_the_calls_memory() -> None:
    # tracemalloc's record of each of these two million floats takes more memory than the float itself.
    count = 2 * 10**6
    floats = [float(i) for i in range(count)]
    size_mib = (sys.getsizeof(floats) + sum(sys.getsizeof(f) for f in floats)) / MIB
    del floats
    _, peak = peak_memory(lambda: len([float(i) for i in range(count)]))
    assert peak == pytest.approx(size_mib, rel=0.02), peak.detail


def test_the_peak_keeps_its_figures_through_a_pickle_and_writes_as_a_number_in_json() -> None:
    _, peak = peak_memory(lambda: np.ones(MIB).sum())
    copy = pickle.loads(pickle.dumps(peak))
    assert isinstance(copy, PeakMemory) and copy == peak
    assert (copy.traced_mib, copy.resident_mib, copy.cuda_mib) == (peak.traced_mib, peak.resident_mib, peak.cuda_mib)
    assert json.loads(json.dumps({"peak_mib": peak})) == {"peak_mib": float(peak)}


def test_cuda_memory_is_not_reported_where_cuda_is_unavailable() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    _, peak = peak_memory(lambda: torch.ones(1024, 1024).sum())
    assert peak.cuda_mib is None
    assert "CUDA not measured" in peak.detail
