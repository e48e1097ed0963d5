"""Schema version 2: ``trials.retry_of``, the trial a re-queued trial repeats, unique per study.

A trial lost with its worker is re-queued at most once; the unique index makes the database
refuse a second retry of the same trial even if two workers ever raced past the study lock.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

_meta = sa.table("tunesmith_meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("retry_of", sa.Integer, nullable=True))
    op.create_index("uq_trials_study_retry_of", "trials", ["study_id", "retry_of"], unique=True)
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value="2"))


def downgrade() -> None:
    op.drop_index("uq_trials_study_retry_of", table_name="trials")
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("retry_of")
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value="1"))
