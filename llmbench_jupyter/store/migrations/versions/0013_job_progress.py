"""Jobs mirror their progress and take cancel requests through the store: ``jobs`` gains
``done``, ``total``, ``progress_at`` and ``cancel_requested_at``.

A job's own process writes its progress about twice a second and polls for a cancel
request, so another process of its owner (the JupyterLab panel's server extension, a
second kernel) can show and stop it. Existing rows keep NULLs: unknown progress, no request.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("done", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("total", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("progress_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for column in ("cancel_requested_at", "progress_at", "total", "done"):
            batch.drop_column(column)
