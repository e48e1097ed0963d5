"""What every test file that starts Ray sets first: loopback only, no authentication, and the warnings Ray's own
modules raise (on import, while running and at shutdown; none comes from tunesmith), which the suite's
filterwarnings=error would otherwise fail."""

from __future__ import annotations

import os

import pytest

# Loopback only: Ray would otherwise turn 127.0.0.1 into this machine's routed address. Read at import.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

RAY_WARNINGS = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
