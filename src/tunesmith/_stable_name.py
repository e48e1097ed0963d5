"""A function's name that stays the same across runs and programs: what the discipline records a data set under
when the user names none (the holdout `finalize` reads, the validation set a search scores on); and a function's
signature as messages show it, and the refusal of a function that cannot take the arguments it is called
with."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from tunesmith.errors import ConfigError

__all__ = ["as_called", "callable_with", "stable_name"]


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


def callable_with(function: Any, name: str, shape: str, arguments: int, fix: str | None = None) -> None:
    """Refuse, before any trial, a ``function`` that cannot be called with ``arguments`` positional arguments;
    ``fix``: what the message says to do instead of the general fix (define it with that many parameters)."""
    if not callable(function):
        raise ConfigError(f"{name} must be a function, {shape}, got {type(function).__name__} {function!r}")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # no signature to read (some builtins): leave it to the call
        return
    try:
        signature.bind(*([None] * arguments))
    except TypeError as exc:
        shown = as_called(signature)
        raise ConfigError(
            f"{name} {getattr(function, '__qualname__', type(function).__name__)}{shown} cannot be called as "
            f"{shape} ({exc}): "
            + (fix or f"define it so, with {arguments} positional parameters, and pass other inputs with "
               "functools.partial or a closure")
        ) from None
