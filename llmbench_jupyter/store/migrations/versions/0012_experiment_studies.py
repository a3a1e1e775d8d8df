"""Experiments hold tuning searches too: ``experiment_studies`` (owner, experiment, study).

It has an ``owner`` column and foreign keys to two owned tables (``experiments``,
``tune_studies``), so on a hub ``setup_database`` gives it row-level security under which
a row may only link its writer's own experiment and own search.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_studies",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("experiment", sa.String(), nullable=False),
        sa.Column("study_id", sa.String(64), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner", "experiment"], ["experiments.owner", "experiments.name"],
            name="fk_experiment_studies_owner_experiments", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["tune_studies.study_id"],
            name="fk_experiment_studies_study_id_tune_studies", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner", "experiment", "study_id",
                                name="pk_experiment_studies"),
    )  # fmt: skip
    op.create_index("ix_experiment_studies_study_id", "experiment_studies", ["study_id"])


def downgrade() -> None:
    op.drop_table("experiment_studies")
