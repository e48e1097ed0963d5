"""A `Study` is a handle on its storage: how it shows itself, and why it is not pickled.

Everything a study knows lives in its storage; the object holds an open connection, a lock and a
heartbeat thread, none of which can travel to another process. Pickling one (a process pool's
argument, ``multiprocessing``, ``joblib``) raises `StudyNotPicklable`, which says to pass the name
and the storage URL instead and to reopen the study there with `Study.load`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from tunesmith.errors import TunesmithError

if TYPE_CHECKING:
    from tunesmith.storage import Storage

__all__ = ["StorageHandle", "StudyNotPicklable"]


class StudyNotPicklable(TunesmithError, TypeError):
    """A `Study` was pickled (or deep-copied); a `TypeError` too, which is what pickle raises for an object it
    cannot copy. The message says how to open the same study in the other process."""


class StorageHandle:
    """`Study`'s face as a handle on storage (a base of `Study` only): its repr names the study and the storage,
    and pickling it raises `StudyNotPicklable`. A subclass sets ``name`` and ``_storage``."""

    name: str
    _storage: Storage

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, storage={self._storage.url!r})"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise StudyNotPicklable(not_picklable(self.name, self._storage.url))


def not_picklable(name: str, url: str) -> str:
    """`StudyNotPicklable`'s message for study ``name`` in the storage at ``url``."""
    said = (
        f"a Study cannot be pickled or copied, got study {name!r} in storage {url!r}: a Study is a handle on its "
        "storage (an open connection, a lock, a heartbeat thread), and its trials live in the storage, not in the "
        "object; "
    )
    if url == "memory":
        return said + (
            "this one's storage is 'memory', which only this process can see: create the study with "
            "storage='sqlite:///study.db' (or a PostgreSQL URL), pass its name and that URL to the other process, "
            "and open it there with ts.Study.load(name, storage=url)"
        )
    return said + (
        f"pass its name and storage URL to the other process and open it there with ts.Study.load({name!r}, "
        f"storage={url!r})"
    )
