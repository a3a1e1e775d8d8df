"""Experiments: ``experiments`` (a named set of runs, per owner) and ``experiment_runs``
(its runs, one of them the baseline).

Both have an ``owner`` column, so on a hub ``setup_database`` gives them grants and
row-level security like every owned table; a membership row may only reference its
writer's own experiment and own run, and is never readable through a published run
(``hub._table_access``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", "name", name="pk_experiments"),
    )
    op.create_index("ix_experiments_owner", "experiments", ["owner"])
    op.create_table(
        "experiment_runs",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("experiment", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("baseline", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner", "experiment"], ["experiments.owner", "experiments.name"],
            name="fk_experiment_runs_owner_experiments", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_experiment_runs_run_id_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("owner", "experiment", "run_id", name="pk_experiment_runs"),
    )  # fmt: skip
    op.create_index("ix_experiment_runs_run_id", "experiment_runs", ["run_id"])


def downgrade() -> None:
    op.drop_table("experiment_runs")
    op.drop_table("experiments")
