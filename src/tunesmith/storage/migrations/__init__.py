"""Alembic migrations of the SQL storage's schema, applied by `SQLStorage` when it opens a database.

Revision ``NNNN`` produces schema version ``N`` (recorded in ``tunesmith_meta``); alembic's own
version table is ``tunesmith_alembic_version`` so that a database shared with another alembic
user keeps both histories apart. Each revision describes its tables as they were at that version,
never by importing today's tables, so that old revisions keep meaning what they meant.

To add a revision: copy the newest file in ``versions/``, bump the number, write ``upgrade`` and
``downgrade``, set ``schema_version`` in ``tunesmith_meta`` and bump `SCHEMA_VERSION`; the tests
check that the migrated schema equals the tables `tunesmith.storage._sql_schema` declares.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "revision_of"]

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSION_TABLE = "tunesmith_alembic_version"


def revision_of(schema_version: int) -> str:
    """The alembic revision id that produces ``schema_version``."""
    return f"{schema_version:04d}"
