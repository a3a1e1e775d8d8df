"""Load sweeps in the store: each step of a sweep is an ordinary benchmark run whose stored
spec carries ``sweep`` (the sweep's id, name, mode, step number, offered load and SLO), so
history, exports and comparisons see the steps like any run; these methods find them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store.models import Run

_RUN_COLS = tuple(Run.__table__.columns)


def _sweep_field(name: str) -> Any:
    """``spec -> sweep -> name`` as text, on SQLite and PostgreSQL alike (a JSON path)."""
    return Run.spec[("sweep", name)].as_string()


class SweepsMixin:
    """Sweep methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    url: str

    def sweep_runs(self, sweep_id: str, owner: str | None = None) -> list[dict[str, Any]]:
        """The runs of one sweep of the owner's (id or unique prefix), oldest first."""
        query = (sweep_id or "").strip() if isinstance(sweep_id, str) else ""
        if not query:
            raise LLMBenchError(f"sweep_runs: give a sweep id or a prefix of one, got {sweep_id!r}")
        owner = self._owner(owner)
        like = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = (
            select(*_RUN_COLS)
            .where(Run.owner == owner, _sweep_field("id").like(like, escape="\\"))
            .order_by(Run.created_at, Run.run_id)
        )
        with self._tx("cannot read sweep", write=False) as conn:
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
        ids = sorted({r["spec"]["sweep"]["id"] for r in rows})
        if not ids:
            raise LLMBenchError(
                f"no sweep id starts with {query!r} among the runs of owner {owner!r} in "
                f"{self.url} (list_sweeps() shows them)"
            )
        if len(ids) > 1:
            raise LLMBenchError(
                f"sweep id prefix {query!r} is ambiguous: it matches {', '.join(ids[:10])}. "
                "Give more characters."
            )
        return rows

    def list_sweeps(self, owner: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The owner's sweeps, newest first: id, name, mode, steps (runs), first and last run."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise LLMBenchError(f"list_sweeps: limit must be a positive integer, got {limit!r}")
        stmt = (
            select(Run.run_id, Run.created_at, Run.spec)
            .where(Run.owner == self._owner(owner), _sweep_field("id").is_not(None))
            .order_by(Run.created_at.desc(), Run.run_id)
        )
        found: dict[str, dict[str, Any]] = {}
        with self._tx("cannot list sweeps", write=False) as conn:
            for run_id, created, spec in conn.execute(stmt):
                tag = spec["sweep"]
                row = found.get(tag["id"])
                if row is None:
                    if len(found) == limit:
                        break
                    row = found[tag["id"]] = {
                        "sweep_id": tag["id"], "name": tag.get("name"), "mode": tag.get("mode"),
                        "runs": 0, "created_at": created, "last_run_id": run_id,
                    }  # fmt: skip
                row["runs"] += 1
                row["created_at"] = created  # rows come newest first: ends at the first run
        return list(found.values())
