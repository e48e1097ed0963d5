"""Storage URLs: redacting the password, and reading the URL from the environment or a file."""

from __future__ import annotations

import os

from tunesmith.errors import StorageError

__all__ = ["read_storage_file", "redact_url", "storage_url_from_environment"]


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print or log. A storage named without a scheme
    (``"memory"``, a file path) holds no password and is shown as it is: it read ``memory://***`` before."""
    if "://" not in url:
        return url
    import sqlalchemy as sa  # imported on first use: keeps `import tunesmith` light

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as its scheme only
        return url.split("://", 1)[0] + "://***"


def read_storage_file(path: str | os.PathLike[str]) -> str:
    """The storage URL kept in a file (its first non-empty line), so that it stays off command lines.

    Raises:
        StorageError: the file is missing, unreadable or empty.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [line.strip() for line in fh]
    except OSError as exc:
        raise StorageError(f"cannot read the storage file {os.fspath(path)!r}: {exc.strerror}") from None
    url = next((line for line in lines if line and not line.startswith("#")), "")
    if not url:
        raise StorageError(f"the storage file {os.fspath(path)!r} holds no URL: write the URL on its first line")
    return url


def storage_url_from_environment(default: str = "sqlite:///tunesmith.db") -> str:
    """``TUNESMITH_STORAGE``, else the URL in the file ``TUNESMITH_STORAGE_FILE`` names, else ``default``; both
    set is refused, as every ``tunesmith`` command refuses it (which one was meant cannot be told)."""
    url = os.environ.get("TUNESMITH_STORAGE")
    path = os.environ.get("TUNESMITH_STORAGE_FILE")
    if url and path:
        raise StorageError(
            f"give the storage once, got both TUNESMITH_STORAGE={redact_url(url)} and TUNESMITH_STORAGE_FILE={path}: "
            "unset one, or pass storage= to the study, which wins"
        )
    if url:
        return url
    if path:
        return read_storage_file(path)
    return default
