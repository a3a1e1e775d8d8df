"""The handle of one background job: states, throttled progress, cancellation, results.

Progress snapshots, state changes included, reach subscribers at most 10 times a second
(trailing edge: the latest state is never dropped), so a widget never sends a message per
chunk. This module imports nothing from Jupyter; the kernel layer renders jobs through
:func:`set_display_hook`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from llmbench_jupyter.core.errors import scrub
from llmbench_jupyter.jobs.budgets import wait_for_budget
from llmbench_jupyter.jobs.states import (
    CANCELLED,
    DONE,
    FAILED,
    FINAL_STATES,
    PENDING,
    QUEUED,
    RUNNING,
    THROTTLE_S,
    TRANSITIONS,
    WATCH_S,
    JobError,
    Snapshot,
    Subscriber,
)
from llmbench_jupyter.jobs.work import JobWork

if TYPE_CHECKING:
    from llmbench_jupyter.jobs.manager import JobManager

log = logging.getLogger(__name__)

R = TypeVar("R")
_display_hook: Callable[[Job[Any]], dict[str, Any] | None] | None = None


def set_display_hook(hook: Callable[[Job[Any]], dict[str, Any] | None] | None) -> None:
    """Let a surface (the kernel's widget) render jobs; this layer stays free of Jupyter."""
    global _display_hook
    _display_hook = hook


class Job(Generic[R]):
    """Handle of one background job. Returned at once by :meth:`JobManager.submit`."""

    def __init__(self, manager: JobManager, work: JobWork[R]) -> None:
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
        self._result: R | None = None
        self._subscribers: list[Subscriber] = []
        self._dirty = False
        self._last_notify = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self._snapshot: Snapshot | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: concurrent.futures.Future[R] = concurrent.futures.Future()
        self._finishers: list[Callable[[Any], None]] = []
        #: writes of this job's row on the manager's journal thread, in order
        self._writes: list[concurrent.futures.Future[Any]] = []

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

    def _transition(self, to: str, **fields: Any) -> concurrent.futures.Future[Any] | None:
        """Change state now; the job row follows on the manager's journal thread, in order
        (the loop never waits on the database). Returns that write, or None without a store."""
        if to not in TRANSITIONS.get(self._state, frozenset()):
            raise JobError(f"job {self.id[:8]}: cannot go from {self._state} to {to}")
        store = self.manager.store
        write = None
        if store is not None:
            write = self.manager._persist(
                store.transition_job, self.id, [self._state], to, **fields
            )
            self._writes.append(write)
        self._state = to
        self._notify()
        return write

    async def _journal_written(self) -> None:
        """Wait until every write of this job's row so far has run; raise the first failure
        (e.g. "cannot create job"), as the write itself would have on the loop."""
        if self.manager.store is None:
            return
        await asyncio.wrap_future(self.manager._persist(lambda: None))
        for write in self._writes:
            if write.exception() is not None:
                raise write.exception()  # type: ignore[misc]

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
            self.manager._persist(self.manager.store.set_job_run, self.id, run_id)
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
            own = getattr(self.work, "eta_s", None)  # the work knows its own pace best
            eta = own(self) if own is not None else None
            if eta is None:
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

    # ------------------------------------------------------- other processes
    async def _watch_store(self) -> None:
        """Mirror progress into the job's row and obey a cancel request found there, every
        WATCH_S: how the owner's other processes (the lab panel) follow and stop this job.
        Reads and writes go through the journal thread; the loop only awaits them."""
        store, last = self.manager.store, None
        if store is None:
            return
        while not self.done():
            await asyncio.sleep(WATCH_S)
            p = self.progress
            if (p["done"], p["total"]) != last and self._state == RUNNING:
                last = (p["done"], p["total"])
                self.manager._persist(store.set_job_progress, self.id, *last)
            try:
                asked = await asyncio.wrap_future(
                    self.manager._persist(store.job_cancel_requested, self.id)
                )
            except Exception as exc:  # a store hiccup: look again next time
                log.debug("job %s: cannot read its cancel request: %s", self.id[:8], exc)
                continue
            if asked and self.cancel():
                log.info("job %s: cancelled at the request of another process", self.id[:8])
                return

    # --------------------------------------------------------------- running
    async def _run(self, slots: asyncio.Semaphore) -> None:
        watcher = asyncio.create_task(self._watch_store())
        try:
            await self._run_body(slots)
        finally:
            watcher.cancel()

    async def _run_body(self, slots: asyncio.Semaphore) -> None:
        outcome: Any
        try:
            self._transition(QUEUED)
            async with slots:
                await wait_for_budget(self.manager, self)
                self._transition(RUNNING)
                await self._journal_written()  # a failed job-row write fails it before it sends
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
            self.error = scrub(f"{type(exc).__name__}: {exc}", work_secrets(self.work))[:2000]
            for final in (FAILED, CANCELLED):
                if final in TRANSITIONS.get(self._state, frozenset()):
                    self._transition(final, error=self.error)
                    break
            outcome = JobError(f"job {self.id[:8]} failed: {self.error}")
        if self.manager.store is not None:  # the last progress, for the other processes
            p = self.progress
            self.manager._persist(self.manager.store.set_job_progress, self.id, p["done"],
                                  p["total"])  # fmt: skip
        await self.manager._audit(
            "job.end", self, {"state": self._state, "run_id": self.run_id, "error": self.error}
        )
        try:  # the row is final when the result is delivered
            await self._journal_written()
        except Exception as exc:  # a failed state write: the job failed above already
            log.warning("job %s: its final state was not saved: %s", self.id[:8], exc)
        await self._deliver_final()
        if not isinstance(outcome, JobError):
            for finish in self._finishers:
                try:
                    await asyncio.to_thread(finish, outcome)
                except Exception as exc:
                    log.warning("job %s: %s", self.id[:8], exc)
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
        write = None
        if CANCELLED in TRANSITIONS.get(self._state, frozenset()):
            write = self._transition(CANCELLED)
        result = self._result
        if write is None:
            self._done.set_result(result)
        else:  # delivered once the job row says cancelled
            write.add_done_callback(lambda _: self._done.set_result(result))

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
    def before_delivery(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(result)`` in a worker thread once the job has a result and
        before anyone awaiting the job gets it (so what it stores is there when ``await
        job`` returns); its errors are logged, never raised into the job."""
        self._finishers.append(callback)

    def result(self) -> R:
        """The result once finished (partial when cancelled). Never blocks."""
        if not self._done.done():
            p = self.progress
            raise JobError(
                f"job {self.id[:8]} is {self._state} ({p['done']}/{p['total']} "
                f"{self.work.unit}): use `await job` or job.wait() for its result"
            )
        return self._done.result()

    def wait(self, timeout: float | None = None) -> R:
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

    def __await__(self) -> Generator[Any, None, R]:
        return asyncio.wrap_future(self._done).__await__()

    def case_rows(self) -> list[dict[str, Any]]:
        """An eval job's case table so far (expected vs actual calls, verdicts); a tune
        job's trial table."""
        rows = getattr(self.work, "case_rows", None)
        if rows is None:
            raise JobError(
                f"job {self.id[:8]} is a {self.kind} job; only eval and tune jobs have rows"
            )
        out: list[dict[str, Any]] = rows(self)
        return out

    # conveniences that delegate to the result
    def to_pandas(self) -> Any:
        result: Any = self.result()
        return result.to_pandas()

    def summary(self, *args: Any, **kwargs: Any) -> Any:
        result: Any = self.result()
        return result.summary(*args, **kwargs)

    def plot(self, *args: Any, **kwargs: Any) -> Any:
        result: Any = self.result()
        return result.plot(*args, **kwargs)

    def compare(self, other: Any, **kwargs: Any) -> Any:
        theirs = other.result() if isinstance(other, Job) else other
        result: Any = self.result()
        return result.compare(theirs, **kwargs)

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


def work_secrets(work: Any) -> tuple[str, ...]:
    """The exact secrets of a work's endpoints (keys, URL credentials, header values), if
    it knows them: masked in the job's error wherever the job is stored or shown."""
    secrets = getattr(work, "secrets", None)
    return tuple(secrets()) if callable(secrets) else ()
