"""Request rows in and out of the database in bulk: no per-row objects on the hot paths.

Writes: one tuple per record straight from the dataclass' attributes (no ``to_dict``, no
per-float cleaning: the measurement validated the floats when it parsed them), chunk
times encoded by ``store.codec``. SQLite takes them through one ``executemany`` of
positional rows (``Connection.exec_driver_sql``);
PostgreSQL through ``COPY`` (or pipelined INSERTs when row-level security is on: PostgreSQL
refuses ``COPY FROM`` into a table with policies).

Reads: the driver's rows go straight into columns (or record dicts, for exports and
``Store.records``); the chunk times of the whole batch are decoded together and ``itl_ms``
rebuilt from them (it is their gaps by definition).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from llmbench_jupyter.core.records import RECORD_FIELDS, RequestRecord
from llmbench_jupyter.store.codec import (
    decode_kinds,
    decode_many,
    encode_kinds,
    encode_many,
)
from llmbench_jupyter.store.models import Request

if TYPE_CHECKING:
    import pandas as pd

#: Record fields that are columns of ``requests``, in record order. ``itl_ms`` is not
#: stored: it is rebuilt from ``chunk_times_ms`` on read.
STORED_FIELDS: tuple[str, ...] = tuple(f for f in RECORD_FIELDS if f != "itl_ms")
_CHUNKS = STORED_FIELDS.index("chunk_times_ms")
_KINDS = STORED_FIELDS.index("chunk_kinds")
_OWNER = STORED_FIELDS.index("owner")
_get_fields = attrgetter(*STORED_FIELDS)
_COLUMNS = [Request.__table__.c[name] for name in STORED_FIELDS]
#: Rows per batch when an export streams a run out of the database.
EXPORT_BATCH = 5_000
_SQLITE_INSERT = (
    f"INSERT INTO requests ({', '.join(STORED_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(STORED_FIELDS))})"
)


def record_rows(records: Sequence[RequestRecord]) -> list[list[Any]]:
    """The ``requests`` rows of records, in ``STORED_FIELDS`` order (chunk times of the
    whole batch encoded at once)."""
    rows = [list(_get_fields(record)) for record in records]
    for row, blob in zip(rows, encode_many([row[_CHUNKS] for row in rows]), strict=True):
        row[_CHUNKS] = blob
        row[_KINDS] = encode_kinds(row[_KINDS])
    return rows


def set_owner(row: list[Any], owner: str) -> None:
    row[_OWNER] = owner


def row_owner(row: Sequence[Any]) -> str:
    return str(row[_OWNER] or "")


def insert_rows(conn: Connection, rows: list[list[Any]], *, rls: bool) -> None:
    """Insert ``requests`` rows (``record_rows``) in this connection's transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, rows, rls=rls)
    else:  # one executemany of positional rows: no per-row parameter dicts
        conn.exec_driver_sql(_SQLITE_INSERT, [tuple(row) for row in rows])


def _copy_rows(conn: Connection, rows: list[list[Any]], *, rls: bool) -> None:
    import psycopg

    try:
        _copy(conn, rows, rls)
    except psycopg.Error as exc:  # the driver's own error, as SQLAlchemy would raise it
        raise DBAPIError.instance("COPY requests", None, exc, psycopg.Error) from None


def _copy(conn: Connection, rows: list[list[Any]], rls: bool) -> None:
    cols = ", ".join(STORED_FIELDS)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        if rls:  # COPY FROM is refused on a table with policies (and hub users may not
            # create temporary tables): psycopg pipelines the INSERTs instead
            marks = ", ".join(["%s"] * len(STORED_FIELDS))
            cur.executemany(f"INSERT INTO requests ({cols}) VALUES ({marks})", rows)
            return
        with cur.copy(f"COPY requests ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


# ------------------------------------------------------------------ reads
def records_select(run_ids: Sequence[str], include_warmup: bool) -> Select[Any]:
    stmt = select(*_COLUMNS).where(Request.run_id.in_(list(run_ids)))
    if not include_warmup:
        stmt = stmt.where(Request.is_warmup.is_(False))
    return stmt.order_by(Request.run_id, Request.send_mono_ns, Request.request_id)


def read_frame(conn: Connection, stmt: Select[Any]) -> pd.DataFrame:
    """The rows of ``stmt`` (``records_select``) as a DataFrame with ``RECORD_FIELDS``."""
    result = conn.execute(stmt)
    return rows_frame(result.fetchall())


def iter_dicts(
    conn: Connection, stmt: Select[Any], batch: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``stmt`` as record dicts (``rows_dicts``), at most ``batch`` (default
    ``EXPORT_BATCH``) at a time, streamed from the server: an export holds one batch (a
    Parquet row group), never the whole run."""
    size = batch or EXPORT_BATCH
    result = conn.execution_options(stream_results=True, yield_per=size).execute(stmt)
    for part in result.partitions(size):
        yield rows_dicts(part)


def rows_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Record dicts (``RECORD_FIELDS`` order) of ``requests`` rows, chunk times of the
    whole batch decoded at once."""
    times, gaps = decode_many([row[_CHUNKS] for row in rows])
    out = []
    for row, t, g in zip(rows, times, gaps, strict=True):
        values = dict(zip(STORED_FIELDS, row, strict=True))
        values["chunk_times_ms"], values["itl_ms"] = t, g
        values["chunk_kinds"] = decode_kinds(values["chunk_kinds"])
        values["is_warmup"] = bool(values["is_warmup"])
        values["output_tokens_disagree"] = bool(values["output_tokens_disagree"])
        out.append({name: values[name] for name in RECORD_FIELDS})
    return out


def rows_frame(rows: Sequence[Any]) -> pd.DataFrame:
    import pandas as pd

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in STORED_FIELDS]
    data: dict[str, list[Any]] = {
        name: list(col) for name, col in zip(STORED_FIELDS, columns, strict=True)
    }
    data["chunk_times_ms"], data["itl_ms"] = decode_many(data["chunk_times_ms"])
    data["chunk_kinds"] = [decode_kinds(k) for k in data["chunk_kinds"]]
    df = pd.DataFrame({name: data[name] for name in RECORD_FIELDS})
    for name in ("is_warmup", "output_tokens_disagree"):  # SQLite returns 0/1
        df[name] = df[name].astype(bool)
    return df[list(RECORD_FIELDS)]
