"""The statements a batch of one run's records begins with: on PostgreSQL, one round trip.

A batch first adds to its run's counters (the run's row lock orders the run's writers:
label numbers, summary merges), inserts the label combinations (``request_labels``) and
summary rows (``run_summaries``) it is the first to use and, when it adds to summary rows
that exist, reads and locks them. One after another through SQLAlchemy that was four
round trips, two of them multi-row INSERTs whose new SQL text psycopg parsed on every
call: 40% of a 100-record batch's time. On PostgreSQL they now go out together in one
psycopg pipeline, the INSERTs in PostgreSQL's own placeholders (nothing to parse); SQLite,
in-process, has no round trips to save and runs them one by one. The records follow
(``records_io.insert_rows``) once the batch's label numbers are known to be its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from llmbench_jupyter.store import records_io, summaries
from llmbench_jupyter.store.models import RequestLabel, Run, RunSummary


@dataclass
class Opening:
    """What a batch of one run's records begins with."""

    run_id: str
    counts: tuple[int, int] | None  # (requests, errors) to add to the run; None: added already
    labels: list[dict[str, Any]]  # records_io.label_rows
    summaries: list[dict[str, Any]]  # summaries.new_rows
    lock: bool  # also read and lock the run's summary rows (the batch adds to some)


@dataclass
class Opened:
    kept: list[int]  # label numbers inserted (the others were taken by another writer)
    made: set[summaries.GroupKey]  # summary rows inserted (the others existed)
    locked: list[Any] | None  # the run's summary rows, locked, if asked for


def open_batch(conn: Connection, op: Opening) -> Opened:
    """Run ``op``'s statements in this connection's transaction, in this order."""
    if conn.dialect.name == "postgresql":
        return _pipelined(conn, op)
    if op.counts is not None:
        count(conn, op.run_id, *op.counts)
    kept = records_io.insert_labels(conn, op.labels)
    made = summaries.insert_new(conn, op.summaries)
    locked = list(conn.execute(summaries.lock_select(op.run_id)).all()) if op.lock else None
    return Opened(kept, made, locked)


def count(conn: Connection, run_id: str, requests: int, errors: int) -> None:
    """Add to the run's counters, which takes the run's row lock until commit."""
    conn.execute(
        update(Run)
        .where(Run.run_id == run_id)
        .values(n_requests=Run.n_requests + requests, n_errors=Run.n_errors + errors)
    )


# ------------------------------------------------------------------ PostgreSQL
_LABEL_COLS = tuple(c.name for c in RequestLabel.__table__.columns)
_SUMMARY_COLS = tuple(c.name for c in RunSummary.__table__.columns)
_COUNT = "UPDATE runs SET n_requests = n_requests + %s, n_errors = n_errors + %s WHERE run_id = %s"
#: Rows per INSERT statement: PostgreSQL takes at most 65,535 parameters in one.
_CHUNK = 1000
_LOCK = (
    f"SELECT {', '.join(_SUMMARY_COLS)} FROM run_summaries WHERE run_id = %s "
    "ORDER BY provider, model, context_tier FOR UPDATE"
)


@lru_cache(maxsize=128)
def _insert_sql(table: str, cols: tuple[str, ...], returning: str, n: int) -> str:
    """``INSERT`` of ``n`` rows with PostgreSQL's own placeholders (psycopg's ``RawCursor``
    passes the text on as it is: parsing ``%s`` out of it took longer than running it)."""
    k = len(cols)
    marks = ", ".join(
        "(" + ", ".join(f"${i * k + j}" for j in range(1, k + 1)) + ")" for i in range(n)
    )
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES {marks} "
        f"ON CONFLICT DO NOTHING RETURNING {returning}"
    )


def _pipelined(conn: Connection, op: Opening) -> Opened:
    """All of ``op``'s statements sent before any result is awaited."""
    from psycopg.rows import namedtuple_row
    from psycopg.types.json import Json

    raw = conn.connection.driver_connection
    assert raw is not None
    labels = [[row[c] for c in _LABEL_COLS] for row in op.labels]
    # JSON as SQLAlchemy binds it: through Json, with the engine's json_serializer
    summary_rows = [
        [Json(row[c]) if c == "error_categories" else row[c] for c in _SUMMARY_COLS]
        for row in op.summaries
    ]
    lock_cur = raw.cursor(row_factory=namedtuple_row) if op.lock else None
    with _driver_errors("pipeline"), raw.pipeline():
        if op.counts is not None:
            raw.execute(_COUNT, (*op.counts, op.run_id), prepare=True)
        label_curs = _insert(raw, "request_labels", _LABEL_COLS, "label", labels)
        summary_curs = _insert(
            raw, "run_summaries", _SUMMARY_COLS, "provider, model, context_tier", summary_rows
        )
        if lock_cur is not None:
            lock_cur.execute(_LOCK, (op.run_id,), prepare=True)
    kept = [n for cur in label_curs for (n,) in cur.fetchall()]
    made = {(p, m, t) for cur in summary_curs for p, m, t in cur.fetchall()}
    locked = None if lock_cur is None else lock_cur.fetchall()
    return Opened(kept, made, locked)


def _insert(
    raw: Any, table: str, cols: tuple[str, ...], returning: str, rows: list[list[Any]]
) -> list[Any]:
    """Send the multi-row INSERTs of ``rows``; their cursors (a pipeline keeps only a
    cursor's last result, so one each)."""
    from psycopg import RawCursor

    cursors = []
    for i in range(0, len(rows), _CHUNK):
        part = rows[i : i + _CHUNK]
        cur = RawCursor(raw)
        cur.execute(_insert_sql(table, cols, returning, len(part)), [v for r in part for v in r])
        cursors.append(cur)
    return cursors


@contextmanager
def _driver_errors(statement: str) -> Iterator[None]:
    """psycopg's own errors, raised as SQLAlchemy raises them (``Store._tx`` reports those)."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from None
