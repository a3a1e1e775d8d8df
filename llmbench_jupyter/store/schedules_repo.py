"""Schedules: what runs when (``jobs.scheduler`` decides; this keeps the rows and the lock).

A firing claims its schedule with one conditional ``UPDATE`` (``running_since`` from NULL
to now, only while it is due), so two schedulers, or two firings of one, never overlap:
the database lets exactly one of them win. A lock older than ``stale_after`` (a scheduler
killed mid-run) may be taken over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store.models import ScheduleRow

#: A firing still "running" after this long is taken to have died with its scheduler.
STALE_AFTER = timedelta(hours=6)
_COLS = tuple(c.name for c in ScheduleRow.__table__.columns)


class SchedulesMixin:
    """Schedule methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    url: str

    def save_schedule(self, name: str, *, fields: Mapping[str, Any], owner: str | None = None,
                      replace: bool = False) -> dict[str, Any]:  # fmt: skip
        """Store a schedule (``fields``: kind, options, cron, timezone, missed, enabled,
        next_due_at, created_at); an existing name is an error unless ``replace``."""
        owner = self._owner(owner, write=True)
        where = (ScheduleRow.owner == owner, ScheduleRow.name == name)
        with self._tx("cannot save schedule") as conn:
            exists = conn.execute(select(ScheduleRow.name).where(*where)).first() is not None
            if exists and not replace:
                raise LLMBenchError(f"schedule {name!r} of {owner!r} exists; replace=True "
                                    "replaces it")  # fmt: skip
            if exists:
                conn.execute(update(ScheduleRow).where(*where).values(dict(fields)))
            else:
                conn.execute(insert(ScheduleRow), [{"owner": owner, "name": name, **fields}])
            return _read(conn, owner, name) or {}

    def schedule(self, name: str, owner: str | None = None) -> dict[str, Any] | None:
        with self._tx("cannot read schedule", write=False) as conn:
            return _read(conn, self._owner(owner), name)

    def list_schedules(self, owner: str | None = None,
                       all_owners: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        stmt = select(ScheduleRow.__table__).order_by(ScheduleRow.next_due_at, ScheduleRow.name)
        if not all_owners:
            stmt = stmt.where(ScheduleRow.owner == self._owner(owner))
        with self._tx("cannot list schedules", write=False) as conn:
            return [{c: r[c] for c in _COLS} for r in conn.execute(stmt).mappings()]

    def delete_schedule(self, name: str, owner: str | None = None) -> None:
        owner = self._owner(owner, write=True)
        with self._tx("cannot delete schedule") as conn:
            gone = conn.execute(delete(ScheduleRow).where(
                ScheduleRow.owner == owner, ScheduleRow.name == name)).rowcount  # fmt: skip
        if not gone:
            raise LLMBenchError(f"no schedule {name!r} of {owner!r} in {self.url}")

    def claim_schedule(self, name: str, now: datetime, owner: str | None = None,
                       stale_after: timedelta = STALE_AFTER) -> bool:  # fmt: skip
        """Take the schedule's lock for a firing if it is due and nobody holds it (or the
        holder is stale); True when this caller won it."""
        owner = self._owner(owner, write=True)
        with self._tx("cannot claim schedule") as conn:
            won = conn.execute(
                update(ScheduleRow)
                .where(ScheduleRow.owner == owner, ScheduleRow.name == name,
                       ScheduleRow.enabled.is_(True), ScheduleRow.next_due_at <= now,
                       or_(ScheduleRow.running_since.is_(None),
                           ScheduleRow.running_since < now - stale_after))
                .values(running_since=now)
            ).rowcount  # fmt: skip
        return bool(won)

    def finish_schedule(self, name: str, *, next_due_at: datetime, owner: str | None = None,
                        fired_at: datetime | None = None, run_id: str | None = None,
                        status: str | None = None, error: str | None = None) -> None:  # fmt: skip
        """Release the lock and move ``next_due_at`` on; a firing's outcome when it ran
        (``fired_at``), else (skipped missed slots) only the next due time."""
        owner = self._owner(owner, write=True)
        values: dict[str, Any] = {"running_since": None, "next_due_at": next_due_at}
        if fired_at is not None:
            values.update(last_fired_at=fired_at, last_run_id=run_id, last_status=status,
                          last_error=error)  # fmt: skip
        with self._tx("cannot update schedule") as conn:
            conn.execute(update(ScheduleRow).where(
                ScheduleRow.owner == owner, ScheduleRow.name == name).values(values))  # fmt: skip


def _read(conn: Any, owner: str, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(ScheduleRow.__table__).where(
        ScheduleRow.owner == owner, ScheduleRow.name == name)).mappings().first()  # fmt: skip
    return None if row is None else {c: row[c] for c in _COLS}
