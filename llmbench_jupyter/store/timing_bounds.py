"""Runs' timing self-tests as stored (``runs.overhead["timing_selftest"]``): read for the
leaderboard and comparisons, and written beside a record export so the bound travels
with the data.

No column of its own: the self-test summary sits in the run's overhead JSON next to the
client-overhead report it belongs with, so no migration was needed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, select

from llmbench_jupyter.store.models import Run

KEY = "timing_selftest"
_BATCH = 500  # ids per IN (...): well under SQLite's parameter limit


def run_timing_selftests(store: Any, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored self-test summary of each of ``run_ids`` that has one (readable ones)."""
    ids = list(dict.fromkeys(run_ids))
    out: dict[str, dict[str, Any]] = {}
    # only rows whose overhead mentions a self-test travel back: most runs have none
    mentions = cast(Run.overhead, String).like(f'%"{KEY}"%')
    with store._tx("cannot read timing self-tests", write=False) as conn:
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            stmt = select(Run.run_id, Run.overhead).where(Run.run_id.in_(chunk), mentions)
            for run_id, overhead in conn.execute(stmt):
                found = (overhead or {}).get(KEY)
                if isinstance(found, dict):
                    out[run_id] = found
    return out


def provenance_path(path: Path) -> Path:
    """Where an export's run provenance goes: ``<file>.run.json`` beside it."""
    return path.with_name(path.name + ".run.json")


def export_provenance(conn: Any, run_id: str, path: Path) -> Path | None:
    """Write the run's timing self-test (with its id, host and versions) to
    ``<file>.run.json`` beside an export, whose columns stay exactly the record fields in
    every format. None (and no file) when the run has no self-test."""
    stmt = select(Run.overhead, Run.host, Run.versions).where(Run.run_id == run_id)
    row = conn.execute(stmt).first()
    selftest = ((row.overhead if row is not None else None) or {}).get(KEY)
    side = provenance_path(path)
    if row is None or not selftest:
        side.unlink(missing_ok=True)  # never leave an earlier export's bound beside this one
        return None
    from llmbench_jupyter.core.private_files import write_atomic

    doc = {"run_id": run_id, KEY: selftest, "host": row.host or {}, "versions": row.versions or {}}
    return write_atomic(side, json.dumps(doc, indent=2, default=str) + "\n")
