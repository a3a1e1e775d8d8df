"""Request rows in and out of the database in bulk: no per-row objects on the hot paths.

A record is split on the way in (``models.Request`` says why): the values its run's
records share go to ``request_labels`` once per combination and the row keeps the
combination's number; ``started_at`` becomes integer microseconds; the rates are left out
when ``core.measure.rates`` rebuilds them exactly; chunk times become ``store.codec``
bytes. Reading joins them back, for a whole batch at once, into exactly the record that
was written.

Writes: one list per record straight from the dataclass' attributes (no ``to_dict``, no
per-float cleaning: the measurement validated the floats when it parsed them). SQLite
takes them through one ``executemany`` of positional rows; PostgreSQL through ``COPY``,
binary when every value has the engine's types (or pipelined INSERTs when row-level
security is on: PostgreSQL refuses ``COPY FROM`` into a table with policies).

Reads: the driver's rows go straight into columns (``read_frame``, through the bare
DB-API cursor: SQLAlchemy's row objects cost as much again as the fetch) or into record
dicts (``rows_dicts``, for exports and ``Store.records``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    Integer,
    LargeBinary,
    Select,
    String,
    delete,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.measure import rates
from llmbench_jupyter.core.records import RECORD_FIELDS, RequestRecord
from llmbench_jupyter.store.codec import decode_kinds, decode_many, encode_kinds, encode_many
from llmbench_jupyter.store.models import Request, RequestLabel

if TYPE_CHECKING:
    import pandas as pd

#: Record fields kept once per run and combination, in ``request_labels``.
LABEL_FIELDS: tuple[str, ...] = tuple(
    c.name for c in RequestLabel.__table__.columns if c.name not in ("run_id", "label", "owner")
)
#: Record fields ``core.measure.rates`` derives, in the order it returns them.
RATE_FIELDS = ("tpot_ms", "decode_tps", "total_tps", "prefill_tps")
#: The ``requests`` columns written and read, in table order (``seq`` is the database's).
ROW_COLUMNS: tuple[str, ...] = tuple(c.name for c in Request.__table__.columns if c.name != "seq")
_AT = {name: i for i, name in enumerate(ROW_COLUMNS)}
_LABEL, _RUN, _OWNER = _AT["label"], _AT["run_id"], _AT["owner"]
_CHUNKS, _KINDS = _AT["chunk_times_ms"], _AT["chunk_kinds"]
_US, _TEXT, _DERIVED = _AT["started_us"], _AT["started_at"], _AT["rates_derived"]
_RATES = [_AT[name] for name in RATE_FIELDS]
# the record attribute behind each row column (computed columns take a stand-in, replaced)
_from_record = attrgetter(*(n if n in RECORD_FIELDS else "request_id" for n in ROW_COLUMNS))
#: A record's values that go to ``request_labels``.
label_key = attrgetter(*LABEL_FIELDS)
_rate_inputs = attrgetter("output_tokens", "ttft_ms", "e2e_ms", "input_tokens")
_rates_of = attrgetter(*RATE_FIELDS)
#: Rows per batch when an export streams a run out of the database.
EXPORT_BATCH = 5_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_SQLITE_INSERT = (
    f"INSERT INTO requests ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join('?' * len(ROW_COLUMNS))})"
)

Labels = dict[tuple[Any, ...], int]


# ------------------------------------------------------------------ writes
def record_rows(
    records: Sequence[RequestRecord], labels: Labels
) -> tuple[list[list[Any]], list[tuple[int, tuple[Any, ...]]]]:
    """The ``requests`` rows (``ROW_COLUMNS`` order) of one run's records, and the label
    combinations they use that ``labels`` (the run's ``{values: number}``, updated here)
    did not hold yet, numbered after the highest known one."""
    new: list[tuple[int, tuple[Any, ...]]] = []
    next_label = max(labels.values(), default=-1) + 1
    us, texts = started_us([record.started_at for record in records])
    rows = []
    for record, blob, micros, text in zip(
        records, encode_many([r.chunk_times_ms for r in records]), us, texts, strict=True
    ):
        row = list(_from_record(record))
        key = label_key(record)
        label = labels.get(key)
        if label is None:
            label = labels[key] = next_label
            new.append((label, key))
            next_label += 1
        row[_LABEL] = label
        row[_US], row[_TEXT] = micros, text
        row[_CHUNKS], row[_KINDS] = blob, encode_kinds(record.chunk_kinds)
        derived = rates(*_rate_inputs(record)) == _rates_of(record)
        if derived:
            for i in _RATES:
                row[i] = None
        row[_DERIVED] = derived
        rows.append(row)
    return rows, new


def label_rows(
    run_id: str, owner: str, new: Sequence[tuple[int, tuple[Any, ...]]]
) -> list[dict[str, Any]]:
    """``request_labels`` rows of ``record_rows``' new combinations."""
    return [
        {
            "run_id": run_id,
            "label": label,
            "owner": owner,
            **dict(zip(LABEL_FIELDS, key, strict=True)),
        }
        for label, key in new
    ]


def add_labels(
    conn: Connection, run_id: str, owner: str, new: Sequence[tuple[int, tuple[Any, ...]]]
) -> bool:
    """Insert ``record_rows``' new combinations unless one of their numbers is taken.

    A writer numbers new combinations after the highest one it knows; numbers are dense,
    so if another writer added any since, the first new number is taken. Then nothing of
    this batch is kept (the caller rereads the run's labels, still holding the run's row
    lock, and numbers again), and this returns False. Saves reading the labels on every
    batch of a run this store writes alone.
    """
    rows = label_rows(run_id, owner, new)
    kept = insert_labels(conn, rows)
    if len(kept) == len(rows):
        return True
    drop_labels(conn, run_id, kept)
    return False


def insert_labels(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``label_rows`` whose numbers are free; the numbers inserted."""
    if not rows:
        return []
    insert_fn = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert_fn(RequestLabel).on_conflict_do_nothing().returning(RequestLabel.label)
    return list(conn.execute(stmt, list(rows)).scalars())  # one statement ("insertmanyvalues")


def drop_labels(conn: Connection, run_id: str, numbers: Sequence[int]) -> None:
    """Delete the run's labels ``numbers`` (this transaction's own, when others were taken)."""
    if numbers:
        mine = (RequestLabel.run_id == run_id) & RequestLabel.label.in_(list(numbers))
        conn.execute(delete(RequestLabel).where(mine))


def set_owner(row: list[Any], owner: str) -> None:
    row[_OWNER] = owner


def row_owner(row: Sequence[Any]) -> str:
    return str(row[_OWNER] or "")


def started_us(texts: Sequence[str | None]) -> tuple[list[int | None], list[str | None]]:
    """``started_at`` texts as (microseconds since the epoch, ``None``) where
    ``format_started`` gives the same text back, else (``None``, the text as given)."""
    us: list[int | None] = []
    for text in texts:
        try:
            when = datetime.fromisoformat(text)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            us.append(None)
            continue
        us.append(None if when.tzinfo is None else (when - _EPOCH) // _ONE_US)
    stored: list[int | None] = []
    kept: list[str | None] = []
    for micros, back, text in zip(us, format_started(us), texts, strict=True):
        same = micros is not None and back == text
        stored.append(micros if same else None)
        kept.append(None if same else text)
    return stored, kept


def format_started(us: Sequence[int | None]) -> list[str | None]:
    """Microseconds since the epoch as ISO 8601 UTC text, the engine's own form
    (``2026-01-01T00:00:00.100000+00:00``); one numpy call for a whole batch."""
    import numpy as np

    have = [u for u in us if u is not None]
    if not have:
        return [None] * len(us)
    text = iter(np.datetime_as_string(np.array(have, dtype="datetime64[us]"), unit="us").tolist())
    return [None if u is None else next(text) + "+00:00" for u in us]


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
    cols = ", ".join(ROW_COLUMNS)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        if rls:  # COPY FROM is refused on a table with policies (and hub users may not
            # create temporary tables): psycopg pipelines the INSERTs instead
            marks = ", ".join(["%s"] * len(ROW_COLUMNS))
            cur.executemany(f"INSERT INTO requests ({cols}) VALUES ({marks})", rows)
            return
        binary = _binary_fits(rows)
        with cur.copy(f"COPY requests ({cols}) FROM STDIN{_BINARY if binary else ''}") as copy:
            if binary:
                copy.set_types(_PG_TYPES)
            for row in rows:
                copy.write_row(row)


def _binary_kind(column: Any) -> tuple[str, frozenset[type], int | None]:
    """A column's binary COPY type, the Python types it takes, and its integer bound."""
    kind = column.type
    none: type = type(None)
    if isinstance(kind, BigInteger):
        return "int8", frozenset((int, none)), 2**63
    if isinstance(kind, Integer):
        return "int4", frozenset((int, none)), 2**31
    if isinstance(kind, Float):
        return "float8", frozenset((float, none)), None
    if isinstance(kind, Boolean):
        return "bool", frozenset((bool, none)), None
    if isinstance(kind, LargeBinary):
        return "bytea", frozenset((bytes, none)), None
    assert isinstance(kind, String), kind  # text and varchar have one binary form
    return "text", frozenset((str, none)), None


_BINARY = " (FORMAT BINARY)"
_COPY_KINDS = [_binary_kind(Request.__table__.c[name]) for name in ROW_COLUMNS]
_PG_TYPES = [pg_type for pg_type, _, _ in _COPY_KINDS]


def _binary_fits(rows: list[list[Any]]) -> bool:
    """Whether binary COPY sends every value exactly as text COPY would (it spares
    formatting and parsing every number).

    Binary COPY picks the dumper by column, not by value, and wraps an integer too large
    for its column around instead of refusing it; so it only takes values of the exact
    Python types below, integers within range. Anything else (a float in an integer
    column, a numpy scalar, a bool in a float column) goes as text, as always: the server
    then reads or refuses it as before.
    """
    for values, (_, types, bound) in zip(zip(*rows, strict=True), _COPY_KINDS, strict=True):
        if not types.issuperset(map(type, values)):
            return False
        if bound is not None:
            ints = list(filter(None, values))  # neither None nor 0 (types are checked)
            if ints and (min(ints) < -bound or max(ints) >= bound):
                return False
    return True


# ------------------------------------------------------------------ reads
def records_select(run_ids: Sequence[str], include_warmup: bool) -> Select[Any]:
    stmt = select(*(Request.__table__.c[n] for n in ROW_COLUMNS))
    stmt = stmt.where(Request.run_id.in_(list(run_ids)))
    if not include_warmup:
        stmt = stmt.where(Request.is_warmup.is_(False))
    return stmt.order_by(Request.run_id, Request.send_mono_ns, Request.request_id)


def read_labels(conn: Connection, run_ids: Sequence[str]) -> dict[tuple[str, int], tuple[Any, ...]]:
    """``{(run_id, label): LABEL_FIELDS values}`` of the runs."""
    table = RequestLabel.__table__
    stmt = select(table.c.run_id, table.c.label, *(table.c[n] for n in LABEL_FIELDS))
    out: dict[tuple[str, int], tuple[Any, ...]] = {}
    for i in range(0, len(run_ids), 900):  # SQLite's limit on bound parameters
        part = list(run_ids[i : i + 900])
        for row in conn.execute(stmt.where(table.c.run_id.in_(part))):
            out[(row[0], row[1])] = tuple(row[2:])
    return out


def run_labels(conn: Connection, run_id: str) -> Labels:
    """The run's ``{values: number}``, for ``record_rows``."""
    return {values: key[1] for key, values in read_labels(conn, [run_id]).items()}


def read_frame(conn: Connection, run_ids: Sequence[str], include_warmup: bool) -> pd.DataFrame:
    """The runs' records as a DataFrame with ``RECORD_FIELDS``, each run in send order."""
    labels = read_labels(conn, run_ids)
    raw = conn.connection.driver_connection
    assert raw is not None
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    rows: list[Any] = []
    for i in range(0, len(run_ids), 900):
        part = list(run_ids[i : i + 900])
        sql = (
            f"SELECT {', '.join(ROW_COLUMNS)} FROM requests "
            f"WHERE run_id IN ({', '.join([mark] * len(part))})"
            + ("" if include_warmup else " AND NOT is_warmup")
            + " ORDER BY run_id, send_mono_ns, request_id"
        )
        # psycopg: the binary protocol spares parsing every number from text (-25%)
        cur = raw.cursor(binary=True) if mark == "%s" else raw.cursor()
        try:
            cur.execute(sql, part)
            rows.extend(cur.fetchall())
        finally:
            cur.close()
    return rows_frame(rows, labels)


def iter_dicts(
    conn: Connection, stmt: Select[Any], run_ids: Sequence[str], batch: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``stmt`` (``records_select`` of ``run_ids``) as record dicts, at most
    ``batch`` (default ``EXPORT_BATCH``) at a time, streamed from the server: an export
    holds one batch (a Parquet row group), never the whole run."""
    size = batch or EXPORT_BATCH
    labels = read_labels(conn, run_ids)
    result = conn.execution_options(stream_results=True, yield_per=size).execute(stmt)
    for part in result.partitions(size):
        yield rows_dicts(part, labels)


def _columns(
    rows: Sequence[Any], labels: dict[tuple[str, int], tuple[Any, ...]]
) -> dict[str, list[Any]]:
    """Every record field as a column (list) of the rows: labels joined, started_at,
    rates and chunk times rebuilt."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in ROW_COLUMNS]
    data: dict[str, list[Any]] = {n: list(c) for n, c in zip(ROW_COLUMNS, cols, strict=True)}
    keys = list(zip(data["run_id"], data["label"], strict=True))
    try:
        joined = [labels[key] for key in keys]
    except KeyError as exc:  # a row whose label row this role cannot read, or none
        raise LLMBenchError(
            f"request row of run {exc.args[0][0]!r} has no label {exc.args[0][1]}"
        ) from None
    for name, col in zip(
        LABEL_FIELDS,
        zip(*joined, strict=True) if joined else [() for _ in LABEL_FIELDS],
        strict=True,
    ):
        data[name] = list(col)
    text = format_started(data["started_us"])
    data["started_at"] = [
        t if t is not None else s for t, s in zip(text, data["started_at"], strict=True)
    ]
    inputs = zip(
        data["output_tokens"], data["ttft_ms"], data["e2e_ms"], data["input_tokens"], strict=True
    )
    stored = zip(*(data[n] for n in RATE_FIELDS), strict=True)
    rebuilt = [
        rates(*i) if d else s for i, s, d in zip(inputs, stored, data["rates_derived"], strict=True)
    ]
    for name, col in zip(
        RATE_FIELDS,
        zip(*rebuilt, strict=True) if rebuilt else [() for _ in RATE_FIELDS],
        strict=True,
    ):
        data[name] = list(col)
    data["chunk_times_ms"], data["itl_ms"] = decode_many(data["chunk_times_ms"])
    data["chunk_kinds"] = [decode_kinds(k) for k in data["chunk_kinds"]]
    for name in ("is_warmup", "output_tokens_disagree"):  # SQLite returns 0/1
        data[name] = [bool(v) for v in data[name]]
    return data


def rows_dicts(
    rows: Sequence[Any], labels: dict[tuple[str, int], tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """Record dicts (``RECORD_FIELDS`` order) of ``requests`` rows."""
    with _no_gc():
        data = _columns(rows, labels)
        fields = [data[name] for name in RECORD_FIELDS]
        return [dict(zip(RECORD_FIELDS, v, strict=True)) for v in zip(*fields, strict=True)]


def rows_frame(rows: Sequence[Any], labels: dict[tuple[str, int], tuple[Any, ...]]) -> pd.DataFrame:
    import pandas as pd

    with _no_gc():
        data = _columns(rows, labels)
        return pd.DataFrame(
            {name: data[name] for name in RECORD_FIELDS}, columns=list(RECORD_FIELDS)
        )


@contextmanager
def _no_gc() -> Iterator[None]:
    """The cycle collector paused while a batch's columns are built: they are ~1M new
    objects (the chunk-time lists) without a single cycle, and a kernel that already
    holds many objects otherwise rescans all of them several times (it doubled the time
    of ``records_df`` on a 10k-record run)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
