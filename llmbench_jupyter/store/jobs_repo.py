"""Persistence of job states. Transitions are compare-and-set, so two processes never race.

The legal transitions live in ``llmbench_jupyter.jobs``; this layer enforces them in the
database by updating only rows still in an allowed ``from`` state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.redact import redact_config
from llmbench_jupyter.store.models import JOB_COLUMNS, JobRow, Run

#: The timestamp column each state stamps when entered.
_STAMPS = {
    "queued": "queued_at",
    "running": "started_at",
    "done": "finished_at",
    "failed": "finished_at",
    "cancelled": "finished_at",
    "interrupted": "finished_at",
}
ACTIVE_STATES = ("pending", "queued", "running")
_FINAL = ("done", "failed", "cancelled", "interrupted")


class JobsMixin:
    """Job methods of :class:`~llmbench_jupyter.store.Store`."""

    _tx: Callable[..., Any]
    _owner: Callable[..., str]
    url: str

    def create_job(
        self,
        *,
        job_id: str,
        kind: str,
        spec: Mapping[str, Any],
        pid: int,
        host: str,
        owner: str | None = None,
        name: str | None = None,
    ) -> None:
        row = {
            "job_id": job_id,
            "owner": self._owner(owner, write=True),
            "kind": kind,
            "name": name,
            "state": "pending",
            "spec": redact_config(dict(spec)),
            "run_id": None,
            "error": None,
            "pid": pid,
            "host": host,
            "created_at": datetime.now(UTC),
            "queued_at": None,
            "started_at": None,
            "finished_at": None,
        }
        with self._tx("cannot create job") as conn:
            conn.execute(insert(JobRow), [row])

    def transition_job(
        self, job_id: str, from_states: Iterable[str], to_state: str, **fields: Any
    ) -> bool:
        """Move a job to ``to_state`` if it is in one of ``from_states``; False if it was not."""
        values: dict[str, Any] = {"state": to_state, **fields}
        if to_state in _STAMPS:
            values[_STAMPS[to_state]] = datetime.now(UTC)
        with self._tx("cannot update job") as conn:
            result = conn.execute(
                update(JobRow)
                .where(JobRow.job_id == job_id, JobRow.state.in_(list(from_states)))
                .values(**values)
            )
            return bool(result.rowcount)

    def set_job_run(self, job_id: str, run_id: str) -> None:
        with self._tx("cannot update job") as conn:
            conn.execute(update(JobRow).where(JobRow.job_id == job_id).values(run_id=run_id))

    def set_job_progress(self, job_id: str, done: int | None, total: int | None) -> None:
        """Mirror a job's progress into its row (for the owner's other processes)."""
        with self._tx("cannot update job progress") as conn:
            conn.execute(update(JobRow).where(JobRow.job_id == job_id).values(
                done=done, total=total, progress_at=datetime.now(UTC)))  # fmt: skip

    def request_job_cancel(self, job_id: str, owner: str | None = None) -> dict[str, Any]:
        """Ask the process running ``owner``'s job to cancel it (it looks twice a second);
        the job's row. An error if there is no such job or it has finished already."""
        owner = self._owner(owner, write=True)
        mine = (JobRow.job_id == job_id, JobRow.owner == owner)
        with self._tx("cannot request a cancel") as conn:
            row = conn.execute(select(JobRow.state).where(*mine)).first()
            if row is None:
                raise LLMBenchError(f"no job {job_id!r} of {owner!r} in {self.url}")
            if row.state in _FINAL:
                raise LLMBenchError(f"job {job_id[:8]} is {row.state} already: nothing to cancel")
            conn.execute(update(JobRow).where(*mine, JobRow.cancel_requested_at.is_(None))
                         .values(cancel_requested_at=datetime.now(UTC)))  # fmt: skip
        return self.get_job(job_id)

    def job_cancel_requested(self, job_id: str) -> bool:
        """Whether another process asked for this job to be cancelled."""
        with self._tx("cannot read job", write=False) as conn:
            asked = conn.execute(select(JobRow.cancel_requested_at).where(
                JobRow.job_id == job_id)).scalar()  # fmt: skip
        return asked is not None

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self._tx("cannot read job", write=False) as conn:
            row = conn.execute(select(JobRow.__table__).where(JobRow.job_id == job_id)).mappings()
            found = row.first()
        if found is None:
            raise LLMBenchError(f"no job {job_id!r} in {self.url}")
        return {c: found[c] for c in JOB_COLUMNS}

    def list_jobs(
        self, owner: str | None = None, limit: int = 50, all_owners: bool = False
    ) -> list[dict[str, Any]]:
        stmt = select(JobRow.__table__).order_by(JobRow.created_at.desc()).limit(limit)
        if not all_owners:
            stmt = stmt.where(JobRow.owner == self._owner(owner))
        with self._tx("cannot list jobs", write=False) as conn:
            return [{c: r[c] for c in JOB_COLUMNS} for r in conn.execute(stmt).mappings()]

    def requests_since(self, since: datetime, owner: str | None = None) -> int:
        """Requests (benchmark requests, eval case attempts) in runs started since ``since``."""
        from sqlalchemy import func

        stmt = select(func.coalesce(func.sum(Run.n_requests), 0)).where(
            Run.owner == self._owner(owner), Run.created_at >= since
        )
        with self._tx("cannot count recent requests", write=False) as conn:
            return int(conn.execute(stmt).scalar() or 0)

    def sweep_interrupted(self, host: str, is_alive: Callable[[int], bool]) -> list[str]:
        """Mark this host's active jobs and running runs whose process is gone as interrupted.

        Returns the ids of the jobs marked. Their completed records stay in the store.
        """
        now = datetime.now(UTC)
        marked: list[str] = []
        with self._tx("cannot sweep interrupted jobs") as conn:
            rows = conn.execute(
                select(JobRow.job_id, JobRow.pid, JobRow.run_id).where(
                    JobRow.host == host, JobRow.state.in_(ACTIVE_STATES)
                )
            ).all()
            for job_id, pid, _run_id in rows:
                if is_alive(pid):
                    continue
                conn.execute(
                    update(JobRow)
                    .where(JobRow.job_id == job_id, JobRow.state.in_(ACTIVE_STATES))
                    .values(
                        state="interrupted",
                        finished_at=now,
                        error="the process running this job ended before it did",
                    )
                )
                marked.append(job_id)
            runs = conn.execute(select(Run.run_id, Run.host).where(Run.status == "running")).all()
            for run_id, run_host in runs:
                run_host = run_host or {}
                pid = run_host.get("pid")
                if run_host.get("hostname") == host and isinstance(pid, int) and not is_alive(pid):
                    conn.execute(
                        update(Run)
                        .where(Run.run_id == run_id, Run.status == "running")
                        .values(status="interrupted", finished_at=now)
                    )
        return marked
