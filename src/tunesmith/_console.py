"""The console the CLI and the terminal summary print with (`WholeLinesConsole`): rich's, leaving text whole where
the output is no terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["WholeLinesConsole"]


class WholeLinesConsole(Console):
    """rich's console, with text left whole where the output is no terminal (a file, a pipe, a batch job's log):
    rich broke every line at 80 columns there, in the middle of a path, a URL or a command printed to paste ("read
    it back with: tunesmith best --storage" on one line, the URL on the next), where `click.echo`'s lines (the
    verdict's) stayed whole. On a terminal rich wraps text to its width, as before, and in a notebook it lays text
    out as it always did (its output shows long lines unwrapped). Tables keep their layout either way: text (a `str`,
    a `Text`) alone is left whole."""

    def print(self, *objects: Any, soft_wrap: bool | None = None, **options: Any) -> None:
        if soft_wrap is None and not (self.is_terminal or self.is_jupyter) and all(
            isinstance(o, (str, Text)) for o in objects
        ):
            soft_wrap = True
        super().print(*objects, soft_wrap=soft_wrap, **options)
