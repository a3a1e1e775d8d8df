"""Results of Dask tasks streamed back while they run, not only when they end.

A task that returned its records at the end showed no progress for a whole phase, and a
cancelled run lost the records of every shard still running (a cancelled future's result
is never delivered). Here each task puts its results, in small batches, into one
``distributed.Queue`` of the run; the coordinator drains it a few times a second. A
task's return value says how many items it put, so the coordinator knows when it has
them all; a retried task may have put some twice, and the ``key`` of each item keeps the
first (what was really measured first).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError

#: A task's outbox sends what it gathered at most this often (fewer, larger messages).
FLUSH_S = 0.25
#: The coordinator looks for new items this often.
POLL_S = 0.1
#: How long the coordinator waits for items a finished task says it sent.
SETTLE_TIMEOUT_S = 30.0


class Outbox:
    """A task's side: ``put`` items from any thread; a sender thread ships them in batches
    of ``(task_id, meta, items)``; :meth:`close` ships the rest and says how many."""

    def __init__(self, queue_name: str, task_id: str, meta: Any = None) -> None:
        from distributed import Queue, get_client

        self._queue = Queue(queue_name, client=get_client())
        self.task_id = task_id
        self.meta = meta
        self.sent = 0
        self._pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def put(self, item: Any) -> None:
        self._pending.put(item)

    def _ship(self) -> None:
        items = []
        while True:
            try:
                items.append(self._pending.get_nowait())
            except queue.Empty:
                break
        if items:
            self._queue.put((self.task_id, self.meta, items))
            self.sent += len(items)

    def _run(self) -> None:
        while not self._closed.wait(FLUSH_S):
            self._ship()

    def close(self) -> int:
        """Ship what is left; the number of items this task put in all."""
        self._closed.set()
        self._thread.join()
        self._ship()
        with contextlib.suppress(Exception):  # the scheduler drops the queue with its last user
            self._queue.close()
        return self.sent


class Collector:
    """The coordinator's side: drains the run's queue on a thread and hands each new item
    to ``handle(meta, item)`` on the event loop, once per ``key(meta, item)``."""

    def __init__(
        self,
        client: Any,
        name: str,
        handle: Callable[[Any, Any], None],
        key: Callable[[Any, Any], Hashable],
    ) -> None:
        from distributed import Queue

        self.name = name
        self._queue = Queue(name, client=client)
        self._handle = handle
        self._key = key
        self._seen: set[Hashable] = set()
        self.received: dict[str, int] = {}  # items received per task (duplicates included)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Collector:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            self._drain()

    def _drain(self) -> None:
        try:
            batches = self._queue.get(batch=True)
        except Exception:  # the cluster is going away: what arrived is kept
            return
        if batches and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._take, batches)

    def _take(self, batches: list[tuple[str, Any, list[Any]]]) -> None:
        for task_id, meta, items in batches:
            self.received[task_id] = self.received.get(task_id, 0) + len(items)
            for item in items:
                key = self._key(meta, item)
                if key in self._seen:
                    continue
                self._seen.add(key)
                self._handle(meta, item)

    async def settle(self, expected: dict[str, int]) -> None:
        """Wait until every task has delivered the number of items it said it sent."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while any(self.received.get(t, 0) < n for t, n in expected.items()):
            if time.monotonic() > deadline:
                short = {t[:8]: (self.received.get(t, 0), n) for t, n in expected.items()}
                raise LLMBenchError(
                    f"results of Dask tasks did not all arrive within {SETTLE_TIMEOUT_S:g} s "
                    f"(task: received, sent): {short}"
                )
            await asyncio.sleep(POLL_S / 2)

    async def close(self) -> None:
        """Stop polling after one last look: what the tasks put before they ended is kept."""
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        await asyncio.to_thread(self._drain)
        for _ in range(2):  # the last batch's hand-over (call_soon_threadsafe) runs here
            await asyncio.sleep(0)
        with contextlib.suppress(Exception):
            self._queue.close()
