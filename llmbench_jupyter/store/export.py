"""Record exports in CSV, JSON, JSON Lines and Parquet, written batch by batch.

Field names and order are exactly ``RECORD_FIELDS`` in every format (the
predecessor's CSV went empty after a rename); eval runs export their case rows with the
``eval_results`` column names the same way. List and mapping fields become JSON text in
CSV cells; ``None`` is an empty cell. A CSV text cell that a spreadsheet would run as a
formula gets a leading ``'`` (:func:`csv_cell`); JSON and JSON Lines keep every value
exactly.

Parquet columns take their types from the store's columns of the same name: integers are
int64 (nullable, never float), booleans bool, ``chunk_times_ms`` and ``itl_ms``
``list<double>``, and the JSON columns of eval rows (``score``, ``calls``, ``transcript``,
``final_state``) JSON text, since their shapes vary from row to row. Parquet cells are
data, never formulas, so they are written as stored.

Writers take an iterable of row batches and hold one batch at a time, so a run of
millions of records exports in constant memory (``Store.export`` streams them from the
database): CSV and JSON Lines row by row, JSON as one array written incrementally,
Parquet as one row group per batch. Files are written by
:func:`~llmbench_jupyter.core.private_files.write_atomic`: 0600, never through a planted
link, and a failed export leaves no truncated file behind.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, Integer, String

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.private_files import write_atomic
from llmbench_jupyter.core.records import LIST_FIELDS, RECORD_FIELDS
from llmbench_jupyter.store.models import EvalResult, Request, RequestLabel

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("csv", "json", "jsonl", "parquet")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Row = Mapping[str, Any]
_Writer = Callable[[Iterable[Sequence[Row]], IO[Any], tuple[str, ...], tuple[str, ...]], None]


def write(
    rows: Sequence[Row],
    path: Path,
    fmt: str,
    fields: Sequence[str] = RECORD_FIELDS,
    json_fields: Iterable[str] = LIST_FIELDS,
) -> int:
    """Write row dicts to ``path`` in ``fmt``; returns the number of rows written.

    ``fields`` name the columns in order; ``json_fields`` are JSON-encoded in CSV cells.
    Parquet columns take the types of the store's columns of the same names (see above).
    """
    return write_batches([rows], path, fmt, fields, json_fields)


def write_batches(
    batches: Iterable[Sequence[Row]],
    path: Path,
    fmt: str,
    fields: Sequence[str] = RECORD_FIELDS,
    json_fields: Iterable[str] = LIST_FIELDS,
) -> int:
    """:func:`write` for rows that come in batches, holding one batch at a time.

    ``batches`` is consumed only once the format is known to be valid, so a bad format
    reads nothing from the database.
    """
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise LLMBenchError(
            f"export to {str(path)!r}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}"
        )
    names, nested = tuple(fields), tuple(json_fields)
    count = 0

    def counted() -> Iterator[Sequence[Row]]:
        nonlocal count
        for rows in batches:
            count += len(rows)
            yield rows

    newline = "" if fmt == "csv" else None  # the csv module writes its own line ends
    try:
        write_atomic(
            path,
            lambda fh: writer(counted(), fh, names, nested),
            binary=fmt == "parquet",
            newline=newline,
        )
    except OSError as exc:
        raise LLMBenchError(f"export to {str(path)!r} failed: {exc.strerror or exc}") from None
    return count


def csv_cell(value: Any) -> Any:
    """The CSV cell for ``value``: text a spreadsheet would run as a formula (it starts
    with ``= + - @``, a tab or a carriage return) gets a leading ``'`` (OWASP's advice on
    CSV injection), even text such as ``"-2"``; numbers (``-1.5``) and other values stay.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv(
    batches: Iterable[Sequence[Row]], fh: IO[str], names: tuple[str, ...], nested: tuple[str, ...]
) -> None:
    out = csv.DictWriter(fh, fieldnames=list(names))
    out.writeheader()
    for rows in batches:
        for row in rows:
            cells = {name: csv_cell(row[name]) for name in names}
            for name in nested:  # JSON text: a list, mapping, quoted string or number
                cells[name] = json.dumps(row[name], default=str)
            out.writerow(cells)


def _json(
    batches: Iterable[Sequence[Row]], fh: IO[str], names: tuple[str, ...], nested: tuple[str, ...]
) -> None:
    """Byte for byte ``json.dump(all_rows, fh, indent=1)``, one row at a time: each row is
    dumped alone and indented one more level (JSON text has raw newlines only between
    tokens, never inside strings, so indenting after every newline is exact)."""
    fh.write("[")
    sep = "\n "
    for rows in batches:
        for row in rows:
            record = {n: row[n] for n in names}
            text = json.dumps(record, ensure_ascii=False, indent=1, default=str)
            fh.write(sep + text.replace("\n", "\n "))
            sep = ",\n "
    fh.write("]\n" if sep == "\n " else "\n]\n")


def _jsonl(
    batches: Iterable[Sequence[Row]], fh: IO[str], names: tuple[str, ...], nested: tuple[str, ...]
) -> None:
    for rows in batches:
        for row in rows:
            fh.write(json.dumps({n: row[n] for n in names}, ensure_ascii=False, default=str))
            fh.write("\n")


def _parquet(
    batches: Iterable[Sequence[Row]], fh: IO[bytes], names: tuple[str, ...], nested: tuple[str, ...]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(name, _arrow_type(name)) for name in names])
    as_json = {name for name in names if _is_json(name)}
    with pq.ParquetWriter(fh, schema) as out:
        for rows in batches:
            if not rows:
                continue
            columns = {name: [r[name] for r in rows] for name in names}
            for name in as_json:
                columns[name] = [_json_text(v) for v in columns[name]]
            out.write_table(pa.Table.from_pydict(columns, schema=schema), len(rows))


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


@cache
def _store_columns() -> dict[str, Any]:
    """The store's column types by name: record fields (``requests`` and
    ``request_labels`` columns) and ``eval_results`` columns."""
    kinds: dict[str, Any] = {}
    for table in (Request, RequestLabel, EvalResult):
        for column in table.__table__.columns:
            if table is not EvalResult and column.name not in RECORD_FIELDS:
                continue
            kind = kinds.setdefault(column.name, column.type)
            assert type(kind) is type(column.type), f"{column.name}: two types in the store"
    return kinds


def _is_json(name: str) -> bool:
    return isinstance(_store_columns().get(name), JSON)


def _arrow_type(name: str) -> pa.DataType:
    """The Parquet column type of the store column ``name``."""
    import pyarrow as pa

    if name in LIST_FIELDS:  # stored as compact bytes, exported as the decoded times
        return pa.list_(pa.float64())
    kind = _store_columns().get(name)
    if kind is None:
        raise LLMBenchError(f"Parquet export: {name!r} is not a column of the store")
    for sql, arrow in (
        (Boolean, pa.bool_()),
        (Integer, pa.int64()),
        (Float, pa.float64()),
        (JSON, pa.string()),  # JSON text
        (String, pa.string()),
    ):
        if isinstance(kind, sql):
            return arrow
    raise LLMBenchError(f"Parquet export: no Parquet type for column {name!r} ({kind})")


_WRITERS: dict[str, _Writer] = {"csv": _csv, "json": _json, "jsonl": _jsonl, "parquet": _parquet}
