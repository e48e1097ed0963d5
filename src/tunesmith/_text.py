"""Names are data: user-supplied text made safe for the terminal and for the file system.

A study name, a parameter name or value, a reason or an error message is whatever the user typed;
it must never become rich markup, a terminal escape sequence or a path that leaves its folder, and
what is stored or quoted of it is bounded (`bounded_error`, `excerpt`): an exception raised with a
20 MB message must not become a 20 MB record or error line.

Example:
    >>> terminal_safe("evil[/bold]\\x1b[2J")
    'evil\\\\[/bold]\\\\x1b[2J'
    >>> safe_file_name("../../x")
    '______x-9cdf6a50'
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "ERROR_CHARS", "EXCERPT_CHARS", "bounded_error", "counted", "excerpt", "safe_file_name", "terminal_safe", "times",
]

# Invisible characters that reorder the text around them (Trojan Source): shown, never obeyed.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FAMILIAR = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MAX_FILE_NAME = 100  # characters kept from the name; far under any file system's 255-byte limit
# A failure's stored text (a traceback, a crash's output) keeps this many characters: deep tracebacks of chained
# exceptions run to a few thousand, while an exception raised with a 20 MB message would store all of it per trial.
ERROR_CHARS = 50_000
# A value or an exception line quoted inside a one-line message keeps this many characters.
EXCERPT_CHARS = 200
# Names Windows reserves for devices, whatever the extension.
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))})


def _visible(char: str) -> str:
    if char in _FAMILIAR:
        return _FAMILIAR[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_control(char: str) -> bool:
    """C0, DEL and C1 controls (ESC, CR, BEL, CSI...), bidi overrides and line/paragraph separators."""
    return char in _BIDI or unicodedata.category(char) in ("Cc", "Zl", "Zp")


def controls_in(text: str) -> list[str]:
    """The control characters in ``text`` (`_is_control`), each once, as the escapes `terminal_safe` shows."""
    found = dict.fromkeys(char for char in text if _is_control(char))
    return [terminal_safe(char, markup=False) for char in found]


def terminal_safe(text: object, *, markup: bool = True, multiline: bool = False) -> str:
    """``text`` as it may reach a terminal: every control character shown as an escape such as ``\\x1b``.

    Args:
        text: any user-supplied value (converted with `str`).
        markup: the result goes into rich markup (``console.print``, a table cell or title), so rich
            markup is escaped too; pass ``False`` for `click.echo` or a `rich.text.Text`.
        multiline: keep line feeds (an error message, a summary of several lines); every other
            control character is still escaped.

    Returns:
        Text that prints exactly as written: no markup, no escape sequence, no reordering.
    """
    keep = "\n" if multiline else ""
    shown = "".join(_visible(c) if _is_control(c) and c not in keep else c for c in str(text))
    if not markup:
        return shown
    from rich.markup import escape  # imported on first use: keeps `import tunesmith` light

    return escape(shown)


def safe_file_name(name: str) -> str:
    """A study name as one safe, stable, readable path component (a file or folder name).

    A name made only of letters, digits, ``-``, ``_`` and single inner dots is kept as it is. Any
    other name has each other character (separators, controls, spaces), every run of dots and a
    leading or trailing dot replaced with ``_``, is cut to a readable length, and gets a short hash of
    the full name, so that two names never share a folder. The result is never empty, ``.`` or
    ``..``, never absolute, and never holds ``/``, ``\\``, ``..`` or a control character.

    Args:
        name: the study name, exactly as stored.

    Returns:
        The file name stem, e.g. ``"resnet-lr"`` for ``"resnet-lr"``, ``"______x-9cdf6a50"`` for ``"../../x"``.
    """
    kept = "".join(c if (c.isalnum() and c.isprintable()) or c in "-_." else "_" for c in name)
    kept = re.sub(r"\.{2,}", lambda m: "_" * len(m.group()), kept)
    kept = re.sub(r"^\.|\.$", "_", kept) or "_"
    if kept == name and len(name) <= _MAX_FILE_NAME and name.split(".")[0].upper() not in _RESERVED:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{kept[:_MAX_FILE_NAME]}-{digest}"


# The marker `_cut` leaves, found again when a cut text is cut once more (an excerpt of a stored traceback).
_CUT_MARKER = re.compile(r" \[\.\.\. ([\d,]+) characters cut \.\.\.\] ")


def _cut(text: str, head: int, tail: int) -> str:
    """``text`` when it holds at most ``head + tail`` characters; else its first ``head`` and last ``tail``
    characters around a marker that says how many of the original text were cut (a marker among those cut now
    counts what it stood for)."""
    if len(text) <= head + tail:
        return text
    middle = text[head : len(text) - tail]
    earlier = list(_CUT_MARKER.finditer(middle))
    cut = len(middle) + sum(int(m.group(1).replace(",", "")) - len(m.group()) for m in earlier)
    return f"{text[:head]} [... {cut:,} characters cut ...] {text[len(text) - tail :]}"


def bounded_error(text: str, limit: int = ERROR_CHARS) -> str:
    """A failure's text as stored: at most ``limit`` characters plus a marker, keeping a quarter from the head and
    three quarters from the tail, since a traceback ends with the innermost frames and the exception line.

    Example:
        >>> bounded_error("x" * 10 + "y" * 100, limit=40)
        'xxxxxxxxxx [... 70 characters cut ...] yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy'
    """
    tail = limit * 3 // 4
    return _cut(text, limit - tail, tail)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A value or an exception line quoted inside a message: at most ``limit`` characters plus a marker, keeping
    three quarters from the head (the exception's type and the start of its message) and a quarter from the tail."""
    head = limit * 3 // 4
    return _cut(text, head, limit - head)


def times(count: int) -> str:
    """``once``, ``2 times``: how often something happened (``1 time(s)`` read as a form, not a sentence)."""
    return "once" if count == 1 else f"{count} times"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 key``, ``2 keys``: a count with its noun (``plural``: when it is not the noun with an s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
