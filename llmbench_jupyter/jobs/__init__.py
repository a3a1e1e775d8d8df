"""Background jobs: a benchmark or an eval (later: tuning) running as a task on an asyncio loop.

In a notebook the task runs on the kernel's own loop, so other cells keep executing and
widget clicks (cancel) are handled while it runs. In plain Python with no running loop,
jobs run on one background loop thread. States are enforced here and persisted in the
store with timestamps::

    pending -> queued -> running -> done | failed | cancelled | interrupted
           \\-> cancelled  \\-> cancelled | failed (larger than the hourly request limit)

A per-user limit (``defaults.max_jobs`` in config.yaml, default 2; ``LLMBENCH_MAX_JOBS``
wins) caps running jobs; more wait in a FIFO
queue and are never rejected. On a hub, ``LLMBENCH_MAX_REQUESTS_PER_HOUR`` caps the
requests started per hour (counted in the store): a job waits in ``queued`` until the
budget has room. Job starts and ends go to the audit log. Progress snapshots, state
changes included, reach subscribers at most 10 times a second (trailing edge: the latest
state is never dropped), so a widget never sends a message per chunk. This module imports
nothing from Jupyter; the kernel layer adds the widget through :func:`set_display_hook`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Generator
from typing import Any, Protocol

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.workload import BenchResult, BenchSpec, arun

log = logging.getLogger(__name__)

PENDING, QUEUED, RUNNING = "pending", "queued", "running"
DONE, FAILED, CANCELLED, INTERRUPTED = "done", "failed", "cancelled", "interrupted"
FINAL_STATES = frozenset({DONE, FAILED, CANCELLED, INTERRUPTED})
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({QUEUED, CANCELLED}),
    QUEUED: frozenset({RUNNING, CANCELLED, FAILED}),  # failed: refused by the hourly limit
    RUNNING: frozenset({DONE, FAILED, CANCELLED, INTERRUPTED}),
}
#: Minimum seconds between two progress notifications (10 Hz at most).
THROTTLE_S = 0.1
DEFAULT_MAX_JOBS = 2
#: Seconds between two checks of the hourly request budget while a job waits for it.
BUDGET_POLL_S = 15.0

Snapshot = dict[str, Any]
Subscriber = Callable[[Snapshot], None]
_display_hook: Callable[[Job], dict[str, Any] | None] | None = None


class JobError(LLMBenchError):
    """A job operation that cannot be done in the job's current state."""


def set_display_hook(hook: Callable[[Job], dict[str, Any] | None] | None) -> None:
    """Let a surface (the kernel's widget) render jobs; core stays free of Jupyter imports."""
    global _display_hook
    _display_hook = hook


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobWork(Protocol):
    """What a job runs: a benchmark, an eval (later: tuning). The job owns states,
    throttled progress, cancellation and persistence; the work owns its domain."""

    kind: str
    name: str | None
    unit: str  # what `done`/`total` count, for messages ("requests", "cases")

    def describe(self) -> dict[str, Any]: ...

    async def run(self, job: Job) -> Any: ...

    def snapshot(self, job: Job) -> dict[str, Any]: ...

    def partial(self, job: Job, status: str) -> Any: ...

    def failure(self, result: Any) -> str | None: ...

    def planned_requests(self) -> int: ...


