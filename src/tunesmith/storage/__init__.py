"""Storage backends: in-memory and SQL (SQLite, PostgreSQL)."""

from tunesmith.storage.base import Proposal, Storage, StudyInfo
from tunesmith.storage.memory import MemoryStorage
from tunesmith.storage.sql import (
    SQLStorage,
    open_storage,
    read_storage_file,
    redact_url,
    storage_url_from_environment,
)

__all__ = [
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
