"""A function's name that stays the same across runs and programs: what the discipline records a data set under
when the user names none (the holdout `finalize` reads, the validation set a search scores on); and a function's
signature as messages show it."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

__all__ = ["as_called", "stable_name"]


def stable_name(function: Any) -> str | None:
    """``function``'s ``module:qualname`` (the same function reads the same set; a script's ``__main__`` is its
    file's path, or two scripts' functions over different sets would share one name). ``None`` when nothing names
    it stably across runs and programs: a lambda, a closure, a bound method, a callable object or a function of an
    interactive session."""
    if not inspect.isfunction(function):
        return None
    qualname = function.__qualname__
    if "<lambda>" in qualname or "<locals>" in qualname:
        return None
    module = function.__module__
    if module == "__main__":  # every script's module: its file tells two scripts' functions apart
        script = getattr(sys.modules.get("__main__"), "__file__", None)
        if script is None:  # an interactive session or a notebook: nothing stable names it
            return None
        module = str(Path(script).resolve())
    return f"{module}:{qualname}"


def as_called(signature: inspect.Signature) -> inspect.Signature:
    """``signature`` without its annotations, as a message shows how a function is called: ``(trial, train)``."""
    bare = [p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()]
    return signature.replace(parameters=bare, return_annotation=inspect.Signature.empty)
