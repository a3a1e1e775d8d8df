"""Submits jobs and runs them: the per-user limit on running jobs, a FIFO queue, the
process-wide manager, and audit entries for every job start and end.

A per-user limit (``defaults.max_jobs`` in config.yaml, default 2; ``LLMBENCH_MAX_JOBS``
wins) caps running jobs; more wait in a FIFO queue and are never rejected. In a notebook
a job's task runs on the kernel's own loop; in plain Python with no running loop, jobs run
on one background loop thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs.bench_work import BenchWork
from llmbench_jupyter.jobs.job import Job
from llmbench_jupyter.jobs.states import JobError
from llmbench_jupyter.jobs.work import JobWork

log = logging.getLogger(__name__)

R = TypeVar("R")
DEFAULT_MAX_JOBS = 2


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobManager:
    """Submits jobs and enforces the per-user limit with a FIFO queue."""

    def __init__(
        self,
        store: Any = None,
        *,
        owner: str | None = None,
        max_concurrent: int | None = None,
        save: bool = True,
        max_requests_per_hour: int | None = None,
    ) -> None:
        from llmbench_jupyter.store import current_owner

        self.owner = owner or current_owner()
        env = os.environ.get("LLMBENCH_MAX_JOBS")
        limit = (
            max_concurrent
            if max_concurrent is not None
            else (int(env) if env and env.isdigit() else DEFAULT_MAX_JOBS)
        )
        if limit < 1:
            raise LLMBenchError(f"max concurrent jobs: found {limit}, expected an integer >= 1")
        self.max_concurrent = limit
        hourly = os.environ.get("LLMBENCH_MAX_REQUESTS_PER_HOUR")
        if max_requests_per_hour is None and hourly:
            if not hourly.isdigit() or int(hourly) < 1:
                raise LLMBenchError(
                    f"LLMBENCH_MAX_REQUESTS_PER_HOUR: found {hourly!r}, expected an integer >= 1"
                )
            max_requests_per_hour = int(hourly)
        self.max_requests_per_hour = max_requests_per_hour
        self.store = store
        self.host = socket.gethostname()
        self._jobs: list[Job] = []
        self._slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._bg_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        # Job rows are written by one thread, in submission order: never on the event loop,
        # whose stalls would delay every stream's timestamps (and the notebook).
        self._journal = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="llmbench-job-journal"
        )
        if store is not None:
            store.sweep_interrupted(self.host, _pid_alive)

    def _persist(
        self, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        """Run a store write for a job on the journal thread, after every earlier one."""
        return self._journal.submit(fn, *args, **kwargs)

    @overload
    def submit(
        self,
        spec: BenchSpec,
        *,
        save: bool = True,
        config_snapshot: dict[str, Any] | None = None,
        sim_url: str | None = None,
        selftest: Any = None,
    ) -> Job[BenchResult]: ...

    @overload
    def submit(
        self,
        spec: JobWork[R],
        *,
        save: bool = True,
        config_snapshot: dict[str, Any] | None = None,
        sim_url: str | None = None,
        selftest: Any = None,
    ) -> Job[R]: ...

    def submit(
        self,
        spec: BenchSpec | JobWork[Any],
        *,
        save: bool = True,
        config_snapshot: dict[str, Any] | None = None,
        sim_url: str | None = None,
        selftest: Any = None,
    ) -> Job[Any]:
        """Create and start a job (a benchmark spec, or any JobWork); returns its handle at once.

        ``selftest`` (a benchmark's): run the timing self-test first (``jobs.bench_run``)."""
        if isinstance(spec, BenchSpec):
            spec.validate()
            work: JobWork[Any] = BenchWork(
                spec,
                save=save and self.store is not None,
                config_snapshot=config_snapshot,
                sim_url=sim_url,
                selftest=selftest,
            )
        else:
            work = spec
        job = Job(self, work)
        if self.store is not None:  # its failure fails the job when it starts (Job._run)
            job._writes.append(
                self._persist(
                    self.store.create_job,
                    job_id=job.id,
                    kind=job.kind,
                    spec=work.describe(),
                    pid=os.getpid(),
                    host=self.host,
                    owner=self.owner,
                    name=work.name,
                )
            )
        self._jobs.append(job)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = self._background_loop()
        job._loop = loop
        if loop.is_running() and _on_loop_thread(loop):
            job._task = loop.create_task(job._run(self._slots_for(loop)))
            job._task.add_done_callback(job._on_task_done)
        else:
            created: concurrent.futures.Future[asyncio.Task[None]] = concurrent.futures.Future()

            def start() -> None:
                task = loop.create_task(job._run(self._slots_for(loop)))
                task.add_done_callback(job._on_task_done)
                job._task = task
                created.set_result(task)

            loop.call_soon_threadsafe(start)
            created.result(timeout=10)
        return job

    async def _audit(self, action: str, job: Job, details: dict[str, Any]) -> None:
        """Who ran what: one audit entry per job start and end (never fails the job; written
        from a worker thread, so the kernel's loop never waits on the database)."""
        if self.store is None or not hasattr(self.store, "audit"):
            return
        entry = {"kind": job.kind, "name": job.name, **details}
        try:
            await asyncio.to_thread(self.store.audit, action, job.id, entry)
        except Exception as exc:  # the job's outcome matters more than its audit line
            log.warning("audit entry %s for job %s not written: %s", action, job.id[:8], exc)

    def _slots_for(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        with self._lock:
            if loop not in self._slots:
                self._slots[loop] = asyncio.Semaphore(self.max_concurrent)
            return self._slots[loop]

    def _background_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._bg_loop is None or self._bg_loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name="llmbench-jobs", daemon=True)
                loop._llmbench_thread = thread  # type: ignore[attr-defined]
                thread.start()
                ready.wait(10)
                self._bg_loop = loop
            return self._bg_loop

    def jobs(self) -> list[Job]:
        return list(self._jobs)

    def get(self, job_id: str) -> Job:
        matches = [j for j in self._jobs if j.id.startswith(job_id)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            known = ", ".join(j.id[:8] for j in self._jobs) or "none"
            raise JobError(f"no job {job_id!r} in this session (jobs: {known})")
        raise JobError(f"job id {job_id!r} is ambiguous: " + ", ".join(j.id[:8] for j in matches))


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


_manager: JobManager | None = None
_manager_lock = threading.Lock()


def get_manager() -> JobManager:
    """The process-wide manager on the default store (created on first use)."""
    global _manager
    with _manager_lock:
        if _manager is None:
            from llmbench_jupyter.core.config import load_config
            from llmbench_jupyter.store import open_store

            limit = (
                None if os.environ.get("LLMBENCH_MAX_JOBS") else (load_config().defaults.max_jobs)
            )
            _manager = JobManager(open_store(), max_concurrent=limit)
        return _manager


def reset_manager(manager: JobManager | None = None) -> None:
    """Replace the process-wide manager (tests, or after changing ``LLMBENCH_DB_URL``)."""
    global _manager
    with _manager_lock:
        _manager = manager
