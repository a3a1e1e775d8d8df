"""The worker side of a multi-process run: one process, its own event loop and connection
pool, running the ordinary engine (:func:`engine.arun`) on its shard.

It talks to the coordinator over two one-way pipes. Control (coordinator -> worker):
``ping`` (clock handshake), ``clock`` (the offset to apply), ``start``, ``go`` (a phase
barrier's common start) and ``stop``; a closed pipe means the coordinator is gone, which
stops the worker too. Data (worker -> coordinator): ``ready``, ``pong``, ``sync``,
``records`` (batched by a sender thread, so pickling and pipe writes never block the
loop that stamps chunks), then ``done`` or ``error``.

Ctrl-C is ignored here: the coordinator owns the terminal and stops every worker itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import threading
import time
from time import perf_counter_ns
from typing import Any

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.core.workload.shard import Shard
from llmbench_jupyter.core.workload.spec import BenchSpec

#: A sender batch waits this long for more records (fewer, larger pipe writes).
BATCH_WAIT_S = 0.02
BATCH_MAX = 512


class _Link:
    """The worker's end of both pipes; sends are serialised by one lock."""

    def __init__(self, ctrl: Any, data: Any) -> None:
        self.ctrl = ctrl
        self.data = data
        self._lock = threading.Lock()
        self.offset_ns = 0  # worker clock - coordinator clock, as applied
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.waiting: dict[str, asyncio.Future[int]] = {}
        self.started = threading.Event()
        self.stopped = threading.Event()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self.data.send(message)

    def listen(self) -> None:
        """Control messages, in a thread: answers pings at once, hands the rest to the loop."""
        while True:
            try:
                message = self.ctrl.recv()
            except (EOFError, OSError):  # the coordinator is gone: stop
                message = ("stop",)
            kind = message[0]
            if kind == "ping":
                self.send(("pong", message[1], perf_counter_ns()))
            elif kind == "clock":
                self.offset_ns = message[1]
            elif kind == "start":
                self.started.set()
            elif kind == "go":
                self._call(self._release, message[1], message[2])
            elif kind == "stop":
                self.stopped.set()
                self.started.set()
                self._call(self._cancel)
                return

    def _call(self, fn: Any, *args: Any) -> None:
        if self.loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self.loop.call_soon_threadsafe(fn, *args)

    def _release(self, key: str, start_ns: int) -> None:
        fut = self.waiting.pop(key, None)
        if fut is not None and not fut.done():
            fut.set_result(start_ns + self.offset_ns)

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def sync(self, key: str) -> int:
        """A phase barrier: say we are here (coordinator clock), wait for the common start."""
        assert self.loop is not None
        fut: asyncio.Future[int] = self.loop.create_future()
        self.waiting[key] = fut
        self.send(("sync", key, perf_counter_ns() - self.offset_ns))
        return await fut


def _sender(link: _Link, outbox: queue.SimpleQueue[RequestRecord | None]) -> None:
    """Batches records to the coordinator until the None that ends the run."""
    while True:
        first = outbox.get()
        batch = [] if first is None else [first]
        done = first is None
        if not done:
            time.sleep(BATCH_WAIT_S)
        while not done and len(batch) < BATCH_MAX:
            try:
                item = outbox.get_nowait()
            except queue.Empty:
                break
            if item is None:
                done = True
            else:
                batch.append(item)
        if batch:
            link.send(("records", batch))
        if done:
            return


def worker_main(
    spec: BenchSpec, shard: Shard, run_id: str, owner: str, ctrl: Any, data: Any
) -> None:
    """Process entry point (spawned by :func:`workers.run_workers`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    link = _Link(ctrl, data)
    threading.Thread(target=link.listen, daemon=True).start()
    link.send(("ready", perf_counter_ns()))
    link.started.wait()
    if link.stopped.is_set():
        link.send(("done", "cancelled", None))
        return
    try:
        status, overhead = asyncio.run(_run(spec, shard, run_id, owner, link))
    except BaseException as exc:  # reported, then the process ends
        link.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    link.send(("done", status, overhead))


async def _run(
    spec: BenchSpec, shard: Shard, run_id: str, owner: str, link: _Link
) -> tuple[str, dict[str, Any] | None]:
    from llmbench_jupyter.core.workload.engine import arun

    link.loop = asyncio.get_running_loop()
    shard.sync = link.sync
    outbox: queue.SimpleQueue[RequestRecord | None] = queue.SimpleQueue()
    sender = threading.Thread(target=_sender, args=(link, outbox), daemon=True)
    sender.start()
    offset = link.offset_ns
    finished: dict[str, Any] = {}

    def sink(record: RequestRecord) -> None:
        if record.send_mono_ns is not None:  # on the coordinator's clock
            record.send_mono_ns -= offset
        outbox.put(record)

    async def on_finish(status: str, overhead: dict[str, Any] | None) -> None:
        finished.update(status=status, overhead=overhead)

    link.task = asyncio.current_task()
    if link.stopped.is_set():
        raise asyncio.CancelledError
    try:
        await arun(spec, sink=sink, run_id=run_id, owner=owner, on_finish=on_finish, shard=shard)
    except asyncio.CancelledError:
        finished.setdefault("status", "cancelled")
        finished["status"] = "cancelled"
    finally:
        outbox.put(None)
        await asyncio.to_thread(sender.join)
    return finished.get("status", "failed"), finished.get("overhead")
