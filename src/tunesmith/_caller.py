"""Where a warning tunesmith gives points: the caller's own line, past however many of tunesmith's frames lie between.

Python's ``stacklevel`` counts frames, and each wrapper (the loop's stop switch, an argument check) moves the line a
fixed count points at into tunesmith ("return _optimize.optimize(" under `Study.optimize`'s warnings). Python 3.12's
``skip_file_prefixes`` does this; 3.11 has no such argument.
"""

from __future__ import annotations

import os
import sys

__all__ = ["outside_stacklevel"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def outside_stacklevel() -> int:
    """The ``stacklevel`` for a `warnings.warn` made by the function that calls this: the innermost frame outside
    tunesmith's package (the outermost of its frames when every frame is tunesmith's, as under its own command)."""
    frame = sys._getframe(1)  # the function that warns: level 1
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level
