"""Record exports in CSV, JSON and JSON Lines.

Field names and order are exactly ``RECORD_FIELDS`` in every format (the
predecessor's CSV went empty after a rename); eval runs export their case rows with the
``eval_results`` column names the same way. List and mapping fields become JSON text in
CSV cells; ``None`` is an empty cell. Files are written to a temporary name and moved
into place, so a failed export never leaves a truncated file behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.records import LIST_FIELDS, RECORD_FIELDS

FORMATS = ("csv", "json", "jsonl")


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

    def _csv(rows: Sequence[dict[str, Any]], fh: TextIO) -> None:
        out = csv.DictWriter(fh, fieldnames=list(names))
        out.writeheader()
        for row in rows:
            cells = {name: row[name] for name in names}
            for name in nested:
                cells[name] = json.dumps(cells[name], default=str)
            out.writerow(cells)

    def _json(rows: Sequence[dict[str, Any]], fh: TextIO) -> None:
        json.dump([{n: r[n] for n in names} for r in rows], fh, ensure_ascii=False, indent=1,
                  default=str)  # fmt: skip
        fh.write("\n")

    def _jsonl(rows: Sequence[dict[str, Any]], fh: TextIO) -> None:
        for row in rows:
            fh.write(json.dumps({n: row[n] for n in names}, ensure_ascii=False, default=str))
            fh.write("\n")

    writers: dict[str, Callable[[Sequence[dict[str, Any]], TextIO], None]] = {
        "csv": _csv,
        "json": _json,
        "jsonl": _jsonl,
    }
    writer = writers.get(fmt)
    if writer is None:
        raise LLMBenchError(
            f"export to {str(path)!r}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}"
        )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        newline = "" if fmt == "csv" else None  # the csv module writes its own line ends
        with open(tmp, "w", encoding="utf-8", newline=newline) as fh:
            writer(rows, fh)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LLMBenchError(f"export to {str(path)!r} failed: {exc.strerror or exc}") from None
    return len(rows)
