"""Initial schema: runs and per-request records.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("config_snapshot", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("host", sa.JSON(), nullable=False),
        sa.Column("overhead", sa.JSON(), nullable=True),
        sa.Column("n_requests", sa.Integer(), nullable=False),
        sa.Column("n_errors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_owner", "runs", ["owner"])
    op.create_index("ix_runs_created_at", "runs", ["created_at"])

    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("api_model", sa.String(), nullable=False),
        sa.Column("transport", sa.String(), nullable=False),
        sa.Column("response_id", sa.String(), nullable=True),
        sa.Column("context_tier", sa.Integer(), nullable=False),
        sa.Column("run_index", sa.Integer(), nullable=False),
        sa.Column("is_warmup", sa.Boolean(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("rate_rps", sa.Float(), nullable=True),
        sa.Column("scheduled_ms", sa.Float(), nullable=True),
        sa.Column("send_lag_ms", sa.Float(), nullable=False),
        sa.Column("time_origin", sa.String(), nullable=False),
        sa.Column("started_at", sa.String(), nullable=False),
        sa.Column("send_mono_ns", sa.BigInteger(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("ttfat_ms", sa.Float(), nullable=True),
        sa.Column("e2e_ms", sa.Float(), nullable=True),
        sa.Column("tpot_ms", sa.Float(), nullable=True),
        sa.Column("chunk_times_ms", sa.JSON(), nullable=False),
        sa.Column("chunk_kinds", sa.Text(), nullable=False),
        sa.Column("itl_ms", sa.JSON(), nullable=False),
        sa.Column("n_chunks", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens_source", sa.String(), nullable=True),
        sa.Column("output_tokens_usage", sa.Integer(), nullable=True),
        sa.Column("output_tokens_tokenizer", sa.Integer(), nullable=True),
        sa.Column("output_tokens_chunks", sa.Integer(), nullable=True),
        sa.Column("output_tokens_disagree", sa.Boolean(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("input_tokens_source", sa.String(), nullable=True),
        sa.Column("padding_tokens", sa.Integer(), nullable=True),
        sa.Column("tokenizer", sa.String(), nullable=True),
        sa.Column("decode_tps", sa.Float(), nullable=True),
        sa.Column("total_tps", sa.Float(), nullable=True),
        sa.Column("prefill_tps", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_source", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_category", sa.String(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("finish_reason", sa.String(), nullable=True),
        sa.Column("output_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.run_id"],
            name="fk_requests_run_id_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", name="pk_requests"),
    )
    op.create_index("ix_requests_owner", "requests", ["owner"])
    op.create_index("ix_requests_run_id", "requests", ["run_id"])


def downgrade() -> None:
    op.drop_table("requests")
    op.drop_table("runs")
