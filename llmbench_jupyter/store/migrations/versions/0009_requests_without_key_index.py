"""PostgreSQL: ``requests`` keeps no index on ``seq``.

``seq`` orders a table's rows and nothing looks a request up by it: reads go through
``ix_requests_run_id`` (a run's rows), deletes cascade from ``runs``. On PostgreSQL the
primary key's unique index cost ~25 bytes a record, 5 % of the store, and one more index
to maintain on every ``COPY``; the column and its identity default stay. SQLite is not
changed: its ``seq`` is the rowid itself, with no index of its own.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE requests DROP CONSTRAINT pk_requests")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE requests ADD CONSTRAINT pk_requests PRIMARY KEY (seq)")
