"""Schema version 4: ``studies.trials_revision``, bumped whenever a finished trial's row changes.

Finished trial records are cached by every `SQLStorage` (a 10,000-trial study is read once), but a
finished trial can still change: `Study.retry_failed` marks a FAILED trial for a retry. Each such
change bumps the study's revision under the study lock, so that a storage in another process sees
the number move and drops its cache of that study instead of keeping the stale record.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

_meta = sa.table("tunesmith_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.add_column(sa.Column("trials_revision", sa.Integer, nullable=False, server_default="0"))
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value="4"))


def downgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.drop_column("trials_revision")
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value="3"))
