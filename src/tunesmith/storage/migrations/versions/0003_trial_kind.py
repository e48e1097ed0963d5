"""Schema version 3: ``trials.kind``, why a trial stopped or failed as a typed value (`TrialKind`).

Until version 2 only the free-text ``reason`` said why; code must not read free text, so the
kind gets its own column. Existing rows are backfilled from their reason: this is the one place
that reads reason strings, and it reads the texts tunesmith wrote up to version 2. The values are
spelled out here rather than imported, so that this revision keeps meaning what it meant.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels = None
depends_on = None

_meta = sa.table("tunesmith_meta", sa.column("key", sa.String), sa.column("value", sa.Text))
_trials = sa.table(
    "trials",
    sa.column("id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("reason", sa.Text),
    sa.column("kind", sa.String),
)

# (pattern on the whole reason, kind), first match wins. The texts are those tunesmith up to
# schema version 2 wrote: the study's judging, lost-worker reaping, the executors and the schedulers.
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), kind)
    for pattern, kind in (
        (r"interrupted", "interrupted"),
        (r"lost worker", "lost_worker"),
        (r"diverged.*", "diverged"),
        (r"timed out", "timeout"),
        (r"out of memory", "out_of_memory"),
        (r"killed by .*|trial process (vanished|exited with code .*)", "crash"),
        (r"exception.*|error", "exception"),
        (r"bad result: .*|result not serialisable", "bad_result"),
        (r"guardrail breached: .*", "guardrail"),
        (r"guardrail metric .* missing from the result|.* is None", "missing_metric"),
        (r".* is (nan|inf|-inf)", "non_finite"),
        (r"(trial|wall-time|resource) budget spent.*|not promoted before the trial budget ran out", "budget"),
        (r"(stop|pause) by .*|not in the top .*|not promoted|stopped", "scheduler"),
    )
)

# What an unrecognised (or missing) reason means in each state that has a kind.
_FALLBACK = {"failed": "exception", "stopped": "scheduler", "infeasible": "guardrail"}


def kind_of(state: str, reason: str | None) -> str | None:
    """The kind a version-2 row gets: ``None`` for COMPLETE, RUNNING and PAUSED trials."""
    if state not in _FALLBACK:
        return None
    for pattern, kind in _REASONS:
        if reason is not None and pattern.fullmatch(reason):
            return kind
    return _FALLBACK[state]


def upgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_trials.c.id, _trials.c.state, _trials.c.reason).where(_trials.c.state.in_(sorted(_FALLBACK)))
    ).all()
    ids_by_kind: dict[str, list[int]] = {}
    for row in rows:
        kind = kind_of(row.state, row.reason)
        if kind is not None:
            ids_by_kind.setdefault(kind, []).append(row.id)
    for kind, ids in sorted(ids_by_kind.items()):
        for start in range(0, len(ids), 5000):
            bind.execute(_trials.update().where(_trials.c.id.in_(ids[start : start + 5000])).values(kind=kind))
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value="3"))


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("kind")
    op.execute(_meta.update().where(_meta.c.key == "schema_version").values(value="2"))
