"""Record exports in CSV, JSON and JSON Lines.

Field names and order are exactly ``RECORD_FIELDS`` in every format (the
predecessor's CSV went empty after a rename); eval runs export their case rows with the
``eval_results`` column names the same way. List and mapping fields become JSON text in
CSV cells; ``None`` is an empty cell. A CSV text cell that a spreadsheet would run as a
formula gets a leading ``'`` (:func:`csv_cell`); JSON and JSON Lines keep every value
exactly. Files are written by :func:`~llmbench_jupyter.core.private_files.write_atomic`:
0600, never through a planted link, and a failed export leaves no truncated file behind.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.private_files import write_atomic
from llmbench_jupyter.core.records import LIST_FIELDS, RECORD_FIELDS

FORMATS = ("csv", "json", "jsonl")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write(
    rows: Sequence[dict[str, Any]],
    path: Path,
    fmt: str,
    fields: Sequence[str] = RECORD_FIELDS,
    json_fields: Iterable[str] = LIST_FIELDS,
) -> int:
    """Write row dicts to ``path`` in ``fmt``; returns the number of rows written.

    ``fields`` name the columns in order; ``json_fields`` are JSON-encoded in CSV cells.
    """
    names, nested = tuple(fields), tuple(json_fields)

    def _csv(rows: Sequence[dict[str, Any]], fh: IO[str]) -> None:
        out = csv.DictWriter(fh, fieldnames=list(names))
        out.writeheader()
        for row in rows:
            cells = {name: csv_cell(row[name]) for name in names}
            for name in nested:  # JSON text: a list, mapping, quoted string or number
                cells[name] = json.dumps(row[name], default=str)
            out.writerow(cells)

    def _json(rows: Sequence[dict[str, Any]], fh: IO[str]) -> None:
        json.dump([{n: r[n] for n in names} for r in rows], fh, ensure_ascii=False, indent=1,
                  default=str)  # fmt: skip
        fh.write("\n")

    def _jsonl(rows: Sequence[dict[str, Any]], fh: IO[str]) -> None:
        for row in rows:
            fh.write(json.dumps({n: row[n] for n in names}, ensure_ascii=False, default=str))
            fh.write("\n")

    writers: dict[str, Callable[[Sequence[dict[str, Any]], IO[str]], None]] = {
        "csv": _csv,
        "json": _json,
        "jsonl": _jsonl,
    }
    writer = writers.get(fmt)
    if writer is None:
        raise LLMBenchError(
            f"export to {str(path)!r}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}"
        )
    newline = "" if fmt == "csv" else None  # the csv module writes its own line ends
    try:
        write_atomic(path, lambda fh: writer(rows, fh), newline=newline)
    except OSError as exc:
        raise LLMBenchError(f"export to {str(path)!r} failed: {exc.strerror or exc}") from None
    return len(rows)


def csv_cell(value: Any) -> Any:
    """The CSV cell for ``value``: text a spreadsheet would run as a formula (it starts
    with ``= + - @``, a tab or a carriage return) gets a leading ``'`` (OWASP's advice on
    CSV injection), even text such as ``"-2"``; numbers (``-1.5``) and other values stay.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
