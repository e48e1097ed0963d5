"""Storage backends: in-memory and SQL (SQLite, PostgreSQL), opened from a URL by its scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunesmith._registry import Registry
from tunesmith.errors import StorageError
from tunesmith.storage._failures import SQLITE_FORMS, unsupported_scheme
from tunesmith.storage._urls import read_storage_file, redact_url, storage_url_from_environment
from tunesmith.storage.base import Proposal, Storage, StudyInfo
from tunesmith.storage.memory import MemoryStorage

if TYPE_CHECKING:
    from tunesmith.storage.sql import SQLStorage

    STORAGES: Registry[Storage]

__all__ = [
    "STORAGES",
    "MemoryStorage",
    "Proposal",
    "SQLStorage",
    "Storage",
    "StudyInfo",
    "open_storage",
    "read_storage_file",
    "redact_url",
    "storage_url_from_environment",
]


def __getattr__(name: str) -> Any:
    """``SQLStorage`` and `STORAGES`, which names it, are imported on first use: they load SQLAlchemy, which
    ``import tunesmith`` and every CLI command (``--help`` too) would otherwise pay for."""
    if name == "SQLStorage":
        from tunesmith.storage.sql import SQLStorage

        return SQLStorage
    if name == "STORAGES":
        return _storages()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _storages() -> Registry[Storage]:
    """`STORAGES`, built on first use and kept as the module's attribute (the first one built, under threads)."""
    built: Registry[Storage] | None = globals().get("STORAGES")
    if built is None:
        from tunesmith.storage.sql import SQLStorage

        # URL scheme -> storage; a driver suffix (``postgresql+psycopg``) is dropped before the lookup.
        built = globals().setdefault(
            "STORAGES",
            Registry(
                "storage",
                Storage,
                {"memory": MemoryStorage, "sqlite": SQLStorage, "postgresql": SQLStorage},
                error=StorageError,
            ),
        )
    return built


_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def open_storage(url: str | Storage | None, *, create: bool = True) -> Storage:
    """A storage from a URL: ``"memory"``, ``"sqlite:///path.db"``, ``"postgresql://..."``, or a path.

    ``None`` reads ``TUNESMITH_STORAGE``, then the file named by ``TUNESMITH_STORAGE_FILE``, and
    falls back to ``sqlite:///tunesmith.db``. The URL's scheme picks the backend from `STORAGES`.

    Args:
        url: the URL, a path, a `Storage` (returned as it is) or ``None``.
        create: create a missing SQLite file and tunesmith's tables; ``False`` refuses a database
            that does not exist (``SQLStorage(must_exist=True)``): commands that only read use it, so
            that a mistyped path is an error, not a new empty database.

    Raises:
        StorageError: neither ``memory``, a URL of a known scheme nor a SQLite file path; with ``None``, both
            variables set.
        StorageUnavailable: the database cannot be opened, or is missing and ``create`` is false.
    """
    if isinstance(url, Storage):
        return url
    if url is None:
        url = storage_url_from_environment()
    storages = _storages()
    if url == "memory":
        return storages.build("memory")
    if "://" not in url:
        scheme, colon, _ = url.partition(":")
        if colon and scheme.lower() in storages:  # sqlite:/x.db made a folder named "sqlite:" without a word
            forms = SQLITE_FORMS if scheme.lower() == "sqlite" else f"{scheme.lower()}://user@host/db"
            raise StorageError(
                f"storage {url!r} starts like a {scheme.lower()} URL but lacks the '//' after '{scheme}:', so it "
                f"would be read as a file path (a folder named '{scheme}:'): write {forms}"
            )
        if not url.endswith(_SQLITE_SUFFIXES):
            raise StorageError(
                f"storage must be 'memory', a SQLAlchemy URL or a .db path, got {url!r}: "
                "use sqlite:///tunesmith.db or postgresql://user@host/db"
            )
        url = f"sqlite:///{url}"
    head, _, rest = url.partition("://")
    url = f"{head.lower()}://{rest}"  # a scheme is case-insensitive: SQLite:/// was refused as "did you mean 'sqlite'?"
    scheme = head.lower().split("+", 1)[0]
    if scheme not in storages:
        raise unsupported_scheme(redact_url(url), scheme, storages.names())
    if scheme == "memory":
        return storages.build(scheme)
    return storages.build(scheme, url=url, **({} if create else {"must_exist": True}))
