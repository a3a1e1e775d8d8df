"""A store at scale: per-run summaries, chunk times as bytes, ``itl_ms`` derived on read.

- ``run_summaries``: one row per (run, provider, model, context tier) with counts, cost
  sums and quantile sketches, backfilled here from every stored benchmark record;
- ``requests.chunk_times_ms``: JSON text becomes ``store.codec`` bytes (microseconds);
- ``requests.chunk_kinds``: run-length coded (``store.codec.encode_kinds``);
- ``requests.itl_ms`` is dropped: it is the gaps between the chunk times by definition;
- the index on ``requests.owner`` is dropped: no query used it.

Conversion and backfill use the package's own codec and summary code, so the rows an
upgraded store holds are exactly the rows a new store would have written.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "run_summaries",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("context_tier", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("error_categories", sa.JSON(), nullable=False),
        sa.Column("total_cost_usd", sa.Float(), nullable=True),
        sa.Column("priced_cost_usd", sa.Float(), nullable=False),
        sa.Column("priced_output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("ttft_ms_sketch", sa.LargeBinary(), nullable=True),
        sa.Column("e2e_ms_sketch", sa.LargeBinary(), nullable=True),
        sa.Column("tpot_ms_sketch", sa.LargeBinary(), nullable=True),
        sa.Column("decode_tps_sketch", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_run_summaries_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "provider", "model", "context_tier", name="pk_run_summaries"
        ),
    )
    op.create_index("ix_run_summaries_owner", "run_summaries", ["owner"])
    _encode_chunk_times()
    _backfill_summaries()


def _encode_chunk_times() -> None:
    from llmbench_jupyter.store.codec import encode_kinds, encode_times

    op.drop_index("ix_requests_owner", table_name="requests")
    op.add_column("requests", sa.Column("chunk_times_bin", sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    requests = sa.table(
        "requests",
        sa.column("request_id", sa.String()),
        sa.column("chunk_times_ms", sa.JSON()),
        sa.column("chunk_times_bin", sa.LargeBinary()),
        sa.column("chunk_kinds", sa.Text()),
    )
    last = ""
    while True:  # keyset pages over the primary key: linear however big the table
        rows = conn.execute(
            sa.select(requests.c.request_id, requests.c.chunk_times_ms, requests.c.chunk_kinds)
            .where(requests.c.request_id > last)
            .order_by(requests.c.request_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            requests.update()
            .where(requests.c.request_id == sa.bindparam("rid"))
            .values(chunk_times_bin=sa.bindparam("blob"), chunk_kinds=sa.bindparam("kinds")),
            [
                {"rid": rid, "blob": encode_times(_times(raw)), "kinds": encode_kinds(kinds)}
                for rid, raw, kinds in rows
            ],
        )
        last = rows[-1][0]
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("itl_ms")
        batch.drop_column("chunk_times_ms")
        batch.alter_column(
            "chunk_times_bin",
            new_column_name="chunk_times_ms",
            existing_type=sa.LargeBinary(),
            nullable=False,
        )


def _times(raw: Any) -> list[float]:
    if isinstance(raw, str):  # a JSON column read without its type (some SQLite rows)
        raw = json.loads(raw)
    return [float(t) for t in (raw or []) if t is not None]


def _backfill_summaries() -> None:
    from llmbench_jupyter.store.summaries import INPUT_FIELDS, fold, partials

    conn = op.get_bind()
    runs = sa.table("runs", sa.column("run_id"), sa.column("owner"), sa.column("kind"))
    requests = sa.table("requests", sa.column("run_id"), *map(sa.column, INPUT_FIELDS))
    is_bench = sa.func.coalesce(runs.c.kind, "bench") == "bench"
    bench = conn.execute(sa.select(runs.c.run_id, runs.c.owner).where(is_bench)).all()
    for run_id, owner in bench:
        rows = conn.execute(  # rows read by attribute; SQLite's 0/1 is_warmup tests alike
            sa.select(*(requests.c[name] for name in INPUT_FIELDS)).where(
                requests.c.run_id == run_id
            )
        ).all()
        fold(conn, run_id, owner, partials(rows))


def downgrade() -> None:
    from llmbench_jupyter.store.codec import decode_kinds, times_and_gaps

    op.drop_index("ix_run_summaries_owner", table_name="run_summaries")
    op.create_index("ix_requests_owner", "requests", ["owner"])
    op.drop_table("run_summaries")
    with op.batch_alter_table("requests") as batch:
        batch.alter_column("chunk_times_ms", new_column_name="chunk_times_bin")
        batch.add_column(sa.Column("chunk_times_ms", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("itl_ms", sa.JSON(), nullable=True))
    conn = op.get_bind()
    requests = sa.table(
        "requests",
        sa.column("request_id", sa.String()),
        sa.column("chunk_times_bin", sa.LargeBinary()),
        sa.column("chunk_times_ms", sa.JSON()),
        sa.column("itl_ms", sa.JSON()),
        sa.column("chunk_kinds", sa.Text()),
    )
    rows = conn.execute(
        sa.select(requests.c.request_id, requests.c.chunk_times_bin, requests.c.chunk_kinds)
    ).all()
    updates = []
    for rid, blob, kinds in rows:
        times, gaps = times_and_gaps(blob)
        updates.append({"rid": rid, "t": times, "g": gaps, "k": decode_kinds(kinds)})
    if updates:
        conn.execute(
            requests.update()
            .where(requests.c.request_id == sa.bindparam("rid"))
            .values(
                chunk_times_ms=sa.bindparam("t", type_=sa.JSON()),
                itl_ms=sa.bindparam("g", type_=sa.JSON()),
                chunk_kinds=sa.bindparam("k"),
            ),
            updates,
        )
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("chunk_times_bin")
        batch.alter_column("chunk_times_ms", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("itl_ms", existing_type=sa.JSON(), nullable=False)
