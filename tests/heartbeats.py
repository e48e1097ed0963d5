"""Waiting out the heartbeat threads of studies a test has dropped, before their storage closes.

A study beats its untold trials from a daemon thread that holds it weakly and ends at its next wake
once the study is gone. A beat in flight while the test closes the storage keeps its connection
checked out through the close: it goes back to a pool nobody holds any more, and psycopg warns
("connection ... was deleted while still open") when the garbage collector finds it, failing whatever
test happens to run ``gc.collect()`` next. Fixtures that close SQL storages call `stop_dropped_heartbeats`
first.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Collection

__all__ = ["stop_dropped_heartbeats"]


def stop_dropped_heartbeats(before: Collection[threading.Thread], timeout: float = 5.0) -> None:
    """Wait (up to ``timeout`` s in all) for the study heartbeat threads started since ``before`` to end:
    those of studies the test dropped end within one interval; a study still held keeps its thread."""
    gc.collect()  # a study caught in a reference cycle is dropped only now
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread not in before and thread.name.startswith("tunesmith-heartbeat-"):
            thread.join(max(0.0, deadline - time.monotonic()))
