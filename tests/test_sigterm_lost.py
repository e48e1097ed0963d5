"""A SIGTERM always ends a command as terminated, even when the `Terminated` its handler raised never reaches the
command: C code or a finalizer that drops the exception ("Exception ignored in: ..."), or code that catches it and
goes on. Before, the handler raised once and ignored every later SIGTERM, so such a run spent its whole budget and
exited 0. A second SIGTERM while the first is being handled (``timeout`` signals twice) is still ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

import pytest

from tunesmith.cli._common import Terminated, _sigterm_as_interrupt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class _SignalledInFinalizer:
    """Sends SIGTERM from its finalizer, where the handler's exception cannot propagate: Python reports it as
    "Exception ignored in" and drops it, as scipy's Sobol start-up (Cython) did under `tunesmith run`."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs at once, inside this finalizer


def test_a_sigterm_whose_exception_a_finalizer_drops_still_raises_terminated() -> None:
    with pytest.raises(Terminated), _sigterm_as_interrupt():
        _SignalledInFinalizer()  # collected at once
        time.sleep(3)  # the run going on, as if no signal had come


def test_a_sigterm_after_one_that_was_caught_and_dropped_raises_again() -> None:
    raised_again = False
    with pytest.raises(Terminated), _sigterm_as_interrupt():  # the block's end raises as well (the next test)
        with contextlib.suppress(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(3)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(3)
        except Terminated:
            raised_again = True
    assert raised_again


def test_a_block_whose_terminated_was_caught_and_dropped_ends_with_terminated() -> None:
    with pytest.raises(Terminated) as ended, _sigterm_as_interrupt(), contextlib.suppress(Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(3)
    assert ended.value.signum == signal.SIGTERM


def test_a_second_sigterm_while_the_first_is_handled_is_ignored() -> None:
    with pytest.raises(Terminated) as ended, _sigterm_as_interrupt():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(3)
        except Terminated:  # where `Study.optimize` records what the first cut short
            os.kill(os.getpid(), signal.SIGTERM)  # `timeout` signals the command, then its process group
            time.sleep(0.1)
            raise
    assert ended.value.__context__ is None  # the first, not a second raised while the first was handled