class BenchWork:
    """A benchmark as job work: :func:`workloads.arun` with the job's callbacks."""

    kind = "bench"
    unit = "requests"

    def __init__(
        self,
        spec: BenchSpec,
        *,
        save: bool,
        config_snapshot: dict[str, Any] | None,
        sim_url: str | None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self._save = save
        self._config_snapshot = config_snapshot
        self._sim_url = sim_url

    def describe(self) -> dict[str, Any]:
        return self.spec.describe()

    async def run(self, job: Job) -> BenchResult:
        return await arun(
            self.spec,
            save=self._save,
            store=job.manager.store,
            owner=job.manager.owner,
            on_record=job._on_record,
            on_start=job._on_start,
            config_snapshot=self._config_snapshot,
            sim_url=self._sim_url,
        )

    def failure(self, result: BenchResult) -> str | None:
        return None if result.status == "done" else "every measured request failed"

    def planned_requests(self) -> int:
        return sum(self._planned_per_target().values())

    def partial(self, job: Job, status: str) -> BenchResult:
        return BenchResult(
            run_id=job.run_id,
            spec=self.spec.describe(),
            records=list(job._records),
            skipped=[],
            overhead={},
            status=status,
        )

    def snapshot(self, job: Job) -> dict[str, Any]:
        from llmbench_jupyter.stats import live_medians

        records: list[RequestRecord] = job._records
        per_tier = live_medians(records)
        planned_per_target = self._planned_per_target()
        done_by: dict[str, int] = {}
        errors_by: dict[str, int] = {}
        for r in records:
            key = f"{r.provider}/{r.model}"
            done_by[key] = done_by.get(key, 0) + 1
            errors_by[key] = errors_by.get(key, 0) + (r.status != "ok")
        by_target = {
            (row["provider"], row["model"]): row
            for row in live_medians(records, by=("provider", "model"))
        }
        targets = []
        for t in self.spec.targets:
            key = t.key
            n = done_by.get(key, 0)
            medians = by_target.get((t.provider, t.model), {})
            total_t = planned_per_target.get(key, 0)
            targets.append(
                {
                    "key": key,
                    "provider": t.provider,
                    "model": t.model,
                    "display_name": t.display_name or t.model,
                    "done": n,
                    "total": total_t,
                    "errors": errors_by.get(key, 0),
                    "ttft_ms_p50": medians.get("ttft_ms_p50"),
                    "decode_tps_p50": medians.get("decode_tps_p50"),
                    "tpot_ms_p50": medians.get("tpot_ms_p50"),
                    "e2e_ms_p50": medians.get("e2e_ms_p50"),
                    "state": "done"
                    if total_t and n >= total_t
                    else ("running" if n else "waiting"),
                }
            )
        return {
            "done": len(records),
            "total": job._planned or sum(planned_per_target.values()),
            "errors": sum(errors_by.values()),
            "targets": targets,
            "tiers": [{"key": f"{row['provider']}/{row['model']}", **row} for row in per_tier],
            "tier_count": len(set(self.spec.context_tiers)),
        }

    def _planned_per_target(self) -> dict[str, int]:
        from llmbench_jupyter.core.workload import plan

        phases, _ = plan(self.spec)
        per = self.spec.runs + self.spec.warmup
        out: dict[str, int] = {}
        for phase in phases:
            out[phase.target.key] = out.get(phase.target.key, 0) + per
        return out


class Job:
    """Handle of one background job. Returned at once by :meth:`JobManager.submit`."""

    def __init__(self, manager: JobManager, work: JobWork) -> None:
        self.id = uuid.uuid4().hex
        self.work = work
        self.kind = work.kind
        self.name = work.name
        self.spec = getattr(work, "spec", None)  # a bench job's BenchSpec
        self.manager = manager
        self.run_id: str | None = None
        self.error: str | None = None
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._state = PENDING
        self._records: list[Any] = []
        self._planned = 0
        self._result: Any = None
        self._subscribers: list[Subscriber] = []
        self._dirty = False
        self._last_notify = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self._snapshot: Snapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: concurrent.futures.Future[Any] = concurrent.futures.Future()

    # ----------------------------------------------------------------- state
    @property
    def state(self) -> str:
        return self._state

    status = state

    @property
    def records(self) -> list[Any]:
        """Items completed so far in completion order (a copy): request records of a
        benchmark, case runs of an eval."""
        return list(self._records)

    def done(self) -> bool:
        return self._state in FINAL_STATES

    def _transition(self, to: str, **fields: Any) -> None:
        allowed = TRANSITIONS.get(self._state, frozenset())
        if to not in allowed:
            raise JobError(f"job {self.id[:8]}: cannot go from {self._state} to {to}")
        store = self.manager.store
        if store is not None:
            store.transition_job(self.id, [self._state], to, **fields)
        self._state = to
        self._notify()

    # -------------------------------------------------------------- progress
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(snapshot)`` on progress (≤10 Hz) and on every state change."""
        self._subscribers.append(callback)
        callback(self.progress)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    @property
    def progress(self) -> Snapshot:
        if self._snapshot is None or self._dirty:
            self._snapshot = self._build_snapshot()
            self._dirty = False
        return self._snapshot

    def _on_start(self, run_id: str | None, planned: int) -> None:
        self.run_id = run_id
        self._planned = planned
        if run_id and self.manager.store is not None:
            self.manager.store.set_job_run(self.id, run_id)
        self._notify()

    def _on_record(self, record: Any) -> None:
        self._records.append(record)
        self._dirty = True
        self._notify()

    def _notify(self) -> None:
        """Deliver the latest snapshot now, or once the 100 ms throttle allows (never dropped)."""
        self._dirty = True
        if self._pending is not None:
            return  # already scheduled; it will carry this change too
        wait = THROTTLE_S - (time.monotonic() - self._last_notify)
        if wait <= 0 or self._loop is None or self._loop.is_closed():
            self._deliver()
        else:
            self._pending = self._loop.call_later(wait, self._deliver)

    def _deliver(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._last_notify = time.monotonic()
        snapshot = self.progress
        for callback in list(self._subscribers):
            try:
                callback(snapshot)
            except Exception:  # a broken display must not break the job
                log.exception("progress subscriber failed")

    async def _deliver_final(self) -> None:
        """The last snapshot, still within the rate limit; the job settles after it."""
        if self._pending is not None:  # this delivery replaces the scheduled one
            self._pending.cancel()
            self._pending = None
        wait = THROTTLE_S - (time.monotonic() - self._last_notify)
        if wait > 0:
            await asyncio.sleep(wait)
        self._deliver()

    def _build_snapshot(self) -> Snapshot:
        elapsed = (time.monotonic() - self.started_at) if self.started_at else 0.0
        if self.finished_at and self.started_at:
            elapsed = self.finished_at - self.started_at
        body = self.work.snapshot(self)
        done, total = body.pop("done"), body.pop("total")
        eta = None
        if self._state == RUNNING and done and total > done:
            eta = elapsed / done * (total - done)
        return {
            "job_id": self.id,
            "kind": self.kind,
            "name": self.name,
            "state": self._state,
            "run_id": self.run_id,
            "done": done,
            "total": total,
            "elapsed_s": round(elapsed, 2),
            "eta_s": None if eta is None else round(eta, 1),
            "error": self.error,
            **body,
        }

    # --------------------------------------------------------------- running
    async def _run(self, slots: asyncio.Semaphore) -> None:
        outcome: Any
        try:
            self._transition(QUEUED)
            async with slots:
                await self.manager._wait_for_budget(self)
                self._transition(RUNNING)
                await self.manager._audit("job.start", self, {"spec": self.work.describe()})
                self.started_at = time.monotonic()
                result = await self.work.run(self)
            self.finished_at = time.monotonic()
            self.error = self.work.failure(result)
            self._transition(FAILED if self.error else DONE, error=self.error)
            outcome = result
        except asyncio.CancelledError:
            self.finished_at = time.monotonic()
            outcome = self.work.partial(self, CANCELLED)
            if CANCELLED in TRANSITIONS.get(self._state, frozenset()):
                self._transition(CANCELLED)
        except Exception as exc:
            self.finished_at = time.monotonic()
            self.error = scrub(f"{type(exc).__name__}: {exc}")[:2000]
            for final in (FAILED, CANCELLED):
                if final in TRANSITIONS.get(self._state, frozenset()):
                    self._transition(final, error=self.error)
                    break
            outcome = JobError(f"job {self.id[:8]} failed: {self.error}")
        await self.manager._audit(
            "job.end", self, {"state": self._state, "run_id": self.run_id, "error": self.error}
        )
        await self._deliver_final()
        if not isinstance(outcome, JobError):
            self._result = outcome
            self._done.set_result(outcome)
        else:
            self._result = self.work.partial(self, FAILED) if self._records else None
            self._done.set_exception(outcome)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """Settle a job whose task ended without running its body (cancelled before start)."""
        if self._done.done():
            return
        self.finished_at = time.monotonic()
        self._result = self.work.partial(self, CANCELLED)
        if CANCELLED in TRANSITIONS.get(self._state, frozenset()):
            self._transition(CANCELLED)
        self._done.set_result(self._result)

    def cancel(self) -> bool:
        """Stop the job; completed requests stay stored. False if it had already finished."""
        if self.done() or self._task is None or self._loop is None:
            return False
        if self._loop.is_closed():
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._task.cancel()
        else:
            self._loop.call_soon_threadsafe(self._task.cancel)
        return True

    # --------------------------------------------------------------- results
    def result(self) -> Any:
        """The result once finished (partial when cancelled). Never blocks."""
        if not self._done.done():
            p = self.progress
            raise JobError(
                f"job {self.id[:8]} is {self._state} ({p['done']}/{p['total']} "
                f"{self.work.unit}): use `await job` or job.wait() for its result"
            )
        return self._done.result()

    def wait(self, timeout: float | None = None) -> Any:
        """Block until finished; for threads other than the one running the job's loop."""
        if self._loop is not None and self._loop.is_running():
            with contextlib.suppress(RuntimeError):
                if asyncio.get_running_loop() is self._loop:
                    raise JobError(
                        "job.wait() would block the event loop the job runs on; "
                        "use `await job` instead"
                    )
            if threading.current_thread() is getattr(self._loop, "_llmbench_thread", None):
                raise JobError("job.wait() called from the job's own loop thread")
        try:
            return self._done.result(timeout)
        except concurrent.futures.TimeoutError:
            raise JobError(f"job {self.id[:8]} still {self._state} after {timeout} s") from None

    def __await__(self) -> Generator[Any, None, Any]:
        return asyncio.wrap_future(self._done).__await__()

    def case_rows(self) -> list[dict[str, Any]]:
        """An eval job's case table so far (expected vs actual calls, verdicts)."""
        rows = getattr(self.work, "case_rows", None)
        if rows is None:
            raise JobError(f"job {self.id[:8]} is a {self.kind} job; only eval jobs have case rows")
        out: list[dict[str, Any]] = rows(self)
        return out

    # conveniences that delegate to the result
    def to_pandas(self) -> Any:
        return self.result().to_pandas()

    def summary(self) -> Any:
        return self.result().summary()

    def plot(self, *args: Any, **kwargs: Any) -> Any:
        return self.result().plot(*args, **kwargs)

    def compare(self, other: Any, **kwargs: Any) -> Any:
        theirs = other.result() if isinstance(other, Job) else other
        return self.result().compare(theirs, **kwargs)

    # ----------------------------------------------------------------- reprs
    def __repr__(self) -> str:
        p = self.progress
        label = f" {self.name!r}" if self.name else ""
        return (
            f"<Job {self.id[:8]}{label} {self.kind} {self._state}: {p['done']}/{p['total']} "
            f"{self.work.unit}, {p['errors']} errors>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if _display_hook is not None:
            bundle = _display_hook(self)
            if bundle:
                return bundle
        return {"text/plain": repr(self)}


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
        if store is not None:
            store.sweep_interrupted(self.host, _pid_alive)

    def submit(
        self,
        spec: BenchSpec | JobWork,
        *,
        save: bool = True,
        config_snapshot: dict[str, Any] | None = None,
        sim_url: str | None = None,
    ) -> Job:
        """Create and start a job (a benchmark spec, or any JobWork); returns its handle at once."""
        if isinstance(spec, BenchSpec):
            spec.validate()
            work: JobWork = BenchWork(
                spec,
                save=save and self.store is not None,
                config_snapshot=config_snapshot,
                sim_url=sim_url,
            )
        else:
            work = spec
        job = Job(self, work)
        if self.store is not None:
            self.store.create_job(
                job_id=job.id,
                kind=job.kind,
                spec=work.describe(),
                pid=os.getpid(),
                host=self.host,
                owner=self.owner,
                name=work.name,
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

    async def _wait_for_budget(self, job: Job) -> None:
        """Hold a job in ``queued`` until the hourly request limit leaves room for it.

        Requests count from the store (your runs started in the last hour, so other
        kernels of yours count too) plus what this process's running jobs still plan. A
        job larger than the whole limit fails at once with the numbers, never waits forever.
        """
        limit = self.max_requests_per_hour
        if limit is None:
            return
        need = job.work.planned_requests()
        if need > limit:
            raise LLMBenchError(
                f"this {job.kind} job plans {need} requests, more than your limit of {limit} "
                "per hour (LLMBENCH_MAX_REQUESTS_PER_HOUR, set by your hub admin): split it"
            )
        while True:
            used = await asyncio.to_thread(self._requests_last_hour)
            if used + need <= limit:
                if job.error and job.error.startswith("waiting for"):
                    job.error = None
                return
            job.error = (
                f"waiting for the hourly request limit: {used} of {limit} used in the last "
                f"hour, this job needs {need}"
            )
            job._notify()
            await asyncio.sleep(BUDGET_POLL_S)

    def _requests_last_hour(self) -> int:
        from datetime import UTC, datetime, timedelta

        stored = 0
        if self.store is not None:
            stored = self.store.requests_since(datetime.now(UTC) - timedelta(hours=1))
        in_flight = sum(
            max(0, j.work.planned_requests() - len(j._records))
            for j in self._jobs
            if j.state == RUNNING
        )
        return stored + in_flight

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
