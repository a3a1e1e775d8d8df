"""Tuning: ``tune_studies`` (one parameter or prompt search), ``tune_trials`` (its trials)
and ``model_profiles`` (the best parameters and system prompt for a model, saved by name).

All three tables have an ``owner`` column, so on a hub ``setup_database`` (which applies
every migration) gives them the same grants and row-level security as every other owned
table; a trial may only hang off its writer's own study (``hub._table_access``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tune_studies",
        sa.Column("study_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("suite", sa.String(), nullable=True),
        sa.Column("directions", sa.JSON(), nullable=False),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("spent", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("study_id", name="pk_tune_studies"),
    )
    op.create_index("ix_tune_studies_owner", "tune_studies", ["owner"])
    op.create_index("ix_tune_studies_created_at", "tune_studies", ["created_at"])
    op.create_index("ix_tune_studies_owner_name", "tune_studies", ["owner", "name"])
    op.create_table(
        "tune_trials",
        sa.Column("study_id", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("distributions", sa.JSON(), nullable=False),
        sa.Column("system_attrs", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("case_scores", sa.JSON(), nullable=False),
        sa.Column("intermediate", sa.JSON(), nullable=False),
        sa.Column("planned_requests", sa.Integer(), nullable=False),
        sa.Column("n_requests", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("prompt_parent", sa.Integer(), nullable=True),
        sa.Column("prompt_origin", sa.String(), nullable=True),
        sa.Column("resolved", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["tune_studies.study_id"],
            name="fk_tune_trials_study_id_tune_studies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study_id", "number", name="pk_tune_trials"),
    )
    op.create_table(
        "model_profiles",
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", "name", name="pk_model_profiles"),
    )
    op.create_index("ix_model_profiles_owner", "model_profiles", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_model_profiles_owner", table_name="model_profiles")
    op.drop_table("model_profiles")
    op.drop_table("tune_trials")
    op.drop_index("ix_tune_studies_owner_name", table_name="tune_studies")
    op.drop_index("ix_tune_studies_created_at", table_name="tune_studies")
    op.drop_index("ix_tune_studies_owner", table_name="tune_studies")
    op.drop_table("tune_studies")
