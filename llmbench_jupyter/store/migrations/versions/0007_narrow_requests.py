"""Narrow request rows: ~650 bytes a record down to ~450 (``models.Request`` says how).

- ``request_labels``: what a run's records share (target, tier, outcome labels), once per
  combination; a request row keeps the combination's number;
- ``requests`` is rebuilt: ``seq`` (insertion order) is the key instead of the text
  ``request_id`` (an index of ~45 bytes a record that no query used), ``started_at``
  becomes integer microseconds, rates that ``core.measure.rates`` rebuilds exactly are
  not stored, and the columns run from wide to narrow (no alignment padding).

Every old row is read back as the record it was and written through the package's own
``records_io``, run by run in send order, so an upgraded store holds exactly the rows a
new one would have written. Summaries do not change (the records do not).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 5000
#: The 0006 ``requests`` columns (every record field but ``itl_ms``), as they were.
_OLD = (
    "request_id", "run_id", "owner", "provider", "model", "api_model", "transport",
    "response_id", "context_tier", "run_index", "is_warmup", "concurrency", "rate_rps",
    "scheduled_ms", "send_lag_ms", "time_origin", "started_at", "send_mono_ns", "ttft_ms",
    "ttfat_ms", "e2e_ms", "tpot_ms", "chunk_times_ms", "chunk_kinds", "n_chunks",
    "output_tokens", "output_tokens_source", "output_tokens_usage", "output_tokens_tokenizer",
    "output_tokens_chunks", "output_tokens_disagree", "reasoning_tokens", "input_tokens",
    "input_tokens_source", "padding_tokens", "tokenizer", "decode_tps", "total_tps",
    "prefill_tps", "cost_usd", "cost_source", "status", "error_category", "error_message",
    "http_status", "finish_reason", "output_text",
)  # fmt: skip


def _new_tables() -> None:
    op.create_table(
        "request_labels",
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("label", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("api_model", sa.String(), nullable=False),
        sa.Column("transport", sa.String(), nullable=False),
        sa.Column("context_tier", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("rate_rps", sa.Float(), nullable=True),
        sa.Column("time_origin", sa.String(), nullable=False),
        sa.Column("tokenizer", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_category", sa.String(), nullable=True),
        sa.Column("finish_reason", sa.String(), nullable=True),
        sa.Column("output_tokens_source", sa.String(), nullable=True),
        sa.Column("input_tokens_source", sa.String(), nullable=True),
        sa.Column("cost_source", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_request_labels_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "label", name="pk_request_labels"),
    )
    op.create_table(
        "requests",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(),
            nullable=False,
        ),
        sa.Column("send_mono_ns", sa.BigInteger(), nullable=False),
        sa.Column("started_us", sa.BigInteger(), nullable=True),
        sa.Column("scheduled_ms", sa.Float(), nullable=True),
        sa.Column("send_lag_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("ttfat_ms", sa.Float(), nullable=True),
        sa.Column("e2e_ms", sa.Float(), nullable=True),
        sa.Column("tpot_ms", sa.Float(), nullable=True),
        sa.Column("decode_tps", sa.Float(), nullable=True),
        sa.Column("total_tps", sa.Float(), nullable=True),
        sa.Column("prefill_tps", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("run_index", sa.Integer(), nullable=False),
        sa.Column("n_chunks", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens_usage", sa.Integer(), nullable=True),
        sa.Column("output_tokens_tokenizer", sa.Integer(), nullable=True),
        sa.Column("output_tokens_chunks", sa.Integer(), nullable=True),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("padding_tokens", sa.Integer(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("is_warmup", sa.Boolean(), nullable=False),
        sa.Column("output_tokens_disagree", sa.Boolean(), nullable=False),
        sa.Column("rates_derived", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("response_id", sa.String(), nullable=True),
        sa.Column("started_at", sa.String(), nullable=True),
        sa.Column("chunk_times_ms", sa.LargeBinary(), nullable=False),
        sa.Column("chunk_kinds", sa.Text(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("output_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_requests_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_requests"),
    )
    op.create_index("ix_requests_run_id", "requests", ["run_id"])


def _set_aside(conn: sa.Connection, name: str) -> None:
    """Rename ``requests`` to ``name``, freeing its index and key names for the new table."""
    op.drop_index("ix_requests_run_id", table_name="requests")
    op.rename_table("requests", name)
    if conn.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {name} DROP CONSTRAINT pk_requests")
        op.execute(f"ALTER TABLE {name} DROP CONSTRAINT fk_requests_run_id_runs")


def upgrade() -> None:
    conn = op.get_bind()
    _set_aside(conn, "requests_0006")
    _new_tables()
    _copy_rows(conn)
    op.drop_table("requests_0006")


def _copy_rows(conn: sa.Connection) -> None:
    from llmbench_jupyter.core.records import RequestRecord
    from llmbench_jupyter.store import records_io
    from llmbench_jupyter.store.codec import decode_kinds, times_and_gaps
    from llmbench_jupyter.store.models import RequestLabel

    old = sa.table("requests_0006", *map(sa.column, _OLD))
    runs = sa.table("runs", sa.column("run_id"), sa.column("owner"), sa.column("created_at"))
    order = (runs.c.created_at, runs.c.run_id)
    for run_id, owner in conn.execute(sa.select(runs.c.run_id, runs.c.owner).order_by(*order)):
        ids = list(
            conn.execute(  # the run's ids in send order: its rows are written together
                sa.select(old.c.request_id)
                .where(old.c.run_id == run_id)
                .order_by(old.c.send_mono_ns, old.c.request_id)
            ).scalars()
        )
        labels: records_io.Labels = {}
        for i in range(0, len(ids), _BATCH):
            page = ids[i : i + _BATCH]
            rows = conn.execute(
                sa.select(*(old.c[n] for n in _OLD))
                .where(old.c.request_id.in_(page))
                .order_by(old.c.send_mono_ns, old.c.request_id)
            ).all()
            records = []
            for row in rows:
                values = dict(zip(_OLD, row, strict=True))
                values["chunk_times_ms"], values["itl_ms"] = times_and_gaps(
                    values["chunk_times_ms"]
                )
                values["chunk_kinds"] = decode_kinds(values["chunk_kinds"])
                values["is_warmup"] = bool(values["is_warmup"])
                values["output_tokens_disagree"] = bool(values["output_tokens_disagree"])
                values["owner"] = owner
                records.append(RequestRecord(**values))
            new_rows, new = records_io.record_rows(records, labels)
            if new:
                conn.execute(sa.insert(RequestLabel), records_io.label_rows(run_id, owner, new))
            records_io.insert_rows(conn, new_rows, rls=False)


def downgrade() -> None:
    """Back to 0006's wide rows, each record read through ``records_io`` as it was."""
    from llmbench_jupyter.store import records_io
    from llmbench_jupyter.store.codec import encode_kinds, encode_times

    conn = op.get_bind()
    _set_aside(conn, "requests_0007")
    wide: dict[str, sa.types.TypeEngine[Any]] = {
        "chunk_times_ms": sa.LargeBinary(),
        "chunk_kinds": sa.Text(),
        "output_text": sa.Text(),
        "error_message": sa.Text(),
        "is_warmup": sa.Boolean(),
        "output_tokens_disagree": sa.Boolean(),
        "send_mono_ns": sa.BigInteger(),
    }
    ints = {"context_tier", "run_index", "concurrency", "n_chunks", "http_status",
            "output_tokens", "output_tokens_usage", "output_tokens_tokenizer",
            "output_tokens_chunks", "reasoning_tokens", "input_tokens",
            "padding_tokens"}  # fmt: skip
    floats = {"rate_rps", "scheduled_ms", "send_lag_ms", "ttft_ms", "ttfat_ms", "e2e_ms",
              "tpot_ms", "decode_tps", "total_tps", "prefill_tps", "cost_usd"}  # fmt: skip
    nullable = {"response_id", "rate_rps", "scheduled_ms", "error_category", "error_message",
                "http_status", "finish_reason", "output_text", "tokenizer",
                "cost_source"}  # fmt: skip
    nullable |= {n for n in _OLD if n.endswith(("_ms", "_tps", "_usd", "_source")) or "tokens" in n}
    nullable -= {"send_lag_ms", "chunk_times_ms", "output_tokens_disagree"}
    columns: list[sa.Column[Any]] = []
    for name in _OLD:
        kind: sa.types.TypeEngine[Any] = wide.get(name) or (
            sa.Integer() if name in ints else sa.Float() if name in floats else sa.String()
        )
        if name in ("request_id", "run_id"):
            kind = sa.String(64)
        columns.append(sa.Column(name, kind, nullable=name in nullable))
    table = op.create_table(
        "requests",
        *columns,
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_requests_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("request_id", name="pk_requests"),
    )
    op.create_index("ix_requests_run_id", "requests", ["run_id"])
    new = sa.table("requests_0007", *map(sa.column, ("seq", *records_io.ROW_COLUMNS)))
    run_ids = conn.execute(sa.select(new.c.run_id).distinct()).scalars().all()
    for run_id in run_ids:
        labels = records_io.read_labels(conn, [run_id])
        rows = conn.execute(
            sa.select(*(new.c[n] for n in records_io.ROW_COLUMNS))
            .where(new.c.run_id == run_id)
            .order_by(new.c.seq)
        ).all()
        for i in range(0, len(rows), _BATCH):
            dicts = records_io.rows_dicts(rows[i : i + _BATCH], labels)
            for d in dicts:
                d["chunk_times_ms"] = encode_times(d["chunk_times_ms"])
                d["chunk_kinds"] = encode_kinds(d["chunk_kinds"])
                del d["itl_ms"]
            conn.execute(sa.insert(table), dicts)
    op.drop_table("requests_0007")
    op.drop_table("request_labels")
