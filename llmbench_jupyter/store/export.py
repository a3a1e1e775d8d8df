"""Record exports in CSV, JSON and JSON Lines.

Field names and order are exactly ``RECORD_FIELDS`` in every format (the
predecessor's CSV went empty after a rename). List fields become JSON text in CSV
cells; ``None`` is an empty cell. Files are written to a temporary name and moved
into place, so a failed export never leaves a truncated file behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from ..errors import LLMBenchError
from ..records import LIST_FIELDS, RECORD_FIELDS

FORMATS = ("csv", "json", "jsonl")


def write(rows: Sequence[dict[str, Any]], path: Path, fmt: str) -> int:
    """Write record dicts to ``path`` in ``fmt``; returns the number of rows written."""
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


def _ordered(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in RECORD_FIELDS}


def _csv(rows: Sequence[dict[str, Any]], fh: TextIO) -> None:
    out = csv.DictWriter(fh, fieldnames=list(RECORD_FIELDS))
    out.writeheader()
    for row in rows:
        cells = _ordered(row)
        for name in LIST_FIELDS:
            cells[name] = json.dumps(cells[name])
        out.writerow(cells)


def _json(rows: Sequence[dict[str, Any]], fh: TextIO) -> None:
    json.dump([_ordered(r) for r in rows], fh, ensure_ascii=False, indent=1)
    fh.write("\n")


def _jsonl(rows: Sequence[dict[str, Any]], fh: TextIO) -> None:
    for row in rows:
        fh.write(json.dumps(_ordered(row), ensure_ascii=False))
        fh.write("\n")
